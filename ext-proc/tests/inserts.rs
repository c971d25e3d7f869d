//! Component tests for batch inserts on both stores: `DocStore::insert_docs`
//! (one transaction per batch; taken ids left alone, expired ones replaced,
//! ordered batches cut at the first failure with nothing after it written,
//! packed vectors kept in step) and the Data API's `insertMany` over it.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod common;
use common::Harness;
use datagate::model::Namespace;
use datagate::store::docs::DocStore;
use datagate::store::vectors::Scorer;
use serde_json::{json, Value};
use std::sync::Arc;

on_both_stores!(
    store_inserts_leave_taken_ids_alone,
    insert_many_answers_per_document,
    document_text_is_the_document_compact
);

fn ns() -> Namespace {
    Namespace { tenant: "t".into(), keyspace: "ns".into() }
}

fn docs(ids: &[&str]) -> Vec<(String, Value)> {
    ids.iter().map(|id| ((*id).to_owned(), json!({"id": id}))).collect()
}

async fn ids(docs: &dyn DocStore) -> Vec<String> {
    let all = ["a", "b", "c", "d", "e", "x", "v1", "v2"].map(String::from);
    let mut found: Vec<String> = docs.docs_by_id(&ns(), "c", &all, 0).await.unwrap().into_iter().map(|d| d.0).collect();
    found.sort();
    found
}

async fn store_inserts_leave_taken_ids_alone(postgres: bool) {
    let h = Harness::new(postgres).await;
    assert_eq!(h.call("t", "POST", "/v2/schemas/namespaces", Some(json!({"name": "ns"}))).await.0, 201);
    let d = h.store.docs.as_ref();
    d.create_collection(&ns(), "c", false).await.unwrap();
    assert_eq!(d.insert_docs(&ns(), "c", &docs(&["a", "b"]), 0, false).await.unwrap(), [true, true]);

    // Unordered: every free id is written; a taken one and a repeat are not.
    let out = d.insert_docs(&ns(), "c", &docs(&["c", "a", "c", "d"]), 0, false).await.unwrap();
    assert_eq!(out, [true, false, false, true]);
    assert_eq!(d.get_doc(&ns(), "c", "a", 0).await.unwrap(), Some(json!({"id": "a"})), "not overwritten");
    assert_eq!(ids(d).await, ["a", "b", "c", "d"]);

    // Ordered, a taken id in the middle: what came before it is written,
    // nothing after it (`e` is free, yet must not appear).
    let out = d.insert_docs(&ns(), "c", &docs(&["x", "b", "e"]), 0, true).await.unwrap();
    assert_eq!(out, [true, false, false]);
    assert_eq!(ids(d).await, ["a", "b", "c", "d", "x"]);
    // Ordered, a repeat inside the batch stops it the same way.
    let out = d.insert_docs(&ns(), "c", &docs(&["e", "e", "v1"]), 0, true).await.unwrap();
    assert_eq!(out, [true, false, false]);
    assert_eq!(ids(d).await, ["a", "b", "c", "d", "e", "x"]);
    // Ordered, the first one taken: nothing is written.
    assert_eq!(d.insert_docs(&ns(), "c", &docs(&["a", "v1"]), 0, true).await.unwrap(), [false, false]);
    assert_eq!(ids(d).await.len(), 6);

    // An expired document's id is free again.
    d.put_docs(&ns(), "c", &[("gone".into(), json!({"old": true}))], Some(1_000)).await.unwrap();
    let fresh = [("gone".to_owned(), json!({"new": true}))];
    assert_eq!(d.insert_docs(&ns(), "c", &fresh, 500, false).await.unwrap(), [false], "still live at 500");
    assert_eq!(d.insert_docs(&ns(), "c", &fresh, 2_000, false).await.unwrap(), [true]);
    assert_eq!(d.get_doc(&ns(), "c", "gone", 5_000).await.unwrap(), Some(json!({"new": true})), "and never expires");

    // Vectors ride along; a replaced expired document's vector goes.
    let vectors =
        [("v1".to_owned(), json!({"$vector": [1.0, 0.0]})), ("v2".to_owned(), json!({"$vector": [0.0, 1.0]}))];
    assert_eq!(d.insert_docs(&ns(), "c", &vectors, 0, true).await.unwrap(), [true, true]);
    let first: Scorer = Arc::new(|v: &[f32]| f64::from(v[0]));
    let best = d.nearest(&ns(), "c", first.clone(), 5).await.unwrap();
    assert_eq!(best.iter().map(|b| b.0.as_str()).collect::<Vec<_>>(), ["v1", "v2"]);
    d.put_docs(&ns(), "c", &[("old".into(), json!({"$vector": [9.0, 9.0]}))], Some(1_000)).await.unwrap();
    assert_eq!(d.insert_docs(&ns(), "c", &[("old".into(), json!({"n": 1}))], 2_000, false).await.unwrap(), [true]);
    assert_eq!(d.nearest(&ns(), "c", first, 5).await.unwrap().len(), 2, "the replaced vector is gone");

    // A missing collection is the collection's error, not a per-document one.
    let e = d.insert_docs(&ns(), "nope", &docs(&["a"]), 0, false).await.unwrap_err();
    assert!(matches!(e, datagate::store::StoreError::CollectionNotFound(_)), "{e:?}");
    h.done().await;
}

