//! Every storage call the Data API makes, in one adapter over today's
//! document store (the Documents API's collections): a Data API collection IS
//! a Documents API collection. When the engine lands, only this file moves.
//!
//! Collection options (`vector`, `indexing`, `defaultId`) have no place in the
//! document store's catalog yet, so they live as documents of one reserved
//! collection per keyspace, [`OPTIONS_COLLECTION`], keyed by collection name.

use super::envelope::CmdError;
use super::filter::{Cond, Filter};
use crate::doc::filter::{Comparison, Filter as DocFilter};
use crate::doc::path::Segment;
use crate::engine::Ctx;
use crate::model::Namespace;
use crate::store::docs::{Edit, EditFn};
use crate::store::docsql::DocSearch;
use crate::store::vectors::Scorer;
use crate::store::StoreError;
use serde_json::{json, Value as Json};
use std::sync::{Arc, Mutex};

pub use crate::model::OPTIONS_COLLECTION;

/// Rows read per store round trip while scanning, at most, and the first time:
/// the next batch is sized so it holds about [`SCAN_BATCH_BYTES`] of JSON text
/// (a batch of 1,000 documents of a megabyte each would hold a gigabyte at once).
/// A batch is held parsed, and a parsed document takes several times its text
/// (every string, map and entry is an allocation of its own), once per scan
/// running: with batches of up to 1,000 documents and 8 MiB, the SQLite
/// sidecar's peak RSS while six scans of 100,000 small documents ran was
/// 30.8 MiB, and 25.2–27.1 with these (bench/run row 11k, 2026-12-01; the
/// scans' CPU per request within the runs' spread: a round trip costs tens of
/// microseconds against 0.6 µs per document scanned).
const SCAN_BATCH: u32 = 256;
const FIRST_SCAN_BATCH: u32 = 64;
const SCAN_BATCH_BYTES: usize = 1024 * 1024;

/// The next batch's size, given the documents' average size as JSON text.
fn next_batch(avg_bytes: usize) -> u32 {
    (SCAN_BATCH_BYTES / avg_bytes.max(1)).clamp(1, SCAN_BATCH as usize) as u32
}

/// What an edit of one document decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Write this document (an edit: the document keeps its expiry).
    Write(Json),
    /// Write this document in place of the old one (a new document: no
    /// expiry, as a Documents API `PUT` of the whole document).
    Replace(Json),
    /// Delete the document.
    Delete,
    /// Leave it (it matched).
    Keep,
    /// Leave it: it no longer matches (reported as `before: None`).
    Skip,
}

/// The document before and after an edit.
#[derive(Debug, Clone, PartialEq)]
pub struct Edited {
    /// Before (None: absent).
    pub before: Option<Json>,
    /// After (None: absent or deleted).
    pub after: Option<Json>,
}

/// What became of one document of an insert.
#[derive(Debug)]
pub enum Inserted {
    /// Written.
    Ok,
    /// Not written: refused, or its `_id` was taken.
    Failed(CmdError),
    /// Not tried: an ordered batch stopped before it.
    Skipped,
}

/// The error of an insert whose `_id` is taken.
pub fn exists_error(id: &Json) -> CmdError {
    CmdError::new("DOCUMENT_ALREADY_EXISTS", "DOCUMENT", format!("a document with _id {id} already exists"))
}

/// An edit: the current document in, a decision out (re-run on retry, so pure).
pub type EditDoc = Arc<dyn Fn(Option<&Json>) -> Result<Change, CmdError> + Send + Sync>;

/// The Data API's view of the store.
pub struct Store<'a> {
    ctx: &'a Ctx<'a>,
}

/// The clock every Data API write and expiry check uses.
pub fn now_ms() -> i64 {
    crate::engine::now_ms()
}

