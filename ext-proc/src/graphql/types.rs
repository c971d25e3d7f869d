//! How CQL column types look in GraphQL: scalar names, collection shapes,
//! filter inputs, and value conversion between the REST layer's JSON and
//! GraphQL values. Pure.

use crate::model::{ColumnType, DataType};
use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputObject, InputValue, Object, Scalar, TypeRef};
use async_graphql::Value as GqlValue;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;

/// Custom scalars, all carried as strings (BigInt so 64-bit values survive JSON).
pub const CUSTOM_SCALARS: [(&str, &str); 8] = [
    ("BigInt", "Integer as a string (bigint, counter, varint); numbers are accepted on input"),
    ("Decimal", "Exact decimal as a string (decimal); numbers are accepted on input"),
    ("Uuid", "UUID in canonical text form (uuid, timeuuid)"),
    ("Timestamp", "ISO 8601 timestamp with zone"),
    ("Date", "YYYY-MM-DD"),
    ("Time", "HH:MM:SS[.fraction]"),
    ("Blob", "Bytes as base64"),
    ("Inet", "IPv4 or IPv6 address"),
];

/// The GraphQL scalar a column type maps to.
pub fn scalar_name(t: ColumnType) -> &'static str {
    match t {
        ColumnType::Text | ColumnType::Ascii => "String",
        ColumnType::Boolean => "Boolean",
        ColumnType::Tinyint | ColumnType::Smallint | ColumnType::Int => "Int",
        ColumnType::Bigint | ColumnType::Counter | ColumnType::Varint => "BigInt",
        ColumnType::Decimal => "Decimal",
        ColumnType::Float | ColumnType::Double => "Float",
        ColumnType::Uuid | ColumnType::Timeuuid => "Uuid",
        ColumnType::Timestamp => "Timestamp",
        ColumnType::Date => "Date",
        ColumnType::Time => "Time",
        ColumnType::Blob => "Blob",
        ColumnType::Inet => "Inet",
    }
}

/// The object type of one map entry, e.g. `EntryStringKeyIntValue`.
pub fn entry_name(k: ColumnType, v: ColumnType) -> String {
    format!("Entry{}Key{}Value", scalar_name(k), scalar_name(v))
}

/// The output type of a column.
pub fn output_type(ty: DataType) -> TypeRef {
    match ty {
        DataType::Scalar(t) => TypeRef::named(scalar_name(t)),
        DataType::List(t) | DataType::Set(t) => TypeRef::named_nn_list(scalar_name(t)),
        DataType::Map(k, v) => TypeRef::named_nn_list(entry_name(k, v)),
    }
}

/// The input type of a column.
pub fn input_type(ty: DataType) -> TypeRef {
    match ty {
        DataType::Map(k, v) => TypeRef::named_nn_list(format!("{}Input", entry_name(k, v))),
        other => output_type(other),
    }
}

/// The filter input type of a column, e.g. `IntFilterInput`, `ListStringFilterInput`.
pub fn filter_name(ty: DataType) -> String {
    match ty {
        DataType::Scalar(t) => format!("{}FilterInput", scalar_name(t)),
        DataType::List(t) | DataType::Set(t) => format!("List{}FilterInput", scalar_name(t)),
        DataType::Map(k, v) => format!("Map{}{}FilterInput", scalar_name(k), scalar_name(v)),
    }
}

/// Filter operators and the REST `where` operator each becomes.
pub const SCALAR_OPS: [(&str, &str); 7] =
    [("eq", "$eq"), ("notEq", "$ne"), ("gt", "$gt"), ("gte", "$gte"), ("lt", "$lt"), ("lte", "$lte"), ("in", "$in")];

/// The shared types the columns of `types` need: scalars, entries, filters.
pub struct Shared {
    /// Custom scalars.
    pub scalars: Vec<Scalar>,
    /// Map entry objects.
    pub objects: Vec<Object>,
    /// Entry and filter inputs.
    pub inputs: Vec<InputObject>,
}

