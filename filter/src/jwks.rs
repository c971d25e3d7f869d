//! JSON Web Key Sets: parsing keys (inline or fetched), and the state of a
//! remote JWKS — when to refresh it in the background, and how often an
//! unknown `kid` may trigger an early re-fetch.

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

/// A verification key with the algorithms it may be used with.
#[derive(Clone)]
pub struct VerifyKey {
    /// The JWK `kid`, when the key set gives one.
    pub kid: Option<String>,
    /// Algorithms this key accepts (a key never verifies another family).
    pub algorithms: Vec<Algorithm>,
    /// The key material.
    pub key: DecodingKey,
}

/// Parses a JWKS; problems are reported against `field` (e.g. `jwks`).
pub fn parse(value: &serde_json::Value, field: &str, errors: &mut Vec<String>) -> Vec<VerifyKey> {
    let set: JwkSet = match serde_json::from_value(value.clone()) {
        Ok(set) => set,
        Err(e) => {
            errors.push(format!("{field}: not a JSON Web Key Set ({e})"));
            return Vec::new();
        }
    };
    if set.keys.is_empty() {
        errors.push(format!("{field}.keys: must hold at least one key"));
    }
    let mut keys = Vec::new();
    for (i, jwk) in set.keys.iter().enumerate() {
        let algorithms = match jwk.common.key_algorithm.and_then(|a| a.to_string().parse::<Algorithm>().ok()) {
            Some(alg) => vec![alg],
            // Without an explicit `alg` a key still pins its family, which is
            // what stops algorithm-confusion attacks (HS256 against an RSA key).
            None => match &jwk.algorithm {
                AlgorithmParameters::OctetKey(_) => vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512],
                AlgorithmParameters::RSA(_) => vec![
                    Algorithm::RS256,
                    Algorithm::RS384,
                    Algorithm::RS512,
                    Algorithm::PS256,
                    Algorithm::PS384,
                    Algorithm::PS512,
                ],
                AlgorithmParameters::EllipticCurve(_) => vec![Algorithm::ES256, Algorithm::ES384],
                AlgorithmParameters::OctetKeyPair(_) => vec![Algorithm::EdDSA],
            },
        };
        match DecodingKey::from_jwk(jwk) {
            Ok(key) => keys.push(VerifyKey { kid: jwk.common.key_id.clone(), algorithms, key }),
            Err(e) => errors.push(format!("{field}.keys[{i}]: unusable key ({e})")),
        }
    }
    keys
}

/// Parses a fetched JWKS body: the keys, or why the body was refused.
pub fn parse_body(body: &[u8]) -> Result<Vec<VerifyKey>, String> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let mut errors = Vec::new();
    let keys = parse(&value, "remote JWKS", &mut errors);
    if errors.is_empty() {
        Ok(keys)
    } else {
        Err(errors.join("; "))
    }
}

/// `remoteJwks` in the plugin configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoteJwks {
    /// The Envoy cluster serving the JWKS.
    pub cluster: String,
    /// Path of the JWKS document, e.g. `/.well-known/jwks.json`.
    pub path: String,
    /// `:authority` to send (the issuer's host name).
    pub authority: String,
    /// How long fetched keys are used before a background refresh.
    #[serde(default = "default_cache_seconds")]
    pub cache_seconds: u64,
    /// Least time between fetches triggered by unknown key ids.
    #[serde(default = "default_refetch_seconds")]
    pub min_refetch_seconds: u64,
    /// Fetch timeout.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_cache_seconds() -> u64 {
    600
}
fn default_refetch_seconds() -> u64 {
    30
}
fn default_timeout_ms() -> u64 {
    2000
}

impl RemoteJwks {
    /// Every problem, each naming its field.
    pub fn check(&self, errors: &mut Vec<String>) {
        if self.cluster.is_empty() {
            errors.push("remoteJwks.cluster: must name an Envoy cluster".to_owned());
        }
        if !self.path.starts_with('/') {
            errors.push("remoteJwks.path: must start with '/'".to_owned());
        }
        if self.authority.is_empty() {
            errors.push("remoteJwks.authority: must not be empty".to_owned());
        }
        if self.cache_seconds == 0 {
            errors.push("remoteJwks.cacheSeconds: must be at least 1".to_owned());
        }
        if !(100..=60_000).contains(&self.timeout_ms) {
            errors.push("remoteJwks.timeoutMs: must be within 100..=60000".to_owned());
        }
    }
}

