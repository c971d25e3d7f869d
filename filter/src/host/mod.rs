//! The proxy-wasm adapter: reads the plugin configuration once, then hands each
//! request's headers to [`crate::auth`] and applies the decision. Nothing here
//! decides anything; it only moves data between Envoy and the pure logic.
//!
//! `mod.rs` holds the root context (one per worker VM), `edge.rs` the per-request
//! context, `buckets.rs` the shared-data rate-limit buckets, `jwks.rs` the
//! remote key-set fetches.

// `proxy_wasm::main!` expands to the `#[no_mangle]` module entry point.
#![allow(unsafe_code)]

mod buckets;
mod edge;
mod jwks;

use crate::cache::TokenCache;
use crate::config::Config;
use crate::jwks::RemoteKeys;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel, MetricType};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

proxy_wasm::main! {{
    // Also installs a panic hook that logs instead of silently killing the VM.
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
}}

fn log(level: LogLevel, message: &str) {
    // Logging failures have nowhere to be reported; dropping them is the only option.
    let _ = hostcalls::log(level, message);
}

fn now_ms(ctx: &dyn Context) -> u64 {
    ctx.get_current_time().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}

/// Counters on Envoy's `/stats` as `wasmcustom.datagate.*`.
#[derive(Default)]
struct Metrics {
    ids: RefCell<HashMap<String, u32>>,
}

impl Metrics {
    fn increment(&self, name: &str) {
        let mut ids = self.ids.borrow_mut();
        let id = match ids.get(name) {
            Some(id) => *id,
            None => match hostcalls::define_metric(MetricType::Counter, name) {
                Ok(id) => {
                    ids.insert(name.to_owned(), id);
                    id
                }
                Err(_) => return,
            },
        };
        let _ = hostcalls::increment_metric(id, 1);
    }
}

/// What a worker's requests share (proxy-wasm runs each VM on one thread).
#[derive(Default)]
struct Shared {
    metrics: Metrics,
    cache: RefCell<TokenCache>,
    remote: RefCell<RemoteKeys>,
}

#[derive(Default)]
struct Root {
    config: Option<Rc<Config>>,
    shared: Rc<Shared>,
}

impl Context for Root {
    fn on_http_call_response(&mut self, _token: u32, _headers: usize, body_size: usize, _trailers: usize) {
        jwks::absorb(self, &self.shared, body_size);
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        match Config::from_json(&bytes) {
            Ok(cfg) => {
                if cfg.rate_limit.is_some() {
                    buckets::init();
                }
                if cfg.remote_jwks.is_some() {
                    // The first tick fetches the key set; later ticks refresh it when due.
                    self.set_tick_period(Duration::from_millis(500));
                }
                self.shared =
                    Rc::new(Shared { cache: RefCell::new(TokenCache::new(cfg.token_cache_size)), ..Shared::default() });
                self.config = Some(Rc::new(cfg));
                true
            }
            Err(e) => {
                // Returning false makes Envoy refuse the plugin (and `--mode validate` fail).
                log(LogLevel::Error, &e.to_string());
                false
            }
        }
    }

    fn on_tick(&mut self) {
        let Some(cfg) = self.config.clone() else { return };
        let Some(remote) = &cfg.remote_jwks else { return };
        let now = now_ms(self);
        let due = self.shared.remote.borrow().refresh_due(remote, now);
        if due {
            jwks::fetch(self, remote, &self.shared, now);
        }
    }

    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        let config = self.config.clone()?;
        Some(Box::new(edge::Edge::new(config, self.shared.clone())))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
