//! A span exporter that writes straight into a running viewer's store (through the same bounded
//! queue as OTLP ingest), for `openllmetry gateway --ui` and `openllmetry demo`: no socket, no
//! serialisation. When the queue is full the batch is dropped, counted in the viewer's status
//! (`ingest.rejected_queue_full`) and reported to the SDK as a failed export.

use std::sync::Arc;

use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::server::{Shared, trace_batch, try_enqueue};

/// Exports spans into a viewer's store; from [`crate::UiServer::span_exporter`].
#[derive(Debug)]
pub struct StoreExporter {
    pub(crate) shared: Arc<Shared>,
    pub(crate) resource: ResourceAttributesWithSchema,
}

impl SpanExporter for StoreExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let resource_spans = group_spans_by_resource_and_scope(batch, &self.resource);
        let req = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
            resource_spans,
        };
        let batch = trace_batch(&self.shared, &req);
        if try_enqueue(&self.shared, batch) {
            Ok(())
        } else {
            Err(OTelSdkError::InternalFailure(
                "viewer ingest queue full: spans dropped".into(),
            ))
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.into();
    }
}
