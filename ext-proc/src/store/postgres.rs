//! PostgreSQL: each tenant keyspace is a schema, each table a table in it.
//!
//! The catalog is two tables in the `datagate` schema, changed in the same
//! transaction as the DDL they describe (PostgreSQL DDL is transactional), so
//! the definition and the physical table can never disagree.

use super::sql::{self, Dialect, Statement};
use super::sqlread;
use super::{Registered, Store, StoreError};
use crate::change::Change;
use crate::model::{ColumnType, DataType, Namespace, TableDef};
use crate::plan::{Condition, Select, Upsert};
use crate::value::Value;
use async_trait::async_trait;
use bytes::BytesMut;
use chrono::{DateTime, Utc};
use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime, TimeoutType,
};
use std::str::FromStr;
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::{NoTls, Row};

/// Prepared statements one pooled connection keeps at most; past it the
/// connection starts over (the statements in use re-prepare on first use).
const MAX_CACHED_STATEMENTS: usize = 512;

pub use dialect::PgDialect;

const CATALOG: &str = "
CREATE SCHEMA IF NOT EXISTS datagate;
CREATE TABLE IF NOT EXISTS datagate.keyspaces (
    tenant text NOT NULL, name text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, name));
CREATE TABLE IF NOT EXISTS datagate.tables (
    tenant text NOT NULL, keyspace text NOT NULL, name text NOT NULL, definition jsonb NOT NULL,
    PRIMARY KEY (tenant, keyspace, name),
    FOREIGN KEY (tenant, keyspace) REFERENCES datagate.keyspaces (tenant, name) ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS datagate.collections (
    tenant text NOT NULL, keyspace text NOT NULL, name text NOT NULL, json_schema jsonb,
    PRIMARY KEY (tenant, keyspace, name),
    FOREIGN KEY (tenant, keyspace) REFERENCES datagate.keyspaces (tenant, name) ON DELETE CASCADE);
";

/// The PostgreSQL store.
pub struct PgStore {
    pool: Pool,
    /// Collections whose GIN index was lately found, built or not yet needed.
    gin: gin::Checked,
}

impl PgStore {
    /// Connects a pool to `url` and makes sure the catalog tables exist.
    pub async fn open(url: &str, pool: super::PoolSettings) -> Result<PgStore, StoreError> {
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Internal(format!("invalid PostgreSQL URL: {e}")))?;
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(pool.size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(pool.wait))
            .create_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| StoreError::Internal(format!("cannot build the PostgreSQL pool: {e}")))?;
        let store = PgStore { pool, gin: gin::Checked::default() };
        let mut lease = store.client().await?;
        let client = lease.get()?;
        let tx = client.transaction().await.map_err(map_err)?;
        // Replicas starting together would race on CREATE ... IF NOT EXISTS; serialize them.
        tx.execute("SELECT pg_advisory_xact_lock(7215934)", &[]).await.map_err(map_err)?;
        tx.batch_execute(CATALOG).await.map_err(map_err)?;
        tx.batch_execute(vectors::CATALOG).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(store)
    }

    async fn client(&self) -> Result<Lease, StoreError> {
        let slot = crate::scope::connection_slot().await?;
        let object = self.pool.get().await.map_err(|e| match e {
            PoolError::Timeout(TimeoutType::Wait) => StoreError::Unavailable(format!(
                "all {} PostgreSQL connections are busy; retry shortly",
                self.pool.status().max_size
            )),
            e => StoreError::Unavailable(format!("PostgreSQL: {e}")),
        })?;
        // Statements are cached per connection and per table: bounded, so many
        // tenants' tables do not grow every connection (here and in the server).
        if object.statement_cache.size() > MAX_CACHED_STATEMENTS {
            object.statement_cache.clear();
        }
        Ok(Lease { object: Some(object), abandoned: crate::scope::Abandoned::current(), _slot: slot })
    }
}

/// A pooled connection lent to one request. When the request is given up (it
/// timed out) while holding it, the connection may still be running its
/// statement: it leaves the pool instead of being handed, busy, to the next
/// request, which would queue behind the abandoned statement.
struct Lease {
    object: Option<deadpool_postgres::Object>,
    abandoned: crate::scope::Abandoned,
    /// The tenant's slot, given back with the connection.
    _slot: Option<crate::admission::Slot>,
}

