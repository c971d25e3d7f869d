//! The usage system table on SQLite (see [`crate::store::usage`]).

use super::{map_err, SqliteStore};
use crate::store::usage::{PoolStatus, Totals, UsageQuery, UsageRow, UsageSql, UsageStore, COUNTERS};
use crate::store::StoreError;
use async_trait::async_trait;
use rusqlite::types::Value as Sql;
use rusqlite::TransactionBehavior;
use std::sync::OnceLock;

fn statements() -> &'static UsageSql {
    static SQL: OnceLock<UsageSql> = OnceLock::new();
    SQL.get_or_init(|| UsageSql::new("datagate_usage", |n| format!("?{n}"), |c| format!("SUM({c})"), " WITHOUT ROWID"))
}

#[async_trait]
impl UsageStore for SqliteStore {
    fn pool_status(&self) -> PoolStatus {
        // The store-wide permits: every call on any file takes one.
        let free = self.calls.available_permits() as u64;
        let max = self.size as u64;
        PoolStatus { max, in_use: max.saturating_sub(free), idle: free, waiting: 0 }
    }

    async fn init_usage(&self) -> Result<(), StoreError> {
        self.run_main(|c| c.execute_batch(&statements().create).map_err(map_err)).await
    }

    async fn write_usage(&self, replica: &str, rows: &[UsageRow]) -> Result<(), StoreError> {
        let replica = replica.to_owned();
        let rows = rows.to_vec();
        self.run_main(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(map_err)?;
            {
                let mut st = tx.prepare_cached(&statements().upsert).map_err(map_err)?;
                for r in &rows {
                    let mut params: Vec<Sql> = vec![
                        Sql::Text(replica.clone()),
                        Sql::Integer(r.minute),
                        Sql::Text(r.tenant.clone()),
                        Sql::Text(r.api.clone()),
                        Sql::Text(r.operation.clone()),
                    ];
                    params.extend(r.totals.values().into_iter().map(Sql::Integer));
                    st.execute(rusqlite::params_from_iter(params)).map_err(map_err)?;
                }
            }
            tx.commit().map_err(map_err)
        })
        .await
    }

    async fn usage(&self, q: &UsageQuery) -> Result<Vec<UsageRow>, StoreError> {
        let q = q.clone();
        self.run_main(move |c| {
            let mut st = c.prepare_cached(&statements().query).map_err(map_err)?;
            let tenant = q.tenant.clone().map_or(Sql::Null, Sql::Text);
            let params =
                [Sql::Integer(q.bucket_minutes.max(1)), Sql::Integer(q.from_minute), Sql::Integer(q.to_minute), tenant];
            let rows = st
                .query_map(rusqlite::params_from_iter(params), |r| {
                    let mut v = [0i64; 15];
                    for (i, slot) in v.iter_mut().enumerate().take(COUNTERS.len()) {
                        *slot = r.get::<_, Option<i64>>(4 + i)?.unwrap_or(0);
                    }
                    Ok(UsageRow {
                        minute: r.get(0)?,
                        tenant: r.get(1)?,
                        api: r.get(2)?,
                        operation: r.get(3)?,
                        totals: Totals::from_values(v),
                    })
                })
                .map_err(map_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(map_err)
        })
        .await
    }

    async fn units_since(&self, from: i64, to: i64, except: &str) -> Result<Vec<(String, u64, u64)>, StoreError> {
        let except = except.to_owned();
        self.run_main(move |c| {
            let mut st = c.prepare_cached(&statements().units).map_err(map_err)?;
            let rows = st
                .query_map(rusqlite::params![from, to, except], |r| {
                    let read: Option<i64> = r.get(1)?;
                    let write: Option<i64> = r.get(2)?;
                    Ok((r.get::<_, String>(0)?, read.unwrap_or(0).max(0) as u64, write.unwrap_or(0).max(0) as u64))
                })
                .map_err(map_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(map_err)
        })
        .await
    }
}
