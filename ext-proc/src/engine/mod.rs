//! The engine: the floor between the translators (REST, Documents, GraphQL,
//! Data API) and the stores. It holds the store handle, the catalog of
//! definitions and the limits every operation runs under.
//!
//! Today the translators still run their operations through [`Ctx`]; the
//! typed operations and their usage counts are to move here (issue 13).

pub mod meter;

use crate::catalog::Catalog;
use crate::config::Limits;
use crate::store::docs::DocStore;
use crate::store::Store;
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
    /// The handler context over this environment.
    pub fn ctx(&self) -> Ctx<'_> {
        Ctx { store: self.store.as_ref(), docs: self.docs.as_ref(), catalog: &self.catalog, limits: &self.limits }
    }
}

/// What a handler needs besides the request.
pub struct Ctx<'a> {
    /// The store for this deployment.
    pub store: &'a dyn Store,
    /// The same store's document face.
    pub docs: &'a dyn crate::store::docs::DocStore,
    /// Table definitions, cached.
    pub catalog: &'a Catalog,
    /// Request limits.
    pub limits: &'a Limits,
}
