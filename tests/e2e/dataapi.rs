//! The JSON Data API through Envoy: astrapy (DataStax's own client,
//! unmodified) drives every core command on both stores; curl-style checks pin
//! the envelope and show that a Data API collection is a Documents API collection.

use crate::harness::{json_of, token, Gateway, Store};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

crate::on_both_stores!(astrapy_session, astra_db_ts_session, documents_api_interop);

fn python() -> String {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::env::var("DATAGATE_PYTHON").unwrap_or_else(|_| repo.join(".venv/bin/python").display().to_string())
}

fn astrapy_session(store: Store) {
    let gw = Gateway::start(store);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/dataapi_client.py");
    let out = Command::new(python()).arg(script).arg(&gw.base).arg(token("acme")).output().unwrap();
    assert!(
        out.status.success(),
        "astrapy session failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn command(gw: &Gateway, path: &str, body: Value) -> (u16, Value) {
    json_of(
        gw.post(path)
            .header("token", token("acme"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap(),
    )
}

fn documents_api_interop(store: Store) {
    let gw = Gateway::start(store);
    assert_eq!(command(&gw, "/v1", json!({"createKeyspace": {"name": "ks"}})), (200, json!({"status": {"ok": 1}})));
    assert_eq!(command(&gw, "/v1/ks", json!({"createCollection": {"name": "c"}})), (200, json!({"status": {"ok": 1}})));
    // Written through the Data API, read through the Documents API (a string _id is the documentId).
    let (s, b) = command(&gw, "/v1/ks/c", json!({"insertOne": {"document": {"_id": "d1", "a": 1}}}));
    assert_eq!((s, b), (200, json!({"status": {"insertedIds": ["d1"]}})));
    let r = gw.get("/v2/namespaces/ks/collections/c/d1").header("x-cassandra-token", token("acme")).send().unwrap();
    let (s, b) = json_of(r);
    assert_eq!(s, 200);
    assert_eq!(b["data"]["a"], 1);
    // Written through the Documents API, read through the Data API with its documentId as _id.
    let r = gw
        .put("/v2/namespaces/ks/collections/c/d2")
        .header("x-cassandra-token", token("acme"))
        .header("content-type", "application/json")
        .body(r#"{"a": 2}"#)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (_, b) = command(&gw, "/v1/ks/c", json!({"findOne": {"filter": {"a": 2}}}));
    assert_eq!(b, json!({"data": {"document": {"_id": "d2", "a": 2}}}));
    // Same settings again: ok; different ones: the contract's error.
    assert_eq!(command(&gw, "/v1/ks", json!({"createCollection": {"name": "c"}})), (200, json!({"status": {"ok": 1}})));
    let (_, b) = command(
        &gw,
        "/v1/ks",
        json!({"createCollection": {"name": "c", "options": {"defaultId": {"type": "objectId"}}}}),
    );
    assert_eq!(b, json!({"status": {"ok": 1}}), "a collection without settings takes them");
    let (_, b) =
        command(&gw, "/v1/ks", json!({"createCollection": {"name": "c", "options": {"defaultId": {"type": "uuid"}}}}));
    assert_eq!(b["errors"][0]["errorCode"], "EXISTING_COLLECTION_DIFFERENT_SETTINGS");
    let (_, b) = command(&gw, "/v1/ks", json!({"findCollections": {"options": {"explain": true}}}));
    assert_eq!(b, json!({"status": {"collections": [{"name": "c", "options": {"defaultId": {"type": "objectId"}}}]}}));
    // The collection's JSON Schema (Documents API) holds for Data API writes too.
    let r = gw
        .put("/v2/namespaces/ks/collections/c/json-schema")
        .header("x-cassandra-token", token("acme"))
        .header("content-type", "application/json")
        .body(r#"{"type": "object", "required": ["a"]}"#)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (s, b) = command(&gw, "/v1/ks/c", json!({"insertOne": {"document": {"_id": "d3", "b": 1}}}));
    assert_eq!(s, 200);
    assert_eq!(b["errors"][0]["errorCode"], "SHRED_DOC_LIMIT_VIOLATION", "{b}");
    let (_, b) =
        command(&gw, "/v1/ks/c", json!({"updateOne": {"filter": {"_id": "d1"}, "update": {"$unset": {"a": 1}}}}));
    assert_eq!(b["errors"][0]["errorCode"], "SHRED_DOC_LIMIT_VIOLATION", "{b}");
    // The envelope: null document kept, command errors are HTTP 200 with errors[].
    let (_, b) = command(&gw, "/v1/ks/c", json!({"findOne": {"filter": {"a": 3}}}));
    assert_eq!(b, json!({"data": {"document": null}}));
    let (s, b) = command(&gw, "/v1/ks/c", json!({"explode": {}}));
    assert_eq!((s, b["errors"][0]["errorCode"].as_str()), (200, Some("COMMAND_UNKNOWN")));
    let (_, b) = command(&gw, "/v1/ks/nope", json!({"findOne": {}}));
    assert_eq!(b["errors"][0]["errorCode"], "UNKNOWN_COLLECTION_OR_TABLE");
    let (_, b) = command(&gw, "/v1/ks/c", json!({"find": {"filter": {"a": {"$regex": "x"}}}}));
    assert_eq!(b["errors"][0]["errorCode"], "FILTER_UNSUPPORTED_OPERATOR");
    // Tenancy: another tenant sees no keyspace of that name.
    let other =
        gw.post("/v1/ks/c").header("token", token("globex")).body(json!({"findOne": {}}).to_string()).send().unwrap();
    let (_, b) = json_of(other);
    assert!(b["errors"][0]["errorCode"].as_str().unwrap().starts_with("UNKNOWN_"), "{b}");
    // No token: the edge's 401 JSON.
    let (s, _) = json_of(gw.post("/v1").body(r#"{"findKeyspaces": {}}"#).send().unwrap());
    assert_eq!(s, 401);
}

fn astra_db_ts_session(store: Store) {
    let gw = Gateway::start(store);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/node");
    let out =
        Command::new("node").arg("session.mjs").arg(&gw.base).arg(token("acme")).current_dir(dir).output().unwrap();
    assert!(
        out.status.success(),
        "astra-db-ts session failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `examples/data-api.py` runs green, so the README's session cannot rot.
#[test]
fn example_runs() {
    let gw = Gateway::start(Store::Sqlite);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data-api.py");
    let out = Command::new(python()).arg(script).arg(&gw.base).env("AUTH_TOKEN", token("demo")).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "example failed:\n{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("nearest: Desk 0.997"), "{stdout}");
}
