//! Request bodies.

use openllmetry_semconv::message::{ChatMessage, Part, ToolDefinition};
use serde_json::Value;

use crate::json::{
    Faults, Obj, get_array, get_bool, get_f64, get_i64, get_obj, get_str, get_str_list, get_string,
    parse_object,
};
use crate::providers::common::{arguments, text_of};
use crate::{FaultKind, Operation, RequestRecord};

/// Parses an Ollama request body (see the [module docs](super)). Never fails: problems are
/// pushed to `faults` (each kind once) and the record keeps what could be read.
///
/// ```
/// use openllmetry_core::{Operation, providers::ollama};
/// let body = br#"{"model":"llama3","messages":[{"role":"user","content":"Hi"}],"options":{"num_predict":5}}"#;
/// let mut faults = Vec::new();
/// let rec = ollama::parse_request(Operation::Chat, body, &mut faults);
/// assert_eq!(rec.model.as_deref(), Some("llama3"));
/// assert_eq!(rec.params.max_tokens, Some(5));
/// assert!(rec.stream, "Ollama streams unless told not to");
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
        Operation::Embeddings => embeddings(&obj, f, &mut rec),
        Operation::TextCompletion => {
            rec.stream = get_bool(&obj, "stream", f).unwrap_or(true);
            generate(&obj, f, &mut rec);
        }
        _ => {
            rec.stream = get_bool(&obj, "stream", f).unwrap_or(true);
            chat(&obj, f, &mut rec);
        }
    }
    rec
}

fn options(obj: &Obj, f: &mut Faults<'_>, rec: &mut RequestRecord) {
    if let Some(o) = get_obj(obj, "options", f) {
        let p = &mut rec.params;
        p.max_tokens = get_i64(o, "num_predict", f);
        p.temperature = get_f64(o, "temperature", f);
        p.top_p = get_f64(o, "top_p", f);
        p.top_k = get_i64(o, "top_k", f);
        p.frequency_penalty = get_f64(o, "frequency_penalty", f);
        p.presence_penalty = get_f64(o, "presence_penalty", f);
        p.stop_sequences = get_str_list(o, "stop", f);
        p.seed = get_i64(o, "seed", f);
    }
    match obj.get("format") {
        Some(Value::String(s)) if s == "json" => rec.params.output_type = Some("json".into()),
        Some(v @ Value::Object(_)) => {
            rec.params.output_type = Some("json".into());
            rec.params.structured_output_schema = Some(v.to_string());
        }
        _ => {}
    }
}

fn images(obj: &Obj, f: &mut Faults<'_>, parts: &mut Vec<Part>) {
    for img in get_array(obj, "images", f).unwrap_or_default() {
        match img {
            Value::String(s) => parts.push(Part::Blob {
                mime_type: None,
                modality: "image".into(),
                content: s.clone(),
            }),
            _ => f.push(FaultKind::UnexpectedShape),
        }
    }
}

/// `tool_calls` of an assistant message (request or response): `tool_call` parts.
pub(super) fn tool_call_parts(msg: &Obj, f: &mut Faults<'_>, parts: &mut Vec<Part>) {
    for call in get_array(msg, "tool_calls", f).unwrap_or_default() {
        let Some(func) = call.as_object().and_then(|c| c.get("function")) else {
            f.push(FaultKind::UnexpectedShape);
            continue;
        };
        let Some(func) = func.as_object() else {
            f.push(FaultKind::UnexpectedShape);
            continue;
        };
        parts.push(Part::ToolCall {
            id: call
                .as_object()
                .and_then(|c| c.get("id"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            name: get_string(func, "name", f).unwrap_or_default(),
            arguments: arguments(func.get("arguments")),
        });
    }
}

fn chat(obj: &Obj, f: &mut Faults<'_>, rec: &mut RequestRecord) {
    options(obj, f, rec);
    for m in get_array(obj, "messages", f).unwrap_or_default() {
        let Some(m) = m.as_object() else {
            f.push(FaultKind::UnexpectedShape);
            continue;
        };
        let role = get_string(m, "role", f).unwrap_or_default();
        let mut parts = Vec::new();
        let content = m.get("content").filter(|v| !v.is_null());
        if role == "tool" {
            parts.push(Part::ToolCallResponse {
                id: get_string(m, "tool_call_id", f),
                response: content.cloned().unwrap_or(Value::Null),
            });
        } else {
            if let Some(c) = content {
                let text = text_of(c);
                if !text.is_empty() {
                    parts.push(Part::text(text));
                }
            }
            images(m, f, &mut parts);
            tool_call_parts(m, f, &mut parts);
        }
        rec.input_messages.push(ChatMessage {
            role,
            parts,
            name: get_string(m, "tool_name", f),
        });
    }
    for t in get_array(obj, "tools", f).unwrap_or_default() {
        let Some(t) = t.as_object() else {
            f.push(FaultKind::UnexpectedShape);
            continue;
        };
        let kind = get_string(t, "type", f).unwrap_or_else(|| "function".into());
        let Some(func) = get_obj(t, "function", f) else {
            continue;
        };
        rec.tool_definitions.push(ToolDefinition {
            kind,
            name: get_string(func, "name", f).unwrap_or_default(),
            description: get_string(func, "description", f),
            parameters: func.get("parameters").filter(|v| !v.is_null()).cloned(),
        });
    }
}

fn generate(obj: &Obj, f: &mut Faults<'_>, rec: &mut RequestRecord) {
    options(obj, f, rec);
    if let Some(s) = get_str(obj, "system", f).filter(|s| !s.is_empty()) {
        rec.system_instructions.push(Part::text(s));
    }
    let mut parts = Vec::new();
    if let Some(p) = get_str(obj, "prompt", f) {
        parts.push(Part::text(p));
    }
    images(obj, f, &mut parts);
    if !parts.is_empty() {
        rec.input_messages.push(ChatMessage {
            role: "user".into(),
            parts,
            name: None,
        });
    }
}

fn embeddings(obj: &Obj, f: &mut Faults<'_>, rec: &mut RequestRecord) {
    options(obj, f, rec);
    let inputs: Vec<String> = match obj.get("input").or_else(|| obj.get("prompt")) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().map(text_of).collect(),
        Some(_) => {
            f.push(FaultKind::UnexpectedShape);
            Vec::new()
        }
    };
    for s in inputs {
        rec.input_messages.push(ChatMessage {
            role: "user".into(),
            parts: vec![Part::text(s)],
            name: None,
        });
    }
}