impl Lease {
    /// The connection.
    fn get(&mut self) -> Result<&mut deadpool_postgres::Object, StoreError> {
        // Only `drop` takes the object out.
        self.object.as_mut().ok_or_else(|| StoreError::Internal("PostgreSQL connection used after release".to_owned()))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.abandoned.is_set() {
            if let Some(object) = self.object.take() {
                // Detached from the pool and dropped: the connection closes.
                drop(deadpool_postgres::Object::take(object));
            }
        }
    }
}

fn map_err(e: tokio_postgres::Error) -> StoreError {
    let Some(code) = e.code() else {
        if e.is_closed() {
            return StoreError::Unavailable(format!("PostgreSQL connection: {e}"));
        }
        return client_side(&e);
    };
    let message = e.as_db_error().map(|d| d.message().to_owned()).unwrap_or_else(|| e.to_string());
    if *code == SqlState::UNDEFINED_TABLE
        || *code == SqlState::UNDEFINED_COLUMN
        || *code == SqlState::FEATURE_NOT_SUPPORTED && message.contains("cached plan")
    {
        return StoreError::SchemaChanged;
    }
    if *code == SqlState::UNIQUE_VIOLATION || *code == SqlState::DUPLICATE_SCHEMA || *code == SqlState::DUPLICATE_TABLE
    {
        return StoreError::AlreadyExists(message);
    }
    // Only a counter's increment computes a bigint (every other value is bound).
    if *code == SqlState::NUMERIC_VALUE_OUT_OF_RANGE && message == "bigint out of range" {
        return StoreError::Rejected(super::COUNTER_OVERFLOW.to_owned());
    }
    match code.code().get(..2) {
        // Class 22: data exceptions (out of range, invalid text); class 23: constraints;
        // class 54: a program limit (too many columns, a statement too complex).
        Some("22" | "23" | "54") => StoreError::Rejected(format!("the store refused the value: {message}")),
        // Class 08: connection; 53: insufficient resources; 57: operator intervention; 40: rollback.
        Some("08" | "53" | "57" | "40") => StoreError::Unavailable(format!("PostgreSQL: {message}")),
        _ => StoreError::Internal(format!("PostgreSQL {}: {message}", code.code())),
    }
}

/// An error raised by the driver before or after the server saw the statement.
/// Only a value that does not convert to or from its column's wire type means
/// the table changed shape (a retry with the fresh definition succeeds);
/// anything else (say, a message too large to encode) would fail again, so it
/// must not be answered with "retry".
fn client_side(e: &tokio_postgres::Error) -> StoreError {
    let text = e.to_string();
    if text.starts_with("error deserializing") || text.starts_with("error serializing") {
        StoreError::SchemaChanged
    } else {
        StoreError::Internal(format!("PostgreSQL client: {text}"))
    }
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Bool(b) => b.to_sql(ty, out),
            Value::Int(i) => match *ty {
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            Value::Float(f) if *ty == Type::FLOAT8 => f64::from(*f).to_sql(ty, out),
            Value::Float(f) => f.to_sql(ty, out),
            Value::Double(f) if *ty == Type::FLOAT4 => (*f as f32).to_sql(ty, out),
            Value::Double(f) => f.to_sql(ty, out),
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Uuid(u) => u.to_sql(ty, out),
            Value::Timestamp(t) => t.to_sql(ty, out),
            Value::Date(d) => d.to_sql(ty, out),
            Value::Time(t) => t.to_sql(ty, out),
            Value::Blob(b) => b.as_slice().to_sql(ty, out),
            Value::Inet(ip) => ip.to_sql(ty, out),
            Value::Json(j) => j.to_sql(ty, out),
            Value::Decimal(s) if *ty == Type::NUMERIC => {
                out.extend_from_slice(&crate::decimal::Decimal::parse(s)?.to_pg());
                Ok(IsNull::No)
            }
            Value::Decimal(s) => s.as_str().to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        // The statement's column decides the wire type; `to_sql` converts to it.
        true
    }

    to_sql_checked!();
}

