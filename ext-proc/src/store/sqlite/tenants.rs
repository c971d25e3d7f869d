//! One SQLite file per tenant, opened on first use and closed when it is the
//! least recently used of more than [`MAX_OPEN`].
//!
//! Why files rather than table prefixes in one file: SQLite keeps one schema
//! per file, parsed whole by every connection and re-read by all of them after
//! any DDL, so with thousands of tenants in one file each connection held the
//! schema of all of them and each tenant's DDL got slower than the last. A
//! tenant's file holds only its own schema; it can also be copied, sized or
//! deleted on its own. Inside, a tenant's file has the same catalog and
//! physical names as the shared file, so every statement is the same.

use super::layout;
use super::pool::{connect, Db};
use crate::fastmap::FastMap;
use crate::store::StoreError;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// Tenant files open at once (beyond these, the least recently used idle one
/// is closed). An open file costs about 200 KiB of the sidecar's memory per
/// connection (SQLite's lookaside buffer and first page-cache slab, its
/// schema, the `-shm` map) and up to [`CONNECTIONS`] × 2 + 1 file
/// descriptors: 64 files stay near 15 MiB, inside the sidecar's memory
/// budget, and far under the usual 1,024 descriptors per process (measured:
/// 128 files cost ~25 MiB). Reopening a closed file costs about a
/// millisecond, so a working set larger than this only pays that on a
/// tenant's first request after its file was closed.
pub(super) const MAX_OPEN: usize = 64;

/// Connections per tenant file (opened as calls overlap): one tenant is one
/// writer at a time in SQLite anyway, and a second connection lets a read run
/// beside its write.
pub(super) const CONNECTIONS: usize = 2;

/// A tenant's file, shared by the calls in flight on it: while any call holds
/// a clone, the file is not closed.
pub(super) type Lease = Arc<OnceCell<Db>>;

/// The tenant files of one store.
pub(super) struct TenantDbs {
    dir: PathBuf,
    open: Mutex<Open>,
    /// Files opened so far (reopens included).
    opens: AtomicU64,
}

#[derive(Default)]
struct Open {
    files: FastMap<String, Entry>,
    /// Bumped on every use; an entry's `used` orders the LRU.
    clock: u64,
}

struct Entry {
    db: Lease,
    used: u64,
}

/// The file name of a tenant's database: injective and safe on any file
/// system. Lower-case letters, digits, `_` and `-` stay as they are (tenant
/// ids are usually such); every other byte, upper-case letters included (so
/// that case-insensitive file systems keep `Acme` and `acme` apart) and `.`
/// (so no name is `.` or `..`), is written `%xx`. A name too long for a
/// file system is replaced by `~` and its SHA-256 (`~` is always escaped
/// otherwise, so the two forms never meet).
pub fn file_name(tenant: &str) -> String {
    use std::fmt::Write;
    let mut stem = String::with_capacity(tenant.len());
    for b in tenant.bytes() {
        if b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-' {
            stem.push(char::from(b));
        } else {
            let _ = write!(stem, "%{b:02x}");
        }
    }
    // 255 bytes is the usual limit for a name; SQLite adds `-wal`/`-shm`/`-journal`.
    if stem.len() > 200 || stem.is_empty() {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(tenant.as_bytes());
        stem = digest.iter().fold(String::from("~"), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        });
    }
    stem + ".db"
}

/// The directory of a main file's tenant files: `<main>.tenants`.
pub fn dir_of(main: &Path) -> PathBuf {
    let mut name = main.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".tenants");
    main.with_file_name(name)
}

impl TenantDbs {
    /// The tenant files beside `main` (the directory is made on first use).
    pub(super) fn new(main: &Path) -> TenantDbs {
        TenantDbs { dir: dir_of(main), open: Mutex::new(Open::default()), opens: AtomicU64::new(0) }
    }

    /// The path of a tenant's file.
    pub(super) fn path(&self, tenant: &str) -> PathBuf {
        self.dir.join(file_name(tenant))
    }

