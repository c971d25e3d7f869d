//! Documents: `/v2/namespaces/{ns}/collections/{coll}[/{id}[/{path...}]]`.
//! Edits below the root run as pure functions inside the store's
//! read-modify-write transaction; every stored document is checked against
//! the limits and the collection's JSON Schema first.

use super::{now_ms, page, ttl_param, Ctx};
use crate::catalog::Collection;
use crate::doc::edit::{self, DocLimits, Function};
use crate::doc::filter;
use crate::doc::path::{self, display, Path};
use crate::error::ApiError;
use crate::fault::Fault;
use crate::http::{ApiRequest, ApiResponse};
use crate::model::Namespace;
use crate::store::docs::Edit;
use crate::store::docsql::{key_len, DocSearch};
use crate::store::StoreError;
use serde_json::{json, Map, Value as Json};
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

/// Most documents in one batch.
const MAX_BATCH: usize = 1000;
/// Longest document id, bytes.
const MAX_ID_BYTES: usize = 256;
/// Most paths in `fields`.
const MAX_FIELDS: usize = 100;

fn check_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > MAX_ID_BYTES || id.contains('\0') {
        return Err(ApiError::BadRequest(format!(
            "a document id is 1 to {MAX_ID_BYTES} bytes without U+0000, got {} bytes",
            id.len()
        )));
    }
    Ok(())
}

/// Checks a whole document before it is stored.
fn admit(limits: &DocLimits, coll: &Collection, doc: &Json) -> Result<(), StoreError> {
    edit::check(doc, limits).map_err(StoreError::Refused)?;
    match &coll.schema {
        Some(s) => s.check(doc).map_err(StoreError::Refused),
        None => Ok(()),
    }
}

/// The expiry a write asks for: `None` when no `ttl` is given (edits keep the
/// document's), `Some(None)` for `ttl=0` (never expires).
fn expiry(req: &ApiRequest, now: i64) -> Result<Option<Option<i64>>, ApiError> {
    Ok(ttl_param(req)?.map(|s| (s > 0).then(|| now + (s as i64) * 1000)))
}

fn fields(req: &ApiRequest) -> Result<Option<Vec<Path>>, ApiError> {
    let Some(text) = req.param("fields")? else { return Ok(None) };
    let bad = || {
        ApiError::BadRequest(format!(
            "fields must be a JSON array of paths like [\"name\",\"address.city\"], got '{text}'"
        ))
    };
    let Json::Array(items) = crate::json::parse("fields", text.as_bytes())? else { return Err(bad()) };
    if items.is_empty() || items.len() > MAX_FIELDS {
        return Err(ApiError::BadRequest(format!("fields names 1 to {MAX_FIELDS} paths")));
    }
    items
        .iter()
        .map(|i| i.as_str().ok_or_else(bad).and_then(|s| path::plain(s, "fields").map_err(ApiError::from)))
        .collect::<Result<_, _>>()
        .map(Some)
}

/// Runs a write on the collection (created on first use); if the collection
/// vanished under the cached definition, forgets it and tries once more.
async fn write<T, F, Fut>(ctx: &Ctx<'_>, ns: &Namespace, name: &str, op: F) -> Result<T, ApiError>
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
fn read_err(ctx: &Ctx<'_>, ns: &Namespace, name: &str, e: StoreError) -> ApiError {
    if matches!(e, StoreError::CollectionNotFound(_) | StoreError::KeyspaceNotFound(_)) {
        ctx.catalog.forget_collection(ns, name);
    }
    e.into()
}

fn written(id: &str) -> ApiResponse {
    ApiResponse::json(200, json!({ "documentId": id }))
}

/// `POST /{coll}`: a new document under a server-generated id.
pub async fn create(ctx: &Ctx<'_>, ns: &Namespace, coll: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let doc = crate::json::parse("document", &req.body)?;
    let exp = expiry(req, now_ms())?.flatten();
    let id = uuid::Uuid::new_v4().to_string();
    let batch = [(id.clone(), doc)];
    let (limits, batch) = (&ctx.limits.doc, &batch);
    write(ctx, ns, coll, |c| async move {
        admit(limits, &c, &batch[0].1)?;
        ctx.docs.put_docs(ns, coll, batch, exp).await
    })
    .await?;
    let mut resp = ApiResponse::json(201, json!({ "documentId": id }));
    resp.headers.push(("location".to_owned(), format!("{}/{id}", req.path.trim_end_matches('/'))));
    Ok(resp)
}

/// `POST /{coll}/batch`: many documents, all-or-nothing; ids from `id-path` or generated.
pub async fn batch(ctx: &Ctx<'_>, ns: &Namespace, coll: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let Json::Array(docs) = crate::json::parse("request body", &req.body)? else {
        return Err(ApiError::BadRequest("batch: the body must be a JSON array of documents".to_owned()));
    };
    if docs.is_empty() || docs.len() > MAX_BATCH {
        return Err(ApiError::BadRequest(format!("batch: send 1 to {MAX_BATCH} documents, got {}", docs.len())));
    }
    let id_path = req.param("id-path")?.map(|p| path::plain(p, "id-path")).transpose()?;
    let mut seen = HashSet::new();
    let mut batch = Vec::with_capacity(docs.len());
    for (i, doc) in docs.into_iter().enumerate() {
        let id = match &id_path {
            None => uuid::Uuid::new_v4().to_string(),
            Some(p) => match edit::get(&doc, p) {
                Some(Json::String(s)) => s.clone(),
                Some(Json::Number(n)) => n.to_string(),
                _ => {
                    return Err(ApiError::BadRequest(format!(
                        "batch: document {i} has no string or number at id-path '{}'",
                        display(p)
                    )))
                }
            },
        };
        check_id(&id)?;
        if !seen.insert(id.clone()) {
            return Err(ApiError::BadRequest(format!("batch: document id '{id}' appears more than once")));
        }
        batch.push((id, doc));
    }
    let exp = expiry(req, now_ms())?.flatten();
    let (limits, batch) = (&ctx.limits.doc, &batch);
    write(ctx, ns, coll, |c| async move {
        for (_, doc) in batch.iter() {
            admit(limits, &c, doc)?;
        }
        ctx.docs.put_docs(ns, coll, batch, exp).await
    })
    .await?;
    let ids: Vec<&String> = batch.iter().map(|(id, _)| id).collect();
    Ok(ApiResponse::json(202, json!({ "documentIds": ids })))
}

