//! Global per-tenant limits: one budget per tenant for a whole fleet of
//! Envoys, held in Redis by the sidecar's lease service.
//!
//! A worker (or, for the native host, an Envoy process) holds a *lease* of a
//! tenant's global tokens and spends requests from it with no I/O; when the
//! lease cannot cover a request, the filter pauses the request and asks the
//! lease service for more ([`LeaseRequest`], an HTTP GET through an Envoy
//! cluster — the same HTTP callout both hosts use for the JWKS). The service
//! debits Redis atomically (a Lua script) and answers with a [`Grant`].
//!
//! Exactness: granted tokens are debited from the global budget before any
//! request spends them, so a tenant never gets more than its budget. What a
//! lease holds and nobody spends lapses after `leaseTtlMs`; that is the slack:
//! at most `leaseSize - cost` tokens per lease call in flight at the budget's
//! end. With `leaseSize` 1 every request asks for exactly its cost: exact, one
//! lease call per request.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The lease service's name on the sidecar's gRPC port (served as plain HTTP/2).
pub const LEASE_SERVICE: &str = "datagate.lease.v1.Lease";
/// The path of a lease call: `/{LEASE_SERVICE}/Take`, a GET.
pub const LEASE_PATH: &str = "/datagate.lease.v1.Lease/Take";

/// `globalLimit` in the filter configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GlobalLimitConfig {
    /// The Envoy cluster of the lease service (the sidecars: `datagate_ext_proc`).
    pub cluster: String,
    /// `:authority` of the lease calls.
    #[serde(default = "default_authority")]
    pub authority: String,
    /// How long a lease call may take before the failure mode applies.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Tokens one lease call asks for (at least the request's cost); 1 turns leasing off.
    #[serde(default = "default_lease_size")]
    pub lease_size: f64,
    /// How long leased tokens may be spent.
    #[serde(default = "default_lease_ttl_ms")]
    pub lease_ttl_ms: u64,
    /// When the lease service or Redis cannot answer: let requests through (`open`) or refuse them with a 503 (`closed`).
    #[serde(default)]
    pub failure_mode: FailureMode,
}

fn default_authority() -> String {
    "datagate-lease".into()
}
fn default_timeout_ms() -> u64 {
    250
}
fn default_lease_size() -> f64 {
    10.0
}
fn default_lease_ttl_ms() -> u64 {
    1000
}

/// What a request meets when its lease call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureMode {
    /// Let it through, counted in `datagate.ratelimit.errors` (the limiter must not take the API down).
    #[default]
    Open,
    /// Refuse it with a 503 JSON.
    Closed,
}

impl GlobalLimitConfig {
    /// Every problem, each naming its field.
    pub fn check(&self, errors: &mut Vec<String>) {
        if self.cluster.trim().is_empty() {
            errors.push(
                "globalLimit.cluster: name the Envoy cluster of the lease service (e.g. datagate_ext_proc)".into(),
            );
        }
        if self.authority.is_empty() || self.authority.chars().any(|c| c.is_whitespace() || c.is_control()) {
            errors.push("globalLimit.authority: must be a host name without spaces".into());
        }
        if self.timeout_ms == 0 || self.timeout_ms > 60_000 {
            errors.push("globalLimit.timeoutMs: must be between 1 and 60000".into());
        }
        if !(self.lease_size.is_finite() && (1.0..=1_000_000.0).contains(&self.lease_size)) {
            errors.push("globalLimit.leaseSize: must be between 1 and 1000000".into());
        }
        if self.lease_ttl_ms == 0 || self.lease_ttl_ms > 3_600_000 {
            errors.push("globalLimit.leaseTtlMs: must be between 1 and 3600000".into());
        }
    }
}

/// One lease call: take up to `want` tokens, none unless at least `min` are left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseRequest {
    pub tenant: String,
    pub want: f64,
    pub min: f64,
    /// The plan: tokens per second and burst, so the service needs no copy of the filter's config.
    pub rate: f64,
    pub burst: f64,
}

impl LeaseRequest {
    /// The GET path carrying this request (the hosts' HTTP callouts send no body).
    pub fn path(&self) -> String {
        format!(
            "{LEASE_PATH}?tenant={}&want={}&min={}&rate={}&burst={}",
            percent_encode(&self.tenant),
            self.want,
            self.min,
            self.rate,
            self.burst
        )
    }
}

/// Percent-encodes all but RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The lease service's answer (HTTP 200, JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Grant {
    /// Tokens now held by the caller (0: over budget).
    pub granted: f64,
    /// Tokens left in the global budget after this grant.
    pub left: f64,
    /// When `granted` is 0: seconds until `min` tokens are back.
    pub retry_after_s: u64,
}

