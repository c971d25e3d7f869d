//! SQL differences for PostgreSQL: names, column types, and the `jsonb`
//! expressions (`#>`, `jsonb_typeof`, containment) document search uses.

use crate::doc::filter::{Comparison, Filter};
use crate::doc::path::Segment;
use crate::model::{ColumnType, DataType, Namespace, TableDef};
use crate::plan::Op;
use crate::store::docsql::{element_or_value, plain_keys, step_text, wildcard};
use crate::store::sql::{self, Binder, Dialect, Param, Untranslatable};
use crate::value::Value;
use serde_json::Value as Json;

/// SQL differences for PostgreSQL.
pub struct PgDialect;

impl Dialect for PgDialect {
    fn name(&self) -> &'static str {
        "postgres"
    }
    fn param(&self, n: usize) -> String {
        format!("${n}")
    }
    fn param_into(&self, out: &mut String, n: usize) {
        use std::fmt::Write;
        out.push('$');
        let _ = write!(out, "{n}");
    }
    fn column_into(&self, out: &mut String, name: &str) {
        sql::quote_into(out, name);
    }
    fn table(&self, ns: &Namespace, table: &str) -> String {
        let mut out = String::with_capacity(table.len() + 28);
        sql::quote_into(&mut out, &ns.physical());
        out.push('.');
        sql::quote_into(&mut out, table);
        out
    }
    fn column_type(&self, ty: ColumnType) -> &'static str {
        match ty {
            ColumnType::Text | ColumnType::Ascii => "text",
            ColumnType::Boolean => "boolean",
            ColumnType::Tinyint | ColumnType::Smallint => "smallint",
            ColumnType::Int => "integer",
            ColumnType::Bigint | ColumnType::Counter => "bigint",
            ColumnType::Float => "real",
            ColumnType::Double => "double precision",
            ColumnType::Uuid | ColumnType::Timeuuid => "uuid",
            ColumnType::Timestamp => "timestamptz",
            ColumnType::Date => "date",
            ColumnType::Time => "time",
            ColumnType::Blob => "bytea",
            ColumnType::Inet => "inet",
            ColumnType::Decimal | ColumnType::Varint => "numeric",
        }
    }
    fn bigint(&self) -> &'static str {
        "bigint"
    }
    fn collection_type(&self) -> &'static str {
        "jsonb"
    }
    fn collection_condition(
        &self,
        col: &str,
        ty: DataType,
        op: Op,
        values: &[Value],
        bind: &mut dyn FnMut(Value) -> String,
    ) -> String {
        let first = values.first().cloned().unwrap_or(Value::Null);
        match (op, ty) {
            // jsonb containment: served by a GIN index when one exists.
            (Op::Contains, DataType::List(_) | DataType::Set(_)) => {
                format!("{col} @> {}", bind(Value::Json(serde_json::Value::Array(vec![first.to_json()]))))
            }
            (Op::Contains, _) => {
                format!(
                    "EXISTS (SELECT 1 FROM jsonb_each({col}) AS e WHERE e.value = {})",
                    bind(Value::Json(first.to_json()))
                )
            }
            (Op::ContainsKey, _) => format!("{col} ? {}", bind(Value::Text(sql::map_key_text(&first)))),
            _ => {
                let mut entry = serde_json::Map::new();
                entry.insert(sql::map_key_text(&first), values.get(1).map_or(serde_json::Value::Null, Value::to_json));
                format!("{col} @> {}", bind(Value::Json(serde_json::Value::Object(entry))))
            }
        }
    }
    fn index_names(&self, ns: &Namespace, def: &TableDef, index: &str) -> (String, String) {
        // Indexes live in their table's schema; PostgreSQL caps names at 63 bytes.
        let name = sql::index_ident("", def, index);
        (name.clone(), format!("{}.{name}", sql::quote(&ns.physical())))
    }
    fn primary_key_name(&self, table: &str) -> Option<String> {
        // PostgreSQL would call it `<table>_pkey`, a relation in the schema that
        // a later table of that name would collide with; '#' is never in a table name.
        Some(sql::quote(&format!("{table}#pk")))
    }
    fn upsert_target(&self, ns: &Namespace, table: &str) -> (String, String) {
        // A schema-qualified target needs an alias for DO UPDATE to name the existing row.
        (format!("{} AS cur", self.table(ns, table)), "cur".to_owned())
    }

    fn doc_param(&self, n: usize, p: &Param) -> String {
        // Every placeholder carries a cast: it fixes the parameter's type, which
        // the JSON operators around it would otherwise leave ambiguous.
        let cast = match p {
            Param::Text(_) => "::text",
            Param::Int(_) => "::bigint",
            Param::Real(_) => "::float8",
            Param::Json(_) => "::jsonb",
            Param::Path(_) => "::text[]",
            Param::JsonList(_) => "::jsonb[]",
        };
        format!("${n}{cast}")
    }
    fn doc_condition(&self, b: &mut Binder<'_>, path: &[Segment], op: &Comparison) -> Result<String, Untranslatable> {
        Ok(leaf(b, "doc", path, op))
    }
    fn doc_sort_key(&self, b: &mut Binder<'_>, path: &[Segment]) -> Result<(String, String), Untranslatable> {
        let x = at(b, "doc", path);
        Ok((
            format!(
                "CASE jsonb_typeof({x}) WHEN 'number' THEN 0 WHEN 'string' THEN 1 WHEN 'boolean' THEN 2 \
                 WHEN 'array' THEN 3 WHEN 'object' THEN 4 ELSE 5 END"
            ),
            format!("COALESCE({x}, 'null'::jsonb)"),
        ))
    }
    fn doc_cursor_value(&self, v: &Json) -> Option<Param> {
        // Sort values are `jsonb`, which orders every JSON value.
        Some(Param::Json(v.clone()))
    }
    /// `(doc #> '{a,b}')`: the path is spliced in as a literal, since an
    /// expression index only serves a query that spells the same one.
    fn doc_index_expr(&self, path: &[Segment]) -> Option<String> {
        let keys = plain_keys(path)?;
        Some(format!("(doc #> '{{{}}}')", keys.join(",")))
    }
    fn doc_probe(&self, b: &mut Binder<'_>, x: &str, sym: &str, v: &Json) -> String {
        format!("{x} {sym} {}", b.bind(Param::Json(v.clone())))
    }
    fn doc_probe_in(&self, b: &mut Binder<'_>, x: &str, vs: &[Json]) -> String {
        format!("{x} = ANY({})", b.bind(Param::JsonList(vs.to_vec())))
    }
    fn doc_candidates(&self, b: &mut Binder<'_>, table: &str, filter: &Filter) -> String {
        // With equality on plain paths, first collect the candidates the GIN
        // index finds (`OFFSET 0` keeps the planner from merging the subquery);
        // otherwise it tends to walk the id index in order, filtering, which
        // costs O(collection) when matches are rare.
        let probes = probes(filter);
        if probes.is_empty() {
            return table.to_owned();
        }
        let conds: Vec<String> = probes
            .into_iter()
            .map(|any| {
                let alts: Vec<String> = any.into_iter().map(|p| format!("doc @> {}", b.bind(Param::Json(p)))).collect();
                if alts.len() == 1 {
                    alts.join("")
                } else {
                    format!("({})", alts.join(" OR "))
                }
            })
            .collect();
        format!("(SELECT * FROM {table} WHERE {} OFFSET 0) AS d", conds.join(" AND "))
    }
}

