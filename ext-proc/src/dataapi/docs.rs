//! One collection as a command sees it: its options, document checks on the
//! way in, and finding the documents a filter (and sort) selects.

use super::envelope::CmdError;
use super::filter::{matches, pinned_id, Filter};
use super::indexing::Indexing;
use super::store::Store;
use super::value::{get, total_order, Path};
use super::{ids, vector};
use crate::model::Namespace;
use serde_json::{json, Map, Value as Json};
use std::cmp::Ordering;

/// Most documents a field sort may consider.
pub const MAX_SORT_CANDIDATES: usize = 10_000;
/// Most bytes (about: see [`crate::json::approx_bytes`]) of matching documents one command
/// holds at once: 10,000 sort candidates of a megabyte each would be 10 GB.
pub const MAX_HELD_BYTES: usize = 64 * 1024 * 1024;

/// An open collection.
#[derive(Debug, Clone)]
pub struct Coll {
    /// Its namespace.
    pub ns: Namespace,
    /// Its name.
    pub name: String,
    /// Vector settings, when it is a vector collection.
    pub vector: Option<(usize, vector::Metric)>,
    /// `defaultId.type`, if set.
    pub default_id: Option<String>,
    /// The `indexing` option, when it leaves some path unindexed.
    pub indexing: Option<Indexing>,
}

/// How documents are ordered.
#[derive(Debug, Clone, PartialEq)]
pub enum Sort {
    /// Store key order (pageable).
    None,
    /// By fields, in memory.
    Fields(Vec<(Path, bool)>),
    /// By similarity to a vector.
    Vector(Vec<f32>),
}

impl Coll {
    /// Opens a collection: `UNKNOWN_COLLECTION_OR_TABLE` when absent. Its
    /// options are read only when the command needs them (writes, vector
    /// sorts), so a read by `_id` costs one store round trip, like REST's.
    pub async fn open(store: &Store<'_>, ns: Namespace, name: &str, with_options: bool) -> Result<Coll, CmdError> {
        if !with_options {
            store.exists(&ns, name).await?;
            return Ok(Coll { ns, name: name.to_owned(), vector: None, default_id: None, indexing: None });
        }
        let o = store.options(&ns, name).await?;
        let vector = o.get("vector").and_then(|v| {
            let dim = v.get("dimension")?.as_u64()? as usize;
            let metric = vector::Metric::parse(v.get("metric")?.as_str()?)?;
            Some((dim, metric))
        });
        let default_id = o.get("defaultId").and_then(|d| d.get("type")).and_then(Json::as_str).map(str::to_owned);
        let indexing = Indexing::from_options(&o);
        Ok(Coll { ns, name: name.to_owned(), vector, default_id, indexing })
    }

    /// Parses a command's filter and checks it against the `indexing` option.
    pub fn filter(&self, v: Option<&Json>) -> Result<Filter, CmdError> {
        let f = super::filter::parse(v)?;
        if let Some(ix) = &self.indexing {
            ix.check_filter(&f)?;
        }
        Ok(f)
    }

    /// Parses a command's sort and checks it against the `indexing` option.
    pub fn sort(&self, v: Option<&Json>) -> Result<Sort, CmdError> {
        let s = parse_sort(v)?;
        if let (Some(ix), Sort::Fields(fields)) = (&self.indexing, &s) {
            ix.check_sort(fields)?;
        }
        Ok(s)
    }

    /// A fresh `_id` per `defaultId`.
    pub fn new_id(&self) -> Json {
        match self.default_id.as_deref() {
            Some("uuid") => json!({"$uuid": uuid::Uuid::new_v4().to_string()}),
            Some("uuidv6") => json!({"$uuid": ids::uuid_v6(super::store::now_ms())}),
            Some("uuidv7") => json!({"$uuid": ids::uuid_v7(super::store::now_ms())}),
            Some("objectId") => json!({"$objectId": ids::object_id(super::store::now_ms())}),
            _ => ids::generate(),
        }
    }

