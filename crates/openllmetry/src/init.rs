//! `init` / `try_init` and the guard they return.

use std::fmt;

use openllmetry_core::Instrumentation;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::config::{self, Config, ConfigError, Env, Resolved};
use crate::pipeline::{self, Pipeline};

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

/// Everything `init` needs from the configuration and the environment (code > env >
/// default), with the invalid values met on the way (each replaced by its default).
fn prepare(config: &Config) -> (Resolved, Vec<ConfigError>) {
    let lookup = |k: &str| std::env::var(k).ok();
    let mut env = Env::new(&lookup);
    let resolved = config::resolve(config, &mut env);
    (resolved, env.errors)
}

/// Starts the SDK, returning an error for any invalid configuration value or exporter
/// problem (nothing is installed then).
pub fn try_init(config: Config) -> Result<OpenLlmetry, ConfigError> {
    let (resolved, errors) = prepare(&config);
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    start(config, resolved)
}

/// Starts the SDK. Invalid values are reported on stderr and replaced by their defaults; if
/// the exporters cannot be built, the SDK records nothing and says why. Never panics.
pub fn init(config: Config) -> OpenLlmetry {
    let (resolved, errors) = prepare(&config);
    for e in &errors {
        crate::diagnostics::warn(format_args!("{e}; using the default"));
    }
    match start(config, resolved) {
        Ok(guard) => guard,
        Err(e) => {
            crate::diagnostics::warn(format_args!("{e}; telemetry of LLM calls is off"));
            disabled(e.to_string())
        }
    }
}

fn disabled(reason: String) -> OpenLlmetry {
    OpenLlmetry {
        tracer_provider: None,
        meter_provider: None,
        logger_provider: None,
        instrumentation: pipeline::disabled(),
        summary: format!("openllmetry: disabled ({reason})"),
    }
}

fn start(config: Config, r: Resolved) -> Result<OpenLlmetry, ConfigError> {
    let telemetry_status = crate::telemetry::install(r.telemetry, r.telemetry_config.clone());
    if config.propagator.is_none() && !r.unknown_propagators.is_empty() {
        crate::diagnostics::warn(format_args!(
            "{} lists propagators this SDK does not provide, ignored: {} (supported: tracecontext, baggage, none)",
            config::OTEL_PROPAGATORS,
            r.unknown_propagators.join(", ")
        ));
    }
    if !r.enabled {
        return Ok(disabled(
            "TRACELOOP_TRACING_ENABLED / OTEL_SDK_DISABLED / with_enabled(false)".into(),
        ));
    }
    let Pipeline {
        tracer_provider,
        meter_provider,
        logger_provider,
        instrumentation,
        destinations,
    } = pipeline::build(config, &r)?;

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
    // Init prints one line: the telemetry status, preceded (in console mode) by the notice
    // that traces go to the console.
    let status = telemetry_status.to_string();
    if r.console && r.traces.is_none() {
        // `openllmetry telemetry: …` becomes `telemetry: …` after the notice's own prefix.
        let status = status.strip_prefix("openllmetry ").unwrap_or(&status);
        crate::diagnostics::info_line(format_args!(
            "openllmetry: no endpoint, API key or exporter configured: printing traces to the console (set TRACELOOP_BASE_URL or OTEL_EXPORTER_OTLP_ENDPOINT to export); {status}"
        ));
    } else {
        crate::diagnostics::info_line(&status);
    }
    Ok(OpenLlmetry {
        tracer_provider: Some(tracer_provider),
        meter_provider,
        logger_provider,
        instrumentation,
        summary,
    })
}
