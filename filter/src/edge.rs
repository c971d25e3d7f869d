//! The per-request flow, the same for every host: strip spoofed identity
//! headers, authenticate, authorize, charge the tenant's bucket, then tag the
//! request — or answer it. Everything that touches Envoy goes through [`Host`],
//! which each host (proxy-wasm, the native dynamic module, the tests' fake)
//! implements; nothing here knows which one it runs in.

use crate::auth::{self, Outcome, Request, TokenStore};
use crate::clock::Clock;
use crate::config::{Config, VerifyKey};
use crate::global::{FailureMode, GlobalLeases, GlobalLimitConfig, Grant, LeaseRequest};
use crate::identity::{self, Identity, PLAN_HEADER, PLAN_STATE, SUBJECT_HEADER, TENANT_HEADER, TENANT_STATE};
use crate::metrics::{Counter, OTHER_TENANT};
use crate::ratelimit::{self, Bucket, Decision, Limit, RateLimitConfig};
use crate::reject::Rejection;
use std::borrow::Cow;
use std::sync::Arc;

/// What the flow needs from Envoy. Reading the request headers is not here:
/// each host reads them once, in its own cheapest way, and hands them in.
pub trait Host {
    /// The wall clock for one request (see [`Clock`]: in the proxy-wasm build
    /// a read is a host call, so the flow reads it only where it must).
    fn clock(&self) -> Clock;
    /// Changes the request headers: removes every value of each header in
    /// `strip` (inbound identity headers), then adds `add` (the filter's own).
    /// The whole change in one method, so each host makes it its cheapest way;
    /// never called with both empty.
    fn tag_request(&mut self, strip: &[&str], add: &[(&str, &str)]);
    /// Replaces the request's `:path` (see [`crate::target`]).
    fn set_path(&mut self, path: &str);
    /// Sets a filter-state value for access logs and later filters.
    fn set_filter_state(&mut self, key: &str, value: &str);
    /// Answers the request locally.
    fn send_reply(&mut self, status: u32, headers: &[(&str, &str)], body: &[u8]);
    /// Counts one event.
    fn count(&mut self, counter: Counter<'_>);
    /// Runs `f` with the fetched remote keys and the verified-token store.
    fn with_tokens<R>(&mut self, f: impl FnOnce(&[VerifyKey], &mut dyn TokenStore) -> R) -> R;
    /// Spends `cost` from the tenant's bucket at `clock`'s time (a bucket's
    /// refill takes the exact time; a worker's own lease may go by the recent
    /// reading); `None` when the limiter's storage failed (the request then
    /// passes, counted as an error).
    fn spend(&mut self, tenant: &str, limit: &Limit, cost: f64, clock: &Clock) -> Option<Decision>;
    /// A token named a key id no key has: get newer keys if that is possible now.
    fn refresh_keys(&mut self) -> KeyRefresh;
    /// Runs `f` on this host's leases of global budgets (one set per worker,
    /// or per process where workers share memory).
    fn with_global_leases<R>(&mut self, f: impl FnOnce(&mut GlobalLeases) -> R) -> R;
    /// Starts a lease call: GET `path` on `global.cluster`; false if the host
    /// refused it. The host hands the answer to [`Exchange::on_lease_response`].
    fn request_lease(&mut self, global: &GlobalLimitConfig, path: &str) -> bool;
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
    /// Hold it until [`Host::refresh_keys`]'s fetch or [`Host::request_lease`]'s call lands.
    Paused,
}

/// One request's state across its phases.
#[derive(Debug, Default)]
pub struct Exchange {
    /// The rate-limit header for the response (the remaining budget rides on
    /// successes too): one header, so no `Vec` to allocate per request.
    response_header: Option<(&'static str, String)>,
    /// The request waiting for a lease call.
    pending: Option<Pending>,
}

/// What a request paused for a lease call needs when the answer lands.
#[derive(Debug)]
struct Pending {
    id: Arc<Identity>,
    plan: String,
    limit: Limit,
    cost: f64,
}

/// What charging a request's budget came to.
enum Charge<'a> {
    /// Pass, counted against this plan (borrowed from the config or identity when it can be).
    Pass(Option<Cow<'a, str>>),
    /// Answer with this.
    Refuse(Rejection),
    /// A lease call is out: pause.
    Wait,
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
        // Stripped with the tagging (or before an answer or a pause), not here: the
        // whole header change in one Host call. No allocation when nothing is spoofed.
        let strip: Vec<&str> =
            headers.iter().map(|(name, _)| *name).filter(|name| identity::is_identity_header(name)).collect();
        // Before anything can pause the request: whatever happens next, the
        // upstream gets a target it can parse (a scan; a host call only when needed).
        if let Some(path) = headers.iter().find(|(k, _)| *k == ":path").and_then(|(_, p)| crate::target::normalized(p))
        {
            host.set_path(&path);
        }
        self.decide(cfg, host, headers, &strip, may_refetch)
    }

