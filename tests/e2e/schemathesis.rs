//! Property-based API testing: schemathesis generates requests from
//! `/v2/openapi.json` (valid and invalid ones, every operation) and sends them
//! through Envoy, the edge filter and the sidecar, on both stores. Any 5xx, or
//! any answer the document does not describe, fails the test.
//!
//! Bounded by time (`DATAGATE_SCHEMATHESIS_SECONDS`, default 60 per store);
//! a longer hunt: `DATAGATE_SCHEMATHESIS_SECONDS=900 cargo test -p datagate-e2e
//! --test e2e schemathesis -- --nocapture`. Settings and fixtures:
//! `tests/e2e/schemathesis.toml`.

use crate::harness::{token, Gateway, Store};
use serde_json::json;
use std::path::Path;
use std::process::Command;

crate::on_both_stores!(generated_requests_get_no_5xx_and_match_the_document);

/// The same hunt with Envoy's ext_proc filter carrying the requests to the
/// sidecar (`"dataPath": "extProc"`, see data_path.rs).
#[test]
fn over_the_ext_proc_path_on_postgres() {
    crate::harness::on_ext_proc_path(|| generated_requests_get_no_5xx_and_match_the_document(Store::Postgres));
}

fn generated_requests_get_no_5xx_and_match_the_document(store: Store) {
    let gw = Gateway::start(store);
    let t = token("acme");
    fixtures(&gw, &t);

    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let bin = std::env::var("DATAGATE_SCHEMATHESIS")
        .unwrap_or_else(|_| repo.join(".venv/bin/schemathesis").display().to_string());
    let seconds = std::env::var("DATAGATE_SCHEMATHESIS_SECONDS").unwrap_or_else(|_| "60".to_owned());
    // Hypothesis keeps its example database in the working directory: not the repository's.
    let scratch = tempfile::tempdir().unwrap();
    let out = Command::new(&bin)
        .current_dir(scratch.path())
        .args(["--no-color", "--config-file"])
        .arg(repo.join("tests/e2e/schemathesis.toml"))
        .args(["run", &format!("{}/v2/openapi.json", gw.base)])
        .env("DATAGATE_TOKEN", &t)
        // One worker: with two threads, Python 3.11's parser (Hypothesis describing its
        // strategies) intermittently fails with "AST constructor recursion depth mismatch".
        .args(["--max-time", &seconds, "--workers", "1", "--no-shrink"])
        // Above Envoy's own 10 s timeouts: a slow answer under a loaded CI host is
        // Envoy's JSON 504 (a finding), never the client giving up first.
        .args(["--request-timeout", "30"])
        .output()
        .unwrap_or_else(|e| panic!("{bin} did not run ({e}): `make test` installs it into .venv"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // The summary: operations, test cases, failures, duration.
    let summary: Vec<&str> =
        text.lines().filter(|l| l.contains("Tested:") || l.contains("generated") || l.contains(" in ")).collect();
    eprintln!("schemathesis on {store:?}:\n{}", summary.join("\n"));
    if !out.status.success() {
        // What CI shows of a failure is the end of the output: the gateway's logs
        // (the harness prints them when a test panics) must not bury the finding.
        // So: the whole report and the sidecar's warnings first, the gateway
        // stopped without its dump, then schemathesis's failures last.
        eprintln!("{text}");
        let log = gw.sidecar_log();
        let warnings: Vec<&str> = log.lines().filter(|l| l.contains("WARN") || l.contains("ERROR")).collect();
        eprintln!("sidecar warnings and errors:\n{}", warnings[warnings.len().saturating_sub(20)..].join("\n"));
        drop(gw);
        panic!("schemathesis found problems on {store:?}:\n{}", failures(&text));
    }
}

/// The failures section of a schemathesis report (the whole text if it has none).
fn failures(text: &str) -> &str {
    let start = text.find("FAILURES").map_or(0, |i| text[..i].rfind('\n').map_or(0, |n| n + 1));
    let end = text[start..].find("SUMMARY").map_or(text.len(), |i| start + i);
    &text[start..end]
}

/// What the generated requests name (see schemathesis.toml): a keyspace with a
/// table and rows, a namespace with a collection and documents, and scratch
/// copies for the operations that drop things.
fn fixtures(gw: &Gateway, t: &str) {
    for ks in ["blog", "scratch"] {
        gw.vehicle_table(t, ks);
        let r = gw
            .post(&format!("/v2/keyspaces/{ks}/vehicle/batch"))
            .header("x-cassandra-token", t)
            .json(&json!([{"manufacturer": "Tesla", "model": "S", "year": 2012},
                          {"manufacturer": "Volvo", "model": "XC90", "year": 2015}]))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "rows: {}", r.text().unwrap());
    }
    let r = gw.post("/v2/schemas/namespaces").header("x-cassandra-token", t).json(&json!({"name": "shop"})).send();
    assert_eq!(r.unwrap().status(), 201);
    for ns in ["shop", "scratch"] {
        let c = format!("/v2/namespaces/{ns}/collections");
        let r = gw.post(&c).header("x-cassandra-token", t).json(&json!({"name": "items"})).send().unwrap();
        assert_eq!(r.status(), 201, "collection: {}", r.text().unwrap());
        let r = gw
            .post(&format!("{c}/items/batch"))
            .query(&[("id-path", "id")])
            .header("x-cassandra-token", t)
            .json(&json!([{"id": "d1", "tags": ["a"], "n": 1}, {"id": "d2", "n": 2}]))
            .send()
            .unwrap();
        assert!(r.status().is_success(), "documents: {}", r.text().unwrap());
    }
}
