//! The data model shared by the API layer and every store: identifiers,
//! column types, table definitions and tenant-scoped namespaces.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// Checks a keyspace, table or column name: the Cassandra rules (a letter,
/// then letters, digits or `_`, at most 48 characters). Because identifiers
/// end up in statement text, this check is what keeps them safe there.
pub fn check_ident(kind: &str, name: &str) -> Result<(), String> {
    let mut bytes = name.bytes();
    let ok = matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.len() <= 48;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid {kind} name '{name}': use a letter followed by letters, digits or '_', at most 48 characters"
        ))
    }
}

/// The collection each keyspace keeps for the Data API's collection options
/// (`vector`, `indexing`, `defaultId`), keyed by collection name: written and
/// read only by the Data API's store adapter, never by a client.
pub const OPTIONS_COLLECTION: &str = "datagate_collection_options";

/// Checks a document collection name a client gave: an identifier
/// ([`check_ident`]) that is not [`OPTIONS_COLLECTION`] (a client that could
/// address it could rewrite another collection's options: turn a vector
/// collection into a plain one, or change its dimension under its vectors).
pub fn check_collection(name: &str) -> Result<(), String> {
    check_ident("collection", name)?;
    if name == OPTIONS_COLLECTION {
        return Err(format!("collection name '{name}' is reserved by Datagate (it holds the collections' options)"));
    }
    Ok(())
}

/// Column names the stores keep for themselves, refused in any letter case so
/// that both stores give the same answer: PostgreSQL's system columns (a user
/// column of that name fails with 42701) and SQLite's rowid aliases.
pub const RESERVED_COLUMNS: [&str; 9] = ["xmin", "xmax", "cmin", "cmax", "ctid", "tableoid", "oid", "rowid", "_rowid_"];

/// Most columns a table may have: below both stores' own limits (SQLite 2000,
/// PostgreSQL 1600 including dropped columns), so the API refuses first.
pub const MAX_COLUMNS: usize = 1000;

/// Checks a column name: an identifier ([`check_ident`]) that is not one of
/// the [`RESERVED_COLUMNS`].
pub fn check_column(name: &str) -> Result<(), String> {
    check_ident("column", name)?;
    if RESERVED_COLUMNS.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(format!(
            "column name '{name}' is reserved by the store (reserved in any case: {})",
            RESERVED_COLUMNS.join(", ")
        ));
    }
    Ok(())
}

/// A column type in the Cassandra vocabulary the API speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// UTF-8 text (`text`, `varchar`).
    Text,
    /// ASCII-only text.
    Ascii,
    /// `boolean`.
    Boolean,
    /// 8-bit integer.
    Tinyint,
    /// 16-bit integer.
    Smallint,
    /// 32-bit integer.
    Int,
    /// 64-bit integer.
    Bigint,
    /// 32-bit float.
    Float,
    /// 64-bit float.
    Double,
    /// `uuid`.
    Uuid,
    /// `timeuuid` (a version-1 uuid).
    Timeuuid,
    /// Millisecond-precision instant.
    Timestamp,
    /// Calendar date, `YYYY-MM-DD`.
    Date,
    /// Time of day, microsecond precision.
    Time,
    /// Bytes, base64 in JSON.
    Blob,
    /// IPv4 or IPv6 address.
    Inet,
    /// A 64-bit counter: writes add to it (Cassandra counter semantics).
    Counter,
    /// Exact decimal, any precision; a JSON string so no digit is lost.
    Decimal,
    /// Integer of any size; a JSON string.
    Varint,
}

