//! The sidecar's health service and shutdown, in process (no Envoy): SERVING
//! once the store answers; on shutdown NOT_SERVING during the drain delay while
//! the listener still accepts, then the server stops.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datagate::config::{Config, FileConfig};
use datagate::server::{serve_with_drain, Drain};
use std::time::Duration;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::ServingStatus;

async fn status(url: &str) -> i32 {
    let channel = tonic::transport::Endpoint::from_shared(url.to_owned()).unwrap().connect().await.unwrap();
    let mut client = HealthClient::new(channel);
    let req = HealthCheckRequest { service: "envoy.service.ext_proc.v3.ExternalProcessor".to_owned() };
    client.check(req).await.unwrap().into_inner().status
}

#[tokio::test]
async fn health_turns_not_serving_before_the_listener_closes() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::validate(FileConfig {
        store: Some(format!("sqlite://{}", dir.path().join("d.db").display())),
        ..FileConfig::default()
    })
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let drain = Drain { delay: Duration::from_millis(800), timeout: Duration::from_secs(5) };
    let server = tokio::spawn(serve_with_drain(config, listener, async { stop_rx.await.unwrap_or(()) }, drain));

    // The first store probe runs at start: SERVING within a bounded wait.
    let mut serving = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(url.trim_start_matches("http://")).await.is_ok()
            && status(&url).await == ServingStatus::Serving as i32
        {
            serving = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(serving, "the sidecar never reported SERVING");

    stop_tx.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Draining: still answering, but NOT_SERVING, so health checks take it out first.
    assert_eq!(status(&url).await, ServingStatus::NotServing as i32);
    let result = tokio::time::timeout(Duration::from_secs(10), server).await.unwrap().unwrap();
    assert!(result.is_ok(), "{result:?}");
}
