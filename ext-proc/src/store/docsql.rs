//! Document search translated to SQL. Pure: a [`DocSearch`] in, statement
//! text plus bound parameters out. The statement's shape (expiry, filter tree,
//! index probes, sort keys, keyset cursor) is here once; the JSON expressions
//! come from the store's [`Dialect`] (SQLite's JSON1, PostgreSQL's `jsonb`).
//! Paths, values and cursors are always parameters; the only text spliced in
//! is the collection's quoted table name and aliases generated here.
//!
//! Every leaf is made two-valued (`COALESCE(.., false)`), so `$not` of a
//! condition on a missing path matches, as [`crate::doc::filter::matches`] says.

use super::sql::{Binder, Dialect, Param, Untranslatable};
use crate::doc::filter::{Comparison, Dir, Filter};
use crate::doc::path::{Path, Segment};
use serde_json::Value as Json;

/// Statement text and its parameters, numbered from 1 in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// SQL.
    pub sql: String,
    /// Parameters.
    pub params: Vec<Param>,
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
    /// Whether the store may build an index for the filter's
    /// [`element_or_value`] equalities (the Data API's index-everything
    /// default): SQLite's per-path indexes. PostgreSQL's one GIN index serves
    /// every path, and any search that can use it builds it.
    pub auto_index: bool,
}

/// How many values a cursor holds: a type rank and a value per sort path, then the id.
pub fn key_len(sort: &[(Path, Dir)]) -> usize {
    sort.len() * 2 + 1
}

/// Whether a path step matches any element (the dialects turn it into a subquery).
pub(super) fn wildcard(s: &Segment) -> bool {
    matches!(s, Segment::AnyIndex | Segment::AnyKey)
}

/// A step as text: an object key or an array index (empty for a wildcard).
pub(super) fn step_text(s: &Segment) -> String {
    match s {
        Segment::Key(k) => k.clone(),
        Segment::Index(i) => i.to_string(),
        Segment::AnyIndex | Segment::AnyKey => String::new(),
    }
}

