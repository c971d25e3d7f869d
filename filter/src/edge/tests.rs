//! The whole per-request flow against a fake host (the way Kuadrant's
//! wasm-shim tests its tasks with a mock host): what is stripped, added,
//! counted and answered, with no Envoy.

use super::*;
use crate::cache::TokenCache;
use crate::ratelimit::Bucket;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

const SECRET: &[u8] = b"secret-secret-secret-secret";
const NOW_MS: u64 = 1_800_000_000_000;
const JWKS: &str =
    r#""jwks":{"keys":[{"kty":"oct","kid":"dev","alg":"HS256","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}]}"#;
const LIMITS: &str = r#""rateLimit": {"plans": {"tiny": {"requestsPerSecond": 0.001, "burst": 2}}, "defaultPlan": "tiny",
    "tenants": {"vip": {"plan": "tiny"}}, "costs": [{"methods": ["POST"], "cost": 2}]}"#;

#[derive(Default)]
struct Fake {
    removed: Vec<String>,
    added: Vec<(String, String)>,
    /// Calls to [`Host::tag_request`].
    tag_calls: usize,
    state: Vec<(String, String)>,
    reply: Option<(u32, HashMap<String, String>, Value)>,
    counts: BTreeMap<String, u64>,
    cache: TokenCache,
    keys: Vec<VerifyKey>,
    buckets: HashMap<String, Bucket>,
    limiter_broken: bool,
    refresh: Option<KeyRefresh>,
    global_leases: crate::global::GlobalLeases,
    lease_calls: Vec<String>,
    lease_refused: bool,
    path: Option<String>,
}

