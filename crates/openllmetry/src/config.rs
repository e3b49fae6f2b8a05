//! Configuration: the [`Config`] builder, the environment variables it reads, and the one
//! precedence rule: **code over environment over default**.
//!
//! Every boolean variable follows one truthiness rule ([`parse_bool`]): `true`, `1`, `yes`,
//! `on` are true and `false`, `0`, `no`, `off` are false (case-insensitive, surrounding
//! whitespace ignored); anything else is invalid. [`crate::try_init`] returns
//! [`ConfigError`] for an invalid value; [`crate::init`] prints a warning and uses the
//! default instead.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use openllmetry_core::{ApiFormat, Flavour};

use crate::sink::{
    BoxedLogExporter, BoxedMetricExporter, BoxedPropagator, BoxedSpanExporter, BoxedSpanProcessor,
    SpanSink,
};

pub use crate::env_vars::*;

/// The default endpoint used when an API key is configured but no endpoint.
pub const DEFAULT_TRACELOOP_ENDPOINT: &str = "https://api.traceloop.com";

/// An invalid configuration value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// An environment variable (or builder string) has a value the SDK cannot use.
    InvalidValue {
        /// The variable (or setting) name.
        name: &'static str,
        /// The rejected value (never printed for secret-bearing variables).
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// The exporter could not be built.
    Exporter(String),
    /// gRPC export needs a Tokio runtime and `init` was called outside one.
    NoRuntimeForGrpc,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::InvalidValue {
                name,
                value,
                expected,
            } => write!(f, "invalid value {value:?} for {name}: expected {expected}"),
            ConfigError::Exporter(e) => write!(f, "cannot build the exporter: {e}"),
            ConfigError::NoRuntimeForGrpc => f.write_str(
                "OTLP/gRPC export needs a Tokio runtime: call init from inside one, or use http/protobuf",
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Parses a boolean with the SDK's one truthiness rule.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Parses a `k=v,k2=v2` list (W3C baggage style), URL-decoding keys and values.
pub fn parse_key_values(s: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (k, v) = item.split_once('=')?;
        let k = percent_decode(k.trim())?;
        if k.is_empty() {
            return None;
        }
        out.insert(k, percent_decode(v.trim())?);
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP over HTTP with protobuf bodies (default).
    HttpProtobuf,
    /// OTLP over HTTP with JSON bodies.
    HttpJson,
    /// OTLP over gRPC.
    Grpc,
}

impl Protocol {
    /// Parses `http/protobuf`, `http/json`, `grpc`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "http/protobuf" | "http" | "http/proto" => Some(Protocol::HttpProtobuf),
            "http/json" => Some(Protocol::HttpJson),
            "grpc" => Some(Protocol::Grpc),
            _ => None,
        }
    }
}

/// A sampler choice (`OTEL_TRACES_SAMPLER` values).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplerChoice {
    /// Sample everything.
    AlwaysOn,
    /// Sample nothing.
    AlwaysOff,
    /// Sample this fraction of traces.
    TraceIdRatio(f64),
    /// Follow the parent; root spans always on.
    ParentBasedAlwaysOn,
    /// Follow the parent; root spans always off.
    ParentBasedAlwaysOff,
    /// Follow the parent; root spans by ratio.
    ParentBasedTraceIdRatio(f64),
}

/// Span post-processing hook: sees every finished span before export and may change it.
pub type SpanPostprocessHook = Arc<dyn Fn(&mut opentelemetry_sdk::trace::SpanData) + Send + Sync>;

/// Redaction hook: sees every piece of content (each LLM call's, each entity's input and
/// output) before it is rendered; see [`Config::with_redaction`].
pub type RedactHook = Arc<dyn Fn(crate::redact::Redact<'_>) + Send + Sync>;

/// The SDK configuration. Every `with_*` setter overrides the matching environment variable
/// (code over environment over default); see the crate docs for the table.
///
/// ```
/// let config = openllmetry::Config::new()
///     .with_app_name("my-service")
///     .with_content_capture(false)
///     .with_metrics(false);
/// # let _ = config;
/// ```
#[must_use]
#[derive(Default)]
pub struct Config {
    pub(crate) app_name: Option<String>,
    pub(crate) api_endpoint: Option<String>,
    pub(crate) api_key: Option<String>,
    pub(crate) headers: Option<BTreeMap<String, String>>,
    pub(crate) enabled: Option<bool>,
    pub(crate) disable_batch: Option<bool>,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) span_sinks: Vec<SpanSink>,
    pub(crate) metrics: Option<bool>,
    pub(crate) metric_exporter: Option<BoxedMetricExporter>,
    pub(crate) logging: Option<bool>,
    pub(crate) log_exporter: Option<BoxedLogExporter>,
    pub(crate) sampler: Option<SamplerChoice>,
    pub(crate) propagator: Option<BoxedPropagator>,
    pub(crate) resource_attributes: BTreeMap<String, String>,
    pub(crate) instruments: Option<Vec<ApiFormat>>,
    pub(crate) block_instruments: Option<Vec<ApiFormat>>,
    pub(crate) flavour: Option<Flavour>,
    pub(crate) content_capture: Option<bool>,
    pub(crate) trace_context_propagation: Option<bool>,
    pub(crate) span_postprocess: Option<SpanPostprocessHook>,
    pub(crate) redact: Option<RedactHook>,
    pub(crate) export_max_request_bytes: Option<usize>,
    pub(crate) export_queue_max_bytes: Option<usize>,
    pub(crate) metric_cardinality_limit: Option<usize>,
    pub(crate) export_timeout: Option<std::time::Duration>,
    pub(crate) mask_secrets: Option<bool>,
    pub(crate) telemetry: Option<crate::telemetry::TelemetryLevel>,
    pub(crate) telemetry_config: Option<crate::telemetry::TelemetryConfig>,
    pub(crate) console: Option<bool>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("app_name", &self.app_name)
            .field("api_endpoint", &self.api_endpoint)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("enabled", &self.enabled)
            .field("flavour", &self.flavour)
            .field("content_capture", &self.content_capture)
            .finish_non_exhaustive()
    }
}

fn parse_formats(s: &str) -> Option<Vec<ApiFormat>> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.to_ascii_lowercase().as_str() {
            "openai" => Some(ApiFormat::OpenAi),
            "anthropic" => Some(ApiFormat::Anthropic),
            "gemini" | "google_generativeai" | "vertexai" => Some(ApiFormat::Gemini),
            "ollama" => Some(ApiFormat::Ollama),
            "cohere" => Some(ApiFormat::Cohere),
            "mistral" | "mistralai" => Some(ApiFormat::Mistral),
            "bedrock" => Some(ApiFormat::Bedrock),
            _ => None,
        })
        .collect()
}

impl Config {
    /// A configuration with nothing set: everything comes from the environment or defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// `service.name` (overrides `OTEL_SERVICE_NAME`).
    pub fn with_app_name(mut self, name: impl Into<String>) -> Self {
        self.app_name = Some(name.into());
        self
    }

