//! The recorded exchanges the benchmarks replay.

use openllmetry_testkit::cassette::{Cassette, Interaction};

/// One benchmark scenario: a recorded exchange from the vendored cassettes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    /// Short name used in tables and result files, e.g. `openai_chat`.
    pub name: &'static str,
    /// Human label, e.g. `OpenAI chat, non-streaming`.
    pub label: &'static str,
    /// `openai` or `anthropic`.
    pub provider: &'static str,
    /// Whether the response is an SSE stream.
    pub stream: bool,
    /// Cassette path relative to the testkit's cassette directory.
    pub cassette: &'static str,
    /// Index of the interaction in the cassette.
    pub index: usize,
}

/// OpenAI chat completion, non-streaming (gzip-compressed JSON body, as recorded).
///
/// Interaction 1, recorded in 2026, has today's `usage` shape (`prompt_tokens_details`
/// and `completion_tokens_details` objects). Interaction 0 (2024) lacks them, and with the
/// current `openai` client the Python instrumentation then fails inside its response
/// handler and formats a traceback on every call, a cost a live API would not cause.
pub const OPENAI_CHAT: Scenario = Scenario {
    name: "openai_chat",
    label: "OpenAI chat, non-streaming",
    provider: "openai",
    stream: false,
    cassette: "openai/test_chat/test_chat.yaml",
    index: 1,
};

/// OpenAI chat completion, streamed (196 SSE events).
pub const OPENAI_STREAM: Scenario = Scenario {
    name: "openai_stream",
    label: "OpenAI chat, streaming",
    provider: "openai",
    stream: true,
    cassette: "openai/test_chat/test_chat_streaming.yaml",
    index: 0,
};

/// Anthropic message, non-streaming (gzip-compressed JSON body, as recorded).
pub const ANTHROPIC_CHAT: Scenario = Scenario {
    name: "anthropic_chat",
    label: "Anthropic messages, non-streaming",
    provider: "anthropic",
    stream: false,
    cassette: "anthropic/test_messages/test_anthropic_message_create_legacy.yaml",
    index: 0,
};

/// Anthropic message, streamed.
pub const ANTHROPIC_STREAM: Scenario = Scenario {
    name: "anthropic_stream",
    label: "Anthropic messages, streaming",
    provider: "anthropic",
    stream: true,
    cassette: "anthropic/test_messages/test_anthropic_message_streaming_legacy.yaml",
    index: 0,
};

/// OpenAI streamed tool calls.
pub const OPENAI_TOOLS_STREAM: Scenario = Scenario {
    name: "openai_tools_stream",
    label: "OpenAI chat, streamed tool calls",
    provider: "openai",
    stream: true,
    cassette: "openai/test_functions/test_open_ai_function_calls_tools_streaming.yaml",
    index: 0,
};

/// Anthropic streamed tool use.
pub const ANTHROPIC_TOOLS_STREAM: Scenario = Scenario {
    name: "anthropic_tools_stream",
    label: "Anthropic messages, streamed tool use",
    provider: "anthropic",
    stream: true,
    cassette: "anthropic/test_messages/test_anthropic_tools_streaming_legacy.yaml",
    index: 0,
};

/// The four end-to-end scenarios, compared with the Python instrumentations.
pub const END_TO_END: [Scenario; 4] =
    [OPENAI_CHAT, OPENAI_STREAM, ANTHROPIC_CHAT, ANTHROPIC_STREAM];

/// A scenario with its recorded exchange loaded.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The scenario.
    pub scenario: Scenario,
    /// The recorded exchange (response bytes exactly as recorded).
    pub interaction: Interaction,
    /// The response body with its `Content-Encoding` undone.
    pub decoded_body: Vec<u8>,
    /// The decoded body split into SSE events (empty for a non-streamed body).
    pub events: Vec<Vec<u8>>,
}

impl Loaded {
    /// The request path, e.g. `/v1/chat/completions`.
    pub fn path(&self) -> &str {
        self.interaction.request.path()
    }

    /// The request body.
    pub fn request_body(&self) -> &[u8] {
        &self.interaction.request.body
    }

    /// The recorded request URL (e.g. `https://api.openai.com/v1/chat/completions`).
    pub fn recorded_url(&self) -> &str {
        &self.interaction.request.uri
    }

    /// The response's `Content-Type`.
    pub fn content_type(&self) -> Option<&str> {
        self.interaction.response.content_type()
    }

    /// Number of SSE events of a streamed response (0 otherwise).
    pub fn chunks(&self) -> usize {
        self.events.len()
    }
}

impl Scenario {
    /// Loads the recorded exchange; panics with the cassette name if it cannot be loaded.
    pub fn load(&self) -> Loaded {
        let cassette = Cassette::load_named(self.cassette)
            .unwrap_or_else(|e| panic!("cannot load cassette {}: {e}", self.cassette));
        let interaction = cassette
            .interactions
            .get(self.index)
            .cloned()
            .unwrap_or_else(|| panic!("{} has no interaction {}", self.cassette, self.index));
        let decoded_body = interaction.response.decoded_body();
        let events = if self.stream {
            interaction.response.sse_events()
        } else {
            Vec::new()
        };
        Loaded {
            scenario: *self,
            interaction,
            decoded_body,
            events,
        }
    }
}
