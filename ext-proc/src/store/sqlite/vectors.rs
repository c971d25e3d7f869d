//! Packed vectors on SQLite: `datagate_vectors`, one row per document that
//! has a `$vector`, written and removed inside the document's own transaction
//! (see [`crate::store::vectors`]).

use super::names::table;
use super::{map_err, SqliteStore};
use crate::model::Namespace;
use crate::store::docedit::VectorSide;
use crate::store::vectors::{unpack_into, Scorer, TopK, VectorStore};
use crate::store::StoreError;
use async_trait::async_trait;
use rusqlite::{params, Connection};
use serde_json::Value as Json;

/// The side table (a rowid table: the rows are ~3 KB blobs, too big to live
/// in a `WITHOUT ROWID` b-tree's cells).
pub(super) const CATALOG: &str = "
CREATE TABLE IF NOT EXISTS datagate_vectors (
    tenant TEXT NOT NULL, keyspace TEXT NOT NULL, coll TEXT NOT NULL, id TEXT NOT NULL, vec BLOB NOT NULL,
    PRIMARY KEY (tenant, keyspace, coll, id)) STRICT;
";

/// Makes the side row match the document just written: its vector packed
/// (`None`: it has none, so a replaced version's is removed).
pub(super) fn sync_packed(
    c: &Connection,
    ns: &Namespace,
    coll: &str,
    id: &str,
    packed: Option<&[u8]>,
) -> Result<(), StoreError> {
    match packed {
        Some(bytes) => c
            .prepare_cached(
                "INSERT INTO datagate_vectors (tenant, keyspace, coll, id, vec) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (tenant, keyspace, coll, id) DO UPDATE SET vec = excluded.vec",
            )
            .and_then(|mut s| s.execute(params![ns.tenant, ns.keyspace, coll, id, bytes]))
            .map(|_| ())
            .map_err(map_err),
        None => forget(c, ns, coll, id),
    }
}

/// Does what an edit decided for the document's side row.
pub(super) fn apply(c: &Connection, ns: &Namespace, coll: &str, id: &str, side: VectorSide) -> Result<(), StoreError> {
    match side {
        VectorSide::Put(bytes) => sync_packed(c, ns, coll, id, Some(&bytes)),
        VectorSide::Remove => forget(c, ns, coll, id),
        VectorSide::Leave => Ok(()),
    }
}

/// Removes a deleted document's side row.
pub(super) fn forget(c: &Connection, ns: &Namespace, coll: &str, id: &str) -> Result<(), StoreError> {
    c.prepare_cached("DELETE FROM datagate_vectors WHERE tenant = ?1 AND keyspace = ?2 AND coll = ?3 AND id = ?4")
        .and_then(|mut s| s.execute(params![ns.tenant, ns.keyspace, coll, id]))
        .map(|_| ())
        .map_err(map_err)
}

/// Removes the side rows of a dropped collection (`None`: of every
/// collection of a dropped keyspace).
pub(super) fn forget_all(c: &Connection, ns: &Namespace, coll: Option<&str>) -> Result<(), StoreError> {
    match coll {
        Some(coll) => c.execute(
            "DELETE FROM datagate_vectors WHERE tenant = ?1 AND keyspace = ?2 AND coll = ?3",
            params![ns.tenant, ns.keyspace, coll],
        ),
        None => c.execute(
            "DELETE FROM datagate_vectors WHERE tenant = ?1 AND keyspace = ?2",
            params![ns.tenant, ns.keyspace],
        ),
    }
    .map(|_| ())
    .map_err(map_err)
}

/// Removes the side rows of documents about to be swept as expired.
pub(super) fn forget_expired(c: &Connection, ns: &Namespace, coll: &str, now_ms: i64) -> Result<(), StoreError> {
    let sql = format!(
        "DELETE FROM datagate_vectors WHERE tenant = ?1 AND keyspace = ?2 AND coll = ?3 \
         AND id IN (SELECT id FROM {} WHERE expires_at <= ?4)",
        table(ns, coll)
    );
    c.execute(&sql, params![ns.tenant, ns.keyspace, coll, now_ms]).map(|_| ()).map_err(map_err)
}

#[async_trait]
impl VectorStore for SqliteStore {
    async fn nearest(
        &self,
        ns: &Namespace,
        coll: &str,
        score: Scorer,
        k: usize,
    ) -> Result<Vec<(String, f64)>, StoreError> {
        let tenant = ns.tenant.as_str();
        let (ns, coll) = (ns.clone(), coll.to_owned());
        self.run(tenant, move |c| {
            let mut s = c
                .prepare_cached(
                    "SELECT id, vec FROM datagate_vectors WHERE tenant = ?1 AND keyspace = ?2 AND coll = ?3",
                )
                .map_err(map_err)?;
            let mut rows = s.query(params![ns.tenant, ns.keyspace, coll]).map_err(map_err)?;
            let (mut top, mut buf) = (TopK::new(k), Vec::new());
            while let Some(r) = rows.next().map_err(map_err)? {
                let bytes = r.get_ref(1).and_then(|v| Ok(v.as_blob()?)).map_err(map_err)?;
                unpack_into(bytes, &mut buf);
                let s = score(&buf);
                if top.wants(s) {
                    top.offer(s, r.get(0).map_err(map_err)?);
                }
            }
            Ok(top.into_sorted())
        })
        .await
    }

    async fn docs_by_id(
        &self,
        ns: &Namespace,
        coll: &str,
        ids: &[String],
        now_ms: i64,
    ) -> Result<Vec<(String, Json)>, StoreError> {
        let tenant = ns.tenant.as_str();
        let (sql, ids) = (
            format!(
                "SELECT id, doc FROM {} WHERE id IN (SELECT value FROM json_each(?1)) \
                 AND (expires_at IS NULL OR expires_at > ?2)",
                table(ns, coll)
            ),
            serde_json::to_string(ids).map_err(|e| StoreError::Internal(e.to_string()))?,
        );
        self.run(tenant, move |c| {
            let mut s = c.prepare_cached(&sql).map_err(map_err)?;
            let rows =
                s.query_map(params![ids, now_ms], |r| Ok((r.get(0)?, r.get::<_, String>(1)?))).map_err(map_err)?;
            let mut out = Vec::new();
            for row in rows {
                let (id, text): (String, String) = row.map_err(map_err)?;
                let doc = serde_json::from_str(&text)
                    .map_err(|e| StoreError::Internal(format!("stored document is not JSON: {e}")))?;
                out.push((id, doc));
            }
            Ok(out)
        })
        .await
    }
}
