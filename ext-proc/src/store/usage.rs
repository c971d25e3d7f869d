//! The usage system table: per replica, per minute, per tenant, API and
//! operation, the replica's absolute totals for that minute. Writes are
//! upserts of absolute values (never increments), so a flush repeated after a
//! failure, or two replicas flushing the same minute, never double-count: each
//! replica owns its rows (its id is unique per process start).
//!
//! The table is a system table (SQLite `datagate_usage`, PostgreSQL
//! `datagate.usage`) beside the catalog's; tenant tables never take these names.

use super::StoreError;
use async_trait::async_trait;

/// The counters of one usage row, in [`COUNTERS`] order.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// Requests.
    pub requests: u64,
    /// Requests answered with a 4xx or 5xx.
    pub errors: u64,
    /// Rows returned by the store.
    pub rows_read: u64,
    /// Rows inserted or updated.
    pub rows_written: u64,
    /// Rows deleted.
    pub rows_deleted: u64,
    /// Documents returned by the store.
    pub docs_read: u64,
    /// Documents stored.
    pub docs_written: u64,
    /// Documents deleted.
    pub docs_deleted: u64,
    /// Bytes read from the store.
    pub bytes_read: u64,
    /// Bytes written to the store.
    pub bytes_written: u64,
    /// Request body bytes.
    pub request_bytes: u64,
    /// Response body bytes.
    pub response_bytes: u64,
    /// Billable read units.
    pub read_units: u64,
    /// Billable write units.
    pub write_units: u64,
    /// Storage time, microseconds.
    pub storage_us: u64,
}

/// Column names of the counters, in the order of [`Totals::values`].
pub const COUNTERS: [&str; 15] = [
    "requests",
    "errors",
    "rows_read",
    "rows_written",
    "rows_deleted",
    "docs_read",
    "docs_written",
    "docs_deleted",
    "bytes_read",
    "bytes_written",
    "request_bytes",
    "response_bytes",
    "read_units",
    "write_units",
    "storage_us",
];

impl Totals {
    /// The counters in [`COUNTERS`] order (as SQL `bigint`s).
    pub fn values(&self) -> [i64; 15] {
        let v = [
            self.requests,
            self.errors,
            self.rows_read,
            self.rows_written,
            self.rows_deleted,
            self.docs_read,
            self.docs_written,
            self.docs_deleted,
            self.bytes_read,
            self.bytes_written,
            self.request_bytes,
            self.response_bytes,
            self.read_units,
            self.write_units,
            self.storage_us,
        ];
        v.map(|x| i64::try_from(x).unwrap_or(i64::MAX))
    }

    /// The inverse of [`Totals::values`].
    pub fn from_values(v: [i64; 15]) -> Totals {
        let u = v.map(|x| u64::try_from(x).unwrap_or(0));
        Totals {
            requests: u[0],
            errors: u[1],
            rows_read: u[2],
            rows_written: u[3],
            rows_deleted: u[4],
            docs_read: u[5],
            docs_written: u[6],
            docs_deleted: u[7],
            bytes_read: u[8],
            bytes_written: u[9],
            request_bytes: u[10],
            response_bytes: u[11],
            read_units: u[12],
            write_units: u[13],
            storage_us: u[14],
        }
    }

    /// Adds `other` counter by counter.
    pub fn add(&mut self, other: &Totals) {
        let (a, b) = (self.values(), other.values());
        let mut sum = [0i64; 15];
        for i in 0..15 {
            sum[i] = a[i].saturating_add(b[i]);
        }
        *self = Totals::from_values(sum);
    }
}

/// One usage row: a minute (or a bucket of minutes), a tenant, an API and an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    /// Unix minute (seconds / 60) the row starts at.
    pub minute: i64,
    /// Tenant.
    pub tenant: String,
    /// `rest`, `documents`, `graphql`, `schema`, `dataapi`.
    pub api: String,
    /// `read`, `write`, `delete`, `ddl`, `search`.
    pub operation: String,
    /// The counters.
    pub totals: Totals,
}

/// What a usage query asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageQuery {
    /// One tenant, or all.
    pub tenant: Option<String>,
    /// First minute included.
    pub from_minute: i64,
    /// First minute excluded.
    pub to_minute: i64,
    /// Bucket width in minutes (1, 60, 1440); rows are summed over replicas.
    pub bucket_minutes: i64,
}

/// A store's connection pool right now (for the metrics).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections the pool may hold.
    pub max: u64,
    /// Connections lent out.
    pub in_use: u64,
    /// Open connections not lent out.
    pub idle: u64,
    /// Calls waiting for a connection (PostgreSQL; SQLite's semaphore does not say).
    pub waiting: u64,
}

