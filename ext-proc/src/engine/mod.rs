//! The engine: the floor between the translators (REST, Documents, GraphQL,
//! Data API) and the stores. Translators hand it typed operations
//! ([`rows`], [`schema`]) and get typed results back (rows plus the next
//! page's cursor, applied or not, created or existed); it owns what every
//! API must do the same way: catalog use and its invalidation, paging
//! cursors ([`page`]), conditional writes, expiry and TTL. Failures are a
//! [`Fault`]; no HTTP, JSON envelope or GraphQL type is known here.

pub mod collections;
pub mod docs;
pub mod page;
pub mod rows;
pub mod schema;

pub mod meter;

use crate::catalog::Catalog;
use crate::config::Limits;
use crate::fault::Fault;
use crate::model::{check_ident, Namespace};
use crate::store::docs::DocStore;
use crate::store::{Store, StoreError};
use std::sync::Arc;

/// The store, catalog and limits: what every translator runs its
/// operations against. Cheap to clone into GraphQL resolvers.
#[derive(Clone)]
pub struct Engine {
    /// Tables and rows.
    pub store: Arc<dyn Store>,
    /// Document collections.
    pub docs: Arc<dyn DocStore>,
    /// Cached definitions.
    pub catalog: Arc<Catalog>,
    /// Request limits.
    pub limits: Arc<Limits>,
}

impl Engine {
    /// The borrowed view one request runs its operations through.
    pub fn ctx(&self) -> Ctx<'_> {
        Ctx { store: self.store.as_ref(), docs: self.docs.as_ref(), catalog: &self.catalog, limits: &self.limits }
    }
}

/// One request's borrowed view of the [`Engine`]: the operations take it.
pub struct Ctx<'a> {
    /// The store for this deployment.
    pub store: &'a dyn Store,
    /// The same store's document face.
    pub docs: &'a dyn DocStore,
    /// Table definitions, cached.
    pub catalog: &'a Catalog,
    /// Request limits.
    pub limits: &'a Limits,
}

impl Ctx<'_> {
    /// A storage error; when it says the table changed shape under us, the
    /// cached definitions are dropped so the client's retry sees the new one.
    pub(crate) fn stale(&self, ns: &Namespace, e: StoreError) -> Fault {
        if matches!(e, StoreError::SchemaChanged | StoreError::TableNotFound(_)) {
            self.catalog.invalidate(ns);
        }
        e.into()
    }
}

/// Cassandra's longest TTL: 20 years, in seconds.
pub const MAX_TTL_SECONDS: u64 = 630_720_000;

/// Milliseconds since the epoch: the sidecar clock decides expiry.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A tenant's keyspace, its name checked.
pub fn namespace(tenant: &str, keyspace: &str) -> Result<Namespace, Fault> {
    check_ident("keyspace", keyspace).map_err(Fault::Invalid)?;
    Ok(Namespace { tenant: tenant.to_owned(), keyspace: keyspace.to_owned() })
}
