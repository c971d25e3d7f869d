//! Sidecar configuration: an optional JSON file plus command-line overrides,
//! validated into runtime values with every problem reported at once.

use crate::listen::Listen;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// The configuration file as written (`datagate serve --config FILE`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileConfig {
    /// gRPC listen address: `unix:/path/to.sock` (default `unix:/tmp/datagate.sock`)
    /// or, for a sidecar on another host than Envoy, `IP:PORT`.
    pub listen: Option<String>,
    /// Store URL: `sqlite://PATH` or `postgres://...`.
    pub store: Option<String>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: Option<usize>,
    /// Page size when the client gives none.
    pub default_page_size: Option<u32>,
    /// Largest page size a client may ask for.
    pub max_page_size: Option<u32>,
    /// Time allowed for one storage call before answering 504, in milliseconds.
    pub storage_timeout_ms: Option<u64>,
    /// Store connections to keep open.
    pub pool_size: Option<usize>,
    /// Pooled connections one tenant may hold at once (default: three quarters of the pool, rounded up).
    pub tenant_max_connections: Option<usize>,
    /// How long a request waits for its tenant's slot or a pooled connection
    /// before a 503, in milliseconds; below `storageTimeoutMs`.
    pub pool_wait_ms: Option<u64>,
    /// How long a cached table definition is trusted, in milliseconds.
    pub catalog_ttl_ms: Option<u64>,
    /// How often expired (TTL) rows are deleted, in milliseconds; 0 disables.
    pub sweep_interval_ms: Option<u64>,
    /// Document search page size when the client gives none.
    pub doc_default_page_size: Option<u32>,
    /// Largest document search page size.
    pub doc_max_page_size: Option<u32>,
    /// Largest stored document, in bytes (after an edit, not just the request body).
    pub max_document_bytes: Option<usize>,
    /// Admin HTTP address (`/metrics`, `/healthz`, `/readyz`), default
    /// `127.0.0.1:9911`; `off` disables it.
    pub admin_listen: Option<String>,
    /// Usage metering, quotas and metric labels (see the README's "Usage metering").
    pub metering: Option<crate::usage::settings::MeteringFile>,
}

impl FileConfig {
    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<FileConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Request limits enforced by the API layer.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Default page size.
    pub default_page_size: u32,
    /// Largest page size.
    pub max_page_size: u32,
    /// Default document search page size.
    pub doc_default_page_size: u32,
    /// Largest document search page size.
    pub doc_max_page_size: u32,
    /// Document shape and size limits.
    pub doc: crate::doc::edit::DocLimits,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// gRPC listen address (Unix socket or TCP).
    pub listen: Listen,
    /// Store URL.
    pub store: String,
    /// Request limits.
    pub limits: Limits,
    /// Per-call storage timeout.
    pub storage_timeout: Duration,
    /// Store connection pool size.
    pub pool_size: usize,
    /// Pooled connections one tenant may hold at once.
    pub tenant_max_connections: usize,
    /// Longest wait for a tenant slot or a pooled connection.
    pub pool_wait: Duration,
    /// Catalog cache TTL.
    pub catalog_ttl: Duration,
    /// Expired-row sweep interval (`None`: off).
    pub sweep_interval: Option<Duration>,
    /// Usage metering.
    pub metering: crate::usage::settings::MeteringSettings,
    /// Admin HTTP address (`None`: off).
    pub admin_listen: Option<SocketAddr>,
}

