//! The gRPC server: one task per ext_proc stream, each driving a [`Processor`],
//! beside `grpc.health.v1` (see [`crate::health`]) on the same listener (a Unix
//! socket or TCP, see [`crate::listen`]).
//!
//! Shutdown drains: report NOT_SERVING, wait [`Drain::delay`] for Envoy's health
//! checks to notice and stop sending, then stop accepting and let the streams
//! in flight finish (at most [`Drain::timeout`]).

use crate::config::Config;
use crate::health::{self, Health};
use crate::listen::Listener;
use crate::processor::Processor;
use crate::service::Service;
use crate::store;
use envoy_types::pb::envoy::service::ext_proc::v3::external_processor_server::{
    ExternalProcessor, ExternalProcessorServer,
};
use envoy_types::pb::envoy::service::ext_proc::v3::processing_response::Response as Reply;
use envoy_types::pb::envoy::service::ext_proc::v3::{ProcessingRequest, ProcessingResponse};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status, Streaming};

/// The tonic service.
pub struct ExtProc {
    service: Arc<Service>,
}

type ReplyStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<ProcessingResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ExternalProcessor for ExtProc {
    type ProcessStream = ReplyStream;

    async fn process(&self, request: Request<Streaming<ProcessingRequest>>) -> Result<Response<ReplyStream>, Status> {
        let inbound = request.into_inner();
        let processor = Processor::new(self.service.clone());
        // The reply stream drives the inbound one directly: no task or channel per request.
        let state = (inbound, processor, false);
        let replies = futures_util::stream::unfold(state, |(mut inbound, mut processor, answered)| async move {
            // An immediate response is the last word on a request: end the stream
            // now rather than wait (one more wake-up) for Envoy's half-close.
            if answered {
                return None;
            }
            loop {
                match inbound.message().await {
                    Ok(Some(msg)) => {
                        if let Some(reply) = processor.on_message(msg).await {
                            let done = matches!(reply.response, Some(Reply::ImmediateResponse(_)));
                            return Some((Ok(reply), (inbound, processor, done)));
                        }
                    }
                    // Envoy closed the stream (request done or client gone).
                    Ok(None) => return None,
                    Err(status) => {
                        tracing::debug!(%status, "ext_proc stream ended with an error");
                        return None;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(replies)))
    }
}

/// The server on either kind of listener.
type ServerFuture = Pin<Box<dyn Future<Output = Result<(), tonic::transport::Error>> + Send>>;

/// Deletes expired TTL rows now and then, so storage does not keep what no
/// read can see. Replicas may all sweep: the deletes are idempotent.
async fn sweep_forever(store: store::Backend, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        match store.rows.sweep_expired(now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "deleted expired rows"),
            Err(e) => tracing::warn!(error = %e, "expired-row sweep failed; will retry"),
        }
        match store.docs.sweep_expired_docs(now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(documents = n, "deleted expired documents"),
            Err(e) => tracing::warn!(error = %e, "expired-document sweep failed; will retry"),
        }
    }
}

/// How a shutdown drains.
#[derive(Debug, Clone, Copy)]
pub struct Drain {
    /// How long NOT_SERVING is reported before the listener closes: at least
    /// one health-check interval of every Envoy in front (the shipped configs
    /// check every second), so none still picks this replica.
    pub delay: Duration,
    /// The longest wait for streams in flight once the listener is closed.
    pub timeout: Duration,
}

impl Default for Drain {
    fn default() -> Self {
        Drain { delay: Duration::from_secs(2), timeout: Duration::from_secs(15) }
    }
}

/// Opens the store and serves ext_proc on `listener` until `shutdown` resolves,
/// then drains with the default [`Drain`].
pub async fn serve(
    config: Config,
    listener: impl Into<Listener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with_drain(config, listener, shutdown, Drain::default()).await
}

/// [`serve`] with an explicit [`Drain`] (and no Redis: lease calls answer 503).
pub async fn serve_with_drain(
    config: Config,
    listener: impl Into<Listener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Drain,
) -> anyhow::Result<()> {
    let leaser = crate::lease::Leaser::new(None, Duration::from_millis(200))?;
    serve_with_leases(config, listener, shutdown, drain, leaser).await
}

/// [`serve_with_drain`], with the lease service of global limits on `leaser`.
pub async fn serve_with_leases(
    config: Config,
    listener: impl Into<Listener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Drain,
    leaser: crate::lease::Leaser,
) -> anyhow::Result<()> {
    let listener = listener.into();
    let store =
        store::open_with(&config.store, store::PoolSettings { size: config.pool_size, wait: config.pool_wait }).await?;
    tracing::info!(store = store.rows.kind(), listen = %listener.describe(), "datagate sidecar ready");
    if config.metering.enabled {
        store.usage.init_usage().await?;
    }
    if let Some(every) = config.sweep_interval {
        tokio::spawn(sweep_forever(store.clone(), every));
    }
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let health = Health::new(reporter).await;
    let probe_store = store.clone();
    let probe_timeout = config.storage_timeout;
    let ready = crate::admin::Ready::default();
    let probe_ready = ready.clone();
    let probe = tokio::spawn(health::watch(health.clone(), health::PROBE_EVERY, move || {
        let (store, ready) = (probe_store.clone(), probe_ready.clone());
        async move {
            let result = health::probe_store(&store, probe_timeout).await;
            ready.set(result.is_ok());
            result
        }
    }));
    let pool = store.usage.clone();
    let service = Arc::new(Service::new(store, &config));
    let metering = service.metering();
    let flusher = metering.clone().map(|m| tokio::spawn(m.flush_forever()));
    let (admin_stop, admin_stopped) = tokio::sync::oneshot::channel::<()>();
    if let Some(addr) = config.admin_listen {
        let sampled = service.clone();
        let admin = crate::admin::Admin {
            metrics: service.metrics(),
            ready: ready.clone(),
            sample: Arc::new(move |m: &crate::admin::metrics::Metrics| {
                use crate::admin::metrics::Metrics;
                let p = pool.pool_status();
                Metrics::set(&m.pool, "max", p.max);
                Metrics::set(&m.pool, "in_use", p.in_use);
                Metrics::set(&m.pool, "idle", p.idle);
                Metrics::set(&m.pool, "waiting", p.waiting);
                let (hits, misses) = sampled.catalog_lookups();
                Metrics::set(&m.catalog, "hit", hits);
                Metrics::set(&m.catalog, "miss", misses);
            }),
        };
        // Several sidecars on one host (tests, benches) would fight over the
        // default port: without it the sidecar still serves, and says so.
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => {
                let bound = l.local_addr().map_or_else(|_| addr.to_string(), |a| a.to_string());
                tracing::info!(admin = %bound, "admin port: /metrics, /healthz, /readyz");
                tokio::spawn(async move {
                    let stop = async move {
                        let _ = admin_stopped.await;
                    };
                    if let Err(e) = crate::admin::serve(admin, l, stop).await {
                        tracing::warn!(error = %e, "admin port failed");
                    }
                });
            }
            Err(e) => tracing::warn!(admin = %addr, error = %e, "cannot listen on the admin port; no /metrics"),
        }
    }
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
    let stop = async move {
        shutdown.await;
        probe.abort();
        ready.set(false);
        health.set(false).await;
        tracing::info!(delay = ?drain.delay, "shutting down: health NOT_SERVING, then closing the listener");
        tokio::time::sleep(drain.delay).await;
        tracing::info!("listener closed; finishing the streams in flight");
        let _ = closed_tx.send(());
    };
    let grpc = tonic::service::Routes::new(health_service)
        .add_service(ExternalProcessorServer::new(ExtProc { service: service.clone() }))
        // Global per-tenant limits: the edge filters' lease calls (plain HTTP/2 GET).
        .add_service(crate::lease::LeaseService(leaser));
    // Every other path: the data APIs as a plain HTTP upstream (see crate::upstream).
    let upstream = crate::upstream::Upstream::new(service);
    let routes = grpc
        .into_axum_router()
        .route_layer(axum::middleware::from_fn_with_state(upstream.clone(), crate::upstream::internal_only))
        .fallback_service(upstream);
    let router = tonic::transport::Server::builder()
        // HTTP/1.1 too, for an upstream cluster that speaks it; gRPC stays on HTTP/2.
        .accept_http1(true)
        // Above Envoy's own 64 KiB request-header limit: whatever Envoy accepted
        // (a long `where` in the query) reaches the API, which answers it in JSON.
        .http2_max_header_list_size(Some(256 * 1024))
        .add_routes(tonic::service::Routes::from(routes));
    // The socket file (if any) lives until the server stops, then is removed.
    let (server, _socket_file): (ServerFuture, _) = match listener {
        Listener::Unix(l, file) => (
            Box::pin(router.serve_with_incoming_shutdown(tokio_stream::wrappers::UnixListenerStream::new(l), stop)),
            Some(file),
        ),
        // Without NODELAY, Nagle + delayed ACK stall small ext_proc replies by ~40 ms.
        Listener::Tcp(l) => {
            (Box::pin(router.serve_with_incoming_shutdown(TcpIncoming::from(l).with_nodelay(Some(true)), stop)), None)
        }
    };
    // The server future ends once every connection has closed; bound that wait.
    let overdue = async {
        if closed_rx.await.is_ok() {
            tokio::time::sleep(drain.timeout).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => result?,
        () = overdue => tracing::warn!(timeout = ?drain.timeout, "streams still open after the drain timeout; exiting"),
    }
    // Every request has been answered: what they used is written before exiting.
    if let (Some(m), Some(f)) = (metering, flusher) {
        f.abort();
        match m.flush().await {
            Ok(()) => tracing::info!("usage flushed"),
            Err(e) => {
                tracing::error!(error = %e, "the last usage flush failed: this replica's unflushed usage is lost")
            }
        }
    }
    let _ = admin_stop.send(());
    tracing::info!("stopped");
    Ok(())
}
