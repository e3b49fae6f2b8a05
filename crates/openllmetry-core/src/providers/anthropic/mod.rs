//! Anthropic request, response and stream parsing.
//!
//! Covers the Messages API (`POST /v1/messages`, [`Operation::Chat`]) and the legacy Text
//! Completions API (`POST /v1/complete`, [`Operation::TextCompletion`]); any other operation
//! is parsed as Messages. The mapping follows OpenLLMetry 0.62 and the GenAI semantic
//! conventions v1.41:
//!
//! * content blocks become message [`Part`]s (`text`, `reasoning`, `tool_call`,
//!   `tool_call_response`, `blob`/`uri`/`file` for images and documents, anything else kept
//!   as a generic part); `redacted_thinking` blocks are skipped;
//! * `stop_reason` is mapped with [`map_finish_reason`];
//! * `gen_ai.usage.input_tokens` folds the cache tokens in
//!   (`input_tokens + cache_read_input_tokens + cache_creation_input_tokens`), as the
//!   Anthropic semconv page requires; with an input count, absent cache counts are 0, as
//!   OpenLLMetry writes them. Tokens are never estimated: other absent counts stay `None`.
//!
//! Nothing here panics on any input. Problems become [`FaultKind`]s (each kind reported at
//! most once per body or per stream) and the record keeps whatever could be read.
//!
//! Stream events are deserialized into small borrowed structs (no `serde_json::Value` on the
//! per-delta path); content kept by a [`StreamAccumulator`] is bounded by
//! [`MAX_STREAM_CONTENT_BYTES`] and [`MAX_STREAM_ENTRIES`].

use std::borrow::Cow;

use openllmetry_semconv::message::{ChatMessage, OutputMessage, Part, ToolDefinition};
use openllmetry_semconv::value::finish_reason;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::common::{WInt, WObj, WStr, floor_char_boundary, int, obj, text};
use crate::json::{
    Faults, Obj, ReportedOnce, get_bool, get_f64, get_i64, get_str, get_str_list, json_error_kind,
    parse_object,
};
use crate::record::{MAX_STREAM_CONTENT_BYTES, MAX_STREAM_ENTRIES, ProviderError, Usage};
use crate::{FaultKind, Operation, RequestRecord, ResponseRecord, SseEvent};

#[cfg(test)]
mod tests;

/// `error.type` of a stream `error` event that names no type (semconv's fallback value).
const OTHER_ERROR: &str = "_OTHER";

// ---------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------
// Finish reasons and usage
// ---------------------------------------------------------------------------------------

/// Maps an Anthropic `stop_reason` to the semconv finish reason: `end_turn` and
/// `stop_sequence` → `stop`, `tool_use` → `tool_call`, `max_tokens` → `length`. Any other
/// value (`pause_turn`, `refusal`, ...) is returned unchanged.
///
/// ```
/// use openllmetry_core::anthropic::map_finish_reason;
/// assert_eq!(map_finish_reason("end_turn"), "stop");
/// assert_eq!(map_finish_reason("refusal"), "refusal");
/// ```
pub fn map_finish_reason(raw: &str) -> &str {
    match raw {
        "end_turn" | "stop_sequence" => finish_reason::STOP,
        "tool_use" => finish_reason::TOOL_CALL,
        "max_tokens" => finish_reason::LENGTH,
        other => other,
    }
}

/// Builds a [`Usage`] from Anthropic's counts, folding the cache tokens into the input count.
///
/// When `input_tokens` was reported, a missing (or null) cache count is 0, in the sum and in
/// the record: OpenLLMetry 0.62 reads both with `getattr(usage, "...", 0) or 0` and always
/// writes `gen_ai.usage.cache_read.input_tokens` and `gen_ai.usage.cache_creation.input_tokens`
/// (`opentelemetry-instrumentation-anthropic` `__init__.py::_set_token_usage`, `streaming.py::
/// _set_token_usage`; its `tests/test_prompt_caching.py` asserts the 0). Without an input
/// count nothing is estimated: the cache counts stay as reported.
fn fold_usage(
    input: Option<i64>,
    output: Option<i64>,
    cache_read: Option<i64>,
    cache_creation: Option<i64>,
) -> Usage {
    let input_total = input.map(|i| {
        i.saturating_add(cache_read.unwrap_or(0))
            .saturating_add(cache_creation.unwrap_or(0))
    });
    let total = match (input_total, output) {
        (Some(i), Some(o)) => Some(i.saturating_add(o)),
        _ => None,
    };
    let zero_if_reported = |n: Option<i64>| if input.is_some() { n.or(Some(0)) } else { n };
    Usage {
        input_tokens: input_total,
        output_tokens: output,
        total_tokens: total,
        cache_read_input_tokens: zero_if_reported(cache_read),
        cache_creation_input_tokens: zero_if_reported(cache_creation),
        reasoning_output_tokens: None,
    }
}

