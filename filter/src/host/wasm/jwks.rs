//! Fetching the remote JWKS through an Envoy cluster (`dispatch_http_call`),
//! from the root context on a timer or from a request that met an unknown key id.
//!
//! Every worker VM needs the keys, but the issuer should see one fetch per
//! refresh from an Envoy process, not one per worker: the document lives in
//! shared data, the background refresh is claimed by one worker at a time
//! (a compare-and-swap on [`CLAIM`]), and the others adopt what it stored.

use super::{log, now_ms, Shared};
use crate::jwks::{self, RemoteJwks};
use crate::metrics::Counter;
use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, LogLevel, MapType};
use std::time::Duration;

/// The last good key-set document ([`jwks::encode_shared`]).
const DOCUMENT: &str = "datagate.jwks.doc";
/// When the running background fetch was claimed (Unix ms), 0 when none is.
const CLAIM: &str = "datagate.jwks.claim";

/// Makes sure the claim key exists (each worker's `on_configure`), so claims can CAS.
pub fn init() {
    if let Ok((None, _)) = hostcalls::get_shared_data(CLAIM) {
        let _ = hostcalls::set_shared_data(CLAIM, Some(&0u64.to_le_bytes()), None);
    }
}

/// A worker's tick: adopt a newer document another worker fetched, then, when
/// the keys are due for refresh, fetch them unless another worker already is.
pub fn tick(cfg: &RemoteJwks, shared: &Shared, now: u64) {
    adopt(shared);
    // A statement of its own: the borrow must end before `fetch` borrows mutably.
    let due = shared.remote.borrow().refresh_due(cfg, now);
    if due && claim(cfg, now) && !fetch(cfg, shared, now) {
        release(now);
    }
}

/// Takes the shared document when it is newer than this worker's keys; true when it did.
pub fn adopt(shared: &Shared) -> bool {
    let Ok((Some(bytes), _)) = hostcalls::get_shared_data(DOCUMENT) else { return false };
    let Some((fetched_ms, body)) = jwks::decode_shared(&bytes) else { return false };
    let mut remote = shared.remote.borrow_mut();
    if remote.fetched_ms.is_some_and(|mine| mine >= fetched_ms) {
        return false;
    }
    // The worker that stored it parsed it; a failure here would be a format change between builds.
    let Ok(keys) = jwks::parse_body(body) else { return false };
    remote.keys = keys;
    remote.fetched_ms = Some(fetched_ms);
    shared.cache.borrow_mut().clear();
    true
}

fn read_claim() -> Option<(u64, Option<u32>)> {
    let (bytes, cas) = hostcalls::get_shared_data(CLAIM).ok()?;
    let claimed =
        bytes.as_deref().and_then(|b| b.get(..8)).and_then(|b| b.try_into().ok()).map_or(0, u64::from_le_bytes);
    Some((claimed, cas))
}

/// Claims the background refresh for this worker; true when it is ours to do.
fn claim(cfg: &RemoteJwks, now: u64) -> bool {
    // Shared data unusable: fetch anyway, as every worker did before sharing.
    let Some((claimed, cas)) = read_claim() else { return true };
    jwks::may_claim(claimed, cfg, now) && hostcalls::set_shared_data(CLAIM, Some(&now.to_le_bytes()), cas).is_ok()
}

/// Gives up the claim made at `claimed_ms`, unless another worker took it over since.
fn release(claimed_ms: u64) {
    if let Some((claimed, cas)) = read_claim() {
        if claimed == claimed_ms {
            let _ = hostcalls::set_shared_data(CLAIM, Some(&0u64.to_le_bytes()), cas);
        }
    }
}

/// Starts a fetch; false when it could not be dispatched (counted, retried later).
pub fn fetch(cfg: &RemoteJwks, shared: &Shared, now: u64) -> bool {
    let headers = vec![(":method", "GET"), (":path", cfg.path.as_str()), (":authority", cfg.authority.as_str())];
    let mut remote = shared.remote.borrow_mut();
    remote.attempted_ms = Some(now);
    match hostcalls::dispatch_http_call(&cfg.cluster, headers, None, vec![], Duration::from_millis(cfg.timeout_ms)) {
        Ok(_) => {
            remote.in_flight = true;
            true
        }
        Err(e) => {
            shared.metrics.count(Counter::JwksFetchFailed);
            log(LogLevel::Warn, &format!("datagate: cannot fetch the JWKS from cluster {}: {e:?}", cfg.cluster));
            false
        }
    }
}

/// Takes a fetch response: new keys replace the old ones (and the verified-token
/// cache, so tokens signed by a removed key stop working); a bad response keeps
/// the previous keys.
pub fn absorb(shared: &Shared, body_size: usize) {
    let status =
        hostcalls::get_map_value(MapType::HttpCallResponseHeaders, ":status").ok().flatten().unwrap_or_default();
    let body = hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size).ok().flatten().unwrap_or_default();
    let mut remote = shared.remote.borrow_mut();
    remote.in_flight = false;
    if let Some(attempted) = remote.attempted_ms {
        release(attempted);
    }
    let parsed = if status == "200" { jwks::parse_body(&body) } else { Err(format!("HTTP status {status:?}")) };
    match parsed {
        Ok(keys) => {
            let now = now_ms();
            remote.keys = keys;
            remote.fetched_ms = Some(now);
            shared.cache.borrow_mut().clear();
            shared.metrics.count(Counter::JwksFetchOk);
            // The other workers adopt it on their next tick instead of fetching.
            let _ = hostcalls::set_shared_data(DOCUMENT, Some(&jwks::encode_shared(now, &body)), None);
        }
        Err(e) => {
            shared.metrics.count(Counter::JwksFetchFailed);
            log(LogLevel::Warn, &format!("datagate: remote JWKS refused, keeping the previous keys: {e}"));
        }
    }
}
