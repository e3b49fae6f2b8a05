//! In-memory capture of traces, metrics and logs through real `opentelemetry_sdk` providers.
//!
//! ```
//! use opentelemetry::trace::{Span, Tracer, TracerProvider};
//! use openllmetry_testkit::capture::{Capture, SpanDataExt};
//!
//! let capture = Capture::new();
//! let tracer = capture.tracer_provider().tracer("test");
//! let mut span = tracer.start("chat gpt-4");
//! span.set_attribute(opentelemetry::KeyValue::new("gen_ai.request.model", "gpt-4"));
//! span.end();
//!
//! let span = capture.span("chat gpt-4");
//! assert_eq!(span.attr_str("gen_ai.request.model"), Some("gpt-4"));
//! assert!(!capture.all_exported_text().contains("secret prompt"));
//! ```
//!
//! Spans go through a simple (synchronous) processor, so they are readable as soon as they
//! end. Metrics use a periodic reader with a one-hour interval and **cumulative** temporality;
//! every metric accessor forces a flush first and reads the most recent export, so it sees the
//! totals at that moment. Logs go through a simple processor.

use std::fmt;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Array, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::in_memory_exporter::LogDataWithResource;
use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::{
    InMemoryMetricExporter, InMemoryMetricExporterBuilder, PeriodicReader, SdkMeterProvider,
    Temporality,
};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracer, SdkTracerProvider, SpanData};

use crate::flat::{AttrValue, Attributes, MetricPoint, ReceivedLog, ReceivedSpan, sdk_attributes};

/// SDK providers wired to in-memory exporters. See the [module docs](self).
pub struct Capture {
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    logger_provider: SdkLoggerProvider,
    spans: InMemorySpanExporter,
    metrics: InMemoryMetricExporter,
    logs: InMemoryLogExporter,
}

impl fmt::Debug for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capture")
            .field(
                "spans",
                &self
                    .spans
                    .get_finished_spans()
                    .map(|s| s.len())
                    .unwrap_or(0),
            )
            .finish_non_exhaustive()
    }
}

impl Default for Capture {
    fn default() -> Self {
        Capture::new()
    }
}

impl Capture {
    /// Providers with the SDK's default resource.
    pub fn new() -> Capture {
        Capture::build(None)
    }

    /// Providers with this resource.
    pub fn with_resource(resource: Resource) -> Capture {
        Capture::build(Some(resource))
    }

    fn build(resource: Option<Resource>) -> Capture {
        let spans = InMemorySpanExporter::default();
        let metrics = InMemoryMetricExporterBuilder::new()
            .with_temporality(Temporality::Cumulative)
            .build();
        let logs = InMemoryLogExporter::default();

        let mut tracer_provider = SdkTracerProvider::builder().with_simple_exporter(spans.clone());
        let mut meter_provider = SdkMeterProvider::builder().with_reader(
            PeriodicReader::builder(metrics.clone())
                .with_interval(Duration::from_secs(3600))
                .build(),
        );
        let mut logger_provider = SdkLoggerProvider::builder().with_simple_exporter(logs.clone());
        if let Some(resource) = resource {
            tracer_provider = tracer_provider.with_resource(resource.clone());
            meter_provider = meter_provider.with_resource(resource.clone());
            logger_provider = logger_provider.with_resource(resource);
        }
        Capture {
            tracer_provider: tracer_provider.build(),
            meter_provider: meter_provider.build(),
            logger_provider: logger_provider.build(),
            spans,
            metrics,
            logs,
        }
    }

