//! The recorder: [`Instrumentation`] turns one observed HTTP exchange into a span, metric
//! points and (in the events flavour) log events.
//!
//! Transport adapters drive it in three steps, all synchronous and non-blocking:
//!
//! 1. [`Instrumentation::start`] with the method, URL and request body: detects the provider,
//!    parses the request, starts the CLIENT span, and hands back an [`LlmCall`] (or `None`
//!    for anything that is not an instrumented LLM call).
//! 2. [`LlmCall::propagation_headers`] to add the trace context (what the global propagator
//!    writes, else a W3C `traceparent`) to the outgoing request, then
//!    [`LlmCall::on_response`] with the status and headers (or [`LlmCall::on_transport_error`]).
//! 3. [`ResponseObserver::on_data`] with every body chunk as it passes to the caller,
//!    then [`ResponseObserver::on_end`] / [`ResponseObserver::on_error`]. Dropping the
//!    observer early (the caller dropped the stream) ends the span with the partial data.
//!
//! The span ends exactly once. Nothing here can fail the caller's request: every problem is
//! a [`Fault`] sent to the fault hook.
//!
//! The code is split by concern: this module holds [`Instrumentation`] (configuration and
//! [`start`](Instrumentation::start)); `builder` its [`InstrumentationBuilder`]; `call` the
//! [`LlmCall`] and the end of its span; `observer` the [`ResponseObserver`] (decoding and
//! framing of response bodies); `metrics` the metric instruments and their attributes;
//! `context` the parent context and trace-context propagation; `events` the log-event emitter
//! of the [`Flavour::Events`] flavour.

use std::fmt;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Instant;

use openllmetry_semconv::attr;
use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{Span as _, SpanKind, Tracer as _};
use opentelemetry::{Context, KeyValue};

use crate::budget::ObservationBudget;
use crate::detect::{ApiFormat, Operation, Target, detect};
use crate::fault::{Fault, FaultKind};
use crate::provider;
use crate::record::{RequestRecord, ResponseRecord};
use crate::render::{self, Content, Flavour};

mod builder;
mod call;
mod context;
mod events;
mod metrics;
mod observer;
#[cfg(test)]
mod parity_tests;
mod semconv_metrics;

pub use builder::InstrumentationBuilder;
pub use call::LlmCall;
pub use metrics::MAX_METRIC_MODEL_BYTES;
pub use observer::{INFLATE_INPUT_STEP, ResponseObserver};

use call::CallState;
use events::EventEmitter;
use metrics::Instruments;
use semconv_metrics::SemconvInstruments;

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

/// The settings and instruments every call of an [`Instrumentation`] shares.
struct Inner {
    tracer: BoxedTracer,
    instruments: Option<Instruments>,
    /// The semconv flavour's instruments (in place of `instruments`).
    semconv_instruments: Option<SemconvInstruments>,
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
            .field(
                "metrics",
                &(self.inner.instruments.is_some() || self.inner.semconv_instruments.is_some()),
            )
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
        target.provider_name = upstream_provider_name(self.inner.flavour, &target);
        if let Some(p) = provider_name.or_else(|| self.inner.provider_for_url(url)) {
            target = target.with_provider(p);
        }
        // A GET (the Responses API's retrieve) has no request body to parse.
        let body = body.filter(|_| !method.eq_ignore_ascii_case("GET"));
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
            // the observation budget.
            Some(b) => match inner.budget.try_reserve(b.len()) {
                Some(r) => {
                    reservation = Some(r);
                    provider::parse_request_for(&target, b, &mut faults)
                }
                None => {
                    // Past the budget the body is skimmed (its small top-level members
                    // only, in bounded memory) and parsed without its content.
                    faults.push(FaultKind::ObservationBudget);
                    request_truncated = true;
                    parse_skimmed_request(&target, crate::skim::skim(b), &mut faults)
                }
            },
            None => RequestRecord::default(),
        };
        fill_from_target(&mut request, &target);
        upstream_content_gates(inner, &target, &mut request);
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
        let parent = context::parent_context(inner);
        let span = inner
            .tracer
            .span_builder(if inner.flavour == Flavour::Semconv {
                std::borrow::Cow::Owned(render::semconv_span_name(&target, &request))
            } else {
                std::borrow::Cow::Borrowed(target.span_name())
            })
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

/// Runs `f` and reports a panic inside it as `None` instead of unwinding into the caller.
/// Adapters wrap every call into the recorder with it, so a bug in the instrumentation can
/// never take the host application down.
pub fn guard<T>(f: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
}

