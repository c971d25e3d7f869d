//! Property-based fuzzing of every parser a client's text reaches: REST
//! `where`, `sort` and key segments, `page-state`, Documents `where`, `sort`
//! and paths, and GraphQL filters. A nightly toolchain (cargo fuzz) is not
//! available here, so proptest drives them on stable.
//!
//! Each target asserts: no panic, and either a typed 4xx error or a statement
//! whose every client value is a bound parameter. Client strings carry a
//! marker (`ZQX`) and non-ASCII characters, so a value spliced into SQL text
//! shows up as the marker or as non-ASCII text in the statement.
//!
//! `make test` runs a few hundred cases per target (seconds). A longer hunt:
//! `PROPTEST_CASES=100000 cargo test --release -p datagate-ext-proc --test fuzz fuzz_`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(unused_macros)]
mod common;
use common::Harness;
use datagate::api::rows as rest_rows;
use datagate::doc::{filter, path};
use datagate::engine::{page, rows};
use datagate::error::ApiError;
use datagate::fault::Fault;
use datagate::model::{Clustering, ColumnDef, DataType, Namespace, Order, TableDef};
use datagate::plan::{read_order, Select};
use datagate::store::docsql::{self, DocSearch};
use datagate::store::postgres::PgDialect;
use datagate::store::sql::{Dialect, Statement};
use datagate::store::sqlite::SqliteDialect;
use datagate::store::sqlread;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use serde_json::{json, Map, Value as Json};

const MARKER: &str = "ZQX";

/// Cases per target: `PROPTEST_CASES`, or `default` (seconds in `make test`).
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn runner(default: u32) -> TestRunner {
    TestRunner::new(RunnerConfig { cases: cases(default), failure_persistence: None, ..RunnerConfig::default() })
}

/// A refusal must be a client error, never a 5xx.
fn assert_client_error(e: &ApiError, input: &str) {
    assert!((400..500).contains(&e.status()), "{input:?} got {} {e}", e.status());
}

/// The domain error below the translators maps to a client error too.
fn assert_client_fault(f: &Fault, input: &str) {
    assert_client_error(&ApiError::from(f.clone()), input);
}

/// The statement text holds no client value: no marker, nothing non-ASCII.
fn assert_bound(sql: &str, input: &str) {
    assert!(!sql.contains(MARKER) && sql.is_ascii(), "a client value reached the SQL text for {input:?}:\n{sql}");
}

/// `sql` without the path literals of index probes (`json_extract(doc, '$."a"')`,
/// `doc #> '{a,b}'`): the one client text a document search splices in, so an
/// expression index can match it, and only keys of letters, digits, '_' and '-'.
fn without_index_paths(sql: &str) -> String {
    let safe = |t: &str| t.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.\",".contains(&b));
    let mut out = sql.to_owned();
    for (open, close) in [("json_extract(doc, '$", "')"), ("doc #> '{", "}'")] {
        let mut rest = out.as_str();
        let mut kept = String::new();
        while let Some(i) = rest.find(open) {
            let after = &rest[i + open.len()..];
            match after.find(close) {
                Some(j) if safe(&after[..j]) => {
                    kept.push_str(&rest[..i + open.len()]);
                    rest = &after[j..];
                }
                _ => {
                    kept.push_str(&rest[..i + open.len()]);
                    rest = after;
                }
            }
        }
        kept.push_str(rest);
        out = kept;
    }
    out
}

fn client_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ]{0,6}".prop_map(|s| format!("{MARKER}{s}")),
        "[ -~]{0,8}".prop_map(|s| format!("{MARKER}'\";--{s}")),
        "\\PC{0,8}".prop_map(|s| format!("{MARKER}é{s}")),
        Just("".to_owned()),
    ]
}

/// Any JSON value, with client strings in it and as object keys.
fn json_value(keys: &'static [&'static str]) -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::from),
        any::<i64>().prop_map(Json::from),
        (-3i64..3).prop_map(Json::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Json::from),
        client_string().prop_map(Json::from),
        "[0-9]{1,25}(\\.[0-9]{1,5})?".prop_map(Json::from),
    ];
    leaf.prop_recursive(4, 32, 6, move |inner| {
        let key = prop_oneof![proptest::sample::select(keys).prop_map(str::to_owned), client_string()];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Json::from),
            proptest::collection::vec((key, inner), 0..5).prop_map(|kv| Json::Object(kv.into_iter().collect())),
        ]
    })
}

