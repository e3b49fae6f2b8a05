//! Request bodies.

use openllmetry_semconv::message::{ChatMessage, Part, ToolDefinition};
use serde_json::Value;

use super::{
    Faults, Obj, arguments_field, content_parts, get_array, get_bool, get_f64, get_i64, get_obj,
    get_str, get_str_list, get_string, parse_object,
};
use crate::record::RequestParams;
use crate::{FaultKind, Operation, RequestRecord};

/// Parses an OpenAI-format request body for `op` ([`Operation::Chat`],
/// [`Operation::TextCompletion`], [`Operation::Embeddings`] or [`Operation::Responses`]).
///
/// * Chat: model, `stream`, sampling parameters, `response_format`, `messages` (string or
///   block content; `tool` messages become `tool_call_response` parts; assistant
///   `tool_calls` and legacy `function_call` become `tool_call` parts), `tools` and legacy
///   `functions`.
/// * Legacy completions: `prompt` (a string or a list) becomes one user message with one
///   text part per prompt.
/// * Embeddings: each `input` becomes a user message with one text part (token arrays as
///   their JSON text); `encoding_format`.
/// * Responses: `instructions` become the system instructions; `input` (a string or a list
///   of `message`, `function_call` and `function_call_output` items) the input messages;
///   `max_output_tokens`, `reasoning.effort`, `text.format` and `function` tools.
///
/// Never fails: problems are pushed to `faults` (each kind once) and the record keeps what
/// could be read.
///
/// ```
/// use openllmetry_core::{Operation, openai};
/// let body = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}],"max_tokens":5}"#;
/// let mut faults = Vec::new();
/// let rec = openai::parse_request(Operation::Chat, body, &mut faults);
/// assert_eq!(rec.model.as_deref(), Some("gpt-4o"));
/// assert_eq!(rec.params.max_tokens, Some(5));
/// assert_eq!(rec.input_messages[0].role, "user");
/// assert!(faults.is_empty());
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
        Operation::Chat => chat(&obj, f, &mut rec),
        Operation::TextCompletion => completion(&obj, f, &mut rec),
        Operation::Embeddings => embeddings(&obj, f, &mut rec),
        Operation::Responses => responses(&obj, f, &mut rec),
        Operation::Rerank => {}
    }
    rec
}

// ---------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------

/// Parameters shared by chat and legacy completions.
fn sampling(obj: &Obj, f: &mut Faults<'_>, p: &mut RequestParams) {
    p.max_tokens =
        get_i64(obj, "max_tokens", f).or_else(|| get_i64(obj, "max_completion_tokens", f));
    p.temperature = get_f64(obj, "temperature", f);
    p.top_p = get_f64(obj, "top_p", f);
    p.frequency_penalty = get_f64(obj, "frequency_penalty", f);
    p.presence_penalty = get_f64(obj, "presence_penalty", f);
    p.stop_sequences = get_str_list(obj, "stop", f);
    p.seed = get_i64(obj, "seed", f);
    p.choice_count = get_i64(obj, "n", f);
    p.service_tier = get_string(obj, "service_tier", f);
}

/// `gen_ai.output.type` and the structured-output schema of a chat `response_format` or a
/// Responses `text.format`. `schema` is where that format keeps its JSON schema.
fn output_format(format: &Obj, schema: Option<&Value>, f: &mut Faults<'_>, p: &mut RequestParams) {
    match get_str(format, "type", f) {
        Some("text") => p.output_type = Some("text".to_owned()),
        Some("json_object") => p.output_type = Some("json".to_owned()),
        Some("json_schema") => {
            p.output_type = Some("json".to_owned());
            if let Some(schema) = schema.filter(|s| !s.is_null()) {
                p.structured_output_schema = serde_json::to_string(schema).ok();
            }
        }
        // Other formats (grammar, regex, ...) have no semconv output type.
        Some(_) | None => {}
    }
}

// ---------------------------------------------------------------------------------------
// Chat completions
// ---------------------------------------------------------------------------------------

fn chat(obj: &Obj, f: &mut Faults<'_>, rec: &mut RequestRecord) {
    rec.stream = get_bool(obj, "stream", f).unwrap_or(false);
    let p = &mut rec.params;
    sampling(obj, f, p);
    p.reasoning_effort = get_string(obj, "reasoning_effort", f);
    if let Some(rf) = get_obj(obj, "response_format", f) {
        let schema = match rf.get("json_schema") {
            Some(Value::Object(js)) => js.get("schema"),
            None | Some(Value::Null) => None,
            Some(_) => {
                f.push(FaultKind::UnexpectedShape);
                None
            }
        };
        output_format(rf, schema, f, p);
    }
    if let Some(msgs) = get_array(obj, "messages", f) {
        rec.input_messages = msgs.iter().filter_map(|m| chat_message(m, f)).collect();
    }
    if let Some(tools) = get_array(obj, "tools", f) {
        rec.tool_definitions
            .extend(tools.iter().filter_map(|t| tool_definition(t, f)));
    }
    if let Some(functions) = get_array(obj, "functions", f) {
        rec.tool_definitions.extend(
            functions
                .iter()
                .filter_map(|t| function_definition(t, "function", f)),
        );
    }
}

