//! Credential extraction and JWT verification: from request headers to a
//! verified [`Identity`] or a [`Rejection`]. No host calls; time is an argument
//! (a [`Clock`]), and the verified-token cache is whatever [`TokenStore`] the host keeps.

use crate::cache::TokenCache;
use crate::clock::Clock;
use crate::config::{Config, TokenSource, VerifyKey};
use crate::reject::Rejection;
use crate::rules;
use jsonwebtoken::{decode, decode_header, Validation};
use serde_json::Value;
use std::sync::Arc;

use crate::identity::{valid_tenant, Identity};

/// The request as the decision logic sees it.
pub struct Request<'a> {
    /// Upper-case method.
    pub method: &'a str,
    /// Path without the query string.
    pub path: &'a str,
    /// Every request header as `(name, value)`, names lower-case, repeats kept.
    pub headers: &'a [(&'a str, &'a str)],
}

impl<'a> Request<'a> {
    /// The first value of a header (`name` lower-case).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }
}

/// Where verified tokens are remembered: a per-worker [`TokenCache`] in the
/// wasm host, one cache shared by every worker in the native host.
pub trait TokenStore {
    /// The identity a remembered token verified to, while `clock` says it is before its `exp`.
    fn get(&mut self, token: &str, clock: &Clock) -> Option<Arc<Identity>>;
    /// Remembers a verified token until its `exp`.
    fn insert(&mut self, token: &str, identity: Arc<Identity>, exp: u64, now: u64);
}

impl TokenStore for TokenCache {
    fn get(&mut self, token: &str, clock: &Clock) -> Option<Arc<Identity>> {
        self.lookup(token, clock).cloned()
    }
    fn insert(&mut self, token: &str, identity: Arc<Identity>, exp: u64, now: u64) {
        TokenCache::insert(self, token, identity, exp, now);
    }
}

/// What to do with a request that was not rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A public path: forward without identity headers.
    Public,
    /// A verified caller: forward with identity headers set. Shared with the
    /// token cache, so a cache hit copies nothing.
    Authenticated(Arc<Identity>),
}

/// Decides on one request at `now`, Unix seconds ([`authenticate_with`] a
/// clock stopped there).
pub fn authenticate(
    cfg: &Config,
    remote: &[VerifyKey],
    req: &Request<'_>,
    now: u64,
    cache: &mut dyn TokenStore,
) -> Result<Outcome, Rejection> {
    authenticate_with(cfg, remote, req, &Clock::at(now.saturating_mul(1000)), cache)
}

/// Decides on one request; tokens verified before are answered from `cache`
/// until they expire, and `clock` is read only when that takes the exact time.
/// `remote` holds the keys fetched from `remoteJwks` (empty without one).
pub fn authenticate_with(
    cfg: &Config,
    remote: &[VerifyKey],
    req: &Request<'_>,
    clock: &Clock,
    cache: &mut dyn TokenStore,
) -> Result<Outcome, Rejection> {
    if cfg.is_public(req.path) {
        return Ok(Outcome::Public);
    }
    let token = find_token(cfg, req)?;
    let identity = identify(cfg, remote, token, clock, cache)?;
    rules::authorize(&cfg.rules, req.method, req.path, &identity)?;
    Ok(Outcome::Authenticated(identity))
}

fn identify(
    cfg: &Config,
    remote: &[VerifyKey],
    token: &str,
    clock: &Clock,
    cache: &mut dyn TokenStore,
) -> Result<Arc<Identity>, Rejection> {
    // A JWT has exactly three segments; anything else is an API key when keys are configured.
    if token.split('.').count() != 3 && !cfg.api_keys.is_empty() {
        if token.len() > cfg.max_token_bytes {
            return Err(Rejection::unauthorized(
                "too_large",
                format!("key is above the {} byte limit", cfg.max_token_bytes),
            ));
        }
        return cfg
            .api_keys
            .lookup(token)
            .cloned()
            .ok_or_else(|| Rejection::unauthorized("unknown_key", "unknown API key"));
    }
    if let Some(identity) = cache.get(token, clock) {
        return Ok(identity);
    }
    let now = clock.now_ms() / 1000;
    let (identity, exp) = verify(cfg, remote, token, now)?;
    let identity = Arc::new(identity);
    cache.insert(token, Arc::clone(&identity), exp, now);
    Ok(identity)
}