fn read_value(row: &Row, i: usize, ty: DataType) -> Result<Value, StoreError> {
    let ty = match ty {
        DataType::Scalar(t) => t,
        _ => {
            let v = row.try_get::<_, Option<serde_json::Value>>(i).map_err(|e| StoreError::Internal(format!("{e}")))?;
            return Ok(v.map_or(Value::Null, Value::Json));
        }
    };
    let bad = |e: tokio_postgres::Error| StoreError::Internal(format!("reading a {ty} column: {e}"));
    let v = match ty {
        ColumnType::Text | ColumnType::Ascii => row.try_get::<_, Option<String>>(i).map_err(bad)?.map(Value::Text),
        ColumnType::Boolean => row.try_get::<_, Option<bool>>(i).map_err(bad)?.map(Value::Bool),
        ColumnType::Tinyint | ColumnType::Smallint => {
            row.try_get::<_, Option<i16>>(i).map_err(bad)?.map(|v| Value::Int(i64::from(v)))
        }
        ColumnType::Int => row.try_get::<_, Option<i32>>(i).map_err(bad)?.map(|v| Value::Int(i64::from(v))),
        ColumnType::Bigint | ColumnType::Counter => row.try_get::<_, Option<i64>>(i).map_err(bad)?.map(Value::Int),
        ColumnType::Float => row.try_get::<_, Option<f32>>(i).map_err(bad)?.map(Value::Float),
        ColumnType::Double => row.try_get::<_, Option<f64>>(i).map_err(bad)?.map(Value::Double),
        ColumnType::Uuid | ColumnType::Timeuuid => {
            row.try_get::<_, Option<uuid::Uuid>>(i).map_err(bad)?.map(Value::Uuid)
        }
        ColumnType::Timestamp => row.try_get::<_, Option<DateTime<Utc>>>(i).map_err(bad)?.map(Value::Timestamp),
        ColumnType::Date => row.try_get::<_, Option<chrono::NaiveDate>>(i).map_err(bad)?.map(Value::Date),
        ColumnType::Time => row.try_get::<_, Option<chrono::NaiveTime>>(i).map_err(bad)?.map(Value::Time),
        ColumnType::Blob => row.try_get::<_, Option<Vec<u8>>>(i).map_err(bad)?.map(Value::Blob),
        ColumnType::Inet => row.try_get::<_, Option<std::net::IpAddr>>(i).map_err(bad)?.map(Value::Inet),
        ColumnType::Decimal | ColumnType::Varint => {
            row.try_get::<_, Option<PgNumeric>>(i).map_err(bad)?.map(|n| Value::Decimal(n.0))
        }
    };
    Ok(v.unwrap_or(Value::Null))
}

/// A `numeric` read exactly, as decimal text.
struct PgNumeric(String);

