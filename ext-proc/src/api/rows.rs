//! The rows API (`/v2/keyspaces/{ks}/{table}`): `where` and key paths become
//! [`Select`] plans, bodies become [`Upsert`] plans, rows become JSON envelopes.

// Expiry decisions are made against the sidecar clock.
use super::{now_ms, page, Ctx};
use crate::error::ApiError;
use crate::http::{ApiRequest, ApiResponse};
use crate::json;
use crate::model::{ColumnType, DataType, Order};
use crate::model::{Namespace, TableDef};
use crate::plan::{read_order, Condition, Op, OrderColumn, Select, Upsert, WriteIf};
use crate::store::StoreError;
use crate::value::Value;
use serde_json::{json, Map, Value as Json};

/// Which rows a read selects.
#[derive(Clone, Copy)]
pub enum Selection<'a> {
    /// `GET base?where=...`.
    Where,
    /// `GET base/{pk...}`.
    Key(&'a [String]),
    /// `GET base/rows`.
    All,
}

/// Handles every rows read.
pub async fn read(
    ctx: &Ctx<'_>,
    ns: &Namespace,
    table: &str,
    sel: Selection<'_>,
    req: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let def = ctx.catalog.table(ctx.store, ns, table).await?;
    let conditions = match sel {
        Selection::Where => {
            let text = req.param("where")?.ok_or_else(|| {
                ApiError::BadRequest("query parameter 'where' is required, e.g. where={\"id\":{\"$eq\":1}}".to_owned())
            })?;
            parse_where(&def, text)?
        }
        Selection::Key(segments) => key_conditions(&def, segments, false)?,
        Selection::All => Vec::new(),
    };
    let shape = || match sel {
        Selection::Where => format!("where {}", req.param("where").ok().flatten().unwrap_or_default()),
        Selection::Key(segments) => format!("key {segments:?}"),
        Selection::All => "all".to_owned(),
    };
    let fields = parse_fields(&def, req.param("fields")?)?;
    let sort_text = req.param("sort")?;
    let sort = sort_text.map(|t| parse_sort(&def, t)).transpose()?.unwrap_or_default();
    let page_size = page_size(ctx, req)?;
    // Only a cursor in or out needs the fingerprint: most reads (a key, one page) skip the hash.
    let fingerprint = || page::fingerprint(&def, &format!("{} sort {}", shape(), sort_text.unwrap_or_default()));
    let order = read_order(&def, &sort);
    let after = req.param("page-state")?.map(|s| page::decode(&order, &fingerprint(), s)).transpose()?;
    let page_state_for = |row: &[Value]| page::encode(&fingerprint(), &order_values(&def, &order, row));
    let select = Select { now_ms: now_ms(), conditions, sort: sort.clone(), after, limit: page_size + 1 };
    let mut rows = ctx.store.select(ns, &def, &select).await.map_err(|e| stale(ctx, ns, e))?;
    let more = rows.len() > page_size as usize;
    rows.truncate(page_size as usize);
    let page_state = match (more, rows.last()) {
        (true, Some(last)) => Some(page_state_for(last)),
        _ => None,
    };
    let compact = req.flag("compactMapData", true)?;
    let data: Vec<Json> = rows.iter().map(|r| row_json(&def, r, fields.as_deref(), compact)).collect();
    if req.flag("raw", false)? {
        return Ok(ApiResponse::json(200, Json::Array(data)));
    }
    let mut body = json!({ "count": data.len() });
    if let Some(ps) = page_state {
        body["pageState"] = Json::String(ps);
    }
    body["data"] = Json::Array(data);
    Ok(ApiResponse::json(200, body))
}

/// `POST base`: upsert one row, answer with its primary key.
pub async fn insert(ctx: &Ctx<'_>, ns: &Namespace, table: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let def = ctx.catalog.table(ctx.store, ns, table).await?;
    let entries = json::object("request body", &req.body)?;
    let upsert = row_upsert(&def, req, Vec::new(), entries, true)?;
    ctx.store.upsert(ns, &def, std::slice::from_ref(&upsert)).await.map_err(|e| stale(ctx, ns, e))?;
    Ok(ApiResponse::json(201, key_json(&def, &upsert)))
}

