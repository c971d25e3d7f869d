//! Every JWT algorithm the filter supports, with tokens minted by an
//! independent implementation (PyJWT + cryptography, `mint.py`), and the
//! classic attacks, each of which must be a 401 JSON — never a 200, never a 5xx.

use crate::harness::{assert_error, json_of, Filter, Gateway, Store};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

fn mint() -> Value {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let python =
        std::env::var("DATAGATE_PYTHON").unwrap_or_else(|_| repo.join(".venv/bin/python").display().to_string());
    let out =
        Command::new(&python).arg(repo.join("tests/e2e/mint.py")).output().unwrap_or_else(|e| panic!("{python}: {e}"));
    assert!(
        out.status.success(),
        "mint.py failed (`make test` installs PyJWT): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

crate::on_both_filters!(every_algorithm_and_every_attack);

fn every_algorithm_and_every_attack(filter: Filter) {
    let minted = mint();
    let config = json!({
        "jwks": minted["jwks"],
        "issuers": ["https://issuer.test"],
        "audiences": ["datagate"],
        "publicPaths": ["/health"],
    });
    let gw = Gateway::start_with_filter_config_on(Store::Sqlite, filter, &config.to_string());
    for (alg, token) in minted["tokens"].as_object().unwrap() {
        let token = token.as_str().unwrap();
        let ks = format!("ks_{}", alg.to_lowercase());
        let r = gw
            .post("/v2/schemas/keyspaces")
            .header("authorization", format!("Bearer {token}"))
            .json(&json!({"name": ks}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "{alg}: {}", r.text().unwrap());
        // The tenant is the token's own ("alg-<ALG>"): it sees exactly its keyspace.
        let (s, list) = json_of(gw.get("/v2/schemas/keyspaces").header("x-cassandra-token", token).send().unwrap());
        assert_eq!((s, list), (200, json!({"data": [{"name": ks}]})), "{alg}");
    }
    let expect = [
        ("alg_none", "malformed"),
        ("hs256_with_rsa_public_key", "not allowed for this key"),
        ("expired", "expired"),
        ("nbf_in_future", "not valid yet"),
        ("wrong_iss", "issuer"),
        ("wrong_aud", "audience"),
        ("tampered_payload", "signature"),
        ("unknown_kid", "unknown key id"),
        ("truncated", "three dot-separated segments"),
        ("extra_segment", "three dot-separated segments"),
        ("not_base64", "malformed"),
        ("huge", "limit"),
        ("es256_key_with_rs256_alg", "not allowed for this key"),
    ];
    let attacks = minted["attacks"].as_object().unwrap();
    assert_eq!(attacks.len(), expect.len(), "every attack mint.py makes is checked");
    for (name, needle) in expect {
        let token = attacks[name].as_str().unwrap();
        let r = gw.get("/v2/schemas/keyspaces").header("x-cassandra-token", token).send().unwrap();
        assert_eq!(r.status(), 401, "{name}");
        assert_error(r, 401, needle);
    }
}
