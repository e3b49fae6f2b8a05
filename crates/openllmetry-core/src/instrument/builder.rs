//! [`InstrumentationBuilder`]: the settings of an [`Instrumentation`].

use std::fmt;
use std::sync::Arc;

use opentelemetry::global::{self, BoxedTracer, ObjectSafeTracerProvider};
use opentelemetry::logs::LoggerProvider;
use opentelemetry::metrics::{Meter, MeterProvider};
use opentelemetry::{Context, InstrumentationScope};

use super::events::{EventEmitter, LoggerEmitter};
use super::metrics::Instruments;
use super::semconv_metrics::SemconvInstruments;
use super::{
    DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_INFLATED_BYTES, FaultHook, Inner, Instrumentation,
    ParentContextHook, RedactHook, SCOPE_NAME,
};
use crate::budget::ObservationBudget;
use crate::detect::{ApiFormat, Target};
use crate::fault::Fault;
use crate::render::{Content, Flavour};

/// Builder of [`Instrumentation`].
pub struct InstrumentationBuilder {
    tracer: Option<BoxedTracer>,
    meter: Option<Meter>,
    events: Option<Box<dyn EventEmitter>>,
    metrics: bool,
    flavour: Flavour,
    capture_content: bool,
    propagate: bool,
    allow: Option<Vec<ApiFormat>>,
    block: Vec<ApiFormat>,
    fault_hook: Option<FaultHook>,
    redact: Option<RedactHook>,
    parent_context: Option<ParentContextHook>,
    max_body_bytes: usize,
    max_inflated_bytes: usize,
    budget: Option<Arc<ObservationBudget>>,
    upstream_providers: Vec<(String, &'static str)>,
}

impl fmt::Debug for InstrumentationBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstrumentationBuilder")
            .field("flavour", &self.flavour)
            .field("capture_content", &self.capture_content)
            .finish_non_exhaustive()
    }
}

impl Default for InstrumentationBuilder {
    fn default() -> Self {
        InstrumentationBuilder {
            tracer: None,
            meter: None,
            events: None,
            metrics: true,
            flavour: Flavour::Current,
            capture_content: true,
            propagate: true,
            allow: None,
            block: Vec::new(),
            fault_hook: None,
            redact: None,
            parent_context: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_inflated_bytes: DEFAULT_MAX_INFLATED_BYTES,
            budget: None,
            upstream_providers: Vec::new(),
        }
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(SCOPE_NAME)
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_schema_url(openllmetry_semconv::SCHEMA_URL)
        .build()
}

impl InstrumentationBuilder {
    /// Records spans with this tracer provider instead of the global one.
    pub fn with_tracer_provider<P>(mut self, provider: &P) -> Self
    where
        P: ObjectSafeTracerProvider,
    {
        self.tracer = Some(BoxedTracer::new(provider.boxed_tracer(scope())));
        self
    }

    /// Records metrics with this meter provider instead of the global one.
    pub fn with_meter_provider<P: MeterProvider>(mut self, provider: &P) -> Self {
        self.meter = Some(provider.meter_with_scope(scope()));
        self
    }

    /// Emits log events (the [`Flavour::Events`] flavour) through this logger provider.
    /// Without one, the events flavour records no content.
    pub fn with_logger_provider<P>(mut self, provider: &P) -> Self
    where
        P: LoggerProvider,
        P::Logger: Send + Sync + 'static,
    {
        self.events = Some(Box::new(LoggerEmitter(provider.logger_with_scope(scope()))));
        self
    }

    /// Turns metrics on (default) or off.
    pub fn with_metrics(mut self, on: bool) -> Self {
        self.metrics = on;
        self
    }

    /// Chooses the output flavour (default [`Flavour::Current`]).
    pub fn with_flavour(mut self, flavour: Flavour) -> Self {
        self.flavour = flavour;
        self
    }

    /// Content capture (default on). Off means no prompt, completion, system instruction,
    /// tool argument, tool definition or embedding input anywhere.
    pub fn with_content_capture(mut self, on: bool) -> Self {
        self.capture_content = on;
        self
    }

