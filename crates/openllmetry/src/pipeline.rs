//! The one place the pipeline is built: from the plain-data [`Config`] and its [`Resolved`]
//! settings to OTLP exporters, span processors, the tracer, meter and logger providers, the
//! global propagator and the [`Instrumentation`] every adapter records with.
//!
//! Dependencies point one way: this module reads [`crate::config`] (data), [`crate::sink`]
//! (the user's exporters, type-erased) and [`crate::export`] (the pipeline's parts); none of
//! them imports this module.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use openllmetry_core::{Fault, Instrumentation};
use openllmetry_semconv::metric;
use opentelemetry::KeyValue;
use opentelemetry::metrics::Counter;
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
#[cfg(feature = "otlp")]
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider, SimpleSpanProcessor,
    SpanExporter, TracerProviderBuilder,
};

use crate::config::{
    Config, ConfigError, ExportLimits, PropagatorName, Protocol, Resolved, SamplerChoice,
    SignalEndpoint,
};
use crate::console::ConsoleExporter;
use crate::export::{Bounded, Budgeted, CountFailures, Encoding, Hook, PostProcess, QueueBudget};
use crate::sink::SpanSink;

/// What [`build`] made: the providers (not yet shut down) and where traces go.
pub(crate) struct Pipeline {
    pub(crate) tracer_provider: SdkTracerProvider,
    pub(crate) meter_provider: Option<SdkMeterProvider>,
    pub(crate) logger_provider: Option<SdkLoggerProvider>,
    pub(crate) instrumentation: Instrumentation,
    /// Human-readable trace destinations, for init's summary line.
    pub(crate) destinations: Vec<String>,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("destinations", &self.destinations)
            .finish_non_exhaustive()
    }
}

/// The instrumentation of a disabled SDK: records nothing.
pub(crate) fn disabled() -> Instrumentation {
    let noop = opentelemetry::trace::noop::NoopTracerProvider::new();
    let instrumentation = Instrumentation::builder()
        .with_tracer_provider(&noop)
        .with_metrics(false)
        .with_content_capture(false)
        .build();
    Instrumentation::set_global(instrumentation.clone());
    instrumentation
}

fn sampler(choice: SamplerChoice) -> Sampler {
    match choice {
        SamplerChoice::AlwaysOn => Sampler::AlwaysOn,
        SamplerChoice::AlwaysOff => Sampler::AlwaysOff,
        SamplerChoice::TraceIdRatio(r) => Sampler::TraceIdRatioBased(r),
        SamplerChoice::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        SamplerChoice::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        SamplerChoice::ParentBasedTraceIdRatio(r) => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(r)))
        }
    }
}

