//! Physical names on SQLite, where identifiers are case-insensitive: `Vehicle`
//! and `vehicle` would be one table, `a` and `A` one column. The API's rule
//! (the same on both stores, as in CQL with quoted names) is that names are
//! case-sensitive, so on SQLite a name holding upper-case letters is stored
//! with a suffix recording which letters are upper case: `Vehicle` becomes
//! `Vehicle$1`. Client names cannot hold `$`, so the suffixed names collide
//! neither with each other nor with all-lower-case names, which keep their
//! name unchanged (as every name did before this rule).

use crate::model::Namespace;
use crate::store::sql;
use rusqlite::{params, Connection};

/// The physical table of a collection; '#' never occurs in table names, so
/// collections and tables of one keyspace cannot collide.
pub(super) fn table(ns: &Namespace, coll: &str) -> String {
    sql::quote(&format!("{}#{}", ns.physical(), physical(coll)))
}

/// The physical spelling of a client name (table, column or collection).
pub fn physical(name: &str) -> String {
    // Names are at most 48 ASCII characters (checked before they get here);
    // anything longer keeps only its first 128 positions in the mask, and the
    // full name still distinguishes it.
    let mask = name
        .bytes()
        .take(128)
        .enumerate()
        .filter(|(_, b)| b.is_ascii_uppercase())
        .fold(0u128, |m, (i, _)| m | (1u128 << i));
    if mask == 0 {
        name.to_owned()
    } else {
        format!("{name}${mask:x}")
    }
}

/// The `user_version` of a file whose physical names follow [`physical`].
pub(super) const CASE_SAFE_VERSION: i64 = 1;

/// Renames what older versions created under a name holding upper-case letters
/// (tables, their columns, collections) to the case-safe spelling, once per
/// file, in one transaction. Files whose names are all lower case (the usual
/// case) only get their version stamped.
pub fn migrate(c: &mut Connection) -> Result<(), rusqlite::Error> {
    let version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version >= CASE_SAFE_VERSION {
        return Ok(());
    }
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let tables: Vec<(String, String, String)> = {
        let mut s = tx.prepare("SELECT tenant, keyspace, definition FROM datagate_tables")?;
        let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (tenant, keyspace, text) in tables {
        let Ok(def) = serde_json::from_str::<crate::model::TableDef>(&text) else { continue };
        let prefix = crate::model::Namespace { tenant, keyspace }.physical();
        let (old, new) = (format!("{prefix}__{}", def.name), format!("{prefix}__{}", physical(&def.name)));
        if old != new && exists(&tx, &old)? {
            tx.execute_batch(&format!("ALTER TABLE {} RENAME TO {}", quote(&old), quote(&new)))?;
        }
        for col in def.columns.iter().map(|c| c.name.as_str()).filter(|n| *n != physical(n)) {
            if has_column(&tx, &new, col)? {
                tx.execute_batch(&format!(
                    "ALTER TABLE {} RENAME COLUMN {} TO {}",
                    quote(&new),
                    quote(col),
                    quote(&physical(col))
                ))?;
            }
        }
    }
    let collections: Vec<(String, String, String)> = {
        let mut s = tx.prepare("SELECT tenant, keyspace, name FROM datagate_collections")?;
        let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (tenant, keyspace, name) in collections {
        let prefix = crate::model::Namespace { tenant, keyspace }.physical();
        let (old, new) = (format!("{prefix}#{name}"), format!("{prefix}#{}", physical(&name)));
        if old != new && exists(&tx, &old)? {
            // Index names are case-insensitive too: the expiry index is made again under the new spelling.
            tx.execute_batch(&format!(
                "ALTER TABLE {} RENAME TO {};
                 DROP INDEX IF EXISTS {};
                 CREATE INDEX {} ON {} (expires_at) WHERE expires_at IS NOT NULL;",
                quote(&old),
                quote(&new),
                quote(&format!("{old}#expiry")),
                quote(&format!("{new}#expiry")),
                quote(&new)
            ))?;
        }
    }
    tx.pragma_update(None, "user_version", CASE_SAFE_VERSION)?;
    tx.commit()
}

fn quote(name: &str) -> String {
    crate::store::sql::quote(name)
}

/// Whether a table of exactly this spelling exists.
fn exists(c: &Connection, name: &str) -> Result<bool, rusqlite::Error> {
    c.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1")?.exists(params![name])
}

/// Whether `table` has a column of exactly this spelling.
fn has_column(c: &Connection, table: &str, column: &str) -> Result<bool, rusqlite::Error> {
    c.prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2")?.exists(params![table, column])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_is_kept_apart_and_lower_case_is_unchanged() {
        assert_eq!(physical("vehicle"), "vehicle");
        assert_eq!(physical("vehicle_2"), "vehicle_2");
        assert_eq!(physical("Vehicle"), "Vehicle$1");
        assert_eq!(physical("vEhicle"), "vEhicle$2");
        assert_eq!(physical("AB"), "AB$3");
        let names = ["a", "A", "ab", "Ab", "aB", "AB", "a_b", "a_B"];
        let folded: std::collections::HashSet<String> = names.iter().map(|n| physical(n).to_lowercase()).collect();
        assert_eq!(folded.len(), names.len(), "no two names collide once SQLite folds case");
    }

    #[test]
    fn files_from_earlier_versions_are_renamed_once() {
        let mut c = Connection::open_in_memory().unwrap();
        c.execute_batch(super::super::CATALOG).unwrap();
        let ns = crate::model::Namespace { tenant: "acme".into(), keyspace: "blog".into() };
        let p = ns.physical();
        let def = crate::model::test_table(
            "Vehicle",
            &[("Maker", crate::model::ColumnType::Text), ("year", crate::model::ColumnType::Int)],
            &["Maker"],
            &[],
        );
        let text = serde_json::to_string(&def).unwrap();
        c.execute(
            "INSERT INTO datagate_tables (tenant, keyspace, name, definition) VALUES ('acme', 'blog', 'Vehicle', ?1)",
            params![text],
        )
        .unwrap();
        c.execute("INSERT INTO datagate_collections (tenant, keyspace, name) VALUES ('acme', 'blog', 'Docs')", [])
            .unwrap();
        c.execute_batch(&format!(
            "CREATE TABLE \"{p}__Vehicle\" (\"Maker\" TEXT NOT NULL, year INTEGER, PRIMARY KEY (\"Maker\")) WITHOUT ROWID;
             INSERT INTO \"{p}__Vehicle\" VALUES ('Tesla', 2020);
             CREATE TABLE \"{p}#Docs\" (id TEXT PRIMARY KEY, doc TEXT NOT NULL, expires_at INTEGER) STRICT;
             CREATE INDEX \"{p}#Docs#expiry\" ON \"{p}#Docs\" (expires_at) WHERE expires_at IS NOT NULL;"
        ))
        .unwrap();
        migrate(&mut c).unwrap();
        let maker: String =
            c.query_row(&format!("SELECT \"Maker$1\" FROM \"{p}__Vehicle$1\""), [], |r| r.get(0)).unwrap();
        assert_eq!(maker, "Tesla");
        assert!(exists(&c, &format!("{p}#Docs$1")).unwrap());
        assert!(!exists(&c, &format!("{p}#Docs")).unwrap());
        // A lower-case namesake now has room beside it.
        c.execute_batch(&format!("CREATE TABLE \"{p}__vehicle\" (a TEXT); CREATE TABLE \"{p}#docs\" (a TEXT);"))
            .unwrap();
        migrate(&mut c).unwrap();
    }
}