    /// OTLP base URL (overrides `TRACELOOP_BASE_URL` and `OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub fn with_api_endpoint(mut self, url: impl Into<String>) -> Self {
        self.api_endpoint = Some(url.into());
        self
    }

    /// API key sent as a bearer token (overrides `TRACELOOP_API_KEY`).
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Exporter headers (override `TRACELOOP_HEADERS`).
    pub fn with_headers<K: Into<String>, V: Into<String>>(
        mut self,
        headers: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.headers = Some(
            headers
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        );
        self
    }

    /// Turns the whole SDK on or off (overrides `TRACELOOP_TRACING_ENABLED` and `OTEL_SDK_DISABLED`).
    pub fn with_enabled(mut self, enabled: bool) -> Self {
        self.enabled = Some(enabled);
        self
    }

    /// Batch (default) or simple span processing (overrides `TRACELOOP_DISABLE_BATCH`).
    pub fn with_batch(mut self, batch: bool) -> Self {
        self.disable_batch = Some(!batch);
        self
    }

    /// Maximum encoded size of one span export request (overrides
    /// `TRACELOOP_EXPORT_MAX_REQUEST_BYTES`; default [`DEFAULT_EXPORT_MAX_REQUEST_BYTES`]).
    pub fn with_export_max_request_bytes(mut self, bytes: usize) -> Self {
        self.export_max_request_bytes = Some(bytes);
        self
    }

    /// Byte budget of the spans waiting for export (overrides
    /// `TRACELOOP_EXPORT_QUEUE_MAX_BYTES`; default [`DEFAULT_EXPORT_QUEUE_MAX_BYTES`]).
    pub fn with_export_queue_max_bytes(mut self, bytes: usize) -> Self {
        self.export_queue_max_bytes = Some(bytes);
        self
    }

    /// Maximum series per metric instrument (overrides `TRACELOOP_METRICS_CARDINALITY_LIMIT`;
    /// default [`DEFAULT_METRICS_CARDINALITY_LIMIT`]).
    pub fn with_metrics_cardinality_limit(mut self, limit: usize) -> Self {
        self.metric_cardinality_limit = Some(limit);
        self
    }

    /// Timeout of each OTLP export (overrides `OTEL_EXPORTER_OTLP_TIMEOUT`; default
    /// [`DEFAULT_EXPORT_TIMEOUT`]).
    pub fn with_export_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.export_timeout = Some(timeout);
        self
    }

    /// OTLP protocol for every signal (overrides the `OTEL_EXPORTER_OTLP_*PROTOCOL` variables).
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// Exports spans to this exporter (batched or simple as configured) instead of OTLP.
    /// May be called several times.
    pub fn with_span_exporter<E>(mut self, exporter: E) -> Self
    where
        E: opentelemetry_sdk::trace::SpanExporter + 'static,
    {
        self.span_sinks
            .push(SpanSink::Exporter(BoxedSpanExporter::new(exporter)));
        self
    }

    /// Adds a span processor of your own instead of the default export pipeline (the span
    /// post-processing hook does not apply to it). May be called several times.
    pub fn with_span_processor<P>(mut self, processor: P) -> Self
    where
        P: opentelemetry_sdk::trace::SpanProcessor + 'static,
    {
        self.span_sinks
            .push(SpanSink::Processor(BoxedSpanProcessor::new(processor)));
        self
    }

    /// Metrics on or off (overrides `TRACELOOP_METRICS_ENABLED`).
    pub fn with_metrics(mut self, on: bool) -> Self {
        self.metrics = Some(on);
        self
    }

    /// Exports metrics to this exporter (with a periodic reader) instead of OTLP.
    pub fn with_metric_exporter<E>(mut self, exporter: E) -> Self
    where
        E: opentelemetry_sdk::metrics::exporter::PushMetricExporter + 'static,
    {
        self.metric_exporter = Some(BoxedMetricExporter::new(exporter));
        self
    }

    /// Logs pipeline on or off (overrides `TRACELOOP_LOGGING_ENABLED`; always on with the
    /// events flavour).
    pub fn with_logging(mut self, on: bool) -> Self {
        self.logging = Some(on);
        self
    }

    /// Exports log events to this exporter instead of OTLP.
    pub fn with_log_exporter<E>(mut self, exporter: E) -> Self
    where
        E: opentelemetry_sdk::logs::LogExporter + 'static,
    {
        self.log_exporter = Some(BoxedLogExporter::new(exporter));
        self
    }

    /// The sampler (overrides `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`).
    pub fn with_sampler(mut self, sampler: SamplerChoice) -> Self {
        self.sampler = Some(sampler);
        self
    }

    /// Installs this propagator globally (overrides `OTEL_PROPAGATORS`; default: W3C trace
    /// context + baggage).
    pub fn with_propagator<P>(mut self, propagator: P) -> Self
    where
        P: opentelemetry::propagation::TextMapPropagator + Send + Sync + 'static,
    {
        self.propagator = Some(Box::new(propagator));
        self
    }

    /// Extra resource attributes (merged over `OTEL_RESOURCE_ATTRIBUTES`).
    pub fn with_resource_attributes<K: Into<String>, V: Into<String>>(
        mut self,
        attrs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.resource_attributes
            .extend(attrs.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Only these provider instrumentations (overrides `TRACELOOP_INSTRUMENTS`).
    pub fn with_instruments(mut self, formats: impl IntoIterator<Item = ApiFormat>) -> Self {
        self.instruments = Some(formats.into_iter().collect());
        self
    }

    /// Never these provider instrumentations (overrides `TRACELOOP_BLOCK_INSTRUMENTS`).
    pub fn with_block_instruments(mut self, formats: impl IntoIterator<Item = ApiFormat>) -> Self {
        self.block_instruments = Some(formats.into_iter().collect());
        self
    }

    /// Output flavour (overrides `TRACELOOP_OUTPUT_FLAVOUR` and
    /// `OTEL_SEMCONV_STABILITY_OPT_IN`).
    pub fn with_flavour(mut self, flavour: Flavour) -> Self {
        self.flavour = Some(flavour);
        self
    }

    /// Content capture (overrides `TRACELOOP_TRACE_CONTENT`).
    pub fn with_content_capture(mut self, on: bool) -> Self {
        self.content_capture = Some(on);
        self
    }

    /// W3C trace-context propagation to LLM requests (overrides
    /// `TRACELOOP_TRACE_CONTEXT_PROPAGATION`).
    pub fn with_trace_context_propagation(mut self, on: bool) -> Self {
        self.trace_context_propagation = Some(on);
        self
    }

    /// A hook that sees every finished span before export and may change it (e.g. redact).
    pub fn with_span_postprocess(
        mut self,
        hook: impl Fn(&mut opentelemetry_sdk::trace::SpanData) + Send + Sync + 'static,
    ) -> Self {
        self.span_postprocess = Some(Arc::new(hook));
        self
    }

    /// A hook that sees every piece of content before it is recorded and may change or drop
    /// it: the structured content of each LLM call ([`Redact::Llm`], whatever the sampling
    /// decision) and the input and output of each workflow, task, agent and tool
    /// ([`Redact::Entity`]). It runs only when content capture is on, after the built-in
    /// [secret masking](Self::with_secret_masking). A panic in the hook is the application's
    /// own: keep it panic-free.
    ///
    /// [`Redact::Llm`]: crate::redact::Redact::Llm
    /// [`Redact::Entity`]: crate::redact::Redact::Entity
    pub fn with_redaction(
        mut self,
        hook: impl Fn(crate::redact::Redact<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.redact = Some(Arc::new(hook));
        self
    }

    /// Built-in masking of API keys, bearer tokens and e-mail addresses in content
    /// (overrides `TRACELOOP_MASK_SECRETS`). Runs before the [`Config::with_redaction`] hook.
    pub fn with_secret_masking(mut self, on: bool) -> Self {
        self.mask_secrets = Some(on);
        self
    }

    /// SDK fault telemetry level. Unlike other settings it is *combined* with
    /// `TRACELOOP_TELEMETRY`, `DO_NOT_TRACK` and `CI`: the most restrictive switch wins, so an
    /// operator can always turn it down. See TELEMETRY.md.
    pub fn with_telemetry(mut self, level: crate::telemetry::TelemetryLevel) -> Self {
        self.telemetry = Some(level);
        self
    }

    /// Telemetry transport settings (endpoint, interval, cap, timeouts); overrides
    /// `TRACELOOP_TELEMETRY_ENDPOINT`. Only used at level `on`.
    pub fn with_telemetry_config(mut self, config: crate::telemetry::TelemetryConfig) -> Self {
        self.telemetry_config = Some(config);
        self
    }

    /// Forces the console exporter on (or off) whatever else is configured.
    pub fn with_console(mut self, on: bool) -> Self {
        self.console = Some(on);
        self
    }
}

/// Reads variables through an injectable lookup, collecting invalid values.
pub(crate) struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    pub(crate) errors: Vec<ConfigError>,
}

impl<'a> Env<'a> {
    pub(crate) fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Env {
            lookup,
            errors: Vec::new(),
        }
    }

    /// The raw (trimmed, non-empty) value of a documented variable.
    pub(crate) fn get(&self, name: &'static str) -> Option<String> {
        debug_assert!(
            ENV_VARS.iter().any(|v| v.name == name),
            "{name} is read but not documented in ENV_VARS"
        );
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn parsed<T>(
        &mut self,
        name: &'static str,
        expected: &'static str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Option<T> {
        let raw = self.get(name)?;
        match parse(&raw) {
            Some(v) => Some(v),
            None => {
                let secret = name.contains("HEADERS") || name.contains("KEY");
                self.errors.push(ConfigError::InvalidValue {
                    name,
                    value: if secret { "<redacted>".into() } else { raw },
                    expected,
                });
                None
            }
        }
    }

    pub(crate) fn bool(&mut self, name: &'static str) -> Option<bool> {
        self.parsed(name, "true/false, 1/0, yes/no or on/off", parse_bool)
    }
}

/// Where one signal is exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignalEndpoint {
    pub(crate) url: String,
    pub(crate) protocol: Protocol,
    pub(crate) headers: BTreeMap<String, String>,
    /// Timeout of each export: code > `OTEL_EXPORTER_OTLP_<SIGNAL>_TIMEOUT` >
    /// `OTEL_EXPORTER_OTLP_TIMEOUT` > [`DEFAULT_EXPORT_TIMEOUT`].
    pub(crate) timeout: std::time::Duration,
}