/// The one credential the request carries. RFC 6750 §2: a client must not
/// use more than one method, so credentials in several headers (or a header
/// sent twice) are refused unless every copy is byte-identical; otherwise a
/// proxy or client bug could make the request act for someone it did not mean.
fn find_token<'a>(cfg: &Config, req: &Request<'a>) -> Result<&'a str, Rejection> {
    let mut found: Option<(&'a str, TokenSource)> = None;
    for source in &cfg.token_sources {
        for (name, value) in req.headers {
            if !name.eq_ignore_ascii_case(source.header()) {
                continue;
            }
            let value = value.trim();
            let token = match source {
                TokenSource::Authorization => {
                    // Other schemes (e.g. Basic for an upstream) are not ours: not a credential.
                    match value.split_once(' ') {
                        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
                        _ => continue,
                    }
                }
                TokenSource::XCassandraToken | TokenSource::Token => value,
            };
            if token.is_empty() {
                return Err(Rejection::unauthorized(
                    "malformed",
                    format!("empty token in the {} header", source.header()),
                ));
            }
            match found {
                None => found = Some((token, *source)),
                Some((first, _)) if first == token => {}
                Some((_, first_source)) => return Err(ambiguous(first_source, *source)),
            }
        }
    }
    if let Some((token, _)) = found {
        return Ok(token);
    }
    let names: Vec<&str> = cfg.token_sources.iter().map(|s| s.header()).collect();
    Err(Rejection::unauthorized(
        "missing",
        format!("missing credentials: send a token in one of these headers: {}", names.join(", ")),
    ))
}

fn ambiguous(first: TokenSource, second: TokenSource) -> Rejection {
    let whence = if first == second {
        format!("the {} header twice with different values", first.header())
    } else {
        format!("both the {} and the {} headers", first.header(), second.header())
    };
    Rejection::unauthorized(
        "ambiguous",
        format!("ambiguous credentials: the request carries {whence}; send exactly one credential"),
    )
}

