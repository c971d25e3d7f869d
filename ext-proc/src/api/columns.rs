//! The columns and indexes schema API:
//! `/v2/schemas/keyspaces/{ks}/tables/{table}/columns[/{column}]` and `.../indexes[/{index}]`.

use super::{body, raw_or_data, Ctx};
use crate::change::Change;
use crate::engine::schema as ops;
use crate::error::ApiError;
use crate::http::{ApiRequest, ApiResponse};
use crate::model::{ColumnDef, Namespace, TableDef};
use serde::Deserialize;
use serde_json::{json, Value as Json};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ColumnBody {
    name: String,
    #[serde(default)]
    type_definition: Option<String>,
    #[serde(default, rename = "static")]
    is_static: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IndexBody {
    column: String,
    name: Option<String>,
    #[serde(default)]
    if_not_exists: bool,
    // Stargate options we accept but that SQL stores have no use for.
    #[serde(default, rename = "type")]
    #[allow(dead_code)]
    kind: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    kind_option: Option<String>,
}

fn column_json(c: &ColumnDef) -> Json {
    json!({ "name": c.name, "typeDefinition": c.ty.to_string(), "static": false })
}

async fn change(ctx: &Ctx<'_>, ns: &Namespace, table: &str, change: Change) -> Result<TableDef, ApiError> {
    Ok(ops::alter_table(ctx, ns, table, change).await?)
}

/// `GET .../columns`.
pub async fn list(ctx: &Ctx<'_>, ns: &Namespace, table: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let def = ops::table(ctx, ns, table).await?;
    raw_or_data(req, def.columns.iter().map(column_json).collect())
}

/// `GET .../columns/{column}`.
pub async fn get(
    ctx: &Ctx<'_>,
    ns: &Namespace,
    table: &str,
    column: &str,
    req: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let def = ops::table(ctx, ns, table).await?;
    let c = def.column(column).ok_or_else(|| ApiError::NotFound(format!("column '{column}' not found")))?;
    raw_or_data(req, column_json(c))
}

/// `POST .../columns`: `{"name", "typeDefinition"}`.
pub async fn add(ctx: &Ctx<'_>, ns: &Namespace, table: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let b: ColumnBody = body(req)?;
    if b.is_static {
        return Err(ApiError::BadRequest("static columns are not supported yet".to_owned()));
    }
    let type_text = b.type_definition.ok_or_else(|| ApiError::BadRequest("typeDefinition is required".to_owned()))?;
    ops::add_column(ctx, ns, table, &b.name, &type_text).await?;
    Ok(ApiResponse::json(201, json!({ "name": b.name })))
}

/// `PUT .../columns/{column}`: renames it to the body's `name`.
pub async fn rename(
    ctx: &Ctx<'_>,
    ns: &Namespace,
    table: &str,
    column: &str,
    req: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let b: ColumnBody = body(req)?;
    if b.name == column {
        return get(ctx, ns, table, column, req).await;
    }
    let def = change(ctx, ns, table, Change::RenameColumn { from: column.to_owned(), to: b.name.clone() }).await?;
    let c = def.column(&b.name).ok_or_else(|| ApiError::Internal("renamed column vanished".to_owned()))?;
    raw_or_data(req, column_json(c))
}

/// `DELETE .../columns/{column}`.
pub async fn drop(ctx: &Ctx<'_>, ns: &Namespace, table: &str, column: &str) -> Result<ApiResponse, ApiError> {
    change(ctx, ns, table, Change::DropColumn(column.to_owned())).await?;
    Ok(ApiResponse::no_content())
}

/// `GET .../indexes`.
pub async fn list_indexes(
    ctx: &Ctx<'_>,
    ns: &Namespace,
    table: &str,
    req: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let def = ops::table(ctx, ns, table).await?;
    let list: Vec<Json> = def
        .indexes
        .iter()
        .map(|i| json!({ "index_name": i.name, "name": i.name, "column": i.column, "kind": "COMPOSITES" }))
        .collect();
    raw_or_data(req, Json::Array(list))
}

/// `POST .../indexes`: `{"column", "name", "ifNotExists"}`.
pub async fn create_index(
    ctx: &Ctx<'_>,
    ns: &Namespace,
    table: &str,
    req: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let b: IndexBody = body(req)?;
    let (name, _) = ops::create_index(ctx, ns, table, &b.column, b.name.as_deref(), b.if_not_exists).await?;
    Ok(ApiResponse::json(201, json!({ "success": true, "name": name })))
}

/// `DELETE .../indexes/{index}`.
pub async fn drop_index(ctx: &Ctx<'_>, ns: &Namespace, table: &str, index: &str) -> Result<ApiResponse, ApiError> {
    change(ctx, ns, table, Change::DropIndex(index.to_owned())).await?;
    Ok(ApiResponse::no_content())
}
