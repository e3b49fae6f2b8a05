//! One folder per provider wire format, each with the same layout:
//!
//! ```text
//! providers/<name>/mod.rs       shared helpers of the format (finish reasons, errors, usage)
//! providers/<name>/request.rs   parse_request  -> RequestRecord
//! providers/<name>/response.rs  parse_response -> ResponseRecord
//! providers/<name>/stream.rs    StreamAccumulator: push(event) ... finish() -> ResponseRecord
//! providers/<name>/tests.rs     unit tests over recorded bodies (testdata/)
//! ```
//!
//! Small formats (Cohere, Mistral, Ollama) keep request, response and stream in `mod.rs`.
//! Adding a provider is adding a folder here, a variant of [`ApiFormat`](crate::ApiFormat),
//! a detection row in [`detect`](mod@crate::detect) and an arm in [`provider`](crate::provider).

pub mod anthropic;
pub mod bedrock;
pub mod cohere;
pub(crate) mod common;
pub mod gemini;
pub mod mistral;
pub mod ollama;
pub mod openai;
