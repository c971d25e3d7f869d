//! SQL text shared by the SQL stores. Each store supplies a [`Dialect`]
//! (placeholders, physical names, column types, JSON expressions); the
//! statement shapes are the same, which is why they live here (rows) and in
//! [`super::docsql`] (documents) once, and are tested once per dialect.

use crate::change::Change;
use crate::doc::filter::{Comparison, Filter};
use crate::doc::path::Segment;
use crate::model::{ColumnType, DataType, Namespace, Order, TableDef, EXPIRY_COLUMN};
use crate::plan::{Op, Upsert, WriteIf};
use crate::value::Value;
use serde_json::Value as Json;
use std::fmt::Write;

/// What differs between SQL stores: the one name for the SQLite/PostgreSQL
/// choice. Implemented by `SqliteDialect` and `PgDialect`.
pub trait Dialect {
    /// Which store's SQL this is (`"postgres"`, `"sqlite"`): statement text
    /// remembered for one is never used for the other (`super::shapes`).
    fn name(&self) -> &'static str;

    // ---- Rows and DDL (this file's statements) ----

    /// The `n`th (1-based) bound-parameter placeholder.
    fn param(&self, n: usize) -> String;
    /// [`Dialect::param`] appended to `out` (statements are built per request).
    fn param_into(&self, out: &mut String, n: usize) {
        out.push_str(&self.param(n));
    }
    /// The quoted physical name of a tenant's table.
    fn table(&self, ns: &Namespace, table: &str) -> String;
    /// The quoted physical name of a client column.
    fn column(&self, name: &str) -> String {
        quote(name)
    }
    /// [`Dialect::column`] appended to `out`.
    fn column_into(&self, out: &mut String, name: &str) {
        out.push_str(&self.column(name));
    }
    /// The column type used to store a value of `ty`.
    fn column_type(&self, ty: ColumnType) -> &'static str;
    /// The column type holding a collection (its canonical JSON).
    fn collection_type(&self) -> &'static str;
    /// A `$contains`/`$containsKey`/`$containsEntry` condition on collection
    /// column `col` of type `ty`; `bind` binds a value and returns its placeholder.
    fn collection_condition(
        &self,
        col: &str,
        ty: DataType,
        op: Op,
        values: &[Value],
        bind: &mut dyn FnMut(Value) -> String,
    ) -> String;
    /// Text appended after the column list of `CREATE TABLE`.
    fn table_suffix(&self) -> &'static str {
        ""
    }
    /// The 64-bit integer type (the expiry column).
    fn bigint(&self) -> &'static str;
    /// `INSERT INTO` target and how `ON CONFLICT DO UPDATE` names the existing row.
    fn upsert_target(&self, ns: &Namespace, table: &str) -> (String, String);
    /// The name `CREATE INDEX` gives an index, and the one `DROP INDEX` names it by.
    fn index_names(&self, ns: &Namespace, def: &TableDef, index: &str) -> (String, String);
    /// The quoted name of a table's primary-key constraint, where the store
    /// would otherwise derive one that a client's table name can take.
    fn primary_key_name(&self, _table: &str) -> Option<String> {
        None
    }

    // ---- Documents ([`super::docsql`]) ----
    // A collection is a table `(id, doc, expires_at)`; the search statement's
    // shape is shared, these are the JSON expressions and bindings that differ.

    /// The placeholder for the `n`th (1-based) parameter `p` of a document
    /// statement, with any cast the store needs to know its type.
    fn doc_param(&self, n: usize, _p: &Param) -> String {
        self.param(n)
    }
    /// A condition that the value at `path` of `doc` satisfies `op`; two-valued
    /// (false, never NULL, where the path is missing); a wildcard step matches
    /// when any element does.
    fn doc_condition(&self, b: &mut Binder<'_>, path: &[Segment], op: &Comparison) -> Result<String, Untranslatable>;
    /// The (type rank, value) expressions that sort by the value at `path`:
    /// numbers, then strings, booleans, arrays, objects, and last null or missing.
    fn doc_sort_key(&self, b: &mut Binder<'_>, path: &[Segment]) -> Result<(String, String), Untranslatable>;
    /// A cursor's sort value as the parameter [`Dialect::doc_sort_key`]'s value
    /// compares with; `None` where no sort value of this store looks like it.
    fn doc_cursor_value(&self, v: &Json) -> Option<Param>;
    /// The expression an index on `path` (plain [`super::docsql::indexable_key`]
    /// keys) is built on, spelled the way a search compares it so the planner
    /// matches the two; `None` for any other path.
    fn doc_index_expr(&self, path: &[Segment]) -> Option<String>;
    /// An index probe `x sym v`, `v` a number or a string.
    fn doc_probe(&self, b: &mut Binder<'_>, x: &str, sym: &str, v: &Json) -> String;
    /// An index probe: `x` is one of `vs` (numbers and strings).
    fn doc_probe_in(&self, b: &mut Binder<'_>, x: &str, vs: &[Json]) -> String;
    /// An index probe for an [`super::docsql::element_or_value`] term: the
    /// value at `path` is one of `vs` or an array holding one. `None` where
    /// the store narrows such a term another way (or not at all).
    fn doc_probe_any(&self, _b: &mut Binder<'_>, _path: &[Segment], _vs: &[Json]) -> Option<String> {
        None
    }
    /// What a search filtered by `filter` reads from: the collection's `table`,
    /// or a subquery over it where the store finds candidates faster that way.
    fn doc_candidates(&self, _b: &mut Binder<'_>, table: &str, _filter: &Filter) -> String {
        table.to_owned()
    }
}

/// A bound parameter of a document statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// Text.
    Text(String),
    /// 64-bit integer.
    Int(i64),
    /// Double.
    Real(f64),
    /// A JSON value (`jsonb` on PostgreSQL).
    Json(Json),
    /// A `#>` path (`text[]` on PostgreSQL).
    Path(Vec<String>),
    /// A list of JSON values (`jsonb[]`).
    JsonList(Vec<Json>),
}

/// A document translation failure the client caused (the store reports it as a 400).
#[derive(Debug, Clone, PartialEq)]
pub struct Untranslatable(pub String);

/// Numbers a document statement's parameters (from 1, in order) and the
/// aliases it generates.
pub struct Binder<'d> {
    dialect: &'d dyn Dialect,
    params: Vec<Param>,
    aliases: usize,
}

impl<'d> Binder<'d> {
    /// An empty statement for `dialect`.
    pub fn new(dialect: &'d dyn Dialect) -> Binder<'d> {
        Binder { dialect, params: Vec::new(), aliases: 0 }
    }

    /// Binds `p`; returns its placeholder.
    pub fn bind(&mut self, p: Param) -> String {
        let placeholder = self.dialect.doc_param(self.params.len() + 1, &p);
        self.params.push(p);
        placeholder
    }

    /// A fresh table alias.
    pub fn alias(&mut self) -> String {
        self.aliases += 1;
        format!("w{}", self.aliases)
    }

    /// Binds a JSON number: an integer where it is one.
    pub fn number(&mut self, v: &Json) -> String {
        match v.as_i64() {
            Some(i) => self.bind(Param::Int(i)),
            None => self.bind(Param::Real(v.as_f64().unwrap_or(f64::NAN))),
        }
    }

    /// The parameters bound, in placeholder order.
    pub fn into_params(self) -> Vec<Param> {
        self.params
    }
}

/// The DDL for a schema change (`def` is the definition before it).
pub fn alter(d: &dyn Dialect, ns: &Namespace, def: &TableDef, change: &Change) -> Vec<String> {
    let table = d.table(ns, &def.name);
    match change {
        Change::AddColumn(c) => {
            vec![format!("ALTER TABLE {table} ADD COLUMN {} {}", d.column(&c.name), sql_type(d, c.ty))]
        }
        Change::DropColumn(name) => {
            // Drop the column's indexes first: some stores refuse to drop an indexed column.
            let mut out: Vec<String> = def
                .indexes
                .iter()
                .filter(|i| i.column == *name)
                .map(|i| format!("DROP INDEX IF EXISTS {}", d.index_names(ns, def, &i.name).1))
                .collect();
            out.push(format!("ALTER TABLE {table} DROP COLUMN {}", d.column(name)));
            out
        }
        Change::RenameColumn { from, to } => {
            vec![format!("ALTER TABLE {table} RENAME COLUMN {} TO {}", d.column(from), d.column(to))]
        }
        Change::CreateIndex(i) => {
            vec![format!("CREATE INDEX {} ON {table} ({})", d.index_names(ns, def, &i.name).0, d.column(&i.column))]
        }
        Change::DropIndex(name) => vec![format!("DROP INDEX IF EXISTS {}", d.index_names(ns, def, name).1)],
        // Only the stored definition changes.
        Change::SetDefaultTtl(_) => Vec::new(),
    }
}

/// SQL text with the values to bind to it, in placeholder order.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Statement text.
    pub sql: String,
    /// Bound parameters.
    pub params: Vec<Value>,
}

/// The store type of a column.
fn sql_type(d: &dyn Dialect, ty: DataType) -> &'static str {
    match ty {
        DataType::Scalar(t) => d.column_type(t),
        _ => d.collection_type(),
    }
}

