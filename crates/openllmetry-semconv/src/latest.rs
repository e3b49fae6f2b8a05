//! Names of the **latest experimental** GenAI conventions, as the `semconv` output flavour
//! emits them (selected by `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`).
//!
//! The GenAI conventions left the core repository in semconv v1.42 (core deprecates every
//! `gen_ai.*` definition it held) and live in
//! [`open-telemetry/semantic-conventions-genai`](https://github.com/open-telemetry/semantic-conventions-genai),
//! at `Development` stability with no release yet. This module follows that repository at
//! the commits in [`GENAI_CONVENTIONS_COMMIT`] and [`GENAI_CONVENTIONS_FILES`]; the keys
//! that did not change since v1.41 stay in [`crate::attr`] and [`crate::metric`] and are
//! shared with the other flavours.
//!
//! # Pinned files
//!
//! The repository was read file by file from a stored copy (no whole snapshot of it could be
//! had), so each file is pinned to the commit it was read at:
//!
//! | file | commit |
//! |---|---|
//! | `docs/gen-ai/client-inference.md` (inference span, `gen_ai.client.inference.*` metrics) | `024a4f944a1291fcb627c9c47da69e79868dd15e` |
//! | `docs/gen-ai/gen-ai-token-metrics.md` (usage counters, per-operation histograms) | `066d4a7f356f8600de6f10c42874626ab88692fb` |
//! | `docs/gen-ai/client-embeddings.md` (embeddings span, `gen_ai.client.embeddings.*` metrics) | `88eccb155ca7d6984826da1f4b1c08ee916e0f49` |
//! | `model/gen-ai/gen-ai-input-messages.json`, `gen-ai-output-messages.json` | `2b902ce14e7fa9d3d97cac49de02bae6917c02ae` |
//! | `docs/gen-ai/gen-ai-agent-spans.md` (`invoke_agent` internal span) | `002c8a6ea1c8a42b14a4527db83b3cabcded610a` |
//! | `model/gen-ai/registry.yaml` (provider names, tool attributes) | `e8fc5751506258db1459d1bde47994e01dee922e` |
//! | `model/gen-ai/gen-ai-tool-definitions.json` | `d357ce213b466276774e18fb7f598bef06d003d0` |
//! | `docs/gen-ai/non-normative/tests/cases/input-messages-parts-missing-required.yaml` (the schemas accept a part of a known type without its fields, as a generic part) | `2b2852fb119b37017323942ccd05c25e06c6d48e` |
//!
//! The repository has no release or tag to pin, and every definition followed here is at
//! `Development` stability, so names may still change. The files were read from the stored copy of
//! `open-telemetry/semantic-conventions-genai` itself, not from the core repository's
//! deprecated `model/gen-ai`.
//!
//! [`GENAI_CONVENTIONS_COMMIT`] is the commit of the inference-span document, the one most of
//! the flavour follows.

/// The `open-telemetry/semantic-conventions-genai` commit whose inference-span document
/// (`docs/gen-ai/client-inference.md`) the `semconv` flavour follows.
pub const GENAI_CONVENTIONS_COMMIT: &str = "024a4f944a1291fcb627c9c47da69e79868dd15e";

/// Every file of `open-telemetry/semantic-conventions-genai` the `semconv` flavour was
/// written from, with the commit it was read at.
pub const GENAI_CONVENTIONS_FILES: &[(&str, &str)] = &[
    (
        "docs/gen-ai/client-inference.md",
        "024a4f944a1291fcb627c9c47da69e79868dd15e",
    ),
    (
        "docs/gen-ai/gen-ai-token-metrics.md",
        "066d4a7f356f8600de6f10c42874626ab88692fb",
    ),
    (
        "docs/gen-ai/client-embeddings.md",
        "88eccb155ca7d6984826da1f4b1c08ee916e0f49",
    ),
    (
        "model/gen-ai/gen-ai-input-messages.json",
        "2b902ce14e7fa9d3d97cac49de02bae6917c02ae",
    ),
    (
        "model/gen-ai/gen-ai-output-messages.json",
        "2b902ce14e7fa9d3d97cac49de02bae6917c02ae",
    ),
    (
        "docs/gen-ai/gen-ai-agent-spans.md",
        "002c8a6ea1c8a42b14a4527db83b3cabcded610a",
    ),
    (
        "model/gen-ai/registry.yaml",
        "e8fc5751506258db1459d1bde47994e01dee922e",
    ),
    (
        "model/gen-ai/gen-ai-tool-definitions.json",
        "d357ce213b466276774e18fb7f598bef06d003d0",
    ),
    (
        "docs/gen-ai/non-normative/tests/cases/input-messages-parts-missing-required.yaml",
        "2b2852fb119b37017323942ccd05c25e06c6d48e",
    ),
];

/// The value of `OTEL_SEMCONV_STABILITY_OPT_IN` (one entry of its comma-separated list) that
/// selects the latest experimental GenAI conventions.
pub const GEN_AI_LATEST_EXPERIMENTAL: &str = "gen_ai_latest_experimental";

/// Whether an `OTEL_SEMCONV_STABILITY_OPT_IN` value (a comma-separated list of
/// category-specific values) opts in to the latest experimental GenAI conventions.
///
/// ```
/// use openllmetry_semconv::latest::opts_in_to_latest_gen_ai;
/// assert!(opts_in_to_latest_gen_ai("http, gen_ai_latest_experimental"));
/// assert!(!opts_in_to_latest_gen_ai("http/dup"));
/// ```
pub fn opts_in_to_latest_gen_ai(value: &str) -> bool {
    value
        .split(',')
        .any(|v| v.trim().eq_ignore_ascii_case(GEN_AI_LATEST_EXPERIMENTAL))
}

