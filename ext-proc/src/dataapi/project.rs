//! Projections: which fields a read returns.

use super::envelope::CmdError;
use super::value::{get, parse_path, set, Path};
use serde_json::{Map, Value as Json};

/// Fields hidden unless asked for.
const HIDDEN: [&str; 3] = ["$vector", "$vectorize", "$lexical"];

/// A parsed projection.
#[derive(Debug, Clone, PartialEq)]
pub enum Projection {
    /// Everything but the hidden fields (none, `{}`).
    Default,
    /// `{"*": 1}`.
    All,
    /// `{"*": 0}`.
    Nothing,
    /// Only these paths (+ `_id` unless excluded).
    Include { paths: Vec<Path>, id: bool },
    /// All but these paths.
    Exclude { paths: Vec<Path>, shown: Vec<String>, slices: Vec<(Path, Slice)> },
}

/// `{"$slice": n}` (first n, or last -n) or `{"$slice": [skip, n]}` (skip < 0 counts from the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slice {
    /// The first n elements (the last -n when negative).
    Ends(i64),
    /// n elements after skipping some.
    Range(i64, i64),
}

impl Slice {
    fn parse(v: &Json) -> Option<Slice> {
        match v.get("$slice")? {
            Json::Number(n) => Some(Slice::Ends(n.as_i64()?)),
            Json::Array(a) if a.len() == 2 => Some(Slice::Range(a[0].as_i64()?, a[1].as_i64().filter(|t| *t > 0)?)),
            _ => None,
        }
    }

    fn apply(self, items: &[Json]) -> Vec<Json> {
        let len = items.len() as i64;
        let (start, end) = match self {
            Slice::Ends(n) if n < 0 => ((len + n).max(0), len),
            Slice::Ends(n) => (0, n.min(len)),
            Slice::Range(skip, n) => {
                let start = if skip < 0 { (len + skip).max(0) } else { skip.min(len) };
                (start, (start + n).min(len))
            }
        };
        items[start as usize..end as usize].to_vec()
    }
}

fn flag(v: &Json) -> Option<bool> {
    match v {
        Json::Bool(b) => Some(*b),
        Json::Number(n) => n.as_f64().map(|f| f != 0.0),
        _ => None,
    }
}

fn bad(message: String) -> CmdError {
    CmdError::new("UNSUPPORTED_PROJECTION_PARAM", "PROJECTION", message)
}

impl Projection {
    /// Parses a projection.
    pub fn parse(v: Option<&Json>) -> Result<Projection, CmdError> {
        let m = match v {
            None | Some(Json::Null) => return Ok(Projection::Default),
            Some(Json::Object(m)) if m.is_empty() => return Ok(Projection::Default),
            Some(Json::Object(m)) => m,
            Some(other) => return Err(bad(format!("projection must be an object, got {other}"))),
        };
        if let Some(star) = m.get("*") {
            return match (m.len(), flag(star)) {
                (1, Some(true)) => Ok(Projection::All),
                (1, Some(false)) => Ok(Projection::Nothing),
                _ => Err(bad("'*' must be alone and 1 or 0".into())),
            };
        }
        let mut inc = Vec::new();
        let mut exc = Vec::new();
        let mut id = true;
        let mut shown = Vec::new();
        let mut slices = Vec::new();
        for (k, v) in m {
            if v.is_object() {
                let slice = Slice::parse(v)
                    .ok_or_else(|| bad(format!("'{k}': only {{\"$slice\": n | [skip, n > 0]}} is supported")))?;
                slices.push((parse_path(k, "PROJECTION")?, slice));
                continue;
            }
            let on =
                flag(v).ok_or_else(|| bad(format!("'{k}' must be true/false or 1/0 ($slice is not supported)")))?;
            if k == "_id" {
                id = on;
            } else if HIDDEN.contains(&k.as_str()) {
                if on {
                    shown.push(k.clone());
                    inc.push(vec![k.clone()]);
                }
            } else if on {
                inc.push(parse_path(k, "PROJECTION")?);
            } else {
                exc.push(parse_path(k, "PROJECTION")?);
            }
        }
        let real_inc = inc.iter().any(|p| !HIDDEN.contains(&p[0].as_str()));
        match (real_inc, exc.is_empty()) {
            (true, false) => Err(bad("a projection either includes or excludes fields, not both".into())),
            (true, true) if slices.is_empty() => Ok(Projection::Include { paths: inc, id }),
            (true, true) => Err(bad("$slice combines with exclusions only".into())),
            (false, _) => {
                if !id {
                    exc.push(vec!["_id".into()]);
                }
                Ok(Projection::Exclude { paths: exc, shown, slices })
            }
        }
    }

    /// Applies the projection to a document (`_id` first).
    pub fn apply(&self, doc: Json) -> Json {
        match self {
            Projection::All => doc,
            Projection::Nothing => Json::Object(Map::new()),
            Projection::Default => strip(doc, &[]),
            Projection::Exclude { paths, shown, slices } => {
                let mut d = strip(doc, shown);
                for p in paths {
                    super::value::remove(&mut d, p);
                }
                for (p, s) in slices {
                    if let Some(Json::Array(items)) = get(&d, p) {
                        let cut = Json::Array(s.apply(items));
                        let _ = set(&mut d, p, cut);
                    }
                }
                d
            }
            Projection::Include { paths, id } => {
                let mut out = Json::Object(Map::new());
                if *id {
                    if let Some(v) = doc.get("_id") {
                        let _ = set(&mut out, &["_id".to_owned()], v.clone());
                    }
                }
                for p in paths {
                    if let Some(v) = get(&doc, p) {
                        let _ = set(&mut out, p, v.clone());
                    }
                }
                out
            }
        }
    }
}

