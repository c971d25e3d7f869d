//! The JSON Data API (the protocol astrapy and astra-db-ts speak): one `POST`
//! per command at `/v1` (keyspaces), `/v1/{ks}` (collections) and
//! `/v1/{ks}/{coll}` (documents). A translator: commands are parsed here and
//! in the sibling files; every storage call goes through [`store`].

mod admin;
mod command;
mod docs;
pub mod envelope;
pub mod filter;
pub mod ids;
#[cfg(test)]
mod index_tests;
pub mod indexing;
pub mod page;
pub mod project;
mod read;
pub mod store;
pub mod update;
pub mod value;
pub mod vector;
mod write;

use crate::engine::Ctx;
use crate::http::{ApiRequest, ApiResponse};
use crate::model::Namespace;
use command::Command;
use envelope::{failure, CmdError, Reply};

/// Which level of the URL a command arrived at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/v1`.
    Database,
    /// `/v1/{ks}`.
    Keyspace(String),
    /// `/v1/{ks}/{coll}`.
    Collection(String, String),
}

/// Longest keyspace or collection name.
const MAX_NAME: usize = 48;

/// Checks a keyspace or collection name (`\w+`, at most 48 characters,
/// starting with a letter so it is also a valid store identifier).
pub fn check_name(kind: &str, name: &str) -> Result<(), CmdError> {
    let checked = match kind {
        "collection" => crate::model::check_collection(name),
        _ => crate::model::check_ident(kind, name),
    };
    checked.map_err(|m| CmdError::new("UNSUPPORTED_SCHEMA_NAME", "SCHEMA", m))?;
    if name.len() > MAX_NAME {
        return Err(CmdError::new(
            "UNSUPPORTED_SCHEMA_NAME",
            "SCHEMA",
            format!("{kind} name is above {MAX_NAME} characters"),
        ));
    }
    Ok(())
}

fn namespace(tenant: &str, ks: &str) -> Result<Namespace, CmdError> {
    check_name("keyspace", ks)?;
    Ok(Namespace { tenant: tenant.to_owned(), keyspace: ks.to_owned() })
}

/// Runs one command; the reply is a 200 envelope, errors included. A body
/// that is not JSON at all, or a URL naming no valid keyspace or collection,
/// is no command: the same envelope, with status 400 (as every other API
/// answers a bad name in a path).
pub async fn handle(ctx: &Ctx<'_>, tenant: &str, target: &Target, req: &ApiRequest) -> ApiResponse {
    if let Some(ct) = req.content_type.as_deref().filter(|ct| !is_json(ct)) {
        let mut r = failure(&CmdError::new(
            "UNSUPPORTED_CONTENT_TYPE",
            "",
            format!("Content-Type '{ct}' is not supported: send the command as application/json"),
        ));
        r.status = 415;
        return r;
    }
    let parsed = check_target(target).and_then(|()| Command::parse(&req.body));
    let cmd = match parsed {
        Ok(cmd) => cmd,
        Err(e) => {
            let mut r = failure(&e);
            r.status = 400;
            return r;
        }
    };
    match run(ctx, tenant, target, &cmd).await {
        Ok(reply) => reply.into_response(),
        Err(e) => failure(&e),
    }
}

/// Whether a `Content-Type` names JSON (`application/json`, any `+json`);
/// a request without one is taken as JSON, as curl users expect.
fn is_json(content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// Whether a read can skip loading the collection's options: no sort, and a
/// filter that is empty or only `_id` equality (which `indexing` never
/// refuses), so a read by `_id` costs one store round trip, like REST's.
fn needs_no_options(cmd: &Command) -> bool {
    let unsorted = cmd.arg("sort").is_none_or(|s| s.as_object().is_some_and(|m| m.is_empty()));
    let by_id = match cmd.arg("filter") {
        None => true,
        Some(serde_json::Value::Object(m)) => m.iter().all(|(k, v)| {
            k == "_id"
                && v.as_object().is_none_or(|o| filter::is_ejson(o) || o.keys().all(|op| op == "$eq" || op == "$in"))
        }),
        Some(_) => false,
    };
    unsorted && by_id
}

fn check_target(target: &Target) -> Result<(), CmdError> {
    match target {
        Target::Database => Ok(()),
        Target::Keyspace(ks) => check_name("keyspace", ks),
        Target::Collection(ks, c) => check_name("keyspace", ks).and_then(|()| check_name("collection", c)),
    }
}

async fn run(ctx: &Ctx<'_>, tenant: &str, target: &Target, cmd: &Command) -> Result<Reply, CmdError> {
    let store = store::Store::new(ctx);
    match target {
        Target::Database => admin::database(&store, tenant, cmd).await,
        Target::Keyspace(ks) => admin::keyspace(&store, &namespace(tenant, ks)?, cmd).await,
        Target::Collection(ks, coll) => {
            let ns = namespace(tenant, ks)?;
            check_name("collection", coll)?;
            cmd.known_fields()?;
            let reads = ["find", "findOne", "countDocuments", "estimatedDocumentCount", "deleteOne", "deleteMany"];
            let with_options = !reads.contains(&cmd.name.as_str()) || !needs_no_options(cmd);
            let c = docs::Coll::open(&store, ns, coll, with_options).await?;
            match cmd.name.as_str() {
                "findAndRerank" => Err(CmdError::new(
                    "RERANKING_FEATURE_NOT_ENABLED",
                    "",
                    "findAndRerank needs Astra's hybrid search and reranking service, which Datagate does not run: \
                     use find with a $vector sort",
                )),
                "find" | "findOne" | "countDocuments" | "estimatedDocumentCount" => read::run(&store, &c, cmd).await,
                _ => write::run(&store, &c, cmd).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/vnd.api+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }

    #[test]
    fn reads_by_id_skip_options() {
        let cmd = |b: &str| Command::parse(b.as_bytes()).unwrap();
        assert!(needs_no_options(&cmd(r#"{"findOne": {"filter": {"_id": "a"}}}"#)));
        assert!(needs_no_options(&cmd(r#"{"find": {"filter": {"_id": {"$in": ["a"]}}, "sort": {}}}"#)));
        assert!(!needs_no_options(&cmd(r#"{"find": {"filter": {"a": 1}}}"#)));
        assert!(!needs_no_options(&cmd(r#"{"find": {"sort": {"a": 1}}}"#)));
        assert!(!needs_no_options(&cmd(r#"{"find": {"filter": {"_id": {"$gt": "a"}}}}"#)));
    }
}
