//! Document search: the `where` tree and the `sort` list, parsed and checked
//! here; stores translate them to SQL. [`matches`] is the reference meaning,
//! used by tests to check each store's translation against it.

use super::path::{self, display, has_wildcard, Path, Segment};
use crate::fault::Fault;
use serde_json::Value as Json;
use std::cmp::Ordering;

/// Most values in one `$in`/`$nin`, and most conditions in one `where`.
const MAX_LIST: usize = 100;
const MAX_CONDITIONS: usize = 64;

/// A comparison on the values a path reaches.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparison {
    /// Equal, same type.
    Eq(Json),
    /// The path exists with a value that is not equal.
    Ne(Json),
    /// Ordered comparisons: numbers with numbers, strings with strings.
    Lt(Json),
    /// `<=`.
    Lte(Json),
    /// `>`.
    Gt(Json),
    /// `>=`.
    Gte(Json),
    /// The path exists (`true`) or not.
    Exists(bool),
    /// Equal to one of.
    In(Vec<Json>),
    /// The path exists with a value equal to none of.
    Nin(Vec<Json>),
}

/// A `where` tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// All of.
    And(Vec<Filter>),
    /// Any of.
    Or(Vec<Filter>),
    /// Not.
    Not(Box<Filter>),
    /// Some value the path reaches satisfies the comparison (`[*]` and `*` fan out).
    Leaf(Path, Comparison),
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

fn bad(msg: String) -> Fault {
    Fault::Invalid(format!("where: {msg}"))
}

fn scalar(op: &str, v: &Json) -> Result<(), Fault> {
    match v {
        Json::Object(_) | Json::Array(_) => Err(bad(format!("{op} compares with a string, number, boolean or null"))),
        _ => Ok(()),
    }
}

fn ordered(op: &str, v: &Json) -> Result<(), Fault> {
    match v {
        Json::Number(_) | Json::String(_) => Ok(()),
        _ => Err(bad(format!("{op} compares with a number or a string, got {}", crate::json::kind(v)))),
    }
}

fn list(op: &str, v: Json) -> Result<Vec<Json>, Fault> {
    let Json::Array(items) = v else { return Err(bad(format!("{op} takes an array of values"))) };
    if items.is_empty() || items.len() > MAX_LIST {
        return Err(bad(format!("{op} takes 1 to {MAX_LIST} values, got {}", items.len())));
    }
    items.iter().try_for_each(|i| scalar(op, i))?;
    Ok(items)
}

fn leaf(path: Path, op: &str, v: Json) -> Result<Filter, Fault> {
    let op = match op {
        "$eq" => scalar(op, &v).map(|_| Comparison::Eq(v))?,
        "$ne" => scalar(op, &v).map(|_| Comparison::Ne(v))?,
        "$lt" => ordered(op, &v).map(|_| Comparison::Lt(v))?,
        "$lte" => ordered(op, &v).map(|_| Comparison::Lte(v))?,
        "$gt" => ordered(op, &v).map(|_| Comparison::Gt(v))?,
        "$gte" => ordered(op, &v).map(|_| Comparison::Gte(v))?,
        "$exists" => match v {
            Json::Bool(b) => Comparison::Exists(b),
            _ => return Err(bad("$exists takes true or false".to_owned())),
        },
        "$in" => Comparison::In(list(op, v)?),
        "$nin" => Comparison::Nin(list(op, v)?),
        other => {
            return Err(bad(format!(
                "unknown operator '{other}' on '{}' (use $eq $ne $lt $lte $gt $gte $exists $in $nin)",
                display(&path)
            )))
        }
    };
    // `$exists: false` with wildcards means "no element has it": the negation
    // of the existential form, so stores only ever translate `$exists: true`.
    Ok(match op {
        Comparison::Exists(false) => Filter::Not(Box::new(Filter::Leaf(path, Comparison::Exists(true)))),
        op => Filter::Leaf(path, op),
    })
}

fn conditions(v: Json, what: &str, count: &mut usize) -> Result<Vec<Filter>, Fault> {
    match v {
        Json::Array(items) if !items.is_empty() => items.into_iter().map(|i| node(i, count)).collect(),
        Json::Object(_) => Ok(vec![node(v, count)?]),
        _ => Err(bad(format!("{what} takes a non-empty array of conditions"))),
    }
}