/// Gemini / Vertex AI name the model and the stream in the URL, not the body: what the body
/// did not say is taken from the target.
fn fill_from_target(request: &mut RequestRecord, target: &Target) {
    if request.model.is_none() {
        request.model.clone_from(&target.model_in_path);
    }
    request.stream |= target.stream_in_path;
}

/// The provider name the OpenLLMetry-compatible flavours report for a detected call.
///
/// Providers that upstream OpenLLMetry has no instrumentation for are reached through the
/// OpenAI or Anthropic client, whose instrumentation names the provider from the client's
/// base URL: `openai` for any host but Azure, Bedrock, Vertex AI and OpenRouter (0.62.1
/// `openai/shared/__init__.py::_get_vendor_from_url`), and always `anthropic`
/// (`anthropic/__init__.py`, `GenAiSystemValues.ANTHROPIC`). So DeepSeek, xAI, Perplexity and
/// Fireworks AI are reported as the client's provider there. Hosts with an upstream
/// instrumentation of their own (Groq, Together AI, Mistral AI, Ollama, Cohere) keep their
/// names. Other flavours keep the detected name.
fn upstream_provider_name(flavour: Flavour, target: &Target) -> &'static str {
    use openllmetry_semconv::value::provider as p;
    let upstream = matches!(
        flavour,
        Flavour::Current | Flavour::Legacy | Flavour::Events
    );
    let client_only = matches!(
        target.provider_name,
        p::DEEPSEEK | p::X_AI | p::PERPLEXITY | p::FIREWORKS_AI
    );
    match target.format {
        ApiFormat::OpenAi if upstream && client_only => p::OPENAI,
        ApiFormat::Anthropic if upstream && client_only => p::ANTHROPIC,
        _ => target.provider_name,
    }
}

/// Request attributes OpenLLMetry writes only as content: an Anthropic `output_format`
/// schema (`gen_ai.request.structured_output_schema`) is written inside its
/// `should_send_prompts()` branch of `anthropic/span_utils.py::aset_input_attributes` (0.62.1
/// and 0.53.4), which the events mode skips altogether (`_handle_input` emits events
/// instead). So: only with content capture on, and not in the events flavour. (An OpenAI
/// `response_format` schema is written whatever the content setting, as upstream does.)
fn upstream_content_gates(inner: &Inner, target: &Target, request: &mut RequestRecord) {
    if target.format == ApiFormat::Anthropic
        && (!inner.capture_content || inner.flavour == Flavour::Events)
    {
        request.params.structured_output_schema = None;
    }
}

/// The request parsed from a [skim](crate::skim) of its body, without content (the tier of
/// observation past the observation budget).
fn parse_skimmed_request(
    target: &Target,
    skimmed: Option<Vec<u8>>,
    faults: &mut Vec<FaultKind>,
) -> RequestRecord {
    let Some(skimmed) = skimmed else {
        return RequestRecord::default();
    };
    let mut request = provider::parse_request_for(target, &skimmed, faults);
    request.input_messages = Vec::new();
    request.system_instructions = Vec::new();
    request.tool_definitions = Vec::new();
    request
}

