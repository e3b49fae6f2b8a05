//! The [`Flavour::Current`](super::Flavour::Current) flavour: current OpenLLMetry attributes
//! following the GenAI semconv, content as JSON span attributes.

use openllmetry_semconv::attr;
use openllmetry_semconv::legacy as legacy_keys;
use openllmetry_semconv::message::ToolDefinition;
use opentelemetry::KeyValue;
use serde_json::{Map, Value as Json};

use super::{Content, kv_str, to_json_string};
use crate::detect::ApiFormat;
use crate::record::{RequestRecord, Usage};

/// `gen_ai.tool.definitions` as OpenLLMetry 0.62 writes it for `format`: Anthropic tools keep
/// Anthropic's shape `{name, description?, input_schema?}` (no `type`, no `parameters`); other
/// formats use the semconv shape `{type, name, description?, parameters?}`.
fn tool_definitions_json(format: ApiFormat, defs: &[ToolDefinition]) -> Option<String> {
    if format != ApiFormat::Anthropic {
        return to_json_string(&defs);
    }
    let list: Vec<Json> = defs
        .iter()
        .map(|t| {
            let mut m = Map::new();
            m.insert("name".into(), Json::String(t.name.clone()));
            if let Some(d) = t.description.as_ref().filter(|d| !d.is_empty()) {
                m.insert("description".into(), Json::String(d.clone()));
            }
            if let Some(p) = &t.parameters {
                m.insert(legacy_keys::INPUT_SCHEMA.into(), p.clone());
            }
            Json::Object(m)
        })
        .collect();
    to_json_string(&list)
}

/// Content attributes of the [`Flavour::Current`](super::Flavour::Current) flavour for calls in the OpenAI format
/// (see [`current_content_attributes_for`]).
pub fn current_content_attributes(content: &Content, out: &mut Vec<KeyValue>) {
    current_content_attributes_for(ApiFormat::OpenAi, content, out);
}

/// Content attributes of the [`Flavour::Current`](super::Flavour::Current) flavour (JSON following the semconv schemas;
/// tool definitions in the shape OpenLLMetry writes for `format`).
pub fn current_content_attributes_for(
    format: ApiFormat,
    content: &Content,
    out: &mut Vec<KeyValue>,
) {
    if !content.input_messages.is_empty()
        && let Some(s) = to_json_string(&content.input_messages)
    {
        out.push(kv_str(attr::GEN_AI_INPUT_MESSAGES, s));
    }
    if !content.output_messages.is_empty()
        && let Some(s) = to_json_string(&content.output_messages)
    {
        out.push(kv_str(attr::GEN_AI_OUTPUT_MESSAGES, s));
    }
    if !content.system_instructions.is_empty()
        && let Some(s) = to_json_string(&content.system_instructions)
    {
        out.push(kv_str(attr::GEN_AI_SYSTEM_INSTRUCTIONS, s));
    }
    if !content.tool_definitions.is_empty()
        && let Some(s) = tool_definitions_json(format, &content.tool_definitions)
    {
        out.push(kv_str(attr::GEN_AI_TOOL_DEFINITIONS, s));
    }
}

/// `gen_ai.request.stream` and `gen_ai.is_streaming` (the legacy flavour writes
/// `llm.is_streaming` instead).
pub(super) fn request_kind_attributes(req: &RequestRecord, out: &mut Vec<KeyValue>) {
    out.push(KeyValue::new(attr::GEN_AI_REQUEST_STREAM, req.stream));
    out.push(KeyValue::new(attr::GEN_AI_IS_STREAMING, req.stream));
}

/// The current token-usage keys with their values (input, output, total, cache read, cache
/// creation, reasoning).
pub(super) fn usage_keys(u: &Usage, total: Option<i64>) -> [(&'static str, Option<i64>); 6] {
    [
        (attr::GEN_AI_USAGE_INPUT_TOKENS, u.input_tokens),
        (attr::GEN_AI_USAGE_OUTPUT_TOKENS, u.output_tokens),
        (attr::GEN_AI_USAGE_TOTAL_TOKENS, total),
        (
            attr::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
            u.cache_read_input_tokens,
        ),
        (
            attr::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
            u.cache_creation_input_tokens,
        ),
        (
            attr::GEN_AI_USAGE_REASONING_TOKENS,
            u.reasoning_output_tokens,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tests::{content, find};
    use serde_json::json;

    #[test]
    fn current_flavour_writes_semconv_json() {
        let mut out = Vec::new();
        current_content_attributes(&content(), &mut out);
        let json =
            |k: &str| -> Json { serde_json::from_str(&find(&out, k).unwrap().as_str()).unwrap() };
        assert_eq!(
            json("gen_ai.system_instructions"),
            json!([{"type": "text", "content": "be brief"}])
        );
        assert_eq!(
            json("gen_ai.input.messages")[2],
            json!({"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "sunny"}]})
        );
        assert_eq!(
            json("gen_ai.output.messages"),
            json!([{"role": "assistant", "parts": [{"type": "text", "content": "It is sunny."}], "finish_reason": "stop"}])
        );
        assert_eq!(json("gen_ai.tool.definitions")[0]["name"], "get_weather");
    }
}