impl<'a> Store<'a> {
    /// Over the handler context.
    pub fn new(ctx: &'a Ctx<'a>) -> Store<'a> {
        Store { ctx }
    }

    /// Creates a keyspace (idempotent).
    pub async fn create_keyspace(&self, ns: &Namespace) -> Result<(), CmdError> {
        match self.ctx.store.create_keyspace(ns).await {
            Ok(()) | Err(StoreError::AlreadyExists(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The tenant's keyspaces.
    pub async fn keyspaces(&self, tenant: &str) -> Result<Vec<String>, CmdError> {
        Ok(self.ctx.store.keyspaces(tenant).await?)
    }

    /// Drops a keyspace (idempotent).
    pub async fn drop_keyspace(&self, ns: &Namespace) -> Result<(), CmdError> {
        let r = self.ctx.store.drop_keyspace(ns).await;
        self.ctx.catalog.invalidate(ns);
        match r {
            Ok(()) | Err(StoreError::KeyspaceNotFound(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Checks that a collection exists, through the catalog's cache (the
    /// Documents API's): `UNKNOWN_KEYSPACE` / `UNKNOWN_COLLECTION_OR_TABLE`.
    /// A collection dropped elsewhere within the cache's lifetime still
    /// answers `UNKNOWN_COLLECTION_OR_TABLE` from the store on first use.
    pub async fn exists(&self, ns: &Namespace, name: &str) -> Result<(), CmdError> {
        match self.ctx.catalog.collection(self.ctx.docs, ns, name).await {
            Ok(_) => Ok(()),
            Err(crate::fault::Fault::NotFound(m)) if m.starts_with("keyspace") => {
                Err(StoreError::KeyspaceNotFound(ns.keyspace.clone()).into())
            }
            Err(crate::fault::Fault::NotFound(_)) => Err(StoreError::CollectionNotFound(name.to_owned()).into()),
            Err(e) => Err(CmdError::server("INTERNAL_SERVER_ERROR", e.to_string())),
        }
    }

    /// A collection's options (`{}` for one made through the Documents API);
    /// `UNKNOWN_COLLECTION_OR_TABLE` when it does not exist.
    pub async fn options(&self, ns: &Namespace, name: &str) -> Result<Json, CmdError> {
        self.ctx.docs.collection(ns, name).await?;
        match self.ctx.docs.get_doc(ns, OPTIONS_COLLECTION, name, now_ms()).await {
            Ok(Some(o)) => Ok(o),
            Ok(None) | Err(StoreError::CollectionNotFound(_)) => Ok(json!({})),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates a collection with `options`; `Some(existing)` when it already
    /// existed (with the options it was made with).
    pub async fn create_collection(
        &self,
        ns: &Namespace,
        name: &str,
        options: &Json,
    ) -> Result<Option<Json>, CmdError> {
        let created = self.ctx.docs.create_collection(ns, name, true).await?;
        self.ctx.catalog.forget_collection(ns, name);
        if !created {
            return Ok(Some(self.options(ns, name).await?));
        }
        self.set_options(ns, name, options).await?;
        Ok(None)
    }

    /// Records a collection's options (also for one the Documents API made).
    pub async fn set_options(&self, ns: &Namespace, name: &str, options: &Json) -> Result<(), CmdError> {
        self.ctx.docs.create_collection(ns, OPTIONS_COLLECTION, true).await?;
        self.ctx.docs.put_docs(ns, OPTIONS_COLLECTION, &[(name.to_owned(), options.clone())], None).await?;
        Ok(())
    }

    /// Every collection but the reserved one, with its options.
    pub async fn collections(&self, ns: &Namespace) -> Result<Vec<(String, Json)>, CmdError> {
        let all = self.ctx.docs.collections(ns).await?;
        let mut out = Vec::new();
        for c in all.into_iter().filter(|c| c.name != OPTIONS_COLLECTION) {
            let o = match self.ctx.docs.get_doc(ns, OPTIONS_COLLECTION, &c.name, now_ms()).await {
                Ok(Some(o)) => o,
                Ok(None) | Err(StoreError::CollectionNotFound(_)) => json!({}),
                Err(e) => return Err(e.into()),
            };
            out.push((c.name, o));
        }
        Ok(out)
    }

    /// The names of every collection but the reserved one.
    pub async fn collection_names(&self, ns: &Namespace) -> Result<Vec<String>, CmdError> {
        let all = self.ctx.docs.collections(ns).await?;
        Ok(all.into_iter().map(|c| c.name).filter(|n| n != OPTIONS_COLLECTION).collect())
    }

    /// Drops a collection and its options (idempotent).
    pub async fn drop_collection(&self, ns: &Namespace, name: &str) -> Result<(), CmdError> {
        let r = self.ctx.docs.drop_collection(ns, name).await;
        self.ctx.catalog.forget_collection(ns, name);
        match r {
            Ok(()) | Err(StoreError::CollectionNotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let forget: EditFn = Box::new(|_, _| Ok(Edit::Delete { reply: Json::Null }));
        match self.ctx.docs.edit_doc(ns, OPTIONS_COLLECTION, name, now_ms(), forget).await {
            Ok(_) | Err(StoreError::CollectionNotFound(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// One document by key.
    pub async fn get(&self, ns: &Namespace, coll: &str, key: &str) -> Result<Option<Json>, CmdError> {
        Ok(self.ctx.docs.get_doc(ns, coll, key, now_ms()).await?)
    }

    /// One document by key, as compact JSON text.
    pub async fn get_text(&self, ns: &Namespace, coll: &str, key: &str) -> Result<Option<String>, CmdError> {
        Ok(self.ctx.docs.get_doc_text(ns, coll, key, now_ms()).await?)
    }

    /// Documents in key order after `after`, `batch` at a time; `visit`
    /// returns false to stop. With `narrow`, the store skips documents that
    /// cannot match it (see [`prefilter`]); the caller still checks each one.
    pub async fn scan(
        &self,
        ns: &Namespace,
        coll: &str,
        after: Option<String>,
        narrow: Option<&Filter>,
        mut visit: impl FnMut(&str, Json) -> bool,
    ) -> Result<(), CmdError> {
        let mut cursor = after.map(|k| vec![json!(k)]);
        let pre = narrow.and_then(prefilter);
        let mut batch = FIRST_SCAN_BATCH;
        loop {
            let search = DocSearch {
                filter: pre.as_ref(),
                sort: &[],
                after: cursor.as_deref(),
                limit: batch,
                now_ms: now_ms(),
                auto_index: true,
            };
            let rows = self.ctx.docs.search(ns, coll, &search).await?;
            let full = rows.len() as u32 == batch;
            if let Some(bytes) =
                rows.iter().map(|r| crate::json::approx_bytes(&r.doc)).sum::<usize>().checked_div(rows.len())
            {
                batch = next_batch(bytes);
            }
            let mut last = None;
            for r in rows {
                if !visit(&r.id, r.doc) {
                    return Ok(());
                }
                last = Some(r.key);
            }
            match (full, last) {
                (true, Some(k)) => cursor = Some(k),
                _ => return Ok(()),
            }
        }
    }

    /// The `k` documents whose stored vectors score best, best first, with
    /// their scores; reads only the packed vectors, then the winners.
    pub async fn nearest(
        &self,
        ns: &Namespace,
        coll: &str,
        score: Scorer,
        k: usize,
    ) -> Result<Vec<(String, Json, f64)>, CmdError> {
        let winners = self.ctx.docs.nearest(ns, coll, score, k).await?;
        let keys: Vec<String> = winners.iter().map(|(k, _)| k.clone()).collect();
        let mut docs: std::collections::HashMap<String, Json> =
            self.ctx.docs.docs_by_id(ns, coll, &keys, now_ms()).await?.into_iter().collect();
        // A winner deleted or expired since the scan is left out.
        Ok(winners.into_iter().filter_map(|(k, s)| docs.remove(&k).map(|d| (k, d, s))).collect())
    }

    /// Inserts new documents in one store call: each prepared document (or the
    /// error preparing it) in, each one's outcome out, in the same order.
    /// With `ordered`, the first failure stops the batch: every later
    /// document is [`Inserted::Skipped`] and none of them is written.
    pub async fn insert(
        &self,
        ns: &Namespace,
        coll: &str,
        docs: Vec<Result<(String, Json), CmdError>>,
        ordered: bool,
    ) -> Result<Vec<Inserted>, CmdError> {
        // The Documents API's checks, as for every write (see `edit`).
        let admit = self.ctx.catalog.collection(self.ctx.docs, ns, coll).await.ok();
        let limits = self.ctx.limits.doc;
        let schema = admit.as_ref().and_then(|c| c.schema.as_ref());
        let mut out: Vec<Inserted> = Vec::with_capacity(docs.len());
        let mut sent: Vec<(String, Json)> = Vec::with_capacity(docs.len());
        let mut at: Vec<usize> = Vec::with_capacity(docs.len());
        for d in docs {
            if ordered && at.len() < out.len() {
                // An earlier document failed its checks.
                out.push(Inserted::Skipped);
                continue;
            }
            let checked = d.and_then(|(key, doc)| {
                crate::doc::edit::check(&doc, &limits).map_err(|e| CmdError::from(StoreError::Refused(e)))?;
                if let Some(schema) = schema {
                    schema.check(&doc).map_err(|e| CmdError::from(StoreError::Refused(e)))?;
                }
                Ok((key, doc))
            });
            match checked {
                Ok(kd) => {
                    at.push(out.len());
                    sent.push(kd);
                    out.push(Inserted::Ok);
                }
                Err(e) => out.push(Inserted::Failed(e)),
            }
        }
        if sent.is_empty() {
            return Ok(out);
        }
        let done = self.ctx.docs.insert_docs(ns, coll, &sent, now_ms(), ordered).await?;
        let mut stopped = false;
        for ((i, ok), (_, doc)) in at.into_iter().zip(done).zip(&sent) {
            if stopped {
                out[i] = Inserted::Skipped;
            } else if !ok {
                out[i] = Inserted::Failed(exists_error(&doc["_id"]));
                stopped = ordered;
            }
        }
        if stopped {
            // The failure that cut the batch short came first; a refused
            // document after it was never looked at.
            let cut = out.iter().position(|o| matches!(o, Inserted::Failed(_))).unwrap_or(out.len());
            for o in out.iter_mut().skip(cut + 1) {
                *o = Inserted::Skipped;
            }
        }
        Ok(out)
    }

    /// Runs `edit` on one document atomically; returns before and after.
    pub async fn edit(&self, ns: &Namespace, coll: &str, key: &str, edit: EditDoc) -> Result<Edited, CmdError> {
        // The store's transaction speaks `StoreError`; a command error from the
        // edit waits here and is returned as is.
        let refused: Arc<Mutex<Option<CmdError>>> = Arc::default();
        let slot = Arc::clone(&refused);
        // The Documents API's checks apply to every write, whichever API makes
        // it: its size and shape limits and the collection's JSON Schema.
        let admit = self.ctx.catalog.collection(self.ctx.docs, ns, coll).await.ok();
        let limits = self.ctx.limits.doc;
        let f: EditFn = Box::new(move |cur, exp| {
            let write = |doc: Json, expires_ms: Option<i64>| -> Result<Edit, StoreError> {
                crate::doc::edit::check(&doc, &limits).map_err(StoreError::Refused)?;
                if let Some(schema) = admit.as_ref().and_then(|c| c.schema.as_ref()) {
                    schema.check(&doc).map_err(StoreError::Refused)?;
                }
                Ok(Edit::Write { reply: json!({"before": cur, "after": doc.clone()}), doc, expires_ms })
            };
            Ok(match edit(cur.as_ref()) {
                Err(e) => {
                    if let Ok(mut s) = slot.lock() {
                        *s = Some(e);
                    }
                    Edit::Keep { reply: Json::Null }
                }
                Ok(Change::Write(doc)) => write(doc, exp)?,
                Ok(Change::Replace(doc)) => write(doc, None)?,
                Ok(Change::Delete) => Edit::Delete { reply: json!({"before": cur, "after": null}) },
                Ok(Change::Keep) => Edit::Keep { reply: json!({"before": cur, "after": cur}) },
                Ok(Change::Skip) => Edit::Keep { reply: json!({"before": null, "after": null}) },
            })
        });
        let mut reply = self.ctx.docs.edit_doc(ns, coll, key, now_ms(), f).await?;
        if let Some(e) = refused.lock().ok().and_then(|mut s| s.take()) {
            return Err(e);
        }
        let opt = |v: Json| if v.is_null() { None } else { Some(v) };
        Ok(Edited { before: opt(reply["before"].take()), after: opt(reply["after"].take()) })
    }
}

/// A Documents API `where` that every document matching `f` also matches:
/// its top-level `$eq` and `$in` on plain paths with string, boolean and
/// integer values, each as "the value itself or an element of an array
/// there" ([`crate::store::docsql::element_or_value`]), so the store's indexes
/// narrow a scan. `None` when there is nothing to narrow with.
pub fn prefilter(f: &Filter) -> Option<DocFilter> {
    let terms: &[Filter] = match f {
        Filter::And(all) => all,
        one => std::slice::from_ref(one),
    };
    let mut out = Vec::new();
    for t in terms {
        match t {
            Filter::Cond(path, cond)
                if path[0] != "_id" && path.iter().all(|s| !s.bytes().all(|b| b.is_ascii_digit())) =>
            {
                let op = match cond {
                    Cond::Eq(v) if narrows(v) => Comparison::Eq(v.clone()),
                    Cond::In(vs) if !vs.is_empty() && vs.iter().all(narrows) => Comparison::In(vs.clone()),
                    _ => continue,
                };
                let keys: Vec<Segment> = path.iter().map(|s| Segment::Key(s.clone())).collect();
                let mut any = keys.clone();
                any.push(Segment::AnyIndex);
                out.push(DocFilter::Or(vec![DocFilter::Leaf(keys, op.clone()), DocFilter::Leaf(any, op)]));
            }
            Filter::And(_) => out.extend(prefilter(t)),
            _ => {}
        }
    }
    match out.len() {
        0 => None,
        1 => out.pop(),
        _ => Some(DocFilter::And(out)),
    }
}

/// Whether the store's equality on `v` finds every value the Data API's
/// finds: strings and booleans, and numbers that are integers of magnitude
/// below 2^53. The Data API compares numbers as doubles, so above that one
/// double stands for several stored integers (and a fraction's decimal text
/// need not parse to the same double in the store); those are left to the scan.
fn narrows(v: &Json) -> bool {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match v {
        Json::String(_) | Json::Bool(_) => true,
        Json::Number(n) => n.as_f64().is_some_and(|x| x.fract() == 0.0 && x.abs() < EXACT),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::filter::matches;

    #[test]
    fn a_scan_batch_holds_about_a_mebibyte_of_text() {
        assert_eq!(next_batch(0), SCAN_BATCH);
        assert_eq!(next_batch(100), SCAN_BATCH);
        assert_eq!(next_batch(16 * 1024), 64);
        assert_eq!(next_batch(4 * 1024 * 1024), 1);
        assert!(next_batch(1000) as usize * 1000 <= SCAN_BATCH_BYTES);
    }

    #[test]
    fn prefilter_keeps_every_match() {
        let f =
            super::super::filter::parse(Some(&json!({"a.b": "x", "t": true, "n": 1, "_id": "k", "$or": [{"c": "y"}]})))
                .unwrap();
        let pre = prefilter(&f).unwrap();
        for doc in
            [json!({"a": {"b": "x"}, "t": true, "n": 1}), json!({"a": {"b": ["y", "x"]}, "t": [true], "n": [2, 1]})]
        {
            assert!(matches(&doc, &pre), "{doc}");
        }
        assert!(!matches(&json!({"a": {"b": "z"}, "t": true, "n": 1}), &pre));
        let none = json!({"n": 1.5, "m": 9_007_199_254_740_993_u64, "a.0": "x", "d": {"$date": 1}});
        assert_eq!(prefilter(&super::super::filter::parse(Some(&none)).unwrap()), None);
        let pre =
            prefilter(&super::super::filter::parse(Some(&json!({"n": 3.0, "k": {"$in": ["a", 2]}}))).unwrap()).unwrap();
        for doc in [json!({"n": 3, "k": "a"}), json!({"n": [1, 3.0], "k": [0, 2]})] {
            assert!(matches(&doc, &pre), "{doc}");
        }
    }
}
