//! The proxy-wasm host: reads the plugin configuration once, then hands each
//! request's headers to [`crate::edge`] and implements its [`crate::edge::Host`]
//! with proxy-wasm host calls. Nothing here decides anything.
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
use crate::metrics::Counter;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel, MapType, MetricType, Status};
use std::cell::{Cell, RefCell};
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

#[link(wasm_import_module = "env")]
extern "C" {
    // The SDK's own import, declared here to keep the buffer instead of the
    // SDK's per-header `String`s (see `crate::headermap`).
    fn proxy_get_header_map_pairs(map_type: MapType, data: *mut *mut u8, size: *mut usize) -> Status;
    // The SDK's `set_property` builds a `Vec` for the path and another for its
    // serialized form on every call; a one-segment path is its own bytes.
    fn proxy_set_property(path_data: *const u8, path_size: usize, value_data: *const u8, value_size: usize) -> Status;
}

/// Sets the filter-state value `key` (one path segment) for this request.
fn set_property(key: &str, value: &str) {
    // SAFETY: both buffers are live for the call and the host only reads them;
    // the serialized form of a one-segment property path is the segment itself.
    let _ = unsafe { proxy_set_property(key.as_ptr(), key.len(), value.as_ptr(), value.len()) };
}

/// The request headers as the host serialized them, for [`crate::headermap::pairs`].
fn request_header_buffer() -> Vec<u8> {
    let mut data: *mut u8 = std::ptr::null_mut();
    let mut size: usize = 0;
    // SAFETY: on success the host hands over a buffer of exactly `size` bytes that
    // it allocated through the SDK's `proxy_on_memory_allocate` (a boxed slice of
    // that length), so a Vec with capacity `size` owns and frees it correctly;
    // the SDK's `get_map` takes ownership the same way.
    unsafe {
        if !matches!(proxy_get_header_map_pairs(MapType::HttpRequestHeaders, &mut data, &mut size), Status::Ok)
            || data.is_null()
        {
            return Vec::new();
        }
        Vec::from_raw_parts(data, size, size)
    }
}

/// The host's clock, Unix milliseconds; every read is also kept as the recent reading.
fn now_ms() -> u64 {
    let now = hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    RECENT.with(|r| r.set(Recent { ms: now, served: 0 }));
    now
}

/// Requests one clock reading may serve as "recent" before one of them reads
/// the clock again: bounds the reading's age under load (ticks bound it when idle).
const RECENT_SERVES: u32 = 64;

/// The last clock reading on this worker's VM and how many requests it served.
#[derive(Clone, Copy, Default)]
struct Recent {
    ms: u64,
    served: u32,
}

thread_local! {
    // One VM per worker thread, one thread per VM: this is the worker's.
    static RECENT: Cell<Recent> = Cell::new(Recent::default());
}

/// A request's clock: answered from the recent reading where that is safe
/// (see [`crate::clock`]); after [`RECENT_SERVES`] requests, read afresh.
fn request_clock() -> crate::clock::Clock {
    let r = RECENT.with(Cell::get);
    if r.ms == 0 || r.served >= RECENT_SERVES {
        return crate::clock::Clock::reading(now_ms);
    }
    RECENT.with(|c| c.set(Recent { served: r.served + 1, ..r }));
    crate::clock::Clock::with_recent(now_ms, r.ms)
}

/// Counters on Envoy's `/stats` as `wasmcustom.datagate.*`.
struct Metrics {
    ids: RefCell<HashMap<String, u32>>,
    /// Every request counts one of these: batched in the VM, with the metric id
    /// kept beside the count (no name lookup per request).
    allowed: Batched,
    public: Batched,
    cache_hits: Batched,
}

/// A per-request counter counted in the VM and flushed every [`FLUSH_EVERY`]
/// and on each tick: a host call per request costs more than the rest of the
/// decision on the cached-token path.
struct Batched {
    counter: Counter<'static>,
    id: Cell<Option<u32>>,
    pending: Cell<i64>,
}

impl Batched {
    const fn new(counter: Counter<'static>) -> Batched {
        Batched { counter, id: Cell::new(None), pending: Cell::new(0) }
    }

    fn increment(&self) {
        let n = self.pending.get() + 1;
        self.pending.set(n);
        if n >= FLUSH_EVERY {
            self.flush();
        }
    }

    fn flush(&self) {
        let n = self.pending.take();
        if n == 0 {
            return;
        }
        let id = match self.id.get() {
            Some(id) => id,
            None => match hostcalls::define_metric(MetricType::Counter, &self.counter.name()) {
                Ok(id) => {
                    self.id.set(Some(id));
                    id
                }
                Err(_) => {
                    // Not counted now; kept for the next flush.
                    self.pending.set(n);
                    return;
                }
            },
        };
        let _ = hostcalls::increment_metric(id, n);
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            ids: RefCell::default(),
            allowed: Batched::new(Counter::Allowed),
            public: Batched::new(Counter::Public),
            cache_hits: Batched::new(Counter::CacheHit),
        }
    }
}

/// Batched counters reach Envoy at least this often (and on every tick).
const FLUSH_EVERY: i64 = crate::shared::FLUSH_EVERY as i64;

impl Metrics {
    fn id(&self, name: &str) -> Option<u32> {
        let mut ids = self.ids.borrow_mut();
        if let Some(id) = ids.get(name) {
            return Some(*id);
        }
        let id = hostcalls::define_metric(MetricType::Counter, name).ok()?;
        ids.insert(name.to_owned(), id);
        Some(id)
    }

    /// Counts one event: the per-request ones batched, the rest at once.
    fn count(&self, counter: Counter<'_>) {
        match counter {
            Counter::Allowed => self.allowed.increment(),
            Counter::Public => self.public.increment(),
            Counter::CacheHit => self.cache_hits.increment(),
            other => self.increment(&other.name()),
        }
    }

    /// Counts at once (rejections, fetches: rare, and tests read them).
    fn increment(&self, name: &str) {
        if let Some(id) = self.id(name) {
            let _ = hostcalls::increment_metric(id, 1);
        }
    }

    fn flush(&self) {
        for counter in [&self.allowed, &self.public, &self.cache_hits] {
            counter.flush();
        }
    }
}

/// What a worker's requests share (proxy-wasm runs each VM on one thread).
#[derive(Default)]
struct Shared {
    metrics: Metrics,
    /// Rate-limit tokens this worker leased, by tenant.
    leases: RefCell<crate::ratelimit::Leases>,
    /// Tokens this worker leased from tenants' global budgets.
    global_leases: RefCell<crate::global::GlobalLeases>,
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
        jwks::absorb(&self.shared, body_size);
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
                    jwks::init();
                }
                // Ticks flush batched counters and, with a remote JWKS, fetch the key
                // set (the first tick) and refresh it when due.
                self.set_tick_period(Duration::from_millis(500));
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
        self.shared.metrics.flush();
        // Also refreshes the recent reading requests answer from.
        let now = now_ms();
        let Some(cfg) = self.config.clone() else { return };
        let Some(remote) = &cfg.remote_jwks else { return };
        jwks::tick(remote, &self.shared, now);
    }

    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        let config = self.config.clone()?;
        Some(Box::new(edge::Edge::new(config, self.shared.clone())))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
