//! Data API filters (`{"a": 1, "b": {"$gt": 2}, "$or": [...]}`): parsed once
//! into a tree, then matched against each document.

use super::envelope::CmdError;
use super::value::{compare, equal, get, parse_path, Path};
use serde_json::{Map, Value as Json};
use std::cmp::Ordering;

/// Most properties a filter may hold.
const MAX_PROPERTIES: usize = 64;
/// Most values in `$in` / `$nin`.
const MAX_IN: usize = 100;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Every branch matches.
    And(Vec<Filter>),
    /// Some branch matches.
    Or(Vec<Filter>),
    /// The branch does not match.
    Not(Box<Filter>),
    /// A condition on a path.
    Cond(Path, Cond),
}

/// A condition on one path.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// `$eq` (or a literal).
    Eq(Json),
    /// `$ne`.
    Ne(Json),
    /// `$in`.
    In(Vec<Json>),
    /// `$nin`.
    Nin(Vec<Json>),
    /// `$gt`, `$gte`, `$lt`, `$lte`: the orderings that satisfy it.
    Range(Json, &'static [Ordering]),
    /// `$exists`.
    Exists(bool),
    /// `$all`.
    All(Vec<Json>),
    /// `$size`.
    Size(usize),
}

fn bad(code: &'static str, message: String) -> CmdError {
    CmdError::new(code, "FILTER", message)
}

/// Whether an object is an EJSON literal (`{"$date": ..}` etc.), not operators.
pub fn is_ejson(m: &Map<String, Json>) -> bool {
    m.len() == 1 && m.keys().all(|k| matches!(k.as_str(), "$date" | "$uuid" | "$objectId" | "$binary"))
}

/// Parses a filter (`None`/`{}` matches everything).
pub fn parse(v: Option<&Json>) -> Result<Filter, CmdError> {
    let mut count = 0;
    match v {
        None | Some(Json::Null) => Ok(Filter::And(Vec::new())),
        Some(v) => parse_object(v, &mut count),
    }
}

fn parse_object(v: &Json, count: &mut usize) -> Result<Filter, CmdError> {
    let Json::Object(m) = v else {
        return Err(bad("FILTER_INVALID_EXPRESSION", format!("a filter must be an object, got {v}")));
    };
    let mut all = Vec::new();
    for (k, v) in m {
        *count += 1;
        if *count > MAX_PROPERTIES {
            return Err(bad(
                "FILTER_FIELDS_LIMIT_VIOLATION",
                format!("a filter may hold at most {MAX_PROPERTIES} properties"),
            ));
        }
        all.push(match k.as_str() {
            "$and" | "$or" => {
                let Json::Array(items) = v else {
                    return Err(bad("FILTER_INVALID_EXPRESSION", format!("{k} takes an array of filters")));
                };
                let subs = items.iter().map(|i| parse_object(i, count)).collect::<Result<Vec<_>, _>>()?;
                if k == "$and" {
                    Filter::And(subs)
                } else {
                    Filter::Or(subs)
                }
            }
            "$not" => Filter::Not(Box::new(parse_object(v, count)?)),
            "$lexical" => return Err(super::envelope::lexical_error("FILTER")),
            op if op.starts_with('$') && !matches!(op, "$vector" | "$vectorize") => {
                return Err(bad("FILTER_UNSUPPORTED_OPERATOR", format!("unsupported filter operator '{op}'")))
            }
            "$vector" | "$vectorize" => match v.as_object().and_then(|m| m.get("$exists")) {
                Some(Json::Bool(b)) if v.as_object().is_some_and(|m| m.len() == 1) => {
                    Filter::Cond(vec![k.clone()], Cond::Exists(*b))
                }
                _ => {
                    return Err(bad(
                        "FILTER_INVALID_EXPRESSION",
                        format!("{k} can only be filtered with {{\"$exists\": true|false}}"),
                    ))
                }
            },
            path => {
                let path = parse_path(path, "FILTER")?;
                match v {
                    Json::Object(ops)
                        if !ops.is_empty() && !is_ejson(ops) && ops.keys().all(|k| k.starts_with('$')) =>
                    {
                        let conds = ops
                            .iter()
                            .map(|(op, arg)| Ok(Filter::Cond(path.clone(), cond(op, arg)?)))
                            .collect::<Result<Vec<_>, CmdError>>()?;
                        Filter::And(conds)
                    }
                    literal => Filter::Cond(path, Cond::Eq(literal.clone())),
                }
            }
        });
    }
    Ok(if all.len() == 1 { all.remove(0) } else { Filter::And(all) })
}