impl<'a> tokio_postgres::types::FromSql<'a> for PgNumeric {
    fn from_sql(_ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(PgNumeric(crate::decimal::Decimal::from_pg(raw)?.to_string()))
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

fn params(st: &Statement) -> Vec<&(dyn ToSql + Sync)> {
    st.params.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

fn parse_def(v: serde_json::Value) -> Result<TableDef, StoreError> {
    serde_json::from_value(v).map_err(|e| StoreError::Internal(format!("corrupt table definition: {e}")))
}

/// `KeyspaceNotFound` unless the tenant has the keyspace.
async fn require_keyspace(c: &impl GenericClient, ns: &Namespace, lock: bool) -> Result<(), StoreError> {
    // FOR SHARE keeps a concurrent DROP KEYSPACE from slipping under a CREATE TABLE.
    let sql = if lock {
        "SELECT 1 FROM datagate.keyspaces WHERE tenant = $1 AND name = $2 FOR SHARE"
    } else {
        "SELECT 1 FROM datagate.keyspaces WHERE tenant = $1 AND name = $2"
    };
    let rows = c.query(sql, &[&ns.tenant, &ns.keyspace]).await.map_err(map_err)?;
    if rows.is_empty() {
        return Err(StoreError::KeyspaceNotFound(ns.keyspace.clone()));
    }
    Ok(())
}

#[async_trait]
impl Store for PgStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut lease = self.client().await?;
        lease.get()?.simple_query("SELECT 1").await.map_err(map_err)?;
        Ok(())
    }

    async fn create_keyspace(&self, ns: &Namespace) -> Result<(), StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let tx = client.transaction().await.map_err(map_err)?;
        let n = tx
            .execute(
                "INSERT INTO datagate.keyspaces (tenant, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&ns.tenant, &ns.keyspace],
            )
            .await
            .map_err(map_err)?;
        if n == 0 {
            return Err(StoreError::AlreadyExists(format!("keyspace '{}'", ns.keyspace)));
        }
        tx.batch_execute(&format!("CREATE SCHEMA {}", sql::quote(&ns.physical()))).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn keyspaces(&self, tenant: &str) -> Result<Vec<String>, StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let rows = client
            .query("SELECT name FROM datagate.keyspaces WHERE tenant = $1 ORDER BY name", &[&tenant])
            .await
            .map_err(map_err)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn drop_keyspace(&self, ns: &Namespace) -> Result<(), StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let tx = client.transaction().await.map_err(map_err)?;
        let n = tx
            .execute("DELETE FROM datagate.keyspaces WHERE tenant = $1 AND name = $2", &[&ns.tenant, &ns.keyspace])
            .await
            .map_err(map_err)?;
        if n == 0 {
            return Err(StoreError::KeyspaceNotFound(ns.keyspace.clone()));
        }
        tx.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", sql::quote(&ns.physical())))
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn create_table(&self, ns: &Namespace, def: &TableDef, if_not_exists: bool) -> Result<bool, StoreError> {
        let definition = serde_json::to_value(def).map_err(|e| StoreError::Internal(e.to_string()))?;
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let tx = client.transaction().await.map_err(map_err)?;
        require_keyspace(&tx, ns, true).await?;
        let n = tx
            .execute(
                "INSERT INTO datagate.tables (tenant, keyspace, name, definition) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
                &[&ns.tenant, &ns.keyspace, &def.name, &definition],
            )
            .await
            .map_err(map_err)?;
        if n == 0 {
            return if if_not_exists {
                Ok(false)
            } else {
                Err(StoreError::AlreadyExists(format!("table '{}'", def.name)))
            };
        }
        for ddl in sql::create_table(&PgDialect, ns, def) {
            tx.batch_execute(&ddl).await.map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn table(&self, ns: &Namespace, name: &str) -> Result<TableDef, StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let stmt = client
            .prepare_cached(
                "SELECT t.definition FROM datagate.keyspaces k LEFT JOIN datagate.tables t \
                 ON t.tenant = k.tenant AND t.keyspace = k.name AND t.name = $3 \
                 WHERE k.tenant = $1 AND k.name = $2",
            )
            .await
            .map_err(map_err)?;
        let row = client.query_opt(&stmt, &[&ns.tenant, &ns.keyspace, &name]).await.map_err(map_err)?;
        let Some(row) = row else {
            return Err(StoreError::KeyspaceNotFound(ns.keyspace.clone()));
        };
        match row.try_get::<_, Option<serde_json::Value>>(0).map_err(map_err)? {
            None => Err(StoreError::TableNotFound(name.to_owned())),
            Some(v) => parse_def(v),
        }
    }

    async fn tables(&self, ns: &Namespace) -> Result<Vec<TableDef>, StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        require_keyspace(&*client, ns, false).await?;
        let rows = client
            .query(
                "SELECT definition FROM datagate.tables WHERE tenant = $1 AND keyspace = $2 ORDER BY name",
                &[&ns.tenant, &ns.keyspace],
            )
            .await
            .map_err(map_err)?;
        rows.into_iter().map(|r| parse_def(r.get(0))).collect()
    }

    async fn drop_table(&self, ns: &Namespace, name: &str) -> Result<(), StoreError> {
        self.drop_registered(ns, Registered::Table, name, &PgDialect.table(ns, name)).await
    }

    async fn alter_table(&self, ns: &Namespace, table: &str, change: &Change) -> Result<TableDef, StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let tx = client.transaction().await.map_err(map_err)?;
        require_keyspace(&tx, ns, true).await?;
        // FOR UPDATE: concurrent changes to one table apply one after the other.
        let row = tx
            .query_opt(
                "SELECT definition FROM datagate.tables WHERE tenant = $1 AND keyspace = $2 AND name = $3 FOR UPDATE",
                &[&ns.tenant, &ns.keyspace, &table],
            )
            .await
            .map_err(map_err)?;
        let def = parse_def(row.ok_or_else(|| StoreError::TableNotFound(table.to_owned()))?.get(0))?;
        let new = crate::change::apply(&def, change)?;
        for ddl in sql::alter(&PgDialect, ns, &def, change) {
            tx.batch_execute(&ddl).await.map_err(map_err)?;
        }
        let definition = serde_json::to_value(&new).map_err(|e| StoreError::Internal(e.to_string()))?;
        tx.execute(
            "UPDATE datagate.tables SET definition = $4 WHERE tenant = $1 AND keyspace = $2 AND name = $3",
            &[&ns.tenant, &ns.keyspace, &table, &definition],
        )
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(new)
    }

