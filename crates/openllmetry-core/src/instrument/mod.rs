//! The recorder: [`Instrumentation`] turns one observed HTTP exchange into a span, metric
//! points and (in the events flavour) log events.
//!
//! Transport adapters drive it in three steps, all synchronous and non-blocking:
//!
//! 1. [`Instrumentation::start`] with the method, URL and request body: detects the provider,
//!    parses the request, starts the CLIENT span, and hands back an [`LlmCall`] (or `None`
//!    for anything that is not an instrumented LLM call).
//! 2. [`LlmCall::propagation_headers`] to add `traceparent` to the outgoing request, then
//!    [`LlmCall::on_response`] with the status and headers (or [`LlmCall::on_transport_error`]).
//! 3. [`ResponseObserver::on_data`] with every body chunk as it passes to the caller,
//!    then [`ResponseObserver::on_end`] / [`ResponseObserver::on_error`]. Dropping the
//!    observer early (the caller dropped the stream) ends the span with the partial data.
//!
//! The span ends exactly once. Nothing here can fail the caller's request: every problem is
//! a [`Fault`] sent to the fault hook.

use std::fmt;
use std::io::Write as _;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Instant, SystemTime};

use flate2::write::{GzDecoder, ZlibDecoder};
use openllmetry_semconv::{attr, metric, value};
use opentelemetry::global::{self, BoxedSpan, BoxedTracer, ObjectSafeTracerProvider};
use opentelemetry::logs::{LogRecord as _, Logger, LoggerProvider, Severity};
use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider};
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, InstrumentationScope, KeyValue};

use crate::budget::{ObservationBudget, Reservation};
use crate::detect::{ApiFormat, Operation, Target, detect};
use crate::fault::{Fault, FaultKind};
use crate::ndjson::NdjsonParser;
use crate::provider::{self, StreamAccumulator};
use crate::providers::gemini::JsonArraySplitter;
use crate::record::{RequestRecord, ResponseRecord};
use crate::render::{self, Content, Flavour, LogEvent};
use crate::sse::{SseEvent, SseParser};

/// Default cap on the (decoded) bytes of a non-streamed response body kept for parsing:
/// 16 MiB. A larger body passes through untouched and unparsed
/// ([`FaultKind::BodyTooLarge`]).
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Default cap on the bytes a compressed (`gzip`/`deflate`) response is inflated to for
/// observation: 64 MiB. Inflating is incremental (at most [`INFLATE_INPUT_STEP`] compressed
/// bytes at a time, so at most about 1 MiB of output exists at once); past the cap the
/// observation stops ([`FaultKind::InflatedTooLarge`], span marked
/// `openllmetry.response.truncated`) and the rest passes through without being inflated.
/// A non-streamed body also stops at [`DEFAULT_MAX_BODY_BYTES`].
pub const DEFAULT_MAX_INFLATED_BYTES: usize = 64 * 1024 * 1024;

/// Compressed bytes inflated per step (deflate expands at most ~1032x, so one step yields at
/// most ~1 MiB before the budget is checked again).
pub const INFLATE_INPUT_STEP: usize = 1024;

/// Cap on the bytes of a request- or response-derived model name used as a metric attribute
/// value: 256 bytes (cut at a char boundary). Client input must not grow metric series keys
/// without bound.
pub const MAX_METRIC_MODEL_BYTES: usize = 256;

/// `s` cut to at most `max` bytes at a char boundary.
fn bounded(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// Instrumentation scope name of every span and metric the core emits.
pub const SCOPE_NAME: &str = "openllmetry";

/// Receives every instrumentation [`Fault`].
pub type FaultHook = Arc<dyn Fn(&Fault) + Send + Sync>;

/// Sees (and may change) the structured content of a call before it is rendered. It runs
/// only when content capture is on, independently of the sampling decision.
pub type RedactHook = Arc<dyn Fn(&Target, &mut Content) + Send + Sync>;

/// Supplies the parent context of LLM spans (default: [`Context::current`]). The SDK uses it
/// to nest LLM spans under the current `tracing` span.
pub type ParentContextHook = Arc<dyn Fn() -> Context + Send + Sync>;

/// Emits one log event; object-safe wrapper over an `opentelemetry::logs::Logger`.
trait EventEmitter: Send + Sync {
    fn emit(&self, event: &LogEvent, provider_name: &'static str, span: &BoxedSpan);
}

struct LoggerEmitter<L>(L);

impl<L: Logger + Send + Sync> EventEmitter for LoggerEmitter<L> {
    fn emit(&self, event: &LogEvent, provider_name: &'static str, span: &BoxedSpan) {
        let mut record = self.0.create_log_record();
        record.set_event_name(event.name);
        record.set_severity_number(Severity::Info);
        record.set_timestamp(SystemTime::now());
        record.set_body(render::json_to_any_value(&event.body));
        record.add_attribute(attr::GEN_AI_PROVIDER_NAME, provider_name);
        let sc = span.span_context();
        if sc.is_valid() {
            record.set_trace_context(sc.trace_id(), sc.span_id(), Some(sc.trace_flags()));
        }
        self.0.emit(record);
    }
}

struct Instruments {
    token_usage: Histogram<u64>,
    duration: Histogram<f64>,
    time_to_first_chunk: Histogram<f64>,
    time_per_output_chunk: Histogram<f64>,
    choices: Counter<u64>,
    /// OpenLLMetry's metrics beside the semconv ones (see [`UpstreamInstruments`]).
    upstream: UpstreamInstruments,
}

/// The metrics OpenLLMetry 0.62 records that the semconv does not name: time to first token
/// and time to generate of streamed OpenAI chats, the OpenAI embedding vector size, and the
/// per-operation exception counters.
struct UpstreamInstruments {
    time_to_first_token: Histogram<f64>,
    streaming_time_to_generate: Histogram<f64>,
    embeddings_vector_size: Counter<u64>,
    chat_exceptions: Counter<u64>,
    embeddings_exceptions: Counter<u64>,
    anthropic_exceptions: Counter<u64>,
}

impl UpstreamInstruments {
    fn new(meter: &Meter) -> Self {
        let exceptions = |name: &'static str, description: &'static str| {
            meter
                .u64_counter(name)
                .with_unit("time")
                .with_description(description)
                .build()
        };
        UpstreamInstruments {
            time_to_first_token: seconds_histogram(
                meter,
                metric::GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
                "Time to first token in streaming chat completions",
            ),
            streaming_time_to_generate: seconds_histogram(
                meter,
                metric::LLM_CHAT_COMPLETIONS_STREAMING_TIME_TO_GENERATE,
                "Time between first token and completion in streaming chat completions",
            ),
            embeddings_vector_size: meter
                .u64_counter(metric::LLM_OPENAI_EMBEDDINGS_VECTOR_SIZE)
                .with_unit("element")
                .with_description("The size of returned vector")
                .build(),
            chat_exceptions: exceptions(
                metric::LLM_OPENAI_CHAT_COMPLETIONS_EXCEPTIONS,
                "Number of exceptions occurred during chat completions",
            ),
            embeddings_exceptions: exceptions(
                metric::LLM_OPENAI_EMBEDDINGS_EXCEPTIONS,
                "Number of exceptions occurred during embeddings operation",
            ),
            anthropic_exceptions: exceptions(
                metric::LLM_ANTHROPIC_COMPLETION_EXCEPTIONS,
                "Number of exceptions occurred during chat completions",
            ),
        }
    }
}

/// Whether OpenLLMetry records its streaming-time metrics for this call: streamed OpenAI-format
/// chat completions only (upstream's `ChatStream`; Anthropic and Responses streams record none).
fn upstream_stream_timing(t: &Target) -> bool {
    t.format == ApiFormat::OpenAi && t.operation == Operation::Chat
}

/// A seconds histogram with the semconv duration buckets.
fn seconds_histogram(
    meter: &Meter,
    name: &'static str,
    description: &'static str,
) -> Histogram<f64> {
    meter
        .f64_histogram(name)
        .with_unit("s")
        .with_description(description)
        .with_boundaries(metric::DURATION_BUCKETS.to_vec())
        .build()
}

impl Instruments {
    fn new(meter: &Meter) -> Self {
        Instruments {
            token_usage: meter
                .u64_histogram(metric::GEN_AI_CLIENT_TOKEN_USAGE)
                .with_unit("{token}")
                .with_description("Number of input and output tokens used")
                .with_boundaries(metric::TOKEN_USAGE_BUCKETS.to_vec())
                .build(),
            duration: seconds_histogram(
                meter,
                metric::GEN_AI_CLIENT_OPERATION_DURATION,
                "GenAI operation duration",
            ),
            time_to_first_chunk: seconds_histogram(
                meter,
                metric::GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
                "Time to receive the first chunk of a streamed response",
            ),
            time_per_output_chunk: seconds_histogram(
                meter,
                metric::GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
                "Time between consecutive chunks of a streamed response",
            ),
            choices: meter
                .u64_counter(metric::GEN_AI_CLIENT_GENERATION_CHOICES)
                .with_unit("{choice}")
                .with_description("Number of choices returned")
                .build(),
            upstream: UpstreamInstruments::new(meter),
        }
    }
}

struct Inner {
    tracer: BoxedTracer,
    instruments: Option<Instruments>,
    events: Option<Box<dyn EventEmitter>>,
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
    budget: Arc<ObservationBudget>,
    /// Base URLs labelled with a provider name, longest first.
    upstream_providers: Vec<(String, &'static str)>,
}

impl Inner {
    /// The provider label of the longest configured base URL that `url` is under.
    fn provider_for_url(&self, url: &str) -> Option<&'static str> {
        crate::detect::provider_for_base(&self.upstream_providers, url)
    }
}

/// The recorder. Cheap to clone (an `Arc`). See the [module docs](self).
#[derive(Clone)]
pub struct Instrumentation {
    inner: Arc<Inner>,
}

impl fmt::Debug for Instrumentation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instrumentation")
            .field("flavour", &self.inner.flavour)
            .field("capture_content", &self.inner.capture_content)
            .field("propagate", &self.inner.propagate)
            .field("metrics", &self.inner.instruments.is_some())
            .field("events", &self.inner.events.is_some())
            .finish_non_exhaustive()
    }
}

