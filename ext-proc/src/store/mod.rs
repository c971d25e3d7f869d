//! Storage: one trait, one implementation per store. Plans come in typed;
//! every value reaches the database as a bound parameter and every identifier
//! has been validated (and is quoted) before it reaches statement text.

pub mod docedit;
pub mod docs;
pub mod docsql;
pub mod postgres;
mod shapes;
pub mod sql;
#[cfg(test)]
pub mod sql_cases;
pub mod sqlite;
pub mod sqlread;
pub mod usage;
pub mod vectors;

use crate::change::{Change, Refusal};
use crate::fault::Fault;
use crate::model::{Namespace, TableDef};
use crate::plan::{Condition, Select, Upsert};
use crate::value::Value;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// Storage failures, by what the client should be told.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The tenant has no keyspace of that name.
    #[error("keyspace '{0}' not found")]
    KeyspaceNotFound(String),
    /// The keyspace has no table of that name.
    #[error("table '{0}' not found")]
    TableNotFound(String),
    /// The table changed under the request (DDL through another replica while
    /// this one's cached definition was still fresh); a retry sees the new shape.
    #[error("the table changed while the request ran; retry")]
    SchemaChanged,
    /// The keyspace has no document collection of that name.
    #[error("collection '{0}' not found")]
    CollectionNotFound(String),
    /// A check on the stored document refused the change (the error says why).
    #[error("{0}")]
    Refused(Fault),
    /// A column or index the change names does not exist (the text names it).
    #[error("{0}")]
    Missing(String),
    /// Creating something that exists (the text names it).
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The store refused the values (out of range, constraint); the text says why.
    #[error("{0}")]
    Rejected(String),
    /// The store cannot be reached or is overloaded; retrying may work.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: a bug or an unexpected store state.
    #[error("{0}")]
    Internal(String),
}

/// The refusal of a counter write that would leave the 64-bit range (the only
/// integer a statement computes rather than binds): SQLite's own words name
/// the physical table and PostgreSQL's say only "bigint out of range".
pub const COUNTER_OVERFLOW: &str =
    "the counter would leave the bigint range (-9223372036854775808 to 9223372036854775807); the row is unchanged";

/// What a registry row names: tables and document collections are registered,
/// and dropped, the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Registered {
    /// A table of rows.
    Table,
    /// A document collection.
    Collection,
}

impl Registered {
    /// The registry's name (`datagate.tables`, `datagate_collections`, ... per store).
    pub(crate) fn registry(self) -> &'static str {
        match self {
            Registered::Table => "tables",
            Registered::Collection => "collections",
        }
    }

    /// The refusal when `name` is not registered.
    pub(crate) fn not_found(self, name: String) -> StoreError {
        match self {
            Registered::Table => StoreError::TableNotFound(name),
            Registered::Collection => StoreError::CollectionNotFound(name),
        }
    }
}