    /// Trace context on outgoing requests (default on): the headers the global text-map
    /// propagator writes for the LLM span, or a W3C `traceparent` when none was configured
    /// (see [`LlmCall::propagation_headers`](super::LlmCall::propagation_headers)). Off, no
    /// header is added.
    pub fn with_trace_context_propagation(mut self, on: bool) -> Self {
        self.propagate = on;
        self
    }

    /// Instruments only these provider formats (default: all).
    pub fn with_allowed_providers(mut self, formats: impl IntoIterator<Item = ApiFormat>) -> Self {
        self.allow = Some(formats.into_iter().collect());
        self
    }

    /// Never instruments these provider formats.
    pub fn with_blocked_providers(mut self, formats: impl IntoIterator<Item = ApiFormat>) -> Self {
        self.block = formats.into_iter().collect();
        self
    }

    /// Receives every instrumentation fault.
    pub fn with_fault_hook(mut self, hook: impl Fn(&Fault) + Send + Sync + 'static) -> Self {
        self.fault_hook = Some(Arc::new(hook));
        self
    }

    /// Sees and may change content before it is rendered.
    pub fn with_redact_hook(
        mut self,
        hook: impl Fn(&Target, &mut Content) + Send + Sync + 'static,
    ) -> Self {
        self.redact = Some(Arc::new(hook));
        self
    }

    /// Supplies the parent context of LLM spans (default [`Context::current`]).
    pub fn with_parent_context(
        mut self,
        hook: impl Fn() -> Context + Send + Sync + 'static,
    ) -> Self {
        self.parent_context = Some(Arc::new(hook));
        self
    }

    /// Cap on a non-streamed response body kept for parsing (default
    /// [`DEFAULT_MAX_BODY_BYTES`]).
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Cap on the bytes a compressed response is inflated to for observation (default
    /// [`DEFAULT_MAX_INFLATED_BYTES`]).
    pub fn with_max_inflated_bytes(mut self, bytes: usize) -> Self {
        self.max_inflated_bytes = bytes;
        self
    }

    /// Takes observation buffers (request bodies parsed, response bodies accumulated) from
    /// this budget instead of the process-wide [`crate::budget::global`] one.
    pub fn with_observation_budget(mut self, budget: Arc<ObservationBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Labels every call under `base_url` (scheme, host, port and path prefix, e.g.
    /// `http://127.0.0.1:8080/v1`) with `provider_name` (`gen_ai.provider.name`), for an
    /// upstream whose URL does not name its provider (a proxy, a loopback server). The
    /// longest matching base URL wins. See [`crate::detect::known_provider`] for the names.
    pub fn with_upstream_provider(
        mut self,
        base_url: impl Into<String>,
        provider_name: &'static str,
    ) -> Self {
        let base = base_url.into().trim_end_matches('/').to_owned();
        self.upstream_providers.retain(|(b, _)| *b != base);
        self.upstream_providers.push((base, provider_name));
        self.upstream_providers
            .sort_by_key(|(b, _)| std::cmp::Reverse(b.len()));
        self
    }

    /// Builds the instrumentation.
    pub fn build(self) -> Instrumentation {
        let tracer = self
            .tracer
            .unwrap_or_else(|| global::tracer_with_scope(scope()));
        let meter = self.metrics.then(|| {
            self.meter
                .unwrap_or_else(|| global::meter_with_scope(scope()))
        });
        // The semconv flavour records the latest conventions' metrics instead.
        let semconv = self.flavour == Flavour::Semconv;
        let instruments = meter.as_ref().filter(|_| !semconv).map(Instruments::new);
        let semconv_instruments = meter
            .as_ref()
            .filter(|_| semconv)
            .map(SemconvInstruments::new);
        Instrumentation {
            inner: Arc::new(Inner {
                tracer,
                instruments,
                semconv_instruments,
                events: self.events,
                flavour: self.flavour,
                capture_content: self.capture_content,
                propagate: self.propagate,
                allow: self.allow,
                block: self.block,
                fault_hook: self.fault_hook,
                redact: self.redact,
                parent_context: self.parent_context,
                max_body_bytes: self.max_body_bytes,
                max_inflated_bytes: self.max_inflated_bytes,
                budget: self
                    .budget
                    .unwrap_or_else(|| crate::budget::global().clone()),
                upstream_providers: self.upstream_providers,
            }),
        }
    }
}
