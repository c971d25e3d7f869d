//! The application core: one [`ApiRequest`] in, one [`ApiResponse`] out.
//! Transport-agnostic, so it is tested without Envoy.

use crate::api::{collections, columns, docs, indexes, rows, schema};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::engine::docs::Change;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::http::{ApiRequest, ApiResponse};
use crate::router::{route, usage_route, Route};
use crate::store::Backend;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Everything a request needs, shared by all gRPC streams.
pub struct Service {
    engine: Engine,
    gate: crate::admission::TenantGate,
    graphql: crate::graphql::Schemas,
    timeout: Duration,
    /// Usage metering (`None` when `metering.enabled` is false).
    metering: Option<Arc<crate::usage::Metering>>,
    metrics: Arc<crate::admin::metrics::Metrics>,
}

impl Service {
    /// A service over `store` with the limits from `config`.
    pub fn new(backend: Backend, config: &Config) -> Service {
        // Metering counts in one place: the engine's store, wrapped.
        let metering = config.metering.enabled.then(|| {
            let clock = crate::usage::clock::from_env();
            Arc::new(crate::usage::Metering::new(backend.usage.clone(), config.metering.clone(), clock))
        });
        let (rows, docs): (Arc<dyn crate::store::Store>, Arc<dyn crate::store::docs::DocStore>) = match metering {
            Some(_) => {
                let m = crate::engine::meter::Metered::new(backend.rows, backend.docs);
                (m.clone(), m)
            }
            None => (backend.rows, backend.docs),
        };
        let labels = crate::admin::metrics::TenantLabels::new(
            config.metering.metrics_tenants.clone(),
            config.metering.metrics_top_tenants,
        );
        Service {
            metering,
            metrics: Arc::new(crate::admin::metrics::Metrics::new(labels)),
            engine: Engine {
                store: rows,
                docs,
                catalog: Arc::new(Catalog::new(config.catalog_ttl)),
                limits: Arc::new(config.limits.clone()),
            },
            graphql: crate::graphql::Schemas::new(),
            gate: crate::admission::TenantGate::new(config.tenant_max_connections, config.pool_wait),
            timeout: config.storage_timeout,
        }
    }

    /// Refuses a body of `len` bytes when it is above the configured limit.
    /// The transport asks before buffering more, so it never holds an
    /// oversized body; this is the one place the limit is checked.
    pub fn admit_body(&self, len: usize) -> Result<(), ApiError> {
        let limit = self.engine.limits.max_body_bytes;
        if len > limit {
            return Err(ApiError::PayloadTooLarge(format!("request body is above the {limit} byte limit")));
        }
        Ok(())
    }

    /// Which operation a request names (404/405 otherwise); the transport
    /// asks once, before it waits for a body no path could use.
    pub fn route(req: &ApiRequest) -> Result<Route, ApiError> {
        route(&req.method, &req.segments()?)
    }

    /// The metrics, for the admin port.
    pub fn metrics(&self) -> Arc<crate::admin::metrics::Metrics> {
        self.metrics.clone()
    }

    /// Catalog cache (hits, misses) since start.
    pub fn catalog_lookups(&self) -> (u64, u64) {
        self.engine.catalog.lookups()
    }

    /// The usage metering, for the flusher and shutdown.
    pub fn metering(&self) -> Option<Arc<crate::usage::Metering>> {
        self.metering.clone()
    }

    /// Handles one request; every failure becomes a JSON error response.
    pub async fn handle(&self, req: ApiRequest) -> ApiResponse {
        let route = Service::route(&req);
        self.handle_routed(req, route).await
    }

