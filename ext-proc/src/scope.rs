//! What the code serving one request knows about the request as a whole: its
//! id (Envoy's `x-request-id`, for logs), its tenant's share of the store's
//! connections, and whether it was abandoned (timed out), so that a store can
//! tell an abandoned connection from a finished one; and its usage [`Meter`],
//! which the engine's metering store adds to on every storage call.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// One request's scope.
#[derive(Clone)]
struct Scope {
    id: String,
    slots: Option<crate::admission::Slots>,
    abandoned: Arc<AtomicBool>,
    meter: Option<Arc<Meter>>,
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
    run_metered(id, slots, None, limit, fut).await
}

/// [`run`], counting what the request's storage calls did into `meter`.
pub async fn run_metered<F: Future>(
    id: String,
    slots: Option<crate::admission::Slots>,
    meter: Option<Arc<Meter>>,
    limit: std::time::Duration,
    fut: F,
) -> Option<F::Output> {
    let abandoned = Arc::new(AtomicBool::new(false));
    let scope = Scope { id, slots, abandoned: abandoned.clone(), meter };
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
    SCOPE.scope(Scope { id, slots: None, abandoned: Arc::new(AtomicBool::new(false)), meter: None }, fut).await
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

/// The current request's meter; `None` outside a metered request (the
/// sweeper, the health probe, the usage flush: not billed to anyone).
pub fn meter() -> Option<Arc<Meter>> {
    SCOPE.try_with(|s| s.meter.clone()).ok().flatten()
}

/// What one request's storage calls did. Atomic because GraphQL resolvers
/// of one request may run storage calls concurrently.
#[derive(Debug, Default)]
pub struct Meter {
    /// Storage calls that read rows or documents (select, get, search).
    pub read_calls: AtomicU64,
    /// Storage calls that wrote or deleted rows or documents.
    pub write_calls: AtomicU64,
    /// DDL calls (keyspaces, tables, columns, indexes, collections, schemas).
    pub ddl_calls: AtomicU64,
    /// Rows returned by the store.
    pub rows_read: AtomicU64,
    /// Rows inserted or updated.
    pub rows_written: AtomicU64,
    /// Rows deleted.
    pub rows_deleted: AtomicU64,
    /// Documents returned by the store.
    pub docs_read: AtomicU64,
    /// Documents stored.
    pub docs_written: AtomicU64,
    /// Documents deleted.
    pub docs_deleted: AtomicU64,
    /// Bytes of the rows and documents read.
    pub bytes_read: AtomicU64,
    /// Bytes of the rows and documents written.
    pub bytes_written: AtomicU64,
    /// Time spent in storage calls, microseconds (summed: concurrent calls add up).
    pub storage_us: AtomicU64,
}

/// A plain copy of a [`Meter`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// See [`Meter::read_calls`].
    pub read_calls: u64,
    /// See [`Meter::write_calls`].
    pub write_calls: u64,
    /// See [`Meter::ddl_calls`].
    pub ddl_calls: u64,
    /// See [`Meter::rows_read`].
    pub rows_read: u64,
    /// See [`Meter::rows_written`].
    pub rows_written: u64,
    /// See [`Meter::rows_deleted`].
    pub rows_deleted: u64,
    /// See [`Meter::docs_read`].
    pub docs_read: u64,
    /// See [`Meter::docs_written`].
    pub docs_written: u64,
    /// See [`Meter::docs_deleted`].
    pub docs_deleted: u64,
    /// See [`Meter::bytes_read`].
    pub bytes_read: u64,
    /// See [`Meter::bytes_written`].
    pub bytes_written: u64,
    /// See [`Meter::storage_us`].
    pub storage_us: u64,
}

impl Meter {
    /// Adds `n` to one counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> Counts {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Counts {
            read_calls: g(&self.read_calls),
            write_calls: g(&self.write_calls),
            ddl_calls: g(&self.ddl_calls),
            rows_read: g(&self.rows_read),
            rows_written: g(&self.rows_written),
            rows_deleted: g(&self.rows_deleted),
            docs_read: g(&self.docs_read),
            docs_written: g(&self.docs_written),
            docs_deleted: g(&self.docs_deleted),
            bytes_read: g(&self.bytes_read),
            bytes_written: g(&self.bytes_written),
            storage_us: g(&self.storage_us),
        }
    }
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
