//! Keyspace commands (`/v1`) and collection commands (`/v1/{ks}`).

use super::command::Command;
use super::envelope::{CmdError, Reply};
use super::store::Store;
use super::{check_name, namespace, vector};
use crate::model::Namespace;
use serde_json::{json, Map, Value as Json};

/// Most collections one keyspace holds (the reference caps a whole database
/// at 5; here each keyspace is a tenant's unit, and a collection costs a table
/// and its indexes, not a share of a cluster-wide index budget). Counted when
/// a collection is created through the Data API, Documents API ones included;
/// two concurrent creates may both pass the count.
pub const MAX_COLLECTIONS: usize = 50;

fn name(cmd: &Command) -> Result<String, CmdError> {
    cmd.arg("name")
        .and_then(Json::as_str)
        .map(str::to_owned)
        .ok_or_else(|| CmdError::invalid(format!("{} needs a string 'name'", cmd.name)))
}

/// `/v1`: keyspaces.
pub async fn database(store: &Store<'_>, tenant: &str, cmd: &Command) -> Result<Reply, CmdError> {
    match cmd.name.as_str() {
        // Replication options (either spelling) are accepted and ignored: SQL
        // stores have no replication to set.
        "createKeyspace" => {
            store.create_keyspace(&namespace(tenant, &name(cmd)?)?).await?;
            Ok(Reply::ok())
        }
        "findKeyspaces" | "findNamespaces" => {
            let ks = store.keyspaces(tenant).await?;
            let key = if cmd.name == "findKeyspaces" { "keyspaces" } else { "namespaces" };
            Ok(Reply::status(key, json!(ks)))
        }
        "dropKeyspace" => {
            store.drop_keyspace(&namespace(tenant, &name(cmd)?)?).await?;
            Ok(Reply::ok())
        }
        "findEmbeddingProviders" => Ok(Reply::status("embeddingProviders", json!({}))),
        "findRerankingProviders" => Ok(Reply::status("rerankingProviders", json!({}))),
        _ => Err(cmd.unknown("database")),
    }
}

/// `/v1/{ks}`: collections.
pub async fn keyspace(store: &Store<'_>, ns: &Namespace, cmd: &Command) -> Result<Reply, CmdError> {
    match cmd.name.as_str() {
        "createCollection" => {
            let n = name(cmd)?;
            check_name("collection", &n)?;
            let options = options(cmd.arg("options"))?;
            let names = store.collection_names(ns).await?;
            if names.len() >= MAX_COLLECTIONS && !names.contains(&n) {
                return Err(CmdError::new(
                    "TOO_MANY_COLLECTIONS",
                    "DATABASE",
                    format!(
                        "keyspace '{}' already has {MAX_COLLECTIONS} collections, the most one keyspace may hold; \
                         drop one or use another keyspace",
                        ns.keyspace
                    ),
                ));
            }
            match store.create_collection(ns, &n, &options).await? {
                None => Ok(Reply::ok()),
                Some(existing) if existing == options => Ok(Reply::ok()),
                // A collection the Documents API made has no settings yet: it takes these.
                Some(existing) if existing == json!({}) => {
                    store.set_options(ns, &n, &options).await?;
                    Ok(Reply::ok())
                }
                Some(_) => Err(CmdError::new(
                    "EXISTING_COLLECTION_DIFFERENT_SETTINGS",
                    "SCHEMA",
                    format!("collection '{n}' already exists with different settings"),
                )),
            }
        }
        "findCollections" => {
            let all = store.collections(ns).await?;
            if cmd.flag("explain")? {
                let list: Vec<Json> = all.into_iter().map(|(n, o)| json!({"name": n, "options": o})).collect();
                Ok(Reply::status("collections", json!(list)))
            } else {
                Ok(Reply::status("collections", json!(all.into_iter().map(|(n, _)| n).collect::<Vec<_>>())))
            }
        }
        "deleteCollection" => {
            let n = name(cmd)?;
            check_name("collection", &n)?;
            store.drop_collection(ns, &n).await?;
            Ok(Reply::ok())
        }
        _ => Err(cmd.unknown("keyspace")),
    }
}

fn schema_err(m: String) -> CmdError {
    CmdError::new("INVALID_INDEXING_DEFINITION", "SCHEMA", m)
}