/// Rows in one batch at most: a bound on transaction size and request time.
pub const MAX_BATCH_ROWS: usize = 1000;

/// `POST base/batch`: upsert many rows, all or nothing; answers with their keys.
pub async fn batch(ctx: &Ctx<'_>, ns: &Namespace, table: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let def = ctx.catalog.table(ctx.store, ns, table).await?;
    let Json::Array(items) = json::parse("request body", &req.body)? else {
        return Err(ApiError::BadRequest("a batch is a JSON array of row objects".to_owned()));
    };
    if items.is_empty() || items.len() > MAX_BATCH_ROWS {
        return Err(ApiError::BadRequest(format!("a batch holds 1 to {MAX_BATCH_ROWS} rows, got {}", items.len())));
    }
    let mut rows = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let Json::Object(map) = item else {
            return Err(ApiError::BadRequest(format!("rows[{i}] must be a JSON object")));
        };
        let row = row_upsert(&def, req, Vec::new(), map.into_iter().collect(), true).map_err(|e| match e {
            ApiError::BadRequest(m) => ApiError::BadRequest(format!("rows[{i}]: {m}")),
            other => other,
        })?;
        rows.push(row);
    }
    ctx.store.upsert(ns, &def, &rows).await.map_err(|e| stale(ctx, ns, e))?;
    Ok(ApiResponse::json(201, Json::Array(rows.iter().map(|r| key_json(&def, r)).collect())))
}

fn key_json(def: &TableDef, row: &Upsert) -> Json {
    Json::Object(row.values.iter().filter(|(c, _)| def.is_key(c)).map(|(c, v)| (c.clone(), v.to_json())).collect())
}

/// `PUT`/`PATCH base/{pk...}`: upsert the given columns of one row.
pub async fn update(
    ctx: &Ctx<'_>,
    ns: &Namespace,
    table: &str,
    segments: &[String],
    req: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let def = ctx.catalog.table(ctx.store, ns, table).await?;
    let key: Vec<(String, Value)> = key_conditions(&def, segments, true)?
        .into_iter()
        .filter_map(|c| c.values.into_iter().next().map(|v| (c.column, v)))
        .collect();
    let body = json::parse("request body", &req.body)?;
    let Json::Object(map) = &body else {
        return Err(ApiError::BadRequest(format!("request body must be a JSON object, got {}", json::kind(&body))));
    };
    let entries: Vec<(String, Json)> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    if let Some((k, _)) = entries.iter().find(|(k, _)| def.is_key(k)) {
        return Err(ApiError::BadRequest(format!("'{k}' is a primary-key column: give it in the path, not the body")));
    }
    let upsert = row_upsert(&def, req, key, entries, false)?;
    ctx.store.upsert(ns, &def, std::slice::from_ref(&upsert)).await.map_err(|e| stale(ctx, ns, e))?;
    if req.flag("raw", false)? {
        return Ok(ApiResponse::json(200, body));
    }
    Ok(ApiResponse::json(200, json!({ "data": body })))
}

/// `DELETE base/{pk...}`: removes the row, or the partition/slice a key prefix selects.
pub async fn delete(ctx: &Ctx<'_>, ns: &Namespace, table: &str, segments: &[String]) -> Result<ApiResponse, ApiError> {
    delete_counted(ctx, ns, table, segments).await?;
    Ok(ApiResponse::no_content())
}

/// Deletes what a key (prefix) selects; returns how many rows went.
pub async fn delete_counted(ctx: &Ctx<'_>, ns: &Namespace, table: &str, segments: &[String]) -> Result<u64, ApiError> {
    let def = ctx.catalog.table(ctx.store, ns, table).await?;
    let conditions = key_conditions(&def, segments, false)?;
    ctx.store.delete(ns, &def, &conditions).await.map_err(|e| stale(ctx, ns, e))
}

