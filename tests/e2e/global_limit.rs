//! Global per-tenant limits across a fleet: two Envoys (two workers each),
//! each with its own sidecar, one Redis. A tenant's budget of N holds for the
//! whole fleet: exactly N with leasing off, N minus at most the lease slack
//! with leasing on, never more. With Redis unreachable the configured failure
//! mode applies: open lets requests through (counted), closed answers 503 JSON.

use crate::harness::{json_of, token, Filter, Gateway, Store, REDIS_URL};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The budget: refill is negligible over a test, so it is the burst.
const BUDGET: usize = 100;
const CLIENTS_PER_ENVOY: usize = 4;
const REQUESTS_PER_CLIENT: usize = 60;

fn limits(lease_size: u32, failure_mode: &str) -> String {
    format!(
        r#""rateLimit": {{"plans": {{"fleet": {{"requestsPerSecond": 0.001, "burst": {BUDGET}}}}}, "defaultPlan": "fleet"}},
           "globalLimit": {{"cluster": "datagate_ext_proc", "leaseSize": {lease_size}, "timeoutMs": 2000,
                            "failureMode": "{failure_mode}"}}"#
    )
}

/// A tenant no earlier run has spent from (budgets live in Redis).
fn fresh_tenant() -> String {
    format!("fleet{}", uuid::Uuid::new_v4().simple())
}

/// Every client sends its requests; (allowed, limited). Any other answer fails the test.
fn spend_concurrently(envoys: &[Arc<Gateway>], tok: &str) -> (usize, usize) {
    let (ok, limited) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let clients: Vec<_> = envoys
        .iter()
        .flat_map(|gw| std::iter::repeat_n(gw.clone(), CLIENTS_PER_ENVOY))
        .map(|gw| {
            let (tok, ok, limited) = (tok.to_owned(), ok.clone(), limited.clone());
            std::thread::spawn(move || {
                for _ in 0..REQUESTS_PER_CLIENT {
                    let r = gw.get("/v2/schemas/keyspaces").header("x-cassandra-token", &tok).send().unwrap();
                    match r.status().as_u16() {
                        200 => ok.fetch_add(1, Ordering::SeqCst),
                        429 => limited.fetch_add(1, Ordering::SeqCst),
                        other => panic!("unexpected status {other}: {}", r.text().unwrap_or_default()),
                    };
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    (ok.load(Ordering::SeqCst), limited.load(Ordering::SeqCst))
}

fn fleet(filter: Filter, extra: &str) -> Vec<Arc<Gateway>> {
    (0..2).map(|_| Arc::new(Gateway::start_with_redis_on(Store::Sqlite, filter, extra, REDIS_URL))).collect()
}

crate::on_both_filters!(
    one_budget_for_the_fleet_without_leases,
    leased_budgets_never_exceed_the_fleet_budget,
    unreachable_redis_fails_open,
    unreachable_redis_fails_closed
);

fn one_budget_for_the_fleet_without_leases(filter: Filter) {
    // failureMode closed: a failed lease call would show as a 503 and fail the test.
    let envoys = fleet(filter, &limits(1, "closed"));
    let (ok, limited) = spend_concurrently(&envoys, &token(&fresh_tenant()));
    assert_eq!(ok, BUDGET, "exactly the budget across 2 Envoys x 2 workers");
    assert_eq!(limited, 2 * CLIENTS_PER_ENVOY * REQUESTS_PER_CLIENT - BUDGET);
    for gw in &envoys {
        assert_eq!(gw.counter("datagate.ratelimit.errors"), 0);
    }
}

fn leased_budgets_never_exceed_the_fleet_budget(filter: Filter) {
    const LEASE: usize = 5;
    let envoys = fleet(filter, &limits(LEASE as u32, "closed"));
    let (ok, _) = spend_concurrently(&envoys, &token(&fresh_tenant()));
    // The documented slack: what lease calls in flight at the end brought and
    // nobody spent, at most leaseSize - 1 per concurrent request.
    let slack = 2 * CLIENTS_PER_ENVOY * (LEASE - 1);
    eprintln!("{filter:?} filter: {ok} of a budget of {BUDGET} allowed with leaseSize {LEASE}");
    assert!(ok <= BUDGET, "{ok} allowed: more than the budget");
    assert!(ok >= BUDGET - slack, "{ok} allowed: more than the slack ({slack}) short of {BUDGET}");
}

fn unreachable_redis_fails_open(filter: Filter) {
    let gw = Gateway::start_with_redis_on(Store::Sqlite, filter, &limits(5, "open"), "redis://127.0.0.1:1");
    let tok = token(&fresh_tenant());
    for _ in 0..3 {
        let r = gw.get("/v2/schemas/keyspaces").header("x-cassandra-token", &tok).send().unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().unwrap());
    }
    assert!(gw.counter("datagate.ratelimit.errors") >= 3);
}

fn unreachable_redis_fails_closed(filter: Filter) {
    let gw = Gateway::start_with_redis_on(Store::Sqlite, filter, &limits(5, "closed"), "redis://127.0.0.1:1");
    let r = gw.get("/v2/schemas/keyspaces").header("x-cassandra-token", token(&fresh_tenant())).send().unwrap();
    assert_eq!(r.headers()["retry-after"], "1");
    let (status, body) = json_of(r);
    assert_eq!(status, 503);
    assert_eq!(body["code"], 503);
    assert!(body["description"].as_str().unwrap().contains("rate limiter is unavailable"), "{body}");
    assert_eq!(gw.counter("datagate.rejected.ratelimit_unavailable"), 1);
}
