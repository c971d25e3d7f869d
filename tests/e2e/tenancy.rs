//! Two tenants with the same keyspace name see only their own data.

use crate::harness::{assert_error, json_of, token, Filter, Gateway, Store};
use serde_json::json;

crate::on_both_stores!(tenants_are_isolated, internal_services_are_not_routed);

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

/// A client that reached the sidecar's ext_proc service through the public
/// listener could put any tenant in the headers inside its message (the probe
/// of 2026-12-01 read and dropped another tenant's data that way). Every
/// internal service path is refused, on both data paths, with a valid token.
pub(crate) fn internal_services_are_not_routed(store: Store) {
    let check = || {
        let gw = Gateway::start(store);
        let (acme, globex) = (token("acme"), token("globex"));
        gw.vehicle_table(&acme, "secret");
        let grpc = process_request("/v2/keyspaces/secret/vehicle/rows", "acme");
        let h2 = reqwest::blocking::Client::builder().http2_prior_knowledge().build().unwrap();
        for path in [
            "/envoy.service.ext_proc.v3.ExternalProcessor/Process",
            "/grpc.health.v1.Health/Check",
            "/datagate.lease.v1.Lease/Acquire",
        ] {
            let r = h2
                .post(format!("{}{path}", gw.base))
                .header("authorization", format!("Bearer {globex}"))
                .header("content-type", "application/grpc")
                .header("te", "trailers")
                .body(grpc.clone())
                .send()
                .unwrap();
            let (status, grpc_status) = (r.status(), r.headers().get("grpc-status").cloned());
            let message = r.headers().get("grpc-message").map(|v| v.to_str().unwrap_or("").to_owned());
            let body = r.bytes().unwrap();
            // Envoy's 404 to a gRPC client is a gRPC answer: HTTP 200, grpc-status 12
            // (UNIMPLEMENTED), the JSON in grpc-message; to anyone else, the JSON 404.
            let refused = status == 404
                || (status == 200
                    && grpc_status.as_ref().is_some_and(|s| s == "12")
                    && message.as_deref().is_some_and(|m| m.contains("no API at")));
            assert!(refused, "{path}: {status} {grpc_status:?} {message:?} {body:?}");
            assert!(!String::from_utf8_lossy(&body).contains("manufacturer"), "{path}: {body:?}");
        }
        // acme's keyspace is still there, and globex never saw it.
        let r = gw.get("/v2/keyspaces/secret/vehicle/rows").header("x-cassandra-token", &acme).send().unwrap();
        assert_eq!(r.status(), 200);
    };
    check();
    crate::harness::on_ext_proc_path(check);
}

/// A gRPC frame of an ext_proc `ProcessingRequest` whose request headers name
/// `tenant` (protobuf written by hand: field 2 `request_headers`, its field 1
/// `headers`, each `HeaderValue` with `key` 1 and `raw_value` 3; `end_of_stream` 3).
fn process_request(path: &str, tenant: &str) -> Vec<u8> {
    fn field(n: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![n << 3 | 2];
        let mut len = payload.len();
        while len >= 0x80 {
            out.push((len as u8 & 0x7f) | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(payload);
        out
    }
    let pairs = [(":method", "GET"), (":path", path), (":authority", "x"), ("x-tenant-id", tenant)];
    let map: Vec<u8> =
        pairs.iter().flat_map(|(k, v)| field(1, &[field(1, k.as_bytes()), field(3, v.as_bytes())].concat())).collect();
    let message = field(2, &[field(1, &map), vec![3 << 3, 1]].concat());
    let mut frame = vec![0];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(&message);
    frame
}
