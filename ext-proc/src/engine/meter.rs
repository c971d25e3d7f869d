//! Usage metering in one place: a [`Store`] and [`DocStore`] that delegates
//! every call to the real one and adds what the call read and wrote (rows,
//! documents, bytes, storage time) to the current request's
//! [`crate::scope::Meter`]. Every API runs its operations through the engine,
//! so REST, Documents, GraphQL and the Data API are counted the same way.
//!
//! Catalog reads (table and collection definitions) are not counted: they are
//! cached, so counting them would bill a tenant for which replica answered.

use crate::change::Change;
use crate::model::{Namespace, TableDef};
use crate::plan::{Condition, Select, Upsert};
use crate::scope::{self, Meter};
use crate::store::docs::{CollectionDef, DocRow, DocStore, Edit, EditFn};
use crate::store::docsql::DocSearch;
use crate::store::{Store, StoreError};
use crate::value::Value;
use async_trait::async_trait;
use serde_json::Value as Json;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The metering decorator over both faces of a backend.
pub struct Metered {
    rows: Arc<dyn Store>,
    docs: Arc<dyn DocStore>,
}

impl Metered {
    /// Wraps a backend's two faces.
    pub fn new(rows: Arc<dyn Store>, docs: Arc<dyn DocStore>) -> Arc<Metered> {
        Arc::new(Metered { rows, docs })
    }
}

/// Bytes a value takes in a usage count: its stored size, not its JSON text,
/// so that a tenant pays the same for a value whatever the API.
pub fn value_bytes(v: &Value) -> u64 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Int(_) | Value::Double(_) | Value::Timestamp(_) | Value::Time(_) => 8,
        Value::Float(_) | Value::Date(_) => 4,
        Value::Text(t) | Value::Decimal(t) => t.len() as u64,
        Value::Uuid(_) | Value::Inet(_) => 16,
        Value::Blob(b) => b.len() as u64,
        Value::Json(j) => json_bytes(j),
    }
}

/// Bytes of a JSON document: the length of its compact text.
pub fn json_bytes(j: &Json) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    // Counting, not allocating: documents can be large.
    let _ = serde_json::to_writer(&mut c, j);
    c.0
}

/// Runs one storage call, adding its time to the request's meter and, on
/// success, what `count` says it did.
async fn timed<T, F>(call: F, count: impl FnOnce(&Meter, &T)) -> Result<T, StoreError>
where
    F: std::future::Future<Output = Result<T, StoreError>>,
{
    let Some(meter) = scope::meter() else { return call.await };
    let start = Instant::now();
    let out = call.await;
    Meter::add(&meter.storage_us, start.elapsed().as_micros() as u64);
    if let Ok(v) = &out {
        count(&meter, v);
    }
    out
}

fn ddl<T>(m: &Meter, _: &T) {
    Meter::add(&m.ddl_calls, 1);
}

fn nothing<T>(_: &Meter, _: &T) {}

