//! Table definitions cached in the sidecar. The store is the only source of
//! truth; entries are dropped on any DDL through this sidecar and expire after
//! a short TTL, which bounds staleness after DDL through another replica.

use crate::error::ApiError;
use crate::model::{check_ident, Namespace, TableDef};
use crate::store::Store;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

type Key = (Namespace, String);

/// The cache.
pub struct Catalog {
    ttl: Duration,
    entries: RwLock<HashMap<Key, (Instant, Arc<TableDef>)>>,
}

impl Catalog {
    /// A cache whose entries live at most `ttl`.
    pub fn new(ttl: Duration) -> Catalog {
        Catalog { ttl, entries: RwLock::new(HashMap::new()) }
    }

    /// The definition of `table`, from cache or store; 404 naming what is missing.
    pub async fn table(&self, store: &dyn Store, ns: &Namespace, table: &str) -> Result<Arc<TableDef>, ApiError> {
        check_ident("table", table).map_err(ApiError::BadRequest)?;
        let key = (ns.clone(), table.to_owned());
        if let Ok(entries) = self.entries.read() {
            if let Some((at, def)) = entries.get(&key) {
                if at.elapsed() < self.ttl {
                    return Ok(def.clone());
                }
            }
        }
        let def = Arc::new(store.table(ns, table).await?);
        if let Ok(mut entries) = self.entries.write() {
            entries.insert(key, (Instant::now(), def.clone()));
        }
        Ok(def)
    }

    /// Forgets every table of a namespace (after DDL on it).
    pub fn invalidate(&self, ns: &Namespace) {
        if let Ok(mut entries) = self.entries.write() {
            entries.retain(|(n, _), _| n != ns);
        }
    }
}
