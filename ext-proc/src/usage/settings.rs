//! The `metering` section of the sidecar's configuration file, validated up
//! front with every problem listed.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// `metering` as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MeteringFile {
    /// Count usage at all (default true); off only to measure what counting costs.
    pub enabled: Option<bool>,
    /// How often the rollup is written to the usage table, in milliseconds (default 5000).
    pub flush_interval_ms: Option<u64>,
    /// Tenants whose callers may read every tenant's usage (`/v2/admin/usage`).
    pub admin_tenants: Option<Vec<String>>,
    /// Tenants named in metric labels; the rest are `other` (default: none named,
    /// then the first `metricsTopTenants` seen).
    pub metrics_tenants: Option<Vec<String>>,
    /// How many tenants get their own metric labels when `metricsTenants` is absent (default 20).
    pub metrics_top_tenants: Option<usize>,
    /// Monthly unit quotas.
    pub quotas: Option<QuotasFile>,
}

/// `metering.quotas` as written.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuotasFile {
    /// Per plan (the edge filter's `x-tenant-plan`).
    #[serde(default)]
    pub plans: BTreeMap<String, UnitsFile>,
    /// Per tenant; wins over the tenant's plan.
    #[serde(default)]
    pub tenants: BTreeMap<String, UnitsFile>,
    /// Count and report (headers, logs) but never refuse.
    #[serde(default)]
    pub shadow: bool,
}

/// A monthly quota as written.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnitsFile {
    /// Read units per calendar month (UTC).
    pub read_units: Option<u64>,
    /// Write units per calendar month (UTC).
    pub write_units: Option<u64>,
}

/// The validated `metering` section.
#[derive(Debug, Clone)]
pub struct MeteringSettings {
    /// Whether requests are counted.
    pub enabled: bool,
    /// Flush interval.
    pub flush_interval: Duration,
    /// Tenants allowed to read every tenant's usage.
    pub admin_tenants: Vec<String>,
    /// Tenants named in metric labels (empty: the first `metrics_top_tenants` seen).
    pub metrics_tenants: Vec<String>,
    /// See [`MeteringFile::metrics_top_tenants`].
    pub metrics_top_tenants: usize,
    /// Quotas.
    pub quotas: QuotasFile,
}

impl Default for MeteringSettings {
    fn default() -> Self {
        MeteringSettings {
            enabled: true,
            flush_interval: Duration::from_secs(5),
            admin_tenants: Vec::new(),
            metrics_tenants: Vec::new(),
            metrics_top_tenants: 20,
            quotas: QuotasFile::default(),
        }
    }
}

impl MeteringFile {
    /// Validates, adding every problem to `errors` (each naming its field).
    pub fn validate(self, errors: &mut Vec<String>) -> MeteringSettings {
        let d = MeteringSettings::default();
        let flush_ms = self.flush_interval_ms.unwrap_or(5000);
        if !(100..=60_000).contains(&flush_ms) {
            errors.push(format!("metering.flushIntervalMs: {flush_ms} is outside 100..=60000"));
        }
        let top = self.metrics_top_tenants.unwrap_or(d.metrics_top_tenants);
        if top > 1000 {
            errors.push(format!("metering.metricsTopTenants: {top} is above 1000 (label cardinality)"));
        }
        let quotas = self.quotas.unwrap_or_default();
        for (kind, map) in [("plans", &quotas.plans), ("tenants", &quotas.tenants)] {
            for (name, q) in map {
                if name.is_empty() {
                    errors.push(format!("metering.quotas.{kind}: a name is empty"));
                }
                if q.read_units.is_none() && q.write_units.is_none() {
                    errors.push(format!("metering.quotas.{kind}.{name}: give readUnits, writeUnits or both"));
                }
                if q.read_units == Some(0) || q.write_units == Some(0) {
                    errors.push(format!("metering.quotas.{kind}.{name}: a quota of 0 units refuses everything; omit it or give at least 1"));
                }
            }
        }
        MeteringSettings {
            enabled: self.enabled.unwrap_or(true),
            flush_interval: Duration::from_millis(flush_ms),
            admin_tenants: self.admin_tenants.unwrap_or_default(),
            metrics_tenants: self.metrics_tenants.unwrap_or_default(),
            metrics_top_tenants: top,
            quotas,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_error_is_listed() {
        let file: MeteringFile = serde_json::from_str(
            r#"{"flushIntervalMs": 5, "metricsTopTenants": 5000,
                "quotas": {"plans": {"free": {}}, "tenants": {"acme": {"readUnits": 0}}}}"#,
        )
        .unwrap();
        let mut errors = Vec::new();
        file.validate(&mut errors);
        let text = errors.join("\n");
        for needle in ["flushIntervalMs", "metricsTopTenants", "quotas.plans.free", "quotas.tenants.acme"] {
            assert!(text.contains(needle), "{needle} missing: {text}");
        }
        assert!(serde_json::from_str::<MeteringFile>(r#"{"quotas": {"tenant": {}}}"#).is_err());
    }
}