#[async_trait]
impl Store for Metered {
    fn kind(&self) -> &'static str {
        self.rows.kind()
    }
    async fn ping(&self) -> Result<(), StoreError> {
        timed(self.rows.ping(), nothing).await
    }
    async fn create_keyspace(&self, ns: &Namespace) -> Result<(), StoreError> {
        timed(self.rows.create_keyspace(ns), ddl).await
    }
    async fn keyspaces(&self, tenant: &str) -> Result<Vec<String>, StoreError> {
        timed(self.rows.keyspaces(tenant), nothing).await
    }
    async fn drop_keyspace(&self, ns: &Namespace) -> Result<(), StoreError> {
        timed(self.rows.drop_keyspace(ns), ddl).await
    }
    async fn create_table(&self, ns: &Namespace, def: &TableDef, if_not_exists: bool) -> Result<bool, StoreError> {
        timed(self.rows.create_table(ns, def, if_not_exists), ddl).await
    }
    async fn table(&self, ns: &Namespace, name: &str) -> Result<TableDef, StoreError> {
        timed(self.rows.table(ns, name), nothing).await
    }
    async fn tables(&self, ns: &Namespace) -> Result<Vec<TableDef>, StoreError> {
        timed(self.rows.tables(ns), nothing).await
    }
    async fn drop_table(&self, ns: &Namespace, name: &str) -> Result<(), StoreError> {
        timed(self.rows.drop_table(ns, name), ddl).await
    }
    async fn alter_table(&self, ns: &Namespace, table: &str, change: &Change) -> Result<TableDef, StoreError> {
        timed(self.rows.alter_table(ns, table, change), ddl).await
    }
    async fn upsert(&self, ns: &Namespace, def: &TableDef, rows: &[Upsert]) -> Result<u64, StoreError> {
        timed(self.rows.upsert(ns, def, rows), |m, written| {
            Meter::add(&m.write_calls, 1);
            Meter::add(&m.rows_written, *written);
            // A conditional write that did not apply wrote nothing.
            if *written > 0 {
                let bytes: u64 = rows.iter().flat_map(|r| r.values.iter()).map(|(_, v)| value_bytes(v)).sum();
                Meter::add(&m.bytes_written, bytes);
            }
        })
        .await
    }
    async fn select(&self, ns: &Namespace, def: &TableDef, select: &Select) -> Result<Vec<Vec<Value>>, StoreError> {
        timed(self.rows.select(ns, def, select), |m, rows| {
            Meter::add(&m.read_calls, 1);
            Meter::add(&m.rows_read, rows.len() as u64);
            Meter::add(&m.bytes_read, rows.iter().flatten().map(value_bytes).sum());
        })
        .await
    }
    async fn sweep_expired(&self, now_ms: i64) -> Result<u64, StoreError> {
        self.rows.sweep_expired(now_ms).await
    }
    async fn delete(&self, ns: &Namespace, def: &TableDef, key: &[Condition]) -> Result<u64, StoreError> {
        timed(self.rows.delete(ns, def, key), |m, n| {
            Meter::add(&m.write_calls, 1);
            Meter::add(&m.rows_deleted, *n);
        })
        .await
    }
}