static GLOBAL: OnceLock<RwLock<Option<Instrumentation>>> = OnceLock::new();

impl Instrumentation {
    /// A builder with the defaults: global tracer and meter providers, current flavour,
    /// content capture on, trace-context propagation on, every provider instrumented.
    pub fn builder() -> InstrumentationBuilder {
        InstrumentationBuilder::default()
    }

    /// The process-wide instrumentation: the one installed with [`Instrumentation::set_global`]
    /// (the SDK's `init` does this), else one with default settings on the global providers.
    pub fn global() -> Instrumentation {
        let slot = GLOBAL.get_or_init(|| RwLock::new(None));
        if let Ok(g) = slot.read()
            && let Some(i) = g.as_ref()
        {
            return i.clone();
        }
        let default = Instrumentation::builder().build();
        if let Ok(mut g) = slot.write() {
            return g.get_or_insert(default).clone();
        }
        default
    }

    /// Installs `instrumentation` as the process-wide one returned by [`Instrumentation::global`].
    pub fn set_global(instrumentation: Instrumentation) {
        let slot = GLOBAL.get_or_init(|| RwLock::new(None));
        if let Ok(mut g) = slot.write() {
            *g = Some(instrumentation);
        }
    }

    /// The output flavour.
    pub fn flavour(&self) -> Flavour {
        self.inner.flavour
    }

    /// Whether content is captured.
    pub fn captures_content(&self) -> bool {
        self.inner.capture_content
    }

    /// Starts observing a request. Returns `None` (and does nothing) when the request is not
    /// an instrumented LLM call or its provider is switched off.
    pub fn start(&self, method: &str, url: &str, body: Option<&[u8]>) -> Option<LlmCall> {
        self.start_labelled(method, url, body, None)
    }

    /// Like [`Instrumentation::start`], with the call's provider given by the caller
    /// (`provider_name`, e.g. from a gateway's per-upstream setting) instead of detected
    /// from the URL; `None` falls back to the builder's
    /// [`with_upstream_provider`](InstrumentationBuilder::with_upstream_provider) labels,
    /// then to detection.
    pub fn start_labelled(
        &self,
        method: &str,
        url: &str,
        body: Option<&[u8]>,
        provider_name: Option<&'static str>,
    ) -> Option<LlmCall> {
        let mut target = detect(method, url)?;
        if let Some(p) = provider_name.or_else(|| self.inner.provider_for_url(url)) {
            target = target.with_provider(p);
        }
        self.start_target(target, body)
    }

