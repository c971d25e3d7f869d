//! The per-request log line, formatted by hand.
//!
//! It used to go through `tracing::info!` and tracing-subscriber's formatter,
//! which visits each of the 17 fields through `dyn` calls and `fmt::Debug`:
//! 4.3 % of the sidecar's CPU for a GET by key (perf, bench row 5u). This
//! writes the same bytes straight into a buffer (the test below holds it to
//! tracing-subscriber's output for the same event), so log shippers see no
//! change.

use super::Record;
use crate::logs::Format;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// The line's tracing target: `RUST_LOG=datagate::request=off` silences it.
pub const TARGET: &str = "datagate::request";

/// Appends `r`'s line, stamped `now`, in `format`, newline included.
pub fn write(r: &Record, format: Format, now: SystemTime, out: &mut Vec<u8>) {
    match format {
        Format::Text => {
            timestamp(now, out);
            out.extend_from_slice(b"  INFO ");
            out.extend_from_slice(TARGET.as_bytes());
            out.extend_from_slice(b": request ");
            text_fields(r, out);
        }
        Format::Json => {
            out.extend_from_slice(b"{\"timestamp\":\"");
            timestamp(now, out);
            out.extend_from_slice(b"\",\"level\":\"INFO\",\"message\":\"request\",");
            fields(r, out, |out, name, v| {
                out.push(b'"');
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"\":");
                match v {
                    V::Raw(s) | V::Str(s) => json_str(s, out),
                    V::Num(n) => number(n, out),
                }
                out.push(b',');
            });
            out.extend_from_slice(b"\"target\":\"");
            out.extend_from_slice(TARGET.as_bytes());
            out.extend_from_slice(b"\"}");
        }
    }
    out.push(b'\n');
}

/// The text line's fields, `name=value` separated by spaces (also what
/// [`super::log`] hands a subscriber of another process's making, when no
/// direct writer is set up).
pub fn fields_text(r: &Record) -> String {
    let mut out = Vec::new();
    text_fields(r, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn text_fields(r: &Record, out: &mut Vec<u8>) {
    fields(r, out, |out, name, v| {
        out.extend_from_slice(name.as_bytes());
        out.push(b'=');
        match v {
            V::Raw(s) => out.extend_from_slice(s.as_bytes()),
            V::Str(s) => debug_str(s, out),
            V::Num(n) => number(n, out),
        }
        out.push(b' ');
    });
    out.pop();
}

/// A field's value as the formatter records it.
enum V<'a> {
    /// Recorded with `Display` (`%` in the macro): unquoted in text.
    Raw(&'a str),
    Str(&'a str),
    Num(u64),
}

/// Each field in order, the one list both formats share.
fn fields(r: &Record, out: &mut Vec<u8>, mut put: impl FnMut(&mut Vec<u8>, &str, V<'_>)) {
    let t = &r.totals;
    put(out, "request_id", V::Raw(&r.request_id));
    put(out, "tenant", V::Raw(&r.tenant));
    put(out, "plan", V::Str(r.plan.as_deref().unwrap_or("")));
    put(out, "api", V::Str(r.api));
    put(out, "operation", V::Str(r.operation));
    put(out, "keyspace", V::Str(r.keyspace.as_deref().unwrap_or("")));
    put(out, "table", V::Str(r.table.as_deref().unwrap_or("")));
    put(out, "status", V::Num(u64::from(r.status)));
    put(out, "duration_us", V::Num(u64::try_from(r.duration.as_micros()).unwrap_or(u64::MAX)));
    put(out, "rows_read", V::Num(t.rows_read));
    put(out, "rows_written", V::Num(t.rows_written + t.rows_deleted));
    put(out, "docs_read", V::Num(t.docs_read));
    put(out, "docs_written", V::Num(t.docs_written + t.docs_deleted));
    put(out, "read_units", V::Num(t.read_units));
    put(out, "write_units", V::Num(t.write_units));
    put(out, "storage_us", V::Num(t.storage_us));
}

/// `s` as `Debug` writes it (how tracing-subscriber records a string), quoted;
/// without the formatting machinery when nothing needs escaping.
fn debug_str(s: &str, out: &mut Vec<u8>) {
    if s.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        let _ = write!(out, "{s:?}");
    }
}

/// `n` in decimal.
fn number(mut n: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// `n` (below 10^width) in `width` digits, zero-padded.
fn padded(n: u64, width: u32, out: &mut Vec<u8>) {
    for i in (0..width).rev() {
        out.push(b'0' + (n / 10u64.pow(i) % 10) as u8);
    }
}

fn json_str(s: &str, out: &mut Vec<u8>) {
    // A str always serializes; the writer is a Vec.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// RFC 3339 in UTC with microseconds, as tracing-subscriber's default timer.
fn timestamp(now: SystemTime, out: &mut Vec<u8>) {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    padded(y.clamp(0, 9999) as u64, 4, out);
    for (sep, n) in
        [(b'-', u64::from(m)), (b'-', u64::from(d)), (b'T', rem / 3600), (b':', rem % 3600 / 60), (b':', rem % 60)]
    {
        out.push(sep);
        padded(n, 2, out);
    }
    out.push(b'.');
    padded(u64::from(since.subsec_micros()), 6, out);
    out.push(b'Z');
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
#[path = "line_tests.rs"]
mod tests;
