//! Documents on SQLite: one table per collection holding JSON text, searched
//! with JSON1 (`json_type`, `json_extract`, `json_each`).

use super::names::table;
use super::{map_err, require_keyspace, SqliteStore};
use crate::doc::path::Path;
use crate::model::Namespace;
use crate::store::docedit::{decide, Step};
use crate::store::docs::{live, CollectionDef, DocRow, DocStore, EditFn};
use crate::store::docsql::{self, DocSearch};
use crate::store::sql::{self, Param};
use crate::store::{Registered, StoreError};
use async_trait::async_trait;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, ToSql, TransactionBehavior};
use serde_json::Value as Json;

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Param::Text(t) => ToSqlOutput::from(t.as_str()),
            Param::Int(i) => ToSqlOutput::from(*i),
            Param::Real(f) => ToSqlOutput::from(*f),
            Param::Json(j) => ToSqlOutput::from(j.to_string()),
            Param::Path(p) => ToSqlOutput::from(serde_json::to_string(p).unwrap_or_default()),
            Param::JsonList(l) => ToSqlOutput::from(serde_json::to_string(l).unwrap_or_default()),
        })
    }
}

/// Why a statement on a collection found no table: the keyspace or the collection is gone.
fn missing(c: &Connection, ns: &Namespace, coll: &str, e: StoreError) -> StoreError {
    if !matches!(e, StoreError::SchemaChanged) {
        return e;
    }
    match require_keyspace(c, ns) {
        Err(k) => k,
        Ok(()) => StoreError::CollectionNotFound(coll.to_owned()),
    }
}

fn parse_doc(text: &str) -> Result<Json, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Internal(format!("stored document is not JSON: {e}")))
}

fn key_json(v: ValueRef<'_>) -> Json {
    match v {
        ValueRef::Integer(i) => Json::from(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number),
        ValueRef::Text(t) => Json::String(String::from_utf8_lossy(t).into_owned()),
        _ => Json::Null,
    }
}

fn read(c: &Connection, ns: &Namespace, coll: &str, id: &str) -> Result<Option<(Json, Option<i64>)>, StoreError> {
    read_text(c, ns, coll, id)?.map(|(d, e)| Ok((parse_doc(&d)?, e))).transpose()
}

/// A document's stored text (serde_json's, so already compact) and expiry.
fn read_text(
    c: &Connection,
    ns: &Namespace,
    coll: &str,
    id: &str,
) -> Result<Option<(String, Option<i64>)>, StoreError> {
    c.prepare_cached(&format!("SELECT doc, expires_at FROM {} WHERE id = ?1", table(ns, coll)))
        .and_then(|mut s| s.query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?))).optional())
        .map_err(map_err)
        .map_err(|e| missing(c, ns, coll, e))
}

/// Writes a document already serialized, with its side row for `packed`
/// (`None`: it has no vector, so a replaced version's is removed).
fn write_text(
    c: &Connection,
    ns: &Namespace,
    coll: &str,
    id: &str,
    doc: &str,
    packed: Option<&[u8]>,
    exp: Option<i64>,
) -> Result<(), StoreError> {
    write_row(c, ns, coll, id, doc, exp)?;
    super::vectors::sync_packed(c, ns, coll, id, packed)
}

/// Inserts or replaces the document's row alone.
fn write_row(
    c: &Connection,
    ns: &Namespace,
    coll: &str,
    id: &str,
    doc: &str,
    exp: Option<i64>,
) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO {} (id, doc, expires_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, expires_at = excluded.expires_at",
        table(ns, coll)
    );
    c.prepare_cached(&sql)
        .and_then(|mut s| s.execute(params![id, doc, exp]))
        .map_err(map_err)
        .map_err(|e| missing(c, ns, coll, e))?;
    Ok(())
}

