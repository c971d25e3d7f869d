//! The one place that maps every error to an HTTP status and a JSON body.
//!
//! Handlers return [`ApiError`]; the domain error ([`Fault`]) and storage
//! errors convert into it. Nothing else
//! in the sidecar chooses a status code for a failure.

use crate::fault::Fault;
use crate::http::ApiResponse;
pub use crate::scope::{request_id, with_request_id};
use crate::store::StoreError;
use serde_json::json;

/// Everything a request can fail with, phrased for the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request is malformed or names something invalid (400).
    #[error("{0}")]
    BadRequest(String),
    /// No tenant reached the sidecar: the edge filter did not authenticate the request (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The caller is known but may not do this (403), e.g. read another tenant's usage.
    #[error("{0}")]
    Forbidden(String),
    /// The path names a keyspace, table or route that does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not for this method (405); `allow` lists the
    /// methods it serves, for the `Allow` header (RFC 9110 §15.5.6).
    #[error("{message}")]
    MethodNotAllowed {
        /// What the client sees in `description`.
        message: String,
        /// The methods served there, e.g. `GET, POST`.
        allow: &'static str,
    },
    /// The thing being created already exists (409).
    #[error("{0}")]
    Conflict(String),
    /// The body is above the configured limit (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The store cannot be reached right now (503, retryable).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The store did not answer within the configured timeout (504).
    #[error("storage did not answer within {0} ms")]
    Timeout(u64),
    /// A fault on our side that the client can do nothing about (500).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized(_) => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::Conflict(_) => 409,
            ApiError::PayloadTooLarge(_) => 413,
            ApiError::Internal(_) => 500,
            ApiError::Unavailable(_) => 503,
            ApiError::Timeout(_) => 504,
        }
    }

    /// What the client is told. An internal error's detail (driver messages,
    /// statement text) stays in the log, under the request id the client gets.
    pub fn public_description(&self) -> String {
        let status = self.status();
        let id = request_id();
        if status >= 500 {
            tracing::warn!(request_id = %id, status, error = %self, "request failed on the server side");
        }
        match self {
            ApiError::Internal(_) => {
                format!("internal error; the gateway log has the details under request id {id}")
            }
            other => other.to_string(),
        }
    }

    /// The response a client sees: `{"description": ..., "code": ...}`.
    pub fn into_response(self) -> ApiResponse {
        let status = self.status();
        let mut response =
            ApiResponse::json(status, json!({ "description": self.public_description(), "code": status }));
        if matches!(self, ApiError::Unavailable(_)) {
            response.headers.push(("retry-after".to_owned(), "1".to_owned()));
        }
        if let ApiError::MethodNotAllowed { allow, .. } = self {
            response.headers.push(("allow".to_owned(), allow.to_owned()));
        }
        response
    }
}

impl From<Fault> for ApiError {
    fn from(f: Fault) -> Self {
        match f {
            Fault::Invalid(m) => ApiError::BadRequest(m),
            Fault::NotFound(m) => ApiError::NotFound(m),
            Fault::Conflict(m) => ApiError::Conflict(m),
            Fault::LimitExceeded(m) => ApiError::PayloadTooLarge(m),
            Fault::Unavailable(m) => ApiError::Unavailable(m),
            Fault::Timeout(ms) => ApiError::Timeout(ms),
            Fault::Internal(m) => ApiError::Internal(m),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Fault::from(e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_is_json_with_its_status() {
        let cases = [
            (ApiError::BadRequest("x".into()), 400),
            (ApiError::NotFound("x".into()), 404),
            (ApiError::Conflict("x".into()), 409),
            (ApiError::PayloadTooLarge("x".into()), 413),
            (ApiError::Unavailable("x".into()), 503),
            (ApiError::Timeout(5), 504),
        ];
        for (err, status) in cases {
            let r = err.into_response();
            assert_eq!(r.status, status);
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(body["code"], status);
            assert!(body["description"].is_string());
        }
    }

    #[tokio::test]
    async fn internal_errors_name_the_request_not_the_sql() {
        let err = ApiError::from(StoreError::Internal("sqlite: no such thing in SELECT \"x\" FROM t".into()));
        let r = with_request_id("req-42".into(), async move { err.into_response() }).await;
        assert_eq!(r.status, 500);
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let d = body["description"].as_str().unwrap();
        assert!(d.contains("req-42"), "{d}");
        assert!(!d.contains("SELECT") && !d.contains("sqlite"), "{d}");
        // Client errors keep their full description.
        let r = ApiError::BadRequest("where.year: bad".into()).into_response();
        assert!(String::from_utf8(r.body).unwrap().contains("where.year: bad"));
    }

    #[test]
    fn unavailable_says_when_to_retry() {
        let r = ApiError::from(StoreError::Unavailable("down".into())).into_response();
        assert!(r.headers.iter().any(|(k, _)| k == "retry-after"));
    }
}
