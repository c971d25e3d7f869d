//! GraphQL: `/graphql/{keyspace}` (a schema generated from the keyspace's
//! tables), `/graphql-schema` (DDL) and the `/playground` page. Built on
//! async-graphql's dynamic schema; resolvers make the REST layer's calls.
//!
//! The HTTP side: GET takes `query`, `operationName` and `variables`
//! parameters; POST takes `{"query", "operationName", "variables"}` JSON or a
//! bare GraphQL document. Transport problems are 4xx JSON errors; GraphQL
//! errors are 200 with the standard `errors` array.

pub mod data;
pub mod ddl;
pub mod types;

use crate::engine::Engine;
use crate::error::ApiError;
use crate::http::{ApiRequest, ApiResponse};
use crate::model::Namespace;
use async_graphql::dynamic::Schema;
use async_graphql::parser::types::ExecutableDocument;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A keyspace's schema and the fingerprint of the tables it was built from.
type Built = (String, Arc<Schema>);

/// Generated schemas: one per keyspace, keyed by a fingerprint of its tables'
/// versions, so DDL through any API or replica yields a fresh schema.
pub struct Schemas {
    /// By keyspace: when built, the fingerprint it was built for, the schema.
    data: Mutex<HashMap<Namespace, (Instant, Built)>>,
    ddl: Option<Arc<Schema>>,
    /// Parsed query documents by query text. Clients send the same few queries
    /// over and over, and parsing is the one step of a request that depends on
    /// nothing but the text (validation, which checks it against the keyspace's
    /// current schema, still runs every time).
    parsed: Mutex<HashMap<String, ExecutableDocument>>,
}

/// Generated keyspace schemas kept at most (each is some hundreds of KiB).
const MAX_SCHEMAS: usize = 256;
/// A schema unused this long is the first to go when the cache is full.
const SCHEMA_IDLE: Duration = Duration::from_secs(60);
/// Parsed queries kept at most; when full, the cache starts over.
const MAX_PARSED: usize = 256;
/// Longer queries are parsed every time: a parsed document is several times its
/// text, and this keeps the whole cache within a few MiB.
const MAX_PARSED_QUERY_BYTES: usize = 4 * 1024;

impl Default for Schemas {
    fn default() -> Self {
        Self::new()
    }
}

impl Schemas {
    /// An empty cache (the DDL schema is built once, here).
    pub fn new() -> Schemas {
        let ddl = match ddl::build() {
            Ok(s) => Some(Arc::new(s)),
            Err(e) => {
                tracing::error!(error = %e, "the GraphQL DDL schema failed to build");
                None
            }
        };
        Schemas { data: Mutex::new(HashMap::new()), ddl, parsed: Mutex::new(HashMap::new()) }
    }

    async fn schema_for(&self, engine: &Engine, ns: &Namespace) -> Result<Arc<Schema>, ApiError> {
        // The catalog cache: DDL through this replica is seen at once, through
        // another within the catalog TTL (as for REST).
        let tables = engine.catalog.tables(engine.store.as_ref(), ns).await?;
        let mut h = Sha256::new();
        for t in tables.iter() {
            h.update(t.name.as_bytes());
            h.update([0]);
            h.update(t.version.as_bytes());
            h.update([0]);
        }
        let fingerprint: String = h.finalize().iter().take(12).map(|b| format!("{b:02x}")).collect();
        if let Ok(mut cache) = self.data.lock() {
            if let Some((used, (fp, schema))) = cache.get_mut(ns) {
                if *fp == fingerprint {
                    *used = Instant::now();
                    return Ok(schema.clone());
                }
            }
        }
        let schema = Arc::new(data::build_served(&ns.keyspace, &tables).map(|(schema, _)| schema).map_err(|e| {
            ApiError::BadRequest(format!(
                "keyspace '{}' cannot be served as GraphQL: {e} (a table or column name clashes with a generated type)",
                ns.keyspace
            ))
        })?);
        if let Ok(mut cache) = self.data.lock() {
            crate::bounded::make_room(&mut cache, MAX_SCHEMAS, SCHEMA_IDLE);
            cache.insert(ns.clone(), (Instant::now(), (fingerprint, schema.clone())));
        }
        Ok(schema)
    }

    /// Gives `request` its parsed document from the cache, or parses it and
    /// keeps the result. A query that does not parse is left for `execute`,
    /// which reports the syntax error the usual way.
    fn with_parsed_query(&self, mut request: async_graphql::Request) -> async_graphql::Request {
        if request.query.len() > MAX_PARSED_QUERY_BYTES {
            return request;
        }
        let cached = self.parsed.lock().ok().and_then(|cache| cache.get(&request.query).cloned());
        if let Some(doc) = cached {
            request.set_parsed_query(doc);
            return request;
        }
        let Ok(doc) = request.parsed_query().cloned() else { return request };
        if let Ok(mut cache) = self.parsed.lock() {
            if cache.len() >= MAX_PARSED {
                cache.clear();
            }
            cache.insert(request.query.clone(), doc);
        }
        request
    }

