//! Plugin configuration: the JSON an operator writes, validated once into the
//! runtime form the request path uses.

use crate::apikey::{ApiKeyEntry, ApiKeys};
use crate::global::GlobalLimitConfig;
pub use crate::jwks::VerifyKey;
use crate::jwks::{self, RemoteJwks};
use crate::ratelimit::RateLimitConfig;
use crate::rules::{self, Rule};
use serde::Deserialize;

/// Where a credential may be read from, tried in the configured order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenSource {
    /// `Authorization: Bearer <token>`.
    Authorization,
    /// `X-Cassandra-Token: <token>` (Stargate clients).
    XCassandraToken,
    /// `Token: <token>` (Data API clients).
    Token,
}

impl TokenSource {
    /// The request header this source reads.
    pub fn header(self) -> &'static str {
        match self {
            TokenSource::Authorization => "authorization",
            TokenSource::XCassandraToken => "x-cassandra-token",
            TokenSource::Token => "token",
        }
    }
}

/// The configuration exactly as written in the Envoy plugin `configuration`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawConfig {
    /// Credential sources in the order they are tried.
    #[serde(default = "default_sources")]
    pub token_sources: Vec<TokenSource>,
    /// Inline JSON Web Key Set holding the verification keys.
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    /// A JWKS URL fetched through an Envoy cluster, cached and refreshed.
    #[serde(default)]
    pub remote_jwks: Option<RemoteJwks>,
    /// API keys, as SHA-256 hashes.
    #[serde(default)]
    pub api_keys: Vec<ApiKeyEntry>,
    /// Per-path scope requirements.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Claim holding scopes or roles (a space-separated string or an array).
    #[serde(default = "default_scope_claim")]
    pub scope_claim: String,
    /// Accepted `iss` values; empty accepts any issuer.
    #[serde(default)]
    pub issuers: Vec<String>,
    /// Accepted `aud` values (any of); empty skips the audience check.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Clock-skew allowance for `exp` and `nbf`, in seconds.
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
    /// Longest accepted `exp - iat`; tokens must then carry `iat`.
    #[serde(default)]
    pub max_lifetime_seconds: Option<u64>,
    /// Claim holding the tenant: a top-level key (which may itself contain dots,
    /// e.g. `https://example.com/tenant`) or a dotted path such as `org.id`.
    #[serde(default = "default_tenant_claim")]
    pub tenant_claim: String,
    /// Paths served without credentials. An entry ending in `*` is a prefix.
    #[serde(default = "default_public_paths")]
    pub public_paths: Vec<String>,
    /// Longest token accepted, in bytes; longer ones are rejected unparsed.
    #[serde(default = "default_max_token_bytes")]
    pub max_token_bytes: usize,
    /// Verified tokens remembered per worker (0 disables the cache).
    #[serde(default = "default_token_cache_size")]
    pub token_cache_size: usize,
    /// Claim naming the tenant's rate-limit plan.
    #[serde(default = "default_plan_claim")]
    pub plan_claim: String,
    /// Per-tenant rate limiting; absent means no limit.
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
    /// One budget per tenant across every Envoy (Redis, through the lease
    /// service); absent: each Envoy process keeps its own.
    #[serde(default)]
    pub global_limit: Option<GlobalLimitConfig>,
    /// Also put tenant and plan into Envoy filter state (for access logs'
    /// `%FILTER_STATE(...)%`); off saves two host calls per request where
    /// nothing reads them. The request headers are set either way.
    #[serde(default = "default_true")]
    pub filter_state: bool,
}

fn default_true() -> bool {
    true
}
fn default_sources() -> Vec<TokenSource> {
    vec![TokenSource::Authorization, TokenSource::XCassandraToken, TokenSource::Token]
}
fn default_leeway() -> u64 {
    30
}
fn default_tenant_claim() -> String {
    "tenant".to_owned()
}
fn default_public_paths() -> Vec<String> {
    vec!["/health".to_owned()]
}
fn default_max_token_bytes() -> usize {
    8 * 1024
}
fn default_token_cache_size() -> usize {
    4096
}
fn default_plan_claim() -> String {
    "plan".to_owned()
}
fn default_scope_claim() -> String {
    "scope".to_owned()
}