/// The usage system table (and, for the same readers, the pool's state).
#[async_trait]
pub trait UsageStore: Send + Sync {
    /// The connection pool's state.
    fn pool_status(&self) -> PoolStatus;
    /// Creates the table if needed.
    async fn init_usage(&self) -> Result<(), StoreError>;
    /// Upserts `rows` as `replica`'s absolute totals, all-or-nothing.
    async fn write_usage(&self, replica: &str, rows: &[UsageRow]) -> Result<(), StoreError>;
    /// Totals per bucket, tenant, API and operation, summed over replicas, in that order.
    async fn usage(&self, q: &UsageQuery) -> Result<Vec<UsageRow>, StoreError>;
    /// Read and write units per tenant in `[from, to)` minutes, from every
    /// replica but `except` (whose own totals the caller holds in memory).
    async fn units_since(&self, from: i64, to: i64, except: &str) -> Result<Vec<(String, u64, u64)>, StoreError>;
}

/// The SQL the stores run, with `p(n)` spelling parameter `n` (1-based).
pub struct UsageSql {
    /// Creates the table.
    pub create: String,
    /// Upserts one row: replica, minute, tenant, api, operation, then the counters.
    pub upsert: String,
    /// The grouped query: bucket, from, to, tenant (NULL: all).
    pub query: String,
    /// Units per tenant: from, to, except.
    pub units: String,
}

impl UsageSql {
    /// The statements for table `table`; `sum` wraps a `SUM(..)` (PostgreSQL's
    /// `SUM(bigint)` is `numeric`: it casts back), `int`/`text` are column types.
    pub fn new(table: &str, p: impl Fn(usize) -> String, sum: impl Fn(&str) -> String, suffix: &str) -> UsageSql {
        let counters_ddl: Vec<String> = COUNTERS.iter().map(|c| format!("{c} BIGINT NOT NULL")).collect();
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {table} (replica TEXT NOT NULL, minute BIGINT NOT NULL, tenant TEXT NOT NULL, \
             api TEXT NOT NULL, operation TEXT NOT NULL, {}, \
             PRIMARY KEY (replica, minute, tenant, api, operation)){suffix}",
            counters_ddl.join(", ")
        );
        let names = COUNTERS.join(", ");
        let values: Vec<String> = (1..=5 + COUNTERS.len()).map(&p).collect();
        let sets: Vec<String> = COUNTERS.iter().map(|c| format!("{c} = excluded.{c}")).collect();
        let upsert = format!(
            "INSERT INTO {table} (replica, minute, tenant, api, operation, {names}) VALUES ({}) \
             ON CONFLICT (replica, minute, tenant, api, operation) DO UPDATE SET {}",
            values.join(", "),
            sets.join(", ")
        );
        let sums: Vec<String> = COUNTERS.iter().map(|c| sum(c)).collect();
        let query = format!(
            "SELECT (minute / {b}) * {b} AS bucket, tenant, api, operation, {} FROM {table} \
             WHERE minute >= {f} AND minute < {t} AND ({n} IS NULL OR tenant = {n}) \
             GROUP BY bucket, tenant, api, operation ORDER BY bucket, tenant, api, operation",
            sums.join(", "),
            b = p(1),
            f = p(2),
            t = p(3),
            n = p(4),
        );
        let units = format!(
            "SELECT tenant, {}, {} FROM {table} WHERE minute >= {} AND minute < {} AND replica <> {} GROUP BY tenant",
            sum("read_units"),
            sum("write_units"),
            p(1),
            p(2),
            p(3)
        );
        UsageSql { create, upsert, query, units }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_round_trip_and_add() {
        let t = Totals { requests: 1, storage_us: 15, read_units: 3, ..Totals::default() };
        assert_eq!(Totals::from_values(t.values()), t);
        let mut s = t;
        s.add(&t);
        assert_eq!((s.requests, s.read_units, s.storage_us), (2, 6, 30));
    }

    #[test]
    fn the_upsert_sets_absolute_values() {
        let sql = UsageSql::new("u", |n| format!("${n}"), |c| format!("SUM({c})::bigint"), "");
        assert!(sql.upsert.contains("requests = excluded.requests"), "{}", sql.upsert);
        assert!(!sql.upsert.contains("requests + "), "never an increment: {}", sql.upsert);
        assert!(sql.upsert.contains("$20)"), "5 key columns + 15 counters: {}", sql.upsert);
        assert!(sql.query.contains("($4 IS NULL OR tenant = $4)"), "{}", sql.query);
    }
}
