//! Write commands: inserts, updates, replaces and deletes. Each document is
//! changed in its own store transaction that re-checks the filter, so a
//! concurrent change between finding and writing is never overwritten blindly.

use super::command::Command;
use super::docs::{matching, select, Coll, Found, Sort};
use super::envelope::{CmdError, Reply};
use super::filter::{equalities, matches, Filter};
use super::ids;
use super::page::PageState;
use super::project::Projection;
use super::store::{Change, EditDoc, Inserted, Store};
use super::update::Update;
use super::value::{equal, set};
use serde_json::{json, Map, Value as Json};
use std::sync::Arc;

/// Most documents one `insertMany` takes.
pub const MAX_INSERT: usize = 100;
/// Most documents one `updateMany`/`deleteMany` call changes.
pub const MAX_PER_CALL: usize = 20;

/// Runs one write command.
pub async fn run(store: &Store<'_>, c: &Coll, cmd: &Command) -> Result<Reply, CmdError> {
    match cmd.name.as_str() {
        "insertOne" => {
            let doc = cmd.arg("document").ok_or_else(|| CmdError::invalid("insertOne needs 'document'"))?;
            let id = insert(store, c, doc).await?;
            Ok(Reply::status("insertedIds", json!([id])))
        }
        "insertMany" => insert_many(store, c, cmd).await,
        "updateOne" | "findOneAndUpdate" | "findOneAndReplace" => update_one(store, c, cmd).await,
        "updateMany" => update_many(store, c, cmd).await,
        "deleteOne" | "findOneAndDelete" => delete_one(store, c, cmd).await,
        "deleteMany" => delete_many(store, c, cmd).await,
        _ => Err(cmd.unknown("collection")),
    }
}

/// Writes a new document; `DOCUMENT_ALREADY_EXISTS` when its `_id` is taken.
async fn insert(store: &Store<'_>, c: &Coll, doc: &Json) -> Result<Json, CmdError> {
    let (key, doc) = c.prepare(doc)?;
    let id = doc["_id"].clone();
    write_new(store, c, key, doc).await?;
    Ok(id)
}

async fn write_new(store: &Store<'_>, c: &Coll, key: String, doc: Json) -> Result<(), CmdError> {
    match store.insert(&c.ns, &c.name, vec![Ok((key, doc))], true).await?.pop() {
        Some(Inserted::Ok) => Ok(()),
        Some(Inserted::Failed(e)) => Err(e),
        Some(Inserted::Skipped) | None => Err(CmdError::server("INTERNAL_SERVER_ERROR", "the insert was not tried")),
    }
}

/// All documents go to the store in one call (one transaction); each
/// answers for itself, in order.
async fn insert_many(store: &Store<'_>, c: &Coll, cmd: &Command) -> Result<Reply, CmdError> {
    let Some(Json::Array(docs)) = cmd.arg("documents") else {
        return Err(CmdError::invalid("insertMany needs a 'documents' array"));
    };
    if docs.len() > MAX_INSERT {
        return Err(CmdError::invalid(format!("insertMany takes at most {MAX_INSERT} documents, got {}", docs.len())));
    }
    let ordered = cmd.flag("ordered")?;
    let responses = cmd.flag("returnDocumentResponses")?;
    let prepared: Vec<_> = docs.iter().map(|d| c.prepare(d)).collect();
    // The id each answer names: the document's own or the one generated for it.
    let ids: Vec<Json> = docs
        .iter()
        .zip(&prepared)
        .map(|(d, p)| match p {
            Ok((_, doc)) => doc["_id"].clone(),
            Err(_) => d.get("_id").cloned().unwrap_or(Json::Null),
        })
        .collect();
    let outcomes = store.insert(&c.ns, &c.name, prepared, ordered).await?;
    let mut inserted = Vec::new();
    let mut rows: Vec<Json> = Vec::new();
    let mut errors: Vec<CmdError> = Vec::new();
    for (id, outcome) in ids.into_iter().zip(outcomes) {
        match outcome {
            Inserted::Ok => {
                inserted.push(id.clone());
                rows.push(json!({"_id": id, "status": "OK"}));
            }
            Inserted::Failed(mut e) => {
                rows.push(json!({"_id": id, "status": "ERROR", "errorsIdx": errors.len()}));
                if !id.is_null() {
                    e.document_ids.push(id);
                }
                errors.push(e);
            }
            Inserted::Skipped => rows.push(json!({"_id": id, "status": "SKIPPED"})),
        }
    }
    let mut reply = if responses {
        Reply::status("documentResponses", json!(rows))
    } else {
        Reply::status("insertedIds", json!(inserted))
    };
    reply.errors = errors;
    Ok(reply)
}

/// The update (or replacement) a command carries, applied to one document.
#[derive(Clone)]
enum Change1 {
    Update(Arc<Update>),
    Replace(Arc<Json>),
}

