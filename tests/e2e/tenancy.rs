//! Two tenants with the same keyspace name see only their own data.

use crate::harness::{assert_error, json_of, token, Filter, Gateway, Store};
use serde_json::json;

crate::on_both_stores!(tenants_are_isolated);

pub(crate) fn tenants_are_isolated(store: Store) {
    for filter in Filter::BOTH {
        isolated_on(store, filter);
    }
}

fn isolated_on(store: Store, filter: Filter) {
    let gw = Gateway::start_on(store, filter);
    let (acme, globex) = (token("acme"), token("globex"));
    gw.vehicle_table(&acme, "blog");
    gw.vehicle_table(&globex, "blog");
    let insert = |t: &str, m: &str| {
        gw.post("/v2/keyspaces/blog/vehicle")
            .header("x-cassandra-token", t)
            .json(&json!({"manufacturer": m, "model": "m", "year": 2000}))
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(insert(&acme, "AcmeCar"), 201);
    assert_eq!(insert(&globex, "GlobexCar"), 201);
    let rows = |t: &str| {
        json_of(gw.get("/v2/keyspaces/blog/vehicle/rows").header("x-cassandra-token", t).send().unwrap()).1["data"]
            .clone()
    };
    assert_eq!(rows(&acme), json!([{"manufacturer": "AcmeCar", "model": "m", "year": 2000}]));
    assert_eq!(rows(&globex), json!([{"manufacturer": "GlobexCar", "model": "m", "year": 2000}]));
    // acme's private keyspace is invisible and untouchable for globex.
    let r = gw
        .post("/v2/schemas/keyspaces")
        .header("x-cassandra-token", &acme)
        .json(&json!({"name": "private"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let (_, list) = json_of(gw.get("/v2/schemas/keyspaces").header("x-cassandra-token", &globex).send().unwrap());
    assert_eq!(list, json!({"data": [{"name": "blog"}]}));
    assert_error(
        gw.delete("/v2/schemas/keyspaces/private").header("x-cassandra-token", &globex).send().unwrap(),
        404,
        "private",
    );
    assert_error(
        gw.get("/v2/schemas/keyspaces/private/tables").header("x-cassandra-token", &globex).send().unwrap(),
        404,
        "private",
    );
    // Dropping globex's blog leaves acme's intact.
    assert_eq!(
        gw.delete("/v2/schemas/keyspaces/blog").header("x-cassandra-token", &globex).send().unwrap().status(),
        204
    );
    assert_eq!(rows(&acme).as_array().unwrap().len(), 1);
    let (_, list) = json_of(gw.get("/v2/schemas/keyspaces").header("x-cassandra-token", &acme).send().unwrap());
    assert_eq!(list, json!({"data": [{"name": "blog"}, {"name": "private"}]}));
}
