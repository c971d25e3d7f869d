//! State one Envoy process shares across its worker threads, for hosts whose
//! workers share memory (the native dynamic module): per-tenant token buckets
//! and the verified-token cache, behind locks. Exact under concurrency: a
//! spend reads, decides and writes under one lock, so a budget of N allows N.
//! (The proxy-wasm host cannot use this: each worker is its own VM, so it keeps
//! buckets in proxy-wasm shared data instead.)

use crate::auth::TokenStore;
use crate::cache::TokenCache;
use crate::identity::Identity;
use crate::ratelimit::{self, Bucket, Decision, Limit};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
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
            if buckets.len() >= MAX_TENANTS_PER_SHARD && !buckets.contains_key(tenant) {
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
    fn get(&mut self, token: &str, now: u64) -> Option<Arc<Identity>> {
        lock(self.0).get(token, now).cloned()
    }
    fn insert(&mut self, token: &str, identity: Arc<Identity>, exp: u64, now: u64) {
        lock(self.0).insert(token, identity, exp, now);
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
    fn tokens_are_shared() {
        let tokens = Tokens::new(4);
        let id = Arc::new(Identity { tenant: "a".into(), subject: None, plan: None, scopes: vec![] });
        tokens.store().insert("t", id, 100, 0);
        assert_eq!(tokens.store().get("t", 50).map(|i| i.tenant.clone()), Some("a".into()));
        tokens.clear();
        assert!(tokens.store().get("t", 50).is_none());
    }
}
