//! SQL differences for SQLite: names, column types, and the JSON1
//! expressions (`json_type`, `json_extract`, `json_each`) document search uses.

use super::names;
use crate::doc::filter::Comparison;
use crate::doc::path::Segment;
use crate::model::{ColumnType, DataType, Namespace, TableDef};
use crate::plan::Op;
use crate::store::docsql::{plain_keys, wildcard};
use crate::store::sql::{self, Binder, Dialect, Param, Untranslatable};
use crate::value::Value;
use serde_json::Value as Json;

/// SQL differences for SQLite.
pub struct SqliteDialect;

impl Dialect for SqliteDialect {
    fn name(&self) -> &'static str {
        "sqlite"
    }
    fn param(&self, n: usize) -> String {
        format!("?{n}")
    }
    fn param_into(&self, out: &mut String, n: usize) {
        use std::fmt::Write;
        out.push('?');
        let _ = write!(out, "{n}");
    }
    fn table(&self, ns: &Namespace, table: &str) -> String {
        sql::quote(&format!("{}__{}", ns.physical(), names::physical(table)))
    }
    fn column(&self, name: &str) -> String {
        sql::quote(&names::physical(name))
    }
    fn column_type(&self, ty: ColumnType) -> &'static str {
        match ty {
            ColumnType::Boolean
            | ColumnType::Tinyint
            | ColumnType::Smallint
            | ColumnType::Int
            | ColumnType::Bigint
            | ColumnType::Counter => "INTEGER",
            ColumnType::Float | ColumnType::Double => "REAL",
            // Uuids in canonical text and timestamps in one fixed-width format
            // sort as text in the same order as their values.
            ColumnType::Text
            | ColumnType::Ascii
            | ColumnType::Uuid
            | ColumnType::Timeuuid
            | ColumnType::Timestamp
            | ColumnType::Date
            | ColumnType::Time
            | ColumnType::Inet => "TEXT",
            ColumnType::Blob => "BLOB",
            // Text compared and sorted as exact numbers by the DG_DECIMAL collation.
            ColumnType::Decimal | ColumnType::Varint => "TEXT COLLATE DG_DECIMAL",
        }
    }
    fn table_suffix(&self) -> &'static str {
        " WITHOUT ROWID, STRICT"
    }
    fn bigint(&self) -> &'static str {
        "INTEGER"
    }
    fn collection_type(&self) -> &'static str {
        "TEXT"
    }
    fn collection_condition(
        &self,
        col: &str,
        _ty: DataType,
        op: Op,
        values: &[Value],
        bind: &mut dyn FnMut(Value) -> String,
    ) -> String {
        // json_each walks list/set elements and map values alike; its `value`
        // is the SQL form of each JSON scalar, which is how our values bind.
        let first = values.first().cloned().unwrap_or(Value::Null);
        match op {
            Op::ContainsKey => {
                format!(
                    "EXISTS (SELECT 1 FROM json_each({col}) WHERE key = {})",
                    bind(Value::Text(sql::map_key_text(&first)))
                )
            }
            Op::ContainsEntry => {
                let key = bind(Value::Text(sql::map_key_text(&first)));
                let value = bind(values.get(1).cloned().unwrap_or(Value::Null));
                format!("EXISTS (SELECT 1 FROM json_each({col}) WHERE key = {key} AND value = {value})")
            }
            _ => format!("EXISTS (SELECT 1 FROM json_each({col}) WHERE value = {})", bind(first)),
        }
    }
    fn upsert_target(&self, ns: &Namespace, table: &str) -> (String, String) {
        let name = self.table(ns, table);
        (name.clone(), name)
    }
    fn index_names(&self, ns: &Namespace, def: &TableDef, index: &str) -> (String, String) {
        // SQLite index names are global to the file: prefix them like tables.
        let name = sql::index_ident(&format!("{}__", ns.physical()), def, index);
        (name.clone(), name)
    }

    fn doc_condition(&self, b: &mut Binder<'_>, path: &[Segment], op: &Comparison) -> Result<String, Untranslatable> {
        leaf(b, None, path, op)
    }
    fn doc_sort_key(&self, b: &mut Binder<'_>, path: &[Segment]) -> Result<(String, String), Untranslatable> {
        let pe = at(b, None, path)?;
        Ok((
            format!(
                "CASE json_type(doc, {pe}) WHEN 'integer' THEN 0 WHEN 'real' THEN 0 WHEN 'text' THEN 1 \
                 WHEN 'true' THEN 2 WHEN 'false' THEN 2 WHEN 'array' THEN 3 WHEN 'object' THEN 4 ELSE 5 END"
            ),
            format!("COALESCE(json_extract(doc, {pe}), 0)"),
        ))
    }
    fn doc_cursor_value(&self, v: &Json) -> Option<Param> {
        // `json_extract` yields SQL numbers and text; other values sort by rank alone.
        match v {
            Json::Number(n) => {
                Some(n.as_i64().map(Param::Int).unwrap_or_else(|| Param::Real(n.as_f64().unwrap_or(0.0))))
            }
            Json::String(s) => Some(Param::Text(s.clone())),
            _ => None,
        }
    }
    /// `json_extract(doc, '$."a"."b"')`: the path is spliced in as a literal,
    /// since an expression index only serves a query that spells the same one.
    fn doc_index_expr(&self, path: &[Segment]) -> Option<String> {
        Some(format!("json_extract(doc, {})", json_path_literal(path)?))
    }
    fn doc_probe(&self, b: &mut Binder<'_>, x: &str, sym: &str, v: &Json) -> String {
        format!("{x} {sym} {}", scalar(b, v))
    }
    fn doc_probe_in(&self, b: &mut Binder<'_>, x: &str, vs: &[Json]) -> String {
        let list: Vec<String> = vs.iter().map(|v| scalar(b, v)).collect();
        format!("{x} IN ({})", list.join(", "))
    }
    /// `x IN (..) OR (t = 'array' AND EXISTS (.. json_each .. IN (..)))`, `x`
    /// and `t` being the two expressions [`super::index`] indexes a path on:
    /// each side of the OR is one index lookup, so SQLite answers it as a
    /// MULTI-INDEX OR (the union of both) instead of a scan. Booleans bind as
    /// the 1 and 0 JSON1 reads them as (a number 1 then passes the probe too;
    /// the full condition still decides).
    fn doc_probe_any(&self, b: &mut Binder<'_>, path: &[Segment], vs: &[Json]) -> Option<String> {
        let x = self.doc_index_expr(path)?;
        let t = doc_type_expr(path)?;
        let list: Vec<String> = vs
            .iter()
            .map(|v| match v {
                Json::Bool(on) => b.bind(Param::Int(i64::from(*on))),
                v => scalar(b, v),
            })
            .collect();
        let list = list.join(", ");
        let lit = json_path_literal(path)?;
        Some(format!(
            "({x} IN ({list}) OR ({t} = 'array' AND EXISTS (SELECT 1 FROM json_each(doc, {lit}) WHERE value IN ({list}))))"
        ))
    }
}

