//! Attribute keys, metric names, well-known values and message shapes of the
//! [OpenTelemetry GenAI semantic conventions] **v1.41.0**, plus the OpenLLMetry
//! extension keys (`traceloop.*`, `llm.*`, `gen_ai.usage.total_tokens`, ...).
//!
//! This crate holds plain constants and serde types, no logic. The `gen_ai`
//! constants of `opentelemetry-semantic-conventions` are deprecated (the GenAI
//! conventions moved to their own repository in semconv 1.42), so the keys are
//! kept here, pinned to [`SEMCONV_VERSION`].
//!
//! The opt-in `semconv` output flavour follows the newer conventions of the
//! `open-telemetry/semantic-conventions-genai` repository instead, pinned by commit in
//! [`latest`] ([`latest::GENAI_CONVENTIONS_COMMIT`]); only the names that changed live there.
//!
//! [OpenTelemetry GenAI semantic conventions]: https://opentelemetry.io/docs/specs/semconv/gen-ai/

#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

pub mod attr;
pub mod latest;
pub mod legacy;
pub mod message;
pub mod metric;
pub mod value;

/// The GenAI semantic-conventions version whose names this crate follows.
pub const SEMCONV_VERSION: &str = "1.41.0";

/// The schema URL of [`SEMCONV_VERSION`].
pub const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.41.0";
