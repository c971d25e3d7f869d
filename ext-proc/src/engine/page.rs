//! Opaque keyset cursors (`page-state`): the primary key of the last row
//! returned plus a fingerprint of the query, so a cursor is only accepted by
//! the query that produced it and the next page costs O(page).

use crate::fault::Fault;
use crate::model::TableDef;
use crate::plan::OrderColumn;
use crate::value::Value;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};

/// A fingerprint of everything that defines a result set.
pub fn fingerprint(table: &TableDef, query_shape: &str) -> String {
    fingerprint_of(&[&table.name, query_shape])
}

/// A fingerprint of a result set described by `parts`.
pub fn fingerprint_of(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Encodes the cursor after `key` (the last row's primary-key values).
pub fn encode(fingerprint: &str, key: &[Value]) -> String {
    encode_keys(fingerprint, key.iter().map(Value::to_json).collect())
}

/// Encodes a cursor holding JSON key values.
pub fn encode_keys(fingerprint: &str, key: Vec<Json>) -> String {
    URL_SAFE_NO_PAD.encode(json!({ "q": fingerprint, "k": key }).to_string())
}

fn malformed() -> Fault {
    Fault::Invalid("page-state is malformed or belongs to a different query".to_owned())
}

/// Decodes a cursor's JSON key values, if it belongs to this query.
pub fn decode_keys(fingerprint: &str, text: &str) -> Result<Vec<Json>, Fault> {
    let bytes = URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).map_err(|_| malformed())?;
    let mut cursor: Json = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    if cursor.get("q").and_then(Json::as_str) != Some(fingerprint) {
        return Err(malformed());
    }
    match cursor.get_mut("k").map(Json::take) {
        Some(Json::Array(k)) => Ok(k),
        _ => Err(malformed()),
    }
}

/// Decodes a cursor for this query (whose read order is `order`); anything else is a 400.
pub fn decode(order: &[OrderColumn], fingerprint: &str, text: &str) -> Result<Vec<Value>, Fault> {
    let bad = malformed;
    let key = decode_keys(fingerprint, text)?;
    if key.len() != order.len() {
        return Err(bad());
    }
    order
        .iter()
        .zip(key)
        .map(|(o, v)| match Value::of(o.column.ty, &v) {
            Ok(Value::Null) if !o.nullable => Err(bad()),
            Ok(v) => Ok(v),
            Err(_) => Err(bad()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{test_table, ColumnType, Order};

    fn table() -> TableDef {
        test_table("t", &[("a", ColumnType::Text), ("b", ColumnType::Int)], &["a"], &[("b", Order::Desc)])
    }

    #[test]
    fn round_trip_and_tamper() {
        let t = table();
        let fp = fingerprint(&t, "where a = x");
        let key = vec![Value::Text("x".into()), Value::Int(3)];
        let c = encode(&fp, &key);
        let order = crate::plan::read_order(&t, &[]);
        assert_eq!(decode(&order, &fp, &c).unwrap(), key);
        let other = fingerprint(&t, "where a = y");
        assert_eq!(decode(&order, &other, &c).unwrap_err(), malformed());
        assert_eq!(decode(&order, &fp, "!!!").unwrap_err(), malformed());
        assert_eq!(decode(&order, &fp, &URL_SAFE_NO_PAD.encode("[]")).unwrap_err(), malformed());
        let wrong_type = URL_SAFE_NO_PAD.encode(json!({"q": fp, "k": ["x", "three"]}).to_string());
        assert_eq!(decode(&order, &fp, &wrong_type).unwrap_err(), malformed());
        let null_key = URL_SAFE_NO_PAD.encode(json!({"q": fp, "k": ["x", null]}).to_string());
        assert_eq!(decode(&order, &fp, &null_key).unwrap_err(), malformed(), "key columns are never NULL");
    }
}
