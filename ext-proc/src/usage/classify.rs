//! Which API and operation a request is, for its usage record. REST, Documents
//! and schema requests take both from the route. GraphQL and the Data API run
//! any mix of operations in one request: theirs comes from what was counted,
//! in this order: any DDL → `ddl`; any deletion → `delete`; any row or
//! document written (or a write call) → `write`; only searches/reads → `read`.

use crate::router::Route;
use crate::scope::Counts;

/// The API a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// REST rows (`/v2/keyspaces/...`).
    Rest,
    /// Documents (`/v2/namespaces/...`).
    Documents,
    /// GraphQL (`/graphql/...`, `/graphql-schema`).
    Graphql,
    /// Schema REST (`/v2/schemas/...`).
    Schema,
    /// The JSON Data API (`/v1/...`).
    DataApi,
}

impl Api {
    /// The name in records, the table and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Api::Rest => "rest",
            Api::Documents => "documents",
            Api::Graphql => "graphql",
            Api::Schema => "schema",
            Api::DataApi => "dataapi",
        }
    }
}

/// The operation a request performed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Reads (rows by key or query, one document, schema reads).
    Read,
    /// Inserts, updates, document writes and functions.
    Write,
    /// Deletes of rows or documents.
    Delete,
    /// Keyspace, table, column, index, collection and JSON-schema changes.
    Ddl,
    /// Document searches.
    Search,
}

impl Operation {
    /// The name in records, the table and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Write => "write",
            Operation::Delete => "delete",
            Operation::Ddl => "ddl",
            Operation::Search => "search",
        }
    }

    /// The operation of a GraphQL or Data API request, from what it did.
    pub fn from_counts(c: &Counts) -> Operation {
        if c.ddl_calls > 0 {
            Operation::Ddl
        } else if c.rows_deleted + c.docs_deleted > 0 {
            Operation::Delete
        } else if c.write_calls > 0 {
            Operation::Write
        } else {
            Operation::Read
        }
    }
}

/// A metered request's class: its API, its operation when the route says it
/// (`None`: decided from the counts), its keyspace and table or collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    /// API.
    pub api: Api,
    /// Operation, when the route decides it.
    pub operation: Option<Operation>,
    /// Keyspace or namespace, when the path names one.
    pub keyspace: Option<String>,
    /// Table or collection, when the path names one.
    pub table: Option<String>,
}

