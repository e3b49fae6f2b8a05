//! Span processor that copies scoped context values onto spans.
//!
//! Entity scopes ([`crate::entity`]) and association scopes ([`crate::association`]) put one
//! internal value into the OpenTelemetry [`Context`]. [`ContextSpanProcessor`] reads it
//! from the parent context of every span that starts and copies it onto the span as attributes:
//!
//! | Scope value | Span attribute |
//! |---|---|
//! | enclosing workflow name | `traceloop.workflow.name` |
//! | entity path | `traceloop.entity.path` |
//! | enclosing agent name | `gen_ai.agent.name` |
//! | conversation id | `gen_ai.conversation.id` |
//! | association property `<key>` | `traceloop.association.properties.<key>` |
//!
//! Because the values live in the `Context` and not in a process-wide variable, a span started
//! after a scope ended never sees them (upstream traceloop-sdk leaked them, issue #1518).

use std::collections::BTreeMap;
use std::sync::Arc;

use openllmetry_semconv::attr;
use opentelemetry::trace::{Span as _, SpanId, TraceContextExt as _};
use opentelemetry::{Context, Key, KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

/// Every context value openllmetry scopes put on spans, in one immutable, cheaply clonable
/// value stored in the OpenTelemetry [`Context`].
///
/// Scopes never mutate a `ScopeValues` that is already in a context: they clone it, change the
/// clone and attach a new context. The attribute list is computed once per scope, so reading it
/// for each span start is a few reference-count increments.
#[derive(Clone, Debug, Default)]
pub(crate) struct ScopeValues {
    pub(crate) workflow_name: Option<Arc<str>>,
    pub(crate) entity_path: Option<Arc<str>>,
    pub(crate) agent_name: Option<Arc<str>>,
    pub(crate) conversation_id: Option<Arc<str>>,
    /// Association properties by user key; the value holds the full attribute key.
    pub(crate) properties: Arc<BTreeMap<Arc<str>, (Key, Value)>>,
    /// The entity span whose body this scope is (set by entity scopes for their children, so
    /// association scopes opened directly in an entity body can also label that span).
    pub(crate) entity_span: Option<SpanId>,
    /// The span attributes for all of the above, computed by [`ScopeValues::seal`].
    attributes: Arc<[KeyValue]>,
}

impl ScopeValues {
    /// The values in `cx`, or empty values.
    pub(crate) fn from_context(cx: &Context) -> Self {
        cx.get::<Self>().cloned().unwrap_or_default()
    }

    /// Recomputes the attribute list after fields changed; call before storing in a context.
    pub(crate) fn seal(mut self) -> Self {
        let mut attributes = Vec::with_capacity(4 + self.properties.len());
        let fields = [
            (attr::TRACELOOP_WORKFLOW_NAME, &self.workflow_name),
            (attr::TRACELOOP_ENTITY_PATH, &self.entity_path),
            (attr::GEN_AI_AGENT_NAME, &self.agent_name),
            (attr::GEN_AI_CONVERSATION_ID, &self.conversation_id),
        ];
        for (key, value) in fields {
            if let Some(value) = value {
                attributes.push(KeyValue::new(key, Value::from(Arc::clone(value))));
            }
        }
        for (key, value) in self.properties.values() {
            attributes.push(KeyValue::new(key.clone(), value.clone()));
        }
        self.attributes = attributes.into();
        self
    }

    /// The span attributes of this scope.
    pub(crate) fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }
}

/// Marks the parent context of a span that sets its scope attributes itself (entity spans), so
/// that [`ContextSpanProcessor`] does not add them a second time.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SelfAttributed;

/// A [`SpanProcessor`] that copies openllmetry's scoped context values onto every span that
/// starts inside the scope: `traceloop.workflow.name`, `traceloop.entity.path`,
/// `gen_ai.agent.name`, `gen_ai.conversation.id` and `traceloop.association.properties.<key>`.
///
/// Install it before the exporting processor, so that the values are on the span when it is
/// exported. `openllmetry::init` does this; add it yourself only when you build your own
/// [`SdkTracerProvider`](opentelemetry_sdk::trace::SdkTracerProvider). LLM spans created by the
/// core instrumentation with `Context::current()` as parent get the values like any other span.
///
/// ```
/// use openllmetry::span_processor::ContextSpanProcessor;
/// use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
///
/// let provider = SdkTracerProvider::builder()
///     .with_span_processor(ContextSpanProcessor::new())
///     .with_simple_exporter(InMemorySpanExporter::default())
///     .build();
/// # drop(provider);
/// ```
///
/// `on_end`, `force_flush` and `shutdown` do nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct ContextSpanProcessor {
    _private: (),
}

impl ContextSpanProcessor {
    /// Creates the processor.
    pub const fn new() -> Self {
        Self { _private: () }
    }
}

impl SpanProcessor for ContextSpanProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        if cx.get::<SelfAttributed>().is_some() || !span.is_recording() {
            return;
        }
        if let Some(scope) = cx.get::<ScopeValues>()
            && !scope.attributes.is_empty()
        {
            span.set_attributes(scope.attributes.iter().cloned());
        }
    }

    fn on_end(&self, _span: SpanData) {}

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: std::time::Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Whether the span in `cx` is the entity span whose body `cx` belongs to.
pub(crate) fn current_span_is_entity(cx: &Context, scope: &ScopeValues) -> bool {
    scope
        .entity_span
        .is_some_and(|id| cx.has_active_span() && cx.span().span_context().span_id() == id)
}
