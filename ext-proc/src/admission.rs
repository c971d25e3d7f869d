//! Per-tenant shares of the store's connections: each tenant may hold at most
//! its share of the pooled connections at once, so one tenant's slow work (a
//! locked table, a heavy scan) cannot take every connection while other
//! tenants wait. Only connection use is limited — a tenant's requests still
//! parse, route and serialize side by side — and a request whose tenant holds
//! its whole share waits briefly for a slot, then is answered 503 with
//! `Retry-After`.

use crate::fastmap::FastMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Above this many tenants remembered, idle ones are forgotten.
const PRUNE_ABOVE: usize = 4096;

/// Every tenant's connection slots.
pub struct TenantGate {
    share: usize,
    wait: Duration,
    tenants: Mutex<FastMap<String, Arc<Semaphore>>>,
}

/// One tenant's slots, carried by each of its requests (see [`crate::scope`]).
#[derive(Clone)]
pub struct Slots {
    slots: Arc<Semaphore>,
    share: usize,
    wait: Duration,
}

/// A held slot: one pooled connection's worth of the tenant's share.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
}

/// The tenant holds its whole share; the store answers it as unavailable (503).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this tenant already holds {share} of the store's connections, its share; retry shortly")]
pub struct OverShare {
    /// The tenant's share.
    pub share: usize,
}

impl TenantGate {
    /// A gate letting each tenant hold `share` connections at once, a request
    /// waiting at most `wait` for a slot.
    pub fn new(share: usize, wait: Duration) -> TenantGate {
        TenantGate { share: share.max(1), wait, tenants: Mutex::new(FastMap::default()) }
    }

    /// The slots of `tenant`.
    pub fn slots(&self, tenant: &str) -> Slots {
        let fresh = || Arc::new(Semaphore::new(self.share));
        let slots = match self.tenants.lock() {
            Ok(mut tenants) => {
                if tenants.len() > PRUNE_ABOVE {
                    let share = self.share;
                    tenants.retain(|_, s| Arc::strong_count(s) > 1 || s.available_permits() < share);
                }
                tenants.entry(tenant.to_owned()).or_insert_with(fresh).clone()
            }
            // A poisoned map only loses the sharing between this request and others.
            Err(_) => fresh(),
        };
        Slots { slots, share: self.share, wait: self.wait }
    }
}

impl Slots {
    /// Takes a slot, or says the tenant holds its whole share.
    pub async fn take(&self) -> Result<Slot, OverShare> {
        match tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Slot { _permit: permit }),
            _ => Err(OverShare { share: self.share }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;
    use crate::store::StoreError;

    #[tokio::test]
    async fn a_tenant_over_its_share_is_refused_while_others_pass() {
        let gate = TenantGate::new(2, Duration::from_millis(20));
        let a = gate.slots("a");
        let a1 = a.take().await.unwrap();
        let _a2 = gate.slots("a").take().await.unwrap();
        let refused = ApiError::from(StoreError::from(a.take().await.err().unwrap()));
        assert_eq!(refused.status(), 503);
        assert!(refused.to_string().contains("holds 2 of the store's connections"), "{refused}");
        let r = refused.into_response();
        assert!(r.headers.iter().any(|(k, _)| k == "retry-after"), "a 503 says when to retry");
        assert!(gate.slots("b").take().await.is_ok(), "another tenant is not held up");
        drop(a1);
        assert!(a.take().await.is_ok(), "a freed slot is reused");
    }
}
