//! Statement text of the common row statements (the plain upsert and the
//! row read), remembered by shape.
//!
//! [`super::sql::upsert`] and [`super::sqlread::select`] build their text from
//! the table's definition and the shape of the request (which columns are
//! written; which columns are compared how, in which order, how many rows),
//! never from values, which are bound parameters; so two requests of one
//! shape get the same text. Built for every request, that text was about 12k
//! of a row POST's 76k instructions and 4k of a GET by key's 56k
//! (bench/instructions). Each thread keeps its last few shapes, compared in
//! full (dialect, namespace, table, its version, the request's shape), so an
//! entry can never answer for another table, another tenant or an older shape
//! of the table: every DDL changes the version, and a table without one (made
//! before versions) is not remembered. Text that depends on values (a keyset
//! position, where NULLs drop alternatives; collection operators) and the
//! conditional writes are built every time.
//!
//! It takes the dialect by name and statements as (text, parameters), so it
//! sits below `sql` and `sqlread`, which call it.

use crate::model::{Namespace, Order, TableDef};
use crate::plan::{Op, Select, Upsert, WriteIf};
use crate::value::Value;
use std::cell::RefCell;

/// A statement: its text and its bound parameters.
pub type Built = (String, Vec<Value>);

/// Shapes each thread remembers: a few tables and queries take most requests.
const RECENT: usize = 32;

/// What the text depends on besides the table.
#[derive(PartialEq)]
enum Kind {
    /// A plain upsert: the written columns, in order.
    Upsert(Vec<String>),
    /// A read: each condition's column, operator and number of values; the
    /// order (column, direction, nullable); the limit.
    Select { conditions: Vec<(String, Op, usize)>, order: Vec<(String, Order, bool)>, limit: u32 },
}

/// One remembered shape and its statement text.
struct Shape {
    dialect: &'static str,
    ns: Namespace,
    table: String,
    version: String,
    kind: Kind,
    sql: String,
}

thread_local! {
    static SHAPES: RefCell<Vec<Shape>> = const { RefCell::new(Vec::new()) };
}

/// The plain upsert of `row`: its text remembered by shape, its parameters
/// this row's. `build` makes the statement when the shape is new (and for
/// the conditional writes, which are rare and not remembered).
pub fn upsert(
    dialect: &'static str,
    ns: &Namespace,
    def: &TableDef,
    row: &Upsert,
    build: impl FnOnce() -> Built,
) -> Built {
    if row.condition != WriteIf::Always {
        return build();
    }
    let same = |k: &Kind| match k {
        Kind::Upsert(cols) => cols.len() == row.values.len() && cols.iter().zip(&row.values).all(|(a, (b, _))| a == b),
        Kind::Select { .. } => false,
    };
    let kind = || Kind::Upsert(row.values.iter().map(|(c, _)| c.clone()).collect());
    remembered(dialect, ns, def, same, || upsert_params(def, row), kind, build)
}

/// The read `s`: its text remembered by shape, its parameters this read's.
/// `build` makes the statement when the shape is new, and for a read whose
/// text depends on its values (a keyset position, a collection operator).
pub fn select(
    dialect: &'static str,
    ns: &Namespace,
    def: &TableDef,
    s: &Select,
    build: impl FnOnce() -> Built,
) -> Built {
    let by_value = |op: Op| matches!(op, Op::Contains | Op::ContainsKey | Op::ContainsEntry);
    if s.after.is_some() || s.conditions.iter().any(|c| by_value(c.op)) {
        return build();
    }
    let same = |k: &Kind| match k {
        Kind::Select { conditions, order, limit } => {
            *limit == s.limit
                && conditions.len() == s.conditions.len()
                && conditions
                    .iter()
                    .zip(&s.conditions)
                    .all(|((col, op, n), c)| *op == c.op && *n == c.values.len() && *col == c.column)
                && order.len() == s.order.len()
                && order.iter().zip(&s.order).all(|((col, dir, nullable), o)| {
                    *dir == o.order && *nullable == o.nullable && *col == o.column.name
                })
        }
        Kind::Upsert(_) => false,
    };
    let kind = || Kind::Select {
        conditions: s.conditions.iter().map(|c| (c.column.clone(), c.op, c.values.len())).collect(),
        order: s.order.iter().map(|o| (o.column.name.clone(), o.order, o.nullable)).collect(),
        limit: s.limit,
    };
    remembered(dialect, ns, def, same, || select_params(def, s), kind, build)
}

/// The remembered text for the shape `same` recognizes, with `params`; else
/// `build`'s statement, remembered as `kind` when its parameters are
/// `params`' (should the two ever part, statements stay correct, just
/// unremembered).
fn remembered(
    dialect: &'static str,
    ns: &Namespace,
    def: &TableDef,
    same: impl Fn(&Kind) -> bool,
    params: impl Fn() -> Vec<Value>,
    kind: impl FnOnce() -> Kind,
    build: impl FnOnce() -> Built,
) -> Built {
    if def.version.is_empty() {
        return build();
    }
    let is = |s: &Shape| {
        s.dialect == dialect && s.version == def.version && s.table == def.name && s.ns == *ns && same(&s.kind)
    };
    let hit = SHAPES
        .try_with(|shapes| shapes.try_borrow().ok()?.iter().find(|s| is(s)).map(|s| s.sql.clone()))
        .ok()
        .flatten();
    if let Some(sql) = hit {
        return (sql, params());
    }
    let built = build();
    if built.1 == params() {
        let _ = SHAPES.try_with(|shapes| {
            if let Ok(mut shapes) = shapes.try_borrow_mut() {
                if shapes.len() >= RECENT {
                    shapes.remove(0);
                }
                shapes.push(Shape {
                    dialect,
                    ns: ns.clone(),
                    table: def.name.clone(),
                    version: def.version.clone(),
                    kind: kind(),
                    sql: built.0.clone(),
                });
            }
        });
    }
    built
}

/// The plain upsert's parameters, in the order its text binds them: the
/// written values, then (tables with expiry) the expiry and, when a column
/// is left out, now (an expired row's omitted columns are cleared).
fn upsert_params(def: &TableDef, row: &Upsert) -> Vec<Value> {
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

/// A read's parameters (without a keyset position), in the order its text
/// binds them: each condition's value (every one for `$in`/`$nin`, none for
/// `$exists`), then (tables with expiry) now.
fn select_params(def: &TableDef, s: &Select) -> Vec<Value> {
    let mut out = Vec::with_capacity(s.conditions.len() + 1);
    for c in &s.conditions {
        match c.op {
            Op::Exists => {}
            Op::In | Op::Nin => out.extend(c.values.iter().cloned()),
            _ => out.push(c.values.first().cloned().unwrap_or(Value::Null)),
        }
    }
    if def.expiry {
        out.push(Value::Int(s.now_ms));
    }
    out
}

#[cfg(test)]
#[path = "shapes_tests.rs"]
mod tests;
