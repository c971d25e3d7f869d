//! The usage endpoints: `GET /v2/usage` (the caller's own tenant) and
//! `GET /v2/admin/usage` (any tenant; callers whose tenant is listed in
//! `metering.adminTenants`). Query: `from`, `to` (RFC 3339 or `YYYY-MM-DD`;
//! default: the start of this month to now), `granularity` (`minute`, `hour`,
//! `day`; default `day`), and for admins `tenant` (default: all). JSON by
//! default, CSV with `Accept: text/csv`.
//!
//! The edge filter's scopes do not reach the sidecar (only the tenant and the
//! plan do), so admin access is decided here by tenant; an operator can also
//! require a scope for `/v2/admin` with an edge-filter rule.

use super::clock;
use super::Metering;
use crate::error::ApiError;
use crate::http::{ApiRequest, ApiResponse};
use crate::router::UsageRoute;
use crate::store::usage::{Totals, UsageQuery, UsageRow, COUNTERS};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Map, Value as Json};

/// Serves one usage request for `tenant`.
pub async fn serve(m: &Metering, route: UsageRoute, tenant: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let who = match route {
        UsageRoute::Own => {
            if req.param("tenant")?.is_some_and(|t| t != tenant) {
                return Err(ApiError::Forbidden(
                    "GET /v2/usage shows the caller's own tenant; other tenants' usage is at /v2/admin/usage".into(),
                ));
            }
            Some(tenant.to_owned())
        }
        UsageRoute::Admin => {
            if !m.settings().admin_tenants.iter().any(|a| a == tenant) {
                return Err(ApiError::Forbidden(format!(
                    "tenant '{tenant}' may not read other tenants' usage: list it in the sidecar's \
                     metering.adminTenants"
                )));
            }
            req.param("tenant")?.map(str::to_owned)
        }
    };
    let now = m.clock().now_ms();
    let q = query(req, who, now)?;
    // This replica's latest minutes first; the others' arrive with their next flush.
    if let Err(e) = m.flush().await {
        tracing::warn!(error = %e, "usage flush before a usage query failed; answering from the table");
    }
    let rows = m.store().usage(&q).await?;
    let granularity = granularity_name(q.bucket_minutes);
    if wants_csv(req) {
        return Ok(ApiResponse {
            status: 200,
            headers: vec![("content-type".to_owned(), "text/csv; charset=utf-8".to_owned())],
            body: csv(&rows).into_bytes(),
        });
    }
    let mut total = Totals::default();
    let items: Vec<Json> = rows
        .iter()
        .map(|r| {
            total.add(&r.totals);
            row_json(r)
        })
        .collect();
    Ok(ApiResponse::json(
        200,
        json!({
            "tenant": q.tenant,
            "from": clock::minute_text(q.from_minute),
            "to": clock::minute_text(q.to_minute),
            "granularity": granularity,
            "usage": items,
            "total": total,
        }),
    ))
}

fn wants_csv(req: &ApiRequest) -> bool {
    req.accept.as_deref().is_some_and(|a| a.split(',').any(|p| p.trim().starts_with("text/csv")))
}

fn granularity_name(bucket: i64) -> &'static str {
    match bucket {
        1 => "minute",
        60 => "hour",
        _ => "day",
    }
}

/// The query a request asks for, at `now_ms`.
pub fn query(req: &ApiRequest, tenant: Option<String>, now_ms: i64) -> Result<UsageQuery, ApiError> {
    let bucket_minutes = match req.param("granularity")?.unwrap_or("day") {
        "minute" => 1,
        "hour" => 60,
        "day" => 1440,
        other => return Err(ApiError::BadRequest(format!("granularity: '{other}' is not one of minute, hour, day"))),
    };
    let from_minute = match req.param("from")? {
        Some(t) => parse_time("from", t)?,
        None => clock::month(now_ms).0,
    };
    let to_minute = match req.param("to")? {
        Some(t) => parse_time("to", t)?,
        // Up to and including the current minute.
        None => clock::minute(now_ms) + 1,
    };
    if to_minute <= from_minute {
        return Err(ApiError::BadRequest("to must be after from".into()));
    }
    Ok(UsageQuery { tenant, from_minute, to_minute, bucket_minutes })
}

fn parse_time(name: &str, text: &str) -> Result<i64, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(clock::minute(t.with_timezone(&Utc).timestamp_millis()));
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp() / 60));
    }
    Err(ApiError::BadRequest(format!("{name}: '{text}' is not an RFC 3339 time or a YYYY-MM-DD date")))
}

fn row_json(r: &UsageRow) -> Json {
    let mut o = Map::new();
    o.insert("start".into(), json!(clock::minute_text(r.minute)));
    o.insert("tenant".into(), json!(r.tenant));
    o.insert("api".into(), json!(r.api));
    o.insert("operation".into(), json!(r.operation));
    if let Json::Object(t) = json!(r.totals) {
        o.extend(t);
    }
    Json::Object(o)
}

/// The rows as CSV: `start,tenant,api,operation,` then the counters.
pub fn csv(rows: &[UsageRow]) -> String {
    let mut out = format!("start,tenant,api,operation,{}\n", COUNTERS.join(","));
    for r in rows {
        let values: Vec<String> = r.totals.values().iter().map(i64::to_string).collect();
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            clock::minute_text(r.minute),
            csv_field(&r.tenant),
            r.api,
            r.operation,
            values.join(",")
        ));
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn queries_default_to_this_month_by_day() {
        let now = DateTime::parse_from_rfc3339("2026-11-30T10:00:30Z").unwrap().timestamp_millis();
        let q = query(&ApiRequest::new("GET", "/v2/usage"), Some("a".into()), now).unwrap();
        assert_eq!(clock::minute_text(q.from_minute), "2026-11-01T00:00:00+00:00");
        assert_eq!(clock::minute_text(q.to_minute), "2026-11-30T10:01:00+00:00");
        assert_eq!(q.bucket_minutes, 1440);
        let q = query(&ApiRequest::new("GET", "/v2/usage?from=2026-11-02&granularity=hour"), None, now).unwrap();
        assert_eq!((clock::minute_text(q.from_minute).as_str(), q.bucket_minutes), ("2026-11-02T00:00:00+00:00", 60));
        for bad in ["granularity=week", "from=yesterday", "from=2026-11-30&to=2026-11-01"] {
            let r = ApiRequest::new("GET", &format!("/v2/usage?{bad}"));
            assert_eq!(query(&r, None, now).unwrap_err().status(), 400, "{bad}");
        }
    }

    #[test]
    fn csv_has_a_header_and_one_line_per_row() {
        let row = UsageRow {
            minute: 0,
            tenant: "a,b".into(),
            api: "rest".into(),
            operation: "read".into(),
            totals: Totals { requests: 2, ..Totals::default() },
        };
        let text = csv(&[row]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("start,tenant,api,operation,requests,errors,"));
        assert!(lines[1].starts_with("1970-01-01T00:00:00+00:00,\"a,b\",rest,read,2,0,"), "{}", lines[1]);
    }
}
