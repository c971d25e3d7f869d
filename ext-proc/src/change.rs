//! Schema changes to an existing table (columns and indexes), applied to the
//! definition as pure logic; each store runs the matching DDL in the same
//! transaction as the new definition.

use crate::model::{
    check_column, check_ident, ColumnDef, ColumnType, DataType, IndexDef, TableDef, COUNTERS_ALONE, COUNTERS_NO_TTL,
    MAX_COLUMNS,
};

/// One change.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// `ALTER TABLE ... ADD COLUMN`.
    AddColumn(ColumnDef),
    /// `ALTER TABLE ... DROP COLUMN` (not a key column; its indexes go too).
    DropColumn(String),
    /// `ALTER TABLE ... RENAME COLUMN`.
    RenameColumn { from: String, to: String },
    /// `CREATE INDEX` on one column.
    CreateIndex(IndexDef),
    /// `DROP INDEX`.
    DropIndex(String),
    /// Table options: the default TTL (`None`/0: rows live until deleted).
    SetDefaultTtl(Option<u32>),
}

/// What applying a change found.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The change names something that does not exist (404).
    Missing(String),
    /// The change would create something that exists (409).
    Exists(String),
    /// The change is not allowed (400).
    Invalid(String),
}

/// The definition after `change`.
pub fn apply(def: &TableDef, change: &Change) -> Result<TableDef, Refusal> {
    let mut out = def.clone();
    match change {
        Change::AddColumn(c) => {
            check_column(&c.name).map_err(Refusal::Invalid)?;
            if def.column(&c.name).is_some() {
                return Err(Refusal::Exists(format!("column '{}'", c.name)));
            }
            if def.columns.len() >= MAX_COLUMNS {
                return Err(Refusal::Invalid(format!(
                    "table '{}' has {} columns, the limit is {MAX_COLUMNS}",
                    def.name,
                    def.columns.len()
                )));
            }
            // createTable's rules, kept after it: a table mixing counters and
            // other values besides its key could take neither kind of write whole.
            let counter = c.ty == DataType::Scalar(ColumnType::Counter);
            let values: Vec<&ColumnDef> = def.columns.iter().filter(|c| !def.is_key(&c.name)).collect();
            if counter && values.iter().any(|v| v.ty != DataType::Scalar(ColumnType::Counter)) {
                return Err(Refusal::Invalid(format!(
                    "table '{}' holds non-counter columns: {COUNTERS_ALONE}",
                    def.name
                )));
            }
            if !counter && def.is_counter_table() {
                return Err(Refusal::Invalid(format!("table '{}' is a counter table: {COUNTERS_ALONE}", def.name)));
            }
            if counter && def.default_ttl.is_some() {
                return Err(Refusal::Invalid(format!("table '{}' has a default TTL: {COUNTERS_NO_TTL}", def.name)));
            }
            out.columns.push(c.clone());
        }
        Change::DropColumn(name) => {
            def.column(name).ok_or_else(|| Refusal::Missing(format!("column '{name}' not found")))?;
            if def.is_key(name) {
                return Err(Refusal::Invalid(format!("'{name}' is a primary-key column and cannot be dropped")));
            }
            out.columns.retain(|c| c.name != *name);
            out.indexes.retain(|i| i.column != *name);
        }
        Change::RenameColumn { from, to } => {
            def.column(from).ok_or_else(|| Refusal::Missing(format!("column '{from}' not found")))?;
            check_column(to).map_err(Refusal::Invalid)?;
            if def.column(to).is_some() {
                return Err(Refusal::Exists(format!("column '{to}'")));
            }
            let rename = |n: &mut String| {
                if n == from {
                    *n = to.clone();
                }
            };
            out.columns.iter_mut().for_each(|c| rename(&mut c.name));
            out.partition_key.iter_mut().for_each(rename);
            out.clustering.iter_mut().for_each(|c| rename(&mut c.column));
            out.indexes.iter_mut().for_each(|i| rename(&mut i.column));
        }
        Change::CreateIndex(index) => {
            check_ident("index", &index.name).map_err(Refusal::Invalid)?;
            def.column(&index.column)
                .ok_or_else(|| Refusal::Missing(format!("column '{}' not found", index.column)))?;
            if def.indexes.iter().any(|i| i.name == index.name) {
                return Err(Refusal::Exists(format!("index '{}'", index.name)));
            }
            out.indexes.push(index.clone());
        }
        Change::DropIndex(name) => {
            if !def.indexes.iter().any(|i| i.name == *name) {
                return Err(Refusal::Missing(format!("index '{name}' not found")));
            }
            out.indexes.retain(|i| i.name != *name);
        }
        Change::SetDefaultTtl(ttl) => {
            if ttl.is_some_and(|t| t > 0) && !def.expiry {
                return Err(Refusal::Invalid(format!("table {} was created before TTL support", def.name)));
            }
            if ttl.is_some_and(|t| t > 0) && def.is_counter_table() {
                return Err(Refusal::Invalid(format!("table '{}' is a counter table: {COUNTERS_NO_TTL}", def.name)));
            }
            out.default_ttl = ttl.filter(|t| *t > 0);
        }
    }
    out.version = crate::model::new_version();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Clustering, Order};

    fn def() -> TableDef {
        TableDef {
            name: "t".into(),
            columns: vec![
                ColumnDef { name: "a".into(), ty: DataType::Scalar(ColumnType::Text) },
                ColumnDef { name: "b".into(), ty: DataType::Scalar(ColumnType::Int) },
                ColumnDef { name: "c".into(), ty: DataType::Scalar(ColumnType::Int) },
            ],
            partition_key: vec!["a".into()],
            clustering: vec![Clustering { column: "b".into(), order: Order::Asc }],
            expiry: true,
            default_ttl: None,
            indexes: vec![IndexDef { name: "c_idx".into(), column: "c".into() }],
            index_names_v2: true,
            version: String::new(),
        }
    }

    #[test]
    fn counters_and_other_values_never_mix() {
        let counter =
            |n: &str| Change::AddColumn(ColumnDef { name: n.into(), ty: DataType::Scalar(ColumnType::Counter) });
        let text = |n: &str| Change::AddColumn(ColumnDef { name: n.into(), ty: DataType::Scalar(ColumnType::Text) });
        // A table with values takes no counter.
        assert!(matches!(apply(&def(), &counter("n")), Err(Refusal::Invalid(m)) if m.contains("only counters")));
        // A counter table takes counters, no values and no default TTL.
        let mut d = def();
        d.columns.retain(|c| c.name != "c");
        d.indexes.clear();
        let counters = apply(&d, &counter("n")).unwrap();
        let more = apply(&counters, &counter("m")).unwrap();
        assert!(matches!(apply(&more, &text("v")), Err(Refusal::Invalid(m)) if m.contains("only counters")));
        assert!(matches!(apply(&more, &Change::SetDefaultTtl(Some(60))), Err(Refusal::Invalid(_))));
        assert!(apply(&more, &Change::SetDefaultTtl(None)).is_ok());
        // A key-only table with a default TTL cannot become a counter table.
        d.default_ttl = Some(60);
        assert!(matches!(apply(&d, &counter("n")), Err(Refusal::Invalid(m)) if m.contains("TTL")));
    }

    #[test]
    fn columns_and_indexes() {
        let d = def();
        let added =
            apply(&d, &Change::AddColumn(ColumnDef { name: "x".into(), ty: DataType::Scalar(ColumnType::Bigint) }))
                .unwrap();
        assert!(added.column("x").is_some());
        assert!(matches!(apply(&d, &Change::AddColumn(d.columns[0].clone())), Err(Refusal::Exists(_))));
        let dropped = apply(&d, &Change::DropColumn("c".into())).unwrap();
        assert!(dropped.column("c").is_none() && dropped.indexes.is_empty(), "indexes on a dropped column go too");
        assert!(matches!(apply(&d, &Change::DropColumn("a".into())), Err(Refusal::Invalid(_))));
        assert!(matches!(apply(&d, &Change::DropColumn("zz".into())), Err(Refusal::Missing(_))));
        let renamed = apply(&d, &Change::RenameColumn { from: "b".into(), to: "bb".into() }).unwrap();
        assert_eq!(renamed.clustering[0].column, "bb");
        let renamed = apply(&d, &Change::RenameColumn { from: "c".into(), to: "cc".into() }).unwrap();
        assert_eq!(renamed.indexes[0].column, "cc");
        assert!(matches!(
            apply(&d, &Change::RenameColumn { from: "a".into(), to: "b".into() }),
            Err(Refusal::Exists(_))
        ));
        assert!(matches!(
            apply(&d, &Change::CreateIndex(IndexDef { name: "c_idx".into(), column: "b".into() })),
            Err(Refusal::Exists(_))
        ));
        assert!(apply(&d, &Change::DropIndex("c_idx".into())).unwrap().indexes.is_empty());
    }
}