/// The configuration after applying code > env > default.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resolved {
    pub(crate) enabled: bool,
    pub(crate) app_name: String,
    pub(crate) resource: BTreeMap<String, String>,
    /// `None`: console output (zero-setup default).
    pub(crate) traces: Option<SignalEndpoint>,
    pub(crate) metrics_endpoint: Option<SignalEndpoint>,
    pub(crate) logs_endpoint: Option<SignalEndpoint>,
    pub(crate) console: bool,
    pub(crate) disable_batch: bool,
    pub(crate) export_limits: ExportLimits,
    pub(crate) metrics: bool,
    pub(crate) logging: bool,
    pub(crate) flavour: Flavour,
    pub(crate) content_capture: bool,
    pub(crate) propagation: bool,
    /// The global text-map propagator's parts, from `OTEL_PROPAGATORS` (empty: `none`).
    pub(crate) propagators: Vec<PropagatorName>,
    /// `OTEL_PROPAGATORS` values the SDK does not provide (ignored, warned about once).
    pub(crate) unknown_propagators: Vec<String>,
    pub(crate) instruments: Option<Vec<ApiFormat>>,
    pub(crate) block_instruments: Vec<ApiFormat>,
    pub(crate) sampler: SamplerChoice,
    pub(crate) mask_secrets: bool,
    pub(crate) console_stream: crate::console::ConsoleStream,
    pub(crate) telemetry: crate::telemetry::Decision,
    pub(crate) telemetry_config: crate::telemetry::TelemetryConfig,
}

/// A propagator `OTEL_PROPAGATORS` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PropagatorName {
    /// `tracecontext`: W3C `traceparent` / `tracestate`.
    TraceContext,
    /// `baggage`: W3C `baggage`.
    Baggage,
}

/// Parses `OTEL_PROPAGATORS` (comma-separated, case-insensitive, duplicates once): the known
/// propagators in order, and the values not provided here (e.g. `b3`, `jaeger`, `xray`). `none`
/// anywhere in the list means no propagator at all.
fn parse_propagators(raw: &str) -> (Vec<PropagatorName>, Vec<String>) {
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    let mut none = false;
    for item in raw.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let name = match item.to_ascii_lowercase().as_str() {
            "tracecontext" => PropagatorName::TraceContext,
            "baggage" => PropagatorName::Baggage,
            "none" => {
                none = true;
                continue;
            }
            _ => {
                unknown.push(item.to_owned());
                continue;
            }
        };
        if !known.contains(&name) {
            known.push(name);
        }
    }
    if none {
        known.clear();
    }
    (known, unknown)
}

fn sampler_from_env(env: &mut Env<'_>) -> Option<SamplerChoice> {
    let arg = env.parsed(OTEL_TRACES_SAMPLER_ARG, "a number from 0.0 to 1.0", |s| {
        s.parse::<f64>().ok().filter(|r| (0.0..=1.0).contains(r))
    });
    let ratio = arg.unwrap_or(1.0);
    env.parsed(
        OTEL_TRACES_SAMPLER,
        "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio",
        |s| match s.to_ascii_lowercase().as_str() {
            "always_on" => Some(SamplerChoice::AlwaysOn),
            "always_off" => Some(SamplerChoice::AlwaysOff),
            "traceidratio" => Some(SamplerChoice::TraceIdRatio(ratio)),
            "parentbased_always_on" => Some(SamplerChoice::ParentBasedAlwaysOn),
            "parentbased_always_off" => Some(SamplerChoice::ParentBasedAlwaysOff),
            "parentbased_traceidratio" => Some(SamplerChoice::ParentBasedTraceIdRatio(ratio)),
            _ => None,
        },
    )
}

fn default_app_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown_service".into())
}

/// Applies code > env > default. Invalid env values are collected in `env.errors` and
/// replaced by the default.
/// Default of [`Config::with_export_max_request_bytes`]: 4 MiB, what common OTLP/gRPC
/// receivers accept by default.
pub const DEFAULT_EXPORT_MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// Default of [`Config::with_export_queue_max_bytes`]: 64 MiB.
pub const DEFAULT_EXPORT_QUEUE_MAX_BYTES: usize = 64 * 1024 * 1024;
/// Default of [`Config::with_metrics_cardinality_limit`]: 500 series per instrument.
pub const DEFAULT_METRICS_CARDINALITY_LIMIT: usize = 500;
/// Default of `OTEL_BSP_MAX_QUEUE_SIZE`: at most 2048 spans wait for export.
pub const DEFAULT_EXPORT_QUEUE_MAX_SPANS: usize = 2048;
/// Default of [`Config::with_export_timeout`]: 10 s.
pub const DEFAULT_EXPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The bounds of the export pipeline, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExportLimits {
    pub(crate) max_request_bytes: usize,
    pub(crate) queue_max_bytes: usize,
    pub(crate) cardinality_limit: usize,
    pub(crate) timeout: std::time::Duration,
    /// Spans waiting for export at most (`OTEL_BSP_MAX_QUEUE_SIZE`).
    pub(crate) max_queue_spans: usize,
    /// The span attribute value length limit (span-specific one wins), in characters.
    pub(crate) attribute_value_length: Option<usize>,
}

