//! The rows API (`/v2/keyspaces/{ks}/{table}`): query parameters and bodies
//! become [`engine::rows`](crate::engine::rows) operations, their results
//! become Stargate's JSON envelopes.

use super::{ttl_param, Ctx};
use crate::engine::rows::{self, Filter, ReadRows, RowKey, Term, WriteRow};
use crate::error::ApiError;
use crate::http::{ApiRequest, ApiResponse};
use crate::json;
use crate::model::{Namespace, Order};
use crate::plan::{Op, WriteIf};
use crate::value::Value;
use serde_json::{json, Value as Json};

/// Which rows a read selects.
#[derive(Clone, Copy)]
pub enum Selection<'a> {
    /// `GET base?where=...`.
    Where,
    /// `GET base/{pk...}`.
    Key(&'a [String]),
    /// `GET base/rows`.
    All,
}

/// Handles every rows read.
pub async fn read(
    ctx: &Ctx<'_>,
    ns: &Namespace,
    table: &str,
    sel: Selection<'_>,
    req: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let terms;
    let filter = match sel {
        Selection::Where => {
            let text = req.param("where")?.ok_or_else(|| {
                ApiError::BadRequest("query parameter 'where' is required, e.g. where={\"id\":{\"$eq\":1}}".to_owned())
            })?;
            terms = parse_where(text)?;
            Filter::Where(&terms)
        }
        Selection::Key(segments) => Filter::Key(segments),
        Selection::All => Filter::All,
    };
    let sort = req.param("sort")?.map(parse_sort).transpose()?.unwrap_or_default();
    let op = ReadRows {
        filter,
        sort: &sort,
        fields: parse_fields(req.param("fields")?)?,
        page_size: super::page_size_param(req, ctx.limits.max_page_size)?,
        page_state: req.param("page-state")?,
    };
    let page = rows::read(ctx, ns, table, op).await?;
    let compact = req.flag("compactMapData", true)?;
    // Written straight from the rows (see RowPage::write_json_rows), in the
    // order a built answer had: count, pageState, data.
    let mut body = Vec::with_capacity(64 + 64 * page.rows.len());
    if req.flag("raw", false)? {
        page.write_json_rows(compact, &mut body);
        return Ok(ApiResponse { status: 200, headers: Vec::new(), body });
    }
    body.extend_from_slice(b"{\"count\":");
    body.extend_from_slice(page.rows.len().to_string().as_bytes());
    if let Some(ps) = &page.next {
        body.extend_from_slice(b",\"pageState\":");
        // A str always serializes into a Vec.
        let _ = serde_json::to_writer(&mut body, ps.as_str());
    }
    body.extend_from_slice(b",\"data\":");
    page.write_json_rows(compact, &mut body);
    body.push(b'}');
    Ok(ApiResponse { status: 200, headers: Vec::new(), body })
}

/// `POST base`: upsert one row, answer with its primary key.
pub async fn insert(ctx: &Ctx<'_>, ns: &Namespace, table: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let columns = json::object("request body", &req.body)?;
    let w = WriteRow { key: RowKey::InColumns, columns, ttl: ttl_param(req)?, condition: WriteIf::Always };
    let written = rows::write(ctx, ns, table, w).await?;
    Ok(ApiResponse::json(201, key_json(&written.key)))
}

/// `POST base/batch`: upsert many rows, all or nothing; answers with their keys.
pub async fn batch(ctx: &Ctx<'_>, ns: &Namespace, table: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let Json::Array(items) = json::parse("request body", &req.body)? else {
        return Err(ApiError::BadRequest("a batch is a JSON array of row objects".to_owned()));
    };
    let mut batch = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let Json::Object(map) = item else {
            return Err(ApiError::BadRequest(format!("rows[{i}] must be a JSON object")));
        };
        batch.push(map.into_iter().collect());
    }
    let keys = rows::write_batch(ctx, ns, table, batch, ttl_param(req)?).await?;
    Ok(ApiResponse::json(201, Json::Array(keys.iter().map(|k| key_json(k)).collect())))
}

