//! Maps method and path to an operation. Pure: no I/O, no tenant.

use crate::dataapi::Target;
use crate::error::ApiError;

/// Every operation the API serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /health`.
    Health,
    /// `GET /v2/openapi.json`.
    OpenApi,
    /// `GET /v2/schemas/keyspaces`.
    ListKeyspaces,
    /// `POST /v2/schemas/keyspaces`.
    CreateKeyspace,
    /// `GET /v2/schemas/keyspaces/{ks}`.
    GetKeyspace(String),
    /// `DELETE /v2/schemas/keyspaces/{ks}`.
    DropKeyspace(String),
    /// `GET /v2/schemas/keyspaces/{ks}/tables`.
    ListTables(String),
    /// `POST /v2/schemas/keyspaces/{ks}/tables`.
    CreateTable(String),
    /// `GET /v2/schemas/keyspaces/{ks}/tables/{t}`.
    GetTable(String, String),
    /// `DELETE /v2/schemas/keyspaces/{ks}/tables/{t}`.
    DropTable(String, String),
    /// `PUT /v2/schemas/keyspaces/{ks}/tables/{t}` (table options).
    AlterTable(String, String),
    /// `GET .../tables/{t}/columns`.
    ListColumns(String, String),
    /// `POST .../tables/{t}/columns`.
    AddColumn(String, String),
    /// `GET .../tables/{t}/columns/{c}`.
    GetColumn(String, String, String),
    /// `PUT .../tables/{t}/columns/{c}` (rename).
    RenameColumn(String, String, String),
    /// `DELETE .../tables/{t}/columns/{c}`.
    DropColumn(String, String, String),
    /// `GET .../tables/{t}/indexes`.
    ListIndexes(String, String),
    /// `POST .../tables/{t}/indexes`.
    CreateIndex(String, String),
    /// `DELETE .../tables/{t}/indexes/{i}`.
    DropIndex(String, String, String),
    /// `GET /v2/keyspaces/{ks}/{t}?where=...`.
    QueryRows(String, String),
    /// `GET /v2/keyspaces/{ks}/{t}/rows`.
    AllRows(String, String),
    /// `POST /v2/keyspaces/{ks}/{t}`.
    InsertRow(String, String),
    /// `POST /v2/keyspaces/{ks}/{t}/batch`.
    BatchInsert(String, String),
    /// `GET /v2/keyspaces/{ks}/{t}/{pk...}`.
    GetRows(String, String, Vec<String>),
    /// `PUT`/`PATCH /v2/keyspaces/{ks}/{t}/{pk...}`.
    UpdateRow(String, String, Vec<String>),
    /// `DELETE /v2/keyspaces/{ks}/{t}/{pk...}`.
    DeleteRows(String, String, Vec<String>),
    /// `GET /v2/schemas/namespaces` (namespaces are keyspaces).
    ListNamespaces,
    /// `POST /v2/schemas/namespaces`.
    CreateNamespace,
    /// `GET /v2/schemas/namespaces/{ns}`.
    GetNamespace(String),
    /// `DELETE /v2/schemas/namespaces/{ns}`.
    DropNamespace(String),
    /// `GET /v2/namespaces/{ns}/collections`.
    ListCollections(String),
    /// `POST /v2/namespaces/{ns}/collections`.
    CreateCollection(String),
    /// `DELETE /v2/namespaces/{ns}/collections/{c}`.
    DropCollection(String, String),
    /// `GET /v2/namespaces/{ns}/collections/{c}/json-schema`.
    GetJsonSchema(String, String),
    /// `PUT /v2/namespaces/{ns}/collections/{c}/json-schema`.
    PutJsonSchema(String, String),
    /// `GET /v2/namespaces/{ns}/collections/{c}/indexes`.
    GetDocIndexes(String, String),
    /// `PUT /v2/namespaces/{ns}/collections/{c}/indexes`.
    PutDocIndexes(String, String),
    /// `GET /v2/namespaces/{ns}/collections/{c}` (search).
    SearchDocs(String, String),
    /// `POST /v2/namespaces/{ns}/collections/{c}`.
    CreateDoc(String, String),
    /// `POST /v2/namespaces/{ns}/collections/{c}/batch`.
    BatchDocs(String, String),
    /// `GET .../{c}/{id}[/{path...}]`.
    GetDoc(Doc),
    /// `PUT .../{c}/{id}[/{path...}]`.
    PutDoc(Doc),
    /// `PATCH .../{c}/{id}[/{path...}]`.
    PatchDoc(Doc),
    /// `DELETE .../{c}/{id}[/{path...}]`.
    DeleteDoc(Doc),
    /// `POST .../{c}/{id}[/{path...}]/function`.
    DocFunction(Doc),
    /// `GET`/`POST /graphql/{ks}`.
    GraphqlData(String),
    /// `GET`/`POST /graphql-schema`.
    GraphqlSchema,
    /// `GET /playground` (no credentials).
    Playground,
    /// `GET /playground/{asset}`: GraphiQL's scripts and styles (no credentials).
    PlaygroundAsset(String),
    /// `POST /v1[/{ks}[/{coll}]]`: one JSON Data API command.
    DataApi(crate::dataapi::Target),
}