    /// Handles a request already routed (see [`Service::route`]).
    pub async fn handle_routed(&self, req: ApiRequest, route: Result<Route, ApiError>) -> ApiResponse {
        // Without Envoy's id (another data plane, a test) the sidecar makes one,
        // so a 500 can still be matched with its log line.
        let id = req.request_id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let timeout_ms = self.timeout.as_millis() as u64;
        let slots = req.tenant.as_deref().map(|t| self.gate.slots(t));
        // A used-up quota refuses the request before it runs (see crate::usage).
        let metered = self.metering.as_deref().map(|m| m.start_request(&req, route.as_ref().ok())).transpose();
        let started = match metered {
            Ok(s) => s.flatten(),
            Err(refused) => {
                let crate::usage::Refused { started, mut response } = *refused;
                if let Some(m) = &self.metering {
                    self.metrics.observe(&m.finish(started, &req, &mut response, &id));
                }
                return response;
            }
        };
        let meter = started.as_ref().map(crate::usage::Started::meter);
        // Boxed: the handling's future is as large as the largest API handler's
        // state (kilobytes), and the scope, the timeout and the task-local
        // wrapper would each move it by value; boxed, they move a pointer
        // (about 1.1k fewer instructions per request: bench/instructions).
        let handling = Box::pin(self.serve(&req, route));
        let out = crate::scope::run_metered(id.clone(), slots, meter, self.timeout, handling).await;
        // Errors are phrased (and internal ones logged) under the request id;
        // an answer needs no scope.
        let mut resp = match out {
            Some(Ok(resp)) => resp,
            failed => {
                crate::scope::with_request_id(id.clone(), async move {
                    match failed {
                        Some(Err(e)) => e.into_response(),
                        _ => ApiError::Timeout(timeout_ms).into_response(),
                    }
                })
                .await
            }
        };
        if let (Some(m), Some(started)) = (&self.metering, started) {
            self.metrics.observe(&m.finish(started, &req, &mut resp, &id));
        }
        resp
    }

    /// The usage endpoints, else the data APIs.
    async fn serve(&self, req: &ApiRequest, route: Result<Route, ApiError>) -> Result<ApiResponse, ApiError> {
        // The usage paths are no data route, so only a request the router
        // refused can be one: the data path pays nothing for them.
        let usage = match &route {
            Ok(_) => None,
            Err(_) => req.segments().ok().and_then(|s| usage_route(&req.method, &s)),
        };
        let Some(usage) = usage else { return self.dispatch(req, route).await };
        let (usage, metering) = match (usage?, &self.metering) {
            (u, Some(m)) => (u, m),
            (_, None) => return Err(ApiError::NotFound("usage metering is off on this gateway".to_owned())),
        };
        let Some(tenant) = req.tenant.as_deref() else {
            return Err(ApiError::Unauthorized(
                "no tenant on the request: it must pass the Datagate edge filter".into(),
            ));
        };
        crate::usage::http::serve(metering, usage, tenant, req).await
    }