/// The keys of a non-empty path of [`indexable_key`] keys only.
pub(super) fn plain_keys(path: &[Segment]) -> Option<Vec<&str>> {
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

/// Whether an object key can appear in an index expression's path literal:
/// spliced into SQL text (an expression index only matches a query that
/// spells the same literal), so only characters that need no quoting.
pub fn indexable_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= 64 && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
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

/// The plain path and values of an "is one of `vs`, or an array holding one"
/// term: `Or(path == v, path[*] == v)` (or the same with `$in`), the shape in
/// which the Data API's array-aware equality narrows a search. Values are
/// strings, numbers and booleans only, so an index probe for them can never
/// exclude a document the term matches.
pub fn element_or_value(f: &Filter) -> Option<(&[Segment], &[Json])> {
    let Filter::Or(fs) = f else { return None };
    let [Filter::Leaf(p, a), Filter::Leaf(q, b)] = fs.as_slice() else { return None };
    let vs = match (a, b) {
        (Comparison::Eq(v), Comparison::Eq(w)) if v == w => std::slice::from_ref(v),
        (Comparison::In(v), Comparison::In(w)) if v == w && !v.is_empty() => v.as_slice(),
        _ => return None,
    };
    let plain = |v: &Json| v.is_string() || v.is_number() || v.is_boolean();
    let elements = q.split_last().is_some_and(|(last, head)| *last == Segment::AnyIndex && head == p.as_slice());
    (elements && plain_keys(p).is_some() && vs.iter().all(plain)).then_some((p.as_slice(), vs))
}

/// The paths of the filter's top-level [`element_or_value`] terms.
pub fn element_or_value_paths(f: &Filter) -> Vec<&[Segment]> {
    match f {
        Filter::And(fs) => fs.iter().flat_map(element_or_value_paths).collect(),
        f => element_or_value(f).map(|(p, _)| vec![p]).unwrap_or_default(),
    }
}

/// Index probes implied by the filter's top-level `$eq`, `$in` and range
/// conditions on indexable paths: redundant with the conditions themselves
/// (which still decide, types included), but in the one shape an expression
/// index on the path serves (see [`Dialect::doc_index_expr`]). Without such
/// an index they cost one path lookup per row, and often save the full condition.
fn index_probes(d: &dyn Dialect, b: &mut Binder<'_>, f: &Filter, out: &mut Vec<String>) {
    match f {
        Filter::And(fs) => fs.iter().for_each(|f| index_probes(d, b, f, out)),
        Filter::Leaf(path, op) => {
            let (Some(x), Some((sym, value))) = (d.doc_index_expr(path), probe_op(op)) else { return };
            out.push(match value {
                ProbeValue::One(v) => d.doc_probe(b, &x, sym, v),
                ProbeValue::List(vs) => d.doc_probe_in(b, &x, vs),
            });
        }
        Filter::Or(_) => {
            if let Some(p) = element_or_value(f).and_then(|(path, vs)| d.doc_probe_any(b, path, vs)) {
                out.push(p);
            }
        }
        _ => {}
    }
}

fn filter_sql(d: &dyn Dialect, b: &mut Binder<'_>, f: &Filter) -> Result<String, Untranslatable> {
    Ok(match f {
        Filter::And(fs) | Filter::Or(fs) => {
            let sep = if matches!(f, Filter::And(_)) { " AND " } else { " OR " };
            let parts = fs.iter().map(|f| filter_sql(d, b, f)).collect::<Result<Vec<_>, _>>()?;
            format!("({})", parts.join(sep))
        }
        Filter::Not(f) => format!("NOT {}", filter_sql(d, b, f)?),
        Filter::Leaf(path, op) => d.doc_condition(b, path, op)?,
    })
}

/// Sort key expressions: (type rank, value) per path. Ranks put numbers, then
/// strings, booleans, arrays, objects, and last null or missing, in either direction.
fn sort_keys(d: &dyn Dialect, b: &mut Binder<'_>, sort: &[(Path, Dir)]) -> Result<Vec<(String, Dir)>, Untranslatable> {
    let mut keys = Vec::new();
    for (path, dir) in sort {
        let (rank, value) = d.doc_sort_key(b, path)?;
        keys.push((rank, Dir::Asc));
        keys.push((value, *dir));
    }
    keys.push(("id".to_owned(), Dir::Asc));
    Ok(keys)
}

fn cursor_param(d: &dyn Dialect, position: usize, v: &Json) -> Result<Param, Untranslatable> {
    let bad = || Untranslatable("page-state is malformed or belongs to a different query".to_owned());
    // Positions alternate rank, value, ..., and end with the id.
    if !position.is_multiple_of(2) {
        return d.doc_cursor_value(v).ok_or_else(bad);
    }
    match v {
        Json::Number(n) => n.as_i64().filter(|r| (0..=5).contains(r)).map(Param::Int).ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// The search statement: `id, doc` and then the sort key values (for the cursor).
pub fn search(d: &dyn Dialect, table: &str, s: &DocSearch<'_>) -> Result<Query, Untranslatable> {
    let mut b = Binder::new(d);
    let from = match s.filter {
        Some(f) => d.doc_candidates(&mut b, table, f),
        None => table.to_owned(),
    };
    let now = b.bind(Param::Int(s.now_ms));
    let mut conditions = vec![format!("(expires_at IS NULL OR expires_at > {now})")];
    if let Some(f) = s.filter {
        index_probes(d, &mut b, f, &mut conditions);
    }
    if let Some(f) = s.filter {
        conditions.push(filter_sql(d, &mut b, f)?);
    }
    let keys = sort_keys(d, &mut b, s.sort)?;
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
                cursor_param(d, i, v)?
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
        params: b.into_params(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::filter::{parse_sort, parse_where};
    use crate::store::postgres::PgDialect;
    use crate::store::sqlite::SqliteDialect;
    use serde_json::json;

    fn q(d: &dyn Dialect, w: Json, sort: Json, after: Option<Vec<Json>>) -> Query {
        let f = parse_where(w).unwrap();
        let sort = if sort.is_null() { Vec::new() } else { parse_sort(sort).unwrap() };
        let s = DocSearch {
            filter: Some(&f),
            sort: &sort,
            after: after.as_deref(),
            limit: 4,
            now_ms: 10,
            auto_index: false,
        };
        search(d, "\"t\"", &s).unwrap()
    }

    #[test]
    fn values_and_paths_are_parameters() {
        let evil = "x'); DROP TABLE t; --";
        for d in [&SqliteDialect as &dyn Dialect, &PgDialect] {
            let query = q(d, json!({ "a.b": {"$eq": evil}, evil: {"$gt": 1} }), Json::Null, None);
            assert!(!query.sql.contains("DROP"), "{}", query.sql);
            assert!(query.params.iter().any(|p| matches!(p, Param::Text(t) if t.contains("DROP"))
                || matches!(p, Param::Json(j) if j.to_string().contains("DROP"))
                || matches!(p, Param::Path(v) if v.iter().any(|s| s.contains("DROP")))));
        }
    }

    #[test]
    fn postgres_shapes() {
        let query = q(&PgDialect, json!({"a.b": {"$eq": 1}}), Json::Null, None);
        assert!(query.sql.contains("WHERE doc @> $1::jsonb OFFSET 0"), "equality uses the GIN index: {}", query.sql);
        assert!(query.params.contains(&Param::Json(json!({"a": {"b": 1}}))));
        // The Data API's array-aware equality: the scalar or an array holding it, both through GIN.
        let query = q(&PgDialect, json!({"$or": [{"a.b": {"$eq": "x"}}, {"a.b.[*]": {"$eq": "x"}}]}), Json::Null, None);
        assert!(query.sql.contains("WHERE (doc @> $1::jsonb OR doc @> $2::jsonb) OFFSET 0"), "{}", query.sql);
        assert_eq!(query.params[..2], [Param::Json(json!({"a": {"b": "x"}})), Param::Json(json!({"a": {"b": ["x"]}}))]);
        let query = q(
            &SqliteDialect,
            json!({"$or": [{"a.b": {"$in": ["x", 2]}}, {"a.b.[*]": {"$in": ["x", 2]}}]}),
            Json::Null,
            None,
        );
        let any = r#"(json_extract(doc, '$."a"."b"') IN (?2, ?3) OR (json_type(doc, '$."a"."b"') = 'array' AND EXISTS (SELECT 1 FROM json_each(doc, '$."a"."b"') WHERE value IN (?2, ?3))))"#;
        assert!(query.sql.contains(any), "{}", query.sql);
        let query = q(&PgDialect, json!({"a.[*].b": {"$lt": 3}}), Json::Null, None);
        assert!(query.sql.contains("jsonb_array_elements(CASE WHEN jsonb_typeof"), "{}", query.sql);
        assert!(query.sql.contains("jsonb_typeof((w1.v #> $"), "{}", query.sql);
    }

    #[test]
    fn sqlite_shapes() {
        let query = q(&SqliteDialect, json!({"a.*.b": {"$in": [1, "x"]}}), Json::Null, None);
        assert!(query.sql.contains("json_each(doc, ?2) AS w1 WHERE json_type(doc, ?2) = 'object'"), "{}", query.sql);
        assert!(query.sql.contains("(w1.fullkey || ?3)"), "{}", query.sql);
        assert_eq!(query.params[1], Param::Text("$.\"a\"".into()));
        let f = parse_where(json!({"a\"b": {"$eq": 1}})).unwrap();
        let s = DocSearch { filter: Some(&f), sort: &[], after: None, limit: 1, now_ms: 0, auto_index: false };
        assert!(search(&SqliteDialect, "t", &s).is_err());
    }

    #[test]
    fn probes_name_the_index_expression() {
        let query = q(
            &SqliteDialect,
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
            let query = q(&SqliteDialect, w.clone(), Json::Null, None);
            assert!(!query.sql.contains("json_extract(doc, '"), "{w}: {}", query.sql);
        }
        let pg = q(&PgDialect, json!({"n": {"$gt": 1}, "a.b": {"$in": [1, "x"]}}), Json::Null, None);
        assert!(pg.sql.contains("(doc #> '{n}') > $"), "{}", pg.sql);
        assert!(pg.sql.contains("(doc #> '{a,b}') = ANY($"), "{}", pg.sql);
        assert!(!pg.sql.contains("json_extract"));
    }

    #[test]
    fn keyset_after_sort_keys() {
        for d in [&SqliteDialect as &dyn Dialect, &PgDialect] {
            let after = vec![json!(0), json!(5), json!("id7")];
            let query = q(d, json!({"x": {"$exists": true}}), json!({"price": "desc"}), Some(after));
            assert!(query.sql.contains("ORDER BY CASE"), "{}", query.sql);
            assert!(query.sql.contains("DESC, id ASC LIMIT"), "{}", query.sql);
            assert_eq!(query.params.iter().filter(|p| **p == Param::Text("id7".into())).count(), 1);
        }
        let f = parse_where(json!({"x": {"$exists": true}})).unwrap();
        let bad = [json!(9), json!(0), json!("id")];
        let sort = parse_sort(json!({"p": "asc"})).unwrap();
        let s = DocSearch { filter: Some(&f), sort: &sort, after: Some(&bad), limit: 1, now_ms: 0, auto_index: false };
        assert!(search(&PgDialect, "t", &s).is_err(), "rank out of range");
    }
}
