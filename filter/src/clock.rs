//! One request's view of the wall clock.
//!
//! In the proxy-wasm build every clock read is a host call (a VM crossing,
//! about as costly as the rest of a cached-token decision), so the flow reads
//! the exact time only where an answer depends on it: verifying a token,
//! spending from the shared bucket, a token within [`MARGIN_MS`] of its `exp`.
//! Everything else (a cached token far from expiry, a worker's lease) is
//! answered from a recent reading the host keeps, refreshed by its tick, by
//! every exact read, and after at most a bounded number of requests.

use std::cell::Cell;

/// How far ahead of a recent reading a deadline must be for the reading to
/// answer "is it still before?" alone. Ten times the hosts' tick: a reading is
/// never older than a tick (or a few dozen requests) unless the worker stalled
/// that long, and a stalled worker serves no requests either.
pub const MARGIN_MS: u64 = 5_000;

/// The clock for one request: the exact time read from the host at most once.
#[derive(Debug)]
pub struct Clock {
    read: fn() -> u64,
    /// A reading the host took recently (never ahead of now).
    recent_ms: Option<u64>,
    exact_ms: Cell<Option<u64>>,
}

impl Clock {
    /// A clock that calls `read` (Unix milliseconds) the first time it is asked.
    pub fn reading(read: fn() -> u64) -> Clock {
        Clock { read, recent_ms: None, exact_ms: Cell::new(None) }
    }

    /// [`Clock::reading`] that answers what it can from `recent_ms`, a reading
    /// the host took at most about a tick ago.
    pub fn with_recent(read: fn() -> u64, recent_ms: u64) -> Clock {
        Clock { read, recent_ms: Some(recent_ms), exact_ms: Cell::new(None) }
    }

    /// A clock stopped at `now_ms` (tests, callers that already read the time).
    pub fn at(now_ms: u64) -> Clock {
        Clock { read: || 0, recent_ms: None, exact_ms: Cell::new(Some(now_ms)) }
    }

    /// The exact time, Unix milliseconds (read from the host once per request).
    pub fn now_ms(&self) -> u64 {
        if let Some(t) = self.exact_ms.get() {
            return t;
        }
        let t = (self.read)();
        self.exact_ms.set(Some(t));
        t
    }

    /// Whether it is still before `deadline_ms`: from the recent reading when
    /// the deadline is more than [`MARGIN_MS`] past it, else from the exact time.
    pub fn before(&self, deadline_ms: u64) -> bool {
        match (self.exact_ms.get(), self.recent_ms) {
            (Some(now), _) => now < deadline_ms,
            (None, Some(recent)) if recent.saturating_add(MARGIN_MS) < deadline_ms => true,
            _ => self.now_ms() < deadline_ms,
        }
    }

    /// About now: the exact time if it was read, else the recent reading, for
    /// what tolerates a tick's lag (a worker's lease lapsing a little late).
    pub fn about_now_ms(&self) -> u64 {
        match (self.exact_ms.get(), self.recent_ms) {
            (Some(now), _) => now,
            (None, Some(recent)) => recent,
            (None, None) => self.now_ms(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    static READS: AtomicU64 = AtomicU64::new(0);
    const NOW: u64 = 1_800_000_000_000;

    fn counted() -> u64 {
        READS.fetch_add(1, Ordering::SeqCst);
        NOW
    }

    #[test]
    fn reads_the_host_only_when_an_answer_depends_on_it() {
        READS.store(0, Ordering::SeqCst);
        let recent = NOW - 400;
        let c = Clock::with_recent(counted, recent);
        assert!(c.before(NOW + MARGIN_MS + 1_000), "far from the deadline: the recent reading answers");
        assert_eq!(c.about_now_ms(), recent);
        assert_eq!(READS.load(Ordering::SeqCst), 0);
        // Within the margin the exact time decides, both ways.
        assert!(c.before(NOW + 1));
        assert!(!c.before(NOW));
        assert_eq!(READS.load(Ordering::SeqCst), 1, "read once per request");
        assert_eq!(c.now_ms(), NOW);
        assert_eq!(c.about_now_ms(), NOW, "once read, the exact time answers everything");
        assert_eq!(READS.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn without_a_recent_reading_every_answer_is_exact() {
        let c = Clock::at(NOW);
        assert!(c.before(NOW + 1));
        assert!(!c.before(NOW));
        assert_eq!(c.about_now_ms(), NOW);
        let c = Clock::reading(|| NOW);
        assert!(!c.before(NOW) && c.before(NOW + MARGIN_MS * 2));
    }
}