    /// The tenant's file, to be opened with [`open`] if it is not yet; marks
    /// it most recently used and, when that makes one too many, closes the
    /// least recently used file no call holds.
    pub(super) fn lease(&self, tenant: &str) -> Result<Lease, StoreError> {
        let mut evicted = None;
        let lease = {
            let mut open = self.open.lock().map_err(|_| StoreError::Internal("tenant file list poisoned".into()))?;
            open.clock += 1;
            let used = open.clock;
            if let Some(e) = open.files.get_mut(tenant) {
                e.used = used;
                return Ok(e.db.clone());
            }
            if open.files.len() >= MAX_OPEN {
                // Only files no call holds (one reference: the list's). When
                // every file is busy the list grows past the cap for a while,
                // bounded by the calls in flight.
                let idle = open
                    .files
                    .iter()
                    .filter(|(_, e)| Arc::strong_count(&e.db) == 1)
                    .min_by_key(|(_, e)| e.used)
                    .map(|(t, _)| t.clone());
                evicted = idle.and_then(|t| open.files.remove(&t));
            }
            let db: Lease = Arc::new(OnceCell::new());
            open.files.insert(tenant.to_owned(), Entry { db: db.clone(), used });
            db
        };
        if let Some(e) = evicted {
            // Closing checkpoints the WAL: file I/O, off the async threads.
            drop(tokio::task::spawn_blocking(move || drop(e)));
        }
        Ok(lease)
    }

    /// Every open tenant file (each kept open while its lease is held).
    pub(super) fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        let open = self.open.lock().map_err(|_| StoreError::Internal("tenant file list poisoned".into()))?;
        Ok(open.files.values().map(|e| e.db.clone()).collect())
    }

    /// How many tenant files are open, and how many opens there were.
    #[cfg(test)]
    pub(super) fn counts(&self) -> (usize, u64) {
        (self.open.lock().map(|o| o.files.len()).unwrap_or(0), self.opens.load(Ordering::Relaxed))
    }

    /// Opens (creating if needed) a tenant's file: its catalog, its owner
    /// mark, and a sweep of rows that expired while it was closed (the
    /// periodic sweep only visits open files). Blocking: runs on a blocking thread.
    pub(super) async fn open(&self, tenant: &str, now_ms: i64) -> Result<Db, StoreError> {
        self.opens.fetch_add(1, Ordering::Relaxed);
        let (dir, path, tenant) = (self.dir.clone(), self.path(tenant), tenant.to_owned());
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)
                .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
            let mut c = connect(&path)?;
            layout::settle_tenant(&mut c, &tenant)?;
            // Best effort: a sweep that fails here (a corrupt definition, say)
            // must not keep the tenant from its data; the next open retries.
            if let Err(e) = super::sweep_rows(&c, now_ms).and_then(|_| super::docs::sweep_docs(&c, now_ms)) {
                tracing::warn!(error = %e, "expired-row sweep of a tenant's file failed on open");
            }
            Ok(Db::new(path, vec![c], CONNECTIONS))
        })
        .await
        .map_err(|e| StoreError::Internal(format!("sqlite task failed: {e}")))?
    }
}

/// What the periodic sweeper and every open sees as "now".
pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_injective_and_plain() {
        assert_eq!(file_name("tenant12"), "tenant12.db");
        assert_eq!(file_name("acme-1_x"), "acme-1_x.db");
        assert_eq!(file_name("Acme"), "%41cme.db");
        assert_eq!(file_name("a.b"), "a%2eb.db");
        assert_eq!(file_name(".."), "%2e%2e.db");
        assert_eq!(file_name("a/b"), "a%2fb.db");
        let names = ["a", "A", "%41", "a.b", "a%2eb", "~", "", "ü"];
        let files: std::collections::HashSet<String> = names.iter().map(|n| file_name(n).to_lowercase()).collect();
        assert_eq!(files.len(), names.len(), "no two tenants share a file, even once case is folded");
        let long = file_name(&"X".repeat(100));
        assert!(long.starts_with('~') && long.len() == 68, "{long}");
        assert_ne!(long, file_name(&"X".repeat(101)));
        assert_eq!(dir_of(Path::new("/d/main.db")), Path::new("/d/main.db.tenants"));
    }
}
