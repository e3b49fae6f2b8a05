//! Instrumentation faults: something in a provider exchange we could not understand.
//!
//! A fault never reaches the caller: the bytes pass through unchanged, the span records
//! what could be read, and the [`Fault`] goes to the hook configured on
//! `Instrumentation` (the SDK turns it into a counter and, if allowed, a telemetry report).
//! A fault carries no message string and no payload, only fixed enums.

use crate::detect::{ApiFormat, Operation};

/// What went wrong, as a closed set (no free text, so nothing sensitive can leak through it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FaultKind {
    /// A body or stream event that should be JSON is not.
    InvalidJson,
    /// JSON whose shape is not the documented one (wrong type, missing required field).
    UnexpectedShape,
    /// A stream event type we do not know.
    UnknownEvent,
    /// A body larger than the cap kept for parsing; the rest was passed through unobserved.
    BodyTooLarge,
    /// A single SSE event larger than the stream buffer cap.
    EventTooLarge,
    /// Accumulated stream content reached its cap; further content was not recorded.
    StreamContentTruncated,
    /// `Content-Encoding` we cannot decode.
    UnsupportedEncoding,
    /// Compressed body that failed to decode.
    DecodeFailed,
    /// The response ended (or was dropped) before the stream completed.
    StreamIncomplete,
    /// The recorder panicked while observing the response; the observation stopped and the
    /// span was ended with what it had.
    RecorderPanicked,
    /// A compressed body inflated past the observation budget
    /// ([`DEFAULT_MAX_INFLATED_BYTES`](crate::instrument::DEFAULT_MAX_INFLATED_BYTES)); the
    /// rest passed through without being inflated.
    InflatedTooLarge,
    /// A value taken from the exchange was cut to a bound before use (a model name longer
    /// than [`MAX_METRIC_MODEL_BYTES`](crate::instrument::MAX_METRIC_MODEL_BYTES) as a metric
    /// attribute value).
    ValueTruncated,
    /// The process-wide observation byte budget
    /// ([`DEFAULT_OBSERVATION_BUDGET_BYTES`](crate::budget::DEFAULT_OBSERVATION_BUDGET_BYTES))
    /// was spent: this call's request or response was observed less (not parsed).
    ObservationBudget,
    /// An AWS event-stream frame with a CRC mismatch or malformed prelude/headers; the
    /// stream is no longer observed (its bytes still pass through unchanged).
    EventStreamCorrupt,
}

impl FaultKind {
    /// Stable snake_case name (used as a metric attribute value and in telemetry reports).
    pub const fn as_str(self) -> &'static str {
        match self {
            FaultKind::InvalidJson => "invalid_json",
            FaultKind::UnexpectedShape => "unexpected_shape",
            FaultKind::UnknownEvent => "unknown_event",
            FaultKind::BodyTooLarge => "body_too_large",
            FaultKind::EventTooLarge => "event_too_large",
            FaultKind::StreamContentTruncated => "stream_content_truncated",
            FaultKind::UnsupportedEncoding => "unsupported_encoding",
            FaultKind::DecodeFailed => "decode_failed",
            FaultKind::StreamIncomplete => "stream_incomplete",
            FaultKind::RecorderPanicked => "recorder_panicked",
            FaultKind::InflatedTooLarge => "inflated_too_large",
            FaultKind::ValueTruncated => "value_truncated",
            FaultKind::ObservationBudget => "observation_budget_exceeded",
            FaultKind::EventStreamCorrupt => "event_stream_corrupt",
        }
    }

    /// Every kind, in declaration order.
    pub const ALL: &'static [FaultKind] = &[
        FaultKind::InvalidJson,
        FaultKind::UnexpectedShape,
        FaultKind::UnknownEvent,
        FaultKind::BodyTooLarge,
        FaultKind::EventTooLarge,
        FaultKind::StreamContentTruncated,
        FaultKind::UnsupportedEncoding,
        FaultKind::DecodeFailed,
        FaultKind::StreamIncomplete,
        FaultKind::RecorderPanicked,
        FaultKind::InflatedTooLarge,
        FaultKind::ValueTruncated,
        FaultKind::ObservationBudget,
        FaultKind::EventStreamCorrupt,
    ];
}

/// One instrumentation fault: which provider format, which operation, what kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fault {
    /// Wire format of the provider.
    pub provider: ApiFormat,
    /// Operation being observed.
    pub operation: Operation,
    /// What went wrong.
    pub kind: FaultKind,
}
