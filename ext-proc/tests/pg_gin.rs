//! Component tests for PostgreSQL's on-demand GIN index (`store/postgres/gin.rs`):
//! a collection gets it from the first search that can use it once it holds
//! enough documents, once however many searches race, and never otherwise,
//! so writes to small or unsearched collections do not pay for it.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(unused_macros)] // on_both_stores: this file is PostgreSQL only
mod common;
use common::Harness;
use datagate::doc::filter::{Comparison, Filter};
use datagate::doc::path::parse;
use datagate::model::Namespace;
use datagate::store::docs::{DocStore, AUTO_INDEX_MIN_DOCS};
use datagate::store::docsql::DocSearch;
use serde_json::{json, Value};

fn ns() -> Namespace {
    Namespace { tenant: "t".into(), keyspace: "ns".into() }
}

async fn fill(docs: &dyn DocStore, coll: &str, n: i64) {
    docs.create_collection(&ns(), coll, false).await.unwrap();
    let all: Vec<(String, Value)> =
        (0..n).map(|i| (format!("d{i:05}"), json!({"user": {"city": format!("c{}", i % 10)}, "n": i}))).collect();
    for chunk in all.chunks(500) {
        assert!(docs.insert_docs(&ns(), coll, chunk, 0, false).await.unwrap().iter().all(|ok| *ok));
    }
}

async fn search(docs: &dyn DocStore, coll: &str, f: &Filter) -> usize {
    let s = DocSearch { filter: Some(f), sort: &[], after: None, limit: 10_000, now_ms: 0, auto_index: false };
    docs.search(&ns(), coll, &s).await.unwrap().len()
}

async fn gin_of(h: &Harness, coll: &str) -> i64 {
    h.pg_count(&format!("SELECT count(*) FROM pg_indexes WHERE indexname = '#{coll}#gin'")).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gin_index_is_built_by_the_first_search_that_needs_it() {
    let h = Harness::new(true).await;
    assert_eq!(h.call("t", "POST", "/v2/schemas/namespaces", Some(json!({"name": "ns"}))).await.0, 201);
    let d = h.store.docs.as_ref();
    let eq = Filter::Leaf(parse("user.city").unwrap(), Comparison::Eq(json!("c3")));
    let range = Filter::Leaf(parse("n").unwrap(), Comparison::Gte(json!(5)));

    // Small: scanned, never indexed.
    fill(d, "small", 10).await;
    assert_eq!(gin_of(&h, "small").await, 0, "a new collection has no GIN index");
    assert_eq!(search(d, "small", &eq).await, 1);
    assert_eq!(gin_of(&h, "small").await, 0, "too small to need one");

    // Big, but searched only by a filter the index cannot serve.
    fill(d, "ranged", AUTO_INDEX_MIN_DOCS).await;
    assert_eq!(search(d, "ranged", &range).await, (AUTO_INDEX_MIN_DOCS - 5) as usize);
    assert_eq!(gin_of(&h, "ranged").await, 0, "no containment probe, no index");

    // Big and searched by equality, eight searches at once: built once, and
    // every search answers what a scan answers.
    fill(d, "big", AUTO_INDEX_MIN_DOCS).await;
    let runs = (0..8).map(|_| search(d, "big", &eq));
    let found = futures_util::future::join_all(runs).await;
    assert!(found.iter().all(|n| *n == (AUTO_INDEX_MIN_DOCS / 10) as usize), "{found:?}");
    assert_eq!(gin_of(&h, "big").await, 1);
    // Writes after it keep it in step.
    d.put_docs(&ns(), "big", &[("new".to_owned(), json!({"user": {"city": "c3"}}))], None).await.unwrap();
    assert_eq!(search(d, "big", &eq).await, (AUTO_INDEX_MIN_DOCS / 10) as usize + 1);
    // It goes with its collection; a collection of the same name starts without one.
    d.drop_collection(&ns(), "big").await.unwrap();
    fill(d, "big", 10).await;
    assert_eq!(gin_of(&h, "big").await, 0);
    h.done().await;
}