    /// The tracer provider (clone it to hand it out; clones share the pipeline).
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.tracer_provider
    }

    /// The meter provider.
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        &self.meter_provider
    }

    /// The logger provider.
    pub fn logger_provider(&self) -> &SdkLoggerProvider {
        &self.logger_provider
    }

    /// A tracer from [`tracer_provider`](Self::tracer_provider).
    pub fn tracer(&self, name: &'static str) -> SdkTracer {
        self.tracer_provider.tracer(name)
    }

    /// Flushes all three providers.
    pub fn flush(&self) {
        let _ = self.tracer_provider.force_flush();
        let _ = self.meter_provider.force_flush();
        let _ = self.logger_provider.force_flush();
    }

    /// Forgets everything exported so far (cumulative metric totals are not reset: the next
    /// flush reports them again).
    pub fn reset(&self) {
        self.spans.reset();
        self.metrics.reset();
        self.logs.reset();
    }

    /// Every finished span, in the order they ended.
    pub fn spans(&self) -> Vec<SpanData> {
        let _ = self.tracer_provider.force_flush();
        self.spans.get_finished_spans().unwrap_or_default()
    }

    /// The finished spans with this name.
    pub fn spans_named(&self, name: &str) -> Vec<SpanData> {
        self.spans()
            .into_iter()
            .filter(|s| s.name == name)
            .collect()
    }

    /// The one finished span with this name; panics (listing the finished spans) if there is
    /// not exactly one.
    pub fn span(&self, name: &str) -> SpanData {
        let spans = self.spans();
        let mut matching: Vec<SpanData> =
            spans.iter().filter(|s| s.name == name).cloned().collect();
        if matching.len() != 1 {
            let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
            panic!(
                "expected exactly one finished span named {name:?}, found {}; finished spans: {names:?}",
                matching.len()
            );
        }
        matching.remove(0)
    }

    /// Finished spans in the flattened form the [`OtlpReceiver`](crate::otlp::OtlpReceiver)
    /// produces (resource attributes are empty: the SDK attaches them at export).
    pub fn flat_spans(&self) -> Vec<ReceivedSpan> {
        self.spans().iter().map(ReceivedSpan::from).collect()
    }

    /// Every metrics export so far (after a flush), oldest first.
    pub fn finished_metrics(&self) -> Vec<ResourceMetrics> {
        let _ = self.meter_provider.force_flush();
        self.metrics.get_finished_metrics().unwrap_or_default()
    }

    /// The data points of a metric as of now (flushes, then reads the most recent export that
    /// has the metric); empty if the metric was never recorded.
    pub fn metric_points(&self, name: &str) -> Vec<MetricPoint> {
        for export in self.finished_metrics().iter().rev() {
            let mut points = Vec::new();
            let mut found = false;
            for scope in export.scope_metrics() {
                for metric in scope.metrics().filter(|m| m.name() == name) {
                    found = true;
                    points.extend(MetricPoint::from_sdk(metric, scope.scope().name()));
                }
            }
            if found {
                return points;
            }
        }
        Vec::new()
    }

    /// Names of every metric in the most recent export (after a flush), sorted.
    pub fn metric_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .finished_metrics()
            .last()
            .map(|export| {
                export
                    .scope_metrics()
                    .flat_map(|s| s.metrics().map(|m| m.name().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names.dedup();
        names
    }

    /// Every emitted log record, flattened, in emission order.
    pub fn logs(&self) -> Vec<ReceivedLog> {
        self.raw_logs().iter().map(ReceivedLog::from_sdk).collect()
    }

    /// Every emitted log record as the SDK exported it.
    pub fn raw_logs(&self) -> Vec<LogDataWithResource> {
        let _ = self.logger_provider.force_flush();
        self.logs.get_emitted_logs().unwrap_or_default()
    }

    /// Every string anywhere in the exported telemetry, one per line: span names, attribute
    /// keys and values, events and their attributes, status messages and scopes; metric names,
    /// units and attribute keys and values (all exports); log event names, bodies, attributes
    /// and severity texts. For "no content anywhere" assertions.
    pub fn all_exported_text(&self) -> String {
        let mut out = String::new();
        for span in self.flat_spans() {
            span.push_text(&mut out);
        }
        for export in self.finished_metrics() {
            for scope in export.scope_metrics() {
                for metric in scope.metrics() {
                    crate::flat::push_line(&mut out, metric.description());
                    for point in MetricPoint::from_sdk(metric, scope.scope().name()) {
                        point.push_text(&mut out);
                    }
                }
            }
        }
        for log in self.logs() {
            log.push_text(&mut out);
        }
        out
    }
}

/// The attribute value for `key`, if the span has it.
pub fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .rev() // a later value for the same key wins
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// A string attribute.
pub fn attr_str<'a>(span: &'a SpanData, key: &str) -> Option<&'a str> {
    match attr(span, key)? {
        Value::String(s) => Some(s.as_str()),
        _ => None,
    }
}

