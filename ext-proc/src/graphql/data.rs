//! The data schema of one keyspace, generated from its tables (Stargate's
//! "CQL-first" shape). Resolvers turn GraphQL arguments into the engine's
//! typed row operations, the same ones REST runs, so validation, paging and
//! errors are shared without going through REST.

use super::types::{filter_name, input_type, json_field, shared, to_rest, SCALAR_OPS};
use crate::engine::rows::{self, Filter, ReadRows, RowKey, Term, WriteRow};
use crate::engine::Engine;
use crate::error::ApiError;
use crate::fault::Fault;
use crate::model::{DataType, Namespace, Order, TableDef};
use crate::plan::{Op, WriteIf};
use async_graphql::dynamic::{
    Enum, Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, Schema, SchemaError,
    TypeRef, ValueAccessor,
};
use async_graphql::{ErrorExtensions, Value as GqlValue};
use serde_json::{json, Map, Value as Json};
use std::sync::Arc;

/// What resolvers of a data schema need: the engine and the keyspace.
pub struct DataCtx {
    /// Store, catalog and limits.
    pub engine: Engine,
    /// The tenant's keyspace this request addresses.
    pub ns: Namespace,
}

/// A GraphQL error carrying the REST status as `extensions.code`.
pub fn gql_error(e: ApiError) -> async_graphql::Error {
    let status = e.status();
    async_graphql::Error::new(e.public_description()).extend_with(|_, ext| ext.set("code", status))
}

/// A refused engine operation as a GraphQL error.
pub fn fault(f: Fault) -> async_graphql::Error {
    gql_error(f.into())
}

/// A `TInput` object as column values in the REST JSON shape.
fn row_json(def: &TableDef, value: &ValueAccessor<'_>) -> Result<Map<String, Json>, async_graphql::Error> {
    let mut out = Map::new();
    for (k, v) in value.object()?.iter() {
        let ty = def.column(k.as_str()).map(|c| c.ty).ok_or_else(|| format!("unknown column '{k}'"))?;
        out.insert(k.to_string(), to_rest(ty, v.as_value().clone()));
    }
    Ok(out)
}

/// The conditions `value` (equality) and `filter` (operators) ask for.
fn where_terms(def: &TableDef, ctx: &ResolverContext<'_>) -> Result<Vec<Term>, async_graphql::Error> {
    let mut terms = Vec::new();
    if let Some(value) = ctx.args.get("value").filter(|v| !v.is_null()) {
        for (column, operand) in row_json(def, &value)? {
            terms.push(Term { column, op: Op::Eq, operand });
        }
    }
    if let Some(filter) = ctx.args.get("filter").filter(|v| !v.is_null()) {
        for (col, ops) in filter.object()?.iter().filter(|(_, ops)| !ops.is_null()) {
            let ty = def.column(col.as_str()).map(|c| c.ty).ok_or_else(|| format!("unknown column '{col}'"))?;
            for (name, v) in ops.object()?.iter().filter(|(_, v)| !v.is_null()) {
                let op = match name.as_str() {
                    "contains" => Op::Contains,
                    "containsKey" => Op::ContainsKey,
                    "containsEntry" => Op::ContainsEntry,
                    other => {
                        SCALAR_OPS.iter().find(|(g, _)| *g == other).and_then(|(_, r)| Op::parse(r)).unwrap_or(Op::Eq)
                    }
                };
                let operand = match (op, ty) {
                    (Op::ContainsEntry | Op::In, _) => v.as_value().clone().into_json().unwrap_or(Json::Null),
                    (Op::Contains, DataType::List(t) | DataType::Set(t) | DataType::Map(_, t))
                    | (Op::ContainsKey, DataType::Map(t, _)) => to_rest(DataType::Scalar(t), v.as_value().clone()),
                    _ => to_rest(ty, v.as_value().clone()),
                };
                terms.push(Term { column: col.to_string(), op, operand });
            }
        }
    }
    Ok(terms)
}

/// The full primary key of `row`, in key order.
fn key_values(def: &TableDef, row: &Map<String, Json>) -> Result<Vec<(String, Json)>, async_graphql::Error> {
    def.key_order()
        .iter()
        .map(|(c, _)| match row.get(&c.name) {
            Some(v) if !v.is_null() => Ok((c.name.clone(), v.clone())),
            _ => Err(async_graphql::Error::new(format!("value must give primary-key column '{}'", c.name))),
        })
        .collect()
}

fn ttl(ctx: &ResolverContext<'_>) -> Result<Option<i64>, async_graphql::Error> {
    let Some(options) = ctx.args.get("options").filter(|o| !o.is_null()) else { return Ok(None) };
    let options = options.object()?;
    options.get("ttl").filter(|t| !t.is_null()).map(|t| t.i64()).transpose()
}

