//! Well-known attribute values.

/// Values of `gen_ai.operation.name`.
pub mod operation {
    /// Chat completion.
    pub const CHAT: &str = "chat";
    /// Legacy text completion.
    pub const TEXT_COMPLETION: &str = "text_completion";
    /// Embeddings.
    pub const EMBEDDINGS: &str = "embeddings";
}

/// Well-known values of `gen_ai.provider.name`.
pub mod provider {
    /// OpenAI (also used for OpenAI-compatible servers the host does not identify).
    pub const OPENAI: &str = "openai";
    /// Azure OpenAI.
    pub const AZURE_AI_OPENAI: &str = "azure.ai.openai";
    /// Anthropic.
    pub const ANTHROPIC: &str = "anthropic";
    /// Groq.
    pub const GROQ: &str = "groq";
    /// DeepSeek.
    pub const DEEPSEEK: &str = "deepseek";
    /// Mistral AI.
    pub const MISTRAL_AI: &str = "mistral_ai";
    /// xAI.
    pub const X_AI: &str = "x_ai";
    /// Perplexity.
    pub const PERPLEXITY: &str = "perplexity";
    /// Google Gemini (Generative Language API).
    pub const GCP_GEMINI: &str = "gcp.gemini";
    /// Cohere.
    pub const COHERE: &str = "cohere";
    /// AWS Bedrock.
    pub const AWS_BEDROCK: &str = "aws.bedrock";
    /// IBM watsonx.ai.
    pub const IBM_WATSONX_AI: &str = "ibm.watsonx.ai";
    /// OpenRouter (not a semconv well-known value; the name OpenLLMetry uses).
    pub const OPENROUTER: &str = "openrouter";
    /// Together AI (not a semconv well-known value).
    pub const TOGETHER_AI: &str = "together_ai";
    /// Fireworks AI (not a semconv well-known value).
    pub const FIREWORKS_AI: &str = "fireworks_ai";
}

/// Values of `gen_ai.token.type`.
pub mod token_type {
    /// Input tokens.
    pub const INPUT: &str = "input";
    /// Output tokens.
    pub const OUTPUT: &str = "output";
}

/// Values of the `finish_reason` of output messages and `gen_ai.response.finish_reasons`.
pub mod finish_reason {
    /// Natural stop or a stop sequence.
    pub const STOP: &str = "stop";
    /// Token limit reached.
    pub const LENGTH: &str = "length";
    /// Content filter.
    pub const CONTENT_FILTER: &str = "content_filter";
    /// The model called a tool.
    pub const TOOL_CALL: &str = "tool_call";
    /// Error.
    pub const ERROR: &str = "error";
}

/// Log event names of the events flavour.
pub mod event {
    /// Per-chunk span event of streamed OpenAI chat completions.
    pub const CONTENT_COMPLETION_CHUNK: &str = "gen_ai.content.completion.chunk";
    /// System message event.
    pub const SYSTEM_MESSAGE: &str = "gen_ai.system.message";
    /// User message event.
    pub const USER_MESSAGE: &str = "gen_ai.user.message";
    /// Assistant message event.
    pub const ASSISTANT_MESSAGE: &str = "gen_ai.assistant.message";
    /// Tool message event.
    pub const TOOL_MESSAGE: &str = "gen_ai.tool.message";
    /// Choice event.
    pub const CHOICE: &str = "gen_ai.choice";
}
