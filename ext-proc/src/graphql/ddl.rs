//! `/graphql-schema`: keyspaces and tables through GraphQL. Each mutation is
//! the matching REST schema call, so validation and errors are shared.

use super::data::gql_error;
use crate::api::{columns, schema};
use crate::engine::Engine;
use crate::error::ApiError;
use crate::http::{ApiRequest, ApiResponse};
use crate::model::{Namespace, TableDef};
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, Schema, SchemaError, TypeRef,
};
use serde_json::{json, Value as Json};

/// What DDL resolvers need.
pub struct DdlCtx {
    /// Store, catalog and limits.
    pub env: Engine,
    /// The caller's tenant.
    pub tenant: String,
}

fn body_req(tenant: &str, body: Json) -> ApiRequest {
    ApiRequest {
        method: "POST".to_owned(),
        path: String::new(),
        query: Vec::new(),
        tenant: Some(tenant.to_owned()),
        content_type: None,
        body: body.to_string().into_bytes(),
        request_id: None,
        ..ApiRequest::default()
    }
}

fn ns(d: &DdlCtx, ks: &str) -> Result<Namespace, async_graphql::Error> {
    schema::namespace(&d.tenant, ks).map_err(gql_error)
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
/// fine; decided by the kind of error, not by the HTTP status it would get.
fn tolerate(r: Result<ApiResponse, ApiError>, fine: Fine, flag: bool) -> Result<bool, async_graphql::Error> {
    match (r, fine) {
        (Ok(_), _) => Ok(true),
        (Err(ApiError::Conflict(_)), Fine::AlreadyThere) | (Err(ApiError::NotFound(_)), Fine::NotThere) if flag => {
            Ok(false)
        }
        (Err(e), _) => Err(gql_error(e)),
    }
}

fn columns_json(list: Option<async_graphql::dynamic::ValueAccessor<'_>>) -> Result<Vec<Json>, async_graphql::Error> {
    let Some(list) = list else { return Ok(Vec::new()) };
    list.list()?
        .iter()
        .map(|c| {
            let o = c.object()?;
            Ok(json!({ "name": o.try_get("name")?.string()?, "typeDefinition": o.try_get("type")?.string()?,
                       "order": o.get("order").map(|v| v.string().map(str::to_owned)).transpose()? }))
        })
        .collect()
}

fn flag(ctx: &ResolverContext<'_>, name: &str) -> bool {
    ctx.args.get(name).and_then(|v| v.boolean().ok()).unwrap_or(false)
}

fn s<'a>(ctx: &'a ResolverContext<'_>, name: &str) -> Result<&'a str, async_graphql::Error> {
    ctx.args.try_get(name)?.string()
}

async fn mutate(op: &str, ctx: &ResolverContext<'_>) -> Result<bool, async_graphql::Error> {
    let d = ctx.data::<DdlCtx>()?;
    let c = d.env.ctx();
    match op {
        "createKeyspace" => {
            let r =
                schema::create_keyspace(&c, &d.tenant, &body_req(&d.tenant, json!({"name": s(ctx, "name")?}))).await;
            tolerate(r, Fine::AlreadyThere, flag(ctx, "ifNotExists"))
        }
        "dropKeyspace" => {
            tolerate(schema::drop_keyspace(&c, &ns(d, s(ctx, "name")?)?).await, Fine::NotThere, flag(ctx, "ifExists"))
        }
        "createTable" => {
            let partition = columns_json(ctx.args.get("partitionKeys"))?;
            let clustering = columns_json(ctx.args.get("clusteringKeys"))?;
            let values = columns_json(ctx.args.get("values"))?;
            let defs: Vec<Json> = partition
                .iter()
                .chain(&clustering)
                .chain(&values)
                .map(|c| json!({"name": c["name"], "typeDefinition": c["typeDefinition"]}))
                .collect();
            let order: Vec<Json> = clustering
                .iter()
                .map(|c| json!({"column": c["name"], "order": c["order"].as_str().unwrap_or("ASC")}))
                .collect();
            let body = json!({
                "name": s(ctx, "tableName")?, "ifNotExists": flag(ctx, "ifNotExists"), "columnDefinitions": defs,
                "primaryKey": {"partitionKey": partition.iter().map(|c| c["name"].clone()).collect::<Vec<_>>(),
                               "clusteringKey": clustering.iter().map(|c| c["name"].clone()).collect::<Vec<_>>()},
                "tableOptions": {"clusteringExpression": order},
            });
            let r = schema::create_table(&c, &ns(d, s(ctx, "keyspaceName")?)?, &body_req(&d.tenant, body)).await;
            tolerate(r, Fine::AlreadyThere, flag(ctx, "ifNotExists"))
        }
        "alterTableAdd" => {
            let ns = ns(d, s(ctx, "keyspaceName")?)?;
            let table = s(ctx, "tableName")?;
            for col in columns_json(ctx.args.get("toAdd"))? {
                let body = json!({"name": col["name"], "typeDefinition": col["typeDefinition"]});
                columns::add(&c, &ns, table, &body_req(&d.tenant, body)).await.map_err(gql_error)?;
            }
            Ok(true)
        }
        "alterTableDrop" => {
            let ns = ns(d, s(ctx, "keyspaceName")?)?;
            let table = s(ctx, "tableName")?;
            for col in ctx.args.try_get("toDrop")?.list()?.iter() {
                columns::drop(&c, &ns, table, col.string()?).await.map_err(gql_error)?;
            }
            Ok(true)
        }
        "createIndex" => {
            let ns = ns(d, s(ctx, "keyspaceName")?)?;
            let mut body = json!({"column": s(ctx, "columnName")?, "ifNotExists": flag(ctx, "ifNotExists")});
            if let Some(name) = ctx.args.get("indexName") {
                body["name"] = json!(name.string()?);
            }
            let r = columns::create_index(&c, &ns, s(ctx, "tableName")?, &body_req(&d.tenant, body)).await;
            tolerate(r, Fine::AlreadyThere, flag(ctx, "ifNotExists"))
        }
        "dropIndex" => {
            let ns = ns(d, s(ctx, "keyspaceName")?)?;
            let index = s(ctx, "indexName")?;
            // Index names are unique per keyspace, as in Cassandra: find its table.
            let tables = c.store.tables(&ns).await.map_err(|e| gql_error(e.into()))?;
            match tables.iter().find(|t| t.indexes.iter().any(|i| i.name == index)) {
                Some(t) => columns::drop_index(&c, &ns, &t.name, index).await.map(|_| true).map_err(gql_error),
                None if flag(ctx, "ifExists") => Ok(false),
                None => Err(gql_error(ApiError::NotFound(format!("index '{index}' not found")))),
            }
        }
        "dropTable" => {
            let ns = ns(d, s(ctx, "keyspaceName")?)?;
            tolerate(schema::drop_table(&c, &ns, s(ctx, "tableName")?).await, Fine::NotThere, flag(ctx, "ifExists"))
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
    let tables = d.env.store.tables(&ns(d, name)?).await.map_err(|e| gql_error(e.into()))?;
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
                let names = d.env.store.keyspaces(&d.tenant).await.map_err(|e| gql_error(e.into()))?;
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
        let exists = || Err(ApiError::Conflict("keyspace 'k' already exists".into()));
        let missing = || Err(ApiError::NotFound("keyspace 'k' not found".into()));
        assert!(tolerate(Ok(ApiResponse::no_content()), Fine::AlreadyThere, true).unwrap());
        assert!(!tolerate(exists(), Fine::AlreadyThere, true).unwrap());
        assert!(!tolerate(missing(), Fine::NotThere, true).unwrap());
        // Without the flag, or for the other refusal, the error stands.
        assert!(tolerate(exists(), Fine::AlreadyThere, false).is_err());
        assert!(tolerate(missing(), Fine::AlreadyThere, true).is_err());
        assert!(tolerate(exists(), Fine::NotThere, true).is_err());
    }
}
