//! Recordings compiled into the crate (with `include_str!`), so `openllmetry replay` and
//! `openllmetry demo` work from an installed binary, anywhere, without the source tree.
//!
//! The set: one plain and one streamed chat completion for OpenAI, the same for Anthropic
//! messages, and one OpenAI embeddings call. [`Cassette::load_named`] finds these names
//! here before it looks in [`cassettes_dir`](crate::cassette::cassettes_dir).

use crate::cassette::{Cassette, CassetteError};

/// The embedded cassettes: name (relative to the vendored directory, `/`-separated) and
/// YAML text.
pub const CASSETTES: &[(&str, &str)] = &[
    (
        "openai/test_chat/test_chat.yaml",
        include_str!("../cassettes/openllmetry/openai/test_chat/test_chat.yaml"),
    ),
    (
        "openai/test_chat/test_chat_streaming.yaml",
        include_str!("../cassettes/openllmetry/openai/test_chat/test_chat_streaming.yaml"),
    ),
    (
        "openai/test_embeddings/test_embeddings.yaml",
        include_str!("../cassettes/openllmetry/openai/test_embeddings/test_embeddings.yaml"),
    ),
    (
        "anthropic/test_messages/test_anthropic_message_create_legacy.yaml",
        include_str!(
            "../cassettes/openllmetry/anthropic/test_messages/test_anthropic_message_create_legacy.yaml"
        ),
    ),
    (
        "anthropic/test_messages/test_anthropic_message_streaming_legacy.yaml",
        include_str!(
            "../cassettes/openllmetry/anthropic/test_messages/test_anthropic_message_streaming_legacy.yaml"
        ),
    ),
];

/// The YAML text of an embedded cassette, by name (e.g. `openai/test_chat/test_chat.yaml`).
pub fn text(name: &str) -> Option<&'static str> {
    CASSETTES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

/// Parses one embedded cassette by name; `None` if no embedded cassette has that name.
pub fn load(name: &str) -> Option<Result<Cassette, CassetteError>> {
    text(name).map(|yaml| Cassette::parse(yaml).map_err(|e| e.named(name)))
}

/// Every embedded cassette, parsed, with its name, in [`CASSETTES`] order.
///
/// # Panics
///
/// Never in practice: the embedded texts are parsed by this crate's tests.
pub fn all() -> Vec<(&'static str, Cassette)> {
    CASSETTES
        .iter()
        .map(|(name, yaml)| {
            let cassette = Cassette::parse(yaml)
                .unwrap_or_else(|e| panic!("embedded cassette {name} does not parse: {e}"));
            (*name, cassette)
        })
        .collect()
}

/// All interactions of every embedded cassette, as one cassette (for
/// [`ReplayServer::pool`](crate::replay::ReplayServer::pool)).
pub fn cassette() -> Cassette {
    Cassette::concat(all().into_iter().map(|(_, c)| c))
}
