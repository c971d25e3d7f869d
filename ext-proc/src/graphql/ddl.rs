//! `/graphql-schema`: keyspaces and tables through GraphQL. Each mutation is
//! the engine's schema operation REST also runs, so validation and errors are
//! shared.

use super::data::fault;
use crate::engine::schema::{self as ops, ClusteringExpression, ColumnDefinition, PrimaryKey, TableOptions, TableSpec};
use crate::engine::{namespace, Engine};
use crate::fault::Fault;
use crate::model::{Namespace, TableDef};
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, Schema, SchemaError, TypeRef,
};
use serde_json::{json, Value as Json};

/// What DDL resolvers need.
pub struct DdlCtx {
    /// Store, catalog and limits.
    pub engine: Engine,
    /// The caller's tenant.
    pub tenant: String,
}

fn ns(d: &DdlCtx, ks: &str) -> Result<Namespace, async_graphql::Error> {
    namespace(&d.tenant, ks).map_err(fault)
}

/// Which refusal an `ifNotExists`/`ifExists` flag turns into "nothing to do".
#[derive(Clone, Copy)]
enum Fine {
    /// The thing being created is already there.
    AlreadyThere,
    /// The thing being dropped is not there.
    NotThere,
}

/// `Ok(false)` for "already there"/"not there" when the caller said that is
/// fine; decided by the kind of refusal.
fn tolerate<T>(r: Result<T, Fault>, fine: Fine, flag: bool) -> Result<bool, async_graphql::Error> {
    match (r, fine) {
        (Ok(_), _) => Ok(true),
        (Err(Fault::Conflict(_)), Fine::AlreadyThere) | (Err(Fault::NotFound(_)), Fine::NotThere) if flag => Ok(false),
        (Err(e), _) => Err(fault(e)),
    }
}

/// One column argument: name, CQL type, clustering order.
struct Column {
    name: String,
    ty: String,
    order: Option<String>,
}

fn columns(list: Option<async_graphql::dynamic::ValueAccessor<'_>>) -> Result<Vec<Column>, async_graphql::Error> {
    let Some(list) = list else { return Ok(Vec::new()) };
    list.list()?
        .iter()
        .map(|c| {
            let o = c.object()?;
            Ok(Column {
                name: o.try_get("name")?.string()?.to_owned(),
                ty: o.try_get("type")?.string()?.to_owned(),
                order: o.get("order").map(|v| v.string().map(str::to_owned)).transpose()?,
            })
        })
        .collect()
}

fn flag(ctx: &ResolverContext<'_>, name: &str) -> bool {
    ctx.args.get(name).and_then(|v| v.boolean().ok()).unwrap_or(false)
}

fn s<'a>(ctx: &'a ResolverContext<'_>, name: &str) -> Result<&'a str, async_graphql::Error> {
    ctx.args.try_get(name)?.string()
}

/// The `createTable` arguments as the engine's table spec.
fn table_spec(ctx: &ResolverContext<'_>) -> Result<TableSpec, async_graphql::Error> {
    let partition = columns(ctx.args.get("partitionKeys"))?;
    let clustering = columns(ctx.args.get("clusteringKeys"))?;
    let values = columns(ctx.args.get("values"))?;
    let column_definitions = partition
        .iter()
        .chain(&clustering)
        .chain(&values)
        .map(|c| ColumnDefinition { name: c.name.clone(), type_definition: c.ty.clone(), is_static: false })
        .collect();
    let clustering_expression = clustering
        .iter()
        .map(|c| ClusteringExpression { column: c.name.clone(), order: c.order.clone().unwrap_or("ASC".to_owned()) })
        .collect();
    Ok(TableSpec {
        name: s(ctx, "tableName")?.to_owned(),
        if_not_exists: flag(ctx, "ifNotExists"),
        column_definitions,
        primary_key: PrimaryKey {
            partition_key: partition.iter().map(|c| c.name.clone()).collect(),
            clustering_key: clustering.iter().map(|c| c.name.clone()).collect(),
        },
        table_options: Some(TableOptions { default_time_to_live: None, clustering_expression }),
    })
}