/// One conditional write for APIs other than REST (GraphQL): the body
/// `entries` (with the key, or the key from `key` segments) written if
/// `condition` holds, atomically; returns whether it applied.
pub async fn write_if(
    ctx: &Ctx<'_>,
    ns: &Namespace,
    table: &str,
    req: &ApiRequest,
    key: Option<&[String]>,
    entries: Vec<(String, Json)>,
    condition: WriteIf,
) -> Result<bool, ApiError> {
    let def = ctx.catalog.table(ctx.store, ns, table).await?;
    if condition != WriteIf::Always && def.is_counter_table() {
        return Err(ApiError::BadRequest("counter tables take no ifNotExists/ifExists".to_owned()));
    }
    let key_values: Vec<(String, Value)> = match key {
        Some(segments) => key_conditions(&def, segments, true)?
            .into_iter()
            .filter_map(|c| c.values.into_iter().next().map(|v| (c.column, v)))
            .collect(),
        None => Vec::new(),
    };
    let need_key = key.is_none();
    let mut upsert = row_upsert(&def, req, key_values, entries, need_key || condition == WriteIf::Present)?;
    upsert.condition = condition;
    let n = ctx.store.upsert(ns, &def, std::slice::from_ref(&upsert)).await.map_err(|e| stale(ctx, ns, e))?;
    Ok(condition == WriteIf::Always || n > 0)
}

/// A storage error; when it says the table changed shape under us, the cached
/// definition is dropped so the client's retry sees the new one.
fn stale(ctx: &Ctx<'_>, ns: &Namespace, e: StoreError) -> ApiError {
    if matches!(e, StoreError::SchemaChanged | StoreError::TableNotFound(_)) {
        ctx.catalog.invalidate(ns);
    }
    e.into()
}

fn page_size(ctx: &Ctx<'_>, req: &ApiRequest) -> Result<u32, ApiError> {
    super::page_size(req, ctx.limits.default_page_size, ctx.limits.max_page_size)
}

/// Most values one `where` may bind in total (`$in`/`$nin` lists included):
/// far below both stores' bound-parameter limits (SQLite 32766, PostgreSQL
/// 65535), so a long list is the client's 400, not the store's 500.
pub const MAX_WHERE_VALUES: usize = 1000;

/// Parses `where` against the table's columns.
pub fn parse_where(def: &TableDef, text: &str) -> Result<Vec<Condition>, ApiError> {
    let entries = json::object("where", text.as_bytes())?;
    if entries.is_empty() {
        return Err(ApiError::BadRequest("where must hold at least one condition".to_owned()));
    }
    let mut out = Vec::new();
    for (column, ops) in entries {
        let col = def.column(&column).ok_or_else(|| unknown_column(def, &column, "where"))?;
        let Json::Object(ops) = ops else {
            return Err(ApiError::BadRequest(format!(
                "where.{column} must be an object of operators like {{\"$eq\": value}}, got {}",
                json::kind(&ops)
            )));
        };
        if ops.is_empty() {
            return Err(ApiError::BadRequest(format!("where.{column} has no operator")));
        }
        for (name, operand) in ops {
            let op = Op::parse(&name).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "unknown operator '{name}' in where.{column}: supported are $eq $ne $lt $lte $gt $gte $in $nin \
                     $exists $contains $containsKey $containsEntry"
                ))
            })?;
            let bad = |m: String| ApiError::BadRequest(format!("where.{column}.{name}: {m}"));
            if let Json::Array(items) = &operand {
                if items.len() > MAX_WHERE_VALUES {
                    return Err(bad(format!("takes at most {MAX_WHERE_VALUES} values, got {}", items.len())));
                }
            }
            let values = condition_values(col.ty, op, &operand).map_err(bad)?;
            out.push(Condition { column: column.clone(), op, values });
        }
    }
    let total: usize = out.iter().map(|c| c.values.len()).sum();
    if total > MAX_WHERE_VALUES {
        return Err(ApiError::BadRequest(format!(
            "where holds {total} values in all its conditions, the limit is {MAX_WHERE_VALUES}"
        )));
    }
    Ok(out)
}

