//! JSON parsing for client input: objects keep their order and duplicate keys
//! are rejected instead of silently keeping the last one, and nesting depth is capped.

use crate::fault::Fault;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;

/// Deepest nesting accepted in a request body or parameter.
pub const MAX_DEPTH: usize = 64;

/// A JSON value whose objects, at every level, were checked for duplicate keys.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::with_capacity(map.size_hint().unwrap_or(0));
        while let Some((k, Strict(v))) = map.next_entry::<String, Strict>()? {
            // One hash per key: the entry both checks and inserts.
            match out.entry(k) {
                serde_json::map::Entry::Vacant(e) => {
                    e.insert(v);
                }
                serde_json::map::Entry::Occupied(e) => {
                    return Err(serde::de::Error::custom(format!("duplicate key '{}'", e.key())));
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// Parses any JSON value, rejecting duplicate keys at every level and nesting
/// deeper than [`MAX_DEPTH`]; `what` names the input in errors.
pub fn parse(what: &str, text: &[u8]) -> Result<Value, Fault> {
    check_depth(what, text)?;
    serde_json::from_slice::<Strict>(text)
        .map(|s| s.0)
        .map_err(|e| Fault::Invalid(format!("{what} is not valid JSON: {e}")))
}

/// Parses a JSON object (see [`parse`]) into its entries in document order.
pub fn object(what: &str, text: &[u8]) -> Result<Vec<(String, Value)>, Fault> {
    match parse(what, text)? {
        Value::Object(map) => Ok(map.into_iter().collect()),
        other => Err(Fault::Invalid(format!("{what} must be a JSON object, got {}", kind(&other)))),
    }
}

/// A short name for a JSON value's kind, for error messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Rejects input nested deeper than [`MAX_DEPTH`] before parsing it, so a
/// hostile body cannot exhaust the parser's stack.
pub fn check_depth(what: &str, text: &[u8]) -> Result<(), Fault> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in text {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(Fault::Invalid(format!("{what} is nested deeper than {MAX_DEPTH} levels")));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// About how many bytes a document takes as JSON text, without writing it.
pub fn approx_bytes(v: &Value) -> usize {
    match v {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 8,
        Value::String(s) => s.len() + 2,
        Value::Array(a) => 2 + a.iter().map(|i| approx_bytes(i) + 1).sum::<usize>(),
        Value::Object(m) => 2 + m.iter().map(|(k, v)| k.len() + 4 + approx_bytes(v)).sum::<usize>(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn approx_bytes_is_near_the_json_text() {
        // Near for documents whose size matters (a few bytes off on tiny ones).
        let items: Vec<Value> = (0..500).map(|i| json!({"n": i, "s": format!("item {i}")})).collect();
        for v in [json!({"a": "x".repeat(1000), "b": [1, 2, {"c": null}]}), json!({ "items": items })] {
            let real = serde_json::to_vec(&v).unwrap().len() as f64;
            let approx = approx_bytes(&v) as f64;
            // An estimate that errs high (numbers count 8 bytes, separators generously).
            assert!((0.9..1.5).contains(&(approx / real)), "{approx} vs {real}");
        }
    }

    #[test]
    fn duplicates_are_rejected() {
        let err = object("where", br#"{"a":1,"a":2}"#).err().unwrap();
        assert!(err.to_string().contains("duplicate key 'a'"), "{err}");
        let err = object("where", br#"{"a":{"$eq":1,"$eq":2}}"#).err().unwrap();
        assert!(err.to_string().contains("duplicate key '$eq'"), "{err}");
        assert_eq!(object("w", br#"{"b":1,"a":2}"#).unwrap()[0].0, "b");
    }

    #[test]
    fn depth_is_capped() {
        let deep = "[".repeat(65) + &"]".repeat(65);
        assert!(check_depth("body", deep.as_bytes()).is_err());
        assert!(check_depth(
            "body",
            br#"{"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}"#
        )
        .is_ok());
    }

    #[test]
    fn non_objects_are_400() {
        assert!(matches!(object("body", b"[1]"), Err(Fault::Invalid(_))));
        assert!(matches!(object("body", b"{"), Err(Fault::Invalid(_))));
    }
}