/// `'$."a"."b"'`: a plain path as the SQL literal an index expression spells.
fn json_path_literal(path: &[Segment]) -> Option<String> {
    let keys = plain_keys(path)?;
    Some(format!("'${}'", keys.iter().map(|k| format!(".\"{k}\"")).collect::<String>()))
}

/// `json_type(doc, '$."a"."b"')`: the expression of a path's array index
/// (see [`super::index`]); spliced like [`Dialect::doc_index_expr`]'s.
pub(super) fn doc_type_expr(path: &[Segment]) -> Option<String> {
    Some(format!("json_type(doc, {})", json_path_literal(path)?))
}

/// Binds a string or a number as the SQL value `json_extract` yields for it.
fn scalar(b: &mut Binder<'_>, v: &Json) -> String {
    match v {
        Json::String(s) => b.bind(Param::Text(s.clone())),
        v => b.number(v),
    }
}

/// A SQLite JSON path for wildcard-free steps (no leading `$`).
fn suffix(path: &[Segment]) -> Result<String, Untranslatable> {
    let mut out = String::new();
    for s in path {
        match s {
            // SQLite's quoted labels have no escape for '"'.
            Segment::Key(k) if k.contains('"') => {
                return Err(Untranslatable(format!("path key '{k}' contains '\"', which this store cannot address")))
            }
            Segment::Key(k) => out.push_str(&format!(".\"{k}\"")),
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
            Segment::AnyIndex | Segment::AnyKey => {}
        }
    }
    Ok(out)
}

