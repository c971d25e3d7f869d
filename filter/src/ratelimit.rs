//! Per-tenant rate limiting: plans, per-operation cost and token-bucket math.
//!
//! Pure logic: the host adapter keeps one bucket per tenant in proxy-wasm
//! shared data and applies [`take`] under compare-and-swap, which makes one
//! budget per Envoy process exact across all worker threads.

use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// A plan's sustained rate and burst.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limit {
    /// Tokens added per second.
    pub requests_per_second: f64,
    /// Bucket capacity: the most a tenant can spend at once.
    pub burst: f64,
}

/// A per-tenant override: another plan, or explicit limits.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantOverride {
    /// Plan to use for this tenant.
    #[serde(default)]
    pub plan: Option<String>,
    /// Limits for this tenant alone (wins over any plan).
    #[serde(default)]
    pub limit: Option<Limit>,
}

/// The cost of a class of operations: first matching rule wins, default 1.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CostRule {
    /// Methods this rule applies to (empty: all).
    #[serde(default)]
    pub methods: Vec<String>,
    /// Path prefix this rule applies to.
    #[serde(default = "root")]
    pub path_prefix: String,
    /// Tokens a matching request spends.
    pub cost: f64,
}

fn root() -> String {
    "/".to_owned()
}

/// `rateLimit` in the plugin configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Named plans.
    pub plans: BTreeMap<String, Limit>,
    /// Plan for tenants whose token names none (and who have no override).
    pub default_plan: String,
    /// Per-tenant overrides.
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantOverride>,
    /// Operation costs.
    #[serde(default)]
    pub costs: Vec<CostRule>,
    /// Count and tag, but never reject (for rollout).
    #[serde(default)]
    pub shadow: bool,
}

impl RateLimitConfig {
    /// Every problem, each naming its field.
    pub fn check(&self, errors: &mut Vec<String>) {
        if !self.plans.contains_key(&self.default_plan) {
            errors.push(format!("rateLimit.defaultPlan: plan {:?} is not in rateLimit.plans", self.default_plan));
        }
        for (name, l) in &self.plans {
            check_limit(&format!("rateLimit.plans.{name}"), l, errors);
        }
        for (tenant, o) in &self.tenants {
            if let Some(plan) = &o.plan {
                if !self.plans.contains_key(plan) {
                    errors.push(format!("rateLimit.tenants.{tenant}.plan: plan {plan:?} is not in rateLimit.plans"));
                }
            }
            if let Some(l) = &o.limit {
                check_limit(&format!("rateLimit.tenants.{tenant}.limit"), l, errors);
            }
        }
        let smallest = self.plans.values().map(|l| l.burst).fold(f64::INFINITY, f64::min);
        for (i, c) in self.costs.iter().enumerate() {
            if !(c.cost.is_finite() && c.cost > 0.0) {
                errors.push(format!("rateLimit.costs[{i}].cost: must be a positive number"));
            } else if c.cost > smallest {
                errors.push(format!(
                    "rateLimit.costs[{i}].cost: {} is above the smallest plan burst ({smallest}); such requests could never pass",
                    c.cost
                ));
            }
            if !c.path_prefix.starts_with('/') {
                errors.push(format!("rateLimit.costs[{i}].pathPrefix: must start with '/'"));
            }
        }
    }

    /// The plan name and limit that apply to a tenant whose token names
    /// `claimed_plan` (borrowed where it can be: this runs on every request).
    pub fn limit_for<'a>(&'a self, tenant: &str, claimed_plan: Option<&'a str>) -> Option<(Cow<'a, str>, Limit)> {
        let o = self.tenants.get(tenant);
        if let Some(limit) = o.and_then(|o| o.limit.clone()) {
            return Some((Cow::Owned(format!("tenant-{tenant}")), limit));
        }
        let name = o
            .and_then(|o| o.plan.as_deref())
            .or_else(|| claimed_plan.filter(|p| self.plans.contains_key(*p)))
            .unwrap_or(&self.default_plan);
        self.plans.get(name).map(|l| (Cow::Borrowed(name), l.clone()))
    }

    /// What a request costs.
    pub fn cost(&self, method: &str, path: &str) -> f64 {
        self.costs
            .iter()
            .find(|c| {
                (c.methods.is_empty() || c.methods.iter().any(|m| m.eq_ignore_ascii_case(method)))
                    && path.starts_with(&c.path_prefix)
            })
            .map_or(1.0, |c| c.cost)
    }
}

