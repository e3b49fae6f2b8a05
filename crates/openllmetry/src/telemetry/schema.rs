//! The closed, versioned report schema and the fixed-size counter table behind it.
//!
//! Every value in a report is either one of the closed enums below, a count, or one of four
//! build constants (schema version, SDK version, `std::env::consts::OS` and `ARCH`). There is
//! no field that could carry a string from the application, the provider or the host.

use std::sync::atomic::{AtomicU64, Ordering};

use openllmetry_core::{ApiFormat, Fault, FaultKind};
use serde::{Serialize, Serializer};

/// Version of the report schema; bumped on any change to the fields or their meaning.
pub const SCHEMA_VERSION: u32 = 1;

macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $wire:literal, )+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $( $(#[$vmeta])* $variant, )+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant, )+ ];

            /// The value as it appears in a report.
            pub const fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $wire, )+ }
            }

            /// Position in [`Self::ALL`] (indexes the counter table).
            const fn index(self) -> usize {
                self as usize
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum! {
    /// Which instrumentation or SDK part a fault comes from.
    pub enum Component {
        /// The OpenAI-format instrumentation (every OpenAI-compatible API).
        OpenAi => "openai",
        /// The Anthropic-format instrumentation.
        Anthropic => "anthropic",
        /// The Gemini / Vertex AI instrumentation.
        Gemini => "gemini",
        /// The Ollama instrumentation.
        Ollama => "ollama",
        /// The Cohere instrumentation.
        Cohere => "cohere",
        /// The Mistral AI instrumentation.
        Mistral => "mistral",
        /// The Amazon Bedrock instrumentation.
        Bedrock => "bedrock",
        /// SDK initialisation (configuration, pipeline setup).
        SdkInit => "sdk_init",
        /// The SDK's export pipelines.
        SdkExport => "sdk_export",
        /// Entity spans (`#[workflow]`, `#[task]`, `#[agent]`, `#[tool]`).
        SdkEntity => "sdk_entity",
        /// Association properties.
        SdkAssociation => "sdk_association",
        /// The SDK's span processor.
        SdkSpanProcessor => "sdk_span_processor",
    }
}

wire_enum! {
    /// The operation being observed when the fault happened (`none` for SDK faults).
    pub enum Operation {
        /// Chat completions / messages.
        Chat => "chat",
        /// Legacy text completions.
        TextCompletion => "text_completion",
        /// Embeddings.
        Embeddings => "embeddings",
        /// OpenAI Responses API.
        Responses => "responses",
        /// Cohere rerank.
        Rerank => "rerank",
        /// Not tied to a provider operation.
        None => "none",
    }
}

wire_enum! {
    /// What went wrong: the core's fault kinds (same names as `FaultKind::as_str`) and the SDK's.
    pub enum Kind {
        /// A body or stream event that should be JSON is not.
        InvalidJson => "invalid_json",
        /// JSON whose shape is not the documented one.
        UnexpectedShape => "unexpected_shape",
        /// A stream event type the instrumentation does not know.
        UnknownEvent => "unknown_event",
        /// A body larger than the cap kept for parsing.
        BodyTooLarge => "body_too_large",
        /// A single SSE event larger than the stream buffer cap.
        EventTooLarge => "event_too_large",
        /// Accumulated stream content reached its cap.
        StreamContentTruncated => "stream_content_truncated",
        /// A `Content-Encoding` the instrumentation cannot decode.
        UnsupportedEncoding => "unsupported_encoding",
        /// A compressed body that failed to decode.
        DecodeFailed => "decode_failed",
        /// The response ended before the stream completed.
        StreamIncomplete => "stream_incomplete",
        /// The recorder panicked while observing; the span ended with what it had.
        RecorderPanicked => "recorder_panicked",
        /// A compressed body inflated past the observation budget.
        InflatedTooLarge => "inflated_too_large",
        /// A value from the exchange was cut to a bound (a long model name on metrics).
        ValueTruncated => "value_truncated",
        /// The process-wide observation byte budget was spent: the call was observed less.
        ObservationBudget => "observation_budget_exceeded",
        /// An AWS event-stream frame failed its checksum or was malformed (Bedrock streams).
        EventStreamCorrupt => "event_stream_corrupt",
        /// SDK initialisation failed.
        InitFailed => "init_failed",
        /// A configuration value was invalid and ignored.
        InvalidConfig => "invalid_config",
        /// An export failed.
        ExportFailed => "export_failed",
        /// A bounded queue was full and data was dropped.
        QueueFull => "queue_full",
        /// A value could not be serialised for recording.
        SerializeFailed => "serialize_failed",
        /// A panic inside the SDK was caught.
        PanicCaught => "panic_caught",
        /// A core fault kind newer than this SDK's schema.
        Other => "other",
    }
}

impl From<ApiFormat> for Component {
    fn from(format: ApiFormat) -> Self {
        match format {
            ApiFormat::OpenAi => Component::OpenAi,
            ApiFormat::Anthropic => Component::Anthropic,
            ApiFormat::Gemini => Component::Gemini,
            ApiFormat::Ollama => Component::Ollama,
            ApiFormat::Cohere => Component::Cohere,
            ApiFormat::Mistral => Component::Mistral,
            ApiFormat::Bedrock => Component::Bedrock,
        }
    }
}

impl From<openllmetry_core::Operation> for Operation {
    fn from(op: openllmetry_core::Operation) -> Self {
        use openllmetry_core::Operation as Core;
        match op {
            Core::Chat => Operation::Chat,
            Core::TextCompletion => Operation::TextCompletion,
            Core::Embeddings => Operation::Embeddings,
            Core::Responses => Operation::Responses,
            Core::Rerank => Operation::Rerank,
        }
    }
}

impl From<FaultKind> for Kind {
    fn from(kind: FaultKind) -> Self {
        match kind {
            FaultKind::InvalidJson => Kind::InvalidJson,
            FaultKind::UnexpectedShape => Kind::UnexpectedShape,
            FaultKind::UnknownEvent => Kind::UnknownEvent,
            FaultKind::BodyTooLarge => Kind::BodyTooLarge,
            FaultKind::EventTooLarge => Kind::EventTooLarge,
            FaultKind::StreamContentTruncated => Kind::StreamContentTruncated,
            FaultKind::UnsupportedEncoding => Kind::UnsupportedEncoding,
            FaultKind::DecodeFailed => Kind::DecodeFailed,
            FaultKind::StreamIncomplete => Kind::StreamIncomplete,
            FaultKind::RecorderPanicked => Kind::RecorderPanicked,
            FaultKind::InflatedTooLarge => Kind::InflatedTooLarge,
            FaultKind::ValueTruncated => Kind::ValueTruncated,
            FaultKind::ObservationBudget => Kind::ObservationBudget,
            FaultKind::EventStreamCorrupt => Kind::EventStreamCorrupt,
            // `FaultKind` is non-exhaustive: a kind added to the core before this schema
            // learns it is still counted, under a name that cannot carry anything.
            _ => Kind::Other,
        }
    }
}

/// One counted key of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FaultCount {
    /// Where the fault happened.
    pub component: Component,
    /// The operation being observed.
    pub operation: Operation,
    /// What went wrong.
    pub kind: Kind,
    /// How many times.
    pub count: u64,
}

