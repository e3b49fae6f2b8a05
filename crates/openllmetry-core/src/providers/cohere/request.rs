//! Request bodies.

use openllmetry_semconv::message::{ChatMessage, Part, ToolDefinition};
use serde_json::Value;

use crate::json::{
    Faults, Obj, get_array, get_bool, get_f64, get_i64, get_obj, get_str, get_str_list, get_string,
    parse_object,
};
use crate::providers::common::{arguments, text_of};
use crate::{FaultKind, Operation, RequestRecord};

/// Parses a Cohere v2 request body (see the [module docs](super)). Never fails.
///
/// ```
/// use openllmetry_core::{Operation, providers::cohere};
/// let body = br#"{"model":"command","messages":[{"role":"user","content":"Hi"}],"p":0.5,"k":3}"#;
/// let rec = cohere::parse_request(Operation::Chat, body, &mut Vec::new());
/// assert_eq!(rec.model.as_deref(), Some("command"));
/// assert_eq!((rec.params.top_p, rec.params.top_k), (Some(0.5), Some(3)));
/// ```
pub fn parse_request(op: Operation, body: &[u8], faults: &mut Vec<FaultKind>) -> RequestRecord {
    let mut f = Faults::new(faults);
    let mut rec = RequestRecord::default();
    let Some(obj) = parse_object(body, &mut f) else {
        return rec;
    };
    let f = &mut f;
    rec.model = get_string(&obj, "model", f);
    match op {
        Operation::Embeddings => embed(&obj, f, &mut rec),
        Operation::Rerank => rerank(&obj, f, &mut rec),
        _ => chat(&obj, f, &mut rec),
    }
    rec
}

/// Content of a message: a string, or a list of `text` / `document` / `image_url` items.
fn content_parts(v: Option<&Value>, parts: &mut Vec<Part>) {
    match v {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => parts.push(Part::text(s.clone())),
        Some(Value::Array(items)) => {
            for item in items {
                let Some(o) = item.as_object() else {
                    parts.push(Part::text(text_of(item)));
                    continue;
                };
                match o.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        if let Some(t) = o.get("text").and_then(Value::as_str) {
                            parts.push(Part::text(t));
                        }
                    }
                    Some("image_url") => {
                        let url = o
                            .get("image_url")
                            .and_then(|u| u.get("url").or(Some(u)))
                            .and_then(Value::as_str);
                        if let Some(url) = url {
                            parts.push(Part::Uri {
                                mime_type: None,
                                modality: "image".into(),
                                uri: url.to_owned(),
                            });
                        }
                    }
                    _ => parts.push(Part::Generic(o.clone())),
                }
            }
        }
        Some(other) => parts.push(Part::text(text_of(other))),
    }
}

/// `tool_calls` of an assistant message (request or response).
pub(super) fn tool_call_parts(msg: &Obj, f: &mut Faults<'_>, parts: &mut Vec<Part>) {
    for call in get_array(msg, "tool_calls", f).unwrap_or_default() {
        let Some(call) = call.as_object() else {
            f.push(FaultKind::UnexpectedShape);
            continue;
        };
        let func = get_obj(call, "function", f);
        parts.push(Part::ToolCall {
            id: get_string(call, "id", f),
            name: func
                .and_then(|fu| get_string(fu, "name", f))
                .unwrap_or_default(),
            arguments: func.and_then(|fu| arguments(fu.get("arguments"))),
        });
    }
}

fn chat(obj: &Obj, f: &mut Faults<'_>, rec: &mut RequestRecord) {
    rec.stream = get_bool(obj, "stream", f).unwrap_or(false);
    let p = &mut rec.params;
    p.max_tokens = get_i64(obj, "max_tokens", f);
    p.temperature = get_f64(obj, "temperature", f);
    p.top_p = get_f64(obj, "p", f);
    p.top_k = get_i64(obj, "k", f);
    p.frequency_penalty = get_f64(obj, "frequency_penalty", f);
    p.presence_penalty = get_f64(obj, "presence_penalty", f);
    p.stop_sequences = get_str_list(obj, "stop_sequences", f);
    p.seed = get_i64(obj, "seed", f);
    if let Some(rf) = get_obj(obj, "response_format", f) {
        match get_str(rf, "type", f) {
            Some("text") => p.output_type = Some("text".into()),
            Some("json_object") => {
                p.output_type = Some("json".into());
                if let Some(s) = rf.get("json_schema").filter(|v| !v.is_null()) {
                    p.structured_output_schema = Some(s.to_string());
                }
            }
            _ => {}
        }
    }
    for m in get_array(obj, "messages", f).unwrap_or_default() {
        let Some(m) = m.as_object() else {
            f.push(FaultKind::UnexpectedShape);
            continue;
        };
        let role = get_string(m, "role", f).unwrap_or_default();
        let mut parts = Vec::new();
        if role == "tool" {
            let mut inner = Vec::new();
            content_parts(m.get("content"), &mut inner);
            let response = match m.get("content") {
                Some(Value::String(s)) => Value::String(s.clone()),
                Some(v) => v.clone(),
                None => Value::Null,
            };
            parts.push(Part::ToolCallResponse {
                id: get_string(m, "tool_call_id", f),
                response,
            });
        } else {
            content_parts(m.get("content"), &mut parts);
            tool_call_parts(m, f, &mut parts);
        }
        rec.input_messages.push(ChatMessage {
            role,
            parts,
            name: None,
        });
    }
    for t in get_array(obj, "tools", f).unwrap_or_default() {
        let Some(t) = t.as_object() else {
            f.push(FaultKind::UnexpectedShape);
            continue;
        };
        let Some(func) = get_obj(t, "function", f) else {
            continue;
        };
        rec.tool_definitions.push(ToolDefinition {
            kind: get_string(t, "type", f).unwrap_or_else(|| "function".into()),
            name: get_string(func, "name", f).unwrap_or_default(),
            description: get_string(func, "description", f),
            parameters: func.get("parameters").filter(|v| !v.is_null()).cloned(),
        });
    }
}

fn user(text: String) -> ChatMessage {
    ChatMessage {
        role: "user".into(),
        parts: vec![Part::text(text)],
        name: None,
    }
}

fn embed(obj: &Obj, f: &mut Faults<'_>, rec: &mut RequestRecord) {
    rec.params.encoding_formats = get_str_list(obj, "embedding_types", f);
    for t in get_str_list(obj, "texts", f) {
        rec.input_messages.push(user(t));
    }
    for input in get_array(obj, "inputs", f).unwrap_or_default() {
        let mut parts = Vec::new();
        content_parts(input.get("content"), &mut parts);
        rec.input_messages.push(ChatMessage {
            role: "user".into(),
            parts,
            name: None,
        });
    }
}

fn rerank(obj: &Obj, f: &mut Faults<'_>, rec: &mut RequestRecord) {
    rec.params.choice_count = get_i64(obj, "top_n", f);
    for d in get_array(obj, "documents", f).unwrap_or_default() {
        let text = match d {
            Value::String(s) => s.clone(),
            Value::Object(o) => o
                .get("text")
                .and_then(Value::as_str)
                .map_or_else(|| d.to_string(), str::to_owned),
            other => text_of(other),
        };
        rec.input_messages.push(ChatMessage {
            role: "system".into(),
            parts: vec![Part::text(text)],
            name: None,
        });
    }
    if let Some(q) = get_string(obj, "query", f) {
        rec.input_messages.push(user(q));
    }
}
