//! Document search translated to SQL for SQLite (JSON1) and PostgreSQL
//! (`jsonb`). Pure: a [`DocSearch`] in, statement text plus bound parameters
//! out. Paths, values and cursors are always parameters; the only text spliced
//! in is the collection's quoted table name and aliases generated here.
//!
//! Every leaf is made two-valued (`COALESCE(.., false)`), so `$not` of a
//! condition on a missing path matches, as [`crate::doc::filter::matches`] says.

use crate::doc::filter::{Comparison, Dir, Filter};
use crate::doc::path::{Path, Segment};
use serde_json::Value as Json;

/// A bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// Text.
    Text(String),
    /// 64-bit integer.
    Int(i64),
    /// Double.
    Real(f64),
    /// A JSON value (`jsonb` on PostgreSQL).
    Json(Json),
    /// A `#>` path (`text[]` on PostgreSQL).
    Path(Vec<String>),
    /// A list of JSON values (`jsonb[]`).
    JsonList(Vec<Json>),
}

/// Statement text and its parameters, numbered from 1 in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// SQL.
    pub sql: String,
    /// Parameters.
    pub params: Vec<Param>,
}

/// Which SQL to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// SQLite with JSON1; documents are JSON text.
    Sqlite,
    /// PostgreSQL; documents are `jsonb`.
    Postgres,
}

/// One search page.
#[derive(Debug, Clone)]
pub struct DocSearch<'a> {
    /// The `where` tree, if any.
    pub filter: Option<&'a Filter>,
    /// Sort paths in priority order; the document id breaks ties.
    pub sort: &'a [(Path, Dir)],
    /// The last page's final sort key (see [`key_len`]), if continuing.
    pub after: Option<&'a [Json]>,
    /// Rows to return (the caller asks one more to learn whether a next page exists).
    pub limit: u32,
    /// Now, for expiry.
    pub now_ms: i64,
}

/// How many values a cursor holds: a type rank and a value per sort path, then the id.
pub fn key_len(sort: &[(Path, Dir)]) -> usize {
    sort.len() * 2 + 1
}

/// A translation failure the client caused (the store reports it as a 400).
#[derive(Debug, Clone, PartialEq)]
pub struct Untranslatable(pub String);

struct Builder {
    flavor: Flavor,
    params: Vec<Param>,
    aliases: usize,
}

impl Builder {
    fn bind(&mut self, p: Param) -> String {
        let cast = match (&p, self.flavor) {
            (_, Flavor::Sqlite) => "",
            (Param::Text(_), _) => "::text",
            (Param::Int(_), _) => "::bigint",
            (Param::Real(_), _) => "::float8",
            (Param::Json(_), _) => "::jsonb",
            (Param::Path(_), _) => "::text[]",
            (Param::JsonList(_), _) => "::jsonb[]",
        };
        self.params.push(p);
        match self.flavor {
            Flavor::Sqlite => format!("?{}", self.params.len()),
            Flavor::Postgres => format!("${}{cast}", self.params.len()),
        }
    }

    fn alias(&mut self) -> String {
        self.aliases += 1;
        format!("w{}", self.aliases)
    }

    fn number(&mut self, v: &Json) -> String {
        match v.as_i64() {
            Some(i) => self.bind(Param::Int(i)),
            None => self.bind(Param::Real(v.as_f64().unwrap_or(f64::NAN))),
        }
    }
}

fn wildcard(s: &Segment) -> bool {
    matches!(s, Segment::AnyIndex | Segment::AnyKey)
}

fn step_text(s: &Segment) -> String {
    match s {
        Segment::Key(k) => k.clone(),
        Segment::Index(i) => i.to_string(),
        Segment::AnyIndex | Segment::AnyKey => String::new(),
    }
}