fn resource(r: &Resolved) -> Resource {
    Resource::builder()
        .with_attributes(
            r.resource
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .build()
}

// ---------------------------------------------------------------------------------------
// OTLP exporters: HTTP/protobuf, HTTP/JSON or gRPC, one rule for every signal.
// ---------------------------------------------------------------------------------------

fn exporter_error(e: impl fmt::Display) -> ConfigError {
    ConfigError::Exporter(e.to_string())
}

#[cfg(feature = "otlp")]
fn check_runtime(endpoint: &SignalEndpoint) -> Result<(), ConfigError> {
    if endpoint.protocol == Protocol::Grpc && tokio::runtime::Handle::try_current().is_err() {
        return Err(ConfigError::NoRuntimeForGrpc);
    }
    Ok(())
}

#[cfg(feature = "otlp")]
fn metadata(headers: &BTreeMap<String, String>) -> tonic::metadata::MetadataMap {
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

#[cfg(feature = "otlp")]
fn http_headers(headers: &BTreeMap<String, String>) -> HashMap<String, String> {
    headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(feature = "otlp")]
/// The gRPC channel for `endpoint`, every wait bounded by its export timeout: the request,
/// the TCP connect and (for `grpcs://`, resolved to `https://`) the TLS handshake, verified
/// against the OS roots. tonic's request timeout alone does not cover connecting: a
/// collector that never completes the TCP or TLS handshake would hold the export forever.
fn grpc_channel(endpoint: &SignalEndpoint) -> Result<tonic::transport::Channel, ConfigError> {
    let mut channel = tonic::transport::Endpoint::from_shared(endpoint.url.clone())
        .map_err(exporter_error)?
        .timeout(endpoint.timeout)
        .connect_timeout(endpoint.timeout);
    if endpoint.url.starts_with("https://") {
        channel = channel
            .tls_config(
                tonic::transport::ClientTlsConfig::new()
                    .with_enabled_roots()
                    .timeout(endpoint.timeout),
            )
            .map_err(exporter_error)?;
    }
    Ok(channel.connect_lazy())
}

#[cfg(feature = "otlp")]
macro_rules! otlp_exporter {
    ($ty:ty, $endpoint:expr) => {{
        let endpoint: &SignalEndpoint = $endpoint;
        check_runtime(endpoint)?;
        match endpoint.protocol {
            Protocol::Grpc => <$ty>::builder()
                .with_tonic()
                .with_channel(grpc_channel(endpoint)?)
                .with_timeout(endpoint.timeout)
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
                .with_timeout(endpoint.timeout)
                .with_headers(http_headers(&endpoint.headers))
                .build()
                .map_err(exporter_error),
        }
    }};
}

#[cfg(feature = "otlp")]
/// The OTLP span exporter for `endpoint` (failures counted).
pub(crate) fn span_exporter(
    endpoint: &SignalEndpoint,
) -> Result<CountFailures<opentelemetry_otlp::SpanExporter>, ConfigError> {
    otlp_exporter!(opentelemetry_otlp::SpanExporter, endpoint).map(|e| CountFailures(e, "traces"))
}

#[cfg(feature = "otlp")]
/// The OTLP metric exporter for `endpoint` (failures counted).
pub(crate) fn metric_exporter(
    endpoint: &SignalEndpoint,
) -> Result<CountFailures<opentelemetry_otlp::MetricExporter>, ConfigError> {
    otlp_exporter!(opentelemetry_otlp::MetricExporter, endpoint)
        .map(|e| CountFailures(e, "metrics"))
}

#[cfg(feature = "otlp")]
/// The OTLP log exporter for `endpoint` (failures counted).
pub(crate) fn log_exporter(
    endpoint: &SignalEndpoint,
) -> Result<CountFailures<opentelemetry_otlp::LogExporter>, ConfigError> {
    otlp_exporter!(opentelemetry_otlp::LogExporter, endpoint).map(|e| CountFailures(e, "logs"))
}

/// Without the `otlp` feature an OTLP endpoint cannot be served.
#[cfg(not(feature = "otlp"))]
fn no_otlp(endpoint: &SignalEndpoint) -> ConfigError {
    ConfigError::Exporter(format!(
        "{} needs OTLP export, which this build of the openllmetry crate leaves out (its `otlp` feature is off)",
        endpoint.url
    ))
}

// ---------------------------------------------------------------------------------------
// Span processors.
// ---------------------------------------------------------------------------------------

/// Adds `exporter` behind a simple or batch processor, wrapped in the post-processing hook.
fn add_exporter<E: SpanExporter + 'static>(
    builder: TracerProviderBuilder,
    exporter: E,
    hook: Option<Hook>,
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

#[cfg(feature = "otlp")]
/// Adds the OTLP `exporter` behind the bounded pipeline: post-processing hook → queue budget
/// → batch processor (simple mode: batches of one, exported at once, off the caller's
/// thread) → size-bounded exporter.
fn add_otlp_exporter<E: SpanExporter + 'static>(
    builder: TracerProviderBuilder,
    exporter: E,
    hook: Option<Hook>,
    simple: bool,
    protocol: Protocol,
    limits: &ExportLimits,
) -> TracerProviderBuilder {
    let enc = if protocol == Protocol::HttpJson {
        Encoding::Json
    } else {
        Encoding::Protobuf
    };
    let budget = QueueBudget::new(limits.queue_max_bytes, limits.max_queue_spans, enc);
    let bounded = Bounded::new(
        exporter,
        budget.clone(),
        limits.max_request_bytes,
        limits.attribute_value_length,
    );
    let mut config = BatchConfigBuilder::default().with_max_queue_size(limits.max_queue_spans);
    if simple {
        config = config
            .with_max_export_batch_size(1)
            .with_scheduled_delay(Duration::from_millis(10));
    }
    let batch = BatchSpanProcessor::builder(bounded)
        .with_batch_config(config.build())
        .build();
    let budgeted = Budgeted {
        budget,
        inner: batch,
    };
    match hook {
        None => builder.with_span_processor(budgeted),
        Some(hook) => builder.with_span_processor(PostProcess {
            hook,
            inner: budgeted,
        }),
    }
}

// ---------------------------------------------------------------------------------------
// The whole pipeline.
// ---------------------------------------------------------------------------------------

/// Builds every provider from `config` (the user's exporters, hooks and propagator) and `r`
/// (everything else, resolved), then installs the globals: tracer and meter providers, the
/// text-map propagator, the content switch and the global [`Instrumentation`]. On error
/// nothing global is installed.
pub(crate) fn build(mut config: Config, r: &Resolved) -> Result<Pipeline, ConfigError> {
    let resource = resource(r);
    let hook: Option<Hook> = config.span_postprocess.clone();
    let simple = r.disable_batch;

    // Traces: the context processor first, then the export pipeline(s).
    let mut tb = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_sampler(sampler(r.sampler))
        .with_span_processor(crate::span_processor::ContextSpanProcessor::new());
    let mut destinations = Vec::new();
    let custom = !config.span_sinks.is_empty();
    for sink in std::mem::take(&mut config.span_sinks) {
        tb = match sink {
            SpanSink::Exporter(e) => add_exporter(tb, e, hook.clone(), simple),
            SpanSink::Processor(p) => tb.with_span_processor(p),
        };
    }
    if custom {
        destinations.push("a custom exporter".to_owned());
    }
    if let Some(t) = &r.traces
        && !custom
    {
        #[cfg(not(feature = "otlp"))]
        return Err(no_otlp(t));
        #[cfg(feature = "otlp")]
        {
            tb = add_otlp_exporter(
                tb,
                span_exporter(t)?,
                hook.clone(),
                simple,
                t.protocol,
                &r.export_limits,
            );
            destinations.push(format!("{} ({:?})", t.url, t.protocol));
        }
    }
    if r.console {
        // Simple processing so each trace prints as soon as its root ends.
        let console = ConsoleExporter::new(r.console_stream.sink());
        tb = add_exporter(tb, console, hook.clone(), true);
        destinations.push("the console".to_owned());
    }
    let tracer_provider = tb.build();

    // Metrics.
    let meter_provider = if r.metrics {
        let limit = r.export_limits.cardinality_limit;
        let mb = SdkMeterProvider::builder()
            .with_resource(resource.clone())
            .with_view(move |_: &opentelemetry_sdk::metrics::Instrument| {
                opentelemetry_sdk::metrics::Stream::builder()
                    .with_cardinality_limit(limit)
                    .build()
                    .ok()
            });
        if let Some(exporter) = config.metric_exporter.take() {
            let reader = opentelemetry_sdk::metrics::PeriodicReader::builder(exporter).build();
            Some(mb.with_reader(reader).build())
        } else if let Some(m) = &r.metrics_endpoint {
            #[cfg(not(feature = "otlp"))]
            return Err(no_otlp(m));
            #[cfg(feature = "otlp")]
            {
                let reader =
                    opentelemetry_sdk::metrics::PeriodicReader::builder(metric_exporter(m)?)
                        .build();
                Some(mb.with_reader(reader).build())
            }
        } else {
            // Console mode: metrics are kept out of the console output.
            None
        }
    } else {
        None
    };

    // Logs (events flavour, or explicitly on).
    let logger_provider = if r.logging {
        let lb = SdkLoggerProvider::builder().with_resource(resource.clone());
        if let Some(exporter) = config.log_exporter.take() {
            Some(lb.with_simple_exporter(exporter).build())
        } else if let Some(l) = &r.logs_endpoint {
            #[cfg(not(feature = "otlp"))]
            return Err(no_otlp(l));
            #[cfg(feature = "otlp")]
            Some(lb.with_batch_exporter(log_exporter(l)?).build())
        } else {
            None
        }
    } else {
        None
    };

    // Globals.
    opentelemetry::global::set_tracer_provider(tracer_provider.clone());
    if let Some(m) = &meter_provider {
        opentelemetry::global::set_meter_provider(m.clone());
    }
    match config.propagator.take() {
        Some(p) => {
            opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![p]))
        }
        None => {
            let parts: Vec<Box<dyn TextMapPropagator + Send + Sync>> = r
                .propagators
                .iter()
                .map(|p| -> Box<dyn TextMapPropagator + Send + Sync> {
                    match p {
                        PropagatorName::TraceContext => Box::new(TraceContextPropagator::new()),
                        PropagatorName::Baggage => Box::new(BaggagePropagator::new()),
                    }
                })
                .collect();
            // `none`: an empty composite injects and extracts nothing.
            opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(parts))
        }
    }
    crate::state::set_mask_secrets(r.mask_secrets);

    // The instrumentation every adapter records with.
    let fault_counter: Option<Counter<u64>> = meter_provider.as_ref().map(|m| {
        use opentelemetry::metrics::MeterProvider as _;
        m.meter("openllmetry")
            .u64_counter(metric::OPENLLMETRY_INSTRUMENTATION_FAULTS)
            .with_unit("{fault}")
            .with_description("Provider exchanges the instrumentation could not fully understand")
            .build()
    });
    let mut ib = Instrumentation::builder()
        .with_tracer_provider(&tracer_provider)
        .with_flavour(r.flavour)
        .with_content_capture(r.content_capture)
        .with_trace_context_propagation(r.propagation)
        .with_blocked_providers(r.block_instruments.clone())
        .with_fault_hook(move |f: &Fault| {
            if let Some(c) = &fault_counter {
                c.add(
                    1,
                    &[
                        KeyValue::new("gen_ai.provider.name", f.provider.as_str()),
                        KeyValue::new("gen_ai.operation.name", f.operation.as_str()),
                        KeyValue::new("openllmetry.fault.kind", f.kind.as_str()),
                    ],
                );
            }
            crate::telemetry::record_fault(f);
            crate::diagnostics::fault(f.kind);
        });
    if let Some(allow) = &r.instruments {
        ib = ib.with_allowed_providers(allow.clone());
    }
    ib = match &meter_provider {
        Some(m) if r.metrics => ib.with_meter_provider(m),
        _ => ib.with_metrics(false),
    };
    if let Some(l) = &logger_provider {
        ib = ib.with_logger_provider(l);
    }
    let user_redact = config.redact.clone();
    crate::state::set_redact_hook(user_redact.clone());
    if r.mask_secrets || user_redact.is_some() {
        let mask = r.mask_secrets;
        ib = ib.with_redact_hook(move |target, content| {
            if mask {
                crate::redact::mask_content(content);
            }
            if let Some(h) = &user_redact {
                h(crate::redact::Redact::Llm { target, content });
            }
        });
    }
    let instrumentation = ib.build();
    Instrumentation::set_global(instrumentation.clone());
    // Keep a tracer handle alive for entity spans created through the global provider.
    let _ = tracer_provider.tracer("openllmetry");

    Ok(Pipeline {
        tracer_provider,
        meter_provider,
        logger_provider,
        instrumentation,
        destinations,
    })
}

