//! OpenLLMetry for Rust: OpenTelemetry-native observability for LLM applications.
//!
//! One call sets up traces, metrics and logs with OTLP export; the transport adapters
//! (`openllmetry-http`: a reqwest middleware and a tower layer) then turn every OpenAI,
//! OpenAI-compatible and Anthropic call into a span with GenAI semantic-convention
//! attributes, plus GenAI metrics.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // Zero setup: with no endpoint, key or exporter configured, traces print to the console.
//! let _otel = openllmetry::init(openllmetry::Config::new().with_app_name("my-app"));
//!
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(openllmetry_http::OpenLlmMiddleware::new())
//!     .build();
//! # let _ = client; Ok(()) }
//! ```
//!
//! * [`init`] / [`try_init`] take a [`Config`] and return an [`OpenLlmetry`] guard that
//!   flushes and shuts down on drop.
//! * [`workflow`], [`task`], [`agent`], [`tool`] attribute macros (and the non-macro
//!   [`entity`] API) create entity spans; [`association`] scopes properties onto every span.
//! * [`telemetry`]: anonymous SDK fault reports, local-only unless you opt in (TELEMETRY.md).
//!
//! Examples (in the repository's `crates/openllmetry/examples/`): `readme.rs` (the README's
//! complete program: `cargo run -p openllmetry --example readme`) and `workflow.rs` (a
//! workflow with two tasks against the cassette replayer).
//!
//! For applications in any language there is the instrumenting gateway, the `openllmetry`
//! binary of the crate [`openllmetry-gateway`](https://docs.rs/openllmetry-gateway)
//! (`cargo install openllmetry-gateway`, then `openllmetry gateway`, or `openllmetry demo`
//! to see a trace with no API key): point a client's base URL at it and every call becomes
//! the same spans and metrics.
//!
// Without the `otlp` feature the bounded OTLP export pipeline (export.rs and its diagnostics)
// is compiled but not used.
#![cfg_attr(not(feature = "otlp"), allow(dead_code, unused_imports))]
#![doc = include_str!("docs/configuration.md")]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

pub mod association;
pub mod config;
pub mod console;
pub mod diagnostics;
pub mod entity;
mod entity_kind;
mod env_vars;
mod export;
mod init;
mod pipeline;
pub mod redact;
mod sink;
pub mod span_processor;
pub(crate) mod state;
pub mod telemetry;

pub use config::{Config, ConfigError, Protocol, SamplerChoice};
pub use diagnostics::{Diagnostics, diagnostics};
pub use export::TRUNCATED_ATTRIBUTE;
pub use init::{OpenLlmetry, init, try_init};
pub use openllmetry_core::{ApiFormat, Content, Flavour, Instrumentation, Target};

#[cfg(feature = "macros")]
pub use openllmetry_macros::{agent, task, tool, workflow};

#[doc(hidden)]
pub mod __private;