/// What a worker knows about the remote key set.
#[derive(Default, Clone)]
pub struct RemoteKeys {
    /// The keys from the last good fetch (kept when a fetch fails).
    pub keys: Vec<VerifyKey>,
    /// When the last good fetch landed, Unix ms.
    pub fetched_ms: Option<u64>,
    /// When the last fetch started, Unix ms.
    pub attempted_ms: Option<u64>,
    /// A fetch is under way.
    pub in_flight: bool,
}

impl RemoteKeys {
    /// Whether the background refresh is due (never fetched, or older than the cache time).
    pub fn refresh_due(&self, cfg: &RemoteJwks, now_ms: u64) -> bool {
        !self.in_flight
            && match self.fetched_ms {
                None => self.attempted_ms.is_none_or(|a| now_ms.saturating_sub(a) >= 1000),
                Some(f) => now_ms.saturating_sub(f) >= cfg.cache_seconds * 1000,
            }
    }

    /// Whether an unknown `kid` may trigger a fetch now (rate-limited, so
    /// tokens with random key ids cannot make us hammer the issuer).
    pub fn refetch_allowed(&self, cfg: &RemoteJwks, now_ms: u64) -> bool {
        !self.in_flight && self.attempted_ms.is_none_or(|a| now_ms.saturating_sub(a) >= cfg.min_refetch_seconds * 1000)
    }
}

/// The last good key-set document, shared by every worker of an Envoy process
/// (proxy-wasm shared data), so one fetch per refresh serves them all.
/// Encoded as the fetch time (Unix ms, little-endian `u64`) then the body.
pub fn encode_shared(fetched_ms: u64, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + body.len());
    out.extend_from_slice(&fetched_ms.to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// The inverse of [`encode_shared`]: `(fetched_ms, body)`.
pub fn decode_shared(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let fetched_ms = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    Some((fetched_ms, bytes.get(8..)?))
}

/// Whether a worker may claim the background refresh, given when the last
/// claim was made (0: released). A claim older than the fetch timeout (plus a
/// second) belongs to a fetch that died with its worker and may be taken over.
pub fn may_claim(claimed_ms: u64, cfg: &RemoteJwks, now_ms: u64) -> bool {
    claimed_ms == 0 || now_ms.saturating_sub(claimed_ms) > cfg.timeout_ms + 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> RemoteJwks {
        serde_json::from_str(r#"{"cluster": "idp", "path": "/jwks", "authority": "idp.test", "cacheSeconds": 60, "minRefetchSeconds": 10}"#)
            .unwrap()
    }

    #[test]
    fn shared_document_and_claims() {
        let bytes = encode_shared(1234, b"{\"keys\":[]}");
        assert_eq!(decode_shared(&bytes), Some((1234, b"{\"keys\":[]}".as_slice())));
        assert_eq!(decode_shared(&bytes[..7]), None);
        assert_eq!(decode_shared(&encode_shared(9, b"")), Some((9, b"".as_slice())));
        let c = cfg();
        assert!(may_claim(0, &c, 10_000));
        assert!(!may_claim(9_000, &c, 10_000), "another worker's fetch is under way");
        assert!(may_claim(10_000 - c.timeout_ms - 1001, &c, 10_000), "a claim past the timeout is stale");
    }

    #[test]
    fn refresh_and_refetch_timing() {
        let c = cfg();
        let mut r = RemoteKeys::default();
        assert!(r.refresh_due(&c, 0));
        r.attempted_ms = Some(0);
        r.in_flight = true;
        assert!(!r.refresh_due(&c, 5_000), "one fetch at a time");
        r.in_flight = false;
        r.fetched_ms = Some(1_000);
        assert!(!r.refresh_due(&c, 60_000));
        assert!(r.refresh_due(&c, 61_000));
        assert!(!r.refetch_allowed(&c, 9_000));
        assert!(r.refetch_allowed(&c, 10_000));
    }

    #[test]
    fn bodies_are_checked() {
        assert!(parse_body(b"nope").is_err());
        assert!(parse_body(br#"{"keys": []}"#).is_err());
        let keys = parse_body(br#"{"keys": [{"kty": "oct", "kid": "a", "k": "c2VjcmV0"}]}"#).unwrap();
        assert_eq!(keys[0].kid.as_deref(), Some("a"));
        let mut errors = Vec::new();
        RemoteJwks {
            cluster: String::new(),
            path: "x".into(),
            authority: String::new(),
            cache_seconds: 0,
            min_refetch_seconds: 1,
            timeout_ms: 1,
        }
        .check(&mut errors);
        assert_eq!(errors.len(), 5);
    }
}