fn change_of(cmd: &Command) -> Result<Change1, CmdError> {
    if cmd.name == "findOneAndReplace" {
        match cmd.arg("replacement") {
            Some(r @ Json::Object(_)) => Ok(Change1::Replace(Arc::new(r.clone()))),
            _ => Err(CmdError::invalid("findOneAndReplace needs a 'replacement' object")),
        }
    } else {
        let u = cmd.arg("update").ok_or_else(|| CmdError::invalid(format!("{} needs 'update'", cmd.name)))?;
        Ok(Change1::Update(Arc::new(Update::parse(u)?)))
    }
}

/// The document after the change, checked as on insert; `None` when the
/// update changed nothing.
fn changed(c: &Coll, change: &Change1, doc: &Json, inserting: bool) -> Result<Option<Json>, CmdError> {
    match change {
        Change1::Update(u) => {
            let mut d = doc.clone();
            if !u.apply(&mut d, inserting, super::store::now_ms())? {
                return Ok(None);
            }
            Ok(Some(c.prepare(&d)?.1))
        }
        Change1::Replace(r) => {
            let mut d = (**r).clone();
            let id = doc.get("_id").cloned().unwrap_or(Json::Null);
            if let Some(rid) = d.get("_id") {
                if !inserting && !equal(rid, &id) {
                    return Err(CmdError::new(
                        "DOCUMENT_REPLACE_DIFFERENT_DOCID",
                        "DOCUMENT",
                        format!("the replacement's _id {rid} differs from the matched document's {id}"),
                    ));
                }
            } else if let Json::Object(m) = &mut d {
                if !id.is_null() || !inserting {
                    let mut with = Map::new();
                    with.insert("_id".into(), id);
                    with.extend(std::mem::take(m));
                    *m = with;
                }
            }
            let new = c.prepare(&d)?.1;
            Ok(if !inserting && new == *doc { None } else { Some(new) })
        }
    }
}

/// Applies `change` to the document at `key` if it still matches `filter`.
/// Returns (matched, before, after).
async fn change_one(
    store: &Store<'_>,
    c: &Coll,
    key: &str,
    filter: &Arc<Filter>,
    change: &Change1,
) -> Result<(bool, Option<Json>, Option<Json>), CmdError> {
    let (f, ch, coll, k) = (Arc::clone(filter), change.clone(), c.clone(), key.to_owned());
    let edit: EditDoc = Arc::new(move |cur| {
        let Some(cur) = cur else { return Ok(Change::Skip) };
        let doc = ids::with_id(&k, cur.clone());
        if !matches(&doc, &f) {
            return Ok(Change::Skip);
        }
        Ok(match (changed(&coll, &ch, &doc, false)?, &ch) {
            (Some(new), Change1::Replace(_)) => Change::Replace(new),
            (Some(new), Change1::Update(_)) => Change::Write(new),
            (None, _) => Change::Keep,
        })
    });
    let e = store.edit(&c.ns, &c.name, key, edit).await?;
    let before = e.before.map(|d| ids::with_id(key, d));
    let after = e.after.map(|d| ids::with_id(key, d));
    Ok((before.is_some(), before, after))
}

/// Inserts the upsert document: the filter's equalities, then the change.
async fn upsert(store: &Store<'_>, c: &Coll, filter: &Filter, change: &Change1) -> Result<Json, CmdError> {
    let mut seed = Json::Object(Map::new());
    if let Change1::Update(_) = change {
        for (p, v) in equalities(filter) {
            set(&mut seed, &p, v)?;
        }
    } else if let Some(id) = equalities(filter).into_iter().find(|(p, _)| p.len() == 1 && p[0] == "_id") {
        set(&mut seed, &id.0, id.1)?;
    }
    let doc = changed(c, change, &seed, true)?.unwrap_or(seed);
    let (key, doc) = c.prepare(&doc)?;
    write_new(store, c, key, doc.clone()).await?;
    Ok(doc)
}

fn return_after(cmd: &Command) -> Result<bool, CmdError> {
    match cmd.opt("returnDocument").and_then(Json::as_str) {
        None | Some("before") => Ok(false),
        Some("after") => Ok(true),
        Some(other) => Err(CmdError::invalid(format!("returnDocument must be 'before' or 'after', got '{other}'"))),
    }
}

/// The first document the filter and sort select.
async fn first(store: &Store<'_>, c: &Coll, filter: &Filter, sort: &Sort) -> Result<Option<Found>, CmdError> {
    Ok(select(store, c, filter, sort, 0, 1).await?.into_iter().next().map(|(f, _)| f))
}

