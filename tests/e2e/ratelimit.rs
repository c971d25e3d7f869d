//! Per-tenant rate limiting in the real chain: one budget per Envoy process
//! shared by both workers, exact under parallel load, JSON 429s with
//! `Retry-After` and the IETF rate-limit headers, other tenants unaffected.

use crate::harness::{json_of, token, Filter, Gateway, Store};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

// Refill is negligible over a test's lifetime, so the budget is the burst.
const LIMITS: &str = r#""rateLimit": {
    "plans": {"tiny": {"requestsPerSecond": 0.001, "burst": 60}, "big": {"requestsPerSecond": 1000, "burst": 1000},
              "bulk": {"requestsPerSecond": 0.001, "burst": 3000}},
    "defaultPlan": "tiny",
    "tenants": {"vip": {"plan": "big"}, "bulk": {"plan": "bulk"}},
    "costs": [{"methods": ["POST"], "cost": 5}]
}"#;

fn hammer(
    gw: &Arc<Gateway>,
    tok: &str,
    total: usize,
    threads: usize,
) -> (usize, usize, Vec<reqwest::blocking::Response>) {
    let ok = Arc::new(AtomicUsize::new(0));
    let limited = Arc::new(AtomicUsize::new(0));
    let sample = Arc::new(std::sync::Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (gw, tok, ok, limited, sample) =
                (gw.clone(), tok.to_owned(), ok.clone(), limited.clone(), sample.clone());
            std::thread::spawn(move || {
                for _ in 0..total / threads {
                    let r = gw.get("/v2/schemas/keyspaces").header("x-cassandra-token", &tok).send().unwrap();
                    match r.status().as_u16() {
                        200 => ok.fetch_add(1, Ordering::SeqCst),
                        429 => {
                            let n = limited.fetch_add(1, Ordering::SeqCst);
                            if n == 0 {
                                sample.lock().unwrap().push(r);
                            }
                            n
                        }
                        other => panic!("unexpected status {other}"),
                    };
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let sample = std::mem::take(&mut *sample.lock().unwrap());
    (ok.load(Ordering::SeqCst), limited.load(Ordering::SeqCst), sample)
}

crate::on_both_filters!(
    budget_is_exact_across_workers_and_per_tenant,
    leased_budgets_stay_exact,
    shadow_mode_counts_but_never_rejects
);

fn budget_is_exact_across_workers_and_per_tenant(filter: Filter) {
    let gw = Arc::new(Gateway::start_with_filter_on(Store::Sqlite, filter, LIMITS));
    let acme = token("acme");
    let (ok, limited, mut sample) = hammer(&gw, &acme, 240, 16);
    assert_eq!((ok, limited), (60, 180), "a budget of 60 allows exactly 60 under parallel load on 2 workers");
    let r = sample.pop().unwrap();
    let h = r.headers().clone();
    assert_eq!(h["retry-after"], "1000", "one token at 0.001/s");
    assert_eq!(h["ratelimit-policy"], r#""tiny";q=60;w=60000"#);
    assert!(h["ratelimit"].to_str().unwrap().starts_with(r#""tiny";r=0;t="#));
    let (status, body) = json_of(r);
    assert_eq!(status, 429);
    assert_eq!(body["code"], 429);
    assert!(body["description"].as_str().unwrap().contains("rate limit exceeded"), "{body}");
    // Another tenant has its own bucket; successes carry the remaining budget.
    let r = gw.get("/v2/schemas/keyspaces").header("x-cassandra-token", token("globex")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["ratelimit"], r#""tiny";r=59;t=1000"#);
    // A configured override: vip's plan is "big".
    let r = gw.get("/v2/schemas/keyspaces").header("x-cassandra-token", token("vip")).send().unwrap();
    assert_eq!(r.headers()["ratelimit"], r#""big";r=999;t=1"#);
    assert!(r.headers().get("ratelimit-policy").is_none(), "the policy rides on 429s only");
    // Writes cost 5: 59 left for globex -> 11 POSTs pass, the 12th is refused.
    let g = token("globex");
    let mut statuses = Vec::new();
    for i in 0..12 {
        let r = gw
            .post("/v2/schemas/keyspaces")
            .header("x-cassandra-token", &g)
            .json(&serde_json::json!({"name": format!("k{i}")}))
            .send()
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 11, "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429));
    assert_eq!(gw.counter("datagate.ratelimit.limited.other"), 181, "{}", gw.stats());
}

/// A large budget is spent mostly from per-worker leases (no shared-data call
/// per request); leasing stops as the budget runs low, so the count stays exact.
fn leased_budgets_stay_exact(filter: Filter) {
    let gw = Arc::new(Gateway::start_with_filter_on(Store::Sqlite, filter, LIMITS));
    let bulk = token("bulk");
    let (ok, limited, _) = hammer(&gw, &bulk, 3520, 16);
    assert_eq!((ok, limited), (3000, 520), "a budget of 3000 allows exactly 3000 with leases on 2 workers");
    assert_eq!(gw.counter("datagate.ratelimit.limited.bulk"), 520, "{}", gw.stats());
}

fn shadow_mode_counts_but_never_rejects(filter: Filter) {
    let shadow = LIMITS.replace(r#""defaultPlan": "tiny","#, r#""defaultPlan": "tiny", "shadow": true,"#);
    let gw = Arc::new(Gateway::start_with_filter_on(Store::Sqlite, filter, &shadow));
    let (ok, limited, _) = hammer(&gw, &token("acme"), 80, 8);
    assert_eq!((ok, limited), (80, 0));
    assert_eq!(gw.counter("datagate.ratelimit.shadow_limited"), 20, "{}", gw.stats());
}