    /// Like [`Instrumentation::start`] for an already detected target.
    pub fn start_target(&self, target: Target, body: Option<&[u8]>) -> Option<LlmCall> {
        let inner = &self.inner;
        if inner.block.contains(&target.format)
            || inner
                .allow
                .as_ref()
                .is_some_and(|a| !a.contains(&target.format))
        {
            return None;
        }
        let mut faults = Vec::new();
        let mut reservation = None;
        let mut request_truncated = false;
        let mut request = match body {
            // The parsed request (its content) lives until the span ends: it is taken from
            // the observation budget; past the budget the body is not parsed.
            Some(b) => match inner.budget.try_reserve(b.len()) {
                Some(r) => {
                    reservation = Some(r);
                    provider::parse_request_for(&target, b, &mut faults)
                }
                None => {
                    faults.push(FaultKind::ObservationBudget);
                    request_truncated = true;
                    RequestRecord::default()
                }
            },
            None => RequestRecord::default(),
        };
        // Gemini / Vertex AI name the model and the stream in the URL, not the body.
        if request.model.is_none() {
            request.model.clone_from(&target.model_in_path);
        }
        request.stream |= target.stream_in_path;
        let mut target = target;
        if target
            .bedrock
            .as_ref()
            .is_some_and(|b| !b.api.is_converse())
            && body.is_some_and(crate::providers::bedrock::request::looks_like_messages)
        {
            // A chat-shaped invoke body (Anthropic Messages, Nova, Mistral chat).
            target.operation = Operation::Chat;
        }
        let mut attrs = Vec::with_capacity(24);
        render::request_attributes(inner.flavour, &target, &request, &mut attrs);
        if request_truncated {
            attrs.push(KeyValue::new(attr::OPENLLMETRY_REQUEST_TRUNCATED, true));
        }
        let parent = match &inner.parent_context {
            Some(hook) => hook(),
            None => Context::current(),
        };
        let span = inner
            .tracer
            .span_builder(target.span_name())
            .with_kind(SpanKind::Client)
            .with_attributes(attrs)
            .start_with_context(&inner.tracer, &parent);
        Some(LlmCall {
            state: Some(CallState {
                inner: self.inner.clone(),
                span,
                target,
                request,
                start: Instant::now(),
                faults,
                first_chunk: None,
                last_chunk: None,
                chunk_metric_attrs: None,
                truncated: false,
                _reservation: reservation,
            }),
        })
    }

    /// Starts observing a request whose body the caller chose not to show (it is being
    /// streamed through because the observation budget is spent): the call is recorded
    /// without request attributes, with a [`FaultKind::ObservationBudget`] fault and the span
    /// marked `openllmetry.request.truncated`. `None` when the request is not an
    /// instrumented LLM call.
    pub fn start_body_skipped(
        &self,
        method: &str,
        url: &str,
        provider_name: Option<&'static str>,
    ) -> Option<LlmCall> {
        let mut call = self.start_labelled(method, url, None, provider_name)?;
        if let Some(state) = call.state.as_mut() {
            state.faults.push(FaultKind::ObservationBudget);
            state
                .span
                .set_attribute(KeyValue::new(attr::OPENLLMETRY_REQUEST_TRUNCATED, true));
        }
        Some(call)
    }
}

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

    /// W3C `traceparent` on outgoing requests (default on).
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
        let instruments = self.metrics.then(|| {
            let meter = self
                .meter
                .unwrap_or_else(|| global::meter_with_scope(scope()));
            Instruments::new(&meter)
        });
        Instrumentation {
            inner: Arc::new(Inner {
                tracer,
                instruments,
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

struct CallState {
    inner: Arc<Inner>,
    span: BoxedSpan,
    target: Target,
    request: RequestRecord,
    start: Instant,
    faults: Vec<FaultKind>,
    first_chunk: Option<Instant>,
    last_chunk: Option<Instant>,
    /// Metric attributes of the per-chunk histograms, built once per stream.
    chunk_metric_attrs: Option<Vec<KeyValue>>,
    /// An observation bound was reached: the recorded response is partial.
    truncated: bool,
    /// The observation budget held for the parsed request; returned when the call ends.
    _reservation: Option<Reservation>,
}

/// How an observed call ended.
enum Outcome<'a> {
    Complete,
    /// The body stopped before the response was complete (dropped or cut).
    Incomplete,
    /// The transport failed (connection error, stream error) with this `error.type`.
    Error(&'a str),
}

/// An LLM call in flight (request sent, no response yet). Dropping it without a response
/// ends the span as cancelled.
pub struct LlmCall {
    state: Option<CallState>,
}

impl fmt::Debug for LlmCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmCall")
            .field("target", &self.state.as_ref().map(|s| &s.target))
            .finish_non_exhaustive()
    }
}

impl LlmCall {
    /// The detected target.
    pub fn target(&self) -> Option<&Target> {
        self.state.as_ref().map(|s| &s.target)
    }

    /// The parsed request.
    pub fn request(&self) -> Option<&RequestRecord> {
        self.state.as_ref().map(|s| &s.request)
    }

    /// A context whose current span is this call's span (for code that wants to parent
    /// something under it).
    pub fn context(&self) -> Context {
        match &self.state {
            Some(s) => Context::current().with_remote_span_context(s.span.span_context().clone()),
            None => Context::current(),
        }
    }

    /// Headers to add to the outgoing request: a W3C `traceparent` whose span id is this
    /// call's span (and `tracestate` when not empty). Empty when propagation is off or the
    /// span context is invalid (e.g. no SDK installed).
    pub fn propagation_headers(&self) -> Vec<(&'static str, String)> {
        let Some(s) = &self.state else {
            return Vec::new();
        };
        let sc = s.span.span_context();
        if !s.inner.propagate || !sc.is_valid() {
            return Vec::new();
        }
        let mut out = vec![(
            "traceparent",
            format!(
                "00-{}-{}-{:02x}",
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags().to_u8()
            ),
        )];
        let ts = sc.trace_state().header();
        if !ts.is_empty() {
            out.push(("tracestate", ts));
        }
        out
    }

    /// The response head arrived. `content_type` and `content_encoding` are the response's
    /// header values. Returns the observer to feed the body to.
    pub fn on_response(
        mut self,
        status: u16,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
    ) -> ResponseObserver {
        let Some(mut state) = self.state.take() else {
            return ResponseObserver::inert();
        };
        let ct = content_type.map(str::to_ascii_lowercase);
        let ndjson = state.target.format == ApiFormat::Ollama
            && ct.as_deref().is_some_and(|ct| ct.contains("ndjson"));
        let streaming = status < 400
            && (ndjson
                || ct
                    .as_deref()
                    .is_some_and(|ct| ct.contains("text/event-stream")));
        // `streamGenerateContent` without `alt=sse`: one JSON array, elements over time.
        let json_array = !streaming
            && status < 400
            && state.target.format == ApiFormat::Gemini
            && state.target.stream_in_path;
        let decoder = match content_encoding.map(|e| e.trim().to_ascii_lowercase()) {
            None => Some(Decoder::Identity),
            Some(e) if e.is_empty() || e == "identity" => Some(Decoder::Identity),
            Some(e) if e == "gzip" || e == "x-gzip" => {
                Some(Decoder::Gzip(Box::new(GzDecoder::new(Vec::new()))))
            }
            Some(e) if e == "deflate" => {
                Some(Decoder::Zlib(Box::new(ZlibDecoder::new(Vec::new()))))
            }
            Some(_) => {
                state.faults.push(FaultKind::UnsupportedEncoding);
                None
            }
        };
        let event_stream = status < 400
            && state.target.bedrock.is_some()
            && content_type.is_some_and(|ct| {
                ct.to_ascii_lowercase()
                    .contains("application/vnd.amazon.eventstream")
            });
        let mode = match decoder {
            None => Mode::Ignore,
            Some(_) if event_stream => match &state.target.bedrock {
                Some(b) => Mode::EventStream {
                    acc: Box::new(crate::providers::bedrock::StreamAccumulator::new(b)),
                    done: false,
                },
                None => Mode::Ignore,
            },
            Some(_) if streaming || json_array => Mode::Stream {
                parser: if json_array {
                    Framing::JsonArray(JsonArraySplitter::default())
                } else if ndjson {
                    Framing::Ndjson(NdjsonParser::default())
                } else {
                    Framing::Sse(SseParser::default())
                },
                acc: Box::new(StreamAccumulator::new(
                    state.target.format,
                    state.target.operation,
                )),
                done: false,
            },
            Some(_) => Mode::Buffer(Vec::new()),
        };
        let reservation = state.inner.budget.empty();
        ResponseObserver {
            state: Some(state),
            status,
            decoder,
            mode,
            scratch: Vec::new(),
            inflated: 0,
            reservation: Some(reservation),
        }
    }

    /// The request failed before any response (connect error, timeout). Ends the span with
    /// status ERROR and `error.type` = `error_type`.
    pub fn on_transport_error(mut self, error_type: &str) {
        if let Some(state) = self.state.take() {
            finish(state, 0, None, Outcome::Error(error_type));
        }
    }
}

impl Drop for LlmCall {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            finish(state, 0, None, Outcome::Error("cancelled"));
        }
    }
}

