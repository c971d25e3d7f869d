//! The HTTP request and response as the API layer sees them, independent of
//! how they travelled (ext_proc today, anything else tomorrow).

use crate::fault::Fault;
use std::borrow::Cow;

/// Header Envoy sets to identify a request in its logs and ours.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// One decoded HTTP request.
#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    /// Method as sent: methods are case-sensitive (RFC 9110 §9.1), so `get` is
    /// not `GET` and gets a 405.
    pub method: String,
    /// Path without the query string, still percent-encoded.
    pub path: String,
    /// Decoded query parameters in order.
    pub query: Vec<(String, String)>,
    /// Tenant set by the edge filter; the only source of tenancy.
    pub tenant: Option<String>,
    /// The `content-type` header, when the client sent one.
    pub content_type: Option<String>,
    /// Request body (empty when there is none).
    pub body: Vec<u8>,
    /// Envoy's `x-request-id`: internal errors are logged under it.
    pub request_id: Option<String>,
    /// The plan the edge filter counted the request against (`x-tenant-plan`).
    pub plan: Option<String>,
    /// The `accept` header (`text/csv` asks the usage endpoints for CSV).
    pub accept: Option<String>,
}

impl ApiRequest {
    /// Builds a request from a method and a raw `:path` (with query string).
    pub fn new(method: &str, raw_path: &str) -> ApiRequest {
        let (path, query) = raw_path.split_once('?').unwrap_or((raw_path, ""));
        ApiRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            query: form_urlencoded::parse(query.as_bytes()).into_owned().collect(),
            tenant: None,
            content_type: None,
            body: Vec::new(),
            request_id: None,
            plan: None,
            accept: None,
        }
    }

    /// Builds a request from its method, raw `:path` and a lookup of its
    /// headers (by lower-case name): the one reading of the headers, whichever
    /// transport carried them (ext_proc or plain HTTP, see [`crate::upstream`]).
    pub fn from_headers(method: &str, raw_path: &str, get: impl Fn(&str) -> Option<String>) -> ApiRequest {
        use datagate_filter::identity::{valid_tenant, PLAN_HEADER, TENANT_HEADER};
        let mut req = ApiRequest::new(method, raw_path);
        // Only the edge filter sets it, and only to a valid id; anything else (a
        // route around the filter) counts as no tenant: the sidecar never acts for
        // a tenant the edge could not have named, and tenant ids name files.
        req.tenant = get(TENANT_HEADER).filter(|t| valid_tenant(t));
        req.content_type = get("content-type");
        req.request_id = get(REQUEST_ID_HEADER).filter(|t| !t.is_empty());
        req.plan = get(PLAN_HEADER).filter(|t| !t.is_empty());
        req.accept = get("accept");
        req
    }

    /// The single value of a query parameter; given twice is a client error.
    pub fn param(&self, name: &str) -> Result<Option<&str>, Fault> {
        let mut found = self.query.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let first = found.next();
        if found.next().is_some() {
            return Err(Fault::Invalid(format!("query parameter '{name}' is given more than once")));
        }
        Ok(first)
    }

    /// A boolean query parameter (`true`/`false`), with its default.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, Fault> {
        match self.param(name)? {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(Fault::Invalid(format!("query parameter '{name}' must be true or false, got '{v}'"))),
        }
    }

    /// The path split into percent-decoded segments.
    pub fn segments(&self) -> Result<Vec<Cow<'_, str>>, Fault> {
        let mut out = Vec::with_capacity(8);
        for s in self.path.split('/').filter(|s| !s.is_empty()) {
            // Most segments hold no escape: borrowed as they are (already
            // UTF-8), without the decoder's byte-by-byte pass.
            if !s.contains('%') {
                out.push(Cow::Borrowed(s));
                continue;
            }
            let decoded = percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map_err(|_| Fault::Invalid(format!("path segment '{s}' is not valid UTF-8 once decoded")))?;
            out.push(decoded);
        }
        Ok(out)
    }
}

/// One response, always JSON (or empty for 204).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// Extra headers besides `content-type`.
    pub headers: Vec<(String, String)>,
    /// Serialized JSON body, empty for 204.
    pub body: Vec<u8>,
}

impl ApiResponse {
    /// A JSON response.
    pub fn json(status: u16, value: serde_json::Value) -> ApiResponse {
        // Straight into the buffer (`to_string` goes through `fmt::Display`, a
        // call per token); a `Value` always serializes (its keys are strings).
        ApiResponse { status, headers: Vec::new(), body: serde_json::to_vec(&value).unwrap_or_default() }
    }

    /// Every header to send, whichever transport carries the answer: its own,
    /// after `content-type: application/json` unless it set another (CSV, the
    /// playground's HTML).
    pub fn headers_to_send(&self) -> impl Iterator<Item = (&str, &str)> {
        let own = self.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        let default = (!own).then_some(("content-type", "application/json"));
        default.into_iter().chain(self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// 204 No Content.
    pub fn no_content() -> ApiResponse {
        ApiResponse { status: 204, headers: Vec::new(), body: Vec::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_decoded() {
        let r = ApiRequest::new("GET", r#"/v2/keyspaces/blog/vehicle?where={"manufacturer":{"$eq":"Tesla"}}&raw=true"#);
        assert_eq!(r.method, "GET");
        assert_eq!(ApiRequest::new("get", "/").method, "get", "methods are case-sensitive");
        assert_eq!(r.param("where").unwrap(), Some(r#"{"manufacturer":{"$eq":"Tesla"}}"#));
        assert!(r.flag("raw", false).unwrap());
        let r = ApiRequest::new("GET", "/x?where=%7B%22a%22%3A1%7D&where=2");
        assert!(r.param("where").is_err());
    }

    #[test]
    fn json_unless_the_answer_says_otherwise() {
        let json = ApiResponse::no_content();
        assert_eq!(json.headers_to_send().collect::<Vec<_>>(), [("content-type", "application/json")]);
        let csv = ApiResponse { status: 200, headers: vec![("Content-Type".into(), "text/csv".into())], body: vec![] };
        assert_eq!(csv.headers_to_send().collect::<Vec<_>>(), [("Content-Type", "text/csv")]);
    }

    #[test]
    fn segments_are_percent_decoded() {
        let r = ApiRequest::new("GET", "/v2/keyspaces/blog/vehicle/Tesla%20Inc/Model%2FS");
        assert_eq!(r.segments().unwrap(), ["v2", "keyspaces", "blog", "vehicle", "Tesla Inc", "Model/S"]);
        assert!(ApiRequest::new("GET", "/a/%FF").segments().is_err());
        // Empty segments (doubled, leading, trailing slashes) are not segments.
        assert_eq!(ApiRequest::new("GET", "//v2//keyspaces/").segments().unwrap(), ["v2", "keyspaces"]);
        assert!(ApiRequest::new("GET", "/").segments().unwrap().is_empty());
        // An escaped slash or percent stays inside its segment.
        assert_eq!(ApiRequest::new("GET", "/a%2Fb/100%25").segments().unwrap(), ["a/b", "100%"]);
    }
}
