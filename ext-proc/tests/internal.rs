//! The listener's gRPC services (ext_proc, health) answer Envoy's own calls
//! and nothing a data route forwarded: a request carrying the edge filter's
//! tenant tag came from a client, and an ext_proc stream from a client could
//! name any tenant in the headers inside its messages.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datagate::config::{Config, FileConfig};
use datagate::server::serve;
use envoy_types::pb::envoy::config::core::v3::{HeaderMap, HeaderValue};
use envoy_types::pb::envoy::service::ext_proc::v3::external_processor_client::ExternalProcessorClient;
use envoy_types::pb::envoy::service::ext_proc::v3::processing_request::Request as Phase;
use envoy_types::pb::envoy::service::ext_proc::v3::{HttpHeaders, ProcessingRequest};
use std::time::Duration;
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::ServingStatus;

const TAG: &str = "x-tenant-id";

async fn start() -> (Channel, tempfile::TempDir, tokio::sync::oneshot::Sender<()>) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::validate(FileConfig {
        store: Some(format!("sqlite://{}", dir.path().join("i.db").display())),
        ..FileConfig::default()
    })
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(config, listener, async { stop_rx.await.unwrap_or(()) }));
    for _ in 0..100 {
        if let Ok(channel) = tonic::transport::Endpoint::from_shared(url.clone()).unwrap().connect().await {
            return (channel, dir, stop_tx);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the sidecar never listened");
}

fn health_check(tag: Option<&str>) -> tonic::Request<HealthCheckRequest> {
    let mut req = tonic::Request::new(HealthCheckRequest { service: String::new() });
    if let Some(t) = tag {
        req.metadata_mut().insert(TAG, t.parse().unwrap());
    }
    req
}

#[tokio::test]
async fn a_tagged_request_reaches_no_grpc_service() {
    let (channel, _dir, _stop) = start().await;
    let mut health = HealthClient::new(channel.clone());
    // Envoy's own health check: served (whatever the store's state).
    let mut answered = false;
    for _ in 0..100 {
        if health.check(health_check(None)).await.unwrap().into_inner().status == ServingStatus::Serving as i32 {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(answered, "the health service never said SERVING");
    // The same call forwarded from a client (it carries the edge's tag): no service answers.
    let refused = health.check(health_check(Some("demo"))).await.unwrap_err();
    assert_ne!(refused.code(), tonic::Code::Ok, "{refused:?}");

    // An ext_proc stream naming a tenant in its message: refused before any message is read.
    let pairs = [(":method", "GET"), (":path", "/v2/schemas/keyspaces"), (TAG, "victim")];
    let headers = pairs
        .iter()
        .map(|(k, v)| HeaderValue { key: (*k).to_owned(), raw_value: v.as_bytes().to_vec(), ..HeaderValue::default() })
        .collect();
    let message = ProcessingRequest {
        request: Some(Phase::RequestHeaders(HttpHeaders {
            headers: Some(HeaderMap { headers }),
            end_of_stream: true,
            ..HttpHeaders::default()
        })),
        ..ProcessingRequest::default()
    };
    let mut req = tonic::Request::new(tokio_stream::iter(vec![message.clone()]));
    req.metadata_mut().insert(TAG, "attacker".parse().unwrap());
    let mut ext_proc = ExternalProcessorClient::new(channel);
    match ext_proc.process(req).await {
        Err(status) => assert_ne!(status.code(), tonic::Code::Ok),
        Ok(stream) => {
            let next = stream.into_inner().message().await;
            assert!(next.is_err(), "a forwarded ext_proc stream was served: {next:?}");
        }
    }
    // Untagged (Envoy's own stream): served.
    let mut stream = ext_proc.process(tokio_stream::iter(vec![message])).await.unwrap().into_inner();
    assert!(stream.message().await.unwrap().is_some());
}