enum Decoder {
    Identity,
    Gzip(Box<GzDecoder<Vec<u8>>>),
    Zlib(Box<ZlibDecoder<Vec<u8>>>),
}

/// How a stream body is cut into events.
enum Framing {
    Sse(SseParser),
    /// Gemini's JSON-array stream: each element is fed as one event's data.
    JsonArray(JsonArraySplitter),
    /// Newline-delimited JSON (Ollama): one event per line.
    Ndjson(NdjsonParser),
}

impl Framing {
    fn push(
        &mut self,
        data: &[u8],
        mut on_event: impl FnMut(SseEvent<'_>),
        faults: &mut Vec<FaultKind>,
    ) {
        match self {
            Framing::Sse(p) => p.push(data, on_event, faults),
            Framing::JsonArray(s) => s.push(
                data,
                |el| match std::str::from_utf8(el) {
                    Ok(text) => on_event(SseEvent::data(text)),
                    Err(_) => on_event(SseEvent::data("\u{fffd}")),
                },
                faults,
            ),
            Framing::Ndjson(p) => p.push(data, on_event, faults),
        }
    }
}

enum Mode {
    Buffer(Vec<u8>),
    Stream {
        parser: Framing,
        acc: Box<StreamAccumulator>,
        done: bool,
    },
    /// Bedrock streams (AWS event-stream framing).
    EventStream {
        acc: Box<crate::providers::bedrock::StreamAccumulator>,
        done: bool,
    },
    Ignore,
}

/// Observes a response body as it passes to the caller. See the [module docs](self).
pub struct ResponseObserver {
    state: Option<CallState>,
    status: u16,
    decoder: Option<Decoder>,
    mode: Mode,
    scratch: Vec<u8>,
    /// Bytes inflated so far (compressed bodies only).
    inflated: usize,
    /// Observation budget held for the accumulated body (non-streamed responses).
    reservation: Option<Reservation>,
}

impl fmt::Debug for ResponseObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseObserver")
            .field("status", &self.status)
            .field("active", &self.state.is_some())
            .finish_non_exhaustive()
    }
}

impl ResponseObserver {
    fn inert() -> Self {
        ResponseObserver {
            state: None,
            status: 0,
            decoder: None,
            mode: Mode::Ignore,
            scratch: Vec::new(),
            inflated: 0,
            reservation: None,
        }
    }

    /// Whether the observer still records (false once the span ended).
    pub fn is_active(&self) -> bool {
        self.state.is_some()
    }

    /// Feeds a chunk of the (possibly compressed) body, exactly as the caller receives it.
    ///
    /// A compressed chunk is inflated [`INFLATE_INPUT_STEP`] bytes at a time, each step's
    /// output observed before the next, so memory stays bounded whatever the ratio; once an
    /// observation bound is reached nothing more is inflated.
    pub fn on_data(&mut self, chunk: &[u8]) {
        if self.state.is_none() || chunk.is_empty() || matches!(self.mode, Mode::Ignore) {
            return;
        }
        let mut decoder = self.decoder.take();
        match &mut decoder {
            Some(Decoder::Identity) | None => self.observe(chunk),
            Some(d) => {
                let mut scratch = std::mem::take(&mut self.scratch);
                for piece in chunk.chunks(INFLATE_INPUT_STEP) {
                    scratch.clear();
                    let ok = match d {
                        Decoder::Gzip(d) => {
                            // `flush` hands over what the decoder still holds from this
                            // piece (a write keeps its last output until the next call).
                            let ok = d.write_all(piece).is_ok() && d.flush().is_ok();
                            std::mem::swap(&mut scratch, d.get_mut());
                            ok
                        }
                        Decoder::Zlib(d) => {
                            // `flush` hands over what the decoder still holds from this
                            // piece (a write keeps its last output until the next call).
                            let ok = d.write_all(piece).is_ok() && d.flush().is_ok();
                            std::mem::swap(&mut scratch, d.get_mut());
                            ok
                        }
                        Decoder::Identity => true,
                    };
                    let Some(state) = self.state.as_mut() else {
                        return;
                    };
                    if !ok {
                        state.faults.push(FaultKind::DecodeFailed);
                        self.mode = Mode::Ignore;
                        return;
                    }
                    self.inflated = self.inflated.saturating_add(scratch.len());
                    if self.inflated > state.inner.max_inflated_bytes {
                        state.faults.push(FaultKind::InflatedTooLarge);
                        state.truncated = true;
                        self.mode = Mode::Ignore;
                        // The decoder is dropped: the rest passes through uninflated.
                        return;
                    }
                    self.observe(&scratch);
                    if self.state.is_none() || matches!(self.mode, Mode::Ignore) {
                        return;
                    }
                }
                scratch.clear();
                self.scratch = scratch;
            }
        }
        self.decoder = decoder;
    }

    /// Bytes inflated so far for observation (0 for an uncompressed body).
    pub fn inflated_bytes(&self) -> usize {
        self.inflated
    }

