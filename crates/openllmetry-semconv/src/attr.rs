//! Span and metric attribute keys (GenAI semconv v1.41 and OpenLLMetry 0.62).

/// Name of the operation (`chat`, `text_completion`, `embeddings`, ...).
pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
/// The GenAI provider, as a well-known value from [`crate::value::provider`].
pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
/// Model requested.
pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
/// Maximum number of tokens the model may generate.
pub const GEN_AI_REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";
/// Sampling temperature.
pub const GEN_AI_REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";
/// Nucleus sampling parameter.
pub const GEN_AI_REQUEST_TOP_P: &str = "gen_ai.request.top_p";
/// Top-k sampling parameter.
pub const GEN_AI_REQUEST_TOP_K: &str = "gen_ai.request.top_k";
/// Frequency penalty.
pub const GEN_AI_REQUEST_FREQUENCY_PENALTY: &str = "gen_ai.request.frequency_penalty";
/// Presence penalty.
pub const GEN_AI_REQUEST_PRESENCE_PENALTY: &str = "gen_ai.request.presence_penalty";
/// Stop sequences.
pub const GEN_AI_REQUEST_STOP_SEQUENCES: &str = "gen_ai.request.stop_sequences";
/// Seed.
pub const GEN_AI_REQUEST_SEED: &str = "gen_ai.request.seed";
/// Number of candidate completions requested (`n`).
pub const GEN_AI_REQUEST_CHOICE_COUNT: &str = "gen_ai.request.choice.count";
/// Encoding formats requested for embeddings.
pub const GEN_AI_REQUEST_ENCODING_FORMATS: &str = "gen_ai.request.encoding_formats";
/// Whether the response was requested as a stream.
pub const GEN_AI_REQUEST_STREAM: &str = "gen_ai.request.stream";
/// Reasoning effort requested (OpenLLMetry extension).
pub const GEN_AI_REQUEST_REASONING_EFFORT: &str = "gen_ai.request.reasoning_effort";
/// JSON schema of a structured-output request (OpenLLMetry extension).
pub const GEN_AI_REQUEST_STRUCTURED_OUTPUT_SCHEMA: &str = "gen_ai.request.structured_output_schema";
/// Requested output type (`text`, `json`, ...).
pub const GEN_AI_OUTPUT_TYPE: &str = "gen_ai.output.type";
/// Whether the call was streamed (OpenLLMetry extension, kept beside `gen_ai.request.stream`).
pub const GEN_AI_IS_STREAMING: &str = "gen_ai.is_streaming";
/// The client's base URL (OpenLLMetry extension).
pub const GEN_AI_OPENAI_API_BASE: &str = "gen_ai.openai.api_base";
/// Azure OpenAI `api-version` (OpenLLMetry extension).
pub const GEN_AI_OPENAI_API_VERSION: &str = "gen_ai.openai.api_version";

/// Response id.
pub const GEN_AI_RESPONSE_ID: &str = "gen_ai.response.id";
/// Model that produced the response.
pub const GEN_AI_RESPONSE_MODEL: &str = "gen_ai.response.model";
/// Finish reasons, one per choice.
pub const GEN_AI_RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
/// Single finish reason (metric attribute of `gen_ai.client.generation.choices`).
pub const GEN_AI_RESPONSE_FINISH_REASON: &str = "gen_ai.response.finish_reason";
/// Time to the first streamed chunk, in seconds.
pub const GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: &str = "gen_ai.response.time_to_first_chunk";

/// Input tokens (for Anthropic: input + cache read + cache creation).
pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// Output tokens.
pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// Total tokens (OpenLLMetry extension).
pub const GEN_AI_USAGE_TOTAL_TOKENS: &str = "gen_ai.usage.total_tokens";
/// Input tokens read from the provider's cache.
pub const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: &str = "gen_ai.usage.cache_read.input_tokens";
/// Input tokens written to the provider's cache.
pub const GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: &str =
    "gen_ai.usage.cache_creation.input_tokens";
