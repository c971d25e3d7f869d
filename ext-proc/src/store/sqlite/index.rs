//! Declared document indexes on SQLite: one expression index per path, on
//! `(json_extract(doc, '$."a"."b"'), id)`.
//!
//! Why expression indexes rather than a shredded path/value side table: the
//! index is kept by SQLite itself in the same write as the document (no second
//! statement per write, nothing to repair after a crash), it is dropped with
//! the table, and the planner uses it from the probe [`crate::store::docsql::search`] adds
//! for `$eq`, `$in` and ranges. The trailing `id` keeps matches in id order, so
//! a page after a cursor seeks instead of sorting every match: page 100 costs
//! what page 1 does.
//!
//! The path is the one piece of client input spliced into SQL text (an index
//! only matches a query spelling the same literal), so only paths of
//! [`crate::store::docsql::indexable_key`] keys get here. The index name carries the path,
//! so SQLite's own schema is the list of declared paths.

use super::names;
use super::names::table;
use super::SqliteDialect;
use super::{map_err, require_keyspace};
use crate::doc::path::{display, Path};
use crate::model::Namespace;
use crate::store::sql::{self, Dialect};
use crate::store::StoreError;
use rusqlite::{params, Connection};

/// Separates the collection's table name from the path in an index name ('#'
/// never occurs in table, collection or indexable key names).
const MARK: &str = "#i#";

/// The unquoted table name and the prefix of its declared indexes' names.
fn names_of(ns: &Namespace, coll: &str) -> (String, String) {
    let t = format!("{}#{}", ns.physical(), names::physical(coll));
    let prefix = format!("{t}{MARK}");
    (t, prefix)
}

/// The declared paths of a collection, sorted (dotted, e.g. `user.city`).
pub(super) fn list(c: &Connection, ns: &Namespace, coll: &str) -> Result<Vec<String>, StoreError> {
    let (t, prefix) = names_of(ns, coll);
    let exists = c
        .prepare_cached("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")
        .and_then(|mut s| s.exists(params![t]))
        .map_err(map_err)?;
    if !exists {
        require_keyspace(c, ns)?;
        return Err(StoreError::CollectionNotFound(coll.to_owned()));
    }
    let mut s = c
        .prepare_cached("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 ORDER BY name")
        .map_err(map_err)?;
    let rows = s.query_map(params![t], |r| r.get::<_, String>(0)).map_err(map_err)?;
    let mut out = Vec::new();
    for name in rows {
        if let Some(path) = name.map_err(map_err)?.strip_prefix(&prefix) {
            out.push(path.to_owned());
        }
    }
    Ok(out)
}

/// Makes the declared indexes exactly `paths`: builds the missing ones (over
/// the documents already stored) and drops the others, in one transaction.
pub(super) fn set(c: &mut Connection, ns: &Namespace, coll: &str, paths: &[Path]) -> Result<(), StoreError> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(map_err)?;
    let have = list(&tx, ns, coll)?;
    let (_, prefix) = names_of(ns, coll);
    let mut want = Vec::new();
    for path in paths {
        let expr = SqliteDialect
            .doc_index_expr(path)
            .ok_or_else(|| StoreError::Rejected(format!("'{}' cannot be indexed", display(path))))?;
        want.push((display(path), expr));
    }
    for (dotted, expr) in &want {
        if !have.contains(dotted) {
            let name = sql::quote(&format!("{prefix}{dotted}"));
            tx.execute_batch(&format!("CREATE INDEX {name} ON {} ({expr}, id)", table(ns, coll))).map_err(map_err)?;
        }
    }
    for dotted in have.iter().filter(|h| !want.iter().any(|(w, _)| w == *h)) {
        tx.execute_batch(&format!("DROP INDEX IF EXISTS {}", sql::quote(&format!("{prefix}{dotted}"))))
            .map_err(map_err)?;
    }
    tx.commit().map_err(map_err)
}

#[cfg(test)]
mod tests {
    use super::super::SqliteStore;
    use crate::doc::filter::{parse_where, Filter};
    use crate::doc::path::parse;
    use crate::model::Namespace;
    use crate::store::docs::DocStore;
    use crate::store::docsql::{self, DocSearch};
    use crate::store::{PoolSettings, Store};
    use serde_json::{json, Value as Json};

