//! Dotted paths and value semantics of Data API documents: `a.b.0` reaches
//! into objects and (numeric segments) arrays; `&.` and `&&` escape a literal
//! `.` and `&`. Numbers compare by value (`1 == 1.0`), EJSON `$date` values
//! compare as dates, and values of different types are never equal or ordered.

use super::envelope::CmdError;
use serde_json::{Map, Value as Json};
use std::cmp::Ordering;

/// A parsed dotted path.
pub type Path = Vec<String>;

/// Splits a dotted path, honouring the `&.` / `&&` escapes.
pub fn parse_path(text: &str, scope: &'static str) -> Result<Path, CmdError> {
    let bad = |why: &str| CmdError::new("INVALID_PATH", scope, format!("invalid path '{text}': {why}"));
    let mut out = Vec::new();
    let mut seg = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '&' => match chars.next() {
                Some(e @ ('.' | '&')) => seg.push(e),
                _ => return Err(bad("'&' must be followed by '.' or '&'")),
            },
            '.' => {
                if seg.is_empty() {
                    return Err(bad("empty segment"));
                }
                out.push(std::mem::take(&mut seg));
            }
            c => seg.push(c),
        }
    }
    if seg.is_empty() {
        return Err(bad("empty segment"));
    }
    out.push(seg);
    // No stored field name holds one (writes refuse it), and the stores' JSON
    // paths end at it: SQLite would answer a malformed-path error.
    if text.contains('\0') {
        return Err(bad("it contains U+0000, which no stored field name holds"));
    }
    Ok(out)
}

fn index(seg: &str) -> Option<usize> {
    if seg.is_empty() || !seg.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    seg.parse().ok()
}

/// The value at `path`, if any.
pub fn get<'a>(doc: &'a Json, path: &[String]) -> Option<&'a Json> {
    let mut cur = doc;
    for seg in path {
        cur = match cur {
            Json::Object(m) => m.get(seg)?,
            Json::Array(a) => a.get(index(seg)?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Sets `path` to `value`, creating missing parent objects; an array index
/// past the end pads with nulls. Fails when a parent is a scalar.
pub fn set(doc: &mut Json, path: &[String], value: Json) -> Result<(), CmdError> {
    let Some((last, parents)) = path.split_last() else {
        return Err(CmdError::new("UNSUPPORTED_UPDATE_OPERATION_PATH", "UPDATE", "empty path"));
    };
    let blocked = || {
        CmdError::new(
            "UNSUPPORTED_UPDATE_OPERATION_PATH",
            "UPDATE",
            format!("cannot set '{}': a parent is not an object or array", path.join(".")),
        )
    };
    // Checked before padding: `a.30000000` would otherwise build the whole
    // array (gigabytes) only for the document's limits to refuse it after.
    let padded = |i: usize| {
        if i < crate::doc::path::MAX_ARRAY {
            return Ok(i);
        }
        Err(CmdError::new(
            "SHRED_DOC_LIMIT_VIOLATION",
            "DOCUMENT",
            format!(
                "cannot set '{}': array index {i} is beyond the longest array a document may hold ({} elements)",
                path.join("."),
                crate::doc::path::MAX_ARRAY
            ),
        ))
    };
    let mut cur = doc;
    for seg in parents {
        cur = match cur {
            Json::Object(m) => m.entry(seg.clone()).or_insert_with(|| Json::Object(Map::new())),
            Json::Array(a) => {
                let i = padded(index(seg).ok_or_else(blocked)?)?;
                if i >= a.len() {
                    a.resize(i + 1, Json::Null);
                }
                if a[i].is_null() {
                    a[i] = Json::Object(Map::new());
                }
                &mut a[i]
            }
            _ => return Err(blocked()),
        };
    }
    match cur {
        Json::Object(m) => {
            m.insert(last.clone(), value);
        }
        Json::Array(a) => {
            let i = padded(index(last).ok_or_else(blocked)?)?;
            if i >= a.len() {
                a.resize(i + 1, Json::Null);
            }
            a[i] = value;
        }
        _ => return Err(blocked()),
    }
    Ok(())
}

/// Removes the value at `path`; array elements become null (as in Mongo).
pub fn remove(doc: &mut Json, path: &[String]) -> Option<Json> {
    let (last, parents) = path.split_last()?;
    let mut cur = doc;
    for seg in parents {
        cur = match cur {
            Json::Object(m) => m.get_mut(seg)?,
            Json::Array(a) => a.get_mut(index(seg)?)?,
            _ => return None,
        };
    }
    match cur {
        // `shift_remove`: `remove` would move the last member into the gap.
        Json::Object(m) => m.shift_remove(last),
        Json::Array(a) => a.get_mut(index(last)?).map(|v| std::mem::replace(v, Json::Null)),
        _ => None,
    }
}

/// The epoch milliseconds of an EJSON `{"$date": ms}`.
pub fn date(v: &Json) -> Option<i64> {
    match v {
        Json::Object(m) if m.len() == 1 => m.get("$date")?.as_i64(),
        _ => None,
    }
}

/// Type-sensitive equality: numbers by value, objects regardless of key order.
pub fn equal(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q)),
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

/// Order for `$gt`..`$lte`: numbers, strings, booleans and dates, each only
/// against its own type.
pub fn compare(a: &Json, b: &Json) -> Option<Ordering> {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Json::String(x), Json::String(y)) => Some(x.cmp(y)),
        (Json::Bool(x), Json::Bool(y)) => Some(x.cmp(y)),
        _ => Some(date(a)?.cmp(&date(b)?)),
    }
}

