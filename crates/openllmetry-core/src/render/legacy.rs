//! The [`Flavour::Legacy`](super::Flavour::Legacy) flavour: the indexed attributes of older
//! OpenLLMetry (`gen_ai.prompt.N.*`, `gen_ai.completion.N.*`, `llm.request.functions.N.*`,
//! `llm.usage.total_tokens`, `gen_ai.system`).

use openllmetry_semconv::legacy;
use openllmetry_semconv::message::Part;
use openllmetry_semconv::value;
use opentelemetry::KeyValue;
use serde_json::Value as Json;

use super::{Content, kv_str, legacy_text, reasoning_apart};
use crate::detect::{ApiFormat, Target};
use crate::record::{RequestRecord, Usage};

/// The `gen_ai.system` value of the legacy flavour: what OpenLLMetry 0.53 wrote. Its OpenAI
/// instrumentation named the vendor from the client's base URL (`openai`, `Azure`, `AWS`,
/// `Google`, `OpenRouter`); its Anthropic instrumentation wrote `Anthropic`. Providers 0.53
/// did not name keep their `gen_ai.provider.name` value.
pub fn legacy_system_value(provider_name: &'static str) -> &'static str {
    match provider_name {
        value::provider::AZURE_AI_OPENAI => "Azure",
        value::provider::AWS_BEDROCK => "AWS",
        value::provider::GCP_GEMINI | "gcp.vertex_ai" | "gcp.gen_ai" => "Google",
        value::provider::OPENROUTER => "OpenRouter",
        value::provider::ANTHROPIC => "Anthropic",
        other => other,
    }
}
fn arguments_string(arguments: &Option<Json>) -> String {
    match arguments {
        None => String::new(),
        Some(Json::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

fn legacy_tool_calls(prefix: &str, parts: &[Part], out: &mut Vec<KeyValue>) {
    let calls = parts.iter().filter_map(|p| match p {
        Part::ToolCall {
            id,
            name,
            arguments,
        } => Some((id, name, arguments)),
        _ => None,
    });
    for (j, (id, name, arguments)) in calls.enumerate() {
        if let Some(id) = id {
            out.push(KeyValue::new(
                format!("{prefix}.tool_calls.{j}.id"),
                id.clone(),
            ));
        }
        out.push(KeyValue::new(
            format!("{prefix}.tool_calls.{j}.name"),
            name.clone(),
        ));
        out.push(KeyValue::new(
            format!("{prefix}.tool_calls.{j}.arguments"),
            arguments_string(arguments),
        ));
    }
}

/// Content attributes of the [`Flavour::Legacy`](super::Flavour::Legacy) flavour for calls in the OpenAI format
/// (see [`legacy_content_attributes_for`]).
pub fn legacy_content_attributes(content: &Content, out: &mut Vec<KeyValue>) {
    legacy_content_attributes_for(ApiFormat::OpenAi, content, out);
}

/// Content attributes of the [`Flavour::Legacy`](super::Flavour::Legacy) flavour (indexed keys). Anthropic tool
/// schemas go to `llm.request.functions.N.input_schema`, others to `.parameters`, as
/// OpenLLMetry 0.53 wrote them.
pub fn legacy_content_attributes_for(
    format: ApiFormat,
    content: &Content,
    out: &mut Vec<KeyValue>,
) {
    let mut i = 0;
    if !content.system_instructions.is_empty() {
        let prefix = format!("{}.{i}", legacy::GEN_AI_PROMPT);
        out.push(KeyValue::new(format!("{prefix}.role"), "system"));
        if let Some(t) = legacy_text(&content.system_instructions) {
            out.push(KeyValue::new(format!("{prefix}.content"), t));
        }
        i += 1;
    }
    for m in &content.input_messages {
        let prefix = format!("{}.{i}", legacy::GEN_AI_PROMPT);
        out.push(KeyValue::new(format!("{prefix}.role"), m.role.clone()));
        if let Some(t) = legacy_text(&m.parts) {
            out.push(KeyValue::new(format!("{prefix}.content"), t));
        }
        if let Some(Part::ToolCallResponse { id: Some(id), .. }) = m
            .parts
            .iter()
            .find(|p| matches!(p, Part::ToolCallResponse { .. }))
        {
            out.push(KeyValue::new(format!("{prefix}.tool_call_id"), id.clone()));
        }
        legacy_tool_calls(&prefix, &m.parts, out);
        i += 1;
    }
    for (i, m) in reasoning_apart(&content.output_messages).iter().enumerate() {
        let prefix = format!("{}.{i}", legacy::GEN_AI_COMPLETION);
        out.push(KeyValue::new(format!("{prefix}.role"), m.role.clone()));
        if let Some(t) = legacy_text(&m.parts) {
            out.push(KeyValue::new(format!("{prefix}.content"), t));
        }
        if !m.finish_reason.is_empty() {
            out.push(KeyValue::new(
                format!("{prefix}.finish_reason"),
                m.finish_reason.clone(),
            ));
        }
        legacy_tool_calls(&prefix, &m.parts, out);
    }
    for (i, t) in content.tool_definitions.iter().enumerate() {
        let prefix = format!("{}.{i}", legacy::LLM_REQUEST_FUNCTIONS);
        out.push(KeyValue::new(format!("{prefix}.name"), t.name.clone()));
        if let Some(d) = &t.description {
            out.push(KeyValue::new(format!("{prefix}.description"), d.clone()));
        }
        if let Some(p) = &t.parameters {
            let field = if format == ApiFormat::Anthropic {
                legacy::INPUT_SCHEMA
            } else {
                "parameters"
            };
            out.push(KeyValue::new(format!("{prefix}.{field}"), p.to_string()));
        }
    }
}

/// `gen_ai.system`, `llm.request.type` and `llm.is_streaming`, as OpenLLMetry 0.53 opened its
/// spans (in place of the current flavour's streaming attributes).
pub(super) fn request_kind_attributes(
    target: &Target,
    req: &RequestRecord,
    out: &mut Vec<KeyValue>,
) {
    out.push(kv_str(
        legacy::GEN_AI_SYSTEM,
        legacy_system_value(target.provider_name),
    ));
    let request_type = if target.format == ApiFormat::Anthropic {
        // OpenLLMetry 0.53 opened every Anthropic span with `LLMRequestTypeValues.COMPLETION`.
        "completion"
    } else {
        target.operation.legacy_request_type()
    };
    out.push(kv_str(legacy::LLM_REQUEST_TYPE, request_type));
    out.push(KeyValue::new(legacy::LLM_IS_STREAMING, req.stream));
}

/// The legacy token-usage keys with their values (input, output, total, cache read, cache
/// creation, reasoning).
pub(super) fn usage_keys(u: &Usage, total: Option<i64>) -> [(&'static str, Option<i64>); 6] {
    [
        (legacy::GEN_AI_USAGE_PROMPT_TOKENS, u.input_tokens),
        (legacy::GEN_AI_USAGE_COMPLETION_TOKENS, u.output_tokens),
        (legacy::LLM_USAGE_TOTAL_TOKENS, total),
        (
            legacy::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
            u.cache_read_input_tokens,
        ),
        (
            legacy::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
            u.cache_creation_input_tokens,
        ),
        (
            legacy::LLM_USAGE_REASONING_TOKENS,
            u.reasoning_output_tokens,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tests::{content, find};
    use crate::render::{Flavour, request_attributes};

    #[test]
    fn legacy_flavour_indexes_prompts_completions_and_functions() {
        let mut out = Vec::new();
        legacy_content_attributes(&content(), &mut out);
        let s = |k: &str| find(&out, k).map(|v| v.as_str().into_owned());
        assert_eq!(s("gen_ai.prompt.0.role").as_deref(), Some("system"));
        assert_eq!(s("gen_ai.prompt.0.content").as_deref(), Some("be brief"));
        assert_eq!(s("gen_ai.prompt.1.content").as_deref(), Some("weather?"));
        assert_eq!(
            s("gen_ai.prompt.2.tool_calls.0.name").as_deref(),
            Some("get_weather")
        );
        assert_eq!(s("gen_ai.prompt.2.tool_calls.0.id").as_deref(), Some("c1"));
        assert_eq!(
            s("gen_ai.prompt.2.tool_calls.0.arguments").as_deref(),
            Some(r#"{"city":"Paris"}"#)
        );
        assert_eq!(s("gen_ai.prompt.3.role").as_deref(), Some("tool"));
        assert_eq!(s("gen_ai.prompt.3.content").as_deref(), Some("sunny"));
        assert_eq!(s("gen_ai.prompt.3.tool_call_id").as_deref(), Some("c1"));
        assert_eq!(
            s("gen_ai.completion.0.content").as_deref(),
            Some("It is sunny.")
        );
        assert_eq!(
            s("gen_ai.completion.0.finish_reason").as_deref(),
            Some("stop")
        );
        assert_eq!(
            s("llm.request.functions.0.name").as_deref(),
            Some("get_weather")
        );
        assert_eq!(
            s("llm.request.functions.0.description").as_deref(),
            Some("Weather")
        );
        assert_eq!(
            s("llm.request.functions.0.parameters").as_deref(),
            Some(r#"{"type":"object"}"#)
        );
    }
    #[test]
    fn legacy_gen_ai_system_is_what_upstream_053_wrote() {
        let attrs = |url: &str| {
            let t = crate::detect::detect("POST", url).unwrap();
            let mut out = Vec::new();
            request_attributes(Flavour::Legacy, &t, &RequestRecord::default(), &mut out);
            out
        };
        let s = |out: &[KeyValue], k: &str| find(out, k).map(|v| v.as_str().into_owned());
        let a = attrs("https://api.anthropic.com/v1/messages");
        assert_eq!(s(&a, "gen_ai.system").as_deref(), Some("Anthropic"));
        assert_eq!(s(&a, "llm.request.type").as_deref(), Some("completion"));
        let o = attrs("https://api.openai.com/v1/chat/completions");
        assert_eq!(s(&o, "gen_ai.system").as_deref(), Some("openai"));
        assert_eq!(s(&o, "llm.request.type").as_deref(), Some("chat"));
        let z = attrs(
            "https://x.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-02-01",
        );
        assert_eq!(s(&z, "gen_ai.system").as_deref(), Some("Azure"));
        assert_eq!(legacy_system_value("openrouter"), "OpenRouter");
        assert_eq!(legacy_system_value("aws.bedrock"), "AWS");
        // The current flavour never writes `gen_ai.system`.
        let t = crate::detect::detect("POST", "https://api.anthropic.com/v1/messages").unwrap();
        let mut out = Vec::new();
        request_attributes(Flavour::Current, &t, &RequestRecord::default(), &mut out);
        assert!(find(&out, "gen_ai.system").is_none());
    }
}
