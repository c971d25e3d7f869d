//! JSON Schema per collection: compiled once when the collection's definition
//! is loaded, checked on every write, every violation listed in the 400.

use crate::fault::Fault;
use serde_json::Value as Json;

/// Most violations listed in one error (the rest are counted).
const MAX_LISTED: usize = 20;

/// A compiled schema.
pub struct Schema {
    validator: jsonschema::Validator,
}

impl Schema {
    /// Compiles `schema`; a schema that is not valid JSON Schema is a 400 saying why.
    /// Remote `$ref`s are never fetched: the gateway does not make outbound calls for clients.
    pub fn compile(schema: &Json) -> Result<Schema, Fault> {
        if !schema.is_object() && !schema.is_boolean() {
            return Err(Fault::Invalid("json-schema: a JSON Schema is an object (or true/false)".to_owned()));
        }
        jsonschema::validator_for(schema)
            .map(|validator| Schema { validator })
            .map_err(|e| Fault::Invalid(format!("json-schema: not a usable JSON Schema: {e}")))
    }

    /// Checks a whole document; 400 listing every violation with where it is.
    pub fn check(&self, doc: &Json) -> Result<(), Fault> {
        let all: Vec<String> = self
            .validator
            .iter_errors(doc)
            .map(|e| {
                let at = e.instance_path().to_string();
                format!("{}: {e}", if at.is_empty() { "/".to_owned() } else { at })
            })
            .collect();
        if all.is_empty() {
            return Ok(());
        }
        let more = all.len().saturating_sub(MAX_LISTED);
        let mut text = all.iter().take(MAX_LISTED).cloned().collect::<Vec<_>>().join("; ");
        if more > 0 {
            text.push_str(&format!("; and {more} more"));
        }
        Err(Fault::Invalid(format!(
            "the document does not match the collection's JSON schema ({} violation{}): {text}",
            all.len(),
            if all.len() == 1 { "" } else { "s" }
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_every_violation() {
        let s = Schema::compile(&json!({
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}}
        }))
        .unwrap();
        assert!(s.check(&json!({"name": "x", "age": 3})).is_ok());
        let err = s.check(&json!({"age": -1, "name2": 1})).unwrap_err().to_string();
        assert!(err.contains("2 violations"), "{err}");
        assert!(err.contains("/age"), "{err}");
        assert!(err.contains("name"), "{err}");
        assert!(Schema::compile(&json!({"type": "nonsense"})).is_err());
        assert!(Schema::compile(&json!([1])).is_err());
    }
}