impl FaultCount {
    /// Key from a core fault.
    pub(crate) fn key_of(fault: &Fault) -> (Component, Operation, Kind) {
        (
            fault.provider.into(),
            fault.operation.into(),
            fault.kind.into(),
        )
    }
}

/// The report body (JSON). Field order is the documented order.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) schema_version: u32,
    pub(crate) sdk_version: &'static str,
    pub(crate) language: &'static str,
    pub(crate) os: &'static str,
    pub(crate) arch: &'static str,
    pub(crate) entries: Vec<Entry>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Entry {
    pub(crate) component: Component,
    pub(crate) operation: Operation,
    pub(crate) kind: Kind,
    pub(crate) count: u64,
}

impl Report {
    /// A report of these counts (entries sorted by component, operation, kind names).
    pub(crate) fn new(mut counts: Vec<FaultCount>) -> Report {
        counts.sort_by_key(|c| (c.component.as_str(), c.operation.as_str(), c.kind.as_str()));
        Report {
            schema_version: SCHEMA_VERSION,
            sdk_version: env!("CARGO_PKG_VERSION"),
            language: "rust",
            os: std::env::consts::OS,
            arch: std::env::consts::ARCH,
            entries: counts
                .into_iter()
                .map(|c| Entry {
                    component: c.component,
                    operation: c.operation,
                    kind: c.kind,
                    count: c.count,
                })
                .collect(),
        }
    }

    pub(crate) fn to_json(&self) -> Option<Vec<u8>> {
        serde_json::to_vec(self).ok()
    }