/// A map key as it is stored: JSON object keys are the key's canonical text.
pub fn map_key_text(v: &Value) -> String {
    match v.to_json() {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

/// Statement text starts with the table version (see [`TableDef::version`]).
pub(super) fn tag(def: &TableDef) -> String {
    if def.version.is_empty() {
        String::new()
    } else {
        format!("/* {} */ ", def.version)
    }
}

/// A short, fixed-length index identifier: PostgreSQL truncates names past 63
/// bytes (two 48-character names would collide), SQLite's are file-global.
/// Index names share a namespace with tables, so they carry a `#`, which no
/// table name holds (tables made before that keep their `ix_` spelling).
pub fn index_ident(prefix: &str, def: &TableDef, index: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{}\0{index}", def.name).as_bytes());
    let hex: String = digest.iter().take(10).map(|b| format!("{b:02x}")).collect();
    let sep = if def.index_names_v2 { '#' } else { '_' };
    quote(&format!("{prefix}ix{sep}{hex}"))
}

/// Quotes an identifier. Names are validated before they get here; doubling
/// quotes anyway means a bug upstream can never become an injection.
pub fn quote(ident: &str) -> String {
    let mut out = String::with_capacity(ident.len() + 2);
    quote_into(&mut out, ident);
    out
}

/// [`quote`] appended to `out` (statement text is built on every request:
/// no allocation per identifier).
pub fn quote_into(out: &mut String, ident: &str) {
    out.push('"');
    if ident.contains('"') {
        out.push_str(&ident.replace('"', "\"\""));
    } else {
        out.push_str(ident);
    }
    out.push('"');
}

/// `CREATE TABLE` (and the index serving a mixed clustering order).
pub fn create_table(d: &dyn Dialect, ns: &Namespace, def: &TableDef) -> Vec<String> {
    let name = d.table(ns, &def.name);
    let mut sql = format!("CREATE TABLE {name} (");
    for c in &def.columns {
        let not_null = if def.is_key(&c.name) { " NOT NULL" } else { "" };
        let _ = write!(sql, "{} {}{not_null}, ", d.column(&c.name), sql_type(d, c.ty));
    }
    if def.expiry {
        let _ = write!(sql, "{} {}, ", quote(EXPIRY_COLUMN), d.bigint());
    }
    let key: Vec<String> = def.key_order().iter().map(|(c, _)| d.column(&c.name)).collect();
    if let Some(name) = d.primary_key_name(&def.name) {
        let _ = write!(sql, "CONSTRAINT {name} ");
    }
    let _ = write!(sql, "PRIMARY KEY ({})){}", key.join(", "), d.table_suffix());
    let mut out = vec![sql];
    if def.clustering.iter().any(|c| c.order == Order::Desc) {
        // The primary-key index is ascending; reads in clustering order want this one.
        let cols: Vec<String> =
            def.key_order().iter().map(|(c, o)| format!("{} {}", d.column(&c.name), dir(*o))).collect();
        // `_`-prefixed names cannot collide with client index names (which start with a letter).
        let index = d.index_names(ns, def, "_read_order").0;
        out.push(format!("CREATE INDEX {index} ON {name} ({})", cols.join(", ")));
    }
    if def.expiry {
        // Lets the sweeper find expired rows without scanning the table.
        let index = d.index_names(ns, def, "_expiry").0;
        let col = quote(EXPIRY_COLUMN);
        out.push(format!("CREATE INDEX {index} ON {name} ({col}) WHERE {col} IS NOT NULL"));
    }
    out
}

/// Deletes a table's rows whose expiry has passed (the background sweeper).
pub fn sweep(d: &dyn Dialect, ns: &Namespace, def: &TableDef, now_ms: i64) -> Option<Statement> {
    def.expiry.then(|| Statement {
        sql: format!("DELETE FROM {} WHERE {} <= {}", d.table(ns, &def.name), quote(EXPIRY_COLUMN), d.param(1)),
        params: vec![Value::Int(now_ms)],
    })
}

/// `INSERT ... ON CONFLICT DO UPDATE`: an upsert that leaves omitted columns
/// alone — unless the existing row has expired, in which case they are cleared,
/// so an expired row is never resurrected with stale values.
pub fn upsert(d: &dyn Dialect, ns: &Namespace, def: &TableDef, row: &Upsert) -> Statement {
    let built = || {
        let st = upsert_built(d, ns, def, row);
        (st.sql, st.params)
    };
    let (sql, params) = super::shapes::upsert(d.name(), ns, def, row, built);
    Statement { sql, params }
}

/// [`upsert`]'s statement, built from scratch.
pub(super) fn upsert_built(d: &dyn Dialect, ns: &Namespace, def: &TableDef, row: &Upsert) -> Statement {
    match row.condition {
        WriteIf::Always => {}
        WriteIf::Absent => return insert_if_absent(d, ns, def, row),
        WriteIf::Present => return update_if_present(d, ns, def, row),
    }
    insert_on_conflict(d, ns, def, row, |params, existing| {
        let counter = |c: &str| def.column(c).is_some_and(|c| c.ty == DataType::Scalar(ColumnType::Counter));
        let mut updates: Vec<String> = row
            .values
            .iter()
            .filter(|(c, _)| !def.is_key(c))
            .map(|(c, _)| {
                let col = d.column(c);
                // Counter writes are increments (the first one starts from zero).
                if counter(c) {
                    format!("{col} = COALESCE({existing}.{col}, 0) + excluded.{col}")
                } else {
                    format!("{col} = excluded.{col}")
                }
            })
            .collect();
        if def.expiry {
            let omitted: Vec<&str> = def
                .columns
                .iter()
                .map(|c| c.name.as_str())
                .filter(|n| !def.is_key(n) && !row.values.iter().any(|(given, _)| given == n))
                .collect();
            if !omitted.is_empty() {
                let now = bind(d, params, &Value::Int(row.now_ms));
                let expired = format!("{existing}.{} <= {now}", quote(EXPIRY_COLUMN));
                for col in omitted.iter().map(|n| d.column(n)) {
                    updates.push(format!("{col} = CASE WHEN {expired} THEN NULL ELSE {existing}.{col} END"));
                }
            }
            updates.push(format!("{0} = excluded.{0}", quote(EXPIRY_COLUMN)));
        }
        if updates.is_empty() {
            "NOTHING".to_owned()
        } else {
            format!("UPDATE SET {}", updates.join(", "))
        }
    })
}

/// `INSERT INTO t (columns, expiry) VALUES (...) ON CONFLICT (key) DO <action>`;
/// `action` may bind more parameters and names the existing row as its argument.
fn insert_on_conflict(
    d: &dyn Dialect,
    ns: &Namespace,
    def: &TableDef,
    row: &Upsert,
    action: impl FnOnce(&mut Vec<Value>, &str) -> String,
) -> Statement {
    let mut params: Vec<Value> = row.values.iter().map(|(_, v)| v.clone()).collect();
    let mut cols: Vec<String> = row.values.iter().map(|(c, _)| d.column(c)).collect();
    if def.expiry {
        cols.push(quote(EXPIRY_COLUMN));
        params.push(row.expires_ms.map_or(Value::Null, Value::Int));
    }
    let placeholders: Vec<String> = (1..=params.len()).map(|n| d.param(n)).collect();
    let key: Vec<String> = def.key_order().iter().map(|(c, _)| d.column(&c.name)).collect();
    let (target, existing) = d.upsert_target(ns, &def.name);
    let action = action(&mut params, &existing);
    Statement {
        sql: format!(
            "{}INSERT INTO {target} ({}) VALUES ({}) ON CONFLICT ({}) DO {action}",
            tag(def),
            cols.join(", "),
            placeholders.join(", "),
            key.join(", ")
        ),
        params,
    }
}

/// `IF NOT EXISTS`: inserts, or replaces only an expired row (which counts as
/// absent), in one statement; zero rows affected means it did not apply.
fn insert_if_absent(d: &dyn Dialect, ns: &Namespace, def: &TableDef, row: &Upsert) -> Statement {
    insert_on_conflict(d, ns, def, row, |params, existing| {
        if def.expiry {
            let now = bind(d, params, &Value::Int(row.now_ms));
            let sets: Vec<String> = def
                .columns
                .iter()
                .filter(|c| !def.is_key(&c.name))
                .map(|c| {
                    let col = d.column(&c.name);
                    if row.values.iter().any(|(given, _)| *given == c.name) {
                        format!("{col} = excluded.{col}")
                    } else {
                        format!("{col} = NULL")
                    }
                })
                .chain(std::iter::once(format!("{0} = excluded.{0}", quote(EXPIRY_COLUMN))))
                .collect();
            format!("UPDATE SET {} WHERE {existing}.{} <= {now}", sets.join(", "), quote(EXPIRY_COLUMN))
        } else {
            "NOTHING".to_owned()
        }
    })
}

/// `IF EXISTS`: changes the given columns of a live row with this key only.
fn update_if_present(d: &dyn Dialect, ns: &Namespace, def: &TableDef, row: &Upsert) -> Statement {
    let mut params = Vec::new();
    let mut sets: Vec<String> = row
        .values
        .iter()
        .filter(|(c, _)| !def.is_key(c))
        .map(|(c, v)| format!("{} = {}", d.column(c), bind(d, &mut params, v)))
        .collect();
    if def.expiry && row.expires_ms.is_some() {
        let exp = bind(d, &mut params, &row.expires_ms.map_or(Value::Null, Value::Int));
        sets.push(format!("{} = {exp}", quote(EXPIRY_COLUMN)));
    }
    if sets.is_empty() {
        // Nothing to change: still report whether the row is there.
        let k = def.key_order().first().map(|(c, _)| d.column(&c.name)).unwrap_or_default();
        sets.push(format!("{k} = {k}"));
    }
    let mut wheres: Vec<String> = row
        .values
        .iter()
        .filter(|(c, _)| def.is_key(c))
        .map(|(c, v)| format!("{} = {}", d.column(c), bind(d, &mut params, v)))
        .collect();
    if def.expiry {
        let now = bind(d, &mut params, &Value::Int(row.now_ms));
        wheres.push(format!("({0} IS NULL OR {0} > {now})", quote(EXPIRY_COLUMN)));
    }
    Statement {
        sql: format!(
            "{}UPDATE {} SET {} WHERE {}",
            tag(def),
            d.table(ns, &def.name),
            sets.join(", "),
            wheres.join(" AND ")
        ),
        params,
    }
}

pub(super) fn dir(o: Order) -> &'static str {
    match o {
        Order::Asc => "ASC",
        Order::Desc => "DESC",
    }
}

pub(super) fn bind(d: &dyn Dialect, params: &mut Vec<Value>, v: &Value) -> String {
    params.push(v.clone());
    d.param(params.len())
}
