//! The log-event emitter of the [`Flavour::Events`](crate::Flavour::Events) flavour.

use std::time::SystemTime;

use openllmetry_semconv::attr;
use opentelemetry::global::BoxedSpan;
use opentelemetry::logs::{LogRecord as _, Logger, Severity};
use opentelemetry::trace::Span as _;

use crate::render::{self, LogEvent};

/// Emits one log event; object-safe wrapper over an `opentelemetry::logs::Logger`.
pub(super) trait EventEmitter: Send + Sync {
    fn emit(&self, event: &LogEvent, provider_name: &'static str, span: &BoxedSpan);
}

pub(super) struct LoggerEmitter<L>(pub(super) L);

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