    async fn dispatch(&self, req: &ApiRequest, route: Result<Route, ApiError>) -> Result<ApiResponse, ApiError> {
        let route = route?;
        let tenant = match (&req.tenant, route.needs_tenant()) {
            (Some(t), _) => t.as_str(),
            (None, false) => "",
            (None, true) => {
                return Err(ApiError::Unauthorized(
                    "no tenant on the request: it must pass the Datagate edge filter, which sets x-tenant-id"
                        .to_owned(),
                ))
            }
        };
        let ctx = self.engine.ctx();
        let ns = |ks: &str| crate::engine::namespace(tenant, ks);
        match route {
            Route::Health => Ok(ApiResponse::json(200, json!({ "status": "ok", "store": self.engine.store.kind() }))),
            Route::OpenApi => {
                Ok(ApiResponse { status: 200, headers: Vec::new(), body: crate::api::OPENAPI.as_bytes().to_vec() })
            }
            Route::ListKeyspaces => schema::list_keyspaces(&ctx, tenant, req).await,
            Route::CreateKeyspace => schema::create_keyspace(&ctx, tenant, req).await,
            Route::GetKeyspace(ks) => schema::get_keyspace(&ctx, &ns(&ks)?, req).await,
            Route::DropKeyspace(ks) => schema::drop_keyspace(&ctx, &ns(&ks)?).await,
            Route::ListTables(ks) => schema::list_tables(&ctx, &ns(&ks)?, req).await,
            Route::CreateTable(ks) => schema::create_table(&ctx, &ns(&ks)?, req).await,
            Route::GetTable(ks, t) => schema::get_table(&ctx, &ns(&ks)?, &t, req).await,
            Route::DropTable(ks, t) => schema::drop_table(&ctx, &ns(&ks)?, &t).await,
            Route::AlterTable(ks, t) => schema::alter_table(&ctx, &ns(&ks)?, &t, req).await,
            Route::ListColumns(ks, t) => columns::list(&ctx, &ns(&ks)?, &t, req).await,
            Route::AddColumn(ks, t) => columns::add(&ctx, &ns(&ks)?, &t, req).await,
            Route::GetColumn(ks, t, c) => columns::get(&ctx, &ns(&ks)?, &t, &c, req).await,
            Route::RenameColumn(ks, t, c) => columns::rename(&ctx, &ns(&ks)?, &t, &c, req).await,
            Route::DropColumn(ks, t, c) => columns::drop(&ctx, &ns(&ks)?, &t, &c).await,
            Route::ListIndexes(ks, t) => columns::list_indexes(&ctx, &ns(&ks)?, &t, req).await,
            Route::CreateIndex(ks, t) => columns::create_index(&ctx, &ns(&ks)?, &t, req).await,
            Route::DropIndex(ks, t, i) => columns::drop_index(&ctx, &ns(&ks)?, &t, &i).await,
            Route::QueryRows(ks, t) => rows::read(&ctx, &ns(&ks)?, &t, rows::Selection::Where, req).await,
            Route::AllRows(ks, t) => rows::read(&ctx, &ns(&ks)?, &t, rows::Selection::All, req).await,
            Route::GetRows(ks, t, key) => rows::read(&ctx, &ns(&ks)?, &t, rows::Selection::Key(&key), req).await,
            Route::InsertRow(ks, t) => rows::insert(&ctx, &ns(&ks)?, &t, req).await,
            Route::BatchInsert(ks, t) => rows::batch(&ctx, &ns(&ks)?, &t, req).await,
            Route::UpdateRow(ks, t, key) => rows::update(&ctx, &ns(&ks)?, &t, &key, req).await,
            Route::DeleteRows(ks, t, key) => rows::delete(&ctx, &ns(&ks)?, &t, &key).await,
            Route::ListNamespaces => schema::list_keyspaces(&ctx, tenant, req).await,
            Route::CreateNamespace => schema::create_keyspace(&ctx, tenant, req).await,
            Route::GetNamespace(n) => schema::get_keyspace(&ctx, &ns(&n)?, req).await,
            Route::DropNamespace(n) => schema::drop_keyspace(&ctx, &ns(&n)?).await,
            Route::ListCollections(n) => collections::list(&ctx, &ns(&n)?, req).await,
            Route::CreateCollection(n) => collections::create(&ctx, &ns(&n)?, req).await,
            Route::DropCollection(n, c) => collections::drop(&ctx, &ns(&n)?, &c).await,
            Route::GetJsonSchema(n, c) => collections::get_schema(&ctx, &ns(&n)?, &c).await,
            Route::PutJsonSchema(n, c) => collections::put_schema(&ctx, &ns(&n)?, &c, req).await,
            Route::GetDocIndexes(n, c) => indexes::get(&ctx, &ns(&n)?, &c).await,
            Route::PutDocIndexes(n, c) => indexes::put(&ctx, &ns(&n)?, &c, req).await,
            Route::SearchDocs(n, c) => docs::search(&ctx, &ns(&n)?, &c, req).await,
            Route::CreateDoc(n, c) => docs::create(&ctx, &ns(&n)?, &c, req).await,
            Route::BatchDocs(n, c) => docs::batch(&ctx, &ns(&n)?, &c, req).await,
            Route::GetDoc(d) => docs::get(&ctx, &ns(&d.ns)?, &d.coll, &d.id, &d.path, req).await,
            Route::PutDoc(d) => docs::write_at(&ctx, &ns(&d.ns)?, &d.coll, &d.id, &d.path, req, Change::Replace).await,
            Route::PatchDoc(d) => docs::write_at(&ctx, &ns(&d.ns)?, &d.coll, &d.id, &d.path, req, Change::Merge).await,
            Route::DeleteDoc(d) => docs::delete(&ctx, &ns(&d.ns)?, &d.coll, &d.id, &d.path).await,
            Route::DocFunction(d) => docs::function(&ctx, &ns(&d.ns)?, &d.coll, &d.id, &d.path, req).await,
            Route::GraphqlData(ks) => self.graphql.data(&self.engine, &ns(&ks)?, req).await,
            Route::GraphqlSchema => self.graphql.ddl(&self.engine, tenant, req).await,
            Route::Playground => Ok(crate::graphql::playground()),
            Route::PlaygroundAsset(name) => crate::graphql::playground_asset(&name),
            Route::DataApi(target) => Ok(crate::dataapi::handle(&ctx, tenant, &target, req).await),
        }
    }
}