async fn update_one(store: &Store<'_>, c: &Coll, cmd: &Command) -> Result<Reply, CmdError> {
    let filter = Arc::new(c.filter(cmd.arg("filter"))?);
    let sort = c.sort(cmd.arg("sort"))?;
    let change = change_of(cmd)?;
    let projection = Projection::parse(cmd.arg("projection"))?;
    let after_wanted = return_after(cmd)?;
    let do_upsert = cmd.flag("upsert")?;
    // A match can vanish between finding and writing; look again a few times.
    for _ in 0..3 {
        let Some((key, _)) = first(store, c, &filter, &sort).await? else { break };
        let (matched, before, after) = change_one(store, c, &key, &filter, &change).await?;
        if !matched {
            continue;
        }
        let modified = u64::from(before != after);
        let reply = Reply::status("matchedCount", json!(1)).with("modifiedCount", json!(modified));
        return Ok(with_document(cmd, reply, &projection, if after_wanted { after } else { before }));
    }
    let mut reply = Reply::status("matchedCount", json!(0)).with("modifiedCount", json!(0));
    let mut doc = None;
    if do_upsert {
        let new = upsert(store, c, &filter, &change).await?;
        reply = reply.with("upsertedId", new["_id"].clone());
        doc = after_wanted.then_some(new);
    }
    Ok(with_document(cmd, reply, &projection, doc))
}

/// `findOneAnd*` answer with `data.document`; `updateOne` does not.
fn with_document(cmd: &Command, mut reply: Reply, p: &Projection, doc: Option<Json>) -> Reply {
    if cmd.name.starts_with("findOneAnd") {
        reply.data = Some(Reply::data([("document", doc.map_or(Json::Null, |d| p.apply(d)))]).data.unwrap_or_default());
    }
    reply
}

async fn update_many(store: &Store<'_>, c: &Coll, cmd: &Command) -> Result<Reply, CmdError> {
    let filter = Arc::new(c.filter(cmd.arg("filter"))?);
    let change = change_of(cmd)?;
    let state = cmd.page_state()?.map(PageState::decode).transpose()?;
    let continuing = state.is_some();
    let found = matching(store, c, &filter, state.map(|s| s.after), MAX_PER_CALL + 1).await?;
    let more = found.len() > MAX_PER_CALL;
    let (mut matched, mut modified) = (0u64, 0u64);
    for (key, _) in found.iter().take(MAX_PER_CALL) {
        match change_one(store, c, key, &filter, &change).await {
            Ok((m, before, after)) => {
                matched += u64::from(m);
                modified += u64::from(m && before != after);
            }
            // The documents before this one are changed already: say how many,
            // beside the error, so the client knows what was applied.
            Err(e) => {
                let mut reply = Reply::status("matchedCount", json!(matched)).with("modifiedCount", json!(modified));
                reply.errors.push(e);
                return Ok(reply);
            }
        }
    }
    let mut reply = Reply::status("matchedCount", json!(matched)).with("modifiedCount", json!(modified));
    if more {
        let last = found.get(MAX_PER_CALL - 1).map(|(k, _)| k.clone()).unwrap_or_default();
        reply = reply
            .with("moreData", json!(true))
            .with("nextPageState", json!(PageState { after: last, seen: 0 }.encode()));
    } else if matched == 0 && !continuing && cmd.flag("upsert")? {
        let new = upsert(store, c, &filter, &change).await?;
        reply = reply.with("upsertedId", new["_id"].clone());
    }
    Ok(reply)
}

/// Deletes the document at `key` if it still matches; returns it if deleted.
async fn delete_key(store: &Store<'_>, c: &Coll, key: &str, filter: &Arc<Filter>) -> Result<Option<Json>, CmdError> {
    let (f, k) = (Arc::clone(filter), key.to_owned());
    let edit: EditDoc = Arc::new(move |cur| match cur {
        Some(cur) if matches(&ids::with_id(&k, cur.clone()), &f) => Ok(Change::Delete),
        _ => Ok(Change::Skip),
    });
    Ok(store.edit(&c.ns, &c.name, key, edit).await?.before.map(|d| ids::with_id(key, d)))
}

async fn delete_one(store: &Store<'_>, c: &Coll, cmd: &Command) -> Result<Reply, CmdError> {
    let filter = Arc::new(c.filter(cmd.arg("filter"))?);
    let sort = c.sort(cmd.arg("sort"))?;
    let projection = Projection::parse(cmd.arg("projection"))?;
    for _ in 0..3 {
        let Some((key, _)) = first(store, c, &filter, &sort).await? else { break };
        if let Some(gone) = delete_key(store, c, &key, &filter).await? {
            return Ok(with_document(cmd, Reply::status("deletedCount", json!(1)), &projection, Some(gone)));
        }
    }
    Ok(with_document(cmd, Reply::status("deletedCount", json!(0)), &projection, None))
}

async fn delete_many(store: &Store<'_>, c: &Coll, cmd: &Command) -> Result<Reply, CmdError> {
    let filter = Arc::new(c.filter(cmd.arg("filter"))?);
    let found = matching(store, c, &filter, None, MAX_PER_CALL + 1).await?;
    let more = found.len() > MAX_PER_CALL;
    let mut deleted = 0u64;
    for (key, _) in found.iter().take(MAX_PER_CALL) {
        deleted += u64::from(delete_key(store, c, key, &filter).await?.is_some());
    }
    let reply = Reply::status("deletedCount", json!(deleted));
    Ok(if more { reply.with("moreData", json!(true)) } else { reply })
}