    /// `/graphql/{keyspace}`.
    pub async fn data(&self, engine: &Engine, ns: &Namespace, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
        let request = self.with_parsed_query(parse(req)?);
        let schema = self.schema_for(engine, ns).await?;
        let request = request.data(data::DataCtx { engine: engine.clone(), ns: ns.clone() });
        respond(schema.execute(request).await)
    }

    /// `/graphql-schema`.
    pub async fn ddl(&self, engine: &Engine, tenant: &str, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
        let request = self.with_parsed_query(parse(req)?);
        let schema = self.ddl.clone().ok_or_else(|| ApiError::Internal("the DDL schema is unavailable".to_owned()))?;
        let request = request.data(ddl::DdlCtx { engine: engine.clone(), tenant: tenant.to_owned() });
        respond(schema.execute(request).await)
    }
}

fn respond(resp: async_graphql::Response) -> Result<ApiResponse, ApiError> {
    let body = serde_json::to_vec(&resp).map_err(|e| ApiError::Internal(format!("GraphQL response: {e}")))?;
    Ok(ApiResponse { status: 200, headers: Vec::new(), body })
}

/// The GraphQL request in a GET's parameters or a POST's body.
fn parse(req: &ApiRequest) -> Result<async_graphql::Request, ApiError> {
    let (query, operation, variables) = if req.method == "GET" {
        let vars = req.param("variables")?.map(|v| crate::json::parse("variables", v.as_bytes())).transpose()?;
        (req.param("query")?.map(str::to_owned), req.param("operationName")?.map(str::to_owned), vars)
    } else {
        let text = std::str::from_utf8(&req.body)
            .map_err(|_| ApiError::BadRequest("the GraphQL request body is not UTF-8".to_owned()))?;
        let trimmed = text.trim_start();
        // A declared media type decides; without one, JSON bodies start with
        // `{"` and a bare document (`application/graphql`) never does.
        let json = match body_media_type(req) {
            Some(BodyType::Json) => true,
            Some(BodyType::Graphql) => false,
            None => trimmed.starts_with("{\"") || trimmed.starts_with("{ \"") || trimmed.starts_with("{\n  \""),
        };
        if json {
            let body = crate::json::parse("GraphQL request body", req.body.as_slice())?;
            if !body.is_object() {
                return Err(ApiError::BadRequest(
                    "the GraphQL request body must be a JSON object {\"query\", \"operationName\", \"variables\"}"
                        .to_owned(),
                ));
            }
            let field = |k: &str| body.get(k).filter(|v| !v.is_null());
            let query = match field("query") {
                Some(Json::String(q)) => Some(q.clone()),
                Some(_) => return Err(ApiError::BadRequest("'query' must be a string".to_owned())),
                None => None,
            };
            let op = match field("operationName") {
                Some(Json::String(op)) => Some(op.clone()),
                Some(_) => return Err(ApiError::BadRequest("'operationName' must be a string".to_owned())),
                None => None,
            };
            (query, op, field("variables").cloned())
        } else {
            (Some(text.to_owned()).filter(|t| !t.trim().is_empty()), None, None)
        }
    };
    let query = query.ok_or_else(|| {
        ApiError::BadRequest("no GraphQL query: send ?query=... or a JSON body {\"query\": ...}".to_owned())
    })?;
    let mut request = async_graphql::Request::new(query);
    if let Some(op) = operation {
        request = request.operation_name(op);
    }
    match variables {
        None | Some(Json::Null) => {}
        Some(v @ Json::Object(_)) => request = request.variables(async_graphql::Variables::from_json(v)),
        Some(_) => return Err(ApiError::BadRequest("'variables' must be a JSON object".to_owned())),
    }
    Ok(request)
}

/// How a POST body declares itself.
enum BodyType {
    /// `application/json` (and `+json` types): `{"query", "operationName", "variables"}`.
    Json,
    /// `application/graphql`: a bare document.
    Graphql,
}

/// The body's declared media type, when it is one GraphQL-over-HTTP knows.
fn body_media_type(req: &ApiRequest) -> Option<BodyType> {
    let ct = req.content_type.as_deref()?;
    let essence = ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        Some(BodyType::Json)
    } else if essence == "application/graphql" {
        Some(BodyType::Graphql)
    } else {
        None
    }
}

