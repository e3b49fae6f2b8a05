//! Ollama's native API: `POST /api/chat`, `/api/generate`, `/api/embed` (and the older
//! `/api/embeddings`).
//!
//! * [`Operation::Chat`](crate::Operation::Chat): `/api/chat`; messages with text, base64
//!   `images` (blob parts), assistant `tool_calls` (arguments are JSON objects) and `tool`
//!   messages; `tools`; `options` (`num_predict` → max tokens, `temperature`, `top_p`,
//!   `top_k`, `stop`, `seed`, penalties); `format` (`"json"` or a JSON schema).
//! * [`Operation::TextCompletion`](crate::Operation::TextCompletion): `/api/generate`;
//!   `prompt` (one user message), `system` (system instructions), `images`.
//! * [`Operation::Embeddings`](crate::Operation::Embeddings): `/api/embed` (`input`, a
//!   string or a list; response `embeddings`) and `/api/embeddings` (`prompt`; response
//!   `embedding`).
//!
//! `stream` defaults to **true** for chat and generate (Ollama's default). Streams are
//! newline-delimited JSON (`application/x-ndjson`, split by
//! [`NdjsonParser`](crate::ndjson::NdjsonParser)); the last line has `"done": true`, the
//! `done_reason`, the token counts and the durations. Tokens: `prompt_eval_count` →
//! input, `eval_count` → output (never estimated). Durations (nanoseconds, as reported) are
//! recorded as the span attributes [`TOTAL_DURATION`], [`LOAD_DURATION`],
//! [`PROMPT_EVAL_DURATION`] and [`EVAL_DURATION`]. An `error` line or body becomes
//! `error.type` = `api_error` (the message text is never recorded: it may quote content).

mod request;
mod response;
mod stream;
#[cfg(test)]
mod tests;

pub use request::parse_request;
pub use response::parse_response;
pub use stream::StreamAccumulator;

/// Span attribute: Ollama `total_duration` (ns).
pub const TOTAL_DURATION: &str = "ollama.response.total_duration";
/// Span attribute: Ollama `load_duration` (ns).
pub const LOAD_DURATION: &str = "ollama.response.load_duration";
/// Span attribute: Ollama `prompt_eval_duration` (ns).
pub const PROMPT_EVAL_DURATION: &str = "ollama.response.prompt_eval_duration";
/// Span attribute: Ollama `eval_duration` (ns).
pub const EVAL_DURATION: &str = "ollama.response.eval_duration";

/// `error.type` of an Ollama error body or stream line (Ollama errors carry only a message).
pub(crate) const API_ERROR: &str = "api_error";

/// The four durations, in the order of the constants above.
pub(crate) const DURATION_KEYS: [(&str, &str); 4] = [
    ("total_duration", TOTAL_DURATION),
    ("load_duration", LOAD_DURATION),
    ("prompt_eval_duration", PROMPT_EVAL_DURATION),
    ("eval_duration", EVAL_DURATION),
];
