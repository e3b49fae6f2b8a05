//! The exporters, processors and propagator a [`Config`](crate::Config) carries, kept as plain
//! values with their types erased until [`crate::pipeline`] builds the providers from them.
//!
//! The SDK's exporter traits return `impl Future` and so cannot be boxed directly; each
//! `Boxed*` type here wraps one behind a private object-safe trait and implements the SDK trait
//! again by forwarding every method. A leaf module: it imports nothing from this crate.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry::logs::Severity;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

type ExportFuture<'a> = Pin<Box<dyn Future<Output = OTelSdkResult> + Send + 'a>>;

/// Where the spans go besides (or instead of) OTLP: set by `with_span_exporter` /
/// `with_span_processor`, in call order.
#[derive(Debug)]
pub(crate) enum SpanSink {
    /// An exporter: the pipeline puts it behind a batch or simple processor and the span
    /// post-processing hook.
    Exporter(BoxedSpanExporter),
    /// A processor of the user's own, added as is.
    Processor(BoxedSpanProcessor),
}

trait ErasedSpanExporter: Send + Sync + fmt::Debug {
    fn export(&self, batch: Vec<SpanData>) -> ExportFuture<'_>;
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult;
    fn force_flush(&self) -> OTelSdkResult;
    fn set_resource(&mut self, resource: &Resource);
}

impl<E: SpanExporter + 'static> ErasedSpanExporter for E {
    fn export(&self, batch: Vec<SpanData>) -> ExportFuture<'_> {
        Box::pin(SpanExporter::export(self, batch))
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        SpanExporter::shutdown_with_timeout(self, timeout)
    }
    fn force_flush(&self) -> OTelSdkResult {
        SpanExporter::force_flush(self)
    }
    fn set_resource(&mut self, resource: &Resource) {
        SpanExporter::set_resource(self, resource);
    }
}

/// A span exporter of any type.
#[derive(Debug)]
pub(crate) struct BoxedSpanExporter(Box<dyn ErasedSpanExporter>);

impl BoxedSpanExporter {
    pub(crate) fn new<E: SpanExporter + 'static>(exporter: E) -> Self {
        BoxedSpanExporter(Box::new(exporter))
    }
}

impl SpanExporter for BoxedSpanExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.export(batch).await
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}

/// A span processor of any type.
#[derive(Debug)]
pub(crate) struct BoxedSpanProcessor(Box<dyn SpanProcessor>);

impl BoxedSpanProcessor {
    pub(crate) fn new<P: SpanProcessor + 'static>(processor: P) -> Self {
        BoxedSpanProcessor(Box::new(processor))
    }
}

impl SpanProcessor for BoxedSpanProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.0.on_start(span, cx);
    }
    fn on_end(&self, span: SpanData) {
        self.0.on_end(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn shutdown(&self) -> OTelSdkResult {
        self.0.shutdown()
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}

trait ErasedMetricExporter: Send + Sync {
    fn export<'a>(&'a self, metrics: &'a ResourceMetrics) -> ExportFuture<'a>;
    fn force_flush(&self) -> OTelSdkResult;
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult;
    fn temporality(&self) -> Temporality;
}

impl<E: PushMetricExporter> ErasedMetricExporter for E {
    fn export<'a>(&'a self, metrics: &'a ResourceMetrics) -> ExportFuture<'a> {
        Box::pin(PushMetricExporter::export(self, metrics))
    }
    fn force_flush(&self) -> OTelSdkResult {
        PushMetricExporter::force_flush(self)
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        PushMetricExporter::shutdown_with_timeout(self, timeout)
    }
    fn temporality(&self) -> Temporality {
        PushMetricExporter::temporality(self)
    }
}

/// A metric exporter of any type.
pub(crate) struct BoxedMetricExporter(Box<dyn ErasedMetricExporter>);

impl fmt::Debug for BoxedMetricExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoxedMetricExporter")
            .finish_non_exhaustive()
    }
}

impl BoxedMetricExporter {
    pub(crate) fn new<E: PushMetricExporter>(exporter: E) -> Self {
        BoxedMetricExporter(Box::new(exporter))
    }
}

impl PushMetricExporter for BoxedMetricExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        self.0.export(metrics).await
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self) -> Temporality {
        self.0.temporality()
    }
}

trait ErasedLogExporter: Send + Sync + fmt::Debug {
    fn export<'a>(&'a self, batch: LogBatch<'a>) -> ExportFuture<'a>;
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult;
    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool;
    fn set_resource(&mut self, resource: &Resource);
}

impl<E: LogExporter + 'static> ErasedLogExporter for E {
    fn export<'a>(&'a self, batch: LogBatch<'a>) -> ExportFuture<'a> {
        Box::pin(LogExporter::export(self, batch))
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        LogExporter::shutdown_with_timeout(self, timeout)
    }
    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        LogExporter::event_enabled(self, level, target, name)
    }
    fn set_resource(&mut self, resource: &Resource) {
        LogExporter::set_resource(self, resource);
    }
}

/// A log exporter of any type.
#[derive(Debug)]
pub(crate) struct BoxedLogExporter(Box<dyn ErasedLogExporter>);

impl BoxedLogExporter {
    pub(crate) fn new<E: LogExporter + 'static>(exporter: E) -> Self {
        BoxedLogExporter(Box::new(exporter))
    }
}

impl LogExporter for BoxedLogExporter {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        self.0.export(batch).await
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        self.0.event_enabled(level, target, name)
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}

/// A text-map propagator of any type.
pub(crate) type BoxedPropagator = Box<dyn TextMapPropagator + Send + Sync>;
