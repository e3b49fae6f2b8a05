//! Complete (non-streamed) response bodies.

use openllmetry_semconv::message::{OutputMessage, Part};
use openllmetry_semconv::value::finish_reason;
use serde_json::Value;

use super::request::{function_call_part, tool_call_part};
use super::{
    Faults, Obj, content_parts, get_array, get_i64, get_obj, get_str, get_string,
    map_finish_reason, parse_object, provider_error, refusal_part, with_total,
};
use crate::record::Usage;
use crate::{FaultKind, Operation, ResponseRecord};

/// Parses a complete (non-streamed, already decompressed) response body of `op`.
///
/// * Chat / legacy completions: id, model, `system_fingerprint`, `service_tier`, one output
///   message per choice (text, reasoning, refusal and tool-call parts; finish reason mapped
///   with [`map_finish_reason`]), usage.
/// * Embeddings: id (when sent), model, usage, the vector length of the first embedding (a
///   base64 vector counts 4 bytes per dimension) and the number of vectors.
/// * Responses: id, model, `service_tier`, usage, and one output message holding every
///   output item; its finish reason is derived from `status`.
///
/// A body with an `error` object yields a record whose `error` carries the error's `type`,
/// else its `code`, else `api_error`. Never fails: problems are pushed to `faults` (each kind
/// once) and the record keeps what could be read.
///
/// ```
/// use openllmetry_core::{Operation, openai};
/// let body = br#"{"id":"c1","model":"gpt-4o","choices":[{"index":0,
///   "message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],
///   "usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#;
/// let mut faults = Vec::new();
/// let rec = openai::parse_response(Operation::Chat, body, &mut faults);
/// assert_eq!(rec.finish_reasons, ["stop"]);
/// assert_eq!(rec.usage.input_tokens, Some(3));
/// assert!(faults.is_empty());
/// ```
pub fn parse_response(op: Operation, body: &[u8], faults: &mut Vec<FaultKind>) -> ResponseRecord {
    let mut f = Faults::new(faults);
    let mut rec = ResponseRecord::default();
    let Some(obj) = parse_object(body, &mut f) else {
        return rec;
    };
    let f = &mut f;
    if op == Operation::Responses {
        responses_body(&obj, f, &mut rec);
        return rec;
    }
    rec.error = provider_error(obj.get("error"));
    if rec.error.is_some() {
        return rec;
    }
    rec.model = get_string(&obj, "model", f);
    match op {
        Operation::Embeddings => embeddings_body(&obj, f, &mut rec),
        _ => choices_body(&obj, op, f, &mut rec),
    }
    rec
}

// ---------------------------------------------------------------------------------------
// Chat and legacy completions
// ---------------------------------------------------------------------------------------

/// Chat-completions `usage` (also the legacy completions' and a stream's last chunk's).
fn chat_usage(obj: &Obj, f: &mut Faults<'_>) -> Usage {
    let Some(u) = get_obj(obj, "usage", f) else {
        return Usage::default();
    };
    with_total(Usage {
        input_tokens: get_i64(u, "prompt_tokens", f),
        output_tokens: get_i64(u, "completion_tokens", f),
        total_tokens: get_i64(u, "total_tokens", f),
        cache_read_input_tokens: get_obj(u, "prompt_tokens_details", f)
            .and_then(|d| get_i64(d, "cached_tokens", f)),
        // OpenRouter reports cache writes here.
        cache_creation_input_tokens: get_obj(u, "prompt_tokens_details", f)
            .and_then(|d| get_i64(d, "cache_write_tokens", f)),
        reasoning_output_tokens: get_obj(u, "completion_tokens_details", f)
            .and_then(|d| get_i64(d, "reasoning_tokens", f)),
    })
}

fn choices_body(obj: &Obj, op: Operation, f: &mut Faults<'_>, rec: &mut ResponseRecord) {
    rec.id = get_string(obj, "id", f);
    rec.system_fingerprint = get_string(obj, "system_fingerprint", f);
    rec.service_tier = get_string(obj, "service_tier", f);
    rec.usage = chat_usage(obj, f);
    let Some(choices) = get_array(obj, "choices", f) else {
        return;
    };
    for choice in choices {
        let Value::Object(c) = choice else {
            f.push(FaultKind::UnexpectedShape);
            continue;
        };
        let finish = get_str(c, "finish_reason", f).map(map_finish_reason);
        let mut role = None;
        let mut parts = Vec::new();
        let has_output = if op == Operation::TextCompletion {
            match get_str(c, "text", f) {
                Some(text) => {
                    if !text.is_empty() {
                        parts.push(Part::text(text));
                    }
                    true
                }
                None => false,
            }
        } else {
            match get_obj(c, "message", f) {
                Some(m) => {
                    role = get_str(m, "role", f);
                    message_parts(m, f, &mut parts);
                    true
                }
                None => false,
            }
        };
        // A choice with neither output nor finish reason (e.g. only filter results).
        if !has_output && finish.is_none() {
            continue;
        }
        let finish = finish.unwrap_or("");
        if !finish.is_empty() {
            rec.finish_reasons.push(finish.to_owned());
        }
        rec.output_messages.push(OutputMessage {
            role: role.unwrap_or("assistant").to_owned(),
            parts,
            name: None,
            finish_reason: finish.to_owned(),
        });
    }
}

