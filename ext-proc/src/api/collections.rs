//! Collections of a namespace (`/v2/namespaces/{ns}/collections`) and their
//! JSON Schemas. Namespaces themselves are keyspaces (see `schema.rs`).

use super::{body, raw_or_data, Ctx};
use crate::engine::collections as ops;
use crate::error::ApiError;
use crate::http::{ApiRequest, ApiResponse};
use crate::model::Namespace;
use serde::Deserialize;
use serde_json::{json, Value as Json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateCollection {
    name: String,
}

/// `GET /v2/namespaces/{ns}/collections`.
pub async fn list(ctx: &Ctx<'_>, ns: &Namespace, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let all = ops::list(ctx, ns).await?;
    raw_or_data(
        req,
        all.into_iter().map(|c| json!({ "name": c.name, "hasJsonSchema": c.json_schema.is_some() })).collect(),
    )
}

/// `POST /v2/namespaces/{ns}/collections`.
pub async fn create(ctx: &Ctx<'_>, ns: &Namespace, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let c: CreateCollection = body(req)?;
    ops::create(ctx, ns, &c.name).await?;
    Ok(ApiResponse::json(201, json!({ "name": c.name })))
}

/// `DELETE /v2/namespaces/{ns}/collections/{coll}`.
pub async fn drop(ctx: &Ctx<'_>, ns: &Namespace, coll: &str) -> Result<ApiResponse, ApiError> {
    ops::drop(ctx, ns, coll).await?;
    Ok(ApiResponse::no_content())
}

/// `GET .../collections/{coll}/json-schema`.
pub async fn get_schema(ctx: &Ctx<'_>, ns: &Namespace, coll: &str) -> Result<ApiResponse, ApiError> {
    let schema = ops::schema(ctx, ns, coll).await?;
    Ok(ApiResponse::json(200, json!({ "schema": schema })))
}

/// `PUT .../collections/{coll}/json-schema`: the body is the schema. Existing
/// documents are not re-checked; every write from now on is.
pub async fn put_schema(ctx: &Ctx<'_>, ns: &Namespace, coll: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let schema: Json = crate::json::parse("json-schema", &req.body)?;
    ops::set_schema(ctx, ns, coll, &schema).await?;
    Ok(ApiResponse::json(200, json!({ "schema": schema })))
}
