//! Document ids. A Data API `_id` may be a string, number, boolean, null or an
//! EJSON `$date`/`$uuid`/`$objectId`; the document store keys documents by a
//! string. The mapping: a string `_id` is its own key (so a Documents API
//! `documentId` and a Data API string `_id` are the same thing); any other
//! `_id` is keyed by its compact JSON text (`1`, `true`, `{"$uuid":"..."}`).
//! The `_id` itself is also kept in the stored document, so it reads back in
//! the same type; a document written through the Documents API (no `_id`
//! member) reads back with its `documentId` as a string `_id`.

use super::envelope::CmdError;
use serde_json::{json, Value as Json};

/// Whether a one-member EJSON wrapper holds what its key promises: `$date`
/// integer milliseconds, `$uuid` a UUID, `$objectId` 24 hex digits, `$binary`
/// base64.
pub fn valid_ejson(key: &str, value: &Json) -> bool {
    use base64::Engine as _;
    match (key, value) {
        ("$date", v) => v.is_i64(),
        ("$uuid", Json::String(s)) => uuid::Uuid::parse_str(s).is_ok(),
        ("$objectId", Json::String(s)) => s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()),
        ("$binary", Json::String(s)) => base64::engine::general_purpose::STANDARD.decode(s).is_ok(),
        _ => false,
    }
}

/// Checks an `_id` value.
pub fn check(id: &Json) -> Result<(), CmdError> {
    let ok = match id {
        Json::String(s) => !s.is_empty(),
        Json::Number(_) | Json::Bool(_) | Json::Null => true,
        Json::Object(m) if m.len() == 1 => m.iter().next().is_some_and(|(k, v)| k != "$binary" && valid_ejson(k, v)),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(CmdError::new(
            "SHRED_BAD_DOCID_TYPE",
            "DOCUMENT",
            format!("_id must be a non-empty string, a number, a boolean, null or a $date/$uuid/$objectId, got {id}"),
        ))
    }
}

/// The store key of an `_id` (see [`crate::engine::docs::id_of`]).
pub fn key(id: &Json) -> String {
    crate::engine::docs::id_of(id)
}

/// A fresh `_id` for a document without one: a UUIDv4 string.
pub fn generate() -> Json {
    json!(uuid::Uuid::new_v4().to_string())
}

fn random_bytes() -> [u8; 16] {
    *uuid::Uuid::new_v4().as_bytes()
}

fn format_uuid(b: [u8; 16]) -> String {
    uuid::Uuid::from_bytes(b).hyphenated().to_string()
}

/// A time-ordered UUIDv7 (RFC 9562 §5.7) for `defaultId: uuidv7`.
pub fn uuid_v7(now_ms: i64) -> String {
    let mut b = random_bytes();
    let ms = (now_ms.max(0) as u64).to_be_bytes();
    b[..6].copy_from_slice(&ms[2..]);
    b[6] = 0x70 | (b[6] & 0x0f);
    b[8] = 0x80 | (b[8] & 0x3f);
    format_uuid(b)
}

/// A UUIDv6 (RFC 9562 §5.6: Gregorian 100 ns ticks, high bits first) for `defaultId: uuidv6`.
pub fn uuid_v6(now_ms: i64) -> String {
    const GREGORIAN_OFFSET_TICKS: u64 = 0x01B2_1DD2_1381_4000;
    let ticks = (now_ms.max(0) as u64) * 10_000 + GREGORIAN_OFFSET_TICKS;
    let mut b = random_bytes();
    let high = (ticks >> 12).to_be_bytes(); // top 48 of 60 bits
    b[..6].copy_from_slice(&high[2..]);
    b[6] = 0x60 | ((ticks >> 8) & 0x0f) as u8;
    b[7] = (ticks & 0xff) as u8;
    b[8] = 0x80 | (b[8] & 0x3f);
    format_uuid(b)
}

/// A MongoDB-style ObjectId (4 bytes of seconds, 8 random) for `defaultId: objectId`.
pub fn object_id(now_ms: i64) -> String {
    let secs = ((now_ms.max(0) / 1000) as u32).to_be_bytes();
    let r = random_bytes();
    secs.iter().chain(&r[..8]).map(|b| format!("{b:02x}")).collect()
}

/// A stored document as the Data API shows it: `_id` first, the other
/// members in their stored order. A document the Data API wrote already has
/// it first (on SQLite, which keeps the text): it is returned as is, with no
/// copy of its members.
pub fn with_id(key: &str, doc: Json) -> Json {
    match doc {
        Json::Object(m) if m.keys().next().is_some_and(|k| k == "_id") => Json::Object(m),
        Json::Object(mut m) => {
            // `shift_remove`: `remove` would move the last member into its place.
            let id = m.shift_remove("_id").unwrap_or_else(|| json!(key));
            m.shift_insert(0, "_id".into(), id);
            Json::Object(m)
        }
        other => {
            // A Documents API document may be a bare value; show it under `value`.
            let mut out = serde_json::Map::new();
            out.insert("_id".into(), json!(key));
            out.insert("value".into(), other);
            Json::Object(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_first_and_member_order_kept() {
        let order = |d: &Json| d.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        let d = with_id("k", json!({"a": 1, "b": 2, "_id": "x", "c": 3}));
        assert_eq!(order(&d), ["_id", "a", "b", "c"]);
        assert_eq!(d["_id"], "x");
        let d = with_id("k", json!({"_id": "x", "a": 1, "b": 2, "c": 3}));
        assert_eq!(order(&d), ["_id", "a", "b", "c"]);
        assert_eq!(order(&with_id("k", json!({"z": 1, "y": 2}))), ["_id", "z", "y"]);
        assert_eq!(with_id("k", json!(5)), json!({"_id": "k", "value": 5}));
    }

    #[test]
    fn ids() {
        assert!(check(&json!("a")).is_ok());
        assert!(check(&json!("")).is_err());
        assert!(check(&json!([1])).is_err());
        assert!(check(&json!({"$uuid": "0191d1a6-6b3e-7c1f-8e3a-1b2c3d4e5f60"})).is_ok());
        assert!(check(&json!({"$objectId": "zz"})).is_err());
        assert_eq!(key(&json!("a")), "a");
        assert_eq!(key(&json!(1)), "1");
        assert_eq!(key(&json!({"$date": 5})), r#"{"$date":5}"#);
    }

    #[test]
    fn generated_ids_are_valid() {
        assert_eq!(uuid::Uuid::parse_str(&uuid_v7(1_700_000_000_000)).unwrap().get_version_num(), 7);
        assert_eq!(uuid::Uuid::parse_str(&uuid_v6(1_700_000_000_000)).unwrap().get_version_num(), 6);
        assert!(check(&json!({"$objectId": object_id(1_700_000_000_000)})).is_ok());
        assert!(uuid_v7(1) < uuid_v7(2));
    }

    #[test]
    fn documents_api_docs_get_their_key_as_id() {
        assert_eq!(with_id("k", json!({"a": 1})), json!({"_id": "k", "a": 1}));
        assert_eq!(with_id("k", json!({"_id": 3, "a": 1})), json!({"_id": 3, "a": 1}));
    }
}
