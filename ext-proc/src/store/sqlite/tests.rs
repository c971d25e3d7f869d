//! The SQL SQLite receives, statement by statement.

use super::*;
use crate::model::{test_table, ColumnDef, DataType, Order};
use crate::plan::Op;

fn ns() -> Namespace {
    Namespace { tenant: "acme".into(), keyspace: "blog".into() }
}

fn def() -> TableDef {
    test_table(
        "vehicle",
        &[("manufacturer", ColumnType::Text), ("model", ColumnType::Text), ("year", ColumnType::Int)],
        &["manufacturer"],
        &[("model", Order::Desc)],
    )
}

#[test]
fn create_table_is_strict_and_clustered() {
    let p = ns().physical();
    let ddl = sql::create_table(&SqliteDialect, &ns(), &def());
    assert_eq!(
        ddl[0],
        format!(
            "CREATE TABLE \"{p}__vehicle\" (\"manufacturer\" TEXT NOT NULL, \"model\" TEXT NOT NULL, \"year\" INTEGER, \
             \"__expires_at\" INTEGER, PRIMARY KEY (\"manufacturer\", \"model\")) WITHOUT ROWID, STRICT"
        )
    );
    let read_order = sql::index_ident(&format!("{p}__"), &def(), "_read_order");
    assert_eq!(ddl[1], format!("CREATE INDEX {read_order} ON \"{p}__vehicle\" (\"manufacturer\" ASC, \"model\" DESC)"));
    assert_eq!(ddl.len(), 3, "plus the partial index the expiry sweeper uses");
}

#[test]
fn select_binds_every_value() {
    let s = Select {
        now_ms: 1000,
        conditions: vec![
            Condition {
                column: "manufacturer".into(),
                op: Op::Eq,
                values: vec![Value::Text("x'; DROP TABLE t; --".into())],
            },
            Condition { column: "year".into(), op: Op::Nin, values: vec![Value::Int(1), Value::Int(2)] },
        ],
        order: crate::plan::read_order(&def(), &[]),
        after: Some(vec![Value::Text("T".into()), Value::Text("S".into())]),
        limit: 11,
    };
    let st = crate::store::sqlread::select(&SqliteDialect, &ns(), &def(), &s);
    assert!(
        st.sql.ends_with(
            "WHERE \"manufacturer\" = ?1 AND \"year\" NOT IN (?2, ?3) AND \
             (\"__expires_at\" IS NULL OR \"__expires_at\" > ?4) AND ((\"manufacturer\" > ?5) OR \
             (\"manufacturer\" = ?6 AND \"model\" < ?7)) ORDER BY \"manufacturer\" ASC, \"model\" DESC LIMIT 11"
        ),
        "{}",
        st.sql
    );
    assert!(!st.sql.contains("DROP"));
    assert_eq!(st.params.len(), 7);
    assert_eq!(st.params[3], Value::Int(1000), "expired rows are filtered against the plan's clock");
}

#[test]
fn upsert_updates_only_given_columns() {
    let u = Upsert {
        values: vec![
            ("manufacturer".into(), Value::Text("T".into())),
            ("model".into(), Value::Text("S".into())),
            ("year".into(), Value::Int(1)),
        ],
        expires_ms: None,
        now_ms: 1000,
        condition: crate::plan::WriteIf::Always,
    };
    let st = sql::upsert(&SqliteDialect, &ns(), &def(), &u);
    assert!(
        st.sql.ends_with(
            "(\"manufacturer\", \"model\", \"year\", \"__expires_at\") VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (\"manufacturer\", \"model\") DO UPDATE SET \"year\" = excluded.\"year\", \
             \"__expires_at\" = excluded.\"__expires_at\""
        ),
        "{}",
        st.sql
    );
    assert_eq!(st.params.len(), 4);
    // Omitted columns survive an upsert, unless the old row had expired.
    let key_only = Upsert { values: u.values[..2].to_vec(), expires_ms: Some(5000), ..u.clone() };
    let st = sql::upsert(&SqliteDialect, &ns(), &def(), &key_only);
    let t = format!("\"{}__vehicle\"", ns().physical());
    assert!(
        st.sql.ends_with(&format!(
            "DO UPDATE SET \"year\" = CASE WHEN {t}.\"__expires_at\" <= ?4 THEN NULL ELSE {t}.\"year\" END, \
             \"__expires_at\" = excluded.\"__expires_at\""
        )),
        "{}",
        st.sql
    );
    assert_eq!(st.params[2..], [Value::Int(5000), Value::Int(1000)]);
}

#[test]
fn quoting_doubles_quotes() {
    assert_eq!(sql::quote("a\"b"), "\"a\"\"b\"");
}

