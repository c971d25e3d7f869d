//! Document indexes built on demand for the Data API's array-aware equality:
//! when they are built, that searches use them (by `EXPLAIN QUERY PLAN`, never
//! by timing), the cap, and that they go with their collection.

use super::{names, SqliteDialect, SqliteStore};
use crate::doc::filter::{Comparison, Filter};
use crate::doc::path::{parse, Segment};
use crate::model::Namespace;
use crate::store::docs::DocStore;
use crate::store::docs::{AUTO_INDEX_MIN_DOCS, MAX_INDEXED_PATHS};
use crate::store::docsql::{self, DocSearch};
use crate::store::{PoolSettings, Store};
use serde_json::{json, Value as Json};

/// `path == v OR path[*] == v`, the shape the Data API narrows with.
fn any_eq(path: &str, v: Json) -> Filter {
    let keys = parse(path).unwrap();
    let mut all = keys.clone();
    all.push(Segment::AnyIndex);
    Filter::Or(vec![Filter::Leaf(keys, Comparison::Eq(v.clone())), Filter::Leaf(all, Comparison::Eq(v))])
}

fn search<'a>(f: &'a Filter, after: Option<&'a [Json]>) -> DocSearch<'a> {
    DocSearch { filter: Some(f), sort: &[], after, limit: 5, now_ms: 0, auto_index: true }
}

/// The plan SQLite picks for the search the store would run.
fn plan(db: &std::path::Path, table: &str, s: &DocSearch<'_>) -> String {
    let q = docsql::search(&SqliteDialect, table, s).unwrap();
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c.prepare(&format!("EXPLAIN QUERY PLAN {}", q.sql)).unwrap();
    let rows = st.query_map(rusqlite::params_from_iter(q.params.iter()), |r| r.get::<_, String>(3)).unwrap();
    rows.map(Result::unwrap).collect::<Vec<_>>().join(" | ")
}

/// The collection's index names in SQLite's schema.
fn schema_indexes(db: &std::path::Path, table: &str) -> Vec<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    let unquoted = table.trim_matches('"').replace("\"\"", "\"");
    let mut st =
        c.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 ORDER BY name").unwrap();
    let rows = st.query_map([unquoted], |r| r.get::<_, String>(0)).unwrap();
    rows.map(Result::unwrap).filter(|n| n.contains("#i#") || n.contains("#a#")).collect()
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: SqliteStore,
    ns: Namespace,
    db: std::path::PathBuf,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("x.db");
    let store = SqliteStore::open(main.to_str().unwrap(), PoolSettings::sized(2)).await.unwrap();
    let ns = Namespace { tenant: "t".into(), keyspace: "k".into() };
    let db = store.tenant_path(&ns.tenant);
    store.create_keyspace(&ns).await.unwrap();
    Fixture { _dir: dir, store, ns, db }
}

/// `n` documents: `user.city` is `c{i % 50}`, every 7th one an array holding it and "x".
async fn fill(f: &Fixture, coll: &str, n: i64) {
    f.store.create_collection(&f.ns, coll, false).await.unwrap();
    let docs: Vec<(String, Json)> = (0..n)
        .map(|i| {
            let city = format!("c{}", i % 50);
            let city = if i % 7 == 0 { json!([city, "x"]) } else { json!(city) };
            (format!("d{i:05}"), json!({"user": {"city": city}, "n": i % 10, "on": i % 2 == 0}))
        })
        .collect();
    f.store.put_docs(&f.ns, coll, &docs, None).await.unwrap();
}

