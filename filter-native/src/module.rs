//! The native host: a filter configuration's state, shared by every worker of
//! the process (config, counters, verified-token cache, remote keys); the
//! process-wide token buckets; one stream's state; and [`Host`] over
//! [`crate::envoy`]'s view of Envoy.

use crate::envoy::{ConfigEnvoy, HeaderCopy, LogLevel, SchedulerEnvoy, Status, StreamEnvoy};
use datagate_filter::auth::TokenStore;
use datagate_filter::clock::Clock;
use datagate_filter::config::{Config, VerifyKey};
use datagate_filter::edge::{Exchange, Host, KeyRefresh, Verdict};
use datagate_filter::global::{GlobalLeases, GlobalLimitConfig};
use datagate_filter::jwks::{self, RemoteJwks, RemoteKeys};
use datagate_filter::metrics::{self, Counter};
use datagate_filter::ratelimit::{Decision, Limit};
use datagate_filter::shared::{BatchedCounter, Buckets, Tokens};
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One budget per tenant for the whole Envoy process, kept across config
/// reloads (as proxy-wasm shared data is).
static BUCKETS: LazyLock<Buckets> = LazyLock::new(Buckets::default);

thread_local! {
    /// Each worker's buffer for copying request headers out of Envoy.
    static SCRATCH: Cell<HeaderCopy> = Cell::new(HeaderCopy::default());
}

/// How often batched counters are flushed and the background JWKS refresh is
/// considered (as the wasm build's tick).
const TICK: Duration = Duration::from_millis(500);

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}

/// A filter configuration, as Envoy holds it between `config_new` and `config_destroy`.
pub struct Module {
    shared: Arc<Shared>,
    /// Drives the counter flush and the background JWKS refresh; stopped when the config goes.
    _ticker: Option<Ticker>,
}

/// What every worker's streams of one configuration share.
struct Shared {
    config: Config,
    envoy: Box<dyn ConfigEnvoy>,
    /// Counter ids by name, defined up front (Envoy freezes stat creation after `config_new`).
    counters: HashMap<String, usize>,
    /// The counters every request counts: summed across workers, flushed in
    /// batches and on each tick (a metrics call per request is the hot path's
    /// costliest part after the header writes).
    allowed: BatchedCounter<usize>,
    public: BatchedCounter<usize>,
    cache_hits: BatchedCounter<usize>,
    tokens: Tokens,
    remote: RwLock<RemoteKeys>,
    /// Leases of global budgets: one set per process, every worker spends from it.
    global_leases: Mutex<GlobalLeases>,
}

/// Parses and validates the configuration; `None` (with every problem logged) refuses it.
pub fn config_new(envoy: Box<dyn ConfigEnvoy>, bytes: &[u8]) -> Option<Module> {
    let config = match Config::from_json(bytes) {
        Ok(config) => config,
        Err(e) => {
            envoy.log(LogLevel::Error, &e.to_string());
            return None;
        }
    };
    let counters: HashMap<String, usize> = metrics::all(config.rate_limit.as_ref())
        .into_iter()
        .filter_map(|name| envoy.define_counter(&name).map(|id| (name, id)))
        .collect();
    let id = |c: Counter<'_>| counters.get(c.name().as_ref()).copied();
    let batched = |c: Counter<'_>| BatchedCounter::new(id(c));
    let (allowed, public, cache_hits) =
        (batched(Counter::Allowed), batched(Counter::Public), batched(Counter::CacheHit));
    let shared = Arc::new(Shared {
        tokens: Tokens::new(config.token_cache_size),
        config,
        envoy,
        counters,
        allowed,
        public,
        cache_hits,
        remote: RwLock::default(),
        global_leases: Mutex::default(),
    });
    let ticker = Ticker::start(shared.envoy.as_ref());
    Some(Module { shared, _ticker: ticker })
}

impl Module {
    /// State for a new stream.
    pub fn stream(&self) -> Stream {
        Stream { shared: self.shared.clone(), exchange: Exchange::default(), waiting: Waiting::Nothing }
    }

