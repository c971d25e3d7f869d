//! The Documents API through Envoy: a user's session (namespace, documents,
//! sub-documents, search with where/sort/paging, functions, batch, schema)
//! and every error case, each answered with JSON and the right status.

use crate::harness::{assert_error, json_of, token, Gateway, Store};
use serde_json::{json, Value};
use std::process::Command;

crate::on_both_stores!(documents_session, documents_errors_and_isolation);

const C: &str = "/v2/namespaces/shop/collections";

pub(crate) fn documents_session(store: Store) {
    let gw = Gateway::start(store);
    let t = token("acme");
    let r = gw.post("/v2/schemas/namespaces").header("x-cassandra-token", &t).json(&json!({"name": "shop"})).send();
    assert_eq!(r.unwrap().status(), 201);
    let r = gw.get("/v2/schemas/namespaces/shop").header("x-cassandra-token", &t).send().unwrap();
    assert_eq!(json_of(r), (200, json!({"data": {"name": "shop"}})));

    // Create: server-generated id, Location header, collection made on first write.
    let r = gw
        .post(&format!("{C}/products"))
        .header("x-cassandra-token", &t)
        .json(&json!({"name": "Lamp", "price": 30, "tags": ["home"], "dims": {"h": 40, "w": 20}}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let id = json_of(r).1["documentId"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("{C}/products/{id}"));
    // Batch with ids taken from the documents.
    let batch = json!([
        {"sku": "chair", "name": "Chair", "price": 80, "tags": ["home", "office"], "dims": {"h": 90, "w": 50}},
        {"sku": "desk", "name": "Desk", "price": 250, "tags": ["office"], "dims": {"h": 75, "w": 140}},
        {"sku": "pen", "name": "Pen", "price": 2, "tags": ["office"]},
    ]);
    let r = gw.post(&format!("{C}/products/batch?id-path=sku")).header("x-cassandra-token", &t).json(&batch).send();
    assert_eq!(json_of(r.unwrap()), (202, json!({"documentIds": ["chair", "desk", "pen"]})));

    // Sub-documents: PUT creates the way, PATCH merges, GET by path.
    let r = gw.put(&format!("{C}/products/pen/dims")).header("x-cassandra-token", &t).json(&json!({"h": 1})).send();
    assert_eq!(r.unwrap().status(), 200);
    let r = gw.patch(&format!("{C}/products/pen/dims")).header("x-cassandra-token", &t).json(&json!({"w": 14})).send();
    assert_eq!(r.unwrap().status(), 200);
    let r = gw.get(&format!("{C}/products/pen/dims")).header("x-cassandra-token", &t).send().unwrap();
    assert_eq!(json_of(r), (200, json!({"documentId": "pen", "data": {"h": 1, "w": 14}})));

    // Search: a nested field, wildcard into arrays, sort (beyond Stargate), fields, paging.
    let line = format!(
        r#"curl -s -G '{}{C}/products' --data-urlencode 'where={{"tags.[*]":{{"$eq":"office"}},"price":{{"$lt":100}}}}' --data-urlencode 'sort={{"price":"desc"}}' --data-urlencode 'fields=["name","price"]' -H "X-Cassandra-Token: $AUTH_TOKEN""#,
        gw.base
    );
    let out = Command::new("sh").arg("-c").arg(&line).env("AUTH_TOKEN", &t).output().unwrap();
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["data"], json!({"chair": {"name": "Chair", "price": 80}, "pen": {"name": "Pen", "price": 2}}));
    let order: Vec<&String> = body["data"].as_object().unwrap().keys().collect();
    assert_eq!(order, ["chair", "pen"], "sorted by price descending");
    let mut seen = Vec::new();
    let mut state: Option<String> = None;
    loop {
        let mut q = vec![("page-size", "1".to_owned()), ("sort", r#"{"dims.h":"asc"}"#.to_owned())];
        if let Some(s) = &state {
            q.push(("page-state", s.clone()));
        }
        let r = gw.get(&format!("{C}/products")).query(&q).header("x-cassandra-token", &t).send().unwrap();
        let (s, b) = json_of(r);
        assert_eq!(s, 200, "{b}");
        seen.extend(b["data"].as_object().unwrap().keys().cloned());
        match b["pageState"].as_str() {
            Some(p) => state = Some(p.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["pen", id.as_str(), "desk", "chair"], "dims.h ascending, one per page");

    // Functions on arrays.
    let f = format!("{C}/products/pen/tags/function");
    let r = gw.post(&f).header("x-cassandra-token", &t).json(&json!({"operation": "$push", "value": "school"})).send();
    assert_eq!(json_of(r.unwrap()), (200, json!({"documentId": "pen", "data": ["office", "school"]})));
    let r = gw.post(&f).header("x-cassandra-token", &t).json(&json!({"operation": "$pop"})).send();
    assert_eq!(json_of(r.unwrap()).1["data"], "school");

    // JSON schema, then a write that violates it.
    let schema = json!({"type": "object", "required": ["name", "price"], "properties": {"price": {"type": "number", "minimum": 0}}});
    let r = gw.put(&format!("{C}/products/json-schema")).header("x-cassandra-token", &t).json(&schema).send();
    assert_eq!(r.unwrap().status(), 200);
    let r = gw.post(&format!("{C}/products")).header("x-cassandra-token", &t).json(&json!({"price": -1})).send();
    assert_error(r.unwrap(), 400, "2 violations");

    // Delete a path, then the document; list and drop the collection.
    let r = gw.delete(&format!("{C}/products/pen/dims")).header("x-cassandra-token", &t).send().unwrap();
    assert_eq!(r.status(), 204);
    let r = gw.delete(&format!("{C}/products/pen")).header("x-cassandra-token", &t).send().unwrap();
    assert_eq!(r.status(), 204);
    let r = gw.get(&format!("{C}/products/pen")).header("x-cassandra-token", &t).send().unwrap();
    assert_error(r, 404, "document 'pen' not found");
    let r = gw.get(C).header("x-cassandra-token", &t).send().unwrap();
    assert_eq!(json_of(r).1["data"], json!([{"name": "products", "hasJsonSchema": true}]));
    let r = gw.delete(&format!("{C}/products")).header("x-cassandra-token", &t).send().unwrap();
    assert_eq!(r.status(), 204);
}

fn documents_errors_and_isolation(store: Store) {
    let gw = Gateway::start(store);
    let t = token("acme");
    let send = |m: &str, path: &str, body: &str| {
        let b = match m {
            "POST" => gw.post(path),
            "PUT" => gw.put(path),
            "PATCH" => gw.patch(path),
            "DELETE" => gw.delete(path),
            _ => gw.get(path),
        };
        b.header("x-cassandra-token", &t)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .unwrap()
    };
    assert_eq!(send("POST", "/v2/schemas/namespaces", r#"{"name":"shop"}"#).status(), 201);
    assert_error(send("POST", "/v2/schemas/namespaces", r#"{"name":"shop"}"#), 409, "already exists");
    assert_error(send("POST", &format!("{C}/c"), r#"{"a": "#), 400, "document");
    assert_error(send("POST", &format!("{C}/c"), r#"{"a":1,"a":2}"#), 400, "duplicate");
    assert_eq!(send("PUT", &format!("{C}/c/d"), r#"{"n":1,"s":"x"}"#).status(), 200);
    assert_error(send("PUT", &format!("{C}/c/d/n/deeper"), "1"), 400, "'n'");
    assert_error(send("PATCH", &format!("{C}/c/d/s"), r#"{"x":1}"#), 400, "merges into an object");
    assert_error(send("PATCH", &format!("{C}/c/d"), "[1,2]"), 400, "JSON object");
    let deep = format!("{}1{}", "[".repeat(80), "]".repeat(80));
    assert_error(send("PUT", &format!("{C}/c/deep"), &deep), 400, "deeper than 64");
    let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(70_000));
    assert_error(send("PUT", &format!("{C}/c/big"), &big), 413, "limit");
    assert_error(send("GET", &format!("{C}/c?where=%7B%22n%22%3A%7B%22%24regex%22%3A1%7D%7D"), ""), 400, "$regex");
    assert_error(send("GET", &format!("{C}/c?page-size=500"), ""), 400, "page-size");
    assert_error(send("GET", &format!("{C}/c?page-state=bogus"), ""), 400, "page-state");
    assert_error(send("GET", &format!("{C}/missing"), ""), 404, "collection 'missing' not found");
    assert_error(send("GET", "/v2/namespaces/nope/collections/c/d", ""), 404, "keyspace 'nope' not found");
    assert_error(send("POST", &format!("{C}/c/d"), "{}"), 405, "function");
    assert_error(send("POST", &format!("{C}/c/d/function"), r#"{"operation":"$shift"}"#), 400, "$shift");
    assert_error(send("POST", &format!("{C}/c/d/n/function"), r#"{"operation":"$pop"}"#), 400, "array");
    assert_error(send("PUT", &format!("{C}/c/json-schema"), r#"{"type":12}"#), 400, "JSON Schema");

    // Another tenant sees nothing of acme's namespace, even with a spoofed header.
    let other = token("globex");
    let r =
        gw.get(&format!("{C}/c/d")).header("x-cassandra-token", &other).header("x-tenant-id", "acme").send().unwrap();
    assert_error(r, 404, "keyspace 'shop' not found");
    let r = gw.delete(&format!("{C}/c")).header("x-cassandra-token", &other).send().unwrap();
    assert_error(r, 404, "not found");
    let r = gw.get(&format!("{C}/c/d")).header("x-cassandra-token", &t).send().unwrap();
    assert_eq!(json_of(r).1["data"], json!({"n": 1, "s": "x"}));
    // No token: 401 from the edge before the sidecar is asked.
    assert_eq!(gw.get(&format!("{C}/c/d")).send().unwrap().status(), 401);
}
