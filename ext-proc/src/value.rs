//! Typed values: JSON (and path segments) in, bound parameters out, and back.
//! Conversion is driven by the column type so a wrong type is caught here with
//! a message naming column and expected type, before any store sees it.

use crate::model::{ColumnType, DataType};
use base64::Engine;
use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, Timelike, Utc};
use serde_json::Value as Json;
use std::net::IpAddr;

/// A value bound to a statement or read from a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL / absent.
    Null,
    /// `boolean`.
    Bool(bool),
    /// `tinyint`, `smallint`, `int`, `bigint` (range-checked for the column).
    Int(i64),
    /// `float` (stored at the column's precision).
    Float(f32),
    /// `double`.
    Double(f64),
    /// `text`, `varchar`, `ascii`.
    Text(String),
    /// `uuid`, `timeuuid`.
    Uuid(uuid::Uuid),
    /// `timestamp`, millisecond precision.
    Timestamp(DateTime<Utc>),
    /// `date`.
    Date(NaiveDate),
    /// `time`, microsecond precision.
    Time(NaiveTime),
    /// `blob`.
    Blob(Vec<u8>),
    /// `inet`.
    Inet(IpAddr),
    /// A collection (`list`, `set`, `map`) in its canonical JSON form.
    Json(Json),
    /// `decimal`, `varint`: exact text (see [`crate::decimal`]).
    Decimal(String),
}

impl Value {
    /// Converts a JSON value for a column of type `ty`.
    pub fn from_json(ty: ColumnType, json: &Json) -> Result<Value, String> {
        if json.is_null() {
            return Ok(Value::Null);
        }
        let wrong = || format!("expected a {ty} value, got {json}");
        match ty {
            ColumnType::Text | ColumnType::Ascii => {
                let s = json.as_str().ok_or_else(wrong)?;
                Value::from_text(ty, s)
            }
            ColumnType::Boolean => json.as_bool().map(Value::Bool).ok_or_else(wrong),
            ColumnType::Tinyint | ColumnType::Smallint | ColumnType::Int | ColumnType::Bigint | ColumnType::Counter => {
                match json {
                    Json::Number(n) => n.as_i64().ok_or_else(wrong).and_then(|i| check_int(ty, i)),
                    // Strings let clients send 64-bit values that JSON numbers would round.
                    Json::String(s) => Value::from_text(ty, s),
                    _ => Err(wrong()),
                }
            }
            ColumnType::Float | ColumnType::Double => match json {
                Json::Number(n) => n.as_f64().ok_or_else(wrong).and_then(|f| float(ty, f)),
                Json::String(s) => Value::from_text(ty, s),
                _ => Err(wrong()),
            },
            // Strings keep every digit; numbers are accepted when JSON could carry them.
            ColumnType::Decimal | ColumnType::Varint => match json {
                Json::String(s) => Value::from_text(ty, s),
                Json::Number(n) => Value::from_text(ty, &n.to_string()),
                _ => Err(wrong()),
            },
            ColumnType::Uuid
            | ColumnType::Timeuuid
            | ColumnType::Timestamp
            | ColumnType::Date
            | ColumnType::Time
            | ColumnType::Blob
            | ColumnType::Inet => json.as_str().ok_or_else(wrong).and_then(|s| Value::from_text(ty, s)),
        }
    }