/// The class of a routed request; `None` for what is not metered (health,
/// OpenAPI, the playground).
pub fn classify(route: &Route) -> Option<Class> {
    use Api::*;
    use Operation::*;
    let c = |api, op: Option<Operation>, ks: Option<&String>, t: Option<&String>| {
        Some(Class { api, operation: op, keyspace: ks.cloned(), table: t.cloned() })
    };
    match route {
        Route::Health | Route::OpenApi | Route::Playground | Route::PlaygroundAsset(_) => None,
        Route::ListKeyspaces | Route::ListNamespaces => c(Schema, Some(Read), None, None),
        Route::CreateKeyspace | Route::CreateNamespace => c(Schema, Some(Ddl), None, None),
        Route::GetKeyspace(k) | Route::GetNamespace(k) | Route::ListTables(k) => c(Schema, Some(Read), Some(k), None),
        Route::DropKeyspace(k) | Route::DropNamespace(k) | Route::CreateTable(k) => c(Schema, Some(Ddl), Some(k), None),
        Route::GetTable(k, t) | Route::ListColumns(k, t) | Route::ListIndexes(k, t) | Route::GetColumn(k, t, _) => {
            c(Schema, Some(Read), Some(k), Some(t))
        }
        Route::DropTable(k, t)
        | Route::AlterTable(k, t)
        | Route::AddColumn(k, t)
        | Route::RenameColumn(k, t, _)
        | Route::DropColumn(k, t, _)
        | Route::CreateIndex(k, t)
        | Route::DropIndex(k, t, _) => c(Schema, Some(Ddl), Some(k), Some(t)),
        Route::QueryRows(k, t) | Route::AllRows(k, t) | Route::GetRows(k, t, _) => {
            c(Rest, Some(Read), Some(k), Some(t))
        }
        Route::InsertRow(k, t) | Route::BatchInsert(k, t) | Route::UpdateRow(k, t, _) => {
            c(Rest, Some(Write), Some(k), Some(t))
        }
        Route::DeleteRows(k, t, _) => c(Rest, Some(Delete), Some(k), Some(t)),
        Route::ListCollections(k) => c(Documents, Some(Read), Some(k), None),
        Route::CreateCollection(k) => c(Documents, Some(Ddl), Some(k), None),
        Route::DropCollection(k, t) | Route::PutJsonSchema(k, t) | Route::PutDocIndexes(k, t) => {
            c(Documents, Some(Ddl), Some(k), Some(t))
        }
        Route::GetJsonSchema(k, t) | Route::GetDocIndexes(k, t) => c(Documents, Some(Read), Some(k), Some(t)),
        Route::SearchDocs(k, t) => c(Documents, Some(Search), Some(k), Some(t)),
        Route::CreateDoc(k, t) | Route::BatchDocs(k, t) => c(Documents, Some(Write), Some(k), Some(t)),
        Route::GetDoc(d) => c(Documents, Some(Read), Some(&d.ns), Some(&d.coll)),
        Route::PutDoc(d) | Route::PatchDoc(d) | Route::DocFunction(d) => {
            c(Documents, Some(Write), Some(&d.ns), Some(&d.coll))
        }
        Route::DeleteDoc(d) => c(Documents, Some(Delete), Some(&d.ns), Some(&d.coll)),
        Route::GraphqlData(k) => c(Graphql, None, Some(k), None),
        Route::GraphqlSchema => c(Graphql, None, None, None),
        Route::DataApi(target) => {
            let (ks, coll) = match target {
                crate::dataapi::Target::Database => (None, None),
                crate::dataapi::Target::Keyspace(k) => (Some(k), None),
                crate::dataapi::Target::Collection(k, c) => (Some(k), Some(c)),
            };
            c(DataApi, None, ks, coll)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn class(method: &str, path: &str) -> Option<Class> {
        let segs: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        classify(&crate::router::route(method, &segs).unwrap())
    }

    #[test]
    fn routes_decide_rest_documents_and_schema() {
        let c = class("GET", "/v2/keyspaces/ks/t/1").unwrap();
        assert_eq!((c.api, c.operation), (Api::Rest, Some(Operation::Read)));
        assert_eq!((c.keyspace.as_deref(), c.table.as_deref()), (Some("ks"), Some("t")));
        assert_eq!(class("DELETE", "/v2/keyspaces/ks/t/1").unwrap().operation, Some(Operation::Delete));
        assert_eq!(class("GET", "/v2/namespaces/n/collections/c").unwrap().operation, Some(Operation::Search));
        let c = class("POST", "/v2/schemas/keyspaces/ks/tables").unwrap();
        assert_eq!((c.api, c.operation), (Api::Schema, Some(Operation::Ddl)));
        assert_eq!(class("POST", "/v1/ks/c").unwrap().operation, None, "from the counts");
        assert!(class("GET", "/health").is_none());
    }

    #[test]
    fn graphql_and_data_api_take_the_operation_from_the_counts() {
        let c = |f: fn(&mut Counts)| {
            let mut x = Counts::default();
            f(&mut x);
            Operation::from_counts(&x)
        };
        assert_eq!(c(|x| x.read_calls = 2), Operation::Read);
        assert_eq!(c(|x| x.write_calls = 1), Operation::Write);
        assert_eq!(
            c(|x| {
                x.write_calls = 1;
                x.docs_deleted = 1
            }),
            Operation::Delete
        );
        assert_eq!(c(|x| x.ddl_calls = 1), Operation::Ddl);
    }
}
