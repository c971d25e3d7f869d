//! Bad input through the whole chain: a clear JSON error with the right
//! status, never a 500 and never a hang.

use crate::harness::{assert_error, json_of, token, Gateway, Store};
use serde_json::json;

crate::on_both_stores!(bad_input_gets_clear_errors);

pub(crate) fn bad_input_gets_clear_errors(store: Store) {
    let gw = Gateway::start(store);
    let t = token("acme");
    gw.vehicle_table(&t, "blog");
    let base = "/v2/keyspaces/blog/vehicle";
    let get = |path: &str| gw.get(path).header("x-cassandra-token", &t).send().unwrap();
    let post = |path: &str, body: &str| {
        gw.post(path)
            .header("x-cassandra-token", &t)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .unwrap()
    };
    let q = |w: &str| gw.get(base).query(&[("where", w)]).header("x-cassandra-token", &t).send().unwrap();

    assert_error(post(base, "{\"manufacturer\": "), 400, "not valid JSON");
    assert_error(post(base, "[1,2]"), 400, "must be a JSON object");
    assert_error(post(base, r#"{"manufacturer":"A","model":"B","colour":"red"}"#), 400, "unknown column 'colour'");
    assert_error(post(base, r#"{"manufacturer":"A","model":"B","year":"soon"}"#), 400, "column year: expected a int");
    assert_error(post(base, r#"{"manufacturer":"A","model":"B","year":2147483648}"#), 400, "out of range");
    assert_error(post(base, r#"{"manufacturer":"A","year":1}"#), 400, "primary-key column model is missing");
    assert_error(post(base, r#"{"manufacturer":"A","model":"B","model":"C"}"#), 400, "duplicate key 'model'");
    assert_error(post(base, &("[".repeat(100) + &"]".repeat(100))), 400, "nested deeper");
    assert_error(q(r#"{"year":{"$like":1}}"#), 400, "unknown operator '$like'");
    assert_error(q(r#"{"colour":{"$eq":1}}"#), 400, "unknown column 'colour'");
    assert_error(q(r#"{"year":{"$eq":1},"year":{"$eq":2}}"#), 400, "duplicate key 'year'");
    assert_error(q(r#"{"year":{"$in":[]}}"#), 400, "non-empty array");
    assert_error(q(r#"{"year":{"$gt":"x"}}"#), 400, "expected a int");
    assert_error(q("{}"), 400, "at least one condition");
    assert_error(get(base), 400, "'where' is required");
    assert_error(get(&format!("{base}/Tesla/S/extra")), 400, "expects 1 to 2 in the order: manufacturer/model");
    assert_error(
        gw.put(&format!("{base}/Tesla")).header("x-cassandra-token", &t).json(&json!({"year": 1})).send().unwrap(),
        400,
        "expects 2",
    );
    assert_error(get(&format!("{base}/rows?fields=nope")), 400, "unknown column 'nope'");
    assert_error(get("/v2/keyspaces/nope/vehicle/rows"), 404, "keyspace 'nope' not found");
    assert_error(get("/v2/keyspaces/blog/nope/rows"), 404, "table 'nope' not found");
    assert_error(get("/v2/keyspaces/bad-name/vehicle/rows"), 400, "invalid keyspace name");
    assert_error(get("/v3/whatever"), 404, "no API");
    assert_error(post("/v2/schemas/keyspaces", r#"{"name":"blog"}"#), 409, "already exists");
    let table_t = r#"{"name":"t","columnDefinitions":[{"name":"a","typeDefinition":"text"}],"primaryKey":{"partitionKey":["a"]}}"#;
    assert_eq!(post("/v2/schemas/keyspaces/blog/tables", table_t).status(), 201);
    assert_error(post("/v2/schemas/keyspaces/blog/tables", table_t), 409, "already exists");
    assert_error(
        post(
            "/v2/schemas/keyspaces/blog/tables",
            r#"{"name":"u","columnDefinitions":[{"name":"a","typeDefinition":"nope"}],"primaryKey":{"partitionKey":["b"]}}"#,
        ),
        400,
        "unsupported typeDefinition 'nope'",
    );
    // Above the body limit (64 KiB in tests): 413 JSON from the sidecar, which
    // Envoy streams the body to; far above it too (no stall behind Envoy's buffer).
    for size in [70_000, 300_000, 3_000_000] {
        let big = format!(r#"{{"manufacturer":"{}"}}"#, "x".repeat(size));
        assert_error(post(base, &big), 413, "limit");
    }
    // The gateway still works after all that.
    let (s, _) = json_of(get(&format!("{base}/rows")));
    assert_eq!(s, 200);
}
