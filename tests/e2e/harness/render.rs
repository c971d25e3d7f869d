//! The gateway's Envoy config, as the tests render it: `envoy/render.sh` with
//! a test's ports, filter build and data path, and the edits some tests make.

use super::{datagate_bin, envoy_bin, native_dir, repo, wasm, Filter};
use serde_json::{json, Value};
use std::process::Command;

/// Swaps the edge filter's JSON configuration (the `value: |` block) for `json`.
pub(super) fn replace_filter_config(config: &str, json: &str) -> String {
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

/// A STATIC cluster `name` at 127.0.0.1:`port`, to append to the bootstrap's `clusters:`.
pub(super) fn cluster_yaml(name: &str, port: u16) -> String {
    format!(
        "  - name: {name}\n    type: STATIC\n    connect_timeout: 1s\n    load_assignment:\n      cluster_name: {name}\n      \
         endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}}}}}]}}]\n"
    )
}

/// The gateway bootstrap from `envoy/render.sh` for these ports (64 KiB body limit), shipped filter build.
#[allow(dead_code)]
pub fn render_config(listen: u16, admin: u16, sidecar: u16) -> String {
    render_config_for(Filter::Native, listen, admin, sidecar)
}

/// [`render_config`] with the given filter build.
pub fn render_config_for(filter: Filter, listen: u16, admin: u16, sidecar: u16) -> String {
    render_config_with(filter, listen, admin, sidecar, &[])
}

/// [`render_config_for`] with extra `render.sh` settings (they win over the ones above).
pub fn render_config_with(filter: Filter, listen: u16, admin: u16, sidecar: u16, env: &[(String, String)]) -> String {
    let mut all = vec![("DATAGATE_SIDECAR_PORT".to_owned(), sidecar.to_string())];
    all.extend(env.iter().cloned());
    render(filter, listen, admin, &all)
}

/// The body limit Envoy and the sidecar are both given, as `make run` gives both the
/// same default: the sidecar enforces it (Envoy streams it the body), and an Envoy
/// buffer smaller than the sidecar's limit would hold a large body back until
/// ext_proc's message timeout.
const MAX_BODY_BYTES: u64 = 65_536;

/// A test's sidecar config (if any) with [`MAX_BODY_BYTES`] unless it sets its own.
pub(super) fn with_body_limit(json: Option<&str>) -> String {
    let mut config: Value = json.map(|j| serde_json::from_str(j).unwrap()).unwrap_or_else(|| json!({}));
    if let Some(obj) = config.as_object_mut() {
        obj.entry("maxBodyBytes").or_insert(json!(MAX_BODY_BYTES));
    }
    config.to_string()
}

/// `envoy/render.sh` with these ports and settings (the sidecar's among them).
pub(super) fn render(filter: Filter, listen: u16, admin: u16, env: &[(String, String)]) -> String {
    let out = Command::new("bash")
        .arg(repo().join("envoy/render.sh"))
        .env("DATAGATE_LISTEN_PORT", listen.to_string())
        .env("DATAGATE_ADMIN_PORT", admin.to_string())
        .env("DATAGATE_FILTER", filter.name())
        .env("DATAGATE_WASM", wasm())
        .env("DATAGATE_MAX_BODY_BYTES", MAX_BODY_BYTES.to_string())
        // render.sh would otherwise `cargo build`, blocked by this test run's lock.
        .env("DATAGATE_BIN", datagate_bin())
        .env("DATAGATE_DATA_PATH", DATA_PATH.get().name())
        .envs(env.iter().map(|(k, v)| (k, v)))
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
        .env("ENVOY_DYNAMIC_MODULES_SEARCH_PATH", native_dir())
        .output()
        .unwrap();
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), log)
}

/// How the gateways a test starts hand data requests to the sidecar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataPath {
    /// Envoy's router, the sidecar a plain HTTP upstream (the shipped default).
    Upstream,
    /// Envoy's ext_proc filter.
    ExtProc,
}

impl DataPath {
    /// The value `envoy/render.sh` takes (`DATAGATE_DATA_PATH`).
    pub fn name(self) -> &'static str {
        match self {
            DataPath::Upstream => "upstream",
            DataPath::ExtProc => "extProc",
        }
    }
}

thread_local! {
    /// The data path of the gateways this test thread renders (see [`on_ext_proc_path`]);
    /// `DATAGATE_E2E_DATA_PATH=extProc` runs every suite over ext_proc.
    static DATA_PATH: std::cell::Cell<DataPath> = std::cell::Cell::new(
        if std::env::var("DATAGATE_E2E_DATA_PATH").is_ok_and(|p| p == DataPath::ExtProc.name()) {
            DataPath::ExtProc
        } else {
            DataPath::Upstream
        },
    );
}

/// Runs `test` with every gateway it renders on the ext_proc data path (Envoy's
/// ext_proc filter asks the sidecar, no route to it): each test runs in its own
/// thread, so an existing suite runs unchanged over the other path.
pub fn on_ext_proc_path(test: impl FnOnce()) {
    let before = DATA_PATH.replace(DataPath::ExtProc);
    test();
    DATA_PATH.set(before);
}