fn at(b: &mut Binder<'_>, base: &str, path: &[Segment]) -> String {
    if path.is_empty() {
        return base.to_owned();
    }
    let p = b.bind(Param::Path(path.iter().map(step_text).collect()));
    format!("({base} #> {p})")
}

fn op(b: &mut Binder<'_>, x: &str, op: &Comparison) -> String {
    let ordered = |b: &mut Binder<'_>, sym: &str, v: &Json| {
        let ty = if v.is_number() { "number" } else { "string" };
        let p = b.bind(Param::Json(v.clone()));
        format!("(jsonb_typeof({x}) = '{ty}' AND {x} {sym} {p})")
    };
    let inner = match op {
        Comparison::Eq(v) => format!("{x} = {}", b.bind(Param::Json(v.clone()))),
        Comparison::Ne(v) => format!("{x} <> {}", b.bind(Param::Json(v.clone()))),
        Comparison::Lt(v) => ordered(b, "<", v),
        Comparison::Lte(v) => ordered(b, "<=", v),
        Comparison::Gt(v) => ordered(b, ">", v),
        Comparison::Gte(v) => ordered(b, ">=", v),
        Comparison::Exists(_) => format!("{x} IS NOT NULL"),
        Comparison::In(vs) => format!("{x} = ANY({})", b.bind(Param::JsonList(vs.clone()))),
        Comparison::Nin(vs) => format!("NOT ({x} = ANY({}))", b.bind(Param::JsonList(vs.clone()))),
    };
    format!("COALESCE({inner}, false)")
}

/// Whether a search with this filter looks for candidates through the GIN index.
pub(super) fn has_probes(f: &Filter) -> bool {
    !probes(f).is_empty()
}

/// Containment probes (`doc @> {"a":{"b":v}}`) implied by the filter's top-level
/// equality conditions on plain key paths: candidates the GIN index can find.
/// Containment probes the GIN index answers, each a list of alternatives
/// (one matching is enough): a top-level `$eq` on plain keys, and an
/// [`element_or_value`] term as "contains `{path: v}` or `{path: [v]}`" per
/// value (nested, `@>` matches a scalar only with a scalar, an array element
/// only through an array).
fn probes(f: &Filter) -> Vec<Vec<Json>> {
    let nest = |path: &[Segment], v: Json| path.iter().rev().fold(v, |acc, s| serde_json::json!({ step_text(s): acc }));
    match f {
        Filter::Leaf(path, Comparison::Eq(v))
            if path.iter().all(|s| matches!(s, Segment::Key(_))) && !path.is_empty() =>
        {
            vec![vec![nest(path, v.clone())]]
        }
        Filter::And(fs) => fs.iter().flat_map(probes).collect(),
        f => match element_or_value(f) {
            Some((path, vs)) => {
                vec![vs
                    .iter()
                    .flat_map(|v| [nest(path, v.clone()), nest(path, Json::Array(vec![v.clone()]))])
                    .collect()]
            }
            None => Vec::new(),
        },
    }
}

fn leaf(b: &mut Binder<'_>, base: &str, path: &[Segment], cmp: &Comparison) -> String {
    let Some(i) = path.iter().position(wildcard) else {
        let x = at(b, base, path);
        return op(b, &x, cmp);
    };
    let x = at(b, base, &path[..i]);
    let a = b.alias();
    let (func, ty, cols) = match path[i] {
        Segment::AnyKey => ("jsonb_each", "object", format!("{a}(k, v)")),
        _ => ("jsonb_array_elements", "array", format!("{a}(v)")),
    };
    let inner = leaf(b, &format!("{a}.v"), &path[i + 1..], cmp);
    format!("EXISTS (SELECT 1 FROM {func}(CASE WHEN jsonb_typeof({x}) = '{ty}' THEN {x} END) AS {cols} WHERE {inner})")
}