/// Builds every shared type the given column types use (each once).
pub fn shared(types: &[DataType]) -> Shared {
    let mut scalars = Vec::new();
    for (name, doc) in CUSTOM_SCALARS {
        // Strings, or numbers where JSON can carry them; the REST layer checks the rest.
        scalars.push(
            Scalar::new(name).description(doc).validator(|v| matches!(v, GqlValue::String(_) | GqlValue::Number(_))),
        );
    }
    let mut objects = BTreeMap::new();
    let mut inputs = BTreeMap::new();
    for ty in types {
        if let DataType::Map(k, v) = *ty {
            let name = entry_name(k, v);
            let key = DataType::Scalar(k);
            let value = DataType::Scalar(v);
            let object = Object::new(&name).field(json_field("key", key)).field(json_field("value", value));
            objects.insert(name.clone(), object);
            let input = InputObject::new(format!("{name}Input"))
                .field(InputValue::new("key", TypeRef::named_nn(scalar_name(k))))
                .field(InputValue::new("value", TypeRef::named(scalar_name(v))));
            inputs.insert(format!("{name}Input"), input);
        }
        let fname = filter_name(*ty);
        if inputs.contains_key(&fname) {
            continue;
        }
        let filter = match *ty {
            DataType::Scalar(t) => SCALAR_OPS.iter().fold(InputObject::new(&fname), |o, (op, _)| {
                let tr =
                    if *op == "in" { TypeRef::named_nn_list(scalar_name(t)) } else { TypeRef::named(scalar_name(t)) };
                o.field(InputValue::new(*op, tr))
            }),
            DataType::List(t) | DataType::Set(t) => {
                InputObject::new(&fname).field(InputValue::new("contains", TypeRef::named(scalar_name(t))))
            }
            DataType::Map(k, v) => InputObject::new(&fname)
                .field(InputValue::new("contains", TypeRef::named(scalar_name(v))))
                .field(InputValue::new("containsKey", TypeRef::named(scalar_name(k))))
                .field(InputValue::new("containsEntry", TypeRef::named(format!("{}Input", entry_name(k, v))))),
        };
        inputs.insert(fname, filter);
    }
    Shared { scalars, objects: objects.into_values().collect(), inputs: inputs.into_values().collect() }
}

/// A stored value (REST JSON) as GraphQL output.
pub fn to_output(ty: DataType, v: Option<&Json>) -> Option<FieldValue<'static>> {
    let v = v.filter(|v| !v.is_null())?;
    let scalar = |t: ColumnType, v: &Json| -> GqlValue {
        match (scalar_name(t), v) {
            ("BigInt", Json::Number(n)) => GqlValue::String(n.to_string()),
            _ => GqlValue::from_json(v.clone()).unwrap_or(GqlValue::Null),
        }
    };
    Some(match ty {
        DataType::Scalar(t) => FieldValue::value(scalar(t, v)),
        DataType::List(t) | DataType::Set(t) => {
            let items = v.as_array().map(|a| a.iter().map(|x| scalar(t, x)).collect()).unwrap_or_default();
            FieldValue::value(GqlValue::List(items))
        }
        DataType::Map(_, _) => {
            // Entries as {key, value} objects, whichever form the REST layer used.
            let entries: Vec<Json> = match v {
                Json::Array(a) => a.clone(),
                Json::Object(m) => m.iter().map(|(k, v)| json!({"key": k, "value": v})).collect(),
                _ => Vec::new(),
            };
            FieldValue::list(entries.into_iter().map(FieldValue::owned_any))
        }
    })
}

/// A GraphQL input value for a column as the JSON the REST layer takes.
pub fn to_rest(ty: DataType, v: GqlValue) -> Json {
    let j = v.into_json().unwrap_or(Json::Null);
    match (ty, j) {
        (DataType::Map(_, _), Json::Array(entries)) => Json::Object(
            entries
                .into_iter()
                .filter_map(|e| {
                    let key = match e.get("key")? {
                        Json::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    Some((key, e.get("value").cloned().unwrap_or(Json::Null)))
                })
                .collect(),
        ),
        (_, j) => j,
    }
}

/// A field read from the parent JSON object.
pub fn json_field(name: &str, ty: DataType) -> Field {
    let owned = name.to_owned();
    Field::new(name, output_type(ty), move |ctx| {
        let name = owned.clone();
        FieldFuture::new(async move {
            let parent = ctx.parent_value.try_downcast_ref::<Json>()?;
            Ok(to_output(ty, parent.get(&name)))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_conversions() {
        assert_eq!(scalar_name(ColumnType::Counter), "BigInt");
        assert_eq!(entry_name(ColumnType::Text, ColumnType::Int), "EntryStringKeyIntValue");
        assert_eq!(filter_name(DataType::Set(ColumnType::Uuid)), "ListUuidFilterInput");
        let m = to_rest(
            DataType::Map(ColumnType::Int, ColumnType::Text),
            GqlValue::from_json(json!([{"key": 1, "value": "a"}])).unwrap(),
        );
        assert_eq!(m, json!({"1": "a"}));
        let shared = shared(&[DataType::Scalar(ColumnType::Int), DataType::Map(ColumnType::Text, ColumnType::Int)]);
        assert_eq!(shared.objects.len(), 1);
        assert_eq!(shared.inputs.len(), 3, "IntFilterInput, the entry input and the map filter");
    }
}
