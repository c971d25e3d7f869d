//! Per-minute usage totals in memory, until a flush writes them to the usage
//! table. Each entry holds this replica's absolute totals for its minute and a
//! version; a flush writes the entries whose version moved and then marks
//! that version flushed, so a failed or repeated flush is harmless (the table
//! takes absolute values). Entries of past minutes are dropped once flushed.
//! Beside them, each tenant's units this month, for quotas.

use crate::fastmap::FastMap;
use crate::store::usage::{Totals, UsageRow};
use std::sync::Mutex;

/// What one entry counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// Unix minute.
    pub minute: i64,
    /// Tenant.
    pub tenant: String,
    /// API name.
    pub api: &'static str,
    /// Operation name.
    pub operation: &'static str,
}

#[derive(Debug, Default)]
struct Entry {
    totals: Totals,
    version: u64,
    flushed: u64,
}

#[derive(Debug, Default)]
struct State {
    entries: FastMap<Key, Entry>,
    /// First minute of the month `month_units` counts.
    month: i64,
    /// Tenant → (read units, write units) this replica counted this month.
    month_units: FastMap<String, (u64, u64)>,
}

/// The rollup.
#[derive(Debug, Default)]
pub struct Rollup {
    state: Mutex<State>,
}

/// Rows to write, with the versions to mark flushed once written.
pub struct Snapshot {
    /// The rows.
    pub rows: Vec<UsageRow>,
    versions: Vec<(Key, u64)>,
}

impl Rollup {
    /// Adds one request's totals; `month` is the first minute of the current month.
    pub fn add(&self, key: Key, t: &Totals, month: i64) {
        let Ok(mut s) = self.state.lock() else { return };
        if s.month != month {
            s.month = month;
            s.month_units.clear();
        }
        // Looked up before inserting: a known tenant costs no copy of its id.
        match s.month_units.get_mut(&key.tenant) {
            Some(units) => {
                units.0 += t.read_units;
                units.1 += t.write_units;
            }
            None => {
                s.month_units.insert(key.tenant.clone(), (t.read_units, t.write_units));
            }
        }
        let e = s.entries.entry(key).or_default();
        e.totals.add(t);
        e.version += 1;
    }

    /// The entries changed since their last flush.
    pub fn dirty(&self) -> Snapshot {
        let Ok(s) = self.state.lock() else { return Snapshot { rows: Vec::new(), versions: Vec::new() } };
        let mut rows = Vec::new();
        let mut versions = Vec::new();
        for (k, e) in s.entries.iter().filter(|(_, e)| e.version != e.flushed) {
            rows.push(UsageRow {
                minute: k.minute,
                tenant: k.tenant.clone(),
                api: k.api.to_owned(),
                operation: k.operation.to_owned(),
                totals: e.totals,
            });
            versions.push((k.clone(), e.version));
        }
        Snapshot { rows, versions }
    }

    /// Marks a written snapshot flushed and drops the flushed entries of minutes before `now_minute`.
    pub fn flushed(&self, snap: Snapshot, now_minute: i64) {
        let Ok(mut s) = self.state.lock() else { return };
        for (k, v) in snap.versions {
            if let Some(e) = s.entries.get_mut(&k) {
                e.flushed = e.flushed.max(v);
            }
        }
        s.entries.retain(|k, e| k.minute >= now_minute || e.version != e.flushed);
    }

    /// The units this replica counted for `tenant` in the month starting at `month`.
    pub fn month_units(&self, tenant: &str, month: i64) -> (u64, u64) {
        let Ok(s) = self.state.lock() else { return (0, 0) };
        if s.month != month {
            return (0, 0);
        }
        s.month_units.get(tenant).copied().unwrap_or_default()
    }

    /// Entries held (for tests and the metrics).
    pub fn len(&self) -> usize {
        self.state.lock().map_or(0, |s| s.entries.len())
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(minute: i64, tenant: &str) -> Key {
        Key { minute, tenant: tenant.into(), api: "rest", operation: "read" }
    }

    #[test]
    fn flushes_write_absolute_totals_and_forget_past_minutes() {
        let r = Rollup::default();
        let one = Totals { requests: 1, read_units: 2, ..Totals::default() };
        r.add(key(10, "a"), &one, 0);
        r.add(key(10, "a"), &one, 0);
        r.add(key(10, "b"), &one, 0);
        let snap = r.dirty();
        assert_eq!(snap.rows.len(), 2);
        let a = snap.rows.iter().find(|x| x.tenant == "a").map(|x| x.totals.requests);
        assert_eq!(a, Some(2), "absolute totals for the minute");
        // A request lands while the flush is being written: it stays dirty.
        r.add(key(10, "a"), &one, 0);
        r.flushed(snap, 10);
        let again = r.dirty();
        assert_eq!(again.rows.len(), 1);
        assert_eq!(again.rows[0].totals.requests, 3, "the minute's total, not the difference");
        r.flushed(again, 11);
        assert!(r.is_empty(), "flushed past minutes are dropped");
        assert!(r.dirty().rows.is_empty());
    }

    #[test]
    fn a_failed_flush_keeps_everything() {
        let r = Rollup::default();
        r.add(key(10, "a"), &Totals { requests: 1, ..Totals::default() }, 0);
        let _lost = r.dirty();
        assert_eq!(r.dirty().rows.len(), 1, "not marked: written again next time");
    }

    #[test]
    fn month_units_reset_with_the_month() {
        let r = Rollup::default();
        let t = Totals { read_units: 3, write_units: 1, ..Totals::default() };
        r.add(key(10, "a"), &t, 0);
        r.add(key(11, "a"), &t, 0);
        assert_eq!(r.month_units("a", 0), (6, 2));
        assert_eq!(r.month_units("b", 0), (0, 0));
        r.add(key(50_000, "a"), &t, 44_640);
        assert_eq!(r.month_units("a", 44_640), (3, 1));
        assert_eq!(r.month_units("a", 0), (0, 0));
    }
}