/// A document (or a path inside one) named by a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doc {
    /// Namespace.
    pub ns: String,
    /// Collection.
    pub coll: String,
    /// Document id.
    pub id: String,
    /// Path segments below the document root.
    pub path: Vec<String>,
}

impl Route {
    /// Whether the operation needs a tenant (everything but health).
    pub fn needs_tenant(&self) -> bool {
        !matches!(self, Route::Health | Route::OpenApi | Route::Playground | Route::PlaygroundAsset(_))
    }
}

/// Every method the API serves somewhere: the `Allow` answer to a `CONNECT`,
/// whose target is a host, not one of our paths.
pub const SERVED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE";

/// Resolves a request; 404 for unknown paths, 405 (naming the methods that
/// path serves, for the `Allow` header) for a known path and wrong method.
/// Methods are case-sensitive (RFC 9110 §9.1): `get` is not `GET`.
pub fn route<S: AsRef<str>>(method: &str, segments: &[S]) -> Result<Route, ApiError> {
    let s: Vec<&str> = segments.iter().map(AsRef::as_ref).collect();
    let own = |x: &str| x.to_owned();
    let allowed = |allow: &'static str| ApiError::MethodNotAllowed {
        message: format!("method {method} is not allowed on /{}; use {allow}", s.join("/")),
        allow,
    };
    if method == "CONNECT" {
        // A tunnel request names a host, not a path: Envoy hands it over with
        // no `:path`, and its body is the tunnel, which never ends.
        return Err(ApiError::MethodNotAllowed {
            message: format!("method CONNECT is not served: Datagate is an API, not a proxy; use {SERVED_METHODS}"),
            allow: SERVED_METHODS,
        });
    }
    let r = match (s.as_slice(), method) {
        (["health"], "GET") => Route::Health,
        (["health"], _) => return Err(allowed("GET")),
        (["v2", "openapi.json"], "GET") => Route::OpenApi,
        (["v2", "openapi.json"], _) => return Err(allowed("GET")),
        (["v2", "schemas", "keyspaces"], "GET") => Route::ListKeyspaces,
        (["v2", "schemas", "keyspaces"], "POST") => Route::CreateKeyspace,
        (["v2", "schemas", "keyspaces"], _) => return Err(allowed("GET, POST")),
        (["v2", "schemas", "keyspaces", ks], "GET") => Route::GetKeyspace(own(ks)),
        (["v2", "schemas", "keyspaces", ks], "DELETE") => Route::DropKeyspace(own(ks)),
        (["v2", "schemas", "keyspaces", _], _) => return Err(allowed("GET, DELETE")),
        (["v2", "schemas", "keyspaces", ks, "tables"], "GET") => Route::ListTables(own(ks)),
        (["v2", "schemas", "keyspaces", ks, "tables"], "POST") => Route::CreateTable(own(ks)),
        (["v2", "schemas", "keyspaces", _, "tables"], _) => return Err(allowed("GET, POST")),
        (["v2", "schemas", "keyspaces", ks, "tables", t], "GET") => Route::GetTable(own(ks), own(t)),
        (["v2", "schemas", "keyspaces", ks, "tables", t], "DELETE") => Route::DropTable(own(ks), own(t)),
        (["v2", "schemas", "keyspaces", ks, "tables", t], "PUT") => Route::AlterTable(own(ks), own(t)),
        (["v2", "schemas", "keyspaces", _, "tables", _], _) => return Err(allowed("GET, PUT, DELETE")),
        (["v2", "schemas", "keyspaces", ks, "tables", t, "columns"], "GET") => Route::ListColumns(own(ks), own(t)),
        (["v2", "schemas", "keyspaces", ks, "tables", t, "columns"], "POST") => Route::AddColumn(own(ks), own(t)),
        (["v2", "schemas", "keyspaces", _, "tables", _, "columns"], _) => return Err(allowed("GET, POST")),
        (["v2", "schemas", "keyspaces", ks, "tables", t, "columns", c], m) => match m {
            "GET" => Route::GetColumn(own(ks), own(t), own(c)),
            "PUT" => Route::RenameColumn(own(ks), own(t), own(c)),
            "DELETE" => Route::DropColumn(own(ks), own(t), own(c)),
            _ => return Err(allowed("GET, PUT, DELETE")),
        },
        (["v2", "schemas", "keyspaces", ks, "tables", t, "indexes"], "GET") => Route::ListIndexes(own(ks), own(t)),
        (["v2", "schemas", "keyspaces", ks, "tables", t, "indexes"], "POST") => Route::CreateIndex(own(ks), own(t)),
        (["v2", "schemas", "keyspaces", _, "tables", _, "indexes"], _) => return Err(allowed("GET, POST")),
        (["v2", "schemas", "keyspaces", ks, "tables", t, "indexes", i], "DELETE") => {
            Route::DropIndex(own(ks), own(t), own(i))
        }
        (["v2", "schemas", "keyspaces", _, "tables", _, "indexes", _], _) => return Err(allowed("DELETE")),
        (["v2", "keyspaces", ks, t], "GET") => Route::QueryRows(own(ks), own(t)),
        (["v2", "keyspaces", ks, t], "POST") => Route::InsertRow(own(ks), own(t)),
        (["v2", "keyspaces", _, _], _) => return Err(allowed("GET, POST")),
        (["v2", "keyspaces", ks, t, "rows"], "GET") => Route::AllRows(own(ks), own(t)),
        (["v2", "keyspaces", ks, t, "batch"], "POST") => Route::BatchInsert(own(ks), own(t)),
        // Literal segments win over a key, for every method, as in the OpenAPI
        // document: `Allow` then says exactly what the path serves.
        (["v2", "keyspaces", _, _, "rows"], _) => return Err(allowed("GET")),
        (["v2", "keyspaces", _, _, "batch"], _) => return Err(allowed("POST")),
        (["v2", "keyspaces", ks, t, key @ ..], m) => {
            let key = key.iter().map(|k| own(k)).collect();
            match m {
                "GET" => Route::GetRows(own(ks), own(t), key),
                "PUT" | "PATCH" => Route::UpdateRow(own(ks), own(t), key),
                "DELETE" => Route::DeleteRows(own(ks), own(t), key),
                _ => return Err(allowed("GET, PUT, PATCH, DELETE")),
            }
        }
        (["v1"], "POST") => Route::DataApi(Target::Database),
        (["v1", ks], "POST") => Route::DataApi(Target::Keyspace(own(ks))),
        (["v1", ks, c], "POST") => Route::DataApi(Target::Collection(own(ks), own(c))),
        (["v1"] | ["v1", _] | ["v1", _, _], _) => return Err(allowed("POST")),
        (["graphql", ks], "GET" | "POST") => Route::GraphqlData(own(ks)),
        (["graphql", _], _) => return Err(allowed("GET, POST")),
        (["graphql-schema"], "GET" | "POST") => Route::GraphqlSchema,
        (["graphql-schema"], _) => return Err(allowed("GET, POST")),
        (["playground"], "GET") => Route::Playground,
        (["playground", asset], "GET") => Route::PlaygroundAsset(own(asset)),
        (["playground"] | ["playground", _], _) => return Err(allowed("GET")),
        (["v2", "schemas", "namespaces"], "GET") => Route::ListNamespaces,
        (["v2", "schemas", "namespaces"], "POST") => Route::CreateNamespace,
        (["v2", "schemas", "namespaces"], _) => return Err(allowed("GET, POST")),
        (["v2", "schemas", "namespaces", ns], "GET") => Route::GetNamespace(own(ns)),
        (["v2", "schemas", "namespaces", ns], "DELETE") => Route::DropNamespace(own(ns)),
        (["v2", "schemas", "namespaces", _], _) => return Err(allowed("GET, DELETE")),
        (["v2", "namespaces", ns, "collections"], "GET") => Route::ListCollections(own(ns)),
        (["v2", "namespaces", ns, "collections"], "POST") => Route::CreateCollection(own(ns)),
        (["v2", "namespaces", _, "collections"], _) => return Err(allowed("GET, POST")),
        (["v2", "namespaces", ns, "collections", c], m) => match m {
            "GET" => Route::SearchDocs(own(ns), own(c)),
            "POST" => Route::CreateDoc(own(ns), own(c)),
            "DELETE" => Route::DropCollection(own(ns), own(c)),
            _ => return Err(allowed("GET, POST, DELETE")),
        },
        (["v2", "namespaces", ns, "collections", c, "json-schema"], m) => match m {
            "GET" => Route::GetJsonSchema(own(ns), own(c)),
            "PUT" => Route::PutJsonSchema(own(ns), own(c)),
            _ => return Err(allowed("GET, PUT")),
        },
        (["v2", "namespaces", ns, "collections", c, "indexes"], m) => match m {
            "GET" => Route::GetDocIndexes(own(ns), own(c)),
            "PUT" => Route::PutDocIndexes(own(ns), own(c)),
            _ => return Err(allowed("GET, PUT")),
        },
        (["v2", "namespaces", ns, "collections", c, "batch"], "POST") => Route::BatchDocs(own(ns), own(c)),
        (["v2", "namespaces", _, "collections", _, "batch"], _) => return Err(allowed("POST")),
        (["v2", "namespaces", ns, "collections", c, id, path @ .., "function"], "POST") => Route::DocFunction(Doc {
            ns: own(ns),
            coll: own(c),
            id: own(id),
            path: path.iter().map(|p| own(p)).collect(),
        }),
        (["v2", "namespaces", _, "collections", _, _, .., "function"], _) => return Err(allowed("POST")),
        (["v2", "namespaces", ns, "collections", c, id, path @ ..], m) => {
            let doc = Doc { ns: own(ns), coll: own(c), id: own(id), path: path.iter().map(|p| own(p)).collect() };
            match m {
                "GET" => Route::GetDoc(doc),
                "PUT" => Route::PutDoc(doc),
                "PATCH" => Route::PatchDoc(doc),
                "DELETE" => Route::DeleteDoc(doc),
                _ => {
                    return Err(ApiError::MethodNotAllowed {
                        message: format!(
                            "method {method} is not allowed on /{}; use GET, PUT, PATCH, DELETE (POST only on \
                             .../function)",
                            s.join("/")
                        ),
                        allow: "GET, PUT, PATCH, DELETE",
                    })
                }
            }
        }
        _ => return Err(ApiError::NotFound(format!("no API at /{}", s.join("/")))),
    };
    Ok(r)
}