fn check_limit(field: &str, l: &Limit, errors: &mut Vec<String>) {
    if !(l.requests_per_second.is_finite() && l.requests_per_second > 0.0) {
        errors.push(format!("{field}.requestsPerSecond: must be a positive number"));
    }
    if !(l.burst.is_finite() && l.burst >= 1.0) {
        errors.push(format!("{field}.burst: must be at least 1"));
    }
}

/// A tenant's bucket as kept in shared data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Tokens available at `updated_ms`.
    pub tokens: f64,
    /// When `tokens` was computed, Unix milliseconds.
    pub updated_ms: u64,
}

impl Bucket {
    /// 16 bytes: tokens (f64) then time (u64), little-endian.
    pub fn encode(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.tokens.to_le_bytes());
        out[8..].copy_from_slice(&self.updated_ms.to_le_bytes());
        out
    }

    /// The inverse of [`Bucket::encode`]; anything else reads as no bucket.
    pub fn decode(bytes: &[u8]) -> Option<Bucket> {
        let tokens = f64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
        let updated_ms = u64::from_le_bytes(bytes.get(8..16)?.try_into().ok()?);
        tokens.is_finite().then_some(Bucket { tokens, updated_ms })
    }
}

/// The outcome of spending from a bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// Whether the request may pass.
    pub allowed: bool,
    /// The bucket to store (unchanged when denied).
    pub bucket: Bucket,
    /// Whole tokens left after this request.
    pub remaining: u64,
    /// Seconds until the request's cost is available (0 when allowed).
    pub retry_after_s: u64,
    /// Seconds until the bucket is full again.
    pub reset_s: u64,
}

/// Refills `prev` up to now and tries to spend `cost` tokens.
pub fn take(prev: Option<Bucket>, limit: &Limit, cost: f64, now_ms: u64) -> Decision {
    let tokens = match prev {
        None => limit.burst,
        Some(b) => {
            // A clock step backwards must not mint tokens.
            let elapsed_s = now_ms.saturating_sub(b.updated_ms) as f64 / 1000.0;
            (b.tokens + elapsed_s * limit.requests_per_second).min(limit.burst)
        }
    };
    let refilled = Bucket { tokens, updated_ms: now_ms.max(prev.map_or(0, |b| b.updated_ms)) };
    let reset = |t: f64| ((limit.burst - t) / limit.requests_per_second).ceil().max(0.0) as u64;
    if tokens >= cost {
        let left = tokens - cost;
        Decision {
            allowed: true,
            bucket: Bucket { tokens: left, ..refilled },
            remaining: left.floor() as u64,
            retry_after_s: 0,
            reset_s: reset(left),
        }
    } else {
        Decision {
            allowed: false,
            bucket: refilled,
            remaining: tokens.floor() as u64,
            retry_after_s: (((cost - tokens) / limit.requests_per_second).ceil() as u64).max(1),
            reset_s: reset(tokens),
        }
    }
}

/// Tokens one worker took from the shared bucket ahead of its requests, so most
/// requests on a busy tenant skip the two shared-data host calls (each a VM
/// crossing, the largest cost left on the request path).
///
/// Leased tokens are debited from the shared bucket when taken, so the budget
/// can never be exceeded. A lease is only taken while the bucket holds far
/// more than it ([`lease_size`]): near the end of a budget every request goes
/// to the shared bucket one by one, as before, so "N allowed" stays exact. An
/// unused lease lapses after [`LEASE_TTL_MS`]; what it held back is bounded by
/// its size, a 64th of what was left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lease {
    tokens: f64,
    expires_ms: u64,
    /// Tokens left for the tenant as last seen (shared bucket plus this lease).
    visible: f64,
}

/// The most tokens one lease holds.
pub const MAX_LEASE: f64 = 64.0;
/// A lease takes at most this fraction (1/n) of what the bucket has left.
pub const LEASE_SHARE: f64 = 64.0;
/// How long a lease may be spent from.
pub const LEASE_TTL_MS: u64 = 1000;