/// A SQLite JSON path for wildcard-free steps (no leading `$`).
fn sqlite_suffix(path: &[Segment]) -> Result<String, Untranslatable> {
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

// ---- PostgreSQL ----

fn pg_at(b: &mut Builder, base: &str, path: &[Segment]) -> String {
    if path.is_empty() {
        return base.to_owned();
    }
    let p = b.bind(Param::Path(path.iter().map(step_text).collect()));
    format!("({base} #> {p})")
}

fn pg_op(b: &mut Builder, x: &str, op: &Comparison) -> String {
    let ordered = |b: &mut Builder, sym: &str, v: &Json| {
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

/// Containment probes (`doc @> {"a":{"b":v}}`) implied by the filter's top-level
/// equality conditions on plain key paths: candidates the GIN index can find.
fn pg_probes(f: &Filter) -> Vec<Json> {
    match f {
        Filter::Leaf(path, Comparison::Eq(v))
            if path.iter().all(|s| matches!(s, Segment::Key(_))) && !path.is_empty() =>
        {
            vec![path.iter().rev().fold(v.clone(), |acc, s| serde_json::json!({ step_text(s): acc }))]
        }
        Filter::And(fs) => fs.iter().flat_map(pg_probes).collect(),
        _ => Vec::new(),
    }
}

/// `doc #> '{a,b}'` for a path of [`indexable_key`] keys: the expression a
/// declared B-tree index is built on and the one the probes compare.
pub fn pg_index_expr(path: &[Segment]) -> Option<String> {
    let keys = plain_keys(path)?;
    Some(format!("doc #> '{{{}}}'", keys.join(",")))
}

/// The keys of a non-empty path of [`indexable_key`] keys only.
fn plain_keys(path: &[Segment]) -> Option<Vec<&str>> {
    if path.is_empty() {
        return None;
    }
    path.iter()
        .map(|s| match s {
            Segment::Key(k) if indexable_key(k) => Some(k.as_str()),
            _ => None,
        })
        .collect()
}

/// The comparison a probe makes for `op`, when it has one: `=`, a range, or a
/// list for `$in`; only with number and string values, so the probe never
/// excludes a document the condition itself would match.
fn probe_op(op: &Comparison) -> Option<(&'static str, ProbeValue<'_>)> {
    let plain = |v: &Json| v.is_number() || v.is_string();
    let (sym, v) = match op {
        Comparison::In(vs) if vs.iter().all(plain) => return Some(("IN", ProbeValue::List(vs))),
        Comparison::Eq(v) => ("=", v),
        Comparison::Lt(v) => ("<", v),
        Comparison::Lte(v) => ("<=", v),
        Comparison::Gt(v) => (">", v),
        Comparison::Gte(v) => (">=", v),
        _ => return None,
    };
    plain(v).then_some((sym, ProbeValue::One(v)))
}

enum ProbeValue<'a> {
    One(&'a Json),
    List(&'a [Json]),
}

/// Index probes implied by the filter's top-level `$eq`, `$in` and range
/// conditions on indexable paths: redundant with the conditions themselves
/// (which still decide, types included), but in the one shape an expression
/// index on the path serves (see [`sqlite_index_expr`], [`pg_index_expr`]).
/// Without such an index they cost one path lookup per row, and often save
/// the full condition.
fn index_probes(b: &mut Builder, f: &Filter, out: &mut Vec<String>) {
    match f {
        Filter::And(fs) => fs.iter().for_each(|f| index_probes(b, f, out)),
        Filter::Leaf(path, op) => {
            let expr = match b.flavor {
                Flavor::Sqlite => sqlite_index_expr(path),
                Flavor::Postgres => pg_index_expr(path).map(|e| format!("({e})")),
            };
            let (Some(x), Some((sym, value))) = (expr, probe_op(op)) else { return };
            let probe = match (b.flavor, value) {
                (Flavor::Postgres, ProbeValue::One(v)) => format!("{x} {sym} {}", b.bind(Param::Json(v.clone()))),
                (Flavor::Postgres, ProbeValue::List(vs)) => {
                    format!("{x} = ANY({})", b.bind(Param::JsonList(vs.to_vec())))
                }
                (Flavor::Sqlite, ProbeValue::One(v)) => format!("{x} {sym} {}", sqlite_value(b, v)),
                (Flavor::Sqlite, ProbeValue::List(vs)) => {
                    let list: Vec<String> = vs.iter().map(|v| sqlite_value(b, v)).collect();
                    format!("{x} IN ({})", list.join(", "))
                }
            };
            out.push(probe);
        }
        _ => {}
    }
}

fn sqlite_value(b: &mut Builder, v: &Json) -> String {
    match v {
        Json::String(s) => b.bind(Param::Text(s.clone())),
        v => b.number(v),
    }
}

fn pg_leaf(b: &mut Builder, base: &str, path: &[Segment], op: &Comparison) -> String {
    let Some(i) = path.iter().position(wildcard) else {
        let x = pg_at(b, base, path);
        return pg_op(b, &x, op);
    };
    let x = pg_at(b, base, &path[..i]);
    let a = b.alias();
    let (func, ty, cols) = match path[i] {
        Segment::AnyKey => ("jsonb_each", "object", format!("{a}(k, v)")),
        _ => ("jsonb_array_elements", "array", format!("{a}(v)")),
    };
    let inner = pg_leaf(b, &format!("{a}.v"), &path[i + 1..], op);
    format!("EXISTS (SELECT 1 FROM {func}(CASE WHEN jsonb_typeof({x}) = '{ty}' THEN {x} END) AS {cols} WHERE {inner})")
}

// ---- SQLite ----

/// Whether an object key can appear in an index expression's path literal:
/// spliced into SQL text (an expression index only matches a query that
/// spells the same literal), so only characters that need no quoting.
pub fn indexable_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= 64 && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `json_extract(doc, '$."a"."b"')` for a path of indexable keys: the
/// expression a SQLite expression index on the path is built on, and the one
/// [`search`] compares, so the planner can use that index. `None` for any
/// other path (wildcards, indexes, keys needing quotes).
pub fn sqlite_index_expr(path: &[Segment]) -> Option<String> {
    let keys = plain_keys(path)?;
    Some(format!("json_extract(doc, '${}')", keys.iter().map(|k| format!(".\"{k}\"")).collect::<String>()))
}

/// `base` is an SQL expression for a JSON path text (`None`: the document root).
fn sqlite_at(b: &mut Builder, base: Option<&str>, path: &[Segment]) -> Result<String, Untranslatable> {
    let suffix = sqlite_suffix(path)?;
    Ok(match base {
        None => b.bind(Param::Text(format!("${suffix}"))),
        Some(base) if path.is_empty() => base.to_owned(),
        Some(base) => format!("({base} || {})", b.bind(Param::Text(suffix))),
    })
}

fn sqlite_op(b: &mut Builder, pe: &str, op: &Comparison) -> String {
    let t = format!("json_type(doc, {pe})");
    let v = format!("json_extract(doc, {pe})");
    let cmp = |b: &mut Builder, sym: &str, x: &Json| match x {
        Json::Number(_) => format!("({t} IN ('integer', 'real') AND {v} {sym} {})", b.number(x)),
        Json::String(s) => format!("({t} = 'text' AND {v} {sym} {})", b.bind(Param::Text(s.clone()))),
        Json::Bool(true) => format!("{t} = 'true'"),
        Json::Bool(false) => format!("{t} = 'false'"),
        _ => format!("{t} = 'null'"),
    };
    let any = |b: &mut Builder, xs: &[Json]| xs.iter().map(|x| cmp(b, "=", x)).collect::<Vec<_>>().join(" OR ");
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

fn sqlite_leaf(
    b: &mut Builder,
    base: Option<&str>,
    path: &[Segment],
    op: &Comparison,
) -> Result<String, Untranslatable> {
    let Some(i) = path.iter().position(wildcard) else {
        let pe = sqlite_at(b, base, path)?;
        return Ok(sqlite_op(b, &pe, op));
    };
    let pe = sqlite_at(b, base, &path[..i])?;
    let a = b.alias();
    let ty = if path[i] == Segment::AnyKey { "object" } else { "array" };
    // `fullkey` is each element's path from the document root, so the rest of
    // the path is addressed on the document itself (an element may be a scalar).
    let inner = sqlite_leaf(b, Some(&format!("{a}.fullkey")), &path[i + 1..], op)?;
    Ok(format!("EXISTS (SELECT 1 FROM json_each(doc, {pe}) AS {a} WHERE json_type(doc, {pe}) = '{ty}' AND {inner})"))
}

fn filter_sql(b: &mut Builder, f: &Filter) -> Result<String, Untranslatable> {
    Ok(match f {
        Filter::And(fs) | Filter::Or(fs) => {
            let sep = if matches!(f, Filter::And(_)) { " AND " } else { " OR " };
            let parts = fs.iter().map(|f| filter_sql(b, f)).collect::<Result<Vec<_>, _>>()?;
            format!("({})", parts.join(sep))
        }
        Filter::Not(f) => format!("NOT {}", filter_sql(b, f)?),
        Filter::Leaf(path, op) => match b.flavor {
            Flavor::Postgres => pg_leaf(b, "doc", path, op),
            Flavor::Sqlite => sqlite_leaf(b, None, path, op)?,
        },
    })
}

/// Sort key expressions: (type rank, value) per path. Ranks put numbers, then
/// strings, booleans, arrays, objects, and last null or missing, in either direction.
fn sort_keys(b: &mut Builder, sort: &[(Path, Dir)]) -> Result<Vec<(String, Dir)>, Untranslatable> {
    let mut keys = Vec::new();
    for (path, dir) in sort {
        let (rank, value) = match b.flavor {
            Flavor::Postgres => {
                let x = pg_at(b, "doc", path);
                (
                    format!(
                        "CASE jsonb_typeof({x}) WHEN 'number' THEN 0 WHEN 'string' THEN 1 WHEN 'boolean' THEN 2 \
                         WHEN 'array' THEN 3 WHEN 'object' THEN 4 ELSE 5 END"
                    ),
                    format!("COALESCE({x}, 'null'::jsonb)"),
                )
            }
            Flavor::Sqlite => {
                let pe = sqlite_at(b, None, path)?;
                (
                    format!(
                        "CASE json_type(doc, {pe}) WHEN 'integer' THEN 0 WHEN 'real' THEN 0 WHEN 'text' THEN 1 \
                         WHEN 'true' THEN 2 WHEN 'false' THEN 2 WHEN 'array' THEN 3 WHEN 'object' THEN 4 ELSE 5 END"
                    ),
                    format!("COALESCE(json_extract(doc, {pe}), 0)"),
                )
            }
        };
        keys.push((rank, Dir::Asc));
        keys.push((value, *dir));
    }
    keys.push(("id".to_owned(), Dir::Asc));
    Ok(keys)
}

fn cursor_param(flavor: Flavor, position: usize, v: &Json) -> Result<Param, Untranslatable> {
    let bad = || Untranslatable("page-state is malformed or belongs to a different query".to_owned());
    // Positions alternate rank, value, ..., and end with the id.
    let is_rank = position.is_multiple_of(2);
    match (flavor, is_rank, v) {
        (_, true, Json::Number(n)) => n.as_i64().filter(|r| (0..=5).contains(r)).map(Param::Int).ok_or_else(bad),
        (_, true, _) => Err(bad()),
        (Flavor::Postgres, false, v) => Ok(Param::Json(v.clone())),
        (Flavor::Sqlite, false, Json::Number(n)) => {
            Ok(n.as_i64().map(Param::Int).unwrap_or_else(|| Param::Real(n.as_f64().unwrap_or(0.0))))
        }
        (Flavor::Sqlite, false, Json::String(s)) => Ok(Param::Text(s.clone())),
        (Flavor::Sqlite, false, _) => Err(bad()),
    }
}

/// The search statement: `id, doc` and then the sort key values (for the cursor).
pub fn search(flavor: Flavor, table: &str, s: &DocSearch<'_>) -> Result<Query, Untranslatable> {
    let mut b = Builder { flavor, params: Vec::new(), aliases: 0 };
    // With equality on plain paths, PostgreSQL first collects the candidates the
    // GIN index finds (`OFFSET 0` keeps the planner from merging the subquery);
    // otherwise it tends to walk the id index in order, filtering, which costs
    // O(collection) when matches are rare.
    let probes = match (flavor, s.filter) {
        (Flavor::Postgres, Some(f)) => pg_probes(f),
        _ => Vec::new(),
    };
    let from = if probes.is_empty() {
        table.to_owned()
    } else {
        let conds: Vec<String> = probes.into_iter().map(|p| format!("doc @> {}", b.bind(Param::Json(p)))).collect();
        format!("(SELECT * FROM {table} WHERE {} OFFSET 0) AS d", conds.join(" AND "))
    };
    let now = b.bind(Param::Int(s.now_ms));
    let mut conditions = vec![format!("(expires_at IS NULL OR expires_at > {now})")];
    if let Some(f) = s.filter {
        index_probes(&mut b, f, &mut conditions);
    }
    if let Some(f) = s.filter {
        conditions.push(filter_sql(&mut b, f)?);
    }
    let keys = sort_keys(&mut b, s.sort)?;
    if let Some(after) = s.after {
        if after.len() != keys.len() {
            return Err(Untranslatable("page-state is malformed or belongs to a different query".to_owned()));
        }
        // The last key is the id; every other position alternates rank and value.
        let mut bound = Vec::new();
        for (i, v) in after.iter().enumerate() {
            let p = if i + 1 == after.len() {
                v.as_str().map(|s| Param::Text(s.to_owned())).ok_or_else(|| {
                    Untranslatable("page-state is malformed or belongs to a different query".to_owned())
                })?
            } else {
                cursor_param(flavor, i, v)?
            };
            bound.push(b.bind(p));
        }
        let mut any = Vec::new();
        for i in 0..keys.len() {
            let mut all: Vec<String> = (0..i).map(|j| format!("{} = {}", keys[j].0, bound[j])).collect();
            let sym = if keys[i].1 == Dir::Asc { ">" } else { "<" };
            all.push(format!("{} {sym} {}", keys[i].0, bound[i]));
            any.push(format!("({})", all.join(" AND ")));
        }
        conditions.push(format!("({})", any.join(" OR ")));
    }
    let limit = b.bind(Param::Int(i64::from(s.limit)));
    let select: Vec<String> =
        std::iter::once("id, doc".to_owned()).chain(keys[..keys.len() - 1].iter().map(|k| k.0.clone())).collect();
    let order: Vec<String> =
        keys.iter().map(|(k, d)| format!("{k} {}", if *d == Dir::Asc { "ASC" } else { "DESC" })).collect();
    Ok(Query {
        sql: format!(
            "SELECT {} FROM {from} WHERE {} ORDER BY {} LIMIT {limit}",
            select.join(", "),
            conditions.join(" AND "),
            order.join(", ")
        ),
        params: b.params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::filter::{parse_sort, parse_where};
    use serde_json::json;

    fn q(flavor: Flavor, w: Json, sort: Json, after: Option<Vec<Json>>) -> Query {
        let f = parse_where(w).unwrap();
        let sort = if sort.is_null() { Vec::new() } else { parse_sort(sort).unwrap() };
        let s = DocSearch { filter: Some(&f), sort: &sort, after: after.as_deref(), limit: 4, now_ms: 10 };
        search(flavor, "\"t\"", &s).unwrap()
    }

    #[test]
    fn values_and_paths_are_parameters() {
        let evil = "x'); DROP TABLE t; --";
        for flavor in [Flavor::Sqlite, Flavor::Postgres] {
            let query = q(flavor, json!({ "a.b": {"$eq": evil}, evil: {"$gt": 1} }), Json::Null, None);
            assert!(!query.sql.contains("DROP"), "{}", query.sql);
            assert!(query.params.iter().any(|p| matches!(p, Param::Text(t) if t.contains("DROP"))
                || matches!(p, Param::Json(j) if j.to_string().contains("DROP"))
                || matches!(p, Param::Path(v) if v.iter().any(|s| s.contains("DROP")))));
        }
    }

    #[test]
    fn postgres_shapes() {
        let query = q(Flavor::Postgres, json!({"a.b": {"$eq": 1}}), Json::Null, None);
        assert!(query.sql.contains("WHERE doc @> $1::jsonb OFFSET 0"), "equality uses the GIN index: {}", query.sql);
        assert!(query.params.contains(&Param::Json(json!({"a": {"b": 1}}))));
        let query = q(Flavor::Postgres, json!({"a.[*].b": {"$lt": 3}}), Json::Null, None);
        assert!(query.sql.contains("jsonb_array_elements(CASE WHEN jsonb_typeof"), "{}", query.sql);
        assert!(query.sql.contains("jsonb_typeof((w1.v #> $"), "{}", query.sql);
    }

    #[test]
    fn sqlite_shapes() {
        let query = q(Flavor::Sqlite, json!({"a.*.b": {"$in": [1, "x"]}}), Json::Null, None);
        assert!(query.sql.contains("json_each(doc, ?2) AS w1 WHERE json_type(doc, ?2) = 'object'"), "{}", query.sql);
        assert!(query.sql.contains("(w1.fullkey || ?3)"), "{}", query.sql);
        assert_eq!(query.params[1], Param::Text("$.\"a\"".into()));
        let f = parse_where(json!({"a\"b": {"$eq": 1}})).unwrap();
        let s = DocSearch { filter: Some(&f), sort: &[], after: None, limit: 1, now_ms: 0 };
        assert!(search(Flavor::Sqlite, "t", &s).is_err());
    }

    #[test]
    fn probes_name_the_index_expression() {
        let query = q(
            Flavor::Sqlite,
            json!({"user.city": {"$eq": "Oslo"}, "n": {"$gte": 3, "$lt": 9}, "k": {"$in": ["a", 2]}}),
            Json::Null,
            None,
        );
        let city = r#"json_extract(doc, '$."user"."city"') = ?"#;
        assert!(query.sql.contains(city), "{}", query.sql);
        assert!(query.sql.contains(r#"json_extract(doc, '$."n"') >= ?"#), "{}", query.sql);
        assert!(query.sql.contains(r#"json_extract(doc, '$."n"') < ?"#), "{}", query.sql);
        assert!(query.sql.contains(r#"json_extract(doc, '$."k"') IN (?"#), "{}", query.sql);
        assert!(query.params.contains(&Param::Text("Oslo".into())));
        // No probe where it could exclude a match or name an unsafe literal.
        for w in [
            json!({"a": {"$eq": null}}),
            json!({"a": {"$in": ["x", true]}}),
            json!({"a.[*].b": {"$eq": 1}}),
            json!({"a'b": {"$eq": 1}}),
            json!({"$or": [{"a": {"$eq": 1}}, {"b": {"$eq": 2}}]}),
            json!({"a": {"$ne": 1}}),
        ] {
            let query = q(Flavor::Sqlite, w.clone(), Json::Null, None);
            assert!(!query.sql.contains("json_extract(doc, '"), "{w}: {}", query.sql);
        }
        let pg = q(Flavor::Postgres, json!({"n": {"$gt": 1}, "a.b": {"$in": [1, "x"]}}), Json::Null, None);
        assert!(pg.sql.contains("(doc #> '{n}') > $"), "{}", pg.sql);
        assert!(pg.sql.contains("(doc #> '{a,b}') = ANY($"), "{}", pg.sql);
        assert!(!pg.sql.contains("json_extract"));
    }

    #[test]
    fn keyset_after_sort_keys() {
        for flavor in [Flavor::Sqlite, Flavor::Postgres] {
            let after = vec![json!(0), json!(5), json!("id7")];
            let query = q(flavor, json!({"x": {"$exists": true}}), json!({"price": "desc"}), Some(after));
            assert!(query.sql.contains("ORDER BY CASE"), "{}", query.sql);
            assert!(query.sql.contains("DESC, id ASC LIMIT"), "{}", query.sql);
            assert_eq!(query.params.iter().filter(|p| **p == Param::Text("id7".into())).count(), 1);
        }
        let f = parse_where(json!({"x": {"$exists": true}})).unwrap();
        let bad = [json!(9), json!(0), json!("id")];
        let sort = parse_sort(json!({"p": "asc"})).unwrap();
        let s = DocSearch { filter: Some(&f), sort: &sort, after: Some(&bad), limit: 1, now_ms: 0 };
        assert!(search(Flavor::Postgres, "t", &s).is_err(), "rank out of range");
    }
}