async fn mutate(op: &str, ctx: &ResolverContext<'_>) -> Result<bool, async_graphql::Error> {
    let d = ctx.data::<DdlCtx>()?;
    let c = d.engine.ctx();
    match op {
        "createKeyspace" => {
            let r = ops::create_keyspace(&c, &ns(d, s(ctx, "name")?)?).await;
            tolerate(r, Fine::AlreadyThere, flag(ctx, "ifNotExists"))
        }
        "dropKeyspace" => {
            tolerate(ops::drop_keyspace(&c, &ns(d, s(ctx, "name")?)?).await, Fine::NotThere, flag(ctx, "ifExists"))
        }
        "createTable" => {
            let spec = table_spec(ctx)?;
            let r = ops::create_table(&c, &ns(d, s(ctx, "keyspaceName")?)?, spec).await;
            tolerate(r, Fine::AlreadyThere, flag(ctx, "ifNotExists"))
        }
        "alterTableAdd" => {
            let ns = ns(d, s(ctx, "keyspaceName")?)?;
            let table = s(ctx, "tableName")?;
            let mut changes = Vec::new();
            for col in columns(ctx.args.get("toAdd"))? {
                let ty = crate::model::DataType::parse(&col.ty).map_err(|e| fault(Fault::Invalid(e)))?;
                changes.push(crate::change::Change::AddColumn(crate::model::ColumnDef { name: col.name, ty }));
            }
            ops::alter_table_all(&c, &ns, table, changes).await.map_err(fault)?;
            Ok(true)
        }
        "alterTableDrop" => {
            let ns = ns(d, s(ctx, "keyspaceName")?)?;
            let table = s(ctx, "tableName")?;
            let mut changes = Vec::new();
            for col in ctx.args.try_get("toDrop")?.list()?.iter() {
                changes.push(crate::change::Change::DropColumn(col.string()?.to_owned()));
            }
            ops::alter_table_all(&c, &ns, table, changes).await.map_err(fault)?;
            Ok(true)
        }
        "createIndex" => {
            let ns = ns(d, s(ctx, "keyspaceName")?)?;
            let name = ctx.args.get("indexName").map(|n| n.string()).transpose()?;
            let if_not_exists = flag(ctx, "ifNotExists");
            let r = ops::create_index(&c, &ns, s(ctx, "tableName")?, s(ctx, "columnName")?, name, if_not_exists).await;
            tolerate(r, Fine::AlreadyThere, if_not_exists)
        }
        "dropIndex" => {
            let ns = ns(d, s(ctx, "keyspaceName")?)?;
            let index = s(ctx, "indexName")?;
            match ops::index_table(&c, &ns, index).await.map_err(fault)? {
                Some(t) => {
                    let drop = crate::change::Change::DropIndex(index.to_owned());
                    ops::alter_table(&c, &ns, &t, drop).await.map(|_| true).map_err(fault)
                }
                None if flag(ctx, "ifExists") => Ok(false),
                None => Err(fault(Fault::NotFound(format!("index '{index}' not found")))),
            }
        }
        "dropTable" => {
            let ns = ns(d, s(ctx, "keyspaceName")?)?;
            tolerate(ops::drop_table(&c, &ns, s(ctx, "tableName")?).await, Fine::NotThere, flag(ctx, "ifExists"))
        }
        other => Err(async_graphql::Error::new(format!("unknown operation {other}"))),
    }
}

fn table_json(t: &TableDef) -> Json {
    json!({
        "name": t.name,
        "columns": t.columns.iter().map(|c| json!({
            "name": c.name, "type": c.ty.to_string(),
            "kind": if t.partition_key.contains(&c.name) { "PARTITION" }
                    else if t.clustering.iter().any(|k| k.column == c.name) { "CLUSTERING" } else { "REGULAR" },
        })).collect::<Vec<_>>(),
        "partitionKeys": t.partition_key,
        "clusteringKeys": t.clustering.iter().map(|k| k.column.clone()).collect::<Vec<_>>(),
    })
}

async fn keyspace_json(d: &DdlCtx, name: &str) -> Result<Json, async_graphql::Error> {
    let tables = ops::tables(&d.engine.ctx(), &ns(d, name)?).await.map_err(fault)?;
    Ok(json!({ "name": name, "tables": tables.iter().map(table_json).collect::<Vec<_>>() }))
}

fn obj_list(v: Option<&Json>) -> Option<FieldValue<'static>> {
    let items = v?.as_array()?.clone();
    Some(FieldValue::list(items.into_iter().map(FieldValue::owned_any)))
}

fn string_field(name: &'static str) -> Field {
    Field::new(name, TypeRef::named_nn(TypeRef::STRING), move |ctx| {
        FieldFuture::new(async move {
            let p = ctx.parent_value.try_downcast_ref::<Json>()?;
            Ok(p.get(name).and_then(Json::as_str).map(|s| FieldValue::value(s.to_owned())))
        })
    })
}

fn strings_field(name: &'static str) -> Field {
    Field::new(name, TypeRef::named_nn_list_nn(TypeRef::STRING), move |ctx| {
        FieldFuture::new(async move {
            let p = ctx.parent_value.try_downcast_ref::<Json>()?;
            let items: Vec<async_graphql::Value> = p
                .get(name)
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str())
                .map(|s| s.to_owned().into())
                .collect();
            Ok(Some(FieldValue::value(async_graphql::Value::List(items))))
        })
    })
}

fn objects_field(name: &'static str, ty: &str) -> Field {
    Field::new(name, TypeRef::named_nn_list_nn(ty), move |ctx| {
        FieldFuture::new(async move { Ok(obj_list(ctx.parent_value.try_downcast_ref::<Json>()?.get(name))) })
    })
}