/// Extra tokens to lease from a bucket left with `left` tokens: none when
/// that would be less than one (small or nearly spent budgets stay exact).
pub fn lease_size(left: f64) -> f64 {
    let n = (left / LEASE_SHARE).floor().min(MAX_LEASE);
    if n >= 1.0 {
        n
    } else {
        0.0
    }
}

/// [`take`], also leasing tokens for this worker when the bucket has plenty;
/// the decision reports what the client may still spend (lease included).
pub fn take_with_lease(prev: Option<Bucket>, limit: &Limit, cost: f64, now_ms: u64) -> (Decision, Option<Lease>) {
    let d = take(prev, limit, cost, now_ms);
    let lease = if d.allowed { lease_size(d.bucket.tokens) } else { 0.0 };
    if lease == 0.0 {
        return (d, None);
    }
    let visible = d.bucket.tokens;
    let bucket = Bucket { tokens: d.bucket.tokens - lease, ..d.bucket };
    (Decision { bucket, ..d }, Some(Lease { tokens: lease, expires_ms: now_ms + LEASE_TTL_MS, visible }))
}

impl Lease {
    /// Spends `cost` from the lease when it covers it and has not lapsed.
    pub fn spend(&mut self, limit: &Limit, cost: f64, now_ms: u64) -> Option<Decision> {
        if now_ms >= self.expires_ms || self.tokens < cost {
            return None;
        }
        self.tokens -= cost;
        self.visible = (self.visible - cost).max(0.0);
        Some(Decision {
            allowed: true,
            bucket: Bucket { tokens: self.visible, updated_ms: now_ms },
            remaining: self.visible.floor() as u64,
            retry_after_s: 0,
            reset_s: ((limit.burst - self.visible) / limit.requests_per_second).ceil().max(0.0) as u64,
        })
    }
}

/// One worker's leases, by tenant; bounded like the token cache (when full, a
/// new tenant resets it: the cost is one shared-data spend per tenant).
#[derive(Debug, Default)]
pub struct Leases {
    by_tenant: std::collections::HashMap<String, Lease>,
}

/// Tenants a worker holds leases for at once.
pub const MAX_LEASED_TENANTS: usize = 4096;

impl Leases {
    /// Spends from the tenant's lease; `None` sends the request to the shared bucket.
    pub fn spend(&mut self, tenant: &str, limit: &Limit, cost: f64, now_ms: u64) -> Option<Decision> {
        self.by_tenant.get_mut(tenant)?.spend(limit, cost, now_ms)
    }

    /// Keeps the lease a shared spend took (or forgets the old one when it took none).
    pub fn store(&mut self, tenant: &str, lease: Option<Lease>) {
        let Some(lease) = lease else {
            self.by_tenant.remove(tenant);
            return;
        };
        if self.by_tenant.len() >= MAX_LEASED_TENANTS && !self.by_tenant.contains_key(tenant) {
            self.by_tenant.clear();
        }
        self.by_tenant.insert(tenant.to_owned(), lease);
    }

    /// Tenants holding a lease.
    pub fn len(&self) -> usize {
        self.by_tenant.len()
    }

    /// Whether no tenant holds a lease.
    pub fn is_empty(&self) -> bool {
        self.by_tenant.is_empty()
    }
}

/// IETF `RateLimit-Policy` and `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers):
/// the plan's quota and window, and what is left and when it is whole again.
/// A 429 carries both; a success carries [`remaining_header`] alone (the
/// contract's "remaining budget"), one response header fewer per request.
pub fn headers(plan: &str, limit: &Limit, d: &Decision) -> Vec<(&'static str, String)> {
    vec![policy_header(plan, limit), remaining_header(plan, d)]
}

/// `RateLimit-Policy`: the plan's quota and window.
pub fn policy_header(plan: &str, limit: &Limit) -> (&'static str, String) {
    let window = (limit.burst / limit.requests_per_second).ceil().max(1.0) as u64;
    ("ratelimit-policy", format!("\"{}\";q={};w={window}", quotable(plan), limit.burst as u64))
}