    /// A lease call landed (`status` as the HTTP status text, `""` when the
    /// call failed outright): finish the paused request.
    pub fn on_lease_response<H: Host>(&mut self, cfg: &Config, host: &mut H, status: &str, body: &[u8]) -> Verdict {
        let (Some(p), Some(rl), Some(global)) = (self.pending.take(), &cfg.rate_limit, &cfg.global_limit) else {
            return Verdict::Continue;
        };
        let now_ms = host.clock().now_ms();
        let charge = match Grant::parse(status, body) {
            Ok(grant) => {
                let spent = host.with_global_leases(|leases| {
                    if grant.granted > 0.0 {
                        leases.add(&p.id.tenant, grant.granted, global.lease_ttl_ms, now_ms);
                    }
                    leases.spend(&p.id.tenant, p.cost, now_ms)
                });
                match spent {
                    Some(left) => {
                        let d = global_decision(&p.limit, left + grant.left, 0, now_ms);
                        self.response_header = Some(ratelimit::remaining_header(&p.plan, &d));
                        Charge::Pass(Some(Cow::Borrowed(&p.plan)))
                    }
                    None => {
                        let d = Decision {
                            allowed: false,
                            ..global_decision(&p.limit, grant.left.max(0.0), grant.retry_after_s.max(1), now_ms)
                        };
                        over_budget(rl, host, &p.id, Cow::Borrowed(&p.plan), &p.limit, &d)
                    }
                }
            }
            Err(_) => lease_failed(global, host, Cow::Borrowed(&p.plan)),
        };
        // The spoofed headers went when the request paused.
        self.finish(cfg, host, &p.id, charge, &[])
    }

