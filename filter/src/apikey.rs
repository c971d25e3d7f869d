//! API keys: opaque tokens (Stargate's `X-Cassandra-Token` style) configured
//! only as SHA-256 hashes, so plain keys never appear in config or logs.

use crate::identity::Identity;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// One key as configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiKeyEntry {
    /// Hex SHA-256 of the key (`datagate apikey` prints it).
    pub sha256: String,
    /// Tenant the key acts for.
    pub tenant: String,
    /// Rate-limit plan for the key.
    #[serde(default)]
    pub plan: Option<String>,
    /// A label for logs and the subject header (never the key itself).
    #[serde(default)]
    pub name: Option<String>,
    /// Scopes the key carries, for per-path rules.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// The configured keys, ready for lookup.
#[derive(Debug, Default)]
pub struct ApiKeys {
    entries: Vec<([u8; 32], Arc<Identity>)>,
}

impl ApiKeys {
    /// Validates entries, reporting each bad one by index.
    pub fn parse(raw: &[ApiKeyEntry], errors: &mut Vec<String>) -> ApiKeys {
        let mut entries = Vec::new();
        for (i, e) in raw.iter().enumerate() {
            let Some(hash) = from_hex(&e.sha256) else {
                errors.push(format!("apiKeys[{i}].sha256: must be 64 hex characters (the SHA-256 of the key)"));
                continue;
            };
            if !crate::identity::valid_tenant(&e.tenant) {
                errors.push(format!("apiKeys[{i}].tenant: must be 1-64 letters, digits, '_', '-' or '.'"));
                continue;
            }
            let identity = Identity {
                tenant: e.tenant.clone(),
                subject: Some(e.name.clone().unwrap_or_else(|| format!("api-key-{}", &e.sha256[..8]))),
                plan: e.plan.clone(),
                scopes: e.scopes.clone(),
            };
            entries.push((hash, Arc::new(identity)));
        }
        ApiKeys { entries }
    }

    /// Whether any key is configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The identity of a presented key. Every entry is compared in constant
    /// time and none is skipped, so timing reveals neither key nor position.
    pub fn lookup(&self, key: &str) -> Option<&Arc<Identity>> {
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let mut found = None;
        for (hash, identity) in &self.entries {
            let diff = hash.iter().zip(&digest).fold(0u8, |acc, (a, b)| acc | (a ^ b));
            if diff == 0 {
                found = Some(identity);
            }
        }
        found
    }
}

/// Hex SHA-256 of a key: what goes into the configuration.
pub fn hash_hex(key: &str) -> String {
    Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(s: &str) -> Option<[u8; 32]> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, tenant: &str) -> ApiKeyEntry {
        ApiKeyEntry {
            sha256: hash_hex(key),
            tenant: tenant.into(),
            plan: Some("pro".into()),
            name: None,
            scopes: vec![],
        }
    }

    #[test]
    fn keys_resolve_by_hash() {
        let mut errors = Vec::new();
        let keys = ApiKeys::parse(&[entry("k-one", "acme"), entry("k-two", "globex")], &mut errors);
        assert!(errors.is_empty());
        assert_eq!(keys.lookup("k-two").map(|i| i.tenant.as_str()), Some("globex"));
        assert_eq!(keys.lookup("k-one").and_then(|i| i.plan.as_deref()), Some("pro"));
        assert!(keys.lookup("k-three").is_none());
        assert!(keys.lookup("").is_none());
    }

    #[test]
    fn bad_entries_are_named() {
        let mut errors = Vec::new();
        let bad = ApiKeyEntry { sha256: "zz".into(), ..entry("x", "acme") };
        let bad_tenant = ApiKeyEntry { tenant: "a b".into(), ..entry("y", "acme") };
        ApiKeys::parse(&[bad, bad_tenant], &mut errors);
        assert!(errors[0].starts_with("apiKeys[0].sha256"));
        assert!(errors[1].starts_with("apiKeys[1].tenant"));
    }
}
