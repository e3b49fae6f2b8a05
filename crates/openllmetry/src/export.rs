//! Exporter and processor construction: OTLP over HTTP/protobuf, HTTP/JSON or gRPC, chosen by
//! one rule for traces, metrics and logs alike (see [`crate::config::Protocol`]).

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, SimpleSpanProcessor, Span, SpanData, SpanExporter, SpanProcessor,
    TracerProviderBuilder,
};

use crate::config::{ConfigError, Protocol, SignalEndpoint, SpanPostprocessHook};
use crate::telemetry::{Component, Kind};

/// Export timeout of every OTLP exporter: 10 s.
pub(crate) const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// A span processor that runs the post-processing hook on each finished span, then hands
/// it to the wrapped processor.
pub(crate) struct PostProcess<P> {
    hook: SpanPostprocessHook,
    inner: P,
}

impl<P> fmt::Debug for PostProcess<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostProcess").finish_non_exhaustive()
    }
}

impl<P: SpanProcessor> SpanProcessor for PostProcess<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, mut span: SpanData) {
        let hook = &self.hook;
        // A panicking user hook must not lose the span nor reach the application.
        let mut copy = span.clone();
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(&mut copy))).is_ok() {
            span = copy;
        }
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

/// Adds `exporter` behind a simple or batch processor, wrapped in the post-processing hook.
pub(crate) fn add_exporter<E: SpanExporter + 'static>(
    builder: TracerProviderBuilder,
    exporter: E,
    hook: Option<SpanPostprocessHook>,
    simple: bool,
) -> TracerProviderBuilder {
    match (hook, simple) {
        (None, true) => builder.with_span_processor(SimpleSpanProcessor::new(exporter)),
        (None, false) => builder.with_span_processor(BatchSpanProcessor::builder(exporter).build()),
        (Some(hook), true) => builder.with_span_processor(PostProcess {
            hook,
            inner: SimpleSpanProcessor::new(exporter),
        }),
        (Some(hook), false) => builder.with_span_processor(PostProcess {
            hook,
            inner: BatchSpanProcessor::builder(exporter).build(),
        }),
    }
}

fn exporter_error(e: impl fmt::Display) -> ConfigError {
    ConfigError::Exporter(e.to_string())
}

fn check_runtime(endpoint: &SignalEndpoint) -> Result<(), ConfigError> {
    if endpoint.protocol == Protocol::Grpc && tokio::runtime::Handle::try_current().is_err() {
        return Err(ConfigError::NoRuntimeForGrpc);
    }
    Ok(())
}

fn metadata(headers: &std::collections::BTreeMap<String, String>) -> tonic::metadata::MetadataMap {
    let mut map = tonic::metadata::MetadataMap::new();
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            tonic::metadata::MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes()),
            v.parse(),
        ) {
            map.insert(k, v);
        }
    }
    map
}

fn http_headers(headers: &std::collections::BTreeMap<String, String>) -> HashMap<String, String> {
    headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

macro_rules! otlp_exporter {
    ($ty:ty, $endpoint:expr) => {{
        let endpoint: &SignalEndpoint = $endpoint;
        check_runtime(endpoint)?;
        match endpoint.protocol {
            Protocol::Grpc => <$ty>::builder()
                .with_tonic()
                .with_endpoint(endpoint.url.clone())
                .with_timeout(EXPORT_TIMEOUT)
                .with_metadata(metadata(&endpoint.headers))
                .build()
                .map_err(exporter_error),
            p => <$ty>::builder()
                .with_http()
                .with_protocol(if p == Protocol::HttpJson {
                    opentelemetry_otlp::Protocol::HttpJson
                } else {
                    opentelemetry_otlp::Protocol::HttpBinary
                })
                .with_endpoint(endpoint.url.clone())
                .with_timeout(EXPORT_TIMEOUT)
                .with_headers(http_headers(&endpoint.headers))
                .build()
                .map_err(exporter_error),
        }
    }};
}

/// An OTLP exporter whose failed exports (their data is dropped) are counted as
/// `sdk_export` / `export_failed` faults ([`crate::telemetry::fault_counts`]).
#[derive(Debug)]
pub(crate) struct CountFailures<E>(E);

fn counted(result: OTelSdkResult) -> OTelSdkResult {
    if result.is_err() {
        crate::telemetry::record_sdk_fault(Component::SdkExport, Kind::ExportFailed);
    }
    result
}

impl<E: SpanExporter> SpanExporter for CountFailures<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        counted(self.0.export(batch).await)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.0.set_resource(resource);
    }
}

impl<E: opentelemetry_sdk::metrics::exporter::PushMetricExporter>
    opentelemetry_sdk::metrics::exporter::PushMetricExporter for CountFailures<E>
{
    async fn export(
        &self,
        metrics: &opentelemetry_sdk::metrics::data::ResourceMetrics,
    ) -> OTelSdkResult {
        counted(self.0.export(metrics).await)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> opentelemetry_sdk::metrics::Temporality {
        self.0.temporality()
    }
}

impl<E: opentelemetry_sdk::logs::LogExporter> opentelemetry_sdk::logs::LogExporter
    for CountFailures<E>
{
    async fn export(&self, batch: opentelemetry_sdk::logs::LogBatch<'_>) -> OTelSdkResult {
        counted(self.0.export(batch).await)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn event_enabled(
        &self,
        level: opentelemetry::logs::Severity,
        target: &str,
        name: Option<&str>,
    ) -> bool {
        self.0.event_enabled(level, target, name)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.0.set_resource(resource);
    }
}

/// The OTLP span exporter for `endpoint`.
pub(crate) fn span_exporter(
    endpoint: &SignalEndpoint,
) -> Result<CountFailures<opentelemetry_otlp::SpanExporter>, ConfigError> {
    otlp_exporter!(opentelemetry_otlp::SpanExporter, endpoint).map(CountFailures)
}

/// The OTLP metric exporter for `endpoint`.
pub(crate) fn metric_exporter(
    endpoint: &SignalEndpoint,
) -> Result<CountFailures<opentelemetry_otlp::MetricExporter>, ConfigError> {
    otlp_exporter!(opentelemetry_otlp::MetricExporter, endpoint).map(CountFailures)
}

/// The OTLP log exporter for `endpoint`.
pub(crate) fn log_exporter(
    endpoint: &SignalEndpoint,
) -> Result<CountFailures<opentelemetry_otlp::LogExporter>, ConfigError> {
    otlp_exporter!(opentelemetry_otlp::LogExporter, endpoint).map(CountFailures)
}
