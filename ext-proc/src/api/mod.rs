//! The HTTP API surface: parsing requests into plans and shaping responses.
//! Pure translation — storage is reached only through [`crate::store::Store`].

pub mod columns;
pub mod page;
pub mod rows;
pub mod schema;

use crate::catalog::Catalog;

/// The OpenAPI 3.1 document for the whole HTTP surface, served at
/// `/v2/openapi.json`; the end-to-end tests validate real responses against it.
pub const OPENAPI: &str = include_str!("openapi.json");
use crate::config::Limits;
use crate::store::Store;

/// What a handler needs besides the request.
pub struct Ctx<'a> {
    /// The store for this deployment.
    pub store: &'a dyn Store,
    /// Table definitions, cached.
    pub catalog: &'a Catalog,
    /// Request limits.
    pub limits: &'a Limits,
}
