//! Process lifecycle: acknowledged data survives a sidecar restart, and a
//! missing sidecar is a clean 503, not a hang or a 500.

use crate::harness::{assert_error, json_of, token, Gateway, Store};
use serde_json::json;

crate::on_both_stores!(acknowledged_writes_survive_restart);

pub(crate) fn acknowledged_writes_survive_restart(store: Store) {
    let mut gw = Gateway::start(store);
    let t = token("acme");
    gw.vehicle_table(&t, "blog");
    let r = gw
        .post("/v2/keyspaces/blog/vehicle")
        .header("x-cassandra-token", &t)
        .json(&json!({"manufacturer": "Tesla", "model": "S", "year": 2012}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    gw.stop_sidecar();
    let r = gw.get("/v2/keyspaces/blog/vehicle/rows").header("x-cassandra-token", &t).send().unwrap();
    assert_eq!(r.headers().get("retry-after").map(|v| v.to_str().unwrap()), Some("1"));
    assert_error(r, 503, "unavailable");
    gw.start_sidecar();
    let (s, body) = json_of(gw.get("/v2/keyspaces/blog/vehicle/Tesla").header("x-cassandra-token", &t).send().unwrap());
    assert_eq!((s, body["data"].clone()), (200, json!([{"manufacturer": "Tesla", "model": "S", "year": 2012}])));
}
