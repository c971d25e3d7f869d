//! Row operations: read with conditions, sort, projection and keyset paging;
//! write (upsert, conditional insert/update, TTL), batch and delete. Inputs
//! are typed terms and column values as the client gave them (JSON); the
//! engine checks them against the table, turns them into plans for the store
//! and hands back rows, keys and cursors.

use super::{now_ms, page, Ctx, MAX_TTL_SECONDS};
use crate::fault::Fault;
use crate::model::{ColumnType, DataType, Namespace, Order, TableDef};
use crate::plan::{read_order, Condition, Op, OrderColumn, Select, Upsert, WriteIf};
use crate::value::Value;
use serde_json::{json, Map, Value as Json};
use std::sync::Arc;

/// One `column op operand` condition as a client wrote it (REST `where`,
/// GraphQL `value`/`filter`); the engine types the operand by the column.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// The column it tests.
    pub column: String,
    /// The operator.
    pub op: Op,
    /// Its operand: one value, a list for `$in`/`$nin`, `{"key","value"}` for `$containsEntry`.
    pub operand: Json,
}

/// Which rows a read selects.
#[derive(Debug, Clone, Copy)]
pub enum Filter<'a> {
    /// Every row.
    All,
    /// The rows for which every term holds.
    Where(&'a [Term]),
    /// A primary key or key prefix given as path text, in key order.
    Key(&'a [String]),
}

/// A read of rows.
#[derive(Debug, Clone)]
pub struct ReadRows<'a> {
    /// Which rows.
    pub filter: Filter<'a>,
    /// Client sort columns, before the primary key breaks ties.
    pub sort: &'a [(String, Order)],
    /// Columns to return (all when `None`).
    pub fields: Option<Vec<String>>,
    /// Rows per page (the configured default when `None`).
    pub page_size: Option<i64>,
    /// The cursor a previous page of the same read returned.
    pub page_state: Option<&'a str>,
}

/// One page of rows.
#[derive(Debug)]
pub struct RowPage {
    /// The table read (its columns give the rows' order).
    pub def: Arc<TableDef>,
    /// Each row's values in `def.columns` order.
    pub rows: Vec<Vec<Value>>,
    /// The columns asked for, if not all.
    pub fields: Option<Vec<String>>,
    /// The cursor of the next page, when there is one.
    pub next: Option<String>,
}

impl RowPage {
    /// The rows as JSON objects (see [`row_json`]).
    pub fn json_rows(&self, compact: bool) -> Vec<Json> {
        self.rows.iter().map(|r| row_json(&self.def, r, self.fields.as_deref(), compact)).collect()
    }

    /// The rows as a JSON array appended to `out`: the text serializing
    /// [`RowPage::json_rows`] gives, without building its maps (a REST read
    /// answers with this; the map and key copies were about a twentieth of a
    /// GET by key's instructions).
    pub fn write_json_rows(&self, compact: bool, out: &mut Vec<u8>) {
        out.push(b'[');
        for (i, row) in self.rows.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_row_json(&self.def, row, self.fields.as_deref(), compact, out);
        }
        out.push(b']');
    }
}

/// [`row_json`]'s object as text, appended to `out`.
fn write_row_json(def: &TableDef, row: &[Value], fields: Option<&[String]>, compact: bool, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut first = true;
    for (col, v) in def.columns.iter().zip(row) {
        if !fields.is_none_or(|f| f.contains(&col.name)) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        // A str always serializes into a Vec.
        let _ = serde_json::to_writer(&mut *out, col.name.as_str());
        out.push(b':');
        match (v, col.ty) {
            // Maps in Stargate's long form: rare, so through the one definition.
            (Value::Json(_), DataType::Map(..)) if !compact => {
                let one = row_json(def, row, Some(std::slice::from_ref(&col.name)), compact);
                let _ = serde_json::to_writer(&mut *out, &one[&col.name]);
            }
            _ => v.write_json(out),
        }
    }
    out.push(b'}');
}

