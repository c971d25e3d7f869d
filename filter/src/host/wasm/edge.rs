//! The per-request context: reads the header map once, runs
//! [`crate::edge::Exchange`] over [`WasmHost`], applies the verdict.

use super::{buckets, jwks, now_ms, Shared};
use crate::auth::TokenStore;
use crate::cache::TokenCache;
use crate::config::{Config, VerifyKey};
use crate::edge::{Exchange, Host, KeyRefresh, Verdict};
use crate::metrics::Counter;
use crate::ratelimit::{Decision, Limit};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, MapType};
use std::rc::Rc;

pub struct Edge {
    config: Rc<Config>,
    shared: Rc<Shared>,
    exchange: Exchange,
    /// Paused while the JWKS is re-fetched for an unknown key id.
    waiting_for_keys: bool,
}

/// [`Host`] over proxy-wasm host calls and this worker's [`Shared`] state.
struct WasmHost<'a> {
    config: &'a Config,
    shared: &'a Shared,
    /// A re-fetch was dispatched for this request.
    fetching: bool,
}

impl Host for WasmHost<'_> {
    fn now_ms(&self) -> u64 {
        now_ms()
    }

    fn remove_request_header(&mut self, name: &str) {
        let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, name, None);
    }

    fn add_request_header(&mut self, name: &str, value: &str) {
        let _ = hostcalls::add_map_value(MapType::HttpRequestHeaders, name, value);
    }

    fn set_filter_state(&mut self, key: &str, value: &str) {
        // Readable as %FILTER_STATE(wasm.<key>:PLAIN)%.
        let _ = hostcalls::set_property(vec![key], Some(value.as_bytes()));
    }

    fn send_reply(&mut self, status: u32, headers: &[(&str, &str)], body: &[u8]) {
        let _ = hostcalls::send_http_response(status, headers.to_vec(), Some(body));
    }

    fn count(&mut self, counter: Counter<'_>) {
        self.shared.metrics.count(counter);
    }

    fn with_tokens<R>(&mut self, f: impl FnOnce(&[VerifyKey], &mut dyn TokenStore) -> R) -> R {
        let remote = self.shared.remote.borrow();
        match self.shared.cache.try_borrow_mut() {
            Ok(mut cache) => f(&remote.keys, &mut *cache),
            // Unreachable on proxy-wasm's single thread; verify without the cache rather than fail.
            Err(_) => f(&remote.keys, &mut TokenCache::default()),
        }
    }

    fn spend(&mut self, tenant: &str, limit: &Limit, cost: f64, now_ms: u64) -> Option<Decision> {
        let local = self.shared.leases.borrow_mut().spend(tenant, limit, cost, now_ms);
        if local.is_some() {
            return local;
        }
        let (d, lease) = buckets::spend(&buckets::key(tenant), limit, cost, now_ms)?;
        self.shared.leases.borrow_mut().store(tenant, lease);
        Some(d)
    }

    fn refresh_keys(&mut self) -> KeyRefresh {
        // Another worker may already hold the new key set: adopt it before fetching.
        if jwks::adopt(self.shared) {
            return KeyRefresh::Adopted;
        }
        let Some(remote) = &self.config.remote_jwks else { return KeyRefresh::Unavailable };
        let now = now_ms();
        if !self.shared.remote.borrow().refetch_allowed(remote, now) || !jwks::fetch(remote, self.shared, now) {
            return KeyRefresh::Unavailable;
        }
        self.fetching = true;
        KeyRefresh::Fetching
    }
}

impl Edge {
    pub fn new(config: Rc<Config>, shared: Rc<Shared>) -> Edge {
        Edge { config, shared, exchange: Exchange::default(), waiting_for_keys: false }
    }

    fn decide(&mut self, may_refetch: bool) -> Action {
        // One host call for the whole map, read in place: it serves the spoofing
        // scan and every lookup (each host call crosses the VM boundary).
        let buffer = super::request_header_buffer();
        let headers = crate::headermap::pairs(&buffer).unwrap_or_default();
        let mut host = WasmHost { config: &self.config, shared: &self.shared, fetching: false };
        match self.exchange.on_request_headers(&self.config, &mut host, &headers, may_refetch) {
            Verdict::Continue => Action::Continue,
            Verdict::Replied => Action::Pause,
            Verdict::Paused => {
                self.waiting_for_keys = host.fetching;
                Action::Pause
            }
        }
    }
}

impl Context for Edge {
    fn on_http_call_response(&mut self, _token: u32, _headers: usize, body_size: usize, _trailers: usize) {
        jwks::absorb(&self.shared, body_size);
        if std::mem::take(&mut self.waiting_for_keys) {
            // Decide again with the new keys; no second re-fetch for this request.
            if let Action::Continue = self.decide(false) {
                self.resume_http_request();
            }
        }
    }
}

impl HttpContext for Edge {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        self.decide(true)
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        // Replace, not add: an upstream's own rate-limit headers must not contradict ours.
        for (name, value) in self.exchange.response_headers() {
            self.set_http_response_header(name, Some(value));
        }
        Action::Continue
    }
}
