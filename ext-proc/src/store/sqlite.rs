//! The embedded default store: SQLite (bundled), files on local disk — the
//! main file the URL names and one file per tenant beside it (see
//! [`tenants`]; files from before keep every tenant in the main file, see
//! [`layout`]).
//!
//! A keyspace is a set of tables whose names carry the namespace's physical
//! prefix; the catalog lives in tables of the same file and changes in the
//! same transaction as the DDL it describes. Each file's connections are a
//! small pool used from blocking threads; WAL lets readers run beside the writer.

use super::sql::{self, Dialect, Statement};
use super::sqlread;
use super::{Registered, Store, StoreError};
use crate::change::Change;
use crate::model::{ColumnType, DataType, Namespace, TableDef};
use crate::plan::{Condition, Select, Upsert};
use crate::value::{format_time, format_timestamp, parse_timestamp, Value};
use async_trait::async_trait;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, ToSql, TransactionBehavior};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

pub use dialect::SqliteDialect;
pub use tenants::{dir_of as tenants_dir, file_name as tenant_file_name};

use layout::Layout;
use pool::{connect, Db};
use tenants::TenantDbs;

const CATALOG: &str = "
CREATE TABLE IF NOT EXISTS datagate_keyspaces (
    tenant TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (tenant, name)) WITHOUT ROWID, STRICT;
CREATE TABLE IF NOT EXISTS datagate_tables (
    tenant TEXT NOT NULL, keyspace TEXT NOT NULL, name TEXT NOT NULL, definition TEXT NOT NULL,
    PRIMARY KEY (tenant, keyspace, name)) WITHOUT ROWID, STRICT;
CREATE TABLE IF NOT EXISTS datagate_collections (
    tenant TEXT NOT NULL, keyspace TEXT NOT NULL, name TEXT NOT NULL, json_schema TEXT,
    PRIMARY KEY (tenant, keyspace, name)) WITHOUT ROWID, STRICT;
";

/// The SQLite store: the main file the URL names and, in the per-tenant
/// layout (see [`layout`]), one file per tenant beside it.
pub struct SqliteStore {
    /// The main file: usage metering, and every tenant in the shared layout.
    main: Db,
    /// `None` in the shared layout.
    tenants: Option<TenantDbs>,
    /// One permit per configured connection, taken by every call on any file:
    /// the pool size bounds the SQLite work running at once.
    calls: Arc<Semaphore>,
    size: usize,
    wait: Duration,
}

/// Creates what every file's statements expect: the catalog, the vectors side
/// table, and the case-safe physical names.
fn init_catalog(c: &mut Connection) -> Result<(), StoreError> {
    c.execute_batch(CATALOG).map_err(map_err)?;
    c.execute_batch(vectors::CATALOG).map_err(map_err)?;
    names::migrate(c).map_err(map_err)
}

