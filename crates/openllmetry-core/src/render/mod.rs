//! Renderers: records → span attributes and log events, one per output [`Flavour`].
//!
//! Every flavour renders the same [`RequestRecord`] / [`ResponseRecord`]; a new flavour is a
//! new renderer here, never a new parser. Content (messages, system instructions, tool
//! definitions) is rendered only from a [`Content`] value, which the recorder builds only
//! when content capture is on, after the redaction hook ran.

use openllmetry_semconv::message::{ChatMessage, OutputMessage, Part, ToolDefinition};
use openllmetry_semconv::{attr, legacy, value};
use opentelemetry::logs::AnyValue;
use opentelemetry::{Array, Key, KeyValue, StringValue, Value};
use serde_json::{Map, Value as Json};

use crate::detect::{ApiFormat, Operation, Target};
use crate::record::{RequestRecord, ResponseRecord, Usage};

/// Output flavour of the recorder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Flavour {
    /// Current OpenLLMetry (0.62) attributes following the GenAI semconv v1.41: content as
    /// JSON span attributes `gen_ai.input.messages`, `gen_ai.output.messages`, ...
    #[default]
    Current,
    /// Legacy OpenLLMetry indexed attributes: `gen_ai.prompt.N.*`, `gen_ai.completion.N.*`,
    /// `llm.request.functions.N.*`, `llm.usage.total_tokens`, `gen_ai.system`, `llm.is_streaming`.
    Legacy,
    /// Current attributes without content; content goes out as OpenTelemetry log events
    /// (`gen_ai.{role}.message`, `gen_ai.choice`).
    Events,
}

impl Flavour {
    /// Parses `current` / `legacy` / `events` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "current" | "default" | "attributes" => Some(Flavour::Current),
            "legacy" => Some(Flavour::Legacy),
            "events" => Some(Flavour::Events),
            _ => None,
        }
    }

    /// The canonical name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Flavour::Current => "current",
            Flavour::Legacy => "legacy",
            Flavour::Events => "events",
        }
    }
}

/// The content of one call, as the redaction hook sees (and may change) it before rendering.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Content {
    /// System instructions (Anthropic `system`, Responses `instructions`).
    pub system_instructions: Vec<Part>,
    /// Input messages (prompts, embedding inputs).
    pub input_messages: Vec<ChatMessage>,
    /// Tool definitions.
    pub tool_definitions: Vec<ToolDefinition>,
    /// Output messages (completions).
    pub output_messages: Vec<OutputMessage>,
}

fn kv_str(key: &'static str, v: impl Into<StringValue>) -> KeyValue {
    KeyValue::new(key, Value::String(v.into()))
}

fn str_array(v: &[String]) -> Value {
    Value::Array(Array::String(
        v.iter().map(|s| StringValue::from(s.clone())).collect(),
    ))
}

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