#[tokio::test]
async fn a_filtered_search_on_a_big_collection_builds_and_uses_both_indexes() {
    let f = fixture().await;
    fill(&f, "c", AUTO_INDEX_MIN_DOCS + 200).await;
    let table = names::table(&f.ns, "c");
    let eq = any_eq("user.city", json!("c7"));
    assert!(plan(&f.db, &table, &search(&eq, None)).starts_with("SCAN"), "nothing indexed yet");

    // A search that may not build (the Documents API's) leaves it alone.
    let mut declared_only = search(&eq, None);
    declared_only.auto_index = false;
    f.store.search(&f.ns, "c", &declared_only).await.unwrap();
    assert!(schema_indexes(&f.db, &table).is_empty());

    let hits = f.store.search(&f.ns, "c", &search(&eq, None)).await.unwrap();
    let ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
    // d00007 holds ["c7", "x"]; the others the string.
    assert_eq!(ids, ["d00007", "d00057", "d00107", "d00157", "d00207"]);
    assert_eq!(f.store.doc_indexes(&f.ns, "c").await.unwrap(), ["user.city"]);
    let p = plan(&f.db, &table, &search(&eq, None));
    assert!(p.contains("MULTI-INDEX OR"), "{p}");
    assert!(p.contains("#i#user.city (<expr>=?)") && p.contains("#a#user.city (<expr>=?)"), "{p}");
    assert!(p.starts_with("MULTI-INDEX OR"), "no scan: {p}");

    // A later page seeks past the cursor in both indexes.
    let after = [json!("d00207")];
    let p = plan(&f.db, &table, &search(&eq, Some(&after)));
    assert!(p.contains("#i#user.city (<expr>=? AND id>?)") && p.contains("#a#user.city (<expr>=? AND id>?)"), "{p}");
    let next = f.store.search(&f.ns, "c", &search(&eq, Some(&after))).await.unwrap();
    assert_eq!(next[0].id, "d00257");

    // Numbers, booleans and $in lists take the same road.
    for (path, op) in [
        ("n", Comparison::Eq(json!(3))),
        ("on", Comparison::Eq(json!(true))),
        ("user.city", Comparison::In(vec![json!("c1"), json!("x")])),
    ] {
        let keys = parse(path).unwrap();
        let mut all = keys.clone();
        all.push(Segment::AnyIndex);
        let w = Filter::Or(vec![Filter::Leaf(keys, op.clone()), Filter::Leaf(all, op)]);
        f.store.search(&f.ns, "c", &search(&w, None)).await.unwrap();
        let p = plan(&f.db, &table, &search(&w, None));
        assert!(p.contains("MULTI-INDEX OR") && p.contains(&format!("#i#{path}")), "{path}: {p}");
    }
    assert_eq!(f.store.doc_indexes(&f.ns, "c").await.unwrap(), ["n", "on", "user.city"]);

    // Declaring a set drops the rest, array indexes included; dropping the
    // collection drops what is left.
    f.store.set_doc_indexes(&f.ns, "c", &[parse("n").unwrap()]).await.unwrap();
    let left = schema_indexes(&f.db, &table);
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.iter().all(|n| n.ends_with("#n")), "{left:?}");
    f.store.drop_collection(&f.ns, "c").await.unwrap();
    assert!(schema_indexes(&f.db, &table).is_empty());
}

#[tokio::test]
async fn small_collections_and_full_ones_are_not_indexed_on_demand() {
    let f = fixture().await;
    fill(&f, "small", AUTO_INDEX_MIN_DOCS - 1).await;
    let eq = any_eq("user.city", json!("c7"));
    let hits = f.store.search(&f.ns, "small", &search(&eq, None)).await.unwrap();
    assert_eq!(hits.len(), 5);
    assert!(f.store.doc_indexes(&f.ns, "small").await.unwrap().is_empty());

    fill(&f, "full", AUTO_INDEX_MIN_DOCS).await;
    let declared: Vec<_> = (0..MAX_INDEXED_PATHS).map(|i| parse(&format!("p{i:02}")).unwrap()).collect();
    f.store.set_doc_indexes(&f.ns, "full", &declared).await.unwrap();
    let hits = f.store.search(&f.ns, "full", &search(&eq, None)).await.unwrap();
    assert_eq!(hits.len(), 5, "answered by a scan");
    let have = f.store.doc_indexes(&f.ns, "full").await.unwrap();
    assert_eq!(have.len(), MAX_INDEXED_PATHS);
    assert!(!have.contains(&"user.city".to_owned()));
}

#[tokio::test]
async fn a_declared_path_serves_array_aware_equality_at_any_size() {
    let f = fixture().await;
    fill(&f, "c", 300).await;
    f.store.set_doc_indexes(&f.ns, "c", &[parse("user.city").unwrap()]).await.unwrap();
    let table = names::table(&f.ns, "c");
    let eq = any_eq("user.city", json!("c7"));
    let p = plan(&f.db, &table, &search(&eq, None));
    assert!(p.contains("MULTI-INDEX OR") && p.contains("#a#user.city"), "{p}");
}

#[tokio::test]
async fn a_search_reads_the_same_rows_whichever_thread_parses_them() {
    // 2 documents of 40 KiB are parsed by the caller, 10 (400 KiB) on the
    // SQLite call's thread (docs::PARSE_ON_CALLER_MAX_BYTES is 256 KiB).
    let f = fixture().await;
    f.store.create_collection(&f.ns, "big", false).await.unwrap();
    let pad = "p".repeat(40 * 1024);
    let docs: Vec<(String, Json)> = (0..10).map(|i| (format!("d{i}"), json!({"n": i, "pad": pad}))).collect();
    f.store.put_docs(&f.ns, "big", &docs, None).await.unwrap();
    for limit in [2, 10] {
        let s = DocSearch { filter: None, sort: &[], after: None, limit, now_ms: 0, auto_index: false };
        let rows = f.store.search(&f.ns, "big", &s).await.unwrap();
        assert_eq!(rows.len(), limit as usize);
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(r.id, format!("d{i}"));
            assert_eq!(r.doc["n"], json!(i));
            assert_eq!(r.doc["pad"].as_str().map(str::len), Some(40 * 1024));
            assert_eq!(r.key.last(), Some(&json!(r.id)));
        }
    }
}