    pub(crate) fn to_pretty_json(&self) -> Option<String> {
        serde_json::to_string_pretty(self).ok()
    }
}

/// Number of slots in the counter table: one per possible key, so it can never grow.
const SLOTS: usize = Component::ALL.len() * Operation::ALL.len() * Kind::ALL.len();

/// The in-process aggregate: a fixed table of counters, one per (component, operation, kind).
///
/// Lock-free and allocation-free on the recording path. `total` only grows; `reported` is
/// written by the telemetry thread only and holds how much of `total` was already reported.
pub(crate) struct Counters {
    total: [AtomicU64; SLOTS],
    reported: [AtomicU64; SLOTS],
}

impl Counters {
    pub(crate) const fn new() -> Counters {
        Counters {
            total: [const { AtomicU64::new(0) }; SLOTS],
            reported: [const { AtomicU64::new(0) }; SLOTS],
        }
    }

    const fn slot(c: Component, o: Operation, k: Kind) -> usize {
        (c.index() * Operation::ALL.len() + o.index()) * Kind::ALL.len() + k.index()
    }

    fn key(slot: usize) -> Option<(Component, Operation, Kind)> {
        let k = slot % Kind::ALL.len();
        let rest = slot / Kind::ALL.len();
        let o = rest % Operation::ALL.len();
        let c = rest / Operation::ALL.len();
        Some((
            *Component::ALL.get(c)?,
            *Operation::ALL.get(o)?,
            *Kind::ALL.get(k)?,
        ))
    }

    pub(crate) fn add(&self, c: Component, o: Operation, k: Kind) {
        if let Some(counter) = self.total.get(Self::slot(c, o, k)) {
            // Saturating: a counter stuck at u64::MAX is better than one that wraps to 0.
            let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_add(1))
            });
        }
    }

    /// Every key with a non-zero count since install.
    pub(crate) fn totals(&self) -> Vec<FaultCount> {
        self.collect(|total, _| total)
    }

    /// Every key with counts not yet reported.
    pub(crate) fn pending(&self) -> Vec<FaultCount> {
        self.collect(|total, reported| total.saturating_sub(reported))
    }

    /// Takes the pending counts and marks them reported (telemetry thread only).
    pub(crate) fn take_pending(&self) -> Vec<FaultCount> {
        let mut out = Vec::new();
        for (slot, (total, reported)) in self.total.iter().zip(&self.reported).enumerate() {
            let t = total.load(Ordering::Relaxed);
            let r = reported.load(Ordering::Relaxed);
            if t > r {
                reported.store(t, Ordering::Relaxed);
                if let Some((component, operation, kind)) = Self::key(slot) {
                    out.push(FaultCount {
                        component,
                        operation,
                        kind,
                        count: t - r,
                    });
                }
            }
        }
        out
    }

    fn collect(&self, f: impl Fn(u64, u64) -> u64) -> Vec<FaultCount> {
        let mut out = Vec::new();
        for (slot, (total, reported)) in self.total.iter().zip(&self.reported).enumerate() {
            let count = f(
                total.load(Ordering::Relaxed),
                reported.load(Ordering::Relaxed),
            );
            if count > 0
                && let Some((component, operation, kind)) = Self::key(slot)
            {
                out.push(FaultCount {
                    component,
                    operation,
                    kind,
                    count,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_fault_kinds_keep_their_names() {
        for kind in FaultKind::ALL {
            assert_eq!(Kind::from(*kind).as_str(), kind.as_str());
        }
    }

    #[test]
    fn fault_kinds_added_to_the_core_are_known_not_other() {
        for kind in [
            FaultKind::RecorderPanicked,
            FaultKind::InflatedTooLarge,
            FaultKind::ValueTruncated,
            FaultKind::ObservationBudget,
        ] {
            assert!(FaultKind::ALL.contains(&kind), "{kind:?} missing from ALL");
            assert_ne!(Kind::from(kind), Kind::Other, "{kind:?}");
            assert_eq!(Kind::from(kind).as_str(), kind.as_str());
        }
    }

    #[test]
    fn slots_round_trip() {
        for c in Component::ALL {
            for o in Operation::ALL {
                for k in Kind::ALL {
                    assert_eq!(
                        Counters::key(Counters::slot(*c, *o, *k)),
                        Some((*c, *o, *k))
                    );
                }
            }
        }
        assert_eq!(Counters::key(SLOTS), None);
    }
}