const ROW_KEYS: &[&str] = &[
    "manufacturer",
    "model",
    "year",
    "price",
    "tags",
    "attrs",
    "seen",
    "$eq",
    "$ne",
    "$lt",
    "$lte",
    "$gt",
    "$gte",
    "$in",
    "$nin",
    "$exists",
    "$contains",
    "$containsKey",
    "$containsEntry",
    "key",
    "value",
];

fn vehicle() -> TableDef {
    let col = |name: &str, ty: &str| ColumnDef { name: name.to_owned(), ty: DataType::parse(ty).unwrap() };
    TableDef {
        name: "vehicle".to_owned(),
        columns: vec![
            col("manufacturer", "text"),
            col("model", "text"),
            col("year", "int"),
            col("price", "decimal"),
            col("tags", "set<text>"),
            col("attrs", "map<text, int>"),
            col("seen", "timestamp"),
        ],
        partition_key: vec!["manufacturer".to_owned()],
        clustering: vec![Clustering { column: "model".to_owned(), order: Order::Asc }],
        expiry: true,
        default_ttl: None,
        indexes: Vec::new(),
        index_names_v2: true,
        version: "v1".to_owned(),
    }
}

fn dialects() -> [(&'static str, Box<dyn Dialect>); 2] {
    [("sqlite", Box::new(SqliteDialect)), ("postgres", Box::new(PgDialect))]
}

fn ns() -> Namespace {
    Namespace { tenant: "acme".to_owned(), keyspace: "blog".to_owned() }
}

/// A condition that fits the `vehicle` table's types: (column, `$op`, value).
fn typed_condition() -> impl Strategy<Value = (String, String, Json)> {
    let ordered = proptest::sample::select(&["$eq", "$ne", "$lt", "$lte", "$gt", "$gte"][..]);
    let list = proptest::sample::select(&["$in", "$nin"][..]);
    let text = proptest::sample::select(&["manufacturer", "model"][..]);
    let c = |col: &str, op: &str, v: Json| (col.to_owned(), op.to_owned(), v);
    prop_oneof![
        (text.clone(), ordered.clone(), client_string()).prop_map(move |(col, op, v)| c(col, op, v.into())),
        (text, list.clone(), proptest::collection::vec(client_string(), 1..4)).prop_map(move |(col, op, v)| c(
            col,
            op,
            v.into()
        )),
        (ordered.clone(), any::<i32>()).prop_map(move |(op, v)| c("year", op, v.into())),
        (list.clone(), proptest::collection::vec(any::<i32>(), 1..4)).prop_map(move |(op, v)| c("year", op, v.into())),
        (ordered.clone(), "-?[0-9]{1,20}(\\.[0-9]{1,4})?").prop_map(move |(op, v)| c("price", op, v.into())),
        (ordered, 0i64..4_000_000_000_000).prop_map(move |(op, v)| c("seen", op, v.into())),
        client_string().prop_map(move |v| c("tags", "$contains", v.into())),
        client_string().prop_map(move |v| c("attrs", "$containsKey", v.into())),
        (client_string(), any::<i32>()).prop_map(move |(k, v)| c(
            "attrs",
            "$containsEntry",
            json!({"key": k, "value": v})
        )),
        Just(c("year", "$exists", json!(true))),
    ]
}

/// A `where` object: typed conditions mostly, columns (and strangers) mapped
/// to operator objects or anything otherwise.
fn rows_where() -> impl Strategy<Value = String> {
    let typed = proptest::collection::vec(typed_condition(), 1..4).prop_map(|conds| {
        let mut w = Map::new();
        for (col, op, v) in conds {
            let entry = w.entry(col).or_insert_with(|| json!({}));
            entry[op] = v;
        }
        Json::Object(w).to_string()
    });
    prop_oneof![3 => typed, 2 => untyped_rows_where()]
}

fn untyped_rows_where() -> impl Strategy<Value = String> {
    let column = prop_oneof![proptest::sample::select(&ROW_KEYS[..7]).prop_map(str::to_owned), client_string()];
    let op = proptest::sample::select(&ROW_KEYS[7..19]).prop_map(str::to_owned);
    let value = prop_oneof![3 => scalar_or_list(), 1 => json_value(ROW_KEYS)];
    let ops =
        proptest::collection::vec((op, value), 1..3).prop_map(|kv| Json::Object(kv.into_iter().collect::<Map<_, _>>()));
    let condition = prop_oneof![4 => ops, 1 => json_value(ROW_KEYS)];
    proptest::collection::vec((column, condition), 1..3)
        .prop_map(|kv| Json::Object(kv.into_iter().collect::<Map<_, _>>()).to_string())
}

#[test]
fn fuzz_rows_where_to_sql() {
    let def = vehicle();
    let accepted = std::cell::Cell::new(0);
    runner(512)
        .run(&prop_oneof![4 => rows_where(), 1 => "\\PC{0,40}"], |text| {
            // Parsed by the REST translator, typed by the engine: both refuse with a 4xx.
            let parsed =
                rest_rows::parse_where(&text).and_then(|terms| rows::conditions(&def, &terms).map_err(ApiError::from));
            match parsed {
                Err(e) => assert_client_error(&e, &text),
                Ok(conditions) => {
                    accepted.set(accepted.get() + 1);
                    let select = Select {
                        now_ms: 0,
                        conditions: conditions.clone(),
                        order: read_order(&def, &[]),
                        after: None,
                        limit: 11,
                    };
                    for (_, d) in dialects() {
                        let Statement { sql, params } = sqlread::select(d.as_ref(), &ns(), &def, &select);
                        assert_bound(&sql, &text);
                        let values: usize = conditions.iter().map(|c| c.values.len()).sum();
                        assert!(
                            params.len() >= values.min(1),
                            "{text:?}: {values} values, {} parameters",
                            params.len()
                        );
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    eprintln!("fuzz_rows_where_to_sql: {} cases, {} reached the SQL", cases(512), accepted.get());
    assert!(accepted.get() > 0, "no generated where reached the SQL");
}

#[test]
fn fuzz_rows_keys_and_sort() {
    let def = vehicle();
    let segments = proptest::collection::vec(prop_oneof![client_string(), "[0-9a-z%]{0,5}"], 0..4);
    runner(512)
        .run(&(segments, any::<bool>(), prop_oneof![rows_where(), "\\PC{0,30}"]), |(segments, full, sort)| {
            let input = format!("{segments:?}");
            match rows::key_conditions(&def, &segments, full) {
                Err(e) => assert_client_fault(&e, &input),
                Ok(key) => {
                    for (_, d) in dialects() {
                        assert_bound(&sqlread::delete(d.as_ref(), &ns(), &def, &key).sql, &input);
                    }
                }
            }
            let parsed = rest_rows::parse_sort(&sort).and_then(|s| rows::check_sort(&def, &s).map_err(ApiError::from));
            if let Err(e) = parsed {
                assert_client_error(&e, &sort);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn fuzz_page_state() {
    let def = vehicle();
    let order = read_order(&def, &[]);
    let fp = page::fingerprint(&def, "where");
    // Random text, real cursors with random key values, and tampered real cursors.
    let keys = prop_oneof![
        (client_string(), client_string()).prop_map(|(a, b)| vec![Json::from(a), Json::from(b)]),
        proptest::collection::vec(json_value(ROW_KEYS), 0..4),
    ];
    let accepted = std::cell::Cell::new(0);
    runner(512)
        .run(&("[A-Za-z0-9_=-]{0,60}", keys, any::<usize>(), any::<u8>()), |(text, keys, at, byte)| {
            let real = page::encode_keys(&fp, keys);
            let mut tampered = real.clone().into_bytes();
            if !tampered.is_empty() {
                let i = at % tampered.len();
                tampered[i] = b"AZaz09-_"[usize::from(byte) % 8];
            }
            let tampered = String::from_utf8(tampered).unwrap();
            for cursor in [text.as_str(), real.as_str(), tampered.as_str()] {
                match page::decode(&order, &fp, cursor) {
                    Err(e) => assert_client_fault(&e, cursor),
                    Ok(after) => {
                        accepted.set(accepted.get() + 1);
                        let select = Select {
                            now_ms: 0,
                            conditions: Vec::new(),
                            order: order.clone(),
                            after: Some(after),
                            limit: 11,
                        };
                        for (_, d) in dialects() {
                            assert_bound(&sqlread::select(d.as_ref(), &ns(), &def, &select).sql, cursor);
                        }
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    eprintln!("fuzz_page_state: {} cases, {} cursors reached the SQL", cases(512), accepted.get());
    assert!(accepted.get() > 0, "no generated cursor reached the SQL");
}

const DOC_KEYS: &[&str] = &[
    "a", "b", "tags", "[0]", "[*]", "*", "a.b", "$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$in", "$nin", "$exists",
    "$or", "$and", "$not", "$regex",
];

/// A JSON scalar, or a short list of them (for `$in`, `$nin`, `in`).
fn scalar_or_list() -> impl Strategy<Value = Json> {
    let scalar = prop_oneof![
        client_string().prop_map(Json::from),
        any::<i32>().prop_map(Json::from),
        any::<bool>().prop_map(Json::from),
        (-1e9f64..1e9).prop_map(Json::from),
        Just(Json::Null),
    ];
    prop_oneof![3 => scalar.clone(), 1 => proptest::collection::vec(scalar, 1..4).prop_map(Json::from)]
}

/// A Documents `where`: paths to operator objects, sometimes under `$or`/`$and`.
fn documents_where() -> impl Strategy<Value = Json> {
    let path = prop_oneof![
        proptest::sample::select(&["a", "b", "a.b", "tags.[0]", "tags.[*]", "*.b", "a\\.b"][..])
            .prop_map(str::to_owned),
        client_string(),
    ];
    let op = proptest::sample::select(&DOC_KEYS[7..17]);
    let leaf = (path, op, scalar_or_list()).prop_map(|(p, o, v)| json!({ p: { o: v } }));
    leaf.prop_recursive(2, 8, 3, |inner| {
        (proptest::sample::select(&["$or", "$and"][..]), proptest::collection::vec(inner, 1..3))
            .prop_map(|(k, v)| json!({ k: v }))
    })
}

#[test]
fn fuzz_documents_where_sort_to_sql() {
    let sort_dirs = proptest::collection::vec(
        (
            prop_oneof![3 => proptest::sample::select(&DOC_KEYS[..3]).prop_map(str::to_owned), 1 => proptest::sample::select(DOC_KEYS).prop_map(str::to_owned), 1 => client_string()],
            prop_oneof![3 => Just(json!("asc")), 3 => Just(json!("desc")), 1 => json_value(DOC_KEYS)],
        ),
        0..3,
    )
    .prop_map(|kv| Json::Object(kv.into_iter().collect::<Map<_, _>>()));
    let translated = std::cell::Cell::new(0);
    runner(512)
        .run(
            &(prop_oneof![3 => documents_where(), 1 => json_value(DOC_KEYS)], sort_dirs, json_value(DOC_KEYS)),
            |(w, sort, doc)| {
                let input = format!("where={w} sort={sort}");
                let parsed = filter::parse_where(w.clone());
                let sort = filter::parse_sort(sort.clone());
                if let Err(e) = &parsed {
                    assert_client_fault(e, &input);
                }
                if let Err(e) = &sort {
                    assert_client_fault(e, &input);
                }
                let (Ok(f), Ok(sort)) = (parsed, sort) else { return Ok(()) };
                // The reference semantics never panic either.
                let _ = filter::matches(&doc, &f);
                for dialect in [&SqliteDialect as &dyn Dialect, &PgDialect] {
                    let search = DocSearch {
                        filter: Some(&f),
                        sort: &sort,
                        after: None,
                        limit: 11,
                        now_ms: 0,
                        auto_index: false,
                    };
                    // Untranslatable is the store's 400 (or an in-memory fallback), never a panic.
                    if let Ok(q) = docsql::search(dialect, "\"docs\"", &search) {
                        assert_bound(&without_index_paths(&q.sql), &input);
                        translated.set(translated.get() + 1);
                    }
                }
                Ok(())
            },
        )
        .unwrap();
    eprintln!("fuzz_documents_where_sort_to_sql: {} cases, {} searches reached the SQL", cases(512), translated.get());
    assert!(translated.get() > 0, "no generated search reached the SQL");
}

#[test]
fn fuzz_document_paths() {
    let segments = proptest::collection::vec(prop_oneof![client_string(), "[\\[\\]*0-9a-z.\\\\]{0,6}"], 0..5);
    runner(1024)
        .run(&(prop_oneof!["[\\[\\]*0-9a-z.\\\\]{0,20}", "\\PC{0,20}"], segments), |(text, segments)| {
            if let Err(e) = path::parse(&text) {
                assert_client_fault(&e, &text);
            }
            if let Err(e) = path::from_segments(&segments) {
                assert_client_fault(&e, &format!("{segments:?}"));
            }
            Ok(())
        })
        .unwrap();
}

/// GraphQL filters reach SQL through the generated schema: run them against a
/// real SQLite store. Every answer is a GraphQL result (200) or a 4xx, and the
/// table is intact afterwards (no value was read as SQL).
#[tokio::test]
async fn fuzz_graphql_filters_to_sql() {
    let h = Harness::new(false).await;
    assert_eq!(h.call("t", "POST", "/v2/schemas/keyspaces", Some(json!({"name": "ks"}))).await.0, 201);
    let table = json!({"name": "vehicle", "columnDefinitions": [
        {"name": "manufacturer", "typeDefinition": "text"}, {"name": "model", "typeDefinition": "text"},
        {"name": "year", "typeDefinition": "int"}, {"name": "tags", "typeDefinition": "set<text>"}],
        "primaryKey": {"partitionKey": ["manufacturer"], "clusteringKey": ["model"]}});
    assert_eq!(h.call("t", "POST", "/v2/schemas/keyspaces/ks/tables", Some(table)).await.0, 201);
    let row = json!({"manufacturer": "Tesla", "model": "S", "year": 2012, "tags": ["a"]});
    assert_eq!(h.call("t", "POST", "/v2/keyspaces/ks/vehicle", Some(row)).await.0, 201);

    let field =
        proptest::sample::select(&["manufacturer", "model", "year", "tags", "nope"][..]).prop_map(str::to_owned);
    let op = proptest::sample::select(&["eq", "notEq", "gt", "gte", "lt", "lte", "in", "contains", "nope"][..])
        .prop_map(str::to_owned);
    let untyped = (field, op, prop_oneof![4 => scalar_or_list(), 1 => json_value(ROW_KEYS)]);
    // The REST conditions, spelled the GraphQL way.
    let typed = typed_condition().prop_filter_map("no GraphQL spelling", |(col, op, v)| {
        let op = match op.as_str() {
            "$eq" => "eq",
            "$ne" => "notEq",
            "$in" => "in",
            "$contains" => "contains",
            other => other.strip_prefix('$').filter(|o| ["lt", "lte", "gt", "gte"].contains(o))?,
        };
        ["manufacturer", "model", "year", "tags"].contains(&col.as_str()).then(|| (col, op.to_owned(), v))
    });
    let conds = proptest::collection::vec(prop_oneof![3 => typed, 1 => untyped], 1..3);
    let mut runner = runner(64);
    let mut queries = Vec::new();
    for _ in 0..runner.config().cases {
        let conditions = conds.new_tree(&mut runner).unwrap().current();
        let filter: Vec<String> =
            conditions.iter().map(|(f, o, v)| format!("{f}: {{{o}: {}}}", graphql_literal(v))).collect();
        queries.push(format!("{{ vehicle(filter: {{{}}}) {{ values {{ model }} }} }}", filter.join(", ")));
    }
    let mut with_data = 0;
    for query in queries {
        let (status, answer) = h.call("t", "POST", "/graphql/ks", Some(json!({ "query": query }))).await;
        with_data += usize::from(answer["data"]["vehicle"].is_object());
        assert!(status == 200 || (400..500).contains(&status), "{query} -> {status} {answer}");
        for e in answer["errors"].as_array().into_iter().flatten() {
            let code = e["extensions"]["code"].as_u64().unwrap_or(400);
            assert!(code < 500, "{query} -> {e}");
        }
    }
    eprintln!("fuzz_graphql_filters_to_sql: {} queries, {with_data} answered with data", cases(64));
    assert!(with_data > 0, "no generated filter reached the SQL");
    let (status, rows) = h.call("t", "GET", "/v2/keyspaces/ks/vehicle/rows", None).await;
    assert_eq!((status, rows["count"].clone()), (200, json!(1)), "the table is intact: {rows}");
    h.done().await;
}

/// A JSON value written as a GraphQL literal (strings quoted, objects with bare keys).
fn graphql_literal(v: &Json) -> String {
    match v {
        Json::Object(m) => {
            let fields: Vec<String> = m
                .iter()
                .filter(|(k, _)| {
                    k.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                        && k.chars().all(|c| c.is_ascii_alphanumeric())
                })
                .map(|(k, v)| format!("{k}: {}", graphql_literal(v)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        Json::Array(a) => format!("[{}]", a.iter().map(graphql_literal).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}
