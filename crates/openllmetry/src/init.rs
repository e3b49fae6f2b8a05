//! `init` / `try_init` and the guard they return.

use std::fmt;

use openllmetry_core::{Fault, Instrumentation};
use openllmetry_semconv::metric;
use opentelemetry::KeyValue;
use opentelemetry::metrics::Counter;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};

use crate::config::{self, Config, ConfigError, Env, Resolved, SamplerChoice};
use crate::console::ConsoleExporter;
use crate::export;

/// The running SDK. Dropping it flushes and shuts down every provider (bounded by the
/// exporters' timeouts); call [`OpenLlmetry::shutdown`] to do it explicitly.
#[must_use = "dropping the guard shuts the SDK down"]
pub struct OpenLlmetry {
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
    logger_provider: Option<SdkLoggerProvider>,
    instrumentation: Instrumentation,
    summary: String,
}

impl fmt::Debug for OpenLlmetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenLlmetry")
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

impl OpenLlmetry {
    /// The tracer provider (`None` when the SDK is disabled).
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.tracer_provider.as_ref()
    }

    /// The meter provider (`None` when metrics are off or the SDK is disabled).
    pub fn meter_provider(&self) -> Option<&SdkMeterProvider> {
        self.meter_provider.as_ref()
    }

    /// The logger provider (`None` unless logs/events are on).
    pub fn logger_provider(&self) -> Option<&SdkLoggerProvider> {
        self.logger_provider.as_ref()
    }

    /// The instrumentation the adapters record with (also installed as
    /// [`Instrumentation::global`]).
    pub fn instrumentation(&self) -> &Instrumentation {
        &self.instrumentation
    }

    /// One line saying where telemetry goes (what `init` printed).
    pub fn summary(&self) -> &str {
        &self.summary
    }

    /// Exports everything recorded so far.
    pub fn force_flush(&self) {
        if let Some(p) = &self.tracer_provider {
            let _ = p.force_flush();
        }
        if let Some(p) = &self.meter_provider {
            let _ = p.force_flush();
        }
        if let Some(p) = &self.logger_provider {
            let _ = p.force_flush();
        }
    }

    /// Flushes and shuts down every provider.
    pub fn shutdown(mut self) {
        self.shutdown_inner();
    }

    fn shutdown_inner(&mut self) {
        // Each provider's shutdown exports what is pending (one final export per signal).
        if let Some(p) = self.tracer_provider.take() {
            let _ = p.shutdown();
        }
        if let Some(p) = self.meter_provider.take() {
            let _ = p.shutdown();
        }
        if let Some(p) = self.logger_provider.take() {
            let _ = p.shutdown();
        }
        crate::telemetry::shutdown();
    }
}

impl Drop for OpenLlmetry {
    fn drop(&mut self) {
        self.shutdown_inner();
    }
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

/// Everything `init` needs from the configuration and the environment (code > env >
/// default), with the invalid values met on the way (each replaced by its default).
struct Prepared {
    resolved: Resolved,
    telemetry: crate::telemetry::Decision,
    telemetry_config: crate::telemetry::TelemetryConfig,
    errors: Vec<ConfigError>,
}

fn prepare(config: &Config) -> Prepared {
    let lookup = |k: &str| std::env::var(k).ok();
    let mut env = Env::new(&lookup);
    let resolved = config::resolve(config, &mut env);
    let mut errors = env.errors;
    let (telemetry, level_error) = crate::telemetry::decide_lossy(config.telemetry, &lookup);
    if let Some(e) = level_error {
        errors.push(ConfigError::InvalidValue {
            name: config::TRACELOOP_TELEMETRY,
            value: e.to_string(),
            expected: "off, local, on or debug",
        });
    }
    let telemetry_config = match &config.telemetry_config {
        Some(c) => c.clone(),
        None => {
            let (c, endpoint_error) = crate::telemetry::TelemetryConfig::from_lookup_lossy(&lookup);
            if let Some(e) = endpoint_error {
                errors.push(ConfigError::InvalidValue {
                    name: config::TRACELOOP_TELEMETRY_ENDPOINT,
                    value: e.to_string(),
                    expected: "an http(s) URL",
                });
            }
            c
        }
    };
    Prepared {
        resolved,
        telemetry,
        telemetry_config,
        errors,
    }
}

/// Starts the SDK, returning an error for any invalid configuration value or exporter
/// problem (nothing is installed then).
pub fn try_init(config: Config) -> Result<OpenLlmetry, ConfigError> {
    let p = prepare(&config);
    if let Some(e) = p.errors.into_iter().next() {
        return Err(e);
    }
    start(config, p.resolved, p.telemetry, p.telemetry_config)
}

/// Starts the SDK. Invalid values are reported on stderr and replaced by their defaults; if
/// the exporters cannot be built, the SDK records nothing and says why. Never panics.
pub fn init(config: Config) -> OpenLlmetry {
    let p = prepare(&config);
    for e in &p.errors {
        eprintln!("openllmetry: {e}; using the default");
    }
    match start(config, p.resolved, p.telemetry, p.telemetry_config) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("openllmetry: {e}; telemetry of LLM calls is off");
            disabled(e.to_string())
        }
    }
}

