//! One file per tenant: isolation, the open-file cap, old shared files, and
//! concurrent first use, against real files.

use super::tenants::MAX_OPEN;
use super::*;
use crate::model::test_table;
use crate::plan::WriteIf;
use crate::store::docs::DocStore;
use crate::store::PoolSettings;
use serde_json::json;

fn ns(tenant: &str) -> Namespace {
    Namespace { tenant: tenant.into(), keyspace: "app".into() }
}

fn def() -> TableDef {
    test_table("t", &[("k", ColumnType::Text), ("v", ColumnType::Int)], &["k"], &[])
}

fn row(v: i64) -> Upsert {
    Upsert {
        values: vec![("k".into(), Value::Text("a".into())), ("v".into(), Value::Int(v))],
        expires_ms: None,
        now_ms: 0,
        condition: WriteIf::Always,
    }
}

fn all() -> Select {
    Select { now_ms: 0, conditions: vec![], order: crate::plan::read_order(&def(), &[]), after: None, limit: 10 }
}

async fn open(path: &std::path::Path) -> SqliteStore {
    SqliteStore::open(path.to_str().unwrap(), PoolSettings::sized(4)).await.unwrap()
}

/// A keyspace, a table and one row holding `v`.
async fn seed(store: &SqliteStore, tenant: &str, v: i64) {
    store.create_keyspace(&ns(tenant)).await.unwrap();
    assert!(store.create_table(&ns(tenant), &def(), false).await.unwrap());
    store.upsert(&ns(tenant), &def(), &[row(v)]).await.unwrap();
}

async fn value(store: &SqliteStore, tenant: &str) -> Value {
    let rows = store.select(&ns(tenant), &def(), &all()).await.unwrap();
    rows[0][1].clone()
}

#[tokio::test]
async fn each_tenant_has_its_own_file_and_sees_only_its_own_data() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("main.db");
    let store = open(&main).await;
    seed(&store, "acme", 1).await;
    store.create_keyspace(&ns("Acme")).await.unwrap();
    store.create_collection(&ns("acme"), "c", false).await.unwrap();
    store.put_docs(&ns("acme"), "c", &[("d1".into(), json!({"a": 1}))], None).await.unwrap();

    let tenants = dir.path().join("main.db.tenants");
    assert!(tenants.join("acme.db").exists() && tenants.join("%41cme.db").exists());
    assert_eq!(store.tenant_path("acme"), tenants.join("acme.db"));
    // The main file holds no tenant's catalog rows or tables.
    let c = rusqlite::Connection::open(&main).unwrap();
    let n: i64 = c.query_row("SELECT count(*) FROM datagate_keyspaces", [], |r| r.get(0)).unwrap();
    let t: i64 = c.query_row("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'dg_%'", [], |r| r.get(0)).unwrap();
    assert_eq!((n, t), (0, 0));

    // "Acme" is another tenant: its keyspace is empty, and it sees none of acme's.
    assert_eq!(store.keyspaces("acme").await.unwrap(), ["app"]);
    assert_eq!(store.keyspaces("Acme").await.unwrap(), ["app"]);
    assert!(store.tables(&ns("Acme")).await.unwrap().is_empty());
    assert!(matches!(store.table(&ns("Acme"), "t").await, Err(StoreError::TableNotFound(_))));
    assert!(matches!(store.collection(&ns("Acme"), "c").await, Err(StoreError::CollectionNotFound(_))));
    assert!(matches!(store.get_doc(&ns("Acme"), "c", "d1", 0).await, Err(StoreError::CollectionNotFound(_))));
    assert!(store.keyspaces("globex").await.unwrap().is_empty());
    assert_eq!(store.get_doc(&ns("acme"), "c", "d1", 0).await.unwrap(), Some(json!({"a": 1})));
    // A file copied under another tenant's name is refused, not served.
    for ext in ["", "-wal"] {
        std::fs::copy(tenants.join(format!("acme.db{ext}")), tenants.join(format!("stolen.db{ext}"))).unwrap();
    }
    assert!(matches!(store.keyspaces("stolen").await, Err(StoreError::Internal(_))));
}

#[tokio::test]
async fn more_tenants_than_open_files_all_keep_their_data() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("main.db")).await;
    let n = MAX_OPEN + 8;
    for i in 0..n {
        seed(&store, &format!("t{i}"), i as i64).await;
    }
    let (open_now, opens) = store.tenant_counts().unwrap();
    assert_eq!((open_now, opens), (MAX_OPEN, n as u64), "one open per tenant, at most MAX_OPEN at once");
    // The first tenants were closed; reading them reopens their files.
    for i in 0..n {
        assert_eq!(value(&store, &format!("t{i}")).await, Value::Int(i as i64));
    }
    assert_eq!(store.tenant_counts().unwrap().0, MAX_OPEN);
    // A second store over the same files (another replica, a restart) sees it all.
    drop(store);
    let again = open(&dir.path().join("main.db")).await;
    assert_eq!(value(&again, "t0").await, Value::Int(0));
}