fn node(v: Json, count: &mut usize) -> Result<Filter, Fault> {
    let Json::Object(m) = v else { return Err(bad("each condition is an object".to_owned())) };
    if m.is_empty() {
        return Err(bad("empty condition".to_owned()));
    }
    let mut all = Vec::new();
    for (key, value) in m {
        *count += 1;
        if *count > MAX_CONDITIONS {
            return Err(bad(format!("more than {MAX_CONDITIONS} conditions")));
        }
        match key.as_str() {
            "$and" => all.push(Filter::And(conditions(value, "$and", count)?)),
            "$or" => all.push(Filter::Or(conditions(value, "$or", count)?)),
            "$not" => all.push(Filter::Not(Box::new(Filter::And(conditions(value, "$not", count)?)))),
            k if k.starts_with('$') => return Err(bad(format!("unknown combinator '{k}' (use $and, $or, $not)"))),
            _ => {
                let p = path::parse(&key)?;
                let Json::Object(ops) = value else {
                    return Err(bad(format!("'{key}' needs an object of operators, like {{\"$eq\": 1}}")));
                };
                if ops.is_empty() {
                    return Err(bad(format!("'{key}' has no operator")));
                }
                for (op, operand) in ops {
                    all.push(leaf(p.clone(), &op, operand)?);
                }
            }
        }
    }
    Ok(if all.len() == 1 { all.remove(0) } else { Filter::And(all) })
}

/// Parses the `where` parameter (already parsed as strict JSON).
pub fn parse_where(v: Json) -> Result<Filter, Fault> {
    node(v, &mut 0)
}

/// Parses `sort`: `{"path": "asc"|"desc", ...}` in priority order.
pub fn parse_sort(v: Json) -> Result<Vec<(Path, Dir)>, Fault> {
    let bad = |m: String| Fault::Invalid(format!("sort: {m}"));
    let Json::Object(m) = v else { return Err(bad("expected an object like {\"price\": \"desc\"}".to_owned())) };
    if m.is_empty() || m.len() > 8 {
        return Err(bad("name 1 to 8 paths".to_owned()));
    }
    m.into_iter()
        .map(|(k, d)| {
            let p = path::plain(&k, "sort")?;
            match d.as_str().map(str::to_ascii_lowercase).as_deref() {
                Some("asc") => Ok((p, Dir::Asc)),
                Some("desc") => Ok((p, Dir::Desc)),
                _ => Err(bad(format!("direction for '{k}' must be \"asc\" or \"desc\""))),
            }
        })
        .collect()
}

/// The values `path` reaches in `doc` (wildcards fan out).
pub fn reach<'a>(doc: &'a Json, path: &[Segment]) -> Vec<&'a Json> {
    let Some((step, rest)) = path.split_first() else { return vec![doc] };
    let next: Vec<&Json> = match (doc, step) {
        (Json::Object(m), Segment::Key(k)) => m.get(k).into_iter().collect(),
        (Json::Array(a), Segment::Index(i)) => a.get(*i).into_iter().collect(),
        (Json::Array(a), Segment::AnyIndex) => a.iter().collect(),
        (Json::Object(m), Segment::AnyKey) => m.values().collect(),
        _ => Vec::new(),
    };
    next.into_iter().flat_map(|n| reach(n, rest)).collect()
}

/// Type-aware comparison: `None` when the types differ (never matches).
pub fn compare(a: &Json, b: &Json) -> Option<Ordering> {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
        },
        (Json::String(x), Json::String(y)) => Some(x.cmp(y)),
        (Json::Bool(x), Json::Bool(y)) => Some(x.cmp(y)),
        (Json::Null, Json::Null) => Some(Ordering::Equal),
        _ => None,
    }
}

fn op_holds(v: &Json, op: &Comparison) -> bool {
    let eq = |x: &Json| compare(v, x) == Some(Ordering::Equal);
    match op {
        Comparison::Eq(x) => eq(x),
        Comparison::Ne(x) => !eq(x),
        Comparison::Lt(x) => compare(v, x) == Some(Ordering::Less),
        Comparison::Lte(x) => matches!(compare(v, x), Some(Ordering::Less | Ordering::Equal)),
        Comparison::Gt(x) => compare(v, x) == Some(Ordering::Greater),
        Comparison::Gte(x) => matches!(compare(v, x), Some(Ordering::Greater | Ordering::Equal)),
        Comparison::Exists(_) => true,
        Comparison::In(xs) => xs.iter().any(eq),
        Comparison::Nin(xs) => !xs.iter().any(eq),
    }
}