/// Attributes known when the request is sent (set at span start, so samplers see them).
pub fn request_attributes(
    flavour: Flavour,
    target: &Target,
    req: &RequestRecord,
    out: &mut Vec<KeyValue>,
) {
    out.push(kv_str(
        attr::GEN_AI_OPERATION_NAME,
        target.operation.semconv_name(),
    ));
    out.push(kv_str(attr::GEN_AI_PROVIDER_NAME, target.provider_name));
    if flavour == Flavour::Legacy {
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
    } else {
        out.push(KeyValue::new(attr::GEN_AI_REQUEST_STREAM, req.stream));
        out.push(KeyValue::new(attr::GEN_AI_IS_STREAMING, req.stream));
    }
    out.push(kv_str(attr::SERVER_ADDRESS, target.server_address.clone()));
    out.push(KeyValue::new(
        attr::SERVER_PORT,
        i64::from(target.server_port),
    ));
    if target.format == ApiFormat::OpenAi {
        out.push(kv_str(
            attr::GEN_AI_OPENAI_API_BASE,
            target.api_base.clone(),
        ));
        if flavour != Flavour::Legacy {
            let api_type = match target.operation {
                Operation::Responses => "responses",
                Operation::Chat => "chat_completions",
                Operation::TextCompletion => "completions",
                Operation::Embeddings => "embeddings",
                Operation::Rerank => "rerank",
            };
            out.push(kv_str(attr::OPENAI_API_TYPE, api_type));
        }
    }
    if let Some(v) = &target.api_version {
        out.push(kv_str(attr::GEN_AI_OPENAI_API_VERSION, v.clone()));
    }
    if let Some(m) = &req.model {
        out.push(kv_str(attr::GEN_AI_REQUEST_MODEL, m.clone()));
    }
    let p = &req.params;
    let ints = [
        (attr::GEN_AI_REQUEST_MAX_TOKENS, p.max_tokens),
        (attr::GEN_AI_REQUEST_TOP_K, p.top_k),
        (attr::GEN_AI_REQUEST_SEED, p.seed),
        (attr::GEN_AI_REQUEST_CHOICE_COUNT, p.choice_count),
    ];
    out.extend(
        ints.into_iter()
            .filter_map(|(k, v)| v.map(|v| KeyValue::new(k, v))),
    );
    let floats = [
        (attr::GEN_AI_REQUEST_TEMPERATURE, p.temperature),
        (attr::GEN_AI_REQUEST_TOP_P, p.top_p),
        (attr::GEN_AI_REQUEST_FREQUENCY_PENALTY, p.frequency_penalty),
        (attr::GEN_AI_REQUEST_PRESENCE_PENALTY, p.presence_penalty),
    ];
    out.extend(
        floats
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| KeyValue::new(k, v))),
    );
    if !p.stop_sequences.is_empty() {
        out.push(KeyValue::new(
            attr::GEN_AI_REQUEST_STOP_SEQUENCES,
            str_array(&p.stop_sequences),
        ));
    }
    if !p.encoding_formats.is_empty() {
        out.push(KeyValue::new(
            attr::GEN_AI_REQUEST_ENCODING_FORMATS,
            str_array(&p.encoding_formats),
        ));
    }
    if let Some(v) = &p.service_tier {
        out.push(kv_str(attr::OPENAI_REQUEST_SERVICE_TIER, v.clone()));
    }
    if let Some(v) = &p.reasoning_effort {
        out.push(kv_str(attr::GEN_AI_REQUEST_REASONING_EFFORT, v.clone()));
    }
    if let Some(v) = &p.structured_output_schema {
        out.push(kv_str(
            attr::GEN_AI_REQUEST_STRUCTURED_OUTPUT_SCHEMA,
            v.clone(),
        ));
    }
    if let Some(v) = &p.output_type {
        out.push(kv_str(attr::GEN_AI_OUTPUT_TYPE, v.clone()));
    }
}

/// Attributes taken from the response (no content).
pub fn response_attributes(flavour: Flavour, resp: &ResponseRecord, out: &mut Vec<KeyValue>) {
    if let Some(v) = &resp.id {
        out.push(kv_str(attr::GEN_AI_RESPONSE_ID, v.clone()));
    }
    if let Some(v) = &resp.model {
        out.push(kv_str(attr::GEN_AI_RESPONSE_MODEL, v.clone()));
    }
    if let Some(v) = &resp.system_fingerprint {
        let key = match flavour {
            Flavour::Legacy => legacy::GEN_AI_OPENAI_SYSTEM_FINGERPRINT,
            _ => attr::GEN_AI_OPENAI_RESPONSE_SYSTEM_FINGERPRINT,
        };
        out.push(kv_str(key, v.clone()));
    }
    if let Some(v) = &resp.service_tier {
        out.push(kv_str(attr::OPENAI_RESPONSE_SERVICE_TIER, v.clone()));
    }
    if !resp.finish_reasons.is_empty() {
        out.push(KeyValue::new(
            attr::GEN_AI_RESPONSE_FINISH_REASONS,
            str_array(&resp.finish_reasons),
        ));
    }
    if let Some(d) = resp.embedding_dimensions {
        out.push(KeyValue::new(attr::GEN_AI_EMBEDDINGS_DIMENSION_COUNT, d));
    }
    for (key, v) in &resp.provider_attributes {
        out.push(KeyValue::new(*key, *v));
    }
    usage_attributes(flavour, &resp.usage, out);
}

fn usage_attributes(flavour: Flavour, u: &Usage, out: &mut Vec<KeyValue>) {
    let total = u.total_tokens.or(match (u.input_tokens, u.output_tokens) {
        (Some(i), Some(o)) => Some(i + o),
        _ => None,
    });
    let keys: [(&'static str, Option<i64>); 6] = if flavour == Flavour::Legacy {
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
    } else {
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
    };
    out.extend(
        keys.into_iter()
            .filter_map(|(k, v)| v.map(|v| KeyValue::new(k, v))),
    );
}

fn to_json_string<T: serde::Serialize>(v: &T) -> Option<String> {
    serde_json::to_string(v).ok()
}

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
                m.insert(legacy::INPUT_SCHEMA.into(), p.clone());
            }
            Json::Object(m)
        })
        .collect();
    to_json_string(&list)
}

