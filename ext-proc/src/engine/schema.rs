//! Schema operations: keyspaces, tables, columns and indexes. The engine
//! validates definitions (listing every problem at once), runs the change and
//! drops what the catalog cached for the keyspace, whichever API asked.

use super::{Ctx, MAX_TTL_SECONDS};
use crate::change::Change;
use crate::fault::Fault;
use crate::model::{
    check_column, check_ident, Clustering, ColumnDef, ColumnType, DataType, IndexDef, Namespace, Order, TableDef,
    MAX_COLUMNS,
};
use crate::store::StoreError;
use serde::Deserialize;

/// A table to create, as REST's body and GraphQL's arguments give it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TableSpec {
    /// The table's name.
    pub name: String,
    /// An existing table is fine (nothing is created).
    #[serde(default)]
    pub if_not_exists: bool,
    /// Every column, key columns included.
    pub column_definitions: Vec<ColumnDefinition>,
    /// Partition and clustering columns.
    pub primary_key: PrimaryKey,
    /// Default TTL and clustering order.
    #[serde(default)]
    pub table_options: Option<TableOptions>,
}

/// One column of a [`TableSpec`].
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ColumnDefinition {
    /// The column's name.
    pub name: String,
    /// Its CQL type, e.g. `map<text,int>`.
    pub type_definition: String,
    /// Static columns are refused (not supported yet).
    #[serde(default, rename = "static")]
    pub is_static: bool,
}

/// The key of a [`TableSpec`].
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrimaryKey {
    /// Partition columns, in order.
    pub partition_key: Vec<String>,
    /// Clustering columns, in order.
    #[serde(default)]
    pub clustering_key: Vec<String>,
}

/// Options of a [`TableSpec`].
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TableOptions {
    /// Seconds rows live unless a write says otherwise (0: for ever).
    #[serde(default)]
    pub default_time_to_live: Option<u32>,
    /// Clustering columns' directions.
    #[serde(default)]
    pub clustering_expression: Vec<ClusteringExpression>,
}

/// One clustering column's order.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusteringExpression {
    /// A clustering column.
    pub column: String,
    /// `ASC` or `DESC`.
    pub order: String,
}

/// The tenant's keyspace names, sorted.
pub async fn keyspaces(ctx: &Ctx<'_>, tenant: &str) -> Result<Vec<String>, Fault> {
    Ok(ctx.store.keyspaces(tenant).await?)
}

/// Every table of a keyspace, sorted by name.
pub async fn tables(ctx: &Ctx<'_>, ns: &Namespace) -> Result<Vec<TableDef>, Fault> {
    Ok(ctx.store.tables(ns).await?)
}

/// One table's definition (from the catalog).
pub async fn table(ctx: &Ctx<'_>, ns: &Namespace, name: &str) -> Result<std::sync::Arc<TableDef>, Fault> {
    ctx.catalog.table(ctx.store, ns, name).await
}

/// Creates a keyspace; `Conflict` when the tenant has it.
pub async fn create_keyspace(ctx: &Ctx<'_>, ns: &Namespace) -> Result<(), Fault> {
    Ok(ctx.store.create_keyspace(ns).await?)
}

/// Whether the tenant has this keyspace.
pub async fn has_keyspace(ctx: &Ctx<'_>, ns: &Namespace) -> Result<bool, Fault> {
    Ok(ctx.store.keyspaces(&ns.tenant).await?.contains(&ns.keyspace))
}

/// Drops a keyspace and everything in it.
pub async fn drop_keyspace(ctx: &Ctx<'_>, ns: &Namespace) -> Result<(), Fault> {
    let result = ctx.store.drop_keyspace(ns).await;
    ctx.catalog.invalidate(ns);
    Ok(result?)
}

/// Creates a table; returns its definition and whether it was created
/// (false: it existed and the spec said `ifNotExists`).
pub async fn create_table(ctx: &Ctx<'_>, ns: &Namespace, spec: TableSpec) -> Result<(TableDef, bool), Fault> {
    let if_not_exists = spec.if_not_exists;
    let def = table_def(spec)?;
    let result = ctx.store.create_table(ns, &def, if_not_exists).await;
    ctx.catalog.invalidate(ns);
    let created = result?;
    Ok((def, created))
}

/// Drops a table.
pub async fn drop_table(ctx: &Ctx<'_>, ns: &Namespace, table: &str) -> Result<(), Fault> {
    check_ident("table", table).map_err(Fault::Invalid)?;
    let result = ctx.store.drop_table(ns, table).await;
    ctx.catalog.invalidate(ns);
    Ok(result?)
}

