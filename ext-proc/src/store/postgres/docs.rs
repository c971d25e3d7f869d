//! Documents on PostgreSQL: one `jsonb` table per collection in the keyspace's
//! schema, with a `jsonb_path_ops` GIN index that serves equality filters once
//! the collection is big enough to need it ([`super::gin`]).

use super::names::table;
use super::{map_err, require_keyspace, PgStore};
use crate::doc::path::Path;
use crate::model::Namespace;
use crate::store::docedit::{decide, Step};
use crate::store::docs::{live, CollectionDef, DocRow, DocStore, EditFn};
use crate::store::docsql::{self, DocSearch};
use crate::store::sql::{self, Param};
use crate::store::{Registered, StoreError};
use async_trait::async_trait;
use bytes::BytesMut;
use deadpool_postgres::GenericClient;
use serde_json::Value as Json;
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};

impl ToSql for Param {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Param::Text(t) => t.as_str().to_sql(ty, out),
            Param::Int(i) => i.to_sql(ty, out),
            Param::Real(f) => f.to_sql(ty, out),
            Param::Json(j) => j.to_sql(ty, out),
            Param::Path(p) => p.to_sql(ty, out),
            Param::JsonList(l) => l.to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        // Every placeholder carries a cast (see `PgDialect::doc_param`), which fixes its type.
        true
    }

    to_sql_checked!();
}

/// A `jsonb` (or `json`) column read as compact text: the binary `jsonb`
/// format is a version byte (1) and the text PostgreSQL would print.
struct JsonText(String);

impl<'a> FromSql<'a> for JsonText {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<JsonText, Box<dyn std::error::Error + Sync + Send>> {
        let text = match (ty, raw.split_first()) {
            (&Type::JSONB, Some((1, rest))) => rest,
            (&Type::JSONB, _) => return Err("unsupported jsonb format version".into()),
            _ => raw,
        };
        let text = std::str::from_utf8(text)?;
        let mut out = String::with_capacity(text.len());
        crate::rawjson::compact_str_into(&mut out, text);
        Ok(JsonText(out))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB || *ty == Type::JSON
    }
}

impl PgStore {
    /// One document's `doc` column, read as `D` (the parsed tree or its text:
    /// one statement text, so one prepared statement, serves both), and its expiry.
    async fn read_doc<D: for<'a> FromSql<'a>>(
        &self,
        ns: &Namespace,
        coll: &str,
        id: &str,
    ) -> Result<Option<(D, Option<i64>)>, StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let sql = format!("SELECT doc, expires_at FROM {} WHERE id = $1", table(ns, coll));
        let found = async {
            let stmt = client.prepare_cached(&sql).await.map_err(map_err)?;
            client.query_opt(&stmt, &[&id]).await.map_err(map_err)
        }
        .await;
        let row = match found {
            Ok(r) => r,
            Err(e) => return Err(missing(&*client, ns, coll, e).await),
        };
        row.map(|r| Ok((r.try_get(0).map_err(map_err)?, r.try_get(1).map_err(map_err)?))).transpose()
    }
}

/// Why a statement found no table: the keyspace or the collection is gone.
async fn missing(c: &impl GenericClient, ns: &Namespace, coll: &str, e: StoreError) -> StoreError {
    if !matches!(e, StoreError::SchemaChanged) {
        return e;
    }
    match require_keyspace(c, ns, false).await {
        Err(k) => k,
        Ok(()) => StoreError::CollectionNotFound(coll.to_owned()),
    }
}

fn def(name: String, schema: Option<Json>) -> CollectionDef {
    CollectionDef { name, json_schema: schema }
}

async fn write(
    c: &impl GenericClient,
    t: &str,
    id: &str,
    doc: &Json,
    exp: Option<i64>,
    insert_only: bool,
) -> Result<u64, StoreError> {
    let sql = if insert_only {
        format!("INSERT INTO {t} (id, doc, expires_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING")
    } else {
        format!(
            "INSERT INTO {t} (id, doc, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, expires_at = excluded.expires_at"
        )
    };
    let stmt = c.prepare_cached(&sql).await.map_err(map_err)?;
    c.execute(&stmt, &[&id, doc, &exp]).await.map_err(map_err)
}