/// Content attributes of the [`Flavour::Current`] flavour for calls in the OpenAI format
/// (see [`current_content_attributes_for`]).
pub fn current_content_attributes(content: &Content, out: &mut Vec<KeyValue>) {
    current_content_attributes_for(ApiFormat::OpenAi, content, out);
}

/// Content attributes of the [`Flavour::Current`] flavour (JSON following the semconv schemas;
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

/// Text of the parts a legacy `.content` attribute shows: text parts joined; otherwise the
/// parts as JSON.
fn legacy_text(parts: &[Part]) -> Option<String> {
    let texts: Vec<&str> = parts
        .iter()
        .filter_map(|p| match p {
            Part::Text { content } => Some(content.as_str()),
            _ => None,
        })
        .collect();
    if !texts.is_empty() {
        return Some(texts.join("\n"));
    }
    let other: Vec<&Part> = parts
        .iter()
        .filter(|p| !matches!(p, Part::ToolCall { .. }))
        .collect();
    match other.as_slice() {
        [] => None,
        [Part::ToolCallResponse { response, .. }] => Some(match response {
            Json::String(s) => s.clone(),
            v => v.to_string(),
        }),
        [Part::Reasoning { content }] => Some(content.clone()),
        _ => to_json_string(&other),
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

/// Content attributes of the [`Flavour::Legacy`] flavour for calls in the OpenAI format
/// (see [`legacy_content_attributes_for`]).
pub fn legacy_content_attributes(content: &Content, out: &mut Vec<KeyValue>) {
    legacy_content_attributes_for(ApiFormat::OpenAi, content, out);
}

/// Content attributes of the [`Flavour::Legacy`] flavour (indexed keys). Anthropic tool
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

/// One log event of the [`Flavour::Events`] flavour.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    /// `gen_ai.{role}.message` or `gen_ai.choice`.
    pub name: &'static str,
    /// Event body (JSON; converted to an OpenTelemetry `AnyValue` when emitted).
    pub body: Json,
}

fn event_name_for_role(role: &str) -> &'static str {
    match role {
        "system" | "developer" => value::event::SYSTEM_MESSAGE,
        "assistant" => value::event::ASSISTANT_MESSAGE,
        "tool" => value::event::TOOL_MESSAGE,
        _ => value::event::USER_MESSAGE,
    }
}

fn event_tool_calls(parts: &[Part], with_content: bool) -> Vec<Json> {
    parts
        .iter()
        .filter_map(|p| match p {
            Part::ToolCall {
                id,
                name,
                arguments,
            } => {
                let mut function = Map::new();
                function.insert("name".into(), Json::String(name.clone()));
                if with_content {
                    function.insert("arguments".into(), arguments.clone().unwrap_or(Json::Null));
                }
                let mut call = Map::new();
                if let Some(id) = id {
                    call.insert("id".into(), Json::String(id.clone()));
                }
                call.insert("function".into(), Json::Object(function));
                call.insert("type".into(), Json::String("function".into()));
                Some(Json::Object(call))
            }
            _ => None,
        })
        .collect()
}

fn event_content(parts: &[Part]) -> Json {
    match legacy_text(parts) {
        Some(s) => Json::String(s),
        None => Json::Null,
    }
}

/// Output messages as the legacy and events flavours show them: the reasoning of a message
/// (Anthropic thinking, OpenAI reasoning content) is an entry of its own with role
/// `thinking` before the message, as older OpenLLMetry wrote Anthropic thinking blocks.
fn reasoning_apart(messages: &[OutputMessage]) -> Vec<OutputMessage> {
    let mut out = Vec::with_capacity(messages.len());
    for m in messages {
        let thinking: Vec<&str> = m
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::Reasoning { content } => Some(content.as_str()),
                _ => None,
            })
            .collect();
        if thinking.is_empty() {
            out.push(m.clone());
            continue;
        }
        out.push(OutputMessage {
            role: "thinking".to_owned(),
            parts: vec![Part::Reasoning {
                content: thinking.join("\n"),
            }],
            name: None,
            finish_reason: m.finish_reason.clone(),
        });
        out.push(OutputMessage {
            role: m.role.clone(),
            parts: m
                .parts
                .iter()
                .filter(|p| !matches!(p, Part::Reasoning { .. }))
                .cloned()
                .collect(),
            name: m.name.clone(),
            finish_reason: m.finish_reason.clone(),
        });
    }
    out
}

