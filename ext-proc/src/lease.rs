//! The lease service: global per-tenant budgets in Redis, for the edge
//! filters of every Envoy in a fleet (`globalLimit` in the filter config).
//!
//! Why this protocol: the filter already makes HTTP callouts through Envoy
//! clusters in both its hosts (proxy-wasm `dispatch_http_call`, the dynamic
//! module's HTTP callout) and parses JSON; the sidecar already is an Envoy
//! cluster with health checks and outlier detection. So a lease call is a
//! plain HTTP/2 GET on the sidecar's gRPC port ([`LEASE_PATH`], routed beside
//! the gRPC services) answered with a JSON [`Grant`]. Envoy's rate-limit
//! service protocol would need protobuf and gRPC framing in the filter and
//! has no partial grant (it says OK or OVER_LIMIT for a whole hits_addend),
//! which leases need. The budget math runs inside Redis as one Lua script, so
//! concurrent calls from any number of sidecars never double-spend.

use datagate_filter::global::{Grant, LeaseRequest, LEASE_PATH, LEASE_SERVICE};
use redis::aio::MultiplexedConnection;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tonic::codegen::http;

/// A token bucket per tenant (`tokens`, `ms`), refilled at `rate` per second up
/// to `burst` on Redis's own clock (one clock for every sidecar); grants up to
/// `want` when at least `min` is there. Returns granted, left, retry-after (s)
/// as strings (Lua numbers would be truncated to integers).
const TAKE: &str = r"
local want, min, rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ms')
local tokens, ms = tonumber(b[1]), tonumber(b[2])
if tokens == nil or ms == nil then
  tokens, ms = burst, now
elseif now > ms then
  tokens, ms = tokens + (now - ms) / 1000 * rate, now
end
tokens = math.min(tokens, burst)
local granted, retry = 0, 0
if tokens >= min then
  granted = math.min(want, tokens)
  tokens = tokens - granted
else
  retry = math.ceil((min - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'ms', string.format('%d', ms))
redis.call('PEXPIRE', KEYS[1], string.format('%d', math.min(math.ceil(burst / rate * 1000) + 1000, 2592000000)))
return {string.format('%.6f', granted), string.format('%.6f', tokens), string.format('%d', retry)}
";

/// Redis key of a tenant's global bucket.
fn key(tenant: &str) -> String {
    format!("datagate:limit:{tenant}")
}

/// Why a lease call got no grant.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// The call itself is malformed (not from our filter).
    #[error("bad lease request: {0}")]
    BadRequest(String),
    /// No Redis configured, or it did not answer in time.
    #[error("the limit store is unavailable: {0}")]
    Unavailable(String),
}

impl LeaseError {
    fn status(&self) -> u16 {
        match self {
            LeaseError::BadRequest(_) => 400,
            LeaseError::Unavailable(_) => 503,
        }
    }
}

/// The budgets in Redis; cheap to clone.
#[derive(Clone)]
pub struct Leaser {
    inner: Arc<Inner>,
}

struct Inner {
    client: Option<redis::Client>,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    script: redis::Script,
    timeout: Duration,
}

impl Leaser {
    /// Budgets in the Redis at `url` (`redis://127.0.0.1:6379`); `None`: every
    /// lease call answers 503 (the filters' failure mode applies). Connects on first use.
    pub fn new(url: Option<&str>, timeout: Duration) -> Result<Leaser, LeaseError> {
        let client =
            url.map(redis::Client::open).transpose().map_err(|e| LeaseError::BadRequest(format!("redis URL: {e}")))?;
        let inner = Inner { client, conn: tokio::sync::Mutex::new(None), script: redis::Script::new(TAKE), timeout };
        Ok(Leaser { inner: Arc::new(inner) })
    }

