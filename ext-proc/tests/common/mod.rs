//! Shared harness for the component tests: the sidecar's service over a real
//! SQLite file or a fresh PostgreSQL database, without Envoy.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datagate::config::{Config, FileConfig};
use datagate::http::ApiRequest;
use datagate::service::Service;
use serde_json::Value;

pub struct Harness {
    pub store: datagate::store::Backend,
    pub service: Service,
    /// A second sidecar replica over the same store (its own catalog cache).
    pub replica: Service,
    _dir: tempfile::TempDir,
    pg_db: Option<String>,
}

fn pg_admin_url() -> String {
    std::env::var("DATAGATE_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub async fn pg_admin(sql: &str) {
    let (client, conn) = tokio_postgres::connect(&pg_admin_url(), tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {} is not reachable ({e}); `make test` starts one", pg_admin_url()));
    tokio::spawn(conn);
    client.batch_execute(sql).await.unwrap();
}

impl Harness {
    pub async fn new(postgres: bool) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let (store, pg_db) = if postgres {
            let db = format!("dg_comp_{}", uuid::Uuid::new_v4().simple());
            pg_admin(&format!("CREATE DATABASE {db}")).await;
            (format!("{}/{db}", pg_admin_url().rsplit_once('/').unwrap().0), Some(db))
        } else {
            (format!("sqlite://{}", dir.path().join("c.db").display()), None)
        };
        let config = Config::validate(FileConfig {
            store: Some(store),
            max_page_size: Some(50),
            default_page_size: Some(20),
            ..FileConfig::default()
        })
        .unwrap();
        let store = datagate::store::open(&config.store, 4).await.unwrap();
        let replica = Service::new(datagate::store::open(&config.store, 2).await.unwrap(), &config);
        Harness { service: Service::new(store.clone(), &config), store, replica, _dir: dir, pg_db }
    }

    /// The directory holding the SQLite store's files.
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub async fn call(&self, tenant: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_on(&self.service, tenant, method, path, body).await
    }

    pub async fn call_on(
        &self,
        service: &Service,
        tenant: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = ApiRequest::new(method, path);
        req.tenant = Some(tenant.to_owned());
        req.body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let resp = service.handle(req).await;
        let value = if resp.body.is_empty() { Value::Null } else { serde_json::from_slice(&resp.body).unwrap() };
        (resp.status, value)
    }

    /// The first column of the first row of `sql` on this harness's PostgreSQL database, as a count.
    pub async fn pg_count(&self, sql: &str) -> i64 {
        let db = self.pg_db.as_ref().expect("a PostgreSQL harness");
        let url = format!("{}/{db}", pg_admin_url().rsplit_once('/').unwrap().0);
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        client.query_one(sql, &[]).await.unwrap().get(0)
    }

    pub async fn done(self) {
        if let Some(db) = &self.pg_db {
            drop(self.service);
            drop(self.replica);
            drop(self.store);
            pg_admin(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await;
        }
    }
}

macro_rules! on_both_stores {
    ($($name:ident),*) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread")] async fn $name() { super::$name(false).await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread")] async fn $name() { super::$name(true).await } )* }
    };
}