/// The typed operands of one operator on a column of type `ty`.
fn condition_values(ty: DataType, op: Op, operand: &Json) -> Result<Vec<Value>, String> {
    let scalar = |t: ColumnType, v: &Json| match Value::from_json(t, v) {
        Ok(Value::Null) => Err("null cannot be compared".to_owned()),
        Ok(v) => Ok(v),
        Err(e) => Err(e),
    };
    match (op, ty) {
        (Op::Exists, _) => match operand {
            Json::Bool(true) => Ok(Vec::new()),
            _ => Err("takes true ($exists: true)".to_owned()),
        },
        (Op::Contains, DataType::List(t) | DataType::Set(t) | DataType::Map(_, t)) => Ok(vec![scalar(t, operand)?]),
        (Op::ContainsKey, DataType::Map(k, _)) => Ok(vec![scalar(k, operand)?]),
        (Op::ContainsEntry, DataType::Map(k, v)) => {
            let (Some(key), Some(value)) = (operand.get("key"), operand.get("value")) else {
                return Err("takes {\"key\": .., \"value\": ..}".to_owned());
            };
            Ok(vec![scalar(k, key)?, scalar(v, value)?])
        }
        (Op::Contains | Op::ContainsKey | Op::ContainsEntry, t) => Err(format!("does not apply to a {t} column")),
        (_, DataType::Scalar(t)) => match (operand, op.takes_list()) {
            (Json::Array(items), true) if !items.is_empty() => items.iter().map(|v| scalar(t, v)).collect(),
            (_, true) => Err("takes a non-empty array".to_owned()),
            (Json::Array(_) | Json::Object(_), false) => Err(format!("takes a single {t} value")),
            (v, false) => Ok(vec![scalar(t, v)?]),
        },
        (_, t) => Err(format!("a {t} column takes $contains, $containsKey, $containsEntry or $exists")),
    }
}

/// Primary-key path segments as equality conditions. Reads may give the
/// partition key plus a clustering prefix; `full` demands the whole key.
pub fn key_conditions(def: &TableDef, segments: &[String], full: bool) -> Result<Vec<Condition>, ApiError> {
    let order = def.key_order();
    let min = if full { order.len() } else { def.partition_key.len() };
    if segments.len() < min || segments.len() > order.len() {
        let names: Vec<&str> = order.iter().map(|(c, _)| c.name.as_str()).collect();
        let expected = if min == order.len() { format!("{min}") } else { format!("{min} to {}", order.len()) };
        return Err(ApiError::BadRequest(format!(
            "primary key path has {} value(s); table {} expects {expected} in the order: {}",
            segments.len(),
            def.name,
            names.join("/")
        )));
    }
    order
        .iter()
        .zip(segments)
        .map(|((col, _), seg)| {
            let ty = col
                .ty
                .scalar()
                .ok_or_else(|| ApiError::Internal(format!("key column {} is a collection", col.name)))?;
            let v =
                Value::from_text(ty, seg).map_err(|e| ApiError::BadRequest(format!("key column {}: {e}", col.name)))?;
            Ok(Condition { column: col.name.clone(), op: Op::Eq, values: vec![v] })
        })
        .collect()
}

fn row_upsert_at(
    def: &TableDef,
    mut values: Vec<(String, Value)>,
    entries: Vec<(String, Json)>,
    need_key: bool,
) -> Result<Upsert, ApiError> {
    if entries.is_empty() && !need_key {
        return Err(ApiError::BadRequest("request body names no column to write".to_owned()));
    }
    for (column, json) in entries {
        let col = def.column(&column).ok_or_else(|| unknown_column(def, &column, "request body"))?;
        let v = Value::of(col.ty, &json).map_err(|e| ApiError::BadRequest(format!("column {column}: {e}")))?;
        values.push((column, v));
    }
    for (col, _) in def.key_order() {
        match values.iter().find(|(c, _)| *c == col.name) {
            Some((_, Value::Null)) => {
                return Err(ApiError::BadRequest(format!("primary-key column {} must not be null", col.name)))
            }
            Some(_) => {}
            None => return Err(ApiError::BadRequest(format!("primary-key column {} is missing", col.name))),
        }
    }
    // Key columns first: stores rely on it for their conflict target.
    values.sort_by_key(|(c, _)| !def.is_key(c));
    Ok(Upsert { values, expires_ms: None, now_ms: 0, condition: WriteIf::Always })
}

