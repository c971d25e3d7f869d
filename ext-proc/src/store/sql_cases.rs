//! Statements over every shape [`super::sqlread::select`] and [`super::sqlread::delete`]
//! build, for the dialects' exact-text tests (`postgres::tests`, `sqlite::tests`).

use super::sql::Dialect;
use super::sqlread::{delete, select};
use crate::model::{ColumnType, Namespace, Order};
use crate::plan::{Condition, Op, Select};
use crate::value::Value;

/// Statements over every shape `select` and `delete` build, with the
/// namespace's physical name (for the dialects' exact-text tests).
pub fn select_cases(d: &dyn Dialect, ns: &Namespace) -> ([String; 3], String) {
    use crate::model::test_table;
    let mut def = test_table(
        "vehicle",
        &[("manufacturer", ColumnType::Text), ("model", ColumnType::Text), ("year", ColumnType::Int)],
        &["manufacturer"],
        &[("model", Order::Desc)],
    );
    let cond = |column: &str, op: Op, values: Vec<Value>| Condition { column: column.into(), op, values };
    let every = vec![
        cond("manufacturer", Op::Eq, vec![Value::Text("t".into())]),
        cond("year", Op::Ne, vec![Value::Int(1)]),
        cond("year", Op::Lt, vec![Value::Int(2)]),
        cond("year", Op::Lte, vec![Value::Int(3)]),
        cond("year", Op::Gt, vec![Value::Int(4)]),
        cond("year", Op::Gte, vec![Value::Int(5)]),
        cond("year", Op::In, vec![Value::Int(6), Value::Int(7)]),
        cond("year", Op::Nin, vec![Value::Int(8)]),
        cond("model", Op::Exists, vec![]),
    ];
    let plain = Select {
        now_ms: 1000,
        conditions: every.clone(),
        order: crate::plan::read_order(&def, &[]),
        after: None,
        limit: 21,
    };
    let first = select(d, ns, &def, &plain).sql;
    def.expiry = true;
    let paged = Select {
        now_ms: 1000,
        conditions: vec![every[0].clone()],
        order: crate::plan::read_order(&def, &[("year".into(), Order::Desc)]),
        after: Some(vec![Value::Int(9), Value::Text("m".into())]),
        limit: 11,
    };
    let second = select(d, ns, &def, &paged).sql;
    let third = delete(d, ns, &def, &every[..2]).sql;
    ([first, second, third], ns.physical())
}