/// The usage endpoints, served beside the data APIs by [`crate::usage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageRoute {
    /// `GET /v2/usage`: the caller's tenant.
    Own,
    /// `GET /v2/admin/usage`: any tenant (admins).
    Admin,
}

/// Resolves a usage request; `None` for every other path.
pub fn usage_route<S: AsRef<str>>(method: &str, segments: &[S]) -> Option<Result<UsageRoute, ApiError>> {
    let segs: Vec<&str> = segments.iter().map(AsRef::as_ref).collect();
    let r = match segs[..] {
        ["v2", "usage"] => UsageRoute::Own,
        ["v2", "admin", "usage"] => UsageRoute::Admin,
        _ => return None,
    };
    if method != "GET" {
        return Some(Err(ApiError::MethodNotAllowed {
            message: format!("method {method} is not allowed on /{}; use GET", segs.join("/")),
            allow: "GET",
        }));
    }
    Some(Ok(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_routes() {
        let segs = |p: &str| p.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(usage_route("GET", &segs("/v2/usage")).unwrap().unwrap(), UsageRoute::Own);
        assert_eq!(usage_route("GET", &segs("/v2/admin/usage")).unwrap().unwrap(), UsageRoute::Admin);
        assert_eq!(usage_route("POST", &segs("/v2/usage")).unwrap().unwrap_err().status(), 405);
        assert!(usage_route("GET", &segs("/v2/keyspaces")).is_none());
    }

    fn r(method: &str, path: &str) -> Result<Route, ApiError> {
        let segs: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        route(method, &segs)
    }

    #[test]
    fn routes() {
        assert_eq!(r("GET", "/v2/keyspaces/blog/vehicle").unwrap(), Route::QueryRows("blog".into(), "vehicle".into()));
        assert_eq!(
            r("GET", "/v2/keyspaces/blog/vehicle/rows").unwrap(),
            Route::AllRows("blog".into(), "vehicle".into())
        );
        assert_eq!(
            r("PATCH", "/v2/keyspaces/blog/vehicle/Tesla/S").unwrap(),
            Route::UpdateRow("blog".into(), "vehicle".into(), vec!["Tesla".into(), "S".into()])
        );
        assert_eq!(r("POST", "/v2/schemas/keyspaces/blog/tables").unwrap(), Route::CreateTable("blog".into()));
    }

    #[test]
    fn document_routes() {
        let doc = |id: &str, path: &[&str]| Doc {
            ns: "n".into(),
            coll: "c".into(),
            id: id.into(),
            path: path.iter().map(|p| p.to_string()).collect(),
        };
        assert_eq!(r("GET", "/v2/namespaces/n/collections/c").unwrap(), Route::SearchDocs("n".into(), "c".into()));
        assert_eq!(
            r("POST", "/v2/namespaces/n/collections/c/batch").unwrap(),
            Route::BatchDocs("n".into(), "c".into())
        );
        // Literal segments win over ids and paths, for every method.
        assert_eq!(r("GET", "/v2/namespaces/n/collections/c/batch").unwrap_err().status(), 405);
        assert_eq!(r("GET", "/v2/namespaces/n/collections/c/d1/function").unwrap_err().status(), 405);
        assert_eq!(r("PUT", "/v2/keyspaces/ks/t/rows").unwrap_err().status(), 405);
        assert_eq!(r("GET", "/v2/keyspaces/ks/t/batch").unwrap_err().status(), 405);
        assert_eq!(
            r("PATCH", "/v2/namespaces/n/collections/c/d1/a/[0]").unwrap(),
            Route::PatchDoc(doc("d1", &["a", "[0]"]))
        );
        assert_eq!(
            r("POST", "/v2/namespaces/n/collections/c/d1/tags/function").unwrap(),
            Route::DocFunction(doc("d1", &["tags"]))
        );
        assert_eq!(r("POST", "/v2/namespaces/n/collections/c/d1/tags").unwrap_err().status(), 405);
        assert_eq!(
            r("PUT", "/v2/namespaces/n/collections/c/json-schema").unwrap(),
            Route::PutJsonSchema("n".into(), "c".into())
        );
    }

    #[test]
    fn data_api_routes() {
        assert_eq!(r("POST", "/v1").unwrap(), Route::DataApi(Target::Database));
        assert_eq!(r("POST", "/v1/ks").unwrap(), Route::DataApi(Target::Keyspace("ks".into())));
        assert_eq!(r("POST", "/v1/ks/c").unwrap(), Route::DataApi(Target::Collection("ks".into(), "c".into())));
        assert_eq!(allow_header("GET", "/v1/ks/c").as_deref(), Some("POST"));
        assert_eq!(r("POST", "/v1/a/b/c").unwrap_err().status(), 404);
    }

    #[test]
    fn unknown_and_wrong_method() {
        assert_eq!(r("GET", "/v3/nothing").unwrap_err().status(), 404);
        assert_eq!(r("PUT", "/v2/schemas/keyspaces").unwrap_err().status(), 405);
        assert_eq!(r("POST", "/v2/keyspaces/a/b/c").unwrap_err().status(), 405);
    }

    fn allow_header(method: &str, path: &str) -> Option<String> {
        let resp = r(method, path).unwrap_err().into_response();
        assert_eq!(resp.status, 405, "{method} {path}");
        resp.headers.iter().find(|(k, _)| k == "allow").map(|(_, v)| v.clone())
    }

    #[test]
    fn every_405_says_what_is_allowed() {
        assert_eq!(allow_header("PUT", "/v2/schemas/keyspaces").as_deref(), Some("GET, POST"));
        assert_eq!(
            allow_header("POST", "/v2/namespaces/n/collections/c/d1").as_deref(),
            Some("GET, PUT, PATCH, DELETE")
        );
        assert_eq!(allow_header("DELETE", "/playground").as_deref(), Some("GET"));
        assert_eq!(allow_header("OPTIONS", "/v2/keyspaces/ks/t/batch").as_deref(), Some("POST"));
        assert_eq!(allow_header("DELETE", "/v2/keyspaces/ks/t/rows").as_deref(), Some("GET"));
        assert_eq!(allow_header("OPTIONS", "/v2/namespaces/n/collections/c/batch").as_deref(), Some("POST"));
        assert_eq!(allow_header("OPTIONS", "/v2/namespaces/n/collections/c/d1/a/function").as_deref(), Some("POST"));
        assert_eq!(allow_header("POST", "/v2/openapi.json").as_deref(), Some("GET"));
        // CONNECT names a host (no path reaches us), on any path.
        assert_eq!(allow_header("CONNECT", "").as_deref(), Some(SERVED_METHODS));
        assert_eq!(allow_header("CONNECT", "/v2/schemas/keyspaces").as_deref(), Some(SERVED_METHODS));
        // Methods are case-sensitive.
        assert_eq!(allow_header("get", "/v2/schemas/keyspaces").as_deref(), Some("GET, POST"));
    }
}
