//! Read commands: `find`, `findOne`, `countDocuments`, `estimatedDocumentCount`.
//!
//! Page sizes: an unsorted `find` returns pages of [`PAGE_SIZE`] (the
//! reference's 20) with an opaque `nextPageState`; a sorted `find` returns one
//! page and `nextPageState: null`, as the contract says.

use super::command::Command;
use super::docs::{matching, select, Coll, Sort};
use super::envelope::{CmdError, Reply};
use super::filter;
use super::page::PageState;
use super::project::Projection;
use super::store::Store;
use super::{ids, vector};
use serde_json::{json, Value as Json};

/// Documents per `find` page.
pub const PAGE_SIZE: u64 = 20;
/// Most documents a vector sort returns.
pub const MAX_VECTOR_LIMIT: u64 = 1000;
/// `countDocuments` stops counting here (`moreData: true`).
pub const MAX_COUNT: usize = 1000;

/// Runs one read command.
pub async fn run(store: &Store<'_>, c: &Coll, cmd: &Command) -> Result<Reply, CmdError> {
    let filter = c.filter(cmd.arg("filter"))?;
    match cmd.name.as_str() {
        "countDocuments" => {
            let n = super::docs::count_matching(store, c, &filter, MAX_COUNT + 1).await?;
            let r = Reply::status("count", json!(n.min(MAX_COUNT)));
            Ok(if n > MAX_COUNT { r.with("moreData", json!(true)) } else { r })
        }
        "estimatedDocumentCount" => {
            let mut n = 0u64;
            store
                .scan(&c.ns, &c.name, None, None, |_, _| {
                    n += 1;
                    true
                })
                .await?;
            Ok(Reply::status("count", json!(n)))
        }
        "findOne" => {
            let sort = c.sort(cmd.arg("sort"))?;
            let projection = Projection::parse(cmd.arg("projection"))?;
            let similarity = cmd.flag("includeSimilarity")?;
            if sort == Sort::None && projection == Projection::Default {
                if let Some(id) = filter::pinned_id(&filter).filter(|_| filter::only_id(&filter)) {
                    return find_one_text(store, c, &filter, &ids::key(id)).await;
                }
            }
            let found = select(store, c, &filter, &sort, 0, 1).await?;
            let doc = found.into_iter().next().map(|((_, d), s)| show(&projection, d, s.filter(|_| similarity)));
            Ok(Reply::data([("document", doc.unwrap_or(Json::Null))]))
        }
        _ => find(store, c, cmd, &filter).await,
    }
}

/// `findOne` by `_id` alone, default projection: the stored text goes into
/// the reply as text, `_id` first and hidden fields dropped (see
/// [`crate::rawjson`]), rather than parsed into a tree and written again.
/// The filter is matched against the `_id` alone, all it names.
async fn find_one_text(store: &Store<'_>, c: &Coll, filter: &filter::Filter, key: &str) -> Result<Reply, CmdError> {
    let Some(text) = store.get_text(&c.ns, &c.name, key).await? else {
        return Ok(Reply::data([("document", Json::Null)]));
    };
    let Some((doc, id)) = super::project::default_text(key, &text) else {
        // Not an object the scanner takes (a Documents API bare value): parse it.
        let parsed = serde_json::from_str(&text)
            .map_err(|e| CmdError::server("INTERNAL_SERVER_ERROR", format!("stored document is not JSON: {e}")))?;
        let d = ids::with_id(key, parsed);
        let shown = filter::matches(&d, filter).then(|| Projection::Default.apply(d));
        return Ok(Reply::data([("document", shown.unwrap_or(Json::Null))]));
    };
    let id = match id {
        Some(t) => serde_json::from_str(&t)
            .map_err(|e| CmdError::server("INTERNAL_SERVER_ERROR", format!("stored _id is not JSON: {e}")))?,
        None => Json::String(key.to_owned()),
    };
    if !filter::matches(&json!({ "_id": id }), filter) {
        return Ok(Reply::data([("document", Json::Null)]));
    }
    Ok(Reply::document_text(doc))
}

fn show(p: &Projection, doc: Json, similarity: Option<f64>) -> Json {
    let mut d = p.apply(doc);
    if let (Some(s), Json::Object(m)) = (similarity, &mut d) {
        m.insert("$similarity".into(), json!(s));
    }
    d
}

async fn find(store: &Store<'_>, c: &Coll, cmd: &Command, filter: &filter::Filter) -> Result<Reply, CmdError> {
    let sort = c.sort(cmd.arg("sort"))?;
    let projection = Projection::parse(cmd.arg("projection"))?;
    let similarity = cmd.flag("includeSimilarity")?;
    let limit = cmd.count("limit")?;
    if limit == Some(0) {
        return Err(CmdError::invalid("limit must be above 0"));
    }
    let skip = cmd.count("skip")?.unwrap_or(0);
    let page_state = cmd.page_state()?;
    let mut reply = match &sort {
        Sort::None => {
            if skip > 0 {
                return Err(CmdError::invalid("skip needs a sort"));
            }
            let state = page_state.map(PageState::decode).transpose()?;
            let seen = state.as_ref().map_or(0, |s| s.seen);
            let left = limit.map_or(u64::MAX, |l| l.saturating_sub(seen));
            let page = PAGE_SIZE.min(left) as usize;
            let mut docs = matching(store, c, filter, state.map(|s| s.after), page + 1).await?;
            let more = docs.len() > page;
            docs.truncate(page);
            let next = match docs.last() {
                Some((k, _)) if more && (seen + page as u64) < limit.unwrap_or(u64::MAX) => {
                    json!(PageState { after: k.clone(), seen: seen + page as u64 }.encode())
                }
                _ => Json::Null,
            };
            let list: Vec<Json> = docs.into_iter().map(|(_, d)| projection.apply(d)).collect();
            Reply::data([("documents", Json::Array(list)), ("nextPageState", next)])
        }
        Sort::Fields(_) | Sort::Vector(_) => {
            if page_state.is_some() {
                return Err(CmdError::new("SORT_CLAUSE_INVALID", "SORT", "pageState cannot be used with a sort"));
            }
            let cap = if let Sort::Vector(_) = sort {
                if skip > 0 {
                    return Err(CmdError::invalid("skip cannot be used with a vector sort"));
                }
                if limit.is_some_and(|l| l > MAX_VECTOR_LIMIT) {
                    return Err(CmdError::invalid(format!(
                        "limit must be at most {MAX_VECTOR_LIMIT} with a vector sort"
                    )));
                }
                limit.unwrap_or(PAGE_SIZE)
            } else {
                limit.unwrap_or(PAGE_SIZE).min(PAGE_SIZE)
            };
            let found = select(store, c, filter, &sort, skip as usize, cap as usize).await?;
            let list: Vec<Json> =
                found.into_iter().map(|((_, d), s)| show(&projection, d, s.filter(|_| similarity))).collect();
            Reply::data([("documents", Json::Array(list)), ("nextPageState", Json::Null)])
        }
    };
    if cmd.flag("includeSortVector")? {
        let v = match &sort {
            Sort::Vector(q) => vector::to_json(q),
            _ => Json::Null,
        };
        reply = reply.with("sortVector", v);
    }
    Ok(reply)
}
