//! The JSON Data API through Envoy: astrapy (DataStax's own client,
//! unmodified) drives every core command on both stores; curl-style checks pin
//! the envelope and show that a Data API collection is a Documents API collection.

use crate::harness::{json_of, token, Gateway, Store};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

crate::on_both_stores!(
    astrapy_session,
    astra_db_ts_session,
    documents_api_interop,
    indexing_is_enforced,
    collections_are_capped,
    refusals_are_clear,
    vector_search_follows_every_write,
    insert_many_conflicts,
    filters_are_answered_through_indexes,
    find_one_by_id_reads_the_stored_text
);

fn python() -> String {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::env::var("DATAGATE_PYTHON").unwrap_or_else(|_| repo.join(".venv/bin/python").display().to_string())
}

pub(crate) fn astrapy_session(store: Store) {
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

pub(crate) fn command(gw: &Gateway, path: &str, body: Value) -> (u16, Value) {
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
    // No token, or a bad one: the edge's 401 JSON, with the Data API's error
    // list (astra-db-ts raises from it).
    let (s, b) = json_of(gw.post("/v1").body(r#"{"findKeyspaces": {}}"#).send().unwrap());
    assert_eq!((s, code(&b)), (401, "MISSING_AUTHENTICATION_TOKEN"));
    let bad = gw.post("/v1").header("token", "not-a-token").body(r#"{"findKeyspaces": {}}"#).send().unwrap();
    let (s, b) = json_of(bad);
    assert_eq!((s, code(&b)), (401, "UNAUTHENTICATED_REQUEST"));
}

fn code(b: &Value) -> &str {
    b["errors"][0]["errorCode"].as_str().unwrap_or_else(|| panic!("no error in {b}"))
}

fn keyspace_with(gw: &Gateway, coll: &str, options: Value) {
    assert_eq!(command(gw, "/v1", json!({"createKeyspace": {"name": "ks"}})), (200, json!({"status": {"ok": 1}})));
    let (_, b) = command(gw, "/v1/ks", json!({"createCollection": {"name": coll, "options": options}}));
    assert_eq!(b, json!({"status": {"ok": 1}}));
}

/// A collection's `indexing` option is enforced: a filter or sort on a path it
/// leaves unindexed is refused, `_id` equality always works.
fn indexing_is_enforced(store: Store) {
    let gw = Gateway::start(store);
    keyspace_with(&gw, "deny", json!({"indexing": {"deny": ["blob", "meta.raw"]}}));
    let docs =
        json!([{"_id": "a", "name": "x", "blob": "b1", "meta": {"raw": 1, "tag": "t"}}, {"_id": "b", "name": "y"}]);
    let (_, b) = command(&gw, "/v1/ks/deny", json!({"insertMany": {"documents": docs}}));
    assert_eq!(b["status"]["insertedIds"], json!(["a", "b"]), "unindexed paths can still be written: {b}");
    let (_, b) = command(&gw, "/v1/ks/deny", json!({"find": {"filter": {"name": "x", "meta.tag": "t"}}}));
    assert_eq!(b["data"]["documents"][0]["_id"], "a", "{b}");
    for filter in [json!({"blob": "b1"}), json!({"meta.raw": {"$gt": 0}}), json!({"$or": [{"name": "y"}, {"blob": 1}]})]
    {
        let (s, b) = command(&gw, "/v1/ks/deny", json!({"find": {"filter": filter}}));
        assert_eq!((s, code(&b)), (200, "FILTER_PATH_UNINDEXED"), "{filter}");
    }
    let (_, b) = command(&gw, "/v1/ks/deny", json!({"find": {"sort": {"blob": 1}}}));
    assert_eq!(code(&b), "SORT_CLAUSE_PATH_UNINDEXED");
    let (_, b) =
        command(&gw, "/v1/ks/deny", json!({"updateMany": {"filter": {"blob": "b1"}, "update": {"$set": {"z": 1}}}}));
    assert_eq!(code(&b), "FILTER_PATH_UNINDEXED");
    let (_, b) = command(&gw, "/v1/ks/deny", json!({"deleteMany": {"filter": {"meta.raw": 1}}}));
    assert_eq!(code(&b), "FILTER_PATH_UNINDEXED");
    let (_, b) = command(&gw, "/v1/ks/deny", json!({"countDocuments": {"filter": {"blob": "b1"}}}));
    assert_eq!(code(&b), "FILTER_PATH_UNINDEXED");
    // Updates may touch unindexed paths.
    let (_, b) =
        command(&gw, "/v1/ks/deny", json!({"updateOne": {"filter": {"_id": "a"}, "update": {"$set": {"blob": "b2"}}}}));
    assert_eq!(b["status"]["modifiedCount"], 1, "{b}");
    // An allow list: only the listed paths; `_id` keeps $eq and $in.
    let (_, b) = command(
        &gw,
        "/v1/ks",
        json!({"createCollection": {"name": "allow", "options": {"indexing": {"allow": ["name"]}}}}),
    );
    assert_eq!(b, json!({"status": {"ok": 1}}));
    command(&gw, "/v1/ks/allow", json!({"insertOne": {"document": {"_id": "k", "name": "n", "other": 1}}}));
    let (_, b) = command(&gw, "/v1/ks/allow", json!({"findOne": {"filter": {"_id": {"$in": ["k"]}, "name": "n"}}}));
    assert_eq!(b["data"]["document"]["other"], 1, "{b}");
    let (_, b) = command(&gw, "/v1/ks/allow", json!({"findOne": {"filter": {"other": 1}}}));
    assert_eq!(code(&b), "FILTER_PATH_UNINDEXED");
    let (_, b) = command(&gw, "/v1/ks/allow", json!({"findOne": {"filter": {"_id": {"$gt": "a"}}}}));
    assert_eq!(code(&b), "FILTER_PATH_UNINDEXED");
}

/// `TOO_MANY_COLLECTIONS` past the per-keyspace cap (50), counting
/// collections made through the Documents API too.
fn collections_are_capped(store: Store) {
    let gw = Gateway::start(store);
    keyspace_with(&gw, "c0", json!({}));
    // A Documents API collection (made by its first write) counts too.
    let r = gw
        .put("/v2/namespaces/ks/collections/c1/x")
        .header("x-cassandra-token", token("acme"))
        .json(&json!({"a": 1}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    for i in 2..50 {
        let (_, b) = command(&gw, "/v1/ks", json!({"createCollection": {"name": format!("c{i}")}}));
        assert_eq!(b, json!({"status": {"ok": 1}}), "collection {i}");
    }
    let (s, b) = command(&gw, "/v1/ks", json!({"createCollection": {"name": "c50"}}));
    assert_eq!((s, code(&b)), (200, "TOO_MANY_COLLECTIONS"));
    assert!(b["errors"][0]["message"].as_str().unwrap().contains("50"), "{b}");
    // Asking again for one that exists is still fine; dropping one makes room.
    assert_eq!(command(&gw, "/v1/ks", json!({"createCollection": {"name": "c7"}})).1, json!({"status": {"ok": 1}}));
    assert_eq!(command(&gw, "/v1/ks", json!({"deleteCollection": {"name": "c7"}})).1, json!({"status": {"ok": 1}}));
    assert_eq!(command(&gw, "/v1/ks", json!({"createCollection": {"name": "c50"}})).1, json!({"status": {"ok": 1}}));
}

/// What Datagate does not do is refused with the contract's codes, and a body
/// that is not a JSON command gets the envelope with a 415 or 400.
fn refusals_are_clear(store: Store) {
    let gw = Gateway::start(store);
    keyspace_with(&gw, "c", json!({"vector": {"dimension": 2}}));
    let post = |ct: &str, body: &str| {
        json_of(
            gw.post("/v1/ks/c")
                .header("token", token("acme"))
                .header("content-type", ct)
                .body(body.to_owned())
                .send()
                .unwrap(),
        )
    };
    let (s, b) = post("text/plain", r#"{"findOne": {}}"#);
    assert_eq!((s, code(&b)), (415, "UNSUPPORTED_CONTENT_TYPE"));
    let (s, b) = post("application/x-www-form-urlencoded", r#"{"findOne": {}}"#);
    assert_eq!((s, code(&b)), (415, "UNSUPPORTED_CONTENT_TYPE"));
    let (s, b) = post("application/json; charset=utf-8", r#"{"findOne": {}}"#);
    assert_eq!((s, b), (200, json!({"data": {"document": null}})));
    let (s, b) = post("application/json", "{not json");
    assert_eq!((s, code(&b)), (400, "REQUEST_NOT_JSON"));
    let cases = [
        (json!({"insertOne": {"document": {"$vectorize": "a desk"}}}), "VECTORIZE_FEATURE_NOT_AVAILABLE"),
        (json!({"find": {"sort": {"$vectorize": "a desk"}}}), "VECTORIZE_FEATURE_NOT_AVAILABLE"),
        (json!({"insertOne": {"document": {"$lexical": "a desk"}}}), "LEXICAL_NOT_ENABLED_FOR_COLLECTION"),
        (json!({"find": {"sort": {"$lexical": "desk"}}}), "LEXICAL_NOT_ENABLED_FOR_COLLECTION"),
        (json!({"find": {"filter": {"$lexical": {"$match": "desk"}}}}), "LEXICAL_NOT_ENABLED_FOR_COLLECTION"),
        (json!({"findAndRerank": {"sort": {"$hybrid": "desk"}}}), "RERANKING_FEATURE_NOT_ENABLED"),
    ];
    for (cmd, want) in cases {
        let (s, b) = command(&gw, "/v1/ks/c", cmd.clone());
        assert_eq!((s, code(&b)), (200, want), "{cmd}");
        assert!(b.get("data").is_none(), "{b}");
    }
    let (_, b) =
        command(&gw, "/v1/ks", json!({"createCollection": {"name": "l", "options": {"lexical": {"enabled": true}}}}));
    assert_eq!(code(&b), "LEXICAL_NOT_AVAILABLE_FOR_DATABASE");
    let (_, b) = command(
        &gw,
        "/v1/ks",
        json!({"createCollection": {"name": "v", "options": {"vector": {"dimension": 2, "service": {"provider": "openai"}}}}}),
    );
    assert_eq!(code(&b), "VECTORIZE_FEATURE_NOT_AVAILABLE");
}

/// Vector search reads the packed vectors the store keeps beside each
/// document: every way a document changes (either API) shows in the results.
fn vector_search_follows_every_write(store: Store) {
    let gw = Gateway::start(store);
    keyspace_with(&gw, "v", json!({"vector": {"dimension": 2, "metric": "euclidean"}}));
    let docs = json!([
        {"_id": "a", "$vector": [1.0, 0.0]}, {"_id": "b", "$vector": [0.0, 1.0]},
        {"_id": "c", "$vector": [0.5, 0.5]}, {"_id": "plain"}
    ]);
    command(&gw, "/v1/ks/v", json!({"insertMany": {"documents": docs}}));
    let near = |q: Value, limit: u32| {
        let (_, b) = command(
            &gw,
            "/v1/ks/v",
            json!({"find": {"sort": {"$vector": q}, "options": {"limit": limit, "includeSimilarity": true}}}),
        );
        b["data"]["documents"]
            .as_array()
            .unwrap_or_else(|| panic!("{b}"))
            .iter()
            .map(|d| d["_id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(near(json!([0.9, 0.1]), 3), ["a", "c", "b"]);
    let (_, b) = command(
        &gw,
        "/v1/ks/v",
        json!({"findOne": {"sort": {"$vector": [0.9, 0.1]}, "options": {"includeSimilarity": true}}}),
    );
    assert!((b["data"]["document"]["$similarity"].as_f64().unwrap() - 1.0 / 1.02).abs() < 1e-6, "{b}");
    // An update moves a vector; a replace without one and a delete remove it.
    command(
        &gw,
        "/v1/ks/v",
        json!({"updateOne": {"filter": {"_id": "b"}, "update": {"$set": {"$vector": [1.0, 0.1]}}}}),
    );
    assert_eq!(near(json!([0.9, 0.1]), 2), ["b", "a"]);
    command(&gw, "/v1/ks/v", json!({"findOneAndReplace": {"filter": {"_id": "b"}, "replacement": {"x": 1}}}));
    command(&gw, "/v1/ks/v", json!({"deleteOne": {"filter": {"_id": "a"}}}));
    assert_eq!(near(json!([0.9, 0.1]), 5), ["c"]);
    // The Documents API writes go through the same store calls.
    let put = |id: &str, body: Value| {
        let r = gw
            .put(&format!("/v2/namespaces/ks/collections/v/{id}"))
            .header("x-cassandra-token", token("acme"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{:?}", r.text());
    };
    put("d", json!({"_id": "d", "$vector": [0.9, 0.1]}));
    assert_eq!(near(json!([0.9, 0.1]), 1), ["d"]);
    put("c", json!({"_id": "c"}));
    assert_eq!(near(json!([0.9, 0.1]), 5), ["d"]);
    // A filter still works (every document checked).
    let (_, b) =
        command(&gw, "/v1/ks/v", json!({"find": {"filter": {"_id": {"$ne": "d"}}, "sort": {"$vector": [0.9, 0.1]}}}));
    assert_eq!(b["data"]["documents"], json!([]), "{b}");
    // Dropped with the collection: a new one of that name starts empty.
    command(&gw, "/v1/ks", json!({"deleteCollection": {"name": "v"}}));
    let (_, b) =
        command(&gw, "/v1/ks", json!({"createCollection": {"name": "v", "options": {"vector": {"dimension": 2}}}}));
    assert_eq!(b, json!({"status": {"ok": 1}}));
    assert!(near(json!([0.9, 0.1]), 5).is_empty());
}

pub(crate) fn astra_db_ts_session(store: Store) {
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

/// `insertMany` goes to the store in one call; each document still answers
/// for itself: ordered stops at the first failure with nothing after it
/// written, unordered writes every other document.
fn insert_many_conflicts(store: Store) {
    let gw = Gateway::start(store);
    keyspace_with(&gw, "batch", json!({}));
    let insert = |docs: Value, ordered: bool| {
        let options = json!({"ordered": ordered, "returnDocumentResponses": true});
        let (s, b) = command(&gw, "/v1/ks/batch", json!({"insertMany": {"documents": docs, "options": options}}));
        assert_eq!(s, 200, "{b}");
        let status: Vec<String> = b["status"]["documentResponses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_str().unwrap().to_owned())
            .collect();
        (status, b)
    };
    let (status, _) = insert(json!([{"_id": "a"}, {"_id": "b"}]), true);
    assert_eq!(status, ["OK", "OK"]);
    let (status, b) = insert(json!([{"_id": "c"}, {"_id": "a"}, {"_id": "d"}]), true);
    assert_eq!(status, ["OK", "ERROR", "SKIPPED"], "{b}");
    assert_eq!(b["errors"][0]["errorCode"], "DOCUMENT_ALREADY_EXISTS");
    assert_eq!(b["errors"][0]["documentIds"], json!(["a"]));
    let (status, b) = insert(json!([{"_id": "e"}, {"_id": "b"}, {"_id": "f"}, {"_id": "e"}]), false);
    assert_eq!(status, ["OK", "ERROR", "OK", "ERROR"], "{b}");
    assert_eq!(b["errors"].as_array().unwrap().len(), 2);
    let (_, b) = command(&gw, "/v1/ks/batch", json!({"find": {"projection": {"_id": 1}}}));
    let mut ids: Vec<&str> =
        b["data"]["documents"].as_array().unwrap().iter().map(|d| d["_id"].as_str().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, ["a", "b", "c", "e", "f"], "d came after an ordered failure: {b}");
}

/// A filtered read of a big enough collection (1,000 documents) builds an
/// index for the path on SQLite (on PostgreSQL, the GIN index that covers every path) and
/// answers the same through it: arrays holding the value, paging, counts,
/// deletes and inserts after it. On SQLite the test reads the indexes and the
/// plan of the narrowing probe from the store file.
fn filters_are_answered_through_indexes(store: Store) {
    let gw = Gateway::start(store);
    keyspace_with(&gw, "big", json!({}));
    for start in (0..1200).step_by(100) {
        let docs: Vec<Value> = (start..start + 100)
            .map(|i| {
                let city = format!("c{}", i % 50);
                let city = if i % 7 == 0 { json!(["x", city]) } else { json!(city) };
                json!({"_id": format!("d{i:04}"), "user": {"city": city}, "n": i % 10})
            })
            .collect();
        let (s, b) = command(&gw, "/v1/ks/big", json!({"insertMany": {"documents": docs}}));
        assert_eq!((s, b["status"]["insertedIds"].as_array().map(Vec::len)), (200, Some(100)), "{b}");
    }
    let want: Vec<String> = (0..1200).filter(|i| i % 50 == 7).map(|i| format!("d{i:04}")).collect();
    let mut seen = Vec::new();
    let mut state = Value::Null;
    loop {
        let (_, b) = command(
            &gw,
            "/v1/ks/big",
            json!({"find": {"filter": {"user.city": "c7"}, "options": {"pageState": state}}}),
        );
        let docs = b["data"]["documents"].as_array().unwrap_or_else(|| panic!("{b}"));
        seen.extend(docs.iter().map(|d| d["_id"].as_str().unwrap().to_owned()));
        state = b["data"]["nextPageState"].clone();
        if state.is_null() {
            break;
        }
    }
    assert_eq!(seen, want);
    let (_, b) = command(&gw, "/v1/ks/big", json!({"countDocuments": {"filter": {"n": {"$in": [3, 4]}}}}));
    assert_eq!(b["status"]["count"], 240, "{b}");

    if store == Store::Sqlite {
        let c = rusqlite::Connection::open(gw.sqlite_file_of("acme")).unwrap();
        let names: String = c
            .query_row(
                "SELECT group_concat(name, ' ') FROM sqlite_master WHERE type = 'index' AND name LIKE '%#big#%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        for want in ["#i#user.city", "#a#user.city", "#i#n", "#a#n"] {
            assert!(names.contains(want), "{want} in {names}");
        }
        let table: String = c
            .query_row("SELECT tbl_name FROM sqlite_master WHERE name LIKE '%#big#i#user.city'", [], |r| r.get(0))
            .unwrap();
        let city = "'$.\"user\".\"city\"'";
        let probe = format!(
            "EXPLAIN QUERY PLAN SELECT id FROM \"{table}\" WHERE json_extract(doc, {city}) IN ('c7') OR \
             (json_type(doc, {city}) = 'array' AND EXISTS (SELECT 1 FROM json_each(doc, {city}) WHERE value IN ('c7')))"
        );
        let plan: Vec<String> =
            c.prepare(&probe).unwrap().query_map([], |r| r.get(3)).unwrap().map(Result::unwrap).collect();
        assert_eq!(plan[0], "MULTI-INDEX OR", "{plan:?}");
    }

    // Writes after the index: deletes leave it, new documents (an array
    // holding the value among them) are found through it.
    // (20 per call, as the contract says.)
    let mut deleted = 0;
    loop {
        let (_, b) = command(&gw, "/v1/ks/big", json!({"deleteMany": {"filter": {"user.city": "c7"}}}));
        deleted += b["status"]["deletedCount"].as_i64().unwrap_or_else(|| panic!("{b}"));
        if b["status"]["moreData"] != true {
            break;
        }
    }
    assert_eq!(deleted, 24);
    let (_, b) =
        command(&gw, "/v1/ks/big", json!({"insertOne": {"document": {"_id": "z", "user": {"city": ["q", "c7"]}}}}));
    assert_eq!(b["status"]["insertedIds"], json!(["z"]), "{b}");
    let (_, b) = command(&gw, "/v1/ks/big", json!({"find": {"filter": {"user.city": "c7"}}}));
    assert_eq!(b["data"]["documents"], json!([{"_id": "z", "user": {"city": ["q", "c7"]}}]));
    let (mut modified, mut state) = (0, Value::Null);
    loop {
        let (_, b) = command(
            &gw,
            "/v1/ks/big",
            json!({"updateMany": {"filter": {"user.city": "c8"}, "update": {"$set": {"user.city": "c7"}},
                   "options": {"pageState": state}}}),
        );
        modified += b["status"]["modifiedCount"].as_i64().unwrap_or_else(|| panic!("{b}"));
        state = b["status"]["nextPageState"].clone();
        if state.is_null() {
            break;
        }
    }
    assert_eq!(modified, 24);
    let (_, b) = command(&gw, "/v1/ks/big", json!({"countDocuments": {"filter": {"user.city": "c7"}}}));
    assert_eq!(b["status"]["count"], 25, "{b}");
    let (_, b) = command(&gw, "/v1/ks/big", json!({"countDocuments": {"filter": {"user.city": "c8"}}}));
    assert_eq!(b["status"]["count"], 0, "{b}");

    let (_, b) = command(&gw, "/v1/ks", json!({"deleteCollection": {"name": "big"}}));
    assert_eq!(b, json!({"status": {"ok": 1}}));
    if store == Store::Sqlite {
        let c = rusqlite::Connection::open(gw.sqlite_file_of("acme")).unwrap();
        let left: i64 =
            c.query_row("SELECT count(*) FROM sqlite_master WHERE name LIKE '%#big#%'", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 0, "the indexes went with the collection");
    }
}

/// `findOne` by `_id` alone with the default projection sends the stored
/// text, not a parsed and rewritten tree: the same document, member for
/// member and in the same order, as the general path (`find`) answers.
fn find_one_by_id_reads_the_stored_text(store: Store) {
    let gw = Gateway::start(store);
    keyspace_with(&gw, "v", json!({"vector": {"dimension": 2, "metric": "cosine"}}));
    let raw = |body: Value| {
        let r = gw.post("/v1/ks/v").header("token", token("acme")).body(body.to_string()).send().unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.text().unwrap()
    };
    let uuid = json!({"$uuid": "0190d3b6-7b3e-7000-8000-000000000000"});
    let docs = json!([
        // Members shorter than `_id` come before it in PostgreSQL's `jsonb`.
        {"zz": 1, "a": "two  spaces, \"quoted\" ☃", "_id": "k", "$vector": [0.1, 0.2], "n": [1.5, null, {"x": {}}]},
        {"_id": uuid, "b": true},
    ]);
    let (_, b) = command(&gw, "/v1/ks/v", json!({"insertMany": {"documents": docs}}));
    assert_eq!(b["status"]["insertedIds"].as_array().map(Vec::len), Some(2), "{b}");
    for id in [json!("k"), uuid.clone()] {
        let text = raw(json!({"findOne": {"filter": {"_id": id}}}));
        let (_, general) = command(&gw, "/v1/ks/v", json!({"find": {"filter": {"_id": id}}}));
        let want = json!({"data": {"document": general["data"]["documents"][0]}});
        assert_eq!(text, want.to_string(), "byte for byte, _id first, no $vector");
    }
    // The filter still decides: a condition on _id that fails finds nothing.
    let none = raw(json!({"findOne": {"filter": {"_id": "k", "$not": {"_id": "k"}}}}));
    assert_eq!(none, r#"{"data":{"document":null}}"#);
    assert_eq!(raw(json!({"findOne": {"filter": {"_id": "absent"}}})), r#"{"data":{"document":null}}"#);
    // A Documents API document has no _id member: its documentId is its _id.
    let r = gw
        .put("/v2/namespaces/ks/collections/v/d2")
        .header("x-cassandra-token", token("acme"))
        .header("content-type", "application/json")
        .body(r#"{"b": {"c": [1, 2]}, "a": 2}"#)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let text = raw(json!({"findOne": {"filter": {"_id": "d2"}}}));
    let (_, general) = command(&gw, "/v1/ks/v", json!({"find": {"filter": {"_id": "d2"}}}));
    assert_eq!(text, json!({"data": {"document": general["data"]["documents"][0]}}).to_string());
    assert!(text.starts_with(r#"{"data":{"document":{"_id":"d2","#), "{text}");
}