/// Output tokens spent on reasoning.
pub const GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: &str = "gen_ai.usage.reasoning.output_tokens";
/// Token type of a `gen_ai.client.token.usage` point (`input` / `output`).
pub const GEN_AI_TOKEN_TYPE: &str = "gen_ai.token.type";

/// Input messages, JSON following `gen-ai-input-messages.json`.
pub const GEN_AI_INPUT_MESSAGES: &str = "gen_ai.input.messages";
/// Output messages, JSON following `gen-ai-output-messages.json`.
pub const GEN_AI_OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
/// System instructions, JSON following `gen-ai-system-instructions.json`.
pub const GEN_AI_SYSTEM_INSTRUCTIONS: &str = "gen_ai.system_instructions";
/// Tool definitions, JSON following `gen-ai-tool-definitions.json`.
pub const GEN_AI_TOOL_DEFINITIONS: &str = "gen_ai.tool.definitions";
/// Embedding dimension count.
pub const GEN_AI_EMBEDDINGS_DIMENSION_COUNT: &str = "gen_ai.embeddings.dimension.count";
/// Conversation id.
pub const GEN_AI_CONVERSATION_ID: &str = "gen_ai.conversation.id";
/// Agent name.
pub const GEN_AI_AGENT_NAME: &str = "gen_ai.agent.name";
/// Tool name.
pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";

/// OpenAI: requested service tier.
pub const OPENAI_REQUEST_SERVICE_TIER: &str = "openai.request.service_tier";
/// OpenAI: service tier that served the response.
pub const OPENAI_RESPONSE_SERVICE_TIER: &str = "openai.response.service_tier";
/// OpenAI: system fingerprint of the response.
pub const OPENAI_RESPONSE_SYSTEM_FINGERPRINT: &str = "openai.response.system_fingerprint";
/// OpenAI: which API (`chat_completions`, `responses`).
pub const OPENAI_API_TYPE: &str = "openai.api.type";

/// Error class (stable OTel key).
pub const ERROR_TYPE: &str = "error.type";
/// Server host (stable OTel key).
pub const SERVER_ADDRESS: &str = "server.address";
/// Server port (stable OTel key).
pub const SERVER_PORT: &str = "server.port";

/// Span kind of an entity span (`workflow`, `task`, `agent`, `tool`).
pub const TRACELOOP_SPAN_KIND: &str = "traceloop.span.kind";
/// Entity name.
pub const TRACELOOP_ENTITY_NAME: &str = "traceloop.entity.name";
/// Entity version.
pub const TRACELOOP_ENTITY_VERSION: &str = "traceloop.entity.version";
/// Dotted path of enclosing tasks.
pub const TRACELOOP_ENTITY_PATH: &str = "traceloop.entity.path";
/// Entity input (JSON).
pub const TRACELOOP_ENTITY_INPUT: &str = "traceloop.entity.input";
/// Entity output (JSON).
pub const TRACELOOP_ENTITY_OUTPUT: &str = "traceloop.entity.output";
/// Enclosing workflow name.
pub const TRACELOOP_WORKFLOW_NAME: &str = "traceloop.workflow.name";
/// Prefix of association properties.
pub const TRACELOOP_ASSOCIATION_PROPERTIES_PREFIX: &str = "traceloop.association.properties.";

/// Set on an LLM span whose response ended before it was complete (stream dropped by the
/// caller, or the connection closed): the recorded data is partial.
pub const OPENLLMETRY_RESPONSE_INCOMPLETE: &str = "openllmetry.response.incomplete";

/// Set on an LLM span whose response was only partly observed because an observation bound
/// was reached (body or inflated-size cap): the bytes passed through whole, the recorded
/// data is partial.
pub const OPENLLMETRY_RESPONSE_TRUNCATED: &str = "openllmetry.response.truncated";
