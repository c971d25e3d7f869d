//! Document indexes on SQLite: per path, an expression index on
//! `(json_extract(doc, '$."a"."b"'), id)` and a partial one on
//! `(json_type(doc, '$."a"."b"'), id) WHERE .. = 'array'` (the documents
//! holding an array there). Paths get them two ways: declared through the
//! Documents API (`PUT .../indexes`), or built on demand for the Data API
//! ([`ensure`]), which indexes every path by default.
//!
//! Why expression indexes rather than a shredded path/value side table: the
//! indexes are kept by SQLite itself in the same write as the document (no
//! extra rows per leaf, nothing to repair after a crash, no write of ours that
//! could forget one), they go with the table when the collection is dropped,
//! and the planner uses them from the probes [`crate::store::docsql::search`]
//! adds: `$eq`, `$in` and ranges on the value index, and for the Data API's
//! array-aware equality (`{"a": v}` matches `a == v` or `v` in `a`) the union
//! of the value index and the array index, whose documents are then checked
//! element by element. That last part costs one row per document holding an
//! array at the path, not per match: a path with arrays in most documents
//! (tags) narrows little; a shredded table would serve it, at the price of a
//! row per leaf on every write. The trailing `id` keeps matches in id order,
//! so a page after a cursor seeks instead of sorting every match.
//!
//! Built on demand: a Data API search with an array-aware equality on a plain
//! path of a collection holding at least [`AUTO_INDEX_MIN_DOCS`] documents
//! builds that path's indexes first, while the collection has fewer than
//! [`MAX_INDEXED_PATHS`] indexed paths (declared ones count). Smaller collections are
//! scanned in well under a millisecond per hundred documents, and the cap
//! bounds what every write pays. Building happens once, inside an IMMEDIATE
//! transaction (concurrent searches wait for it, then find it built); on
//! 100,000 documents it takes about a second, during which writers wait (the
//! busy timeout is 5 s) and readers carry on. Paths an `indexing` option
//! excludes never get here: the Data API refuses filters on them. An index
//! built this way is listed by `GET .../indexes` like a declared one, and a
//! `PUT` replaces both kinds (a dropped path is built again when next needed).
//!
//! The path is the one piece of client input spliced into SQL text (an index
//! only matches a query spelling the same literal), so only paths of
//! [`crate::store::docsql::indexable_key`] keys get here. The index name carries the path,
//! so SQLite's own schema is the list of indexed paths.

use super::dialect::doc_type_expr;
use super::names;
use super::names::table;
use super::SqliteDialect;
use super::{map_err, require_keyspace};
use crate::doc::path::{display, Path, Segment};
use crate::model::Namespace;
use crate::store::docs::{AUTO_INDEX_MIN_DOCS, MAX_INDEXED_PATHS};
use crate::store::sql::{self, Dialect};
use crate::store::StoreError;
use rusqlite::{params, Connection};

/// Separates the collection's table name from the path in a value index's
/// name ('#' never occurs in table, collection or indexable key names).
const MARK: &str = "#i#";

/// The same for a path's array index.
const ARRAY_MARK: &str = "#a#";

/// The unquoted table name and the prefix of its declared indexes' names.
fn names_of(ns: &Namespace, coll: &str) -> (String, String) {
    let t = format!("{}#{}", ns.physical(), names::physical(coll));
    let prefix = format!("{t}{MARK}");
    (t, prefix)
}

/// The quoted name of a path's array index.
fn array_index_name(ns: &Namespace, coll: &str, dotted: &str) -> String {
    let (t, _) = names_of(ns, coll);
    sql::quote(&format!("{t}{ARRAY_MARK}{dotted}"))
}

/// Builds a path's two indexes where missing (inside the caller's transaction).
fn create(c: &Connection, ns: &Namespace, coll: &str, path: &[Segment]) -> Result<(), StoreError> {
    let bad = || StoreError::Rejected(format!("'{}' cannot be indexed", display(path)));
    let expr = SqliteDialect.doc_index_expr(path).ok_or_else(bad)?;
    let ty = doc_type_expr(path).ok_or_else(bad)?;
    let dotted = display(path);
    let (_, prefix) = names_of(ns, coll);
    let name = sql::quote(&format!("{prefix}{dotted}"));
    let array = array_index_name(ns, coll, &dotted);
    let t = table(ns, coll);
    c.execute_batch(&format!(
        "CREATE INDEX IF NOT EXISTS {name} ON {t} ({expr}, id);
         CREATE INDEX IF NOT EXISTS {array} ON {t} ({ty}, id) WHERE {ty} = 'array';"
    ))
    .map_err(map_err)
}

/// Whether an index of this name exists.
fn index_exists(c: &Connection, name: &str) -> Result<bool, StoreError> {
    c.prepare_cached("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?1")
        .and_then(|mut s| s.exists(params![name]))
        .map_err(map_err)
}

/// Builds the indexes of those `paths` that lack them, if the collection is
/// big enough and under the cap (see the module doc). Cheap when they exist:
/// one schema lookup per path.
pub(super) fn ensure(c: &mut Connection, ns: &Namespace, coll: &str, paths: &[&[Segment]]) -> Result<(), StoreError> {
    let (t, prefix) = names_of(ns, coll);
    let missing = |c: &Connection| -> Result<Vec<&[Segment]>, StoreError> {
        let mut out = Vec::new();
        for p in paths {
            let dotted = display(p);
            let both =
                index_exists(c, &format!("{prefix}{dotted}"))? && index_exists(c, &format!("{t}{ARRAY_MARK}{dotted}"))?;
            if !both && !out.contains(p) {
                out.push(*p);
            }
        }
        Ok(out)
    };
    if missing(c)?.is_empty() {
        return Ok(());
    }
    let big = c
        .prepare_cached(&format!("SELECT count(*) FROM (SELECT 1 FROM {} LIMIT ?1)", table(ns, coll)))
        .and_then(|mut s| s.query_row(params![AUTO_INDEX_MIN_DOCS], |r| r.get::<_, i64>(0)))
        .map_err(map_err)?
        >= AUTO_INDEX_MIN_DOCS;
    if !big {
        return Ok(());
    }
    // Again under the write lock: another connection may have built them, or
    // taken the last places under the cap, meanwhile.
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(map_err)?;
    let mut have = list(&tx, ns, coll)?.len();
    for p in missing(&tx)? {
        let declared = index_exists(&tx, &format!("{prefix}{}", display(p)))?;
        if !declared && have >= MAX_INDEXED_PATHS {
            continue;
        }
        create(&tx, ns, coll, p)?;
        have += usize::from(!declared);
    }
    tx.commit().map_err(map_err)
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
    let want: Vec<String> = paths.iter().map(|p| display(p)).collect();
    // Also for a path declared before array indexes existed: it gains one.
    for path in paths {
        create(&tx, ns, coll, path)?;
    }
    for dotted in have.iter().filter(|h| !want.contains(h)) {
        tx.execute_batch(&format!(
            "DROP INDEX IF EXISTS {}; DROP INDEX IF EXISTS {};",
            sql::quote(&format!("{prefix}{dotted}")),
            array_index_name(ns, coll, dotted)
        ))
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
        DocSearch { filter: Some(f), sort: &[], after: None, limit: 4, now_ms: 0, auto_index: false }
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
        let next =
            DocSearch { filter: Some(&eq), sort: &[], after: Some(&after), limit: 4, now_ms: 0, auto_index: false };
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
