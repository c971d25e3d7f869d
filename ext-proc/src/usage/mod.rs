//! Usage metering: what every tenant's requests read and wrote, durable and
//! queryable, and the monthly quotas enforced on it.
//!
//! The engine's metering store ([`crate::engine::meter`]) counts each storage
//! call into the request's [`Meter`]; [`Metering::finish`] turns the counts into
//! a usage record (units: [`units`]), logs it, adds it to the per-minute
//! [`rollup::Rollup`], and a flusher writes the rollup to the usage table
//! ([`crate::store::usage`]) every `flushIntervalMs` and at shutdown.
//! SIGKILL loses at most the last unflushed interval.

pub mod classify;
pub mod clock;
pub mod http;
pub mod line;
pub mod quota;
pub mod rollup;
pub mod settings;
pub mod table;
pub mod units;

use crate::http::{ApiRequest, ApiResponse};
use crate::scope::Meter;
use crate::store::usage::{Totals, UsageStore};
use crate::store::StoreError;
use classify::{Class, Operation};
use clock::Clock;
use quota::{Need, Others};
use settings::MeteringSettings;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Metering for one sidecar process.
pub struct Metering {
    /// This process's replica id: unique per start, so a restart never overwrites a minute.
    pub replica: String,
    store: Arc<dyn UsageStore>,
    clock: Arc<dyn Clock>,
    rollup: rollup::Rollup,
    others: Mutex<Others>,
    settings: MeteringSettings,
    flushing: tokio::sync::Mutex<()>,
}

/// A request being metered.
pub struct Started {
    class: Class,
    meter: Arc<Meter>,
    begun: Instant,
    tenant: String,
    quota_headers: Vec<(String, String)>,
}

/// A request refused by its quota, with what is needed to record it.
pub struct Refused {
    /// The request as started (nothing counted).
    pub started: Started,
    /// The 429 to answer with.
    pub response: ApiResponse,
}

impl Started {
    /// The meter the request's storage calls add to.
    pub fn meter(&self) -> Arc<Meter> {
        self.meter.clone()
    }
}

/// One request's usage record (also its log line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Tenant.
    pub tenant: String,
    /// Plan, when the edge filter counted the request against one.
    pub plan: Option<String>,
    /// API.
    pub api: &'static str,
    /// Operation.
    pub operation: &'static str,
    /// Keyspace or namespace.
    pub keyspace: Option<String>,
    /// Table or collection.
    pub table: Option<String>,
    /// Counters (one request).
    pub totals: Totals,
    /// HTTP status.
    pub status: u16,
    /// Time in the sidecar.
    pub duration: Duration,
    /// Envoy's `x-request-id` (or the sidecar's own).
    pub request_id: String,
}

impl Record {
    /// The status class: `2xx`, `4xx`, `5xx`.
    pub fn status_class(&self) -> &'static str {
        match self.status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        }
    }
}