#[tokio::test]
async fn expired_rows_are_swept_in_open_files_and_when_a_file_opens() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("main.db")).await;
    let mut d = def();
    d.expiry = true;
    for t in ["a", "b"] {
        store.create_keyspace(&ns(t)).await.unwrap();
        store.create_table(&ns(t), &d, false).await.unwrap();
        store.upsert(&ns(t), &d, &[Upsert { expires_ms: Some(1_000), ..row(1) }]).await.unwrap();
    }
    assert_eq!(store.sweep_expired(2_000).await.unwrap(), 2, "both open files are swept");

    store.upsert(&ns("a"), &d, &[Upsert { expires_ms: Some(1_000), ..row(1) }]).await.unwrap();
    drop(store);
    // Reopened after its row expired (the clock is now): the open sweeps it.
    let store = open(&dir.path().join("main.db")).await;
    assert!(store.keyspaces("a").await.unwrap().contains(&"app".to_owned()));
    let c = rusqlite::Connection::open(store.tenant_path("a")).unwrap();
    let t = SqliteDialect.table(&ns("a"), "t");
    let left: i64 = c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0)).unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn a_file_from_before_keeps_every_tenant_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("old.db");
    {
        // What earlier versions left: the catalog and a tenant's table in the one file.
        let c = rusqlite::Connection::open(&main).unwrap();
        c.execute_batch(CATALOG).unwrap();
        c.execute("INSERT INTO datagate_keyspaces (tenant, name) VALUES ('acme', 'app')", []).unwrap();
        c.execute(
            "INSERT INTO datagate_tables (tenant, keyspace, name, definition) VALUES ('acme', 'app', 't', ?1)",
            [serde_json::to_string(&def()).unwrap()],
        )
        .unwrap();
        for ddl in sql::create_table(&SqliteDialect, &ns("acme"), &def()) {
            c.execute_batch(&ddl).unwrap();
        }
        let t = SqliteDialect.table(&ns("acme"), "t");
        c.execute(&format!("INSERT INTO {t} (\"k\", \"v\") VALUES ('a', 7)"), []).unwrap();
    }
    let store = open(&main).await;
    assert!(store.tenant_counts().is_none(), "shared layout");
    assert_eq!(value(&store, "acme").await, Value::Int(7));
    seed(&store, "globex", 8).await;
    assert_eq!(store.tenant_path("globex"), main);
    assert!(!dir.path().join("old.db.tenants").exists());
    // Recorded: even with every tenant gone, the file stays shared.
    store.drop_keyspace(&ns("acme")).await.unwrap();
    store.drop_keyspace(&ns("globex")).await.unwrap();
    drop(store);
    let store = open(&main).await;
    assert!(store.tenant_counts().is_none());
    // A new file is per-tenant, and stays so.
    let fresh = dir.path().join("new.db");
    drop(open(&fresh).await);
    assert!(open(&fresh).await.tenant_counts().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_use_opens_the_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(&dir.path().join("main.db")).await);
    let calls: Vec<_> = (0..16)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move { s.keyspaces("newcomer").await })
        })
        .collect();
    for c in calls {
        assert!(c.await.unwrap().unwrap().is_empty());
    }
    assert_eq!(store.tenant_counts().unwrap(), (1, 1));
}

#[tokio::test]
async fn the_health_ping_opens_no_tenant_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("main.db")).await;
    for _ in 0..3 {
        store.ping().await.unwrap();
    }
    let tenants = dir.path().join("main.db.tenants");
    let files = std::fs::read_dir(&tenants).map(|d| d.count()).unwrap_or(0);
    assert_eq!(files, 0, "the ping made files in {}", tenants.display());
}

#[tokio::test]
async fn sqlite_memory_has_one_process_wide_soft_limit() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("main.db")).await;
    seed(&store, "acme", 1).await;
    // Any connection (here a tenant file's) reports the process-wide limit.
    let limit: i64 = rusqlite::Connection::open(dir.path().join("other.db"))
        .unwrap()
        .query_row("PRAGMA soft_heap_limit", [], |r| r.get(0))
        .unwrap();
    assert_eq!(limit, super::SOFT_HEAP_LIMIT);
}