impl Host for Fake {
    fn clock(&self) -> Clock {
        Clock::at(NOW_MS)
    }
    fn tag_request(&mut self, strip: &[&str], add: &[(&str, &str)]) {
        assert!(!strip.is_empty() || !add.is_empty(), "a call that changes nothing");
        self.tag_calls += 1;
        self.removed.extend(strip.iter().map(|s| s.to_string()));
        self.added.extend(add.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    }
    fn set_path(&mut self, path: &str) {
        self.path = Some(path.to_owned());
    }
    fn set_filter_state(&mut self, key: &str, value: &str) {
        self.state.push((key.to_owned(), value.to_owned()));
    }
    fn send_reply(&mut self, status: u32, headers: &[(&str, &str)], body: &[u8]) {
        assert!(self.reply.is_none(), "one reply per request");
        let headers = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.reply = Some((status, headers, serde_json::from_slice(body).unwrap()));
    }
    fn count(&mut self, counter: Counter<'_>) {
        *self.counts.entry(counter.name().into_owned()).or_default() += 1;
    }
    fn with_tokens<R>(&mut self, f: impl FnOnce(&[VerifyKey], &mut dyn TokenStore) -> R) -> R {
        f(&self.keys, &mut self.cache)
    }
    fn spend(&mut self, tenant: &str, limit: &Limit, cost: f64, clock: &Clock) -> Option<Decision> {
        let now_ms = clock.now_ms();
        if self.limiter_broken {
            return None;
        }
        let d = ratelimit::take(self.buckets.get(tenant).copied(), limit, cost, now_ms);
        self.buckets.insert(tenant.to_owned(), d.bucket);
        Some(d)
    }
    fn refresh_keys(&mut self) -> KeyRefresh {
        let r = self.refresh.take().unwrap_or(KeyRefresh::Unavailable);
        if r == KeyRefresh::Adopted {
            self.keys = crate::jwks::parse_body(&JWKS.as_bytes()[7..]).unwrap();
        }
        r
    }
    fn with_global_leases<R>(&mut self, f: impl FnOnce(&mut crate::global::GlobalLeases) -> R) -> R {
        f(&mut self.global_leases)
    }
    fn request_lease(&mut self, global: &GlobalLimitConfig, path: &str) -> bool {
        self.lease_calls.push(format!("{} {path}", global.cluster));
        !self.lease_refused
    }
}

impl Fake {
    fn with_cache() -> Fake {
        Fake { cache: TokenCache::new(16), ..Fake::default() }
    }
    fn count_of(&self, name: &str) -> u64 {
        self.counts.get(name).copied().unwrap_or(0)
    }
}

fn cfg(extra: &str) -> Config {
    Config::from_json(format!("{{{JWKS}{extra}}}").as_bytes()).unwrap()
}

fn token(tenant: &str) -> String {
    let claims = json!({"tenant": tenant, "sub": "u1", "plan": "gold", "exp": NOW_MS / 1000 + 60});
    encode(&Header { kid: Some("dev".into()), ..Header::default() }, &claims, &EncodingKey::from_secret(SECRET))
        .unwrap()
}

fn run(cfg: &Config, host: &mut Fake, method: &str, headers: &[(&str, &str)]) -> (Verdict, Exchange) {
    let mut all = vec![(":method", method), (":path", "/v2/keyspaces/k/t?x=1")];
    all.extend_from_slice(headers);
    host.reply = None;
    let mut exchange = Exchange::default();
    let verdict = exchange.on_request_headers(cfg, host, &all, true);
    (verdict, exchange)
}

#[test]
fn verified_requests_are_tagged_and_spoofs_stripped() {
    let c = cfg("");
    let mut host = Fake::with_cache();
    let t = token("acme");
    let headers = [("x-cassandra-token", t.as_str()), ("X-Tenant-Id", "globex"), ("x-datagate-subject", "root")];
    let (verdict, exchange) = run(&c, &mut host, "GET", &headers);
    assert_eq!(verdict, Verdict::Continue);
    assert_eq!(host.removed, ["X-Tenant-Id", "x-datagate-subject"]);
    assert_eq!(host.tag_calls, 1, "stripped and tagged in one call");
    let added: Vec<(&str, &str)> = host.added.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(added, [("x-tenant-id", "acme"), ("x-tenant-plan", "gold"), ("x-datagate-subject", "u1")]);
    assert_eq!(host.state, [("datagate_tenant".into(), "acme".into()), ("datagate_plan".into(), "gold".into())]);
    assert!(exchange.response_headers().is_empty(), "no rate limit configured");
    assert_eq!(host.count_of("datagate.allowed"), 1);
    // The same token again is answered from the cache, and counted as a hit.
    run(&c, &mut host, "GET", &[("x-cassandra-token", t.as_str())]);
    assert_eq!(host.count_of("datagate.token_cache.hits"), 1);
    assert_eq!(host.count_of("datagate.allowed"), 2);
}

#[test]
fn spoofed_headers_go_before_an_answer_or_a_pause() {
    // Refused: stripped first (access logs must not show them), nothing added.
    let c = cfg("");
    let mut host = Fake::default();
    assert_eq!(run(&c, &mut host, "GET", &[("x-tenant-plan", "gold")]).0, Verdict::Replied);
    assert_eq!(host.removed, ["x-tenant-plan"]);
    assert!(host.added.is_empty());
    // Paused for a lease: stripped now; the tags follow the answer, with nothing left to strip.
    let c = global_cfg("");
    let mut host = Fake::with_cache();
    let t = token("acme");
    let (verdict, mut exchange) = run(&c, &mut host, "GET", &[("x-cassandra-token", &t), ("x-datagate-x", "1")]);
    assert_eq!(verdict, Verdict::Paused);
    assert_eq!((host.removed.clone(), host.tag_calls), (vec!["x-datagate-x".to_owned()], 1));
    let grant = br#"{"granted": 3, "left": 10, "retryAfterS": 0}"#;
    assert_eq!(exchange.on_lease_response(&c, &mut host, "200", grant), Verdict::Continue);
    assert_eq!((host.removed.len(), host.tag_calls), (1, 2));
    assert_eq!(host.added.len(), 3);
    // Nothing to strip on a public request: no header call at all.
    let c = cfg(r#","publicPaths": ["/v2/keyspaces/*"]"#);
    let mut host = Fake::default();
    assert_eq!(run(&c, &mut host, "GET", &[]).0, Verdict::Continue);
    assert_eq!(host.tag_calls, 0);
}

#[test]
fn filter_state_off_keeps_the_headers() {
    let c = cfg(r#","filterState": false"#);
    let mut host = Fake::with_cache();
    let t = token("acme");
    let (verdict, _) = run(&c, &mut host, "GET", &[("x-cassandra-token", t.as_str())]);
    assert_eq!(verdict, Verdict::Continue);
    assert!(host.state.is_empty(), "no filter-state writes: {:?}", host.state);
    let added: Vec<&str> = host.added.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(added, ["x-tenant-id", "x-tenant-plan", "x-datagate-subject"]);
}

#[test]
fn public_paths_and_rejections() {
    let c = cfg(r#","publicPaths": ["/v2/keyspaces/*"]"#);
    let mut host = Fake::default();
    assert_eq!(run(&c, &mut host, "GET", &[("x-tenant-id", "x")]).0, Verdict::Continue);
    assert_eq!(host.count_of("datagate.public"), 1);
    assert!(host.added.is_empty(), "a public request gets no identity");
    assert_eq!(host.removed, ["x-tenant-id"]);

    let c = cfg("");
    let mut host = Fake::default();
    assert_eq!(run(&c, &mut host, "GET", &[]).0, Verdict::Replied);
    let (status, headers, body) = host.reply.clone().unwrap();
    assert_eq!(status, 401);
    assert_eq!(body["code"], 401);
    assert!(body["description"].as_str().unwrap().starts_with("missing credentials"));
    assert_eq!(headers["content-type"], "application/json");
    assert!(headers["www-authenticate"].starts_with("Bearer error=\"invalid_token\""));
    assert_eq!(host.count_of("datagate.rejected.missing"), 1);
    assert!(host.added.is_empty());
}

#[test]
fn ambiguous_credentials_are_refused_unless_identical() {
    let c = cfg("");
    let (a, b) = (token("acme"), token("globex"));
    let bearer = format!("Bearer {a}");
    let cases: [&[(&str, &str)]; 4] = [
        &[("x-cassandra-token", &a), ("x-cassandra-token", "garbage")],
        &[("authorization", &bearer), ("x-cassandra-token", &b)],
        &[("x-cassandra-token", &a), ("token", &b)],
        &[("token", &b), ("authorization", &bearer)],
    ];
    for headers in cases {
        let mut host = Fake::default();
        assert_eq!(run(&c, &mut host, "GET", headers).0, Verdict::Replied, "{headers:?}");
        let (status, _, body) = host.reply.clone().unwrap();
        assert_eq!(status, 401);
        let d = body["description"].as_str().unwrap();
        assert!(d.starts_with("ambiguous credentials"), "{d}");
        assert_eq!(host.count_of("datagate.rejected.ambiguous"), 1);
        assert!(host.added.is_empty(), "an ambiguous request acts for nobody");
    }
    // The same credential twice, or in two headers, is one credential.
    for headers in [
        &[("x-cassandra-token", a.as_str()), ("x-cassandra-token", a.as_str())][..],
        &[("authorization", bearer.as_str()), ("token", a.as_str())],
        // Another scheme is not a credential of ours.
        &[("authorization", "Basic dXNlcjpwdw=="), ("token", a.as_str())],
    ] {
        let mut host = Fake::default();
        assert_eq!(run(&c, &mut host, "GET", headers).0, Verdict::Continue, "{headers:?}");
        assert_eq!(host.added[0], ("x-tenant-id".into(), "acme".into()));
    }
}

#[test]
fn over_budget_is_a_429_with_rate_limit_headers() {
    let c = cfg(&format!(",{LIMITS}"));
    let mut host = Fake::default();
    let t = token("acme");
    let (verdict, exchange) = run(&c, &mut host, "GET", &[("token", &t)]);
    assert_eq!(verdict, Verdict::Continue);
    // The token names plan "gold", which is not configured: the default plan counts.
    assert_eq!(exchange.response_headers(), [("ratelimit", r#""tiny";r=1;t=1000"#.to_owned())]);
    assert!(host.added.contains(&("x-tenant-plan".into(), "tiny".into())));
    // A POST costs 2 and 1 is left: refused.
    assert_eq!(run(&c, &mut host, "POST", &[("token", &t)]).0, Verdict::Replied);
    let (status, headers, body) = host.reply.clone().unwrap();
    assert_eq!(status, 429);
    assert_eq!(body["description"], "rate limit exceeded: 0.001 requests per second (plan tiny); retry in 1000 s");
    assert_eq!(headers["retry-after"], "1000");
    assert_eq!(headers["ratelimit-policy"], r#""tiny";q=2;w=2000"#);
    assert!(!headers.contains_key("www-authenticate"));
    assert_eq!(host.count_of("datagate.ratelimit.limited.other"), 1);
    assert_eq!(host.count_of("datagate.rejected.rate_limited"), 1);
    // A configured tenant is counted by name.
    let v = token("vip");
    for _ in 0..3 {
        run(&c, &mut host, "GET", &[("token", &v)]);
    }
    assert_eq!(host.count_of("datagate.ratelimit.limited.vip"), 1);
}

#[test]
fn shadow_mode_and_a_broken_limiter_let_requests_through() {
    let c =
        cfg(&format!(",{}", LIMITS.replace(r#""defaultPlan": "tiny","#, r#""defaultPlan": "tiny", "shadow": true,"#)));
    let mut host = Fake::default();
    let t = token("acme");
    for _ in 0..3 {
        assert_eq!(run(&c, &mut host, "GET", &[("token", &t)]).0, Verdict::Continue);
    }
    assert_eq!(host.count_of("datagate.ratelimit.shadow_limited"), 1);
    assert_eq!(host.count_of("datagate.ratelimit.limited.other"), 1);
    assert!(host.reply.is_none());

    let c = cfg(&format!(",{LIMITS}"));
    let mut host = Fake { limiter_broken: true, ..Fake::default() };
    let (verdict, exchange) = run(&c, &mut host, "GET", &[("token", &t)]);
    assert_eq!(verdict, Verdict::Continue);
    assert!(exchange.response_headers().is_empty());
    assert_eq!(host.count_of("datagate.ratelimit.errors"), 1);
}

#[test]
fn unknown_key_ids_wait_for_the_remote_key_set() {
    let remote = r#"{"remoteJwks": {"cluster": "idp", "path": "/jwks", "authority": "idp.test"}}"#;
    let c = Config::from_json(remote.as_bytes()).unwrap();
    let t = token("acme");
    let mut host = Fake { refresh: Some(KeyRefresh::Fetching), ..Fake::default() };
    assert_eq!(run(&c, &mut host, "GET", &[("token", &t)]).0, Verdict::Paused);
    assert_eq!(host.count_of("datagate.jwks.refetch_unknown_kid"), 1);
    assert!(host.reply.is_none());
    // Keys another worker fetched are adopted and the request decided again.
    let mut host = Fake { refresh: Some(KeyRefresh::Adopted), ..Fake::default() };
    assert_eq!(run(&c, &mut host, "GET", &[("token", &t)]).0, Verdict::Continue);
    // No newer keys to be had: the unknown key id is the answer.
    let mut host = Fake::default();
    assert_eq!(run(&c, &mut host, "GET", &[("token", &t)]).0, Verdict::Replied);
    assert_eq!(host.count_of("datagate.rejected.unknown_kid"), 1);
}

fn global_cfg(extra: &str) -> Config {
    let limits = r#","rateLimit": {"plans": {"p": {"requestsPerSecond": 1, "burst": 100}}, "defaultPlan": "p"}"#;
    cfg(&format!(r#"{limits},"globalLimit": {{"cluster": "datagate_ext_proc", "leaseSize": 3{extra}}}"#))
}

#[test]
fn global_budgets_are_leased_and_spent_locally() {
    let c = global_cfg("");
    let mut host = Fake::with_cache();
    let t = token("acme");
    let auth = [("x-cassandra-token", t.as_str())];
    let (verdict, mut exchange) = run(&c, &mut host, "GET", &auth);
    assert_eq!(verdict, Verdict::Paused, "no lease yet: ask for one");
    assert_eq!(
        host.lease_calls,
        ["datagate_ext_proc /datagate.lease.v1.Lease/Take?tenant=acme&want=3&min=1&rate=1&burst=100"]
    );
    assert!(host.added.is_empty(), "nothing tagged before the answer");
    let grant = br#"{"granted": 3, "left": 10, "retryAfterS": 0}"#;
    assert_eq!(exchange.on_lease_response(&c, &mut host, "200", grant), Verdict::Continue);
    assert!(host.added.contains(&("x-tenant-id".into(), "acme".into())));
    assert_eq!(exchange.response_headers(), [("ratelimit", "\"p\";r=12;t=88".to_owned())]);
    // The lease's two other tokens: no calls.
    for _ in 0..2 {
        assert_eq!(run(&c, &mut host, "GET", &auth).0, Verdict::Continue);
    }
    assert_eq!(host.lease_calls.len(), 1);
    assert_eq!(run(&c, &mut host, "GET", &auth).0, Verdict::Paused, "spent: ask again");
    assert_eq!(host.count_of("datagate.allowed"), 3);
}

#[test]
fn an_empty_global_budget_is_a_429() {
    let c = global_cfg("");
    let mut host = Fake::with_cache();
    let t = token("acme");
    let (_, mut exchange) = run(&c, &mut host, "GET", &[("x-cassandra-token", t.as_str())]);
    let none = br#"{"granted": 0, "left": 0.5, "retryAfterS": 4}"#;
    assert_eq!(exchange.on_lease_response(&c, &mut host, "200", none), Verdict::Replied);
    let (status, headers, body) = host.reply.clone().unwrap();
    assert_eq!((status, body["code"].as_u64()), (429, Some(429)));
    assert_eq!(headers["retry-after"], "4");
    assert_eq!(host.count_of("datagate.ratelimit.limited.other"), 1);
}

#[test]
fn an_unreachable_limiter_fails_open_or_closed_as_configured() {
    let t = token("acme");
    let auth = [("x-cassandra-token", t.as_str())];
    // Open (the default): through, counted.
    let c = global_cfg("");
    let mut host = Fake::with_cache();
    let (_, mut exchange) = run(&c, &mut host, "GET", &auth);
    assert_eq!(exchange.on_lease_response(&c, &mut host, "503", b"{}"), Verdict::Continue);
    assert!(host.added.contains(&("x-tenant-id".into(), "acme".into())));
    assert_eq!(host.count_of("datagate.ratelimit.errors"), 1);
    // Closed: a 503 JSON, also when the host cannot even start the call.
    let c = global_cfg(r#", "failureMode": "closed""#);
    let mut host = Fake::with_cache();
    let (_, mut exchange) = run(&c, &mut host, "GET", &auth);
    assert_eq!(exchange.on_lease_response(&c, &mut host, "", b""), Verdict::Replied);
    let (status, headers, body) = host.reply.clone().unwrap();
    assert_eq!((status, body["code"].as_u64()), (503, Some(503)));
    assert_eq!(headers["retry-after"], "1");
    host.lease_refused = true;
    assert_eq!(run(&c, &mut host, "GET", &auth).0, Verdict::Replied);
    assert_eq!(host.count_of("datagate.rejected.ratelimit_unavailable"), 2);
}

#[test]
fn global_limits_need_plans() {
    let e = Config::from_json(format!(r#"{{{JWKS},"globalLimit": {{"cluster": "c"}}}}"#).as_bytes()).err().unwrap();
    assert!(e.0.iter().any(|m| m.starts_with("globalLimit: needs rateLimit")), "{e}");
}

#[test]
fn a_credential_that_is_not_utf8_is_refused_not_ignored() {
    // The hosts hand such a value in as NOT_UTF8: a second, unreadable credential.
    let c = cfg("");
    let t = token("acme");
    let mut host = Fake::default();
    let headers = [("x-cassandra-token", t.as_str()), ("token", crate::headermap::NOT_UTF8)];
    assert_eq!(run(&c, &mut host, "GET", &headers).0, Verdict::Replied);
    assert_eq!(host.reply.as_ref().map(|r| r.0), Some(401));
    assert!(host.added.is_empty());
}

#[test]
fn a_target_no_uri_may_hold_is_encoded_even_when_refused() {
    let c = cfg("");
    let mut host = Fake::with_cache();
    let raw = r#"/v2/keyspaces/k/t?where={"a":1}"#;
    let mut exchange = Exchange::default();
    exchange.on_request_headers(&c, &mut host, &[(":method", "GET"), (":path", raw)], true);
    assert_eq!(host.path.as_deref(), Some("/v2/keyspaces/k/t?where=%7B%22a%22:1%7D"));
    assert!(host.reply.is_some(), "no token: refused, and the access log still shows a parseable target");
    let mut host = Fake::with_cache();
    let t = token("acme");
    run(&c, &mut host, "GET", &[("x-cassandra-token", t.as_str())]);
    assert_eq!(host.path, None, "a well-formed target is not touched");
}
