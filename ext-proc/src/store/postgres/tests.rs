//! The SQL PostgreSQL receives. (Behaviour against a real server is covered by
//! the component tests in `ext-proc/tests/` and the end-to-end tests.)

use super::*;
use crate::model::{test_table, Order};
use crate::plan::Op;

fn ns() -> Namespace {
    Namespace { tenant: "acme".into(), keyspace: "blog".into() }
}

fn def() -> TableDef {
    test_table(
        "vehicle",
        &[
            ("manufacturer", ColumnType::Text),
            ("model", ColumnType::Text),
            ("year", ColumnType::Tinyint),
            ("at", ColumnType::Timestamp),
        ],
        &["manufacturer"],
        &[("model", Order::Asc)],
    )
}

#[test]
fn tables_live_in_the_tenant_schema() {
    let p = ns().physical();
    let ddl = sql::create_table(&PgDialect, &ns(), &def());
    assert_eq!(ddl.len(), 2, "all-ASC keys need no read-order index; the expiry index is there");
    assert!(ddl[1].ends_with("(\"__expires_at\") WHERE \"__expires_at\" IS NOT NULL"), "{}", ddl[1]);
    let idx = sql::index_ident("", &def(), "_expiry");
    assert!(ddl[1].starts_with(&format!("CREATE INDEX {idx} ON \"{p}\".\"vehicle\"")), "{}", ddl[1]);
    assert!(idx.len() <= 63 + 2, "index names fit PostgreSQL's 63-byte limit");
    assert_eq!(
        ddl[0],
        format!(
            "CREATE TABLE \"{p}\".\"vehicle\" (\"manufacturer\" text NOT NULL, \"model\" text NOT NULL, \
             \"year\" smallint, \"at\" timestamptz, \"__expires_at\" bigint, CONSTRAINT \"vehicle#pk\" PRIMARY KEY (\"manufacturer\", \"model\"))"
        )
    );
}

#[test]
fn placeholders_are_numbered() {
    let s = Select {
        now_ms: 1000,
        conditions: vec![Condition { column: "year".into(), op: Op::In, values: vec![Value::Int(1), Value::Int(2)] }],
        order: crate::plan::read_order(&def(), &[]),
        after: None,
        limit: 101,
    };
    let st = crate::store::sqlread::select(&PgDialect, &ns(), &def(), &s);
    assert!(
        st.sql.contains("WHERE \"year\" IN ($1, $2) AND (\"__expires_at\" IS NULL OR \"__expires_at\" > $3) ORDER BY"),
        "{}",
        st.sql
    );
    let d = crate::store::sqlread::delete(&PgDialect, &ns(), &def(), &s.conditions);
    assert_eq!(d.sql, format!("DELETE FROM \"{}\".\"vehicle\" WHERE \"year\" IN ($1, $2)", ns().physical()));
}

#[test]
fn ints_bind_at_the_column_width() {
    let mut buf = BytesMut::new();
    assert!(Value::Int(5).to_sql(&Type::INT2, &mut buf).is_ok());
    assert_eq!(buf.len(), 2);
    assert!(Value::Int(70_000).to_sql(&Type::INT2, &mut BytesMut::new()).is_err());
    assert!(matches!(Value::Null.to_sql(&Type::UUID, &mut BytesMut::new()), Ok(IsNull::Yes)));
}

/// Every operator, the expiry clause, a keyset position over a nullable
/// DESC sort column and a `DELETE`: the exact text, so a change in how the
/// statement is built (it is built on every request) cannot change it.
#[test]
fn select_text_is_exact() {
    let (got, p) = crate::store::sql_cases::select_cases(&PgDialect, &ns());
    assert_eq!(got, PG_SELECTS.map(|s| s.replace("{p}", &p)));
}

const PG_SELECTS: [&str; 3] = [
    r#"SELECT "manufacturer", "model", "year" FROM "{p}"."vehicle" WHERE "manufacturer" = $1 AND "year" <> $2 AND "year" < $3 AND "year" <= $4 AND "year" > $5 AND "year" >= $6 AND "year" IN ($7, $8) AND "year" NOT IN ($9) AND "model" IS NOT NULL AND ("__expires_at" IS NULL OR "__expires_at" > $10) ORDER BY "manufacturer" ASC, "model" DESC LIMIT 21"#,
    r#"SELECT "manufacturer", "model", "year" FROM "{p}"."vehicle" WHERE "manufacturer" = $1 AND ("__expires_at" IS NULL OR "__expires_at" > $2) AND ((("year" IS NULL OR "year" < $3)) OR ("year" = $4 AND "manufacturer" > $5)) ORDER BY ("year" IS NULL), "year" DESC, "manufacturer" ASC, "model" DESC LIMIT 11"#,
    r#"DELETE FROM "{p}"."vehicle" WHERE "manufacturer" = $1 AND "year" <> $2"#,
];
