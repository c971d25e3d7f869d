//! Per-tenant token buckets in proxy-wasm shared data: one budget per Envoy
//! process, shared by every worker thread and exact under concurrency.
//!
//! Spending is a compare-and-swap loop: read the bucket and its CAS token,
//! compute with [`ratelimit::take`], write back only if nobody wrote in between.
//! Shared data has no create-if-absent, so creating a tenant's bucket takes a
//! tiny spin lock (itself a CAS-updated key) to stop two workers from both
//! creating it and one overwriting the other's first spend.

use crate::ratelimit::{self, Bucket, Decision, Lease, Limit};
use proxy_wasm::hostcalls;
use proxy_wasm::types::Status;

const LOCK: &str = "datagate.rl.lock";
/// A lock older than this was left by a VM that went away; it may be taken over.
const STALE_LOCK_MS: u64 = 100;
const MAX_ATTEMPTS: usize = 256;

/// Makes sure the lock key exists (each worker's `on_configure`, before traffic).
pub fn init() {
    if let Ok((None, _)) = hostcalls::get_shared_data(LOCK) {
        let _ = hostcalls::set_shared_data(LOCK, Some(&[0]), None);
    }
}

/// The key holding a tenant's bucket.
pub fn key(tenant: &str) -> String {
    format!("datagate.rl.t.{tenant}")
}

/// Spends `cost` from the bucket at `key`, leasing tokens for this worker when
/// the bucket has plenty ([`ratelimit::take_with_lease`]); `None` if shared data
/// kept failing (the caller then lets the request through and counts the error).
pub fn spend(key: &str, limit: &Limit, cost: f64, now_ms: u64) -> Option<(Decision, Option<Lease>)> {
    for _ in 0..MAX_ATTEMPTS {
        let (bytes, cas) = hostcalls::get_shared_data(key).ok()?;
        let (Some(bytes), Some(cas)) = (bytes, cas) else {
            create(key, limit, now_ms);
            continue;
        };
        let (d, lease) = ratelimit::take_with_lease(Bucket::decode(&bytes), limit, cost, now_ms);
        if !d.allowed {
            // Nothing was spent: no write, no contention.
            return Some((d, None));
        }
        match hostcalls::set_shared_data(key, Some(&d.bucket.encode()), Some(cas)) {
            Ok(()) => return Some((d, lease)),
            Err(Status::CasMismatch) => continue,
            Err(_) => return None,
        }
    }
    None
}

fn create(key: &str, limit: &Limit, now_ms: u64) {
    let mine = {
        let mut v = vec![1u8];
        v.extend_from_slice(&now_ms.to_le_bytes());
        v
    };
    for _ in 0..MAX_ATTEMPTS * 4 {
        let Ok((lock, cas)) = hostcalls::get_shared_data(LOCK) else { return };
        let held = lock.as_deref().is_some_and(|v| {
            let since = v.get(1..9).and_then(|b| b.try_into().ok()).map_or(0, u64::from_le_bytes);
            v.first() == Some(&1) && now_ms.saturating_sub(since) < STALE_LOCK_MS
        });
        if held || hostcalls::set_shared_data(LOCK, Some(&mine), cas).is_err() {
            continue;
        }
        if let Ok((None, _)) = hostcalls::get_shared_data(key) {
            let full = Bucket { tokens: limit.burst, updated_ms: now_ms };
            let _ = hostcalls::set_shared_data(key, Some(&full.encode()), None);
        }
        if let Ok((_, cas)) = hostcalls::get_shared_data(LOCK) {
            let _ = hostcalls::set_shared_data(LOCK, Some(&[0]), cas);
        }
        return;
    }
}