/// The memory SQLite aims to stay under, all connections of all open files
/// together (`sqlite3_soft_heap_limit64`): past it, a connection's page cache
/// reuses its own least recently used pages instead of growing. Without it
/// each connection may cache 2 MiB, up to 64 open tenant files × 2
/// connections plus the pool; after a 10,000-vector scan the sidecar peaked at
/// 43.7 MiB, and 38.0 with 8 MiB (bench/run rows 11h/11j, the indexed find's
/// throughput unchanged: 1,036 and 1,092 req/s). A soft limit never fails an
/// allocation. 4 MiB since 2026-12-01: what a miss costs is a read the OS
/// page cache answers. Against 8 MiB (with one glibc arena, see
/// `allocator::few_c_arenas`), the sidecar's peak over the bench's SQLite rows
/// fell from 37.3 to 29.4 MiB, and over 8 s of the indexed find at 16
/// connections from 27.2–30.7 to 23.3–25.3 MiB (three runs each); its CPU
/// per request moved within the runs' spread (1,087–1,214 µs against
/// 904–1,160, and 1,105 against 1,218 in the bench run). 2 MiB since later
/// that day: over the bench's SQLite rows the peak went from 27.3–27.7 to
/// 24.3 MiB, and over the GET, document GET, findOne and indexed-find rows
/// (two runs each, alternated) from 20.9–21.3 to 19.6–19.7, with the indexed
/// find's CPU per request at 1,004–1,008 µs against 1,002–1,025.
const SOFT_HEAP_LIMIT: i64 = 2 * 1024 * 1024;

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &str, pool: super::PoolSettings) -> Result<SqliteStore, StoreError> {
        let path = std::path::PathBuf::from(path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
        }
        let size = pool.size.max(1);
        let main_path = path.clone();
        let (conns, layout) = tokio::task::spawn_blocking(move || {
            let mut conns = vec![connect(&main_path)?];
            // Process-wide (every file and connection): see SOFT_HEAP_LIMIT.
            conns[0].pragma_update(None, "soft_heap_limit", SOFT_HEAP_LIMIT).map_err(map_err)?;
            init_catalog(&mut conns[0])?;
            let layout = layout::settle_main(&mut conns[0])?;
            // The shared layout keeps its connections ready, as before; the
            // per-tenant main file only meters usage and grows on demand.
            if layout == Layout::Shared {
                for _ in 1..size {
                    conns.push(connect(&main_path)?);
                }
            }
            Ok::<_, StoreError>((conns, layout))
        })
        .await
        .map_err(|e| StoreError::Internal(format!("sqlite task failed: {e}")))??;
        let tenants = (layout == Layout::PerTenant).then(|| TenantDbs::new(&path));
        Ok(SqliteStore {
            main: Db::new(path, conns, size),
            tenants,
            calls: Arc::new(Semaphore::new(size)),
            size,
            wait: pool.wait,
        })
    }

    /// Runs `f` on the main file.
    async fn run_main<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.main.run(&self.calls, self.wait, f).await
    }

    /// Runs `f` on the file holding `tenant`'s data, opening it if needed.
    async fn run<T, F>(&self, tenant: &str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let Some(tenants) = &self.tenants else { return self.run_main(f).await };
        // Held to the end of the call: the file is not closed under it.
        let lease = tenants.lease(tenant)?;
        // One open however many calls arrive at once for a closed file.
        let db = lease.get_or_try_init(|| tenants.open(tenant, tenants::now_ms())).await?;
        db.run(&self.calls, self.wait, f).await
    }

    /// Runs `f` on every file holding tenant data that is open now (the main
    /// file first), adding up what it returns. Closed tenant files are swept
    /// when they are next opened.
    async fn run_each<F>(&self, f: F) -> Result<u64, StoreError>
    where
        F: Fn(&mut Connection) -> Result<u64, StoreError> + Clone + Send + 'static,
    {
        let mut total = self.run_main(f.clone()).await?;
        for lease in self.tenants.as_ref().map(TenantDbs::leases).transpose()?.unwrap_or_default() {
            // A file still opening is swept by its own open.
            let Some(db) = lease.get() else { continue };
            // One file's failure does not keep the others from their sweep.
            match db.run(&self.calls, self.wait, f.clone()).await {
                Ok(n) => total += n,
                Err(e) => tracing::warn!(error = %e, file = %db.path().display(), "sweep of a tenant's file failed"),
            }
        }
        Ok(total)
    }

    /// Open tenant files and opens so far (`None` in the shared layout).
    #[cfg(test)]
    fn tenant_counts(&self) -> Option<(usize, u64)> {
        self.tenants.as_ref().map(TenantDbs::counts)
    }

    /// The file holding a tenant's data: its own, or the main file in the shared layout.
    pub fn tenant_path(&self, tenant: &str) -> std::path::PathBuf {
        match &self.tenants {
            Some(t) => t.path(tenant),
            None => self.main.path().to_owned(),
        }
    }
}

fn map_err(e: rusqlite::Error) -> StoreError {
    let text = e.to_string();
    // The table changed under a prepared plan (an INSERT naming a column just
    // dropped says "has no column named"): retryable, as on PostgreSQL.
    if text.contains("no such table") || text.contains("no such column") || text.contains("has no column named") {
        return StoreError::SchemaChanged;
    }
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(format!("sqlite is busy: {e}"))
        }
        // A STRICT table refusing the REAL that an integer overflow becomes: only a
        // counter's increment computes an integer (every other value is bound).
        Some(ErrorCode::ConstraintViolation) if text.contains("REAL value in INTEGER column") => {
            StoreError::Rejected(super::COUNTER_OVERFLOW.to_owned())
        }
        Some(ErrorCode::ConstraintViolation) => StoreError::Rejected(format!("the store refused the row: {e}")),
        _ => StoreError::Internal(format!("sqlite: {e}")),
    }
}

