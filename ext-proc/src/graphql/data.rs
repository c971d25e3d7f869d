//! The data schema of one keyspace, generated from its tables (Stargate's
//! "CQL-first" shape). Resolvers turn GraphQL arguments into the same calls
//! the REST API makes, so validation, paging and errors are shared.

use super::types::{filter_name, input_type, json_field, shared, to_rest, SCALAR_OPS};
use crate::api::rows::{self, Selection};
use crate::engine::Engine;
use crate::error::ApiError;
use crate::http::ApiRequest;
use crate::model::{DataType, Namespace, TableDef};
use crate::plan::WriteIf;
use async_graphql::dynamic::{
    Enum, Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, Schema, SchemaError,
    TypeRef, ValueAccessor,
};
use async_graphql::{ErrorExtensions, Value as GqlValue};
use serde_json::{json, Map, Value as Json};
use std::sync::Arc;

/// What resolvers of a data schema need: the environment and the keyspace.
pub struct DataCtx {
    /// Store, catalog and limits.
    pub env: Engine,
    /// The tenant's keyspace this request addresses.
    pub ns: Namespace,
}

/// A GraphQL error carrying the REST status as `extensions.code`.
pub fn gql_error(e: ApiError) -> async_graphql::Error {
    let status = e.status();
    async_graphql::Error::new(e.public_description()).extend_with(|_, ext| ext.set("code", status))
}

fn rest_request(method: &str, query: Vec<(String, String)>, body: Option<Json>, ns: &Namespace) -> ApiRequest {
    ApiRequest {
        method: method.to_owned(),
        path: String::new(),
        query,
        tenant: Some(ns.tenant.clone()),
        content_type: None,
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        request_id: None,
        ..ApiRequest::default()
    }
}

/// A `TInput` object as REST JSON (column → value).
fn row_json(def: &TableDef, value: &ValueAccessor<'_>) -> Result<Map<String, Json>, async_graphql::Error> {
    let mut out = Map::new();
    for (k, v) in value.object()?.iter() {
        let ty = def.column(k.as_str()).map(|c| c.ty).ok_or_else(|| format!("unknown column '{k}'"))?;
        out.insert(k.to_string(), to_rest(ty, v.as_value().clone()));
    }
    Ok(out)
}

/// The `where` JSON for `value` (equality) and `filter` (operators).
fn where_json(def: &TableDef, ctx: &ResolverContext<'_>) -> Result<Map<String, Json>, async_graphql::Error> {
    let mut w: Map<String, Json> = Map::new();
    if let Some(value) = ctx.args.get("value").filter(|v| !v.is_null()) {
        for (col, v) in row_json(def, &value)? {
            w.insert(col, json!({ "$eq": v }));
        }
    }
    if let Some(filter) = ctx.args.get("filter").filter(|v| !v.is_null()) {
        for (col, ops) in filter.object()?.iter().filter(|(_, ops)| !ops.is_null()) {
            let ty = def.column(col.as_str()).map(|c| c.ty).ok_or_else(|| format!("unknown column '{col}'"))?;
            let entry = w.entry(col.to_string()).or_insert_with(|| json!({}));
            for (op, v) in ops.object()?.iter().filter(|(_, v)| !v.is_null()) {
                let rest_op = match op.as_str() {
                    "contains" => "$contains",
                    "containsKey" => "$containsKey",
                    "containsEntry" => "$containsEntry",
                    other => SCALAR_OPS.iter().find(|(g, _)| *g == other).map(|(_, r)| *r).unwrap_or("$eq"),
                };
                let operand = match (rest_op, ty) {
                    ("$containsEntry", _) | ("$in", _) => v.as_value().clone().into_json().unwrap_or(Json::Null),
                    ("$contains", DataType::List(t) | DataType::Set(t) | DataType::Map(_, t))
                    | ("$containsKey", DataType::Map(t, _)) => to_rest(DataType::Scalar(t), v.as_value().clone()),
                    _ => to_rest(ty, v.as_value().clone()),
                };
                if let Some(m) = entry.as_object_mut() {
                    m.insert(rest_op.to_owned(), operand);
                }
            }
        }
    }
    Ok(w)
}

