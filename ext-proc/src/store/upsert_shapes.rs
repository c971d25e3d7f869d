//! The text of the plain upsert (a REST `POST`/`PUT`, a GraphQL insert),
//! remembered by shape.
//!
//! [`super::sql::upsert`] builds its statement from the table's definition and
//! the names of the columns written, never from their values (those are bound
//! parameters), so two writes of one shape get the same text. Built for every
//! row, that text was about 12k of a row POST's 76k instructions
//! (bench/instructions): a `format!` per column and joins. Each thread keeps
//! its last few shapes, compared in full (dialect, namespace, table, its
//! version, the written columns' names), so an entry can never answer for
//! another table, another tenant or an older shape of the table: every DDL
//! changes the version, and a table without one (made before versions) is
//! not remembered.

use super::sql::{Dialect, Statement};
use crate::model::{Namespace, TableDef};
use crate::plan::{Upsert, WriteIf};
use crate::value::Value;
use std::cell::RefCell;

/// Shapes each thread remembers: a few tables take most writes.
const RECENT: usize = 16;

/// One remembered shape and its statement text.
struct Shape {
    dialect: &'static str,
    ns: Namespace,
    table: String,
    version: String,
    columns: Vec<String>,
    sql: String,
}

impl Shape {
    fn is(&self, d: &dyn Dialect, ns: &Namespace, def: &TableDef, row: &Upsert) -> bool {
        self.dialect == d.name()
            && self.version == def.version
            && self.table == def.name
            && self.ns == *ns
            && self.columns.len() == row.values.len()
            && self.columns.iter().zip(&row.values).all(|(a, (b, _))| a == b)
    }
}

thread_local! {
    static SHAPES: RefCell<Vec<Shape>> = const { RefCell::new(Vec::new()) };
}

/// The plain upsert of `row`: its text remembered by shape, its parameters
/// this row's. `build` makes the statement when the shape is new (and for
/// the conditional writes, which are rare and not remembered).
pub fn upsert(
    d: &dyn Dialect,
    ns: &Namespace,
    def: &TableDef,
    row: &Upsert,
    build: impl FnOnce() -> Statement,
) -> Statement {
    if row.condition != WriteIf::Always || def.version.is_empty() {
        return build();
    }
    let hit = SHAPES
        .try_with(|s| {
            let s = s.try_borrow().ok()?;
            s.iter().find(|shape| shape.is(d, ns, def, row)).map(|shape| shape.sql.clone())
        })
        .ok()
        .flatten();
    if let Some(sql) = hit {
        return Statement { sql, params: params(def, row) };
    }
    let built = build();
    // Remembered only when this file's parameters are the builder's: should
    // the two ever part, writes stay correct, just unremembered.
    if built.params == params(def, row) {
        let _ = SHAPES.try_with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                if s.len() >= RECENT {
                    s.remove(0);
                }
                s.push(Shape {
                    dialect: d.name(),
                    ns: ns.clone(),
                    table: def.name.clone(),
                    version: def.version.clone(),
                    columns: row.values.iter().map(|(c, _)| c.clone()).collect(),
                    sql: built.sql.clone(),
                });
            }
        });
    }
    built
}

/// The plain upsert's parameters, in the order its text binds them: the
/// written values, then (tables with expiry) the expiry and, when a column
/// is left out, now (an expired row's omitted columns are cleared).
fn params(def: &TableDef, row: &Upsert) -> Vec<Value> {
    let mut out: Vec<Value> = row.values.iter().map(|(_, v)| v.clone()).collect();
    if def.expiry {
        out.push(row.expires_ms.map_or(Value::Null, Value::Int));
        let omitted =
            def.columns.iter().any(|c| !def.is_key(&c.name) && !row.values.iter().any(|(given, _)| *given == c.name));
        if omitted {
            out.push(Value::Int(row.now_ms));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::sql;
    use super::*;
    use crate::model::{test_table, ColumnType, Order};

    fn row(cols: &[(&str, Value)], now_ms: i64) -> Upsert {
        Upsert {
            values: cols.iter().map(|(c, v)| ((*c).to_owned(), v.clone())).collect(),
            expires_ms: Some(now_ms + 1000),
            now_ms,
            condition: WriteIf::Always,
        }
    }

    #[test]
    fn remembered_statements_are_the_built_ones() {
        let pg = crate::store::postgres::dialect::PgDialect;
        let lite = crate::store::sqlite::dialect::SqliteDialect;
        let mut def = test_table(
            "vehicle",
            &[("manufacturer", ColumnType::Text), ("model", ColumnType::Text), ("year", ColumnType::Int)],
            &["manufacturer"],
            &[("model", Order::Asc)],
        );
        def.version = "v1".into();
        let ns = Namespace { tenant: "acme".into(), keyspace: "shop".into() };
        let other = Namespace { tenant: "other".into(), keyspace: "shop".into() };
        let full = |i: i64| {
            row(
                &[
                    ("manufacturer", Value::Text(format!("m{i}"))),
                    ("model", Value::Text("s".into())),
                    ("year", Value::Int(i)),
                ],
                i,
            )
        };
        let part =
            |i: i64| row(&[("manufacturer", Value::Text(format!("m{i}"))), ("model", Value::Text("s".into()))], i);
        let mut newer = def.clone();
        newer.version = "v2".into();
        newer.columns.retain(|c| c.name != "year");
        let mut no_expiry = def.clone();
        no_expiry.expiry = false;
        no_expiry.version = "v3".into();
        // Twice each, so the second answer is a remembered one; shapes,
        // dialects, namespaces and versions interleaved.
        for i in 0..2 {
            for (d, ns, def, row) in [
                (&pg as &dyn Dialect, &ns, &def, full(i)),
                (&pg, &ns, &def, part(i)),
                (&lite, &ns, &def, full(i)),
                (&pg, &other, &def, full(i)),
                (&pg, &ns, &newer, part(i)),
                (&pg, &ns, &no_expiry, part(i)),
            ] {
                let got = sql::upsert(d, ns, def, &row);
                let want = sql::upsert_built(d, ns, def, &row);
                assert_eq!((&got.sql, &got.params), (&want.sql, &want.params), "{}", want.sql);
            }
        }
        // Each shape remembered once (this test's thread is its own).
        assert_eq!(SHAPES.with(|s| s.borrow().len()), 6);
    }
}
