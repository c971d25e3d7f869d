//! Component tests for the Documents API on both stores: every endpoint, the
//! search translation checked against the reference semantics
//! (`doc::filter::matches`) on the same data, paging, limits, schemas, TTL,
//! concurrency and random documents round-tripping.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod common;
use common::Harness;
use datagate::doc::filter::{matches, parse_where};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{json, Value};
use std::collections::BTreeSet;

on_both_stores!(
    documents_crud_and_paths,
    search_agrees_with_the_reference,
    sorted_search_pages_cover_every_document_once,
    schema_limits_and_ttl,
    concurrent_pushes_are_all_kept,
    random_documents_round_trip,
    tenants_and_namespaces_are_isolated,
    whole_document_reads_send_the_stored_text
);

const C: &str = "/v2/namespaces/ns/collections";

async fn setup(postgres: bool) -> Harness {
    let h = Harness::new(postgres).await;
    assert_eq!(h.call("t", "POST", "/v2/schemas/namespaces", Some(json!({"name": "ns"}))).await.0, 201);
    h
}

async fn documents_crud_and_paths(postgres: bool) {
    let h = setup(postgres).await;
    // The collection is created by the first write.
    let (s, b) = h.call("t", "POST", &format!("{C}/people"), Some(json!({"name": "Ann", "tags": ["a"]}))).await;
    assert_eq!(s, 201, "{b}");
    let id = b["documentId"].as_str().unwrap().to_owned();
    let (s, b) = h.call("t", "GET", &format!("{C}/people/{id}"), None).await;
    assert_eq!((s, &b["data"]), (200, &json!({"name": "Ann", "tags": ["a"]})));
    let (s, b) = h.call("t", "GET", C, None).await;
    assert_eq!((s, &b["data"][0]["name"]), (200, &json!("people")));

    // PUT a sub-document (creating the way), then read the path.
    assert_eq!(h.call("t", "PUT", &format!("{C}/people/{id}/address/city"), Some(json!("Oslo"))).await.0, 200);
    let (s, b) = h.call("t", "GET", &format!("{C}/people/{id}/address?raw=true"), None).await;
    assert_eq!((s, b), (200, json!({"city": "Oslo"})));
    // PATCH merges; PATCH into a scalar or with a non-object is a 400.
    assert_eq!(h.call("t", "PATCH", &format!("{C}/people/{id}"), Some(json!({"age": 40}))).await.0, 200);
    assert_eq!(h.call("t", "PATCH", &format!("{C}/people/{id}/name"), Some(json!({"x": 1}))).await.0, 400);
    assert_eq!(h.call("t", "PATCH", &format!("{C}/people/{id}"), Some(json!([1]))).await.0, 400);
    // A path through a scalar is a 400 naming it.
    let (s, b) = h.call("t", "PUT", &format!("{C}/people/{id}/age/x"), Some(json!(1))).await;
    assert_eq!(s, 400);
    assert!(b["description"].as_str().unwrap().contains("age"), "{b}");
    // Functions.
    let f = format!("{C}/people/{id}/tags/function");
    let (s, b) = h.call("t", "POST", &f, Some(json!({"operation": "$push", "value": "b"}))).await;
    assert_eq!((s, &b["data"]), (200, &json!(["a", "b"])));
    let (s, b) = h.call("t", "POST", &f, Some(json!({"operation": "$pop"}))).await;
    assert_eq!((s, &b["data"]), (200, &json!("b")));
    assert_eq!(
        h.call("t", "POST", &format!("{C}/people/{id}/age/function"), Some(json!({"operation": "$pop"}))).await.0,
        400
    );
    // fields projection.
    let (_, b) =
        h.call("t", "GET", &format!("{C}/people/{id}?fields=%5B%22address.city%22%2C%22age%22%5D"), None).await;
    assert_eq!(b["data"], json!({"address": {"city": "Oslo"}, "age": 40}));
    // Delete a path, then the document; both idempotent.
    assert_eq!(h.call("t", "DELETE", &format!("{C}/people/{id}/address"), None).await.0, 204);
    let (_, b) = h.call("t", "GET", &format!("{C}/people/{id}?raw=true"), None).await;
    assert_eq!(b, json!({"name": "Ann", "tags": ["a"], "age": 40}));
    assert_eq!(h.call("t", "GET", &format!("{C}/people/{id}/address"), None).await.0, 404);
    assert_eq!(h.call("t", "DELETE", &format!("{C}/people/{id}"), None).await.0, 204);
    assert_eq!(h.call("t", "DELETE", &format!("{C}/people/{id}"), None).await.0, 204);
    assert_eq!(h.call("t", "GET", &format!("{C}/people/{id}"), None).await.0, 404);
    // PUT with a client id, batch with id-path (all-or-nothing on duplicates).
    assert_eq!(h.call("t", "PUT", &format!("{C}/people/bob"), Some(json!({"name": "Bob"}))).await.0, 200);
    let docs = json!([{"user": {"id": "u1"}, "n": 1}, {"user": {"id": "u2"}, "n": 2}]);
    let (s, b) = h.call("t", "POST", &format!("{C}/people/batch?id-path=user.id"), Some(docs)).await;
    assert_eq!((s, b), (202, json!({"documentIds": ["u1", "u2"]})));
    let dup = json!([{"user": {"id": "u3"}}, {"user": {"id": "u3"}}]);
    assert_eq!(h.call("t", "POST", &format!("{C}/people/batch?id-path=user.id"), Some(dup)).await.0, 400);
    assert_eq!(h.call("t", "GET", &format!("{C}/people/u3"), None).await.0, 404);
    // Collections: create conflicts, drop, unknown namespace.
    assert_eq!(h.call("t", "POST", C, Some(json!({"name": "people"}))).await.0, 409);
    assert_eq!(h.call("t", "POST", C, Some(json!({"name": "bad-name"}))).await.0, 400);
    assert_eq!(h.call("t", "DELETE", &format!("{C}/people"), None).await.0, 204);
    assert_eq!(h.call("t", "GET", &format!("{C}/people/bob"), None).await.0, 404);
    assert_eq!(h.call("t", "GET", &format!("{C}/people"), None).await.0, 404);
    assert_eq!(h.call("t", "POST", "/v2/namespaces/nope/collections/c", Some(json!({}))).await.0, 404);
    h.done().await;
}

