//! OTLP/gRPC ingest (traces and logs), sharing the queue, counters and auth of OTLP/HTTP. A full
//! queue answers `RESOURCE_EXHAUSTED` with a `RetryInfo` detail (the OTLP retry hint).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::server::{
    MAX_BODY_BYTES, RETRY_AFTER_SECS, Shared, constant_time_eq, logs_batch, trace_batch,
    try_enqueue,
};

#[derive(Debug, Clone)]
struct Ingest(Arc<Shared>);

impl Ingest {
    fn check_auth<T>(&self, req: &Request<T>) -> Result<(), Status> {
        let Some(token) = &self.0.token else {
            return Ok(());
        };
        let given = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if constant_time_eq(given.as_bytes(), token.as_bytes()) {
            Ok(())
        } else {
            self.0
                .counters
                .rejected_unauthorized
                .fetch_add(1, Ordering::Relaxed);
            Err(Status::unauthenticated("bearer token required"))
        }
    }

    fn queue(&self, batch: crate::server::Batch) -> Result<(), Status> {
        if try_enqueue(&self.0, batch) {
            Ok(())
        } else {
            Err(Status::with_error_details(
                Code::ResourceExhausted,
                "ingest queue full, retry later",
                ErrorDetails::with_retry_info(Some(Duration::from_secs(RETRY_AFTER_SECS))),
            ))
        }
    }
}

#[tonic::async_trait]
impl TraceService for Ingest {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.check_auth(&request)?;
        self.queue(trace_batch(&self.0, request.get_ref()))?;
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Ingest {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.check_auth(&request)?;
        self.queue(logs_batch(request.get_ref()))?;
        Ok(Response::new(ExportLogsServiceResponse::default()))
    }
}

/// Serves OTLP/gRPC on `listener` until `stop` turns true.
pub(crate) fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let ingest = Ingest(shared);
    let traces = TraceServiceServer::new(ingest.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_BODY_BYTES);
    let logs = LogsServiceServer::new(ingest)
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_BODY_BYTES);
    tokio::spawn(async move {
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let result = tonic::transport::Server::builder()
            .add_service(traces)
            .add_service(logs)
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = stop.wait_for(|v| *v).await;
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "openllmetry ui: the OTLP/gRPC server stopped");
        }
    })
}