/// The single assistant message of a response, and the `finish_reasons` list.
fn output_of(parts: Vec<Part>, stop_reason: Option<&str>, rec: &mut ResponseRecord) {
    let mapped = stop_reason.map(map_finish_reason).unwrap_or("");
    if !mapped.is_empty() {
        rec.finish_reasons.push(mapped.to_owned());
    }
    rec.output_messages.push(OutputMessage {
        role: "assistant".to_owned(),
        parts,
        name: None,
        finish_reason: mapped.to_owned(),
    });
}

/// Tool arguments: JSON values are kept; a string holding JSON is parsed, else kept as is.
fn tool_arguments(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| v.clone()),
        other => other.clone(),
    }
}

/// Accumulated `partial_json` of a streamed tool input: `""` → `{}` (or the input the
/// block started with), valid JSON → parsed, anything else → the raw string.
fn streamed_arguments(raw: String, initial: Option<Value>) -> Value {
    if raw.trim().is_empty() {
        return match initial {
            Some(v @ Value::Object(_)) => v,
            _ => Value::Object(Map::new()),
        };
    }
    match serde_json::from_str(&raw) {
        Ok(v) => v,
        Err(_) => Value::String(raw),
    }
}

// ---------------------------------------------------------------------------------------
// Typed field access on `serde_json::Value` (request and response bodies)
// ---------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------
// Content blocks → parts
// ---------------------------------------------------------------------------------------

/// An `image` / `document` block with a base64, URL or file source; `None` for any other
/// source (the caller keeps the block as a generic part).
fn media_part(modality: &str, block: &Obj) -> Option<Part> {
    let Some(Value::Object(source)) = block.get("source") else {
        return None;
    };
    let text = |key: &str| source.get(key).and_then(Value::as_str);
    match text("type")? {
        "base64" => Some(Part::Blob {
            mime_type: text("media_type").map(str::to_owned),
            modality: modality.to_owned(),
            content: text("data")?.to_owned(),
        }),
        "url" => Some(Part::Uri {
            mime_type: text("media_type").map(str::to_owned),
            modality: modality.to_owned(),
            uri: text("url")?.to_owned(),
        }),
        "file" => Some(Part::File {
            mime_type: text("media_type").map(str::to_owned),
            modality: modality.to_owned(),
            file_id: text("file_id")?.to_owned(),
        }),
        _ => None,
    }
}

/// One content block (request message, system block or response content) as a part.
/// `None` for skipped blocks (`redacted_thinking`) and for blocks too malformed to keep.
fn content_part(block: &Value, f: &mut Faults<'_>) -> Option<Part> {
    let Value::Object(b) = block else {
        f.push(FaultKind::UnexpectedShape);
        return None;
    };
    let Some(kind) = b.get("type").and_then(Value::as_str) else {
        f.push(FaultKind::UnexpectedShape);
        return None;
    };
    match kind {
        "text" => match b.get("text") {
            Some(Value::String(t)) => Some(Part::text(t.clone())),
            _ => {
                f.push(FaultKind::UnexpectedShape);
                None
            }
        },
        "thinking" => match b.get("thinking") {
            Some(Value::String(t)) => Some(Part::Reasoning { content: t.clone() }),
            _ => {
                f.push(FaultKind::UnexpectedShape);
                None
            }
        },
        "redacted_thinking" => None,
        "image" | "document" => {
            Some(media_part(kind, b).unwrap_or_else(|| Part::Generic(b.clone())))
        }
        "tool_use" => match get_str(b, "name", f) {
            Some(name) => Some(Part::ToolCall {
                id: get_str(b, "id", f).map(str::to_owned),
                name: name.to_owned(),
                arguments: b.get("input").filter(|v| !v.is_null()).map(tool_arguments),
            }),
            None => {
                f.push(FaultKind::UnexpectedShape);
                Some(Part::Generic(b.clone()))
            }
        },
        "tool_result" => Some(Part::ToolCallResponse {
            id: get_str(b, "tool_use_id", f).map(str::to_owned),
            response: b.get("content").cloned().unwrap_or(Value::Null),
        }),
        _ => Some(Part::Generic(b.clone())),
    }
}