fn disabled(reason: String) -> OpenLlmetry {
    let noop = opentelemetry::trace::noop::NoopTracerProvider::new();
    let instrumentation = Instrumentation::builder()
        .with_tracer_provider(&noop)
        .with_metrics(false)
        .build();
    Instrumentation::set_global(instrumentation.clone());
    OpenLlmetry {
        tracer_provider: None,
        meter_provider: None,
        logger_provider: None,
        instrumentation,
        summary: format!("openllmetry: disabled ({reason})"),
    }
}

fn start(
    mut config: Config,
    r: Resolved,
    telemetry: crate::telemetry::Decision,
    telemetry_config: crate::telemetry::TelemetryConfig,
) -> Result<OpenLlmetry, ConfigError> {
    let telemetry_status = crate::telemetry::install(telemetry, telemetry_config);
    if !r.enabled {
        crate::state::set_content_capture(false);
        return Ok(disabled(
            "TRACELOOP_TRACING_ENABLED / OTEL_SDK_DISABLED / with_enabled(false)".into(),
        ));
    }
    let resource = resource(&r);
    let hook = config.span_postprocess.clone();
    let simple = r.disable_batch;

    // Traces: the context processor first, then the export pipeline(s).
    let mut tb = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_sampler(sampler(r.sampler))
        .with_span_processor(crate::span_processor::ContextSpanProcessor::new());
    let mut destinations = Vec::new();
    let custom = !config.span_exporters.is_empty();
    for setup in std::mem::take(&mut config.span_exporters) {
        tb = setup(tb, hook.clone(), simple);
    }
    if custom {
        destinations.push("a custom exporter".to_owned());
    }
    if let Some(t) = &r.traces
        && !custom
    {
        tb = export::add_otlp_exporter(
            tb,
            export::span_exporter(t, r.export_limits.timeout)?,
            hook.clone(),
            simple,
            t.protocol,
            &r.export_limits,
        );
        destinations.push(format!("{} ({:?})", t.url, t.protocol));
    }
    if r.console {
        // Simple processing so each trace prints as soon as its root ends.
        tb = export::add_exporter(tb, ConsoleExporter::default(), hook.clone(), true);
        destinations.push("the console".to_owned());
    }
    let tracer_provider = tb.build();

    // Metrics.
    let meter_provider = if r.metrics {
        let limit = r.export_limits.cardinality_limit;
        let mut mb = SdkMeterProvider::builder()
            .with_resource(resource.clone())
            .with_view(move |_: &opentelemetry_sdk::metrics::Instrument| {
                opentelemetry_sdk::metrics::Stream::builder()
                    .with_cardinality_limit(limit)
                    .build()
                    .ok()
            });
        if let Some(setup) = config.metric_exporter.take() {
            mb = setup(mb);
            Some(mb.build())
        } else if let Some(m) = &r.metrics_endpoint {
            mb = mb.with_reader(
                opentelemetry_sdk::metrics::PeriodicReader::builder(export::metric_exporter(
                    m,
                    r.export_limits.timeout,
                )?)
                .build(),
            );
            Some(mb.build())
        } else {
            // Console mode: metrics are kept out of the console output.
            None
        }
    } else {
        None
    };

    // Logs (events flavour, or explicitly on).
    let logger_provider = if r.logging {
        let mut lb = SdkLoggerProvider::builder().with_resource(resource.clone());
        if let Some(setup) = config.log_exporter.take() {
            lb = setup(lb);
            Some(lb.build())
        } else if let Some(l) = &r.logs_endpoint {
            lb = lb.with_batch_exporter(export::log_exporter(l, r.export_limits.timeout)?);
            Some(lb.build())
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
        Some(set) => set(),
        None => {
            opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
                Box::new(TraceContextPropagator::new()),
                Box::new(BaggagePropagator::new()),
            ]))
        }
    }
    crate::state::set_content_capture(r.content_capture);

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
    if r.mask_secrets || user_redact.is_some() {
        let mask = r.mask_secrets;
        ib = ib.with_redact_hook(move |target, content| {
            if mask {
                crate::redact::mask_content(content);
            }
            if let Some(h) = &user_redact {
                h(target, content);
            }
        });
    }
    let instrumentation = ib.build();
    Instrumentation::set_global(instrumentation.clone());
    // Keep a tracer handle alive for entity spans created through the global provider.
    let _ = tracer_provider.tracer("openllmetry");

    let summary = format!(
        "openllmetry: {} → {}; content capture {}, flavour {}",
        r.app_name,
        if destinations.is_empty() {
            "nowhere (no exporter)".to_owned()
        } else {
            destinations.join(" and ")
        },
        if r.content_capture { "on" } else { "off" },
        r.flavour.as_str(),
    );
    if r.console && r.traces.is_none() {
        eprintln!(
            "openllmetry: no endpoint, API key or exporter configured: printing traces to the console (set TRACELOOP_BASE_URL or OTEL_EXPORTER_OTLP_ENDPOINT to export)"
        );
    }
    eprintln!("{telemetry_status}");
    Ok(OpenLlmetry {
        tracer_provider: Some(tracer_provider),
        meter_provider,
        logger_provider,
        instrumentation,
        summary,
    })
}