fn export_limits(config: &Config, env: &mut Env<'_>) -> ExportLimits {
    let positive = |s: &str| s.parse::<usize>().ok().filter(|n| *n > 0);
    let max_request_env = env.parsed(
        TRACELOOP_EXPORT_MAX_REQUEST_BYTES,
        "a positive number of bytes",
        positive,
    );
    let queue_env = env.parsed(
        TRACELOOP_EXPORT_QUEUE_MAX_BYTES,
        "a positive number of bytes",
        positive,
    );
    let card_env = env.parsed(
        TRACELOOP_METRICS_CARDINALITY_LIMIT,
        "a positive number",
        |s: &str| s.parse::<usize>().ok().filter(|n| *n > 0 && *n < 1 << 24),
    );
    let timeout_env = env.parsed(
        OTEL_EXPORTER_OTLP_TIMEOUT,
        "a number of milliseconds",
        |s: &str| s.parse::<u64>().ok().map(std::time::Duration::from_millis),
    );
    let max_queue_spans = env.parsed(
        OTEL_BSP_MAX_QUEUE_SIZE,
        "a positive number of spans",
        positive,
    );
    let general = env.parsed(
        OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT,
        "a number of characters",
        |s: &str| s.parse::<usize>().ok(),
    );
    let span = env.parsed(
        OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT,
        "a number of characters",
        |s: &str| s.parse::<usize>().ok(),
    );
    ExportLimits {
        max_request_bytes: config
            .export_max_request_bytes
            .or(max_request_env)
            .unwrap_or(DEFAULT_EXPORT_MAX_REQUEST_BYTES),
        queue_max_bytes: config
            .export_queue_max_bytes
            .or(queue_env)
            .unwrap_or(DEFAULT_EXPORT_QUEUE_MAX_BYTES),
        cardinality_limit: config
            .metric_cardinality_limit
            .filter(|n| *n > 0 && *n < 1 << 24)
            .or(card_env)
            .unwrap_or(DEFAULT_METRICS_CARDINALITY_LIMIT),
        timeout: config
            .export_timeout
            .or(timeout_env)
            .unwrap_or(DEFAULT_EXPORT_TIMEOUT),
        max_queue_spans: max_queue_spans.unwrap_or(DEFAULT_EXPORT_QUEUE_MAX_SPANS),
        attribute_value_length: span.or(general),
    }
}

/// The telemetry level (combined from every switch, see [`crate::telemetry::decide`]) and
/// transport settings; invalid values are collected like the others.
fn telemetry_settings(
    config: &Config,
    env: &mut Env<'_>,
) -> (
    crate::telemetry::Decision,
    crate::telemetry::TelemetryConfig,
) {
    let lookup = env.lookup;
    let (decision, level_error) = crate::telemetry::decide_lossy(config.telemetry, lookup);
    if let Some(e) = level_error {
        env.errors.push(ConfigError::InvalidValue {
            name: TRACELOOP_TELEMETRY,
            value: e.to_string(),
            expected: "off, local, on or debug",
        });
    }
    let telemetry_config = match &config.telemetry_config {
        Some(c) => c.clone(),
        None => {
            let (c, endpoint_error) = crate::telemetry::TelemetryConfig::from_lookup_lossy(lookup);
            if let Some(e) = endpoint_error {
                env.errors.push(ConfigError::InvalidValue {
                    name: TRACELOOP_TELEMETRY_ENDPOINT,
                    value: e.to_string(),
                    expected: "an http(s) URL",
                });
            }
            c
        }
    };
    (decision, telemetry_config)
}