/// Verifies a token: the identity and the `exp` (Unix seconds) it is valid until.
fn verify(cfg: &Config, remote: &[VerifyKey], token: &str, now: u64) -> Result<(Identity, u64), Rejection> {
    if token.len() > cfg.max_token_bytes {
        return Err(Rejection::unauthorized(
            "too_large",
            format!("token is {} bytes, above the {} byte limit", token.len(), cfg.max_token_bytes),
        ));
    }
    if token.split('.').count() != 3 {
        return Err(Rejection::unauthorized("malformed", "malformed token: a JWT has three dot-separated segments"));
    }
    // `alg: none` and unknown algorithms fail here: the header type only knows real algorithms.
    let header = decode_header(token)
        .map_err(|e| Rejection::unauthorized("malformed", format!("malformed token header: {e}")))?;
    let candidates: Vec<_> = cfg
        .keys
        .iter()
        .chain(remote)
        .filter(|k| match (&header.kid, &k.kid) {
            (Some(want), Some(have)) => want == have,
            (Some(_), None) => false,
            (None, _) => true,
        })
        .collect();
    if candidates.is_empty() {
        let kid = header.kid.unwrap_or_default();
        return Err(Rejection::unauthorized("unknown_kid", format!("unknown key id {kid:?}")));
    }
    let mut validation = Validation::new(header.alg);
    // Time and audience are checked below against the host clock, with our leeway.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let mut algorithm_allowed = false;
    let mut claims = None;
    for key in candidates {
        if !key.algorithms.contains(&header.alg) {
            continue;
        }
        algorithm_allowed = true;
        if let Ok(data) = decode::<Value>(token, &key.key, &validation) {
            claims = Some(data.claims);
            break;
        }
    }
    if !algorithm_allowed {
        return Err(Rejection::unauthorized(
            "bad_alg",
            format!("algorithm {:?} is not allowed for this key", header.alg),
        ));
    }
    let claims = claims.ok_or_else(|| Rejection::unauthorized("bad_signature", "token signature is invalid"))?;
    let exp = check_claims(cfg, &claims, now)?;
    let tenant = tenant_from(cfg, &claims)?;
    let subject = claims.get("sub").and_then(Value::as_str).map(str::to_owned);
    let plan = claims.get(cfg.plan_claim.as_str()).and_then(Value::as_str).map(str::to_owned);
    let scopes = match claims.get(cfg.scope_claim.as_str()) {
        // OAuth's `scope` is one space-separated string; many issuers use arrays (`scp`, `roles`).
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    Ok((Identity { tenant, subject, plan, scopes }, exp))
}

/// Checks time, issuer and audience; returns `exp` (whole seconds, rounded down).
fn check_claims(cfg: &Config, claims: &Value, now: u64) -> Result<u64, Rejection> {
    let exp = claims
        .get("exp")
        .and_then(Value::as_f64)
        .ok_or_else(|| Rejection::unauthorized("no_exp", "token has no numeric exp claim; tokens must expire"))?;
    if (now as f64) > exp + cfg.leeway_seconds as f64 {
        return Err(Rejection::unauthorized("expired", "token expired"));
    }
    if let Some(max) = cfg.max_lifetime_seconds {
        let iat = claims.get("iat").and_then(Value::as_f64).ok_or_else(|| {
            Rejection::unauthorized("no_iat", "token has no numeric iat claim; this gateway limits token lifetime")
        })?;
        if exp - iat > max as f64 {
            return Err(Rejection::unauthorized(
                "lifetime",
                format!("token lifetime {} s is above the {max} s maximum", (exp - iat) as u64),
            ));
        }
    }
    if let Some(nbf) = claims.get("nbf") {
        let nbf = nbf.as_f64().ok_or_else(|| Rejection::unauthorized("malformed", "nbf claim is not a number"))?;
        if (now as f64) + (cfg.leeway_seconds as f64) < nbf {
            return Err(Rejection::unauthorized("not_yet_valid", "token is not valid yet (nbf)"));
        }
    }
    if !cfg.issuers.is_empty() {
        let iss = claims.get("iss").and_then(Value::as_str).unwrap_or_default();
        if !cfg.issuers.iter().any(|i| i == iss) {
            return Err(Rejection::unauthorized("bad_issuer", format!("issuer {iss:?} is not accepted")));
        }
    }
    if !cfg.audiences.is_empty() {
        let ok = match claims.get("aud") {
            Some(Value::String(a)) => cfg.audiences.contains(a),
            Some(Value::Array(list)) => {
                list.iter().filter_map(Value::as_str).any(|a| cfg.audiences.iter().any(|c| c == a))
            }
            _ => false,
        };
        if !ok {
            return Err(Rejection::unauthorized("bad_audience", "token audience is not accepted"));
        }
    }
    Ok(exp.max(0.0) as u64)
}

fn tenant_from(cfg: &Config, claims: &Value) -> Result<String, Rejection> {
    let name = cfg.tenant_claim.as_str();
    // A literal key wins, so URL-style claim names with dots work as written.
    let found = claims.get(name).or_else(|| name.split('.').try_fold(claims, |v, part| v.get(part)));
    let tenant = match found {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(Rejection::unauthorized("no_tenant", format!("token has no {name:?} claim naming the tenant")))
        }
    };
    if !valid_tenant(&tenant) {
        return Err(Rejection::unauthorized(
            "bad_tenant",
            "tenant claim must be 1-64 characters of letters, digits, '_', '-' or '.'",
        ));
    }
    Ok(tenant)
}

#[cfg(test)]
mod tests;
