//! Usage metering through Envoy: a scripted mix for two tenants yields
//! exactly the expected usage (requests, rows, documents, units) and each
//! tenant sees only its own; usage survives a SIGTERM restart; two replicas
//! on one PostgreSQL never double-count; a quota stops a tenant at its limit
//! and resets at the month boundary (an injected clock); the admin port's
//! `/metrics` parses as Prometheus text and has every metric the shipped
//! dashboard queries.

use crate::harness::{json_of, token, Fleet, Gateway, Store};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

crate::on_both_stores!(
    two_tenants_see_exactly_their_own_usage,
    usage_survives_a_sigterm_restart,
    a_quota_stops_a_tenant_and_resets_at_the_month_boundary,
);

/// Flushes only when asked (a usage query) or at shutdown, so the test sees
/// exactly what it did.
const SLOW_FLUSH: &str = r#"{"metering": {"flushIntervalMs": 60000, "adminTenants": ["ops"]}}"#;

/// The `usage` entry for `api`/`operation`, summed over the buckets.
fn entry(usage: &Value, api: &str, operation: &str) -> Value {
    let mut sum = json!({});
    for u in usage["usage"].as_array().unwrap() {
        if u["api"] == api && u["operation"] == operation {
            for (k, v) in u.as_object().unwrap() {
                if let Some(n) = v.as_u64() {
                    sum[k] = json!(sum[k].as_u64().unwrap_or(0) + n);
                }
            }
        }
    }
    sum
}

fn usage(gw: &Gateway, t: &str, query: &str) -> Value {
    let r = gw.get(&format!("/v2/usage{query}")).header("x-cassandra-token", t).send().unwrap();
    let (status, body) = json_of(r);
    assert_eq!(status, 200, "{body}");
    body
}

