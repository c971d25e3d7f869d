//! Document operations: insert, get, put, patch, delete, array functions and
//! search with keyset paging. Every edit below the root runs as a pure
//! function inside the store's read-modify-write transaction, and every
//! document is checked against the limits and the collection's JSON Schema
//! before it is stored, whichever API asked.

use super::{now_ms, page, rows::page_len, Ctx};
use crate::catalog::Collection;
use crate::doc::edit::{self, DocLimits, Function};
use crate::doc::filter::{Dir, Filter};
use crate::doc::path::{display, Path};
use crate::fault::Fault;
use crate::model::Namespace;
use crate::store::docs::{Edit, EditFn};
use crate::store::docsql::{key_len, DocSearch};
use crate::store::StoreError;
use serde_json::Value as Json;
use std::future::Future;
use std::sync::Arc;

/// Longest document id, bytes.
pub const MAX_ID_BYTES: usize = 256;

/// Checks a document id.
pub fn check_id(id: &str) -> Result<(), Fault> {
    if id.is_empty() || id.len() > MAX_ID_BYTES || id.contains('\0') {
        return Err(Fault::Invalid(format!(
            "a document id is 1 to {MAX_ID_BYTES} bytes without U+0000, got {} bytes",
            id.len()
        )));
    }
    Ok(())
}