    /// The main thread's tick: flush the batched counters; fetch the remote key
    /// set when it is due (one fetch per process: the keys live here, shared by
    /// every worker).
    pub fn tick(&self) {
        for batched in [&self.shared.allowed, &self.shared.public, &self.shared.cache_hits] {
            if let Some((id, n)) = batched.take() {
                self.shared.envoy.increment_counter(id, n);
            }
        }
        let Some(remote) = &self.shared.config.remote_jwks else { return };
        let now = now_ms();
        if !self.shared.claim_fetch(now, |r| r.refresh_due(remote, now)) {
            return;
        }
        if self.shared.envoy.http_callout(&remote.cluster, &fetch_headers(remote), remote.timeout_ms).is_none() {
            self.shared.fetch_refused(remote, &|c| self.shared.count_here(c));
        }
    }

    /// A main-thread fetch landed.
    pub fn absorb(&self, status: &str, body: &[u8]) {
        self.shared.absorb(status, body, &|c| self.shared.count_here(c));
    }
}

impl Shared {
    /// A counter counted at once (the rare ones: rejections, fetches, limits).
    fn counter(&self, counter: Counter<'_>) -> Option<usize> {
        self.counters.get(counter.name().as_ref()).copied()
    }

    /// The batched counter for `counter`, if it is one of the per-request ones.
    fn batched(&self, counter: Counter<'_>) -> Option<&BatchedCounter<usize>> {
        match counter {
            Counter::Allowed => Some(&self.allowed),
            Counter::Public => Some(&self.public),
            Counter::CacheHit => Some(&self.cache_hits),
            _ => None,
        }
    }

    /// Counts one event through `increment` (a stream's or the config's metrics call).
    fn count_with(&self, counter: Counter<'_>, increment: impl FnOnce(usize, u64)) {
        let due = match self.batched(counter) {
            Some(batched) => batched.increment(),
            None => self.counter(counter).map(|id| (id, 1)),
        };
        if let Some((id, n)) = due {
            increment(id, n);
        }
    }

    /// Counts from a thread with no stream at hand (the main thread).
    fn count_here(&self, counter: Counter<'_>) {
        self.count_with(counter, |id, n| self.envoy.increment_counter(id, n));
    }

    /// Marks a fetch as started if `allowed` says so (under the lock, so two workers never both fetch).
    fn claim_fetch(&self, now: u64, allowed: impl FnOnce(&RemoteKeys) -> bool) -> bool {
        let mut r = self.remote.write().unwrap_or_else(|p| p.into_inner());
        if !allowed(&r) {
            return false;
        }
        r.attempted_ms = Some(now);
        r.in_flight = true;
        true
    }

    fn fetch_refused(&self, remote: &RemoteJwks, count: &dyn Fn(Counter<'_>)) {
        self.remote.write().unwrap_or_else(|p| p.into_inner()).in_flight = false;
        count(Counter::JwksFetchFailed);
        self.envoy.log(LogLevel::Warn, &format!("datagate: cannot fetch the JWKS from cluster {}", remote.cluster));
    }

    /// Takes a fetch response: new keys replace the old ones (and the verified
    /// tokens, so a removed key stops working); a bad response keeps the old keys.
    fn absorb(&self, status: &str, body: &[u8], count: &dyn Fn(Counter<'_>)) {
        let parsed = if status == "200" { jwks::parse_body(body) } else { Err(format!("HTTP status {status:?}")) };
        let mut r = self.remote.write().unwrap_or_else(|p| p.into_inner());
        r.in_flight = false;
        match parsed {
            Ok(keys) => {
                r.keys = keys;
                r.fetched_ms = Some(now_ms());
                self.tokens.clear();
                count(Counter::JwksFetchOk);
            }
            Err(e) => {
                count(Counter::JwksFetchFailed);
                self.envoy
                    .log(LogLevel::Warn, &format!("datagate: remote JWKS refused, keeping the previous keys: {e}"));
            }
        }
    }
}

fn fetch_headers(remote: &RemoteJwks) -> [(&str, &str); 3] {
    [(":method", "GET"), (":path", remote.path.as_str()), (":authority", remote.authority.as_str())]
}

/// One HTTP stream.
pub struct Stream {
    shared: Arc<Shared>,
    exchange: Exchange,
    /// What the paused request waits for.
    waiting: Waiting,
}

/// The callout a paused stream waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    Nothing,
    /// The JWKS, re-fetched for an unknown key id.
    Keys,
    /// A lease of the tenant's global budget.
    Lease,
}

impl Stream {
    pub fn on_request_headers(&mut self, filter: &dyn StreamEnvoy) -> Status {
        self.decide(filter, true)
    }