async fn read(def: &TableDef, ctx: &ResolverContext<'_>) -> Result<Json, async_graphql::Error> {
    let d = ctx.data::<DataCtx>()?;
    let terms = where_terms(def, ctx)?;
    let mut sort = Vec::new();
    if let Some(order) = ctx.args.get("orderBy").filter(|v| !v.is_null()) {
        for item in order.list()?.iter() {
            let e = item.enum_name()?;
            let (col, dir) = e.rsplit_once('_').ok_or("bad orderBy value")?;
            let dir = if dir == "DESC" { Order::Desc } else { Order::Asc };
            // A column named twice keeps its first place and its last direction, as a JSON object did.
            match sort.iter_mut().find(|(c, _): &&mut (String, Order)| c == col) {
                Some(entry) => entry.1 = dir,
                None => sort.push((col.to_owned(), dir)),
            }
        }
    }
    let (mut limited, mut page_size, mut page_state) = (false, None, None);
    if let Some(options) = ctx.args.get("options").filter(|o| !o.is_null()) {
        let o = options.object()?;
        // A variable bound to null is the same as leaving the option out.
        let get = |k: &str| o.get(k).filter(|v| !v.is_null());
        // Checked here, under the names the client used (the engine's message says page-size).
        let max = d.engine.ctx().limits.max_page_size;
        let bounded = |name: &str| -> Result<Option<i64>, async_graphql::Error> {
            match get(name).map(|v| v.i64()).transpose()? {
                Some(n) if !(1..=i64::from(max)).contains(&n) => {
                    Err(format!("options.{name} must be an integer from 1 to {max}, got {n}").into())
                }
                n => Ok(n),
            }
        };
        let limit = bounded("limit")?;
        limited = limit.is_some();
        page_size = match limit {
            Some(l) => Some(l),
            None => bounded("pageSize")?,
        };
        page_state = get("pageState").map(|ps| ps.string().map(str::to_owned)).transpose()?;
    }
    let filter = if terms.is_empty() { Filter::All } else { Filter::Where(&terms) };
    let op = ReadRows { filter, sort: &sort, fields: None, page_size, page_state: page_state.as_deref() };
    let page = rows::read(&d.engine.ctx(), &d.ns, &def.name, op).await.map_err(fault)?;
    let next = match page.next.clone() {
        Some(ps) if !limited => Json::String(ps),
        _ => Json::Null,
    };
    Ok(json!({ "values": page.json_rows(false), "pageState": next }))
}

enum Write {
    Insert,
    Update,
    Delete,
}

