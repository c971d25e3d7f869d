//! Fetching the remote JWKS through an Envoy cluster (`dispatch_http_call`),
//! from the root context on a timer or from a request that met an unknown key id.

use super::{log, now_ms, Shared};
use crate::jwks::{self, RemoteJwks};
use proxy_wasm::traits::Context;
use proxy_wasm::types::LogLevel;
use std::time::Duration;

/// Starts a fetch; false when it could not be dispatched (counted, retried later).
pub fn fetch(ctx: &dyn Context, cfg: &RemoteJwks, shared: &Shared, now: u64) -> bool {
    let headers = vec![(":method", "GET"), (":path", cfg.path.as_str()), (":authority", cfg.authority.as_str())];
    let mut remote = shared.remote.borrow_mut();
    remote.attempted_ms = Some(now);
    match ctx.dispatch_http_call(&cfg.cluster, headers, None, vec![], Duration::from_millis(cfg.timeout_ms)) {
        Ok(_) => {
            remote.in_flight = true;
            true
        }
        Err(e) => {
            shared.metrics.increment("datagate.jwks.fetch_failed");
            log(LogLevel::Warn, &format!("datagate: cannot fetch the JWKS from cluster {}: {e:?}", cfg.cluster));
            false
        }
    }
}

/// Takes a fetch response: new keys replace the old ones (and the verified-token
/// cache, so tokens signed by a removed key stop working); a bad response keeps
/// the previous keys.
pub fn absorb(ctx: &dyn Context, shared: &Shared, body_size: usize) {
    let status = ctx.get_http_call_response_header(":status").unwrap_or_default();
    let body = ctx.get_http_call_response_body(0, body_size).unwrap_or_default();
    let mut remote = shared.remote.borrow_mut();
    remote.in_flight = false;
    let parsed = if status == "200" { jwks::parse_body(&body) } else { Err(format!("HTTP status {status:?}")) };
    match parsed {
        Ok(keys) => {
            remote.keys = keys;
            remote.fetched_ms = Some(now_ms(ctx));
            shared.cache.borrow_mut().clear();
            shared.metrics.increment("datagate.jwks.fetch_ok");
        }
        Err(e) => {
            shared.metrics.increment("datagate.jwks.fetch_failed");
            log(LogLevel::Warn, &format!("datagate: remote JWKS refused, keeping the previous keys: {e}"));
        }
    }
}
