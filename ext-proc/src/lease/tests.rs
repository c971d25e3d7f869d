//! The lease service against the real Redis on 127.0.0.1:6379 (scripts/redis.sh).

use super::*;

fn leaser() -> Leaser {
    Leaser::new(Some("redis://127.0.0.1:6379"), Duration::from_secs(2)).unwrap()
}

fn request(tenant: &str, want: f64, min: f64, burst: f64) -> LeaseRequest {
    LeaseRequest { tenant: tenant.into(), want, min, rate: 1e-9, burst }
}

fn fresh_tenant() -> String {
    format!("test-{}", uuid::Uuid::new_v4())
}

#[tokio::test]
async fn concurrent_calls_never_grant_more_than_the_budget() {
    let (leaser, tenant) = (leaser(), fresh_tenant());
    let calls = (0..60).map(|_| {
        let (leaser, req) = (leaser.clone(), request(&tenant, 1.0, 1.0, 25.0));
        tokio::spawn(async move { leaser.take(&req).await.unwrap().granted })
    });
    let mut granted = 0.0;
    for c in calls {
        granted += c.await.unwrap();
    }
    assert_eq!(granted, 25.0);
}

#[tokio::test]
async fn grants_are_partial_near_the_end_then_none() {
    let (leaser, tenant) = (leaser(), fresh_tenant());
    let g = leaser.take(&request(&tenant, 3.0, 1.0, 5.0)).await.unwrap();
    assert_eq!((g.granted, g.left), (3.0, 2.0));
    let g = leaser.take(&request(&tenant, 3.0, 1.0, 5.0)).await.unwrap();
    assert_eq!((g.granted, g.left), (2.0, 0.0), "what is left, not nothing");
    let g = leaser.take(&request(&tenant, 3.0, 1.0, 5.0)).await.unwrap();
    assert_eq!(g.granted, 0.0);
    assert!(g.retry_after_s >= 1, "{g:?}");
}

#[tokio::test]
async fn an_unreachable_or_missing_redis_is_unavailable() {
    let down = Leaser::new(Some("redis://127.0.0.1:1"), Duration::from_secs(2)).unwrap();
    let (status, body) = down.answer(LEASE_PATH, "tenant=a&want=1&min=1&rate=1&burst=1").await;
    assert_eq!(status, 503, "{body}");
    let none = Leaser::new(None, Duration::from_secs(2)).unwrap();
    let (status, body) = none.answer(LEASE_PATH, "tenant=a&want=1&min=1&rate=1&burst=1").await;
    assert_eq!(status, 503);
    assert!(body.contains("--redis"), "{body}");
}

#[tokio::test]
async fn the_http_answer_is_a_grant_or_a_json_error() {
    let (leaser, tenant) = (leaser(), fresh_tenant());
    let query = format!("tenant={tenant}&want=2&min=1&rate=1&burst=10");
    let (status, body) = leaser.answer(LEASE_PATH, &query).await;
    assert_eq!(status, 200);
    assert_eq!(Grant::parse("200", body.as_bytes()).unwrap().granted, 2.0);
    for bad in [
        "",
        "tenant=a",
        "tenant=a&want=1&min=2&rate=1&burst=1",
        "tenant=a&want=x&min=1&rate=1&burst=1",
        "tenant=a&want=1&min=1&rate=1&burst=inf",
        "tenant=a&want=1&min=1&rate=1&burst=1&extra=1",
    ] {
        let (status, body) = leaser.answer(LEASE_PATH, bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["code"], 400);
    }
    assert_eq!(leaser.answer("/datagate.lease.v1.Lease/Other", &query).await.0, 400);
}