/// Checks `createCollection.options` and normalises defaults, so the stored
/// form is what `findCollections` with `explain` echoes.
fn options(v: Option<&Json>) -> Result<Json, CmdError> {
    let Some(v) = v else { return Ok(json!({})) };
    let Json::Object(m) = v else {
        return Err(CmdError::invalid("createCollection options must be an object"));
    };
    let mut out = Map::new();
    for (k, v) in m {
        match k.as_str() {
            "vector" => {
                let dim = v
                    .get("dimension")
                    .and_then(Json::as_u64)
                    .filter(|d| (1..=vector::MAX_DIMENSION as u64).contains(d));
                let Some(dim) = dim else {
                    return Err(CmdError::invalid(format!("vector.dimension must be 1..{}", vector::MAX_DIMENSION)));
                };
                let metric = v.get("metric").and_then(Json::as_str).unwrap_or("cosine");
                if vector::Metric::parse(metric).is_none() {
                    return Err(CmdError::invalid(format!(
                        "vector.metric must be cosine, dot_product or euclidean, got '{metric}'"
                    )));
                }
                if v.get("service").is_some_and(|s| !s.is_null()) {
                    return Err(CmdError::new(
                        "VECTORIZE_FEATURE_NOT_AVAILABLE",
                        "SCHEMA",
                        "vectorize (server-side embedding) is not supported: send $vector values",
                    ));
                }
                let source = v.get("sourceModel").and_then(Json::as_str).unwrap_or("other");
                out.insert(k.clone(), json!({"dimension": dim, "metric": metric, "sourceModel": source}));
            }
            "indexing" => {
                let Json::Object(ix) = v else { return Err(schema_err("indexing must be an object".into())) };
                let lists: Vec<_> = ix.iter().filter(|(k, _)| *k == "allow" || *k == "deny").collect();
                if lists.len() != 1 || ix.len() != 1 {
                    return Err(schema_err("indexing takes exactly one of 'allow' or 'deny'".into()));
                }
                let paths = lists[0].1.as_array().ok_or_else(|| schema_err("indexing lists must be arrays".into()))?;
                let mut seen = std::collections::HashSet::new();
                if !paths.iter().all(|p| p.as_str().is_some_and(|s| seen.insert(s.to_owned()))) {
                    return Err(schema_err("indexing paths must be distinct strings".into()));
                }
                out.insert(k.clone(), v.clone());
            }
            "defaultId" => {
                let t = v.get("type").and_then(Json::as_str).unwrap_or("");
                if !matches!(t, "uuid" | "uuidv6" | "uuidv7" | "objectId") {
                    return Err(CmdError::invalid(format!(
                        "defaultId.type must be uuid, uuidv6, uuidv7 or objectId, got '{t}'"
                    )));
                }
                out.insert(k.clone(), json!({"type": t}));
            }
            // Astra-only; accepted when they ask for nothing, refused when enabled.
            "lexical" | "rerank" => {
                if v.get("enabled").and_then(Json::as_bool).unwrap_or(false) {
                    let code = if k == "lexical" {
                        "LEXICAL_NOT_AVAILABLE_FOR_DATABASE"
                    } else {
                        "RERANKING_NOT_AVAILABLE_FOR_DATABASE"
                    };
                    return Err(CmdError::new(
                        code,
                        "SCHEMA",
                        format!("'{k}' (Astra's server-side text search and reranking) is not available in Datagate"),
                    ));
                }
            }
            other => {
                return Err(CmdError::new("COMMAND_FIELD_UNKNOWN", "", format!("unknown collection option '{other}'")))
            }
        }
    }
    Ok(Json::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_normalised() {
        let o = options(Some(&json!({"vector": {"dimension": 2}, "defaultId": {"type": "uuidv7"}}))).unwrap();
        assert_eq!(
            o,
            json!({"vector": {"dimension": 2, "metric": "cosine", "sourceModel": "other"}, "defaultId": {"type": "uuidv7"}})
        );
        assert!(options(Some(&json!({"vector": {"dimension": 0}}))).is_err());
        assert!(options(Some(&json!({"indexing": {"allow": ["a"], "deny": ["b"]}}))).is_err());
        assert!(options(Some(&json!({"indexing": {"deny": ["a", "a"]}}))).is_err());
        assert_eq!(options(Some(&json!({"bogus": 1}))).unwrap_err().code, "COMMAND_FIELD_UNKNOWN");
        assert_eq!(options(Some(&json!({"lexical": {"enabled": false}}))).unwrap(), json!({}));
        let lexical = options(Some(&json!({"lexical": {"enabled": true, "analyzer": "standard"}})));
        assert_eq!(lexical.unwrap_err().code, "LEXICAL_NOT_AVAILABLE_FOR_DATABASE");
    }
}