/// `KeyspaceNotFound` unless the tenant has the keyspace.
fn require_keyspace(c: &Connection, ns: &Namespace) -> Result<(), StoreError> {
    let exists = c
        .prepare_cached("SELECT 1 FROM datagate_keyspaces WHERE tenant = ?1 AND name = ?2")
        .and_then(|mut s| s.exists(params![ns.tenant, ns.keyspace]))
        .map_err(map_err)?;
    if exists {
        Ok(())
    } else {
        Err(StoreError::KeyspaceNotFound(ns.keyspace.clone()))
    }
}

fn parse_def(text: &str) -> Result<TableDef, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Internal(format!("corrupt table definition: {e}")))
}

fn execute(c: &Connection, st: &Statement) -> Result<usize, StoreError> {
    let mut prepared = c.prepare_cached(&st.sql).map_err(map_err)?;
    prepared.execute(rusqlite::params_from_iter(st.params.iter())).map_err(map_err)
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::from(rusqlite::types::Null),
            Value::Bool(b) => ToSqlOutput::from(i64::from(*b)),
            Value::Int(i) => ToSqlOutput::from(*i),
            Value::Float(f) => ToSqlOutput::from(f64::from(*f)),
            Value::Double(f) => ToSqlOutput::from(*f),
            Value::Text(s) => ToSqlOutput::from(s.as_str()),
            Value::Uuid(u) => ToSqlOutput::from(u.to_string()),
            Value::Timestamp(t) => ToSqlOutput::from(format_timestamp(t)),
            Value::Date(d) => ToSqlOutput::from(d.format("%Y-%m-%d").to_string()),
            Value::Time(t) => ToSqlOutput::from(format_time(t)),
            Value::Blob(b) => ToSqlOutput::from(b.as_slice()),
            Value::Inet(ip) => ToSqlOutput::from(ip.to_string()),
            Value::Json(j) => ToSqlOutput::from(j.to_string()),
            Value::Decimal(s) => ToSqlOutput::from(s.as_str()),
        })
    }
}

fn read_value(ty: DataType, v: ValueRef<'_>) -> Result<Value, StoreError> {
    let ty = match ty {
        DataType::Scalar(t) => t,
        _ => {
            return match v {
                ValueRef::Null => Ok(Value::Null),
                ValueRef::Text(t) => serde_json::from_slice(t)
                    .map(Value::Json)
                    .map_err(|e| StoreError::Internal(format!("sqlite returned a collection that is not JSON: {e}"))),
                _ => Err(StoreError::Internal(format!("sqlite returned a value that is not a {ty}"))),
            };
        }
    };
    let corrupt = || StoreError::Internal(format!("sqlite returned a value that is not a {ty}"));
    Ok(match (ty, v) {
        (_, ValueRef::Null) => Value::Null,
        (ColumnType::Boolean, ValueRef::Integer(i)) => Value::Bool(i != 0),
        (
            ColumnType::Tinyint | ColumnType::Smallint | ColumnType::Int | ColumnType::Bigint | ColumnType::Counter,
            ValueRef::Integer(i),
        ) => Value::Int(i),
        (ColumnType::Float, ValueRef::Real(f)) => Value::Float(f as f32),
        (ColumnType::Double, ValueRef::Real(f)) => Value::Double(f),
        (ColumnType::Text | ColumnType::Ascii, ValueRef::Text(t)) => {
            Value::Text(String::from_utf8(t.to_vec()).map_err(|_| corrupt())?)
        }
        (ColumnType::Uuid | ColumnType::Timeuuid, ValueRef::Text(t)) => {
            Value::Uuid(std::str::from_utf8(t).ok().and_then(|s| uuid::Uuid::parse_str(s).ok()).ok_or_else(corrupt)?)
        }
        (ColumnType::Date | ColumnType::Time | ColumnType::Inet, ValueRef::Text(t)) => {
            Value::from_text(ty, std::str::from_utf8(t).map_err(|_| corrupt())?).map_err(|_| corrupt())?
        }
        (ColumnType::Blob, ValueRef::Blob(b)) => Value::Blob(b.to_vec()),
        (ColumnType::Decimal | ColumnType::Varint, ValueRef::Text(t)) => {
            Value::Decimal(String::from_utf8(t.to_vec()).map_err(|_| corrupt())?)
        }
        (ColumnType::Timestamp, ValueRef::Text(t)) => {
            std::str::from_utf8(t).ok().and_then(parse_timestamp).ok_or_else(corrupt)?
        }
        _ => return Err(corrupt()),
    })
}

