//! `datagate check-config`: the Datagate config, the edge filter config inside
//! it (or the shipped one), and -- when an Envoy binary is at hand -- the
//! rendered bootstraps through `envoy --mode validate`.

use super::config::{DatagateConfig, FilterBuild};
use super::{render, Profile};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a check found: lines to show and the problems (none: the configs are good).
#[derive(Debug, Default)]
pub struct Report {
    pub passed: Vec<String>,
    pub errors: Vec<String>,
}

/// Checks the config at `path` (none: the defaults) for both bootstrap profiles.
pub fn check(path: Option<&Path>) -> Report {
    let mut report = Report::default();
    let load = || path.map(DatagateConfig::load).transpose().map(Option::unwrap_or_default);
    let config = match load() {
        Ok(c) => c,
        Err(e) => {
            report.errors.extend(e.0);
            return report;
        }
    };
    let custom_edge = config.edge.is_some();
    let edge = match config.validate(Profile::Edge) {
        Ok(s) => s,
        Err(e) => {
            report.errors.extend(e.0);
            return report;
        }
    };
    report.passed.push("Datagate config".into());
    if !custom_edge {
        match datagate_filter::Config::from_json(super::templates::default_edge_config().as_bytes()) {
            Ok(_) => report.passed.push("edge filter config (the shipped development one)".into()),
            Err(e) => report.errors.extend(e.0.into_iter().map(|m| format!("edge: {m}"))),
        }
    } else {
        report.passed.push("edge filter config".into());
    }
    let Some(envoy) = find_envoy() else {
        report.passed.push("envoy --mode validate skipped: no envoy on the PATH or in .venv/bin".into());
        return report;
    };
    // Both profiles share every setting but their defaults, which load() gives again.
    let mesh = match load().map_err(|e| e.0).and_then(|c| c.validate(Profile::Mesh).map_err(|e| e.0)) {
        Ok(s) => s,
        Err(e) => {
            report.errors.extend(e);
            return report;
        }
    };
    for (profile, settings, name) in [(Profile::Edge, &edge, "edge"), (Profile::Mesh, &mesh, "mesh")] {
        let file = std::env::temp_dir().join(format!("datagate-check-{}-{name}.yaml", std::process::id()));
        if let Err(e) = std::fs::write(&file, render::bootstrap(profile, settings)) {
            report.errors.push(format!("cannot write {}: {e}", file.display()));
            continue;
        }
        let mut cmd = Command::new(&envoy);
        cmd.args(["--mode", "validate", "--log-level", "error", "--disable-hot-restart", "-c"]).arg(&file);
        // Where the native filter's libdatagate_edge.so is when run from a checkout.
        if settings.filter == FilterBuild::Native && std::env::var_os("ENVOY_DYNAMIC_MODULES_SEARCH_PATH").is_none() {
            if let Ok(dir) = std::fs::canonicalize("target/native") {
                cmd.env("ENVOY_DYNAMIC_MODULES_SEARCH_PATH", dir);
            }
        }
        match cmd.output() {
            Ok(out) if out.status.success() => report.passed.push(format!("envoy --mode validate ({name} profile)")),
            Ok(out) => {
                let log = String::from_utf8_lossy(&out.stderr) + String::from_utf8_lossy(&out.stdout);
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                report.errors.push(format!("envoy --mode validate ({name} profile) refused it: {}", tail.join(" | ")));
            }
            Err(e) => report.errors.push(format!("cannot run {}: {e}", envoy.display())),
        }
        let _ = std::fs::remove_file(&file);
    }
    report
}

/// `envoy` on the PATH, else the pinned one `scripts/setup.sh` installs.
fn find_envoy() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("envoy"))
        .find(|p| p.is_file());
    on_path.or_else(|| Some(PathBuf::from(".venv/bin/envoy")).filter(|p| p.is_file()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_problem_of_both_configs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("datagate.json");
        std::fs::write(&path, r#"{"adminPort": 0, "sidecars": ["x"], "edge": {"tenantClaim": ""}}"#).unwrap();
        let report = check(Some(&path));
        for expected in ["adminPort", "sidecars[0]", "edge: tenantClaim"] {
            assert!(report.errors.iter().any(|e| e.starts_with(expected)), "{expected}: {:?}", report.errors);
        }
    }

    #[test]
    fn an_unknown_field_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("datagate.json");
        std::fs::write(&path, r#"{"redis": "127.0.0.1:6379"}"#).unwrap();
        let report = check(Some(&path));
        assert!(report.errors.iter().any(|e| e.contains("unknown field `redis`")), "{:?}", report.errors);
    }
}
