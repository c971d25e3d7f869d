use super::*;
use crate::identity::is_identity_header;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;

const SECRET: &[u8] = b"secret-secret-secret-secret";
const NOW: u64 = 1_800_000_000;

fn cfg(extra: &str) -> Config {
    let jwks = r#"{"keys":[{"kty":"oct","kid":"dev","alg":"HS256","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}]}"#;
    Config::from_json(format!(r#"{{"jwks":{jwks}{extra}}}"#).as_bytes()).unwrap()
}

fn mint(claims: Value, kid: Option<&str>) -> String {
    let header = Header { kid: kid.map(str::to_owned), ..Header::default() };
    encode(&header, &claims, &EncodingKey::from_secret(SECRET)).unwrap()
}

fn run(cfg: &Config, path: &str, headers: &[(&str, &str)]) -> Result<Outcome, Rejection> {
    authenticate(cfg, &[], &Request { method: "GET", path, headers }, NOW, &mut TokenCache::new(0))
}

fn tenant_of(r: Result<Outcome, Rejection>) -> String {
    match r {
        Ok(Outcome::Authenticated(id)) => id.tenant.clone(),
        other => panic!("expected identity, got {other:?}"),
    }
}

fn reason_of(r: Result<Outcome, Rejection>) -> &'static str {
    match r {
        Err(rej) => {
            assert_eq!(rej.status, 401);
            rej.reason
        }
        other => panic!("expected rejection, got {other:?}"),
    }
}

#[test]
fn bearer_and_cassandra_token_both_work() {
    let c = cfg("");
    let t = mint(json!({"tenant": "acme", "exp": NOW + 60, "sub": "ann"}), Some("dev"));
    assert_eq!(tenant_of(run(&c, "/v2/x", &[("authorization", &format!("Bearer {t}"))])), "acme");
    assert_eq!(tenant_of(run(&c, "/v2/x", &[("x-cassandra-token", &t)])), "acme");
    assert_eq!(tenant_of(run(&c, "/v2/x", &[("authorization", "Basic abc"), ("token", &t)])), "acme");
}

#[test]
fn missing_token_is_401_listing_sources() {
    let r = run(&cfg(""), "/v2/x", &[]);
    let Err(rej) = r else { panic!() };
    assert_eq!(rej.reason, "missing");
    assert!(rej.description.contains("x-cassandra-token"));
}

#[test]
fn public_path_needs_nothing() {
    assert_eq!(run(&cfg(""), "/health", &[]), Ok(Outcome::Public));
}

#[test]
fn time_claims_respect_leeway() {
    let c = cfg(r#","leewaySeconds":10"#);
    let within = mint(json!({"tenant": "a", "exp": NOW - 5}), None);
    assert_eq!(tenant_of(run(&c, "/", &[("token", &within)])), "a");
    let expired = mint(json!({"tenant": "a", "exp": NOW - 11}), None);
    assert_eq!(reason_of(run(&c, "/", &[("token", &expired)])), "expired");
    let early = mint(json!({"tenant": "a", "exp": NOW + 100, "nbf": NOW + 11}), None);
    assert_eq!(reason_of(run(&c, "/", &[("token", &early)])), "not_yet_valid");
    let no_exp = mint(json!({"tenant": "a"}), None);
    assert_eq!(reason_of(run(&c, "/", &[("token", &no_exp)])), "no_exp");
}

#[test]
fn issuer_and_audience() {
    let c = cfg(r#","issuers":["https://id.example"],"audiences":["datagate"]"#);
    let good =
        mint(json!({"tenant": "a", "exp": NOW + 9, "iss": "https://id.example", "aud": ["x", "datagate"]}), None);
    assert_eq!(tenant_of(run(&c, "/", &[("token", &good)])), "a");
    let bad_iss = mint(json!({"tenant": "a", "exp": NOW + 9, "iss": "evil", "aud": "datagate"}), None);
    assert_eq!(reason_of(run(&c, "/", &[("token", &bad_iss)])), "bad_issuer");
    let bad_aud = mint(json!({"tenant": "a", "exp": NOW + 9, "iss": "https://id.example", "aud": "other"}), None);
    assert_eq!(reason_of(run(&c, "/", &[("token", &bad_aud)])), "bad_audience");
}

#[test]
fn forged_and_malformed_tokens() {
    let c = cfg("");
    let good = mint(json!({"tenant": "a", "exp": NOW + 9}), Some("dev"));
    let mut parts: Vec<&str> = good.split('.').collect();
    let other_tenant = base64_url(br#"{"tenant":"victim","exp":1900000000}"#);
    parts[1] = &other_tenant;
    let tampered = parts.join(".");
    assert_eq!(reason_of(run(&c, "/", &[("token", &tampered)])), "bad_signature");
    assert_eq!(reason_of(run(&c, "/", &[("token", "a.b")])), "malformed");
    assert_eq!(reason_of(run(&c, "/", &[("token", "a.b.c.d")])), "malformed");
    assert_eq!(reason_of(run(&c, "/", &[("token", "!!.??.**")])), "malformed");
    let none_alg = format!(
        "{}.{}.",
        base64_url(br#"{"alg":"none","typ":"JWT"}"#),
        base64_url(br#"{"tenant":"a","exp":1900000000}"#)
    );
    assert_eq!(reason_of(run(&c, "/", &[("token", &none_alg)])), "malformed");
    let huge = "a".repeat(9000);
    assert_eq!(reason_of(run(&c, "/", &[("token", &huge)])), "too_large");
    let unknown_kid = mint(json!({"tenant": "a", "exp": NOW + 9}), Some("other"));
    assert_eq!(reason_of(run(&c, "/", &[("token", &unknown_kid)])), "unknown_kid");
    let wrong_key =
        encode(&Header::default(), &json!({"tenant": "a", "exp": NOW + 9}), &EncodingKey::from_secret(b"nope"))
            .unwrap();
    assert_eq!(reason_of(run(&c, "/", &[("token", &wrong_key)])), "bad_signature");
    let hs512 = encode(
        &Header::new(jsonwebtoken::Algorithm::HS512),
        &json!({"tenant": "a", "exp": NOW + 9}),
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    assert_eq!(reason_of(run(&c, "/", &[("token", &hs512)])), "bad_alg");
}

#[test]
fn tenant_claim_paths_and_format() {
    let nested = cfg(r#","tenantClaim":"org.id""#);
    let t = mint(json!({"org": {"id": "globex"}, "exp": NOW + 9}), None);
    assert_eq!(tenant_of(run(&nested, "/", &[("token", &t)])), "globex");
    let url = cfg(r#","tenantClaim":"https://example.com/tenant""#);
    let t = mint(json!({"https://example.com/tenant": "initech", "exp": NOW + 9}), None);
    assert_eq!(tenant_of(run(&url, "/", &[("token", &t)])), "initech");
    let c = cfg("");
    let t = mint(json!({"tenant": "a/b", "exp": NOW + 9}), None);
    assert_eq!(reason_of(run(&c, "/", &[("token", &t)])), "bad_tenant");
    let t = mint(json!({"exp": NOW + 9}), None);
    assert_eq!(reason_of(run(&c, "/", &[("token", &t)])), "no_tenant");
}

#[test]
fn identity_headers_are_recognised() {
    for h in ["x-tenant-id", "X-Tenant-Id", "x-tenant-plan", "x-datagate-subject", "X-DATAGATE-anything"] {
        assert!(is_identity_header(h), "{h}");
    }
    for h in ["x-tenant", "x-datagate", "x-datagat-e", "x-tenant-idx", "ééééé-datagate-x", ""] {
        assert!(!is_identity_header(h), "{h}");
    }
}

fn base64_url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[test]
fn cache_answers_repeats_but_never_past_exp() {
    let c = cfg("");
    let mut cache = TokenCache::new(16);
    let t = mint(json!({"tenant": "acme", "exp": NOW + 60}), Some("dev"));
    let headers = [("token", t.as_str())];
    let req = Request { method: "GET", path: "/v2/x", headers: &headers };
    assert!(authenticate(&c, &[], &req, NOW, &mut cache).is_ok());
    assert_eq!(cache.len(), 1);
    assert!(authenticate(&c, &[], &req, NOW + 59, &mut cache).is_ok());
    // At exp the cache no longer answers; verification (with leeway) decides, and
    // past the leeway the token is rejected even though it was cached.
    let r = authenticate(&c, &[], &req, NOW + 60 + c.leeway_seconds + 1, &mut cache);
    assert_eq!(r.unwrap_err().reason, "expired");
    // A tampered copy is a different key: verified, and rejected.
    let tampered = format!("{}x", t);
    let headers2 = [("token", tampered.as_str())];
    let r = authenticate(&c, &[], &Request { method: "GET", path: "/v2/x", headers: &headers2 }, NOW, &mut cache);
    assert_eq!(r.unwrap_err().status, 401);
}

#[test]
fn max_lifetime_needs_iat() {
    let c = cfg(r#","maxLifetimeSeconds":3600"#);
    let ok = mint(json!({"tenant": "a", "iat": NOW, "exp": NOW + 3600}), None);
    assert_eq!(tenant_of(run(&c, "/", &[("token", &ok)])), "a");
    let long = mint(json!({"tenant": "a", "iat": NOW, "exp": NOW + 3601}), None);
    assert_eq!(reason_of(run(&c, "/", &[("token", &long)])), "lifetime");
    let no_iat = mint(json!({"tenant": "a", "exp": NOW + 60}), None);
    assert_eq!(reason_of(run(&c, "/", &[("token", &no_iat)])), "no_iat");
}