#[async_trait]
impl Store for SqliteStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.run_main(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(map_err)).await
    }

    async fn create_keyspace(&self, ns: &Namespace) -> Result<(), StoreError> {
        let tenant = ns.tenant.as_str();
        let ns = ns.clone();
        self.run(tenant, move |c| {
            let n = c
                .execute(
                    "INSERT INTO datagate_keyspaces (tenant, name) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    params![ns.tenant, ns.keyspace],
                )
                .map_err(map_err)?;
            if n == 0 {
                return Err(StoreError::AlreadyExists(format!("keyspace '{}'", ns.keyspace)));
            }
            Ok(())
        })
        .await
    }

    async fn keyspaces(&self, tenant: &str) -> Result<Vec<String>, StoreError> {
        let owned = tenant.to_owned();
        self.run(tenant, move |c| {
            let mut s = c
                .prepare_cached("SELECT name FROM datagate_keyspaces WHERE tenant = ?1 ORDER BY name")
                .map_err(map_err)?;
            let rows = s.query_map(params![owned], |r| r.get::<_, String>(0)).map_err(map_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(map_err)
        })
        .await
    }

    async fn drop_keyspace(&self, ns: &Namespace) -> Result<(), StoreError> {
        let tenant = ns.tenant.as_str();
        let ns = ns.clone();
        self.run(tenant, move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_err)?;
            require_keyspace(&tx, &ns)?;
            let names: Vec<String> = {
                let mut s = tx
                    .prepare("SELECT name FROM datagate_tables WHERE tenant = ?1 AND keyspace = ?2")
                    .map_err(map_err)?;
                let rows = s.query_map(params![ns.tenant, ns.keyspace], |r| r.get(0)).map_err(map_err)?;
                rows.collect::<Result<_, _>>().map_err(map_err)?
            };
            for name in names {
                tx.execute_batch(&format!("DROP TABLE IF EXISTS {}", SqliteDialect.table(&ns, &name)))
                    .map_err(map_err)?;
            }
            docs::drop_all(&tx, &ns)?;
            tx.execute(
                "DELETE FROM datagate_tables WHERE tenant = ?1 AND keyspace = ?2",
                params![ns.tenant, ns.keyspace],
            )
            .map_err(map_err)?;
            tx.execute(
                "DELETE FROM datagate_keyspaces WHERE tenant = ?1 AND name = ?2",
                params![ns.tenant, ns.keyspace],
            )
            .map_err(map_err)?;
            tx.commit().map_err(map_err)
        })
        .await
    }

    async fn create_table(&self, ns: &Namespace, def: &TableDef, if_not_exists: bool) -> Result<bool, StoreError> {
        let tenant = ns.tenant.as_str();
        let (ns, def) = (ns.clone(), def.clone());
        self.run(tenant, move |c| {
            let definition = serde_json::to_string(&def).map_err(|e| StoreError::Internal(e.to_string()))?;
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_err)?;
            require_keyspace(&tx, &ns)?;
            let n = tx
                .execute(
                    "INSERT INTO datagate_tables (tenant, keyspace, name, definition) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT DO NOTHING",
                    params![ns.tenant, ns.keyspace, def.name, definition],
                )
                .map_err(map_err)?;
            if n == 0 {
                return if if_not_exists {
                    Ok(false)
                } else {
                    Err(StoreError::AlreadyExists(format!("table '{}'", def.name)))
                };
            }
            for ddl in sql::create_table(&SqliteDialect, &ns, &def) {
                tx.execute_batch(&ddl).map_err(map_err)?;
            }
            tx.commit().map_err(map_err)?;
            Ok(true)
        })
        .await
    }

    async fn table(&self, ns: &Namespace, name: &str) -> Result<TableDef, StoreError> {
        let tenant = ns.tenant.as_str();
        let (ns, name) = (ns.clone(), name.to_owned());
        self.run(tenant, move |c| {
            let found: Option<Option<String>> = c
                .prepare_cached(
                    "SELECT t.definition FROM datagate_keyspaces k LEFT JOIN datagate_tables t \
                     ON t.tenant = k.tenant AND t.keyspace = k.name AND t.name = ?3 \
                     WHERE k.tenant = ?1 AND k.name = ?2",
                )
                .and_then(|mut s| s.query_row(params![ns.tenant, ns.keyspace, name], |r| r.get(0)).optional())
                .map_err(map_err)?;
            match found {
                None => Err(StoreError::KeyspaceNotFound(ns.keyspace)),
                Some(None) => Err(StoreError::TableNotFound(name)),
                Some(Some(text)) => parse_def(&text),
            }
        })
        .await
    }

    async fn tables(&self, ns: &Namespace) -> Result<Vec<TableDef>, StoreError> {
        let tenant = ns.tenant.as_str();
        let ns = ns.clone();
        self.run(tenant, move |c| {
            require_keyspace(c, &ns)?;
            let mut s = c
                .prepare_cached(
                    "SELECT definition FROM datagate_tables WHERE tenant = ?1 AND keyspace = ?2 ORDER BY name",
                )
                .map_err(map_err)?;
            let rows = s.query_map(params![ns.tenant, ns.keyspace], |r| r.get::<_, String>(0)).map_err(map_err)?;
            let texts: Vec<String> = rows.collect::<Result<_, _>>().map_err(map_err)?;
            texts.iter().map(|t| parse_def(t)).collect()
        })
        .await
    }

    async fn drop_table(&self, ns: &Namespace, name: &str) -> Result<(), StoreError> {
        let physical = SqliteDialect.table(ns, name);
        self.drop_registered(ns, Registered::Table, name, physical).await
    }

    async fn alter_table(&self, ns: &Namespace, table: &str, change: &Change) -> Result<TableDef, StoreError> {
        let tenant = ns.tenant.as_str();
        let (ns, table, change) = (ns.clone(), table.to_owned(), change.clone());
        self.run(tenant, move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_err)?;
            require_keyspace(&tx, &ns)?;
            let text: Option<String> = tx
                .query_row(
                    "SELECT definition FROM datagate_tables WHERE tenant = ?1 AND keyspace = ?2 AND name = ?3",
                    params![ns.tenant, ns.keyspace, table],
                    |r| r.get(0),
                )
                .optional()
                .map_err(map_err)?;
            let def = parse_def(&text.ok_or_else(|| StoreError::TableNotFound(table.clone()))?)?;
            let new = crate::change::apply(&def, &change)?;
            for ddl in sql::alter(&SqliteDialect, &ns, &def, &change) {
                tx.execute_batch(&ddl).map_err(map_err)?;
            }
            let definition = serde_json::to_string(&new).map_err(|e| StoreError::Internal(e.to_string()))?;
            tx.execute(
                "UPDATE datagate_tables SET definition = ?4 WHERE tenant = ?1 AND keyspace = ?2 AND name = ?3",
                params![ns.tenant, ns.keyspace, table, definition],
            )
            .map_err(map_err)?;
            tx.commit().map_err(map_err)?;
            Ok(new)
        })
        .await
    }

    async fn upsert(&self, ns: &Namespace, def: &TableDef, rows: &[Upsert]) -> Result<u64, StoreError> {
        let tenant = ns.tenant.as_str();
        let statements: Vec<Statement> = rows.iter().map(|r| sql::upsert(&SqliteDialect, ns, def, r)).collect();
        self.run(tenant, move |c| {
            if let [one] = statements.as_slice() {
                return execute(c, one).map(|n| n as u64);
            }
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_err)?;
            let mut n = 0u64;
            for st in &statements {
                n += execute(&tx, st)? as u64;
            }
            tx.commit().map_err(map_err)?;
            Ok(n)
        })
        .await
    }

    async fn select(&self, ns: &Namespace, def: &TableDef, select: &Select) -> Result<Vec<Vec<Value>>, StoreError> {
        let tenant = ns.tenant.as_str();
        let st = sqlread::select(&SqliteDialect, ns, def, select);
        let types: Vec<DataType> = def.columns.iter().map(|c| c.ty).collect();
        self.run(tenant, move |c| {
            let mut prepared = c.prepare_cached(&st.sql).map_err(map_err)?;
            let mut rows = prepared.query(rusqlite::params_from_iter(st.params.iter())).map_err(map_err)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(map_err)? {
                let mut values = Vec::with_capacity(types.len());
                for (i, ty) in types.iter().enumerate() {
                    values.push(read_value(*ty, row.get_ref(i).map_err(map_err)?)?);
                }
                out.push(values);
            }
            Ok(out)
        })
        .await
    }

    async fn sweep_expired(&self, now_ms: i64) -> Result<u64, StoreError> {
        self.run_each(move |c| sweep_rows(c, now_ms)).await
    }

    async fn delete(&self, ns: &Namespace, def: &TableDef, key: &[Condition]) -> Result<u64, StoreError> {
        let tenant = ns.tenant.as_str();
        let st = sqlread::delete(&SqliteDialect, ns, def, key);
        self.run(tenant, move |c| execute(c, &st).map(|n| n as u64)).await
    }
}

