//! The sidecar's admin HTTP port (`--admin-listen`, default
//! `127.0.0.1:9911`): Prometheus `/metrics`, `/healthz` (the process is up)
//! and `/readyz` (the store answered the last health probe). Plain HTTP/1 on
//! loopback by default: it is for the node's Prometheus and kubelet, never
//! for clients.

pub mod metrics;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What the probe last found; shared by the gRPC health and `/readyz`.
#[derive(Clone, Default)]
pub struct Ready(Arc<AtomicBool>);

impl Ready {
    /// Records the last probe.
    pub fn set(&self, up: bool) {
        self.0.store(up, Ordering::Release);
    }
    /// Whether the store answered the last probe.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Reads the gauges that are sampled at scrape time (pool, catalog).
pub type Sampler = Arc<dyn Fn(&metrics::Metrics) + Send + Sync>;

/// The admin server's shared state.
#[derive(Clone)]
pub struct Admin {
    /// The metrics.
    pub metrics: Arc<metrics::Metrics>,
    /// Readiness.
    pub ready: Ready,
    /// Fills the sampled gauges.
    pub sample: Sampler,
}

async fn scrape(State(a): State<Admin>) -> impl IntoResponse {
    a.metrics.store_up.set(i64::from(a.ready.get()));
    (a.sample)(&a.metrics);
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], a.metrics.encode())
}

async fn readyz(State(a): State<Admin>) -> impl IntoResponse {
    if a.ready.get() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "store unreachable\n")
    }
}

/// Serves the admin port on `listener` until `shutdown` resolves.
pub async fn serve(
    admin: Admin,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new()
        .route("/metrics", get(scrape))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(admin);
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