/// Builds the DDL schema (the same for every tenant; resolvers scope by tenant).
pub fn build() -> Result<Schema, SchemaError> {
    let column =
        Object::new("Column").field(string_field("name")).field(string_field("type")).field(string_field("kind"));
    let table = Object::new("Table")
        .field(string_field("name"))
        .field(objects_field("columns", "Column"))
        .field(strings_field("partitionKeys"))
        .field(strings_field("clusteringKeys"));
    let keyspace = Object::new("Keyspace").field(string_field("name")).field(objects_field("tables", "Table"));
    let query = Object::new("Query")
        .field(Field::new("keyspaces", TypeRef::named_nn_list_nn("Keyspace"), |ctx| {
            FieldFuture::new(async move {
                let d = ctx.data::<DdlCtx>()?;
                let names = ops::keyspaces(&d.engine.ctx(), &d.tenant).await.map_err(fault)?;
                let mut all = Vec::new();
                for n in names {
                    all.push(keyspace_json(d, &n).await?);
                }
                Ok(obj_list(Some(&Json::Array(all))))
            })
        }))
        .field(
            Field::new("keyspace", TypeRef::named("Keyspace"), |ctx| {
                FieldFuture::new(async move {
                    let d = ctx.data::<DdlCtx>()?;
                    let name = ctx.args.try_get("name")?.string()?;
                    match keyspace_json(d, name).await {
                        Ok(k) => Ok(Some(FieldValue::owned_any(k))),
                        Err(e) if e.message.contains("not found") => Ok(None),
                        Err(e) => Err(e),
                    }
                })
            })
            .argument(InputValue::new("name", TypeRef::named_nn(TypeRef::STRING))),
        );
    let s = |n: &str| InputValue::new(n, TypeRef::named_nn(TypeRef::STRING));
    let b = |n: &str| InputValue::new(n, TypeRef::named(TypeRef::BOOLEAN));
    let cols = |n: &str, nn: bool| {
        InputValue::new(
            n,
            if nn { TypeRef::named_nn_list_nn("ColumnInput") } else { TypeRef::named_nn_list("ColumnInput") },
        )
    };
    let ops: Vec<(&str, Vec<InputValue>)> = vec![
        ("createKeyspace", vec![s("name"), b("ifNotExists")]),
        ("dropKeyspace", vec![s("name"), b("ifExists")]),
        (
            "createTable",
            vec![
                s("keyspaceName"),
                s("tableName"),
                cols("partitionKeys", true),
                InputValue::new("clusteringKeys", TypeRef::named_nn_list("ClusteringKeyInput")),
                cols("values", false),
                b("ifNotExists"),
            ],
        ),
        ("alterTableAdd", vec![s("keyspaceName"), s("tableName"), cols("toAdd", true)]),
        (
            "alterTableDrop",
            vec![
                s("keyspaceName"),
                s("tableName"),
                InputValue::new("toDrop", TypeRef::named_nn_list_nn(TypeRef::STRING)),
            ],
        ),
        (
            "createIndex",
            vec![
                s("keyspaceName"),
                s("tableName"),
                s("columnName"),
                InputValue::new("indexName", TypeRef::named(TypeRef::STRING)),
                b("ifNotExists"),
            ],
        ),
        ("dropIndex", vec![s("keyspaceName"), s("indexName"), b("ifExists")]),
        ("dropTable", vec![s("keyspaceName"), s("tableName"), b("ifExists")]),
    ];
    let mut mutation = Object::new("Mutation");
    for (op, args) in ops {
        let field = Field::new(op, TypeRef::named_nn(TypeRef::BOOLEAN), move |ctx| {
            FieldFuture::new(async move { Ok(Some(FieldValue::value(mutate(op, &ctx).await?))) })
        });
        mutation = mutation.field(args.into_iter().fold(field, |f, a| f.argument(a)));
    }
    Schema::build("Query", Some("Mutation"), None)
        .register(
            InputObject::new("ColumnInput")
                .description("A column: name and CQL type, e.g. {name: \"tags\", type: \"set<text>\"}")
                .field(s("name"))
                .field(s("type")),
        )
        .register(
            InputObject::new("ClusteringKeyInput")
                .field(s("name"))
                .field(s("type"))
                .field(InputValue::new("order", TypeRef::named(TypeRef::STRING))),
        )
        .register(column)
        .register(table)
        .register(keyspace)
        .register(query)
        .register(mutation)
        .limit_depth(16)
        .limit_complexity(2000)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_tolerates_only_its_own_refusal() {
        let exists = || Err::<(), _>(Fault::Conflict("keyspace 'k' already exists".into()));
        let missing = || Err::<(), _>(Fault::NotFound("keyspace 'k' not found".into()));
        assert!(tolerate(Ok(()), Fine::AlreadyThere, true).unwrap());
        assert!(!tolerate(exists(), Fine::AlreadyThere, true).unwrap());
        assert!(!tolerate(missing(), Fine::NotThere, true).unwrap());
        // Without the flag, or for the other refusal, the error stands.
        assert!(tolerate(exists(), Fine::AlreadyThere, false).is_err());
        assert!(tolerate(missing(), Fine::AlreadyThere, true).is_err());
        assert!(tolerate(exists(), Fine::NotThere, true).is_err());
    }
}
