//! Declared indexes of a collection: `PUT .../collections/{coll}/indexes` with
//! `{"paths": ["user.city", "n"]}` makes exactly these paths indexed (building
//! the new ones over the documents already stored, dropping the others);
//! `GET` lists them. Searches with `$eq`, `$in` or a range on an indexed path
//! find their matches through the index instead of reading every document.

use super::{body, Ctx};
use crate::doc::path::{self, display, Path, Segment};
use crate::error::ApiError;
use crate::http::{ApiRequest, ApiResponse};
use crate::model::{check_ident, Namespace};
use crate::store::docs::MAX_INDEXED_PATHS;
use crate::store::docsql::indexable_key;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Indexes {
    paths: Vec<String>,
}

/// Checks the requested paths, reporting every bad one.
fn parse_paths(paths: &[String]) -> Result<Vec<Path>, ApiError> {
    let mut errors = Vec::new();
    let mut out: Vec<Path> = Vec::new();
    for text in paths {
        match path::plain(text, "indexes") {
            Ok(p) if !p.is_empty() && p.iter().all(|s| matches!(s, Segment::Key(k) if indexable_key(k))) => {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
            Ok(_) => errors.push(format!(
                "'{text}': an indexed path is object keys of letters, digits, '_' or '-' (1 to 64 each), \
                 like user.city"
            )),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if out.len() > MAX_INDEXED_PATHS {
        errors.push(format!("at most {MAX_INDEXED_PATHS} indexed paths per collection, got {}", out.len()));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::BadRequest(format!("indexes: {}", errors.join("; "))))
    }
}

/// `GET .../collections/{coll}/indexes`.
pub async fn get(ctx: &Ctx<'_>, ns: &Namespace, coll: &str) -> Result<ApiResponse, ApiError> {
    check_ident("collection", coll).map_err(ApiError::BadRequest)?;
    let paths = ctx.docs.doc_indexes(ns, coll).await?;
    Ok(ApiResponse::json(200, json!({ "paths": paths })))
}

/// `PUT .../collections/{coll}/indexes` (the collection is created on first use, like a write).
pub async fn put(ctx: &Ctx<'_>, ns: &Namespace, coll: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let b: Indexes = body(req)?;
    let paths = parse_paths(&b.paths)?;
    ctx.catalog.collection_for_write(ctx.docs, ns, coll).await?;
    ctx.docs.set_doc_indexes(ns, coll, &paths).await?;
    let mut names: Vec<String> = paths.iter().map(|p| display(p)).collect();
    names.sort();
    Ok(ApiResponse::json(200, json!({ "paths": names })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked_all_at_once() {
        let ok = parse_paths(&["user.city".into(), "n".into(), "n".into()]).unwrap();
        assert_eq!(ok.len(), 2, "duplicates collapse");
        let ApiError::BadRequest(m) = parse_paths(&["a.[0]".into(), "a'b".into(), "x.*".into()]).unwrap_err() else {
            panic!("a 400")
        };
        assert!(m.contains("'a.[0]'") && m.contains("'a'b'") && m.contains("wildcards"), "{m}");
        let many: Vec<String> = (0..17).map(|i| format!("p{i}")).collect();
        assert!(parse_paths(&many).is_err());
    }
}
