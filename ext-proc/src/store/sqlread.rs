//! Statement text of row reads and deletes ([`select`], [`delete`]), appended
//! to one buffer, no string per clause or identifier (reads remembered by
//! shape, [`super::shapes`]).
//! The rest of the rows' statements are in [`super::sql`].

use super::sql::{bind, dir, quote_into, tag, Dialect, Statement};
use crate::model::{ColumnType, DataType, Namespace, Order, TableDef, EXPIRY_COLUMN};
use crate::plan::{Condition, Op, OrderColumn, Select};
use crate::value::Value;
use std::fmt::Write;

/// `SELECT` of all columns in key order, with conditions, keyset position and
/// limit; its text remembered by shape (see [`super::shapes`]).
pub fn select(d: &dyn Dialect, ns: &Namespace, def: &TableDef, s: &Select) -> Statement {
    let built = || {
        let st = select_built(d, ns, def, s);
        (st.sql, st.params)
    };
    let (sql, params) = super::shapes::select(d.name(), ns, def, s, built);
    Statement { sql, params }
}

/// [`select`]'s statement, built: appended to one buffer, no string per
/// clause or identifier.
pub(super) fn select_built(d: &dyn Dialect, ns: &Namespace, def: &TableDef, s: &Select) -> Statement {
    let mut params = Vec::with_capacity(s.conditions.len() + 2);
    let mut sql = tag(def);
    sql.reserve(64 + 24 * (def.columns.len() + s.conditions.len() + s.order.len()));
    sql.push_str("SELECT ");
    for (i, c) in def.columns.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        d.column_into(&mut sql, &c.name);
    }
    sql.push_str(" FROM ");
    sql.push_str(&d.table(ns, &def.name));
    let mut first = true;
    for c in &s.conditions {
        and_where(&mut sql, &mut first);
        condition_into(d, def, c, &mut params, &mut sql);
    }
    if def.expiry {
        and_where(&mut sql, &mut first);
        sql.push('(');
        quote_into(&mut sql, EXPIRY_COLUMN);
        sql.push_str(" IS NULL OR ");
        quote_into(&mut sql, EXPIRY_COLUMN);
        sql.push_str(" > ");
        bind_into(d, &mut params, &Value::Int(s.now_ms), &mut sql);
        sql.push(')');
    }
    if let Some(after) = &s.after {
        and_where(&mut sql, &mut first);
        sql.push_str(&keyset(d, &s.order, after, &mut params));
    }
    sql.push_str(" ORDER BY ");
    for (i, o) in s.order.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        // NULLs last in both directions, the same on every store.
        if o.nullable {
            sql.push('(');
            d.column_into(&mut sql, &o.column.name);
            sql.push_str(" IS NULL), ");
        }
        d.column_into(&mut sql, &o.column.name);
        sql.push(' ');
        sql.push_str(dir(o.order));
    }
    let _ = write!(sql, " LIMIT {}", s.limit);
    Statement { sql, params }
}

/// `DELETE` of the rows matching key conditions.
pub fn delete(d: &dyn Dialect, ns: &Namespace, def: &TableDef, key: &[Condition]) -> Statement {
    let mut params = Vec::with_capacity(key.len());
    let mut sql = tag(def);
    sql.push_str("DELETE FROM ");
    sql.push_str(&d.table(ns, &def.name));
    let mut first = true;
    for c in key {
        and_where(&mut sql, &mut first);
        condition_into(d, def, c, &mut params, &mut sql);
    }
    Statement { sql, params }
}

/// ` WHERE ` before the first condition, ` AND ` before the others.
fn and_where(sql: &mut String, first: &mut bool) {
    sql.push_str(if std::mem::take(first) { " WHERE " } else { " AND " });
}

/// [`bind`](super::sql), the placeholder appended to `out`.
fn bind_into(d: &dyn Dialect, params: &mut Vec<Value>, v: &Value, out: &mut String) {
    params.push(v.clone());
    d.param_into(out, params.len());
}

/// One condition appended to `out`.
fn condition_into(d: &dyn Dialect, def: &TableDef, c: &Condition, params: &mut Vec<Value>, out: &mut String) {
    let first = c.values.first().unwrap_or(&Value::Null);
    let cmp = match c.op {
        Op::Exists => {
            d.column_into(out, &c.column);
            out.push_str(" IS NOT NULL");
            return;
        }
        Op::Contains | Op::ContainsKey | Op::ContainsEntry => {
            let ty = def.column(&c.column).map_or(DataType::Scalar(ColumnType::Text), |c| c.ty);
            let mut bind_one = |v: Value| bind(d, params, &v);
            out.push_str(&d.collection_condition(&d.column(&c.column), ty, c.op, &c.values, &mut bind_one));
            return;
        }
        Op::In | Op::Nin => {
            d.column_into(out, &c.column);
            out.push_str(if c.op == Op::Nin { " NOT IN (" } else { " IN (" });
            for (i, v) in c.values.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                bind_into(d, params, v, out);
            }
            out.push(')');
            return;
        }
        Op::Eq => " = ",
        Op::Ne => " <> ",
        Op::Lt => " < ",
        Op::Lte => " <= ",
        Op::Gt => " > ",
        Op::Gte => " >= ",
    };
    d.column_into(out, &c.column);
    out.push_str(cmp);
    bind_into(d, params, first, out);
}

/// Rows strictly after `after` in the read order, for any mix of ASC/DESC and
/// NULLs (which sort last): `(c1 after v1) OR (c1 = v1 AND c2 after v2) OR ...`.
fn keyset(d: &dyn Dialect, order: &[OrderColumn], after: &[Value], params: &mut Vec<Value>) -> String {
    let mut alternatives = Vec::new();
    for i in 0..order.len().min(after.len()) {
        // Nothing sorts after NULL within its column: no alternative ends there.
        if after[i] == Value::Null {
            continue;
        }
        let mut parts = Vec::new();
        for (j, o) in order.iter().enumerate().take(i) {
            let col = d.column(&o.column.name);
            parts.push(match &after[j] {
                Value::Null => format!("{col} IS NULL"),
                v => format!("{col} = {}", bind(d, params, v)),
            });
        }
        let o = &order[i];
        let col = d.column(&o.column.name);
        let cmp = if o.order == Order::Asc { ">" } else { "<" };
        let v = bind(d, params, &after[i]);
        parts.push(if o.nullable { format!("({col} IS NULL OR {col} {cmp} {v})") } else { format!("{col} {cmp} {v}") });
        alternatives.push(format!("({})", parts.join(" AND ")));
    }
    if alternatives.is_empty() {
        // The cursor was at the very end (all NULL): nothing follows.
        return "1 = 0".to_owned();
    }
    format!("({})", alternatives.join(" OR "))
}