#[async_trait]
impl DocStore for Metered {
    async fn create_collection(&self, ns: &Namespace, name: &str, if_not_exists: bool) -> Result<bool, StoreError> {
        timed(self.docs.create_collection(ns, name, if_not_exists), ddl).await
    }
    async fn collection(&self, ns: &Namespace, name: &str) -> Result<CollectionDef, StoreError> {
        timed(self.docs.collection(ns, name), nothing).await
    }
    async fn collections(&self, ns: &Namespace) -> Result<Vec<CollectionDef>, StoreError> {
        timed(self.docs.collections(ns), nothing).await
    }
    async fn drop_collection(&self, ns: &Namespace, name: &str) -> Result<(), StoreError> {
        timed(self.docs.drop_collection(ns, name), ddl).await
    }
    async fn set_json_schema(&self, ns: &Namespace, name: &str, schema: Option<&Json>) -> Result<(), StoreError> {
        timed(self.docs.set_json_schema(ns, name, schema), ddl).await
    }
    async fn get_doc(&self, ns: &Namespace, coll: &str, id: &str, now_ms: i64) -> Result<Option<Json>, StoreError> {
        timed(self.docs.get_doc(ns, coll, id, now_ms), |m, doc| {
            Meter::add(&m.read_calls, 1);
            if let Some(d) = doc {
                Meter::add(&m.docs_read, 1);
                Meter::add(&m.bytes_read, json_bytes(d));
            }
        })
        .await
    }
    async fn get_doc_text(
        &self,
        ns: &Namespace,
        coll: &str,
        id: &str,
        now_ms: i64,
    ) -> Result<Option<String>, StoreError> {
        timed(self.docs.get_doc_text(ns, coll, id, now_ms), |m, doc| {
            Meter::add(&m.read_calls, 1);
            if let Some(d) = doc {
                Meter::add(&m.docs_read, 1);
                // Compact text: the bytes `json_bytes` counts of the parsed document.
                Meter::add(&m.bytes_read, d.len() as u64);
            }
        })
        .await
    }
    async fn put_docs(
        &self,
        ns: &Namespace,
        coll: &str,
        docs: &[(String, Json)],
        expires_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        timed(self.docs.put_docs(ns, coll, docs, expires_ms), |m, ()| {
            Meter::add(&m.write_calls, 1);
            Meter::add(&m.docs_written, docs.len() as u64);
            Meter::add(&m.bytes_written, docs.iter().map(|(_, d)| json_bytes(d)).sum());
        })
        .await
    }
    async fn insert_docs(
        &self,
        ns: &Namespace,
        coll: &str,
        docs: &[(String, Json)],
        now_ms: i64,
        ordered: bool,
    ) -> Result<Vec<bool>, StoreError> {
        timed(self.docs.insert_docs(ns, coll, docs, now_ms, ordered), |m, inserted| {
            Meter::add(&m.write_calls, 1);
            // Only what was written: a document whose id was taken wrote nothing.
            let written = docs.iter().zip(inserted).filter(|(_, &i)| i).map(|((_, d), _)| d);
            let (n, bytes) = written.fold((0, 0), |(n, b), d| (n + 1, b + json_bytes(d)));
            Meter::add(&m.docs_written, n);
            Meter::add(&m.bytes_written, bytes);
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
        // The edit may run more than once (a retried transaction): the last
        // run is the one that committed, so only it is kept.
        let seen: Arc<Mutex<Option<(u64, Outcome)>>> = Arc::new(Mutex::new(None));
        let record = seen.clone();
        let watched: EditFn = Box::new(move |current, expires| {
            let read = current.as_ref().map_or(0, json_bytes);
            let found = current.is_some();
            let decision = edit(current, expires)?;
            let outcome = match &decision {
                Edit::Write { doc, .. } => Outcome::Wrote(json_bytes(doc)),
                Edit::Delete { .. } => Outcome::Deleted,
                Edit::Keep { .. } => Outcome::Kept,
            };
            if let Ok(mut r) = record.lock() {
                *r = Some((if found { read } else { u64::MAX }, outcome));
            }
            Ok(decision)
        });
        timed(self.docs.edit_doc(ns, coll, id, now_ms, watched), |m, _| {
            let Some((read, outcome)) = seen.lock().ok().and_then(|s| *s) else { return };
            // The read inside a write is part of the write; an edit that
            // changed nothing (a function's answer) is a read.
            if matches!(outcome, Outcome::Kept) {
                Meter::add(&m.read_calls, 1);
                if read != u64::MAX {
                    Meter::add(&m.docs_read, 1);
                    Meter::add(&m.bytes_read, read);
                }
            }
            match outcome {
                Outcome::Wrote(bytes) => {
                    Meter::add(&m.write_calls, 1);
                    Meter::add(&m.docs_written, 1);
                    Meter::add(&m.bytes_written, bytes);
                }
                Outcome::Deleted => {
                    Meter::add(&m.write_calls, 1);
                    Meter::add(&m.docs_deleted, 1);
                }
                Outcome::Kept => {}
            }
        })
        .await
    }
    async fn search(&self, ns: &Namespace, coll: &str, search: &DocSearch<'_>) -> Result<Vec<DocRow>, StoreError> {
        timed(self.docs.search(ns, coll, search), |m, rows| {
            Meter::add(&m.read_calls, 1);
            Meter::add(&m.docs_read, rows.len() as u64);
            Meter::add(&m.bytes_read, rows.iter().map(|r| json_bytes(&r.doc)).sum());
        })
        .await
    }
    async fn sweep_expired_docs(&self, now_ms: i64) -> Result<u64, StoreError> {
        self.docs.sweep_expired_docs(now_ms).await
    }
    // Index definitions are DDL: counted as operations, not units.
    async fn doc_indexes(&self, ns: &Namespace, coll: &str) -> Result<Vec<String>, StoreError> {
        self.docs.doc_indexes(ns, coll).await
    }
    async fn set_doc_indexes(
        &self,
        ns: &Namespace,
        coll: &str,
        paths: &[crate::doc::path::Path],
    ) -> Result<(), StoreError> {
        self.docs.set_doc_indexes(ns, coll, paths).await
    }
}

#[async_trait]
impl crate::store::vectors::VectorStore for Metered {
    // A nearest-neighbour scan is one read call; the winners' documents are
    // counted when they are fetched (`docs_by_id`). The vectors scanned are
    // not billed by size (see the README's units).
    async fn nearest(
        &self,
        ns: &Namespace,
        coll: &str,
        score: crate::store::vectors::Scorer,
        k: usize,
    ) -> Result<Vec<(String, f64)>, StoreError> {
        timed(self.docs.nearest(ns, coll, score, k), |m, _| Meter::add(&m.read_calls, 1)).await
    }
    async fn docs_by_id(
        &self,
        ns: &Namespace,
        coll: &str,
        ids: &[String],
        now_ms: i64,
    ) -> Result<Vec<(String, Json)>, StoreError> {
        timed(self.docs.docs_by_id(ns, coll, ids, now_ms), |m, docs| {
            Meter::add(&m.read_calls, 1);
            Meter::add(&m.docs_read, docs.len() as u64);
            Meter::add(&m.bytes_read, docs.iter().map(|(_, d)| json_bytes(d)).sum());
        })
        .await
    }
}

/// What a committed edit did.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Wrote(u64),
    Deleted,
    Kept,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::open;

    fn ns() -> Namespace {
        Namespace { tenant: "acme".into(), keyspace: "ks".into() }
    }

    #[tokio::test]
    async fn documents_are_counted_into_the_request_meter() {
        let dir = tempfile::tempdir().unwrap();
        let backend = open(&format!("sqlite://{}", dir.path().join("m.db").display()), 2).await.unwrap();
        let m = Metered::new(backend.rows, backend.docs);
        let meter = Arc::new(Meter::default());
        let out = scope::run_metered("r".into(), None, Some(meter.clone()), std::time::Duration::from_secs(5), async {
            m.create_keyspace(&ns()).await.unwrap();
            m.create_collection(&ns(), "c", false).await.unwrap();
            let doc = serde_json::json!({"a": 1});
            m.put_docs(&ns(), "c", &[("d1".into(), doc.clone()), ("d2".into(), doc)], None).await.unwrap();
            assert!(m.get_doc(&ns(), "c", "d1", 0).await.unwrap().is_some());
            assert!(m.get_doc(&ns(), "c", "nope", 0).await.unwrap().is_none());
            m.edit_doc(&ns(), "c", "d2", 0, Box::new(|_, _| Ok(Edit::Delete { reply: Json::Null }))).await.unwrap();
            let two = [("d1".into(), serde_json::json!({"b": 2})), ("d3".into(), serde_json::json!({"b": 22}))];
            assert_eq!(m.insert_docs(&ns(), "c", &two, 0, false).await.unwrap(), vec![false, true]);
        })
        .await;
        assert!(out.is_some());
        let c = meter.counts();
        assert_eq!((c.ddl_calls, c.write_calls, c.read_calls), (2, 3, 2));
        assert_eq!((c.docs_written, c.docs_read, c.docs_deleted), (3, 1, 1));
        assert_eq!(c.bytes_written, 22, "two documents of 7 bytes ({{\"a\":1}}), one inserted of 8");
        assert_eq!(c.bytes_read, 7, "d1 by get; the edit's read is part of its delete");
    }

    #[test]
    fn values_are_sized_as_stored() {
        assert_eq!(value_bytes(&Value::Text("héllo".into())), 6);
        assert_eq!(value_bytes(&Value::Int(1)), 8);
        assert_eq!(value_bytes(&Value::Null), 0);
        assert_eq!(json_bytes(&serde_json::json!({"a": [1, 2]})), 11);
    }
}
