//! Documents: `/v2/namespaces/{ns}/collections/{coll}[/{id}[/{path...}]]`.
//! A translator: paths, query parameters and bodies become
//! [`engine::docs`](crate::engine::docs) operations, their results Stargate's
//! JSON envelopes.

use super::{ttl_param, Ctx};
use crate::doc::edit::{self, Function};
use crate::doc::filter;
use crate::doc::path::{self, display, Path};
use crate::engine::docs::{self, check_id, Change, DocQuery};
use crate::engine::rows::ttl_seconds;
use crate::error::ApiError;
use crate::http::{ApiRequest, ApiResponse};
use crate::model::Namespace;
use serde_json::{json, Map, Value as Json};
use std::collections::HashSet;

/// Most documents in one batch.
const MAX_BATCH: usize = 1000;
/// Most paths in `fields`.
const MAX_FIELDS: usize = 100;

/// The `ttl` parameter in seconds, checked.
fn ttl(req: &ApiRequest) -> Result<Option<u64>, ApiError> {
    Ok(ttl_seconds(ttl_param(req)?)?)
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

fn written(id: &str) -> ApiResponse {
    ApiResponse::json(200, json!({ "documentId": id }))
}

/// `POST /{coll}`: a new document under a server-generated id.
pub async fn create(ctx: &Ctx<'_>, ns: &Namespace, coll: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let doc = crate::json::parse("document", &req.body)?;
    let id = uuid::Uuid::new_v4().to_string();
    docs::insert(ctx, ns, coll, &[(id.clone(), doc)], ttl(req)?).await?;
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
    docs::insert(ctx, ns, coll, &batch, ttl(req)?).await?;
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
    if p.is_empty() && fields.is_none() {
        // The whole document, unchanged: its stored text goes into the body.
        let text = docs::get_text(ctx, ns, coll, id).await?;
        let body = if raw {
            text.into_bytes()
        } else {
            let mut b = Vec::with_capacity(text.len() + id.len() + 32);
            b.extend_from_slice(br#"{"documentId":"#);
            b.extend_from_slice(Json::String(id.to_owned()).to_string().as_bytes());
            b.extend_from_slice(br#","data":"#);
            b.extend_from_slice(text.as_bytes());
            b.push(b'}');
            b
        };
        return Ok(ApiResponse { status: 200, headers: Vec::new(), body });
    }
    let value = docs::get(ctx, ns, coll, id, &p, fields.as_deref()).await?;
    Ok(ApiResponse::json(200, if raw { value } else { json!({ "documentId": id, "data": value }) }))
}

/// `PUT /{coll}/{id}[/{path...}]` ([`Change::Replace`]: replace the document
/// or the value at path) and `PATCH` ([`Change::Merge`]: merge members into
/// the object there): the body is the change at the path.
pub async fn write_at(
    ctx: &Ctx<'_>,
    ns: &Namespace,
    coll: &str,
    id: &str,
    rest: &[String],
    req: &ApiRequest,
    change: fn(Json) -> Change,
) -> Result<ApiResponse, ApiError> {
    let p = path::from_segments(rest)?;
    let value = crate::json::parse("document", &req.body)?;
    docs::write_at(ctx, ns, coll, id, p, change(value), ttl(req)?).await?;
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
    docs::delete(ctx, ns, coll, id, p).await?;
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
    let reply = docs::function(ctx, ns, coll, id, p, func).await?;
    Ok(ApiResponse::json(200, json!({ "documentId": id, "data": reply })))
}

/// `GET /{coll}`: search with `where`, `sort`, `fields` and keyset paging.
pub async fn search(ctx: &Ctx<'_>, ns: &Namespace, coll: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let filter = match req.param("where")?.unwrap_or("") {
        "" => None,
        t => Some(filter::parse_where(crate::json::parse("where", t.as_bytes())?)?),
    };
    let sort = match req.param("sort")?.unwrap_or("") {
        "" => Vec::new(),
        t => filter::parse_sort(crate::json::parse("sort", t.as_bytes())?)?,
    };
    let q = DocQuery {
        filter,
        sort,
        fields: fields(req)?,
        page_size: super::page_size_param(req, ctx.limits.doc_max_page_size)?,
        page_state: req.param("page-state")?,
    };
    let raw = req.flag("raw", false)?;
    let page = docs::search(ctx, ns, coll, q).await?;
    let data: Map<String, Json> = page.docs.into_iter().collect();
    if raw {
        return Ok(ApiResponse::json(200, Json::Object(data)));
    }
    let mut body = Map::new();
    if let Some(n) = page.next {
        body.insert("pageState".to_owned(), Json::String(n));
    }
    body.insert("data".to_owned(), Json::Object(data));
    Ok(ApiResponse::json(200, Json::Object(body)))
}
