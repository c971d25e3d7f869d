//! Collections of a namespace (`/v2/namespaces/{ns}/collections`) and their
//! JSON Schemas. Namespaces themselves are keyspaces (see `schema.rs`).

use super::{body, raw_or_data, Ctx};
use crate::doc::schema::Schema;
use crate::error::ApiError;
use crate::http::{ApiRequest, ApiResponse};
use crate::model::{check_ident, Namespace};
use serde::Deserialize;
use serde_json::{json, Value as Json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateCollection {
    name: String,
}

/// `GET /v2/namespaces/{ns}/collections`.
pub async fn list(ctx: &Ctx<'_>, ns: &Namespace, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let all = ctx.docs.collections(ns).await?;
    raw_or_data(
        req,
        all.into_iter().map(|c| json!({ "name": c.name, "hasJsonSchema": c.json_schema.is_some() })).collect(),
    )
}

/// `POST /v2/namespaces/{ns}/collections`.
pub async fn create(ctx: &Ctx<'_>, ns: &Namespace, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let c: CreateCollection = body(req)?;
    check_ident("collection", &c.name).map_err(ApiError::BadRequest)?;
    ctx.docs.create_collection(ns, &c.name, false).await?;
    ctx.catalog.forget_collection(ns, &c.name);
    Ok(ApiResponse::json(201, json!({ "name": c.name })))
}

/// `DELETE /v2/namespaces/{ns}/collections/{coll}`.
pub async fn drop(ctx: &Ctx<'_>, ns: &Namespace, coll: &str) -> Result<ApiResponse, ApiError> {
    check_ident("collection", coll).map_err(ApiError::BadRequest)?;
    let result = ctx.docs.drop_collection(ns, coll).await;
    ctx.catalog.forget_collection(ns, coll);
    result?;
    Ok(ApiResponse::no_content())
}

/// `GET .../collections/{coll}/json-schema`.
pub async fn get_schema(ctx: &Ctx<'_>, ns: &Namespace, coll: &str) -> Result<ApiResponse, ApiError> {
    let c = ctx.catalog.collection(ctx.docs, ns, coll).await?;
    match &c.def.json_schema {
        Some(s) => Ok(ApiResponse::json(200, json!({ "schema": s }))),
        None => Err(ApiError::NotFound(format!("collection '{coll}' has no JSON schema"))),
    }
}

/// `PUT .../collections/{coll}/json-schema`: the body is the schema. Existing
/// documents are not re-checked; every write from now on is.
pub async fn put_schema(ctx: &Ctx<'_>, ns: &Namespace, coll: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let schema: Json = crate::json::parse("json-schema", &req.body)?;
    Schema::compile(&schema)?;
    ctx.catalog.collection_for_write(ctx.docs, ns, coll).await?;
    let result = ctx.docs.set_json_schema(ns, coll, Some(&schema)).await;
    ctx.catalog.forget_collection(ns, coll);
    result?;
    Ok(ApiResponse::json(200, json!({ "schema": schema })))
}