async fn command(h: &Harness, body: Value) -> Value {
    let (s, b) = h.call("t", "POST", "/v1/ns/people", Some(body)).await;
    assert_eq!(s, 200, "{b}");
    b
}

async fn count(h: &Harness) -> Value {
    command(h, json!({"countDocuments": {"filter": {}}})).await["status"]["count"].clone()
}

async fn insert_many_answers_per_document(postgres: bool) {
    let h = Harness::new(postgres).await;
    assert_eq!(h.call("t", "POST", "/v1", Some(json!({"createKeyspace": {"name": "ns"}}))).await.0, 200);
    let (s, b) = h.call("t", "POST", "/v1/ns", Some(json!({"createCollection": {"name": "people"}}))).await;
    assert_eq!((s, b), (200, json!({"status": {"ok": 1}})));
    let b = command(&h, json!({"insertMany": {"documents": [{"_id": "a"}, {"_id": "b"}]}})).await;
    assert_eq!(b["status"]["insertedIds"], json!(["a", "b"]));

    // Unordered: all but the taken id, the repeat and the bad document.
    let docs = json!([{"_id": "c"}, {"_id": "a"}, {"_id": "c"}, {"_id": [1]}, {"_id": "d"}, {"name": "gen"}]);
    let b = command(&h, json!({"insertMany": {"documents": docs, "options": {"returnDocumentResponses": true}}})).await;
    let rows = b["status"]["documentResponses"].as_array().unwrap();
    let status: Vec<&str> = rows.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(status, ["OK", "ERROR", "ERROR", "ERROR", "OK", "OK"], "{b}");
    assert!(rows[5]["_id"].is_string(), "a generated id is reported: {b}");
    let errors = b["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 3);
    assert_eq!(errors[0]["errorCode"], "DOCUMENT_ALREADY_EXISTS");
    assert_eq!(errors[0]["documentIds"], json!(["a"]));
    assert_eq!(errors[1]["errorCode"], "DOCUMENT_ALREADY_EXISTS");
    assert_eq!(errors[2]["errorCode"], "SHRED_BAD_DOCID_TYPE");
    assert_eq!((rows[1]["errorsIdx"].clone(), rows[3]["errorsIdx"].clone()), (json!(0), json!(2)));
    assert_eq!(count(&h).await, 5);

    // Ordered: a taken id in the middle stops the batch; nothing after it is written.
    let docs = json!([{"_id": "e"}, {"_id": "b"}, {"_id": "f"}, {"_id": [1]}]);
    let opts = json!({"ordered": true, "returnDocumentResponses": true});
    let b = command(&h, json!({"insertMany": {"documents": docs, "options": opts}})).await;
    let status: Vec<&str> =
        b["status"]["documentResponses"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(status, ["OK", "ERROR", "SKIPPED", "SKIPPED"], "{b}");
    assert_eq!(b["errors"].as_array().unwrap().len(), 1);
    assert_eq!(count(&h).await, 6);
    let b = command(&h, json!({"findOne": {"filter": {"_id": "f"}}})).await;
    assert_eq!(b["data"]["document"], Value::Null);

    // Ordered: a bad document stops it before the store is asked for the rest.
    let docs = json!([{"_id": "g"}, {"_id": "h", "$bad": 1}, {"_id": "i"}]);
    let b = command(&h, json!({"insertMany": {"documents": docs, "options": {"ordered": true}}})).await;
    assert_eq!(b["status"]["insertedIds"], json!(["g"]), "{b}");
    assert_eq!(b["errors"][0]["errorCode"], "SHRED_BAD_FIELD_NAME");
    assert_eq!(count(&h).await, 7);

    // insertOne on a taken id.
    let b = command(&h, json!({"insertOne": {"document": {"_id": "a"}}})).await;
    assert_eq!(b["errors"][0]["errorCode"], "DOCUMENT_ALREADY_EXISTS", "{b}");
    // The Documents API's limits apply per document (U+0000: no store keeps it).
    let docs = json!([{"_id": "j"}, {"_id": "k", "s": "a\u{0}b"}, {"_id": "l"}]);
    let b = command(&h, json!({"insertMany": {"documents": docs}})).await;
    assert_eq!(b["status"]["insertedIds"], json!(["j", "l"]), "{b}");
    assert_eq!(b["errors"][0]["errorCode"], "SHRED_DOC_LIMIT_VIOLATION", "{b}");
    assert_eq!(b["errors"][0]["documentIds"], json!(["k"]));
    h.done().await;
}

/// `get_doc_text` (the Data API's `findOne` by `_id`) reads what `get_doc`
/// reads, as compact text, with the same expiry and the same errors.
async fn document_text_is_the_document_compact(postgres: bool) {
    let h = Harness::new(postgres).await;
    assert_eq!(h.call("t", "POST", "/v2/schemas/namespaces", Some(json!({"name": "ns"}))).await.0, 201);
    let d = h.store.docs.as_ref();
    d.create_collection(&ns(), "c", false).await.unwrap();
    let doc = json!({"_id": "a", "s": "two  spaces, a \"quote\" and é☃", "n": [1, 2.5, null, {"x": {}}], "b": true});
    d.put_docs(&ns(), "c", &[("a".into(), doc.clone())], None).await.unwrap();
    d.put_docs(&ns(), "c", &[("old".into(), json!({"x": 1}))], Some(1_000)).await.unwrap();

    let text = d.get_doc_text(&ns(), "c", "a", 0).await.unwrap().unwrap();
    let value = d.get_doc(&ns(), "c", "a", 0).await.unwrap().unwrap();
    assert_eq!(value, doc);
    assert_eq!(text, serde_json::to_string(&value).unwrap(), "compact, in the store's member order");
    assert_eq!(d.get_doc_text(&ns(), "c", "old", 500).await.unwrap().as_deref(), Some(r#"{"x":1}"#));
    assert_eq!(d.get_doc_text(&ns(), "c", "old", 2_000).await.unwrap(), None, "expired");
    assert_eq!(d.get_doc_text(&ns(), "c", "nope", 0).await.unwrap(), None);
    assert!(matches!(
        d.get_doc_text(&ns(), "c2", "a", 0).await,
        Err(datagate::store::StoreError::CollectionNotFound(_))
    ));
}
