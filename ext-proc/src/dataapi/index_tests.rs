//! The Data API's filtered reads through the store's indexes find exactly
//! what a scan does: for every filter below, paging through the narrowed,
//! indexed search (as [`super::store::Store::scan`] does) and checking each
//! document gives the ids a plain pass over every document gives, in order,
//! also after documents are replaced and deleted. On a real SQLite file.

use super::filter::{matches, parse, Filter};
use super::store::prefilter;
use crate::model::Namespace;
use crate::store::docs::{DocStore, Edit, EditFn};
use crate::store::docsql::DocSearch;
use crate::store::sqlite::SqliteStore;
use crate::store::{PoolSettings, Store};
use serde_json::{json, Value as Json};

/// A value for `a.b` of every kind the filters below look for.
fn value(i: usize) -> Option<Json> {
    let k = i % 5;
    Some(match i % 16 {
        0 => json!(format!("s{k}")),
        1 => json!(k),
        2 => json!(k as f64 + 0.5),
        3 => json!(k as f64),
        4 => json!([format!("s{k}"), k]),
        5 => json!(k.is_multiple_of(2)),
        6 => Json::Null,
        7 => return None,
        8 => json!({"c": format!("s{k}")}),
        9 => json!([[format!("s{k}")], {"c": 1}]),
        10 => json!("[\"s1\"]"),
        11 => json!([true, null, 2.0]),
        12 => json!(9_007_199_254_740_993_u64),
        13 => json!([]),
        14 => json!(k.to_string()),
        _ => json!([format!("s{k}"), format!("s{}", (k + 1) % 5)]),
    })
}

fn doc(i: usize) -> (String, Json) {
    let mut d =
        json!({"_id": format!("d{i:05}"), "t": if i.is_multiple_of(3) { json!("x") } else { json!(["y", "x"]) }});
    match value(i) {
        // Every 4th document holds it under an array of objects, which a
        // dotted path does not reach.
        Some(v) if i % 4 == 3 => d["a"] = json!([{"b": v}]),
        Some(v) => d["a"] = json!({"b": v}),
        None => d["a"] = json!("flat"),
    }
    (format!("d{i:05}"), d)
}

const FILTERS: &[&str] = &[
    r#"{"a.b": "s1"}"#,
    r#"{"a.b": 1}"#,
    r#"{"a.b": 2.0}"#,
    r#"{"a.b": true}"#,
    r#"{"a.b": false}"#,
    r#"{"a.b": {"$eq": "s3"}}"#,
    r#"{"a.b": {"$in": ["s2", 3, true]}}"#,
    r#"{"a.b": "[\"s1\"]"}"#,
    r#"{"a.b": "2"}"#,
    r#"{"a.b": null}"#,
    r#"{"a.b": 9007199254740992}"#,
    r#"{"a.b": 1.5}"#,
    r#"{"a.b": ["s1", 1]}"#,
    r#"{"a.b": {"c": "s1"}}"#,
    r#"{"a.b": "s2", "t": "x"}"#,
    r#"{"$and": [{"a.b": {"$in": ["s4", 0]}}, {"t": "y"}]}"#,
    r#"{"a.b": "s1", "$or": [{"t": "y"}, {"a.b": 1}]}"#,
    r#"{"a.b": {"$ne": "s1"}, "t": "x"}"#,
    r#"{"a.c": "s1"}"#,
    r#"{"a": "flat"}"#,
];

/// The ids `f` selects, read the way the Data API's scan reads them: pages of
/// `page` after a cursor, narrowed by the prefilter, each document checked.
async fn through_store(store: &SqliteStore, ns: &Namespace, f: &Filter, page: u32) -> Vec<String> {
    let pre = prefilter(f);
    let mut out = Vec::new();
    let mut after: Option<Vec<Json>> = None;
    loop {
        let s = DocSearch {
            filter: pre.as_ref(),
            sort: &[],
            after: after.as_deref(),
            limit: page,
            now_ms: 0,
            auto_index: true,
        };
        let rows = store.search(ns, "c", &s).await.unwrap();
        let full = rows.len() == page as usize;
        after = rows.last().map(|r| r.key.clone());
        out.extend(rows.into_iter().filter(|r| matches(&r.doc, f)).map(|r| r.id));
        if !full {
            return out;
        }
    }
}

#[tokio::test]
async fn indexed_reads_find_what_a_scan_finds() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("x.db").to_str().unwrap(), PoolSettings::sized(2)).await.unwrap();
    let ns = Namespace { tenant: "t".into(), keyspace: "k".into() };
    store.create_keyspace(&ns).await.unwrap();
    store.create_collection(&ns, "c", false).await.unwrap();
    let mut docs: std::collections::BTreeMap<String, Json> = (0..1600).map(doc).collect();
    let all: Vec<(String, Json)> = docs.clone().into_iter().collect();
    store.put_docs(&ns, "c", &all, None).await.unwrap();

    for round in 0..2 {
        for text in FILTERS {
            let f = parse(Some(&serde_json::from_str(text).unwrap())).unwrap();
            let want: Vec<String> = docs.iter().filter(|(_, d)| matches(d, &f)).map(|(k, _)| k.clone()).collect();
            for page in [7, 1000] {
                assert_eq!(through_store(&store, &ns, &f, page).await, want, "round {round}, page {page}: {text}");
            }
        }
        let indexed = store.doc_indexes(&ns, "c").await.unwrap();
        assert_eq!(indexed, ["a", "a.b", "a.c", "t"], "the filters above were answered through indexes");

        // Replace, edit and delete some, then read again through the same indexes.
        let replaced: Vec<(String, Json)> = (0..1600).step_by(5).map(|i| doc(i * 7 + 3)).collect();
        let replaced: Vec<(String, Json)> =
            replaced.into_iter().zip((0..1600).step_by(5)).map(|((_, d), i)| (format!("d{i:05}"), d)).collect();
        store.put_docs(&ns, "c", &replaced, None).await.unwrap();
        for (k, d) in replaced {
            docs.insert(k, d);
        }
        for i in (1..1600).step_by(11) {
            let key = format!("d{i:05}");
            let delete: EditFn = Box::new(|_, _| Ok(Edit::Delete { reply: Json::Null }));
            store.edit_doc(&ns, "c", &key, 0, delete).await.unwrap();
            docs.remove(&key);
        }
    }
}
