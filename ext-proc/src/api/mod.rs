//! The HTTP API surface: parsing requests into plans and shaping responses.
//! Thin translators: HTTP request → [`crate::engine`] operation → JSON response.

pub mod collections;
pub mod columns;
pub mod docs;
pub mod indexes;
pub mod rows;
pub mod schema;

use crate::error::ApiError;
use crate::http::{ApiRequest, ApiResponse};
use serde_json::{json, Value as Json};

/// The OpenAPI 3.1 document for the whole HTTP surface, served at
/// `/v2/openapi.json`; the end-to-end tests validate real responses against it.
pub const OPENAPI: &str = include_str!("openapi.json");

pub use crate::engine::Ctx;

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

/// The `ttl` query parameter in seconds, if given (the engine checks its range).
pub(crate) fn ttl_param(req: &ApiRequest) -> Result<Option<i64>, ApiError> {
    match req.param("ttl")? {
        None => Ok(None),
        Some(text) => text.parse::<i64>().map(Some).map_err(|_| {
            ApiError::BadRequest(format!(
                "ttl must be whole seconds from 0 to {}, got '{text}'",
                crate::engine::MAX_TTL_SECONDS
            ))
        }),
    }
}

/// The `page-size` parameter as a number, if given (the engine checks it against `max`).
pub(crate) fn page_size_param(req: &ApiRequest, max: u32) -> Result<Option<i64>, ApiError> {
    match req.param("page-size")? {
        None => Ok(None),
        Some(text) => text
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::BadRequest(format!("page-size must be an integer from 1 to {max}, got '{text}'"))),
    }
}