impl ColumnType {
    /// Parses a `typeDefinition`.
    pub fn parse(text: &str) -> Result<ColumnType, String> {
        Ok(match text.trim().to_ascii_lowercase().as_str() {
            "text" | "varchar" => ColumnType::Text,
            "ascii" => ColumnType::Ascii,
            "boolean" => ColumnType::Boolean,
            "tinyint" => ColumnType::Tinyint,
            "smallint" => ColumnType::Smallint,
            "int" => ColumnType::Int,
            "bigint" => ColumnType::Bigint,
            "float" => ColumnType::Float,
            "double" => ColumnType::Double,
            "uuid" => ColumnType::Uuid,
            "timeuuid" => ColumnType::Timeuuid,
            "timestamp" => ColumnType::Timestamp,
            "date" => ColumnType::Date,
            "time" => ColumnType::Time,
            "blob" => ColumnType::Blob,
            "inet" => ColumnType::Inet,
            "counter" => ColumnType::Counter,
            "decimal" => ColumnType::Decimal,
            "varint" => ColumnType::Varint,
            other => {
                return Err(format!(
                    "unsupported typeDefinition '{other}': supported are text, varchar, ascii, boolean, tinyint, \
                     smallint, int, bigint, varint, float, double, decimal, uuid, timeuuid, timestamp, date, time, blob, inet, counter, and list/set/map of those"
                ))
            }
        })
    }

    /// The name used in API output.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::Ascii => "ascii",
            ColumnType::Boolean => "boolean",
            ColumnType::Tinyint => "tinyint",
            ColumnType::Smallint => "smallint",
            ColumnType::Int => "int",
            ColumnType::Bigint => "bigint",
            ColumnType::Float => "float",
            ColumnType::Double => "double",
            ColumnType::Uuid => "uuid",
            ColumnType::Timeuuid => "timeuuid",
            ColumnType::Timestamp => "timestamp",
            ColumnType::Date => "date",
            ColumnType::Time => "time",
            ColumnType::Blob => "blob",
            ColumnType::Inet => "inet",
            ColumnType::Counter => "counter",
            ColumnType::Decimal => "decimal",
            ColumnType::Varint => "varint",
        }
    }
}

/// A column's type: a scalar or a (non-nested) collection of scalars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// One scalar value.
    Scalar(ColumnType),
    /// `list<T>`: ordered, duplicates allowed.
    List(ColumnType),
    /// `set<T>`: unique values, kept sorted.
    Set(ColumnType),
    /// `map<K,V>`.
    Map(ColumnType, ColumnType),
}

impl DataType {
    /// Parses a `typeDefinition` such as `int`, `list<text>` or `map<text, int>`.
    pub fn parse(text: &str) -> Result<DataType, String> {
        let t = text.trim().to_ascii_lowercase();
        let inner = |prefix: &str| t.strip_prefix(prefix).and_then(|r| r.strip_suffix('>')).map(str::trim);
        let scalar = |s: &str| -> Result<ColumnType, String> {
            if s.contains('<') {
                return Err(format!("unsupported typeDefinition '{text}': collections cannot nest"));
            }
            match ColumnType::parse(s)? {
                ColumnType::Counter => {
                    Err(format!("unsupported typeDefinition '{text}': counters cannot be in collections"))
                }
                t => Ok(t),
            }
        };
        if let Some(e) = inner("list<") {
            return Ok(DataType::List(scalar(e)?));
        }
        if let Some(e) = inner("set<") {
            return Ok(DataType::Set(scalar(e)?));
        }
        if let Some(kv) = inner("map<") {
            let (k, v) = kv.split_once(',').ok_or_else(|| format!("'{text}': a map needs map<key, value>"))?;
            return Ok(DataType::Map(scalar(k.trim())?, scalar(v.trim())?));
        }
        if t.starts_with("frozen<") || t.starts_with("tuple<") {
            return Err(format!("unsupported typeDefinition '{text}' (not available yet)"));
        }
        ColumnType::parse(&t).map(DataType::Scalar)
    }

    /// The scalar type, when this is not a collection.
    pub fn scalar(self) -> Option<ColumnType> {
        match self {
            DataType::Scalar(t) => Some(t),
            _ => None,
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::Scalar(t) => write!(f, "{t}"),
            DataType::List(t) => write!(f, "list<{t}>"),
            DataType::Set(t) => write!(f, "set<{t}>"),
            DataType::Map(k, v) => write!(f, "map<{k}, {v}>"),
        }
    }
}

