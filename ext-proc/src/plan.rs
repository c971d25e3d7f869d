//! Backend-neutral plans: what an API request asks of storage, with every
//! value already typed. Each store turns a plan into its own native statement.

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
            _ => return None,
        })
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
    /// Primary-key values of the last row already returned (keyset pagination).
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
}