/// The document id an `_id` value stands for: a string is its own id, any
/// other value its compact JSON text (`1`, `true`, `{"$uuid":"…"}`). The one
/// mapping between the Data API's typed `_id`s and the Documents API's ids.
pub fn id_of(id: &Json) -> String {
    match id {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Refuses a document whose `_id` names another document than `id`: the Data
/// API finds documents by `_id`, so such a document could be found by neither
/// (and a second one could take the same `_id`).
fn check_body_id(id: &str, doc: &Json) -> Result<(), Fault> {
    match doc.get("_id") {
        Some(v) if id_of(v) != id => Err(Fault::Invalid(format!(
            "the document's _id {v} names another document than '{id}': leave it out, or make it the same id"
        ))),
        _ => Ok(()),
    }
}

/// The expiry a write asks for from a TTL in seconds: `None` when none is
/// given (edits keep the document's), `Some(None)` for 0 (never expires).
pub fn expiry(ttl: Option<u64>, now: i64) -> Option<Option<i64>> {
    ttl.map(|s| (s > 0).then(|| now + (s as i64) * 1000))
}

/// Checks a whole document before it is stored.
fn admit(limits: &DocLimits, coll: &Collection, doc: &Json) -> Result<(), StoreError> {
    edit::check(doc, limits).map_err(StoreError::Refused)?;
    match &coll.schema {
        Some(s) => s.check(doc).map_err(StoreError::Refused),
        None => Ok(()),
    }
}

/// Runs a write on the collection (created on first use); if the collection
/// vanished under the cached definition, forgets it and tries once more.
async fn write<T, F, Fut>(ctx: &Ctx<'_>, ns: &Namespace, name: &str, op: F) -> Result<T, Fault>
where
    F: Fn(Arc<Collection>) -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let c = ctx.catalog.collection_for_write(ctx.docs, ns, name).await?;
    match op(c).await {
        Err(StoreError::CollectionNotFound(_)) => {
            ctx.catalog.forget_collection(ns, name);
            let c = ctx.catalog.collection_for_write(ctx.docs, ns, name).await?;
            op(c).await.map_err(Into::into)
        }
        other => other.map_err(Into::into),
    }
}

/// Maps a read's error, forgetting a collection that turned out to be gone.
fn read_err(ctx: &Ctx<'_>, ns: &Namespace, name: &str, e: StoreError) -> Fault {
    if matches!(e, StoreError::CollectionNotFound(_) | StoreError::KeyspaceNotFound(_)) {
        ctx.catalog.forget_collection(ns, name);
    }
    e.into()
}

/// Stores new documents (id, document) all or nothing, the collection
/// created on first use; `ttl` in seconds.
pub async fn insert(
    ctx: &Ctx<'_>,
    ns: &Namespace,
    coll: &str,
    batch: &[(String, Json)],
    ttl: Option<u64>,
) -> Result<(), Fault> {
    let exp = expiry(ttl, now_ms()).flatten();
    let limits = &ctx.limits.doc;
    write(ctx, ns, coll, |c| async move {
        for (id, doc) in batch {
            check_body_id(id, doc).map_err(StoreError::Refused)?;
            admit(limits, &c, doc)?;
        }
        ctx.docs.put_docs(ns, coll, batch, exp).await
    })
    .await
}

/// The value at `path` in a document, projected to `fields` if given.
pub async fn get(
    ctx: &Ctx<'_>,
    ns: &Namespace,
    coll: &str,
    id: &str,
    path: &Path,
    fields: Option<&[Path]>,
) -> Result<Json, Fault> {
    check_id(id)?;
    ctx.catalog.collection(ctx.docs, ns, coll).await?;
    let doc = ctx.docs.get_doc(ns, coll, id, now_ms()).await.map_err(|e| read_err(ctx, ns, coll, e))?;
    let doc = doc.ok_or_else(|| Fault::NotFound(format!("document '{id}' not found")))?;
    let value = edit::get(&doc, path)
        .ok_or_else(|| Fault::NotFound(format!("document '{id}' has nothing at '{}'", display(path))))?;
    Ok(match fields {
        Some(f) => edit::project(value, f),
        None => value.clone(),
    })
}

/// A whole document as the store's compact JSON text: what [`get`] at the
/// root with no `fields` returns, without parsing it and writing it again.
pub async fn get_text(ctx: &Ctx<'_>, ns: &Namespace, coll: &str, id: &str) -> Result<String, Fault> {
    check_id(id)?;
    ctx.catalog.collection(ctx.docs, ns, coll).await?;
    let doc = ctx.docs.get_doc_text(ns, coll, id, now_ms()).await.map_err(|e| read_err(ctx, ns, coll, e))?;
    doc.ok_or_else(|| Fault::NotFound(format!("document '{id}' not found")))
}

/// Runs `f` on the current document in the store's transaction.
async fn edit_with<F>(ctx: &Ctx<'_>, ns: &Namespace, coll: &str, id: &str, f: F) -> Result<Json, Fault>
where
    F: Fn(&Collection, Option<Json>, Option<i64>) -> Result<Edit, StoreError> + Send + Sync + Clone + 'static,
{
    check_id(id)?;
    let now = now_ms();
    write(ctx, ns, coll, |c| {
        let f = f.clone();
        async move {
            let edit: EditFn = Box::new(move |doc, exp| f(&c, doc, exp));
            ctx.docs.edit_doc(ns, coll, id, now, edit).await
        }
    })
    .await
}

/// How a write at a path changes the document there.
#[derive(Debug, Clone)]
pub enum Change {
    /// Replace the document, or the value at the path (`PUT`).
    Replace(Json),
    /// Merge an object's members into the object at the path (`PATCH`).
    Merge(Json),
}

/// Writes at `path` of a document (created if absent); `ttl` in seconds
/// resets its expiry, otherwise an edit below the root keeps it and a
/// whole-document replace (a new document) drops it.
pub async fn write_at(
    ctx: &Ctx<'_>,
    ns: &Namespace,
    coll: &str,
    id: &str,
    path: Path,
    change: Change,
    ttl: Option<u64>,
) -> Result<(), Fault> {
    if let Change::Merge(patch) = &change {
        if !patch.is_object() {
            return Err(Fault::Invalid(format!(
                "PATCH needs a JSON object to merge, got {}",
                crate::json::kind(patch)
            )));
        }
    }
    let ttl = expiry(ttl, now_ms());
    let limits = ctx.limits.doc;
    let owned_id = id.to_owned();
    edit_with(ctx, ns, coll, id, move |c, doc, exp| {
        let (doc, keep) = match &change {
            // A whole-document replace is a new document: it keeps no old expiry.
            Change::Replace(value) => (edit::put(doc, &path, value.clone()), if path.is_empty() { None } else { exp }),
            Change::Merge(patch) => (edit::merge(doc, &path, patch.clone()), exp),
        };
        let doc = doc.map_err(StoreError::Refused)?;
        check_body_id(&owned_id, &doc).map_err(StoreError::Refused)?;
        admit(&limits, c, &doc)?;
        Ok(Edit::Write { doc, expires_ms: ttl.unwrap_or(keep), reply: Json::Null })
    })
    .await
    .map(|_| ())
}

/// Deletes a document, or the value at `path` in it; nothing there is fine.
pub async fn delete(ctx: &Ctx<'_>, ns: &Namespace, coll: &str, id: &str, path: Path) -> Result<(), Fault> {
    let limits = ctx.limits.doc;
    edit_with(ctx, ns, coll, id, move |c, doc, exp| {
        let Some(mut doc) = doc else { return Ok(Edit::Keep { reply: Json::Null }) };
        if path.is_empty() {
            return Ok(Edit::Delete { reply: Json::Null });
        }
        if !edit::remove(&mut doc, &path) {
            return Ok(Edit::Keep { reply: Json::Null });
        }
        admit(&limits, c, &doc)?;
        Ok(Edit::Write { doc, expires_ms: exp, reply: Json::Null })
    })
    .await
    .map(|_| ())
}

/// Runs an array function (`$push`, `$pop`) at `path`; returns its result.
pub async fn function(
    ctx: &Ctx<'_>,
    ns: &Namespace,
    coll: &str,
    id: &str,
    path: Path,
    func: Function,
) -> Result<Json, Fault> {
    let limits = ctx.limits.doc;
    let owned_id = id.to_owned();
    edit_with(ctx, ns, coll, id, move |c, doc, exp| {
        let Some(mut doc) = doc else {
            return Err(StoreError::Refused(Fault::NotFound(format!("document '{owned_id}' not found"))));
        };
        let reply = func.apply(&mut doc, &path).map_err(StoreError::Refused)?;
        admit(&limits, c, &doc)?;
        Ok(Edit::Write { doc, expires_ms: exp, reply })
    })
    .await
}

/// A document search.
#[derive(Debug, Clone, Default)]
pub struct DocQuery<'a> {
    /// The conditions, if any.
    pub filter: Option<Filter>,
    /// Sort paths in priority order; the document id breaks ties.
    pub sort: Vec<(Path, Dir)>,
    /// Paths to keep in each document (all when `None`).
    pub fields: Option<Vec<Path>>,
    /// Documents per page (the configured default when `None`).
    pub page_size: Option<i64>,
    /// The cursor a previous page of the same search returned.
    pub page_state: Option<&'a str>,
}

/// One page of documents.
#[derive(Debug, Clone, PartialEq)]
pub struct DocPage {
    /// (id, document) in order.
    pub docs: Vec<(String, Json)>,
    /// The cursor of the next page, when there is one.
    pub next: Option<String>,
}

/// Searches a collection.
pub async fn search(ctx: &Ctx<'_>, ns: &Namespace, coll: &str, q: DocQuery<'_>) -> Result<DocPage, Fault> {
    let size = page_len(q.page_size, ctx.limits.doc_default_page_size, ctx.limits.doc_max_page_size)?;
    let fp = page::fingerprint_of(&[coll, &format!("{:?}", q.filter), &format!("{:?}", q.sort)]);
    let after = match q.page_state {
        Some(text) if !text.is_empty() => {
            let key = page::decode_keys(&fp, text)?;
            if key.len() != key_len(&q.sort) {
                return Err(Fault::Invalid("page-state is malformed or belongs to a different query".to_owned()));
            }
            Some(key)
        }
        _ => None,
    };
    ctx.catalog.collection(ctx.docs, ns, coll).await?;
    let s = DocSearch {
        filter: q.filter.as_ref(),
        sort: &q.sort,
        after: after.as_deref(),
        limit: size + 1,
        now_ms: now_ms(),
        // Declared indexes only: the Documents API indexes what it is told to.
        auto_index: false,
    };
    let mut rows = ctx.docs.search(ns, coll, &s).await.map_err(|e| read_err(ctx, ns, coll, e))?;
    let next = if rows.len() > size as usize {
        rows.truncate(size as usize);
        rows.last().map(|r| page::encode_keys(&fp, r.key.clone()))
    } else {
        None
    };
    let docs = rows
        .into_iter()
        .map(|r| {
            let doc = match &q.fields {
                Some(f) => edit::project(&r.doc, f),
                None => r.doc,
            };
            (r.id, doc)
        })
        .collect();
    Ok(DocPage { docs, next })
}
