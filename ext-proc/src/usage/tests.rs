//! Component tests: metering over a real SQLite file, with an injected clock.

#![allow(clippy::unwrap_used)]

use super::classify::{Api, Class, Operation};
use super::clock::Clock;
use super::settings::{MeteringFile, MeteringSettings};
use super::Metering;
use crate::http::{ApiRequest, ApiResponse};
use crate::scope::Meter;
use crate::store::usage::UsageQuery;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

struct TestClock(AtomicI64);

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn ms(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis()
}

async fn metering(dir: &tempfile::TempDir, settings: MeteringSettings, clock: Arc<TestClock>) -> Metering {
    let backend = crate::store::open(&format!("sqlite://{}", dir.path().join("u.db").display()), 2).await.unwrap();
    backend.usage.init_usage().await.unwrap();
    Metering::new(backend.usage, settings, clock)
}

fn read_class() -> Class {
    Class { api: Api::Rest, operation: Some(Operation::Read), keyspace: Some("ks".into()), table: Some("t".into()) }
}

/// One metered read of `tenant` that read `bytes`.
fn read(m: &Metering, tenant: &str, bytes: u64) -> Result<ApiResponse, ApiResponse> {
    let mut req = ApiRequest::new("GET", "/v2/keyspaces/ks/t/1");
    req.tenant = Some(tenant.into());
    let started = m.start(&req, tenant, read_class()).map_err(|r| r.response)?;
    let meter = started.meter();
    Meter::add(&meter.read_calls, 1);
    Meter::add(&meter.rows_read, 1);
    Meter::add(&meter.bytes_read, bytes);
    let mut resp = ApiResponse::json(200, serde_json::json!({}));
    m.finish(started, &req, &mut resp, "r");
    Ok(resp)
}

#[tokio::test]
async fn flushes_are_idempotent_and_queries_sum_replicas() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock(AtomicI64::new(ms("2026-11-30T10:00:10Z"))));
    let a = metering(&dir, MeteringSettings::default(), clock.clone()).await;
    let b = metering(&dir, MeteringSettings::default(), clock.clone()).await;
    read(&a, "acme", 5000).unwrap();
    read(&a, "acme", 10).unwrap();
    read(&b, "acme", 10).unwrap();
    read(&b, "zeta", 10).unwrap();
    for _ in 0..3 {
        a.flush().await.unwrap();
        b.flush().await.unwrap();
    }
    let minute = super::clock::minute(clock.now_ms());
    let q = UsageQuery { tenant: Some("acme".into()), from_minute: minute, to_minute: minute + 1, bucket_minutes: 1 };
    let rows = a.store().usage(&q).await.unwrap();
    assert_eq!(rows.len(), 1);
    let t = rows[0].totals;
    assert_eq!((t.requests, t.rows_read, t.read_units), (3, 3, 2 + 1 + 1), "5000 bytes are 2 read units");
    // More in the same minute: the row is overwritten with the new total, not added to.
    read(&a, "acme", 10).unwrap();
    a.flush().await.unwrap();
    assert_eq!(a.store().usage(&q).await.unwrap()[0].totals.requests, 4);
}

#[tokio::test]
async fn a_quota_refuses_at_its_limit_across_replicas_and_resets_with_the_month() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock(AtomicI64::new(ms("2026-11-30T23:59:00Z"))));
    let file: MeteringFile = serde_json::from_str(
        r#"{"quotas": {"plans": {"free": {"readUnits": 3}}, "tenants": {"vip": {"readUnits": 100}}}}"#,
    )
    .unwrap();
    let mut errors = Vec::new();
    let settings = file.validate(&mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    let a = metering(&dir, settings.clone(), clock.clone()).await;
    let b = metering(&dir, settings, clock.clone()).await;
    let free = |m: &Metering| {
        let mut req = ApiRequest::new("GET", "/v2/keyspaces/ks/t/1");
        req.tenant = Some("acme".into());
        req.plan = Some("free".into());
        m.start(&req, "acme", read_class()).map_err(|r| r.response).map(|s| {
            let meter = s.meter();
            Meter::add(&meter.read_calls, 1);
            let mut resp = ApiResponse::json(200, serde_json::json!({}));
            m.finish(s, &req, &mut resp, "r");
            resp
        })
    };
    let resp = free(&a).unwrap();
    assert!(resp.headers.contains(&("x-quota-read-remaining".into(), "2".into())), "{:?}", resp.headers);
    free(&a).unwrap();
    // Replica b sees a's use once a has flushed and b has refreshed.
    a.flush().await.unwrap();
    b.flush().await.unwrap();
    free(&b).unwrap();
    let refused = free(&b).unwrap_err();
    assert_eq!(refused.status, 429);
    let body: serde_json::Value = serde_json::from_slice(&refused.body).unwrap();
    assert_eq!(body["quota"], "readUnits");
    assert_eq!(body["resetsAt"], "2026-12-01T00:00:00+00:00");
    assert!(refused.headers.iter().any(|(k, v)| k == "retry-after" && v == "60"), "{:?}", refused.headers);
    // Without the plan (no rate-limit plan on the request) there is no quota.
    assert!(read(&b, "acme", 1).is_ok());

    clock.0.store(ms("2026-12-01T00:00:01Z"), Ordering::SeqCst);
    b.flush().await.unwrap();
    let resp = free(&b).unwrap();
    assert!(resp.headers.contains(&("x-quota-read-remaining".into(), "2".into())), "{:?}", resp.headers);
}