/// Attribute keys new in (or renamed by) the GenAI conventions repository.
pub mod attr {
    /// Input tokens written to a provider-managed cache (was
    /// `gen_ai.usage.cache_creation.input_tokens` up to v1.41).
    pub const GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS: &str = "gen_ai.usage.cache_write.input_tokens";
    /// Reasoning / thinking effort level requested, the exact string sent to the provider.
    pub const GEN_AI_REQUEST_REASONING_LEVEL: &str = "gen_ai.request.reasoning.level";
    /// Modality of the tokens a usage counter point counts (`text`, `image`, `audio`,
    /// `unknown`).
    pub const GEN_AI_TOKEN_MODALITY: &str = "gen_ai.token.modality";
    /// Version of a GenAI agent.
    pub const GEN_AI_AGENT_VERSION: &str = "gen_ai.agent.version";
    /// Type of a tool (`function`, `extension`, `datastore`).
    pub const GEN_AI_TOOL_TYPE: &str = "gen_ai.tool.type";
    /// Arguments passed to a tool call (opt-in content).
    pub const GEN_AI_TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
    /// Result of a tool call (opt-in content).
    pub const GEN_AI_TOOL_CALL_RESULT: &str = "gen_ai.tool.call.result";
}

/// Well-known values used by the latest conventions.
pub mod value {
    /// `gen_ai.operation.name` of an agent invocation.
    pub const OPERATION_INVOKE_AGENT: &str = "invoke_agent";
    /// `gen_ai.operation.name` of a tool execution.
    pub const OPERATION_EXECUTE_TOOL: &str = "execute_tool";
    /// `gen_ai.tool.type` of a tool the client application executes.
    pub const TOOL_TYPE_FUNCTION: &str = "function";
    /// `gen_ai.token.modality` when the provider does not break usage down by modality.
    pub const TOKEN_MODALITY_UNKNOWN: &str = "unknown";
}

/// Metric names of the latest conventions (`docs/gen-ai/client-inference.md`,
/// `docs/gen-ai/gen-ai-token-metrics.md`).
pub mod metric {
    /// Histogram of inference duration, unit `s` (replaces `gen_ai.client.operation.duration`
    /// for inference).
    pub const GEN_AI_CLIENT_INFERENCE_DURATION: &str = "gen_ai.client.inference.duration";
    /// Histogram of the time to the first streamed chunk, unit `s` (streaming calls only).
    pub const GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK: &str =
        "gen_ai.client.inference.time_to_first_chunk";
    /// Histogram of the time between streamed chunks after the first, unit `s`.
    pub const GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK: &str =
        "gen_ai.client.inference.time_per_output_chunk";
    /// Counter of input tokens, cached ones included, unit `{token}`.
    pub const GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS: &str =
        "gen_ai.client.inference.usage.input_tokens";
    /// Counter of output tokens, reasoning ones included, unit `{token}`.
    pub const GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS: &str =
        "gen_ai.client.inference.usage.output_tokens";
    /// Counter of input tokens read from a provider cache, unit `{token}`.
    pub const GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS: &str =
        "gen_ai.client.inference.usage.cache_read.input_tokens";
    /// Counter of input tokens written to a provider cache, unit `{token}`.
    pub const GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_WRITE_INPUT_TOKENS: &str =
        "gen_ai.client.inference.usage.cache_write.input_tokens";
    /// Counter of reasoning output tokens, unit `{token}`.
    pub const GEN_AI_CLIENT_INFERENCE_USAGE_REASONING_OUTPUT_TOKENS: &str =
        "gen_ai.client.inference.usage.reasoning.output_tokens";
    /// Histogram of the input tokens of one operation, unit `{token}`.
    pub const GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS: &str =
        "gen_ai.client.inference.operation.input_tokens";
    /// Histogram of the output tokens of one operation, unit `{token}`.
    pub const GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS: &str =
        "gen_ai.client.inference.operation.output_tokens";
    /// Histogram of embeddings duration, unit `s` (embeddings are no longer reported on the
    /// inference or operation duration).
    pub const GEN_AI_CLIENT_EMBEDDINGS_DURATION: &str = "gen_ai.client.embeddings.duration";
    /// Histogram of the input tokens of one embeddings operation, unit `{token}`.
    pub const GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS: &str =
        "gen_ai.client.embeddings.operation.input_tokens";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_opt_in_is_one_entry_of_a_comma_separated_list() {
        assert!(opts_in_to_latest_gen_ai("gen_ai_latest_experimental"));
        assert!(opts_in_to_latest_gen_ai(
            " database , gen_ai_latest_experimental "
        ));
        assert!(!opts_in_to_latest_gen_ai(""));
        assert!(!opts_in_to_latest_gen_ai("http,database/dup"));
        assert!(!opts_in_to_latest_gen_ai("gen_ai_latest_experimental_x"));
    }

    #[test]
    fn the_pin_names_the_inference_document_commit() {
        assert!(GENAI_CONVENTIONS_FILES.iter().any(|(f, c)| *f
            == "docs/gen-ai/client-inference.md"
            && *c == GENAI_CONVENTIONS_COMMIT));
        for (_, c) in GENAI_CONVENTIONS_FILES {
            assert_eq!(c.len(), 40);
            assert!(c.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
}