/// GraphiQL 3.8.3 and React 18.3.1 (MIT; see assets/playground/THIRD_PARTY_LICENSES),
/// shipped gzipped inside the sidecar so the playground needs no CDN.
const ASSETS: [(&str, &str, &[u8]); 4] = [
    ("graphiql.min.js", "application/javascript", include_bytes!("../../assets/playground/graphiql.min.js.gz")),
    ("graphiql.min.css", "text/css", include_bytes!("../../assets/playground/graphiql.min.css.gz")),
    (
        "react.production.min.js",
        "application/javascript",
        include_bytes!("../../assets/playground/react.production.min.js.gz"),
    ),
    (
        "react-dom.production.min.js",
        "application/javascript",
        include_bytes!("../../assets/playground/react-dom.production.min.js.gz"),
    ),
];

/// One of the playground's static files.
pub fn playground_asset(name: &str) -> Result<ApiResponse, ApiError> {
    let (_, content_type, bytes) = ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| ApiError::NotFound(format!("no playground asset '{name}'")))?;
    Ok(ApiResponse {
        status: 200,
        headers: vec![
            ("content-type".to_owned(), (*content_type).to_owned()),
            ("content-encoding".to_owned(), "gzip".to_owned()),
            ("cache-control".to_owned(), "public, max-age=86400".to_owned()),
        ],
        body: bytes.to_vec(),
    })
}

/// The playground page (GraphiQL), served without credentials.
pub fn playground() -> ApiResponse {
    ApiResponse {
        status: 200,
        headers: vec![("content-type".to_owned(), "text/html; charset=utf-8".to_owned())],
        body: include_str!("playground.html").as_bytes().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(content_type: Option<&str>, body: &[u8]) -> Result<async_graphql::Request, ApiError> {
        let mut req = ApiRequest::new("POST", "/graphql-schema");
        req.content_type = content_type.map(str::to_owned);
        req.body = body.to_vec();
        parse(&req)
    }

    #[test]
    fn declared_json_must_be_json() {
        // Transport problems are 4xx, not GraphQL errors in a 200.
        assert_eq!(post(Some("application/json"), b"\x00").unwrap_err().status(), 400);
        assert_eq!(post(Some("application/json; charset=utf-8"), b"{ a }").unwrap_err().status(), 400);
        assert_eq!(post(Some("application/json"), b"[1]").unwrap_err().status(), 400);
        assert_eq!(post(None, br#"{"query": "{ a }", "operationName": 1}"#).unwrap_err().status(), 400);
        assert_eq!(post(Some("application/json"), br#" {"query": "{ a }"}"#).unwrap().query, "{ a }");
        // A bare document, declared or sniffed.
        assert_eq!(post(Some("application/graphql"), b"{ a }").unwrap().query, "{ a }");
        assert_eq!(post(None, b"{ a }").unwrap().query, "{ a }");
        assert_eq!(post(None, br#"{"query": "{ b }"}"#).unwrap().query, "{ b }");
    }

    fn cached(schemas: &Schemas) -> usize {
        schemas.parsed.lock().map(|c| c.len()).unwrap_or_default()
    }

    #[test]
    fn parsed_queries_are_reused_per_text() {
        let schemas = Schemas::new();
        let mut a = schemas.with_parsed_query(async_graphql::Request::new("{ a }"));
        let mut b = schemas.with_parsed_query(async_graphql::Request::new("{ b }"));
        assert_eq!(cached(&schemas), 2);
        let mut again = schemas.with_parsed_query(async_graphql::Request::new("{ b }"));
        assert_eq!(cached(&schemas), 2, "the same text is not parsed and stored twice");
        let name = |r: &mut async_graphql::Request| format!("{:?}", r.parsed_query().unwrap().operations);
        assert!(name(&mut a).contains("\"a\"") && !name(&mut a).contains("\"b\""));
        assert_eq!(name(&mut b), name(&mut again));
        // A syntax error is not cached: execute parses again and reports it.
        let mut bad = schemas.with_parsed_query(async_graphql::Request::new("{ a"));
        assert_eq!(cached(&schemas), 2);
        assert!(bad.parsed_query().is_err());
        // Long queries are not kept; a full cache starts over.
        let long = format!("{{ a {} }}", " ".repeat(MAX_PARSED_QUERY_BYTES));
        schemas.with_parsed_query(async_graphql::Request::new(long));
        assert_eq!(cached(&schemas), 2);
        for i in 0..MAX_PARSED {
            schemas.with_parsed_query(async_graphql::Request::new(format!("{{ f{i} }}")));
        }
        assert!(cached(&schemas) <= MAX_PARSED);
    }
}
