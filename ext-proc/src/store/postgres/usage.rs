//! The usage system table on PostgreSQL (see [`crate::store::usage`]).

use super::{map_err, PgStore};
use crate::store::usage::{PoolStatus, Totals, UsageQuery, UsageRow, UsageSql, UsageStore, COUNTERS};
use crate::store::StoreError;
use async_trait::async_trait;
use std::sync::OnceLock;
use tokio_postgres::types::{ToSql, Type};

fn statements() -> &'static UsageSql {
    static SQL: OnceLock<UsageSql> = OnceLock::new();
    SQL.get_or_init(|| UsageSql::new("datagate.usage", |n| format!("${n}"), |c| format!("SUM({c})::bigint"), ""))
}

#[async_trait]
impl UsageStore for PgStore {
    fn pool_status(&self) -> PoolStatus {
        let s = self.pool.status();
        PoolStatus {
            max: s.max_size as u64,
            in_use: s.size.saturating_sub(s.available) as u64,
            idle: s.available as u64,
            waiting: s.waiting as u64,
        }
    }

    async fn init_usage(&self) -> Result<(), StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let tx = client.transaction().await.map_err(map_err)?;
        // The same lock as the catalog's creation: replicas starting together would race.
        tx.execute("SELECT pg_advisory_xact_lock(7215934)", &[]).await.map_err(map_err)?;
        tx.batch_execute("CREATE SCHEMA IF NOT EXISTS datagate").await.map_err(map_err)?;
        tx.batch_execute(&statements().create).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn write_usage(&self, replica: &str, rows: &[UsageRow]) -> Result<(), StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let tx = client.transaction().await.map_err(map_err)?;
        let st = tx.prepare_cached(&statements().upsert).await.map_err(map_err)?;
        for r in rows {
            let counters = r.totals.values();
            let mut params: Vec<&(dyn ToSql + Sync)> = vec![&replica, &r.minute, &r.tenant, &r.api, &r.operation];
            params.extend(counters.iter().map(|c| c as &(dyn ToSql + Sync)));
            tx.execute(&st, &params).await.map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn usage(&self, q: &UsageQuery) -> Result<Vec<UsageRow>, StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let st = client
            .prepare_typed_cached(&statements().query, &[Type::INT8, Type::INT8, Type::INT8, Type::TEXT])
            .await
            .map_err(map_err)?;
        let bucket = q.bucket_minutes.max(1);
        let rows = client.query(&st, &[&bucket, &q.from_minute, &q.to_minute, &q.tenant]).await.map_err(map_err)?;
        rows.iter()
            .map(|r| {
                let mut v = [0i64; 15];
                for (i, slot) in v.iter_mut().enumerate().take(COUNTERS.len()) {
                    *slot = r.try_get::<_, Option<i64>>(4 + i).map_err(map_err)?.unwrap_or(0);
                }
                Ok(UsageRow {
                    minute: r.try_get(0).map_err(map_err)?,
                    tenant: r.try_get(1).map_err(map_err)?,
                    api: r.try_get(2).map_err(map_err)?,
                    operation: r.try_get(3).map_err(map_err)?,
                    totals: Totals::from_values(v),
                })
            })
            .collect()
    }

    async fn units_since(&self, from: i64, to: i64, except: &str) -> Result<Vec<(String, u64, u64)>, StoreError> {
        let mut lease = self.client().await?;
        let client = lease.get()?;
        let st = client
            .prepare_typed_cached(&statements().units, &[Type::INT8, Type::INT8, Type::TEXT])
            .await
            .map_err(map_err)?;
        let rows = client.query(&st, &[&from, &to, &except]).await.map_err(map_err)?;
        rows.iter()
            .map(|r| {
                let read: Option<i64> = r.try_get(1).map_err(map_err)?;
                let write: Option<i64> = r.try_get(2).map_err(map_err)?;
                Ok((r.try_get(0).map_err(map_err)?, read.unwrap_or(0).max(0) as u64, write.unwrap_or(0).max(0) as u64))
            })
            .collect()
    }
}