// Stored as its typeDefinition text: definitions written before collections
// existed ("text", "int", ...) read back unchanged.
impl Serialize for DataType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for DataType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<DataType, D::Error> {
        let text = String::deserialize(d)?;
        DataType::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Clustering order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Order {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDef {
    /// Column name (validated).
    pub name: String,
    /// Column type.
    #[serde(rename = "type")]
    pub ty: DataType,
}

/// One clustering column with its order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clustering {
    /// Column name.
    pub column: String,
    /// Sort order within a partition.
    pub order: Order,
}

/// A table: the Cassandra model of partition and clustering keys. Stores keep
/// this definition next to the physical table, in the same transaction as its DDL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableDef {
    /// Table name (validated).
    pub name: String,
    /// Columns in declaration order.
    pub columns: Vec<ColumnDef>,
    /// Partition key column names.
    pub partition_key: Vec<String>,
    /// Clustering columns in order.
    pub clustering: Vec<Clustering>,
    /// Whether the table has the hidden expiry column (every table created
    /// since TTL support; older ones refuse `ttl`).
    #[serde(default)]
    pub expiry: bool,
    /// TTL in seconds for writes that give none (`tableOptions.defaultTimeToLive`).
    #[serde(default)]
    pub default_ttl: Option<u32>,
    /// Secondary indexes.
    #[serde(default)]
    pub indexes: Vec<IndexDef>,
    /// Whether its index names carry `#` (every table created since names
    /// were made collision-proof); older tables keep their `ix_` names.
    #[serde(default)]
    pub index_names_v2: bool,
    /// Changes with every DDL on the table. Statement text carries it, so a
    /// prepared statement made for an older shape of the table is never reused.
    #[serde(default)]
    pub version: String,
}

/// A fresh table version.
pub fn new_version() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// A secondary index on one column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexDef {
    /// Index name (validated), unique within the table.
    pub name: String,
    /// Indexed column.
    pub column: String,
}

/// The rule that a table with counters holds nothing else besides its key.
pub const COUNTERS_ALONE: &str = "a table with counters holds only counters besides its primary key (Cassandra rule)";
/// The rule that counters do not expire.
pub const COUNTERS_NO_TTL: &str = "counter tables cannot have a defaultTimeToLive";

/// The hidden column holding a row's expiry (Unix ms, NULL: never). Client
/// column names must start with a letter, so none can collide with it.
pub const EXPIRY_COLUMN: &str = "__expires_at";

impl TableDef {
    /// Looks a column up by name.
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Primary-key columns with their read order: partition key (ascending),
    /// then clustering columns with their declared order.
    pub fn key_order(&self) -> Vec<(&ColumnDef, Order)> {
        let partition = self.partition_key.iter().map(|n| (n.as_str(), Order::Asc));
        let clustering = self.clustering.iter().map(|c| (c.column.as_str(), c.order));
        partition.chain(clustering).filter_map(|(n, o)| self.column(n).map(|c| (c, o))).collect()
    }

    /// Whether this is a counter table (its non-key columns are all counters).
    pub fn is_counter_table(&self) -> bool {
        self.columns.iter().any(|c| c.ty == DataType::Scalar(ColumnType::Counter))
    }

    /// Whether `name` is part of the primary key.
    pub fn is_key(&self, name: &str) -> bool {
        self.partition_key.iter().any(|p| p == name) || self.clustering.iter().any(|c| c.column == name)
    }
}

/// A table definition for tests: scalar columns, keys, clustering order.
#[cfg(test)]
pub fn test_table(
    name: &str,
    columns: &[(&str, ColumnType)],
    partition: &[&str],
    clustering: &[(&str, Order)],
) -> TableDef {
    TableDef {
        name: name.into(),
        columns: columns.iter().map(|(n, t)| ColumnDef { name: (*n).into(), ty: DataType::Scalar(*t) }).collect(),
        partition_key: partition.iter().map(|p| (*p).into()).collect(),
        clustering: clustering.iter().map(|(c, o)| Clustering { column: (*c).into(), order: *o }).collect(),
        expiry: true,
        default_ttl: None,
        indexes: Vec::new(),
        index_names_v2: true,
        version: String::new(),
    }
}

