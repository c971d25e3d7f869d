//! Monthly unit quotas. A tenant's use this month is what the usage table
//! holds from the other replicas (refreshed at every flush) plus what this
//! replica counted (in memory, flushed or not). Between two refreshes the
//! other replicas' new use is unseen, so a fleet of `R` replicas can go over
//! a quota by at most `(R − 1) × (flush interval + refresh) × the tenant's unit
//! rate`, plus the units of the requests already admitted when the quota ran
//! out (each replica admits a request while any units remain).

use super::settings::{QuotasFile, UnitsFile};
use std::collections::HashMap;

/// Which quota a request is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Reads: the read quota.
    Read,
    /// Writes and deletes: the write quota.
    Write,
    /// GraphQL and Data API requests (a read or a write, unknown before it
    /// runs): both quotas. DDL and catalog reads: none.
    Both,
    /// No quota (DDL).
    Neither,
}

/// The quota decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// `x-quota-*-remaining` headers.
    pub headers: Vec<(String, String)>,
    /// The exhausted quota (`readUnits`/`writeUnits`), its limit and use.
    pub exceeded: Option<(&'static str, u64, u64)>,
}

/// Header with the read units left this month.
pub const READ_REMAINING: &str = "x-quota-read-remaining";
/// Header with the write units left this month.
pub const WRITE_REMAINING: &str = "x-quota-write-remaining";

/// The quota that applies: the tenant's own, else its plan's.
pub fn quota_for<'a>(q: &'a QuotasFile, tenant: &str, plan: Option<&str>) -> Option<&'a UnitsFile> {
    q.tenants.get(tenant).or_else(|| plan.and_then(|p| q.plans.get(p)))
}

/// Decides for a request needing `need`, with `used` = (read, write) units this month.
pub fn decide(q: &UnitsFile, used: (u64, u64), need: Need) -> Decision {
    let mut headers = Vec::new();
    let mut exceeded = None;
    let checks = [
        ("readUnits", READ_REMAINING, q.read_units, used.0, matches!(need, Need::Read | Need::Both)),
        ("writeUnits", WRITE_REMAINING, q.write_units, used.1, matches!(need, Need::Write | Need::Both)),
    ];
    for (name, header, limit, used, applies) in checks {
        let Some(limit) = limit else { continue };
        headers.push((header.to_owned(), limit.saturating_sub(used).to_string()));
        if applies && used >= limit && exceeded.is_none() {
            exceeded = Some((name, limit, used));
        }
    }
    Decision { headers, exceeded }
}

/// Units the other replicas have flushed this month, per tenant.
#[derive(Debug, Default)]
pub struct Others {
    /// First minute of the month the numbers are for.
    pub month: i64,
    /// Tenant → (read, write).
    pub units: HashMap<String, (u64, u64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(r: Option<u64>, w: Option<u64>) -> UnitsFile {
        UnitsFile { read_units: r, write_units: w }
    }

    #[test]
    fn a_request_is_refused_once_its_quota_is_used_up() {
        let quota = q(Some(10), Some(5));
        let d = decide(&quota, (9, 5), Need::Read);
        assert_eq!(d.exceeded, None, "one read unit left");
        assert_eq!(d.headers, vec![(READ_REMAINING.into(), "1".into()), (WRITE_REMAINING.into(), "0".into())]);
        assert_eq!(decide(&quota, (10, 0), Need::Read).exceeded, Some(("readUnits", 10, 10)));
        assert_eq!(decide(&quota, (0, 7), Need::Write).exceeded, Some(("writeUnits", 5, 7)));
        assert_eq!(decide(&quota, (0, 7), Need::Read).exceeded, None, "reads go on when writes are used up");
        assert_eq!(decide(&quota, (0, 7), Need::Both).exceeded, Some(("writeUnits", 5, 7)));
        assert_eq!(decide(&quota, (99, 99), Need::Neither).exceeded, None, "DDL is never refused");
        assert_eq!(decide(&q(None, Some(1)), (99, 0), Need::Read).headers.len(), 1, "only the quotas set");
    }

    #[test]
    fn a_tenant_quota_wins_over_its_plan() {
        let mut file = QuotasFile::default();
        file.plans.insert("free".into(), q(Some(100), None));
        file.tenants.insert("acme".into(), q(Some(5), None));
        assert_eq!(quota_for(&file, "acme", Some("free")).and_then(|u| u.read_units), Some(5));
        assert_eq!(quota_for(&file, "zeta", Some("free")).and_then(|u| u.read_units), Some(100));
        assert!(quota_for(&file, "zeta", None).is_none());
    }
}
