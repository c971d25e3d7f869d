//! One command body: `{"<name>": {...}}`.

use super::envelope::CmdError;
use serde_json::{Map, Value as Json};

/// The error code for a body that is not a JSON object.
pub const NOT_JSON: &str = "REQUEST_NOT_JSON";

/// A parsed command.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// The command name.
    pub name: String,
    /// Its arguments.
    pub args: Map<String, Json>,
}

impl Command {
    /// Parses the request body.
    pub fn parse(body: &[u8]) -> Result<Command, CmdError> {
        let v = crate::json::parse("request body", body).map_err(|e| CmdError::new(NOT_JSON, "", e.to_string()))?;
        let Json::Object(m) = v else {
            return Err(CmdError::new(NOT_JSON, "", "the body must be one JSON object {\"<command>\": {...}}"));
        };
        let mut it = m.into_iter();
        match (it.next(), it.next()) {
            (Some((name, Json::Object(args))), None) => Ok(Command { name, args }),
            (Some((name, Json::Null)), None) => Ok(Command { name, args: Map::new() }),
            _ => Err(CmdError::new(
                "COMMAND_UNKNOWN",
                "",
                "the body must hold exactly one command {\"<command>\": {...}}",
            )),
        }
    }

    /// An argument, if present and not null.
    pub fn arg(&self, key: &str) -> Option<&Json> {
        self.args.get(key).filter(|v| !v.is_null())
    }

    /// An option from `options`, if present and not null.
    pub fn opt(&self, key: &str) -> Option<&Json> {
        self.arg("options").and_then(|o| o.get(key)).filter(|v| !v.is_null())
    }

    /// A boolean option (default false).
    pub fn flag(&self, key: &str) -> Result<bool, CmdError> {
        match self.opt(key) {
            None => Ok(false),
            Some(Json::Bool(b)) => Ok(*b),
            Some(v) => Err(CmdError::invalid(format!("option '{key}' must be true or false, got {v}"))),
        }
    }

    /// A non-negative integer option.
    pub fn count(&self, key: &str) -> Result<Option<u64>, CmdError> {
        match self.opt(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| CmdError::invalid(format!("option '{key}' must be an integer >= 0, got {v}"))),
        }
    }

    /// Refuses a collection command's top-level field that the command does
    /// not take (`COMMAND_FIELD_UNKNOWN`): a misspelt `filter` or `sort` would
    /// otherwise be ignored and the command run on every document. Commands
    /// not listed here are left to their own checks.
    pub fn known_fields(&self) -> Result<(), CmdError> {
        const READ: &[&str] = &["filter", "sort", "projection", "options"];
        let known: &[&str] = match self.name.as_str() {
            "insertOne" => &["document", "options"],
            "insertMany" => &["documents", "options"],
            "find" | "findOne" | "findOneAndDelete" => READ,
            "findOneAndUpdate" => &["filter", "update", "sort", "projection", "options"],
            "findOneAndReplace" => &["filter", "replacement", "sort", "projection", "options"],
            "updateOne" => &["filter", "update", "sort", "options"],
            "updateMany" => &["filter", "update", "options"],
            "deleteOne" => &["filter", "sort", "options"],
            "deleteMany" | "countDocuments" => &["filter", "options"],
            "estimatedDocumentCount" => &["options"],
            _ => return Ok(()),
        };
        match self.args.keys().find(|k| !known.contains(&k.as_str())) {
            None => Ok(()),
            Some(k) => Err(CmdError::new(
                "COMMAND_FIELD_UNKNOWN",
                "",
                format!("{} takes no field '{k}' (it takes: {})", self.name, known.join(", ")),
            )),
        }
    }

    /// The `pageState` option: absent, empty or null is the first page.
    pub fn page_state(&self) -> Result<Option<&str>, CmdError> {
        match self.opt("pageState") {
            None => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.as_str()).filter(|s| !s.is_empty())),
            Some(other) => Err(CmdError::invalid(format!("option 'pageState' must be a string, got {other}"))),
        }
    }

    /// An unknown-command error for this level.
    pub fn unknown(&self, level: &str) -> CmdError {
        CmdError::new("COMMAND_UNKNOWN", "", format!("no command '{}' at the {level} level", self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_and_page_states() {
        let cmd = |b: &str| Command::parse(b.as_bytes()).unwrap();
        assert_eq!(
            cmd(r#"{"insertOne": {"document": {}, "bogus": 1}}"#).known_fields().unwrap_err().code,
            "COMMAND_FIELD_UNKNOWN"
        );
        assert_eq!(cmd(r#"{"find": {"filtr": {"a": 1}}}"#).known_fields().unwrap_err().code, "COMMAND_FIELD_UNKNOWN");
        assert!(cmd(r#"{"find": {"filter": {}, "sort": {}, "projection": {}, "options": {}}}"#).known_fields().is_ok());
        assert!(cmd(r#"{"find": {"options": {"pageState": 123}}}"#).page_state().is_err());
        assert_eq!(cmd(r#"{"find": {"options": {"pageState": ""}}}"#).page_state().unwrap(), None);
    }

    #[test]
    fn parse() {
        let c = Command::parse(br#"{"find": {"filter": {"a": 1}, "options": {"limit": 2}}}"#).unwrap();
        assert_eq!(c.name, "find");
        assert_eq!(c.count("limit").unwrap(), Some(2));
        assert!(!c.flag("includeSimilarity").unwrap());
        assert_eq!(Command::parse(b"nope").unwrap_err().code, "REQUEST_NOT_JSON");
        assert_eq!(Command::parse(br#"{"a": {}, "b": {}}"#).unwrap_err().code, "COMMAND_UNKNOWN");
    }
}
