//! Physical names on PostgreSQL that more than one file of this store needs.

use crate::model::Namespace;
use crate::store::sql;

/// The physical table of a collection ('#' never occurs in table names).
pub(super) fn table(ns: &Namespace, coll: &str) -> String {
    format!("{}.{}", sql::quote(&ns.physical()), sql::quote(&format!("#{coll}")))
}