/// The response parsed from a [skim](crate::skim) of its body, without content.
fn parse_skimmed_response(
    target: &Target,
    skimmed: Option<Vec<u8>>,
    faults: &mut Vec<FaultKind>,
) -> Option<ResponseRecord> {
    let mut response = provider::parse_response_for(target, &skimmed?, faults);
    response.output_messages = Vec::new();
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An instrumentation recording to an in-memory exporter, with faults collected.
    pub(super) fn recording(
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

    pub(super) fn has_true(span: &opentelemetry_sdk::trace::SpanData, key: &str) -> bool {
        span.attributes
            .iter()
            .any(|kv| kv.key.as_str() == key && kv.value == opentelemetry::Value::Bool(true))
    }

    pub(super) const CHAT_URL: &str = "https://api.openai.com/v1/chat/completions";

    /// The string value of `key` on `span`, if any (and how many times the key appears).
    pub(super) fn str_attr(
        span: &opentelemetry_sdk::trace::SpanData,
        key: &str,
    ) -> (Option<String>, usize) {
        let found: Vec<_> = span
            .attributes
            .iter()
            .filter(|kv| kv.key.as_str() == key)
            .collect();
        (
            found.first().map(|kv| kv.value.as_str().into_owned()),
            found.len(),
        )
    }

    /// Whether any attribute value of `span` contains `needle`.
    pub(super) fn any_value_contains(
        span: &opentelemetry_sdk::trace::SpanData,
        needle: &str,
    ) -> bool {
        span.attributes
            .iter()
            .any(|kv| kv.value.as_str().contains(needle))
    }

    #[test]
    fn past_the_observation_budget_the_request_is_skimmed_without_content_and_marked() {
        let budget = ObservationBudget::new(1024);
        let (i, exporter, faults, _p) = recording(budget.clone());
        let small = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#;
        let big = format!(
            r#"{{"messages":[{{"role":"user","content":"secret {}"}}],"model":"gpt-4o-mini","temperature":0.25}}"#,
            "p".repeat(2048)
        );
        // The small request fits and holds its bytes until the call ends.
        let held = i.start("POST", CHAT_URL, Some(small)).unwrap();
        assert_eq!(budget.used(), small.len());
        // The big one does not: skimmed (model and parameters, no content), marked, counted;
        // the call still starts, and the budget is not touched by it.
        let over = i.start("POST", CHAT_URL, Some(big.as_bytes())).unwrap();
        assert_eq!(
            over.request().unwrap().model.as_deref(),
            Some("gpt-4o-mini")
        );
        assert!(over.request().unwrap().input_messages.is_empty());
        assert_eq!(budget.used(), small.len());
        over.on_response(200, Some("application/json"), None)
            .on_end();
        held.on_response(200, Some("application/json"), None)
            .on_end();
        assert_eq!(budget.used(), 0, "reservations returned");
        let spans = exporter.get_finished_spans().unwrap();
        assert_eq!(spans.len(), 2);
        assert!(has_true(&spans[0], attr::OPENLLMETRY_REQUEST_TRUNCATED));
        assert_eq!(
            str_attr(&spans[0], "gen_ai.request.model").0.as_deref(),
            Some("gpt-4o-mini")
        );
        assert!(
            spans[0]
                .attributes
                .iter()
                .any(|kv| kv.key.as_str() == "gen_ai.request.temperature")
        );
        assert!(
            !any_value_contains(&spans[0], "secret"),
            "no content in the skim tier"
        );
        assert!(!has_true(&spans[1], attr::OPENLLMETRY_REQUEST_TRUNCATED));
        assert!(
            any_value_contains(&spans[1], "hi"),
            "content capture is on for calls in budget"
        );
        assert_eq!(*faults.lock().unwrap(), vec![FaultKind::ObservationBudget]);
        // A caller that streams the body through says so: same fault and mark.
        i.start_body_skipped("POST", CHAT_URL, None)
            .unwrap()
            .on_transport_error("x");
        let spans = exporter.get_finished_spans().unwrap();
        assert!(has_true(&spans[2], attr::OPENLLMETRY_REQUEST_TRUNCATED));
        assert_eq!(str_attr(&spans[2], "gen_ai.request.model").1, 0);
        assert_eq!(faults.lock().unwrap().len(), 2);
    }

    #[test]
    fn a_streamed_through_request_gets_its_attributes_from_a_late_skim_once() {
        let budget = ObservationBudget::new(1024);
        let (i, exporter, _faults, _p) = recording(budget);
        let body = format!(
            r#"{{"messages":[{{"role":"user","content":"secret {}"}}],"model":"gpt-4o","stream":true,"max_tokens":7}}"#,
            "p".repeat(4096)
        );
        let mut call = i.start_body_skipped("POST", CHAT_URL, None).unwrap();
        let mut skim = crate::skim::Skim::new();
        for piece in body.as_bytes().chunks(100) {
            skim.push(piece);
        }
        call.set_skimmed_request(skim.finish());
        assert!(call.request().unwrap().stream);
        call.on_transport_error("x");
        let span = &exporter.get_finished_spans().unwrap()[0];
        assert_eq!(
            str_attr(span, "gen_ai.request.model"),
            (Some("gpt-4o".to_string()), 1)
        );
        assert_eq!(
            span.attributes
                .iter()
                .filter(|kv| kv.key.as_str() == "gen_ai.request.max_tokens")
                .count(),
            1
        );
        // Attributes set at the start (operation, provider) are not repeated.
        for kv in &span.attributes {
            let n = span.attributes.iter().filter(|o| o.key == kv.key).count();
            assert_eq!(n, 1, "{} set {n} times", kv.key);
        }
        assert!(has_true(span, attr::OPENLLMETRY_REQUEST_TRUNCATED));
        assert!(!any_value_contains(span, "secret"));
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