    /// Observes decoded body bytes.
    fn observe(&mut self, data: &[u8]) {
        let Some(state) = self.state.as_mut() else {
            return;
        };
        match &mut self.mode {
            Mode::Ignore => {}
            Mode::Buffer(buf) => {
                if buf.len() + data.len() > state.inner.max_body_bytes {
                    state.faults.push(FaultKind::BodyTooLarge);
                    state.truncated = true;
                    self.mode = Mode::Ignore;
                } else if !self.reservation.as_mut().is_none_or(|r| r.grow(data.len())) {
                    // The process-wide observation budget is spent: stop keeping this body.
                    state.faults.push(FaultKind::ObservationBudget);
                    state.truncated = true;
                    self.mode = Mode::Ignore;
                    self.reservation = None;
                } else {
                    buf.extend_from_slice(data);
                }
            }
            Mode::EventStream { acc, done } => {
                if *done {
                    return;
                }
                let chunks = acc.push_bytes(data, &mut state.faults);
                if acc.is_stopped() {
                    state.truncated = true;
                }
                if chunks > 0 {
                    note_chunks(state, chunks, acc.model());
                }
                // Once the framing is lost (`is_stopped`) the accumulator reads nothing more;
                // the span ends with what it had when the body ends.
                if acc.is_complete() {
                    *done = true;
                    self.complete(Outcome::Complete);
                }
            }
            Mode::Stream { parser, acc, done } => {
                if *done {
                    return;
                }
                let chunk_events = state.target.format == ApiFormat::OpenAi
                    && state.target.operation == Operation::Chat;
                let mut chunks = 0u32;
                let mut acc_faults = Vec::new();
                parser.push(
                    data,
                    |event| {
                        if !*done && acc.push(&event, &mut acc_faults) {
                            chunks += 1;
                        }
                        if acc.is_complete() {
                            *done = true;
                        }
                    },
                    &mut state.faults,
                );
                state.faults.append(&mut acc_faults);
                if chunks > 0 {
                    note_chunks(state, chunks, acc.model());
                    if chunk_events {
                        for _ in 0..chunks {
                            state
                                .span
                                .add_event(value::event::CONTENT_COMPLETION_CHUNK, Vec::new());
                        }
                    }
                }
                if *done {
                    self.complete(Outcome::Complete);
                }
            }
        }
    }

    /// The recorder panicked while observing (caught by the caller's panic guard): records
    /// [`FaultKind::RecorderPanicked`], drops the partial data (it may be inconsistent) and
    /// ends the span once, marked incomplete. Does nothing if the span already ended.
    pub fn on_panic(mut self) {
        if let Some(state) = self.state.as_mut() {
            state.faults.push(FaultKind::RecorderPanicked);
        }
        self.decoder = None;
        self.mode = Mode::Ignore;
        self.complete(Outcome::Incomplete);
    }

    /// The body ended normally.
    pub fn on_end(mut self) {
        self.complete_at_end();
    }

    fn complete_at_end(&mut self) {
        // A last NDJSON line without its newline.
        if let (
            Some(state),
            Mode::Stream {
                parser: Framing::Ndjson(p),
                acc,
                done: done @ false,
            },
        ) = (self.state.as_mut(), &mut self.mode)
        {
            let mut acc_faults = Vec::new();
            p.finish(
                |event| {
                    acc.push(&event, &mut acc_faults);
                    if acc.is_complete() {
                        *done = true;
                    }
                },
                &mut state.faults,
            );
            state.faults.append(&mut acc_faults);
        }
        self.note_unfinished_stream();
        let outcome = match &self.mode {
            Mode::Stream { done: false, .. } | Mode::EventStream { done: false, .. } => {
                Outcome::Incomplete
            }
            _ => Outcome::Complete,
        };
        self.complete(outcome);
    }

    /// The body failed mid-way (connection reset, upstream closed). Ends the span with status
    /// ERROR and `error.type` = `error_type`, keeping the partial data.
    pub fn on_error(mut self, error_type: &str) {
        self.note_unfinished_stream();
        self.complete(Outcome::Error(error_type));
    }

    /// The provider's event stream ended or failed before its terminal event: a
    /// [`FaultKind::StreamIncomplete`]. (A caller dropping the body early is not a fault.)
    fn note_unfinished_stream(&mut self) {
        if let (
            Some(state),
            Mode::Stream { done: false, .. } | Mode::EventStream { done: false, .. },
        ) = (self.state.as_mut(), &self.mode)
        {
            state.faults.push(FaultKind::StreamIncomplete);
        }
    }

    fn complete(&mut self, outcome: Outcome<'_>) {
        let Some(mut state) = self.state.take() else {
            return;
        };
        let mode = std::mem::replace(&mut self.mode, Mode::Ignore);
        // Flush what the decoder still holds.
        let tail = match self.decoder.take() {
            Some(Decoder::Gzip(d)) => d.finish().ok(),
            Some(Decoder::Zlib(d)) => d.finish().ok(),
            _ => None,
        };
        let response = match mode {
            Mode::Ignore => None,
            Mode::Buffer(mut buf) => {
                if let Some(t) = tail {
                    buf.extend_from_slice(&t);
                }
                if buf.is_empty() {
                    None
                } else {
                    Some(provider::parse_response_for(
                        &state.target,
                        &buf,
                        &mut state.faults,
                    ))
                }
            }
            Mode::Stream { acc, .. } => Some(acc.finish()),
            Mode::EventStream { acc, .. } => Some(acc.finish()),
        };
        finish(state, self.status, response, outcome);
    }
}

impl Drop for ResponseObserver {
    fn drop(&mut self) {
        if self.state.is_some() {
            // The caller dropped the body before its end: record what we have.
            let outcome = match &self.mode {
                Mode::Stream { done: true, .. } | Mode::EventStream { done: true, .. } => {
                    Outcome::Complete
                }
                _ => Outcome::Incomplete,
            };
            self.complete(outcome);
        }
    }
}

/// Records the per-chunk metrics of `chunks` output chunks that arrived in one read (SSE,
/// NDJSON, JSON-array and Bedrock event-stream paths alike); the attributes are built at the
/// first chunk, which carries the response model.
fn note_chunks(state: &mut CallState, chunks: u32, model: Option<&str>) {
    let now = Instant::now();
    if let Some(m) = &state.inner.instruments {
        let attrs = state
            .chunk_metric_attrs
            .get_or_insert_with(|| metric_attributes(&state.target, &state.request, model));
        // Each chunk after the first records the time since the previous one; chunks that
        // arrived in the same read record 0.
        let mut remaining = chunks;
        if state.first_chunk.is_none() {
            let ttfc = now.duration_since(state.start).as_secs_f64();
            m.time_to_first_chunk.record(ttfc, attrs);
            if upstream_stream_timing(&state.target) {
                m.upstream.time_to_first_token.record(ttfc, attrs);
            }
            remaining -= 1;
        } else if let Some(last) = state.last_chunk {
            m.time_per_output_chunk
                .record(now.duration_since(last).as_secs_f64(), attrs);
            remaining -= 1;
        }
        for _ in 0..remaining {
            m.time_per_output_chunk.record(0.0, attrs);
        }
    }
    if state.first_chunk.is_none() {
        state.first_chunk = Some(now);
    }
    state.last_chunk = Some(now);
}

/// Attributes every metric point of a call carries.
fn metric_attributes(
    t: &Target,
    request: &RequestRecord,
    response_model: Option<&str>,
) -> Vec<KeyValue> {
    let mut attrs = Vec::with_capacity(8);
    attrs.push(KeyValue::new(attr::GEN_AI_PROVIDER_NAME, t.provider_name));
    attrs.push(KeyValue::new(
        attr::GEN_AI_OPERATION_NAME,
        t.operation.semconv_name(),
    ));
    if let Some(m) = &request.model {
        attrs.push(KeyValue::new(
            attr::GEN_AI_REQUEST_MODEL,
            bounded(m, MAX_METRIC_MODEL_BYTES),
        ));
    }
    if let Some(m) = response_model {
        attrs.push(KeyValue::new(
            attr::GEN_AI_RESPONSE_MODEL,
            bounded(m, MAX_METRIC_MODEL_BYTES),
        ));
    }
    attrs.push(KeyValue::new(
        attr::SERVER_ADDRESS,
        t.server_address.clone(),
    ));
    attrs.push(KeyValue::new(attr::SERVER_PORT, i64::from(t.server_port)));
    attrs
}

