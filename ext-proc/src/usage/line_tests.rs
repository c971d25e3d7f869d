#![allow(clippy::unwrap_used)]
use super::*;
use crate::store::usage::Totals;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const STAMP: &str = "2026-12-01T09:31:30.123456Z";

fn stamp() -> SystemTime {
    UNIX_EPOCH + Duration::new(1_796_117_490, 123_456_789)
}

fn record(odd: bool) -> Record {
    Record {
        tenant: "acme".into(),
        plan: odd.then(|| "gold \"tier\"".into()),
        api: "rest",
        operation: "read",
        keyspace: Some(if odd { "ks\\\u{e9}\n" } else { "ks" }.into()),
        table: None,
        totals: Totals {
            rows_read: 3,
            rows_written: 1,
            rows_deleted: 2,
            docs_read: 4,
            docs_written: 5,
            docs_deleted: 6,
            read_units: 7,
            write_units: 8,
            storage_us: 9,
            ..Totals::default()
        },
        status: 200,
        duration: Duration::from_micros(1234),
        request_id: "1b4e28ba-2fa1-11d2-883f-0016d3cca427".into(),
    }
}

/// What tracing-subscriber wrote for the same record (the line's contract
/// before it was formatted by hand).
fn tracing_line(r: &Record, json: bool) -> String {
    #[derive(Clone, Default)]
    struct Out(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Out {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    struct Fixed;
    impl tracing_subscriber::fmt::time::FormatTime for Fixed {
        fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
            w.write_str(STAMP)
        }
    }
    let out = Out::default();
    let sink = out.clone();
    let emit = || {
        tracing::info!(
            target: "datagate::request",
            request_id = %r.request_id,
            tenant = %r.tenant,
            plan = r.plan.as_deref().unwrap_or(""),
            api = r.api,
            operation = r.operation,
            keyspace = r.keyspace.as_deref().unwrap_or(""),
            table = r.table.as_deref().unwrap_or(""),
            status = r.status,
            duration_us = r.duration.as_micros() as u64,
            rows_read = r.totals.rows_read,
            rows_written = r.totals.rows_written + r.totals.rows_deleted,
            docs_read = r.totals.docs_read,
            docs_written = r.totals.docs_written + r.totals.docs_deleted,
            read_units = r.totals.read_units,
            write_units = r.totals.write_units,
            storage_us = r.totals.storage_us,
            "request"
        )
    };
    let make = move || sink.clone();
    if json {
        let s = tracing_subscriber::fmt().json().flatten_event(true).with_timer(Fixed).with_writer(make).finish();
        tracing::subscriber::with_default(s, emit);
    } else {
        let s = tracing_subscriber::fmt().with_ansi(false).with_timer(Fixed).with_writer(make).finish();
        tracing::subscriber::with_default(s, emit);
    }
    let bytes = out.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

fn line(r: &Record, format: Format) -> String {
    let mut out = Vec::new();
    write(r, format, stamp(), &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn the_line_is_what_tracing_subscriber_wrote() {
    for odd in [false, true] {
        let r = record(odd);
        assert_eq!(line(&r, Format::Text), tracing_line(&r, false));
        assert_eq!(line(&r, Format::Json), tracing_line(&r, true));
    }
}

#[test]
fn the_json_line_is_one_json_object() {
    let v: serde_json::Value = serde_json::from_str(line(&record(true), Format::Json).trim_end()).unwrap();
    assert_eq!(v["keyspace"], "ks\\\u{e9}\n");
    assert_eq!(v["rows_written"], 3);
    assert_eq!(v["timestamp"], STAMP);
}

#[test]
fn timestamps_are_utc_dates() {
    let at = |secs: u64| {
        let mut out = Vec::new();
        timestamp(UNIX_EPOCH + Duration::from_secs(secs), &mut out);
        String::from_utf8(out).unwrap()
    };
    assert_eq!(at(0), "1970-01-01T00:00:00.000000Z");
    assert_eq!(at(951_782_400), "2000-02-29T00:00:00.000000Z");
    assert_eq!(at(951_868_799), "2000-02-29T23:59:59.000000Z");
    assert_eq!(at(4_107_542_400), "2100-03-01T00:00:00.000000Z");
    assert_eq!(at(1_796_117_490), "2026-12-01T09:31:30.000000Z");
}

#[test]
fn numbers_and_strings_are_written_as_fmt_writes_them() {
    for n in [0, 7, 10, 99, 12_345, u64::MAX] {
        let mut out = Vec::new();
        number(n, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
    }
    for s in ["", "plain", "with \"quote\"", "back\\slash", "tab\t", "caf\u{e9}", "\u{7f}", "~ !"] {
        let mut out = Vec::new();
        debug_str(s, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), format!("{s:?}"));
    }
}

#[test]
fn the_fallback_text_is_the_fields() {
    let t = fields_text(&record(false));
    assert!(t.starts_with("request_id=1b4e28ba"), "{t}");
    assert!(t.ends_with("storage_us=9"), "{t}");
}
