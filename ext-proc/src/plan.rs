//! Backend-neutral plans: what an API request asks of storage, with every
//! value already typed. Each store turns a plan into its own native statement.

use crate::model::{ColumnDef, Order, TableDef};
use crate::value::Value;

/// A comparison operator from `where`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `$eq`.
    Eq,
    /// `$ne`.
    Ne,
    /// `$lt`.
    Lt,
    /// `$lte`.
    Lte,
    /// `$gt`.
    Gt,
    /// `$gte`.
    Gte,
    /// `$in` (non-empty list).
    In,
    /// `$nin` (non-empty list).
    Nin,
    /// `$exists: true`: the column holds a value.
    Exists,
    /// `$contains`: a list or set holds the value, or a map holds it as a value.
    Contains,
    /// `$containsKey`: a map has the key.
    ContainsKey,
    /// `$containsEntry` (`{"key": .., "value": ..}`): a map maps the key to the value.
    ContainsEntry,
}

impl Op {
    /// Parses `$eq` etc.
    pub fn parse(name: &str) -> Option<Op> {
        Some(match name {
            "$eq" => Op::Eq,
            "$ne" => Op::Ne,
            "$lt" => Op::Lt,
            "$lte" => Op::Lte,
            "$gt" => Op::Gt,
            "$gte" => Op::Gte,
            "$in" => Op::In,
            "$nin" => Op::Nin,
            "$exists" => Op::Exists,
            "$contains" => Op::Contains,
            "$containsKey" => Op::ContainsKey,
            "$containsEntry" => Op::ContainsEntry,
            _ => return None,
        })
    }

    /// The operator as clients write it (`$eq` etc.), for messages.
    pub fn name(self) -> &'static str {
        match self {
            Op::Eq => "$eq",
            Op::Ne => "$ne",
            Op::Lt => "$lt",
            Op::Lte => "$lte",
            Op::Gt => "$gt",
            Op::Gte => "$gte",
            Op::In => "$in",
            Op::Nin => "$nin",
            Op::Exists => "$exists",
            Op::Contains => "$contains",
            Op::ContainsKey => "$containsKey",
            Op::ContainsEntry => "$containsEntry",
        }
    }

    /// Whether the operator takes a list of values.
    pub fn takes_list(self) -> bool {
        matches!(self, Op::In | Op::Nin)
    }
}

/// One condition on one column.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// Column name (checked against the table).
    pub column: String,
    /// Operator.
    pub op: Op,
    /// One value, or the list for `$in`/`$nin`.
    pub values: Vec<Value>,
}

/// A read: conditions, keyset position and page size.
#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    /// Now, Unix ms: rows that expired by then are invisible.
    pub now_ms: i64,
    /// Conditions, all of which must hold.
    pub conditions: Vec<Condition>,
    /// The read's total order ([`read_order`]): computed once by the engine,
    /// which also needs it for the paging cursor.
    pub order: Vec<OrderColumn>,
    /// Values of the [`read_order`] columns in the last row already returned (keyset pagination).
    pub after: Option<Vec<Value>>,
    /// Rows to fetch; the API asks for one more than the page to know if more exist.
    pub limit: u32,
}

/// An upsert of one row: every primary-key column plus the columns given.
#[derive(Debug, Clone, PartialEq)]
pub struct Upsert {
    /// Column name and value pairs, key columns first.
    pub values: Vec<(String, Value)>,
    /// When the row expires (Unix ms), or `None` to live on.
    pub expires_ms: Option<i64>,
    /// Now, Unix ms: an expired row being overwritten loses its old columns.
    pub now_ms: i64,
    /// When the write applies (Cassandra's `IF NOT EXISTS` / `IF EXISTS`).
    pub condition: WriteIf,
}

/// A write's condition; conditional writes are single atomic statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteIf {
    /// Always (an upsert).
    #[default]
    Always,
    /// Only if no live row has the key (an expired one counts as absent).
    Absent,
    /// Only if a live row has the key; then only the given columns change.
    Present,
}

/// One column of a read's total order.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderColumn {
    /// The column.
    pub column: ColumnDef,
    /// Direction.
    pub order: Order,
    /// Whether it may hold NULL (sort columns outside the key); NULLs sort last.
    pub nullable: bool,
}

/// The total order of a read: the client's sort columns, then the primary-key
/// columns not already named — unique per row, which keyset pagination needs.
pub fn read_order(def: &TableDef, sort: &[(String, Order)]) -> Vec<OrderColumn> {
    let mut out: Vec<OrderColumn> = sort
        .iter()
        .filter_map(|(name, order)| {
            def.column(name).map(|column| OrderColumn {
                column: column.clone(),
                order: *order,
                nullable: !def.is_key(name),
            })
        })
        .collect();
    for (column, order) in def.key_order() {
        if !out.iter().any(|o| o.column.name == column.name) {
            out.push(OrderColumn { column: column.clone(), order, nullable: false });
        }
    }
    out
}
