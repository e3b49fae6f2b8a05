//! The IO-free core of openllmetry-rs.
//!
//! ```text
//! detect(method, url)            -> Target (provider + operation) or None
//! openai / anthropic ::request   -> RequestRecord
//! openai / anthropic ::response  -> ResponseRecord
//! openai / anthropic ::Stream    -> push(SSE event) ... finish() -> ResponseRecord
//! any parse problem              -> FaultKind, reported through the fault hook
//! Instrumentation / LlmCall      -> spans, metrics and log events via the `opentelemetry` API
//! ```
//!
//! Nothing here does IO, spawns tasks or sends anything anywhere: transport adapters
//! (`openllmetry-http`) feed bytes in, the `opentelemetry` API carries records out.

#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

pub mod budget;
pub mod detect;
pub mod fault;
pub mod instrument;
mod json;
pub mod ndjson;
pub mod parity;
pub mod provider;
pub mod providers;
pub mod record;
pub mod render;
pub mod skim;
pub mod sse;

pub use providers::{anthropic, openai};

pub use detect::{ApiFormat, Operation, Target, detect};
pub use fault::{Fault, FaultKind};
pub use instrument::{Instrumentation, InstrumentationBuilder, LlmCall, ResponseObserver};
pub use record::{ProviderError, RequestParams, RequestRecord, ResponseRecord, Usage};
pub use render::{Content, Flavour};
pub use sse::{SseEvent, SseParser};
