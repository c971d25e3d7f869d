//! Tokens the shipped edge filter accepts, and reading the gateway's JSON answers.

use super::DEV_SECRET;
use jsonwebtoken::{encode, EncodingKey, Header};
use reqwest::blocking::Response;
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// A token for `tenant` signed with the dev key, valid for an hour.
pub fn token(tenant: &str) -> String {
    let now = now();
    token_with(json!({"tenant": tenant, "sub": "e2e", "iat": now, "exp": now + 3600}), Some("dev"), DEV_SECRET)
}

/// A token with arbitrary claims, key id and secret.
pub fn token_with(claims: Value, kid: Option<&str>, secret: &[u8]) -> String {
    let header = Header { kid: kid.map(str::to_owned), ..Header::default() };
    encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap()
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Status and JSON body of a response (the body must be JSON unless empty).
pub fn json_of(r: Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap_or("").to_owned());
    let text = r.text().unwrap();
    if text.is_empty() {
        return (status, Value::Null);
    }
    assert_eq!(ct.as_deref(), Some("application/json"), "non-JSON response {status}: {text}");
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}")))
}

/// Asserts a Datagate error: status, JSON `{"description","code"}`, description mentioning `needle`.
pub fn assert_error(r: Response, status: u16, needle: &str) {
    let (got, body) = json_of(r);
    assert_eq!(got, status, "unexpected status; body: {body}");
    assert_eq!(body["code"], status, "code field: {body}");
    let d = body["description"].as_str().unwrap_or_else(|| panic!("no description: {body}"));
    assert!(d.contains(needle), "description {d:?} does not mention {needle:?}");
}