/// A tenant's keyspace: the unit of physical separation in every store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Namespace {
    /// Tenant id from the edge filter.
    pub tenant: String,
    /// Keyspace name as the tenant sees it (validated).
    pub keyspace: String,
}

impl Namespace {
    /// The physical name (a PostgreSQL schema, an SQLite table prefix). It is a
    /// hash so that any tenant id maps to a short, safe identifier, and so that
    /// no name a client can choose reaches another tenant's data.
    pub fn physical(&self) -> String {
        // Asked for by every statement (a SHA-256 each: 5 % of a GET's sidecar
        // instructions), by few namespaces at a time: each thread remembers its
        // last few, compared in full (no hash of ours decides whose name it is).
        thread_local! {
            static RECENT: std::cell::RefCell<Vec<(Namespace, String)>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        RECENT
            .try_with(|recent| {
                let Ok(mut recent) = recent.try_borrow_mut() else { return self.physical_uncached() };
                if let Some((_, p)) = recent.iter().find(|(ns, _)| ns == self) {
                    return p.clone();
                }
                let p = self.physical_uncached();
                if recent.len() >= RECENT_NAMESPACES {
                    recent.remove(0);
                }
                recent.push((self.clone(), p.clone()));
                p
            })
            .unwrap_or_else(|_| self.physical_uncached())
    }

    fn physical_uncached(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.tenant.as_bytes());
        h.update([0u8]);
        h.update(self.keyspace.as_bytes());
        let digest = h.finalize();
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(23);
        out.push_str("dg_");
        for b in digest.iter().take(10) {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
        out
    }
}

/// Namespaces whose physical names each thread remembers ([`Namespace::physical`]).
const RECENT_NAMESPACES: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn physical_names_are_remembered_exactly() {
        let ns = |t: &str, k: &str| Namespace { tenant: t.into(), keyspace: k.into() };
        // Many more namespaces than a thread remembers, each asked for twice.
        for i in 0..3 * RECENT_NAMESPACES {
            for _ in 0..2 {
                let a = ns(&format!("t{i}"), "ks");
                assert_eq!(a.physical(), a.physical_uncached());
            }
        }
        // Names that would collide if joined without the separator stay apart.
        assert_ne!(ns("ab", "c").physical(), ns("a", "bc").physical());
        assert_eq!(ns("acme", "blog").physical(), ns("acme", "blog").physical_uncached());
    }

    #[test]
    fn identifiers() {
        assert!(check_ident("table", "vehicle_2").is_ok());
        for bad in ["", "2x", "a-b", "a\"b", "a b", "é", &"a".repeat(49)] {
            assert!(check_ident("table", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn system_column_names_are_reserved() {
        for name in ["xmin", "XMAX", "cMin", "cmax", "ctid", "tableoid", "oid", "RowId"] {
            let e = check_column(name).unwrap_err();
            assert!(e.contains(name) && e.contains("reserved"), "{e}");
        }
        assert!(check_column("xmin_at").is_ok());
        assert!(check_column("2x").is_err());
    }

    #[test]
    fn namespaces_separate_tenants() {
        let a = Namespace { tenant: "acme".into(), keyspace: "blog".into() };
        let b = Namespace { tenant: "globex".into(), keyspace: "blog".into() };
        assert_ne!(a.physical(), b.physical());
        // No concatenation ambiguity: ("a", "bc") and ("ab", "c") differ.
        let c = Namespace { tenant: "a".into(), keyspace: "bc".into() };
        let d = Namespace { tenant: "ab".into(), keyspace: "c".into() };
        assert_ne!(c.physical(), d.physical());
        assert!(check_ident("schema", &a.physical()).is_ok());
        // Stored data lives under these names: they never change.
        let bench = Namespace { tenant: "bench".into(), keyspace: "bench".into() };
        assert_eq!(bench.physical(), "dg_91535879897014483606", "dg_ + hex of sha256(tenant NUL keyspace)[..10]");
    }

    #[test]
    fn types_parse_case_insensitively() {
        assert_eq!(ColumnType::parse("VARCHAR").unwrap(), ColumnType::Text);
        assert!(ColumnType::parse("list<text>").unwrap_err().contains("unsupported"));
    }
}