    /// Takes up to `req.want` tokens from the tenant's global budget.
    pub async fn take(&self, req: &LeaseRequest) -> Result<Grant, LeaseError> {
        let inner = &self.inner;
        let result = tokio::time::timeout(inner.timeout, async {
            let mut conn = self.connection().await?;
            let mut call = inner.script.key(key(&req.tenant));
            call.arg(req.want).arg(req.min).arg(req.rate).arg(req.burst);
            let out: Result<Vec<String>, _> = call.invoke_async(&mut conn).await;
            out.map_err(|e| LeaseError::Unavailable(e.to_string()))
        })
        .await
        .unwrap_or_else(|_| Err(LeaseError::Unavailable(format!("no answer within {:?}", inner.timeout))));
        let out = match result {
            Ok(out) => out,
            Err(e) => {
                // Reconnect next time: the connection may be the broken part.
                *inner.conn.lock().await = None;
                return Err(e);
            }
        };
        let num = |i: usize| out.get(i).and_then(|s| s.parse::<f64>().ok());
        match (num(0), num(1), num(2)) {
            (Some(granted), Some(left), Some(retry)) => Ok(Grant { granted, left, retry_after_s: retry as u64 }),
            _ => Err(LeaseError::Unavailable(format!("unexpected script answer {out:?}"))),
        }
    }

    async fn connection(&self) -> Result<MultiplexedConnection, LeaseError> {
        let Some(client) = &self.inner.client else {
            return Err(LeaseError::Unavailable("no Redis configured (datagate serve --redis URL)".into()));
        };
        let mut slot = self.inner.conn.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let conn =
            client.get_multiplexed_async_connection().await.map_err(|e| LeaseError::Unavailable(e.to_string()))?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// Answers one HTTP request: a JSON grant, or a JSON error.
    pub async fn answer(&self, path: &str, query: &str) -> (u16, String) {
        let result = match parse(path, query) {
            Ok(req) => self.take(&req).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(grant) => (200, serde_json::to_string(&grant).unwrap_or_default()),
            Err(e) => {
                if let LeaseError::Unavailable(why) = &e {
                    tracing::warn!(%why, "lease call failed");
                }
                (e.status(), serde_json::json!({"description": e.to_string(), "code": e.status()}).to_string())
            }
        }
    }
}

/// Reads a lease call's query; every number must be finite and in range.
fn parse(path: &str, query: &str) -> Result<LeaseRequest, LeaseError> {
    if path != LEASE_PATH {
        return Err(LeaseError::BadRequest(format!("unknown path {path:?}; the lease call is GET {LEASE_PATH}")));
    }
    let (mut tenant, mut nums) = (None, [None; 4]);
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let slot = match k.as_ref() {
            "tenant" => {
                tenant = Some(v.into_owned());
                continue;
            }
            "want" => 0,
            "min" => 1,
            "rate" => 2,
            "burst" => 3,
            other => return Err(LeaseError::BadRequest(format!("unknown parameter {other:?}"))),
        };
        let n: f64 = v.parse().map_err(|_| LeaseError::BadRequest(format!("{k}: {v:?} is not a number")))?;
        if !(n.is_finite() && n > 0.0 && n <= 1e12) {
            return Err(LeaseError::BadRequest(format!("{k}: {n} is out of range")));
        }
        nums[slot] = Some(n);
    }
    let tenant = tenant.filter(|t| !t.is_empty() && t.len() <= 512);
    match (tenant, nums) {
        (Some(tenant), [Some(want), Some(min), Some(rate), Some(burst)]) if min <= want => {
            Ok(LeaseRequest { tenant, want, min, rate, burst })
        }
        _ => Err(LeaseError::BadRequest("need tenant, want, min (at most want), rate and burst".into())),
    }
}

/// The lease service as a route beside the gRPC services on the sidecar's port.
#[derive(Clone)]
pub struct LeaseService(pub Leaser);

impl tonic::server::NamedService for LeaseService {
    const NAME: &'static str = LEASE_SERVICE;
}

impl tonic::codegen::Service<http::Request<tonic::body::Body>> for LeaseService {
    type Response = http::Response<String>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let leaser = self.0.clone();
        let (path, query) = (req.uri().path().to_owned(), req.uri().query().unwrap_or_default().to_owned());
        Box::pin(async move {
            let (status, body) = leaser.answer(&path, &query).await;
            let mut response = http::Response::new(body);
            *response.status_mut() =
                http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::SERVICE_UNAVAILABLE);
            response
                .headers_mut()
                .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests;
