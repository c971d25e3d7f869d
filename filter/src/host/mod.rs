//! The proxy-wasm adapter: reads the plugin configuration once, then hands each
//! request's headers to [`crate::auth`] and applies the decision. Nothing here
//! decides anything; it only moves data between Envoy and the pure logic.

// `proxy_wasm::main!` expands to the `#[no_mangle]` module entry point.
#![allow(unsafe_code)]

mod buckets;

use crate::auth::{self, Identity, Outcome, Request, PLAN_HEADER, SUBJECT_HEADER, TENANT_HEADER};
use crate::cache::TokenCache;
use crate::config::Config;
use crate::ratelimit;
use crate::reject::Rejection;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MetricType};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::UNIX_EPOCH;

proxy_wasm::main! {{
    // Also installs a panic hook that logs instead of silently killing the VM.
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
}}

fn log(level: LogLevel, message: &str) {
    // Logging failures have nowhere to be reported; dropping them is the only option.
    let _ = hostcalls::log(level, message);
}

/// Counters on Envoy's `/stats` as `wasmcustom.datagate.*`.
#[derive(Default)]
struct Metrics {
    ids: std::cell::RefCell<HashMap<String, u32>>,
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

/// One per worker VM: configuration, counters and the token cache are shared
/// by that worker's requests (proxy-wasm runs each VM on one thread).
#[derive(Default)]
struct Root {
    config: Option<Rc<Config>>,
    metrics: Rc<Metrics>,
    cache: Rc<RefCell<TokenCache>>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        match Config::from_json(&bytes) {
            Ok(cfg) => {
                if cfg.rate_limit.is_some() {
                    buckets::init();
                }
                self.cache = Rc::new(RefCell::new(TokenCache::new(cfg.token_cache_size)));
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

    fn create_http_context(&self, _id: u32) -> Option<Box<dyn HttpContext>> {
        let config = self.config.clone()?;
        Some(Box::new(Edge {
            config,
            metrics: self.metrics.clone(),
            cache: self.cache.clone(),
            response_headers: Vec::new(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Edge {
    config: Rc<Config>,
    metrics: Rc<Metrics>,
    cache: Rc<RefCell<TokenCache>>,
    /// Rate-limit headers for the response (the remaining budget rides on successes too).
    response_headers: Vec<(&'static str, String)>,
}

impl Edge {
    fn reject(&self, rejection: &Rejection) -> Action {
        self.metrics.increment(&format!("datagate.rejected.{}", rejection.reason));
        let headers = rejection.headers();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.send_http_response(rejection.status, headers, Some(&rejection.body()));
        Action::Pause
    }

    /// Charges the tenant's bucket; a rejection when over budget (and not in shadow mode).
    fn charge(&mut self, id: &Identity, method: &str, path: &str) -> Result<Option<String>, Rejection> {
        let Some(rl) = &self.config.rate_limit else { return Ok(id.plan.clone()) };
        let Some((plan, limit)) = rl.limit_for(&id.tenant, id.plan.as_deref()) else { return Ok(id.plan.clone()) };
        let cost = rl.cost(method, path);
        let now_ms =
            self.get_current_time().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default();
        let Some(d) = buckets::spend(&buckets::key(&id.tenant), &limit, cost, now_ms) else {
            // The limiter must not take the API down with it: let the request through, loudly.
            self.metrics.increment("datagate.ratelimit.errors");
            return Ok(Some(plan));
        };
        let headers = ratelimit::headers(&plan, &limit, &d);
        if !d.allowed {
            // Per-tenant counters only for configured tenants: bounded stat cardinality.
            let who = if rl.tenants.contains_key(&id.tenant) { id.tenant.as_str() } else { "other" };
            self.metrics.increment(&format!("datagate.ratelimit.limited.{who}"));
            if rl.shadow {
                self.metrics.increment("datagate.ratelimit.shadow_limited");
            } else {
                let mut headers = headers;
                headers.push(("retry-after", d.retry_after_s.to_string()));
                return Err(Rejection::rate_limited(
                    format!(
                        "rate limit exceeded: {} requests per second (plan {plan}); retry in {} s",
                        limit.requests_per_second, d.retry_after_s
                    ),
                    headers,
                ));
            }
        }
        self.response_headers = headers;
        Ok(Some(plan))
    }
}

impl Context for Edge {}

impl HttpContext for Edge {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        // One host call for the whole map: it serves the spoofing scan and every
        // lookup below (each host call crosses the VM boundary).
        let headers = self.get_http_request_headers();
        for (name, _) in &headers {
            if auth::is_identity_header(name) {
                self.set_http_request_header(name, None);
            }
        }
        let find = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        let path = find(":path").unwrap_or_default();
        let path = path.split('?').next().unwrap_or_default();
        let now = self.get_current_time().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        let lookup = |name: &str| find(name).map(str::to_owned);
        let method = find(":method").unwrap_or_default();
        let request = Request { method, path, header: &lookup };
        let decision = match self.cache.try_borrow_mut() {
            Ok(mut cache) => auth::authenticate(&self.config, &request, now, &mut cache),
            // Unreachable on proxy-wasm's single thread; verify without the cache rather than fail.
            Err(_) => auth::authenticate(&self.config, &request, now, &mut TokenCache::new(0)),
        };
        match decision {
            Ok(Outcome::Public) => {
                self.metrics.increment("datagate.public");
                Action::Continue
            }
            Ok(Outcome::Authenticated(id)) => {
                let (method, path) = (method.to_owned(), path.to_owned());
                let plan = match self.charge(&id, &method, &path) {
                    Ok(plan) => plan,
                    Err(rejection) => return self.reject(&rejection),
                };
                self.set_http_request_header(TENANT_HEADER, Some(&id.tenant));
                // Filter state for access logs and later filters: %FILTER_STATE(wasm.datagate_tenant:PLAIN)%.
                self.set_property(vec!["datagate_tenant"], Some(id.tenant.as_bytes()));
                if let Some(plan) = &plan {
                    self.set_property(vec!["datagate_plan"], Some(plan.as_bytes()));
                }
                if let Some(sub) = &id.subject {
                    self.set_http_request_header(SUBJECT_HEADER, Some(sub));
                }
                if let Some(plan) = &plan {
                    self.set_http_request_header(PLAN_HEADER, Some(plan));
                }
                self.metrics.increment("datagate.allowed");
                Action::Continue
            }
            Err(rejection) => self.reject(&rejection),
        }
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        for (name, value) in &self.response_headers {
            self.set_http_response_header(name, Some(value));
        }
        Action::Continue
    }
}
