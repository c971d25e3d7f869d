//! Development tokens: HS256 JWTs signed with the dev key that the shipped
//! gateway config trusts. For local use only; production issuers mint their own.

use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The development signing secret. The shipped Envoy config trusts it as key
/// [`DEV_KID`] (a JWK in the edge filter's template, base64url-encoded; a test
/// below keeps the two in step).
pub const DEV_SECRET: &str = "datagate-development-secret-do-not-use-in-production";
/// Key id of the development key.
pub const DEV_KID: &str = "dev";

/// Mints a token for `tenant` valid for `ttl`.
pub fn mint(secret: &[u8], kid: &str, tenant: &str, subject: &str, ttl: Duration) -> anyhow::Result<String> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let header = Header { kid: Some(kid.to_owned()), ..Header::default() };
    let claims = json!({ "tenant": tenant, "sub": subject, "iat": now, "exp": now + ttl.as_secs() });
    Ok(encode(&header, &claims, &EncodingKey::from_secret(secret))?)
}

/// A new random API key and its `apiKeys` configuration entry (hash only).
/// Keys are 32 random bytes, base64url: no '.', so they never look like a JWT.
pub fn api_key(tenant: &str, plan: Option<&str>, name: Option<&str>) -> (String, serde_json::Value) {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    let key = format!("dg_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    // The filter's own hash format, so a minted entry always matches what it checks.
    let hash = datagate_filter::apikey::hash_hex(&key);
    let mut entry = json!({ "sha256": hash, "tenant": tenant });
    if let Some(p) = plan {
        entry["plan"] = json!(p);
    }
    if let Some(n) = name {
        entry["name"] = json!(n);
    }
    (key, entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn the_shipped_config_trusts_the_dev_key() {
        let k = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(DEV_SECRET);
        let template = crate::envoy_config::templates::HTTP_FILTERS;
        assert!(template.contains(&format!("\"kid\": \"{DEV_KID}\"")), "{template}");
        assert!(template.contains(&format!("\"k\": \"{k}\"")), "{template}");
    }
}
