//! The verified-token cache: repeated tokens skip signature verification.
//!
//! Keyed by the whole token, so a cached entry can only ever answer for the
//! exact bytes that were verified. An entry is served only while `now < exp`
//! (never for the leeway after it), and the cache is bounded: when full, expired
//! entries go first, then everything (a cheap reset beats per-entry LRU
//! bookkeeping on the request path; the next request re-verifies).

use crate::clock::Clock;
use crate::identity::Identity;
use std::collections::HashMap;
use std::sync::Arc;

/// A bounded token → identity cache for one worker.
#[derive(Default)]
pub struct TokenCache {
    capacity: usize,
    entries: HashMap<String, (Arc<Identity>, u64)>,
    hits: std::cell::Cell<u64>,
}

impl TokenCache {
    /// A cache holding at most `capacity` tokens (0 disables it).
    pub fn new(capacity: usize) -> TokenCache {
        TokenCache { capacity, entries: HashMap::new(), hits: std::cell::Cell::new(0) }
    }

    /// The identity a still-valid cached token verified to, at `now` (Unix seconds).
    pub fn get(&self, token: &str, now: u64) -> Option<&Arc<Identity>> {
        self.lookup(token, &Clock::at(now.saturating_mul(1000)))
    }

    /// The identity a cached token verified to, while `clock` says it is
    /// before the token's `exp` (the clock is read only near it).
    pub fn lookup(&self, token: &str, clock: &Clock) -> Option<&Arc<Identity>> {
        match self.entries.get(token) {
            Some((identity, exp)) if clock.before(exp.saturating_mul(1000)) => {
                self.hits.set(self.hits.get() + 1);
                Some(identity)
            }
            _ => None,
        }
    }

    /// Remembers a verified token until its `exp`.
    pub fn insert(&mut self, token: &str, identity: Arc<Identity>, exp: u64, now: u64) {
        if self.capacity == 0 || now >= exp {
            return;
        }
        if self.entries.len() >= self.capacity {
            self.entries.retain(|_, (_, e)| now < *e);
            if self.entries.len() >= self.capacity {
                self.entries.clear();
            }
        }
        self.entries.insert(token.to_owned(), (identity, exp));
    }

    /// Lookups answered from the cache so far.
    pub fn hits(&self) -> u64 {
        self.hits.get()
    }

    /// Forgets every token (the key set changed: verify again).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Entries held (for tests and stats).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(t: &str) -> Arc<Identity> {
        Arc::new(Identity { tenant: t.into(), subject: None, plan: None, scopes: vec![] })
    }

    #[test]
    fn never_outlives_exp() {
        let mut c = TokenCache::new(4);
        c.insert("t", id("a"), 100, 50);
        assert_eq!(c.get("t", 99).map(|i| i.tenant.as_str()), Some("a"));
        assert!(c.get("t", 100).is_none());
        assert!(c.get("other", 50).is_none());
        c.insert("late", id("a"), 100, 100);
        assert!(c.get("late", 99).is_none(), "a token accepted only within leeway is not cached");
    }

    #[test]
    fn a_recent_reading_never_serves_a_token_past_exp() {
        use std::sync::atomic::{AtomicBool, Ordering};
        static READ: AtomicBool = AtomicBool::new(false);
        fn just_before_exp() -> u64 {
            READ.store(true, Ordering::SeqCst);
            99_500
        }
        fn at_exp() -> u64 {
            100_000
        }
        let mut c = TokenCache::new(4);
        c.insert("t", id("a"), 100, 50);
        assert!(c.lookup("t", &Clock::with_recent(just_before_exp, 50_000)).is_some());
        assert!(!READ.load(Ordering::SeqCst), "far from exp: no clock read");
        assert!(c.lookup("t", &Clock::with_recent(just_before_exp, 96_000)).is_some());
        assert!(READ.load(Ordering::SeqCst), "near exp: the exact time decides");
        assert!(
            c.lookup("t", &Clock::with_recent(at_exp, 96_000)).is_none(),
            "expired, though the recent reading is earlier"
        );
    }

    #[test]
    fn stays_bounded() {
        let mut c = TokenCache::new(3);
        for i in 0..3 {
            c.insert(&format!("t{i}"), id("a"), 10 + i, 0);
        }
        // t0 has expired by now=10: it makes room without a reset.
        c.insert("t3", id("b"), 100, 10);
        assert_eq!(c.len(), 3);
        assert!(c.get("t1", 10).is_some());
        c.insert("t4", id("b"), 100, 10);
        assert!(c.len() <= 3);
        assert!(c.get("t4", 10).is_some());
        let mut off = TokenCache::new(0);
        off.insert("t", id("a"), 100, 0);
        assert!(off.is_empty());
    }
}
