//! Cohere API v2: `POST /v2/chat` (and its SSE stream), `/v2/embed`, `/v2/rerank`.
//!
//! * Chat: `messages` (`system`, `user`, `assistant` with `tool_calls` and `tool_plan`,
//!   `tool` with `tool_call_id`; content a string or a list of `text` / `document` /
//!   `image_url` items), `tools` (OpenAI-like function tools), `max_tokens`,
//!   `temperature`, `p` (top p), `k` (top k), `stop_sequences`, `seed`, penalties,
//!   `response_format`. Response: `id`, `message.content` (`text`, `thinking`),
//!   `message.tool_calls`, `finish_reason` mapped by [`map_finish_reason`].
//! * Stream: `message-start` (id), `content-start`/`content-delta` (text, thinking),
//!   `tool-call-start`/`tool-call-delta`, `message-end` (finish reason, usage); other
//!   documented events (`content-end`, `tool-plan-delta`, `tool-call-end`,
//!   `citation-start`, `citation-end`, `debug`) are read and ignored.
//! * Embed: `texts` or `inputs`, `embedding_types` (→ encoding formats); response
//!   `embeddings` (by type, or a plain list), `meta.billed_units.input_tokens`.
//! * Rerank ([`Operation::Rerank`](crate::Operation::Rerank)): `documents` become
//!   `system` input messages and `query` a final `user` message (as OpenLLMetry's Cohere
//!   instrumentation records them); `top_n`; `meta.billed_units` tokens when given.
//!
//! Tokens: `usage.billed_units` (what OpenLLMetry's Cohere instrumentation reports; its
//! v2 chat test expects 7 input tokens where `usage.tokens` says 69), falling back to
//! `usage.tokens` when no billed units are given. Never estimated.

mod request;
mod response;
mod stream;
#[cfg(test)]
mod tests;

pub use request::parse_request;
pub use response::parse_response;
pub use stream::StreamAccumulator;

use openllmetry_semconv::value::finish_reason;

/// Maps a Cohere v2 finish reason to the semconv value: `COMPLETE` and `STOP_SEQUENCE` →
/// `stop`, `MAX_TOKENS` → `length`, `TOOL_CALL` → `tool_call`, `ERROR` → `error`; any
/// other value is lowercased.
///
/// ```
/// use openllmetry_core::providers::cohere::map_finish_reason;
/// assert_eq!(map_finish_reason("COMPLETE"), "stop");
/// assert_eq!(map_finish_reason("TOOL_CALL"), "tool_call");
/// assert_eq!(map_finish_reason("TIMEOUT"), "timeout");
/// ```
pub fn map_finish_reason(raw: &str) -> String {
    match raw {
        "COMPLETE" | "STOP_SEQUENCE" => finish_reason::STOP.to_owned(),
        "MAX_TOKENS" => finish_reason::LENGTH.to_owned(),
        "TOOL_CALL" => finish_reason::TOOL_CALL.to_owned(),
        "ERROR" => finish_reason::ERROR.to_owned(),
        other => other.to_ascii_lowercase(),
    }
}
