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

    /// The JSON body, `{"description": ..., "code": ...}` like every Datagate
    /// error. A 401 also carries the JSON Data API's error list: astra-db-ts
    /// reads a 401's body as a command reply and raises only when it holds
    /// `errors`; clients of the other APIs ignore the extra member.
    pub fn body(&self) -> Vec<u8> {
        let mut body = serde_json::json!({ "description": self.description, "code": self.status });
        if self.status == 401 {
            let code =
                if self.reason == "missing" { "MISSING_AUTHENTICATION_TOKEN" } else { "UNAUTHENTICATED_REQUEST" };
            body["errors"] = serde_json::json!([{
                "errorCode": code,
                "message": self.description,
                "family": "REQUEST",
                "scope": "AUTHENTICATION",
                "title": "The request could not be authenticated",
            }]);
        }
        body.to_string().into_bytes()
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
        assert_eq!(v["errors"][0]["errorCode"], "UNAUTHENTICATED_REQUEST");
        assert_eq!(v["errors"][0]["message"], "token expired");
        let missing: serde_json::Value =
            serde_json::from_slice(&Rejection::unauthorized("missing", "no token").body()).unwrap();
        assert_eq!(missing["errors"][0]["errorCode"], "MISSING_AUTHENTICATION_TOKEN");
        let limited: serde_json::Value =
            serde_json::from_slice(&Rejection::rate_limited("slow down", Vec::new()).body()).unwrap();
        assert!(limited.get("errors").is_none(), "only a 401 carries the Data API list");
    }
}