fn chat_message(m: &Value, f: &mut Faults<'_>) -> Option<ChatMessage> {
    let Value::Object(m) = m else {
        f.push(FaultKind::UnexpectedShape);
        return None;
    };
    let Some(role) = get_str(m, "role", f) else {
        f.push(FaultKind::UnexpectedShape);
        return None;
    };
    let mut parts = Vec::new();
    if role == "tool" {
        parts.push(Part::ToolCallResponse {
            id: get_string(m, "tool_call_id", f),
            response: m.get("content").cloned().unwrap_or(Value::Null),
        });
    } else {
        content_parts(m.get("content"), f, &mut parts);
    }
    if let Some(calls) = get_array(m, "tool_calls", f) {
        parts.extend(calls.iter().filter_map(|c| tool_call_part(c, f)));
    }
    if let Some(call) = get_obj(m, "function_call", f) {
        parts.push(function_call_part(call, None, f));
    }
    Some(ChatMessage {
        role: role.to_owned(),
        parts,
        name: get_string(m, "name", f),
    })
}

/// One entry of `tool_calls` (in a request message or a response choice):
/// `{id, type, function: {name, arguments}}`, or `{id, type: "custom", custom: {name, input}}`.
pub(super) fn tool_call_part(call: &Value, f: &mut Faults<'_>) -> Option<Part> {
    let Value::Object(call) = call else {
        f.push(FaultKind::UnexpectedShape);
        return None;
    };
    let id = get_string(call, "id", f);
    let kind = get_str(call, "type", f).unwrap_or("function");
    let body = match call.get(kind) {
        Some(Value::Object(b)) => Some(b),
        _ => match call.get("function") {
            Some(Value::Object(b)) => Some(b),
            _ => None,
        },
    };
    match body {
        Some(b) if b.get("name").is_some_and(Value::is_string) => {
            Some(function_call_part(b, id, f))
        }
        // Without a name it cannot be a tool-call part (and is not a valid generic part).
        _ => {
            f.push(FaultKind::UnexpectedShape);
            None
        }
    }
}

/// `{name, arguments}` (or a custom tool's `{name, input}`) as a tool-call part.
pub(super) fn function_call_part(call: &Obj, id: Option<String>, f: &mut Faults<'_>) -> Part {
    let name = get_string(call, "name", f).unwrap_or_else(|| {
        f.push(FaultKind::UnexpectedShape);
        String::new()
    });
    let arguments = arguments_field(call.get("arguments").or_else(|| call.get("input")));
    Part::ToolCall {
        id,
        name,
        arguments,
    }
}

/// A chat `tools` entry: `{type, function: {name, description, parameters}}` (or the
/// object named by another `type`, or the flat Responses shape).
fn tool_definition(tool: &Value, f: &mut Faults<'_>) -> Option<ToolDefinition> {
    let Value::Object(t) = tool else {
        f.push(FaultKind::UnexpectedShape);
        return None;
    };
    let kind = get_str(t, "type", f).unwrap_or("function");
    match t.get(kind) {
        Some(Value::Object(def)) => definition(def, kind, f),
        _ => definition(t, kind, f),
    }
}

/// A legacy `functions` entry (or any flat `{name, description, parameters}` definition).
fn function_definition(def: &Value, kind: &str, f: &mut Faults<'_>) -> Option<ToolDefinition> {
    let Value::Object(def) = def else {
        f.push(FaultKind::UnexpectedShape);
        return None;
    };
    definition(def, kind, f)
}

fn definition(def: &Obj, kind: &str, f: &mut Faults<'_>) -> Option<ToolDefinition> {
    let Some(name) = get_string(def, "name", f) else {
        f.push(FaultKind::UnexpectedShape);
        return None;
    };
    Some(ToolDefinition {
        kind: kind.to_owned(),
        name,
        description: get_string(def, "description", f),
        parameters: def.get("parameters").filter(|v| !v.is_null()).cloned(),
    })
}

// ---------------------------------------------------------------------------------------
// Legacy completions and embeddings
// ---------------------------------------------------------------------------------------

