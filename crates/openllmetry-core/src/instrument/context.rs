//! Trace context: the parent of an LLM span, and the propagation of the LLM span to the
//! provider in the outgoing request's headers.

use opentelemetry::Context;
use opentelemetry::trace::{Span as _, TraceContextExt};

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
}
