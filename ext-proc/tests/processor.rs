//! The ext_proc conversation in the body modes Envoy can run, against a real
//! service on a SQLite file: Envoy waits for an answer to the headers
//! (`BUFFERED`, plain `STREAMED`: answer the headers, then the body), or it does
//! not (`STREAMED` with `send_body_without_waiting_for_header_response`, the
//! shipped config, and `FULL_DUPLEX_STREAMED`: answer once, after the last chunk
//! or the trailers, and never a word about the messages before it).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datagate::config::{Config, FileConfig};
use datagate::processor::Processor;
use datagate::service::Service;
use envoy_types::pb::envoy::config::core::v3::{HeaderMap, HeaderValue};
use envoy_types::pb::envoy::extensions::filters::http::ext_proc::v3::processing_mode::BodySendMode;
use envoy_types::pb::envoy::service::ext_proc::v3::processing_request::Request as Phase;
use envoy_types::pb::envoy::service::ext_proc::v3::processing_response::Response as Reply;
use envoy_types::pb::envoy::service::ext_proc::v3::{
    HttpBody, HttpHeaders, HttpTrailers, ProcessingRequest, ProcessingResponse, ProtocolConfiguration,
};
use std::sync::Arc;

struct Sidecar {
    service: Arc<Service>,
    _dir: tempfile::TempDir,
}

async fn sidecar() -> Sidecar {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::validate(FileConfig {
        store: Some(format!("sqlite://{}", dir.path().join("p.db").display())),
        max_body_bytes: Some(2048),
        ..FileConfig::default()
    })
    .unwrap();
    let store = datagate::store::open(&config.store, 2).await.unwrap();
    Sidecar { service: Arc::new(Service::new(store, &config)), _dir: dir }
}

/// What Envoy tells of its body mode, in the stream's first message only.
type Mode = Option<ProtocolConfiguration>;

fn mode(body: BodySendMode, eager: bool) -> Mode {
    Some(ProtocolConfiguration {
        request_body_mode: body as i32,
        send_body_without_waiting_for_header_response: eager,
        ..ProtocolConfiguration::default()
    })
}

/// The modes in which Envoy sends the body without waiting for an answer.
fn eager_modes() -> [Mode; 2] {
    [mode(BodySendMode::Streamed, true), mode(BodySendMode::FullDuplexStreamed, false)]
}

fn headers(method: &str, path: &str, end: bool, mode: Mode) -> ProcessingRequest {
    headers_of("t1", method, path, end, mode)
}

fn headers_of(tenant: &str, method: &str, path: &str, end: bool, mode: Mode) -> ProcessingRequest {
    let pairs = [(":method", method), (":path", path), ("x-tenant-id", tenant), ("content-type", "application/json")];
    let headers = pairs
        .iter()
        .map(|(k, v)| HeaderValue { key: (*k).to_owned(), raw_value: v.as_bytes().to_vec(), ..HeaderValue::default() })
        .collect();
    ProcessingRequest {
        request: Some(Phase::RequestHeaders(HttpHeaders {
            headers: Some(HeaderMap { headers }),
            end_of_stream: end,
            ..HttpHeaders::default()
        })),
        protocol_config: mode,
        ..ProcessingRequest::default()
    }
}

fn body(bytes: &str, end: bool) -> ProcessingRequest {
    ProcessingRequest {
        request: Some(Phase::RequestBody(HttpBody {
            body: bytes.as_bytes().to_vec(),
            end_of_stream: end,
            ..HttpBody::default()
        })),
        ..ProcessingRequest::default()
    }
}

fn trailers() -> ProcessingRequest {
    ProcessingRequest { request: Some(Phase::RequestTrailers(HttpTrailers::default())), ..ProcessingRequest::default() }
}

/// The status of an immediate response; panics on anything else.
fn status(reply: Option<ProcessingResponse>) -> i32 {
    match reply.and_then(|r| r.response) {
        Some(Reply::ImmediateResponse(r)) => r.status.unwrap().code,
        other => panic!("expected an immediate response, got {other:?}"),
    }
}

#[tokio::test]
async fn eager_modes_answer_once_after_the_last_chunk() {
    let s = sidecar().await;
    for (i, eager) in eager_modes().into_iter().enumerate() {
        let ks = format!(r#"{{"name":"shop{i}"}}"#);
        let mut p = Processor::new(s.service.clone());
        assert!(p.on_message(headers("POST", "/v2/schemas/keyspaces", false, eager)).await.is_none());
        assert!(p.on_message(body(&ks[..5], false)).await.is_none());
        assert_eq!(status(p.on_message(body(&ks[5..], true)).await), 201);

        // Trailers end a body too.
        let mut p = Processor::new(s.service.clone());
        assert!(p.on_message(headers("POST", "/v2/schemas/keyspaces", false, eager)).await.is_none());
        assert!(p.on_message(body(&ks, false)).await.is_none());
        assert_eq!(status(p.on_message(trailers()).await), 409);

        // A GET is one message each way in every mode.
        let mut p = Processor::new(s.service.clone());
        let path = format!("/v2/schemas/keyspaces/shop{i}");
        assert_eq!(status(p.on_message(headers("GET", &path, true, eager)).await), 200);
    }
}

#[tokio::test]
async fn eager_modes_refuse_early_and_then_stay_silent() {
    let s = sidecar().await;
    for eager in eager_modes() {
        // No body can make an unknown path right: answered at the headers.
        let mut p = Processor::new(s.service.clone());
        assert_eq!(status(p.on_message(headers("POST", "/v9/nothing", false, eager)).await), 404);
        assert!(p.on_message(body("{}", true)).await.is_none());

        // Past maxBodyBytes (2048 here): 413 at the chunk that crosses it, nothing after.
        let mut p = Processor::new(s.service.clone());
        assert!(p.on_message(headers("POST", "/v2/schemas/keyspaces", false, eager)).await.is_none());
        assert!(p.on_message(body(&"x".repeat(2000), false)).await.is_none());
        assert_eq!(status(p.on_message(body(&"x".repeat(100), false)).await), 413);
        assert!(p.on_message(body("x", true)).await.is_none());
        assert!(p.on_message(trailers()).await.is_none());
    }
}

#[tokio::test]
async fn waiting_modes_continue_the_headers_then_answer_the_body() {
    let s = sidecar().await;
    for mode in [None, mode(BodySendMode::Buffered, false), mode(BodySendMode::Streamed, false)] {
        let mut p = Processor::new(s.service.clone());
        match p.on_message(headers("POST", "/v2/schemas/keyspaces", false, mode)).await.and_then(|r| r.response) {
            Some(Reply::RequestHeaders(h)) => assert!(h.response.is_some()),
            other => panic!("expected a headers answer, got {other:?}"),
        }
        let code = status(p.on_message(body(r#"{"name":"books"}"#, true)).await);
        assert!(code == 201 || code == 409, "{code}");
    }
}

#[tokio::test]
async fn a_tenant_id_the_edge_could_not_have_set_is_no_tenant() {
    let s = sidecar().await;
    for bad in ["a/b", "../t1", "a b", "ü", &"a".repeat(65)] {
        let mut p = Processor::new(s.service.clone());
        assert_eq!(
            status(p.on_message(headers_of(bad, "GET", "/v2/schemas/keyspaces", true, None)).await),
            401,
            "{bad}"
        );
    }
    let mut p = Processor::new(s.service.clone());
    assert_eq!(
        status(p.on_message(headers_of("acme-1.eu_west", "GET", "/v2/schemas/keyspaces", true, None)).await),
        200
    );
}
