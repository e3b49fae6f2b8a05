//! Metric names and bucket boundaries (GenAI semconv v1.41).

/// Histogram of tokens used, unit `{token}`.
pub const GEN_AI_CLIENT_TOKEN_USAGE: &str = "gen_ai.client.token.usage";
/// Histogram of operation duration, unit `s`.
pub const GEN_AI_CLIENT_OPERATION_DURATION: &str = "gen_ai.client.operation.duration";
/// Histogram of time to the first streamed chunk, unit `s`.
pub const GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK: &str =
    "gen_ai.client.operation.time_to_first_chunk";
/// Histogram of time between streamed chunks after the first, unit `s`.
pub const GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK: &str =
    "gen_ai.client.operation.time_per_output_chunk";
/// Counter of generated choices (OpenLLMetry extension), unit `{choice}`.
pub const GEN_AI_CLIENT_GENERATION_CHOICES: &str = "gen_ai.client.generation.choices";
/// Counter of instrumentation faults (openllmetry-rs), unit `{fault}`.
pub const OPENLLMETRY_INSTRUMENTATION_FAULTS: &str = "openllmetry.instrumentation.faults";

/// OpenLLMetry: histogram of the time to the first token of a streamed OpenAI chat
/// completion, unit `s` (the name OpenLLMetry 0.62 uses).
pub const GEN_AI_SERVER_TIME_TO_FIRST_TOKEN: &str = "gen_ai.server.time_to_first_token";
/// OpenLLMetry: histogram of the time from the first chunk to the end of a streamed OpenAI
/// chat completion, unit `s`.
pub const LLM_CHAT_COMPLETIONS_STREAMING_TIME_TO_GENERATE: &str =
    "llm.chat_completions.streaming_time_to_generate";
/// OpenLLMetry: counter of the length of the first returned embedding vector, unit `element`.
pub const LLM_OPENAI_EMBEDDINGS_VECTOR_SIZE: &str = "llm.openai.embeddings.vector_size";
/// OpenLLMetry: counter of failed OpenAI chat completions, unit `time`.
pub const LLM_OPENAI_CHAT_COMPLETIONS_EXCEPTIONS: &str = "llm.openai.chat_completions.exceptions";
/// OpenLLMetry: counter of failed OpenAI embeddings calls, unit `time`.
pub const LLM_OPENAI_EMBEDDINGS_EXCEPTIONS: &str = "llm.openai.embeddings.exceptions";
/// OpenLLMetry: counter of failed Anthropic calls (messages and completions), unit `time`.
pub const LLM_ANTHROPIC_COMPLETION_EXCEPTIONS: &str = "llm.anthropic.completion.exceptions";

/// Advisory bucket boundaries of `gen_ai.client.token.usage`.
pub const TOKEN_USAGE_BUCKETS: &[f64] = &[
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];

/// Advisory bucket boundaries of the duration and per-chunk histograms (seconds).
pub const DURATION_BUCKETS: &[f64] = &[
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
