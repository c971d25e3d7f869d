//! The document face of a store: collections of JSON documents keyed by id.
//! Edits are pure functions ([`EditFn`]) that the store runs inside its own
//! read-modify-write transaction, so concurrent edits never lose an update.

use super::docsql::DocSearch;
use super::StoreError;
use crate::doc::path::Path;
use crate::model::Namespace;
use async_trait::async_trait;
use serde_json::Value as Json;

/// At most this many indexed paths per collection, declared (Documents API)
/// and built on demand (Data API filters) together: each one costs every write.
pub const MAX_INDEXED_PATHS: usize = 16;

/// A collection smaller than this is scanned rather than indexed on demand
/// (SQLite's per-path indexes, PostgreSQL's GIN index): it is read in well
/// under a millisecond per hundred documents, and an index costs every write.
pub const AUTO_INDEX_MIN_DOCS: i64 = 1000;

/// A collection's stored definition.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionDef {
    /// Name.
    pub name: String,
    /// JSON Schema every document must match, if set.
    pub json_schema: Option<Json>,
}

/// What an edit decided, given the current document.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// Store this document with this expiry (epoch ms; `None`: never).
    Write { doc: Json, expires_ms: Option<i64>, reply: Json },
    /// Delete the document.
    Delete { reply: Json },
    /// Change nothing.
    Keep { reply: Json },
}

/// A current document (and its expiry) in, a decision out. Called again if
/// the transaction has to be retried, so it must not have side effects.
pub type EditFn = Box<dyn Fn(Option<Json>, Option<i64>) -> Result<Edit, StoreError> + Send + Sync>;

/// One search hit: id, document and its sort key (for the next cursor).
#[derive(Debug, Clone, PartialEq)]
pub struct DocRow {
    /// Document id.
    pub id: String,
    /// The document.
    pub doc: Json,
    /// Sort key values then the id (see [`super::docsql::key_len`]).
    pub key: Vec<Json>,
}

/// Document storage. Collections live inside a tenant's keyspace (namespace).
#[async_trait]
pub trait DocStore: super::vectors::VectorStore + Send + Sync {
    /// Creates a collection; false when it existed and `if_not_exists` was set.
    async fn create_collection(&self, ns: &Namespace, name: &str, if_not_exists: bool) -> Result<bool, StoreError>;
    /// One collection; `KeyspaceNotFound`/`CollectionNotFound` when absent.
    async fn collection(&self, ns: &Namespace, name: &str) -> Result<CollectionDef, StoreError>;
    /// All collections of a namespace, sorted by name.
    async fn collections(&self, ns: &Namespace) -> Result<Vec<CollectionDef>, StoreError>;
    /// Drops a collection and its documents.
    async fn drop_collection(&self, ns: &Namespace, name: &str) -> Result<(), StoreError>;
    /// Sets (or with `None` removes) the collection's JSON Schema.
    async fn set_json_schema(&self, ns: &Namespace, name: &str, schema: Option<&Json>) -> Result<(), StoreError>;
    /// A document unless absent or expired.
    async fn get_doc(&self, ns: &Namespace, coll: &str, id: &str, now_ms: i64) -> Result<Option<Json>, StoreError>;
    /// A document as compact JSON text (see [`crate::rawjson`]), unless absent
    /// or expired: for a read that returns it unchanged, without a parse.
    /// (No default: a decorator such as the metering one must pass it on.)
    async fn get_doc_text(
        &self,
        ns: &Namespace,
        coll: &str,
        id: &str,
        now_ms: i64,
    ) -> Result<Option<String>, StoreError>;
    /// Replaces documents, all-or-nothing.
    async fn put_docs(
        &self,
        ns: &Namespace,
        coll: &str,
        docs: &[(String, Json)],
        expires_ms: Option<i64>,
    ) -> Result<(), StoreError>;
    /// Inserts new documents (no expiry) in one transaction; returns, per
    /// document, whether it was inserted. A live document with the same id is
    /// left alone (false); an expired one is replaced. Of ids repeated in
    /// `docs` the first is inserted and the others are false. `ordered`: stop
    /// at the first document not inserted; it and every later one are false,
    /// and none of the later ones is written.
    /// (No default: a decorator such as the metering one must pass it on.)
    async fn insert_docs(
        &self,
        ns: &Namespace,
        coll: &str,
        docs: &[(String, Json)],
        now_ms: i64,
        ordered: bool,
    ) -> Result<Vec<bool>, StoreError>;
    /// Runs `edit` on the current document inside a transaction; returns its reply.
    async fn edit_doc(
        &self,
        ns: &Namespace,
        coll: &str,
        id: &str,
        now_ms: i64,
        edit: EditFn,
    ) -> Result<Json, StoreError>;
    /// One page of a search, in sort order.
    async fn search(&self, ns: &Namespace, coll: &str, search: &DocSearch<'_>) -> Result<Vec<DocRow>, StoreError>;
    /// Deletes expired documents in every collection; returns how many.
    async fn sweep_expired_docs(&self, now_ms: i64) -> Result<u64, StoreError>;
    /// The collection's declared index paths (dotted), sorted.
    /// (No default: a decorator such as the metering one must pass it on.)
    async fn doc_indexes(&self, ns: &Namespace, coll: &str) -> Result<Vec<String>, StoreError>;
    /// Makes the collection's declared indexes exactly `paths` (plain paths of
    /// [`super::docsql::indexable_key`] keys): builds the new, drops the others.
    async fn set_doc_indexes(&self, ns: &Namespace, coll: &str, paths: &[Path]) -> Result<(), StoreError>;
}

/// The document the store read, unless it has expired.
pub fn live<D>(doc: Option<(D, Option<i64>)>, now_ms: i64) -> (Option<D>, Option<i64>) {
    match doc {
        Some((d, exp)) if exp.is_none_or(|e| e > now_ms) => (Some(d), exp),
        _ => (None, None),
    }
}

/// Which of `ids` to send to the store: the first of each id, and with
/// `ordered` none from the first repeat on. True at the positions to send.
pub fn first_of_each(ids: impl Iterator<Item = impl AsRef<str>>, ordered: bool) -> Vec<bool> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut stopped = false;
    for id in ids {
        let fresh = !stopped && seen.insert(id.as_ref().to_owned());
        stopped |= ordered && !fresh;
        out.push(fresh);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::first_of_each;

    #[test]
    fn repeats_are_not_sent_and_ordered_stops_at_the_first() {
        let ids = ["a", "b", "a", "c"];
        assert_eq!(first_of_each(ids.iter(), false), vec![true, true, false, true]);
        assert_eq!(first_of_each(ids.iter(), true), vec![true, true, false, false]);
    }
}