#[async_trait]
impl DocStore for PgStore {
    async fn create_collection(&self, ns: &Namespace, name: &str, if_not_exists: bool) -> Result<bool, StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let tx = client.transaction().await.map_err(map_err)?;
        require_keyspace(&tx, ns, true).await?;
        let n = tx
            .execute(
                "INSERT INTO datagate.collections (tenant, keyspace, name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&ns.tenant, &ns.keyspace, &name],
            )
            .await
            .map_err(map_err)?;
        if n == 0 {
            return if if_not_exists {
                Ok(false)
            } else {
                Err(StoreError::AlreadyExists(format!("collection '{name}'")))
            };
        }
        let t = table(ns, name);
        // No GIN index yet: the first search needing one builds it (see `gin`).
        let expiry = sql::quote(&format!("#{name}#expiry"));
        // Named, or PostgreSQL would call the key index "#<name>_pkey": the
        // table of a collection called "<name>_pkey".
        let pk = sql::quote(&format!("#{name}#pk"));
        tx.batch_execute(&format!(
            "CREATE TABLE {t} (id text COLLATE \"C\" CONSTRAINT {pk} PRIMARY KEY, doc jsonb NOT NULL, expires_at bigint);
             CREATE INDEX {expiry} ON {t} (expires_at) WHERE expires_at IS NOT NULL;"
        ))
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(true)
    }

    async fn collection(&self, ns: &Namespace, name: &str) -> Result<CollectionDef, StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let stmt = client
            .prepare_cached(
                "SELECT c.name, c.json_schema FROM datagate.keyspaces k LEFT JOIN datagate.collections c \
                 ON c.tenant = k.tenant AND c.keyspace = k.name AND c.name = $3 WHERE k.tenant = $1 AND k.name = $2",
            )
            .await
            .map_err(map_err)?;
        let row = client.query_opt(&stmt, &[&ns.tenant, &ns.keyspace, &name]).await.map_err(map_err)?;
        let row = row.ok_or_else(|| StoreError::KeyspaceNotFound(ns.keyspace.clone()))?;
        match row.get::<_, Option<String>>(0) {
            None => Err(StoreError::CollectionNotFound(name.to_owned())),
            Some(n) => Ok(def(n, row.get(1))),
        }
    }

    async fn collections(&self, ns: &Namespace) -> Result<Vec<CollectionDef>, StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        require_keyspace(&*client, ns, false).await?;
        let rows = client
            .query(
                "SELECT name, json_schema FROM datagate.collections WHERE tenant = $1 AND keyspace = $2 ORDER BY name",
                &[&ns.tenant, &ns.keyspace],
            )
            .await
            .map_err(map_err)?;
        Ok(rows.iter().map(|r| def(r.get(0), r.get(1))).collect())
    }

    async fn drop_collection(&self, ns: &Namespace, name: &str) -> Result<(), StoreError> {
        self.drop_registered(ns, Registered::Collection, name, &table(ns, name)).await
    }

    async fn set_json_schema(&self, ns: &Namespace, name: &str, schema: Option<&Json>) -> Result<(), StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let n = client
            .execute(
                "UPDATE datagate.collections SET json_schema = $4 WHERE tenant = $1 AND keyspace = $2 AND name = $3",
                &[&ns.tenant, &ns.keyspace, &name, &schema],
            )
            .await
            .map_err(map_err)?;
        if n == 0 {
            return Err(missing(&*client, ns, name, StoreError::SchemaChanged).await);
        }
        Ok(())
    }

    async fn get_doc(&self, ns: &Namespace, coll: &str, id: &str, now_ms: i64) -> Result<Option<Json>, StoreError> {
        Ok(live(self.read_doc::<Json>(ns, coll, id).await?, now_ms).0)
    }

    async fn get_doc_text(
        &self,
        ns: &Namespace,
        coll: &str,
        id: &str,
        now_ms: i64,
    ) -> Result<Option<String>, StoreError> {
        let found = self.read_doc::<JsonText>(ns, coll, id).await?;
        Ok(live(found.map(|(d, e)| (d.0, e)), now_ms).0)
    }

    async fn put_docs(
        &self,
        ns: &Namespace,
        coll: &str,
        docs: &[(String, Json)],
        expires_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let t = table(ns, coll);
        // One statement is atomic by itself: a single document without a
        // vector (every POST and PUT of the other APIs) skips BEGIN and COMMIT,
        // two of its three round trips; the removal of the vector a replaced
        // document may have had rides in the same statement.
        if let [(id, doc)] = docs {
            if crate::store::vectors::pack(doc).is_none() {
                return match super::vectors::write_without_vector(&*client, ns, coll, &t, id, doc, expires_ms).await {
                    Ok(()) => Ok(()),
                    Err(e) => Err(missing(&*client, ns, coll, e).await),
                };
            }
        }
        let result = async {
            let tx = client.transaction().await.map_err(map_err)?;
            let mut vectorless = Vec::new();
            for (id, doc) in docs {
                write(&tx, &t, id, doc, expires_ms, false).await?;
                if crate::store::vectors::pack(doc).is_some() {
                    super::vectors::sync(&tx, ns, coll, id, doc, true).await?;
                } else {
                    vectorless.push(id.clone());
                }
            }
            // A replaced document may have had a vector: one statement for all of them.
            super::vectors::forget(&tx, ns, coll, &vectorless).await?;
            tx.commit().await.map_err(map_err)
        }
        .await;
        match result {
            Ok(()) => Ok(()),
            Err(e) => Err(missing(&*client, ns, coll, e).await),
        }
    }

    async fn edit_doc(
        &self,
        ns: &Namespace,
        coll: &str,
        id: &str,
        now_ms: i64,
        edit: EditFn,
    ) -> Result<Json, StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let t = table(ns, coll);
        let select = format!("SELECT doc, expires_at FROM {t} WHERE id = $1 FOR UPDATE");
        let delete = format!("DELETE FROM {t} WHERE id = $1");
        // A document that did not exist cannot be locked; if two requests create
        // it at once, the loser's INSERT finds it and the edit runs again on it.
        for _ in 0..3 {
            let attempt = async {
                let tx = client.transaction().await.map_err(map_err)?;
                let stmt = tx.prepare_cached(&select).await.map_err(map_err)?;
                let row = tx.query_opt(&stmt, &[&id]).await.map_err(map_err)?;
                let reply = match decide(row.map(|r| (r.get(0), r.get(1))), now_ms, &edit)? {
                    Step::Write { doc, expires_ms, created, vector, reply } => {
                        if write(&tx, &t, id, &doc, expires_ms, created).await? == 0 {
                            return Ok(None);
                        }
                        super::vectors::apply(&tx, ns, coll, id, vector).await?;
                        reply
                    }
                    Step::Delete { vector, reply } => {
                        tx.execute(delete.as_str(), &[&id]).await.map_err(map_err)?;
                        super::vectors::apply(&tx, ns, coll, id, vector).await?;
                        reply
                    }
                    Step::Keep { reply } => return Ok(Some(reply)),
                };
                tx.commit().await.map_err(map_err)?;
                Ok::<_, StoreError>(Some(reply))
            }
            .await;
            match attempt {
                Ok(Some(reply)) => return Ok(reply),
                Ok(None) => continue,
                Err(e) => return Err(missing(&*client, ns, coll, e).await),
            }
        }
        Err(StoreError::Unavailable("the document kept changing under the request; retry".to_owned()))
    }

    async fn search(&self, ns: &Namespace, coll: &str, search: &DocSearch<'_>) -> Result<Vec<DocRow>, StoreError> {
        let t = table(ns, coll);
        let query = docsql::search(&super::PgDialect, &t, search).map_err(|e| StoreError::Rejected(e.0))?;
        let sort = search.sort.len();
        let mut lease = self.client().await?;
        let client = lease.get()?;
        if search.filter.is_some_and(super::dialect::has_probes) {
            // The search is answered either way: a scan if the index could not be built.
            match super::gin::ensure(&self.gin, client, ns, coll, &t).await {
                Ok(()) | Err(StoreError::SchemaChanged) => {}
                Err(e) => tracing::warn!(error = %e, "building a collection's GIN index on demand failed"),
            }
        }
        let found = async {
            let stmt = client.prepare_cached(&query.sql).await.map_err(map_err)?;
            let params: Vec<&(dyn ToSql + Sync)> = query.params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            client.query(&stmt, &params).await.map_err(map_err)
        }
        .await;
        let rows = match found {
            Ok(r) => r,
            Err(e) => return Err(missing(&*client, ns, coll, e).await),
        };
        rows.iter()
            .map(|r| {
                let id: String = r.try_get(0).map_err(map_err)?;
                let mut key = Vec::with_capacity(sort * 2 + 1);
                for i in 0..sort {
                    key.push(Json::from(r.try_get::<_, i32>(2 + 2 * i).map_err(map_err)?));
                    key.push(r.try_get::<_, Json>(3 + 2 * i).map_err(map_err)?);
                }
                key.push(Json::String(id.clone()));
                Ok(DocRow { doc: r.try_get(1).map_err(map_err)?, id, key })
            })
            .collect()
    }

    async fn doc_indexes(&self, ns: &Namespace, coll: &str) -> Result<Vec<String>, StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        match super::index::list(&*client, ns, coll).await? {
            Some(paths) => Ok(paths),
            None => Err(missing(&*client, ns, coll, StoreError::SchemaChanged).await),
        }
    }

    async fn set_doc_indexes(&self, ns: &Namespace, coll: &str, paths: &[Path]) -> Result<(), StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let tx = client.transaction().await.map_err(map_err)?;
        // Two PUTs at once would race between the listing and the DDL.
        tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&format!("{}#{coll}", ns.physical())])
            .await
            .map_err(map_err)?;
        let Some(have) = super::index::list(&tx, ns, coll).await? else {
            return Err(missing(&tx, ns, coll, StoreError::SchemaChanged).await);
        };
        for statement in super::index::changes(ns, coll, &have, paths)? {
            tx.batch_execute(&statement).await.map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn sweep_expired_docs(&self, now_ms: i64) -> Result<u64, StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let rows =
            client.query("SELECT tenant, keyspace, name FROM datagate.collections", &[]).await.map_err(map_err)?;
        let mut deleted = 0u64;
        for row in rows {
            let ns = Namespace { tenant: row.get(0), keyspace: row.get(1) };
            let (name, t): (String, String) = (row.get(2), table(&ns, row.get(2)));
            let sql = format!("DELETE FROM {t} WHERE expires_at <= $1");
            let swept = match super::vectors::forget_expired(&*client, &ns, &name, &t, now_ms).await {
                Ok(()) => client.execute(sql.as_str(), &[&now_ms]).await.map_err(map_err),
                Err(e) => Err(e),
            };
            match swept {
                Ok(n) => deleted += n,
                Err(StoreError::SchemaChanged) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }

    async fn insert_docs(
        &self,
        ns: &Namespace,
        coll: &str,
        docs: &[(String, Json)],
        now_ms: i64,
        ordered: bool,
    ) -> Result<Vec<bool>, StoreError> {
        let send = crate::store::docs::first_of_each(docs.iter().map(|(id, _)| id), ordered);
        // With `ordered`, the positions sent are a prefix (see first_of_each).
        let mut picked: Vec<usize> = (0..docs.len()).filter(|&i| send[i]).collect();
        let packed: Vec<Option<Vec<u8>>> = docs.iter().map(|(_, d)| crate::store::vectors::pack(d)).collect();
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let batch = InsertBatch { ns, coll, table: table(ns, coll), docs, packed: &packed, now_ms };
        let mut out = vec![false; docs.len()];
        let result = async {
            if !ordered || picked.len() < 2 {
                // One statement is atomic by itself: no BEGIN and COMMIT round trips.
                for id in batch.run(&*client, &picked).await? {
                    out[id] = true;
                }
                return Ok(());
            }
            // An ordered batch that met an existing id past its start keeps
            // only what came before it: roll back, insert that prefix again.
            loop {
                let tx = client.transaction().await.map_err(map_err)?;
                let got = batch.run(&tx, &picked).await?;
                let prefix = picked.iter().take_while(|i| got.contains(i)).count();
                if prefix == got.len() {
                    tx.commit().await.map_err(map_err)?;
                    for i in got {
                        out[i] = true;
                    }
                    return Ok(());
                }
                tx.rollback().await.map_err(map_err)?;
                picked.truncate(prefix);
                if picked.is_empty() {
                    return Ok(());
                }
            }
        }
        .await;
        match result {
            Ok(()) => Ok(out),
            Err(e) => Err(missing(&*client, ns, coll, e).await),
        }
    }
}

/// One `insert_docs` call's documents, inserted (some of them) by one statement.
struct InsertBatch<'a> {
    ns: &'a Namespace,
    coll: &'a str,
    table: String,
    docs: &'a [(String, Json)],
    packed: &'a [Option<Vec<u8>>],
    now_ms: i64,
}

