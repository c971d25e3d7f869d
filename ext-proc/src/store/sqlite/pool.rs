//! One SQLite file's connections: a small pool used from blocking threads,
//! grown on demand up to its cap. Every call also takes one of the store's
//! `calls` permits, so the configured pool size bounds the SQLite work running
//! at once however many files are open.

use super::map_err;
use crate::store::StoreError;
use rusqlite::config::DbConfig;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Opens one connection configured the way every statement here expects.
pub(super) fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn =
        Connection::open(path).map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(map_err)?;
    // Off: SQLite would otherwise read a double-quoted name that matches no
    // column as a string literal, so a renamed column would come back as its
    // own name instead of an error.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DQS_DML, false).map_err(map_err)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DQS_DDL, false).map_err(map_err)?;
    conn.create_collation("DG_DECIMAL", crate::decimal::collate).map_err(map_err)?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(map_err)?;
    // With WAL, NORMAL keeps every committed transaction across a process crash.
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(map_err)?;
    Ok(conn)
}

/// One database file and its connections.
pub(super) struct Db {
    path: PathBuf,
    /// Idle connections; a call takes one for its length. Shared with the
    /// blocking task so a call given up by its request still returns it.
    idle: Arc<Mutex<Vec<Connection>>>,
    /// One permit per connection this file may have: waiting here (bounded)
    /// rather than behind one busy connection keeps a slow call from holding
    /// up the next ones.
    permits: Arc<Semaphore>,
}

impl Db {
    /// A pool of at most `max` connections to `path`, starting with `first`
    /// (more are opened when calls overlap).
    pub(super) fn new(path: PathBuf, first: Vec<Connection>, max: usize) -> Db {
        Db { path, idle: Arc::new(Mutex::new(first)), permits: Arc::new(Semaphore::new(max.max(1))) }
    }

    /// Runs `f` on one of the file's connections on a blocking thread, after
    /// taking (within `wait`) a connection of this file, then one of the
    /// store's `calls` — in that order, so a call queued behind a busy file
    /// holds nothing other files need.
    pub(super) async fn run<T, F>(&self, calls: &Arc<Semaphore>, wait: Duration, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let slot = crate::scope::connection_slot().await?;
        let permits = async {
            let own = self.permits.clone().acquire_owned().await?;
            let any = calls.clone().acquire_owned().await?;
            Ok::<_, tokio::sync::AcquireError>((own, any))
        };
        let permits = match tokio::time::timeout(wait, permits).await {
            Ok(Ok(p)) => p,
            _ => {
                return Err(StoreError::Unavailable("all SQLite connections are busy; retry shortly".to_owned()));
            }
        };
        let (idle, path) = (self.idle.clone(), self.path.clone());
        tokio::task::spawn_blocking(move || {
            // Held until the call ends, even if the request that made it was given up.
            let _held = (permits, slot);
            let taken = idle.lock().map_err(|_| StoreError::Internal("sqlite pool lock poisoned".into()))?.pop();
            // Opened on demand: a file starts with one connection, and one
            // lost to a panic is replaced.
            let mut conn = match taken {
                Some(c) => c,
                None => connect(&path)?,
            };
            let out = f(&mut conn);
            if let Ok(mut idle) = idle.lock() {
                idle.push(conn);
            }
            out
        })
        .await
        .map_err(|e| StoreError::Internal(format!("sqlite task failed: {e}")))?
    }

    /// The file.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}