impl Metering {
    /// Metering over `store`'s usage table.
    pub fn new(store: Arc<dyn UsageStore>, settings: MeteringSettings, clock: Arc<dyn Clock>) -> Metering {
        Metering {
            replica: uuid::Uuid::new_v4().to_string(),
            store,
            clock,
            rollup: rollup::Rollup::default(),
            others: Mutex::new(Others::default()),
            settings,
            flushing: tokio::sync::Mutex::new(()),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &MeteringSettings {
        &self.settings
    }

    /// The clock.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Starts metering a request: `None` when it is not metered (no tenant,
    /// health, OpenAPI, unroutable, the usage endpoints), a 429 when its quota
    /// is used up — still metered, so the refusal shows in the usage, the
    /// metrics and the log (at no units: it touched no storage).
    pub fn start_request(
        &self,
        req: &ApiRequest,
        route: Option<&crate::router::Route>,
    ) -> Result<Option<Started>, Box<Refused>> {
        let Some(tenant) = req.tenant.as_deref() else { return Ok(None) };
        let Some(class) = route.and_then(classify::classify) else { return Ok(None) };
        self.start(req, tenant, class).map(Some)
    }

    /// Starts metering a request of `tenant` in `class`, or refuses it (429)
    /// when its quota is used up (unless in shadow mode).
    pub fn start(&self, req: &ApiRequest, tenant: &str, class: Class) -> Result<Started, Box<Refused>> {
        let mut started = Started {
            class,
            meter: Arc::new(Meter::default()),
            begun: Instant::now(),
            tenant: tenant.to_owned(),
            quota_headers: Vec::new(),
        };
        let class = &started.class;
        if let Some(q) = quota::quota_for(&self.settings.quotas, tenant, req.plan.as_deref()) {
            let need = match class.operation {
                Some(Operation::Read | Operation::Search) => Need::Read,
                Some(Operation::Write | Operation::Delete) => Need::Write,
                Some(Operation::Ddl) => Need::Neither,
                None => Need::Both,
            };
            let now = self.clock.now_ms();
            let d = quota::decide(q, self.month_units(tenant, now), need);
            if let Some((which, limit, used)) = d.exceeded {
                let (_, next) = clock::month(now);
                let resets = clock::minute_text(next);
                if self.settings.quotas.shadow {
                    tracing::warn!(tenant, quota = which, limit, used, "quota exceeded (shadow mode: not refused)");
                } else {
                    let mut resp = ApiResponse::json(
                        429,
                        serde_json::json!({
                            "code": 429,
                            "description": format!(
                                "quota exceeded: {used} of {limit} monthly {} used; it resets at {resets}",
                                if which == "readUnits" { "read units" } else { "write units" }
                            ),
                            "quota": which,
                            "limit": limit,
                            "used": used,
                            "resetsAt": resets,
                        }),
                    );
                    resp.headers = d.headers;
                    let retry = (next * 60_000 - now).max(0) / 1000;
                    resp.headers.push(("retry-after".to_owned(), retry.to_string()));
                    return Err(Box::new(Refused { started, response: resp }));
                }
            }
            started.quota_headers = d.headers;
        }
        Ok(started)
    }

    /// This tenant's (read, write) units this month: the other replicas'
    /// (as of the last flush) plus this one's.
    fn month_units(&self, tenant: &str, now_ms: i64) -> (u64, u64) {
        let (month, _) = clock::month(now_ms);
        let mine = self.rollup.month_units(tenant, month);
        let others = self
            .others
            .lock()
            .ok()
            .filter(|o| o.month == month)
            .and_then(|o| o.units.get(tenant).copied())
            .unwrap_or_default();
        (mine.0 + others.0, mine.1 + others.1)
    }

    /// Ends a metered request: its record, logged and added to the rollup; the
    /// quota headers added to its response.
    pub fn finish(&self, started: Started, req: &ApiRequest, resp: &mut ApiResponse, request_id: &str) -> Record {
        let counts = started.meter.counts();
        let (read_units, write_units) = units::units(&counts);
        let operation = started.class.operation.unwrap_or_else(|| Operation::from_counts(&counts));
        let errors = u64::from(resp.status >= 400);
        let totals = Totals {
            requests: 1,
            errors,
            rows_read: counts.rows_read,
            rows_written: counts.rows_written,
            rows_deleted: counts.rows_deleted,
            docs_read: counts.docs_read,
            docs_written: counts.docs_written,
            docs_deleted: counts.docs_deleted,
            bytes_read: counts.bytes_read,
            bytes_written: counts.bytes_written,
            request_bytes: req.body.len() as u64,
            response_bytes: resp.body.len() as u64,
            read_units,
            write_units,
            storage_us: counts.storage_us,
        };
        let record = Record {
            tenant: started.tenant,
            plan: req.plan.clone(),
            api: started.class.api.name(),
            operation: operation.name(),
            keyspace: started.class.keyspace,
            table: started.class.table,
            totals,
            status: resp.status,
            duration: started.begun.elapsed(),
            request_id: request_id.to_owned(),
        };
        let now = self.clock.now_ms();
        let key = rollup::Key {
            minute: clock::minute(now),
            tenant: record.tenant.clone(),
            api: record.api,
            operation: record.operation,
        };
        self.rollup.add(key, &record.totals, clock::month(now).0);
        // Headers show what is left after this request.
        if !started.quota_headers.is_empty() {
            if let Some(q) = quota::quota_for(&self.settings.quotas, &record.tenant, req.plan.as_deref()) {
                let d = quota::decide(q, self.month_units(&record.tenant, now), Need::Neither);
                resp.headers.extend(d.headers);
            }
        }
        log(&record);
        record
    }

    /// Writes the rollup's changed minutes to the usage table, then refreshes
    /// the other replicas' month totals (for quotas). Serialized: the flusher,
    /// a usage query and shutdown may all ask at once.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let _one = self.flushing.lock().await;
        let snap = self.rollup.dirty();
        let now = self.clock.now_ms();
        if !snap.rows.is_empty() {
            self.store.write_usage(&self.replica, &snap.rows).await?;
        }
        self.rollup.flushed(snap, clock::minute(now));
        if !self.settings.quotas.plans.is_empty() || !self.settings.quotas.tenants.is_empty() {
            let (month, next) = clock::month(now);
            let rows = self.store.units_since(month, next, &self.replica).await?;
            if let Ok(mut o) = self.others.lock() {
                o.month = month;
                o.units = rows.into_iter().map(|(t, r, w)| (t, (r, w))).collect();
            }
        }
        Ok(())
    }

    /// Flushes every `flush_interval` until dropped (aborted at shutdown, then flushed once more).
    pub async fn flush_forever(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.settings.flush_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tick.tick().await;
            match self.flush().await {
                Ok(()) if failing => {
                    tracing::info!("usage flush works again");
                    failing = false;
                }
                Ok(()) => {}
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "usage flush failed; the totals stay in memory and are retried");
                    }
                    failing = true;
                }
            }
        }
    }

    /// The usage table.
    pub fn store(&self) -> &dyn UsageStore {
        self.store.as_ref()
    }
}

/// Logs one request's record (the per-request log line, [`line`]): straight
/// into the log batch when the binary set that up, else through tracing.
pub fn log(r: &Record) {
    if !tracing::enabled!(target: line::TARGET, tracing::Level::INFO) {
        return;
    }
    if crate::logs::direct(|format, out| line::write(r, format, std::time::SystemTime::now(), out)) {
        return;
    }
    tracing::info!(target: line::TARGET, "request {}", line::fields_text(r));
}

#[cfg(test)]
mod tests;