async fn write(def: &TableDef, ctx: &ResolverContext<'_>, kind: Write) -> Result<Json, async_graphql::Error> {
    let d = ctx.data::<DataCtx>()?;
    let c = d.engine.ctx();
    let value = ctx.args.try_get("value")?;
    let row = row_json(def, &value)?;
    let flag = |name: &str| ctx.args.get(name).and_then(|v| v.boolean().ok()).unwrap_or(false);
    let applied = match kind {
        Write::Insert => {
            let condition = if flag("ifNotExists") { WriteIf::Absent } else { WriteIf::Always };
            let columns = row.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            let w = WriteRow { key: RowKey::InColumns, columns, ttl: ttl(ctx)?, condition };
            rows::write(&c, &d.ns, &def.name, w).await.map_err(fault)?.applied
        }
        Write::Update => {
            let key = RowKey::Values(key_values(def, &row)?);
            let condition = if flag("ifExists") { WriteIf::Present } else { WriteIf::Always };
            let columns = row.iter().filter(|(k, _)| !def.is_key(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
            let w = WriteRow { key, columns, ttl: ttl(ctx)?, condition };
            rows::write(&c, &d.ns, &def.name, w).await.map_err(fault)?.applied
        }
        Write::Delete => {
            let key = RowKey::Values(key_values(def, &row)?);
            let n = rows::delete(&c, &d.ns, &def.name, key).await.map_err(fault)?;
            n > 0 || !flag("ifExists")
        }
    };
    Ok(json!({ "applied": applied, "value": Json::Object(row) }))
}

async fn bulk_insert(def: &TableDef, ctx: &ResolverContext<'_>) -> Result<Json, async_graphql::Error> {
    let d = ctx.data::<DataCtx>()?;
    let values = ctx.args.try_get("values")?;
    let rows_json: Vec<Map<String, Json>> =
        values.list()?.iter().map(|v| row_json(def, &v)).collect::<Result<_, _>>()?;
    let batch = rows_json.iter().map(|r| r.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).collect();
    rows::write_batch(&d.engine.ctx(), &d.ns, &def.name, batch, ttl(ctx)?).await.map_err(fault)?;
    Ok(Json::Array(rows_json.into_iter().map(|r| json!({ "applied": true, "value": r })).collect()))
}

fn list_of_json(v: Json) -> FieldValue<'static> {
    match v {
        Json::Array(items) => FieldValue::list(items.into_iter().map(FieldValue::owned_any)),
        other => FieldValue::owned_any(other),
    }
}

/// The schema of a keyspace over every table whose generated GraphQL names
/// are free, and the names of the tables left out. A name REST accepts can
/// still clash here (a table `String`, `Int` or `QueryOptions`; `aInput`
/// beside a table `a`): such a table is left out, named in the `Query` type's
/// description, rather than one table taking GraphQL from its whole keyspace.
pub fn build_served(ks: &str, tables: &[TableDef]) -> Result<(Schema, Vec<String>), SchemaError> {
    // Checked by name first: async-graphql refuses some clashes but silently
    // merges objects of one name (a table `Query`, or `aResult` beside `a`).
    let mut types: Vec<DataType> = tables.iter().flat_map(|t| t.columns.iter().map(|c| c.ty)).collect();
    types.sort_by_key(|t| t.to_string());
    types.dedup();
    let common = shared(&types);
    let mut taken: std::collections::HashSet<String> = ["Query", "Mutation", "QueryOptions", "MutationOptions"]
        .iter()
        .chain(&["String", "Int", "Float", "Boolean", "ID"])
        .map(|s| (*s).to_owned())
        .chain(common.scalars.iter().map(|s| s.type_name().to_owned()))
        .chain(common.objects.iter().map(|o| o.type_name().to_owned()))
        .chain(common.inputs.iter().map(|i| i.type_name().to_owned()))
        .collect();
    let mut sorted: Vec<&TableDef> = tables.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let (free, mut skipped): (Vec<&TableDef>, Vec<&TableDef>) = sorted.into_iter().partition(|t| {
        let names = generated_names(&t.name);
        let ok = names.iter().all(|n| !taken.contains(n));
        if ok {
            taken.extend(names);
        }
        ok
    });
    let free: Vec<TableDef> = free.into_iter().cloned().collect();
    let left_out = |skipped: &[&TableDef]| {
        let names: Vec<String> = skipped.iter().map(|t| t.name.clone()).collect();
        for name in &names {
            tracing::warn!(keyspace = ks, table = %name, "table left out of the keyspace's GraphQL schema: its name clashes with a GraphQL type");
        }
        names
    };
    let names = left_out(&skipped);
    if let Ok(schema) = build(ks, &free, &names) {
        return Ok((schema, names));
    }
    // Tables that cannot be served even alone go next; if the rest still clash
    // among themselves, they are added one by one.
    let (alone, more): (Vec<&TableDef>, Vec<&TableDef>) = tables
        .iter()
        .filter(|t| free.iter().any(|f| f.name == t.name))
        .partition(|t| build(ks, std::slice::from_ref(*t), &[]).is_ok());
    skipped.extend(more);
    let mut served: Vec<TableDef> = alone.iter().map(|t| (*t).clone()).collect();
    if build(ks, &served, &[]).is_err() {
        served.clear();
        for t in alone {
            served.push(t.clone());
            if build(ks, &served, &[]).is_err() {
                served.pop();
                skipped.push(t);
            }
        }
    }
    skipped.sort_by(|a, b| a.name.cmp(&b.name));
    let names = left_out(&skipped);
    Ok((build(ks, &served, &names)?, names))
}

/// The type names a table's schema part defines.
fn generated_names(t: &str) -> [String; 6] {
    [
        t.to_owned(),
        format!("{t}Input"),
        format!("{t}FilterInput"),
        format!("{t}Order"),
        format!("{t}Result"),
        format!("{t}MutationResult"),
    ]
}

/// Builds the schema of a keyspace with these tables; `skipped` names the
/// tables left out (said in the `Query` type's description).
fn build(ks: &str, tables: &[TableDef], skipped: &[String]) -> Result<Schema, SchemaError> {
    let mut query = Object::new("Query");
    if !skipped.is_empty() {
        query = query.description(format!(
            "Tables not served as GraphQL because their names clash with GraphQL type names (rename them, or use \
             the REST API): {}",
            skipped.join(", ")
        ));
    }
    let mut query = query.field(Field::new("_keyspace", TypeRef::named_nn(TypeRef::STRING), {
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