    /// Checks a document on its way in: field names, `_id` (generated when
    /// missing), `$vector` (decoded to a plain array, length checked).
    /// Returns the store key and the document to store.
    pub fn prepare(&self, doc: &Json) -> Result<(String, Json), CmdError> {
        let Json::Object(m) = doc else {
            return Err(CmdError::new(
                "SHRED_BAD_DOCUMENT_TYPE",
                "DOCUMENT",
                format!("a document must be an object, got {doc}"),
            ));
        };
        check_names(m, 0)?;
        let mut out = Map::new();
        let id = match m.get("_id") {
            Some(id) => {
                ids::check(id)?;
                id.clone()
            }
            None => self.new_id(),
        };
        out.insert("_id".into(), id.clone());
        for (k, v) in m {
            match k.as_str() {
                "_id" => {}
                "$vector" if v.is_null() => {}
                "$vector" => {
                    let vec = vector::parse(v)?;
                    match self.vector {
                        None => {
                            return Err(CmdError::new(
                                "VECTOR_SEARCH_NOT_SUPPORTED",
                                "SCHEMA",
                                format!("collection '{}' is not a vector collection", self.name),
                            ))
                        }
                        Some((dim, _)) if dim != vec.len() => {
                            return Err(CmdError::new(
                                "INVALID_VECTOR_LENGTH",
                                "DOCUMENT",
                                format!("$vector has {} dimensions, the collection takes {dim}", vec.len()),
                            ))
                        }
                        Some(_) => {}
                    }
                    out.insert(k.clone(), vector::to_json(&vec));
                }
                "$vectorize" => {
                    return Err(CmdError::new(
                        "VECTORIZE_FEATURE_NOT_AVAILABLE",
                        "DOCUMENT",
                        "$vectorize needs a vectorize service, which Datagate does not run: send $vector",
                    ))
                }
                "$lexical" => return Err(super::envelope::lexical_error("DOCUMENT")),
                _ => {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        Ok((ids::key(&id), Json::Object(out)))
    }
}

/// Deepest document nesting accepted.
const MAX_DEPTH: usize = 16;

fn check_names(m: &Map<String, Json>, depth: usize) -> Result<(), CmdError> {
    if depth > MAX_DEPTH {
        return Err(CmdError::new(
            "SHRED_DOC_LIMIT_VIOLATION",
            "DOCUMENT",
            format!("document nesting is deeper than {MAX_DEPTH}"),
        ));
    }
    for (k, v) in m {
        let reserved = depth == 0 && matches!(k.as_str(), "_id" | "$vector" | "$vectorize" | "$lexical");
        if k.is_empty() || (k.starts_with('$') && !reserved) {
            return Err(CmdError::new(
                "SHRED_BAD_FIELD_NAME",
                "DOCUMENT",
                format!("field name '{k}' must be non-empty and not start with '$'"),
            ));
        }
        if depth > 0 || !reserved {
            check_value(v, depth + 1)?;
        }
    }
    Ok(())
}

fn check_value(v: &Json, depth: usize) -> Result<(), CmdError> {
    match v {
        Json::Object(m) if super::filter::is_ejson(m) => match m.iter().next() {
            Some((k, v)) if !super::ids::valid_ejson(k, v) => Err(CmdError::new(
                "SHRED_BAD_EJSON_VALUE",
                "DOCUMENT",
                format!("{{\"{k}\": {v}}} is not a valid EJSON value: $date takes integer milliseconds, $uuid a UUID string, $objectId 24 hex digits, $binary base64"),
            )),
            _ => Ok(()),
        },
        Json::Object(m) => check_names(m, depth),
        Json::Array(a) => a.iter().try_for_each(|i| check_value(i, depth + 1)),
        _ => Ok(()),
    }
}

/// How many documents match, counting at most `limit` (none is kept).
pub async fn count_matching(store: &Store<'_>, c: &Coll, filter: &Filter, limit: usize) -> Result<usize, CmdError> {
    if pinned_id(filter).is_some() {
        return Ok(matching(store, c, filter, None, limit).await?.len());
    }
    let mut n = 0;
    if limit == 0 {
        return Ok(0);
    }
    store
        .scan(&c.ns, &c.name, None, Some(filter), |k, d| {
            if matches(&ids::with_id(k, d), filter) {
                n += 1;
            }
            n < limit
        })
        .await?;
    Ok(n)
}

/// Parses a `sort` clause.
pub fn parse_sort(v: Option<&Json>) -> Result<Sort, CmdError> {
    let bad = |m: String| CmdError::new("SORT_CLAUSE_INVALID", "SORT", m);
    let m = match v {
        None | Some(Json::Null) => return Ok(Sort::None),
        Some(Json::Object(m)) if m.is_empty() => return Ok(Sort::None),
        Some(Json::Object(m)) => m,
        Some(other) => return Err(bad(format!("sort must be an object, got {other}"))),
    };
    if let Some(v) = m.get("$vector") {
        if m.len() != 1 {
            return Err(bad("a $vector sort must be alone".into()));
        }
        return Ok(Sort::Vector(vector::parse(v)?));
    }
    if m.contains_key("$vectorize") {
        return Err(CmdError::new(
            "VECTORIZE_FEATURE_NOT_AVAILABLE",
            "SORT",
            "$vectorize sort needs a vectorize service",
        ));
    }
    if m.contains_key("$lexical") {
        return Err(super::envelope::lexical_error("SORT"));
    }
    let mut fields = Vec::new();
    for (k, v) in m {
        let asc = match v.as_i64() {
            Some(1) => true,
            Some(-1) => false,
            _ => return Err(bad(format!("sort on '{k}' must be 1 or -1"))),
        };
        fields.push((super::value::parse_path(k, "SORT")?, asc));
    }
    Ok(Sort::Fields(fields))
}

/// A document as read: store key and document with `_id`.
pub type Found = (String, Json);

/// Documents matching `filter` in key order after `after`, at most `limit`.
pub async fn matching(
    store: &Store<'_>,
    c: &Coll,
    filter: &Filter,
    after: Option<String>,
    limit: usize,
) -> Result<Vec<Found>, CmdError> {
    if let Some(id) = pinned_id(filter) {
        let key = ids::key(id);
        if after.as_ref().is_some_and(|a| *a >= key) {
            return Ok(Vec::new());
        }
        let found = store.get(&c.ns, &c.name, &key).await?.map(|d| ids::with_id(&key, d));
        return Ok(found.filter(|d| matches(d, filter)).map(|d| (key, d)).into_iter().take(limit).collect());
    }
    let mut out = Vec::new();
    if limit == 0 {
        return Ok(out);
    }
    let mut held = 0usize;
    store
        .scan(&c.ns, &c.name, after, Some(filter), |k, d| {
            let d = ids::with_id(k, d);
            if matches(&d, filter) {
                held += crate::json::approx_bytes(&d);
                out.push((k.to_owned(), d));
            }
            out.len() < limit && held <= MAX_HELD_BYTES
        })
        .await?;
    if held > MAX_HELD_BYTES {
        return Err(CmdError::new(
            "OVERLOADED_SORT_ROW_LIMIT",
            "SORT",
            format!(
                "the matching documents are too large to hold at once (more than {} MiB); narrow the filter",
                MAX_HELD_BYTES >> 20
            ),
        ));
    }
    Ok(out)
}

/// Documents matching `filter`, ordered by `sort` (None: key order), at most
/// `limit` after skipping `skip`; with a vector sort each comes with its similarity.
pub async fn select(
    store: &Store<'_>,
    c: &Coll,
    filter: &Filter,
    sort: &Sort,
    skip: usize,
    limit: usize,
) -> Result<Vec<(Found, Option<f64>)>, CmdError> {
    match sort {
        Sort::None => Ok(matching(store, c, filter, None, skip + limit)
            .await?
            .into_iter()
            .skip(skip)
            .map(|f| (f, None))
            .collect()),
        Sort::Fields(fields) => {
            let mut all = matching(store, c, filter, None, MAX_SORT_CANDIDATES + 1).await?;
            if all.len() > MAX_SORT_CANDIDATES {
                return Err(CmdError::new(
                    "OVERLOADED_SORT_ROW_LIMIT",
                    "SORT",
                    format!("more than {MAX_SORT_CANDIDATES} documents match; narrow the filter to sort"),
                ));
            }
            all.sort_by(|(ka, a), (kb, b)| {
                fields
                    .iter()
                    .map(|(p, asc)| {
                        let o = match (get(a, p), get(b, p)) {
                            (None, None) => Ordering::Equal,
                            (None, Some(_)) => Ordering::Less,
                            (Some(_), None) => Ordering::Greater,
                            (Some(x), Some(y)) => total_order(x, y),
                        };
                        if *asc {
                            o
                        } else {
                            o.reverse()
                        }
                    })
                    .find(|o| o.is_ne())
                    .unwrap_or_else(|| ka.cmp(kb))
            });
            Ok(all.into_iter().skip(skip).take(limit).map(|f| (f, None)).collect())
        }
        Sort::Vector(q) => {
            let Some((dim, metric)) = c.vector else {
                return Err(CmdError::new(
                    "VECTOR_SEARCH_NOT_SUPPORTED",
                    "SORT",
                    format!("collection '{}' is not a vector collection", c.name),
                ));
            };
            if q.len() != dim {
                return Err(CmdError::new(
                    "INVALID_VECTOR_LENGTH",
                    "SORT",
                    format!("sort vector has {} dimensions, the collection takes {dim}", q.len()),
                ));
            }
            if *filter == Filter::And(Vec::new()) {
                // No filter: only the packed vectors are read.
                let found = store.nearest(&c.ns, &c.name, metric.scorer(q.clone()), limit).await?;
                return Ok(found.into_iter().map(|(k, d, s)| ((k.clone(), ids::with_id(&k, d)), Some(s))).collect());
            }
            // With a filter, every document is read and checked (exact, but slow on large collections).
            let mut scored: Vec<(Found, f64)> = Vec::new();
            store
                .scan(&c.ns, &c.name, None, Some(filter), |k, d| {
                    let d = ids::with_id(k, d);
                    if matches(&d, filter) {
                        if let Some(v) = d.get("$vector").and_then(|v| vector::parse(v).ok()).filter(|v| v.len() == dim)
                        {
                            let s = metric.similarity(q, &v);
                            scored.push(((k.to_owned(), d), s));
                        }
                    }
                    true
                })
                .await?;
            scored.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(Ordering::Equal).then_with(|| a.0 .0.cmp(&b.0 .0)));
            Ok(scored.into_iter().take(limit).map(|(f, s)| (f, Some(s))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coll(vector: Option<(usize, vector::Metric)>) -> Coll {
        let ns = Namespace { tenant: "t".into(), keyspace: "k".into() };
        Coll { ns, name: "c".into(), vector, default_id: None, indexing: None }
    }

    #[test]
    fn prepare_checks_and_normalises() {
        let c = coll(Some((2, vector::Metric::Cosine)));
        let (key, doc) = c.prepare(&json!({"_id": 5, "a": 1, "$vector": {"$binary": "P4AAAEAAAAA="}})).unwrap();
        assert_eq!(key, "5");
        assert_eq!(doc, json!({"_id": 5, "a": 1, "$vector": [1.0, 2.0]}));
        let (_, generated) = c.prepare(&json!({"a": 1})).unwrap();
        assert!(generated["_id"].is_string());
        assert_eq!(c.prepare(&json!({"$vector": [1.0]})).unwrap_err().code, "INVALID_VECTOR_LENGTH");
        assert_eq!(coll(None).prepare(&json!({"$vector": [1.0]})).unwrap_err().code, "VECTOR_SEARCH_NOT_SUPPORTED");
        assert_eq!(c.prepare(&json!({"a": {"$x": 1}})).unwrap_err().code, "SHRED_BAD_FIELD_NAME");
        assert_eq!(c.prepare(&json!({"_id": [1]})).unwrap_err().code, "SHRED_BAD_DOCID_TYPE");
        assert!(c.prepare(&json!({"when": {"$date": 1}})).is_ok(), "EJSON values are values");
        assert_eq!(c.prepare(&json!({"$lexical": "x"})).unwrap_err().code, "LEXICAL_NOT_ENABLED_FOR_COLLECTION");
        assert_eq!(c.prepare(&json!({"$vectorize": "x"})).unwrap_err().code, "VECTORIZE_FEATURE_NOT_AVAILABLE");
    }

    #[test]
    fn sorts() {
        assert_eq!(parse_sort(Some(&json!({}))).unwrap(), Sort::None);
        assert_eq!(
            parse_sort(Some(&json!({"a.b": -1}))).unwrap(),
            Sort::Fields(vec![(vec!["a".into(), "b".into()], false)])
        );
        assert_eq!(parse_sort(Some(&json!({"$vector": [1, 0]}))).unwrap(), Sort::Vector(vec![1.0, 0.0]));
        assert!(parse_sort(Some(&json!({"$vector": [1], "a": 1}))).is_err());
        assert!(parse_sort(Some(&json!({"a": 2}))).is_err());
        assert_eq!(parse_sort(Some(&json!({"$lexical": "x"}))).unwrap_err().code, "LEXICAL_NOT_ENABLED_FOR_COLLECTION");
        assert_eq!(parse_sort(Some(&json!({"$vectorize": "x"}))).unwrap_err().code, "VECTORIZE_FEATURE_NOT_AVAILABLE");
    }
}