/// Parts of a choice's `message`, in the order a streamed choice yields them: text,
/// reasoning, refusal, tool calls, legacy function call.
fn message_parts(m: &Obj, f: &mut Faults<'_>, parts: &mut Vec<Part>) {
    match m.get("content") {
        Some(Value::String(s)) => {
            if !s.is_empty() {
                parts.push(Part::text(s.clone()));
            }
        }
        other => content_parts(other, f, parts),
    }
    let reasoning = get_str(m, "reasoning_content", f).or_else(|| get_str(m, "reasoning", f));
    if let Some(r) = reasoning.filter(|r| !r.is_empty()) {
        parts.push(Part::Reasoning {
            content: r.to_owned(),
        });
    }
    if let Some(r) = get_str(m, "refusal", f).filter(|r| !r.is_empty()) {
        parts.push(refusal_part(r));
    }
    if let Some(calls) = get_array(m, "tool_calls", f) {
        parts.extend(calls.iter().filter_map(|c| tool_call_part(c, f)));
    }
    if let Some(call) = get_obj(m, "function_call", f) {
        parts.push(function_call_part(call, None, f));
    }
}

// ---------------------------------------------------------------------------------------
// Embeddings
// ---------------------------------------------------------------------------------------

fn embeddings_body(obj: &Obj, f: &mut Faults<'_>, rec: &mut ResponseRecord) {
    // OpenAI sends no id; OpenAI-compatible servers (vLLM) do.
    rec.id = get_string(obj, "id", f);
    if let Some(u) = get_obj(obj, "usage", f) {
        rec.usage.input_tokens = get_i64(u, "prompt_tokens", f);
        // Only some OpenAI-compatible servers report it (vLLM: 0).
        rec.usage.output_tokens = get_i64(u, "completion_tokens", f);
        rec.usage.total_tokens = get_i64(u, "total_tokens", f);
        rec.usage.cache_read_input_tokens = embeddings_cached_tokens(u, f);
    }
    let Some(data) = get_array(obj, "data", f) else {
        return;
    };
    rec.embedding_count = i64::try_from(data.len()).ok();
    let Some(first) = data.first() else {
        return;
    };
    let Value::Object(first) = first else {
        f.push(FaultKind::UnexpectedShape);
        return;
    };
    rec.embedding_dimensions = match first.get("embedding") {
        None | Some(Value::Null) => None,
        Some(Value::Array(v)) => i64::try_from(v.len()).ok(),
        // `encoding_format: base64`: little-endian f32s, 4 bytes per dimension.
        Some(Value::String(s)) => i64::try_from(base64_decoded_len(s) / 4).ok(),
        Some(_) => {
            f.push(FaultKind::UnexpectedShape);
            None
        }
    };
}

/// The embeddings' cached-token count as OpenLLMetry 0.62 writes it: 0 when the usage has no
/// `prompt_tokens_details` (or details without `cached_tokens`), the count when it has one,
/// none when the details are null.
///
/// Upstream's `_set_response_attributes` (`opentelemetry-instrumentation-openai`
/// `shared/__init__.py`) writes `dict(usage.get("prompt_tokens_details", {})).get(
/// "cached_tokens", 0)` from the client's `model_dump()`. The embeddings `Usage` model declares
/// no `prompt_tokens_details`, so the key is absent and 0 is written; chat and completions'
/// `CompletionUsage` declares it (null when not sent: `dict(None)` raises inside the
/// `dont_throw` helper and nothing is written), which is what [`chat_usage`] reads.
fn embeddings_cached_tokens(u: &Obj, f: &mut Faults<'_>) -> Option<i64> {
    match u.get("prompt_tokens_details") {
        None => Some(0),
        Some(Value::Object(d)) if !d.contains_key("cached_tokens") => Some(0),
        Some(Value::Object(d)) => get_i64(d, "cached_tokens", f),
        Some(_) => None,
    }
}

/// Bytes a base64 (standard or URL-safe) string decodes to, without decoding it.
pub(super) fn base64_decoded_len(s: &str) -> usize {
    let symbols = s
        .bytes()
        .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_'))
        .count();
    symbols / 4 * 3 + (symbols % 4 * 3) / 4
}

// ---------------------------------------------------------------------------------------
// Responses API
// ---------------------------------------------------------------------------------------