fn list(op: &str, arg: &Json) -> Result<Vec<Json>, CmdError> {
    match arg {
        Json::Array(a) if a.len() <= MAX_IN => Ok(a.clone()),
        Json::Array(_) => Err(bad("FILTER_FIELDS_LIMIT_VIOLATION", format!("{op} takes at most {MAX_IN} values"))),
        _ => Err(bad("FILTER_INVALID_EXPRESSION", format!("{op} takes an array"))),
    }
}

fn cond(op: &str, arg: &Json) -> Result<Cond, CmdError> {
    use Ordering::{Equal, Greater, Less};
    Ok(match op {
        "$eq" => Cond::Eq(arg.clone()),
        "$ne" => Cond::Ne(arg.clone()),
        "$in" => Cond::In(list(op, arg)?),
        "$nin" => Cond::Nin(list(op, arg)?),
        "$gt" => Cond::Range(arg.clone(), &[Greater]),
        "$gte" => Cond::Range(arg.clone(), &[Greater, Equal]),
        "$lt" => Cond::Range(arg.clone(), &[Less]),
        "$lte" => Cond::Range(arg.clone(), &[Less, Equal]),
        "$exists" => match arg {
            Json::Bool(b) => Cond::Exists(*b),
            _ => return Err(bad("FILTER_INVALID_EXPRESSION", "$exists takes true or false".into())),
        },
        "$all" => match arg {
            Json::Array(a) if !a.is_empty() => Cond::All(a.clone()),
            _ => return Err(bad("FILTER_INVALID_EXPRESSION", "$all takes a non-empty array".into())),
        },
        "$size" => match arg.as_u64() {
            Some(n) => Cond::Size(n as usize),
            None => return Err(bad("FILTER_INVALID_EXPRESSION", "$size takes an integer >= 0".into())),
        },
        other => return Err(bad("FILTER_UNSUPPORTED_OPERATOR", format!("unsupported filter operator '{other}'"))),
    })
}

/// Equality as `$eq` sees it: the value itself, or (for a non-array literal)
/// any element of an array value.
fn eq_match(v: Option<&Json>, lit: &Json) -> bool {
    match v {
        None => false,
        Some(v) if equal(v, lit) => true,
        Some(Json::Array(items)) if !lit.is_array() => items.iter().any(|i| equal(i, lit)),
        Some(_) => false,
    }
}

/// Whether `doc` matches.
pub fn matches(doc: &Json, f: &Filter) -> bool {
    match f {
        Filter::And(all) => all.iter().all(|f| matches(doc, f)),
        Filter::Or(any) => any.iter().any(|f| matches(doc, f)),
        Filter::Not(f) => !matches(doc, f),
        Filter::Cond(path, c) => {
            let v = get(doc, path);
            match c {
                Cond::Eq(lit) => eq_match(v, lit),
                Cond::Ne(lit) => !eq_match(v, lit),
                Cond::In(lits) => lits.iter().any(|l| eq_match(v, l)),
                Cond::Nin(lits) => !lits.iter().any(|l| eq_match(v, l)),
                Cond::Range(lit, ok) => v.and_then(|v| compare(v, lit)).is_some_and(|o| ok.contains(&o)),
                Cond::Exists(want) => v.is_some() == *want,
                Cond::All(lits) => match v {
                    Some(Json::Array(items)) => lits.iter().all(|l| items.iter().any(|i| equal(i, l))),
                    _ => false,
                },
                Cond::Size(n) => matches!(v, Some(Json::Array(items)) if items.len() == *n),
            }
        }
    }
}

/// The single `_id` the filter pins with a top-level equality, if any (lets
/// the store read one document instead of scanning).
pub fn pinned_id(f: &Filter) -> Option<&Json> {
    let top: &[Filter] = match f {
        Filter::And(all) => all,
        one => std::slice::from_ref(one),
    };
    top.iter().find_map(|f| match f {
        Filter::Cond(p, Cond::Eq(v)) if p.len() == 1 && p[0] == "_id" => Some(v),
        Filter::And(_) => pinned_id(f),
        _ => None,
    })
}

/// Whether every condition of the filter is on `_id` alone, so a document
/// with only its `_id` matches exactly when the whole document would.
pub fn only_id(f: &Filter) -> bool {
    match f {
        Filter::And(all) | Filter::Or(all) => all.iter().all(only_id),
        Filter::Not(f) => only_id(f),
        Filter::Cond(p, _) => p.len() == 1 && p[0] == "_id",
    }
}

