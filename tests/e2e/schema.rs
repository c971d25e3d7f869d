//! The schema API through Envoy: columns and indexes change in place, and no
//! tenant can alter another's tables.

use crate::harness::{assert_error, json_of, token, Gateway, Store};
use serde_json::json;

crate::on_both_stores!(columns_and_indexes);

fn columns_and_indexes(store: Store) {
    let gw = Gateway::start(store);
    let (t, other) = (token("acme"), token("globex"));
    gw.vehicle_table(&t, "blog");
    let base = "/v2/schemas/keyspaces/blog/tables/vehicle";
    let r = gw
        .post(&format!("{base}/columns"))
        .header("x-cassandra-token", &t)
        .json(&json!({"name": "color", "typeDefinition": "text"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = gw
        .post("/v2/keyspaces/blog/vehicle")
        .header("x-cassandra-token", &t)
        .json(&json!({"manufacturer": "Tesla", "model": "S", "color": "red"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "the new column is writable at once");
    let (s, body) = json_of(
        gw.put(&format!("{base}/columns/color"))
            .header("x-cassandra-token", &t)
            .json(&json!({"name": "colour"}))
            .send()
            .unwrap(),
    );
    assert_eq!((s, body), (200, json!({"data": {"name": "colour", "typeDefinition": "text", "static": false}})));
    let (_, body) = json_of(
        gw.get("/v2/keyspaces/blog/vehicle/Tesla/S?raw=true&fields=colour")
            .header("x-cassandra-token", &t)
            .send()
            .unwrap(),
    );
    assert_eq!(body, json!([{"colour": "red"}]));
    let r = gw
        .post(&format!("{base}/indexes"))
        .header("x-cassandra-token", &t)
        .json(&json!({"column": "colour", "name": "by_colour"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let (_, body) = json_of(gw.get(&format!("{base}/indexes")).header("x-cassandra-token", &t).send().unwrap());
    assert_eq!(body["data"][0]["name"], "by_colour");
    // Another tenant cannot see or touch any of it.
    assert_error(
        gw.get(&format!("{base}/columns")).header("x-cassandra-token", &other).send().unwrap(),
        404,
        "keyspace 'blog' not found",
    );
    assert_error(
        gw.delete(&format!("{base}/columns/colour")).header("x-cassandra-token", &other).send().unwrap(),
        404,
        "blog",
    );
    assert_error(
        gw.delete(&format!("{base}/columns/manufacturer")).header("x-cassandra-token", &t).send().unwrap(),
        400,
        "primary-key column",
    );
    assert_eq!(
        gw.delete(&format!("{base}/indexes/by_colour")).header("x-cassandra-token", &t).send().unwrap().status(),
        204
    );
    assert_eq!(
        gw.delete(&format!("{base}/columns/colour")).header("x-cassandra-token", &t).send().unwrap().status(),
        204
    );
    let (_, body) =
        json_of(gw.get(&format!("{base}/columns?raw=true")).header("x-cassandra-token", &t).send().unwrap());
    assert_eq!(body.as_array().unwrap().len(), 3);
}
