//! A fleet: two sidecar replicas behind one Envoy, under steady load from a
//! few clients. Killing one costs at most 0.1 % of requests (each a 503 JSON)
//! and a rolling SIGTERM restart of both costs none. Times are printed, not
//! asserted: waits are bounded generously so a busy machine does not flake.

use crate::harness::{token, Fleet, Store};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const CLIENTS: usize = 4;

/// A failed request: status (0 for a transport error), content type, body.
type Failure = (u16, String, String);

/// Steady load: each client reads one row in a loop until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failures: Arc<Mutex<Vec<Failure>>>,
    clients: Vec<JoinHandle<()>>,
}

impl Load {
    fn start(base: &str, token: &str) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let clients = (0..CLIENTS)
            .map(|_| {
                let (stop, ok, failures) = (stop.clone(), ok.clone(), failures.clone());
                let url = format!("{base}/v2/keyspaces/fleet/vehicle/Tesla/S");
                let token = token.to_owned();
                std::thread::spawn(move || {
                    let http = Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
                    while !stop.load(Ordering::Relaxed) {
                        match http.get(&url).header("x-cassandra-token", &token).send() {
                            Ok(r) if r.status() == 200 => {
                                let _ = r.bytes();
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(r) => {
                                let status = r.status().as_u16();
                                let ct = r
                                    .headers()
                                    .get("content-type")
                                    .map(|v| v.to_str().unwrap_or("").to_owned())
                                    .unwrap_or_default();
                                failures.lock().unwrap().push((status, ct, r.text().unwrap_or_default()));
                            }
                            Err(e) => failures.lock().unwrap().push((0, String::new(), e.to_string())),
                        }
                    }
                })
            })
            .collect();
        Load { stop, ok, failures, clients }
    }

    fn total(&self) -> u64 {
        self.ok.load(Ordering::Relaxed) + self.failures.lock().unwrap().len() as u64
    }

    /// Keeps the load on until at least `total` requests were made (bounded).
    fn run_until(&self, total: u64, timeout: Duration) {
        let start = Instant::now();
        while self.total() < total && start.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the clients; returns (requests, failures).
    fn stop(self) -> (u64, Vec<Failure>) {
        self.stop.store(true, Ordering::Relaxed);
        for c in self.clients {
            c.join().unwrap();
        }
        let failures = self.failures.lock().unwrap().clone();
        (self.ok.load(Ordering::Relaxed) + failures.len() as u64, failures)
    }
}

fn fleet_with_a_row() -> (Fleet, String) {
    let fleet = Fleet::start(Store::Postgres, 2);
    let t = token("acme");
    fleet.gw.vehicle_table(&t, "fleet");
    let r = fleet
        .gw
        .post("/v2/keyspaces/fleet/vehicle")
        .header("x-cassandra-token", &t)
        .json(&json!({"manufacturer": "Tesla", "model": "S", "year": 2012}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    for i in 0..2 {
        fleet.wait_for_flags(i, Duration::from_secs(10), |f| f == "healthy");
    }
    (fleet, t)
}

fn in_rotation(flags: &str) -> bool {
    flags == "healthy"
}

#[test]
pub(crate) fn killing_one_of_two_sidecars_fails_at_most_a_thousandth() {
    let (mut fleet, t) = fleet_with_a_row();
    let load = Load::start(&fleet.gw.base, &t);
    load.run_until(1_000, Duration::from_secs(60));

    fleet.kill_replica(1);
    let out = fleet.wait_for_flags(1, Duration::from_secs(10), |f| !in_rotation(f));
    let flags = fleet.health_flags(1);
    load.run_until(load.total() + 1_000, Duration::from_secs(60));

    fleet.start_replica(1);
    let back = fleet.wait_for_flags(1, Duration::from_secs(10), in_rotation);
    // Enough requests that a thousandth is a fair bound (the failures are the few in flight at the kill).
    load.run_until(10_000, Duration::from_secs(120));
    let (total, failures) = load.stop();

    eprintln!(
        "fleet kill: {total} requests, {} failed; replica out of rotation after {out:?} ({flags}), \
         back {back:?} after its restart",
        failures.len()
    );
    assert!(total >= 10_000, "too little load to judge: {total} requests");
    assert!(failures.len() as u64 * 1000 <= total, "{} of {total} requests failed: {failures:?}", failures.len());
    for (status, ct, body) in &failures {
        assert_eq!((*status, ct.as_str()), (503, "application/json"), "failure: {body}");
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["code"], 503, "{body}");
    }
}

#[test]
fn a_rolling_sigterm_restart_fails_no_request() {
    let (mut fleet, t) = fleet_with_a_row();
    let load = Load::start(&fleet.gw.base, &t);
    load.run_until(1_000, Duration::from_secs(60));
    let mut report = Vec::new();
    for i in 0..2 {
        let before = load.total();
        let status = fleet.terminate_replica(i, Duration::from_secs(30));
        assert!(status.success(), "replica {i} exited with {status} after SIGTERM");
        fleet.start_replica(i);
        let back = fleet.wait_for_flags(i, Duration::from_secs(10), in_rotation);
        report.push(format!(
            "replica {i}: {} requests while it drained and restarted, back {back:?}",
            load.total() - before
        ));
        // The other replica must not be drained before this one takes traffic again.
        load.run_until(load.total() + 500, Duration::from_secs(60));
    }
    let (total, failures) = load.stop();
    eprintln!("fleet rolling restart: {total} requests, {} failed; {}", failures.len(), report.join("; "));
    assert!(failures.is_empty(), "{} of {total} requests failed: {failures:?}", failures.len());
}

#[test]
pub(crate) fn a_sidecar_whose_store_is_gone_leaves_the_rotation() {
    let mut fleet = Fleet::start(Store::Postgres, 1);
    fleet.wait_for_flags(0, Duration::from_secs(10), in_rotation);
    fleet.drop_database();
    // The sidecar's store probe fails and its health check turns NOT_SERVING.
    let out = fleet.wait_for_flags(0, Duration::from_secs(10), |f| f.contains("failed_active_hc"));
    eprintln!("fleet store gone: replica out of rotation after {out:?}");
}