/// Log events of the [`Flavour::Events`] flavour. With `content == None` (capture off) the
/// events keep their structure (roles, indexes, finish reasons, tool names and ids) and
/// lose every content field.
pub fn events(
    content: Option<&Content>,
    request: &RequestRecord,
    response: Option<&ResponseRecord>,
) -> Vec<LogEvent> {
    let with_content = content.is_some();
    let empty = Content::default();
    let c = content.unwrap_or(&empty);
    let mut out = Vec::new();
    // Roles and tool-call structure come from the records when content is off.
    let system = if with_content {
        &c.system_instructions
    } else {
        &request.system_instructions
    };
    if !system.is_empty() {
        let mut body = Map::new();
        if with_content {
            body.insert("content".into(), event_content(system));
        }
        out.push(LogEvent {
            name: value::event::SYSTEM_MESSAGE,
            body: Json::Object(body),
        });
    }
    let inputs = if with_content {
        &c.input_messages
    } else {
        &request.input_messages
    };
    for m in inputs {
        let name = event_name_for_role(&m.role);
        let mut body = Map::new();
        if with_content {
            body.insert("content".into(), event_content(&m.parts));
        }
        if !matches!(m.role.as_str(), "system" | "user" | "assistant" | "tool") {
            body.insert("role".into(), Json::String(m.role.clone()));
        }
        if m.role == "assistant" {
            let calls = event_tool_calls(&m.parts, with_content);
            if !calls.is_empty() {
                body.insert("tool_calls".into(), Json::Array(calls));
            }
        }
        if m.role == "tool"
            && let Some(Part::ToolCallResponse { id: Some(id), .. }) = m.parts.first()
        {
            body.insert("id".into(), Json::String(id.clone()));
        }
        out.push(LogEvent {
            name,
            body: Json::Object(body),
        });
    }
    let outputs: &[OutputMessage] = if with_content {
        &c.output_messages
    } else {
        response
            .map(|r| r.output_messages.as_slice())
            .unwrap_or(&[])
    };
    for (i, m) in reasoning_apart(outputs).iter().enumerate() {
        let mut message = Map::new();
        if with_content {
            message.insert("content".into(), event_content(&m.parts));
        }
        if m.role != "assistant" {
            message.insert("role".into(), Json::String(m.role.clone()));
        }
        let mut body = Map::new();
        body.insert("index".into(), Json::from(i));
        body.insert("message".into(), Json::Object(message));
        body.insert(
            "finish_reason".into(),
            Json::String(if m.finish_reason.is_empty() {
                "unknown".into()
            } else {
                m.finish_reason.clone()
            }),
        );
        let calls = event_tool_calls(&m.parts, with_content);
        if !calls.is_empty() {
            body.insert("tool_calls".into(), Json::Array(calls));
        }
        out.push(LogEvent {
            name: value::event::CHOICE,
            body: Json::Object(body),
        });
    }
    out
}