    /// Converts a JSON value for a column of any type, collections included:
    /// elements are checked and normalised, sets deduplicated and sorted, and
    /// maps accepted as objects or as `[{"key":..,"value":..}]` lists.
    pub fn of(ty: DataType, json: &Json) -> Result<Value, String> {
        let elem = |t: ColumnType, e: &Json| match Value::from_json(t, e) {
            Ok(Value::Null) => Err(format!("collections cannot hold null (a {ty} got {json})")),
            Ok(v) => Ok(v.to_json()),
            Err(e) => Err(format!("{ty} element: {e}")),
        };
        match (ty, json) {
            (DataType::Scalar(t), j) => Value::from_json(t, j),
            (_, Json::Null) => Ok(Value::Null),
            (DataType::List(t), Json::Array(items)) => {
                items.iter().map(|e| elem(t, e)).collect::<Result<_, _>>().map(|v| Value::Json(Json::Array(v)))
            }
            (DataType::Set(t), Json::Array(items)) => {
                let mut v: Vec<Json> = items.iter().map(|e| elem(t, e)).collect::<Result<_, _>>()?;
                v.sort_by(compare_json);
                v.dedup();
                Ok(Value::Json(Json::Array(v)))
            }
            (DataType::Map(k, v), Json::Object(entries)) => {
                let mut out = serde_json::Map::new();
                for (key, value) in entries {
                    out.insert(map_key(k, key)?, elem(v, value)?);
                }
                Ok(Value::Json(Json::Object(out)))
            }
            (DataType::Map(k, v), Json::Array(pairs)) => {
                let mut out = serde_json::Map::new();
                for pair in pairs {
                    let (Some(key), Some(value)) = (pair.get("key"), pair.get("value")) else {
                        return Err(format!("a {ty} given as a list needs {{\"key\": .., \"value\": ..}} items"));
                    };
                    let key = match key {
                        Json::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    out.insert(map_key(k, &key)?, elem(v, value)?);
                }
                Ok(Value::Json(Json::Object(out)))
            }
            _ => Err(format!("expected a {ty} value, got {json}")),
        }
    }

    /// Parses a textual value (a primary-key path segment, a JSON string).
    pub fn from_text(ty: ColumnType, s: &str) -> Result<Value, String> {
        let wrong = || format!("expected a {ty} value, got '{s}'");
        match ty {
            ColumnType::Text => Ok(Value::Text(s.to_owned())),
            ColumnType::Decimal => crate::decimal::Decimal::parse(s)
                .map(|d| Value::Decimal(d.to_string()))
                .map_err(|e| format!("expected a decimal value (as a string, e.g. \"12.50\"): {e}")),
            ColumnType::Varint => match crate::decimal::Decimal::parse(s) {
                Ok(d) if d.is_integer() => Ok(Value::Decimal(d.to_string())),
                _ => Err(format!("expected a varint value (a whole number, as a string), got '{s}'")),
            },
            ColumnType::Ascii if s.is_ascii() => Ok(Value::Text(s.to_owned())),
            ColumnType::Ascii => Err(format!("expected an ascii value, got non-ASCII text '{s}'")),
            ColumnType::Boolean => match s {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(wrong()),
            },
            ColumnType::Tinyint | ColumnType::Smallint | ColumnType::Int | ColumnType::Bigint | ColumnType::Counter => {
                s.trim().parse::<i64>().map_err(|_| wrong()).and_then(|i| check_int(ty, i))
            }
            ColumnType::Float | ColumnType::Double => {
                s.trim().parse::<f64>().map_err(|_| wrong()).and_then(|f| float(ty, f))
            }
            ColumnType::Uuid => uuid::Uuid::parse_str(s).map(Value::Uuid).map_err(|_| wrong()),
            ColumnType::Timeuuid => match uuid::Uuid::parse_str(s) {
                Ok(u) if u.get_version_num() == 1 => Ok(Value::Uuid(u)),
                _ => Err(format!("expected a timeuuid (version-1 uuid), got '{s}'")),
            },
            ColumnType::Timestamp => parse_timestamp(s).ok_or_else(|| {
                format!("expected a timestamp like 2024-05-01T12:30:00Z or milliseconds since the epoch, got '{s}'")
            }),
            ColumnType::Date => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map(Value::Date)
                .map_err(|_| format!("expected a date like 2024-05-01, got '{s}'")),
            ColumnType::Time => NaiveTime::parse_from_str(s.trim(), "%H:%M:%S%.f")
                .map(|t| Value::Time(truncate_micros(t)))
                .map_err(|_| format!("expected a time like 13:45:00 or 13:45:00.123456, got '{s}'")),
            ColumnType::Blob => base64::engine::general_purpose::STANDARD
                .decode(s.trim())
                .map(Value::Blob)
                .map_err(|_| format!("expected a blob as base64 text, got '{s}'")),
            ColumnType::Inet => s
                .trim()
                .parse::<IpAddr>()
                .map(Value::Inet)
                .map_err(|_| format!("expected an IPv4 or IPv6 address, got '{s}'")),
        }
    }

    /// The JSON form returned to clients.
    /// Appends the value's JSON text (what serializing [`Value::to_json`]
    /// writes) to `out`; the common kinds without building a [`Json`] first.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        // Serializing a str, a number or a `Json` into a Vec cannot fail.
        let _ = match self {
            Value::Null => serde_json::to_writer(&mut *out, &()),
            Value::Bool(b) => serde_json::to_writer(&mut *out, b),
            Value::Int(i) => serde_json::to_writer(&mut *out, i),
            Value::Text(s) | Value::Decimal(s) => serde_json::to_writer(&mut *out, s.as_str()),
            Value::Json(j) => serde_json::to_writer(&mut *out, j),
            other => serde_json::to_writer(&mut *out, &other.to_json()),
        };
    }

