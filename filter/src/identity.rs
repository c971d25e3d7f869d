//! Who a request acts for, and the headers that carry it: the one definition
//! every other module (credentials, cache, API keys, rules, hosts) shares.

/// Headers the filter owns: removed from every inbound request so a client can
/// never assert its own identity, then set from the verified credential.
pub const TENANT_HEADER: &str = "x-tenant-id";
/// Subject of the verified token.
pub const SUBJECT_HEADER: &str = "x-datagate-subject";
/// The rate-limit plan the request was counted against.
pub const PLAN_HEADER: &str = "x-tenant-plan";
/// Filter-state key holding the tenant (access logs read it as `%FILTER_STATE(<host prefix>.datagate_tenant:PLAIN)%`).
pub const TENANT_STATE: &str = "datagate_tenant";
/// Filter-state key holding the plan.
pub const PLAN_STATE: &str = "datagate_plan";

/// Whether an inbound header must be stripped before anything else sees it.
pub fn is_identity_header(name: &str) -> bool {
    // Runs on every inbound header: compare in place rather than lower-casing a copy.
    const PREFIX: &str = "x-datagate-";
    name.eq_ignore_ascii_case(TENANT_HEADER)
        || name.eq_ignore_ascii_case(PLAN_HEADER)
        || name.get(..PREFIX.len()).is_some_and(|p| p.eq_ignore_ascii_case(PREFIX))
}

/// Who a verified request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Tenant taken from the configured claim.
    pub tenant: String,
    /// The token's `sub`, when present.
    pub subject: Option<String>,
    /// The plan the token names (`planClaim`), when present.
    pub plan: Option<String>,
    /// Scopes or roles (`scopeClaim`), for per-path rules.
    pub scopes: Vec<String>,
}

/// Tenant ids travel in headers and name storage namespaces: keep them plain.
pub fn valid_tenant(t: &str) -> bool {
    !t.is_empty() && t.len() <= 64 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_are_plain() {
        assert!(valid_tenant("acme-1.eu_west"));
        for bad in ["", "a b", "a/b", "ü", &"a".repeat(65)] {
            assert!(!valid_tenant(bad), "{bad:?}");
        }
    }
}