#[cfg(all(test, feature = "otlp"))]
mod tests {
    use super::*;
    use crate::config::Env;
    use opentelemetry::InstrumentationScope;
    use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceState};
    use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};
    use std::time::Instant;

    fn resolved(vars: &[(&str, &str)]) -> Resolved {
        let lookup = |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        };
        let mut env = Env::new(&lookup);
        let r = crate::config::resolve(&Config::new(), &mut env);
        assert!(env.errors.is_empty(), "{:?}", env.errors);
        r
    }

    fn one_span() -> Vec<SpanData> {
        vec![SpanData {
            span_context: SpanContext::new(
                1u128.into(),
                SpanId::from(2u64),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Client,
            name: "chat".into(),
            start_time: std::time::SystemTime::now(),
            end_time: std::time::SystemTime::now(),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("t").build(),
        }]
    }

    /// A loopback listener that accepts connections and never answers; each connection's
    /// first byte (if any arrives) is sent on the returned channel.
    fn black_hole() -> (String, std::sync::mpsc::Receiver<u8>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut first = [0u8; 1];
                if conn.read_exact(&mut first).is_ok() {
                    let _ = tx.send(first[0]);
                }
                held.push(conn);
            }
        });
        (addr, rx)
    }

    /// Polls `fut` to completion on this thread (the OTLP/HTTP exporter's blocking client
    /// must not run inside a Tokio runtime, as in the SDK's batch thread).
    fn block_on<F: std::future::Future>(fut: F) -> F::Output {
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: std::sync::Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
        let mut cx = std::task::Context::from_waker(&waker);
        let mut fut = std::pin::pin!(fut);
        loop {
            if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::park_timeout(Duration::from_millis(10));
        }
    }

    /// The configured export timeout is what bounds an export to a collector that never
    /// answers: well under the 10 s default, for the general and the per-signal variable.
    #[test]
    fn an_unanswered_http_export_gives_up_after_the_configured_timeout() {
        let (addr, _first) = black_hole();
        let endpoint = format!("http://{addr}");
        for var in [
            crate::config::OTEL_EXPORTER_OTLP_TIMEOUT,
            crate::config::OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
        ] {
            let r = resolved(&[
                (crate::config::OTEL_EXPORTER_OTLP_ENDPOINT, &endpoint),
                (var, "300"),
            ]);
            let t = r.traces.as_ref().unwrap();
            assert_eq!(t.timeout, Duration::from_millis(300), "{var}");
            let exporter = span_exporter(t).unwrap();
            let start = Instant::now();
            let result = block_on(exporter.export(one_span()));
            let took = start.elapsed();
            assert!(
                result.is_err(),
                "{var}: a collector that never answers fails"
            );
            assert!(
                took < Duration::from_secs(5),
                "{var}=300 but the export took {took:?} (the default is 10 s)"
            );
        }
    }

    /// A per-signal timeout applies to its own signal only, and beats the general one.
    #[test]
    fn per_signal_timeouts_beat_the_general_one() {
        let r = resolved(&[
            (crate::config::OTEL_EXPORTER_OTLP_ENDPOINT, "http://c:4318"),
            (crate::config::OTEL_EXPORTER_OTLP_TIMEOUT, "2000"),
            (crate::config::OTEL_EXPORTER_OTLP_METRICS_TIMEOUT, "700"),
        ]);
        assert_eq!(r.traces.unwrap().timeout, Duration::from_millis(2000));
        assert_eq!(
            r.metrics_endpoint.unwrap().timeout,
            Duration::from_millis(700)
        );
        assert_eq!(
            r.logs_endpoint.unwrap().timeout,
            Duration::from_millis(2000)
        );
        let r = resolved(&[(crate::config::OTEL_EXPORTER_OTLP_ENDPOINT, "http://c:4318")]);
        assert_eq!(
            r.traces.unwrap().timeout,
            crate::config::DEFAULT_EXPORT_TIMEOUT
        );
    }

    /// `grpcs://` gets a TLS client: the collector's first byte is a TLS handshake record
    /// (0x16, the ClientHello), where plain `grpc://` starts with the HTTP/2 preface (`P`).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn grpcs_speaks_tls_and_grpc_does_not() {
        for (scheme, expected) in [("grpcs", 0x16u8), ("grpc", b'P')] {
            let (addr, first) = black_hole();
            let r = resolved(&[
                (
                    crate::config::TRACELOOP_BASE_URL,
                    &format!("{scheme}://{addr}"),
                ),
                (crate::config::OTEL_EXPORTER_OTLP_TIMEOUT, "1000"),
            ]);
            let t = r.traces.as_ref().unwrap();
            assert_eq!(t.protocol, Protocol::Grpc);
            let exporter = span_exporter(t).unwrap();
            let start = Instant::now();
            let result = tokio::time::timeout(Duration::from_secs(8), exporter.export(one_span()))
                .await
                .unwrap_or_else(|_| panic!("{scheme}: the export outlived its 1 s timeout by 7 s"));
            assert!(result.is_err(), "{scheme}: the black hole never answers");
            assert!(start.elapsed() < Duration::from_secs(5), "{scheme}");
            let byte = first
                .recv_timeout(Duration::from_secs(5))
                .expect("the exporter connected and sent something");
            assert_eq!(byte, expected, "{scheme}: first byte {byte:#04x}");
        }
    }

    /// A collector whose accept queue is full (the SYN is never answered: connecting hangs)
    /// holds a gRPC export no longer than its timeout.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_grpc_connect_that_never_completes_gives_up_after_the_timeout() {
        use socket2::{Domain, Socket, Type};
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        listener
            .bind(
                &"127.0.0.1:0"
                    .parse::<std::net::SocketAddr>()
                    .unwrap()
                    .into(),
            )
            .unwrap();
        listener.listen(0).unwrap();
        let addr = listener.local_addr().unwrap().as_socket().unwrap();
        // Fill the accept queue (never accepted): later connections are not answered.
        let mut fillers = Vec::new();
        for _ in 0..4 {
            let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
            if s.connect_timeout(&addr.into(), Duration::from_millis(200))
                .is_ok()
            {
                fillers.push(s);
            }
        }
        assert!(!fillers.is_empty());
        let r = resolved(&[
            (crate::config::TRACELOOP_BASE_URL, &format!("grpc://{addr}")),
            (crate::config::OTEL_EXPORTER_OTLP_TIMEOUT, "500"),
        ]);
        let exporter = span_exporter(r.traces.as_ref().unwrap()).unwrap();
        let start = Instant::now();
        let result = tokio::time::timeout(Duration::from_secs(8), exporter.export(one_span()))
            .await
            .expect("the export outlived its 500 ms timeout by 7.5 s");
        assert!(result.is_err());
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        drop(listener);
    }
}
