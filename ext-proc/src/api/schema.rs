//! The schema API (`/v2/schemas/keyspaces/...`): keyspaces and tables.

use super::{body, raw_or_data, Ctx};
use crate::error::ApiError;
use crate::http::{ApiRequest, ApiResponse};
use crate::model::{
    check_column, check_ident, Clustering, ColumnDef, ColumnType, DataType, Namespace, Order, TableDef, MAX_COLUMNS,
};
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateTable {
    name: String,
    #[serde(default)]
    if_not_exists: bool,
    column_definitions: Vec<ColumnDefinition>,
    primary_key: PrimaryKey,
    #[serde(default)]
    table_options: Option<TableOptions>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ColumnDefinition {
    name: String,
    type_definition: String,
    #[serde(default, rename = "static")]
    is_static: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PrimaryKey {
    partition_key: Vec<String>,
    #[serde(default)]
    clustering_key: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TableOptions {
    #[serde(default)]
    default_time_to_live: Option<u32>,
    #[serde(default)]
    clustering_expression: Vec<ClusteringExpression>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusteringExpression {
    column: String,
    order: String,
}

/// Checks a keyspace name from a path or body.
pub fn namespace(tenant: &str, keyspace: &str) -> Result<Namespace, ApiError> {
    check_ident("keyspace", keyspace).map_err(ApiError::BadRequest)?;
    Ok(Namespace { tenant: tenant.to_owned(), keyspace: keyspace.to_owned() })
}

/// `POST /v2/schemas/keyspaces`.
pub async fn create_keyspace(ctx: &Ctx<'_>, tenant: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let create: CreateKeyspace = body(req)?;
    let ns = namespace(tenant, &create.name)?;
    ctx.store.create_keyspace(&ns).await?;
    Ok(ApiResponse::json(201, json!({ "name": ns.keyspace })))
}

/// `GET /v2/schemas/keyspaces`.
pub async fn list_keyspaces(ctx: &Ctx<'_>, tenant: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let names = ctx.store.keyspaces(tenant).await?;
    raw_or_data(req, names.into_iter().map(|n| json!({ "name": n })).collect())
}

/// `GET /v2/schemas/keyspaces/{ks}`.
pub async fn get_keyspace(ctx: &Ctx<'_>, ns: &Namespace, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    if !ctx.store.keyspaces(&ns.tenant).await?.contains(&ns.keyspace) {
        return Err(ApiError::NotFound(format!("keyspace '{}' not found", ns.keyspace)));
    }
    raw_or_data(req, json!({ "name": ns.keyspace }))
}

/// `DELETE /v2/schemas/keyspaces/{ks}`.
pub async fn drop_keyspace(ctx: &Ctx<'_>, ns: &Namespace) -> Result<ApiResponse, ApiError> {
    let result = ctx.store.drop_keyspace(ns).await;
    ctx.catalog.invalidate(ns);
    result?;
    Ok(ApiResponse::no_content())
}

/// `POST /v2/schemas/keyspaces/{ks}/tables`.
pub async fn create_table(ctx: &Ctx<'_>, ns: &Namespace, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let create: CreateTable = body(req)?;
    let if_not_exists = create.if_not_exists;
    let def = table_def(create)?;
    let result = ctx.store.create_table(ns, &def, if_not_exists).await;
    ctx.catalog.invalidate(ns);
    result?;
    Ok(ApiResponse::json(201, json!({ "name": def.name })))
}

/// `GET /v2/schemas/keyspaces/{ks}/tables`.
pub async fn list_tables(ctx: &Ctx<'_>, ns: &Namespace, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let tables = ctx.store.tables(ns).await?;
    raw_or_data(req, tables.iter().map(|t| table_json(ns, t)).collect())
}

/// `GET /v2/schemas/keyspaces/{ks}/tables/{table}`.
pub async fn get_table(ctx: &Ctx<'_>, ns: &Namespace, table: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let def = ctx.catalog.table(ctx.store, ns, table).await?;
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
    check_ident("table", table).map_err(ApiError::BadRequest)?;
    let alter: AlterTable = body(req)?;
    if alter.name.as_deref().is_some_and(|n| n != table) {
        return Err(ApiError::BadRequest(
            "name in the body must match the table in the path (tables cannot be renamed)".to_owned(),
        ));
    }
    let ttl = alter.table_options.default_time_to_live;
    if u64::from(ttl) > 630_720_000 {
        return Err(ApiError::BadRequest(
            "tableOptions.defaultTimeToLive: at most 630720000 seconds (20 years)".to_owned(),
        ));
    }
    let result = ctx.store.alter_table(ns, table, &crate::change::Change::SetDefaultTtl(Some(ttl))).await;
    ctx.catalog.invalidate(ns);
    let def = result?;
    raw_or_data(req, table_json(ns, &def))
}

/// `DELETE /v2/schemas/keyspaces/{ks}/tables/{table}`.
pub async fn drop_table(ctx: &Ctx<'_>, ns: &Namespace, table: &str) -> Result<ApiResponse, ApiError> {
    check_ident("table", table).map_err(ApiError::BadRequest)?;
    let result = ctx.store.drop_table(ns, table).await;
    ctx.catalog.invalidate(ns);
    result?;
    Ok(ApiResponse::no_content())
}

/// Validates a create-table body into a definition, listing every problem.
fn table_def(create: CreateTable) -> Result<TableDef, ApiError> {
    let mut errors = Vec::new();
    if let Err(e) = check_ident("table", &create.name) {
        errors.push(e);
    }
    if create.column_definitions.len() > MAX_COLUMNS {
        errors.push(format!(
            "columnDefinitions has {} columns, the limit is {MAX_COLUMNS}",
            create.column_definitions.len()
        ));
    }
    let mut columns: Vec<ColumnDef> = Vec::new();
    for (i, c) in create.column_definitions.iter().enumerate() {
        if let Err(e) = check_column(&c.name) {
            errors.push(e);
        }
        if create.column_definitions[..i].iter().any(|d| d.name == c.name) {
            errors.push(format!("column '{}' is defined twice", c.name));
        }
        if c.is_static {
            errors.push(format!("column '{}': static columns are not supported yet", c.name));
        }
        match DataType::parse(&c.type_definition) {
            Ok(ty) => columns.push(ColumnDef { name: c.name.clone(), ty }),
            Err(e) => errors.push(format!("column '{}': {e}", c.name)),
        }
    }
    let pk = &create.primary_key;
    if pk.partition_key.is_empty() {
        errors.push("primaryKey.partitionKey must name at least one column".to_owned());
    }
    let mut seen: Vec<&String> = Vec::new();
    for name in pk.partition_key.iter().chain(&pk.clustering_key) {
        match columns.iter().find(|c| &c.name == name) {
            None if !create.column_definitions.iter().any(|c| &c.name == name) => {
                errors.push(format!("primary-key column '{name}' is not in columnDefinitions"))
            }
            Some(c) if c.ty.scalar().is_none() => {
                errors.push(format!("primary-key column '{name}' cannot be a collection ({})", c.ty))
            }
            _ => {}
        }
        if seen.contains(&name) {
            errors.push(format!("column '{name}' appears twice in primaryKey"));
        }
        seen.push(name);
    }
    let counters = columns.iter().filter(|c| c.ty == DataType::Scalar(ColumnType::Counter)).count();
    let keys: Vec<&String> = pk.partition_key.iter().chain(&pk.clustering_key).collect();
    if counters > 0 {
        if columns.iter().any(|c| keys.contains(&&c.name) && c.ty == DataType::Scalar(ColumnType::Counter)) {
            errors.push("a counter column cannot be part of the primary key".to_owned());
        }
        if columns.iter().any(|c| !keys.contains(&&c.name) && c.ty != DataType::Scalar(ColumnType::Counter)) {
            errors
                .push("a table with counters holds only counters besides its primary key (Cassandra rule)".to_owned());
        }
        if create.table_options.as_ref().is_some_and(|o| o.default_time_to_live.unwrap_or(0) > 0) {
            errors.push("counter tables cannot have a defaultTimeToLive".to_owned());
        }
    }
    let options =
        create.table_options.unwrap_or(TableOptions { default_time_to_live: None, clustering_expression: Vec::new() });
    if options.default_time_to_live.is_some_and(|t| u64::from(t) > 630_720_000) {
        errors.push("tableOptions.defaultTimeToLive: at most 630720000 seconds (20 years)".to_owned());
    }
    let mut clustering: Vec<Clustering> =
        pk.clustering_key.iter().map(|c| Clustering { column: c.clone(), order: Order::Asc }).collect();
    for e in &options.clustering_expression {
        let order = match e.order.to_ascii_uppercase().as_str() {
            "ASC" => Order::Asc,
            "DESC" => Order::Desc,
            other => {
                errors
                    .push(format!("clusteringExpression order for '{}' must be ASC or DESC, got '{other}'", e.column));
                continue;
            }
        };
        match clustering.iter_mut().find(|c| c.column == e.column) {
            Some(c) => c.order = order,
            None => errors.push(format!("clusteringExpression names '{}', which is not a clustering column", e.column)),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::BadRequest(format!("invalid table definition: {}", errors.join("; "))));
    }
    Ok(TableDef {
        name: create.name,
        columns,
        partition_key: pk.partition_key.clone(),
        clustering,
        expiry: true,
        default_ttl: options.default_time_to_live.filter(|t| *t > 0),
        indexes: Vec::new(),
        index_names_v2: true,
        version: crate::model::new_version(),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TableDef, ApiError> {
        let req = ApiRequest { body: text.as_bytes().to_vec(), ..ApiRequest::default() };
        table_def(body(&req)?)
    }

    #[test]
    fn contract_example_parses() {
        let def = parse(
            r#"{"name": "vehicle", "ifNotExists": true,
               "columnDefinitions": [{"name":"manufacturer","typeDefinition":"text"},{"name":"model","typeDefinition":"text"},{"name":"year","typeDefinition":"int"}],
               "primaryKey": {"partitionKey": ["manufacturer"], "clusteringKey": ["model"]},
               "tableOptions": {"defaultTimeToLive": 0, "clusteringExpression": [{"column":"model","order":"DESC"}]}}"#,
        )
        .unwrap();
        assert_eq!(def.partition_key, ["manufacturer"]);
        assert_eq!(def.clustering, [Clustering { column: "model".into(), order: Order::Desc }]);
    }

    #[test]
    fn every_problem_is_listed() {
        let err = parse(
            r#"{"name": "bad-name", "columnDefinitions": [{"name":"a","typeDefinition":"blobby"},{"name":"a","typeDefinition":"int"}],
               "primaryKey": {"partitionKey": ["zz"]}}"#,
        )
        .unwrap_err()
        .to_string();
        for part in ["bad-name", "blobby", "defined twice", "'zz' is not in columnDefinitions"] {
            assert!(err.contains(part), "{part} missing from {err}");
        }
    }

    #[test]
    fn unknown_fields_are_400() {
        let err =
            parse(r#"{"name":"t","columnDefinitions":[],"primaryKey":{"partitionKey":[]},"colour":1}"#).unwrap_err();
        assert!(err.to_string().contains("colour"));
    }
}
