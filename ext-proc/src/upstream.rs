//! The data APIs as a plain HTTP upstream, on the same listener as ext_proc.
//!
//! With ext_proc, a request costs Envoy a gRPC stream to the sidecar on top of
//! its own HTTP handling, and the sidecar a protobuf decode and encode: measured
//! in `bench/run`, that is what kept the chain below a hand-written service
//! behind the same Envoy. Routed here instead (`"dataPath": "upstream"` in
//! `datagate envoy-config`), Envoy forwards the request with its router like to
//! any service, and the sidecar answers it directly: the same [`Service`], the
//! same answers. Every path that is not a gRPC service of the listener lands
//! here, over HTTP/1.1 or HTTP/2.
//!
//! Trust is the same as for ext_proc: only Envoy may reach the listener (socket
//! file permissions, or a private network), and the edge filter in front strips
//! the identity headers a client sends and sets the verified ones.

use crate::error::ApiError;
use crate::http::{ApiRequest, ApiResponse};
use crate::service::Service;
use axum::body::Body;
use axum::body::HttpBody as _;
use futures_util::StreamExt;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::codegen::http;

/// The tower service answering data requests over plain HTTP.
#[derive(Clone)]
pub struct Upstream {
    service: Arc<Service>,
}

impl Upstream {
    /// The upstream over `service`.
    pub fn new(service: Arc<Service>) -> Upstream {
        Upstream { service }
    }

    /// Answers one request: routed first, so an unknown path or a wrong method
    /// is answered without reading a body no operation could use; the body is
    /// read chunk by chunk, refused (413) once it passes the limit.
    pub async fn answer(&self, req: http::Request<Body>) -> ApiResponse {
        let (parts, body) = req.into_parts();
        let raw_path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let get = |name: &str| parts.headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let mut request = ApiRequest::from_headers(parts.method.as_str(), raw_path, get);
        let route = match Service::route(&request) {
            Ok(route) => route,
            // As over ext_proc: a request without a body is served whatever its
            // path (the usage endpoints are no data route); one with a body is
            // refused before it is read.
            Err(e) if body.is_end_stream() => return self.service.handle_routed(request, Err(e)).await,
            Err(e) => return e.into_response(),
        };
        let mut chunks = body.into_data_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                // The client (or Envoy) went away mid-body: nobody reads this answer.
                Err(e) => {
                    tracing::debug!(error = %e, "request body ended early");
                    return ApiError::BadRequest("the request body ended early".to_owned()).into_response();
                }
            };
            if let Err(e) = self.service.admit_body(request.body.len() + chunk.len()) {
                return e.into_response();
            }
            request.body.extend_from_slice(&chunk);
        }
        self.service.handle_routed(request, Ok(route)).await
    }
}

/// Keeps the listener's gRPC services (ext_proc, health, leases) Envoy's own:
/// a request carrying the edge filter's tenant tag was forwarded from a client
/// by a data route (with the `upstream` data path every path reaches this
/// listener), and is answered as the unknown data path it is. Served, an
/// ext_proc stream would have let any authenticated client name another
/// tenant in the headers inside its message, where no edge filter looks.
/// Envoy's own calls (ext_proc streams, health checks, lease calls) carry no
/// tag. The rendered Envoy configs also refuse these paths before routing
/// (`crate::envoy_config`), so this is the second of two locks.
pub async fn internal_only(
    axum::extract::State(upstream): axum::extract::State<Upstream>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if req.headers().contains_key(datagate_filter::identity::TENANT_HEADER) {
        tracing::warn!(path = %req.uri().path(), "a client request for an internal gRPC service; answered as an unknown path");
        return to_http(upstream.answer(req).await);
    }
    next.run(req).await
}

/// The HTTP response for an API response.
fn to_http(mut resp: ApiResponse) -> http::Response<Body> {
    let status = http::StatusCode::from_u16(resp.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = http::Response::new(Body::from(std::mem::take(&mut resp.body)));
    *out.status_mut() = status;
    let headers = out.headers_mut();
    for (k, v) in resp.headers_to_send() {
        match (http::HeaderName::from_bytes(k.as_bytes()), http::HeaderValue::from_str(v)) {
            (Ok(name), Ok(value)) => {
                headers.append(name, value);
            }
            // Our own header text: only a bug gets here; say so rather than send it broken.
            _ => tracing::warn!(header = %k, "response header not sendable over HTTP; dropped"),
        }
    }
    out
}

impl tonic::codegen::Service<http::Request<Body>> for Upstream {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let this = self.clone();
        let head = req.method() == http::Method::HEAD;
        Box::pin(async move {
            let mut resp = this.answer(req).await;
            // A HEAD answer has no body (RFC 9110 §9.3.2); over HTTP/2 hyper would send
            // it anyway, and Envoy then resets the stream and closes the client's connection.
            if head {
                resp.body.clear();
            }
            Ok(to_http(resp))
        })
    }
}
