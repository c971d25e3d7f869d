//! Property-based fuzzing of the filter's public entry points: the plugin
//! configuration (`Config::from_json`), token extraction and verification
//! (`authenticate`) and the proxy-wasm header buffer (`headermap::pairs`).
//! Only public API, so the internals may change freely.
//!
//! Each asserts: no panic; a bad configuration is refused with every message
//! non-empty; a request is either let through with the token's own tenant or
//! refused with a 401/403 whose headers are safe to send.
//!
//! `make test` runs 512 cases per target; a longer hunt:
//! `PROPTEST_CASES=100000 cargo test --release -p datagate-filter --test fuzz fuzz_`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datagate_filter::auth::Outcome;
use datagate_filter::{authenticate, headermap, Config, Request, TokenCache};
use jsonwebtoken::{encode, EncodingKey, Header};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use serde_json::{json, Value};

const SECRET: &[u8] = b"datagate-development-secret-do-not-use-in-production";
const NOW: u64 = 1_800_000_000;

fn runner() -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512);
    TestRunner::new(RunnerConfig { cases, failure_persistence: None, ..RunnerConfig::default() })
}

fn shipped() -> Value {
    json!({
        "tokenSources": ["authorization", "x-cassandra-token", "token"],
        "jwks": {"keys": [{"kty": "oct", "kid": "dev", "alg": "HS256",
                           "k": "ZGF0YWdhdGUtZGV2ZWxvcG1lbnQtc2VjcmV0LWRvLW5vdC11c2UtaW4tcHJvZHVjdGlvbg"}]},
        "tenantClaim": "tenant",
        "leewaySeconds": 30,
        "publicPaths": ["/health", "/v2/openapi.json", "/playground", "/playground/*"]
    })
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        proptest::sample::select(&["authorization", "token", "HS256", "RS256", "oct", "dev", "/v2/*", ""][..])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::vec(("[a-zA-Z]{1,8}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

#[test]
fn fuzz_filter_config() {
    let base = shipped();
    let fields: Vec<String> = base.as_object().unwrap().keys().cloned().collect();
    let mutation = (proptest::sample::select(fields), any_json(), any::<bool>(), "[a-zA-Z]{1,10}");
    runner()
        .run(&(proptest::collection::vec(mutation, 1..4), "\\PC{0,20}"), |(mutations, garbage)| {
            let mut cfg = base.clone();
            for (field, value, replace, extra) in mutations {
                if replace {
                    cfg[&field] = value;
                } else {
                    cfg[&extra] = value;
                }
            }
            for text in [cfg.to_string(), garbage] {
                if let Err(e) = Config::from_json(text.as_bytes()) {
                    assert!(!e.0.is_empty() && e.0.iter().all(|m| !m.trim().is_empty()), "{text}: {e:?}");
                }
            }
            Ok(())
        })
        .unwrap();
}

fn token(claims: Value, kid: &str, secret: &[u8]) -> String {
    let header = Header { kid: Some(kid.to_owned()), ..Header::default() };
    encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap()
}

/// A credential header value: a valid token, a mangled one, or garbage.
fn credential() -> impl Strategy<Value = String> {
    let valid = token(json!({"tenant": "acme", "exp": NOW + 600}), "dev", SECRET);
    let expired = token(json!({"tenant": "acme", "exp": NOW - 600}), "dev", SECRET);
    let forged = token(json!({"tenant": "acme", "exp": NOW + 600}), "dev", b"another secret");
    let odd_tenant = token(json!({"tenant": "a\r\nb\"'\u{0}é", "exp": NOW + 600}), "dev", SECRET);
    let tokens = vec![valid, expired, forged, odd_tenant];
    (proptest::sample::select(tokens), any::<usize>(), "\\PC{0,6}", 0u8..6, "[ -~]{0,40}").prop_map(
        |(t, at, insert, how, garbage)| {
            let at = t.char_indices().map(|(i, _)| i).nth(at % t.len()).unwrap_or(0);
            match how {
                0 => t,
                1 => format!("Bearer {t}"),
                2 => format!("bearer   {t}  "),
                3 => format!("{}{insert}{}", &t[..at], &t[at..]),
                4 => garbage,
                _ => format!("Basic {garbage}"),
            }
        },
    )
}

#[test]
fn fuzz_token_extraction() {
    let cfg = Config::from_json(shipped().to_string().as_bytes()).unwrap();
    let headers = proptest::collection::vec(
        (proptest::sample::select(&["authorization", "x-cassandra-token", "token", "x-other"][..]), credential()),
        0..3,
    );
    let path = prop_oneof![Just("/v2/schemas/keyspaces".to_owned()), Just("/health".to_owned()), "/\\PC{0,12}"];
    // A fresh cache per case: a cached identity must not hide a verification path.
    let (through, refused) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    runner()
        .run(&(headers, path), |(headers, path)| {
            let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let req = Request { method: "GET", path: &path, headers: &pairs };
            match authenticate(&cfg, &[], &req, NOW, &mut TokenCache::new(8)) {
                Ok(Outcome::Public) => assert!(cfg.is_public(&path), "{path} let through as public"),
                Ok(Outcome::Authenticated(id)) => {
                    assert_eq!(id.tenant, "acme", "{headers:?}");
                    through.set(through.get() + 1);
                }
                Err(r) => {
                    assert!(r.status == 401 || r.status == 403, "{headers:?}: {}", r.status);
                    assert!(!r.description.is_empty());
                    for (name, value) in r.headers() {
                        assert!(!value.contains(['\r', '\n', '\0']), "{name}: {value:?} for {headers:?}");
                    }
                    let body: Value = serde_json::from_slice(&r.body()).unwrap();
                    assert_eq!(body["code"], r.status);
                    refused.set(refused.get() + 1);
                }
            }
            Ok(())
        })
        .unwrap();
    let (through, refused) = (through.get(), refused.get());
    assert!(through > 0 && refused > 0, "{through} let through, {refused} refused: the generator is too narrow");
}

/// A serialized proxy-wasm header map: well-formed, or with lying sizes.
fn header_buffer() -> impl Strategy<Value = Vec<u8>> {
    let pairs = proptest::collection::vec((proptest::collection::vec(any::<u8>(), 0..8), "\\PC{0,8}"), 0..4);
    (pairs, any::<u32>(), any::<usize>(), any::<bool>()).prop_map(|(pairs, lie, at, corrupt)| {
        let mut buf = (pairs.len() as u32).to_le_bytes().to_vec();
        for (k, v) in &pairs {
            buf.extend((k.len() as u32).to_le_bytes());
            buf.extend((v.len() as u32).to_le_bytes());
        }
        for (k, v) in &pairs {
            buf.extend(k);
            buf.push(0);
            buf.extend(v.as_bytes());
            buf.push(0);
        }
        if corrupt && buf.len() >= 4 {
            let i = at % (buf.len() - 3);
            buf[i..i + 4].copy_from_slice(&lie.to_le_bytes());
        }
        buf
    })
}

#[test]
fn fuzz_header_map() {
    runner()
        .run(&prop_oneof![header_buffer(), proptest::collection::vec(any::<u8>(), 0..64)], |buf| {
            if let Some(pairs) = headermap::pairs(&buf) {
                assert!(pairs.len() <= buf.len() / 10 + 1, "{} pairs from {} bytes", pairs.len(), buf.len());
            }
            Ok(())
        })
        .unwrap();
}