    /// Headers to set (replace) on the response.
    pub fn response_headers(&self) -> &[(&'static str, String)] {
        self.response_header.as_slice()
    }

    fn decide<H: Host>(
        &mut self,
        cfg: &Config,
        host: &mut H,
        headers: &[(&str, &str)],
        strip: &[&str],
        may_refetch: bool,
    ) -> Verdict {
        let find = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| *v);
        let path = find(":path").unwrap_or_default();
        let path = path.split('?').next().unwrap_or_default();
        let method = find(":method").unwrap_or_default();
        // Read lazily: a cached token far from its `exp` and a worker's lease need no exact time.
        let clock = host.clock();
        let request = Request { method, path, headers };
        let (decision, cache_hit) = host.with_tokens(|keys, store| {
            let mut counting = Counting { store, hit: false };
            let d = auth::authenticate_with(cfg, keys, &request, &clock, &mut counting);
            (d, counting.hit)
        });
        if cache_hit {
            host.count(Counter::CacheHit);
        }
        match decision {
            Ok(Outcome::Public) => {
                host.count(Counter::Public);
                strip_now(host, strip);
                Verdict::Continue
            }
            Ok(Outcome::Authenticated(id)) => self.admit(cfg, host, &id, method, path, &clock, strip),
            Err(rejection) if rejection.reason == "unknown_kid" && may_refetch && cfg.remote_jwks.is_some() => {
                match host.refresh_keys() {
                    // Adopting only ever moves to strictly newer keys, so this ends.
                    KeyRefresh::Adopted => self.decide(cfg, host, headers, strip, true),
                    KeyRefresh::Fetching => {
                        host.count(Counter::RefetchUnknownKid);
                        strip_now(host, strip);
                        Verdict::Paused
                    }
                    KeyRefresh::Unavailable => reject(host, strip, &rejection),
                }
            }
            Err(rejection) => reject(host, strip, &rejection),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn admit<H: Host>(
        &mut self,
        cfg: &Config,
        host: &mut H,
        id: &Arc<Identity>,
        method: &str,
        path: &str,
        clock: &Clock,
        strip: &[&str],
    ) -> Verdict {
        let charge = self.charge(cfg, host, id, method, path, clock);
        self.finish(cfg, host, id, charge, strip)
    }

    /// Tags and passes the request, or answers it, or pauses it; `strip` are
    /// the spoofed identity headers still on the request.
    fn finish<H: Host>(
        &mut self,
        cfg: &Config,
        host: &mut H,
        id: &Arc<Identity>,
        charge: Charge,
        strip: &[&str],
    ) -> Verdict {
        let plan = match charge {
            Charge::Pass(plan) => plan,
            Charge::Refuse(rejection) => return reject(host, strip, &rejection),
            Charge::Wait => {
                strip_now(host, strip);
                return Verdict::Paused;
            }
        };
        if cfg.filter_state {
            host.set_filter_state(TENANT_STATE, &id.tenant);
            if let Some(plan) = &plan {
                host.set_filter_state(PLAN_STATE, plan);
            }
        }
        // The spoofed identity headers go in the same call: adding is then enough.
        // On the stack: no allocation per request.
        let mut add = [(TENANT_HEADER, id.tenant.as_str()), ("", ""), ("", "")];
        let mut n = 1;
        if let Some(plan) = &plan {
            add[n] = (PLAN_HEADER, plan);
            n += 1;
        }
        if let Some(sub) = &id.subject {
            add[n] = (SUBJECT_HEADER, sub);
            n += 1;
        }
        host.tag_request(strip, &add[..n]);
        host.count(Counter::Allowed);
        Verdict::Continue
    }

    /// Charges the tenant's bucket (this Envoy's, or its lease of the global
    /// one): the plan counted against, a rejection when over budget (and not
    /// in shadow mode), or a wait for a lease call.
    fn charge<'a, H: Host>(
        &mut self,
        cfg: &'a Config,
        host: &mut H,
        id: &'a Arc<Identity>,
        method: &str,
        path: &str,
        clock: &Clock,
    ) -> Charge<'a> {
        let claimed = id.plan.as_deref();
        let Some(rl) = &cfg.rate_limit else { return Charge::Pass(claimed.map(Cow::Borrowed)) };
        let Some((plan, limit)) = rl.limit_for(&id.tenant, claimed) else {
            return Charge::Pass(claimed.map(Cow::Borrowed));
        };
        let cost = rl.cost(method, path);
        if let Some(global) = &cfg.global_limit {
            return self.charge_global(global, host, id, plan, limit, cost, clock.now_ms());
        }
        let Some(d) = host.spend(&id.tenant, &limit, cost, clock) else {
            // The limiter must not take the API down with it: let the request through, loudly.
            host.count(Counter::RateLimitErrors);
            return Charge::Pass(Some(plan));
        };
        if !d.allowed {
            return over_budget(rl, host, id, plan, &limit, &d);
        }
        self.response_header = Some(ratelimit::remaining_header(&plan, &d));
        Charge::Pass(Some(plan))
    }