/// Reads one page of rows.
pub async fn read(ctx: &Ctx<'_>, ns: &Namespace, table: &str, op: ReadRows<'_>) -> Result<RowPage, Fault> {
    let def = ctx.catalog.table(ctx.store, ns, table).await?;
    let conditions = match op.filter {
        Filter::Where(terms) => conditions(&def, terms)?,
        Filter::Key(segments) => key_conditions(&def, segments, false)?,
        Filter::All => Vec::new(),
    };
    if let Some(fields) = &op.fields {
        for name in fields {
            def.column(name).ok_or_else(|| unknown_column(&def, name, "fields"))?;
        }
    }
    check_sort(&def, op.sort)?;
    let page_size = page_len(op.page_size, ctx.limits.default_page_size, ctx.limits.max_page_size)?;
    // Only a cursor in or out needs the fingerprint: most reads (a key, one page) skip the hash.
    let fingerprint = || page::fingerprint(&def, &format!("{:?} sort {:?}", op.filter, op.sort));
    let order = read_order(&def, op.sort);
    let after = op.page_state.map(|s| page::decode(&order, &fingerprint(), s)).transpose()?;
    let select = Select { now_ms: now_ms(), conditions, order, after, limit: page_size + 1 };
    let mut rows = ctx.store.select(ns, &def, &select).await.map_err(|e| ctx.stale(ns, e))?;
    let more = rows.len() > page_size as usize;
    rows.truncate(page_size as usize);
    let next = match (more, rows.last()) {
        (true, Some(last)) => Some(page::encode(&fingerprint(), &order_values(&def, &select.order, last))),
        _ => None,
    };
    Ok(RowPage { def, rows, fields: op.fields, next })
}

/// Where a write's primary key comes from.
#[derive(Debug, Clone)]
pub enum RowKey<'a> {
    /// Among the written columns (REST `POST`, GraphQL insert).
    InColumns,
    /// The full key as path text, in key order (REST `PUT`/`PATCH`).
    Path(&'a [String]),
    /// The full key as JSON values by column (GraphQL update).
    Values(Vec<(String, Json)>),
}

/// A write of one row.
#[derive(Debug, Clone)]
pub struct WriteRow<'a> {
    /// Where the key is.
    pub key: RowKey<'a>,
    /// Column values as the client gave them.
    pub columns: Vec<(String, Json)>,
    /// Seconds the row lives (0: for ever); the table's default when `None`.
    pub ttl: Option<i64>,
    /// When the write applies.
    pub condition: WriteIf,
}

/// What a write did.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// False when its condition did not hold (nothing was written).
    pub applied: bool,
    /// The row's primary key, in key order.
    pub key: Vec<(String, Value)>,
}

/// Writes one row, atomically with its condition.
pub async fn write(ctx: &Ctx<'_>, ns: &Namespace, table: &str, w: WriteRow<'_>) -> Result<Written, Fault> {
    let def = ctx.catalog.table(ctx.store, ns, table).await?;
    if w.condition != WriteIf::Always && def.is_counter_table() {
        return Err(Fault::Invalid("counter tables take no ifNotExists/ifExists".to_owned()));
    }
    let need_key = matches!(w.key, RowKey::InColumns) || w.condition == WriteIf::Present;
    let key = match w.key {
        RowKey::InColumns => Vec::new(),
        RowKey::Path(segments) => {
            if let Some((k, _)) = w.columns.iter().find(|(k, _)| def.is_key(k)) {
                return Err(Fault::Invalid(format!(
                    "'{k}' is a primary-key column: give it in the path, not the body"
                )));
            }
            key_values(key_conditions(&def, segments, true)?)
        }
        RowKey::Values(values) => typed(&def, values)?,
    };
    let mut upsert = row_upsert(&def, w.ttl, key, w.columns, need_key)?;
    upsert.condition = w.condition;
    let n = ctx.store.upsert(ns, &def, std::slice::from_ref(&upsert)).await.map_err(|e| ctx.stale(ns, e))?;
    Ok(Written { applied: w.condition == WriteIf::Always || n > 0, key: key_of(&def, upsert) })
}

/// Rows in one batch at most: a bound on transaction size and request time.
pub const MAX_BATCH_ROWS: usize = 1000;

/// Upserts many rows (each with its key among its columns), all or nothing;
/// returns their keys.
pub async fn write_batch(
    ctx: &Ctx<'_>,
    ns: &Namespace,
    table: &str,
    rows: Vec<Vec<(String, Json)>>,
    ttl: Option<i64>,
) -> Result<Vec<Vec<(String, Value)>>, Fault> {
    let def = ctx.catalog.table(ctx.store, ns, table).await?;
    if rows.is_empty() || rows.len() > MAX_BATCH_ROWS {
        return Err(Fault::Invalid(format!("a batch holds 1 to {MAX_BATCH_ROWS} rows, got {}", rows.len())));
    }
    let mut upserts = Vec::with_capacity(rows.len());
    for (i, columns) in rows.into_iter().enumerate() {
        let row = row_upsert(&def, ttl, Vec::new(), columns, true).map_err(|e| match e {
            Fault::Invalid(m) => Fault::Invalid(format!("rows[{i}]: {m}")),
            other => other,
        })?;
        upserts.push(row);
    }
    ctx.store.upsert(ns, &def, &upserts).await.map_err(|e| ctx.stale(ns, e))?;
    Ok(upserts.into_iter().map(|u| key_of(&def, u)).collect())
}

