//! The [`Flavour::Events`](super::Flavour::Events) flavour: current attributes without
//! content; content goes out as OpenTelemetry log events (`gen_ai.{role}.message`,
//! `gen_ai.choice`).

use openllmetry_semconv::message::{OutputMessage, Part};
use openllmetry_semconv::value;
use opentelemetry::Key;
use opentelemetry::logs::AnyValue;
use serde_json::{Map, Value as Json};

use super::{Content, legacy_text, reasoning_apart};
use crate::record::{RequestRecord, ResponseRecord};

/// One log event of the [`Flavour::Events`](super::Flavour::Events) flavour.
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
/// Log events of the [`Flavour::Events`](super::Flavour::Events) flavour. With `content == None` (capture off) the
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
    use crate::render::tests::content;
    use serde_json::json;

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
}
