//! The sidecar's Prometheus metrics. Label cardinality is bounded: tenants
//! are the ones named in `metering.metricsTenants`, or else the first
//! `metricsTopTenants` seen; every other tenant is `other` (as in the edge
//! filter's stats). API, operation and status class are small fixed sets.
//!
//! Label values are shared (`Arc<str>` tenants, `&'static str` names), so
//! looking a series up allocates nothing. Counting a request looks its label
//! set up once ([`Series`]) instead of once per family: the families' own
//! lookups (a SipHash and a lock each, 8–12 per request) were 7 % of a GET's
//! sidecar instructions.

use crate::fastmap::{FastMap, FastSet};
use crate::usage::Record;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

/// The label for tenants past the cap.
pub const OTHER: &str = "other";

/// Caps the tenant label.
#[derive(Debug)]
pub struct TenantLabels {
    named: Vec<Arc<str>>,
    top: usize,
    seen: Mutex<FastSet<Arc<str>>>,
    other: Arc<str>,
}

impl TenantLabels {
    /// Labels for `named` tenants, or (when none are named) the first `top` seen.
    pub fn new(named: Vec<String>, top: usize) -> TenantLabels {
        let named = named.into_iter().map(Arc::from).collect();
        TenantLabels { named, top, seen: Mutex::new(FastSet::default()), other: Arc::from(OTHER) }
    }

    /// The label for `tenant` (shared: a clone is a reference count).
    pub fn label(&self, tenant: &str) -> Arc<str> {
        if !self.named.is_empty() {
            let named = self.named.iter().find(|t| &***t == tenant);
            return named.unwrap_or(&self.other).clone();
        }
        let Ok(mut seen) = self.seen.lock() else { return self.other.clone() };
        if let Some(t) = seen.get(tenant) {
            return t.clone();
        }
        if seen.len() < self.top {
            let t: Arc<str> = Arc::from(tenant);
            seen.insert(t.clone());
            return t;
        }
        self.other.clone()
    }
}

/// Labels of the per-request counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Tenant (capped).
    pub tenant: Arc<str>,
    /// API.
    pub api: &'static str,
    /// Operation.
    pub operation: &'static str,
    /// Status class (`2xx`, `4xx`, `5xx`).
    pub status: &'static str,
}

/// Labels of the row, document, byte and unit counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VolumeLabels {
    /// Tenant (capped).
    pub tenant: Arc<str>,
    /// API.
    pub api: &'static str,
    /// Operation.
    pub operation: &'static str,
    /// `read`, `written`, `deleted` (rows, documents); `read`, `written`,
    /// `request`, `response` (bytes); `read`, `write` (units).
    pub kind: &'static str,
}

/// Labels of the latency histograms.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LatencyLabels {
    /// API.
    pub api: &'static str,
    /// Operation.
    pub operation: &'static str,
}

/// Labels of the pool gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    /// `in_use`, `idle`, `max`, `waiting`; `hit`, `miss`.
    pub state: String,
}