/// The full primary key of `row` as REST path segments, in key order.
fn key_segments(def: &TableDef, row: &Map<String, Json>) -> Result<Vec<String>, async_graphql::Error> {
    def.key_order()
        .iter()
        .map(|(c, _)| match row.get(&c.name) {
            Some(Json::String(s)) => Ok(s.clone()),
            Some(Json::Number(n)) => Ok(n.to_string()),
            Some(Json::Bool(b)) => Ok(b.to_string()),
            _ => Err(async_graphql::Error::new(format!("value must give primary-key column '{}'", c.name))),
        })
        .collect()
}

fn ttl_query(ctx: &ResolverContext<'_>) -> Result<Vec<(String, String)>, async_graphql::Error> {
    let Some(options) = ctx.args.get("options").filter(|o| !o.is_null()) else { return Ok(Vec::new()) };
    let options = options.object()?;
    Ok(match options.get("ttl").filter(|t| !t.is_null()) {
        Some(t) => vec![("ttl".to_owned(), t.i64()?.to_string())],
        None => Vec::new(),
    })
}

async fn read(def: &TableDef, ctx: &ResolverContext<'_>) -> Result<Json, async_graphql::Error> {
    let d = ctx.data::<DataCtx>()?;
    let w = where_json(def, ctx)?;
    let mut query = vec![("compactMapData".to_owned(), "false".to_owned())];
    let mut sort = Map::new();
    if let Some(order) = ctx.args.get("orderBy").filter(|v| !v.is_null()) {
        for item in order.list()?.iter() {
            let e = item.enum_name()?;
            let (col, dir) = e.rsplit_once('_').ok_or("bad orderBy value")?;
            sort.insert(col.to_owned(), Json::String(dir.to_ascii_lowercase()));
        }
    }
    if !sort.is_empty() {
        query.push(("sort".to_owned(), Json::Object(sort).to_string()));
    }
    let mut limited = false;
    if let Some(options) = ctx.args.get("options").filter(|o| !o.is_null()) {
        let o = options.object()?;
        // A variable bound to null is the same as leaving the option out.
        let get = |k: &str| o.get(k).filter(|v| !v.is_null());
        let limit = get("limit").map(|v| v.i64()).transpose()?;
        let page_size = get("pageSize").map(|v| v.i64()).transpose()?;
        limited = limit.is_some();
        if let Some(n) = limit.or(page_size) {
            query.push(("page-size".to_owned(), n.to_string()));
        }
        if let Some(ps) = get("pageState") {
            query.push(("page-state".to_owned(), ps.string()?.to_owned()));
        }
    }
    let selection = if w.is_empty() {
        Selection::All
    } else {
        query.push(("where".to_owned(), Json::Object(w).to_string()));
        Selection::Where
    };
    let req = rest_request("GET", query, None, &d.ns);
    let resp = rows::read(&d.env.ctx(), &d.ns, &def.name, selection, &req).await.map_err(gql_error)?;
    let body: Json = serde_json::from_slice(&resp.body)?;
    let page_state = if limited { Json::Null } else { body.get("pageState").cloned().unwrap_or(Json::Null) };
    Ok(json!({ "values": body.get("data").cloned().unwrap_or(json!([])), "pageState": page_state }))
}

enum Write {
    Insert,
    Update,
    Delete,
}