fn key_json(key: &[(String, Value)]) -> Json {
    Json::Object(key.iter().map(|(c, v)| (c.clone(), v.to_json())).collect())
}

/// `PUT`/`PATCH base/{pk...}`: upsert the given columns of one row.
pub async fn update(
    ctx: &Ctx<'_>,
    ns: &Namespace,
    table: &str,
    segments: &[String],
    req: &ApiRequest,
) -> Result<ApiResponse, ApiError> {
    let body = json::parse("request body", &req.body)?;
    let Json::Object(map) = &body else {
        return Err(ApiError::BadRequest(format!("request body must be a JSON object, got {}", json::kind(&body))));
    };
    let columns = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let w = WriteRow { key: RowKey::Path(segments), columns, ttl: ttl_param(req)?, condition: WriteIf::Always };
    rows::write(ctx, ns, table, w).await?;
    if req.flag("raw", false)? {
        return Ok(ApiResponse::json(200, body));
    }
    Ok(ApiResponse::json(200, json!({ "data": body })))
}

/// `DELETE base/{pk...}`: removes the row, or the partition/slice a key prefix selects.
pub async fn delete(ctx: &Ctx<'_>, ns: &Namespace, table: &str, segments: &[String]) -> Result<ApiResponse, ApiError> {
    rows::delete(ctx, ns, table, RowKey::Path(segments)).await?;
    Ok(ApiResponse::no_content())
}

/// Parses `where`: a JSON object of column → {operator: operand}.
pub fn parse_where(text: &str) -> Result<Vec<Term>, ApiError> {
    let entries = json::object("where", text.as_bytes())?;
    if entries.is_empty() {
        return Err(ApiError::BadRequest("where must hold at least one condition".to_owned()));
    }
    let mut out = Vec::new();
    for (column, ops) in entries {
        let Json::Object(ops) = ops else {
            return Err(ApiError::BadRequest(format!(
                "where.{column} must be an object of operators like {{\"$eq\": value}}, got {}",
                json::kind(&ops)
            )));
        };
        if ops.is_empty() {
            return Err(ApiError::BadRequest(format!("where.{column} has no operator")));
        }
        for (name, operand) in ops {
            let op = Op::parse(&name).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "unknown operator '{name}' in where.{column}: supported are $eq $ne $lt $lte $gt $gte $in $nin \
                     $exists $contains $containsKey $containsEntry"
                ))
            })?;
            out.push(Term { column: column.clone(), op, operand });
        }
    }
    Ok(out)
}

fn parse_fields(fields: Option<&str>) -> Result<Option<Vec<String>>, ApiError> {
    let Some(text) = fields else { return Ok(None) };
    let out: Vec<String> = text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if out.is_empty() {
        return Err(ApiError::BadRequest("fields is empty: list columns separated by commas".to_owned()));
    }
    Ok(Some(out))
}

/// `sort`: a JSON object of column → "asc"|"desc" (case-insensitive), in order.
pub fn parse_sort(text: &str) -> Result<Vec<(String, Order)>, ApiError> {
    let entries = json::object("sort", text.as_bytes())?;
    if entries.is_empty() {
        return Err(ApiError::BadRequest("sort must name at least one column, e.g. {\"year\":\"desc\"}".to_owned()));
    }
    entries
        .into_iter()
        .map(|(column, dir)| {
            let order = match dir.as_str().map(str::to_ascii_lowercase).as_deref() {
                Some("asc") => Order::Asc,
                Some("desc") => Order::Desc,
                _ => return Err(ApiError::BadRequest(format!("sort.{column} must be \"asc\" or \"desc\", got {dir}"))),
            };
            Ok((column, order))
        })
        .collect()
}

#[cfg(test)]
mod tests;
