//! `grpc.health.v1` on the ext_proc port: what Envoy's active health checks
//! and Kubernetes' gRPC probes ask. The answer is a cached status, refreshed by
//! a periodic store probe, so a health check never waits on (or loads) the store.
//! Shutdown flips it to NOT_SERVING first, so Envoy stops sending before we close.

use envoy_types::pb::envoy::service::ext_proc::v3::external_processor_server::SERVICE_NAME;
use std::future::Future;
use std::time::Duration;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

/// How often the store is probed.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

/// The gRPC service name Envoy's health check asks about (the ext_proc service).
pub fn service_name() -> &'static str {
    // The generated constant, so health needs nothing from the server that serves it.
    SERVICE_NAME
}

/// The health status both names (`""`, the whole server, and the ext_proc
/// service) report; one owner so they never disagree.
#[derive(Clone)]
pub struct Health {
    reporter: HealthReporter,
}

impl Health {
    /// Wraps the reporter of a `tonic_health` service; starts NOT_SERVING until the first probe.
    pub async fn new(reporter: HealthReporter) -> Health {
        let health = Health { reporter };
        health.set(false).await;
        health
    }

    /// Reports SERVING or NOT_SERVING under both names.
    pub async fn set(&self, serving: bool) {
        let status = if serving { ServingStatus::Serving } else { ServingStatus::NotServing };
        self.reporter.set_service_status("", status).await;
        self.reporter.set_service_status(service_name(), status).await;
    }
}

/// Runs `probe` every `every` (the first at once), reporting its result;
/// logs only the transitions. Runs until dropped (aborted at shutdown).
pub async fn watch<P, F>(health: Health, every: Duration, mut probe: P)
where
    P: FnMut() -> F,
    F: Future<Output = Result<(), String>>,
{
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Option<bool> = None;
    loop {
        tick.tick().await;
        let result = probe().await;
        let serving = result.is_ok();
        if last != Some(serving) {
            match &result {
                Ok(()) => tracing::info!("store reachable: health SERVING"),
                Err(e) => tracing::warn!(error = %e, "store unreachable: health NOT_SERVING"),
            }
            health.set(serving).await;
            last = Some(serving);
        }
    }
}

/// One store probe: a `ping` (no tenant's data, no tenant's file), bounded by `timeout`.
pub async fn probe_store(store: &crate::store::Backend, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, store.rows.ping()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use tonic_health::pb::HealthCheckRequest;

    async fn status(svc: &impl tonic_health::pb::health_server::Health, name: &str) -> i32 {
        let req = tonic::Request::new(HealthCheckRequest { service: name.to_owned() });
        svc.check(req).await.unwrap().into_inner().status
    }

    #[tokio::test(start_paused = true)]
    async fn follows_the_probe_under_both_names() {
        let (reporter, _server) = tonic_health::server::health_reporter();
        let svc = tonic_health::server::HealthService::from_health_reporter(reporter.clone());
        let health = Health::new(reporter).await;
        assert_eq!(status(&svc, service_name()).await, ServingStatus::NotServing as i32);

        let up = Arc::new(AtomicBool::new(true));
        let probe_up = up.clone();
        let task = tokio::spawn(watch(health, Duration::from_secs(1), move || {
            let ok = probe_up.load(Ordering::SeqCst);
            async move {
                if ok {
                    Ok(())
                } else {
                    Err("refused".to_owned())
                }
            }
        }));
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(status(&svc, "").await, ServingStatus::Serving as i32);
        assert_eq!(status(&svc, service_name()).await, ServingStatus::Serving as i32);

        up.store(false, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(status(&svc, "").await, ServingStatus::NotServing as i32);
        assert_eq!(status(&svc, service_name()).await, ServingStatus::NotServing as i32);

        up.store(true, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(status(&svc, service_name()).await, ServingStatus::Serving as i32);
        task.abort();
    }

    #[test]
    fn the_service_name_is_the_ext_proc_one() {
        assert_eq!(service_name(), "envoy.service.ext_proc.v3.ExternalProcessor");
    }
}