/// `GET /{coll}/{id}[/{path...}]`.
pub async fn get(
    ctx: &Ctx<'_>,
    ns: &Namespace,
    coll: &str,
    id: &str,
    rest: &[String],
    req: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    check_id(id)?;
    let p = path::from_segments(rest)?;
    let fields = fields(req)?;
    let raw = req.flag("raw", false)?;
    ctx.catalog.collection(ctx.docs, ns, coll).await?;
    let doc = ctx.docs.get_doc(ns, coll, id, now_ms()).await.map_err(|e| read_err(ctx, ns, coll, e))?;
    let doc = doc.ok_or_else(|| ApiError::NotFound(format!("document '{id}' not found")))?;
    let value = edit::get(&doc, &p)
        .ok_or_else(|| ApiError::NotFound(format!("document '{id}' has nothing at '{}'", display(&p))))?;
    let value = match &fields {
        Some(f) => edit::project(value, f),
        None => value.clone(),
    };
    Ok(ApiResponse::json(200, if raw { value } else { json!({ "documentId": id, "data": value }) }))
}

/// Runs `f` on the current document in the store's transaction.
async fn edit_with<F>(ctx: &Ctx<'_>, ns: &Namespace, coll: &str, id: &str, f: F) -> Result<Json, ApiError>
where
    F: Fn(&Collection, Option<Json>, Option<i64>) -> Result<Edit, StoreError> + Send + Sync + Clone + 'static,
{
    check_id(id)?;
    let now = now_ms();
    write(ctx, ns, coll, |c| {
        let f = f.clone();
        async move {
            let edit: crate::store::docs::EditFn = Box::new(move |doc, exp| f(&c, doc, exp));
            ctx.docs.edit_doc(ns, coll, id, now, edit).await
        }
    })
    .await
}

/// `PUT /{coll}/{id}[/{path...}]`: replace the document or the value at path.
pub async fn put(
    ctx: &Ctx<'_>,
    ns: &Namespace,
    coll: &str,
    id: &str,
    rest: &[String],
    req: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let p = path::from_segments(rest)?;
    let value = crate::json::parse("document", &req.body)?;
    let ttl = expiry(req, now_ms())?;
    let limits = ctx.limits.doc;
    edit_with(ctx, ns, coll, id, move |c, doc, exp| {
        let doc = edit::put(doc, &p, value.clone()).map_err(StoreError::Refused)?;
        admit(&limits, c, &doc)?;
        // A whole-document PUT is a new document: it keeps no old expiry.
        let keep = if p.is_empty() { None } else { exp };
        Ok(Edit::Write { doc, expires_ms: ttl.unwrap_or(keep), reply: Json::Null })
    })
    .await?;
    Ok(written(id))
}

/// `PATCH /{coll}/{id}[/{path...}]`: merge members into the object there.
pub async fn patch(
    ctx: &Ctx<'_>,
    ns: &Namespace,
    coll: &str,
    id: &str,
    rest: &[String],
    req: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let p = path::from_segments(rest)?;
    let patch = crate::json::parse("document", &req.body)?;
    if !patch.is_object() {
        return Err(ApiError::BadRequest(format!(
            "PATCH needs a JSON object to merge, got {}",
            crate::json::kind(&patch)
        )));
    }
    let limits = ctx.limits.doc;
    edit_with(ctx, ns, coll, id, move |c, doc, exp| {
        let doc = edit::merge(doc, &p, patch.clone()).map_err(StoreError::Refused)?;
        admit(&limits, c, &doc)?;
        Ok(Edit::Write { doc, expires_ms: exp, reply: Json::Null })
    })
    .await?;
    Ok(written(id))
}

/// `DELETE /{coll}/{id}[/{path...}]`: idempotent, 204 whether or not it was there.
pub async fn delete(
    ctx: &Ctx<'_>,
    ns: &Namespace,
    coll: &str,
    id: &str,
    rest: &[String],
) -> Result<ApiResponse, ApiError> {
    let p = path::from_segments(rest)?;
    let limits = ctx.limits.doc;
    let result = edit_with(ctx, ns, coll, id, move |c, doc, exp| {
        let Some(mut doc) = doc else { return Ok(Edit::Keep { reply: Json::Null }) };
        if p.is_empty() {
            return Ok(Edit::Delete { reply: Json::Null });
        }
        if !edit::remove(&mut doc, &p) {
            return Ok(Edit::Keep { reply: Json::Null });
        }
        admit(&limits, c, &doc)?;
        Ok(Edit::Write { doc, expires_ms: exp, reply: Json::Null })
    })
    .await;
    result?;
    Ok(ApiResponse::no_content())
}

/// `POST /{coll}/{id}[/{path...}]/function`: `$push` or `$pop` on an array.
pub async fn function(
    ctx: &Ctx<'_>,
    ns: &Namespace,
    coll: &str,
    id: &str,
    rest: &[String],
    req: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let p = path::from_segments(rest)?;
    let func = Function::parse(crate::json::parse("request body", &req.body)?)?;
    let limits = ctx.limits.doc;
    let owned_id = id.to_owned();
    let reply = edit_with(ctx, ns, coll, id, move |c, doc, exp| {
        let Some(mut doc) = doc else {
            return Err(StoreError::Refused(Fault::NotFound(format!("document '{owned_id}' not found"))));
        };
        let reply = func.apply(&mut doc, &p).map_err(StoreError::Refused)?;
        admit(&limits, c, &doc)?;
        Ok(Edit::Write { doc, expires_ms: exp, reply })
    })
    .await?;
    Ok(ApiResponse::json(200, json!({ "documentId": id, "data": reply })))
}

/// `GET /{coll}`: search with `where`, `sort`, `fields` and keyset paging.
pub async fn search(ctx: &Ctx<'_>, ns: &Namespace, coll: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let where_text = req.param("where")?.unwrap_or("");
    let filter = match where_text {
        "" => None,
        t => Some(filter::parse_where(crate::json::parse("where", t.as_bytes())?)?),
    };
    let sort_text = req.param("sort")?.unwrap_or("");
    let sort = match sort_text {
        "" => Vec::new(),
        t => filter::parse_sort(crate::json::parse("sort", t.as_bytes())?)?,
    };
    let fields = fields(req)?;
    let raw = req.flag("raw", false)?;
    let size = super::page_size(req, ctx.limits.doc_default_page_size, ctx.limits.doc_max_page_size)?;
    let fp = page::fingerprint_of(&[coll, where_text, sort_text]);
    let after = match req.param("page-state")? {
        Some(text) if !text.is_empty() => {
            let key = page::decode_keys(&fp, text)?;
            if key.len() != key_len(&sort) {
                return Err(ApiError::BadRequest("page-state is malformed or belongs to a different query".to_owned()));
            }
            Some(key)
        }
        _ => None,
    };
    ctx.catalog.collection(ctx.docs, ns, coll).await?;
    let s =
        DocSearch { filter: filter.as_ref(), sort: &sort, after: after.as_deref(), limit: size + 1, now_ms: now_ms() };
    let mut rows = ctx.docs.search(ns, coll, &s).await.map_err(|e| read_err(ctx, ns, coll, e))?;
    let next = if rows.len() > size as usize {
        rows.truncate(size as usize);
        rows.last().map(|r| page::encode_keys(&fp, r.key.clone()))
    } else {
        None
    };
    let mut data = Map::new();
    for r in rows {
        let doc = match &fields {
            Some(f) => edit::project(&r.doc, f),
            None => r.doc,
        };
        data.insert(r.id, doc);
    }
    if raw {
        return Ok(ApiResponse::json(200, Json::Object(data)));
    }
    let mut body = Map::new();
    if let Some(n) = next {
        body.insert("pageState".to_owned(), Json::String(n));
    }
    body.insert("data".to_owned(), Json::Object(data));
    Ok(ApiResponse::json(200, Json::Object(body)))
}
