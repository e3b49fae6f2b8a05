//! [`LlmCall`]: one LLM call in flight, and the end of its span.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use openllmetry_semconv::attr;
use opentelemetry::KeyValue;
use opentelemetry::global::BoxedSpan;
use opentelemetry::trace::{Span as _, Status};

use super::Inner;
use super::metrics::{self, MAX_METRIC_MODEL_BYTES};
use super::observer::ResponseObserver;
use crate::budget::Reservation;
use crate::detect::{Operation, Target};
use crate::fault::{Fault, FaultKind};
use crate::record::{RequestRecord, ResponseRecord};
use crate::render::{self, Content, Flavour};

/// What the recorder keeps of a call from its start to the end of its span.
pub(super) struct CallState {
    pub(super) inner: Arc<Inner>,
    pub(super) span: BoxedSpan,
    pub(super) target: Target,
    pub(super) request: RequestRecord,
    pub(super) start: Instant,
    pub(super) faults: Vec<FaultKind>,
    pub(super) first_chunk: Option<Instant>,
    pub(super) last_chunk: Option<Instant>,
    /// Metric attributes of the per-chunk histograms, built once per stream.
    pub(super) chunk_metric_attrs: Option<Vec<KeyValue>>,
    /// An observation bound was reached: the recorded response is partial.
    pub(super) truncated: bool,
    /// The observation budget held for the parsed request; returned when the call ends.
    pub(super) _reservation: Option<Reservation>,
}

/// How an observed call ended.
pub(super) enum Outcome<'a> {
    Complete,
    /// The body stopped before the response was complete (dropped or cut).
    Incomplete,
    /// The transport failed (connection error, stream error) with this `error.type`.
    Error(&'a str),
}

/// An LLM call in flight (request sent, no response yet). Dropping it without a response
/// ends the span as cancelled.
pub struct LlmCall {
    pub(super) state: Option<CallState>,
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

    /// Completes a call started with [`Instrumentation::start_body_skipped`](super::Instrumentation::start_body_skipped)
    /// from a [skim](crate::skim) of the body the caller streamed through (`None`: the skim did
    /// not finish, or the body was not a JSON object). The request is parsed without its
    /// content; the request attributes it yields are added to the span, which stays marked
    /// `openllmetry.request.truncated`. Attributes already on the span are not repeated.
    pub fn set_skimmed_request(&mut self, skimmed: Option<Vec<u8>>) {
        let (Some(state), Some(skimmed)) = (self.state.as_mut(), skimmed) else {
            return;
        };
        let flavour = state.inner.flavour;
        let mut before = Vec::new();
        render::request_attributes(flavour, &state.target, &state.request, &mut before);
        let mut request =
            super::parse_skimmed_request(&state.target, Some(skimmed), &mut state.faults);
        super::fill_from_target(&mut request, &state.target);
        super::upstream_content_gates(&state.inner, &state.target, &mut request);
        let mut after = Vec::new();
        render::request_attributes(flavour, &state.target, &request, &mut after);
        after.retain(|kv| !before.iter().any(|b| b.key == kv.key));
        state.span.set_attributes(after);
        if flavour == Flavour::Semconv && state.request.model.is_none() && request.model.is_some() {
            // The span started without a model; its name gains it now.
            state
                .span
                .update_name(render::semconv_span_name(&state.target, &request));
        }
        state.request = request;
    }

    /// The response head arrived. `content_type` and `content_encoding` are the response's
    /// header values. Returns the observer to feed the body to.
    pub fn on_response(
        mut self,
        status: u16,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
    ) -> ResponseObserver {
        match self.state.take() {
            Some(state) => ResponseObserver::new(state, status, content_type, content_encoding),
            None => ResponseObserver::inert(),
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

/// Ends the call's span once: response attributes, metrics, content (after the redaction
/// hook), log events, status, then the faults to the fault hook.
pub(super) fn finish(
    mut state: CallState,
    status: u16,
    mut response: Option<ResponseRecord>,
    outcome: Outcome<'_>,
) {
    let inner = state.inner.clone();
    let mut attrs = Vec::with_capacity(24);
    if let Some(r) = &response {
        if inner.flavour == Flavour::Semconv {
            render::semconv_response_attributes(Some(state.target.provider_name), r, &mut attrs);
        } else {
            render::response_attributes(inner.flavour, r, &mut attrs);
        }
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
    if (inner.instruments.is_some() || inner.semconv_instruments.is_some())
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
    if inner.flavour == Flavour::Semconv
        && (error_type.is_some() || matches!(outcome, Outcome::Incomplete))
        && state.target.operation != crate::detect::Operation::Embeddings
    {
        // The conventions report `error` for each generation that ended without a reason.
        attrs.retain(|kv| kv.key.as_str() != attr::GEN_AI_RESPONSE_FINISH_REASONS);
        let reasons = render::semconv_abnormal_finish_reasons(response.as_ref());
        attrs.push(KeyValue::new(
            attr::GEN_AI_RESPONSE_FINISH_REASONS,
            opentelemetry::Value::Array(opentelemetry::Array::String(
                reasons.into_iter().map(Into::into).collect(),
            )),
        ));
    }

    // Metrics, from the response as the provider sent it (before any redaction).
    if let Some(m) = &inner.instruments {
        metrics::record_end(m, &state, response.as_ref(), error_type.as_deref());
    }
    if let Some(m) = &inner.semconv_instruments {
        m.record_end(&state, response.as_ref(), error_type.as_deref());
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
    // The Responses API has no events path upstream (OpenLLMetry 0.62.1
    // `openai/v1/responses_wrappers.py::set_data_attributes` writes the JSON content
    // attributes whenever content tracing is on, and emits no log record): in the events
    // flavour its content stays on the span, as in the current flavour.
    let responses_in_events =
        inner.flavour == Flavour::Events && state.target.operation == Operation::Responses;
    match (inner.flavour, &content) {
        (Flavour::Current, Some(c)) => {
            render::current_content_attributes_for(state.target.format, c, &mut attrs)
        }
        (Flavour::Events, Some(c)) if responses_in_events => {
            render::current_content_attributes_for(state.target.format, c, &mut attrs)
        }
        (Flavour::Legacy, Some(c)) => {
            render::legacy_content_attributes_for(state.target.format, c, &mut attrs)
        }
        (Flavour::Semconv, Some(c)) => render::semconv_content_attributes(c, &mut attrs),
        _ => {}
    }
    state.span.set_attributes(attrs);
    if inner.flavour == Flavour::Events
        && !responses_in_events
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