impl InsertBatch<'_> {
    /// Inserts the documents at `picked` (distinct ids) and keeps their packed
    /// vectors in step, all in one statement; returns the positions inserted.
    async fn run(
        &self,
        c: &impl GenericClient,
        picked: &[usize],
    ) -> Result<std::collections::HashSet<usize>, StoreError> {
        let t = &self.table;
        // A live row makes the upsert's WHERE false: it is left alone and not
        // returned. A replaced expired row may have had a vector: `gone`.
        let sql = format!(
            "WITH input AS (SELECT * FROM unnest($1::text[], $2::jsonb[], $3::bytea[]) AS i (id, doc, vec)), \
             ins AS (INSERT INTO {t} AS d (id, doc, expires_at) SELECT id, doc, NULL FROM input \
               ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, expires_at = NULL \
               WHERE d.expires_at IS NOT NULL AND d.expires_at <= $4 RETURNING d.id), \
             vec AS (INSERT INTO datagate.vectors (tenant, keyspace, coll, id, vec) \
               SELECT $5, $6, $7, input.id, input.vec FROM input JOIN ins ON ins.id = input.id \
               WHERE input.vec IS NOT NULL \
               ON CONFLICT (tenant, keyspace, coll, id) DO UPDATE SET vec = excluded.vec), \
             gone AS (DELETE FROM datagate.vectors v USING input JOIN ins ON ins.id = input.id \
               WHERE input.vec IS NULL AND v.tenant = $5 AND v.keyspace = $6 AND v.coll = $7 AND v.id = input.id) \
             SELECT id FROM ins"
        );
        let ids: Vec<&str> = picked.iter().map(|&i| self.docs[i].0.as_str()).collect();
        let docs: Vec<&Json> = picked.iter().map(|&i| &self.docs[i].1).collect();
        let vecs: Vec<Option<&[u8]>> = picked.iter().map(|&i| self.packed[i].as_deref()).collect();
        let stmt = c.prepare_cached(&sql).await.map_err(map_err)?;
        let rows = c
            .query(&stmt, &[&ids, &docs, &vecs, &self.now_ms, &self.ns.tenant, &self.ns.keyspace, &self.coll])
            .await
            .map_err(map_err)?;
        let at: std::collections::HashMap<&str, usize> = picked.iter().map(|&i| (self.docs[i].0.as_str(), i)).collect();
        rows.iter()
            .map(|r| {
                let id: &str = r.try_get(0).map_err(map_err)?;
                at.get(id).copied().ok_or_else(|| StoreError::Internal(format!("insert returned an unknown id {id}")))
            })
            .collect()
    }
}
