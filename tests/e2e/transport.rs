//! Transports: Envoy reaches the sidecar over a Unix socket by default (every
//! other test runs that way) or over TCP (a sidecar on another host); the
//! sidecar reaches PostgreSQL over TCP or its Unix socket, as the store URL says.

use crate::harness::{json_of, pg_admin, token, Gateway, Sidecar, Store};
use serde_json::json;
use std::time::{Duration, Instant};

crate::on_both_stores!(a_sidecar_over_tcp_serves_the_api);

/// The same curl session as over the socket: write, read back, query.
fn write_and_read(gw: &Gateway) {
    let t = token("acme");
    gw.vehicle_table(&t, "blog");
    let r = gw
        .post("/v2/keyspaces/blog/vehicle")
        .header("x-cassandra-token", &t)
        .json(&json!({"manufacturer": "Tesla", "model": "S", "year": 2012}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let (s, body) = json_of(gw.get("/v2/keyspaces/blog/vehicle/Tesla").header("x-cassandra-token", &t).send().unwrap());
    assert_eq!((s, body["data"].clone()), (200, json!([{"manufacturer": "Tesla", "model": "S", "year": 2012}])));
}

fn a_sidecar_over_tcp_serves_the_api(store: Store) {
    let gw = Gateway::start_tcp(store);
    assert!(matches!(gw.sidecar_at, Sidecar::Tcp(_)));
    write_and_read(&gw);
}

/// Envoy's health flags for the one sidecar endpoint (`/clusters`).
fn health_flags(gw: &Gateway, endpoint: &str) -> String {
    let clusters = reqwest::blocking::get(format!("{}/clusters", gw.admin)).unwrap().text().unwrap();
    let key = format!("datagate_ext_proc::{endpoint}::health_flags::");
    clusters.lines().find_map(|l| l.strip_prefix(&key)).unwrap_or("<absent>").to_owned()
}

fn wait_for_flags(gw: &Gateway, endpoint: &str, want: impl Fn(&str) -> bool) {
    let start = Instant::now();
    loop {
        let flags = health_flags(gw, endpoint);
        if want(&flags) {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "health flags of {endpoint} stayed '{flags}'");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_unix_socket_is_health_checked_and_survives_a_crash() {
    let mut gw = Gateway::start(Store::Sqlite);
    let Sidecar::Unix(path) = gw.sidecar_at.clone() else { panic!("the default transport is a Unix socket") };
    let endpoint = path.display().to_string();
    // grpc.health.v1 over the socket: the endpoint is in rotation.
    wait_for_flags(&gw, &endpoint, |f| f == "healthy");
    write_and_read(&gw);
    // SIGKILL: the socket file stays behind, nobody accepts on it.
    gw.stop_sidecar();
    assert!(path.exists(), "a killed sidecar leaves its socket file");
    wait_for_flags(&gw, &endpoint, |f| f.contains("failed_active_hc"));
    let r = gw.get("/v2/keyspaces/blog/vehicle/Tesla").header("x-cassandra-token", token("acme")).send().unwrap();
    assert_eq!(r.status(), 503);
    // The restarted sidecar replaces the stale file and is back in rotation.
    gw.start_sidecar();
    wait_for_flags(&gw, &endpoint, |f| f == "healthy");
    let (s, body) =
        json_of(gw.get("/v2/keyspaces/blog/vehicle/Tesla").header("x-cassandra-token", token("acme")).send().unwrap());
    assert_eq!((s, body["data"][0]["year"].clone()), (200, json!(2012)));
}

#[test]
fn a_second_sidecar_does_not_steal_a_live_socket() {
    let gw = Gateway::start(Store::Sqlite);
    let Sidecar::Unix(path) = gw.sidecar_at.clone() else { panic!("the default transport is a Unix socket") };
    let db = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(crate::harness::datagate_bin())
        .args(["serve", "--listen", &format!("unix:{}", path.display())])
        .arg("--store")
        .arg(format!("sqlite://{}", db.path().join("x.db").display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another process"), "{err}");
    write_and_read(&gw);
}

/// The PostgreSQL server's socket directory (`DATAGATE_TEST_PG_SOCKET`, default Debian's).
fn pg_socket_dir() -> String {
    std::env::var("DATAGATE_TEST_PG_SOCKET").unwrap_or_else(|_| "/var/run/postgresql".to_owned())
}

#[test]
fn postgres_over_its_unix_socket() {
    let db = format!("dg_e2e_sock_{}", uuid::Uuid::new_v4().simple());
    pg_admin(format!("CREATE DATABASE {db}"));
    let url = format!("postgres:///{db}?host={}&user=postgres", pg_socket_dir());
    let gw = Gateway::start_with_store_url(Store::Postgres, &url);
    write_and_read(&gw);
    drop(gw);
    pg_admin(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
}