fn finish(
    mut state: CallState,
    status: u16,
    mut response: Option<ResponseRecord>,
    outcome: Outcome<'_>,
) {
    let inner = state.inner.clone();
    let mut attrs = Vec::with_capacity(24);
    if let Some(r) = &response {
        render::response_attributes(inner.flavour, r, &mut attrs);
    }
    if let (Some(first), true) = (state.first_chunk, state.request.stream) {
        attrs.push(KeyValue::new(
            attr::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
            first.duration_since(state.start).as_secs_f64(),
        ));
    }
    if matches!(outcome, Outcome::Incomplete) {
        attrs.push(KeyValue::new(attr::OPENLLMETRY_RESPONSE_INCOMPLETE, true));
    }
    if state.truncated {
        attrs.push(KeyValue::new(attr::OPENLLMETRY_RESPONSE_TRUNCATED, true));
    }
    // Model names cut for the metric attributes: marked and counted.
    let long_model = |m: Option<&str>| m.is_some_and(|m| m.len() > MAX_METRIC_MODEL_BYTES);
    if inner.instruments.is_some()
        && (long_model(state.request.model.as_deref())
            || long_model(response.as_ref().and_then(|r| r.model.as_deref())))
    {
        state.faults.push(FaultKind::ValueTruncated);
        attrs.push(KeyValue::new(
            attr::OPENLLMETRY_METRIC_MODEL_TRUNCATED,
            true,
        ));
    }
    // Errors: transport, provider error body, HTTP status (owned: errors are rare, and the
    // response is taken apart below).
    let error_type: Option<String> =
        match (&outcome, response.as_ref().and_then(|r| r.error.as_ref())) {
            (Outcome::Error(e), _) => Some((*e).to_owned()),
            (_, Some(pe)) => Some(pe.error_type.clone()),
            _ if status >= 400 => Some(status.to_string()),
            _ => None,
        };
    if let Some(e) = &error_type {
        attrs.push(KeyValue::new(attr::ERROR_TYPE, e.clone()));
    }

    // Metrics, from the response as the provider sent it (before any redaction).
    if let Some(m) = &inner.instruments {
        let response_model = response.as_ref().and_then(|r| r.model.as_deref());
        let base = metric_attributes(&state.target, &state.request, response_model);
        let with = |extra: KeyValue| {
            let mut a = base.clone();
            a.push(extra);
            a
        };
        let duration_attrs = match &error_type {
            Some(e) => with(KeyValue::new(attr::ERROR_TYPE, e.clone())),
            None => base.clone(),
        };
        m.duration
            .record(state.start.elapsed().as_secs_f64(), &duration_attrs);
        if let (Some(first), true) = (state.first_chunk, state.request.stream)
            && upstream_stream_timing(&state.target)
            && error_type.is_none()
        {
            m.upstream
                .streaming_time_to_generate
                .record(first.elapsed().as_secs_f64(), &base);
        }
        if let Some(e) = &error_type {
            let t = &state.target;
            let et = KeyValue::new(attr::ERROR_TYPE, e.clone());
            match (t.format, t.operation) {
                (ApiFormat::OpenAi, Operation::Chat) => m.upstream.chat_exceptions.add(1, &[et]),
                (ApiFormat::OpenAi, Operation::Embeddings) => {
                    m.upstream.embeddings_exceptions.add(1, &[et])
                }
                (ApiFormat::Anthropic, _) => m.upstream.anthropic_exceptions.add(
                    1,
                    &[
                        KeyValue::new(attr::GEN_AI_PROVIDER_NAME, t.provider_name),
                        et,
                    ],
                ),
                _ => {}
            }
        }
        if let Some(d) = response
            .as_ref()
            .and_then(|r| r.embedding_dimensions)
            .and_then(|d| u64::try_from(d).ok())
            && state.target.format == ApiFormat::OpenAi
        {
            m.upstream.embeddings_vector_size.add(d, &base);
        }
        if let Some(r) = &response {
            for (kind, v) in [
                (value::token_type::INPUT, r.usage.input_tokens),
                (value::token_type::OUTPUT, r.usage.output_tokens),
            ] {
                if let Some(v) = v.and_then(|v| u64::try_from(v).ok()) {
                    m.token_usage
                        .record(v, &with(KeyValue::new(attr::GEN_AI_TOKEN_TYPE, kind)));
                }
            }
            for msg in &r.output_messages {
                if msg.finish_reason.is_empty() {
                    m.choices.add(1, &base);
                } else {
                    let reason = KeyValue::new(
                        attr::GEN_AI_RESPONSE_FINISH_REASON,
                        msg.finish_reason.clone(),
                    );
                    m.choices.add(1, &with(reason));
                }
            }
        }
    }

    // Content: built only when capture is on (moved out of the records, not copied),
    // redacted in one place, then rendered.
    let content = if inner.capture_content {
        let mut c = Content {
            system_instructions: std::mem::take(&mut state.request.system_instructions),
            input_messages: std::mem::take(&mut state.request.input_messages),
            tool_definitions: std::mem::take(&mut state.request.tool_definitions),
            output_messages: response
                .as_mut()
                .map(|r| std::mem::take(&mut r.output_messages))
                .unwrap_or_default(),
        };
        if let Some(hook) = &inner.redact {
            hook(&state.target, &mut c);
        }
        Some(c)
    } else {
        None
    };
    match (inner.flavour, &content) {
        (Flavour::Current, Some(c)) => {
            render::current_content_attributes_for(state.target.format, c, &mut attrs)
        }
        (Flavour::Legacy, Some(c)) => {
            render::legacy_content_attributes_for(state.target.format, c, &mut attrs)
        }
        _ => {}
    }
    state.span.set_attributes(attrs);
    if inner.flavour == Flavour::Events
        && let Some(emitter) = &inner.events
    {
        let events = render::events(content.as_ref(), &state.request, response.as_ref());
        for e in &events {
            emitter.emit(e, state.target.provider_name, &state.span);
        }
    }
    if let Some(e) = error_type {
        state.span.set_status(Status::error(e));
    }
    state.span.end();

    // Faults, once per kind per call.
    if let Some(hook) = &inner.fault_hook {
        state.faults.sort_unstable();
        state.faults.dedup();
        for kind in &state.faults {
            hook(&Fault {
                provider: state.target.format,
                operation: state.target.operation,
                kind: *kind,
            });
        }
    }
}

