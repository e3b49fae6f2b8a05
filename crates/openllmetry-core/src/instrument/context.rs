//! Trace context: the parent of an LLM span, and the propagation of the LLM span to the
//! provider in the outgoing request's headers.

use opentelemetry::propagation::Injector;
use opentelemetry::trace::{Span as _, SpanContext, TraceContextExt};
use opentelemetry::{Context, global};

use super::{Inner, LlmCall};

/// The parent context of a new LLM span: the builder's
/// [`with_parent_context`](super::InstrumentationBuilder::with_parent_context) hook, else
/// [`Context::current`].
pub(super) fn parent_context(inner: &Inner) -> Context {
    match &inner.parent_context {
        Some(hook) => hook(),
        None => Context::current(),
    }
}

impl LlmCall {
    /// A context whose current span is this call's span (for code that wants to parent
    /// something under it).
    pub fn context(&self) -> Context {
        match &self.state {
            Some(s) => Context::current().with_remote_span_context(s.span.span_context().clone()),
            None => Context::current(),
        }
    }

    /// Headers to add to the outgoing request, so the provider (or the next hop) continues
    /// the trace under this call's span.
    ///
    /// They are what the process-wide text-map propagator
    /// ([`opentelemetry::global::set_text_map_propagator`]; the SDK's `init` installs one)
    /// writes for a context whose span is this call's span, so a configured propagator is
    /// honoured: W3C `traceparent`/`tracestate`, `baggage`, B3 or any other. The rest of that
    /// context (baggage, for instance) is [`Context::current`] at the time of the call
    /// (adapters call this right after [`Instrumentation::start`](super::Instrumentation::start),
    /// in the caller's context). Header names are lowercase; a header the propagator writes
    /// with an empty value (the W3C propagator's `tracestate` when there is none) is left out.
    ///
    /// When no propagator was configured (the global one is the default no-op propagator,
    /// which writes nothing: it has no fields), a W3C `traceparent` is written as before (and
    /// `tracestate` when not empty).
    ///
    /// Empty when propagation is off
    /// ([`with_trace_context_propagation`](super::InstrumentationBuilder::with_trace_context_propagation))
    /// or the span context is invalid (e.g. no SDK installed).
    pub fn propagation_headers(&self) -> Vec<(String, String)> {
        let Some(s) = &self.state else {
            return Vec::new();
        };
        let sc = s.span.span_context();
        if !s.inner.propagate || !sc.is_valid() {
            return Vec::new();
        }
        let mut headers = Headers(Vec::new());
        let configured = global::get_text_map_propagator(|p| {
            if p.fields().next().is_none() {
                // The default no-op propagator: nothing was configured.
                return false;
            }
            p.inject_context(&self.context(), &mut headers);
            true
        });
        if !configured {
            w3c_trace_context(sc, &mut headers);
        }
        headers.0
    }
}

/// The headers a propagator writes, in order; a later write of the same name replaces the
/// earlier one (a propagator's carrier is a map).
struct Headers(Vec<(String, String)>);

impl Injector for Headers {
    fn set(&mut self, key: &str, value: String) {
        if value.is_empty() {
            return;
        }
        let key = key.to_ascii_lowercase();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key, value)),
        }
    }
}

/// W3C trace context of `sc`: `traceparent`, and `tracestate` when not empty.
fn w3c_trace_context(sc: &SpanContext, headers: &mut Headers) {
    headers.set(
        "traceparent",
        format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags().to_u8()
        ),
    );
    headers.set("tracestate", sc.trace_state().header());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_lowercase_last_write_wins_and_empty_values_are_left_out() {
        let mut h = Headers(Vec::new());
        h.set("TraceParent", "a".to_owned());
        h.set("tracestate", String::new());
        h.set("baggage", "k=v".to_owned());
        h.set("traceparent", "b".to_owned());
        assert_eq!(
            h.0,
            vec![
                ("traceparent".to_owned(), "b".to_owned()),
                ("baggage".to_owned(), "k=v".to_owned()),
            ]
        );
    }
}