/// Prompt / embedding inputs as texts: a string, a list of strings, a token array (its JSON
/// text) or a list of token arrays.
fn text_inputs(v: Option<&Value>, f: &mut Faults<'_>) -> Vec<String> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if !items.is_empty() && items.iter().all(Value::is_number) => {
            vec![Value::Array(items.clone()).to_string()]
        }
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| match item {
                Value::String(s) => Some(s.clone()),
                Value::Array(_) => Some(item.to_string()),
                _ => {
                    f.push(FaultKind::UnexpectedShape);
                    None
                }
            })
            .collect(),
        Some(_) => {
            f.push(FaultKind::UnexpectedShape);
            Vec::new()
        }
    }
}

fn user_message(parts: Vec<Part>) -> ChatMessage {
    ChatMessage {
        role: "user".to_owned(),
        parts,
        name: None,
    }
}

fn completion(obj: &Obj, f: &mut Faults<'_>, rec: &mut RequestRecord) {
    rec.stream = get_bool(obj, "stream", f).unwrap_or(false);
    sampling(obj, f, &mut rec.params);
    let prompts = text_inputs(obj.get("prompt"), f);
    if !prompts.is_empty() {
        rec.input_messages
            .push(user_message(prompts.into_iter().map(Part::text).collect()));
    }
}

fn embeddings(obj: &Obj, f: &mut Faults<'_>, rec: &mut RequestRecord) {
    rec.params.encoding_formats = get_string(obj, "encoding_format", f).into_iter().collect();
    rec.input_messages = text_inputs(obj.get("input"), f)
        .into_iter()
        .map(|text| user_message(vec![Part::text(text)]))
        .collect();
}

// ---------------------------------------------------------------------------------------
// Responses API
// ---------------------------------------------------------------------------------------

fn responses(obj: &Obj, f: &mut Faults<'_>, rec: &mut RequestRecord) {
    rec.stream = get_bool(obj, "stream", f).unwrap_or(false);
    let p = &mut rec.params;
    p.max_tokens = get_i64(obj, "max_output_tokens", f);
    p.temperature = get_f64(obj, "temperature", f);
    p.top_p = get_f64(obj, "top_p", f);
    p.service_tier = get_string(obj, "service_tier", f);
    if let Some(reasoning) = get_obj(obj, "reasoning", f) {
        p.reasoning_effort = get_string(reasoning, "effort", f);
    }
    if let Some(format) = get_obj(obj, "text", f).and_then(|t| get_obj(t, "format", f)) {
        output_format(format, format.get("schema"), f, p);
    }
    match get_str(obj, "instructions", f) {
        Some(s) if !s.is_empty() => rec.system_instructions.push(Part::text(s)),
        _ => {}
    }
    match obj.get("input") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => rec.input_messages.push(user_message(vec![Part::text(s)])),
        Some(Value::Array(items)) => {
            rec.input_messages = items.iter().filter_map(|i| input_item(i, f)).collect();
        }
        Some(_) => f.push(FaultKind::UnexpectedShape),
    }
    if let Some(tools) = get_array(obj, "tools", f) {
        rec.tool_definitions = tools
            .iter()
            .filter_map(|t| match t {
                Value::Object(t) => match t.get("type").and_then(Value::as_str) {
                    // Built-in tools (web_search, file_search, ...) have no name: not listed.
                    Some(kind @ ("function" | "custom")) => definition(t, kind, f),
                    _ => None,
                },
                _ => {
                    f.push(FaultKind::UnexpectedShape);
                    None
                }
            })
            .collect();
    }
}

/// One Responses `input` item: a message (`type: "message"`, or no type with a `role`), a
/// `function_call` (an assistant tool call) or a `function_call_output` (a tool message).
/// Other item types (reasoning, built-in tool calls, item references) are not recorded.
fn input_item(item: &Value, f: &mut Faults<'_>) -> Option<ChatMessage> {
    let Value::Object(it) = item else {
        f.push(FaultKind::UnexpectedShape);
        return None;
    };
    match get_str(it, "type", f) {
        Some("message") => {}
        None if it.contains_key("role") => {}
        Some("function_call" | "custom_tool_call") => {
            let id = get_string(it, "call_id", f);
            return Some(ChatMessage {
                role: "assistant".to_owned(),
                parts: vec![function_call_part(it, id, f)],
                name: None,
            });
        }
        Some("function_call_output" | "custom_tool_call_output") => {
            return Some(ChatMessage {
                role: "tool".to_owned(),
                parts: vec![Part::ToolCallResponse {
                    id: get_string(it, "call_id", f),
                    response: it.get("output").cloned().unwrap_or(Value::Null),
                }],
                name: None,
            });
        }
        Some(_) => return None,
        None => {
            f.push(FaultKind::UnexpectedShape);
            return None;
        }
    }
    let Some(role) = get_str(it, "role", f) else {
        f.push(FaultKind::UnexpectedShape);
        return None;
    };
    let mut parts = Vec::new();
    content_parts(it.get("content"), f, &mut parts);
    Some(ChatMessage {
        role: role.to_owned(),
        parts,
        name: None,
    })
}
