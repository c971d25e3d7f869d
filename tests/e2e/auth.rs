//! The edge filter in the real chain: which requests reach the sidecar, and
//! what everyone else gets.

use crate::harness::{assert_error, json_of, now, token, token_with, Filter, Gateway, Store, DEV_SECRET};
use serde_json::json;

crate::on_both_filters!(
    health_needs_no_token,
    bad_credentials_get_401_json,
    tenant_header_cannot_be_spoofed,
    cli_dev_token_is_accepted,
    invalid_filter_config_is_refused_by_envoy,
    api_keys_scopes_and_filter_state,
    filter_state_can_be_turned_off,
    ambiguous_credentials_get_401,
    hostile_headers_never_crash_envoy,
);

fn health_needs_no_token(filter: Filter) {
    let gw = Gateway::start_on(Store::Sqlite, filter);
    let (s, body) = json_of(gw.get("/health").send().unwrap());
    assert_eq!((s, body), (200, json!({"status": "ok", "store": "sqlite"})));
}

fn bad_credentials_get_401_json(filter: Filter) {
    let gw = Gateway::start_on(Store::Sqlite, filter);
    let path = "/v2/schemas/keyspaces";
    let r = gw.get(path).send().unwrap();
    assert_eq!(
        r.headers()["www-authenticate"].to_str().unwrap().split(',').next().unwrap(),
        r#"Bearer error="invalid_token""#
    );
    assert_error(r, 401, "missing credentials");
    let cases = [
        (
            "wrong key",
            token_with(json!({"tenant": "acme", "exp": now() + 60}), Some("dev"), b"not-the-dev-secret"),
            "signature",
        ),
        ("expired", token_with(json!({"tenant": "acme", "exp": now() - 3600}), Some("dev"), DEV_SECRET), "expired"),
        (
            "not yet valid",
            token_with(json!({"tenant": "acme", "exp": now() + 7200, "nbf": now() + 3600}), Some("dev"), DEV_SECRET),
            "not valid yet",
        ),
        (
            "unknown kid",
            token_with(json!({"tenant": "acme", "exp": now() + 60}), Some("k2"), DEV_SECRET),
            "unknown key id",
        ),
        ("no tenant", token_with(json!({"exp": now() + 60}), Some("dev"), DEV_SECRET), "tenant"),
        ("no exp", token_with(json!({"tenant": "acme"}), Some("dev"), DEV_SECRET), "exp"),
        ("garbage", "not-a-jwt".to_owned(), "malformed"),
        (
            "alg none",
            format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(r#"{"tenant":"acme","exp":9999999999}"#)),
            "malformed",
        ),
        ("huge", "a".repeat(10_000), "limit"),
    ];
    for (what, tok, needle) in cases {
        let r = gw.get(path).header("x-cassandra-token", &tok).send().unwrap();
        assert_eq!(r.status(), 401, "{what}");
        assert_error(r, 401, needle);
    }
    assert_eq!(gw.counter("datagate.rejected.expired"), 1, "{}", gw.stats());
}

fn tenant_header_cannot_be_spoofed(filter: Filter) {
    let gw = Gateway::start_on(Store::Sqlite, filter);
    let acme = token("acme");
    let globex = token("globex");
    gw.vehicle_table(&globex, "secrets");
    // No token, but claiming a tenant: rejected before the sidecar.
    assert_error(
        gw.get("/v2/schemas/keyspaces").header("x-tenant-id", "globex").send().unwrap(),
        401,
        "missing credentials",
    );
    // A valid token for acme plus a forged header for globex: acts as acme.
    let r = gw
        .get("/v2/schemas/keyspaces")
        .header("x-cassandra-token", &acme)
        .header("x-tenant-id", "globex")
        .header("X-Datagate-Subject", "root")
        .send()
        .unwrap();
    let (s, body) = json_of(r);
    assert_eq!((s, body), (200, json!({"data": []})));
    let r = gw
        .get("/v2/keyspaces/secrets/vehicle/rows")
        .header("x-cassandra-token", &acme)
        .header("x-tenant-id", "globex")
        .send()
        .unwrap();
    assert_error(r, 404, "keyspace 'secrets' not found");
    // Bytes that are not UTF-8 (obs-text, which Envoy lets through) hide no forged
    // header either: the request still acts as acme, and acme's keyspace shows.
    gw.vehicle_table(&acme, "mine");
    for name in ["x-tenant-id", "x-tenant-plan"] {
        let forged = reqwest::header::HeaderValue::from_bytes(b"globex\xe9").unwrap();
        let r = gw.get("/v2/schemas/keyspaces").header("x-cassandra-token", &acme).header(name, forged).send().unwrap();
        let (s, body) = json_of(r);
        assert_eq!((s, body["data"][0]["name"].as_str()), (200, Some("mine")), "{name}: {body}");
    }
}

fn b64(s: &str) -> String {
    use std::fmt::Write;
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            let _ = write!(out, "{}", A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn cli_dev_token_is_accepted(filter: Filter) {
    let gw = Gateway::start_on(Store::Sqlite, filter);
    let out = std::process::Command::new(crate::harness::datagate_bin())
        .args(["token", "--tenant", "cli-tenant", "--ttl", "5m"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let tok = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let r = gw
        .post("/v2/schemas/keyspaces")
        .header("authorization", format!("Bearer {tok}"))
        .json(&json!({"name": "k"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    // The tenant came from the token: another tenant does not see the keyspace.
    let (_, list) =
        json_of(gw.get("/v2/schemas/keyspaces").header("x-cassandra-token", token("other")).send().unwrap());
    assert_eq!(list, json!({"data": []}));
    let (_, list) = json_of(gw.get("/v2/schemas/keyspaces").header("x-cassandra-token", &tok).send().unwrap());
    assert_eq!(list, json!({"data": [{"name": "k"}]}));
}

fn invalid_filter_config_is_refused_by_envoy(filter: Filter) {
    let rendered = crate::harness::render_config_for(filter, 18080, 19901, 50051);
    let good = r#""tenantClaim": "tenant","#;
    assert!(rendered.contains(good));
    let bad = rendered.replace(good, r#""tenantClaim": "", "tenantClam": "x","#);
    let (ok, log) = crate::harness::envoy_validate(&rendered);
    assert!(ok, "the shipped config must validate: {log}");
    let (ok, log) = crate::harness::envoy_validate(&bad);
    assert!(!ok, "Envoy accepted an invalid filter config");
    assert!(log.contains("tenantClam"), "the log must name the bad field: {log}");
}

fn api_keys_scopes_and_filter_state(filter: Filter) {
    let out = std::process::Command::new(crate::harness::datagate_bin())
        .args(["apikey", "--tenant", "acme", "--plan", "gold", "--name", "ci-bot"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let key = text.lines().find_map(|l| l.strip_prefix("key:")).unwrap().trim().to_owned();
    let mut entry: serde_json::Value =
        serde_json::from_str(text.lines().find_map(|l| l.strip_prefix("entry:")).unwrap().trim()).unwrap();
    assert!(!entry.to_string().contains(&key), "the config entry must not contain the key");
    entry["scopes"] = json!(["admin"]);
    let extra = format!(
        r#""apiKeys": [{entry}], "rules": [{{"pathPrefix": "/v2/schemas", "methods": ["POST", "DELETE"], "requireAnyScope": ["admin"]}}]"#
    );
    let gw = Gateway::start_with_filter_on(Store::Sqlite, filter, &extra);
    // The API key acts for acme and carries the admin scope.
    let r = gw
        .post("/v2/schemas/keyspaces")
        .header("x-cassandra-token", &key)
        .json(&json!({"name": "bykey"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let (_, list) = json_of(gw.get("/v2/schemas/keyspaces").header("x-cassandra-token", token("acme")).send().unwrap());
    assert_eq!(list, json!({"data": [{"name": "bykey"}]}));
    assert_error(
        gw.get("/v2/schemas/keyspaces").header("x-cassandra-token", "dg_not-a-real-key").send().unwrap(),
        401,
        "unknown API key",
    );
    // A token without the scope may read but not change the schema.
    let plain = token("acme");
    assert_eq!(gw.get("/v2/schemas/keyspaces").header("x-cassandra-token", &plain).send().unwrap().status(), 200);
    assert_error(
        gw.delete("/v2/schemas/keyspaces/bykey").header("x-cassandra-token", &plain).send().unwrap(),
        403,
        "needs one of these scopes: admin",
    );
    let admin =
        token_with(json!({"tenant": "acme", "exp": now() + 60, "scope": "read admin"}), Some("dev"), DEV_SECRET);
    assert_eq!(
        gw.delete("/v2/schemas/keyspaces/bykey").header("x-cassandra-token", &admin).send().unwrap().status(),
        204
    );
    // Tenant and plan are filter state too: the shipped access log reads them from there.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !gw.envoy_log().contains(r#""plan":"gold""#) {
        assert!(std::time::Instant::now() < deadline, "no access-log line with the plan: {}", gw.envoy_log());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(gw.envoy_log().contains(r#""tenant":"acme""#));
}

/// `"filterState": false`: the request is still tagged (the sidecar serves the
/// tenant's data), only the access log has no tenant or plan to print.
fn filter_state_can_be_turned_off(filter: Filter) {
    let gw = Gateway::start_with_filter_on(Store::Sqlite, filter, r#""filterState": false"#);
    let t = token("acme");
    let r = gw.post("/v2/schemas/keyspaces").header("x-cassandra-token", &t).json(&json!({"name": "quiet"})).send();
    assert_eq!(r.unwrap().status(), 201);
    let (_, list) = json_of(gw.get("/v2/schemas/keyspaces").header("x-cassandra-token", &t).send().unwrap());
    assert_eq!(list, json!({"data": [{"name": "quiet"}]}));
    let (_, other) =
        json_of(gw.get("/v2/schemas/keyspaces").header("x-cassandra-token", token("globex")).send().unwrap());
    assert_eq!(other, json!({"data": []}), "tenants stay apart");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !gw.envoy_log().contains(r#""status":201,"tenant":null"#) {
        assert!(std::time::Instant::now() < deadline, "no access-log line without a tenant: {}", gw.envoy_log());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!gw.envoy_log().contains(r#""tenant":"acme""#), "{}", gw.envoy_log());
}

/// RFC 6750 §2: one credential per request. Two different ones (in two headers,
/// or one header twice) must not let the request pick who it acts for.
fn ambiguous_credentials_get_401(filter: Filter) {
    let gw = Gateway::start_on(Store::Sqlite, filter);
    let (acme, globex) = (token("acme"), token("globex"));
    let path = "/v2/schemas/keyspaces";
    let bearer = format!("Bearer {acme}");
    let cases: [(&str, Vec<(&str, &str)>); 3] = [
        ("X-Cassandra-Token twice", vec![("x-cassandra-token", &acme), ("x-cassandra-token", "garbage")]),
        ("Authorization and X-Cassandra-Token", vec![("authorization", &bearer), ("x-cassandra-token", &globex)]),
        ("X-Cassandra-Token and Token", vec![("x-cassandra-token", &acme), ("token", &globex)]),
    ];
    for (what, headers) in cases {
        let mut req = gw.get(path);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let r = req.send().unwrap();
        assert_eq!(r.status(), 401, "{what}");
        assert_error(r, 401, "ambiguous credentials");
    }
    // The same credential in two places is one credential.
    let r = gw.get(path).header("authorization", &bearer).header("x-cassandra-token", &acme).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(gw.counter("datagate.rejected.ambiguous"), 3, "{}", gw.stats());
}

/// Whatever bytes a client puts in any header, the filter answers (or lets a
/// public path through) and Envoy stays up: no panic reaches it.
fn hostile_headers_never_crash_envoy(filter: Filter) {
    let gw = Gateway::start_on(Store::Sqlite, filter);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let names = ["authorization", "x-cassandra-token", "token", "x-tenant-id", "x-tenant-plan", "x-datagate-subject"];
    for i in 0..300 {
        let len = (next() % 300) as usize;
        // Every byte a header value may carry: visible ASCII, space, tab and obs-text.
        let value: Vec<u8> = (0..len)
            .map(|_| match (next() % 192) as u8 {
                b @ 0..=94 => b + 0x20,
                95 => b'\t',
                b => b + 0x20,
            })
            .collect();
        let Ok(value) = reqwest::header::HeaderValue::from_bytes(&value) else { continue };
        let mut req = gw.get(if i % 7 == 0 { "/health" } else { "/v2/schemas/keyspaces" });
        for name in names.iter().take(1 + i % names.len()) {
            let mut v = value.clone();
            if i % 3 == 0 && name.starts_with('a') {
                v = reqwest::header::HeaderValue::from_bytes(&[b"Bearer ".as_slice(), value.as_bytes()].concat())
                    .unwrap();
            }
            req = req.header(*name, v);
        }
        let r = req.send().unwrap();
        let status = r.status().as_u16();
        assert!(status == 401 || status == 200, "request {i}: status {status}");
        if status == 401 {
            assert_error(r, 401, "");
        }
    }
    // Still serving, and it still knows a good token from a bad one.
    assert_eq!(
        gw.get("/v2/schemas/keyspaces").header("x-cassandra-token", token("acme")).send().unwrap().status(),
        200
    );
}