/// A fixed, varied data set: numbers, strings, booleans, nulls, nested arrays
/// and objects, missing fields and mixed types at the same path.
fn corpus() -> Vec<(String, Value)> {
    let words = ["ant", "bee", "cat", "dog", "eel", "fox"];
    (0..48)
        .map(|i: i64| {
            let mut d = json!({
                "n": i % 7,
                "f": (i as f64) / 4.0,
                "s": words[(i % 6) as usize],
                "b": i % 3 == 0,
                "arr": (0..(i % 4)).map(|k| json!({"k": k * i % 5, "t": words[(k % 6) as usize]})).collect::<Vec<_>>(),
                "o": {"x": i % 5, "y": words[(i % 4) as usize]},
            });
            match i % 5 {
                0 => d["n"] = json!(words[(i % 6) as usize]),
                1 => {
                    d.as_object_mut().unwrap().remove("s");
                }
                2 => d["z"] = Value::Null,
                _ => {}
            }
            (format!("d{i:02}"), d)
        })
        .collect()
}

async fn search_all(h: &Harness, query: &str) -> (u16, Vec<(String, Value)>) {
    let mut out = Vec::new();
    let mut state: Option<String> = None;
    loop {
        let mut url = format!("{C}/zoo?page-size=20&{query}");
        if let Some(s) = &state {
            url.push_str(&format!("&page-state={s}"));
        }
        let (status, b) = h.call("t", "GET", &url, None).await;
        if status != 200 {
            return (status, vec![]);
        }
        for (k, v) in b["data"].as_object().unwrap() {
            out.push((k.clone(), v.clone()));
        }
        match b["pageState"].as_str() {
            Some(s) => state = Some(s.to_owned()),
            None => return (200, out),
        }
    }
}