/// The default projection of a stored document's text, `_id` first: its
/// `_id` member (or `key` when it has none, as [`super::ids::with_id`]
/// does) and every other member but the hidden ones, compact. Returns the
/// text and the `_id` value's text; `None` when the text is not an object
/// the scanner takes ([`crate::rawjson::members`]), to be parsed instead.
pub fn default_text(key: &str, text: &str) -> Option<(Vec<u8>, Option<String>)> {
    let members = crate::rawjson::members(text)?;
    let mut out = Vec::with_capacity(text.len() + 16);
    out.extend_from_slice(br#"{"_id":"#);
    let id = members.iter().find(|(k, _)| *k == r#""_id""#).map(|(_, v)| (*v).to_owned());
    match &id {
        Some(v) => crate::rawjson::compact_into(&mut out, v),
        None => out.extend_from_slice(Json::String(key.to_owned()).to_string().as_bytes()),
    }
    for (k, v) in members {
        let name = &k[1..k.len() - 1];
        if name == "_id" || HIDDEN.contains(&name) {
            continue;
        }
        out.push(b',');
        out.extend_from_slice(k.as_bytes());
        out.push(b':');
        crate::rawjson::compact_into(&mut out, v);
    }
    out.push(b'}');
    Some((out, id))
}

fn strip(doc: Json, keep: &[String]) -> Json {
    match doc {
        Json::Object(mut m) => {
            for h in HIDDEN {
                if !keep.iter().any(|k| k == h) {
                    // `shift_remove` keeps the other members' order.
                    m.shift_remove(h);
                }
            }
            Json::Object(m)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(proj: Json, doc: Json) -> Json {
        Projection::parse(Some(&proj)).unwrap().apply(doc)
    }

    #[test]
    fn projections() {
        let d = json!({"_id": 1, "a": 1, "b": {"c": 2, "d": 3}, "$vector": [1.0]});
        assert_eq!(p(json!({}), d.clone()), json!({"_id": 1, "a": 1, "b": {"c": 2, "d": 3}}));
        assert_eq!(p(json!({"b.c": 1}), d.clone()), json!({"_id": 1, "b": {"c": 2}}));
        assert_eq!(p(json!({"a": true, "_id": false}), d.clone()), json!({"a": 1}));
        assert_eq!(p(json!({"a": 0}), d.clone()), json!({"_id": 1, "b": {"c": 2, "d": 3}}));
        assert_eq!(p(json!({"$vector": 1}), d.clone()), d.clone());
        assert_eq!(p(json!({"*": 0}), d.clone()), json!({}));
        assert_eq!(p(json!({"*": 1}), d.clone()), d);
        assert!(Projection::parse(Some(&json!({"a": 1, "b": 0}))).is_err());
        let t = json!({"_id": 1, "t": [1, 2, 3, 4]});
        assert_eq!(p(json!({"t": {"$slice": 2}}), t.clone()), json!({"_id": 1, "t": [1, 2]}));
        assert_eq!(p(json!({"t": {"$slice": -1}}), t.clone()), json!({"_id": 1, "t": [4]}));
        assert_eq!(p(json!({"t": {"$slice": [1, 2]}}), t.clone()), json!({"_id": 1, "t": [2, 3]}));
        assert_eq!(p(json!({"t": {"$slice": [-2, 5]}}), t), json!({"_id": 1, "t": [3, 4]}));
        assert!(Projection::parse(Some(&json!({"t": {"$slice": [1, 0]}}))).is_err());
    }

    #[test]
    fn default_text_is_the_default_projection_byte_for_byte() {
        let texts = [
            // serde_json's text (SQLite), PostgreSQL's (`jsonb`: spaced, keys by length).
            r#"{"_id":"k","a":1,"$vector":[0.5,1.0],"b":{"c":"x, y"}}"#,
            r#"{"a": 1, "_id": {"$uuid": "0190d3b6-7b3e-7000-8000-000000000000"}, "$vectorize": "t", "z": [1, {"q": null}]}"#,
            r#"{"n": "no id here", "m": {}}"#,
            r#"{}"#,
        ];
        for text in texts {
            let parsed: Json = serde_json::from_str(text).unwrap();
            let want = serde_json::to_vec(&Projection::Default.apply(super::super::ids::with_id("k", parsed.clone())))
                .unwrap();
            let (got, id) = default_text("k", text).unwrap();
            assert_eq!(String::from_utf8(got).unwrap(), String::from_utf8(want).unwrap(), "{text}");
            assert_eq!(id.map(|t| serde_json::from_str::<Json>(&t).unwrap()), parsed.get("_id").cloned());
        }
        // A bare value (a Documents API document) is left to the parser.
        assert_eq!(default_text("k", "[1, 2]"), None);
    }
}
