//! Remote JWKS through an Envoy cluster: fetched at start, a new key id is
//! accepted at once (re-fetch on unknown `kid`), a removed key stops working
//! once every worker's cached key set has expired.

use crate::harness::{assert_error, now, token_with, Filter, Gateway, Store};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A tiny JWKS server: answers every request with the current document.
fn serve_jwks(doc: Arc<Mutex<String>>) -> u16 {
    serve_counted(doc, Arc::default())
}

/// [`serve_jwks`], counting the fetches it answers.
fn serve_counted(doc: Arc<Mutex<String>>, hits: Arc<AtomicUsize>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            hits.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let body = doc.lock().unwrap().clone();
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    port
}

fn oct(kid: &str, secret: &[u8]) -> serde_json::Value {
    use std::fmt::Write;
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut k = String::new();
    for chunk in secret.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            let _ = write!(k, "{}", A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    json!({"kty": "oct", "kid": kid, "alg": "HS256", "k": k})
}

fn status(gw: &Gateway, token: &str) -> u16 {
    // A new connection each time, so requests spread over both Envoy workers.
    let client = reqwest::blocking::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let r = client.get(format!("{}/v2/schemas/keyspaces", gw.base)).header("x-cassandra-token", token).send().unwrap();
    r.status().as_u16()
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

crate::on_both_filters!(remote_jwks_rotation, one_fetch_serves_every_worker);

fn remote_jwks_rotation(filter: Filter) {
    let (secret_a, secret_b) = (b"key-a-secret-key-a-secret".as_slice(), b"key-b-secret-key-b-secret".as_slice());
    let doc = Arc::new(Mutex::new(json!({"keys": [oct("a", secret_a)]}).to_string()));
    let port = serve_jwks(doc.clone());
    let config = json!({
        "remoteJwks": {"cluster": "jwks_idp", "path": "/.well-known/jwks.json", "authority": "idp.test",
                       "cacheSeconds": 2, "minRefetchSeconds": 1},
        "publicPaths": ["/health"],
    });
    let gw = Gateway::start_with_cluster_on(Store::Sqlite, filter, &config.to_string(), "jwks_idp", port);
    let claims = || json!({"tenant": "acme", "exp": now() + 600});
    let tok_a = token_with(claims(), Some("a"), secret_a);
    wait_until("the first JWKS fetch", || gw.counter("datagate.jwks.fetch_ok") > 0);
    wait_until("key a to be accepted", || status(&gw, &tok_a) == 200);
    // Rotate: the issuer now publishes only key b. Past the re-fetch interval, a
    // token with the new kid triggers a fetch and is accepted straight away.
    *doc.lock().unwrap() = json!({"keys": [oct("b", secret_b)]}).to_string();
    std::thread::sleep(Duration::from_millis(1100));
    let tok_b = token_with(claims(), Some("b"), secret_b);
    wait_until("key b to be accepted", || status(&gw, &tok_b) == 200);
    assert!(gw.counter("datagate.jwks.refetch_unknown_kid") > 0);
    // Once every worker's key set has expired (2 s) and been refreshed, key a is
    // gone everywhere — including the token that sits in the verified-token cache.
    std::thread::sleep(Duration::from_millis(3000));
    for _ in 0..8 {
        assert_eq!(status(&gw, &tok_a), 401, "a token signed by a removed key must be refused");
        assert_eq!(status(&gw, &tok_b), 200);
    }
    let r = gw.get("/v2/schemas/keyspaces").header("x-cassandra-token", &tok_a).send().unwrap();
    assert_error(r, 401, "unknown key id");
    // A broken JWKS response keeps the last good keys.
    *doc.lock().unwrap() = "not json".to_owned();
    std::thread::sleep(Duration::from_millis(3000));
    assert_eq!(status(&gw, &tok_b), 200);
    assert!(gw.counter("datagate.jwks.fetch_failed") > 0);
}

/// Both Envoy workers need the keys, but the issuer sees one fetch: the worker
/// that claims the refresh stores the document in shared data, the other adopts it.
fn one_fetch_serves_every_worker(filter: Filter) {
    let secret = b"key-c-secret-key-c-secret".as_slice();
    let doc = Arc::new(Mutex::new(json!({"keys": [oct("c", secret)]}).to_string()));
    let hits = Arc::new(AtomicUsize::new(0));
    let port = serve_counted(doc.clone(), hits.clone());
    let config = json!({
        "remoteJwks": {"cluster": "jwks_idp", "path": "/.well-known/jwks.json", "authority": "idp.test",
                       "cacheSeconds": 60, "minRefetchSeconds": 1},
        "publicPaths": ["/health"],
    });
    let gw = Gateway::start_with_cluster_on(Store::Sqlite, filter, &config.to_string(), "jwks_idp", port);
    wait_until("the first JWKS fetch", || gw.counter("datagate.jwks.fetch_ok") > 0);
    // Ticks come every 500 ms: by now the other worker has adopted the shared copy.
    std::thread::sleep(Duration::from_millis(1500));
    let tok = token_with(json!({"tenant": "acme", "exp": now() + 600}), Some("c"), secret);
    for _ in 0..12 {
        assert_eq!(status(&gw, &tok), 200, "every worker has the keys");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1, "one fetch for the whole Envoy process");
    assert_eq!(gw.counter("datagate.jwks.refetch_unknown_kid"), 0, "no worker had to re-fetch on its own");
    // A new key id: the worker that meets it first re-fetches; the other adopts
    // the stored key set (on its tick, or on meeting the new kid) without fetching.
    let secret_d = b"key-d-secret-key-d-secret".as_slice();
    *doc.lock().unwrap() = json!({"keys": [oct("c", secret), oct("d", secret_d)]}).to_string();
    std::thread::sleep(Duration::from_millis(1100));
    let tok_d = token_with(json!({"tenant": "acme", "exp": now() + 600}), Some("d"), secret_d);
    for _ in 0..12 {
        assert_eq!(status(&gw, &tok_d), 200, "the new key works on every worker");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2, "one re-fetch for the new key id");
}