impl Config {
    /// Validates `file` (already merged with command-line values).
    pub fn validate(file: FileConfig) -> Result<Config, Vec<String>> {
        let mut errors = Vec::new();
        let listen = match file.listen {
            None => Ok(Listen::default()),
            Some(text) => text.parse::<Listen>().map_err(|e| errors.push(format!("listen: {e}"))),
        };
        let store = file.store.unwrap_or_else(|| "sqlite://.datagate/datagate.db".to_owned());
        if !(store.starts_with("sqlite://") || store.starts_with("postgres://") || store.starts_with("postgresql://")) {
            errors.push(format!("store: '{store}' must start with sqlite:// or postgres://"));
        }
        let max_body_bytes = file.max_body_bytes.unwrap_or(1024 * 1024);
        if !(1024..=64 * 1024 * 1024).contains(&max_body_bytes) {
            errors.push(format!("maxBodyBytes: {max_body_bytes} is outside 1024..=67108864"));
        }
        let max_page_size = file.max_page_size.unwrap_or(1000);
        if !(1..=10_000).contains(&max_page_size) {
            errors.push(format!("maxPageSize: {max_page_size} is outside 1..=10000"));
        }
        let default_page_size = file.default_page_size.unwrap_or(100);
        if default_page_size == 0 || default_page_size > max_page_size {
            errors.push(format!(
                "defaultPageSize: {default_page_size} must be between 1 and maxPageSize ({max_page_size})"
            ));
        }
        let doc_max_page_size = file.doc_max_page_size.unwrap_or(20);
        if !(1..=1000).contains(&doc_max_page_size) {
            errors.push(format!("docMaxPageSize: {doc_max_page_size} is outside 1..=1000"));
        }
        let doc_default_page_size = file.doc_default_page_size.unwrap_or(3);
        if doc_default_page_size == 0 || doc_default_page_size > doc_max_page_size {
            errors.push(format!(
                "docDefaultPageSize: {doc_default_page_size} must be between 1 and docMaxPageSize ({doc_max_page_size})"
            ));
        }
        let max_document_bytes = file.max_document_bytes.unwrap_or(1024 * 1024);
        if !(1024..=64 * 1024 * 1024).contains(&max_document_bytes) {
            errors.push(format!("maxDocumentBytes: {max_document_bytes} is outside 1024..=67108864"));
        }
        let timeout_ms = file.storage_timeout_ms.unwrap_or(5000);
        if !(10..=600_000).contains(&timeout_ms) {
            errors.push(format!("storageTimeoutMs: {timeout_ms} is outside 10..=600000"));
        }
        let pool_size = file.pool_size.unwrap_or(8);
        if !(1..=256).contains(&pool_size) {
            errors.push(format!("poolSize: {pool_size} is outside 1..=256"));
        }
        let tenant_max_connections = file.tenant_max_connections.unwrap_or((pool_size * 3).div_ceil(4).max(1));
        if !(1..=10_000).contains(&tenant_max_connections) {
            errors.push(format!("tenantMaxConnections: {tenant_max_connections} is outside 1..=10000"));
        }
        let pool_wait_ms = file.pool_wait_ms.unwrap_or(1000.min(timeout_ms / 2));
        if pool_wait_ms == 0 || pool_wait_ms >= timeout_ms {
            errors.push(format!(
                "poolWaitMs: {pool_wait_ms} must be at least 1 and below storageTimeoutMs ({timeout_ms}), \
                 so a request that cannot get a connection hears 503 before its storage time runs out"
            ));
        }
        let catalog_ttl_ms = file.catalog_ttl_ms.unwrap_or(5000);
        let sweep_ms = file.sweep_interval_ms.unwrap_or(60_000);
        if sweep_ms != 0 && sweep_ms < 1000 {
            errors.push(format!("sweepIntervalMs: {sweep_ms} is below 1000 (use 0 to disable the sweeper)"));
        }
        let metering = file.metering.unwrap_or_default().validate(&mut errors);
        let admin_text = file.admin_listen.unwrap_or_else(|| "127.0.0.1:9911".to_owned());
        let admin_listen = if admin_text == "off" {
            None
        } else {
            admin_text
                .parse::<SocketAddr>()
                .map_err(|_| {
                    errors.push(format!("adminListen: '{admin_text}' is not an address like 127.0.0.1:9911 (or off)"))
                })
                .ok()
        };
        match (listen, errors.is_empty()) {
            (Ok(listen), true) => Ok(Config {
                listen,
                store,
                limits: Limits {
                    max_body_bytes,
                    default_page_size,
                    max_page_size,
                    doc_default_page_size,
                    doc_max_page_size,
                    doc: crate::doc::edit::DocLimits {
                        max_bytes: max_document_bytes,
                        max_depth: crate::json::MAX_DEPTH,
                        max_array: crate::doc::path::MAX_ARRAY,
                        max_properties: 1000,
                    },
                },
                storage_timeout: Duration::from_millis(timeout_ms),
                pool_size,
                tenant_max_connections,
                pool_wait: Duration::from_millis(pool_wait_ms),
                catalog_ttl: Duration::from_millis(catalog_ttl_ms),
                sweep_interval: (sweep_ms > 0).then(|| Duration::from_millis(sweep_ms)),
                metering,
                admin_listen,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let c = Config::validate(FileConfig::default()).unwrap();
        assert_eq!(c.limits.max_page_size, 1000);
        assert!(c.store.starts_with("sqlite://"));
        assert_eq!(c.tenant_max_connections, 6, "three quarters of the pool of 8");
        assert!(c.pool_wait < c.storage_timeout);
    }

    #[test]
    fn all_errors_are_listed() {
        let errors = Config::validate(FileConfig {
            listen: Some("nowhere".into()),
            store: Some("mysql://x".into()),
            max_page_size: Some(0),
            pool_size: Some(0),
            sweep_interval_ms: Some(5),
            doc_default_page_size: Some(50),
            max_document_bytes: Some(1),
            tenant_max_connections: Some(0),
            pool_wait_ms: Some(5000),
            ..FileConfig::default()
        })
        .unwrap_err();
        let text = errors.join("\n");
        for field in [
            "listen",
            "store",
            "maxPageSize",
            "poolSize",
            "sweepIntervalMs",
            "docDefaultPageSize",
            "maxDocumentBytes",
            "tenantMaxConnections",
            "poolWaitMs",
        ] {
            assert!(text.contains(field), "{field} missing: {text}");
        }
    }

    #[test]
    fn unknown_fields_are_named() {
        let err = serde_json::from_str::<FileConfig>(r#"{"lisen":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("lisen"));
    }
}