/// Runs `f` and reports a panic inside it as `None` instead of unwinding into the caller.
/// Adapters wrap every call into the recorder with it, so a bug in the instrumentation can
/// never take the host application down.
pub fn guard<T>(f: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gzip member holding `mib` MiB of zeros, built without compressing them all: after a
    /// full flush the deflate state is reset, so each further MiB of zeros compresses to the
    /// same bytes, which are repeated. (The trailer's CRC is left zero: the observer must stop
    /// long before it.)
    fn gzip_bomb(mib: usize) -> Vec<u8> {
        use flate2::{Compress, Compression, FlushCompress};
        let zeros = vec![0u8; 1 << 20];
        let mut c = Compress::new(Compression::best(), false);
        let unit = |c: &mut Compress| {
            let mut out = Vec::with_capacity(64 * 1024);
            let before = c.total_in();
            while c.total_in() - before < zeros.len() as u64 {
                let done = (c.total_in() - before) as usize;
                c.compress_vec(&zeros[done..], &mut out, FlushCompress::Full)
                    .expect("compress");
            }
            c.compress_vec(&[], &mut out, FlushCompress::Full)
                .expect("flush");
            out
        };
        let first = unit(&mut c);
        let second = unit(&mut c);
        assert_eq!(second, unit(&mut c), "the repeated unit is stable");
        let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        gz.extend_from_slice(&first);
        for _ in 1..mib {
            gz.extend_from_slice(&second);
        }
        gz.extend_from_slice(&[0; 8]);
        gz
    }

    /// Names of the metrics one call through `i` produced, with their summed values.
    fn upstream_metric_names(
        url: &str,
        body: &[u8],
        status: u16,
        response: &[u8],
    ) -> Vec<(String, String)> {
        use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
        use opentelemetry_sdk::metrics::{
            InMemoryMetricExporter, PeriodicReader, SdkMeterProvider,
        };
        let exporter = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(exporter.clone()).build())
            .build();
        let i = Instrumentation::builder()
            .with_meter_provider(&provider)
            .build();
        let call = i.start("POST", url, Some(body)).expect("an LLM URL");
        let mut obs = call.on_response(status, Some("application/json"), None);
        obs.on_data(response);
        obs.on_end();
        provider.force_flush().expect("flush");
        let mut out = Vec::new();
        for rm in exporter.get_finished_metrics().expect("metrics") {
            for sm in rm.scope_metrics() {
                for m in sm.metrics() {
                    let attrs = match m.data() {
                        AggregatedMetrics::U64(MetricData::Sum(s)) => s
                            .data_points()
                            .flat_map(|p| p.attributes().map(|kv| format!("{kv:?}")))
                            .collect::<Vec<_>>()
                            .join(","),
                        _ => String::new(),
                    };
                    out.push((m.name().to_owned(), attrs));
                }
            }
        }
        out
    }

    #[test]
    fn upstream_exception_counters_count_failed_calls() {
        // Upstream's counters (`Meters.LLM_COMPLETIONS_EXCEPTIONS`,
        // `LLM_EMBEDDINGS_EXCEPTIONS`, `LLM_ANTHROPIC_COMPLETION_EXCEPTIONS`) carry `error.type`
        // (and, for Anthropic, `gen_ai.provider.name`).
        let err = br#"{"error":{"type":"invalid_request_error","message":"bad"}}"#;
        for (url, name) in [
            (
                "https://api.openai.com/v1/chat/completions",
                "llm.openai.chat_completions.exceptions",
            ),
            (
                "https://api.openai.com/v1/embeddings",
                "llm.openai.embeddings.exceptions",
            ),
            (
                "https://api.anthropic.com/v1/messages",
                "llm.anthropic.completion.exceptions",
            ),
        ] {
            let got = upstream_metric_names(url, br#"{"model":"m"}"#, 400, err);
            let hit: Vec<_> = got.iter().filter(|(n, _)| n == name).collect();
            assert_eq!(hit.len(), 1, "{url}: {got:?}");
            assert!(hit[0].1.contains("error.type"), "{url}: {got:?}");
            assert_eq!(
                hit[0].1.contains("gen_ai.provider.name"),
                url.contains("anthropic"),
                "{url}: {got:?}"
            );
            let others = got
                .iter()
                .filter(|(n, _)| n.ends_with(".exceptions") && n != name)
                .count();
            assert_eq!(others, 0, "{url}: {got:?}");
        }
        // A success counts no exception.
        let ok = upstream_metric_names(
            "https://api.openai.com/v1/chat/completions",
            br#"{"model":"m"}"#,
            200,
            br#"{"id":"c","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}"#,
        );
        assert!(
            ok.iter().all(|(n, _)| !n.ends_with(".exceptions")),
            "{ok:?}"
        );
        assert!(
            ok.iter()
                .any(|(n, _)| n == "gen_ai.client.operation.duration")
        );
    }

    #[test]
    fn metric_model_names_are_bounded_at_a_char_boundary() {
        assert_eq!(bounded("gpt-4o", MAX_METRIC_MODEL_BYTES), "gpt-4o");
        let long = "é".repeat(40 * 1024);
        let cut = bounded(&long, MAX_METRIC_MODEL_BYTES);
        assert_eq!(cut.len(), MAX_METRIC_MODEL_BYTES);
        let odd = format!("a{long}");
        assert_eq!(
            bounded(&odd, MAX_METRIC_MODEL_BYTES).len(),
            MAX_METRIC_MODEL_BYTES - 1
        );
        let t = crate::detect::detect("POST", "https://api.openai.com/v1/chat/completions")
            .expect("an LLM URL");
        let request = RequestRecord {
            model: Some(long.clone()),
            ..RequestRecord::default()
        };
        let attrs = metric_attributes(&t, &request, Some(&long));
        for kv in attrs {
            assert!(kv.value.as_str().len() <= MAX_METRIC_MODEL_BYTES, "{kv:?}");
        }
    }

    /// An instrumentation recording to an in-memory exporter, with faults collected.
    fn recording(
        budget: Arc<ObservationBudget>,
    ) -> (
        Instrumentation,
        opentelemetry_sdk::trace::InMemorySpanExporter,
        Arc<std::sync::Mutex<Vec<FaultKind>>>,
        opentelemetry_sdk::trace::SdkTracerProvider,
    ) {
        let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let faults = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = faults.clone();
        let i = Instrumentation::builder()
            .with_tracer_provider(&provider)
            .with_meter_provider(&opentelemetry_sdk::metrics::SdkMeterProvider::default())
            .with_observation_budget(budget)
            .with_fault_hook(move |f| seen.lock().unwrap().push(f.kind))
            .build();
        (i, exporter, faults, provider)
    }

    fn has_true(span: &opentelemetry_sdk::trace::SpanData, key: &str) -> bool {
        span.attributes
            .iter()
            .any(|kv| kv.key.as_str() == key && kv.value == opentelemetry::Value::Bool(true))
    }

    const CHAT_URL: &str = "https://api.openai.com/v1/chat/completions";

    #[test]
    fn past_the_observation_budget_the_request_is_not_parsed_and_the_span_is_marked() {
        let budget = ObservationBudget::new(1024);
        let (i, exporter, faults, _p) = recording(budget.clone());
        let small = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#;
        let big = format!(
            r#"{{"model":"gpt-4o","messages":[{{"role":"user","content":"{}"}}]}}"#,
            "p".repeat(2048)
        );
        // The small request fits and holds its bytes until the call ends.
        let held = i.start("POST", CHAT_URL, Some(small)).unwrap();
        assert_eq!(budget.used(), small.len());
        // The big one does not: not parsed, marked, counted; the call still starts.
        let over = i.start("POST", CHAT_URL, Some(big.as_bytes())).unwrap();
        assert!(over.request().unwrap().model.is_none());
        over.on_response(200, Some("application/json"), None)
            .on_end();
        held.on_response(200, Some("application/json"), None)
            .on_end();
        assert_eq!(budget.used(), 0, "reservations returned");
        let spans = exporter.get_finished_spans().unwrap();
        assert_eq!(spans.len(), 2);
        assert!(has_true(&spans[0], attr::OPENLLMETRY_REQUEST_TRUNCATED));
        assert!(!has_true(&spans[1], attr::OPENLLMETRY_REQUEST_TRUNCATED));
        assert_eq!(*faults.lock().unwrap(), vec![FaultKind::ObservationBudget]);
        // A caller that streams the body through says so: same fault and mark.
        i.start_body_skipped("POST", CHAT_URL, None)
            .unwrap()
            .on_transport_error("x");
        let spans = exporter.get_finished_spans().unwrap();
        assert!(has_true(&spans[2], attr::OPENLLMETRY_REQUEST_TRUNCATED));
        assert_eq!(faults.lock().unwrap().len(), 2);
    }

    #[test]
    fn past_the_observation_budget_a_response_body_is_not_kept() {
        let budget = ObservationBudget::new(4096);
        let (i, exporter, faults, _p) = recording(budget.clone());
        let call = i.start("POST", CHAT_URL, Some(b"{}")).unwrap();
        let mut obs = call.on_response(200, Some("application/json"), None);
        for _ in 0..8 {
            obs.on_data(&[b' '; 1000]);
            assert!(budget.used() <= 4096);
        }
        obs.on_end();
        assert_eq!(budget.used(), 0);
        let spans = exporter.get_finished_spans().unwrap();
        assert!(has_true(&spans[0], attr::OPENLLMETRY_RESPONSE_TRUNCATED));
        assert_eq!(*faults.lock().unwrap(), vec![FaultKind::ObservationBudget]);
    }

    #[test]
    fn a_model_name_cut_for_metrics_is_marked_and_counted() {
        let (i, exporter, faults, _p) = recording(ObservationBudget::new(1 << 20));
        let body = format!(r#"{{"model":"{}","messages":[]}}"#, "m".repeat(40 * 1024));
        let call = i.start("POST", CHAT_URL, Some(body.as_bytes())).unwrap();
        call.on_response(200, Some("application/json"), None)
            .on_end();
        let call = i
            .start(
                "POST",
                CHAT_URL,
                Some(br#"{"model":"gpt-4o","messages":[]}"#),
            )
            .unwrap();
        call.on_response(200, Some("application/json"), None)
            .on_end();
        let spans = exporter.get_finished_spans().unwrap();
        assert!(has_true(
            &spans[0],
            attr::OPENLLMETRY_METRIC_MODEL_TRUNCATED
        ));
        assert!(!has_true(
            &spans[1],
            attr::OPENLLMETRY_METRIC_MODEL_TRUNCATED
        ));
        assert_eq!(*faults.lock().unwrap(), vec![FaultKind::ValueTruncated]);
    }

    #[test]
    fn gzip_bomb_is_inflated_only_up_to_the_budget() {
        // 5 GiB of zeros in a few MB of gzip (issue 10, item 5), streamed and not.
        let bomb = gzip_bomb(5 * 1024);
        assert!(bomb.len() < 16 << 20, "{}", bomb.len());
        for (content_type, fault) in [
            ("text/event-stream", FaultKind::InflatedTooLarge),
            ("application/json", FaultKind::BodyTooLarge),
        ] {
            let faults = Arc::new(std::sync::Mutex::new(Vec::new()));
            let seen = faults.clone();
            let i = Instrumentation::builder()
                .with_fault_hook(move |f| seen.lock().unwrap().push(f.kind))
                .build();
            let call = i
                .start(
                    "POST",
                    "https://api.openai.com/v1/chat/completions",
                    Some(br#"{"model":"m","stream":true}"#),
                )
                .expect("an LLM URL");
            let mut obs = call.on_response(200, Some(content_type), Some("gzip"));
            for c in bomb.chunks(16 * 1024) {
                obs.on_data(c);
            }
            let inflated = obs.inflated_bytes();
            // Stopped within one step (at most ~1 MiB) past the smaller applicable cap.
            let cap = if fault == FaultKind::BodyTooLarge {
                DEFAULT_MAX_BODY_BYTES
            } else {
                DEFAULT_MAX_INFLATED_BYTES
            };
            assert!(
                inflated <= cap + (2 << 20),
                "{content_type}: inflated {inflated} bytes"
            );
            assert!(inflated >= cap / 2, "{content_type}: {inflated}");
            obs.on_end();
            assert_eq!(*faults.lock().unwrap(), {
                let mut v = vec![fault];
                if content_type == "text/event-stream" {
                    // The zeros are one never-ending SSE event; observation stopped before
                    // the end, so the stream's end is not judged.
                    v.insert(0, FaultKind::EventTooLarge);
                }
                v
            });
        }
    }

    #[test]
    fn not_an_llm_call_is_not_instrumented() {
        let i = Instrumentation::builder().build();
        assert!(
            i.start("GET", "https://api.openai.com/v1/models", None)
                .is_none()
        );
        assert!(
            i.start("POST", "https://example.com/upload", Some(b"{}"))
                .is_none()
        );
    }

    #[test]
    fn blocked_provider_passes_through() {
        let i = Instrumentation::builder()
            .with_blocked_providers([ApiFormat::Anthropic])
            .build();
        assert!(
            i.start("POST", "https://api.anthropic.com/v1/messages", Some(b"{}"))
                .is_none()
        );
        assert!(
            i.start(
                "POST",
                "https://api.openai.com/v1/chat/completions",
                Some(b"{}")
            )
            .is_some()
        );
        let i = Instrumentation::builder()
            .with_allowed_providers([ApiFormat::Anthropic])
            .build();
        assert!(
            i.start(
                "POST",
                "https://api.openai.com/v1/chat/completions",
                Some(b"{}")
            )
            .is_none()
        );
    }

    #[test]
    fn guard_catches_panics() {
        assert_eq!(guard(|| 1), Some(1));
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let r: Option<()> = guard(|| panic!("boom"));
        std::panic::set_hook(prev);
        assert_eq!(r, None);
    }
}
