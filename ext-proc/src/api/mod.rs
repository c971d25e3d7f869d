//! The HTTP API surface: parsing requests into plans and shaping responses.
//! Pure translation — storage is reached only through [`crate::store::Store`].

pub mod collections;
pub mod columns;
pub mod docs;
pub mod indexes;
pub mod page;
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

/// Cassandra's longest TTL: 20 years.
pub(crate) const MAX_TTL_SECONDS: u64 = 630_720_000;

/// The `ttl` query parameter in seconds, if given (0 means none).
pub(crate) fn ttl_param(req: &ApiRequest) -> Result<Option<u64>, ApiError> {
    match req.param("ttl")? {
        None => Ok(None),
        Some(text) => match text.parse::<u64>() {
            Ok(n) if n <= MAX_TTL_SECONDS => Ok(Some(n)),
            _ => Err(ApiError::BadRequest(format!(
                "ttl must be whole seconds from 0 to {MAX_TTL_SECONDS}, got '{text}'"
            ))),
        },
    }
}

/// Milliseconds since the epoch (the sidecar clock decides expiry).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The `page-size` parameter, between 1 and `max`.
pub(crate) fn page_size(req: &ApiRequest, default: u32, max: u32) -> Result<u32, ApiError> {
    match req.param("page-size")? {
        None => Ok(default.min(max)),
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::BadRequest(format!("page-size must be an integer from 1 to {max}, got '{text}'"))),
        },
    }
}