    fn decide(&mut self, filter: &dyn StreamEnvoy, may_refetch: bool) -> Status {
        // The worker's buffer, reused: no allocation per request for the copy.
        // Taken (not borrowed) so a hook re-entered on this thread gets a fresh one.
        let mut copy = SCRATCH.with(|s| s.take());
        filter.request_headers(&mut copy);
        let status = self.decide_on(filter, &copy, may_refetch);
        SCRATCH.with(|s| s.set(copy));
        status
    }

    fn decide_on(&mut self, filter: &dyn StreamEnvoy, copy: &HeaderCopy, may_refetch: bool) -> Status {
        let headers = copy.pairs();
        let mut host = NativeHost { filter, shared: &self.shared, waiting: Waiting::Nothing };
        match self.exchange.on_request_headers(&self.shared.config, &mut host, &headers, may_refetch) {
            Verdict::Continue => Status::Continue,
            Verdict::Replied => Status::Stop,
            Verdict::Paused => {
                self.waiting = host.waiting;
                Status::Stop
            }
        }
    }

    /// This stream's callout landed (`status` empty when it failed).
    pub fn on_callout_done(&mut self, filter: &dyn StreamEnvoy, status: &str, body: &[u8]) {
        match std::mem::replace(&mut self.waiting, Waiting::Nothing) {
            Waiting::Keys => self.on_keys_fetched(filter, status, body),
            Waiting::Lease => {
                let shared = self.shared.clone();
                let mut host = NativeHost { filter, shared: &shared, waiting: Waiting::Nothing };
                if self.exchange.on_lease_response(&shared.config, &mut host, status, body) == Verdict::Continue {
                    filter.continue_decoding();
                }
            }
            Waiting::Nothing => {}
        }
    }

    /// This stream's re-fetch landed: keep the keys, then decide again (no second re-fetch).
    fn on_keys_fetched(&mut self, filter: &dyn StreamEnvoy, status: &str, body: &[u8]) {
        let shared = self.shared.clone();
        shared.absorb(status, body, &|c| shared.count_with(c, |id, n| filter.increment_counter(id, n)));
        if self.decide(filter, false) == Status::Continue {
            filter.continue_decoding();
        }
    }

    pub fn on_response_headers(&self, filter: &dyn StreamEnvoy) {
        // Replace, not add: an upstream's own rate-limit headers must not contradict ours.
        for (name, value) in self.exchange.response_headers() {
            filter.set_response_header(name, value);
        }
    }
}

/// [`Host`] over the dynamic-module ABI for one hook of one stream.
struct NativeHost<'a> {
    filter: &'a dyn StreamEnvoy,
    shared: &'a Shared,
    /// The callout this hook started, if any.
    waiting: Waiting,
}