#[tokio::test]
async fn values_round_trip_through_a_real_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("x.db").to_str().unwrap(), crate::store::PoolSettings::sized(2))
        .await
        .unwrap();
    let n = ns();
    store.create_keyspace(&n).await.unwrap();
    let mut d = def();
    d.columns.push(ColumnDef { name: "at".into(), ty: DataType::Scalar(ColumnType::Timestamp) });
    d.columns.push(ColumnDef { name: "id".into(), ty: DataType::Scalar(ColumnType::Uuid) });
    d.columns.push(ColumnDef { name: "f".into(), ty: DataType::Scalar(ColumnType::Float) });
    d.columns.push(ColumnDef { name: "b".into(), ty: DataType::Scalar(ColumnType::Boolean) });
    assert!(store.create_table(&n, &d, false).await.unwrap());
    assert!(!store.create_table(&n, &d, true).await.unwrap());
    let row = vec![
        ("manufacturer".to_owned(), Value::Text("Tesla ✓".into())),
        ("model".to_owned(), Value::Text("S".into())),
        ("year".to_owned(), Value::Int(i64::from(i32::MAX))),
        ("at".to_owned(), crate::value::parse_timestamp("2024-01-02T03:04:05.678Z").unwrap()),
        ("id".to_owned(), Value::Uuid(uuid::Uuid::new_v4())),
        ("f".to_owned(), Value::Float(0.1)),
        ("b".to_owned(), Value::Bool(true)),
    ];
    store
        .upsert(
            &n,
            &d,
            &[Upsert { values: row.clone(), expires_ms: None, now_ms: 0, condition: crate::plan::WriteIf::Always }],
        )
        .await
        .unwrap();
    let rows = store
        .select(
            &n,
            &d,
            &Select { now_ms: 0, conditions: vec![], order: crate::plan::read_order(&d, &[]), after: None, limit: 10 },
        )
        .await
        .unwrap();
    assert_eq!(rows, vec![row.into_iter().map(|(_, v)| v).collect::<Vec<_>>()]);
    assert_eq!(store.tables(&n).await.unwrap(), vec![d.clone()]);
    store.drop_keyspace(&n).await.unwrap();
    assert!(matches!(store.table(&n, "vehicle").await, Err(StoreError::KeyspaceNotFound(_))));
}

#[test]
fn conditional_writes_are_single_statements() {
    use crate::plan::WriteIf;
    let mut d = def();
    d.expiry = true;
    let row = Upsert {
        values: vec![
            ("manufacturer".into(), Value::Text("T".into())),
            ("model".into(), Value::Text("S".into())),
            ("year".into(), Value::Int(1)),
        ],
        expires_ms: None,
        now_ms: 1000,
        condition: WriteIf::Absent,
    };
    let st = sql::upsert(&SqliteDialect, &ns(), &d, &row);
    assert!(st.sql.contains("ON CONFLICT (\"manufacturer\", \"model\") DO UPDATE SET"), "{}", st.sql);
    assert!(st.sql.contains("WHERE \"dg_"), "only an expired row is replaced: {}", st.sql);
    let st = sql::upsert(&SqliteDialect, &ns(), &d, &Upsert { condition: WriteIf::Present, ..row });
    assert!(st.sql.contains("UPDATE \"dg_"), "{}", st.sql);
    assert!(st.sql.contains("\"year\" = ?1"), "{}", st.sql);
    assert!(st.sql.contains("\"__expires_at\" IS NULL OR"), "{}", st.sql);
}

#[test]
fn index_names_cannot_be_taken_by_a_table() {
    let p = ns().physical();
    let mut new = def();
    let (name, _) = SqliteDialect.index_names(&ns(), &new, "by_year");
    assert!(name.starts_with(&format!("\"{p}__ix#")), "{name}: '#' is in no table name");
    // Tables from before keep the names their indexes were created under.
    new.index_names_v2 = false;
    let (legacy, _) = SqliteDialect.index_names(&ns(), &new, "by_year");
    assert_eq!(legacy, name.replacen("ix#", "ix_", 1));
    let old: TableDef = serde_json::from_str(r#"{"name":"t","columns":[],"partitionKey":[],"clustering":[]}"#).unwrap();
    assert!(!old.index_names_v2, "definitions stored before the field read as legacy");
}

#[test]
fn a_column_dropped_under_a_write_is_a_schema_change() {
    let c = rusqlite::Connection::open_in_memory().unwrap();
    c.execute_batch("CREATE TABLE t (a INTEGER)").unwrap();
    let e = c.execute("INSERT INTO t (b) VALUES (1)", []).unwrap_err();
    assert!(matches!(map_err(e), StoreError::SchemaChanged));
}

/// As `postgres::tests::select_text_is_exact`, in SQLite's dialect.
#[test]
fn select_text_is_exact() {
    let (got, p) = crate::store::sql_cases::select_cases(&SqliteDialect, &ns());
    assert_eq!(got, SQLITE_SELECTS.map(|s| s.replace("{p}", &p)));
}

const SQLITE_SELECTS: [&str; 3] = [
    r#"SELECT "manufacturer", "model", "year" FROM "{p}__vehicle" WHERE "manufacturer" = ?1 AND "year" <> ?2 AND "year" < ?3 AND "year" <= ?4 AND "year" > ?5 AND "year" >= ?6 AND "year" IN (?7, ?8) AND "year" NOT IN (?9) AND "model" IS NOT NULL AND ("__expires_at" IS NULL OR "__expires_at" > ?10) ORDER BY "manufacturer" ASC, "model" DESC LIMIT 21"#,
    r#"SELECT "manufacturer", "model", "year" FROM "{p}__vehicle" WHERE "manufacturer" = ?1 AND ("__expires_at" IS NULL OR "__expires_at" > ?2) AND ((("year" IS NULL OR "year" < ?3)) OR ("year" = ?4 AND "manufacturer" > ?5)) ORDER BY ("year" IS NULL), "year" DESC, "manufacturer" ASC, "model" DESC LIMIT 11"#,
    r#"DELETE FROM "{p}__vehicle" WHERE "manufacturer" = ?1 AND "year" <> ?2"#,
];