/// `base` is an SQL expression for a JSON path text (`None`: the document root).
fn at(b: &mut Binder<'_>, base: Option<&str>, path: &[Segment]) -> Result<String, Untranslatable> {
    let suffix = suffix(path)?;
    Ok(match base {
        None => b.bind(Param::Text(format!("${suffix}"))),
        Some(base) if path.is_empty() => base.to_owned(),
        Some(base) => format!("({base} || {})", b.bind(Param::Text(suffix))),
    })
}

fn op(b: &mut Binder<'_>, pe: &str, op: &Comparison) -> String {
    let t = format!("json_type(doc, {pe})");
    let v = format!("json_extract(doc, {pe})");
    let cmp = |b: &mut Binder<'_>, sym: &str, x: &Json| match x {
        Json::Number(_) => format!("({t} IN ('integer', 'real') AND {v} {sym} {})", b.number(x)),
        Json::String(s) => format!("({t} = 'text' AND {v} {sym} {})", b.bind(Param::Text(s.clone()))),
        Json::Bool(true) => format!("{t} = 'true'"),
        Json::Bool(false) => format!("{t} = 'false'"),
        _ => format!("{t} = 'null'"),
    };
    let any = |b: &mut Binder<'_>, xs: &[Json]| xs.iter().map(|x| cmp(b, "=", x)).collect::<Vec<_>>().join(" OR ");
    let inner = match op {
        Comparison::Eq(x) => cmp(b, "=", x),
        Comparison::Ne(x) => format!("{t} IS NOT NULL AND NOT {}", cmp(b, "=", x)),
        Comparison::Lt(x) => cmp(b, "<", x),
        Comparison::Lte(x) => cmp(b, "<=", x),
        Comparison::Gt(x) => cmp(b, ">", x),
        Comparison::Gte(x) => cmp(b, ">=", x),
        Comparison::Exists(_) => format!("{t} IS NOT NULL"),
        Comparison::In(xs) => any(b, xs),
        Comparison::Nin(xs) => format!("{t} IS NOT NULL AND NOT ({})", any(b, xs)),
    };
    format!("COALESCE(({inner}), 0)")
}

fn leaf(b: &mut Binder<'_>, base: Option<&str>, path: &[Segment], cmp: &Comparison) -> Result<String, Untranslatable> {
    let Some(i) = path.iter().position(wildcard) else {
        let pe = at(b, base, path)?;
        return Ok(op(b, &pe, cmp));
    };
    let pe = at(b, base, &path[..i])?;
    let a = b.alias();
    let ty = if path[i] == Segment::AnyKey { "object" } else { "array" };
    // `fullkey` is each element's path from the document root, so the rest of
    // the path is addressed on the document itself (an element may be a scalar).
    let inner = leaf(b, Some(&format!("{a}.fullkey")), &path[i + 1..], cmp)?;
    Ok(format!("EXISTS (SELECT 1 FROM json_each(doc, {pe}) AS {a} WHERE json_type(doc, {pe}) = '{ty}' AND {inner})"))
}
