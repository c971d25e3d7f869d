//! The Data API reply envelope: `{"status", "data", "errors"}`, always HTTP
//! 200 for command results (errors included), as astrapy and astra-db-ts expect.

use crate::http::ApiResponse;
use crate::store::StoreError;
use serde_json::{json, Map, Value as Json};

/// One command error, as the clients read it (`errorCode`, `message`).
#[derive(Debug, Clone, PartialEq)]
pub struct CmdError {
    /// The contract's error code, e.g. `DOCUMENT_ALREADY_EXISTS`.
    pub code: &'static str,
    /// `REQUEST` (the client's fault) or `SERVER`.
    pub family: &'static str,
    /// `DOCUMENT`, `FILTER`, ... or empty.
    pub scope: &'static str,
    /// What went wrong and what to do.
    pub message: String,
    /// The documents the error is about (`insertMany`), if any.
    pub document_ids: Vec<Json>,
}

impl CmdError {
    /// A request error in `scope`.
    pub fn new(code: &'static str, scope: &'static str, message: impl Into<String>) -> CmdError {
        CmdError { code, family: "REQUEST", scope, message: message.into(), document_ids: Vec::new() }
    }

    /// A server-side failure (the store is down or misbehaved).
    pub fn server(code: &'static str, message: impl Into<String>) -> CmdError {
        CmdError { code, family: "SERVER", scope: "", message: message.into(), document_ids: Vec::new() }
    }

    /// A request error about the command's own fields.
    pub fn invalid(message: impl Into<String>) -> CmdError {
        CmdError::new("COMMAND_FIELD_VALUE_INVALID", "", message)
    }

    /// The error object inside `errors[]`.
    pub fn to_json(&self) -> Json {
        let mut e = json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "family": self.family,
            "scope": self.scope,
            "errorCode": self.code,
            "title": self.code.replace('_', " ").to_lowercase(),
            "message": self.message,
        });
        if !self.document_ids.is_empty() {
            e["documentIds"] = Json::Array(self.document_ids.clone());
        }
        e
    }
}

impl From<StoreError> for CmdError {
    fn from(e: StoreError) -> CmdError {
        match e {
            StoreError::KeyspaceNotFound(k) => {
                CmdError::new("UNKNOWN_KEYSPACE", "DATABASE", format!("Unknown keyspace '{k}'; create it first."))
            }
            StoreError::CollectionNotFound(c) => CmdError::new(
                "UNKNOWN_COLLECTION_OR_TABLE",
                "SCHEMA",
                format!("Collection '{c}' does not exist; create it with createCollection."),
            ),
            StoreError::Refused(e) => CmdError::new("SHRED_DOC_LIMIT_VIOLATION", "DOCUMENT", e.to_string()),
            StoreError::Rejected(m) => CmdError::new("SHRED_BAD_DOCUMENT_TYPE", "DOCUMENT", m),
            StoreError::AlreadyExists(m) => {
                CmdError::new("DOCUMENT_ALREADY_EXISTS", "DOCUMENT", format!("{m} already exists"))
            }
            StoreError::Unavailable(m) => CmdError::server("TIMEOUT_READING_DATA", format!("storage unavailable: {m}")),
            other => CmdError::server("INTERNAL_SERVER_ERROR", other.to_string()),
        }
    }
}

/// A successful reply's parts; empty parts are left out of the body.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Reply {
    /// `status` members.
    pub status: Map<String, Json>,
    /// `data` members (`document`, `documents`, `nextPageState`).
    pub data: Option<Map<String, Json>>,
    /// Per-document errors next to a partial result (`insertMany`).
    pub errors: Vec<CmdError>,
    /// The whole reply is `data.document`, given as JSON text.
    pub document_text: Option<Vec<u8>>,
}

impl Reply {
    /// `{"status": {"ok": 1}}`.
    pub fn ok() -> Reply {
        Reply::status("ok", json!(1))
    }

    /// A reply with one status member.
    pub fn status(key: &str, value: Json) -> Reply {
        let mut r = Reply::default();
        r.status.insert(key.to_owned(), value);
        r
    }

    /// Adds a status member.
    pub fn with(mut self, key: &str, value: Json) -> Reply {
        self.status.insert(key.to_owned(), value);
        self
    }

    /// A `data` reply (`document: null` stays: astrapy indexes it).
    pub fn data<const N: usize>(members: [(&str, Json); N]) -> Reply {
        let data = members.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        Reply { data: Some(data), ..Reply::default() }
    }

    /// `{"data": {"document": DOC}}` with the document already JSON text
    /// (see `read::find_one_text`): written into the body as it is.
    pub fn document_text(doc: Vec<u8>) -> Reply {
        Reply { document_text: Some(doc), ..Reply::default() }
    }

    /// The HTTP response.
    pub fn into_response(self) -> ApiResponse {
        if let Some(doc) = self.document_text {
            const HEAD: &[u8] = br#"{"data":{"document":"#;
            let mut body = Vec::with_capacity(HEAD.len() + doc.len() + 2);
            body.extend_from_slice(HEAD);
            body.extend_from_slice(&doc);
            body.extend_from_slice(b"}}");
            return ApiResponse { status: 200, headers: Vec::new(), body };
        }
        let mut body = Map::new();
        if !self.status.is_empty() {
            body.insert("status".into(), Json::Object(self.status));
        }
        if let Some(d) = self.data {
            body.insert("data".into(), Json::Object(d));
        }
        if !self.errors.is_empty() {
            body.insert("errors".into(), self.errors.iter().map(CmdError::to_json).collect());
        }
        ApiResponse::json(200, Json::Object(body))
    }
}

/// A failed command: HTTP 200 with `errors[]` and nothing else.
pub fn failure(e: &CmdError) -> ApiResponse {
    ApiResponse::json(200, json!({ "errors": [e.to_json()] }))
}

/// `$lexical` (Astra's BM25 text field) in a document, sort or filter.
pub fn lexical_error(scope: &'static str) -> CmdError {
    CmdError::new(
        "LEXICAL_NOT_ENABLED_FOR_COLLECTION",
        scope,
        "$lexical needs Astra's server-side text index, which Datagate does not run: \
         store the text in an ordinary field and filter on it",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: ApiResponse) -> Json {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn ok_is_exactly_status_ok() {
        assert_eq!(body(Reply::ok().into_response()), json!({"status": {"ok": 1}}));
    }

    #[test]
    fn null_document_is_kept() {
        let b = body(Reply::data([("document", Json::Null)]).into_response());
        assert_eq!(b, json!({"data": {"document": null}}));
    }

    #[test]
    fn document_text_is_the_data_document() {
        let b = body(Reply::document_text(br#"{"_id":"a","n":[1]}"#.to_vec()).into_response());
        assert_eq!(b, json!({"data": {"document": {"_id": "a", "n": [1]}}}));
    }

    #[test]
    fn errors_carry_code_and_message() {
        let r = failure(&CmdError::new("COMMAND_UNKNOWN", "", "no such command"));
        assert_eq!(r.status, 200);
        let e = &body(r)["errors"][0];
        assert_eq!(e["errorCode"], "COMMAND_UNKNOWN");
        assert_eq!(e["message"], "no such command");
        assert_eq!(e["family"], "REQUEST");
    }
}