impl Host for NativeHost<'_> {
    fn clock(&self) -> Clock {
        // A read here is a vDSO call, not a VM crossing: no recent reading to keep.
        Clock::reading(now_ms)
    }

    fn tag_request(&mut self, strip: &[&str], add: &[(&str, &str)]) {
        // A host call here is a function call: one per header is the cheapest way.
        for name in strip {
            self.filter.remove_request_header(name);
        }
        for (name, value) in add {
            self.filter.add_request_header(name, value);
        }
    }

    fn set_path(&mut self, path: &str) {
        self.filter.set_request_header(":path", path);
    }

    fn set_filter_state(&mut self, key: &str, value: &str) {
        self.filter.set_filter_state(key, value);
    }

    fn send_reply(&mut self, status: u32, headers: &[(&str, &str)], body: &[u8]) {
        self.filter.send_response(status, headers, body);
    }

    fn count(&mut self, counter: Counter<'_>) {
        let filter = self.filter;
        self.shared.count_with(counter, |id, n| filter.increment_counter(id, n));
    }

    fn with_tokens<R>(&mut self, f: impl FnOnce(&[VerifyKey], &mut dyn TokenStore) -> R) -> R {
        let remote = self.shared.remote.read().unwrap_or_else(|p| p.into_inner());
        f(&remote.keys, &mut self.shared.tokens.store())
    }

    fn spend(&mut self, tenant: &str, limit: &Limit, cost: f64, clock: &Clock) -> Option<Decision> {
        Some(BUCKETS.spend(tenant, limit, cost, clock.now_ms()))
    }

    fn refresh_keys(&mut self) -> KeyRefresh {
        // The keys are shared by every worker: there is nothing to adopt, only to fetch.
        let Some(remote) = &self.shared.config.remote_jwks else { return KeyRefresh::Unavailable };
        let now = now_ms();
        if !self.shared.claim_fetch(now, |r| r.refetch_allowed(remote, now)) {
            return KeyRefresh::Unavailable;
        }
        if self.filter.http_callout(&remote.cluster, &fetch_headers(remote), remote.timeout_ms).is_none() {
            let filter = self.filter;
            let shared = self.shared;
            shared.fetch_refused(remote, &|c| shared.count_with(c, |id, n| filter.increment_counter(id, n)));
            return KeyRefresh::Unavailable;
        }
        self.waiting = Waiting::Keys;
        KeyRefresh::Fetching
    }

    fn with_global_leases<R>(&mut self, f: impl FnOnce(&mut GlobalLeases) -> R) -> R {
        f(&mut self.shared.global_leases.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn request_lease(&mut self, global: &GlobalLimitConfig, path: &str) -> bool {
        let headers = [(":method", "GET"), (":path", path), (":authority", global.authority.as_str())];
        if self.filter.http_callout(&global.cluster, &headers, global.timeout_ms).is_none() {
            return false;
        }
        self.waiting = Waiting::Lease;
        true
    }
}

/// A thread that asks the main thread to tick every [`TICK`] (the ABI has
/// schedulers but no timers). Stopped, and its scheduler deleted, on drop.
struct Ticker {
    state: Arc<TickerState>,
}

struct TickerState {
    stop: AtomicBool,
    scheduler: Mutex<Option<Box<dyn SchedulerEnvoy>>>,
}

impl Ticker {
    fn start(envoy: &dyn ConfigEnvoy) -> Option<Ticker> {
        let scheduler = envoy.scheduler()?;
        // The first tick at once: the keys are fetched before traffic needs them.
        scheduler.commit(0);
        let state = Arc::new(TickerState { stop: AtomicBool::new(false), scheduler: Mutex::new(Some(scheduler)) });
        let thread_state = state.clone();
        let spawned = std::thread::Builder::new().name("datagate-tick".into()).spawn(move || loop {
            std::thread::sleep(TICK);
            if thread_state.stop.load(Ordering::Acquire) {
                return;
            }
            if let Some(s) = thread_state.scheduler.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                s.commit(0);
            }
        });
        if spawned.is_err() {
            envoy.log(LogLevel::Warn, "datagate: no tick thread: counters flush per batch, keys are fetched once");
        }
        Some(Ticker { state })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Release);
        // Deleted under the lock: no commit can race it.
        self.state.scheduler.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}
