//! One ext_proc stream = one HTTP request. The processor collects the request
//! headers (and the body when there is one), hands the request to the
//! [`Service`] and answers Envoy with an `ImmediateResponse`.
//!
//! Envoy either waits for an answer to the headers before it sends the body
//! (`BUFFERED`, plain `STREAMED`): a request with a body then costs two
//! exchanges. Or it sends the headers and every body chunk without waiting
//! (`STREAMED` with `send_body_without_waiting_for_header_response`, the shipped
//! config, or `FULL_DUPLEX_STREAMED`), and the processor answers once, after the
//! last chunk: one message each way, as for a GET. Envoy says which in the
//! stream's first message (`protocol_config`).

use crate::http::{ApiRequest, ApiResponse};
use crate::router::Route;
use crate::service::Service;
use envoy_types::pb::envoy::config::core::v3::{HeaderMap, HeaderValue, HeaderValueOption};
use envoy_types::pb::envoy::extensions::filters::http::ext_proc::v3::processing_mode::BodySendMode;
use envoy_types::pb::envoy::r#type::v3::HttpStatus;
use envoy_types::pb::envoy::service::ext_proc::v3::processing_request::Request as Phase;
use envoy_types::pb::envoy::service::ext_proc::v3::processing_response::Response as Reply;
use envoy_types::pb::envoy::service::ext_proc::v3::{
    BodyResponse, CommonResponse, HeaderMutation, HeadersResponse, HttpHeaders, ImmediateResponse, ProcessingRequest,
    ProcessingResponse, TrailersResponse,
};
use std::sync::Arc;

/// State of one stream.
pub struct Processor {
    service: Arc<Service>,
    /// The request whose body is being collected, and the route it was given.
    pending: Option<(ApiRequest, Route)>,
    /// Envoy sends the body without waiting for answers: nothing but the final
    /// answer is sent.
    eager: bool,
}

impl Processor {
    /// A processor for a new stream.
    pub fn new(service: Arc<Service>) -> Processor {
        Processor { service, pending: None, eager: false }
    }

    /// The answer to a message that only continues (the headers before a body,
    /// a body chunk before the last): none when Envoy does not wait for one.
    fn next(&self, reply: Reply) -> Option<ProcessingResponse> {
        (!self.eager).then(|| respond(reply))
    }

    /// Handles one message from Envoy; `None` when there is nothing to answer.
    pub async fn on_message(&mut self, msg: ProcessingRequest) -> Option<ProcessingResponse> {
        if let Some(config) = msg.protocol_config {
            let mode = config.request_body_mode;
            self.eager = mode == BodySendMode::FullDuplexStreamed as i32
                || (mode == BodySendMode::Streamed as i32 && config.send_body_without_waiting_for_header_response);
        }
        let reply = match msg.request? {
            Phase::RequestHeaders(h) => {
                let end = h.end_of_stream;
                let req = request_from_headers(&h);
                if end {
                    immediate(self.service.handle(req).await)
                } else {
                    match Service::route(&req) {
                        // No body can make an unknown path or a wrong method right:
                        // answer now rather than wait for it (a CONNECT's never ends).
                        Err(e) => immediate(e.into_response()),
                        Ok(route) => {
                            self.pending = Some((req, route));
                            // Continue: unless it is eager, Envoy then sends the body.
                            return self.next(Reply::RequestHeaders(HeadersResponse {
                                response: Some(CommonResponse::default()),
                            }));
                        }
                    }
                }
            }
            Phase::RequestBody(b) => {
                let Some((req, _)) = self.pending.as_mut() else {
                    return self.next(Reply::RequestBody(BodyResponse { response: Some(CommonResponse::default()) }));
                };
                if let Err(err) = self.service.admit_body(req.body.len() + b.body.len()) {
                    self.pending = None;
                    immediate(err.into_response())
                } else {
                    req.body.extend_from_slice(&b.body);
                    if !b.end_of_stream {
                        return self
                            .next(Reply::RequestBody(BodyResponse { response: Some(CommonResponse::default()) }));
                    }
                    let (req, route) = self.pending.take()?;
                    immediate(self.service.handle_routed(req, Ok(route)).await)
                }
            }
            Phase::RequestTrailers(_) => match self.pending.take() {
                Some((req, route)) => immediate(self.service.handle_routed(req, Ok(route)).await),
                None => return self.next(Reply::RequestTrailers(TrailersResponse::default())),
            },
            // Response phases are not requested by our Envoy config; let them pass untouched.
            Phase::ResponseHeaders(_) => Reply::ResponseHeaders(HeadersResponse::default()),
            Phase::ResponseBody(_) => Reply::ResponseBody(BodyResponse::default()),
            Phase::ResponseTrailers(_) => Reply::ResponseTrailers(TrailersResponse::default()),
        };
        Some(respond(reply))
    }
}

fn respond(reply: Reply) -> ProcessingResponse {
    ProcessingResponse { response: Some(reply), ..ProcessingResponse::default() }
}

fn header_text(h: &HeaderValue) -> String {
    // Envoy sends values in `raw_value`; `value` is only a fallback for other data planes.
    if h.raw_value.is_empty() {
        h.value.clone()
    } else {
        String::from_utf8_lossy(&h.raw_value).into_owned()
    }
}

/// Builds the API request from Envoy's header message.
pub fn request_from_headers(h: &HttpHeaders) -> ApiRequest {
    let headers: &[HeaderValue] = h.headers.as_ref().map(|m: &HeaderMap| m.headers.as_slice()).unwrap_or_default();
    let get = |name: &str| headers.iter().find(|x| x.key.eq_ignore_ascii_case(name)).map(header_text);
    ApiRequest::from_headers(&get(":method").unwrap_or_default(), &get(":path").unwrap_or_default(), get)
}

fn immediate(resp: ApiResponse) -> Reply {
    let set_headers = resp.headers_to_send().map(|(k, v)| header(k, v)).collect();
    Reply::ImmediateResponse(ImmediateResponse {
        status: Some(HttpStatus { code: i32::from(resp.status) }),
        headers: Some(HeaderMutation { set_headers, remove_headers: Vec::new() }),
        body: resp.body,
        grpc_status: None,
        details: String::new(),
    })
}

fn header(key: &str, value: &str) -> HeaderValueOption {
    HeaderValueOption {
        // Envoy reads `raw_value`; a value only in `value` arrives empty.
        header: Some(HeaderValue { key: key.to_owned(), value: String::new(), raw_value: value.as_bytes().to_vec() }),
        ..HeaderValueOption::default()
    }
}