/// Drops every collection of a keyspace (inside the caller's transaction).
pub(super) fn drop_all(c: &Connection, ns: &Namespace) -> Result<(), StoreError> {
    let names: Vec<String> = {
        let mut s =
            c.prepare("SELECT name FROM datagate_collections WHERE tenant = ?1 AND keyspace = ?2").map_err(map_err)?;
        let rows = s.query_map(params![ns.tenant, ns.keyspace], |r| r.get(0)).map_err(map_err)?;
        rows.collect::<Result<_, _>>().map_err(map_err)?
    };
    for name in names {
        c.execute_batch(&format!("DROP TABLE IF EXISTS {}", table(ns, &name))).map_err(map_err)?;
    }
    c.execute("DELETE FROM datagate_collections WHERE tenant = ?1 AND keyspace = ?2", params![ns.tenant, ns.keyspace])
        .map_err(map_err)?;
    super::vectors::forget_all(c, ns, None)
}

/// Deletes the expired documents of every collection in one file.
pub(super) fn sweep_docs(c: &Connection, now_ms: i64) -> Result<u64, StoreError> {
    let all: Vec<(String, String, String)> = {
        let mut s = c.prepare("SELECT tenant, keyspace, name FROM datagate_collections").map_err(map_err)?;
        let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(map_err)?;
        rows.collect::<Result<_, _>>().map_err(map_err)?
    };
    let mut deleted = 0u64;
    for (tenant, keyspace, name) in all {
        let ns = Namespace { tenant, keyspace };
        let sql = format!("DELETE FROM {} WHERE expires_at <= ?1", table(&ns, &name));
        let swept = super::vectors::forget_expired(c, &ns, &name, now_ms)
            .and_then(|()| c.execute(&sql, params![now_ms]).map_err(map_err));
        match swept {
            Ok(n) => deleted += n as u64,
            Err(StoreError::SchemaChanged) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(deleted)
}

/// Up to this much document text, a search's rows are parsed by the caller,
/// on the thread that reads and frees them, rather than on the SQLite call's
/// blocking thread: a parsed document is many small allocations, and freed on
/// another thread they kept that thread's allocator pages resident (the scan
/// row's peak RSS went from 24.0–24.4 to 22.0–22.3 MiB and its CPU per request
/// from 74–78k to 53–57k µs, bench/run row 11k, 2026-12-01). A larger batch is
/// still parsed on the blocking thread, so a runtime worker never spends more
/// than about a millisecond on one.
const PARSE_ON_CALLER_MAX_BYTES: usize = 256 * 1024;

/// A search's rows as the SQLite call hands them back.
enum Fetched {
    /// Id, document text and sort key (without the id), to parse.
    Text(Vec<(String, String, Vec<Json>)>),
    Rows(Vec<DocRow>),
}

fn parsed(rows: Vec<(String, String, Vec<Json>)>) -> Result<Vec<DocRow>, StoreError> {
    rows.into_iter()
        .map(|(id, text, mut key)| {
            key.push(Json::String(id.clone()));
            Ok(DocRow { id, doc: parse_doc(&text)?, key })
        })
        .collect()
}

#[async_trait]
impl DocStore for SqliteStore {
    async fn create_collection(&self, ns: &Namespace, name: &str, if_not_exists: bool) -> Result<bool, StoreError> {
        let tenant = ns.tenant.as_str();
        let (ns, name) = (ns.clone(), name.to_owned());
        self.run(tenant, move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_err)?;
            require_keyspace(&tx, &ns)?;
            let n = tx
                .execute(
                    "INSERT INTO datagate_collections (tenant, keyspace, name) VALUES (?1, ?2, ?3) \
                     ON CONFLICT DO NOTHING",
                    params![ns.tenant, ns.keyspace, name],
                )
                .map_err(map_err)?;
            if n == 0 {
                return if if_not_exists {
                    Ok(false)
                } else {
                    Err(StoreError::AlreadyExists(format!("collection '{name}'")))
                };
            }
            let t = table(&ns, &name);
            let expiry_index = sql::quote(&format!("{}#{}#expiry", ns.physical(), super::names::physical(&name)));
            tx.execute_batch(&format!(
                "CREATE TABLE {t} (id TEXT PRIMARY KEY, doc TEXT NOT NULL, expires_at INTEGER) STRICT;
                 CREATE INDEX {expiry_index} ON {t} (expires_at) WHERE expires_at IS NOT NULL;"
            ))
            .map_err(map_err)?;
            tx.commit().map_err(map_err)?;
            Ok(true)
        })
        .await
    }

    async fn collection(&self, ns: &Namespace, name: &str) -> Result<CollectionDef, StoreError> {
        let tenant = ns.tenant.as_str();
        let (ns, name) = (ns.clone(), name.to_owned());
        self.run(tenant, move |c| {
            let found: Option<(Option<String>, Option<String>)> = c
                .prepare_cached(
                    "SELECT c.name, c.json_schema FROM datagate_keyspaces k LEFT JOIN datagate_collections c \
                     ON c.tenant = k.tenant AND c.keyspace = k.name AND c.name = ?3 \
                     WHERE k.tenant = ?1 AND k.name = ?2",
                )
                .and_then(|mut s| {
                    s.query_row(params![ns.tenant, ns.keyspace, name], |r| Ok((r.get(0)?, r.get(1)?))).optional()
                })
                .map_err(map_err)?;
            match found {
                None => Err(StoreError::KeyspaceNotFound(ns.keyspace)),
                Some((None, _)) => Err(StoreError::CollectionNotFound(name)),
                Some((Some(name), schema)) => {
                    Ok(CollectionDef { name, json_schema: schema.map(|s| parse_doc(&s)).transpose()? })
                }
            }
        })
        .await
    }

    async fn collections(&self, ns: &Namespace) -> Result<Vec<CollectionDef>, StoreError> {
        let tenant = ns.tenant.as_str();
        let ns = ns.clone();
        self.run(tenant, move |c| {
            require_keyspace(c, &ns)?;
            let mut s = c
                .prepare_cached(
                    "SELECT name, json_schema FROM datagate_collections WHERE tenant = ?1 AND keyspace = ?2 \
                     ORDER BY name",
                )
                .map_err(map_err)?;
            let rows = s
                .query_map(params![ns.tenant, ns.keyspace], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
                })
                .map_err(map_err)?;
            let rows: Vec<(String, Option<String>)> = rows.collect::<Result<_, _>>().map_err(map_err)?;
            rows.into_iter()
                .map(|(name, s)| Ok(CollectionDef { name, json_schema: s.map(|s| parse_doc(&s)).transpose()? }))
                .collect()
        })
        .await
    }

    async fn drop_collection(&self, ns: &Namespace, name: &str) -> Result<(), StoreError> {
        self.drop_registered(ns, Registered::Collection, name, table(ns, name)).await
    }

    async fn set_json_schema(&self, ns: &Namespace, name: &str, schema: Option<&Json>) -> Result<(), StoreError> {
        let tenant = ns.tenant.as_str();
        let (ns, name, schema) = (ns.clone(), name.to_owned(), schema.map(Json::to_string));
        self.run(tenant, move |c| {
            let n = c
                .execute(
                    "UPDATE datagate_collections SET json_schema = ?4 WHERE tenant = ?1 AND keyspace = ?2 AND name = ?3",
                    params![ns.tenant, ns.keyspace, name, schema],
                )
                .map_err(map_err)?;
            if n == 0 {
                return Err(missing(c, &ns, &name, StoreError::SchemaChanged));
            }
            Ok(())
        })
        .await
    }

    async fn get_doc(&self, ns: &Namespace, coll: &str, id: &str, now_ms: i64) -> Result<Option<Json>, StoreError> {
        let tenant = ns.tenant.as_str();
        let (ns, coll, id) = (ns.clone(), coll.to_owned(), id.to_owned());
        self.run(tenant, move |c| Ok(live(read(c, &ns, &coll, &id)?, now_ms).0)).await
    }

    async fn get_doc_text(
        &self,
        ns: &Namespace,
        coll: &str,
        id: &str,
        now_ms: i64,
    ) -> Result<Option<String>, StoreError> {
        let tenant = ns.tenant.as_str();
        let (ns, coll, id) = (ns.clone(), coll.to_owned(), id.to_owned());
        self.run(tenant, move |c| Ok(live(read_text(c, &ns, &coll, &id)?, now_ms).0)).await
    }

    async fn put_docs(
        &self,
        ns: &Namespace,
        coll: &str,
        docs: &[(String, Json)],
        expires_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        let tenant = ns.tenant.as_str();
        // Serialized here, once: the blocking task owns text (and the packed
        // vector), not a copy of each tree.
        let docs: Vec<(String, String, Option<Vec<u8>>)> =
            docs.iter().map(|(id, doc)| (id.clone(), doc.to_string(), crate::store::vectors::pack(doc))).collect();
        let (ns, coll) = (ns.clone(), coll.to_owned());
        self.run(tenant, move |c| {
            // The document and its packed vector (or the removal of a replaced
            // one's) commit together: one WAL commit, in process.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_err)?;
            for (id, doc, packed) in &docs {
                write_text(&tx, &ns, &coll, id, doc, packed.as_deref(), expires_ms)?;
            }
            tx.commit().map_err(map_err)
        })
        .await
    }

    async fn edit_doc(
        &self,
        ns: &Namespace,
        coll: &str,
        id: &str,
        now_ms: i64,
        edit: EditFn,
    ) -> Result<Json, StoreError> {
        let tenant = ns.tenant.as_str();
        let (ns, coll, id) = (ns.clone(), coll.to_owned(), id.to_owned());
        self.run(tenant, move |c| {
            // IMMEDIATE takes the write lock first, so the read below cannot go stale.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_err)?;
            let reply = match decide(read(&tx, &ns, &coll, &id)?, now_ms, &edit)? {
                Step::Write { doc, expires_ms, vector, reply, .. } => {
                    write_row(&tx, &ns, &coll, &id, &doc.to_string(), expires_ms)?;
                    super::vectors::apply(&tx, &ns, &coll, &id, vector)?;
                    reply
                }
                Step::Delete { vector, reply } => {
                    tx.execute(&format!("DELETE FROM {} WHERE id = ?1", table(&ns, &coll)), params![id])
                        .map_err(map_err)?;
                    super::vectors::apply(&tx, &ns, &coll, &id, vector)?;
                    reply
                }
                Step::Keep { reply } => return Ok(reply),
            };
            tx.commit().map_err(map_err)?;
            Ok(reply)
        })
        .await
    }

    async fn search(&self, ns: &Namespace, coll: &str, search: &DocSearch<'_>) -> Result<Vec<DocRow>, StoreError> {
        let tenant = ns.tenant.as_str();
        let query =
            docsql::search(&super::SqliteDialect, &table(ns, coll), search).map_err(|e| StoreError::Rejected(e.0))?;
        let keys = docsql::key_len(search.sort) - 1;
        let auto: Vec<Path> = match search.filter {
            Some(f) if search.auto_index => docsql::element_or_value_paths(f).into_iter().map(<[_]>::to_vec).collect(),
            _ => Vec::new(),
        };
        let (ns, coll) = (ns.clone(), coll.to_owned());
        let rows = self
            .run(tenant, move |c| {
                if !auto.is_empty() {
                    let paths: Vec<&[_]> = auto.iter().map(Vec::as_slice).collect();
                    // The search is answered either way: a scan if the index
                    // could not be built (say, the write lock stayed busy).
                    if let Err(e) = super::index::ensure(c, &ns, &coll, &paths) {
                        match missing(c, &ns, &coll, e) {
                            e @ (StoreError::CollectionNotFound(_) | StoreError::KeyspaceNotFound(_)) => return Err(e),
                            e => tracing::warn!(error = %e, "building a document index on demand failed"),
                        }
                    }
                }
                let run = || -> Result<Vec<(String, String, Vec<Json>)>, StoreError> {
                    let mut s = c.prepare_cached(&query.sql).map_err(map_err)?;
                    let mut rows = s.query(rusqlite::params_from_iter(query.params.iter())).map_err(map_err)?;
                    let mut out = Vec::new();
                    while let Some(r) = rows.next().map_err(map_err)? {
                        let id: String = r.get(0).map_err(map_err)?;
                        let text: String = r.get(1).map_err(map_err)?;
                        let key =
                            (0..keys)
                                .map(|i| r.get_ref(i + 2).map(key_json).map_err(map_err))
                                .collect::<Result<Vec<_>, _>>()?;
                        out.push((id, text, key));
                    }
                    Ok(out)
                };
                let rows = run().map_err(|e| missing(c, &ns, &coll, e))?;
                // Large batches are parsed here, off the runtime's workers.
                if rows.iter().map(|(_, text, _)| text.len()).sum::<usize>() > PARSE_ON_CALLER_MAX_BYTES {
                    return parsed(rows).map(Fetched::Rows);
                }
                Ok(Fetched::Text(rows))
            })
            .await?;
        match rows {
            Fetched::Text(rows) => parsed(rows),
            Fetched::Rows(rows) => Ok(rows),
        }
    }

    async fn doc_indexes(&self, ns: &Namespace, coll: &str) -> Result<Vec<String>, StoreError> {
        let tenant = ns.tenant.as_str();
        let (ns, coll) = (ns.clone(), coll.to_owned());
        self.run(tenant, move |c| super::index::list(c, &ns, &coll)).await
    }

    async fn set_doc_indexes(&self, ns: &Namespace, coll: &str, paths: &[Path]) -> Result<(), StoreError> {
        let tenant = ns.tenant.as_str();
        let (ns, coll, paths) = (ns.clone(), coll.to_owned(), paths.to_vec());
        self.run(tenant, move |c| super::index::set(c, &ns, &coll, &paths)).await
    }

    async fn sweep_expired_docs(&self, now_ms: i64) -> Result<u64, StoreError> {
        self.run_each(move |c| sweep_docs(c, now_ms)).await
    }

    async fn insert_docs(
        &self,
        ns: &Namespace,
        coll: &str,
        docs: &[(String, Json)],
        now_ms: i64,
        ordered: bool,
    ) -> Result<Vec<bool>, StoreError> {
        let tenant = ns.tenant.as_str();
        let send = crate::store::docs::first_of_each(docs.iter().map(|(id, _)| id), ordered);
        let docs: Vec<Option<(String, String, Option<Vec<u8>>)>> = docs
            .iter()
            .zip(&send)
            .map(|((id, doc), &s)| s.then(|| (id.clone(), doc.to_string(), crate::store::vectors::pack(doc))))
            .collect();
        let (ns, coll) = (ns.clone(), coll.to_owned());
        // A live row makes the upsert's WHERE false: nothing changes, no row counts.
        let sql = format!(
            "INSERT INTO {} AS d (id, doc, expires_at) VALUES (?1, ?2, NULL) \
             ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, expires_at = NULL \
             WHERE d.expires_at IS NOT NULL AND d.expires_at <= ?3",
            table(&ns, &coll)
        );
        self.run(tenant, move |c| {
            // One transaction and one WAL commit for the batch; row by row is
            // cheap in process, and lets an ordered batch simply stop.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_err)?;
            let mut out = vec![false; docs.len()];
            for (i, d) in docs.iter().enumerate() {
                let Some((id, doc, packed)) = d else {
                    if ordered {
                        break;
                    }
                    continue;
                };
                let n = tx
                    .prepare_cached(&sql)
                    .and_then(|mut s| s.execute(params![id, doc, now_ms]))
                    .map_err(map_err)
                    .map_err(|e| missing(&tx, &ns, &coll, e))?;
                if n == 0 {
                    if ordered {
                        break;
                    }
                    continue;
                }
                super::vectors::sync_packed(&tx, &ns, &coll, id, packed.as_deref())?;
                out[i] = true;
            }
            tx.commit().map_err(map_err)?;
            Ok(out)
        })
        .await
    }
}
