//! A collection's GIN index on PostgreSQL (`jsonb_path_ops` over `doc`), built
//! on demand.
//!
//! The index answers equality on any path (the containment probes of
//! [`super::dialect`]'s `doc_candidates`), but every write pays for it: measured
//! with `bench/run`, it was a sixth of PostgreSQL's CPU per 1 KB document POST
//! (136 against 113 µs). So, like SQLite's per-path indexes, a collection gets
//! it when a search first needs it (a filter with a probe) and holds at least
//! [`AUTO_INDEX_MIN_DOCS`] documents; smaller ones are scanned in well under a
//! millisecond. Collections created before this keep the index they were
//! created with; nothing drops it.
//!
//! Whether a table was checked is kept for [`RECHECK`] per table, so searches
//! on a busy collection do not each ask the catalog; a collection that grows
//! past the threshold is indexed by its first search after that. Building takes
//! the same per-collection advisory lock as declared indexes, so replicas and
//! concurrent searches build it once (the others wait, then find it built).

use super::map_err;
use crate::bounded::{make_room, MAX_ENTRIES};
use crate::model::Namespace;
use crate::store::docs::AUTO_INDEX_MIN_DOCS;
use crate::store::sql;
use crate::store::StoreError;
use deadpool_postgres::{Client, GenericClient};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a table's check holds before a search asks the catalog again.
const RECHECK: Duration = Duration::from_secs(10);

/// The longest a build may take (a search waits for it; Envoy's own timeout is
/// 10 s). About 0.8 s per 100,000 documents of 1 KB here, so this covers
/// collections of several hundred thousand; a bigger one is left to scans (or
/// to declared indexes) and its build is not tried again for [`GAVE_UP`].
const BUILD_TIMEOUT: &str = "5s";

/// How long a failed build holds before a search tries again.
const GAVE_UP: Duration = Duration::from_secs(600);

/// Tables whose GIN index was found or built, or that were too small, lately:
/// when each was checked, and for how long that holds.
#[derive(Default)]
pub(super) struct Checked(Mutex<HashMap<String, (Instant, Duration)>>);

impl Checked {
    fn fresh(&self, table: &str) -> bool {
        let Ok(m) = self.0.lock() else { return false };
        m.get(table).is_some_and(|(at, hold)| at.elapsed() < *hold)
    }

    fn mark(&self, table: String, hold: Duration) {
        if let Ok(mut m) = self.0.lock() {
            make_room(&mut m, MAX_ENTRIES, RECHECK);
            m.insert(table, (Instant::now(), hold));
        }
    }
}

/// The index's name: `#` never occurs in a collection name, so no
/// collection's table can take it.
pub(super) fn name(coll: &str) -> String {
    format!("#{coll}#gin")
}

/// The statement building the index on `table`.
pub(super) fn create(table: &str, coll: &str) -> String {
    // fastupdate off: writes go straight into the index instead of a pending
    // list that every search scans linearly until vacuum merges it.
    format!(
        "CREATE INDEX IF NOT EXISTS {} ON {table} USING gin (doc jsonb_path_ops) WITH (fastupdate = off)",
        sql::quote(&name(coll))
    )
}

/// Makes sure a collection big enough to need it has its GIN index (see the
/// module doc); `table` is its physical name. One catalog round trip when the
/// check is stale, none when fresh.
pub(super) async fn ensure(
    checked: &Checked,
    c: &mut Client,
    ns: &Namespace,
    coll: &str,
    table: &str,
) -> Result<(), StoreError> {
    if checked.fresh(table) {
        return Ok(());
    }
    let schema = ns.physical();
    let probe = format!(
        "SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = $1 AND indexname = $2), \
         (SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT $3) AS s)"
    );
    let row = c.query_one(&probe, &[&schema, &name(coll), &AUTO_INDEX_MIN_DOCS]).await.map_err(map_err)?;
    let (exists, docs): (bool, i64) = (row.try_get(0).map_err(map_err)?, row.try_get(1).map_err(map_err)?);
    if !exists && docs >= AUTO_INDEX_MIN_DOCS {
        if let Err(e) = build(c, &schema, table, coll).await {
            checked.mark(table.to_owned(), GAVE_UP);
            return Err(e);
        }
        tracing::info!(tenant = %ns.tenant, keyspace = %ns.keyspace, collection = coll, "built the collection's GIN index");
    }
    checked.mark(table.to_owned(), RECHECK);
    Ok(())
}

async fn build(c: &mut Client, schema: &str, table: &str, coll: &str) -> Result<(), StoreError> {
    let tx = c.transaction().await.map_err(map_err)?;
    // The same lock as declared indexes: one build per collection at a time.
    tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&format!("{schema}#{coll}")]).await.map_err(map_err)?;
    tx.batch_execute(&format!("SET LOCAL statement_timeout = '{BUILD_TIMEOUT}'")).await.map_err(map_err)?;
    tx.batch_execute(&create(table, coll)).await.map_err(map_err)?;
    tx.commit().await.map_err(map_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_is_named_apart_from_every_collection() {
        assert_eq!(name("c"), "#c#gin");
        let sql = create("\"dg_x\".\"#c\"", "c");
        assert_eq!(
            sql,
            "CREATE INDEX IF NOT EXISTS \"#c#gin\" ON \"dg_x\".\"#c\" USING gin (doc jsonb_path_ops) WITH (fastupdate = off)"
        );
    }

    #[test]
    fn a_check_holds_for_a_while_per_table() {
        let c = Checked::default();
        assert!(!c.fresh("a"));
        c.mark("a".to_owned(), RECHECK);
        c.mark("b".to_owned(), Duration::ZERO);
        assert!(c.fresh("a"));
        assert!(!c.fresh("b"), "held for no time");
        assert!(!c.fresh("c"));
    }
}
