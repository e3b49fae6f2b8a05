//! Renderers: records → span attributes and log events, one per output [`Flavour`].
//!
//! Every flavour renders the same [`RequestRecord`](crate::record::RequestRecord) /
//! [`ResponseRecord`](crate::record::ResponseRecord); a new flavour is a new renderer here,
//! never a new parser. Content (messages, system instructions, tool definitions) is rendered
//! only from a [`Content`] value, which the recorder builds only when content capture is on,
//! after the redaction hook ran.
//!
//! # Layout
//!
//! One file per output flavour, after `tracing-subscriber`'s `fmt/format/{json,pretty}.rs`:
//!
//! - this module: [`Flavour`], [`Content`] and the helpers several flavours share;
//! - `attributes`: the attributes every flavour writes from the records without content
//!   ([`request_attributes`], [`response_attributes`], token usage), asking the flavour's
//!   module for the keys that differ;
//! - `current`: [`Flavour::Current`] (content as the semconv's JSON attributes);
//! - `legacy`: [`Flavour::Legacy`] (older OpenLLMetry's indexed attributes);
//! - `events`: [`Flavour::Events`] (content as log events, [`events`]);
//! - `semconv`: [`Flavour::Semconv`] (the latest experimental GenAI conventions, pinned by
//!   commit in [`openllmetry_semconv::latest`]; its own span name, request, response and
//!   content attributes).
//!
//! # Adding a flavour
//!
//! 1. Add a variant to [`Flavour`] (with its names in [`Flavour::parse`] and
//!    [`Flavour::as_str`]).
//! 2. Add a file `render/<name>.rs` with the flavour's content renderer (a
//!    `pub fn <name>_content_attributes_for(format, &Content, &mut Vec<KeyValue>)` like
//!    [`current_content_attributes_for`], or log events like [`events`]), and, where its keys
//!    differ from the current flavour's, its own `usage_keys` / request-kind attributes like
//!    `legacy` has; declare it below and re-export its public items.
//! 3. Dispatch to it where the flavour is matched: `attributes` (request, response, usage
//!    keys) and the recorder's `finish` (`crate::instrument`), which picks the content
//!    renderer.
//! 4. Tests beside the new renderer, with expectations taken from the convention it follows.

use openllmetry_semconv::message::{ChatMessage, OutputMessage, Part, ToolDefinition};
use opentelemetry::{Array, KeyValue, StringValue, Value};
use serde_json::Value as Json;

mod attributes;
mod current;
mod events;
mod legacy;
pub mod semconv;

pub use attributes::{request_attributes, response_attributes};
pub use current::{current_content_attributes, current_content_attributes_for};
pub use events::{LogEvent, events, json_to_any_value};
pub use legacy::{legacy_content_attributes, legacy_content_attributes_for, legacy_system_value};
pub(crate) use semconv::{
    abnormal_finish_reasons as semconv_abnormal_finish_reasons,
    operation_name as semconv_operation_name,
};
pub use semconv::{semconv_content_attributes, semconv_response_attributes, semconv_span_name};

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
    /// (`gen_ai.{role}.message`, `gen_ai.choice`). The Responses API keeps its content on the
    /// span, as upstream does ([`parity`](crate::parity)).
    Events,
    /// The latest experimental GenAI conventions (`open-telemetry/semantic-conventions-genai`,
    /// pinned in [`openllmetry_semconv::latest`]) instead of OpenLLMetry's attributes: span
    /// name `{operation} {model}`, `gen_ai.usage.cache_write.input_tokens`, content in the
    /// current JSON shapes, the `gen_ai.client.inference.*` metrics. What
    /// `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental` selects. What it writes and
    /// where it knowingly differs from the conventions: [`semconv`].
    Semconv,
}

impl Flavour {
    /// Parses `current` / `legacy` / `events` / `semconv` (case-insensitive;
    /// `gen_ai_latest_experimental` is another name of `semconv`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "current" | "default" | "attributes" => Some(Flavour::Current),
            "legacy" => Some(Flavour::Legacy),
            "events" => Some(Flavour::Events),
            "semconv" | "gen_ai_latest_experimental" => Some(Flavour::Semconv),
            _ => None,
        }
    }

    /// The canonical name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Flavour::Current => "current",
            Flavour::Legacy => "legacy",
            Flavour::Events => "events",
            Flavour::Semconv => "semconv",
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

pub(super) fn kv_str(key: &'static str, v: impl Into<StringValue>) -> KeyValue {
    KeyValue::new(key, Value::String(v.into()))
}

pub(super) fn str_array(v: &[String]) -> Value {
    Value::Array(Array::String(
        v.iter().map(|s| StringValue::from(s.clone())).collect(),
    ))
}
pub(super) fn to_json_string<T: serde::Serialize>(v: &T) -> Option<String> {
    serde_json::to_string(v).ok()
}
/// Text of the parts a legacy `.content` attribute shows: text parts joined; otherwise the
/// parts as JSON.
pub(super) fn legacy_text(parts: &[Part]) -> Option<String> {
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
/// Output messages as the legacy and events flavours show them: the reasoning of a message
/// (Anthropic thinking, OpenAI reasoning content) is an entry of its own with role
/// `thinking` before the message, as older OpenLLMetry wrote Anthropic thinking blocks.
pub(super) fn reasoning_apart(messages: &[OutputMessage]) -> Vec<OutputMessage> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::ApiFormat;
    use crate::record::{RequestRecord, ResponseRecord};
    use serde_json::json;

    pub(super) fn content() -> Content {
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

    pub(super) fn find<'a>(kvs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
        kvs.iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
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
    fn flavour_names_round_trip() {
        for f in [
            Flavour::Current,
            Flavour::Legacy,
            Flavour::Events,
            Flavour::Semconv,
        ] {
            assert_eq!(Flavour::parse(f.as_str()), Some(f));
        }
        assert_eq!(Flavour::parse("nope"), None);
    }
}