/// Converts a JSON value to an OpenTelemetry log `AnyValue`.
pub fn json_to_any_value(v: &Json) -> AnyValue {
    match v {
        Json::Null => AnyValue::String("".into()),
        Json::Bool(b) => AnyValue::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => AnyValue::Int(i),
            None => AnyValue::Double(n.as_f64().unwrap_or_default()),
        },
        Json::String(s) => AnyValue::String(s.clone().into()),
        Json::Array(a) => AnyValue::ListAny(Box::new(a.iter().map(json_to_any_value).collect())),
        Json::Object(o) => AnyValue::Map(Box::new(
            o.iter()
                .map(|(k, v)| (Key::from(k.clone()), json_to_any_value(v)))
                .collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn content() -> Content {
        Content {
            system_instructions: vec![Part::text("be brief")],
            input_messages: vec![
                ChatMessage {
                    role: "user".into(),
                    parts: vec![Part::text("weather?")],
                    name: None,
                },
                ChatMessage {
                    role: "assistant".into(),
                    parts: vec![Part::ToolCall {
                        id: Some("c1".into()),
                        name: "get_weather".into(),
                        arguments: Some(json!({"city": "Paris"})),
                    }],
                    name: None,
                },
                ChatMessage {
                    role: "tool".into(),
                    parts: vec![Part::ToolCallResponse {
                        id: Some("c1".into()),
                        response: json!("sunny"),
                    }],
                    name: None,
                },
            ],
            tool_definitions: vec![ToolDefinition {
                kind: "function".into(),
                name: "get_weather".into(),
                description: Some("Weather".into()),
                parameters: Some(json!({"type": "object"})),
            }],
            output_messages: vec![OutputMessage {
                role: "assistant".into(),
                parts: vec![Part::text("It is sunny.")],
                name: None,
                finish_reason: "stop".into(),
            }],
        }
    }

    fn find<'a>(kvs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
        kvs.iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

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

    #[test]
    fn events_flavour_with_and_without_content() {
        let c = content();
        let req = RequestRecord {
            system_instructions: c.system_instructions.clone(),
            input_messages: c.input_messages.clone(),
            ..Default::default()
        };
        let resp = ResponseRecord {
            output_messages: c.output_messages.clone(),
            ..Default::default()
        };
        let with = events(Some(&c), &req, Some(&resp));
        let names: Vec<_> = with.iter().map(|e| e.name).collect();
        assert_eq!(
            names,
            vec![
                "gen_ai.system.message",
                "gen_ai.user.message",
                "gen_ai.assistant.message",
                "gen_ai.tool.message",
                "gen_ai.choice"
            ]
        );
        assert_eq!(with[1].body, json!({"content": "weather?"}));
        assert_eq!(
            with[2].body["tool_calls"][0],
            json!({"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}})
        );
        assert_eq!(
            with[4].body,
            json!({"index": 0, "finish_reason": "stop", "message": {"content": "It is sunny."}})
        );
        let without = events(None, &req, Some(&resp));
        let text =
            serde_json::to_string(&without.iter().map(|e| &e.body).collect::<Vec<_>>()).unwrap();
        for secret in ["weather?", "Paris", "sunny", "be brief"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert_eq!(without.len(), 5);
    }

    #[test]
    fn usage_renders_per_flavour() {
        let u = Usage {
            input_tokens: Some(10),
            output_tokens: Some(5),
            cache_read_input_tokens: Some(3),
            ..Default::default()
        };
        let mut cur = Vec::new();
        usage_attributes(Flavour::Current, &u, &mut cur);
        assert_eq!(
            find(&cur, "gen_ai.usage.total_tokens"),
            Some(&Value::I64(15))
        );
        assert_eq!(
            find(&cur, "gen_ai.usage.cache_read.input_tokens"),
            Some(&Value::I64(3))
        );
        assert!(find(&cur, "gen_ai.usage.cache_creation.input_tokens").is_none());
        let mut leg = Vec::new();
        usage_attributes(Flavour::Legacy, &u, &mut leg);
        assert_eq!(find(&leg, "llm.usage.total_tokens"), Some(&Value::I64(15)));
        assert_eq!(
            find(&leg, "gen_ai.usage.prompt_tokens"),
            Some(&Value::I64(10))
        );
    }

    #[test]
    fn reasoning_is_an_entry_of_its_own_in_legacy_and_events() {
        let c = Content {
            output_messages: vec![OutputMessage {
                role: "assistant".into(),
                parts: vec![
                    Part::Reasoning {
                        content: "count the r's".into(),
                    },
                    Part::text("three"),
                ],
                name: None,
                finish_reason: "stop".into(),
            }],
            ..Default::default()
        };
        let mut out = Vec::new();
        legacy_content_attributes(&c, &mut out);
        let s = |k: &str| find(&out, k).map(|v| v.as_str().into_owned());
        assert_eq!(s("gen_ai.completion.0.role").as_deref(), Some("thinking"));
        assert_eq!(
            s("gen_ai.completion.0.content").as_deref(),
            Some("count the r's")
        );
        assert_eq!(s("gen_ai.completion.1.role").as_deref(), Some("assistant"));
        assert_eq!(s("gen_ai.completion.1.content").as_deref(), Some("three"));
        assert_eq!(
            s("gen_ai.completion.1.finish_reason").as_deref(),
            Some("stop")
        );
        let resp = ResponseRecord {
            output_messages: c.output_messages.clone(),
            ..Default::default()
        };
        let with = events(Some(&c), &RequestRecord::default(), Some(&resp));
        assert_eq!(
            with.iter().map(|e| &e.body).collect::<Vec<_>>(),
            vec![
                &json!({"index": 0, "finish_reason": "stop", "message": {"role": "thinking", "content": "count the r's"}}),
                &json!({"index": 1, "finish_reason": "stop", "message": {"content": "three"}}),
            ]
        );
        let without = events(None, &RequestRecord::default(), Some(&resp));
        assert_eq!(
            without[0].body,
            json!({"index": 0, "finish_reason": "stop", "message": {"role": "thinking"}})
        );
    }

    // Expectations below come from upstream's code and tests (traceloop/openllmetry):
    // 0.62 `tests/traces/test_chat.py` (system fingerprint, reasoning tokens),
    // 0.62 `tests/test_messages.py` (Anthropic `input_schema`), and v0.53.4
    // `anthropic/__init__.py` / `span_utils.py` / `openai/shared/__init__.py` (legacy).

    #[test]
    fn fingerprint_and_reasoning_tokens_use_upstream_names() {
        let resp = ResponseRecord {
            system_fingerprint: Some("fp_1".into()),
            usage: Usage {
                reasoning_output_tokens: Some(7),
                ..Default::default()
            },
            ..Default::default()
        };
        for f in [Flavour::Current, Flavour::Events] {
            let mut out = Vec::new();
            response_attributes(f, &resp, &mut out);
            assert_eq!(
                find(&out, "gen_ai.openai.response.system_fingerprint"),
                Some(&Value::from("fp_1"))
            );
            assert_eq!(
                find(&out, "gen_ai.usage.reasoning_tokens"),
                Some(&Value::I64(7))
            );
            assert!(find(&out, "openai.response.system_fingerprint").is_none());
            assert!(find(&out, "gen_ai.usage.reasoning.output_tokens").is_none());
        }
        let mut out = Vec::new();
        response_attributes(Flavour::Legacy, &resp, &mut out);
        assert_eq!(
            find(&out, "gen_ai.openai.system_fingerprint"),
            Some(&Value::from("fp_1"))
        );
        assert_eq!(
            find(&out, "llm.usage.reasoning_tokens"),
            Some(&Value::I64(7))
        );
    }

    fn anthropic_tools() -> Content {
        Content {
            tool_definitions: vec![
                ToolDefinition {
                    kind: "function".into(),
                    name: "get_weather".into(),
                    description: Some("Weather".into()),
                    parameters: Some(json!({"type": "object"})),
                },
                ToolDefinition {
                    kind: "function".into(),
                    name: "ping".into(),
                    description: None,
                    parameters: None,
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn anthropic_tool_definitions_keep_input_schema() {
        let mut out = Vec::new();
        current_content_attributes_for(ApiFormat::Anthropic, &anthropic_tools(), &mut out);
        let defs: Json =
            serde_json::from_str(&find(&out, "gen_ai.tool.definitions").unwrap().as_str()).unwrap();
        assert_eq!(
            defs,
            json!([
                {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}},
                {"name": "ping"}
            ])
        );
        let mut out = Vec::new();
        legacy_content_attributes_for(ApiFormat::Anthropic, &anthropic_tools(), &mut out);
        assert_eq!(
            find(&out, "llm.request.functions.0.input_schema").map(|v| v.as_str().into_owned()),
            Some(r#"{"type":"object"}"#.to_owned())
        );
        assert!(find(&out, "llm.request.functions.0.parameters").is_none());
        // OpenAI tools keep the semconv / upstream OpenAI shape.
        let mut out = Vec::new();
        current_content_attributes_for(ApiFormat::OpenAi, &anthropic_tools(), &mut out);
        let defs: Json =
            serde_json::from_str(&find(&out, "gen_ai.tool.definitions").unwrap().as_str()).unwrap();
        assert_eq!(defs[0]["parameters"], json!({"type": "object"}));
        assert_eq!(defs[0]["type"], "function");
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

    #[test]
    fn flavour_names_round_trip() {
        for f in [Flavour::Current, Flavour::Legacy, Flavour::Events] {
            assert_eq!(Flavour::parse(f.as_str()), Some(f));
        }
        assert_eq!(Flavour::parse("nope"), None);
    }
}
