//! Rejections: the JSON body and headers a client gets when the filter says no.

/// A decision to answer the request at the edge instead of forwarding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// HTTP status (401 or 403 today; 429 with rate limiting).
    pub status: u32,
    /// What went wrong, phrased so a client can act on it.
    pub description: String,
    /// Short stat-friendly reason, e.g. `expired`.
    pub reason: &'static str,
    /// Headers besides content type and the 401 challenge (e.g. `Retry-After`).
    pub extra_headers: Vec<(&'static str, String)>,
}

impl Rejection {
    /// 401 for a missing or invalid credential.
    pub fn unauthorized(reason: &'static str, description: impl Into<String>) -> Self {
        Rejection { status: 401, description: description.into(), reason, extra_headers: Vec::new() }
    }

    /// 429 for a tenant over its budget, with `Retry-After` and the rate-limit headers.
    pub fn rate_limited(description: impl Into<String>, headers: Vec<(&'static str, String)>) -> Self {
        Rejection { status: 429, description: description.into(), reason: "rate_limited", extra_headers: headers }
    }

    /// 503 when the global limiter cannot answer and `globalLimit.failureMode` is `closed`.
    pub fn limiter_unavailable() -> Self {
        Rejection {
            status: 503,
            description: "the rate limiter is unavailable; retry shortly".into(),
            reason: "ratelimit_unavailable",
            extra_headers: vec![("retry-after", "1".into())],
        }
    }

    /// The JSON body, `{"description": ..., "code": ...}` like every Datagate error.
    pub fn body(&self) -> Vec<u8> {
        serde_json::json!({ "description": self.description, "code": self.status }).to_string().into_bytes()
    }

    /// Response headers besides the body's content type.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![("content-type", "application/json".to_owned())];
        if self.status == 401 {
            // RFC 6750 §3: the challenge tells OAuth clients to refresh the token.
            let text = self.description.replace('"', "'");
            headers.push(("www-authenticate", format!("Bearer error=\"invalid_token\", error_description=\"{text}\"")));
        }
        headers.extend(self.extra_headers.iter().cloned());
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_json_with_code() {
        let r = Rejection::unauthorized("expired", "token expired");
        let v: serde_json::Value = serde_json::from_slice(&r.body()).unwrap();
        assert_eq!(v["code"], 401);
        assert_eq!(v["description"], "token expired");
        assert!(r.headers().iter().any(|(k, v)| *k == "www-authenticate" && v.contains("invalid_token")));
    }
}
