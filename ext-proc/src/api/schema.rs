//! The schema API (`/v2/schemas/keyspaces/...`): keyspaces and tables.

use super::{body, raw_or_data, Ctx};
use crate::engine::namespace;
use crate::engine::schema::{self as ops, TableSpec};
use crate::error::ApiError;
use crate::http::{ApiRequest, ApiResponse};
use crate::model::{Namespace, Order, TableDef};
use serde::Deserialize;
use serde_json::{json, Value as Json};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateKeyspace {
    name: String,
    // Accepted for Stargate compatibility; SQL stores have no replication to set.
    #[serde(default)]
    #[allow(dead_code)]
    replicas: Option<u32>,
    #[serde(default)]
    #[allow(dead_code)]
    datacenters: Option<Json>,
}

/// `POST /v2/schemas/keyspaces`.
pub async fn create_keyspace(ctx: &Ctx<'_>, tenant: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let create: CreateKeyspace = body(req)?;
    let ns = namespace(tenant, &create.name)?;
    ops::create_keyspace(ctx, &ns).await?;
    Ok(ApiResponse::json(201, json!({ "name": ns.keyspace })))
}

/// `GET /v2/schemas/keyspaces`.
pub async fn list_keyspaces(ctx: &Ctx<'_>, tenant: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let names = ops::keyspaces(ctx, tenant).await?;
    raw_or_data(req, names.into_iter().map(|n| json!({ "name": n })).collect())
}

/// `GET /v2/schemas/keyspaces/{ks}`.
pub async fn get_keyspace(ctx: &Ctx<'_>, ns: &Namespace, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    if !ops::has_keyspace(ctx, ns).await? {
        return Err(ApiError::NotFound(format!("keyspace '{}' not found", ns.keyspace)));
    }
    raw_or_data(req, json!({ "name": ns.keyspace }))
}

/// `DELETE /v2/schemas/keyspaces/{ks}`.
pub async fn drop_keyspace(ctx: &Ctx<'_>, ns: &Namespace) -> Result<ApiResponse, ApiError> {
    ops::drop_keyspace(ctx, ns).await?;
    Ok(ApiResponse::no_content())
}

/// `POST /v2/schemas/keyspaces/{ks}/tables`.
pub async fn create_table(ctx: &Ctx<'_>, ns: &Namespace, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let spec: TableSpec = body(req)?;
    let (def, _) = ops::create_table(ctx, ns, spec).await?;
    Ok(ApiResponse::json(201, json!({ "name": def.name })))
}

/// `GET /v2/schemas/keyspaces/{ks}/tables`.
pub async fn list_tables(ctx: &Ctx<'_>, ns: &Namespace, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let tables = ops::tables(ctx, ns).await?;
    raw_or_data(req, tables.iter().map(|t| table_json(ns, t)).collect())
}

/// `GET /v2/schemas/keyspaces/{ks}/tables/{table}`.
pub async fn get_table(ctx: &Ctx<'_>, ns: &Namespace, table: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let def = ops::table(ctx, ns, table).await?;
    raw_or_data(req, table_json(ns, &def))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AlterTable {
    // Stargate's body repeats the table name; when given it must match the path.
    #[serde(default)]
    name: Option<String>,
    table_options: AlterOptions,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AlterOptions {
    default_time_to_live: u32,
}

/// `PUT /v2/schemas/keyspaces/{ks}/tables/{table}`: table options (`defaultTimeToLive`).
pub async fn alter_table(
    ctx: &Ctx<'_>,
    ns: &Namespace,
    table: &str,
    req: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let alter: AlterTable = body(req)?;
    if alter.name.as_deref().is_some_and(|n| n != table) {
        return Err(ApiError::BadRequest(
            "name in the body must match the table in the path (tables cannot be renamed)".to_owned(),
        ));
    }
    let def = ops::set_default_ttl(ctx, ns, table, alter.table_options.default_time_to_live).await?;
    raw_or_data(req, table_json(ns, &def))
}

/// `DELETE /v2/schemas/keyspaces/{ks}/tables/{table}`.
pub async fn drop_table(ctx: &Ctx<'_>, ns: &Namespace, table: &str) -> Result<ApiResponse, ApiError> {
    ops::drop_table(ctx, ns, table).await?;
    Ok(ApiResponse::no_content())
}

/// A table in the Stargate schema shape.
fn table_json(ns: &Namespace, def: &TableDef) -> Json {
    let order = |o: Order| if o == Order::Asc { "ASC" } else { "DESC" };
    json!({
        "name": def.name,
        "keyspace": ns.keyspace,
        "columnDefinitions": def.columns.iter().map(|c| json!({
            "name": c.name, "typeDefinition": c.ty.to_string(), "static": false
        })).collect::<Vec<_>>(),
        "primaryKey": {
            "partitionKey": def.partition_key,
            "clusteringKey": def.clustering.iter().map(|c| &c.column).collect::<Vec<_>>(),
        },
        "tableOptions": {
            "defaultTimeToLive": def.default_ttl.unwrap_or(0),
            "clusteringExpression": def.clustering.iter().map(|c| json!({
                "column": c.column, "order": order(c.order)
            })).collect::<Vec<_>>(),
        }
    })
}
