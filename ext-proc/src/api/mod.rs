//! The HTTP API surface: parsing requests into plans and shaping responses.
//! Pure translation — storage is reached only through [`crate::store::Store`].

pub mod columns;
pub mod page;
pub mod rows;
pub mod schema;

use crate::catalog::Catalog;
use crate::error::ApiError;
use crate::http::{ApiRequest, ApiResponse};
use serde_json::{json, Value as Json};

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

/// A JSON request body as `T` (duplicate keys and deep nesting refused first).
pub(crate) fn body<T: serde::de::DeserializeOwned>(req: &ApiRequest) -> Result<T, ApiError> {
    let value = crate::json::parse("request body", &req.body)?;
    serde_json::from_value(value).map_err(|e| ApiError::BadRequest(format!("request body: {e}")))
}

/// 200 with `{"data": value}`, or the bare value with `raw=true`.
pub(crate) fn raw_or_data(req: &ApiRequest, value: Json) -> Result<ApiResponse, ApiError> {
    if req.flag("raw", false)? {
        Ok(ApiResponse::json(200, value))
    } else {
        Ok(ApiResponse::json(200, json!({ "data": value })))
    }
}
