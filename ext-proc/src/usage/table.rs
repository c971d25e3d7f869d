//! `datagate usage`: the usage table as a terminal table, read straight from
//! the store (what the replicas have flushed).

use super::clock::{self, Clock, SystemClock};
use crate::store::usage::{UsageQuery, UsageRow};

/// Reads the usage of `tenant` (or all) over the last `since` and renders it.
pub async fn print(
    url: &str,
    tenant: Option<String>,
    since: std::time::Duration,
    granularity: &str,
) -> Result<String, String> {
    let bucket_minutes = match granularity {
        "minute" => 1,
        "hour" => 60,
        "day" => 1440,
        other => return Err(format!("--granularity: '{other}' is not one of minute, hour, day")),
    };
    let backend = crate::store::open(url, 1).await.map_err(|e| e.to_string())?;
    backend.usage.init_usage().await.map_err(|e| e.to_string())?;
    let now = clock::minute(SystemClock.now_ms());
    let from = now - (since.as_secs() / 60) as i64;
    let q =
        UsageQuery { tenant, from_minute: from - from.rem_euclid(bucket_minutes), to_minute: now + 1, bucket_minutes };
    let rows = backend.usage.usage(&q).await.map_err(|e| e.to_string())?;
    Ok(render(&rows))
}

/// The rows as an aligned table.
pub fn render(rows: &[UsageRow]) -> String {
    let head =
        ["START (UTC)", "TENANT", "API", "OP", "REQUESTS", "ERRORS", "ROWS R/W", "DOCS R/W", "READ U", "WRITE U"];
    let mut lines: Vec<Vec<String>> = vec![head.iter().map(|h| h.to_string()).collect()];
    for r in rows {
        let t = &r.totals;
        lines.push(vec![
            clock::minute_text(r.minute).replace("+00:00", "Z"),
            r.tenant.clone(),
            r.api.clone(),
            r.operation.clone(),
            t.requests.to_string(),
            t.errors.to_string(),
            format!("{}/{}", t.rows_read, t.rows_written + t.rows_deleted),
            format!("{}/{}", t.docs_read, t.docs_written + t.docs_deleted),
            t.read_units.to_string(),
            t.write_units.to_string(),
        ]);
    }
    let widths: Vec<usize> =
        (0..head.len()).map(|i| lines.iter().map(|l| l[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for l in &lines {
        let cells: Vec<String> = l.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str("(no usage in that period)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::usage::Totals;

    #[test]
    fn columns_line_up() {
        let row = UsageRow {
            minute: 29_400_000,
            tenant: "acme".into(),
            api: "rest".into(),
            operation: "read".into(),
            totals: Totals { requests: 12, rows_read: 30, read_units: 12, ..Totals::default() },
        };
        let text = render(&[row]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].find("TENANT"), lines[1].find("acme"));
        assert!(lines[1].contains("30/0"));
    }
}
