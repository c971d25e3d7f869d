//! Where a store's tenants live, decided once per store and recorded in its
//! main file (`datagate_layout`) so it never flips:
//!
//! - `per_tenant` (every new store): each tenant has its own file beside the
//!   main one (see [`super::tenants`]); the main file keeps what is not any
//!   one tenant's (usage metering).
//! - `shared` (a file made before per-tenant files existed that already
//!   holds tenant data): every tenant stays in the main file, as before.
//!
//! No migration moves a shared file's tenants into their own files: it would
//! have to copy every tenant's catalog rows, tables, collections, indexes and
//! vectors into new files and then drop them from the shared one, while
//! requests (and other replicas, which read the same file) keep running —
//! a stop-the-world export that must never half-finish. Until that exists as
//! an offline tool, a shared file keeps serving everything it holds, unchanged.
//!
//! A tenant's own file records `tenant_file` and the tenant's id, so a file
//! copied under another tenant's name, or given as the main file, is refused
//! rather than served.

use super::map_err;
use crate::store::StoreError;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

/// One row: the file's role, and for a tenant's file, whose it is.
const TABLE: &str = "CREATE TABLE IF NOT EXISTS datagate_layout (layout TEXT NOT NULL, tenant TEXT) STRICT";

/// Where the tenants of a store live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    /// Every tenant in the main file (files from before per-tenant files).
    Shared,
    /// One file per tenant.
    PerTenant,
}

fn recorded(c: &Connection) -> Result<Option<(String, Option<String>)>, StoreError> {
    c.query_row("SELECT layout, tenant FROM datagate_layout LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(map_err)
}

/// The main file's layout: the recorded one, else decided now (`Shared` if
/// its catalog already names a keyspace) and recorded, in one transaction so
/// replicas opening a new file at once agree. The catalog must exist.
pub(super) fn settle_main(c: &mut Connection) -> Result<Layout, StoreError> {
    c.execute_batch(TABLE).map_err(map_err)?;
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_err)?;
    let layout = match recorded(&tx)? {
        Some((l, _)) if l == "shared" => Layout::Shared,
        Some((l, _)) if l == "per_tenant" => Layout::PerTenant,
        Some((l, tenant)) => {
            return Err(StoreError::Internal(format!(
                "the store file is not a main store file (layout '{l}', tenant {tenant:?}); \
                 point the store URL at the main file"
            )))
        }
        None => {
            let has_tenants = tx.query_row("SELECT EXISTS (SELECT 1 FROM datagate_keyspaces)", [], |r| r.get(0));
            let layout = if has_tenants.map_err(map_err)? { Layout::Shared } else { Layout::PerTenant };
            let name = if layout == Layout::Shared { "shared" } else { "per_tenant" };
            tx.execute("INSERT INTO datagate_layout (layout) VALUES (?1)", params![name]).map_err(map_err)?;
            layout
        }
    };
    tx.commit().map_err(map_err)?;
    Ok(layout)
}

/// Makes a new file `tenant`'s — catalog, mark and version in one
/// transaction (one commit: a new tenant's first request pays for it) — or
/// checks that an existing one is `tenant`'s.
pub(super) fn settle_tenant(c: &mut Connection, tenant: &str) -> Result<(), StoreError> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_err)?;
    let empty: bool =
        tx.query_row("SELECT NOT EXISTS (SELECT 1 FROM sqlite_schema)", [], |r| r.get(0)).map_err(map_err)?;
    if empty {
        tx.execute_batch(super::CATALOG).map_err(map_err)?;
        tx.execute_batch(super::vectors::CATALOG).map_err(map_err)?;
        tx.execute_batch(TABLE).map_err(map_err)?;
        tx.execute("INSERT INTO datagate_layout (layout, tenant) VALUES ('tenant_file', ?1)", params![tenant])
            .map_err(map_err)?;
        tx.pragma_update(None, "user_version", super::names::CASE_SAFE_VERSION).map_err(map_err)?;
        return tx.commit().map_err(map_err);
    }
    tx.commit().map_err(map_err)?;
    // Made by an earlier version: whatever the catalog gained since.
    super::init_catalog(c)?;
    c.execute_batch(TABLE).map_err(map_err)?;
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_err)?;
    match recorded(&tx)? {
        None => {
            tx.execute("INSERT INTO datagate_layout (layout, tenant) VALUES ('tenant_file', ?1)", params![tenant])
                .map_err(map_err)?;
        }
        Some((l, Some(t))) if l == "tenant_file" && t == tenant => {}
        Some((l, t)) => {
            return Err(StoreError::Internal(format!(
                "tenant {tenant:?}'s database file is marked layout '{l}', tenant {t:?}"
            )))
        }
    }
    tx.commit().map_err(map_err)
}