fn responses_usage(obj: &Obj, f: &mut Faults<'_>) -> Usage {
    let Some(u) = get_obj(obj, "usage", f) else {
        return Usage::default();
    };
    with_total(Usage {
        input_tokens: get_i64(u, "input_tokens", f),
        output_tokens: get_i64(u, "output_tokens", f),
        total_tokens: get_i64(u, "total_tokens", f),
        cache_read_input_tokens: get_obj(u, "input_tokens_details", f)
            .and_then(|d| get_i64(d, "cached_tokens", f)),
        cache_creation_input_tokens: None,
        reasoning_output_tokens: get_obj(u, "output_tokens_details", f)
            .and_then(|d| get_i64(d, "reasoning_tokens", f)),
    })
}

/// A Responses API `response` object (a body, or the one embedded in a stream's terminal
/// event) into `rec`.
pub(super) fn responses_body(obj: &Obj, f: &mut Faults<'_>, rec: &mut ResponseRecord) {
    rec.error = provider_error(obj.get("error"));
    rec.id = get_string(obj, "id", f);
    rec.model = get_string(obj, "model", f);
    rec.service_tier = get_string(obj, "service_tier", f);
    rec.usage = responses_usage(obj, f);
    let status = get_str(obj, "status", f);
    let Some(items) = get_array(obj, "output", f) else {
        return;
    };
    let mut parts = Vec::new();
    let mut called_tool = false;
    for item in items {
        output_item(item, f, &mut parts, &mut called_tool);
    }
    let reason = match status {
        Some("completed") if called_tool => finish_reason::TOOL_CALL,
        Some("completed") => finish_reason::STOP,
        Some("incomplete") => {
            let why = get_obj(obj, "incomplete_details", f).and_then(|d| get_str(d, "reason", f));
            if why == Some("content_filter") {
                finish_reason::CONTENT_FILTER
            } else {
                finish_reason::LENGTH
            }
        }
        Some("failed" | "cancelled") => finish_reason::ERROR,
        _ => "",
    };
    if !reason.is_empty() {
        rec.finish_reasons.push(reason.to_owned());
    }
    rec.output_messages.push(OutputMessage {
        role: "assistant".to_owned(),
        parts,
        name: None,
        finish_reason: reason.to_owned(),
    });
}

/// One Responses output item into parts. `called_tool` is set by the item types that make
/// a completed response finish with `tool_call`.
fn output_item(item: &Value, f: &mut Faults<'_>, parts: &mut Vec<Part>, called_tool: &mut bool) {
    let Value::Object(it) = item else {
        f.push(FaultKind::UnexpectedShape);
        return;
    };
    let Some(kind) = get_str(it, "type", f) else {
        f.push(FaultKind::UnexpectedShape);
        return;
    };
    match kind {
        "message" => {
            for block in get_array(it, "content", f).unwrap_or_default() {
                output_content(block, f, parts);
            }
        }
        "function_call" | "custom_tool_call" => {
            *called_tool = true;
            let id = get_string(it, "call_id", f);
            parts.push(function_call_part(it, id, f));
        }
        "reasoning" => {
            let mut text = joined_texts(it, "summary", f);
            if text.is_empty() {
                text = joined_texts(it, "content", f);
            }
            if !text.is_empty() {
                parts.push(Part::Reasoning { content: text });
            }
        }
        "file_search_call" | "web_search_call" | "computer_call" | "code_interpreter_call" => {
            *called_tool = true;
        }
        // Other items (image generation, MCP, shell calls, ...) are not recorded.
        _ => {}
    }
}

/// A `message` item's content block: `output_text` → text, `refusal` → generic refusal,
/// anything else kept as a generic part.
fn output_content(block: &Value, f: &mut Faults<'_>, parts: &mut Vec<Part>) {
    let Value::Object(b) = block else {
        f.push(FaultKind::UnexpectedShape);
        return;
    };
    match b.get("type").and_then(Value::as_str) {
        Some("output_text") => match get_str(b, "text", f) {
            Some(t) if !t.is_empty() => parts.push(Part::text(t)),
            Some(_) => {}
            None => f.push(FaultKind::UnexpectedShape),
        },
        Some("refusal") => match get_str(b, "refusal", f) {
            Some(r) => parts.push(refusal_part(r)),
            None => f.push(FaultKind::UnexpectedShape),
        },
        Some(_) => parts.push(Part::Generic(b.clone())),
        None => f.push(FaultKind::UnexpectedShape),
    }
}

/// The `text` of every entry of `item[key]` (reasoning `summary` / `content`), joined with
/// `\n`.
fn joined_texts(item: &Obj, key: &str, f: &mut Faults<'_>) -> String {
    let mut out = String::new();
    for entry in get_array(item, key, f).unwrap_or_default() {
        let text = match entry {
            Value::Object(e) => get_str(e, "text", f),
            _ => {
                f.push(FaultKind::UnexpectedShape);
                None
            }
        };
        if let Some(t) = text {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(t);
        }
    }
    out
}