    pub fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::Float(f) => Json::from(f64::from(*f)),
            Value::Double(f) => Json::from(*f),
            Value::Text(s) => Json::String(s.clone()),
            Value::Uuid(u) => Json::String(u.to_string()),
            Value::Timestamp(t) => Json::String(format_timestamp(t)),
            Value::Date(d) => Json::String(d.format("%Y-%m-%d").to_string()),
            Value::Time(t) => Json::String(format_time(t)),
            Value::Blob(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
            Value::Inet(ip) => Json::String(ip.to_string()),
            Value::Json(j) => j.clone(),
            Value::Decimal(s) => Json::String(s.clone()),
        }
    }
}

fn check_int(ty: ColumnType, i: i64) -> Result<Value, String> {
    let (min, max) = match ty {
        ColumnType::Tinyint => (i64::from(i8::MIN), i64::from(i8::MAX)),
        ColumnType::Smallint => (i64::from(i16::MIN), i64::from(i16::MAX)),
        ColumnType::Int => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => (i64::MIN, i64::MAX),
    };
    if (min..=max).contains(&i) {
        Ok(Value::Int(i))
    } else {
        Err(format!("{i} is out of range for {ty} ({min}..={max})"))
    }
}

/// A float or double value, finite only: JSON has no NaN or infinity to answer
/// with, and SQLite keeps NaN as NULL, so either would be acknowledged and
/// then read back as `null`. A double beyond a float's range becomes one.
fn float(ty: ColumnType, f: f64) -> Result<Value, String> {
    let value = if ty == ColumnType::Float { Value::Float(f as f32) } else { Value::Double(f) };
    match value {
        Value::Float(v) if !v.is_finite() => Err(format!("expected a finite float (at most ±3.4e38), got {f}")),
        Value::Double(v) if !v.is_finite() => Err(format!("expected a finite double, got {f}")),
        v => Ok(v),
    }
}

/// Accepts RFC 3339 (any offset) or epoch milliseconds; keeps millisecond precision like Cassandra.
pub fn parse_timestamp(s: &str) -> Option<Value> {
    let t = match DateTime::parse_from_rfc3339(s.trim()) {
        Ok(t) => t.with_timezone(&Utc),
        Err(_) => DateTime::<Utc>::from_timestamp_millis(s.trim().parse::<i64>().ok()?)?,
    };
    DateTime::<Utc>::from_timestamp_millis(t.timestamp_millis()).map(Value::Timestamp)
}

/// A map key in canonical text form (JSON object keys are strings).
fn map_key(ty: ColumnType, key: &str) -> Result<String, String> {
    match Value::from_text(ty, key)?.to_json() {
        Json::String(s) => Ok(s),
        other => Ok(other.to_string()),
    }
}