fn rank(v: &Json) -> u8 {
    match v {
        Json::Null => 0,
        Json::Number(_) => 1,
        Json::String(_) => 2,
        Json::Object(_) if date(v).is_some() => 6,
        Json::Object(_) => 3,
        Json::Array(_) => 4,
        Json::Bool(_) => 5,
    }
}

/// A total order over all values (null < number < string < object < array <
/// boolean < date), for sorting and `$min`/`$max`.
pub fn total_order(a: &Json, b: &Json) -> Ordering {
    let by_rank = rank(a).cmp(&rank(b));
    if by_rank != Ordering::Equal {
        return by_rank;
    }
    match (a, b) {
        (Json::Array(x), Json::Array(y)) => {
            x.iter().zip(y).map(|(p, q)| total_order(p, q)).find(|o| o.is_ne()).unwrap_or(x.len().cmp(&y.len()))
        }
        (Json::Object(_), Json::Object(_)) if date(a).is_none() => a.to_string().cmp(&b.to_string()),
        _ => compare(a, b).unwrap_or(Ordering::Equal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> Path {
        parse_path(s, "FILTER").unwrap()
    }

    #[test]
    fn paths_split_and_unescape() {
        assert_eq!(p("a.b.0"), ["a", "b", "0"]);
        assert_eq!(p("a&.b.c&&d"), ["a.b", "c&d"]);
        assert!(parse_path("a..b", "FILTER").is_err());
        assert!(parse_path("a&b", "FILTER").is_err());
        assert_eq!(parse_path("a\0b", "FILTER").unwrap_err().code, "INVALID_PATH");
    }

    #[test]
    fn get_set_remove() {
        let mut d = json!({"a": {"b": [1, {"c": 2}]}});
        assert_eq!(get(&d, &p("a.b.1.c")), Some(&json!(2)));
        assert_eq!(get(&d, &p("a.b.c")), None, "no implicit traversal of arrays");
        set(&mut d, &p("x.y"), json!(3)).unwrap();
        assert_eq!(d["x"], json!({"y": 3}));
        set(&mut d, &p("a.b.3"), json!(4)).unwrap();
        assert_eq!(d["a"]["b"], json!([1, {"c": 2}, null, 4]));
        assert!(set(&mut d, &p("x.y.z"), json!(1)).is_err());
        assert_eq!(remove(&mut d, &p("x.y")), Some(json!(3)));
    }

    #[test]
    fn an_index_past_the_array_limit_is_refused_before_padding() {
        let mut d = json!({"a": [1]});
        // Would take gigabytes if the array were padded first.
        let e = set(&mut d, &p("a.30000000"), json!(1)).unwrap_err();
        assert_eq!(e.code, "SHRED_DOC_LIMIT_VIOLATION");
        let e = set(&mut d, &p("a.4000000000.b"), json!(1)).unwrap_err();
        assert_eq!(e.code, "SHRED_DOC_LIMIT_VIOLATION");
        assert_eq!(d, json!({"a": [1]}));
    }

    #[test]
    fn numbers_and_dates() {
        assert!(equal(&json!(1), &json!(1.0)));
        assert!(!equal(&json!(1), &json!("1")));
        assert!(equal(&json!({"a": 1, "b": 2}), &json!({"b": 2, "a": 1})));
        assert_eq!(compare(&json!({"$date": 5}), &json!({"$date": 7})), Some(Ordering::Less));
        assert_eq!(compare(&json!(1), &json!("a")), None);
        assert_eq!(total_order(&json!(true), &json!([1])), Ordering::Greater);
    }
}
