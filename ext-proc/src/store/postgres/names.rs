//! Physical names on PostgreSQL that more than one file of this store needs.

use crate::model::Namespace;
use crate::store::sql;

/// The physical table of a collection ('#' never occurs in table names).
pub(super) fn table(ns: &Namespace, coll: &str) -> String {
    // Built for every document statement: no `format!` of the quoted parts.
    let mut out = String::with_capacity(coll.len() + 30);
    sql::quote_into(&mut out, &ns.physical());
    out.push('.');
    sql::quote_into(&mut out, &format!("#{coll}"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collection_lives_in_its_keyspace_schema_under_a_marked_name() {
        let ns = Namespace { tenant: "bench".into(), keyspace: "bench".into() };
        assert_eq!(table(&ns, "docs"), "\"dg_91535879897014483606\".\"#docs\"");
    }
}