/// Whether `doc` satisfies `filter` — the meaning every store must implement.
pub fn matches(doc: &Json, filter: &Filter) -> bool {
    match filter {
        Filter::And(fs) => fs.iter().all(|f| matches(doc, f)),
        Filter::Or(fs) => fs.iter().any(|f| matches(doc, f)),
        Filter::Not(f) => !matches(doc, f),
        Filter::Leaf(p, op) => reach(doc, p).into_iter().any(|v| op_holds(v, op)),
    }
}

/// Whether the filter can use a wildcard-free path everywhere (for messages and plans).
pub fn uses_wildcards(filter: &Filter) -> bool {
    match filter {
        Filter::And(fs) | Filter::Or(fs) => fs.iter().any(uses_wildcards),
        Filter::Not(f) => uses_wildcards(f),
        Filter::Leaf(p, _) => has_wildcard(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn w(v: Json) -> Filter {
        parse_where(v).unwrap()
    }

    #[test]
    fn parses_operators_and_combinators() {
        let f = w(json!({"a.b": {"$gt": 1, "$lt": 5}, "$or": [{"c": {"$eq": "x"}}, {"d": {"$exists": false}}]}));
        let Filter::And(parts) = f else { panic!("expected and") };
        assert_eq!(parts.len(), 3);
        for bad in [
            json!({"a": {"$like": 1}}),
            json!({"a": 1}),
            json!({"a": {"$lt": true}}),
            json!({"a": {"$eq": {"x": 1}}}),
            json!({"a": {"$in": []}}),
            json!({"$xor": []}),
            json!({"$or": []}),
            json!({"a..b": {"$eq": 1}}),
            json!([1]),
        ] {
            assert!(matches!(parse_where(bad.clone()).unwrap_err(), Fault::Invalid(_)), "{bad}");
        }
    }

    #[test]
    fn reference_semantics() {
        let doc =
            json!({"n": 5, "s": "abc", "t": true, "z": null, "arr": [{"k": 1}, {"k": 7}], "o": {"x": 2, "y": "q"}});
        let yes = [
            json!({"n": {"$eq": 5.0}}),
            json!({"n": {"$gte": 5, "$lt": 6}}),
            json!({"s": {"$gt": "abb"}}),
            json!({"t": {"$eq": true}}),
            json!({"z": {"$eq": null}}),
            json!({"arr.[*].k": {"$gt": 6}}),
            json!({"arr.[1].k": {"$eq": 7}}),
            json!({"o.*": {"$eq": "q"}}),
            json!({"n": {"$ne": "5"}}),
            json!({"n": {"$in": [1, 5]}}),
            json!({"s": {"$nin": ["x"]}}),
            json!({"missing": {"$exists": false}}),
            json!({"$not": {"n": {"$eq": 4}}}),
        ];
        for f in yes {
            assert!(matches(&doc, &w(f.clone())), "{f}");
        }
        let no = [
            json!({"n": {"$eq": "5"}}),
            json!({"s": {"$gt": 1}}),
            json!({"missing": {"$ne": 1}}),
            json!({"missing": {"$nin": [1]}}),
            json!({"arr.[*].k": {"$gt": 7}}),
            json!({"arr.*": {"$exists": true}}),
            json!({"n.[*]": {"$exists": true}}),
        ];
        for f in no {
            assert!(!matches(&doc, &w(f.clone())), "{f}");
        }
    }

    #[test]
    fn sort_parsing() {
        let s = parse_sort(json!({"a.b": "desc", "c": "ASC"})).unwrap();
        assert_eq!(s[0].1, Dir::Desc);
        assert_eq!(s[1].1, Dir::Asc);
        assert!(parse_sort(json!({"a.*": "asc"})).is_err());
        assert!(parse_sort(json!({"a": "up"})).is_err());
        assert!(parse_sort(json!({})).is_err());
    }
}