    async fn upsert(&self, ns: &Namespace, def: &TableDef, rows: &[Upsert]) -> Result<u64, StoreError> {
        let statements: Vec<Statement> = rows.iter().map(|r| sql::upsert(&PgDialect, ns, def, r)).collect();
        let mut lease = self.client().await?;
        let client = lease.get()?;
        if let [one] = statements.as_slice() {
            let stmt = client.prepare_cached(&one.sql).await.map_err(map_err)?;
            return client.execute(&stmt, &params(one)).await.map_err(map_err);
        }
        let tx = client.transaction().await.map_err(map_err)?;
        let mut n = 0;
        for st in &statements {
            let stmt = tx.prepare_cached(&st.sql).await.map_err(map_err)?;
            n += tx.execute(&stmt, &params(st)).await.map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(n)
    }

    async fn select(&self, ns: &Namespace, def: &TableDef, select: &Select) -> Result<Vec<Vec<Value>>, StoreError> {
        let st = sqlread::select(&PgDialect, ns, def, select);
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let stmt = client.prepare_cached(&st.sql).await.map_err(map_err)?;
        let rows = client.query(&stmt, &params(&st)).await.map_err(map_err)?;
        rows.iter().map(|row| def.columns.iter().enumerate().map(|(i, c)| read_value(row, i, c.ty)).collect()).collect()
    }

    async fn sweep_expired(&self, now_ms: i64) -> Result<u64, StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let rows =
            client.query("SELECT tenant, keyspace, definition FROM datagate.tables", &[]).await.map_err(map_err)?;
        let mut deleted = 0u64;
        for row in rows {
            let ns = Namespace { tenant: row.get(0), keyspace: row.get(1) };
            let def = parse_def(row.get(2))?;
            if let Some(st) = sql::sweep(&PgDialect, &ns, &def, now_ms) {
                // One statement per table: no long transaction, and a table dropped
                // meanwhile only costs that one statement.
                match client.execute(st.sql.as_str(), &params(&st)).await.map_err(map_err) {
                    Ok(n) => deleted += n,
                    Err(StoreError::SchemaChanged) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(deleted)
    }

    async fn delete(&self, ns: &Namespace, def: &TableDef, key: &[Condition]) -> Result<u64, StoreError> {
        let st = sqlread::delete(&PgDialect, ns, def, key);
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let stmt = client.prepare_cached(&st.sql).await.map_err(map_err)?;
        client.execute(&stmt, &params(&st)).await.map_err(map_err)
    }
}

impl PgStore {
    /// Unregisters a table or collection and drops its physical table, in one transaction.
    pub(crate) async fn drop_registered(
        &self,
        ns: &Namespace,
        what: Registered,
        name: &str,
        physical: &str,
    ) -> Result<(), StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let tx = client.transaction().await.map_err(map_err)?;
        require_keyspace(&tx, ns, true).await?;
        let delete =
            format!("DELETE FROM datagate.{} WHERE tenant = $1 AND keyspace = $2 AND name = $3", what.registry());
        let n = tx.execute(delete.as_str(), &[&ns.tenant, &ns.keyspace, &name]).await.map_err(map_err)?;
        if n == 0 {
            return Err(what.not_found(name.to_owned()));
        }
        tx.batch_execute(&format!("DROP TABLE IF EXISTS {physical}")).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }
}

pub(super) mod dialect;
mod docs;
mod gin;
mod index;
mod names;
#[cfg(test)]
mod tests;
mod usage;
mod vectors;