fn storage_histogram() -> Histogram {
    // 100 µs to ~3 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// The volume counters a request adds to, in [`Series::volume`]'s order:
/// (family, kind).
const VOLUMES: [(Volume, &str); 12] = [
    (Volume::Rows, "read"),
    (Volume::Rows, "written"),
    (Volume::Rows, "deleted"),
    (Volume::Documents, "read"),
    (Volume::Documents, "written"),
    (Volume::Documents, "deleted"),
    (Volume::Bytes, "read"),
    (Volume::Bytes, "written"),
    (Volume::Bytes, "request"),
    (Volume::Bytes, "response"),
    (Volume::Units, "read"),
    (Volume::Units, "write"),
];

#[derive(Clone, Copy)]
enum Volume {
    Rows,
    Documents,
    Bytes,
    Units,
}

/// Most label sets whose series are remembered; past it (never, with tenants
/// capped) requests are counted through the families directly.
const MAX_SERIES: usize = 4096;

/// One label set's series, handles into the families' own metrics. A volume
/// counter is taken on the first request that adds to it, so a series that
/// only ever counts zero is never exported (as before).
struct Series {
    requests: Counter,
    volume: [OnceLock<Counter>; 12],
    storage: Histogram,
    duration: Histogram,
}

/// Every metric the sidecar exports.
pub struct Metrics {
    series: RwLock<FastMap<RequestLabels, Arc<Series>>>,
    registry: Registry,
    tenants: TenantLabels,
    requests: Family<RequestLabels, Counter>,
    rows: Family<VolumeLabels, Counter>,
    documents: Family<VolumeLabels, Counter>,
    bytes: Family<VolumeLabels, Counter>,
    units: Family<VolumeLabels, Counter>,
    storage: Family<LatencyLabels, Histogram, fn() -> Histogram>,
    duration: Family<LatencyLabels, Histogram, fn() -> Histogram>,
    /// Store connections by state.
    pub pool: Family<StateLabels, Gauge>,
    /// Catalog cache lookups by result.
    pub catalog: Family<StateLabels, Gauge>,
    /// 1 while the store answers the health probe.
    pub store_up: Gauge,
}

/// The names the dashboard and tests rely on (as scraped: counters get `_total`).
pub const NAMES: &[&str] = &[
    "datagate_requests_total",
    "datagate_rows_total",
    "datagate_documents_total",
    "datagate_bytes_total",
    "datagate_units_total",
    "datagate_storage_seconds",
    "datagate_request_duration_seconds",
    "datagate_pool_connections",
    "datagate_catalog_lookups",
    "datagate_store_up",
];

impl Metrics {
    /// The registry with every metric, tenants capped as configured.
    pub fn new(tenants: TenantLabels) -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let rows = Family::<VolumeLabels, Counter>::default();
        let documents = Family::<VolumeLabels, Counter>::default();
        let bytes = Family::<VolumeLabels, Counter>::default();
        let units = Family::<VolumeLabels, Counter>::default();
        let storage = Family::<LatencyLabels, Histogram, fn() -> Histogram>::new_with_constructor(storage_histogram);
        let duration = Family::<LatencyLabels, Histogram, fn() -> Histogram>::new_with_constructor(storage_histogram);
        let pool = Family::<StateLabels, Gauge>::default();
        let catalog = Family::<StateLabels, Gauge>::default();
        let store_up = Gauge::default();
        registry.register(
            "datagate_requests",
            "Metered requests by tenant, API, operation and status class",
            requests.clone(),
        );
        registry.register("datagate_rows", "Rows read, written and deleted", rows.clone());
        registry.register("datagate_documents", "Documents read, written and deleted", documents.clone());
        registry.register(
            "datagate_bytes",
            "Bytes read and written in the store, and request and response bodies",
            bytes.clone(),
        );
        registry.register("datagate_units", "Billable read and write units", units.clone());
        registry.register("datagate_storage_seconds", "Storage time per request", storage.clone());
        registry.register("datagate_request_duration_seconds", "Time in the sidecar per request", duration.clone());
        registry.register("datagate_pool_connections", "Store connections: in_use, idle, max, waiting", pool.clone());
        registry.register("datagate_catalog_lookups", "Catalog cache lookups since start: hit, miss", catalog.clone());
        registry.register("datagate_store_up", "1 while the store answers the health probe", store_up.clone());
        Metrics {
            series: RwLock::new(FastMap::default()),
            registry,
            tenants,
            requests,
            rows,
            documents,
            bytes,
            units,
            storage,
            duration,
            pool,
            catalog,
            store_up,
        }
    }

    /// Counts one request's record.
    pub fn observe(&self, r: &Record) {
        let labels = RequestLabels {
            tenant: self.tenants.label(&r.tenant),
            api: r.api,
            operation: r.operation,
            status: r.status_class(),
        };
        let series = self.series_of(&labels);
        series.requests.inc();
        let t = &r.totals;
        let counts = [
            t.rows_read,
            t.rows_written,
            t.rows_deleted,
            t.docs_read,
            t.docs_written,
            t.docs_deleted,
            t.bytes_read,
            t.bytes_written,
            t.request_bytes,
            t.response_bytes,
            t.read_units,
            t.write_units,
        ];
        for ((n, (family, kind)), slot) in counts.into_iter().zip(VOLUMES).zip(&series.volume) {
            if n > 0 {
                slot.get_or_init(|| self.volume(family, &labels, kind)).inc_by(n);
            }
        }
        series.storage.observe(t.storage_us as f64 / 1e6);
        series.duration.observe(r.duration.as_secs_f64());
    }

    /// The series of one label set, remembered.
    fn series_of(&self, labels: &RequestLabels) -> Arc<Series> {
        if let Some(s) = self.series.read().ok().and_then(|m| m.get(labels).cloned()) {
            return s;
        }
        let lat = LatencyLabels { api: labels.api, operation: labels.operation };
        let s = Arc::new(Series {
            requests: self.requests.get_or_create(labels).clone(),
            volume: Default::default(),
            storage: self.storage.get_or_create(&lat).clone(),
            duration: self.duration.get_or_create(&lat).clone(),
        });
        if let Ok(mut m) = self.series.write() {
            if let Some(known) = m.get(labels) {
                return known.clone();
            }
            if m.len() < MAX_SERIES {
                m.insert(labels.clone(), s.clone());
            }
        }
        s
    }

    fn volume(&self, family: Volume, labels: &RequestLabels, kind: &'static str) -> Counter {
        let family = match family {
            Volume::Rows => &self.rows,
            Volume::Documents => &self.documents,
            Volume::Bytes => &self.bytes,
            Volume::Units => &self.units,
        };
        let l = VolumeLabels { tenant: labels.tenant.clone(), api: labels.api, operation: labels.operation, kind };
        family.get_or_create(&l).clone()
    }

    /// Sets one gauge of a state family.
    pub fn set(family: &Family<StateLabels, Gauge>, state: &str, v: u64) {
        family.get_or_create(&StateLabels { state: state.to_owned() }).set(i64::try_from(v).unwrap_or(i64::MAX));
    }

    /// The exposition text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!(error = %e, "cannot encode the metrics");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::usage::Totals;
    use std::time::Duration;

    #[test]
    fn tenant_labels_are_capped() {
        let named = TenantLabels::new(vec!["a".into()], 20);
        assert_eq!((&*named.label("a"), &*named.label("b")), ("a", OTHER));
        let top = TenantLabels::new(Vec::new(), 2);
        assert_eq!(&*top.label("x"), "x");
        assert_eq!(&*top.label("y"), "y");
        assert_eq!(&*top.label("z"), OTHER, "past the cap");
        assert_eq!(&*top.label("x"), "x", "the first ones keep their label");
        assert!(Arc::ptr_eq(&top.label("x"), &top.label("x")), "a seen tenant's label is shared, not copied");
    }

    #[test]
    fn a_record_shows_in_the_exposition() {
        let m = Metrics::new(TenantLabels::new(Vec::new(), 1));
        let record = |tenant: &str| Record {
            tenant: tenant.into(),
            plan: None,
            api: "rest",
            operation: "read",
            keyspace: None,
            table: None,
            totals: Totals { requests: 1, rows_read: 3, read_units: 1, storage_us: 500, ..Totals::default() },
            status: 200,
            duration: Duration::from_millis(2),
            request_id: "r".into(),
        };
        m.observe(&record("acme"));
        m.observe(&record("zeta"));
        let text = m.encode();
        assert!(
            text.contains(r#"datagate_requests_total{tenant="acme",api="rest",operation="read",status="2xx"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"datagate_rows_total{tenant="other",api="rest",operation="read",kind="read"} 3"#),
            "{text}"
        );
        assert!(text.contains("datagate_storage_seconds_bucket"), "{text}");
    }

    #[test]
    fn remembered_series_keep_counting_into_the_families() {
        let m = Metrics::new(TenantLabels::new(Vec::new(), 20));
        let record = |status: u16, rows_written: u64| Record {
            tenant: "acme".into(),
            plan: None,
            api: "rest",
            operation: "write",
            keyspace: None,
            table: None,
            totals: Totals { requests: 1, rows_written, write_units: rows_written, ..Totals::default() },
            status,
            duration: Duration::from_millis(2),
            request_id: "r".into(),
        };
        // The first writes count nothing: their volume series appear only once one does.
        m.observe(&record(201, 0));
        assert!(!m.encode().contains("datagate_rows_total{"), "{}", m.encode());
        for _ in 0..3 {
            m.observe(&record(201, 2));
        }
        m.observe(&record(400, 0));
        let text = m.encode();
        for line in [
            r#"datagate_requests_total{tenant="acme",api="rest",operation="write",status="2xx"} 4"#,
            r#"datagate_requests_total{tenant="acme",api="rest",operation="write",status="4xx"} 1"#,
            r#"datagate_rows_total{tenant="acme",api="rest",operation="write",kind="written"} 6"#,
            r#"datagate_units_total{tenant="acme",api="rest",operation="write",kind="write"} 6"#,
            r#"datagate_request_duration_seconds_count{api="rest",operation="write"} 5"#,
            r#"datagate_storage_seconds_count{api="rest",operation="write"} 5"#,
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        assert!(!text.contains(r#"kind="deleted""#), "{text}");
    }
}