/// Set order: numbers by value, everything else by its JSON text.
fn compare_json(a: &Json, b: &Json) -> std::cmp::Ordering {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// Cassandra `time` is nanoseconds; both SQL stores keep microseconds.
fn truncate_micros(t: NaiveTime) -> NaiveTime {
    let nanos = t.nanosecond() % 1_000_000_000;
    t.with_nanosecond(nanos - nanos % 1000).unwrap_or(t)
}

/// Fixed width, so text order is time order: `HH:MM:SS.ffffff`.
pub fn format_time(t: &NaiveTime) -> String {
    t.format("%H:%M:%S%.6f").to_string()
}

/// The one timestamp format: fixed width, so its text order is its time order
/// (stores that keep timestamps as text rely on that).
pub fn format_timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ints_are_range_checked() {
        assert_eq!(Value::from_json(ColumnType::Int, &json!(7)).unwrap(), Value::Int(7));
        assert!(Value::from_json(ColumnType::Tinyint, &json!(300)).unwrap_err().contains("out of range"));
        assert_eq!(
            Value::from_json(ColumnType::Bigint, &json!("9007199254740993")).unwrap(),
            Value::Int(9007199254740993)
        );
        assert!(Value::from_json(ColumnType::Int, &json!(1.5)).unwrap_err().contains("expected a int"));
        assert!(Value::from_json(ColumnType::Int, &json!("x")).is_err());
    }

    #[test]
    fn floats_are_finite() {
        for bad in [json!("NaN"), json!("Infinity"), json!("-Infinity"), json!("inf")] {
            assert!(Value::from_json(ColumnType::Double, &bad).unwrap_err().contains("finite"), "{bad}");
            assert!(Value::from_json(ColumnType::Float, &bad).unwrap_err().contains("finite"), "{bad}");
        }
        // Beyond a float's range (a double would keep it, a float turn it into infinity).
        assert!(Value::from_json(ColumnType::Float, &json!(1e39)).unwrap_err().contains("finite"));
        assert_eq!(Value::from_json(ColumnType::Double, &json!(1e39)).unwrap(), Value::Double(1e39));
        assert_eq!(Value::from_json(ColumnType::Float, &json!("1.5")).unwrap(), Value::Float(1.5));
    }

    #[test]
    fn wrong_types_name_the_expected_type() {
        assert!(Value::from_json(ColumnType::Text, &json!(5)).unwrap_err().contains("text"));
        assert!(Value::from_json(ColumnType::Boolean, &json!("yes")).unwrap_err().contains("boolean"));
        assert!(Value::from_json(ColumnType::Uuid, &json!("nope")).is_err());
        assert!(Value::from_text(ColumnType::Ascii, "é").is_err());
    }

    #[test]
    fn timestamps_round_trip_at_millisecond_precision() {
        let v = Value::from_json(ColumnType::Timestamp, &json!("2024-05-01T14:30:00.123456+02:00")).unwrap();
        assert_eq!(v.to_json(), json!("2024-05-01T12:30:00.123Z"));
        let v = Value::from_text(ColumnType::Timestamp, "0").unwrap();
        assert_eq!(v.to_json(), json!("1970-01-01T00:00:00.000Z"));
    }

    #[test]
    fn dates_times_blobs_and_addresses() {
        let d = Value::from_json(ColumnType::Date, &json!("2024-02-29")).unwrap();
        assert_eq!(d.to_json(), json!("2024-02-29"));
        assert!(Value::from_json(ColumnType::Date, &json!("2023-02-29")).is_err());
        let t = Value::from_json(ColumnType::Time, &json!("13:45:01.123456789")).unwrap();
        assert_eq!(t.to_json(), json!("13:45:01.123456"));
        assert_eq!(Value::from_json(ColumnType::Time, &json!("07:00:00")).unwrap().to_json(), json!("07:00:00.000000"));
        let b = Value::from_json(ColumnType::Blob, &json!("AAEC/w==")).unwrap();
        assert_eq!(b, Value::Blob(vec![0, 1, 2, 255]));
        assert_eq!(b.to_json(), json!("AAEC/w=="));
        assert!(Value::from_json(ColumnType::Blob, &json!("not base64!")).is_err());
        assert_eq!(Value::from_json(ColumnType::Inet, &json!("2001:db8::1")).unwrap().to_json(), json!("2001:db8::1"));
        assert!(Value::from_json(ColumnType::Inet, &json!("300.1.1.1")).is_err());
    }

    #[test]
    fn collections_are_checked_and_normalised() {
        let list = DataType::List(ColumnType::Int);
        assert_eq!(Value::of(list, &json!([3, 1, 3])).unwrap().to_json(), json!([3, 1, 3]));
        assert!(Value::of(list, &json!([1, "x"])).unwrap_err().contains("list<int> element"));
        assert!(Value::of(list, &json!([1, null])).unwrap_err().contains("null"));
        let set = DataType::Set(ColumnType::Int);
        assert_eq!(Value::of(set, &json!([10, 9, 10])).unwrap().to_json(), json!([9, 10]));
        let map = DataType::Map(ColumnType::Int, ColumnType::Text);
        assert_eq!(Value::of(map, &json!({"2": "b", "1": "a"})).unwrap().to_json(), json!({"2": "b", "1": "a"}));
        assert_eq!(Value::of(map, &json!([{"key": 1, "value": "a"}])).unwrap().to_json(), json!({"1": "a"}));
        assert!(Value::of(map, &json!({"x": "a"})).is_err());
        assert!(Value::of(map, &json!(5)).is_err());
        assert_eq!(DataType::parse("MAP<text, int>").unwrap(), DataType::Map(ColumnType::Text, ColumnType::Int));
        assert!(DataType::parse("list<list<int>>").is_err());
    }

    #[test]
    fn null_is_null_for_every_type() {
        assert_eq!(Value::from_json(ColumnType::Uuid, &Json::Null).unwrap(), Value::Null);
    }
}