/// `RateLimit`: what is left and when the bucket is whole again.
pub fn remaining_header(plan: &str, d: &Decision) -> (&'static str, String) {
    ("ratelimit", format!("\"{}\";r={};t={}", quotable(plan), d.remaining, d.reset_s))
}

/// The plan name as a structured-field string (no quote or backslash to escape).
fn quotable(plan: &str) -> std::borrow::Cow<'_, str> {
    if plan.contains(['"', '\\']) {
        plan.replace(['"', '\\'], "").into()
    } else {
        plan.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_only_when_the_bucket_has_plenty() {
        let small = limit(0.001, 60.0);
        let (d, lease) = take_with_lease(None, &small, 1.0, 0);
        assert!(d.allowed && lease.is_none(), "59 left: a lease would be under one token");
        assert_eq!(d.bucket.tokens, 59.0);
        let big = limit(1000.0, 1_000_000.0);
        let (d, lease) = take_with_lease(None, &big, 1.0, 0);
        let mut lease = lease.unwrap();
        assert_eq!(d.bucket.tokens, 999_999.0 - MAX_LEASE, "the lease is debited from the shared bucket");
        assert_eq!(d.remaining, 999_999, "the client sees its lease as budget");
        for i in 0..MAX_LEASE as u64 {
            let local = lease.spend(&big, 1.0, 10).unwrap();
            assert_eq!(local.remaining, 999_998 - i);
        }
        assert_eq!(lease.spend(&big, 1.0, 10), None, "spent out");
        let (_, lease) = take_with_lease(None, &limit(1.0, 6400.0), 1.0, 0);
        let mut lease = lease.unwrap();
        assert_eq!(lease.tokens, 64.0, "a 64th of 6399, floored (and within MAX_LEASE)");
        assert_eq!(lease.spend(&big, 1.0, LEASE_TTL_MS), None, "lapsed");
        let (d, lease) = take_with_lease(None, &small, 100.0, 0);
        assert!(!d.allowed && lease.is_none());
    }

    #[test]
    fn leases_by_tenant_stay_bounded() {
        let big = limit(1000.0, 1_000_000.0);
        let mut leases = Leases::default();
        assert_eq!(leases.spend("a", &big, 1.0, 0), None);
        let (_, lease) = take_with_lease(None, &big, 1.0, 0);
        leases.store("a", lease);
        assert!(leases.spend("a", &big, 1.0, 0).is_some());
        leases.store("a", None);
        assert!(leases.is_empty());
        for i in 0..MAX_LEASED_TENANTS {
            leases.store(&format!("t{i}"), lease);
        }
        assert_eq!(leases.len(), MAX_LEASED_TENANTS);
        leases.store("t0", lease);
        assert_eq!(leases.len(), MAX_LEASED_TENANTS, "a known tenant replaces its own lease");
        leases.store("new", lease);
        assert_eq!(leases.len(), 1, "full: a new tenant resets the map");
    }

    #[test]
    fn leases_never_exceed_the_budget() {
        // Several workers leasing from one bucket: everything allowed was debited.
        let l = limit(0.0001, 10_000.0);
        let mut shared = None;
        let mut leases: Vec<Option<Lease>> = vec![None; 4];
        let mut allowed = 0u64;
        for i in 0..40_000u64 {
            let w = (i % 4) as usize;
            if let Some(d) = leases[w].as_mut().and_then(|le| le.spend(&l, 1.0, 0)) {
                assert!(d.allowed);
                allowed += 1;
                continue;
            }
            let (d, lease) = take_with_lease(shared, &l, 1.0, 0);
            shared = Some(d.bucket);
            leases[w] = lease;
            allowed += u64::from(d.allowed);
        }
        let unspent: f64 = leases.iter().flatten().map(|le| le.tokens).sum();
        assert_eq!(allowed as f64 + unspent, 10_000.0);
        assert!(unspent < 4.0 * MAX_LEASE);
    }

    fn limit(rps: f64, burst: f64) -> Limit {
        Limit { requests_per_second: rps, burst }
    }

    #[test]
    fn burst_then_refill() {
        let l = limit(2.0, 3.0);
        let mut b = None;
        for _ in 0..3 {
            let d = take(b, &l, 1.0, 1000);
            assert!(d.allowed);
            b = Some(d.bucket);
        }
        let d = take(b, &l, 1.0, 1000);
        assert!(!d.allowed);
        assert_eq!(d.retry_after_s, 1);
        // 500 ms at 2/s refills exactly one token.
        let d = take(b, &l, 1.0, 1500);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        // Never above burst, however long the pause.
        let d = take(Some(d.bucket), &l, 1.0, 1_000_000);
        assert_eq!(d.remaining, 2);
        assert_eq!(d.reset_s, 1);
    }

    #[test]
    fn cost_and_retry_after() {
        let l = limit(1.0, 10.0);
        let d = take(None, &l, 10.0, 0);
        assert!(d.allowed);
        let d = take(Some(d.bucket), &l, 5.0, 2000);
        assert!(!d.allowed);
        assert_eq!(d.retry_after_s, 3);
        assert_eq!(d.bucket.tokens, 2.0);
    }

    #[test]
    fn clock_going_back_mints_nothing() {
        let l = limit(100.0, 5.0);
        let b = Bucket { tokens: 0.0, updated_ms: 10_000 };
        let d = take(Some(b), &l, 1.0, 5_000);
        assert!(!d.allowed);
        assert_eq!(d.bucket.updated_ms, 10_000);
    }

    #[test]
    fn policy_headers() {
        let l = limit(10.0, 20.0);
        let d = take(None, &l, 1.0, 0);
        let h = headers("free", &l, &d);
        assert_eq!(h[0], ("ratelimit-policy", "\"free\";q=20;w=2".to_owned()));
        assert_eq!(h[1], ("ratelimit", "\"free\";r=19;t=1".to_owned()));
    }

    #[test]
    fn bucket_bytes_round_trip() {
        let b = Bucket { tokens: 2.5, updated_ms: 1_700_000_000_123 };
        assert_eq!(Bucket::decode(&b.encode()), Some(b));
        assert_eq!(Bucket::decode(b"short"), None);
    }

    fn cfg() -> RateLimitConfig {
        serde_json::from_str(
            r#"{"plans": {"free": {"requestsPerSecond": 10, "burst": 20}, "pro": {"requestsPerSecond": 100, "burst": 200}},
                "defaultPlan": "free",
                "tenants": {"acme": {"plan": "pro"}, "big": {"limit": {"requestsPerSecond": 1000, "burst": 1000}}},
                "costs": [{"methods": ["POST", "PUT", "PATCH", "DELETE"], "cost": 5}, {"pathPrefix": "/graphql", "cost": 2}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn plans_overrides_and_costs() {
        let c = cfg();
        assert_eq!(c.limit_for("acme", None).unwrap().0, "pro");
        assert_eq!(c.limit_for("acme", Some("free")).unwrap().0, "pro", "the operator's override beats the token");
        assert_eq!(c.limit_for("zed", Some("pro")).unwrap().0, "pro");
        assert_eq!(c.limit_for("zed", Some("gold")).unwrap().0, "free", "unknown plans fall back to the default");
        assert_eq!(c.limit_for("big", None).unwrap().1.burst, 1000.0);
        assert_eq!(c.cost("post", "/v2/x"), 5.0);
        assert_eq!(c.cost("GET", "/graphql/ks"), 2.0);
        assert_eq!(c.cost("GET", "/v2/x"), 1.0);
        let mut errors = Vec::new();
        c.check(&mut errors);
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn check_names_every_bad_field() {
        let c: RateLimitConfig = serde_json::from_str(
            r#"{"plans": {"free": {"requestsPerSecond": 0, "burst": 0.5}}, "defaultPlan": "gold",
                "tenants": {"t": {"plan": "nope"}}, "costs": [{"cost": 9, "pathPrefix": "x"}]}"#,
        )
        .unwrap();
        let mut errors = Vec::new();
        c.check(&mut errors);
        let text = errors.join("\n");
        for f in [
            "defaultPlan",
            "plans.free.requestsPerSecond",
            "plans.free.burst",
            "tenants.t.plan",
            "costs[0].cost",
            "costs[0].pathPrefix",
        ] {
            assert!(text.contains(f), "{f} missing from {text}");
        }
    }
}