/// Deletes what a key (or a key prefix, from path text) selects; returns how many rows went.
pub async fn delete(ctx: &Ctx<'_>, ns: &Namespace, table: &str, key: RowKey<'_>) -> Result<u64, Fault> {
    let def = ctx.catalog.table(ctx.store, ns, table).await?;
    let conditions = match key {
        RowKey::Path(segments) => key_conditions(&def, segments, false)?,
        RowKey::Values(values) => typed(&def, values)?
            .into_iter()
            .map(|(column, v)| Condition { column, op: Op::Eq, values: vec![v] })
            .collect(),
        RowKey::InColumns => return Err(Fault::Internal("a delete names its key".to_owned())),
    };
    ctx.store.delete(ns, &def, &conditions).await.map_err(|e| ctx.stale(ns, e))
}

/// Most values one read may bind in total (`$in`/`$nin` lists included):
/// far below both stores' bound-parameter limits (SQLite 32766, PostgreSQL
/// 65535), so a long list is the client's 400, not the store's 500.
pub const MAX_WHERE_VALUES: usize = 1000;

/// Types the terms against the table's columns.
pub fn conditions(def: &TableDef, terms: &[Term]) -> Result<Vec<Condition>, Fault> {
    let mut out = Vec::with_capacity(terms.len());
    for t in terms {
        let col = def.column(&t.column).ok_or_else(|| unknown_column(def, &t.column, "where"))?;
        let bad = |m: String| Fault::Invalid(format!("where.{}.{}: {m}", t.column, t.op.name()));
        if let Json::Array(items) = &t.operand {
            if items.len() > MAX_WHERE_VALUES {
                return Err(bad(format!("takes at most {MAX_WHERE_VALUES} values, got {}", items.len())));
            }
        }
        let values = condition_values(col.ty, t.op, &t.operand).map_err(bad)?;
        out.push(Condition { column: t.column.clone(), op: t.op, values });
    }
    let total: usize = out.iter().map(|c| c.values.len()).sum();
    if total > MAX_WHERE_VALUES {
        return Err(Fault::Invalid(format!(
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

/// Primary-key path text as equality conditions. Reads may give the
/// partition key plus a clustering prefix; `full` demands the whole key.
pub fn key_conditions(def: &TableDef, segments: &[String], full: bool) -> Result<Vec<Condition>, Fault> {
    let order = def.key_order();
    let min = if full { order.len() } else { def.partition_key.len() };
    if segments.len() < min || segments.len() > order.len() {
        let names: Vec<&str> = order.iter().map(|(c, _)| c.name.as_str()).collect();
        let expected = if min == order.len() { format!("{min}") } else { format!("{min} to {}", order.len()) };
        return Err(Fault::Invalid(format!(
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
            let ty =
                col.ty.scalar().ok_or_else(|| Fault::Internal(format!("key column {} is a collection", col.name)))?;
            let v = Value::from_text(ty, seg).map_err(|e| Fault::Invalid(format!("key column {}: {e}", col.name)))?;
            Ok(Condition { column: col.name.clone(), op: Op::Eq, values: vec![v] })
        })
        .collect()
}

fn key_values(conditions: Vec<Condition>) -> Vec<(String, Value)> {
    conditions.into_iter().filter_map(|c| c.values.into_iter().next().map(|v| (c.column, v))).collect()
}

/// JSON values by column, typed by the table.
fn typed(def: &TableDef, values: Vec<(String, Json)>) -> Result<Vec<(String, Value)>, Fault> {
    values
        .into_iter()
        .map(|(column, json)| {
            let col = def.column(&column).ok_or_else(|| unknown_column(def, &column, "key"))?;
            let v = Value::of(col.ty, &json).map_err(|e| Fault::Invalid(format!("column {column}: {e}")))?;
            Ok((column, v))
        })
        .collect()
}

/// The key columns of a written row.
fn key_of(def: &TableDef, row: Upsert) -> Vec<(String, Value)> {
    row.values.into_iter().filter(|(c, _)| def.is_key(c)).collect()
}

fn row_upsert_at(
    def: &TableDef,
    mut values: Vec<(String, Value)>,
    entries: Vec<(String, Json)>,
    need_key: bool,
) -> Result<Upsert, Fault> {
    if entries.is_empty() && !need_key {
        return Err(Fault::Invalid("request body names no column to write".to_owned()));
    }
    for (column, json) in entries {
        let col = def.column(&column).ok_or_else(|| unknown_column(def, &column, "request body"))?;
        let v = Value::of(col.ty, &json).map_err(|e| Fault::Invalid(format!("column {column}: {e}")))?;
        values.push((column, v));
    }
    for (col, _) in def.key_order() {
        match values.iter().find(|(c, _)| *c == col.name) {
            Some((_, Value::Null)) => {
                return Err(Fault::Invalid(format!("primary-key column {} must not be null", col.name)))
            }
            Some(_) => {}
            None => return Err(Fault::Invalid(format!("primary-key column {} is missing", col.name))),
        }
    }
    // Key columns first: stores rely on it for their conflict target.
    values.sort_by_key(|(c, _)| !def.is_key(c));
    Ok(Upsert { values, expires_ms: None, now_ms: 0, condition: WriteIf::Always })
}

/// A TTL in seconds as a client gave it, checked.
pub fn ttl_seconds(ttl: Option<i64>) -> Result<Option<u64>, Fault> {
    match ttl {
        None => Ok(None),
        Some(n) if (0..=MAX_TTL_SECONDS as i64).contains(&n) => Ok(Some(n as u64)),
        Some(n) => Err(Fault::Invalid(format!("ttl must be whole seconds from 0 to {MAX_TTL_SECONDS}, got '{n}'"))),
    }
}

/// The row expiry a write asks for: `ttl` seconds (0 = none), else the
/// table's default TTL.
fn expiry(def: &TableDef, ttl: Option<i64>, now: i64) -> Result<Option<i64>, Fault> {
    let ttl = match ttl_seconds(ttl)? {
        Some(n) => Some(n),
        None => def.default_ttl.map(u64::from),
    };
    match ttl {
        None | Some(0) => Ok(None),
        Some(_) if def.is_counter_table() => Err(Fault::Invalid("counter tables do not take a ttl".to_owned())),
        Some(_) if !def.expiry => {
            Err(Fault::Invalid(format!("table {} was created before TTL support; recreate it to use ttl", def.name)))
        }
        Some(n) => Ok(Some(now + (n as i64) * 1000)),
    }
}

/// A row upsert for a write (key values, column values, TTL).
fn row_upsert(
    def: &TableDef,
    ttl: Option<i64>,
    key: Vec<(String, Value)>,
    entries: Vec<(String, Json)>,
    need_key: bool,
) -> Result<Upsert, Fault> {
    let now = now_ms();
    let mut upsert = row_upsert_at(def, key, entries, need_key)?;
    upsert.expires_ms = expiry(def, ttl, now)?;
    upsert.now_ms = now;
    Ok(upsert)
}

/// The rows per page a read asks for, between 1 and `max`.
pub fn page_len(requested: Option<i64>, default: u32, max: u32) -> Result<u32, Fault> {
    match requested {
        None => Ok(default.min(max)),
        Some(n) if (1..=i64::from(max)).contains(&n) => Ok(n as u32),
        Some(n) => Err(Fault::Invalid(format!("page-size must be an integer from 1 to {max}, got '{n}'"))),
    }
}

/// Checks client sort columns: known and sortable.
pub fn check_sort(def: &TableDef, sort: &[(String, Order)]) -> Result<(), Fault> {
    for (column, _) in sort {
        let col = def.column(column).ok_or_else(|| unknown_column(def, column, "sort"))?;
        if col.ty.scalar().is_none() {
            return Err(Fault::Invalid(format!("sort.{column}: a {} column cannot be sorted on", col.ty)));
        }
    }
    Ok(())
}

fn unknown_column(def: &TableDef, name: &str, place: &str) -> Fault {
    let names: Vec<&str> = def.columns.iter().map(|c| c.name.as_str()).collect();
    Fault::Invalid(format!("unknown column '{name}' in {place}: table {} has {}", def.name, names.join(", ")))
}

/// A row (values in `def.columns` order) as the JSON object clients get; with
/// `compact` false, maps come as `[{"key": .., "value": ..}]` (Stargate's `compactMapData=false`).
pub fn row_json(def: &TableDef, row: &[Value], fields: Option<&[String]>, compact: bool) -> Json {
    let mut out = Map::with_capacity(fields.map_or(def.columns.len(), <[String]>::len));
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
fn order_values(def: &TableDef, order: &[OrderColumn], row: &[Value]) -> Vec<Value> {
    order
        .iter()
        .filter_map(|o| def.columns.iter().position(|c| c.name == o.column.name).and_then(|i| row.get(i).cloned()))
        .collect()
}

#[cfg(test)]
mod tests;