async fn write(def: &TableDef, ctx: &ResolverContext<'_>, kind: Write) -> Result<Json, async_graphql::Error> {
    let d = ctx.data::<DataCtx>()?;
    let c = d.env.ctx();
    let value = ctx.args.try_get("value")?;
    let row = row_json(def, &value)?;
    let flag = |name: &str| ctx.args.get(name).and_then(|v| v.boolean().ok()).unwrap_or(false);
    let applied = match kind {
        Write::Insert => {
            let cond = if flag("ifNotExists") { WriteIf::Absent } else { WriteIf::Always };
            let req = rest_request("POST", ttl_query(ctx)?, None, &d.ns);
            let entries = row.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            rows::write_if(&c, &d.ns, &def.name, &req, None, entries, cond).await.map_err(gql_error)?
        }
        Write::Update => {
            let key = key_segments(def, &row)?;
            let cond = if flag("ifExists") { WriteIf::Present } else { WriteIf::Always };
            let entries = row.iter().filter(|(k, _)| !def.is_key(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
            let req = rest_request("PATCH", ttl_query(ctx)?, None, &d.ns);
            rows::write_if(&c, &d.ns, &def.name, &req, Some(&key), entries, cond).await.map_err(gql_error)?
        }
        Write::Delete => {
            let key = key_segments(def, &row)?;
            let n = rows::delete_counted(&c, &d.ns, &def.name, &key).await.map_err(gql_error)?;
            n > 0 || !flag("ifExists")
        }
    };
    Ok(json!({ "applied": applied, "value": Json::Object(row) }))
}

async fn bulk_insert(def: &TableDef, ctx: &ResolverContext<'_>) -> Result<Json, async_graphql::Error> {
    let d = ctx.data::<DataCtx>()?;
    let values = ctx.args.try_get("values")?;
    let rows_json: Vec<Json> =
        values.list()?.iter().map(|v| row_json(def, &v).map(Json::Object)).collect::<Result<_, _>>()?;
    let req = rest_request("POST", ttl_query(ctx)?, Some(Json::Array(rows_json.clone())), &d.ns);
    rows::batch(&d.env.ctx(), &d.ns, &def.name, &req).await.map_err(gql_error)?;
    Ok(Json::Array(rows_json.into_iter().map(|r| json!({ "applied": true, "value": r })).collect()))
}

fn list_of_json(v: Json) -> FieldValue<'static> {
    match v {
        Json::Array(items) => FieldValue::list(items.into_iter().map(FieldValue::owned_any)),
        other => FieldValue::owned_any(other),
    }
}

/// Builds the schema of a keyspace with these tables.
pub fn build(ks: &str, tables: &[TableDef]) -> Result<Schema, SchemaError> {
    let mut query = Object::new("Query").field(Field::new("_keyspace", TypeRef::named_nn(TypeRef::STRING), {
        let ks = ks.to_owned();
        move |_| FieldFuture::from_value(Some(GqlValue::String(ks.clone())))
    }));
    let mut mutation = Object::new("Mutation");
    let mut objects = Vec::new();
    let mut inputs = Vec::new();
    let mut enums = Vec::new();
    let mut all_types = Vec::new();
    for def in tables {
        let def = Arc::new(def.clone());
        let t = def.name.clone();
        all_types.extend(def.columns.iter().map(|c| c.ty));
        objects.push(def.columns.iter().fold(Object::new(&t), |o, c| o.field(json_field(&c.name, c.ty))));
        inputs.push(
            def.columns.iter().fold(InputObject::new(format!("{t}Input")), |o, c| {
                o.field(InputValue::new(&c.name, input_type(c.ty)))
            }),
        );
        inputs.push(def.columns.iter().fold(InputObject::new(format!("{t}FilterInput")), |o, c| {
            o.field(InputValue::new(&c.name, TypeRef::named(filter_name(c.ty))))
        }));
        enums.push(
            def.columns
                .iter()
                .flat_map(|c| [format!("{}_ASC", c.name), format!("{}_DESC", c.name)])
                .fold(Enum::new(format!("{t}Order")), |e, v| e.item(v)),
        );
        objects.push(
            Object::new(format!("{t}Result"))
                .field(Field::new("values", TypeRef::named_nn_list(&t), |ctx| {
                    FieldFuture::new(async move {
                        let parent = ctx.parent_value.try_downcast_ref::<Json>()?;
                        Ok(Some(list_of_json(parent.get("values").cloned().unwrap_or(json!([])))))
                    })
                }))
                .field(json_field("pageState", DataType::Scalar(crate::model::ColumnType::Text))),
        );
        objects.push(
            Object::new(format!("{t}MutationResult"))
                .field(json_field("applied", DataType::Scalar(crate::model::ColumnType::Boolean)))
                .field(Field::new("value", TypeRef::named(&t), |ctx| {
                    FieldFuture::new(async move {
                        let parent = ctx.parent_value.try_downcast_ref::<Json>()?;
                        Ok(parent.get("value").cloned().map(FieldValue::owned_any))
                    })
                })),
        );
        let d = def.clone();
        query = query.field(
            Field::new(&t, TypeRef::named(format!("{t}Result")), move |ctx| {
                let d = d.clone();
                FieldFuture::new(async move { Ok(Some(FieldValue::owned_any(read(&d, &ctx).await?))) })
            })
            .argument(InputValue::new("value", TypeRef::named(format!("{t}Input"))))
            .argument(InputValue::new("filter", TypeRef::named(format!("{t}FilterInput"))))
            .argument(InputValue::new("orderBy", TypeRef::named_nn_list(format!("{t}Order"))))
            .argument(InputValue::new("options", TypeRef::named("QueryOptions"))),
        );
        let result = format!("{t}MutationResult");
        for (prefix, kind) in [("insert", 0u8), ("update", 1), ("delete", 2)] {
            let d = def.clone();
            let mut f = Field::new(format!("{prefix}{t}"), TypeRef::named(&result), move |ctx| {
                let d = d.clone();
                FieldFuture::new(async move {
                    let w = match kind {
                        0 => Write::Insert,
                        1 => Write::Update,
                        _ => Write::Delete,
                    };
                    Ok(Some(FieldValue::owned_any(write(&d, &ctx, w).await?)))
                })
            })
            .argument(InputValue::new("value", TypeRef::named_nn(format!("{t}Input"))));
            f = match kind {
                0 => f.argument(InputValue::new("ifNotExists", TypeRef::named(TypeRef::BOOLEAN))),
                _ => f.argument(InputValue::new("ifExists", TypeRef::named(TypeRef::BOOLEAN))),
            };
            if kind != 2 {
                f = f.argument(InputValue::new("options", TypeRef::named("MutationOptions")));
            }
            mutation = mutation.field(f);
        }
        let d = def.clone();
        mutation = mutation.field(
            Field::new(format!("bulkInsert{t}"), TypeRef::named_list(&result), move |ctx| {
                let d = d.clone();
                FieldFuture::new(async move { Ok(Some(list_of_json(bulk_insert(&d, &ctx).await?))) })
            })
            .argument(InputValue::new("values", TypeRef::named_nn_list_nn(format!("{t}Input"))))
            .argument(InputValue::new("options", TypeRef::named("MutationOptions"))),
        );
    }
    all_types.sort_by_key(|t| t.to_string());
    all_types.dedup();
    let common = shared(&all_types);
    let mut builder = Schema::build("Query", (!tables.is_empty()).then_some("Mutation"), None)
        .register(
            InputObject::new("QueryOptions")
                .field(InputValue::new("limit", TypeRef::named(TypeRef::INT)))
                .field(InputValue::new("pageSize", TypeRef::named(TypeRef::INT)))
                .field(InputValue::new("pageState", TypeRef::named(TypeRef::STRING))),
        )
        .register(InputObject::new("MutationOptions").field(InputValue::new("ttl", TypeRef::named(TypeRef::INT))))
        .limit_depth(16)
        .limit_complexity(2000);
    for s in common.scalars {
        builder = builder.register(s);
    }
    for o in common.objects.into_iter().chain(objects) {
        builder = builder.register(o);
    }
    for i in common.inputs.into_iter().chain(inputs) {
        builder = builder.register(i);
    }
    for e in enums {
        builder = builder.register(e);
    }
    builder = builder.register(query);
    if !tables.is_empty() {
        builder = builder.register(mutation);
    }
    builder.finish()
}
