//! What the code serving one request knows about the request as a whole: its
//! id (Envoy's `x-request-id`, for logs), its tenant's share of the store's
//! connections, and whether it was abandoned (timed out), so that a store can
//! tell an abandoned connection from a finished one.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// One request's scope.
#[derive(Clone)]
struct Scope {
    id: String,
    slots: Option<crate::admission::Slots>,
    abandoned: Arc<AtomicBool>,
}

tokio::task_local! {
    static SCOPE: Scope;
}

/// Runs `fut` for request `id` of the tenant owning `slots`, giving up after
/// `limit`: `None` on timeout. Everything `fut` still held when it was given
/// up sees [`Abandoned::is_set`].
pub async fn run<F: Future>(
    id: String,
    slots: Option<crate::admission::Slots>,
    limit: std::time::Duration,
    fut: F,
) -> Option<F::Output> {
    let abandoned = Arc::new(AtomicBool::new(false));
    let scope = Scope { id, slots, abandoned: abandoned.clone() };
    SCOPE
        .scope(scope, async {
            let mut fut = std::pin::pin!(tokio::time::timeout(limit, fut));
            match (&mut fut).await {
                Ok(out) => Some(out),
                Err(_) => {
                    // Set before `fut` is dropped, so the destructors of what it held see it.
                    abandoned.store(true, Ordering::Release);
                    None
                }
            }
        })
        .await
}

/// Runs `fut` as the handling of request `id` (no timeout).
pub async fn with_request_id<F: Future>(id: String, fut: F) -> F::Output {
    SCOPE.scope(Scope { id, slots: None, abandoned: Arc::new(AtomicBool::new(false)) }, fut).await
}

/// Takes one of the current tenant's connection slots, to hold while using a
/// pooled connection; `None` outside a tenant's request (the sweeper, startup).
pub async fn connection_slot() -> Result<Option<crate::admission::Slot>, crate::admission::OverShare> {
    match SCOPE.try_with(|s| s.slots.clone()).ok().flatten() {
        Some(slots) => slots.take().await.map(Some),
        None => Ok(None),
    }
}

/// The current request's id, or `-` outside a request.
pub fn request_id() -> String {
    SCOPE.try_with(|s| s.id.clone()).unwrap_or_else(|_| "-".to_owned())
}

/// Whether the current request has been given up; cheap to check in `Drop`.
#[derive(Clone, Default)]
pub struct Abandoned(Option<Arc<AtomicBool>>);

impl Abandoned {
    /// The flag of the current request (never set outside a request).
    pub fn current() -> Abandoned {
        Abandoned(SCOPE.try_with(|s| s.abandoned.clone()).ok())
    }

    /// Whether the request was given up while this was held.
    pub fn is_set(&self) -> bool {
        self.0.as_ref().is_some_and(|a| a.load(Ordering::Acquire))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    struct Probe(Abandoned, Arc<AtomicBool>);
    impl Drop for Probe {
        fn drop(&mut self) {
            self.1.store(self.0.is_set(), Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn a_timed_out_request_is_seen_as_abandoned_by_what_it_held() {
        let seen = Arc::new(AtomicBool::new(false));
        let s = seen.clone();
        let out = run("r1".into(), None, Duration::from_millis(20), async move {
            let _probe = Probe(Abandoned::current(), s);
            assert_eq!(request_id(), "r1");
            tokio::time::sleep(Duration::from_secs(60)).await;
        })
        .await;
        assert!(out.is_none());
        assert!(seen.load(Ordering::SeqCst), "the probe saw the flag when dropped");

        let seen = Arc::new(AtomicBool::new(true));
        let s = seen.clone();
        let out = run("r2".into(), None, Duration::from_secs(5), async move {
            let _probe = Probe(Abandoned::current(), s);
        })
        .await;
        assert!(out.is_some() && !seen.load(Ordering::SeqCst), "a finished request is not abandoned");
        assert_eq!(request_id(), "-");
    }
}