/// The equality terms a filter fixes at the top level (seed of an upsert).
pub fn equalities(f: &Filter) -> Vec<(Path, Json)> {
    match f {
        Filter::And(all) => all.iter().flat_map(equalities).collect(),
        Filter::Cond(p, Cond::Eq(v)) => vec![(p.clone(), v.clone())],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_id_filters() {
        let f = |v: Json| parse(Some(&v)).unwrap();
        assert!(only_id(&f(json!({"_id": "a"}))));
        assert!(only_id(&f(json!({"_id": {"$in": ["a", "b"]}, "$or": [{"_id": "a"}]}))));
        assert!(!only_id(&f(json!({"_id": "a", "b": 1}))));
        assert!(!only_id(&f(json!({"_id.x": "a"}))));
        assert!(!only_id(&f(json!({"$not": {"c": 1}}))));
    }

    fn m(doc: Json, f: Json) -> bool {
        matches(&doc, &parse(Some(&f)).unwrap())
    }

    #[test]
    fn equality_and_arrays() {
        assert!(m(json!({"a": 1}), json!({"a": 1.0})));
        assert!(m(json!({"tags": ["x", "y"]}), json!({"tags": "y"})));
        assert!(!m(json!({"tags": ["x", "y"]}), json!({"tags": ["y"]})));
        assert!(m(json!({"tags": ["x", "y"]}), json!({"tags": ["x", "y"]})));
        assert!(m(json!({"d": {"$date": 5}}), json!({"d": {"$date": 5}})));
        assert!(m(json!({"a": {"b": 2}}), json!({"a.b": 2})));
    }

    #[test]
    fn operators() {
        let d = json!({"n": 5, "s": "b", "tags": ["x", "y"], "d": {"$date": 10}});
        assert!(m(d.clone(), json!({"n": {"$gt": 4, "$lte": 5}})));
        assert!(!m(d.clone(), json!({"n": {"$gt": "4"}})));
        assert!(m(d.clone(), json!({"d": {"$lt": {"$date": 11}}})));
        assert!(m(d.clone(), json!({"missing": {"$ne": 1}})));
        assert!(m(d.clone(), json!({"missing": {"$nin": [1]}})));
        assert!(m(d.clone(), json!({"s": {"$in": ["a", "b"]}})));
        assert!(m(d.clone(), json!({"tags": {"$all": ["y", "x"], "$size": 2}})));
        assert!(m(d.clone(), json!({"n": {"$exists": true}, "z": {"$exists": false}})));
        assert!(m(d.clone(), json!({"$or": [{"n": 1}, {"s": "b"}]})));
        assert!(m(d.clone(), json!({"$not": {"n": 1}})));
        assert!(!m(d, json!({"$and": [{"n": 5}, {"s": "a"}]})));
    }

    #[test]
    fn refusals() {
        assert_eq!(parse(Some(&json!({"a": {"$regex": "x"}}))).unwrap_err().code, "FILTER_UNSUPPORTED_OPERATOR");
        assert_eq!(parse(Some(&json!({"$nor": []}))).unwrap_err().code, "FILTER_UNSUPPORTED_OPERATOR");
        assert_eq!(parse(Some(&json!([1]))).unwrap_err().code, "FILTER_INVALID_EXPRESSION");
        assert_eq!(parse(Some(&json!({"$vector": [1.0]}))).unwrap_err().code, "FILTER_INVALID_EXPRESSION");
        assert!(m(json!({"$vector": [1.0]}), json!({"$vector": {"$exists": true}})));
        let many: Map<String, Json> = (0..65).map(|i| (format!("f{i}"), json!(1))).collect();
        assert_eq!(parse(Some(&Json::Object(many))).unwrap_err().code, "FILTER_FIELDS_LIMIT_VIOLATION");
    }

    #[test]
    fn pinned_id_and_equalities() {
        let f = parse(Some(&json!({"_id": "a", "n": {"$gt": 1}, "k": 2}))).unwrap();
        assert_eq!(pinned_id(&f), Some(&json!("a")));
        assert_eq!(equalities(&f), vec![(vec!["_id".to_owned()], json!("a")), (vec!["k".to_owned()], json!(2))]);
        assert_eq!(pinned_id(&parse(Some(&json!({"$or": [{"_id": 1}]}))).unwrap()), None);
    }
}
