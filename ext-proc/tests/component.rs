//! Component tests: the sidecar's service (routing → plans → store) against a
//! real SQLite file and a real PostgreSQL server, without Envoy.
//! PostgreSQL comes from `DATAGATE_TEST_PG` (default: trust auth on 127.0.0.1:5432).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use std::sync::Arc;

#[macro_use]
mod common;
use common::Harness;

on_both_stores!(
    every_type_round_trips,
    every_operator_filters,
    concurrent_upserts_are_all_kept,
    catalog_follows_ddl,
    batches_are_all_or_nothing,
    ttl_rows_expire_everywhere,
    sorted_pages_cover_every_row_once,
    columns_and_indexes_change_in_place,
    recreated_table_with_new_types_is_served,
    ddl_through_another_replica_is_never_a_500,
    collections_round_trip_and_filter,
    counters_add_up_under_concurrency,
    decimals_and_varints_are_exact,
    lists_beyond_the_store_limit_are_not_retryable
);

/// On SQLite each tenant's data is a file of its own; through the API the
/// same keyspace and table names of two tenants never meet.
#[tokio::test(flavor = "multi_thread")]
async fn sqlite_tenants_get_a_file_each() {
    let h = Harness::new(false).await;
    let table = json!({"name": "t", "columnDefinitions": [{"name": "k", "typeDefinition": "text"},
        {"name": "v", "typeDefinition": "int"}], "primaryKey": {"partitionKey": ["k"]}});
    for (tenant, v) in [("acme", 1), ("globex", 2)] {
        assert_eq!(h.call(tenant, "POST", "/v2/schemas/keyspaces", Some(json!({"name": "app"}))).await.0, 201);
        assert_eq!(h.call(tenant, "POST", "/v2/schemas/keyspaces/app/tables", Some(table.clone())).await.0, 201);
        assert_eq!(h.call(tenant, "POST", "/v2/keyspaces/app/t", Some(json!({"k": "a", "v": v}))).await.0, 201);
    }
    for (tenant, v) in [("acme", 1), ("globex", 2)] {
        let (s, body) = h.call(tenant, "GET", "/v2/keyspaces/app/t/a", None).await;
        assert_eq!((s, &body["data"][0]["v"]), (200, &json!(v)), "{body}");
        assert!(h.dir().join(format!("c.db.tenants/{tenant}.db")).exists());
    }
    // A third tenant has neither keyspace nor table.
    assert_eq!(h.call("initech", "GET", "/v2/keyspaces/app/t/a", None).await.0, 404);
    h.done().await;
}

async fn typed_table(h: &Harness) {
    assert_eq!(h.call("t", "POST", "/v2/schemas/keyspaces", Some(json!({"name": "ks"}))).await.0, 201);
    let cols = [
        ("k", "text"),
        ("c", "int"),
        ("a", "ascii"),
        ("b", "boolean"),
        ("ti", "tinyint"),
        ("si", "smallint"),
        ("bi", "bigint"),
        ("f", "float"),
        ("d", "double"),
        ("u", "uuid"),
        ("tu", "timeuuid"),
        ("ts", "timestamp"),
        ("v", "varchar"),
        ("dt", "date"),
        ("tm", "time"),
        ("bl", "blob"),
        ("ip", "inet"),
    ];
    let defs: Vec<Value> = cols.iter().map(|(n, t)| json!({"name": n, "typeDefinition": t})).collect();
    let (s, body) = h
        .call(
            "t",
            "POST",
            "/v2/schemas/keyspaces/ks/tables",
            Some(json!({
                "name": "all", "columnDefinitions": defs, "primaryKey": {"partitionKey": ["k"], "clusteringKey": ["c"]}
            })),
        )
        .await;
    assert_eq!(s, 201, "{body}");
}