/// `content` of a message or `system`: a string (one text part) or an array of blocks.
fn content_parts(content: Option<&Value>, f: &mut Faults<'_>) -> Vec<Part> {
    match content {
        Some(Value::String(s)) => vec![Part::text(s.clone())],
        Some(Value::Array(blocks)) => blocks.iter().filter_map(|b| content_part(b, f)).collect(),
        None | Some(Value::Null) => Vec::new(),
        Some(_) => {
            f.push(FaultKind::UnexpectedShape);
            Vec::new()
        }
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
    let content = m.get("content");
    if content.is_none_or(Value::is_null) {
        f.push(FaultKind::UnexpectedShape);
    }
    Some(ChatMessage {
        role: role.to_owned(),
        parts: content_parts(content, f),
        name: None,
    })
}

fn tool_definition(t: &Value, f: &mut Faults<'_>) -> Option<ToolDefinition> {
    let Value::Object(t) = t else {
        f.push(FaultKind::UnexpectedShape);
        return None;
    };
    let Some(name) = get_str(t, "name", f) else {
        f.push(FaultKind::UnexpectedShape);
        return None;
    };
    let kind = match get_str(t, "type", f) {
        Some(k) if k != "custom" => k.to_owned(),
        _ => "function".to_owned(),
    };
    Some(ToolDefinition {
        kind,
        name: name.to_owned(),
        description: get_str(t, "description", f).map(str::to_owned),
        parameters: t.get("input_schema").filter(|v| !v.is_null()).cloned(),
    })
}

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

/// Parses an Anthropic request body: [`Operation::Chat`] = Messages API,
/// [`Operation::TextCompletion`] = legacy `/v1/complete` (any other operation is parsed as
/// Messages).
///
/// Never fails: problems are pushed to `faults` (each kind once) and the record keeps what
/// could be read.
pub fn parse_request(op: Operation, body: &[u8], faults: &mut Vec<FaultKind>) -> RequestRecord {
    let mut f = Faults::new(faults);
    let mut rec = RequestRecord::default();
    let Some(obj) = parse_object(body, &mut f) else {
        return rec;
    };
    let f = &mut f;
    rec.model = get_str(&obj, "model", f).map(str::to_owned);
    rec.stream = get_bool(&obj, "stream", f).unwrap_or(false);
    let p = &mut rec.params;
    p.temperature = get_f64(&obj, "temperature", f);
    p.top_p = get_f64(&obj, "top_p", f);
    p.top_k = get_i64(&obj, "top_k", f);
    p.frequency_penalty = get_f64(&obj, "frequency_penalty", f);
    p.presence_penalty = get_f64(&obj, "presence_penalty", f);
    p.stop_sequences = get_str_list(&obj, "stop_sequences", f);

    if op == Operation::TextCompletion {
        p.max_tokens =
            get_i64(&obj, "max_tokens_to_sample", f).or_else(|| get_i64(&obj, "max_tokens", f));
        if let Some(prompt) = get_str(&obj, "prompt", f) {
            rec.input_messages.push(ChatMessage {
                role: "user".to_owned(),
                parts: vec![Part::text(prompt)],
                name: None,
            });
        }
        return rec;
    }

    p.max_tokens = get_i64(&obj, "max_tokens", f);
    let format = obj
        .get("output_format")
        .filter(|v| !v.is_null())
        .or_else(|| obj.get("output_config").and_then(|c| c.get("format")));
    if let Some(Value::Object(format)) = format
        && format.get("type").and_then(Value::as_str) == Some("json_schema")
    {
        match format.get("schema") {
            Some(schema) if !schema.is_null() => {
                p.structured_output_schema = serde_json::to_string(schema).ok();
                p.output_type = Some("json".to_owned());
            }
            _ => f.push(FaultKind::UnexpectedShape),
        }
    }

    rec.system_instructions = match obj.get("system") {
        Some(Value::String(s)) if s.is_empty() => Vec::new(),
        system => content_parts(system, f),
    };
    match obj.get("messages") {
        None | Some(Value::Null) => {}
        Some(Value::Array(msgs)) => {
            rec.input_messages = msgs.iter().filter_map(|m| chat_message(m, f)).collect();
        }
        Some(_) => f.push(FaultKind::UnexpectedShape),
    }
    match obj.get("tools") {
        None | Some(Value::Null) => {}
        Some(Value::Array(tools)) => {
            rec.tool_definitions = tools.iter().filter_map(|t| tool_definition(t, f)).collect();
        }
        Some(_) => f.push(FaultKind::UnexpectedShape),
    }
    rec
}

// ---------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------

fn usage_of(obj: &Obj, f: &mut Faults<'_>) -> Usage {
    match obj.get("usage") {
        Some(Value::Object(u)) => fold_usage(
            get_i64(u, "input_tokens", f),
            get_i64(u, "output_tokens", f),
            get_i64(u, "cache_read_input_tokens", f),
            get_i64(u, "cache_creation_input_tokens", f),
        ),
        None | Some(Value::Null) => Usage::default(),
        Some(_) => {
            f.push(FaultKind::UnexpectedShape);
            Usage::default()
        }
    }
}

/// Parses a complete (non-streamed, already decompressed) response body.
///
/// An error body (`{"type":"error","error":{"type":"overloaded_error",...}}`) yields a
/// record whose `error` carries the error type. Never fails: problems are pushed to
/// `faults` (each kind once) and the record keeps what could be read.
pub fn parse_response(op: Operation, body: &[u8], faults: &mut Vec<FaultKind>) -> ResponseRecord {
    let mut f = Faults::new(faults);
    let mut rec = ResponseRecord::default();
    let Some(obj) = parse_object(body, &mut f) else {
        return rec;
    };
    let f = &mut f;
    let ty = obj.get("type").and_then(Value::as_str);
    if ty == Some("error") || (ty.is_none() && obj.contains_key("error")) {
        match obj.get("error") {
            Some(Value::Object(e)) => match e.get("type").and_then(Value::as_str) {
                Some(t) => {
                    rec.error = Some(ProviderError {
                        error_type: t.to_owned(),
                    })
                }
                // No type: the HTTP status code stands in (the recorder's fallback).
                None => f.push(FaultKind::UnexpectedShape),
            },
            _ => f.push(FaultKind::UnexpectedShape),
        }
        return rec;
    }
    rec.id = get_str(&obj, "id", f).map(str::to_owned);
    rec.model = get_str(&obj, "model", f).map(str::to_owned);
    let stop_reason = get_str(&obj, "stop_reason", f);
    let (parts, has_output) = if op == Operation::TextCompletion {
        match get_str(&obj, "completion", f) {
            Some(c) => (vec![Part::text(c)], true),
            None => (Vec::new(), false),
        }
    } else {
        rec.usage = usage_of(&obj, f);
        let content = obj.get("content");
        let has = matches!(content, Some(Value::Array(_)));
        (content_parts(content, f), has)
    };
    if has_output || stop_reason.is_some() {
        output_of(parts, stop_reason, &mut rec);
    }
    rec
}

// ---------------------------------------------------------------------------------------
// Streams: wire structs
// ---------------------------------------------------------------------------------------

/// A lenient string field of a stream event (see [`WStr`]): a value of another type reads as
/// absent and is reported as `UnexpectedShape`, without losing the rest of the event.
type Str<'a> = WStr<'a>;

/// Every field any Anthropic stream event (Messages or legacy complete) carries that we use.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Str<'a>>,
    index: Option<WInt>,
    #[serde(borrow)]
    delta: Option<WObj<WireDelta<'a>>>,
    /// Only in `content_block_start` (once per block, so a `Value` is affordable).
    content_block: Option<Value>,
    #[serde(borrow)]
    message: Option<WObj<WireMessage<'a>>>,
    usage: Option<WObj<WireUsage>>,
    #[serde(borrow)]
    error: Option<WObj<WireError<'a>>>,
    // Legacy complete.
    #[serde(borrow)]
    completion: Option<Str<'a>>,
    #[serde(borrow)]
    stop_reason: Option<Str<'a>>,
    #[serde(borrow)]
    model: Option<Str<'a>>,
    #[serde(borrow)]
    id: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireDelta<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    text: Option<Str<'a>>,
    #[serde(borrow)]
    thinking: Option<Str<'a>>,
    #[serde(borrow)]
    partial_json: Option<Str<'a>>,
    /// `message_delta` only.
    #[serde(borrow)]
    stop_reason: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireMessage<'a> {
    #[serde(borrow)]
    id: Option<Str<'a>>,
    #[serde(borrow)]
    model: Option<Str<'a>>,
    usage: Option<WObj<WireUsage>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireUsage {
    input_tokens: Option<WInt>,
    output_tokens: Option<WInt>,
    cache_read_input_tokens: Option<WInt>,
    cache_creation_input_tokens: Option<WInt>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireError<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Str<'a>>,
}

// ---------------------------------------------------------------------------------------
// Streams: accumulator
// ---------------------------------------------------------------------------------------

/// One content block being accumulated.
#[derive(Debug)]
struct StreamBlock {
    /// The block's `index` on the wire.
    index: u64,
    kind: BlockKind,
}

#[derive(Debug)]
enum BlockKind {
    Text(String),
    Thinking(String),
    ToolUse {
        id: Option<String>,
        name: String,
        /// Concatenated `partial_json`.
        input: String,
        /// `input` of `content_block_start` (normally `{}`).
        initial: Option<Value>,
    },
    /// Server tool blocks and any other block type: kept as sent, plus streamed input.
    Other {
        block: Obj,
        input: String,
    },
    /// `redacted_thinking`: tracked (so its index is known) but not recorded.
    Skipped,
}

/// What a `content_block_delta` appends to.
#[derive(Debug, Clone, Copy)]
enum DeltaTarget {
    Text,
    Thinking,
    Input,
}

/// Accumulates an Anthropic SSE stream (Messages or legacy complete) into a
/// [`ResponseRecord`].
///
/// Feed every SSE event to [`push`](Self::push); [`finish`](Self::finish) returns the
/// record at any time (a stream dropped early yields the partial data). Memory is bounded:
/// at most [`MAX_STREAM_ENTRIES`] content blocks and [`MAX_STREAM_CONTENT_BYTES`] of text,
/// thinking and tool input are kept; past a cap a
/// [`FaultKind::StreamContentTruncated`] is reported once.
#[derive(Debug)]
pub struct StreamAccumulator {
    op: Operation,
    id: Option<String>,
    model: Option<String>,
    blocks: Vec<StreamBlock>,
    stop_reason: Option<String>,
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    cache_read_input_tokens: Option<i64>,
    cache_creation_input_tokens: Option<i64>,
    error: Option<ProviderError>,
    complete: bool,
    /// Bytes of content kept (text, thinking, tool input, generic blocks).
    content_bytes: usize,
    /// The content byte cap was hit: nothing more is appended.
    content_truncated: bool,
    /// The block cap was hit: later blocks (and their deltas) are ignored.
    entries_capped: bool,
    /// Bit set of the fault kinds already reported by this accumulator.
    reported: ReportedOnce,
}

impl StreamAccumulator {
    /// A fresh accumulator for `op` ([`Operation::TextCompletion`] = legacy complete
    /// stream, anything else = Messages stream).
    pub fn new(op: Operation) -> Self {
        StreamAccumulator {
            op,
            id: None,
            model: None,
            blocks: Vec::new(),
            stop_reason: None,
            input_tokens: None,
            output_tokens: None,
            cache_read_input_tokens: None,
            cache_creation_input_tokens: None,
            error: None,
            complete: false,
            content_bytes: 0,
            content_truncated: false,
            entries_capped: false,
            reported: ReportedOnce::default(),
        }
    }

    fn fault(&mut self, faults: &mut Vec<FaultKind>, kind: FaultKind) {
        self.reported.report(faults, kind);
    }

    /// Feeds one SSE event. Returns true when the event was an output chunk
    /// (`content_block_delta`; for legacy complete, each `completion` event).
    ///
    /// The event type comes from the JSON `type` field, else from the SSE `event:` name.
    /// Malformed events are reported (`InvalidJson`, `UnexpectedShape`), event types outside
    /// the documented set as `UnknownEvent`; neither stops the accumulation.
    pub fn push(&mut self, event: &SseEvent<'_>, faults: &mut Vec<FaultKind>) -> bool {
        let data: &str = &event.data;
        let mut wire: WireEvent<'_> = match serde_json::from_str(data) {
            Ok(w) => w,
            Err(e) => {
                self.fault(faults, json_error_kind(&e, data.as_bytes()));
                return false;
            }
        };
        let kind = self.str(wire.kind.take(), faults);
        let kind = match (kind.as_deref(), event.event) {
            (Some(k), _) => k,
            (None, Some(name)) => name,
            (None, None) => {
                self.fault(faults, FaultKind::UnexpectedShape);
                return false;
            }
        };
        if self.op == Operation::TextCompletion {
            self.push_legacy(kind, wire, faults)
        } else {
            self.push_messages(kind, wire, data.len(), faults)
        }
    }

    fn push_messages(
        &mut self,
        kind: &str,
        wire: WireEvent<'_>,
        data_len: usize,
        faults: &mut Vec<FaultKind>,
    ) -> bool {
        match kind {
            "content_block_delta" => {
                self.apply_delta(wire.index, wire.delta, faults);
                true
            }
            "message_start" => {
                match self.obj(wire.message, faults) {
                    Some(m) => {
                        if let Some(id) = self.str(m.id, faults) {
                            self.id = Some(id.into_owned());
                        }
                        if let Some(model) = self.str(m.model, faults) {
                            self.model = Some(model.into_owned());
                        }
                        if let Some(u) = self.obj(m.usage, faults) {
                            self.set_usage(u, false, faults);
                        }
                    }
                    None => self.fault(faults, FaultKind::UnexpectedShape),
                }
                false
            }
            "content_block_start" => {
                self.start_block(wire.index, wire.content_block, data_len, faults);
                false
            }
            "content_block_stop" | "ping" => false,
            "message_delta" => {
                let delta = self.obj(wire.delta, faults);
                let stop = delta.and_then(|d| d.stop_reason);
                if let Some(stop) = self.str(stop, faults) {
                    self.stop_reason = Some(stop.into_owned());
                }
                if let Some(u) = self.obj(wire.usage, faults) {
                    self.set_usage(u, true, faults);
                }
                false
            }
            "message_stop" => {
                self.complete = true;
                false
            }
            "error" => {
                self.set_error(wire.error, faults);
                false
            }
            _ => {
                self.fault(faults, FaultKind::UnknownEvent);
                false
            }
        }
    }

    fn push_legacy(
        &mut self,
        kind: &str,
        wire: WireEvent<'_>,
        faults: &mut Vec<FaultKind>,
    ) -> bool {
        match kind {
            "completion" => {
                if let Some(text) = self.str(wire.completion, faults) {
                    if self.blocks.is_empty() {
                        self.blocks.push(StreamBlock {
                            index: 0,
                            kind: BlockKind::Text(String::new()),
                        });
                    }
                    self.append(0, DeltaTarget::Text, &text, faults);
                }
                if let Some(model) = self.str(wire.model, faults) {
                    self.model = Some(model.into_owned());
                }
                if let Some(id) = self.str(wire.id, faults) {
                    self.id = Some(id.into_owned());
                }
                if let Some(stop) = self.str(wire.stop_reason, faults) {
                    self.stop_reason = Some(stop.into_owned());
                    self.complete = true;
                }
                true
            }
            "ping" => false,
            "error" => {
                self.set_error(wire.error, faults);
                false
            }
            _ => {
                self.fault(faults, FaultKind::UnknownEvent);
                false
            }
        }
    }

    /// Usage counts present in the event replace the ones seen before. From `message_delta`
    /// (`output_only`) only the output count is taken (it is cumulative): its input and cache
    /// counts (sent with server tools and compaction, where they cover every iteration) are
    /// not what OpenLLMetry reports, which keeps `message_start`'s (0.62.1
    /// `anthropic/streaming.py::_process_response_item` updates only `output_tokens` on
    /// `message_delta`).
    /// A count of the wrong type is reported and leaves the previous value.
    fn set_usage(&mut self, u: WireUsage, output_only: bool, faults: &mut Vec<FaultKind>) {
        if let Some(n) = self.int(u.output_tokens, faults) {
            self.output_tokens = Some(n);
        }
        if output_only {
            return;
        }
        if let Some(n) = self.int(u.input_tokens, faults) {
            self.input_tokens = Some(n);
        }
        if let Some(n) = self.int(u.cache_read_input_tokens, faults) {
            self.cache_read_input_tokens = Some(n);
        }
        if let Some(n) = self.int(u.cache_creation_input_tokens, faults) {
            self.cache_creation_input_tokens = Some(n);
        }
    }

    /// A lenient string field: a wrong type is reported once and reads as absent.
    fn str<'a>(
        &mut self,
        v: Option<WStr<'a>>,
        faults: &mut Vec<FaultKind>,
    ) -> Option<Cow<'a, str>> {
        let mut bad = false;
        let s = text(v, &mut bad);
        if bad {
            self.fault(faults, FaultKind::UnexpectedShape);
        }
        s
    }

    /// A lenient integer field: a wrong type is reported once and reads as absent.
    fn int(&mut self, v: Option<WInt>, faults: &mut Vec<FaultKind>) -> Option<i64> {
        let mut bad = false;
        let n = int(v, &mut bad);
        if bad {
            self.fault(faults, FaultKind::UnexpectedShape);
        }
        n
    }

    /// A lenient block index: a non-negative integer.
    fn index(&mut self, v: Option<WInt>, faults: &mut Vec<FaultKind>) -> Option<u64> {
        let n = self.int(v, faults)?;
        let u = u64::try_from(n).ok();
        if u.is_none() {
            self.fault(faults, FaultKind::UnexpectedShape);
        }
        u
    }

    /// A lenient nested object: another JSON type is reported once and reads as absent.
    fn obj<T>(&mut self, v: Option<WObj<T>>, faults: &mut Vec<FaultKind>) -> Option<T> {
        let mut bad = false;
        let o = obj(v, &mut bad);
        if bad {
            self.fault(faults, FaultKind::UnexpectedShape);
        }
        o
    }

    /// An `error` event ends the stream: the error is recorded and the stream is complete.
    fn set_error(&mut self, error: Option<WObj<WireError<'_>>>, faults: &mut Vec<FaultKind>) {
        let kind = self.obj(error, faults).and_then(|e| e.kind);
        let error_type = match self.str(kind, faults) {
            Some(t) => t.into_owned(),
            None => {
                self.fault(faults, FaultKind::UnexpectedShape);
                OTHER_ERROR.to_owned()
            }
        };
        self.error = Some(ProviderError { error_type });
        self.complete = true;
    }

    /// Position in `blocks` of the block with wire index `index`.
    fn position(&self, index: u64) -> Option<usize> {
        // Blocks normally arrive in index order, so `index` is usually the position.
        let direct = usize::try_from(index)
            .ok()
            .filter(|&i| self.blocks.get(i).is_some_and(|b| b.index == index));
        direct.or_else(|| self.blocks.iter().rposition(|b| b.index == index))
    }

    /// Content bytes that still fit under the cap.
    fn room(&self) -> usize {
        MAX_STREAM_CONTENT_BYTES.saturating_sub(self.content_bytes)
    }

    /// Reserves room for `len` bytes of content; false (and a fault) when it does not fit.
    fn reserve(&mut self, len: usize, faults: &mut Vec<FaultKind>) -> bool {
        if !self.content_truncated && len <= self.room() {
            self.content_bytes += len;
            true
        } else {
            self.content_truncated = true;
            self.fault(faults, FaultKind::StreamContentTruncated);
            false
        }
    }

    fn start_block(
        &mut self,
        index: Option<WInt>,
        block: Option<Value>,
        data_len: usize,
        faults: &mut Vec<FaultKind>,
    ) {
        let index = self.index(index, faults);
        let (Some(index), Some(Value::Object(mut block))) = (index, block) else {
            self.fault(faults, FaultKind::UnexpectedShape);
            return;
        };
        if self.position(index).is_some() {
            // A second start for the same index: keep the first.
            self.fault(faults, FaultKind::UnexpectedShape);
            return;
        }
        if self.blocks.len() >= MAX_STREAM_ENTRIES {
            self.entries_capped = true;
            self.fault(faults, FaultKind::StreamContentTruncated);
            return;
        }
        let take_str = |block: &mut Obj, key: &str| match block.remove(key) {
            Some(Value::String(s)) => s,
            _ => String::new(),
        };
        let ty = block.get("type").and_then(Value::as_str).map(str::to_owned);
        let kind = match ty.as_deref() {
            Some("text") => {
                let text = take_str(&mut block, "text");
                BlockKind::Text(self.initial_text(text, faults))
            }
            Some("thinking") => {
                let text = take_str(&mut block, "thinking");
                BlockKind::Thinking(self.initial_text(text, faults))
            }
            Some("redacted_thinking") => BlockKind::Skipped,
            Some("tool_use") if block.get("name").is_some_and(Value::is_string) => {
                let id = match block.remove("id") {
                    Some(Value::String(s)) => Some(s),
                    _ => None,
                };
                let name = take_str(&mut block, "name");
                let mut initial = block.remove("input");
                let non_empty = match &initial {
                    Some(Value::Object(m)) => !m.is_empty(),
                    Some(Value::Null) | None => false,
                    Some(_) => true,
                };
                if non_empty && !self.reserve(data_len, faults) {
                    initial = None;
                }
                BlockKind::ToolUse {
                    id,
                    name,
                    input: String::new(),
                    initial,
                }
            }
            Some(kind) => {
                if kind == "tool_use" {
                    // A tool_use block without a name: kept as sent.
                    self.fault(faults, FaultKind::UnexpectedShape);
                }
                if !self.reserve(data_len, faults) {
                    let mut min = Map::new();
                    min.insert("type".to_owned(), Value::String(kind.to_owned()));
                    block = min;
                }
                BlockKind::Other {
                    block,
                    input: String::new(),
                }
            }
            None => {
                self.fault(faults, FaultKind::UnexpectedShape);
                BlockKind::Skipped
            }
        };
        self.blocks.push(StreamBlock { index, kind });
    }

    /// The text a block starts with (normally empty), cut to the content cap.
    fn initial_text(&mut self, mut text: String, faults: &mut Vec<FaultKind>) -> String {
        if text.is_empty() {
            return text;
        }
        let room = if self.content_truncated {
            0
        } else {
            self.room()
        };
        if text.len() > room {
            text.truncate(floor_char_boundary(&text, room));
            self.content_truncated = true;
            self.fault(faults, FaultKind::StreamContentTruncated);
        }
        self.content_bytes += text.len();
        text
    }

    fn apply_delta(
        &mut self,
        index: Option<WInt>,
        delta: Option<WObj<WireDelta<'_>>>,
        faults: &mut Vec<FaultKind>,
    ) {
        let index = self.index(index, faults);
        let delta = self.obj(delta, faults);
        let (Some(index), Some(delta)) = (index, delta) else {
            self.fault(faults, FaultKind::UnexpectedShape);
            return;
        };
        let delta_kind = self.str(delta.kind, faults);
        let (target, piece) = match delta_kind.as_deref() {
            Some("text_delta") => (DeltaTarget::Text, delta.text),
            Some("thinking_delta") => (DeltaTarget::Thinking, delta.thinking),
            Some("input_json_delta") => (DeltaTarget::Input, delta.partial_json),
            // Signatures and citations are not recorded.
            Some("signature_delta" | "citations_delta") => return,
            Some(_) => {
                self.fault(faults, FaultKind::UnknownEvent);
                return;
            }
            None => {
                self.fault(faults, FaultKind::UnexpectedShape);
                return;
            }
        };
        let Some(piece) = self.str(piece, faults) else {
            self.fault(faults, FaultKind::UnexpectedShape);
            return;
        };
        match self.position(index) {
            Some(pos) => self.append(pos, target, &piece, faults),
            // A delta for a block never started (or dropped at the entry cap): ignored.
            None if self.entries_capped => {}
            None => self.fault(faults, FaultKind::UnexpectedShape),
        }
    }

    /// Appends `piece` to the block at `pos`, within the content cap.
    fn append(
        &mut self,
        pos: usize,
        target: DeltaTarget,
        piece: &str,
        faults: &mut Vec<FaultKind>,
    ) {
        if self.content_truncated || piece.is_empty() {
            return;
        }
        let dst = match (target, self.blocks.get_mut(pos).map(|b| &mut b.kind)) {
            (DeltaTarget::Text, Some(BlockKind::Text(s)))
            | (DeltaTarget::Thinking, Some(BlockKind::Thinking(s)))
            | (DeltaTarget::Input, Some(BlockKind::ToolUse { input: s, .. }))
            | (DeltaTarget::Input, Some(BlockKind::Other { input: s, .. })) => s,
            (_, Some(BlockKind::Skipped)) => return,
            _ => {
                self.fault(faults, FaultKind::UnexpectedShape);
                return;
            }
        };
        let room = MAX_STREAM_CONTENT_BYTES.saturating_sub(self.content_bytes);
        if piece.len() <= room {
            dst.push_str(piece);
            self.content_bytes += piece.len();
        } else {
            let cut = floor_char_boundary(piece, room);
            dst.push_str(piece.get(..cut).unwrap_or(""));
            self.content_bytes += cut;
            self.content_truncated = true;
            self.fault(faults, FaultKind::StreamContentTruncated);
        }
    }

    /// The response model seen so far, if any.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// True once the stream's terminal event was seen: `message_stop` (legacy complete: an
    /// event with a non-null `stop_reason`), or an `error` event.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// The accumulated record, shaped like [`parse_response`]'s. Works at any time: a stream
    /// dropped early yields the partial data (a partial tool input that is not valid JSON
    /// is kept as a string).
    pub fn finish(self) -> ResponseRecord {
        let mut rec = ResponseRecord {
            id: self.id,
            model: self.model,
            error: self.error,
            ..ResponseRecord::default()
        };
        if self.op != Operation::TextCompletion {
            rec.usage = fold_usage(
                self.input_tokens,
                self.output_tokens,
                self.cache_read_input_tokens,
                self.cache_creation_input_tokens,
            );
        }
        let mut blocks = self.blocks;
        if blocks.is_empty() && self.stop_reason.is_none() {
            return rec;
        }
        blocks.sort_by_key(|b| b.index);
        let parts = blocks
            .into_iter()
            .filter_map(|b| match b.kind {
                BlockKind::Text(content) => Some(Part::Text { content }),
                BlockKind::Thinking(content) => Some(Part::Reasoning { content }),
                BlockKind::ToolUse {
                    id,
                    name,
                    input,
                    initial,
                } => Some(Part::ToolCall {
                    id,
                    name,
                    arguments: Some(streamed_arguments(input, initial)),
                }),
                BlockKind::Other { mut block, input } => {
                    if !input.is_empty() {
                        block.insert("input".to_owned(), streamed_arguments(input, None));
                    }
                    Some(Part::Generic(block))
                }
                BlockKind::Skipped => None,
            })
            .collect();
        output_of(parts, self.stop_reason.as_deref(), &mut rec);
        rec
    }
}