fn insert(gw: &Gateway, t: &str, ks: &str, model: &str) {
    let r = gw
        .post(&format!("/v2/keyspaces/{ks}/vehicle"))
        .header("x-cassandra-token", t)
        .json(&json!({"manufacturer": "Tesla", "model": model, "year": 2012}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
}

fn get_row(gw: &Gateway, t: &str, ks: &str, model: &str) -> reqwest::blocking::Response {
    gw.get(&format!("/v2/keyspaces/{ks}/vehicle/Tesla/{model}")).header("x-cassandra-token", t).send().unwrap()
}

pub(crate) fn two_tenants_see_exactly_their_own_usage(store: Store) {
    let gw = Gateway::start_with_sidecar_config(store, SLOW_FLUSH);
    let (acme, zeta) = (token("acme"), token("zeta"));

    // acme: DDL, three writes, two reads, one delete, a document written and read.
    gw.vehicle_table(&acme, "shop");
    for m in ["S", "X", "3"] {
        insert(&gw, &acme, "shop", m);
    }
    for m in ["S", "X"] {
        assert_eq!(get_row(&gw, &acme, "shop", m).status(), 200);
    }
    let r = gw.delete("/v2/keyspaces/shop/vehicle/Tesla/3").header("x-cassandra-token", &acme).send().unwrap();
    assert_eq!(r.status(), 204);
    let r = gw
        .put("/v2/namespaces/shop/collections/notes/n1")
        .header("x-cassandra-token", &acme)
        .json(&json!({"text": "hello"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
    let r = gw.get("/v2/namespaces/shop/collections/notes/n1").header("x-cassandra-token", &acme).send().unwrap();
    assert_eq!(r.status(), 200);

    // zeta: its own table, one write and one read.
    gw.vehicle_table(&zeta, "shop");
    insert(&gw, &zeta, "shop", "Y");
    assert_eq!(get_row(&gw, &zeta, "shop", "Y").status(), 200);

    let u = usage(&gw, &acme, "?granularity=minute");
    assert_eq!(u["tenant"], "acme");
    assert!(u["usage"].as_array().unwrap().iter().all(|e| e["tenant"] == "acme"), "only acme's rows: {u}");
    let w = entry(&u, "rest", "write");
    assert_eq!(
        (w["requests"].as_u64(), w["rowsWritten"].as_u64(), w["writeUnits"].as_u64()),
        (Some(3), Some(3), Some(3)),
        "{u}"
    );
    let r = entry(&u, "rest", "read");
    assert_eq!(
        (r["requests"].as_u64(), r["rowsRead"].as_u64(), r["readUnits"].as_u64()),
        (Some(2), Some(2), Some(2)),
        "{u}"
    );
    let d = entry(&u, "rest", "delete");
    assert_eq!(
        (d["requests"].as_u64(), d["rowsDeleted"].as_u64(), d["writeUnits"].as_u64()),
        (Some(1), Some(1), Some(1)),
        "{u}"
    );
    let dw = entry(&u, "documents", "write");
    assert_eq!(
        (dw["docsWritten"].as_u64(), dw["writeUnits"].as_u64(), dw["readUnits"].as_u64()),
        (Some(1), Some(1), Some(0)),
        "{u}"
    );
    let dr = entry(&u, "documents", "read");
    assert_eq!((dr["docsRead"].as_u64(), dr["readUnits"].as_u64()), (Some(1), Some(1)), "{u}");
    let ddl = entry(&u, "schema", "ddl");
    assert_eq!(
        (ddl["requests"].as_u64(), ddl["readUnits"].as_u64(), ddl["writeUnits"].as_u64()),
        (Some(2), Some(0), Some(0)),
        "DDL is free: {u}"
    );
    assert_eq!((u["total"]["readUnits"].as_u64(), u["total"]["writeUnits"].as_u64()), (Some(3), Some(5)), "{u}");

    let z = usage(&gw, &zeta, "");
    assert!(z["usage"].as_array().unwrap().iter().all(|e| e["tenant"] == "zeta"), "{z}");
    assert_eq!((z["total"]["readUnits"].as_u64(), z["total"]["writeUnits"].as_u64()), (Some(1), Some(1)), "{z}");

    // CSV for the same query.
    let r = gw.get("/v2/usage").header("x-cassandra-token", &zeta).header("accept", "text/csv").send().unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = r.text().unwrap();
    assert!(text.starts_with("start,tenant,api,operation,requests,"), "{text}");
    assert!(text.lines().skip(1).all(|l| l.split(',').nth(1) == Some("zeta")), "{text}");

    // Another tenant's usage: only for admins.
    let r = gw.get("/v2/usage?tenant=zeta").header("x-cassandra-token", &acme).send().unwrap();
    assert_eq!(r.status(), 403);
    let r = gw.get("/v2/admin/usage").header("x-cassandra-token", &acme).send().unwrap();
    assert_eq!(json_of(r).0, 403);
    let r = gw.get("/v2/admin/usage?tenant=zeta").header("x-cassandra-token", token("ops")).send().unwrap();
    let (status, body) = json_of(r);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"]["writeUnits"], 1, "{body}");
    let r = gw.get("/v2/admin/usage").header("x-cassandra-token", token("ops")).send().unwrap();
    let all = json_of(r).1;
    let tenants: std::collections::BTreeSet<&str> =
        all["usage"].as_array().unwrap().iter().map(|e| e["tenant"].as_str().unwrap()).collect();
    assert_eq!(tenants.into_iter().collect::<Vec<_>>(), ["acme", "zeta"], "{all}");
    let r = gw.get("/v2/usage?granularity=week").header("x-cassandra-token", &acme).send().unwrap();
    assert_eq!(json_of(r).0, 400);
}

fn usage_survives_a_sigterm_restart(store: Store) {
    let mut gw = Gateway::start_with_sidecar_config(store, SLOW_FLUSH);
    let t = token("acme");
    gw.vehicle_table(&t, "shop");
    insert(&gw, &t, "shop", "S");
    for _ in 0..4 {
        assert_eq!(get_row(&gw, &t, "shop", "S").status(), 200);
    }
    // Nothing asked for a flush: only the shutdown's writes these.
    let status = gw.terminate_sidecar(Duration::from_secs(30));
    assert!(status.success(), "{status}");
    gw.start_sidecar();
    let start = Instant::now();
    // Envoy's health check brings the restarted sidecar back.
    let u = loop {
        let r = gw.get("/v2/usage").header("x-cassandra-token", &t).send().unwrap();
        if r.status() == 200 {
            break json_of(r).1;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "the restarted sidecar did not answer");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(entry(&u, "rest", "read")["requests"], 4, "{u}");
    assert_eq!(entry(&u, "rest", "write")["requests"], 1, "{u}");
    // The new process counts on (another replica id: nothing overwritten).
    assert_eq!(get_row(&gw, &t, "shop", "S").status(), 200);
    let u = usage(&gw, &t, "");
    assert_eq!(entry(&u, "rest", "read")["requests"], 5, "{u}");
}

#[test]
fn two_replicas_on_one_postgres_never_double_count() {
    let fleet = Fleet::start_with_sidecar_config(Store::Postgres, 2, r#"{"metering": {"flushIntervalMs": 200}}"#);
    let t = token("acme");
    fleet.gw.vehicle_table(&t, "shop");
    insert(&fleet.gw, &t, "shop", "S");
    for i in 0..2 {
        fleet.wait_for_flags(i, Duration::from_secs(10), |f| f == "healthy");
    }
    for _ in 0..40 {
        assert_eq!(get_row(&fleet.gw, &t, "shop", "S").status(), 200);
    }
    // The replica answering the query flushes first; the other's flushes land within 200 ms.
    let start = Instant::now();
    let reads = || entry(&usage(&fleet.gw, &t, ""), "rest", "read")["requests"].as_u64().unwrap_or(0);
    while reads() < 40 {
        assert!(start.elapsed() < Duration::from_secs(20), "usage did not reach 40 reads: {}", reads());
        std::thread::sleep(Duration::from_millis(100));
    }
    // Many flushes later (each rewrites its replica's absolute totals), still exactly 40.
    std::thread::sleep(Duration::from_millis(1000));
    let u = usage(&fleet.gw, &t, "?granularity=minute");
    assert_eq!(entry(&u, "rest", "read")["requests"], 40, "{u}");
    assert_eq!(entry(&u, "rest", "read")["readUnits"], 40, "{u}");
}

fn a_quota_stops_a_tenant_and_resets_at_the_month_boundary(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("now");
    let set_clock = |rfc3339: &str| {
        let ms = chrono_ms(rfc3339);
        std::fs::write(&clock, ms.to_string()).unwrap();
    };
    set_clock("2026-11-30T23:58:00Z");
    let config = r#"{"metering": {"flushIntervalMs": 60000, "quotas": {"tenants": {"acme": {"readUnits": 3}}}}}"#;
    let gw = Gateway::start_with_sidecar_config_env(
        store,
        config,
        &[("DATAGATE_TEST_CLOCK_FILE", clock.display().to_string())],
    );
    let t = token("acme");
    gw.vehicle_table(&t, "shop");
    insert(&gw, &t, "shop", "S");
    for left in ["2", "1", "0"] {
        let r = get_row(&gw, &t, "shop", "S");
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-quota-read-remaining"], left);
    }
    let r = get_row(&gw, &t, "shop", "S");
    assert_eq!(r.headers()["x-quota-read-remaining"], "0");
    let (status, body) = json_of(r);
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["quota"], "readUnits", "{body}");
    assert_eq!(body["resetsAt"], "2026-12-01T00:00:00+00:00", "{body}");
    assert!(body["description"].as_str().unwrap().contains("quota exceeded"), "{body}");
    // Writes have no quota here: they go on.
    insert(&gw, &t, "shop", "X");
    // Another tenant is not affected.
    let z = token("zeta");
    gw.vehicle_table(&z, "shop");
    insert(&gw, &z, "shop", "S");
    assert_eq!(get_row(&gw, &z, "shop", "S").status(), 200);

    set_clock("2026-12-01T00:00:30Z");
    let r = get_row(&gw, &t, "shop", "S");
    assert_eq!(r.status(), 200, "a new month, a new quota");
    assert_eq!(r.headers()["x-quota-read-remaining"], "2");
}

#[test]
fn two_replicas_share_a_quota_through_the_store() {
    let config = r#"{"metering": {"flushIntervalMs": 200, "quotas": {"tenants": {"acme": {"readUnits": 10}}}}}"#;
    let fleet = Fleet::start_with_sidecar_config(Store::Postgres, 2, config);
    let t = token("acme");
    fleet.gw.vehicle_table(&t, "shop");
    insert(&fleet.gw, &t, "shop", "S");
    for i in 0..2 {
        fleet.wait_for_flags(i, Duration::from_secs(10), |f| f == "healthy");
    }
    // Round robin: each replica counts its own reads and learns the other's at every flush.
    let mut ok = 0;
    let start = Instant::now();
    let mut refused_in_a_row = 0;
    while refused_in_a_row < 4 {
        assert!(start.elapsed() < Duration::from_secs(30), "the quota never held on both replicas ({ok} reads)");
        match get_row(&fleet.gw, &t, "shop", "S").status().as_u16() {
            200 => {
                ok += 1;
                refused_in_a_row = 0;
            }
            429 => {
                refused_in_a_row += 1;
                // Let the flushes carry each replica's count to the other.
                std::thread::sleep(Duration::from_millis(100));
            }
            s => panic!("unexpected status {s}"),
        }
    }
    eprintln!("two replicas, quota 10 read units: {ok} reads admitted ({} over)", ok - 10);
    assert!(ok >= 10, "the quota refused early: {ok}");
}

#[test]
fn a_plan_quota_follows_the_plan_the_edge_filter_forwards() {
    let limits =
        r#""rateLimit": {"plans": {"free": {"requestsPerSecond": 1000, "burst": 1000}}, "defaultPlan": "free"}"#;
    let config = r#"{"metering": {"quotas": {"plans": {"free": {"writeUnits": 2}}}}}"#;
    let gw = Gateway::start_with_filter_and_sidecar_config(Store::Sqlite, limits, config);
    let t = token("acme");
    gw.vehicle_table(&t, "shop");
    for (model, left) in [("S", "1"), ("X", "0")] {
        let r = gw
            .post("/v2/keyspaces/shop/vehicle")
            .header("x-cassandra-token", &t)
            .json(&json!({"manufacturer": "Tesla", "model": model, "year": 2012}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["x-quota-write-remaining"], left);
    }
    let r = gw
        .post("/v2/keyspaces/shop/vehicle")
        .header("x-cassandra-token", &t)
        .json(&json!({"manufacturer": "Tesla", "model": "3", "year": 2012}))
        .send()
        .unwrap();
    let (status, body) = json_of(r);
    assert_eq!((status, body["quota"].as_str()), (429, Some("writeUnits")), "{body}");
    // Reads have no quota in this plan.
    let r = get_row(&gw, &t, "shop", "S");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-quota-write-remaining"], "0");
}

/// Unix milliseconds of an RFC 3339 UTC time like `2026-11-30T23:58:00Z`.
fn chrono_ms(text: &str) -> i64 {
    let out = std::process::Command::new("date").args(["-u", "-d", text, "+%s"]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().parse::<i64>().unwrap() * 1000
}

#[test]
fn metrics_parse_and_have_what_the_dashboard_queries() {
    let gw = Gateway::start_with_sidecar_config(Store::Sqlite, r#"{"metering": {"metricsTenants": ["acme"]}}"#);
    let t = token("acme");
    gw.vehicle_table(&t, "shop");
    insert(&gw, &t, "shop", "S");
    assert_eq!(get_row(&gw, &t, "shop", "S").status(), 200);
    let r = gw
        .put("/v2/namespaces/shop/collections/notes/n1")
        .header("x-cassandra-token", &t)
        .json(&json!({"text": "hello"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = gw.get("/v2/namespaces/shop/collections/notes/n1").header("x-cassandra-token", &t).send().unwrap();
    assert_eq!(r.status(), 200);
    let z = token("zeta");
    gw.vehicle_table(&z, "shop");
    let http = reqwest::blocking::Client::new();
    let admin = gw.sidecar_admin();
    assert_eq!(http.get(format!("{admin}/healthz")).send().unwrap().status(), 200);
    let start = Instant::now();
    while http.get(format!("{admin}/readyz")).send().unwrap().status() != 200 {
        assert!(start.elapsed() < Duration::from_secs(10), "/readyz never ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = http.get(format!("{admin}/metrics")).send().unwrap().text().unwrap();

    // A real Prometheus text-format parser reads it all.
    let parsed = parse_metrics(&text);
    for name in ["datagate_requests", "datagate_units", "datagate_storage_seconds", "datagate_pool_connections"] {
        assert!(parsed.contains(&name.to_owned()), "{name} not parsed from:\n{text}");
    }
    assert!(
        text.contains(r#"datagate_requests_total{tenant="acme",api="rest",operation="read",status="2xx"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"tenant="other""#), "zeta is capped to other:\n{text}");
    assert!(!text.contains(r#"tenant="zeta""#), "{text}");

    // Every metric the shipped dashboard queries is in a real scrape (ours or Envoy's).
    let envoy = http.get(format!("{}/stats/prometheus", gw.admin)).send().unwrap().text().unwrap();
    let dashboard = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/observability/grafana-dashboard.json"),
    )
    .unwrap();
    let dashboard: Value = serde_json::from_str(&dashboard).unwrap();
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() >= 6, "the dashboard has panels: {exprs:?}");
    for expr in &exprs {
        for name in metric_names(expr) {
            let present = |t: &str| t.lines().any(|l| !l.starts_with('#') && l.starts_with(name.as_str()));
            assert!(present(&text) || present(&envoy), "the dashboard queries {name} ({expr}), absent from /metrics");
        }
    }
}

/// The metric families a Prometheus text-format parser (the Python
/// `prometheus_client` OpenMetrics parser) finds.
fn parse_metrics(text: &str) -> Vec<String> {
    use std::io::Write;
    let python = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    let script = "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as p\n\
                  for f in p(sys.stdin.read()): print(f.name)\n";
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run `make test`: scripts/setup.sh installs prometheus_client into .venv");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the parser refused /metrics: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect()
}

fn collect_exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                match (k.as_str(), x) {
                    ("expr", Value::String(s)) => out.push(s.clone()),
                    _ => collect_exprs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_exprs(x, out)),
        _ => {}
    }
}

/// The `datagate_*` and `envoy_*` metric names in a PromQL expression: the
/// words outside label matchers (`{...}`), grouping lists (`by (...)`) and strings.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut word = String::new();
    let (mut quoted, mut braces, mut grouping, mut last) = (false, 0, false, String::new());
    for c in expr.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            let outside = !quoted && braces == 0 && !grouping;
            if outside && (word.starts_with("datagate_") || word.starts_with("envoy_")) {
                names.push(word.clone());
            }
            last = std::mem::take(&mut word);
        }
        match c {
            '"' => quoted = !quoted,
            '{' if !quoted => braces += 1,
            '}' if !quoted => braces -= 1,
            '(' if !quoted && (last == "by" || last == "without") => grouping = true,
            ')' if !quoted => grouping = false,
            _ => {}
        }
        if !c.is_whitespace() {
            last.clear();
        }
    }
    names
}

#[test]
fn dashboard_names_are_found_outside_labels() {
    let names = metric_names(
        r#"sum by (envoy_cluster_name) (rate(envoy_x{envoy_cluster_name="datagate_y"}[5m])) / datagate_z"#,
    );
    assert_eq!(names, ["envoy_x", "datagate_z"]);
}

/// The sidecar's per-request log line (formatted by hand, `usage::line`)
/// carries the request's usage, in both log formats.
#[test]
fn each_request_has_a_log_line_with_its_usage() {
    for format in ["text", "json"] {
        let gw = Gateway::start_with_sidecar_config_env(
            Store::Sqlite,
            SLOW_FLUSH,
            &[("DATAGATE_LOG_FORMAT", format.to_owned())],
        );
        let acme = token("acme");
        gw.vehicle_table(&acme, "shop");
        insert(&gw, &acme, "shop", "S");
        assert_eq!(get_row(&gw, &acme, "shop", "S").status(), 200);
        // The read is the only request of its operation.
        let read = if format == "json" { "\"operation\":\"read\"" } else { "operation=\"read\"" };
        let deadline = Instant::now() + Duration::from_secs(10);
        let line = loop {
            let log = gw.sidecar_log();
            if let Some(l) = log.lines().find(|l| l.contains("datagate::request") && l.contains(read)) {
                break l.to_owned();
            }
            assert!(Instant::now() < deadline, "no request line for the read:\n{log}");
            std::thread::sleep(Duration::from_millis(50));
        };
        if format == "json" {
            let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let fields =
                ["target", "message", "tenant", "api", "keyspace", "table", "status", "rows_read", "read_units"];
            assert_eq!(
                fields.map(|f| v[f].clone()),
                [
                    json!("datagate::request"),
                    json!("request"),
                    json!("acme"),
                    json!("rest"),
                    json!("shop"),
                    json!("vehicle"),
                    json!(200),
                    json!(1),
                    json!(1)
                ],
                "{line}"
            );
            assert_eq!(v["request_id"].as_str().map(str::len), Some(36), "Envoy's x-request-id: {line}");
            assert!(v["timestamp"].as_str().unwrap().ends_with('Z'), "{line}");
        } else {
            for part in [
                " INFO datagate::request: request request_id=",
                " tenant=acme plan=\"\" api=\"rest\" operation=\"read\" keyspace=\"shop\" table=\"vehicle\" status=200 duration_us=",
                " rows_read=1 rows_written=0 docs_read=0 docs_written=0 read_units=1 write_units=0 storage_us=",
            ] {
                assert!(line.contains(part), "{part:?} in {line}");
            }
        }
    }
}

/// `RUST_LOG=info,datagate::request=off` silences the request lines (the
/// README's switch), which are written past the tracing formatter.
#[test]
fn request_lines_can_be_switched_off() {
    let gw = Gateway::start_with_sidecar_config_env(
        Store::Sqlite,
        SLOW_FLUSH,
        &[("RUST_LOG", "info,datagate::request=off".to_owned())],
    );
    let acme = token("acme");
    gw.vehicle_table(&acme, "shop");
    insert(&gw, &acme, "shop", "S");
    assert_eq!(get_row(&gw, &acme, "shop", "S").status(), 200);
    // The log writer flushes every 50 ms; other info lines still come through.
    std::thread::sleep(Duration::from_millis(500));
    let log = gw.sidecar_log();
    assert!(log.contains("datagate sidecar ready"), "{log}");
    assert!(!log.contains("datagate::request"), "{log}");
}
