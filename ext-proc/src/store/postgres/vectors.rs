//! Packed vectors on PostgreSQL: `datagate.vectors`, one row per document
//! that has a `$vector`, written and removed inside the document's own
//! transaction (see [`crate::store::vectors`]). Its foreign key to the
//! collection catalog removes the rows with their collection or keyspace.

use super::names::table;
use super::{map_err, PgStore};
use crate::model::Namespace;
use crate::store::docedit::VectorSide;
use crate::store::vectors::{unpack_into, Scorer, TopK, VectorStore};
use crate::store::StoreError;
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use futures_util::{pin_mut, TryStreamExt};
use serde_json::Value as Json;

/// The side table. `STORAGE EXTERNAL`: packed floats do not compress, so
/// PostgreSQL should not spend time trying before it moves them out of line.
pub(super) const CATALOG: &str = "
CREATE TABLE IF NOT EXISTS datagate.vectors (
    tenant text NOT NULL, keyspace text NOT NULL, coll text NOT NULL, id text COLLATE \"C\" NOT NULL,
    vec bytea NOT NULL,
    PRIMARY KEY (tenant, keyspace, coll, id),
    FOREIGN KEY (tenant, keyspace, coll) REFERENCES datagate.collections (tenant, keyspace, name) ON DELETE CASCADE);
ALTER TABLE datagate.vectors ALTER COLUMN vec SET STORAGE EXTERNAL;
";

/// Makes the side row match the document just written; `had` says whether a
/// side row may exist (false for a document that did not exist before).
pub(super) async fn sync(
    c: &impl GenericClient,
    ns: &Namespace,
    coll: &str,
    id: &str,
    doc: &Json,
    had: bool,
) -> Result<(), StoreError> {
    apply(c, ns, coll, id, VectorSide::of(doc, had)).await
}

/// Does what an edit decided for the document's side row.
pub(super) async fn apply(
    c: &impl GenericClient,
    ns: &Namespace,
    coll: &str,
    id: &str,
    side: VectorSide,
) -> Result<(), StoreError> {
    match side {
        VectorSide::Put(bytes) => {
            let stmt = c
                .prepare_cached(
                    "INSERT INTO datagate.vectors (tenant, keyspace, coll, id, vec) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (tenant, keyspace, coll, id) DO UPDATE SET vec = excluded.vec",
                )
                .await
                .map_err(map_err)?;
            c.execute(&stmt, &[&ns.tenant, &ns.keyspace, &coll, &id, &bytes]).await.map_err(map_err)?;
            Ok(())
        }
        VectorSide::Remove => forget(c, ns, coll, &[id.to_owned()]).await,
        VectorSide::Leave => Ok(()),
    }
}

/// Removes the side rows of deleted (or vector-less) documents.
/// Writes (upserts) one document that has no vector and removes the vector
/// its earlier version may have had, in one statement (so without BEGIN and
/// COMMIT round trips, and atomically).
pub(super) async fn write_without_vector(
    c: &impl GenericClient,
    ns: &Namespace,
    coll: &str,
    table: &str,
    id: &str,
    doc: &Json,
    exp: Option<i64>,
) -> Result<(), StoreError> {
    let sql = format!(
        "WITH gone AS (DELETE FROM datagate.vectors WHERE tenant = $4 AND keyspace = $5 AND coll = $6 AND id = $1) \
         INSERT INTO {table} (id, doc, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, expires_at = excluded.expires_at"
    );
    let stmt = c.prepare_cached(&sql).await.map_err(map_err)?;
    c.execute(&stmt, &[&id, doc, &exp, &ns.tenant, &ns.keyspace, &coll]).await.map_err(map_err)?;
    Ok(())
}

pub(super) async fn forget(
    c: &impl GenericClient,
    ns: &Namespace,
    coll: &str,
    ids: &[String],
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let stmt = c
        .prepare_cached(
            "DELETE FROM datagate.vectors WHERE tenant = $1 AND keyspace = $2 AND coll = $3 AND id = ANY($4)",
        )
        .await
        .map_err(map_err)?;
    c.execute(&stmt, &[&ns.tenant, &ns.keyspace, &coll, &ids]).await.map_err(map_err)?;
    Ok(())
}

/// Removes the side rows of documents about to be swept as expired.
pub(super) async fn forget_expired(
    c: &impl GenericClient,
    ns: &Namespace,
    coll: &str,
    table: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    let sql = format!(
        "DELETE FROM datagate.vectors WHERE tenant = $1 AND keyspace = $2 AND coll = $3 \
         AND id IN (SELECT id FROM {table} WHERE expires_at <= $4)"
    );
    c.execute(sql.as_str(), &[&ns.tenant, &ns.keyspace, &coll, &now_ms]).await.map_err(map_err)?;
    Ok(())
}

#[async_trait]
impl VectorStore for PgStore {
    async fn nearest(
        &self,
        ns: &Namespace,
        coll: &str,
        score: Scorer,
        k: usize,
    ) -> Result<Vec<(String, f64)>, StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let stmt = client
            .prepare_cached("SELECT id, vec FROM datagate.vectors WHERE tenant = $1 AND keyspace = $2 AND coll = $3")
            .await
            .map_err(map_err)?;
        // Streamed: the rows of a large collection never sit in memory at once.
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&ns.tenant, &ns.keyspace, &coll];
        let rows = client.query_raw(&stmt, params).await.map_err(map_err)?;
        pin_mut!(rows);
        let (mut top, mut buf) = (TopK::new(k), Vec::new());
        while let Some(r) = rows.try_next().await.map_err(map_err)? {
            let bytes: &[u8] = r.try_get(1).map_err(map_err)?;
            unpack_into(bytes, &mut buf);
            let s = score(&buf);
            if top.wants(s) {
                top.offer(s, r.try_get(0).map_err(map_err)?);
            }
        }
        Ok(top.into_sorted())
    }

    async fn docs_by_id(
        &self,
        ns: &Namespace,
        coll: &str,
        ids: &[String],
        now_ms: i64,
    ) -> Result<Vec<(String, Json)>, StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let sql = format!(
            "SELECT id, doc FROM {} WHERE id = ANY($1) AND (expires_at IS NULL OR expires_at > $2)",
            table(ns, coll)
        );
        let stmt = client.prepare_cached(&sql).await.map_err(map_err)?;
        let rows = client.query(&stmt, &[&ids, &now_ms]).await.map_err(map_err)?;
        rows.iter().map(|r| Ok((r.try_get(0).map_err(map_err)?, r.try_get(1).map_err(map_err)?))).collect()
    }
}
