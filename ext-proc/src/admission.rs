//! Per-tenant admission in front of the store: each tenant may have at most
//! its share of requests in flight, so one tenant's slow work (a locked table,
//! a heavy scan) cannot hold every pooled connection while other tenants
//! wait. A request over its tenant's share waits briefly for a slot, then is
//! answered 503 with `Retry-After`.

use crate::error::ApiError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Above this many idle tenants remembered, idle ones are forgotten.
const PRUNE_ABOVE: usize = 4096;

/// The gate: one counter of in-flight requests per tenant.
pub struct TenantGate {
    share: usize,
    wait: Duration,
    tenants: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// A tenant's slot, held for the whole request.
pub struct Pass {
    _permit: OwnedSemaphorePermit,
}

impl TenantGate {
    /// A gate letting each tenant run `share` requests at once, a request
    /// waiting at most `wait` for a slot.
    pub fn new(share: usize, wait: Duration) -> TenantGate {
        TenantGate { share: share.max(1), wait, tenants: Mutex::new(HashMap::new()) }
    }

    /// Takes a slot for `tenant`, or says the tenant is over its share.
    pub async fn enter(&self, tenant: &str) -> Result<Pass, ApiError> {
        let slots = {
            let mut tenants =
                self.tenants.lock().map_err(|_| ApiError::Internal("tenant gate lock poisoned".to_owned()))?;
            if tenants.len() > PRUNE_ABOVE {
                let share = self.share;
                tenants.retain(|_, s| Arc::strong_count(s) > 1 || s.available_permits() < share);
            }
            tenants.entry(tenant.to_owned()).or_insert_with(|| Arc::new(Semaphore::new(self.share))).clone()
        };
        match tokio::time::timeout(self.wait, slots.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Pass { _permit: permit }),
            _ => Err(ApiError::Unavailable(format!(
                "this tenant already has {} requests in flight, its share of the store; retry shortly",
                self.share
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tenant_over_its_share_is_refused_while_others_pass() {
        let gate = TenantGate::new(2, Duration::from_millis(20));
        let a1 = gate.enter("a").await.unwrap();
        let _a2 = gate.enter("a").await.unwrap();
        let refused = gate.enter("a").await.err().unwrap();
        assert_eq!(refused.status(), 503);
        assert!(refused.to_string().contains("2 requests in flight"), "{refused}");
        let r = refused.into_response();
        assert!(r.headers.iter().any(|(k, _)| k == "retry-after"), "a 503 says when to retry");
        assert!(gate.enter("b").await.is_ok(), "another tenant is not held up");
        drop(a1);
        assert!(gate.enter("a").await.is_ok(), "a freed slot is reused");
    }
}