/// The validated, ready-to-use configuration.
pub struct Config {
    /// Credential sources in order.
    pub token_sources: Vec<TokenSource>,
    /// Verification keys.
    pub keys: Vec<VerifyKey>,
    /// Accepted issuers (empty: any).
    pub issuers: Vec<String>,
    /// Accepted audiences (empty: not checked).
    pub audiences: Vec<String>,
    /// Clock-skew leeway in seconds.
    pub leeway_seconds: u64,
    /// Longest token lifetime, when limited.
    pub max_lifetime_seconds: Option<u64>,
    /// Tenant claim name or path.
    pub tenant_claim: String,
    /// Public path patterns.
    pub public_paths: Vec<String>,
    /// Token size cap.
    pub max_token_bytes: usize,
    /// Verified-token cache capacity per worker.
    pub token_cache_size: usize,
    /// Plan claim name.
    pub plan_claim: String,
    /// Rate limiting, when configured.
    pub rate_limit: Option<RateLimitConfig>,
    /// Global (fleet-wide) budgets, when configured.
    pub global_limit: Option<GlobalLimitConfig>,
    /// Remote JWKS settings.
    pub remote_jwks: Option<RemoteJwks>,
    /// API keys.
    pub api_keys: ApiKeys,
    /// Per-path rules.
    pub rules: Vec<Rule>,
    /// Scope claim name.
    pub scope_claim: String,
    /// Whether tenant and plan also go into filter state.
    pub filter_state: bool,
}

/// Every problem found in a configuration, each naming its field.
#[derive(Debug)]
pub struct ConfigError(pub Vec<String>);

impl std::error::Error for ConfigError {}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid datagate filter configuration: {}", self.0.join("; "))
    }
}

impl Config {
    /// Parses and validates the plugin configuration, reporting every problem at once.
    pub fn from_json(bytes: &[u8]) -> Result<Config, ConfigError> {
        let raw: RawConfig = serde_json::from_slice(bytes).map_err(|e| ConfigError(vec![e.to_string()]))?;
        Config::validate(raw)
    }

    /// Turns a parsed configuration into the runtime form.
    pub fn validate(raw: RawConfig) -> Result<Config, ConfigError> {
        let mut errors = Vec::new();
        if raw.token_sources.is_empty() {
            errors.push("tokenSources: must list at least one source".to_owned());
        }
        let keys = match &raw.jwks {
            Some(jwks) => jwks::parse(jwks, "jwks", &mut errors),
            None => Vec::new(),
        };
        if let Some(remote) = &raw.remote_jwks {
            remote.check(&mut errors);
        }
        let api_keys = ApiKeys::parse(&raw.api_keys, &mut errors);
        if raw.jwks.is_none() && raw.remote_jwks.is_none() && raw.api_keys.is_empty() {
            errors.push("jwks, remoteJwks, apiKeys: configure at least one way to authenticate".to_owned());
        }
        rules::check(&raw.rules, &mut errors);
        if raw.tenant_claim.trim().is_empty() {
            errors.push("tenantClaim: must not be empty".to_owned());
        }
        for (i, p) in raw.public_paths.iter().enumerate() {
            if !p.starts_with('/') {
                errors.push(format!("publicPaths[{i}]: {p:?} must start with '/'"));
            }
        }
        if raw.max_token_bytes < 64 || raw.max_token_bytes > 64 * 1024 {
            errors.push(format!("maxTokenBytes: {} is outside 64..=65536", raw.max_token_bytes));
        }
        if raw.token_cache_size > 1_000_000 {
            errors.push(format!("tokenCacheSize: {} is above the 1000000 maximum", raw.token_cache_size));
        }
        if let Some(rl) = &raw.rate_limit {
            rl.check(&mut errors);
        }
        if let Some(g) = &raw.global_limit {
            g.check(&mut errors);
            if raw.rate_limit.is_none() {
                errors.push("globalLimit: needs rateLimit (its plans are the budgets it enforces)".into());
            }
        }
        if raw.leeway_seconds > 600 {
            errors.push(format!("leewaySeconds: {} is above the 600 s maximum", raw.leeway_seconds));
        }
        if !errors.is_empty() {
            return Err(ConfigError(errors));
        }
        Ok(Config {
            token_sources: raw.token_sources,
            keys,
            issuers: raw.issuers,
            audiences: raw.audiences,
            leeway_seconds: raw.leeway_seconds,
            max_lifetime_seconds: raw.max_lifetime_seconds,
            tenant_claim: raw.tenant_claim,
            public_paths: raw.public_paths,
            max_token_bytes: raw.max_token_bytes,
            token_cache_size: raw.token_cache_size,
            plan_claim: raw.plan_claim,
            rate_limit: raw.rate_limit,
            global_limit: raw.global_limit,
            remote_jwks: raw.remote_jwks,
            api_keys,
            rules: raw.rules,
            scope_claim: raw.scope_claim,
            filter_state: raw.filter_state,
        })
    }

