//! A collection's `indexing` option (`{"allow": [..]}` xor `{"deny": [..]}`)
//! enforced the way the reference server does: a filter or sort on a path the
//! collection does not index is refused (`FILTER_PATH_UNINDEXED`,
//! `SORT_CLAUSE_PATH_UNINDEXED`) rather than answered by a slow scan. `_id`
//! keeps `$eq`/`$in` and `$vector` keeps `$exists` whatever the lists say.
//!
//! A path is indexed by an allow list when it equals an entry or lies under
//! one (`"a"` covers `"a.b"` and `"a.0"`); a deny list excludes the same way;
//! `"*"` stands for every path.

use super::envelope::CmdError;
use super::filter::{Cond, Filter};
use super::value::{parse_path, Path};
use serde_json::Value as Json;

/// The parsed `indexing` option.
#[derive(Debug, Clone, PartialEq)]
pub struct Indexing {
    /// True for an allow list, false for a deny list.
    allow: bool,
    /// The listed paths, as segments; an empty path stands for `"*"`.
    paths: Vec<Path>,
}

impl Indexing {
    /// From a collection's stored options; `None` when every path is indexed.
    pub fn from_options(options: &Json) -> Option<Indexing> {
        let ix = options.get("indexing")?.as_object()?;
        let (allow, list) = match (ix.get("allow"), ix.get("deny")) {
            (Some(Json::Array(l)), None) => (true, l),
            (None, Some(Json::Array(l))) => (false, l),
            _ => return None,
        };
        let paths = list
            .iter()
            .filter_map(Json::as_str)
            .filter_map(|p| if p == "*" { Some(Vec::new()) } else { parse_path(p, "SCHEMA").ok() })
            .collect();
        Some(Indexing { allow, paths })
    }

    /// Whether the collection indexes `path`.
    pub fn indexes(&self, path: &[String]) -> bool {
        let listed = self.paths.iter().any(|p| path.starts_with(p));
        listed == self.allow
    }

    /// Refuses a filter naming an unindexed path.
    pub fn check_filter(&self, f: &Filter) -> Result<(), CmdError> {
        match f {
            Filter::And(all) | Filter::Or(all) => all.iter().try_for_each(|f| self.check_filter(f)),
            Filter::Not(f) => self.check_filter(f),
            Filter::Cond(path, cond) => {
                let always = match path.first().map(String::as_str) {
                    Some("_id") => path.len() == 1 && matches!(cond, Cond::Eq(_) | Cond::In(_)),
                    Some("$vector" | "$vectorize") => true,
                    _ => false,
                };
                if always || self.indexes(path) {
                    return Ok(());
                }
                Err(CmdError::new(
                    "FILTER_PATH_UNINDEXED",
                    "FILTER",
                    format!(
                        "the filter uses '{}', which the collection's indexing option leaves unindexed; \
                         filter on an indexed path or recreate the collection indexing it",
                        path.join(".")
                    ),
                ))
            }
        }
    }

    /// Refuses a field sort on an unindexed path.
    pub fn check_sort(&self, fields: &[(Path, bool)]) -> Result<(), CmdError> {
        match fields.iter().find(|(p, _)| !self.indexes(p)) {
            None => Ok(()),
            Some((p, _)) => Err(CmdError::new(
                "SORT_CLAUSE_PATH_UNINDEXED",
                "SORT",
                format!(
                    "the sort uses '{}', which the collection's indexing option leaves unindexed; \
                     sort on an indexed path",
                    p.join(".")
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::filter::parse;
    use super::*;
    use serde_json::json;

    fn ix(o: Json) -> Indexing {
        Indexing::from_options(&json!({ "indexing": o })).unwrap()
    }

    fn code(ix: &Indexing, f: Json) -> Option<&'static str> {
        ix.check_filter(&parse(Some(&f)).unwrap()).err().map(|e| e.code)
    }

    #[test]
    fn deny_lists() {
        let d = ix(json!({"deny": ["blob", "a&.b"]}));
        assert_eq!(code(&d, json!({"name": "x", "blob2": 1})), None);
        assert_eq!(code(&d, json!({"blob": "x"})), Some("FILTER_PATH_UNINDEXED"));
        assert_eq!(code(&d, json!({"blob.inner.0": "x"})), Some("FILTER_PATH_UNINDEXED"));
        assert_eq!(code(&d, json!({"$or": [{"a": 1}, {"$not": {"a&.b": 1}}]})), Some("FILTER_PATH_UNINDEXED"));
        assert_eq!(code(&d, json!({"a.b": 1})), None, "an escaped dot is one segment");
    }

    #[test]
    fn allow_lists_and_id() {
        let a = ix(json!({"allow": ["name", "meta"]}));
        assert_eq!(code(&a, json!({"name": "x", "meta.tags": "y", "_id": "k"})), None);
        assert_eq!(code(&a, json!({"other": 1})), Some("FILTER_PATH_UNINDEXED"));
        assert_eq!(code(&a, json!({"_id": {"$in": ["a"]}, "$vector": {"$exists": true}})), None);
        assert_eq!(code(&a, json!({"_id": {"$gt": "a"}})), Some("FILTER_PATH_UNINDEXED"));
        let none = ix(json!({"deny": ["*"]}));
        assert_eq!(code(&none, json!({"_id": "k"})), None);
        assert_eq!(code(&none, json!({"x": 1})), Some("FILTER_PATH_UNINDEXED"));
        assert_eq!(code(&ix(json!({"allow": ["*"]})), json!({"x": 1})), None);
        let sort = a.check_sort(&[(vec!["name".into()], true), (vec!["z".into()], false)]).unwrap_err();
        assert_eq!(sort.code, "SORT_CLAUSE_PATH_UNINDEXED");
        assert!(Indexing::from_options(&json!({})).is_none());
    }
}