async fn every_type_round_trips(postgres: bool) {
    let h = Harness::new(postgres).await;
    typed_table(&h).await;
    let row = json!({
        "k": "ключ ✓ \"quoted\"", "c": -2147483648, "a": "plain", "b": false, "ti": -128, "si": 32767,
        "bi": 9007199254740993i64, "f": 1.5, "d": 0.1, "u": "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
        "tu": "d2177dd0-eaa2-11de-a572-001b779c76e0", "ts": "2024-02-29T23:59:59.999Z", "v": "",
        "dt": "1999-12-31", "tm": "23:59:59.999999", "bl": "AP8Q", "ip": "2001:db8::ff"
    });
    let (s, key) = h.call("t", "POST", "/v2/keyspaces/ks/all", Some(row.clone())).await;
    assert_eq!((s, key), (201, json!({"k": row["k"], "c": row["c"]})));
    let (s, body) = h.call("t", "GET", "/v2/keyspaces/ks/all/rows?raw=true", None).await;
    assert_eq!(s, 200);
    assert_eq!(body, json!([row]));
    // Nulls for non-key columns read back as null.
    let (s, _) = h.call("t", "POST", "/v2/keyspaces/ks/all", Some(json!({"k": "n", "c": 1, "d": null}))).await;
    assert_eq!(s, 201);
    let (_, body) = h.call("t", "GET", "/v2/keyspaces/ks/all/n/1?raw=true&fields=d,u", None).await;
    assert_eq!(body, json!([{"d": null, "u": null}]));
    // Wrong types are 400s naming column and type; so is a uuid that is not a timeuuid.
    for (col, bad, needle) in [
        ("ti", json!(128), "out of range"),
        ("b", json!("true"), "boolean"),
        ("tu", json!("3f2504e0-4f89-41d3-9a0c-0305e82c3301"), "timeuuid"),
        ("ts", json!("yesterday"), "timestamp"),
    ] {
        let (s, body) = h.call("t", "POST", "/v2/keyspaces/ks/all", Some(json!({"k": "x", "c": 1, col: bad}))).await;
        assert_eq!(s, 400, "{col}: {body}");
        let d = body["description"].as_str().unwrap();
        assert!(d.contains(col) && d.contains(needle), "{d}");
    }
    h.done().await;
}