/// An integer attribute.
pub fn attr_i64(span: &SpanData, key: &str) -> Option<i64> {
    match attr(span, key)? {
        Value::I64(i) => Some(*i),
        _ => None,
    }
}

/// A floating point attribute (an integer attribute is converted).
pub fn attr_f64(span: &SpanData, key: &str) -> Option<f64> {
    match attr(span, key)? {
        Value::F64(f) => Some(*f),
        Value::I64(i) => Some(*i as f64),
        _ => None,
    }
}

/// A boolean attribute.
pub fn attr_bool(span: &SpanData, key: &str) -> Option<bool> {
    match attr(span, key)? {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

/// A string-array attribute.
pub fn attr_str_array(span: &SpanData, key: &str) -> Option<Vec<String>> {
    match attr(span, key)? {
        Value::Array(Array::String(values)) => {
            Some(values.iter().map(|v| v.as_str().to_string()).collect())
        }
        _ => None,
    }
}

/// All attributes of a span as [`AttrValue`]s.
pub fn attributes(span: &SpanData) -> Attributes {
    sdk_attributes(&span.attributes)
}

/// The attributes of the first event with this name, as [`AttrValue`]s.
pub fn event(span: &SpanData, name: &str) -> Option<Attributes> {
    span.events
        .iter()
        .find(|e| e.name == name)
        .map(|e| sdk_attributes(&e.attributes))
}

/// The attribute getters as methods on [`SpanData`].
pub trait SpanDataExt {
    /// See [`attr`].
    fn attr(&self, key: &str) -> Option<&Value>;
    /// See [`attr_str`].
    fn attr_str(&self, key: &str) -> Option<&str>;
    /// See [`attr_i64`].
    fn attr_i64(&self, key: &str) -> Option<i64>;
    /// See [`attr_f64`].
    fn attr_f64(&self, key: &str) -> Option<f64>;
    /// See [`attr_bool`].
    fn attr_bool(&self, key: &str) -> Option<bool>;
    /// See [`attr_str_array`].
    fn attr_str_array(&self, key: &str) -> Option<Vec<String>>;
    /// See [`attributes`].
    fn attr_map(&self) -> Attributes;
    /// One attribute as an [`AttrValue`].
    fn attr_value(&self, key: &str) -> Option<AttrValue>;
    /// See [`event`].
    fn event_attrs(&self, name: &str) -> Option<Attributes>;
}

impl SpanDataExt for SpanData {
    fn attr(&self, key: &str) -> Option<&Value> {
        attr(self, key)
    }
    fn attr_str(&self, key: &str) -> Option<&str> {
        attr_str(self, key)
    }
    fn attr_i64(&self, key: &str) -> Option<i64> {
        attr_i64(self, key)
    }
    fn attr_f64(&self, key: &str) -> Option<f64> {
        attr_f64(self, key)
    }
    fn attr_bool(&self, key: &str) -> Option<bool> {
        attr_bool(self, key)
    }
    fn attr_str_array(&self, key: &str) -> Option<Vec<String>> {
        attr_str_array(self, key)
    }
    fn attr_map(&self) -> Attributes {
        attributes(self)
    }
    fn attr_value(&self, key: &str) -> Option<AttrValue> {
        attr(self, key).map(AttrValue::from)
    }
    fn event_attrs(&self, name: &str) -> Option<Attributes> {
        event(self, name)
    }
}