/// Deletes the expired rows of every table in one file.
fn sweep_rows(c: &Connection, now_ms: i64) -> Result<u64, StoreError> {
    let tables: Vec<(String, String, String)> = {
        let mut s = c.prepare("SELECT tenant, keyspace, definition FROM datagate_tables").map_err(map_err)?;
        let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(map_err)?;
        rows.collect::<Result<_, _>>().map_err(map_err)?
    };
    let mut deleted = 0u64;
    for (tenant, keyspace, text) in tables {
        let def = parse_def(&text)?;
        let ns = Namespace { tenant, keyspace };
        if let Some(st) = sql::sweep(&SqliteDialect, &ns, &def, now_ms) {
            // A table dropped since the listing only costs its own statement.
            match execute(c, &st) {
                Ok(n) => deleted += n as u64,
                Err(StoreError::SchemaChanged) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(deleted)
}

impl SqliteStore {
    /// Unregisters a table or collection and drops its physical table, in one transaction.
    pub(crate) async fn drop_registered(
        &self,
        ns: &Namespace,
        what: Registered,
        name: &str,
        physical: String,
    ) -> Result<(), StoreError> {
        let tenant = ns.tenant.as_str();
        let (ns, name) = (ns.clone(), name.to_owned());
        let delete =
            format!("DELETE FROM datagate_{} WHERE tenant = ?1 AND keyspace = ?2 AND name = ?3", what.registry());
        self.run(tenant, move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_err)?;
            require_keyspace(&tx, &ns)?;
            let n = tx.execute(&delete, params![ns.tenant, ns.keyspace, name]).map_err(map_err)?;
            if n == 0 {
                return Err(what.not_found(name));
            }
            tx.execute_batch(&format!("DROP TABLE IF EXISTS {physical}")).map_err(map_err)?;
            if matches!(what, Registered::Collection) {
                // A collection's packed vectors go with it (PostgreSQL: a cascading key).
                vectors::forget_all(&tx, &ns, Some(&name))?;
            }
            tx.commit().map_err(map_err)
        })
        .await
    }
}

pub(super) mod dialect;
mod docs;
mod index;
#[cfg(test)]
mod index_tests;
mod layout;
mod names;
mod pool;
#[cfg(test)]
mod tenant_tests;
mod tenants;
#[cfg(test)]
mod tests;
mod usage;
mod vectors;