    /// The plan SQLite picks for the search the store would run (`EXPLAIN QUERY PLAN` details).
    fn plan(db: &std::path::Path, table: &str, search: &DocSearch<'_>) -> String {
        let q = docsql::search(&super::super::SqliteDialect, table, search).unwrap();
        let c = rusqlite::Connection::open(db).unwrap();
        let mut s = c.prepare(&format!("EXPLAIN QUERY PLAN {}", q.sql)).unwrap();
        let rows = s.query_map(rusqlite::params_from_iter(q.params.iter()), |r| r.get::<_, String>(3)).unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join(" | ")
    }

    fn search(f: &Filter) -> DocSearch<'_> {
        DocSearch { filter: Some(f), sort: &[], after: None, limit: 4, now_ms: 0 }
    }

    #[tokio::test]
    async fn declared_paths_are_searched_through_their_index() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("x.db");
        let store = SqliteStore::open(main.to_str().unwrap(), PoolSettings::sized(2)).await.unwrap();
        let ns = Namespace { tenant: "t".into(), keyspace: "k".into() };
        let db = store.tenant_path(&ns.tenant);
        store.create_keyspace(&ns).await.unwrap();
        store.create_collection(&ns, "c", false).await.unwrap();
        let docs: Vec<(String, Json)> = (0..500)
            .map(|i| (format!("d{i:03}"), json!({"user": {"city": format!("c{}", i % 50)}, "n": i, "s": "x"})))
            .collect();
        store.put_docs(&ns, "c", &docs, None).await.unwrap();
        let table = super::table(&ns, "c");
        let eq = parse_where(json!({"user.city": {"$eq": "c7"}})).unwrap();
        assert!(plan(&db, &table, &search(&eq)).starts_with("SCAN"), "no index yet");

        store.set_doc_indexes(&ns, "c", &[parse("user.city").unwrap(), parse("n").unwrap()]).await.unwrap();
        assert_eq!(store.doc_indexes(&ns, "c").await.unwrap(), ["n", "user.city"]);
        let p = plan(&db, &table, &search(&eq));
        assert!(p.contains("USING INDEX") && p.contains("#i#user.city"), "{p}");
        assert!(!p.contains("TEMP B-TREE"), "matches come in id order: {p}");
        let hits = store.search(&ns, "c", &search(&eq)).await.unwrap();
        let ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["d007", "d057", "d107", "d157"]);

        // A later page seeks past the cursor in the same index.
        let after = [json!("d157")];
        let next = DocSearch { filter: Some(&eq), sort: &[], after: Some(&after), limit: 4, now_ms: 0 };
        let p = plan(&db, &table, &next);
        assert!(p.contains("#i#user.city") && p.contains("id>?"), "{p}");
        let hits = store.search(&ns, "c", &next).await.unwrap();
        assert_eq!(hits[0].id, "d207");

        for w in [json!({"n": {"$gte": 10, "$lt": 13}}), json!({"user.city": {"$in": ["c1", "c2"]}})] {
            let f = parse_where(w.clone()).unwrap();
            let p = plan(&db, &table, &search(&f));
            assert!(p.contains("USING INDEX"), "{w}: {p}");
        }
        let range = parse_where(json!({"n": {"$gte": 10, "$lt": 13}})).unwrap();
        let hits = store.search(&ns, "c", &search(&range)).await.unwrap();
        assert_eq!(hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["d010", "d011", "d012"]);

        // Declaring fewer drops the others; a string "7" is not the number 7.
        store.set_doc_indexes(&ns, "c", &[parse("n").unwrap()]).await.unwrap();
        assert_eq!(store.doc_indexes(&ns, "c").await.unwrap(), ["n"]);
        store.put_docs(&ns, "c", &[("s7".into(), json!({"n": "7"}))], None).await.unwrap();
        let seven = parse_where(json!({"n": {"$eq": 7}})).unwrap();
        let hits = store.search(&ns, "c", &search(&seven)).await.unwrap();
        assert_eq!(hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["d007"]);
        assert!(matches!(store.doc_indexes(&ns, "nope").await, Err(crate::store::StoreError::CollectionNotFound(_))));
    }
}