    /// Spends from the host's lease of the tenant's global budget, or asks the
    /// lease service for more (the request waits for the answer).
    #[allow(clippy::too_many_arguments)]
    fn charge_global<'a, H: Host>(
        &mut self,
        global: &GlobalLimitConfig,
        host: &mut H,
        id: &Arc<Identity>,
        plan: Cow<'a, str>,
        limit: Limit,
        cost: f64,
        now_ms: u64,
    ) -> Charge<'a> {
        if let Some(left) = host.with_global_leases(|leases| leases.spend(&id.tenant, cost, now_ms)) {
            // What this holder still has: the fleet-wide rest is unknown until the next call.
            self.response_header = Some(ratelimit::remaining_header(&plan, &global_decision(&limit, left, 0, now_ms)));
            return Charge::Pass(Some(plan));
        }
        let request = LeaseRequest {
            tenant: id.tenant.clone(),
            want: global.lease_size.max(cost),
            min: cost,
            rate: limit.requests_per_second,
            burst: limit.burst,
        };
        if !host.request_lease(global, &request.path()) {
            return lease_failed(global, host, plan);
        }
        self.pending = Some(Pending { id: id.clone(), plan: plan.into_owned(), limit, cost });
        Charge::Wait
    }
}

/// A tenant over its budget: 429 with the rate-limit headers, or (shadow mode) a pass.
fn over_budget<'a, H: Host>(
    rl: &RateLimitConfig,
    host: &mut H,
    id: &Identity,
    plan: Cow<'a, str>,
    limit: &Limit,
    d: &Decision,
) -> Charge<'a> {
    // Per-tenant counters only for configured tenants: bounded stat cardinality.
    let who = if rl.tenants.contains_key(&id.tenant) { id.tenant.as_str() } else { OTHER_TENANT };
    host.count(Counter::Limited(who));
    if rl.shadow {
        host.count(Counter::ShadowLimited);
        return Charge::Pass(Some(plan));
    }
    let mut headers = ratelimit::headers(&plan, limit, d);
    headers.push(("retry-after", d.retry_after_s.to_string()));
    Charge::Refuse(Rejection::rate_limited(
        format!(
            "rate limit exceeded: {} requests per second (plan {plan}); retry in {} s",
            limit.requests_per_second, d.retry_after_s
        ),
        headers,
    ))
}

/// The lease service or Redis could not answer: the configured failure mode.
fn lease_failed<'a, H: Host>(global: &GlobalLimitConfig, host: &mut H, plan: Cow<'a, str>) -> Charge<'a> {
    host.count(Counter::RateLimitErrors);
    match global.failure_mode {
        FailureMode::Open => Charge::Pass(Some(plan)),
        FailureMode::Closed => Charge::Refuse(Rejection::limiter_unavailable()),
    }
}

/// A [`Decision`] for the rate-limit headers from what is known of a global budget.
fn global_decision(limit: &Limit, left: f64, retry_after_s: u64, now_ms: u64) -> Decision {
    Decision {
        allowed: retry_after_s == 0,
        bucket: Bucket { tokens: left, updated_ms: now_ms },
        remaining: left.max(0.0).floor() as u64,
        retry_after_s,
        reset_s: ((limit.burst - left) / limit.requests_per_second).ceil().max(0.0) as u64,
    }
}

/// Removes the spoofed identity headers, if any, without tagging (a public
/// request, or one about to be answered or paused).
fn strip_now<H: Host>(host: &mut H, strip: &[&str]) {
    if !strip.is_empty() {
        host.tag_request(strip, &[]);
    }
}

/// Answers with a rejection, counted by reason (spoofed headers stripped
/// first: access logs must not show them as the request's identity).
fn reject<H: Host>(host: &mut H, strip: &[&str], rejection: &Rejection) -> Verdict {
    strip_now(host, strip);
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
    fn get(&mut self, token: &str, clock: &Clock) -> Option<Arc<Identity>> {
        let found = self.store.get(token, clock);
        self.hit |= found.is_some();
        found
    }
    fn insert(&mut self, token: &str, identity: Arc<Identity>, exp: u64, now: u64) {
        self.store.insert(token, identity, exp, now);
    }
}

#[cfg(test)]
mod tests;
