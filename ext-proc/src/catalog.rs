//! Table definitions cached in the sidecar. The store is the only source of
//! truth; entries are dropped on any DDL through this sidecar and expire after
//! a short TTL, which bounds staleness after DDL through another replica.
//! Each map is bounded ([`crate::bounded`]): with many tenants only those in
//! use stay cached.

use crate::bounded::{make_room, MAX_ENTRIES};
use crate::doc::schema::Schema;
use crate::fastmap::FastMap;
use crate::fault::Fault;
use crate::model::{check_collection, check_ident, Namespace, TableDef};
use crate::store::docs::{CollectionDef, DocStore};
use crate::store::{Store, StoreError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

type Key = (Namespace, String);
/// A cached value and when it was read.
type Timed<T> = (Instant, Arc<T>);

/// A document collection as requests use it: its definition and compiled schema.
pub struct Collection {
    /// The stored definition.
    pub def: CollectionDef,
    /// The compiled JSON Schema, if the collection has one.
    pub schema: Option<Schema>,
}

/// The cache.
pub struct Catalog {
    ttl: Duration,
    entries: RwLock<FastMap<Key, (Instant, Arc<TableDef>)>>,
    collections: RwLock<FastMap<Key, (Instant, Arc<Collection>)>>,
    keyspaces: RwLock<FastMap<Namespace, Timed<Vec<TableDef>>>>,
    /// Lookups answered from the cache, and from the store (for the metrics).
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Catalog {
    /// A cache whose entries live at most `ttl`.
    pub fn new(ttl: Duration) -> Catalog {
        Catalog {
            ttl,
            entries: RwLock::new(FastMap::default()),
            collections: RwLock::new(FastMap::default()),
            keyspaces: RwLock::new(FastMap::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Cache (hits, misses) since start.
    pub fn lookups(&self) -> (u64, u64) {
        (self.hits.load(Ordering::Relaxed), self.misses.load(Ordering::Relaxed))
    }

    fn hit<T>(&self, v: T) -> T {
        self.hits.fetch_add(1, Ordering::Relaxed);
        v
    }

    /// The definition of `table`, from cache or store; 404 naming what is missing.
    pub async fn table(&self, store: &dyn Store, ns: &Namespace, table: &str) -> Result<Arc<TableDef>, Fault> {
        check_ident("table", table).map_err(Fault::Invalid)?;
        let key = (ns.clone(), table.to_owned());
        if let Ok(entries) = self.entries.read() {
            if let Some((at, def)) = entries.get(&key) {
                if at.elapsed() < self.ttl {
                    return Ok(self.hit(def.clone()));
                }
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let def = Arc::new(store.table(ns, table).await?);
        if let Ok(mut entries) = self.entries.write() {
            make_room(&mut entries, MAX_ENTRIES, self.ttl);
            entries.insert(key, (Instant::now(), def.clone()));
        }
        Ok(def)
    }

    /// Every table of a keyspace, from cache or store (GraphQL builds its schema from them).
    pub async fn tables(&self, store: &dyn Store, ns: &Namespace) -> Result<Arc<Vec<TableDef>>, Fault> {
        if let Ok(entries) = self.keyspaces.read() {
            if let Some((at, tables)) = entries.get(ns) {
                if at.elapsed() < self.ttl {
                    return Ok(self.hit(tables.clone()));
                }
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let tables = Arc::new(store.tables(ns).await?);
        if let Ok(mut entries) = self.keyspaces.write() {
            make_room(&mut entries, MAX_ENTRIES, self.ttl);
            entries.insert(ns.clone(), (Instant::now(), tables.clone()));
        }
        Ok(tables)
    }

    /// A collection, from cache or store; 404 naming what is missing.
    pub async fn collection(&self, docs: &dyn DocStore, ns: &Namespace, name: &str) -> Result<Arc<Collection>, Fault> {
        check_collection(name).map_err(Fault::Invalid)?;
        let key = (ns.clone(), name.to_owned());
        if let Ok(entries) = self.collections.read() {
            if let Some((at, c)) = entries.get(&key) {
                if at.elapsed() < self.ttl {
                    return Ok(self.hit(c.clone()));
                }
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let def = docs.collection(ns, name).await?;
        // A stored schema was valid when it was set; if it no longer compiles
        // (library change), failing loudly beats accepting unchecked writes.
        let schema = match &def.json_schema {
            Some(s) => Some(Schema::compile(s).map_err(|e| Fault::Internal(format!("stored JSON schema: {e}")))?),
            None => None,
        };
        let c = Arc::new(Collection { def, schema });
        if let Ok(mut entries) = self.collections.write() {
            make_room(&mut entries, MAX_ENTRIES, self.ttl);
            entries.insert(key, (Instant::now(), c.clone()));
        }
        Ok(c)
    }

    /// A collection for a write: created on first use, as the Documents API promises.
    pub async fn collection_for_write(
        &self,
        docs: &dyn DocStore,
        ns: &Namespace,
        name: &str,
    ) -> Result<Arc<Collection>, Fault> {
        match self.collection(docs, ns, name).await {
            Err(Fault::NotFound(_)) => {
                // Still 404 when it is the keyspace that is missing.
                match docs.create_collection(ns, name, true).await {
                    Ok(_) | Err(StoreError::AlreadyExists(_)) => self.collection(docs, ns, name).await,
                    Err(e) => Err(e.into()),
                }
            }
            other => other,
        }
    }

    /// Forgets one collection (after it changed, or vanished under a request).
    pub fn forget_collection(&self, ns: &Namespace, name: &str) {
        if let Ok(mut entries) = self.collections.write() {
            entries.remove(&(ns.clone(), name.to_owned()));
        }
    }

    /// Forgets every table and collection of a namespace (after DDL on it).
    pub fn invalidate(&self, ns: &Namespace) {
        if let Ok(mut entries) = self.entries.write() {
            entries.retain(|(n, _), _| n != ns);
        }
        if let Ok(mut entries) = self.collections.write() {
            entries.retain(|(n, _), _| n != ns);
        }
        if let Ok(mut entries) = self.keyspaces.write() {
            entries.remove(ns);
        }
    }
}