/// Changes a table's shape or options; returns the new definition.
pub async fn alter_table(ctx: &Ctx<'_>, ns: &Namespace, table: &str, change: Change) -> Result<TableDef, Fault> {
    check_ident("table", table).map_err(Fault::Invalid)?;
    let result = ctx.store.alter_table(ns, table, &change).await;
    ctx.catalog.invalidate(ns);
    Ok(result?)
}

/// Applies several changes to a table, checked together first against its
/// current definition (the store takes one change per transaction): a list
/// with a bad entry is refused whole instead of half applied.
pub async fn alter_table_all(ctx: &Ctx<'_>, ns: &Namespace, table: &str, changes: Vec<Change>) -> Result<(), Fault> {
    // Fresh, not cached: the check is only as good as the definition it runs on.
    ctx.catalog.invalidate(ns);
    let mut def = (*ctx.catalog.table(ctx.store, ns, table).await?).clone();
    for change in &changes {
        def = crate::change::apply(&def, change).map_err(|r| Fault::from(StoreError::from(r)))?;
    }
    for change in changes {
        alter_table(ctx, ns, table, change).await?;
    }
    Ok(())
}

/// Sets a table's default TTL in seconds (0: none).
pub async fn set_default_ttl(ctx: &Ctx<'_>, ns: &Namespace, table: &str, ttl: u32) -> Result<TableDef, Fault> {
    if u64::from(ttl) > MAX_TTL_SECONDS {
        return Err(Fault::Invalid(format!(
            "tableOptions.defaultTimeToLive: at most {MAX_TTL_SECONDS} seconds (20 years)"
        )));
    }
    alter_table(ctx, ns, table, Change::SetDefaultTtl(Some(ttl))).await
}

/// Adds a column of the type `type_text` names (CQL syntax, e.g. `map<text,int>`).
pub async fn add_column(ctx: &Ctx<'_>, ns: &Namespace, table: &str, name: &str, type_text: &str) -> Result<(), Fault> {
    let ty = DataType::parse(type_text).map_err(Fault::Invalid)?;
    alter_table(ctx, ns, table, Change::AddColumn(ColumnDef { name: name.to_owned(), ty })).await.map(|_| ())
}

/// Creates an index on `column` (named `{table}_{column}_idx` unless `name`
/// is given); returns its name and whether it was created (false: it existed
/// and `if_not_exists` was set).
pub async fn create_index(
    ctx: &Ctx<'_>,
    ns: &Namespace,
    table: &str,
    column: &str,
    name: Option<&str>,
    if_not_exists: bool,
) -> Result<(String, bool), Fault> {
    let name = name.map_or_else(|| format!("{table}_{column}_idx"), str::to_owned);
    let index = IndexDef { name: name.clone(), column: column.to_owned() };
    match alter_table(ctx, ns, table, Change::CreateIndex(index)).await {
        Ok(_) => Ok((name, true)),
        Err(Fault::Conflict(_)) if if_not_exists => Ok((name, false)),
        Err(e) => Err(e),
    }
}

/// The table an index belongs to: index names are unique per keyspace, as in Cassandra.
pub async fn index_table(ctx: &Ctx<'_>, ns: &Namespace, index: &str) -> Result<Option<String>, Fault> {
    let tables = ctx.store.tables(ns).await?;
    Ok(tables.into_iter().find(|t| t.indexes.iter().any(|i| i.name == index)).map(|t| t.name))
}

/// Validates a create-table body into a definition, listing every problem.
pub fn table_def(create: TableSpec) -> Result<TableDef, Fault> {
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
            errors.push(crate::model::COUNTERS_ALONE.to_owned());
        }
        if create.table_options.as_ref().is_some_and(|o| o.default_time_to_live.unwrap_or(0) > 0) {
            errors.push(crate::model::COUNTERS_NO_TTL.to_owned());
        }
    }
    let options =
        create.table_options.unwrap_or(TableOptions { default_time_to_live: None, clustering_expression: Vec::new() });
    if options.default_time_to_live.is_some_and(|t| u64::from(t) > MAX_TTL_SECONDS) {
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
        return Err(Fault::Invalid(format!("invalid table definition: {}", errors.join("; "))));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TableDef, String> {
        let spec: TableSpec = serde_json::from_str(text).map_err(|e| e.to_string())?;
        table_def(spec).map_err(|e| e.to_string())
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