impl Grant {
    /// Reads a lease response; `Err` (why) for anything but a 200 with a grant.
    pub fn parse(status: &str, body: &[u8]) -> Result<Grant, String> {
        if status != "200" {
            return Err(format!("lease service answered HTTP status {status:?}"));
        }
        let g: Grant = serde_json::from_slice(body).map_err(|e| format!("lease service answer is not a grant: {e}"))?;
        if !(g.granted.is_finite() && g.granted >= 0.0 && g.left.is_finite()) {
            return Err("lease service answer is out of range".into());
        }
        Ok(g)
    }
}

/// Tokens leased from tenants' global budgets, by tenant.
#[derive(Debug, Default)]
pub struct GlobalLeases {
    by_tenant: HashMap<String, Held>,
}

#[derive(Debug, Clone, Copy)]
struct Held {
    tokens: f64,
    expires_ms: u64,
}

/// Tenants one holder keeps leases for; past it, the lapsed ones are dropped
/// (or all, which only costs lease calls).
const MAX_TENANTS: usize = 4096;

impl GlobalLeases {
    /// Spends `cost` from the tenant's lease: the tokens left in it, or `None` when it cannot cover it.
    pub fn spend(&mut self, tenant: &str, cost: f64, now_ms: u64) -> Option<f64> {
        let held = self.by_tenant.get_mut(tenant)?;
        if now_ms >= held.expires_ms || held.tokens < cost {
            return None;
        }
        held.tokens -= cost;
        Some(held.tokens)
    }

    /// Adds granted tokens to the tenant's lease (a lapsed lease starts afresh).
    pub fn add(&mut self, tenant: &str, tokens: f64, ttl_ms: u64, now_ms: u64) {
        if self.by_tenant.len() >= MAX_TENANTS && !self.by_tenant.contains_key(tenant) {
            self.by_tenant.retain(|_, h| h.expires_ms > now_ms);
            if self.by_tenant.len() >= MAX_TENANTS {
                self.by_tenant.clear();
            }
        }
        let held = self.by_tenant.entry(tenant.to_owned()).or_insert(Held { tokens: 0.0, expires_ms: 0 });
        if now_ms >= held.expires_ms {
            held.tokens = 0.0;
        }
        held.tokens += tokens;
        held.expires_ms = now_ms + ttl_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> GlobalLimitConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn defaults_and_checks() {
        let c = config(r#"{"cluster": "datagate_ext_proc"}"#);
        assert_eq!((c.timeout_ms, c.lease_size, c.failure_mode), (250, 10.0, FailureMode::Open));
        let mut errors = vec![];
        c.check(&mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        let bad =
            config(r#"{"cluster": "", "timeoutMs": 0, "leaseSize": 0.5, "leaseTtlMs": 0, "failureMode": "closed"}"#);
        bad.check(&mut errors);
        for f in ["cluster", "timeoutMs", "leaseSize", "leaseTtlMs"] {
            assert!(errors.iter().any(|e| e.starts_with(&format!("globalLimit.{f}"))), "{f}: {errors:?}");
        }
        assert!(serde_json::from_str::<GlobalLimitConfig>(r#"{"cluster": "x", "failureMode": "maybe"}"#).is_err());
        assert!(serde_json::from_str::<GlobalLimitConfig>(r#"{"cluster": "x", "redis": "y"}"#).is_err());
    }

    #[test]
    fn the_path_is_under_the_service() {
        assert!(LEASE_PATH.starts_with(&format!("/{LEASE_SERVICE}/")));
    }

    #[test]
    fn the_path_carries_the_request() {
        let r = LeaseRequest { tenant: "a b/é&".into(), want: 10.0, min: 1.0, rate: 5.0, burst: 100.0 };
        assert_eq!(r.path(), "/datagate.lease.v1.Lease/Take?tenant=a%20b%2F%C3%A9%26&want=10&min=1&rate=5&burst=100");
    }

    #[test]
    fn grants_parse_or_say_why() {
        let g = Grant::parse("200", br#"{"granted": 3, "left": 0, "retryAfterS": 0}"#).unwrap();
        assert_eq!(g.granted, 3.0);
        assert!(Grant::parse("503", b"{}").unwrap_err().contains("503"));
        assert!(Grant::parse("200", b"nope").is_err());
        assert!(Grant::parse("200", br#"{"granted": -1, "left": 0, "retryAfterS": 0}"#).is_err());
    }

    #[test]
    fn leases_spend_until_empty_and_lapse() {
        let mut l = GlobalLeases::default();
        assert_eq!(l.spend("a", 1.0, 0), None);
        l.add("a", 3.0, 1000, 0);
        assert_eq!(l.spend("a", 1.0, 10), Some(2.0));
        assert_eq!(l.spend("a", 2.0, 10), Some(0.0));
        assert_eq!(l.spend("a", 1.0, 10), None);
        l.add("a", 5.0, 1000, 100);
        assert_eq!(l.spend("a", 1.0, 1100), None, "lapsed");
        l.add("a", 1.0, 1000, 1200);
        assert_eq!(l.spend("a", 1.0, 1200), Some(0.0), "a lapsed lease restarts empty");
    }
}
