//! The gRPC server: one task per ext_proc stream, each driving a [`Processor`].

use crate::config::Config;
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
use tokio::net::TcpListener;
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

/// Opens the store and serves ext_proc on `listener` until `shutdown` resolves.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store =
        store::open_with(&config.store, store::PoolSettings { size: config.pool_size, wait: config.pool_wait }).await?;
    tracing::info!(store = store.rows.kind(), listen = %listener.local_addr()?, "datagate sidecar ready");
    if let Some(every) = config.sweep_interval {
        tokio::spawn(sweep_forever(store.clone(), every));
    }
    let service = Arc::new(Service::new(store, &config));
    tonic::transport::Server::builder()
        .add_service(ExternalProcessorServer::new(ExtProc { service }))
        // Without NODELAY, Nagle + delayed ACK stall small ext_proc replies by ~40 ms.
        .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), shutdown)
        .await?;
    Ok(())
}
