//! The per-request flow, the same for every host: strip spoofed identity
//! headers, authenticate, authorize, charge the tenant's bucket, then tag the
//! request — or answer it. Everything that touches Envoy goes through [`Host`],
//! which each host (proxy-wasm, the native dynamic module, the tests' fake)
//! implements; nothing here knows which one it runs in.

use crate::auth::{self, Outcome, Request, TokenStore};
use crate::config::{Config, VerifyKey};
use crate::identity::{self, Identity, PLAN_HEADER, PLAN_STATE, SUBJECT_HEADER, TENANT_HEADER, TENANT_STATE};
use crate::metrics::{Counter, OTHER_TENANT};
use crate::ratelimit::{self, Decision, Limit};
use crate::reject::Rejection;
use std::sync::Arc;

/// What the flow needs from Envoy. Reading the request headers is not here:
/// each host reads them once, in its own cheapest way, and hands them in.
pub trait Host {
    /// Wall-clock time, Unix milliseconds.
    fn now_ms(&self) -> u64;
    /// Removes a request header (every value).
    fn remove_request_header(&mut self, name: &str);
    /// Adds a request header (callers removed any earlier value first).
    fn add_request_header(&mut self, name: &str, value: &str);
    /// Sets a filter-state value for access logs and later filters.
    fn set_filter_state(&mut self, key: &str, value: &str);
    /// Answers the request locally.
    fn send_reply(&mut self, status: u32, headers: &[(&str, &str)], body: &[u8]);
    /// Counts one event.
    fn count(&mut self, counter: Counter<'_>);
    /// Runs `f` with the fetched remote keys and the verified-token store.
    fn with_tokens<R>(&mut self, f: impl FnOnce(&[VerifyKey], &mut dyn TokenStore) -> R) -> R;
    /// Spends `cost` from the tenant's bucket; `None` when the limiter's
    /// storage failed (the request then passes, counted as an error).
    fn spend(&mut self, tenant: &str, limit: &Limit, cost: f64, now_ms: u64) -> Option<Decision>;
    /// A token named a key id no key has: get newer keys if that is possible now.
    fn refresh_keys(&mut self) -> KeyRefresh;
}

/// What [`Host::refresh_keys`] could do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefresh {
    /// Newer keys were already at hand (another worker fetched them): decide again.
    Adopted,
    /// A fetch started: pause; the host decides again when it lands.
    Fetching,
    /// Nothing newer now (no remote JWKS, or re-fetched too recently).
    Unavailable,
}

/// What the host does with the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Forward it (headers already tagged).
    Continue,
    /// It was answered locally.
    Replied,
    /// Hold it until [`Host::refresh_keys`]'s fetch lands.
    Paused,
}

/// One request's state across its phases.
#[derive(Debug, Default)]
pub struct Exchange {
    /// Rate-limit headers for the response (the remaining budget rides on successes too).
    response_headers: Vec<(&'static str, String)>,
}

impl Exchange {
    /// The request-headers phase. `headers` are every request header as the
    /// host read them; `may_refetch` allows one JWKS re-fetch for an unknown key id.
    pub fn on_request_headers<H: Host>(
        &mut self,
        cfg: &Config,
        host: &mut H,
        headers: &[(&str, &str)],
        may_refetch: bool,
    ) -> Verdict {
        for (name, _) in headers {
            if identity::is_identity_header(name) {
                host.remove_request_header(name);
            }
        }
        self.decide(cfg, host, headers, may_refetch)
    }

