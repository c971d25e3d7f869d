//! `/v2/openapi.json` is served without credentials, and real responses —
//! successes and errors, from a whole REST and Documents session — match it.

use crate::harness::{token, Gateway, Store};
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn real_responses_match_the_openapi_document() {
    let gw = Gateway::start(Store::Sqlite);
    let r = gw.get("/v2/openapi.json").send().unwrap();
    assert_eq!(r.status(), 200, "served without a token");
    let served: Value = r.json().unwrap();
    assert_eq!(served["openapi"], "3.1.0");
    let t = token("acme");
    let mut records = Vec::new();
    let mut call = |method: &str, path: &str, query: &[(&str, &str)], body: Option<Value>| {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let client = reqwest::blocking::Client::new();
        let mut req = client.request(m, format!("{}{path}", gw.base)).query(query).header("x-cassandra-token", &t);
        if let Some(b) = &body {
            req = req.json(b);
        }
        let resp = req.send().unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().unwrap();
        let body: Value = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };
        let path = path.split('?').next().unwrap().to_owned();
        records.push(json!({"method": method, "path": path, "status": status, "body": body}));
        body
    };
    let table = json!({"name": "vehicle", "columnDefinitions": [
        {"name": "manufacturer", "typeDefinition": "text"}, {"name": "model", "typeDefinition": "text"},
        {"name": "year", "typeDefinition": "int"}, {"name": "tags", "typeDefinition": "map<text, int>"}],
        "primaryKey": {"partitionKey": ["manufacturer"], "clusteringKey": ["model"]}});
    let base = "/v2/schemas/keyspaces/blog/tables/vehicle";
    call("GET", "/health", &[], None);
    call("POST", "/v2/schemas/keyspaces", &[], Some(json!({"name": "blog"})));
    call("POST", "/v2/schemas/keyspaces", &[], Some(json!({"name": "blog"})));
    call("GET", "/v2/schemas/keyspaces", &[], None);
    call("GET", "/v2/schemas/keyspaces/blog", &[("raw", "true")], None);
    call("POST", "/v2/schemas/keyspaces/blog/tables", &[], Some(table));
    call("GET", "/v2/schemas/keyspaces/blog/tables", &[], None);
    call("GET", base, &[], None);
    call("PUT", base, &[], Some(json!({"tableOptions": {"defaultTimeToLive": 0}})));
    call("POST", &format!("{base}/columns"), &[], Some(json!({"name": "color", "typeDefinition": "text"})));
    call("GET", &format!("{base}/columns"), &[], None);
    call("GET", &format!("{base}/columns/color"), &[], None);
    call("PUT", &format!("{base}/columns/color"), &[], Some(json!({"name": "colour"})));
    call("POST", &format!("{base}/indexes"), &[], Some(json!({"column": "year", "name": "by_year"})));
    call("GET", &format!("{base}/indexes"), &[], None);
    call(
        "POST",
        "/v2/keyspaces/blog/vehicle",
        &[],
        Some(json!({"manufacturer": "Tesla", "model": "S", "year": 2012, "tags": {"a": 1}})),
    );
    call(
        "POST",
        "/v2/keyspaces/blog/vehicle/batch",
        &[("ttl", "60")],
        Some(json!([{"manufacturer": "Tesla", "model": "3"}, {"manufacturer": "Volvo", "model": "XC90"}])),
    );
    call(
        "GET",
        "/v2/keyspaces/blog/vehicle",
        &[("where", r#"{"manufacturer":{"$eq":"Tesla"}}"#), ("page-size", "1")],
        None,
    );
    call("GET", "/v2/keyspaces/blog/vehicle/rows", &[("raw", "true"), ("compactMapData", "false")], None);
    call("GET", "/v2/keyspaces/blog/vehicle/Tesla/S", &[("fields", "year")], None);
    call("PATCH", "/v2/keyspaces/blog/vehicle/Tesla/S", &[], Some(json!({"year": 2013})));
    call("PUT", "/v2/keyspaces/blog/vehicle/Tesla/S", &[("raw", "true")], Some(json!({"colour": "red"})));
    call("DELETE", "/v2/keyspaces/blog/vehicle/Volvo", &[], None);
    // Errors are documented too.
    call("GET", "/v2/keyspaces/blog/vehicle", &[("where", r#"{"year":{"$like":1}}"#)], None);
    call("GET", "/v2/keyspaces/nope/vehicle/rows", &[], None);
    call("POST", "/v2/keyspaces/blog/vehicle", &[], Some(json!({"manufacturer": 1})));
    call("DELETE", &format!("{base}/indexes/by_year"), &[], None);
    call("DELETE", &format!("{base}/columns/colour"), &[], None);
    call("DELETE", base, &[], None);
    call("DELETE", "/v2/schemas/keyspaces/blog", &[], None);
    call("GET", "/v2/schemas/keyspaces/blog", &[], None);

    // The Documents API.
    let c = "/v2/namespaces/shop/collections";
    call("POST", "/v2/schemas/namespaces", &[], Some(json!({"name": "shop"})));
    call("GET", "/v2/schemas/namespaces", &[], None);
    call("GET", "/v2/schemas/namespaces/shop", &[], None);
    call("POST", c, &[], Some(json!({"name": "items"})));
    call("POST", c, &[], Some(json!({"name": "items"})));
    call("GET", c, &[], None);
    call("PUT", &format!("{c}/items/json-schema"), &[], Some(json!({"type": "object"})));
    call("GET", &format!("{c}/items/json-schema"), &[], None);
    call("POST", &format!("{c}/items"), &[("ttl", "600")], Some(json!({"name": "a", "n": 1})));
    call(
        "POST",
        &format!("{c}/items/batch"),
        &[("id-path", "id")],
        Some(json!([{"id": "x", "n": 2}, {"id": "y", "n": 3}])),
    );
    call("PUT", &format!("{c}/items/x/tags"), &[], Some(json!(["t"])));
    call("PATCH", &format!("{c}/items/x"), &[], Some(json!({"m": 1})));
    call("POST", &format!("{c}/items/x/tags/function"), &[], Some(json!({"operation": "$push", "value": "u"})));
    call("POST", &format!("{c}/items/x"), &[], Some(json!({})));
    call("GET", &format!("{c}/items/x"), &[], None);
    call("GET", &format!("{c}/items/x/tags"), &[("raw", "true")], None);
    call(
        "GET",
        &format!("{c}/items"),
        &[("where", r#"{"n":{"$gte":2}}"#), ("sort", r#"{"n":"desc"}"#), ("page-size", "1")],
        None,
    );
    call("GET", &format!("{c}/items"), &[("raw", "true")], None);
    call("GET", &format!("{c}/items"), &[("where", r#"{"n":{"$regex":2}}"#)], None);
    call("GET", &format!("{c}/items/nope"), &[], None);
    call("DELETE", &format!("{c}/items/x/m"), &[], None);
    call("DELETE", &format!("{c}/items/x"), &[], None);
    call("DELETE", &format!("{c}/items"), &[], None);
    call("DELETE", "/v2/schemas/namespaces/shop", &[], None);

    // GraphQL.
    call("POST", "/graphql-schema", &[], Some(json!({"query": "mutation { createKeyspace(name: \"g\") }"})));
    call("GET", "/graphql/g", &[("query", "{ _keyspace }")], None);
    call("POST", "/graphql/g", &[], Some(json!({"query": "{ nothing }"})));
    call("POST", "/graphql/missing", &[], Some(json!({"query": "{ _keyspace }"})));
    call("POST", "/graphql/g", &[], Some(json!({"variables": {}})));

    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let python =
        std::env::var("DATAGATE_PYTHON").unwrap_or_else(|_| repo.join(".venv/bin/python").display().to_string());
    let mut child = Command::new(python)
        .arg(repo.join("tests/e2e/openapi_check.py"))
        .arg(repo.join("ext-proc/src/api/openapi.json"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines: String = records.iter().map(|r| format!("{r}\n")).collect();
    child.stdin.take().unwrap().write_all(lines.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "responses that do not match the OpenAPI document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
