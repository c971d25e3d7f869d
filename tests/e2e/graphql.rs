//! GraphQL through Envoy: a third-party client (Python `gql`) drives DDL,
//! introspection, every filter operator, paging and mutations; transport
//! errors are JSON; the GraphiQL playground works in a real headless Chromium.

use crate::harness::{assert_error, json_of, token, Gateway, Store};
use serde_json::json;
use std::path::Path;
use std::process::Command;

crate::on_both_stores!(gql_client_session);

fn python() -> String {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::env::var("DATAGATE_PYTHON").unwrap_or_else(|_| repo.join(".venv/bin/python").display().to_string())
}

pub(crate) fn gql_client_session(store: Store) {
    let gw = Gateway::start(store);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/graphql_client.py");
    let out = Command::new(python()).arg(script).arg(&gw.base).arg(token("acme")).output().unwrap();
    assert!(
        out.status.success(),
        "gql session failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn transport_errors_limits_and_isolation() {
    let gw = Gateway::start(Store::Sqlite);
    let t = token("acme");
    let post = |path: &str, body: &str| {
        gw.post(path)
            .header("x-cassandra-token", &t)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .unwrap()
    };
    assert_error(post("/graphql/nope", "{\"variables\": {}}"), 400, "no GraphQL query");
    assert_error(post("/graphql/nope", "{\"query\": "), 400, "GraphQL request body");
    assert_error(post("/graphql/nope", r#"{"query": "{ _keyspace }", "variables": [1]}"#), 400, "variables");
    assert_error(post("/graphql/nope", r#"{"query": "{ _keyspace }"}"#), 404, "keyspace 'nope' not found");
    assert_error(gw.delete("/graphql/x").header("x-cassandra-token", &t).send().unwrap(), 405, "GET, POST");
    let (s, b) = json_of(post("/graphql-schema", r#"{"query": "mutation { createKeyspace(name: \"ks\") }"}"#));
    assert_eq!((s, b), (200, json!({"data": {"createKeyspace": true}})));
    // GET form, and a bare GraphQL document as the body.
    let r = gw.get("/graphql/ks").query(&[("query", "{ _keyspace }")]).header("x-cassandra-token", &t).send().unwrap();
    assert_eq!(json_of(r), (200, json!({"data": {"_keyspace": "ks"}})));
    let r = gw
        .post("/graphql/ks")
        .header("x-cassandra-token", &t)
        .header("content-type", "application/graphql")
        .body("{ _keyspace }")
        .send()
        .unwrap();
    assert_eq!(json_of(r), (200, json!({"data": {"_keyspace": "ks"}})));
    // Declared JSON must be JSON: a transport error, not a GraphQL one.
    assert_error(post("/graphql/ks", "{ _keyspace }"), 400, "not valid JSON");
    // GraphQL-level errors: 200 with the errors array; a hostile nesting hits the depth limit.
    let (s, b) = json_of(post("/graphql/ks", r#"{"query": "{ nothing }"}"#));
    assert_eq!(s, 200);
    assert!(b["errors"][0]["message"].as_str().unwrap().contains("nothing"), "{b}");
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {}name{} }} }} }} }} }}",
        "ofType { ".repeat(20),
        " }".repeat(20)
    );
    let (s, b) = json_of(post("/graphql-schema", &json!({ "query": deep }).to_string()));
    assert_eq!(s, 200);
    assert!(b["errors"][0]["message"].as_str().unwrap().contains("nested too deep"), "{b}");
    // Another tenant cannot see or change acme's keyspace.
    let other = token("globex");
    let r = gw.post("/graphql/ks").header("x-cassandra-token", &other).body("{ _keyspace }").send().unwrap();
    assert_error(r, 404, "keyspace 'ks' not found");
    let r = gw
        .post("/graphql-schema")
        .header("x-cassandra-token", &other)
        .body(r#"{"query": "{ keyspaces { name } }"}"#)
        .send()
        .unwrap();
    assert_eq!(json_of(r).1, json!({"data": {"keyspaces": []}}));
    // No token: the edge refuses before the sidecar sees it.
    assert_eq!(gw.post("/graphql/ks").body("{ _keyspace }").send().unwrap().status(), 401);
}

#[test]
fn playground_runs_a_query_in_headless_chromium() {
    let gw = Gateway::start(Store::Sqlite);
    let t = token("acme");
    let r = gw.get("/playground").send().unwrap();
    assert_eq!(r.status(), 200, "served without credentials");
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let gql = |path: &str, q: &str| {
        let r = gw.post(path).header("x-cassandra-token", &t).json(&json!({"query": q})).send().unwrap();
        assert_eq!(json_of(r).0, 200);
    };
    gql("/graphql-schema", r#"mutation { createKeyspace(name: "garage") }"#);
    gql(
        "/graphql-schema",
        r#"mutation { createTable(keyspaceName: "garage", tableName: "vehicle", partitionKeys: [{name: "manufacturer", type: "text"}], clusteringKeys: [{name: "model", type: "text"}], values: [{name: "year", type: "int"}]) }"#,
    );
    gql(
        "/graphql/garage",
        r#"mutation { insertvehicle(value: {manufacturer: "Tesla", model: "Model S", year: 2012}) { applied } }"#,
    );
    // Real GraphiQL (served by the gateway, no CDN) in a real browser: the query is typed
    // into the editor as key input and run with the execute button.
    let r = gw.get("/playground/graphiql.min.js").send().unwrap();
    assert_eq!(r.status(), 200, "assets are public too");
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert!(r.bytes().unwrap().len() > 500_000, "GraphiQL's bundle");
    // The token in the fragment, which the browser never sends (so never logged).
    let mut page =
        reqwest::Url::parse_with_params(&format!("{}/playground", gw.base), &[("keyspace", "garage")]).unwrap();
    page.set_fragment(Some(&format!("token={t}")));
    let query = "query vehicles { vehicle(value: { manufacturer: \"Tesla\" }) { values { manufacturer model year } } }";
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/playground_cdp.py");
    let out = Command::new(python()).arg(script).arg(page.as_str()).arg(query).arg("Model S").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the playground did not return data:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        shown["data"]["vehicle"]["values"],
        json!([{"manufacturer": "Tesla", "model": "Model S", "year": 2012}])
    );
}
