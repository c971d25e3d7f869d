use super::super::sql::{self, Dialect};
use super::super::sqlread;
use super::*;
use crate::model::{test_table, ColumnType};
use crate::plan::{read_order, Condition};

fn vehicle(version: &str) -> TableDef {
    let mut def = test_table(
        "vehicle",
        &[("manufacturer", ColumnType::Text), ("model", ColumnType::Text), ("year", ColumnType::Int)],
        &["manufacturer"],
        &[("model", Order::Asc)],
    );
    def.version = version.into();
    def
}

fn row(cols: &[(&str, Value)], now_ms: i64) -> Upsert {
    Upsert {
        values: cols.iter().map(|(c, v)| ((*c).to_owned(), v.clone())).collect(),
        expires_ms: Some(now_ms + 1000),
        now_ms,
        condition: WriteIf::Always,
    }
}

fn dialects() -> [&'static dyn Dialect; 2] {
    [&crate::store::postgres::dialect::PgDialect, &crate::store::sqlite::dialect::SqliteDialect]
}

#[test]
fn remembered_upserts_are_the_built_ones() {
    let def = vehicle("v1");
    let ns = Namespace { tenant: "acme".into(), keyspace: "shop".into() };
    let other = Namespace { tenant: "other".into(), keyspace: "shop".into() };
    let text = |s: &str| Value::Text(s.into());
    let full =
        |i: i64| row(&[("manufacturer", text(&format!("m{i}"))), ("model", text("s")), ("year", Value::Int(i))], i);
    let part = |i: i64| row(&[("manufacturer", text(&format!("m{i}"))), ("model", text("s"))], i);
    let mut newer = def.clone();
    newer.version = "v2".into();
    newer.columns.retain(|c| c.name != "year");
    let mut no_expiry = vehicle("v3");
    no_expiry.expiry = false;
    // Twice each, so the second answer is a remembered one; shapes, dialects,
    // namespaces and versions interleaved.
    for i in 0..2 {
        for d in dialects() {
            for (ns, def, row) in [
                (&ns, &def, full(i)),
                (&ns, &def, part(i)),
                (&other, &def, full(i)),
                (&ns, &newer, part(i)),
                (&ns, &no_expiry, part(i)),
            ] {
                let got = sql::upsert(d, ns, def, &row);
                let want = sql::upsert_built(d, ns, def, &row);
                assert_eq!((&got.sql, &got.params), (&want.sql, &want.params), "{}", want.sql);
            }
        }
    }
    // Each shape remembered once (this test's thread is its own).
    assert_eq!(SHAPES.with(|s| s.borrow().len()), 10);
}

#[test]
fn remembered_reads_are_the_built_ones() {
    let def = vehicle("v1");
    let ns = Namespace { tenant: "acme".into(), keyspace: "shop".into() };
    let cond = |column: &str, op: Op, values: Vec<Value>| Condition { column: column.into(), op, values };
    let key = |i: i64| vec![cond("manufacturer", Op::Eq, vec![Value::Text(format!("m{i}"))])];
    let range = |i: i64| {
        vec![
            cond("manufacturer", Op::Eq, vec![Value::Text(format!("m{i}"))]),
            cond("model", Op::Gt, vec![Value::Text("a".into())]),
            cond("year", Op::In, (0..=i).map(Value::Int).collect()),
            cond("year", Op::Exists, vec![]),
        ]
    };
    let read = |conditions: Vec<Condition>, sort: &[(String, Order)], limit: u32, i: i64| Select {
        now_ms: 1000 + i,
        conditions,
        order: read_order(&def, sort),
        after: None,
        limit,
    };
    let by_year = [("year".to_owned(), Order::Desc)];
    for i in 1..4 {
        for d in dialects() {
            let mut paged = read(key(i), &[], 21, i);
            paged.after = Some(vec![Value::Text("m".into()), Value::Null]);
            let contains = read(vec![cond("model", Op::Contains, vec![Value::Text("x".into())])], &[], 21, i);
            for s in [
                read(key(i), &[], 21, i),
                read(key(i), &[], 11, i),
                read(key(i), &by_year, 21, i),
                // `$in` with 2, 3, 4 values: a shape each.
                read(range(i), &[], 21, i),
                read(Vec::new(), &[], 21, i),
                paged,
                contains,
            ] {
                let got = sqlread::select(d, &ns, &def, &s);
                let want = sqlread::select_built(d, &ns, &def, &s);
                assert_eq!((&got.sql, &got.params), (&want.sql, &want.params), "{}", want.sql);
            }
        }
    }
    // Per dialect: key × 2 limits, key by year, no condition, and `$in` of 2, 3, 4.
    assert_eq!(SHAPES.with(|s| s.borrow().len()), 2 * 7);
}