    /// Headers to set (replace) on the response.
    pub fn response_headers(&self) -> &[(&'static str, String)] {
        &self.response_headers
    }

    fn decide<H: Host>(&mut self, cfg: &Config, host: &mut H, headers: &[(&str, &str)], may_refetch: bool) -> Verdict {
        let find = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| *v);
        let path = find(":path").unwrap_or_default();
        let path = path.split('?').next().unwrap_or_default();
        let method = find(":method").unwrap_or_default();
        let now_ms = host.now_ms();
        let request = Request { method, path, headers };
        let (decision, cache_hit) = host.with_tokens(|keys, store| {
            let mut counting = Counting { store, hit: false };
            let d = auth::authenticate(cfg, keys, &request, now_ms / 1000, &mut counting);
            (d, counting.hit)
        });
        if cache_hit {
            host.count(Counter::CacheHit);
        }
        match decision {
            Ok(Outcome::Public) => {
                host.count(Counter::Public);
                Verdict::Continue
            }
            Ok(Outcome::Authenticated(id)) => self.admit(cfg, host, &id, method, path, now_ms),
            Err(rejection) if rejection.reason == "unknown_kid" && may_refetch && cfg.remote_jwks.is_some() => {
                match host.refresh_keys() {
                    // Adopting only ever moves to strictly newer keys, so this ends.
                    KeyRefresh::Adopted => self.decide(cfg, host, headers, true),
                    KeyRefresh::Fetching => {
                        host.count(Counter::RefetchUnknownKid);
                        Verdict::Paused
                    }
                    KeyRefresh::Unavailable => reject(host, &rejection),
                }
            }
            Err(rejection) => reject(host, &rejection),
        }
    }

    fn admit<H: Host>(
        &mut self,
        cfg: &Config,
        host: &mut H,
        id: &Identity,
        method: &str,
        path: &str,
        now_ms: u64,
    ) -> Verdict {
        let plan = match self.charge(cfg, host, id, method, path, now_ms) {
            Ok(plan) => plan,
            Err(rejection) => return reject(host, &rejection),
        };
        // Identity headers were all stripped first: adding is enough (and cheaper than replacing).
        host.add_request_header(TENANT_HEADER, &id.tenant);
        host.set_filter_state(TENANT_STATE, &id.tenant);
        if let Some(plan) = &plan {
            host.add_request_header(PLAN_HEADER, plan);
            host.set_filter_state(PLAN_STATE, plan);
        }
        if let Some(sub) = &id.subject {
            host.add_request_header(SUBJECT_HEADER, sub);
        }
        host.count(Counter::Allowed);
        Verdict::Continue
    }

    /// Charges the tenant's bucket: the plan counted against, or a rejection
    /// when over budget (and not in shadow mode).
    fn charge<H: Host>(
        &mut self,
        cfg: &Config,
        host: &mut H,
        id: &Identity,
        method: &str,
        path: &str,
        now_ms: u64,
    ) -> Result<Option<String>, Rejection> {
        let Some(rl) = &cfg.rate_limit else { return Ok(id.plan.clone()) };
        let Some((plan, limit)) = rl.limit_for(&id.tenant, id.plan.as_deref()) else { return Ok(id.plan.clone()) };
        let cost = rl.cost(method, path);
        let Some(d) = host.spend(&id.tenant, &limit, cost, now_ms) else {
            // The limiter must not take the API down with it: let the request through, loudly.
            host.count(Counter::RateLimitErrors);
            return Ok(Some(plan));
        };
        if !d.allowed {
            // Per-tenant counters only for configured tenants: bounded stat cardinality.
            let who = if rl.tenants.contains_key(&id.tenant) { id.tenant.as_str() } else { OTHER_TENANT };
            host.count(Counter::Limited(who));
            if rl.shadow {
                host.count(Counter::ShadowLimited);
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

/// Answers with a rejection, counted by reason.
fn reject<H: Host>(host: &mut H, rejection: &Rejection) -> Verdict {
    host.count(Counter::Rejected(rejection.reason));
    let headers = rejection.headers();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    host.send_reply(rejection.status, &headers, &rejection.body());
    Verdict::Replied
}

/// The host's token store, noting whether this request was answered from it.
struct Counting<'a> {
    store: &'a mut dyn TokenStore,
    hit: bool,
}

impl TokenStore for Counting<'_> {
    fn get(&mut self, token: &str, now: u64) -> Option<Arc<Identity>> {
        let found = self.store.get(token, now);
        self.hit |= found.is_some();
        found
    }
    fn insert(&mut self, token: &str, identity: Arc<Identity>, exp: u64, now: u64) {
        self.store.insert(token, identity, exp, now);
    }
}

#[cfg(test)]
mod tests;