fn enc(v: &Value) -> String {
    percent_encoding::utf8_percent_encode(&v.to_string(), percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn search_agrees_with_the_reference(postgres: bool) {
    let h = setup(postgres).await;
    let docs = corpus();
    let body: Vec<Value> = docs.iter().map(|(id, d)| json!({"id": id, "d": d})).collect();
    assert_eq!(h.call("t", "POST", &format!("{C}/zoo/batch?id-path=id"), Some(Value::Array(body))).await.0, 202);
    let filters = [
        json!({"d.n": {"$eq": 3}}),
        json!({"d.n": {"$ne": 3}}),
        json!({"d.n": {"$gt": 2, "$lte": 5}}),
        json!({"d.n": {"$lt": "cat"}}),
        json!({"d.f": {"$gte": 5.5}}),
        json!({"d.s": {"$in": ["ant", "fox"]}}),
        json!({"d.s": {"$nin": ["ant", "fox"]}}),
        json!({"d.s": {"$exists": false}}),
        json!({"d.z": {"$eq": null}}),
        json!({"d.b": {"$eq": true}}),
        json!({"d.arr.[*].k": {"$eq": 4}}),
        json!({"d.arr.[1].t": {"$eq": "bee"}}),
        json!({"d.arr.[*].t": {"$gt": "bee"}}),
        json!({"d.o.*": {"$eq": "dog"}}),
        json!({"d.*.x": {"$gte": 3}}),
        json!({"$or": [{"d.n": {"$eq": 1}}, {"d.s": {"$eq": "eel"}}]}),
        json!({"$not": {"d.n": {"$gt": 2}}}),
        json!({"$and": [{"d.b": {"$eq": false}}, {"$not": [{"d.arr.[*].k": {"$exists": true}}]}]}),
        json!({"d.o.x": {"$eq": 2}, "d.o.y": {"$eq": "ant"}}),
    ];
    let mut selective = 0;
    for f in filters {
        let expected: BTreeSet<String> = docs
            .iter()
            .filter(|(id, d)| matches(&json!({"id": id, "d": d}), &parse_where(f.clone()).unwrap()))
            .map(|(id, _)| id.clone())
            .collect();
        let (status, found) = search_all(&h, &format!("where={}", enc(&f))).await;
        assert_eq!(status, 200, "{f}");
        let got: BTreeSet<String> = found.into_iter().map(|(id, _)| id).collect();
        assert_eq!(got, expected, "{f} on {}", if postgres { "postgres" } else { "sqlite" });
        selective += usize::from(!expected.is_empty() && expected.len() < docs.len());
    }
    assert!(selective >= 17, "the corpus must make most filters selective, got {selective}");
    // Errors: bad JSON, unknown operator, duplicate keys, bad cursor.
    for bad in [
        "where=%7B",
        "where=%7B%22a%22%3A%7B%22%24like%22%3A1%7D%7D",
        "where=%7B%22a%22%3A1%2C%22a%22%3A2%7D",
        "page-state=xyz",
        "page-size=21",
        "sort=%7B%22a%22%3A%22up%22%7D",
    ] {
        let (s, b) = h.call("t", "GET", &format!("{C}/zoo?{bad}"), None).await;
        assert_eq!(s, 400, "{bad}: {b}");
    }
    h.done().await;
}

async fn sorted_search_pages_cover_every_document_once(postgres: bool) {
    let h = setup(postgres).await;
    let docs = corpus();
    let body: Vec<Value> = docs.iter().map(|(id, d)| json!({"id": id, "d": d})).collect();
    assert_eq!(h.call("t", "POST", &format!("{C}/zoo/batch?id-path=id"), Some(Value::Array(body))).await.0, 202);
    for sort in [json!({"d.n": "asc"}), json!({"d.f": "desc"}), json!({"d.s": "desc", "d.n": "asc"})] {
        let (status, found) = search_all(&h, &format!("sort={}", enc(&sort))).await;
        assert_eq!(status, 200);
        let ids: Vec<&String> = found.iter().map(|(id, _)| id).collect();
        let unique: BTreeSet<&String> = ids.iter().copied().collect();
        assert_eq!((ids.len(), unique.len()), (48, 48), "{sort}: every document exactly once");
        // Numbers in order, then strings, then missing; direction applies within a type.
        let (path, dir) = sort.as_object().unwrap().iter().next().unwrap();
        let key = |d: &Value| path.split('.').skip(1).fold(d["d"].clone(), |v, k| v[k].clone());
        let keys: Vec<Value> = found.iter().map(|(_, d)| key(d)).collect();
        for w in keys.windows(2) {
            let rank = |v: &Value| match v {
                Value::Number(_) => 0,
                Value::String(_) => 1,
                Value::Null => 5,
                _ => 3,
            };
            assert!(rank(&w[0]) <= rank(&w[1]), "{sort}: {keys:?}");
            if rank(&w[0]) == rank(&w[1]) && rank(&w[0]) < 2 {
                let ord = datagate::doc::filter::compare(&w[0], &w[1]).unwrap();
                let ok = if dir == "asc" { ord.is_le() } else { ord.is_ge() };
                assert!(ok, "{sort}: {:?} then {:?}", w[0], w[1]);
            }
        }
    }
    // A cursor belongs to its query.
    let (_, b) = h.call("t", "GET", &format!("{C}/zoo?page-size=5&sort={}", enc(&json!({"d.n": "asc"}))), None).await;
    let state = b["pageState"].as_str().unwrap().to_owned();
    assert_eq!(h.call("t", "GET", &format!("{C}/zoo?page-size=5&page-state={state}"), None).await.0, 400);
    h.done().await;
}

async fn schema_limits_and_ttl(postgres: bool) {
    let h = setup(postgres).await;
    let schema = json!({"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}});
    assert_eq!(h.call("t", "PUT", &format!("{C}/people/json-schema"), Some(schema.clone())).await.0, 200);
    let (s, b) = h.call("t", "GET", &format!("{C}/people/json-schema"), None).await;
    assert_eq!((s, &b["schema"]), (200, &schema));
    let (s, b) = h.call("t", "POST", &format!("{C}/people"), Some(json!({"age": "old"}))).await;
    assert_eq!(s, 400);
    let text = b["description"].as_str().unwrap();
    assert!(text.contains("2 violations") && text.contains("/age"), "{text}");
    assert_eq!(h.call("t", "PUT", &format!("{C}/people/p1"), Some(json!({"name": "x", "age": 3}))).await.0, 200);
    // An edit that breaks the schema is refused and changes nothing.
    assert_eq!(h.call("t", "DELETE", &format!("{C}/people/p1/name"), None).await.0, 400);
    assert_eq!(h.call("t", "GET", &format!("{C}/people/p1/name"), None).await.0, 200);
    assert_eq!(h.call("t", "PUT", &format!("{C}/people/json-schema"), Some(json!({"type": 7}))).await.0, 400);
    // Limits: nesting, members per object, document size.
    let mut deep = json!(1);
    for _ in 0..70 {
        deep = json!([deep]);
    }
    assert_eq!(h.call("t", "PUT", &format!("{C}/misc/d"), Some(deep)).await.0, 400);
    let wide: serde_json::Map<String, Value> = (0..1001).map(|i| (format!("k{i}"), json!(i))).collect();
    assert_eq!(h.call("t", "PUT", &format!("{C}/misc/w"), Some(Value::Object(wide))).await.0, 400);
    assert_eq!(h.call("t", "PUT", &format!("{C}/misc/big"), Some(json!("x".repeat(700_000)))).await.0, 200);
    assert_eq!(h.call("t", "PUT", &format!("{C}/misc/big2"), Some(json!({"a": "x".repeat(600_000)}))).await.0, 200);
    let (s, b) = h.call("t", "PATCH", &format!("{C}/misc/big2"), Some(json!({"b": "y".repeat(600_000)}))).await;
    assert_eq!(s, 413, "an edit may not grow a document past the limit: {b}");
    // TTL: invisible to every read once expired, then swept.
    assert_eq!(h.call("t", "PUT", &format!("{C}/misc/short?ttl=1"), Some(json!({"v": 1}))).await.0, 200);
    assert_eq!(h.call("t", "PUT", &format!("{C}/misc/long?ttl=600"), Some(json!({"v": 1}))).await.0, 200);
    assert_eq!(h.call("t", "PATCH", &format!("{C}/misc/long"), Some(json!({"w": 2}))).await.0, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(h.call("t", "GET", &format!("{C}/misc/short"), None).await.0, 404);
    let (_, b) = h.call("t", "GET", &format!("{C}/misc?where={}", enc(&json!({"v": {"$eq": 1}}))), None).await;
    assert_eq!(b["data"], json!({"long": {"v": 1, "w": 2}}));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    assert_eq!(h.store.docs.sweep_expired_docs(now).await.unwrap(), 1);
    // Writing an expired document's id again starts from nothing.
    assert_eq!(h.call("t", "PATCH", &format!("{C}/misc/short"), Some(json!({"n": 1}))).await.0, 200);
    let (_, b) = h.call("t", "GET", &format!("{C}/misc/short?raw=true"), None).await;
    assert_eq!(b, json!({"n": 1}));
    h.done().await;
}

async fn concurrent_pushes_are_all_kept(postgres: bool) {
    let h = setup(postgres).await;
    let h = std::sync::Arc::new(h);
    let mut tasks = Vec::new();
    // Pushes race on one array; PATCHes race to create "fresh", which does not exist yet.
    assert_eq!(h.call("t", "PUT", &format!("{C}/c/counter"), Some(json!({"seen": []}))).await.0, 200);
    for i in 0..24 {
        let h1 = h.clone();
        tasks.push(tokio::spawn(async move {
            let f = format!("{C}/c/counter/seen/function");
            h1.call("t", "POST", &f, Some(json!({"operation": "$push", "value": i}))).await.0
        }));
        let h2 = h.clone();
        tasks.push(tokio::spawn(async move {
            h2.call("t", "PATCH", &format!("{C}/c/fresh"), Some(json!({ format!("k{i}"): i }))).await.0
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let (_, b) = h.call("t", "GET", &format!("{C}/c/counter/seen?raw=true"), None).await;
    let mut seen: Vec<i64> = b.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    seen.sort();
    assert_eq!(seen, (0..24).collect::<Vec<_>>());
    let (_, b) = h.call("t", "GET", &format!("{C}/c/fresh?raw=true"), None).await;
    assert_eq!(b.as_object().unwrap().len(), 24, "no merge lost: {b}");
    std::sync::Arc::into_inner(h).unwrap().done().await;
}

/// Numbers compare by value: PostgreSQL may print 1e19 as 10000000000000000000.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
            (Some(p), Some(q), _, _) => p == q,
            (_, _, Some(p), Some(q)) => p == q,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn any_json() -> impl Strategy<Value = Value> {
    let text = "[^\u{0}]{0,12}";
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        text.prop_map(Value::String),
        Just(json!("quote \" backslash \\ tab \t newline \n emoji 🦀 rtl \u{202e} bom \u{feff}")),
    ];
    leaf.prop_recursive(6, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(text, inner, 0..8).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

async fn random_documents_round_trip(postgres: bool) {
    let h = setup(postgres).await;
    let mut runner = TestRunner::deterministic();
    let strategy = any_json();
    for i in 0..150 {
        let doc = strategy.new_tree(&mut runner).unwrap().current();
        let (s, b) = h.call("t", "PUT", &format!("{C}/rnd/r{i}"), Some(doc.clone())).await;
        assert_eq!(s, 200, "{doc}: {b}");
        let (s, back) = h.call("t", "GET", &format!("{C}/rnd/r{i}?raw=true"), None).await;
        assert_eq!(s, 200);
        assert!(same(&doc, &back), "wrote {doc}\nread  {back}");
    }
    h.done().await;
}

async fn tenants_and_namespaces_are_isolated(postgres: bool) {
    let h = setup(postgres).await;
    assert_eq!(h.call("t", "PUT", &format!("{C}/secret/s1"), Some(json!({"v": 1}))).await.0, 200);
    // Tenant u has no namespace "ns": every access is a 404, and creating its
    // own "ns" shows none of t's data.
    assert_eq!(h.call("u", "GET", &format!("{C}/secret/s1"), None).await.0, 404);
    assert_eq!(h.call("u", "GET", C, None).await.0, 404);
    assert_eq!(h.call("u", "DELETE", &format!("{C}/secret"), None).await.0, 404);
    assert_eq!(h.call("u", "POST", "/v2/schemas/namespaces", Some(json!({"name": "ns"}))).await.0, 201);
    assert_eq!(h.call("u", "GET", &format!("{C}/secret/s1"), None).await.0, 404);
    let (_, b) = h.call("u", "GET", C, None).await;
    assert_eq!(b["data"], json!([]));
    // Dropping a namespace drops its collections.
    assert_eq!(h.call("t", "DELETE", "/v2/schemas/namespaces/ns", None).await.0, 204);
    assert_eq!(h.call("t", "POST", "/v2/schemas/namespaces", Some(json!({"name": "ns"}))).await.0, 201);
    assert_eq!(h.call("t", "GET", &format!("{C}/secret/s1"), None).await.0, 404);
    h.done().await;
}

/// A GET of a whole document sends the store's text (no parse, no rewrite):
/// compact, the members in the store's order, the same as the parsed path.
async fn whole_document_reads_send_the_stored_text(postgres: bool) {
    let h = setup(postgres).await;
    let doc = json!({"b": {"c": [1, 2.5, null]}, "a": "two  spaces, \"q\" é", "zz": true});
    assert_eq!(h.call("t", "PUT", &format!("{C}/c/d1"), Some(doc.clone())).await.0, 200);
    let service = &h.service;
    let body = |path: String| async move {
        let mut req = datagate::http::ApiRequest::new("GET", &path);
        req.tenant = Some("t".to_owned());
        let r = service.handle(req).await;
        assert_eq!(r.status, 200);
        String::from_utf8(r.body).unwrap()
    };
    let whole = body(format!("{C}/c/d1")).await;
    let parsed: Value = serde_json::from_str(&whole).unwrap();
    assert_eq!(parsed, json!({"documentId": "d1", "data": doc}));
    assert_eq!(whole, parsed.to_string(), "compact, documentId first");
    let raw = body(format!("{C}/c/d1?raw=true")).await;
    assert_eq!(raw, parsed["data"].to_string());
    // A path or `fields` still goes through the parsed document.
    let (_, at) = h.call("t", "GET", &format!("{C}/c/d1/b/c/[1]"), None).await;
    assert_eq!(at, json!({"documentId": "d1", "data": 2.5}));
    let (s, _) = h.call("t", "GET", &format!("{C}/c/nope"), None).await;
    assert_eq!(s, 404);
}