pub(crate) fn resolve(config: &Config, env: &mut Env<'_>) -> Resolved {
    // Enabled: the builder wins; otherwise any env "off" wins.
    let tracing_enabled = env.bool(TRACELOOP_TRACING_ENABLED);
    let sdk_disabled = env.bool(OTEL_SDK_DISABLED);
    let enabled = config
        .enabled
        .unwrap_or(tracing_enabled.unwrap_or(true) && !sdk_disabled.unwrap_or(false));

    let app_name = config
        .app_name
        .clone()
        .or_else(|| env.get(OTEL_SERVICE_NAME))
        .unwrap_or_else(default_app_name);
    let mut resource = env
        .parsed(OTEL_RESOURCE_ATTRIBUTES, "k=v,k2=v2", parse_key_values)
        .unwrap_or_default();
    resource.extend(config.resource_attributes.clone());
    resource.insert("service.name".into(), app_name.clone());

    let api_key = config
        .api_key
        .clone()
        .or_else(|| env.get(TRACELOOP_API_KEY));
    let endpoint = config
        .api_endpoint
        .clone()
        .or_else(|| env.get(TRACELOOP_BASE_URL))
        .or_else(|| env.get(OTEL_EXPORTER_OTLP_ENDPOINT))
        .or_else(|| {
            api_key
                .as_ref()
                .map(|_| DEFAULT_TRACELOOP_ENDPOINT.to_owned())
        });

    let mut headers = env
        .parsed(OTEL_EXPORTER_OTLP_HEADERS, "k=v,k2=v2", parse_key_values)
        .unwrap_or_default();
    match &config.headers {
        Some(h) => headers.extend(h.clone()),
        None => headers.extend(
            env.parsed(TRACELOOP_HEADERS, "k=v,k2=v2", parse_key_values)
                .unwrap_or_default(),
        ),
    }
    if let Some(key) = &api_key
        && !headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case("authorization"))
    {
        headers.insert("Authorization".into(), format!("Bearer {key}"));
    }
    let general_protocol = env.parsed(
        OTEL_EXPORTER_OTLP_PROTOCOL,
        "http/protobuf, http/json or grpc",
        Protocol::parse,
    );
    let export_limits = export_limits(config, env);
    // `traceloop`: upstream's own variables for the signal, `(TRACELOOP_<S>_ENDPOINT,
    // TRACELOOP_<S>_HEADERS)`. Each wins over its `OTEL_EXPORTER_OTLP_<S>_*` twin (the
    // Traceloop variable wins, as everywhere); the endpoint is a base URL (the signal's path is
    // appended, as upstream does) and the headers replace the general ones (upstream's rule).
    let mut signal = |signal_endpoint: &'static str,
                      signal_protocol: &'static str,
                      signal_headers: &'static str,
                      signal_timeout: &'static str,
                      traceloop: Option<(&'static str, &'static str)>,
                      path: &str|
     -> Option<SignalEndpoint> {
        let traceloop_base = traceloop.and_then(|(e, _)| env.get(e));
        let traceloop_headers =
            traceloop.and_then(|(_, h)| env.parsed(h, "k=v,k2=v2", parse_key_values));
        let specific = match traceloop_base {
            Some(_) => None,
            None => env.get(signal_endpoint),
        };
        let timeout_env = env.parsed(signal_timeout, "a number of milliseconds", |s: &str| {
            s.parse::<u64>().ok().map(std::time::Duration::from_millis)
        });
        let timeout = config
            .export_timeout
            .or(timeout_env)
            .unwrap_or(export_limits.timeout);
        let specific_protocol = env.parsed(
            signal_protocol,
            "http/protobuf, http/json or grpc",
            Protocol::parse,
        );
        let h = match traceloop_headers {
            Some(own) => own,
            None => {
                let mut h = headers.clone();
                if let Some(extra) = env.parsed(signal_headers, "k=v,k2=v2", parse_key_values) {
                    h.extend(extra);
                }
                h
            }
        };
        let base = match (&config.api_endpoint, traceloop_base, &specific) {
            (Some(_), ..) | (None, None, None) => endpoint.clone()?,
            (None, Some(base), _) => base,
            (None, None, Some(url)) => url.clone(),
        };
        let scheme_grpc = base.starts_with("grpc://") || base.starts_with("grpcs://");
        // One rule for every signal: code > signal env > general env > URL scheme > http/protobuf.
        let protocol = config
            .protocol
            .or(specific_protocol)
            .or(general_protocol)
            .unwrap_or(if scheme_grpc {
                Protocol::Grpc
            } else {
                Protocol::HttpProtobuf
            });
        let base = base
            .replacen("grpcs://", "https://", 1)
            .replacen("grpc://", "http://", 1);
        let url = if specific.is_some() && config.api_endpoint.is_none() {
            base
        } else if protocol == Protocol::Grpc {
            base.trim_end_matches('/').to_owned()
        } else {
            let trimmed = base.trim_end_matches('/');
            if trimmed.ends_with(path) {
                trimmed.to_owned()
            } else {
                format!("{trimmed}{path}")
            }
        };
        Some(SignalEndpoint {
            url,
            protocol,
            headers: h,
            timeout,
        })
    };
    let traces = signal(
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
        OTEL_EXPORTER_OTLP_TRACES_HEADERS,
        OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
        None,
        "/v1/traces",
    );
    let metrics_endpoint = signal(
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
        OTEL_EXPORTER_OTLP_METRICS_PROTOCOL,
        OTEL_EXPORTER_OTLP_METRICS_HEADERS,
        OTEL_EXPORTER_OTLP_METRICS_TIMEOUT,
        Some((TRACELOOP_METRICS_ENDPOINT, TRACELOOP_METRICS_HEADERS)),
        "/v1/metrics",
    );
    let logs_endpoint = signal(
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT,
        OTEL_EXPORTER_OTLP_LOGS_PROTOCOL,
        OTEL_EXPORTER_OTLP_LOGS_HEADERS,
        OTEL_EXPORTER_OTLP_LOGS_TIMEOUT,
        Some((TRACELOOP_LOGGING_ENDPOINT, TRACELOOP_LOGGING_HEADERS)),
        "/v1/logs",
    );
    let has_custom = !config.span_sinks.is_empty();
    let console = config.console.unwrap_or(traces.is_none() && !has_custom);

    // Code, then `TRACELOOP_OUTPUT_FLAVOUR`, then the standard GenAI opt-in, then `current`.
    let flavour = config
        .flavour
        .or_else(|| {
            env.parsed(
                TRACELOOP_OUTPUT_FLAVOUR,
                "current, legacy, events or semconv",
                Flavour::parse,
            )
        })
        .or_else(|| {
            env.get(OTEL_SEMCONV_STABILITY_OPT_IN)
                .filter(|v| openllmetry_semconv::latest::opts_in_to_latest_gen_ai(v))
                .map(|_| Flavour::Semconv)
        });
    let flavour = flavour.unwrap_or_default();
    let logging_env = env.bool(TRACELOOP_LOGGING_ENABLED);
    let logging = flavour == Flavour::Events
        || config.log_exporter.is_some()
        || config.logging.or(logging_env).unwrap_or(false);
    let metrics_env = env.bool(TRACELOOP_METRICS_ENABLED);
    let content_env = env
        .bool(TRACELOOP_TRACE_CONTENT)
        .or_else(|| env.bool(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT));
    let propagation_env = env.bool(TRACELOOP_TRACE_CONTEXT_PROPAGATION);
    let (propagators, unknown_propagators) = match env.get(OTEL_PROPAGATORS) {
        Some(raw) => parse_propagators(&raw),
        None => (
            vec![PropagatorName::TraceContext, PropagatorName::Baggage],
            Vec::new(),
        ),
    };
    let batch_env = env.bool(TRACELOOP_DISABLE_BATCH);
    let mask_env = env.bool(TRACELOOP_MASK_SECRETS);
    let instruments_env = env.parsed(
        TRACELOOP_INSTRUMENTS,
        "a comma-separated list of openai, anthropic",
        parse_formats,
    );
    let block_env = env.parsed(
        TRACELOOP_BLOCK_INSTRUMENTS,
        "a comma-separated list of openai, anthropic",
        parse_formats,
    );
    let sampler_env = sampler_from_env(env);
    let console_stream = env
        .parsed(
            OPENLLMETRY_CONSOLE_STREAM,
            "stderr or stdout",
            crate::console::ConsoleStream::parse,
        )
        .unwrap_or_default();
    let (telemetry, telemetry_config) = telemetry_settings(config, env);
    let propagation_none = propagators.is_empty() && config.propagator.is_none();
    Resolved {
        propagators,
        unknown_propagators,
        console_stream,
        telemetry,
        telemetry_config,
        export_limits,
        enabled,
        app_name,
        resource,
        traces,
        metrics_endpoint,
        logs_endpoint,
        console,
        disable_batch: config.disable_batch.or(batch_env).unwrap_or(false),
        metrics: config.metrics.or(metrics_env).unwrap_or(true),
        logging,
        flavour,
        content_capture: config.content_capture.or(content_env).unwrap_or(true),
        // `OTEL_PROPAGATORS=none` turns propagation to LLM requests off too, unless a more
        // specific switch says otherwise.
        propagation: config
            .trace_context_propagation
            .or(propagation_env)
            .or(propagation_none.then_some(false))
            .unwrap_or(true),
        instruments: config.instruments.clone().or(instruments_env),
        block_instruments: config
            .block_instruments
            .clone()
            .or(block_env)
            .unwrap_or_default(),
        sampler: config
            .sampler
            .or(sampler_env)
            .unwrap_or(SamplerChoice::ParentBasedAlwaysOn),
        mask_secrets: config.mask_secrets.or(mask_env).unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    fn resolve_with(config: &Config, vars: &[(&str, &str)]) -> (Resolved, Vec<ConfigError>) {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |k: &str| map.get(k).cloned();
        let mut env = Env::new(&lookup);
        let r = resolve(config, &mut env);
        (r, env.errors)
    }

    #[test]
    fn otel_genai_content_switch_is_read_below_the_traceloop_one() {
        let key = OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT;
        let (r, errs) = resolve_with(&Config::new(), &[(key, "false")]);
        assert!(errs.is_empty(), "{errs:?}");
        assert!(!r.content_capture);
        let (r, _) = resolve_with(
            &Config::new(),
            &[(key, "false"), (TRACELOOP_TRACE_CONTENT, "true")],
        );
        assert!(r.content_capture, "the Traceloop variable wins");
        let (r, _) = resolve_with(&Config::new().with_content_capture(true), &[(key, "false")]);
        assert!(r.content_capture, "code wins over the environment");
        let (r, _) = resolve_with(&Config::new(), &[]);
        assert!(r.content_capture, "default on");
    }

    #[test]
    fn truthiness_rule() {
        for t in ["true", "TRUE", " 1 ", "yes", "On"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["false", "0", "no", "OFF"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for bad in ["", "2", "enabled", "truee"] {
            assert_eq!(parse_bool(bad), None, "{bad}");
        }
    }

    #[test]
    fn key_values_are_url_decoded() {
        let kv = parse_key_values("a=1, b%20c=x%3Dy ,empty=").unwrap();
        assert_eq!(kv["a"], "1");
        assert_eq!(kv["b c"], "x=y");
        assert_eq!(kv["empty"], "");
        assert!(parse_key_values("novalue").is_none());
        assert!(parse_key_values("a=%zz").is_none());
    }

    #[test]
    fn zero_setup_is_console() {
        let (r, errors) = resolve_with(&Config::new(), &[]);
        assert!(errors.is_empty());
        assert!(r.console);
        assert!(r.traces.is_none());
        assert!(r.content_capture && r.metrics && r.propagation && r.enabled);
        assert_eq!(r.flavour, Flavour::Current);
    }

    #[test]
    fn the_standard_gen_ai_opt_in_selects_the_semconv_flavour() {
        // `OTEL_SEMCONV_STABILITY_OPT_IN` is a comma-separated list; the GenAI entry is
        // `gen_ai_latest_experimental` (semantic-conventions-genai, `gen-ai-agent-spans.md`).
        let opt_in = [(
            OTEL_SEMCONV_STABILITY_OPT_IN,
            "http, gen_ai_latest_experimental",
        )];
        let (r, errors) = resolve_with(&Config::new(), &opt_in);
        assert!(errors.is_empty());
        assert_eq!(r.flavour, Flavour::Semconv);
        assert!(!r.logging, "the semconv flavour needs no logs pipeline");
        // Other categories alone change nothing.
        let (r, _) = resolve_with(
            &Config::new(),
            &[(OTEL_SEMCONV_STABILITY_OPT_IN, "http,database/dup")],
        );
        assert_eq!(r.flavour, Flavour::Current);
        // The Traceloop variable wins over the standard one; code wins over both.
        let both = [opt_in[0], (TRACELOOP_OUTPUT_FLAVOUR, "legacy")];
        let (r, _) = resolve_with(&Config::new(), &both);
        assert_eq!(r.flavour, Flavour::Legacy);
        let (r, _) = resolve_with(&Config::new().with_flavour(Flavour::Events), &both);
        assert_eq!(r.flavour, Flavour::Events);
        let (r, _) = resolve_with(&Config::new(), &[(TRACELOOP_OUTPUT_FLAVOUR, "semconv")]);
        assert_eq!(r.flavour, Flavour::Semconv);
        let (r, _) = resolve_with(&Config::new().with_flavour(Flavour::Semconv), &[]);
        assert_eq!(r.flavour, Flavour::Semconv);
    }

    #[test]
    fn api_key_alone_uses_traceloop_endpoint_with_bearer() {
        let (r, _) = resolve_with(&Config::new(), &[(TRACELOOP_API_KEY, "sk-123")]);
        let t = r.traces.unwrap();
        assert_eq!(t.url, "https://api.traceloop.com/v1/traces");
        assert_eq!(t.headers["Authorization"], "Bearer sk-123");
        assert_eq!(t.protocol, Protocol::HttpProtobuf);
        assert!(!r.console);
    }

    #[test]
    fn code_beats_env_beats_default() {
        let env = [
            (TRACELOOP_BASE_URL, "http://env:4318"),
            (TRACELOOP_TRACE_CONTENT, "false"),
            (TRACELOOP_OUTPUT_FLAVOUR, "legacy"),
            (OTEL_SERVICE_NAME, "env-svc"),
        ];
        let (r, _) = resolve_with(&Config::new(), &env);
        assert_eq!(r.traces.as_ref().unwrap().url, "http://env:4318/v1/traces");
        assert!(!r.content_capture);
        assert_eq!(r.flavour, Flavour::Legacy);
        assert_eq!(r.app_name, "env-svc");
        let code = Config::new()
            .with_api_endpoint("http://code:4318/")
            .with_content_capture(true)
            .with_flavour(Flavour::Events)
            .with_app_name("code-svc");
        let (r, _) = resolve_with(&code, &env);
        assert_eq!(r.traces.as_ref().unwrap().url, "http://code:4318/v1/traces");
        assert!(r.content_capture);
        assert_eq!(r.flavour, Flavour::Events);
        assert!(r.logging, "events flavour needs the logs pipeline");
        assert_eq!(r.app_name, "code-svc");
        assert_eq!(r.resource["service.name"], "code-svc");
    }

    #[test]
    fn protocol_rule_is_the_same_for_every_signal() {
        let (r, _) = resolve_with(
            &Config::new(),
            &[(TRACELOOP_BASE_URL, "grpc://collector:4317")],
        );
        for s in [&r.traces, &r.metrics_endpoint, &r.logs_endpoint] {
            let s = s.as_ref().unwrap();
            assert_eq!(s.protocol, Protocol::Grpc);
            assert_eq!(s.url, "http://collector:4317");
        }
        let (r, _) = resolve_with(
            &Config::new(),
            &[
                (OTEL_EXPORTER_OTLP_ENDPOINT, "http://c:4318"),
                (OTEL_EXPORTER_OTLP_PROTOCOL, "http/json"),
                (OTEL_EXPORTER_OTLP_METRICS_PROTOCOL, "grpc"),
                (OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, "http://logs:9999/custom"),
            ],
        );
        assert_eq!(r.traces.as_ref().unwrap().protocol, Protocol::HttpJson);
        assert_eq!(r.traces.as_ref().unwrap().url, "http://c:4318/v1/traces");
        assert_eq!(
            r.metrics_endpoint.as_ref().unwrap().protocol,
            Protocol::Grpc
        );
        assert_eq!(
            r.logs_endpoint.as_ref().unwrap().url,
            "http://logs:9999/custom"
        );
        let (r, _) = resolve_with(
            &Config::new().with_protocol(Protocol::Grpc),
            &[
                (OTEL_EXPORTER_OTLP_ENDPOINT, "http://c:4317"),
                (OTEL_EXPORTER_OTLP_PROTOCOL, "http/json"),
            ],
        );
        assert_eq!(r.traces.unwrap().protocol, Protocol::Grpc);
    }

    /// Upstream's per-signal variables (`openllmetry-upstream.md`, environment table):
    /// `TRACELOOP_METRICS_ENDPOINT` / `TRACELOOP_LOGGING_ENDPOINT` are OTLP bases for that
    /// signal, `TRACELOOP_METRICS_HEADERS` / `TRACELOOP_LOGGING_HEADERS` replace the trace
    /// headers for it ("metrics_headers → headers"); traces keep the general settings.
    #[test]
    fn traceloop_metrics_and_logging_endpoints_and_headers() {
        let (r, _) = resolve_with(
            &Config::new(),
            &[
                (TRACELOOP_BASE_URL, "http://traces:4318"),
                (TRACELOOP_API_KEY, "tl-key"),
                (TRACELOOP_METRICS_ENDPOINT, "http://metrics:4318/"),
                (TRACELOOP_METRICS_HEADERS, "x-metrics=1"),
                (
                    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
                    "http://otel-metrics/ignored",
                ),
                (OTEL_EXPORTER_OTLP_METRICS_HEADERS, "x-ignored=1"),
                (TRACELOOP_LOGGING_ENDPOINT, "grpc://logs:4317"),
            ],
        );
        let traces = r.traces.unwrap();
        assert_eq!(traces.url, "http://traces:4318/v1/traces");
        assert_eq!(traces.headers["Authorization"], "Bearer tl-key");
        let metrics = r.metrics_endpoint.unwrap();
        assert_eq!(metrics.url, "http://metrics:4318/v1/metrics");
        assert_eq!(
            metrics.headers,
            BTreeMap::from([("x-metrics".to_owned(), "1".to_owned())])
        );
        let logs = r.logs_endpoint.unwrap();
        assert_eq!(
            (logs.url.as_str(), logs.protocol),
            ("http://logs:4317", Protocol::Grpc)
        );
        // Without its own headers, the signal keeps the general ones (the API key included).
        assert_eq!(logs.headers["Authorization"], "Bearer tl-key");
    }

    #[test]
    fn headers_merge_and_api_key_does_not_override_explicit_authorization() {
        let (r, _) = resolve_with(
            &Config::new(),
            &[
                (TRACELOOP_BASE_URL, "http://c"),
                (OTEL_EXPORTER_OTLP_HEADERS, "x-a=1,x-b=2"),
                (TRACELOOP_HEADERS, "x-b=3,Authorization=Basic%20abc"),
                (TRACELOOP_API_KEY, "k"),
                (OTEL_EXPORTER_OTLP_TRACES_HEADERS, "x-t=1"),
            ],
        );
        let t = r.traces.unwrap();
        assert_eq!(t.headers["x-a"], "1");
        assert_eq!(t.headers["x-b"], "3");
        assert_eq!(t.headers["x-t"], "1");
        assert_eq!(t.headers["Authorization"], "Basic abc");
        assert!(!r.metrics_endpoint.unwrap().headers.contains_key("x-t"));
    }

    #[test]
    fn disabled_by_any_env_switch_unless_code_says_otherwise() {
        let (r, _) = resolve_with(&Config::new(), &[(OTEL_SDK_DISABLED, "true")]);
        assert!(!r.enabled);
        let (r, _) = resolve_with(&Config::new(), &[(TRACELOOP_TRACING_ENABLED, "false")]);
        assert!(!r.enabled);
        let (r, _) = resolve_with(
            &Config::new().with_enabled(true),
            &[(OTEL_SDK_DISABLED, "1")],
        );
        assert!(r.enabled);
    }

    #[test]
    fn invalid_values_are_reported_and_defaulted() {
        let (r, errors) = resolve_with(
            &Config::new(),
            &[
                (TRACELOOP_TRACE_CONTENT, "maybe"),
                (OTEL_TRACES_SAMPLER, "sometimes"),
                (TRACELOOP_OUTPUT_FLAVOUR, "fancy"),
                (TRACELOOP_HEADERS, "secret-without-equals"),
            ],
        );
        assert!(r.content_capture);
        assert_eq!(r.flavour, Flavour::Current);
        let names: Vec<_> = errors
            .iter()
            .map(|e| match e {
                ConfigError::InvalidValue { name, .. } => *name,
                _ => "",
            })
            .collect();
        assert_eq!(
            names,
            vec![
                TRACELOOP_HEADERS,
                TRACELOOP_OUTPUT_FLAVOUR,
                TRACELOOP_TRACE_CONTENT,
                OTEL_TRACES_SAMPLER
            ]
        );
        let header_error = errors[0].to_string();
        assert!(!header_error.contains("secret"), "{header_error}");
    }

    /// Every variable, one row each: its env value changes the resolved setting, and the
    /// matching builder call wins over it.
    #[test]
    fn every_variable_has_an_effect_and_the_builder_overrides_it() {
        type Check = fn(&Resolved) -> bool;
        let rows: Vec<(&str, &str, Config, Check, Check)> = vec![
            (
                TRACELOOP_TRACE_CONTENT,
                "off",
                Config::new().with_content_capture(true),
                |r| !r.content_capture,
                |r| r.content_capture,
            ),
            (
                TRACELOOP_METRICS_ENABLED,
                "false",
                Config::new().with_metrics(true),
                |r| !r.metrics,
                |r| r.metrics,
            ),
            (
                TRACELOOP_LOGGING_ENABLED,
                "true",
                Config::new().with_logging(false),
                |r| r.logging,
                |r| !r.logging,
            ),
            (
                TRACELOOP_DISABLE_BATCH,
                "yes",
                Config::new().with_batch(true),
                |r| r.disable_batch,
                |r| !r.disable_batch,
            ),
            (
                TRACELOOP_TRACE_CONTEXT_PROPAGATION,
                "0",
                Config::new().with_trace_context_propagation(true),
                |r| !r.propagation,
                |r| r.propagation,
            ),
            (
                TRACELOOP_MASK_SECRETS,
                "on",
                Config::new().with_secret_masking(false),
                |r| r.mask_secrets,
                |r| !r.mask_secrets,
            ),
            (
                TRACELOOP_OUTPUT_FLAVOUR,
                "events",
                Config::new().with_flavour(Flavour::Legacy),
                |r| r.flavour == Flavour::Events,
                |r| r.flavour == Flavour::Legacy,
            ),
            (
                TRACELOOP_INSTRUMENTS,
                "anthropic",
                Config::new().with_instruments([ApiFormat::OpenAi]),
                |r| r.instruments == Some(vec![ApiFormat::Anthropic]),
                |r| r.instruments == Some(vec![ApiFormat::OpenAi]),
            ),
            (
                TRACELOOP_BLOCK_INSTRUMENTS,
                "openai,anthropic",
                Config::new().with_block_instruments([]),
                |r| r.block_instruments.len() == 2,
                |r| r.block_instruments.is_empty(),
            ),
            (
                TRACELOOP_TRACING_ENABLED,
                "false",
                Config::new().with_enabled(true),
                |r| !r.enabled,
                |r| r.enabled,
            ),
            (
                OTEL_SDK_DISABLED,
                "true",
                Config::new().with_enabled(true),
                |r| !r.enabled,
                |r| r.enabled,
            ),
            (
                OTEL_SERVICE_NAME,
                "from-env",
                Config::new().with_app_name("from-code"),
                |r| r.app_name == "from-env",
                |r| r.app_name == "from-code",
            ),
            (
                OTEL_RESOURCE_ATTRIBUTES,
                "team=a,tier=gold",
                Config::new().with_resource_attributes([("team", "b")]),
                |r| r.resource["team"] == "a" && r.resource["tier"] == "gold",
                |r| r.resource["team"] == "b" && r.resource["tier"] == "gold",
            ),
            (
                OTEL_TRACES_SAMPLER,
                "always_off",
                Config::new().with_sampler(SamplerChoice::AlwaysOn),
                |r| r.sampler == SamplerChoice::AlwaysOff,
                |r| r.sampler == SamplerChoice::AlwaysOn,
            ),
            (
                TRACELOOP_BASE_URL,
                "http://env:1",
                Config::new().with_api_endpoint("http://code:2"),
                |r| {
                    r.traces
                        .as_ref()
                        .is_some_and(|t| t.url == "http://env:1/v1/traces")
                },
                |r| {
                    r.traces
                        .as_ref()
                        .is_some_and(|t| t.url == "http://code:2/v1/traces")
                },
            ),
            (
                OTEL_EXPORTER_OTLP_ENDPOINT,
                "http://otel:1",
                Config::new().with_api_endpoint("http://code:2"),
                |r| {
                    r.traces
                        .as_ref()
                        .is_some_and(|t| t.url == "http://otel:1/v1/traces")
                },
                |r| {
                    r.traces
                        .as_ref()
                        .is_some_and(|t| t.url == "http://code:2/v1/traces")
                },
            ),
            (
                OTEL_EXPORTER_OTLP_PROTOCOL,
                "grpc",
                Config::new().with_protocol(Protocol::HttpJson),
                |r| {
                    r.traces
                        .as_ref()
                        .is_some_and(|t| t.protocol == Protocol::Grpc)
                },
                |r| {
                    r.traces
                        .as_ref()
                        .is_some_and(|t| t.protocol == Protocol::HttpJson)
                },
            ),
            (
                TRACELOOP_API_KEY,
                "k-env",
                Config::new().with_api_key("k-code"),
                |r| {
                    r.traces
                        .as_ref()
                        .is_some_and(|t| t.headers["Authorization"] == "Bearer k-env")
                },
                |r| {
                    r.traces
                        .as_ref()
                        .is_some_and(|t| t.headers["Authorization"] == "Bearer k-code")
                },
            ),
            (
                TRACELOOP_HEADERS,
                "x-h=env",
                Config::new().with_headers([("x-h", "code")]),
                |r| r.traces.as_ref().is_some_and(|t| t.headers["x-h"] == "env"),
                |r| {
                    r.traces
                        .as_ref()
                        .is_some_and(|t| t.headers["x-h"] == "code")
                },
            ),
        ];
        for (var, value, builder, env_effect, builder_effect) in rows {
            // Exporter settings need an endpoint to show; it comes from a variable of its own.
            let needs_endpoint = [OTEL_EXPORTER_OTLP_PROTOCOL, TRACELOOP_HEADERS].contains(&var);
            let endpoint = (OTEL_EXPORTER_OTLP_ENDPOINT, "http://base:4318");
            let env: Vec<(&str, &str)> = if needs_endpoint {
                vec![(var, value), endpoint]
            } else {
                vec![(var, value)]
            };
            let (r, errors) = resolve_with(&Config::new(), &env);
            assert!(errors.is_empty(), "{var}: {errors:?}");
            assert!(env_effect(&r), "{var}={value} had no effect");
            let (r, _) = resolve_with(&builder, &env);
            assert!(builder_effect(&r), "the builder did not win over {var}");
        }
    }

    #[test]
    fn propagators_from_env() {
        use PropagatorName::{Baggage, TraceContext};
        let (r, errors) = resolve_with(&Config::new(), &[]);
        assert!(errors.is_empty());
        assert_eq!(r.propagators, vec![TraceContext, Baggage]);
        assert!(r.propagation);
        let (r, _) = resolve_with(
            &Config::new(),
            &[(OTEL_PROPAGATORS, "Baggage, b3 ,tracecontext,baggage,xray")],
        );
        assert_eq!(r.propagators, vec![Baggage, TraceContext]);
        assert_eq!(r.unknown_propagators, vec!["b3", "xray"]);
        let (r, _) = resolve_with(&Config::new(), &[(OTEL_PROPAGATORS, "none")]);
        assert!(r.propagators.is_empty());
        assert!(!r.propagation, "none turns traceparent on LLM requests off");
        let (r, _) = resolve_with(
            &Config::new(),
            &[
                (OTEL_PROPAGATORS, "none"),
                (TRACELOOP_TRACE_CONTEXT_PROPAGATION, "true"),
            ],
        );
        assert!(r.propagation, "the Traceloop switch is more specific");
        let (r, _) = resolve_with(
            &Config::new().with_trace_context_propagation(true),
            &[(OTEL_PROPAGATORS, "none")],
        );
        assert!(r.propagation, "code wins");
        let (r, _) = resolve_with(
            &Config::new()
                .with_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new()),
            &[(OTEL_PROPAGATORS, "none")],
        );
        assert!(
            r.propagation,
            "a propagator given in code replaces the variable"
        );
    }

    #[test]
    fn sampler_from_env() {
        let (r, _) = resolve_with(
            &Config::new(),
            &[
                (OTEL_TRACES_SAMPLER, "parentbased_traceidratio"),
                (OTEL_TRACES_SAMPLER_ARG, "0.25"),
            ],
        );
        assert_eq!(r.sampler, SamplerChoice::ParentBasedTraceIdRatio(0.25));
        let (r, errors) = resolve_with(&Config::new(), &[(OTEL_TRACES_SAMPLER_ARG, "7")]);
        assert_eq!(r.sampler, SamplerChoice::ParentBasedAlwaysOn);
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn every_read_variable_is_documented_and_every_documented_variable_is_read() {
        let read = RefCell::new(Vec::<String>::new());
        let lookup = |k: &str| {
            read.borrow_mut().push(k.to_owned());
            None
        };
        let mut env = Env::new(&lookup);
        let _ = resolve(&Config::new(), &mut env);
        let read: std::collections::BTreeSet<String> = read.into_inner().into_iter().collect();
        let documented: std::collections::BTreeSet<String> =
            ENV_VARS.iter().map(|v| v.name.to_owned()).collect();
        assert_eq!(read, documented);
    }
}

#[cfg(test)]
mod export_limit_tests {
    use super::*;

    fn limits(vars: &[(&str, &str)], config: &Config) -> (ExportLimits, usize) {
        let lookup = |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        };
        let mut env = Env::new(&lookup);
        let l = export_limits(config, &mut env);
        (l, env.errors.len())
    }

    #[test]
    fn span_attribute_limit_wins_over_the_general_one() {
        let (l, errors) = limits(
            &[
                (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, "1000"),
                (OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT, "100"),
            ],
            &Config::new(),
        );
        assert_eq!((l.attribute_value_length, errors), (Some(100), 0));
        let (l, _) = limits(
            &[(OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, "1000")],
            &Config::new(),
        );
        assert_eq!(l.attribute_value_length, Some(1000));
        let (l, _) = limits(&[], &Config::new());
        assert_eq!(l.attribute_value_length, None);
    }

    #[test]
    fn export_limits_defaults_env_and_code() {
        let (l, _) = limits(&[], &Config::new());
        assert_eq!(l.max_request_bytes, 4 * 1024 * 1024);
        assert_eq!(l.queue_max_bytes, 64 * 1024 * 1024);
        assert_eq!(l.cardinality_limit, 500);
        assert_eq!(l.timeout, std::time::Duration::from_secs(10));
        let vars = [
            (OTEL_EXPORTER_OTLP_TIMEOUT, "250"),
            (TRACELOOP_EXPORT_MAX_REQUEST_BYTES, "1000000"),
            (TRACELOOP_EXPORT_QUEUE_MAX_BYTES, "2000000"),
            (TRACELOOP_METRICS_CARDINALITY_LIMIT, "50"),
        ];
        let (l, errors) = limits(&vars, &Config::new());
        assert_eq!(errors, 0);
        assert_eq!(l.timeout, std::time::Duration::from_millis(250));
        assert_eq!(
            (l.max_request_bytes, l.queue_max_bytes, l.cardinality_limit),
            (1_000_000, 2_000_000, 50)
        );
        let (l, _) = limits(
            &vars,
            &Config::new()
                .with_export_timeout(std::time::Duration::from_secs(1))
                .with_export_max_request_bytes(5),
        );
        assert_eq!(l.timeout, std::time::Duration::from_secs(1));
        assert_eq!(l.max_request_bytes, 5);
        let (_, errors) = limits(
            &[(TRACELOOP_EXPORT_QUEUE_MAX_BYTES, "lots")],
            &Config::new(),
        );
        assert_eq!(errors, 1);
    }
}

#[cfg(test)]
mod doc_tests {
    use super::ENV_VARS;

    /// The table in `docs/configuration.md` (rendered in the crate docs) lists exactly the
    /// variables in [`ENV_VARS`], with the same defaults.
    #[test]
    fn documented_table_equals_what_the_code_reads() {
        let doc = include_str!("docs/configuration.md");
        let rows: Vec<(String, String)> = doc
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| {
                let cells: Vec<&str> = l.split(" | ").collect();
                (
                    cells[0]
                        .trim_start_matches("| ")
                        .trim_matches('`')
                        .to_owned(),
                    cells[1].to_owned(),
                )
            })
            .collect();
        let code: Vec<(String, String)> = ENV_VARS
            .iter()
            .map(|v| (v.name.to_owned(), v.default.to_owned()))
            .collect();
        assert_eq!(rows, code);
    }
}
