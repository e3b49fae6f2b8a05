//! What a parser extracts from one LLM call: a [`RequestRecord`] and a [`ResponseRecord`].
//!
//! Records hold structured data only; rendering into attributes (and the content switch and
//! redaction) is the recorder's job.

use openllmetry_semconv::message::{ChatMessage, OutputMessage, Part, ToolDefinition};

/// Request parameters that become `gen_ai.request.*` attributes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestParams {
    /// `max_tokens` / `max_completion_tokens` / `max_output_tokens` / `max_tokens_to_sample`.
    pub max_tokens: Option<i64>,
    /// `temperature`.
    pub temperature: Option<f64>,
    /// `top_p`.
    pub top_p: Option<f64>,
    /// `top_k` (Anthropic).
    pub top_k: Option<i64>,
    /// `frequency_penalty`.
    pub frequency_penalty: Option<f64>,
    /// `presence_penalty`.
    pub presence_penalty: Option<f64>,
    /// `stop` / `stop_sequences` (a single string becomes one entry).
    pub stop_sequences: Vec<String>,
    /// `seed`.
    pub seed: Option<i64>,
    /// `n`.
    pub choice_count: Option<i64>,
    /// `service_tier`.
    pub service_tier: Option<String>,
    /// `reasoning_effort` (chat) or `reasoning.effort` (Responses).
    pub reasoning_effort: Option<String>,
    /// JSON schema of a structured-output request, serialized.
    pub structured_output_schema: Option<String>,
    /// `gen_ai.output.type` derived from `response_format` (`text`, `json`).
    pub output_type: Option<String>,
    /// Embeddings `encoding_format`.
    pub encoding_formats: Vec<String>,
}

/// Everything taken from a request body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestRecord {
    /// `model`.
    pub model: Option<String>,
    /// `stream: true`.
    pub stream: bool,
    /// Sampling and other parameters.
    pub params: RequestParams,
    /// Anthropic `system`, Responses `instructions`: `gen_ai.system_instructions`.
    pub system_instructions: Vec<Part>,
    /// Input messages (chat messages, legacy prompts, embedding inputs as user text parts).
    pub input_messages: Vec<ChatMessage>,
    /// Tool (function) definitions offered to the model.
    pub tool_definitions: Vec<ToolDefinition>,
}

/// Token usage as the provider reported it. `None` means "not reported" (never estimated).
///
/// Two counts are 0 where the provider left them out, as OpenLLMetry writes them: Anthropic's
/// cache read and creation counts when its usage has an input count, and the cached-token
/// count of OpenAI-format embeddings (see the [`parity`](crate::parity) page).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// All input tokens. For Anthropic: `input_tokens + cache_read + cache_creation`.
    pub input_tokens: Option<i64>,
    /// Output tokens.
    pub output_tokens: Option<i64>,
    /// Total tokens (reported, or input + output).
    pub total_tokens: Option<i64>,
    /// Input tokens read from cache.
    pub cache_read_input_tokens: Option<i64>,
    /// Input tokens written to cache.
    pub cache_creation_input_tokens: Option<i64>,
    /// Reasoning output tokens.
    pub reasoning_output_tokens: Option<i64>,
}

/// An error reported by the provider (HTTP 4xx/5xx or an error body / stream event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    /// Value for `error.type`: the provider's error `type`/`code`, else the HTTP status code.
    pub error_type: String,
}

/// Everything taken from a response body (or accumulated from a stream).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponseRecord {
    /// Response id.
    pub id: Option<String>,
    /// Response model.
    pub model: Option<String>,
    /// OpenAI `system_fingerprint`.
    pub system_fingerprint: Option<String>,
    /// OpenAI `service_tier`.
    pub service_tier: Option<String>,
    /// One output message per choice (Anthropic: one message), finish reason mapped.
    pub output_messages: Vec<OutputMessage>,
    /// Mapped finish reasons, one per choice that reported one, in choice order.
    pub finish_reasons: Vec<String>,
    /// Token usage.
    pub usage: Usage,
    /// Embedding vector length (first vector).
    pub embedding_dimensions: Option<i64>,
    /// Number of embedding vectors returned.
    pub embedding_count: Option<i64>,
    /// Error reported in the body or stream.
    pub error: Option<ProviderError>,
    /// Provider-specific integer span attributes, as reported (e.g. Ollama's durations in
    /// nanoseconds, [`crate::providers::ollama::TOTAL_DURATION`]).
    pub provider_attributes: Vec<(&'static str, i64)>,
}

/// Cap on the content bytes (text, reasoning, tool arguments) one stream accumulator keeps:
/// 1 MiB. Content past the cap is not recorded (the bytes still pass through to the caller)
/// and a [`crate::FaultKind::StreamContentTruncated`] fault is reported once.
pub const MAX_STREAM_CONTENT_BYTES: usize = 1024 * 1024;

/// Cap on the choices (OpenAI) or content blocks (Anthropic) and on the tool calls one stream
/// accumulator tracks: 128 each. Entries past the cap are ignored (and reported as
/// [`crate::FaultKind::StreamContentTruncated`]).
pub const MAX_STREAM_ENTRIES: usize = 128;
