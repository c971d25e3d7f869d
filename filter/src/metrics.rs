//! The filter's counters and their names: one definition for both hosts. The
//! wasm host shows them as `wasmcustom.<name>`, the native host under its own
//! prefix; the part after it is the same.

use crate::ratelimit::RateLimitConfig;
use std::borrow::Cow;

/// Something the filter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter<'a> {
    /// A request with a verified credential was forwarded.
    Allowed,
    /// A public path was forwarded without credentials.
    Public,
    /// A token was answered from the verified-token cache.
    CacheHit,
    /// A request was answered with a rejection, by reason (`expired`, `rate_limited`, ...).
    Rejected(&'static str),
    /// A tenant went over budget (a configured tenant's name, or `other`).
    Limited(&'a str),
    /// Over budget in shadow mode: counted, let through.
    ShadowLimited,
    /// The limiter's storage failed; the request was let through.
    RateLimitErrors,
    /// A token named an unknown key id and a JWKS re-fetch started.
    RefetchUnknownKid,
    /// A JWKS fetch brought usable keys.
    JwksFetchOk,
    /// A JWKS fetch failed or brought an unusable document.
    JwksFetchFailed,
}

/// Every rejection reason the decisions can produce (for hosts that must
/// define their counters before traffic).
pub const REJECTION_REASONS: &[&str] = &[
    "missing",
    "malformed",
    "ambiguous",
    "too_large",
    "unknown_key",
    "unknown_kid",
    "bad_alg",
    "bad_signature",
    "no_exp",
    "expired",
    "no_iat",
    "lifetime",
    "not_yet_valid",
    "bad_issuer",
    "bad_audience",
    "no_tenant",
    "bad_tenant",
    "forbidden",
    "rate_limited",
    "ratelimit_unavailable",
];

/// Who a `ratelimit.limited.*` counter names when the tenant is not configured
/// (bounded stat cardinality).
pub const OTHER_TENANT: &str = "other";

impl Counter<'_> {
    /// The counter's name, e.g. `datagate.rejected.expired`.
    pub fn name(&self) -> Cow<'static, str> {
        match self {
            Counter::Allowed => "datagate.allowed".into(),
            Counter::Public => "datagate.public".into(),
            Counter::CacheHit => "datagate.token_cache.hits".into(),
            Counter::Rejected(reason) => format!("datagate.rejected.{reason}").into(),
            Counter::Limited(who) => format!("datagate.ratelimit.limited.{who}").into(),
            Counter::ShadowLimited => "datagate.ratelimit.shadow_limited".into(),
            Counter::RateLimitErrors => "datagate.ratelimit.errors".into(),
            Counter::RefetchUnknownKid => "datagate.jwks.refetch_unknown_kid".into(),
            Counter::JwksFetchOk => "datagate.jwks.fetch_ok".into(),
            Counter::JwksFetchFailed => "datagate.jwks.fetch_failed".into(),
        }
    }
}

/// Every counter a configuration can produce, by name.
pub fn all(rate_limit: Option<&RateLimitConfig>) -> Vec<String> {
    let mut names: Vec<String> = [
        Counter::Allowed,
        Counter::Public,
        Counter::CacheHit,
        Counter::ShadowLimited,
        Counter::RateLimitErrors,
        Counter::RefetchUnknownKid,
        Counter::JwksFetchOk,
        Counter::JwksFetchFailed,
    ]
    .iter()
    .map(|c| c.name().into_owned())
    .collect();
    names.extend(REJECTION_REASONS.iter().map(|r| Counter::Rejected(r).name().into_owned()));
    names.push(Counter::Limited(OTHER_TENANT).name().into_owned());
    if let Some(rl) = rate_limit {
        names.extend(rl.tenants.keys().map(|t| Counter::Limited(t).name().into_owned()));
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable() {
        assert_eq!(Counter::Rejected("expired").name(), "datagate.rejected.expired");
        assert_eq!(Counter::Limited("acme").name(), "datagate.ratelimit.limited.acme");
        assert_eq!(Counter::CacheHit.name(), "datagate.token_cache.hits");
        let names = all(None);
        assert!(names.contains(&"datagate.rejected.ambiguous".to_owned()));
        assert!(names.contains(&"datagate.ratelimit.limited.other".to_owned()));
        let unique: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
    }
}
