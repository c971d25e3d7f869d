//! State one Envoy process shares across its worker threads, for hosts whose
//! workers share memory (the native dynamic module): per-tenant token buckets
//! and the verified-token cache, behind locks, and the per-request counters,
//! batched in atomics. Exact under concurrency: a
//! spend reads, decides and writes under one lock, so a budget of N allows N.
//! (The proxy-wasm host cannot use this: each worker is its own VM, so it keeps
//! buckets in proxy-wasm shared data instead.)

use crate::auth::TokenStore;
use crate::cache::TokenCache;
use crate::clock::Clock;
use crate::identity::Identity;
use crate::ratelimit::{self, Bucket, Decision, Limit};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Locks a mutex even if a thread panicked while holding it: every update
/// here is a single assignment, so the data is never half-written.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Shards, so workers charging different tenants rarely wait for each other.
const SHARDS: usize = 16;
/// Tenants one shard keeps buckets for; past it, full (idle) buckets are dropped,
/// which loses nothing: a missing bucket reads as full.
const MAX_TENANTS_PER_SHARD: usize = 65_536 / SHARDS;

/// Per-tenant token buckets.
pub struct Buckets {
    hasher: RandomState,
    shards: Vec<Mutex<HashMap<String, Bucket>>>,
}

impl Default for Buckets {
    fn default() -> Buckets {
        Buckets { hasher: RandomState::new(), shards: (0..SHARDS).map(|_| Mutex::default()).collect() }
    }
}

impl Buckets {
    /// Spends `cost` from the tenant's bucket ([`ratelimit::take`]).
    pub fn spend(&self, tenant: &str, limit: &Limit, cost: f64, now_ms: u64) -> Decision {
        let shard = (self.hasher.hash_one(tenant) as usize) % SHARDS;
        let mut buckets = lock(&self.shards[shard]);
        let d = ratelimit::take(buckets.get(tenant).copied(), limit, cost, now_ms);
        if d.allowed {
            // A known tenant is updated in place: the hot path allocates nothing.
            if let Some(b) = buckets.get_mut(tenant) {
                *b = d.bucket;
                return d;
            }
            if buckets.len() >= MAX_TENANTS_PER_SHARD {
                buckets.retain(|_, b| b.tokens < limit.burst);
            }
            buckets.insert(tenant.to_owned(), d.bucket);
        }
        d
    }
}

/// The verified-token cache, shared by every worker.
#[derive(Default)]
pub struct Tokens(Mutex<TokenCache>);

impl Tokens {
    /// A cache of at most `capacity` tokens.
    pub fn new(capacity: usize) -> Tokens {
        Tokens(Mutex::new(TokenCache::new(capacity)))
    }

    /// Forgets every token (the key set changed).
    pub fn clear(&self) {
        lock(&self.0).clear();
    }

    /// A [`TokenStore`] view for one request.
    pub fn store(&self) -> TokensRef<'_> {
        TokensRef(&self.0)
    }
}

/// [`Tokens`] as a [`TokenStore`]: the lock is held per lookup, never across a
/// signature verification.
pub struct TokensRef<'a>(&'a Mutex<TokenCache>);

impl TokenStore for TokensRef<'_> {
    fn get(&mut self, token: &str, clock: &Clock) -> Option<Arc<Identity>> {
        lock(self.0).lookup(token, clock).cloned()
    }
    fn insert(&mut self, token: &str, identity: Arc<Identity>, exp: u64, now: u64) {
        lock(self.0).insert(token, identity, exp, now);
    }
}

/// Batched counts reach the host at least this often (and on every tick).
pub const FLUSH_EVERY: u64 = 64;

/// A counter every request bumps (allowed, public, cache hits), summed here
/// and handed to the host in batches: a metrics call per request costs more
/// than the atomic add, and no count is lost (a batch takes all there is).
#[derive(Debug)]
pub struct BatchedCounter<Id> {
    id: Option<Id>,
    pending: AtomicU64,
}

impl<Id: Copy> BatchedCounter<Id> {
    /// A counter the host knows as `id` (`None`: not defined, nothing counted).
    pub fn new(id: Option<Id>) -> BatchedCounter<Id> {
        BatchedCounter { id, pending: AtomicU64::new(0) }
    }

    /// Counts one; a batch `(id, n)` to hand to the host now once [`FLUSH_EVERY`] gathered.
    pub fn increment(&self) -> Option<(Id, u64)> {
        let id = self.id?;
        if self.pending.fetch_add(1, Ordering::Relaxed) + 1 < FLUSH_EVERY {
            return None;
        }
        self.take_with(id)
    }

    /// Everything not yet handed over (for the periodic flush).
    pub fn take(&self) -> Option<(Id, u64)> {
        self.take_with(self.id?)
    }

    fn take_with(&self, id: Id) -> Option<(Id, u64)> {
        let n = self.pending.swap(0, Ordering::Relaxed);
        (n > 0).then_some((id, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_budget_is_exact_across_threads() {
        let buckets = Arc::new(Buckets::default());
        let allowed = Arc::new(AtomicUsize::new(0));
        let limit = Limit { requests_per_second: 0.001, burst: 1000.0 };
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (buckets, allowed, limit) = (buckets.clone(), allowed.clone(), limit.clone());
                std::thread::spawn(move || {
                    for _ in 0..500 {
                        if buckets.spend("acme", &limit, 1.0, 1_000).allowed {
                            allowed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(allowed.load(Ordering::SeqCst), 1000, "N allowed, never N+1");
        assert!(buckets.spend("globex", &limit, 1.0, 1_000).allowed, "tenants have their own buckets");
    }

    #[test]
    fn batched_counts_are_never_lost() {
        let c = Arc::new(BatchedCounter::new(Some(7usize)));
        let flushed = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (c, flushed) = (c.clone(), flushed.clone());
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        if let Some((id, n)) = c.increment() {
                            assert_eq!(id, 7);
                            flushed.fetch_add(n, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let rest = c.take().map_or(0, |(_, n)| n);
        assert_eq!(flushed.load(Ordering::SeqCst) + rest, 4000);
        assert!(rest < FLUSH_EVERY * 4, "batches go out as they fill");
        assert_eq!(c.take(), None, "taken once");
    }

    #[test]
    fn an_undefined_counter_counts_nothing() {
        let c = BatchedCounter::<usize>::new(None);
        assert!((0..FLUSH_EVERY * 2).all(|_| c.increment().is_none()));
        assert_eq!(c.take(), None);
    }

    #[test]
    fn tokens_are_shared() {
        let tokens = Tokens::new(4);
        let id = Arc::new(Identity { tenant: "a".into(), subject: None, plan: None, scopes: vec![] });
        tokens.store().insert("t", id, 100, 0);
        assert_eq!(tokens.store().get("t", &Clock::at(50_000)).map(|i| i.tenant.clone()), Some("a".into()));
        tokens.clear();
        assert!(tokens.store().get("t", &Clock::at(50_000)).is_none());
    }
}
