//! The per-request context: strip spoofed identity headers, authenticate,
//! authorize, charge the rate limit, tag the request — or answer it.

use super::{buckets, jwks, now_ms, Shared};
use crate::auth::{self, Identity, Outcome, Request, PLAN_HEADER, SUBJECT_HEADER, TENANT_HEADER};
use crate::config::Config;
use crate::ratelimit;
use crate::reject::Rejection;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;
use std::rc::Rc;

pub struct Edge {
    config: Rc<Config>,
    shared: Rc<Shared>,
    /// Rate-limit headers for the response (the remaining budget rides on successes too).
    response_headers: Vec<(&'static str, String)>,
    /// Paused while the JWKS is re-fetched for an unknown key id.
    waiting_for_keys: bool,
}

impl Edge {
    pub fn new(config: Rc<Config>, shared: Rc<Shared>) -> Edge {
        Edge { config, shared, response_headers: Vec::new(), waiting_for_keys: false }
    }

    fn reject(&self, rejection: &Rejection) -> Action {
        self.shared.metrics.increment(&format!("datagate.rejected.{}", rejection.reason));
        let headers = rejection.headers();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.send_http_response(rejection.status, headers, Some(&rejection.body()));
        Action::Pause
    }

    /// The whole decision for the request; `may_refetch` allows one JWKS
    /// re-fetch when the token names a key id we do not know.
    fn decide(&mut self, may_refetch: bool) -> Action {
        // One host call for the whole map, read in place: it serves the spoofing
        // scan and every lookup below (each host call crosses the VM boundary).
        let buffer = super::request_header_buffer();
        let headers = crate::headermap::pairs(&buffer).unwrap_or_default();
        for (name, _) in &headers {
            if auth::is_identity_header(name) {
                self.set_http_request_header(name, None);
            }
        }
        let find = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| *v);
        let path = find(":path").unwrap_or_default();
        let path = path.split('?').next().unwrap_or_default();
        let method = find(":method").unwrap_or_default();
        let now_ms = now_ms(self);
        let now = now_ms / 1000;
        let request = Request { method, path, header: &find };
        let (decision, cache_hit) = {
            let remote = self.shared.remote.borrow();
            match self.shared.cache.try_borrow_mut() {
                Ok(mut cache) => {
                    let hits = cache.hits();
                    let d = auth::authenticate(&self.config, &remote.keys, &request, now, &mut cache);
                    (d, cache.hits() > hits)
                }
                // Unreachable on proxy-wasm's single thread; verify without the cache rather than fail.
                Err(_) => {
                    (auth::authenticate(&self.config, &remote.keys, &request, now, &mut Default::default()), false)
                }
            }
        };
        if cache_hit {
            self.shared.metrics.cache_hits.increment();
        }
        match decision {
            Ok(Outcome::Public) => {
                self.shared.metrics.public.increment();
                Action::Continue
            }
            Ok(Outcome::Authenticated(id)) => self.admit(&id, method, path, now_ms),
            // Another worker may already hold the new key set: adopt it and decide
            // again (once: a second adoption finds nothing newer) before fetching.
            Err(rejection)
                if rejection.reason == "unknown_kid"
                    && may_refetch
                    && self.config.remote_jwks.is_some()
                    && jwks::adopt(&self.shared) =>
            {
                self.decide(true)
            }
            Err(rejection) if rejection.reason == "unknown_kid" && may_refetch && self.refetch() => {
                self.waiting_for_keys = true;
                Action::Pause
            }
            Err(rejection) => self.reject(&rejection),
        }
    }

    /// Starts a JWKS re-fetch if one is configured and allowed now.
    fn refetch(&self) -> bool {
        let Some(remote) = &self.config.remote_jwks else { return false };
        let now = now_ms(self);
        if !self.shared.remote.borrow().refetch_allowed(remote, now) {
            return false;
        }
        self.shared.metrics.increment("datagate.jwks.refetch_unknown_kid");
        jwks::fetch(self, remote, &self.shared, now)
    }

    fn admit(&mut self, id: &Identity, method: &str, path: &str, now_ms: u64) -> Action {
        let plan = match self.charge(id, method, path, now_ms) {
            Ok(plan) => plan,
            Err(rejection) => return self.reject(&rejection),
        };
        // Identity headers were all stripped in `decide`: adding is enough (and cheaper than replacing).
        self.add_http_request_header(TENANT_HEADER, &id.tenant);
        // Filter state for access logs and later filters: %FILTER_STATE(wasm.datagate_tenant:PLAIN)%.
        self.set_property(vec!["datagate_tenant"], Some(id.tenant.as_bytes()));
        if let Some(plan) = &plan {
            self.add_http_request_header(PLAN_HEADER, plan);
            self.set_property(vec!["datagate_plan"], Some(plan.as_bytes()));
        }
        if let Some(sub) = &id.subject {
            self.add_http_request_header(SUBJECT_HEADER, sub);
        }
        self.shared.metrics.allowed.increment();
        Action::Continue
    }

    /// Charges the tenant's bucket; a rejection when over budget (and not in shadow mode).
    fn charge(&mut self, id: &Identity, method: &str, path: &str, now_ms: u64) -> Result<Option<String>, Rejection> {
        let Some(rl) = &self.config.rate_limit else { return Ok(id.plan.clone()) };
        let Some((plan, limit)) = rl.limit_for(&id.tenant, id.plan.as_deref()) else { return Ok(id.plan.clone()) };
        let cost = rl.cost(method, path);
        let local = self.shared.leases.borrow_mut().spend(&id.tenant, &limit, cost, now_ms);
        let d = match local {
            Some(d) => d,
            None => {
                let Some((d, lease)) = buckets::spend(&buckets::key(&id.tenant), &limit, cost, now_ms) else {
                    // The limiter must not take the API down with it: let the request through, loudly.
                    self.shared.metrics.increment("datagate.ratelimit.errors");
                    return Ok(Some(plan));
                };
                self.shared.leases.borrow_mut().store(&id.tenant, lease);
                d
            }
        };
        if !d.allowed {
            // Per-tenant counters only for configured tenants: bounded stat cardinality.
            let who = if rl.tenants.contains_key(&id.tenant) { id.tenant.as_str() } else { "other" };
            self.shared.metrics.increment(&format!("datagate.ratelimit.limited.{who}"));
            if rl.shadow {
                self.shared.metrics.increment("datagate.ratelimit.shadow_limited");
            } else {
                let mut headers = ratelimit::headers(&plan, &limit, &d);
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
        self.response_headers = vec![ratelimit::remaining_header(&plan, &d)];
        Ok(Some(plan))
    }
}

impl Context for Edge {
    fn on_http_call_response(&mut self, _token: u32, _headers: usize, body_size: usize, _trailers: usize) {
        jwks::absorb(self, &self.shared, body_size);
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
        for (name, value) in &self.response_headers {
            self.set_http_response_header(name, Some(value));
        }
        Action::Continue
    }
}