/// The row expiry a write asks for: the `ttl` parameter (seconds; 0 = none), else
/// the table's default TTL.
fn expiry(def: &TableDef, req: &ApiRequest, now: i64) -> Result<Option<i64>, ApiError> {
    let ttl = match super::ttl_param(req)? {
        Some(n) => Some(n),
        None => def.default_ttl.map(u64::from),
    };
    match ttl {
        None | Some(0) => Ok(None),
        Some(_) if def.is_counter_table() => Err(ApiError::BadRequest("counter tables do not take a ttl".to_owned())),
        Some(_) if !def.expiry => Err(ApiError::BadRequest(format!(
            "table {} was created before TTL support; recreate it to use ttl",
            def.name
        ))),
        Some(n) => Ok(Some(now + (n as i64) * 1000)),
    }
}

/// A row upsert for a write request (key values, body entries, TTL).
fn row_upsert(
    def: &TableDef,
    req: &ApiRequest,
    key: Vec<(String, Value)>,
    entries: Vec<(String, Json)>,
    need_key: bool,
) -> Result<Upsert, ApiError> {
    let now = now_ms();
    let mut upsert = row_upsert_at(def, key, entries, need_key)?;
    upsert.expires_ms = expiry(def, req, now)?;
    upsert.now_ms = now;
    Ok(upsert)
}

fn parse_fields(def: &TableDef, fields: Option<&str>) -> Result<Option<Vec<String>>, ApiError> {
    let Some(text) = fields else { return Ok(None) };
    let mut out = Vec::new();
    for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        def.column(name).ok_or_else(|| unknown_column(def, name, "fields"))?;
        out.push(name.to_owned());
    }
    if out.is_empty() {
        return Err(ApiError::BadRequest("fields is empty: list columns separated by commas".to_owned()));
    }
    Ok(Some(out))
}

fn unknown_column(def: &TableDef, name: &str, place: &str) -> ApiError {
    let names: Vec<&str> = def.columns.iter().map(|c| c.name.as_str()).collect();
    ApiError::BadRequest(format!("unknown column '{name}' in {place}: table {} has {}", def.name, names.join(", ")))
}

/// A row (values in `def.columns` order) as the JSON object clients get; with
/// `compact` false, maps come as `[{"key": .., "value": ..}]` (Stargate's `compactMapData=false`).
fn row_json(def: &TableDef, row: &[Value], fields: Option<&[String]>, compact: bool) -> Json {
    let mut out = Map::new();
    for (col, v) in def.columns.iter().zip(row) {
        if fields.is_none_or(|f| f.contains(&col.name)) {
            let json = match (v.to_json(), col.ty) {
                (Json::Object(m), DataType::Map(k, _)) if !compact => Json::Array(
                    m.into_iter()
                        .map(|(key, value)| {
                            let key = Value::from_text(k, &key).map(|v| v.to_json()).unwrap_or(Json::String(key));
                            json!({"key": key, "value": value})
                        })
                        .collect(),
                ),
                (j, _) => j,
            };
            out.insert(col.name.clone(), json);
        }
    }
    Json::Object(out)
}

/// The values of the read-order columns in a row (its position for the next page).
fn order_values(def: &TableDef, order: &[OrderColumn<'_>], row: &[Value]) -> Vec<Value> {
    order
        .iter()
        .filter_map(|o| def.columns.iter().position(|c| c.name == o.column.name).and_then(|i| row.get(i).cloned()))
        .collect()
}

/// `sort`: a JSON object of column → "asc"|"desc" (case-insensitive), in order.
pub fn parse_sort(def: &TableDef, text: &str) -> Result<Vec<(String, Order)>, ApiError> {
    let entries = json::object("sort", text.as_bytes())?;
    if entries.is_empty() {
        return Err(ApiError::BadRequest("sort must name at least one column, e.g. {\"year\":\"desc\"}".to_owned()));
    }
    entries
        .into_iter()
        .map(|(column, dir)| {
            let col = def.column(&column).ok_or_else(|| unknown_column(def, &column, "sort"))?;
            if col.ty.scalar().is_none() {
                return Err(ApiError::BadRequest(format!("sort.{column}: a {} column cannot be sorted on", col.ty)));
            }
            let order = match dir.as_str().map(str::to_ascii_lowercase).as_deref() {
                Some("asc") => Order::Asc,
                Some("desc") => Order::Desc,
                _ => return Err(ApiError::BadRequest(format!("sort.{column} must be \"asc\" or \"desc\", got {dir}"))),
            };
            Ok((column, order))
        })
        .collect()
}

#[cfg(test)]
mod tests;