async fn every_operator_filters(postgres: bool) {
    let h = Harness::new(postgres).await;
    typed_table(&h).await;
    for c in 1..=6 {
        let row = json!({"k": "p", "c": c, "ts": format!("2024-01-0{c}T00:00:00Z"), "b": c % 2 == 0});
        assert_eq!(h.call("t", "POST", "/v2/keyspaces/ks/all", Some(row)).await.0, 201);
    }
    let cases = [
        (r#"{"c":{"$eq":3}}"#, vec![3]),
        (r#"{"c":{"$ne":3}}"#, vec![1, 2, 4, 5, 6]),
        (r#"{"c":{"$lt":3}}"#, vec![1, 2]),
        (r#"{"c":{"$lte":3}}"#, vec![1, 2, 3]),
        (r#"{"c":{"$gt":4}}"#, vec![5, 6]),
        (r#"{"c":{"$gte":4,"$lt":6}}"#, vec![4, 5]),
        (r#"{"c":{"$in":[2,5,9]}}"#, vec![2, 5]),
        (r#"{"c":{"$nin":[2,5]}}"#, vec![1, 3, 4, 6]),
        (r#"{"ts":{"$gt":"2024-01-04T00:00:00Z"}}"#, vec![5, 6]),
        (r#"{"b":{"$eq":true},"k":{"$eq":"p"}}"#, vec![2, 4, 6]),
    ];
    for (w, want) in cases {
        let path = format!("/v2/keyspaces/ks/all?where={}&raw=true&fields=c", urlencode(w));
        let (s, body) = h.call("t", "GET", &path, None).await;
        assert_eq!(s, 200, "{w}: {body}");
        let got: Vec<i64> = body.as_array().unwrap().iter().map(|r| r["c"].as_i64().unwrap()).collect();
        assert_eq!(got, want, "{w}");
    }
    let (s, body) = h.call("t", "GET", "/v2/keyspaces/ks/all/rows?page-size=51", None).await;
    assert_eq!(s, 400, "{body}");
    h.done().await;
}

async fn concurrent_upserts_are_all_kept(postgres: bool) {
    let h = Arc::new(Harness::new(postgres).await);
    typed_table(&h).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            h.call("t", "POST", "/v2/keyspaces/ks/all", Some(json!({"k": "hot", "c": i, "bi": i}))).await.0
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 201, "every acknowledged write is kept");
    }
    let (_, body) = h.call("t", "GET", "/v2/keyspaces/ks/all/hot?page-size=50", None).await;
    assert_eq!(body["count"], 40);
    if let Ok(h) = Arc::try_unwrap(h) {
        h.done().await;
    }
}

async fn catalog_follows_ddl(postgres: bool) {
    let h = Harness::new(postgres).await;
    typed_table(&h).await;
    assert_eq!(h.call("t", "GET", "/v2/keyspaces/ks/all/rows", None).await.0, 200);
    assert_eq!(h.call("t", "DELETE", "/v2/schemas/keyspaces/ks/tables/all", None).await.0, 204);
    let (s, body) = h.call("t", "GET", "/v2/keyspaces/ks/all/rows", None).await;
    assert_eq!(s, 404, "the cached definition must not outlive DROP TABLE: {body}");
    let (s, body) = h.call("t", "GET", "/v2/schemas/keyspaces/ks/tables", None).await;
    assert_eq!((s, body), (200, json!({"data": []})));
    assert_eq!(h.call("t", "DELETE", "/v2/schemas/keyspaces/ks", None).await.0, 204);
    assert_eq!(h.call("t", "GET", "/v2/schemas/keyspaces/ks", None).await.0, 404);
    assert_eq!(h.call("t", "DELETE", "/v2/schemas/keyspaces/ks", None).await.0, 404);
    h.done().await;
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

async fn batches_are_all_or_nothing(postgres: bool) {
    let h = Harness::new(postgres).await;
    typed_table(&h).await;
    let rows = json!([{"k": "b", "c": 1, "v": "one"}, {"k": "b", "c": 2}, {"k": "b", "c": 1, "bi": 7}]);
    let (s, body) = h.call("t", "POST", "/v2/keyspaces/ks/all/batch", Some(rows)).await;
    assert_eq!((s, body), (201, json!([{"k": "b", "c": 1}, {"k": "b", "c": 2}, {"k": "b", "c": 1}])));
    let (_, body) = h.call("t", "GET", "/v2/keyspaces/ks/all/b?raw=true&fields=c,v,bi", None).await;
    assert_eq!(
        body,
        json!([{"c": 1, "v": "one", "bi": 7}, {"c": 2, "v": null, "bi": null}]),
        "later rows upsert earlier ones"
    );
    // One bad row: 400 naming it, and nothing of the batch is written.
    let bad = json!([{"k": "x", "c": 1}, {"k": "x", "c": "two"}]);
    let (s, body) = h.call("t", "POST", "/v2/keyspaces/ks/all/batch", Some(bad)).await;
    assert_eq!(s, 400);
    assert!(body["description"].as_str().unwrap().starts_with("rows[1]: column c"), "{body}");
    let (_, body) = h.call("t", "GET", "/v2/keyspaces/ks/all/x", None).await;
    assert_eq!(body["count"], 0);
    if postgres {
        // PostgreSQL refuses NUL in text only at write time: the first row must roll back too.
        let bad = json!([{"k": "y", "c": 1}, {"k": "y", "c": 2, "v": "nul\u{0}byte"}]);
        let (s, body) = h.call("t", "POST", "/v2/keyspaces/ks/all/batch", Some(bad)).await;
        assert_eq!(s, 400, "{body}");
        let (_, body) = h.call("t", "GET", "/v2/keyspaces/ks/all/y", None).await;
        assert_eq!(body["count"], 0, "a failed batch leaves nothing behind");
    }
    for (body, needle) in [(json!([]), "1 to 1000"), (json!({"k": "a"}), "JSON array"), (json!([1]), "rows[0] must be")]
    {
        let (s, resp) = h.call("t", "POST", "/v2/keyspaces/ks/all/batch", Some(body)).await;
        assert_eq!(s, 400);
        assert!(resp["description"].as_str().unwrap().contains(needle), "{resp}");
    }
    h.done().await;
}

async fn ttl_rows_expire_everywhere(postgres: bool) {
    let h = Harness::new(postgres).await;
    typed_table(&h).await;
    let write = |path: &'static str, body: Value| h.call("t", "POST", path, Some(body));
    assert_eq!(write("/v2/keyspaces/ks/all?ttl=1", json!({"k": "e", "c": 1, "v": "old", "bi": 5})).await.0, 201);
    assert_eq!(write("/v2/keyspaces/ks/all", json!({"k": "e", "c": 2, "v": "keeps"})).await.0, 201);
    assert_eq!(write("/v2/keyspaces/ks/all/batch?ttl=1", json!([{"k": "e", "c": 3}])).await.0, 201);
    let (_, body) = h.call("t", "GET", "/v2/keyspaces/ks/all/e", None).await;
    assert_eq!(body["count"], 3);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // The sweeper deletes what no read can see any more (two rows here); a second pass finds nothing.
    assert_eq!(h.store.rows.sweep_expired(now_ms()).await.unwrap(), 2);
    assert_eq!(h.store.rows.sweep_expired(now_ms()).await.unwrap(), 0);
    for path in ["/v2/keyspaces/ks/all/e", "/v2/keyspaces/ks/all/rows", "/v2/keyspaces/ks/all/e/1"] {
        let (_, body) = h.call("t", "GET", path, None).await;
        let cs: Vec<i64> = body["data"].as_array().unwrap().iter().map(|r| r["c"].as_i64().unwrap()).collect();
        assert_eq!(cs, if path.ends_with("/1") { vec![] } else { vec![2] }, "{path}: expired rows are invisible");
    }
    let (_, body) = h
        .call("t", "GET", &format!("/v2/keyspaces/ks/all?where={}", "%7B%22bi%22%3A%7B%22%24eq%22%3A5%7D%7D"), None)
        .await;
    assert_eq!(body["count"], 0);
    // Writing the expired row again does not bring its old values back.
    assert_eq!(write("/v2/keyspaces/ks/all", json!({"k": "e", "c": 1, "d": 1.5})).await.0, 201);
    let (_, body) = h.call("t", "GET", "/v2/keyspaces/ks/all/e/1?raw=true&fields=v,bi,d", None).await;
    assert_eq!(body, json!([{"v": null, "bi": null, "d": 1.5}]));
    // A table default TTL applies when a write gives none; ttl=0 opts out.
    let table = json!({"name": "short", "columnDefinitions": [{"name": "k", "typeDefinition": "text"}],
                       "primaryKey": {"partitionKey": ["k"]}, "tableOptions": {"defaultTimeToLive": 1}});
    assert_eq!(h.call("t", "POST", "/v2/schemas/keyspaces/ks/tables", Some(table)).await.0, 201);
    assert_eq!(write("/v2/keyspaces/ks/short", json!({"k": "gone"})).await.0, 201);
    assert_eq!(write("/v2/keyspaces/ks/short?ttl=0", json!({"k": "stays"})).await.0, 201);
    let (_, body) = h.call("t", "GET", "/v2/schemas/keyspaces/ks/tables/short", None).await;
    assert_eq!(body["data"]["tableOptions"]["defaultTimeToLive"], 1);
    // Table options change in place (PUT), here to no default and back.
    let alter = |ttl: u32| json!({"name": "short", "tableOptions": {"defaultTimeToLive": ttl}});
    let (s, body) = h.call("t", "PUT", "/v2/schemas/keyspaces/ks/tables/short", Some(alter(0))).await;
    assert_eq!((s, body["data"]["tableOptions"]["defaultTimeToLive"].clone()), (200, json!(0)));
    assert_eq!(h.call("t", "PUT", "/v2/schemas/keyspaces/ks/tables/short", Some(alter(1))).await.0, 200);
    let wrong = json!({"name": "other", "tableOptions": {"defaultTimeToLive": 5}});
    assert_eq!(h.call("t", "PUT", "/v2/schemas/keyspaces/ks/tables/short", Some(wrong)).await.0, 400);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (_, body) = h.call("t", "GET", "/v2/keyspaces/ks/short/rows?raw=true", None).await;
    assert_eq!(body, json!([{"k": "stays"}]));
    for bad in ["-1", "x", "630720001"] {
        let (s, body) =
            h.call("t", "POST", &format!("/v2/keyspaces/ks/short?ttl={bad}"), Some(json!({"k": "a"}))).await;
        assert_eq!(s, 400, "{bad}: {body}");
    }
    h.done().await;
}

async fn sorted_pages_cover_every_row_once(postgres: bool) {
    let h = Harness::new(postgres).await;
    typed_table(&h).await;
    // Ties and NULLs on purpose: `si` repeats and is sometimes missing.
    let mut expected: Vec<(Option<i64>, i64)> = Vec::new();
    for c in 0..17i64 {
        let si = if c % 5 == 0 { None } else { Some(c % 4) };
        let mut row = json!({"k": "s", "c": c});
        if let Some(v) = si {
            row["si"] = json!(v);
        }
        assert_eq!(h.call("t", "POST", "/v2/keyspaces/ks/all", Some(row)).await.0, 201);
        expected.push((si, c));
    }
    // sort si desc (NULLs last), then the key (c asc) breaks ties.
    expected.sort_by(|a, b| match (a.0, b.0) {
        (None, None) => a.1.cmp(&b.1),
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
        (Some(x), Some(y)) => y.cmp(&x).then(a.1.cmp(&b.1)),
    });
    for (sort, want) in [(r#"{"si":"desc"}"#, expected.iter().map(|e| e.1).collect::<Vec<_>>())] {
        let mut seen = Vec::new();
        let mut state: Option<String> = None;
        loop {
            let mut path = format!("/v2/keyspaces/ks/all/s?page-size=3&fields=c&sort={}", urlencode(sort));
            if let Some(st) = &state {
                path.push_str(&format!("&page-state={st}"));
            }
            let (s, body) = h.call("t", "GET", &path, None).await;
            assert_eq!(s, 200, "{body}");
            seen.extend(body["data"].as_array().unwrap().iter().map(|r| r["c"].as_i64().unwrap()));
            match body["pageState"].as_str() {
                Some(next) => state = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen, want, "{sort}: every row once, in order, across pages");
    }
    let (s, _) =
        h.call("t", "GET", &format!("/v2/keyspaces/ks/all/rows?sort={}", urlencode(r#"{"nope":"asc"}"#)), None).await;
    assert_eq!(s, 400);
    h.done().await;
}

async fn columns_and_indexes_change_in_place(postgres: bool) {
    let h = Harness::new(postgres).await;
    typed_table(&h).await;
    let base = "/v2/schemas/keyspaces/ks/tables/all";
    assert_eq!(h.call("t", "POST", "/v2/keyspaces/ks/all", Some(json!({"k": "r", "c": 1, "v": "kept"}))).await.0, 201);
    let (s, body) = h
        .call("t", "POST", &format!("{base}/columns"), Some(json!({"name": "extra", "typeDefinition": "bigint"})))
        .await;
    assert_eq!((s, body), (201, json!({"name": "extra"})));
    assert_eq!(h.call("t", "POST", "/v2/keyspaces/ks/all", Some(json!({"k": "r", "c": 2, "extra": 42}))).await.0, 201);
    let (_, body) = h.call("t", "GET", &format!("{base}/columns/extra"), None).await;
    assert_eq!(body, json!({"data": {"name": "extra", "typeDefinition": "bigint", "static": false}}));
    // Rename keeps the data; renaming a key column updates the key too.
    let (s, _) = h.call("t", "PUT", &format!("{base}/columns/v"), Some(json!({"name": "label"}))).await;
    assert_eq!(s, 200);
    let (s, _) = h.call("t", "PUT", &format!("{base}/columns/c"), Some(json!({"name": "seq"}))).await;
    assert_eq!(s, 200);
    let (_, body) = h.call("t", "GET", "/v2/keyspaces/ks/all/r?raw=true&fields=seq,label,extra", None).await;
    assert_eq!(body, json!([{"seq": 1, "label": "kept", "extra": null}, {"seq": 2, "label": null, "extra": 42}]));
    // Indexes: create, list, refuse duplicates (unless ifNotExists), drop.
    let idx = json!({"column": "extra", "name": "by_extra"});
    assert_eq!(h.call("t", "POST", &format!("{base}/indexes"), Some(idx.clone())).await.0, 201);
    assert_eq!(h.call("t", "POST", &format!("{base}/indexes"), Some(idx)).await.0, 409);
    let again = json!({"column": "extra", "name": "by_extra", "ifNotExists": true});
    assert_eq!(h.call("t", "POST", &format!("{base}/indexes"), Some(again)).await.0, 201);
    let (_, body) = h.call("t", "GET", &format!("{base}/indexes?raw=true"), None).await;
    assert_eq!(body[0]["column"], "extra");
    let w = urlencode(r#"{"extra":{"$eq":42}}"#);
    let (_, body) = h.call("t", "GET", &format!("/v2/keyspaces/ks/all?where={w}&raw=true&fields=seq"), None).await;
    assert_eq!(body, json!([{"seq": 2}]));
    // Dropping an indexed column drops its index too.
    assert_eq!(h.call("t", "DELETE", &format!("{base}/columns/extra"), None).await.0, 204);
    let (_, body) = h.call("t", "GET", &format!("{base}/indexes?raw=true"), None).await;
    assert_eq!(body, json!([]));
    let (_, body) = h.call("t", "GET", "/v2/keyspaces/ks/all/r?raw=true&fields=seq", None).await;
    assert_eq!(body.as_array().unwrap().len(), 2);
    for (method, path, body, status) in [
        ("DELETE", format!("{base}/columns/k"), None, 400),
        ("DELETE", format!("{base}/columns/nope"), None, 404),
        ("GET", format!("{base}/columns/nope"), None, 404),
        ("POST", format!("{base}/columns"), Some(json!({"name": "label", "typeDefinition": "text"})), 409),
        ("POST", format!("{base}/columns"), Some(json!({"name": "bad-name", "typeDefinition": "text"})), 400),
        ("POST", format!("{base}/columns"), Some(json!({"name": "x", "typeDefinition": "blobby"})), 400),
        ("DELETE", format!("{base}/indexes/nope"), None, 404),
        ("POST", format!("{base}/indexes"), Some(json!({"column": "nope"})), 404),
        ("GET", "/v2/schemas/keyspaces/ks/tables/nope/columns".to_owned(), None, 404),
    ] {
        let (s, resp) = h.call("t", method, &path, body).await;
        assert_eq!(s, status, "{method} {path}: {resp}");
    }
    h.done().await;
}

async fn recreated_table_with_new_types_is_served(postgres: bool) {
    let h = Harness::new(postgres).await;
    assert_eq!(h.call("t", "POST", "/v2/schemas/keyspaces", Some(json!({"name": "ks"}))).await.0, 201);
    let make = |ty: &str| {
        json!({"name": "t", "columnDefinitions": [{"name": "a", "typeDefinition": "text"}, {"name": "b", "typeDefinition": ty}],
               "primaryKey": {"partitionKey": ["a"]}})
    };
    for (ty, value) in [("int", json!(1)), ("text", json!("one")), ("double", json!(1.5))] {
        assert_eq!(h.call("t", "POST", "/v2/schemas/keyspaces/ks/tables", Some(make(ty))).await.0, 201);
        let (s, body) = h.call("t", "POST", "/v2/keyspaces/ks/t", Some(json!({"a": "x", "b": value}))).await;
        assert_eq!(s, 201, "{ty}: {body}");
        let (s, body) = h.call("t", "GET", "/v2/keyspaces/ks/t/x?raw=true", None).await;
        assert_eq!(
            (s, body),
            (200, json!([{"a": "x", "b": value}])),
            "{ty}: cached statements must not serve the old table"
        );
        assert_eq!(h.call("t", "DELETE", "/v2/schemas/keyspaces/ks/tables/t", None).await.0, 204);
    }
    h.done().await;
}

async fn ddl_through_another_replica_is_never_a_500(postgres: bool) {
    let h = Harness::new(postgres).await;
    typed_table(&h).await;
    assert_eq!(h.call("t", "POST", "/v2/keyspaces/ks/all", Some(json!({"k": "a", "c": 1}))).await.0, 201);
    // This replica now caches the definition; the other one changes the table under it.
    assert_eq!(h.call("t", "GET", "/v2/keyspaces/ks/all/a", None).await.0, 200);
    let base = "/v2/schemas/keyspaces/ks/tables/all/columns";
    assert_eq!(h.call_on(&h.replica, "t", "PUT", &format!("{base}/v"), Some(json!({"name": "renamed"}))).await.0, 200);
    let (s, body) = h.call("t", "GET", "/v2/keyspaces/ks/all/a", None).await;
    assert!(s == 503 || s == 200, "a stale definition gives a retryable 503 at worst, got {s}: {body}");
    let (s, body) = h.call("t", "GET", "/v2/keyspaces/ks/all/a?fields=renamed", None).await;
    assert_eq!(s, 200, "the retry sees the new shape: {body}");
    // Dropped elsewhere: 404 or 503, never a 500.
    assert_eq!(h.call_on(&h.replica, "t", "DELETE", "/v2/schemas/keyspaces/ks/tables/all", None).await.0, 204);
    let (s, body) = h.call("t", "POST", "/v2/keyspaces/ks/all", Some(json!({"k": "a", "c": 2}))).await;
    assert!(s == 503 || s == 404, "{s}: {body}");
    assert!(!body["description"].as_str().unwrap().contains("dg_"), "physical names never leak: {body}");
    let (s, _) = h.call("t", "GET", "/v2/keyspaces/ks/all/a", None).await;
    assert_eq!(s, 404);
    h.done().await;
}

async fn collections_round_trip_and_filter(postgres: bool) {
    let h = Harness::new(postgres).await;
    assert_eq!(h.call("t", "POST", "/v2/schemas/keyspaces", Some(json!({"name": "ks"}))).await.0, 201);
    let table = json!({"name": "c", "primaryKey": {"partitionKey": ["id"]}, "columnDefinitions": [
        {"name": "id", "typeDefinition": "int"}, {"name": "l", "typeDefinition": "list<int>"},
        {"name": "s", "typeDefinition": "set<text>"}, {"name": "m", "typeDefinition": "map<text, int>"},
        {"name": "ts", "typeDefinition": "set<timestamp>"}]});
    assert_eq!(h.call("t", "POST", "/v2/schemas/keyspaces/ks/tables", Some(table)).await.0, 201);
    let rows = json!([
        {"id": 1, "l": [3, 1, 3], "s": ["b", "a", "b"], "m": {"x": 1, "y": 2}, "ts": ["2024-01-01T00:00:00Z"]},
        {"id": 2, "l": [], "s": ["c"], "m": [{"key": "z", "value": 9}]},
        {"id": 3}
    ]);
    assert_eq!(h.call("t", "POST", "/v2/keyspaces/ks/c/batch", Some(rows)).await.0, 201);
    let (_, body) = h.call("t", "GET", "/v2/keyspaces/ks/c/1?raw=true", None).await;
    assert_eq!(
        body,
        json!([{"id": 1, "l": [3, 1, 3], "s": ["a", "b"], "m": {"x": 1, "y": 2}, "ts": ["2024-01-01T00:00:00.000Z"]}])
    );
    let (_, body) = h.call("t", "GET", "/v2/keyspaces/ks/c/2?raw=true&fields=m&compactMapData=false", None).await;
    assert_eq!(body, json!([{"m": [{"key": "z", "value": 9}]}]));
    let ids = |w: &'static str| {
        let h = &h;
        async move {
            let (s, body) = h
                .call("t", "GET", &format!("/v2/keyspaces/ks/c?where={}&fields=id&raw=true", urlencode(w)), None)
                .await;
            assert_eq!(s, 200, "{w}: {body}");
            let mut v: Vec<i64> = body.as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect();
            v.sort();
            v
        }
    };
    assert_eq!(ids(r#"{"l":{"$contains":3}}"#).await, [1]);
    assert_eq!(ids(r#"{"s":{"$contains":"c"}}"#).await, [2]);
    assert_eq!(ids(r#"{"m":{"$containsKey":"y"}}"#).await, [1]);
    assert_eq!(ids(r#"{"m":{"$contains":9}}"#).await, [2]);
    assert_eq!(ids(r#"{"m":{"$containsEntry":{"key":"x","value":1}}}"#).await, [1]);
    assert_eq!(ids(r#"{"m":{"$containsEntry":{"key":"x","value":2}}}"#).await, Vec::<i64>::new());
    assert_eq!(ids(r#"{"ts":{"$contains":"2024-01-01T00:00:00Z"}}"#).await, [1]);
    assert_eq!(ids(r#"{"m":{"$exists":true}}"#).await, [1, 2]);
    for (w, needle) in [
        (r#"{"l":{"$eq":[1]}}"#, "list<int> column takes"),
        (r#"{"l":{"$contains":"x"}}"#, "expected a int"),
        (r#"{"id":{"$containsKey":1}}"#, "does not apply"),
    ] {
        let (s, body) = h.call("t", "GET", &format!("/v2/keyspaces/ks/c?where={}", urlencode(w)), None).await;
        assert_eq!(s, 400, "{w}");
        assert!(body["description"].as_str().unwrap().contains(needle), "{w}: {body}");
    }
    let (s, body) = h.call("t", "POST", "/v2/keyspaces/ks/c", Some(json!({"id": 4, "l": ["x"]}))).await;
    assert_eq!(s, 400, "{body}");
    let bad_key = json!({"name": "k", "primaryKey": {"partitionKey": ["l"]}, "columnDefinitions": [{"name": "l", "typeDefinition": "list<int>"}]});
    let (s, body) = h.call("t", "POST", "/v2/schemas/keyspaces/ks/tables", Some(bad_key)).await;
    assert_eq!(s, 400);
    assert!(body["description"].as_str().unwrap().contains("cannot be a collection"), "{body}");
    h.done().await;
}

async fn counters_add_up_under_concurrency(postgres: bool) {
    let h = Arc::new(Harness::new(postgres).await);
    assert_eq!(h.call("t", "POST", "/v2/schemas/keyspaces", Some(json!({"name": "ks"}))).await.0, 201);
    let table = json!({"name": "hits", "primaryKey": {"partitionKey": ["page"]}, "columnDefinitions": [
        {"name": "page", "typeDefinition": "text"}, {"name": "views", "typeDefinition": "counter"},
        {"name": "likes", "typeDefinition": "counter"}]});
    assert_eq!(h.call("t", "POST", "/v2/schemas/keyspaces/ks/tables", Some(table)).await.0, 201);
    let mut tasks = Vec::new();
    for i in 0..30 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let body = if i % 3 == 0 { json!({"views": 2, "likes": -1}) } else { json!({"views": 1}) };
            h.call("t", "PATCH", "/v2/keyspaces/ks/hits/home", Some(body)).await.0
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let (_, body) = h.call("t", "GET", "/v2/keyspaces/ks/hits/home?raw=true", None).await;
    assert_eq!(body, json!([{"page": "home", "views": 40, "likes": -10}]), "every increment counted once");
    let mixed = json!({"name": "bad", "primaryKey": {"partitionKey": ["k"]}, "columnDefinitions": [
        {"name": "k", "typeDefinition": "text"}, {"name": "n", "typeDefinition": "counter"}, {"name": "x", "typeDefinition": "int"}]});
    let (s, body) = h.call("t", "POST", "/v2/schemas/keyspaces/ks/tables", Some(mixed)).await;
    assert_eq!(s, 400);
    assert!(body["description"].as_str().unwrap().contains("only counters"), "{body}");
    let (s, _) = h.call("t", "PATCH", "/v2/keyspaces/ks/hits/home?ttl=5", Some(json!({"views": 1}))).await;
    assert_eq!(s, 400);
    if let Ok(h) = Arc::try_unwrap(h) {
        h.done().await;
    }
}

async fn decimals_and_varints_are_exact(postgres: bool) {
    let h = Harness::new(postgres).await;
    assert_eq!(h.call("t", "POST", "/v2/schemas/keyspaces", Some(json!({"name": "ks"}))).await.0, 201);
    let table = json!({"name": "money", "columnDefinitions": [
        {"name": "account", "typeDefinition": "text"}, {"name": "amount", "typeDefinition": "decimal"},
        {"name": "big", "typeDefinition": "varint"}, {"name": "rates", "typeDefinition": "list<decimal>"}],
        "primaryKey": {"partitionKey": ["account"], "clusteringKey": ["amount"]}});
    let (s, b) = h.call("t", "POST", "/v2/schemas/keyspaces/ks/tables", Some(table)).await;
    assert_eq!(s, 201, "{b}");
    // Every digit survives, scale included; numbers are accepted where JSON can carry them.
    let amounts = ["12345678901234567890.123456789012345678901234567890", "-0.000100", "9.5", "10", "1.50", "100"];
    for (i, a) in amounts.iter().enumerate() {
        let big = format!("{}123456789012345678901234567890", if i % 2 == 0 { "-" } else { "" });
        let row = json!({"account": "a", "amount": a, "big": big, "rates": ["0.1", 2.25]});
        let (s, b) = h.call("t", "POST", "/v2/keyspaces/ks/money", Some(row)).await;
        assert_eq!(s, 201, "{a}: {b}");
    }
    let (_, b) = h.call("t", "GET", "/v2/keyspaces/ks/money/a?raw=true", None).await;
    let got: Vec<&str> = b.as_array().unwrap().iter().map(|r| r["amount"].as_str().unwrap()).collect();
    // Clustering order is numeric, not textual.
    assert_eq!(got, ["-0.000100", "1.50", "9.5", "10", "100", "12345678901234567890.123456789012345678901234567890"]);
    assert_eq!(b[0]["big"], "123456789012345678901234567890", "amount -0.000100 was row 1");
    assert_eq!(b[1]["big"], "-123456789012345678901234567890", "amount 1.50 was row 4");
    assert_eq!(b[0]["rates"], json!(["0.1", "2.25"]));
    // Comparisons are numeric too, and equality ignores trailing zeros.
    let q = |w: Value| {
        let h = &h;
        async move {
            let path = format!("/v2/keyspaces/ks/money?raw=true&where={}", w);
            let (s, b) = h.call("t", "GET", &path.replace('"', "%22").replace(' ', "%20"), None).await;
            assert_eq!(s, 200, "{b}");
            b.as_array().unwrap().iter().map(|r| r["amount"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    assert_eq!(q(json!({"account": {"$eq": "a"}, "amount": {"$gt": "9.99"}})).await.len(), 3);
    assert_eq!(q(json!({"account": {"$eq": "a"}, "amount": {"$lt": 2}})).await, ["-0.000100", "1.50"]);
    assert_eq!(q(json!({"account": {"$eq": "a"}, "amount": {"$eq": "9.50"}})).await, ["9.5"]);
    // By key path, and a paged walk in order.
    let (s, b) = h.call("t", "GET", "/v2/keyspaces/ks/money/a/10.0?raw=true", None).await;
    assert_eq!((s, b[0]["amount"].clone()), (200, json!("10")));
    let (_, p1) = h.call("t", "GET", "/v2/keyspaces/ks/money/a?page-size=4", None).await;
    let state = p1["pageState"].as_str().unwrap().to_owned();
    let (_, p2) = h.call("t", "GET", &format!("/v2/keyspaces/ks/money/a?page-size=4&page-state={state}"), None).await;
    assert_eq!(p2["data"][0]["amount"], "100");
    // Wrong values are 400s naming the column.
    for (col, bad) in [("amount", json!("12,5")), ("big", json!("1.5")), ("big", json!(true))] {
        let (s, b) =
            h.call("t", "POST", "/v2/keyspaces/ks/money", Some(json!({"account": "a", "amount": "1", col: bad}))).await;
        assert_eq!(s, 400, "{col}: {b}");
        assert!(b["description"].as_str().unwrap().contains(col), "{b}");
    }
    h.done().await;
}

/// Below the API's 1000-value cap nothing reaches a store's bound-parameter
/// limit; should a plan ever exceed it, the store's refusal must not read as
/// "the table changed; retry" (a 503 whose retry can never succeed).
async fn lists_beyond_the_store_limit_are_not_retryable(postgres: bool) {
    use datagate::plan::{Condition, Op, Select};
    use datagate::store::StoreError;
    use datagate::value::Value as V;
    let h = Harness::new(postgres).await;
    typed_table(&h).await;
    let ns = datagate::model::Namespace { tenant: "t".into(), keyspace: "ks".into() };
    let def = h.store.rows.table(&ns, "all").await.unwrap();
    let select = Select {
        now_ms: now_ms(),
        conditions: vec![Condition { column: "c".into(), op: Op::In, values: (0..70_000).map(V::Int).collect() }],
        order: datagate::plan::read_order(&def, &[]),
        after: None,
        limit: 10,
    };
    let err = h.store.rows.select(&ns, &def, &select).await.unwrap_err();
    assert!(matches!(err, StoreError::Internal(_)), "{err:?}");
    let api = datagate::error::ApiError::from(err);
    assert_eq!(api.status(), 500);
    h.done().await;
}
