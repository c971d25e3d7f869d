//! Declared document indexes on PostgreSQL: one B-tree expression index per
//! path on `((doc #> '{a,b}'), id)`, beside the collection's GIN index (which
//! serves equality on any path but no ranges, and finds candidates rather than
//! ordered matches). [`crate::store::docsql::search`] adds the probe in the same spelling, so
//! the planner can use the index for `$eq`, `$in` and ranges.
//!
//! As on SQLite, the path is spliced into SQL text, so only paths of
//! [`crate::store::docsql::indexable_key`] keys get here, and the index name carries it.

use super::map_err;
use super::PgDialect;
use crate::doc::path::{display, Path};
use crate::model::Namespace;
use crate::store::sql::{self, Dialect};
use crate::store::StoreError;
use deadpool_postgres::GenericClient;

/// PostgreSQL truncates identifiers to 63 bytes.
const MAX_NAME: usize = 63;

fn prefix(coll: &str) -> String {
    format!("#{coll}#i#")
}

/// The declared paths of a collection, sorted; `None` when its table is missing.
pub(super) async fn list(
    c: &impl GenericClient,
    ns: &Namespace,
    coll: &str,
) -> Result<Option<Vec<String>>, StoreError> {
    let schema = ns.physical();
    let table = format!("#{coll}");
    let exists = c
        .query_opt("SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = $2", &[&schema, &table])
        .await
        .map_err(map_err)?;
    if exists.is_none() {
        return Ok(None);
    }
    let rows = c
        .query(
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY indexname",
            &[&schema, &table],
        )
        .await
        .map_err(map_err)?;
    let p = prefix(coll);
    Ok(Some(rows.iter().filter_map(|r| r.get::<_, String>(0).strip_prefix(&p).map(str::to_owned)).collect()))
}

/// The statements making the declared indexes exactly `paths`, given those there are.
pub(super) fn changes(ns: &Namespace, coll: &str, have: &[String], paths: &[Path]) -> Result<Vec<String>, StoreError> {
    let schema = sql::quote(&ns.physical());
    let table = format!("{schema}.{}", sql::quote(&format!("#{coll}")));
    let mut want = Vec::new();
    for path in paths {
        let expr = PgDialect
            .doc_index_expr(path)
            .ok_or_else(|| StoreError::Rejected(format!("'{}' cannot be indexed", display(path))))?;
        let dotted = display(path);
        let name = format!("{}{dotted}", prefix(coll));
        if name.len() > MAX_NAME {
            return Err(StoreError::Rejected(format!(
                "'{dotted}': on PostgreSQL the collection name and an indexed path together take at most {} bytes",
                MAX_NAME - 4
            )));
        }
        want.push((dotted, name, expr));
    }
    let mut out = Vec::new();
    for (dotted, name, expr) in &want {
        if !have.contains(dotted) {
            out.push(format!("CREATE INDEX {} ON {table} ({expr}, id)", sql::quote(name)));
        }
    }
    for dotted in have.iter().filter(|h| !want.iter().any(|(w, _, _)| w == *h)) {
        out.push(format!("DROP INDEX IF EXISTS {schema}.{}", sql::quote(&format!("{}{dotted}", prefix(coll)))));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::path::parse;

    #[test]
    fn builds_the_new_and_drops_the_old() {
        let ns = Namespace { tenant: "t".into(), keyspace: "k".into() };
        let out = changes(&ns, "c", &["old".into(), "keep".into()], &[parse("keep").unwrap(), parse("a.b").unwrap()])
            .unwrap();
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(
            out[0].starts_with("CREATE INDEX \"#c#i#a.b\" ON \"dg_") && out[0].ends_with("((doc #> '{a,b}'), id)"),
            "{out:?}"
        );
        assert!(out[1].starts_with("DROP INDEX IF EXISTS \"dg_") && out[1].ends_with(".\"#c#i#old\""), "{out:?}");
        let long = parse(&"x".repeat(60)).unwrap();
        assert!(changes(&ns, "c", &[], &[long]).is_err());
    }
}