/// A storage backend. Keyspaces are always tenant-scoped through [`Namespace`].
#[async_trait]
pub trait Store: Send + Sync {
    /// A short name for logs (`sqlite`, `postgres`).
    fn kind(&self) -> &'static str;
    /// One round trip to the store that touches no tenant's data (the health
    /// probe): on SQLite the main file, never a tenant's.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Creates a keyspace; `AlreadyExists` if the tenant has it.
    async fn create_keyspace(&self, ns: &Namespace) -> Result<(), StoreError>;
    /// The tenant's keyspace names, sorted.
    async fn keyspaces(&self, tenant: &str) -> Result<Vec<String>, StoreError>;
    /// Drops a keyspace and all its tables.
    async fn drop_keyspace(&self, ns: &Namespace) -> Result<(), StoreError>;
    /// Creates a table; returns false when it existed and `if_not_exists` was set.
    async fn create_table(&self, ns: &Namespace, def: &TableDef, if_not_exists: bool) -> Result<bool, StoreError>;
    /// One table's definition; `KeyspaceNotFound`/`TableNotFound` when absent.
    async fn table(&self, ns: &Namespace, name: &str) -> Result<TableDef, StoreError>;
    /// All tables of a keyspace, sorted by name.
    async fn tables(&self, ns: &Namespace) -> Result<Vec<TableDef>, StoreError>;
    /// Drops a table.
    async fn drop_table(&self, ns: &Namespace, name: &str) -> Result<(), StoreError>;
    /// Changes a table's columns or indexes; returns the new definition.
    async fn alter_table(&self, ns: &Namespace, table: &str, change: &Change) -> Result<TableDef, StoreError>;
    /// Inserts or updates rows (Cassandra upsert semantics); several rows are
    /// written all-or-nothing in one transaction.
    /// Returns how many rows were written (a conditional write that did not apply writes none).
    async fn upsert(&self, ns: &Namespace, def: &TableDef, rows: &[Upsert]) -> Result<u64, StoreError>;
    /// Reads rows in primary-key order; each row holds `def.columns` in order.
    async fn select(&self, ns: &Namespace, def: &TableDef, select: &Select) -> Result<Vec<Vec<Value>>, StoreError>;
    /// Deletes expired rows in every table of every tenant; returns how many.
    async fn sweep_expired(&self, now_ms: i64) -> Result<u64, StoreError>;
    /// Deletes the rows matching the key conditions; returns how many.
    async fn delete(&self, ns: &Namespace, def: &TableDef, key: &[Condition]) -> Result<u64, StoreError>;
}

/// Both faces of one backend: rows and documents share its connections.
#[derive(Clone)]
pub struct Backend {
    /// Tables and rows.
    pub rows: Arc<dyn Store>,
    /// Document collections.
    pub docs: Arc<dyn docs::DocStore>,
    /// The usage system table.
    pub usage: Arc<dyn usage::UsageStore>,
}

/// The connection pool of a store.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Connections.
    pub size: usize,
    /// Longest wait for a free connection before `Unavailable` (a 503).
    pub wait: Duration,
}

impl PoolSettings {
    /// `size` connections, waited for at most one second.
    pub fn sized(size: usize) -> PoolSettings {
        PoolSettings { size, wait: Duration::from_secs(1) }
    }
}

/// Opens the store a URL names (`sqlite://PATH` or `postgres://...`) with a
/// pool of `pool_size` connections.
pub async fn open(url: &str, pool_size: usize) -> Result<Backend, StoreError> {
    open_with(url, PoolSettings::sized(pool_size)).await
}

/// Opens the store a URL names with the given pool.
pub async fn open_with(url: &str, pool: PoolSettings) -> Result<Backend, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let s = Arc::new(sqlite::SqliteStore::open(path, pool).await?);
        return Ok(Backend { rows: s.clone(), docs: s.clone(), usage: s });
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let s = Arc::new(postgres::PgStore::open(url, pool).await?);
        return Ok(Backend { rows: s.clone(), docs: s.clone(), usage: s });
    }
    Err(StoreError::Internal(format!("unsupported store URL '{url}': use sqlite://PATH or postgres://...")))
}

impl From<crate::admission::OverShare> for StoreError {
    fn from(e: crate::admission::OverShare) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

impl From<Refusal> for StoreError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Missing(m) => StoreError::Missing(m),
            Refusal::Exists(m) => StoreError::AlreadyExists(m),
            Refusal::Invalid(m) => StoreError::Rejected(m),
        }
    }
}

impl From<StoreError> for Fault {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::KeyspaceNotFound(ks) => Fault::NotFound(format!("keyspace '{ks}' not found")),
            StoreError::TableNotFound(t) => Fault::NotFound(format!("table '{t}' not found")),
            StoreError::Missing(m) => Fault::NotFound(m),
            StoreError::CollectionNotFound(c) => Fault::NotFound(format!("collection '{c}' not found")),
            StoreError::Refused(f) => f,
            StoreError::SchemaChanged => {
                Fault::Unavailable("the table changed while the request ran; retry".to_owned())
            }
            StoreError::AlreadyExists(what) => Fault::Conflict(format!("{what} already exists")),
            StoreError::Rejected(msg) => Fault::Invalid(msg),
            StoreError::Unavailable(msg) => Fault::Unavailable(msg),
            StoreError::Internal(msg) => Fault::Internal(msg),
        }
    }
}