    /// Whether `path` (without query) needs no credentials.
    pub fn is_public(&self, path: &str) -> bool {
        self.public_paths.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == p,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str =
        r#"{"jwks":{"keys":[{"kty":"oct","kid":"dev","alg":"HS256","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}]}}"#;

    #[test]
    fn defaults_fill_in() {
        let cfg = Config::from_json(GOOD.as_bytes()).unwrap();
        assert_eq!(cfg.token_sources.len(), 3);
        assert_eq!(cfg.tenant_claim, "tenant");
        assert!(cfg.is_public("/health"));
        assert!(!cfg.is_public("/health/x"));
        assert_eq!(cfg.keys[0].algorithms, vec![jsonwebtoken::Algorithm::HS256]);
        assert!(cfg.filter_state, "access logs read the filter state unless told otherwise");
    }

    #[test]
    fn filter_state_can_be_turned_off() {
        let json = GOOD.replacen('{', r#"{"filterState":false,"#, 1);
        assert!(!Config::from_json(json.as_bytes()).unwrap().filter_state);
        let err = Config::from_json(GOOD.replacen('{', r#"{"filterState":"no","#, 1).as_bytes()).err().unwrap();
        assert!(err.to_string().contains("expected a boolean"), "{err}");
    }

    #[test]
    fn unknown_field_is_named() {
        let err = Config::from_json(br#"{"jwks":{"keys":[]},"tenantClaimz":"x"}"#).err().unwrap();
        assert!(err.to_string().contains("tenantClaimz"), "{err}");
    }

    #[test]
    fn every_problem_is_reported() {
        let err = Config::from_json(
            br#"{"jwks":{"keys":[]},"tokenSources":[],"tenantClaim":" ","publicPaths":["health"],"maxTokenBytes":1}"#,
        )
        .err()
        .unwrap();
        let text = err.to_string();
        for field in ["tokenSources", "jwks.keys", "tenantClaim", "publicPaths[0]", "maxTokenBytes"] {
            assert!(text.contains(field), "{field} missing from {text}");
        }
    }

    #[test]
    fn prefix_public_paths() {
        let cfg = Config::from_json(br#"{"jwks":{"keys":[{"kty":"oct","k":"c2VjcmV0"}]},"publicPaths":["/docs/*"]}"#)
            .unwrap();
        assert!(cfg.is_public("/docs/a"));
        assert!(!cfg.is_public("/doc"));
        assert_eq!(cfg.keys[0].algorithms.len(), 3);
    }
}
