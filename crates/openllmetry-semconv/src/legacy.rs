//! Keys of the legacy (pre-semconv-1.37) OpenLLMetry attribute flavour.
//!
//! Indexed keys are built as `format!("{GEN_AI_PROMPT}.{i}.content")`.

/// Prefix of indexed prompt attributes (`gen_ai.prompt.N.role`, `.content`, `.tool_calls.M.*`).
pub const GEN_AI_PROMPT: &str = "gen_ai.prompt";
/// Prefix of indexed completion attributes (`gen_ai.completion.N.*`).
pub const GEN_AI_COMPLETION: &str = "gen_ai.completion";
/// Prefix of indexed tool-definition attributes (`llm.request.functions.N.name`, ...).
pub const LLM_REQUEST_FUNCTIONS: &str = "llm.request.functions";
/// Total tokens.
pub const LLM_USAGE_TOTAL_TOKENS: &str = "llm.usage.total_tokens";
/// Request type (`chat`, `completion`, `embedding`).
pub const LLM_REQUEST_TYPE: &str = "llm.request.type";
/// Vendor name (the pre-`gen_ai.provider.name` key).
pub const GEN_AI_SYSTEM: &str = "gen_ai.system";
/// Whether the call was streamed.
pub const LLM_IS_STREAMING: &str = "llm.is_streaming";
/// Prompt tokens (legacy name of input tokens).
pub const GEN_AI_USAGE_PROMPT_TOKENS: &str = "gen_ai.usage.prompt_tokens";
/// Completion tokens (legacy name of output tokens).
pub const GEN_AI_USAGE_COMPLETION_TOKENS: &str = "gen_ai.usage.completion_tokens";
/// Cache-read input tokens (legacy underscore form).
pub const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: &str = "gen_ai.usage.cache_read_input_tokens";
/// Cache-creation input tokens (legacy underscore form).
pub const GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: &str =
    "gen_ai.usage.cache_creation_input_tokens";
/// OpenAI system fingerprint (OpenLLMetry 0.53 `LLM_OPENAI_RESPONSE_SYSTEM_FINGERPRINT`).
pub const GEN_AI_OPENAI_SYSTEM_FINGERPRINT: &str = "gen_ai.openai.system_fingerprint";
/// Reasoning output tokens (OpenLLMetry 0.53 `LLM_USAGE_REASONING_TOKENS`).
pub const LLM_USAGE_REASONING_TOKENS: &str = "llm.usage.reasoning_tokens";
/// Suffix of the Anthropic tool schema in legacy tool definitions
/// (`llm.request.functions.N.input_schema`).
pub const INPUT_SCHEMA: &str = "input_schema";
