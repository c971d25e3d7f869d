//! Component tests for the packed vectors kept beside documents, on both
//! stores: every kind of document write, delete, expiry and drop keeps the
//! side table in step, so a nearest-neighbour read never sees a stale vector.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod common;
use common::Harness;
use datagate::model::Namespace;
use datagate::store::docs::{DocStore, Edit};
use datagate::store::vectors::Scorer;
use serde_json::{json, Value};
use std::sync::Arc;

on_both_stores!(side_table_follows_every_write);

fn ns() -> Namespace {
    Namespace { tenant: "t".into(), keyspace: "ns".into() }
}

/// Dot product with `[1, 0.1]`.
fn scorer() -> Scorer {
    Arc::new(|v: &[f32]| f64::from(v[0]) + 0.1 * f64::from(v[1]))
}

async fn nearest(docs: &dyn DocStore, k: usize) -> Vec<String> {
    docs.nearest(&ns(), "v", scorer(), k).await.unwrap().into_iter().map(|(id, _)| id).collect()
}

async fn write(docs: &dyn DocStore, id: &str, doc: Value) {
    let f = Box::new(move |_: Option<Value>, _: Option<i64>| {
        Ok(Edit::Write { doc: doc.clone(), expires_ms: None, reply: Value::Null })
    });
    docs.edit_doc(&ns(), "v", id, 0, f).await.unwrap();
}

async fn side_table_follows_every_write(postgres: bool) {
    let h = Harness::new(postgres).await;
    assert_eq!(h.call("t", "POST", "/v2/schemas/namespaces", Some(json!({"name": "ns"}))).await.0, 201);
    let docs = h.store.docs.as_ref();
    docs.create_collection(&ns(), "v", false).await.unwrap();
    let put = vec![
        ("a".to_owned(), json!({"$vector": [1.0, 0.0]})),
        ("b".to_owned(), json!({"$vector": [0.0, 1.0]})),
        ("c".to_owned(), json!({"$vector": [0.5, 0.5]})),
        ("plain".to_owned(), json!({"x": 1})),
    ];
    docs.put_docs(&ns(), "v", &put, None).await.unwrap();
    assert_eq!(nearest(docs, 2).await, ["a", "c"]);
    let found = docs.nearest(&ns(), "v", scorer(), 1).await.unwrap();
    assert!((found[0].1 - 1.0).abs() < 1e-9);
    let by_id = docs.docs_by_id(&ns(), "v", &["a".into(), "plain".into(), "zz".into()], 0).await.unwrap();
    assert_eq!(by_id.len(), 2);

    // An edit moves a vector; one without a vector removes it; a delete too.
    write(docs, "b", json!({"$vector": [2.0, 0.0]})).await;
    assert_eq!(nearest(docs, 1).await, ["b"]);
    write(docs, "b", json!({"x": 2})).await;
    let del = Box::new(|_: Option<Value>, _: Option<i64>| Ok(Edit::Delete { reply: Value::Null }));
    docs.edit_doc(&ns(), "v", "a", 0, del).await.unwrap();
    assert_eq!(nearest(docs, 5).await, ["c"]);
    // A replace (PUT) without a vector removes it.
    docs.put_docs(&ns(), "v", &[("c".to_owned(), json!({"y": 1}))], None).await.unwrap();
    assert!(nearest(docs, 5).await.is_empty());

    // Expiry: hidden from the document read at once, swept from the side table with the document.
    docs.put_docs(&ns(), "v", &[("e".to_owned(), json!({"$vector": [1.0, 1.0]}))], Some(1_000)).await.unwrap();
    assert!(docs.docs_by_id(&ns(), "v", &["e".into()], 2_000).await.unwrap().is_empty());
    assert!(docs.sweep_expired_docs(2_000).await.unwrap() >= 1);
    assert!(nearest(docs, 5).await.is_empty());
    // Re-creating an expired document's id writes a fresh vector.
    write(docs, "f", json!({"$vector": [0.0, 1.0]})).await;

    // Dropped with the collection, and with the keyspace.
    docs.drop_collection(&ns(), "v").await.unwrap();
    docs.create_collection(&ns(), "v", false).await.unwrap();
    assert!(nearest(docs, 5).await.is_empty());
    write(docs, "g", json!({"$vector": [0.0, 1.0]})).await;
    assert_eq!(h.call("t", "DELETE", "/v2/schemas/namespaces/ns", None).await.0, 204);
    assert_eq!(h.call("t", "POST", "/v2/schemas/namespaces", Some(json!({"name": "ns"}))).await.0, 201);
    docs.create_collection(&ns(), "v", false).await.unwrap();
    assert!(nearest(docs, 5).await.is_empty());
    h.done().await;
}
