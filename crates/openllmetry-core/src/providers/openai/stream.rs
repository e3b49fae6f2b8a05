//! Stream accumulation (chat completions, legacy completions, Responses API).

use openllmetry_semconv::message::{OutputMessage, Part};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

use crate::json::ReportedOnce;

use super::response::responses_body;
use super::{
    API_ERROR, Faults, arguments_from, error_type_of, json_error_kind, map_finish_reason,
    provider_error, refusal_part, with_total,
};
use crate::providers::common::{WInt, WStr, floor_char_boundary, int, text};
use crate::record::{MAX_STREAM_CONTENT_BYTES, MAX_STREAM_ENTRIES, ProviderError, Usage};
use crate::{FaultKind, Operation, ResponseRecord, SseEvent};

// ---------------------------------------------------------------------------------------
// Lenient wire scalars (shared ones in `providers::common`)
// ---------------------------------------------------------------------------------------

/// An index (`choices[].index`, `tool_calls[].index`, `output_index`): a non-negative integer.
fn index(v: Option<WInt>, bad: &mut bool) -> Option<u64> {
    let i = int(v, bad)?;
    let u = u64::try_from(i).ok();
    if u.is_none() {
        *bad = true;
    }
    u
}

/// Sets `slot` to a non-empty `v` unless it already holds a value (first one wins).
fn set_first(slot: &mut Option<String>, v: Option<WStr<'_>>, bad: &mut bool) {
    if let Some(s) = text(v, bad)
        && slot.is_none()
        && !s.is_empty()
    {
        *slot = Some(s.into_owned());
    }
}

/// Sets `slot` to a non-empty `v` (last one wins), without reallocating an equal value.
fn set_last(slot: &mut Option<String>, v: Option<WStr<'_>>, bad: &mut bool) {
    if let Some(s) = text(v, bad)
        && !s.is_empty()
        && slot.as_deref() != Some(&*s)
    {
        *slot = Some(s.into_owned());
    }
}

// ---------------------------------------------------------------------------------------
// Chat / legacy completions chunks
// ---------------------------------------------------------------------------------------

/// One `chat.completion.chunk` / `text_completion` chunk: only the fields we use.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Chunk<'a> {
    #[serde(borrow)]
    id: Option<WStr<'a>>,
    #[serde(borrow)]
    model: Option<WStr<'a>>,
    #[serde(borrow)]
    system_fingerprint: Option<WStr<'a>>,
    #[serde(borrow)]
    service_tier: Option<WStr<'a>>,
    #[serde(borrow)]
    choices: Option<Vec<ChunkChoice<'a>>>,
    /// Boxed (like the other rare fields) to keep the per-chunk structs small: moving them
    /// around is a large part of the parse cost.
    usage: Option<Box<WireUsage>>,
    /// Only in error chunks (rare, so a `Value` is affordable).
    error: Option<Value>,
    /// Groq: the last chunk carries the usage under `x_groq.usage` only.
    x_groq: Option<Box<XGroq>>,
}

/// Groq's `x_groq` chunk extension.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct XGroq {
    usage: Option<Box<WireUsage>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ChunkChoice<'a> {
    index: Option<WInt>,
    #[serde(borrow)]
    delta: Option<Delta<'a>>,
    /// Legacy completions.
    #[serde(borrow)]
    text: Option<WStr<'a>>,
    #[serde(borrow)]
    finish_reason: Option<WStr<'a>>,
    /// Some OpenAI-compatible servers put the usage here.
    usage: Option<Box<WireUsage>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Delta<'a> {
    #[serde(borrow)]
    role: Option<WStr<'a>>,
    #[serde(borrow)]
    content: Option<WStr<'a>>,
    #[serde(borrow)]
    reasoning_content: Option<WStr<'a>>,
    #[serde(borrow)]
    reasoning: Option<WStr<'a>>,
    #[serde(borrow)]
    refusal: Option<WStr<'a>>,
    #[serde(borrow)]
    tool_calls: Option<Vec<ToolCallDelta<'a>>>,
    #[serde(borrow)]
    function_call: Option<Box<FunctionDelta<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ToolCallDelta<'a> {
    index: Option<WInt>,
    #[serde(borrow)]
    id: Option<WStr<'a>>,
    #[serde(borrow)]
    function: Option<FunctionDelta<'a>>,
    /// `type: "custom"` tool calls: `{name, input}`.
    #[serde(borrow)]
    custom: Option<Box<FunctionDelta<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FunctionDelta<'a> {
    #[serde(borrow)]
    name: Option<WStr<'a>>,
    #[serde(borrow)]
    arguments: Option<WStr<'a>>,
    #[serde(borrow)]
    input: Option<WStr<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireUsage {
    prompt_tokens: Option<WInt>,
    completion_tokens: Option<WInt>,
    total_tokens: Option<WInt>,
    prompt_tokens_details: Option<WireDetails>,
    completion_tokens_details: Option<WireDetails>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireDetails {
    cached_tokens: Option<WInt>,
    /// OpenRouter: input tokens written to the prompt cache.
    cache_write_tokens: Option<WInt>,
    reasoning_tokens: Option<WInt>,
}

// ---------------------------------------------------------------------------------------
// Responses API events
// ---------------------------------------------------------------------------------------

/// One Responses API stream event: only the fields we use.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ResponsesEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<WStr<'a>>,
    #[serde(borrow)]
    delta: Option<WStr<'a>>,
    output_index: Option<WInt>,
    summary_index: Option<WInt>,
    /// `response.output_item.added` / `.done` only.
    item: Option<Value>,
    /// Lifecycle events (`response.created`, `response.completed`, ...) only.
    response: Option<Value>,
    /// `error` events.
    code: Option<Value>,
    error: Option<Value>,
}

// ---------------------------------------------------------------------------------------
// Accumulated state
// ---------------------------------------------------------------------------------------

/// The content byte budget of one stream.
#[derive(Debug, Default)]
struct Budget {
    used: usize,
    /// The cap was hit: nothing more is appended.
    truncated: bool,
}

impl Budget {
    /// Appends as much of `piece` as fits under [`MAX_STREAM_CONTENT_BYTES`].
    fn append(&mut self, dst: &mut String, piece: &str) {
        if self.truncated || piece.is_empty() {
            return;
        }
        let room = MAX_STREAM_CONTENT_BYTES.saturating_sub(self.used);
        if piece.len() <= room {
            dst.push_str(piece);
            self.used += piece.len();
        } else {
            let cut = floor_char_boundary(piece, room);
            dst.push_str(piece.get(..cut).unwrap_or(""));
            self.used += cut;
            self.truncated = true;
        }
    }

    /// Appends a lenient string field.
    fn append_field(&mut self, dst: &mut String, v: Option<WStr<'_>>, bad: &mut bool) {
        if let Some(s) = text(v, bad) {
            self.append(dst, &s);
        }
    }
}

/// One chat choice (or legacy completion choice) being accumulated.
#[derive(Debug)]
struct ChoiceAcc {
    index: u64,
    role: Option<String>,
    text: String,
    reasoning: String,
    refusal: String,
    tool_calls: Vec<ToolAcc>,
    /// Legacy `function_call`.
    function_call: Option<ToolAcc>,
    finish_reason: Option<String>,
}

impl ChoiceAcc {
    fn new(index: u64) -> Self {
        ChoiceAcc {
            index,
            role: None,
            text: String::new(),
            reasoning: String::new(),
            refusal: String::new(),
            tool_calls: Vec::new(),
            function_call: None,
            finish_reason: None,
        }
    }
}

/// One tool call being accumulated.
#[derive(Debug, Default)]
struct ToolAcc {
    index: u64,
    id: Option<String>,
    name: Option<String>,
    arguments: String,
}

impl ToolAcc {
    fn into_part(self) -> Part {
        Part::ToolCall {
            id: self.id,
            name: self.name.unwrap_or_default(),
            arguments: Some(arguments_from(self.arguments)),
        }
    }
}

/// What a Responses output item holds.
#[derive(Debug)]
enum ItemKind {
    Message { text: String, refusal: String },
    Reasoning { text: String, summary: Option<i64> },
    Call(ToolAcc),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemTag {
    Message,
    Reasoning,
    Call,
}

impl ItemKind {
    fn new(tag: ItemTag) -> Self {
        match tag {
            ItemTag::Message => ItemKind::Message {
                text: String::new(),
                refusal: String::new(),
            },
            ItemTag::Reasoning => ItemKind::Reasoning {
                text: String::new(),
                summary: None,
            },
            ItemTag::Call => ItemKind::Call(ToolAcc::default()),
        }
    }

    fn tag(&self) -> ItemTag {
        match self {
            ItemKind::Message { .. } => ItemTag::Message,
            ItemKind::Reasoning { .. } => ItemTag::Reasoning,
            ItemKind::Call(_) => ItemTag::Call,
        }
    }
}

/// One Responses output item being accumulated.
#[derive(Debug)]
struct ItemAcc {
    output_index: u64,
    kind: ItemKind,
}

/// Accumulates an OpenAI SSE stream into a [`ResponseRecord`]: chat completions chunks,
/// legacy completions chunks, or Responses API events (chosen by the [`Operation`]).
///
/// Feed every SSE event to [`push`](Self::push); [`finish`](Self::finish) returns the record
/// at any time (a stream dropped early yields the partial data). Memory is bounded: at most
/// [`MAX_STREAM_ENTRIES`] choices (Responses: output items) and [`MAX_STREAM_ENTRIES`] tool
/// calls, and [`MAX_STREAM_CONTENT_BYTES`] of text, reasoning, refusal and tool arguments are
/// kept; past a cap a [`FaultKind::StreamContentTruncated`] is reported once. Every fault
/// kind is reported at most once per stream.
///
/// ```
/// use openllmetry_core::{Operation, SseEvent, openai::StreamAccumulator};
/// let mut acc = StreamAccumulator::new(Operation::Chat);
/// let mut faults = Vec::new();
/// for data in [
///     r#"{"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}"#,
///     r#"{"id":"c1","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}"#,
///     "[DONE]",
/// ] {
///     acc.push(&SseEvent::data(data), &mut faults);
/// }
/// assert!(acc.is_complete());
/// let rec = acc.finish();
/// assert_eq!(rec.finish_reasons, ["stop"]);
/// assert_eq!(rec.output_messages[0].parts, [openllmetry_semconv::message::Part::text("Hello")]);
/// ```
#[derive(Debug)]
pub struct StreamAccumulator {
    op: Operation,
    id: Option<String>,
    model: Option<String>,
    system_fingerprint: Option<String>,
    service_tier: Option<String>,
    usage: Usage,
    error: Option<ProviderError>,
    complete: bool,
    budget: Budget,
    /// The entry cap was hit: later choices, items and tool calls are ignored.
    entries_capped: bool,
    /// Bit set of the fault kinds already reported.
    reported: ReportedOnce,
    /// Chat / legacy completions: choices, in order of first appearance.
    choices: Vec<ChoiceAcc>,
    /// Tool calls tracked across all choices.
    tool_call_count: usize,
    /// Responses: output items, in order of first appearance.
    items: Vec<ItemAcc>,
    /// Responses: the record parsed from the terminal event's `response` object.
    final_record: Option<ResponseRecord>,
}

impl StreamAccumulator {
    /// A fresh accumulator for `op`: [`Operation::Responses`] reads Responses API events,
    /// any other operation reads chat / legacy completions chunks.
    pub fn new(op: Operation) -> Self {
        StreamAccumulator {
            op,
            id: None,
            model: None,
            system_fingerprint: None,
            service_tier: None,
            usage: Usage::default(),
            error: None,
            complete: false,
            budget: Budget::default(),
            entries_capped: false,
            reported: ReportedOnce::default(),
            choices: Vec::new(),
            tool_call_count: 0,
            items: Vec::new(),
            final_record: None,
        }
    }

    fn fault(&mut self, faults: &mut Vec<FaultKind>, kind: FaultKind) {
        self.reported.report(faults, kind);
    }

    /// Feeds one SSE event. Returns true when the event was an output chunk (chat and
    /// legacy completions: every successfully parsed JSON chunk except error chunks;
    /// Responses: the `*.delta` events). `data: [DONE]` returns false and marks the stream
    /// complete.
    ///
    /// Malformed events are reported (`InvalidJson` for data that is not JSON,
    /// `UnexpectedShape` for JSON of the wrong shape) and skipped; a field of the wrong type
    /// is reported and ignored while the rest of its chunk is used. Unknown Responses event
    /// types are ignored silently.
    pub fn push(&mut self, event: &SseEvent<'_>, faults: &mut Vec<FaultKind>) -> bool {
        let data = event.data.trim();
        if data == "[DONE]" {
            self.complete = true;
            return false;
        }
        if data.is_empty() {
            return false;
        }
        if !data.starts_with('{') {
            // Every chunk and event is an object (derived structs would accept arrays).
            let kind = if serde_json::from_str::<IgnoredAny>(data).is_ok() {
                FaultKind::UnexpectedShape
            } else {
                FaultKind::InvalidJson
            };
            self.fault(faults, kind);
            return false;
        }
        let mut bad = false;
        let chunk = match self.op {
            Operation::Responses => self.push_responses(event.event, data, &mut bad, faults),
            _ => self.push_chunk(event.event, data, &mut bad, faults),
        };
        if bad {
            self.fault(faults, FaultKind::UnexpectedShape);
        }
        if self.budget.truncated || self.entries_capped {
            self.fault(faults, FaultKind::StreamContentTruncated);
        }
        chunk
    }

    // -----------------------------------------------------------------------------------
    // Chat / legacy completions
    // -----------------------------------------------------------------------------------

    fn push_chunk(
        &mut self,
        event_name: Option<&str>,
        data: &str,
        bad: &mut bool,
        faults: &mut Vec<FaultKind>,
    ) -> bool {
        let mut chunk: Chunk<'_> = match serde_json::from_str(data) {
            Ok(c) => c,
            Err(e) => {
                self.fault(faults, json_error_kind(&e, data.as_bytes()));
                return false;
            }
        };
        let error = chunk.error.take().filter(|e| !e.is_null());
        if error.is_some() || event_name == Some("error") {
            // A chunk may carry the error together with `choices` and `usage`: keep those.
            self.apply_chunk(chunk, bad);
            self.error = match error {
                Some(e) => provider_error(Some(&e)),
                // `event: error` whose data is the error object itself.
                None => Some(match serde_json::from_str::<Value>(data) {
                    Ok(Value::Object(o)) => ProviderError {
                        error_type: error_type_of(&o),
                    },
                    _ => ProviderError {
                        error_type: API_ERROR.to_owned(),
                    },
                }),
            };
            self.complete = true;
            return false;
        }
        self.apply_chunk(chunk, bad);
        true
    }

    /// Ids, usage (top level, Groq's `x_groq.usage`, or the first choice's) and choices of
    /// a parsed chunk.
    fn apply_chunk(&mut self, chunk: Chunk<'_>, bad: &mut bool) {
        set_first(&mut self.id, chunk.id, bad);
        set_first(&mut self.model, chunk.model, bad);
        set_first(&mut self.system_fingerprint, chunk.system_fingerprint, bad);
        set_first(&mut self.service_tier, chunk.service_tier, bad);
        let mut choices = chunk.choices.unwrap_or_default();
        let usage = chunk
            .usage
            .or_else(|| chunk.x_groq.and_then(|x| x.usage))
            .or_else(|| choices.first_mut().and_then(|c| c.usage.take()));
        if let Some(u) = usage {
            self.set_chat_usage(&u, bad);
        }
        for c in choices {
            self.apply_choice(c, bad);
        }
    }

    /// Counts present in `u` replace the ones seen before.
    fn set_chat_usage(&mut self, u: &WireUsage, bad: &mut bool) {
        let mut set = |slot: &mut Option<i64>, v: Option<WInt>| {
            if let Some(n) = int(v, bad) {
                *slot = Some(n);
            }
        };
        set(&mut self.usage.input_tokens, u.prompt_tokens);
        set(&mut self.usage.output_tokens, u.completion_tokens);
        set(&mut self.usage.total_tokens, u.total_tokens);
        if let Some(d) = &u.prompt_tokens_details {
            set(&mut self.usage.cache_read_input_tokens, d.cached_tokens);
            set(
                &mut self.usage.cache_creation_input_tokens,
                d.cache_write_tokens,
            );
        }
        if let Some(d) = &u.completion_tokens_details {
            set(&mut self.usage.reasoning_output_tokens, d.reasoning_tokens);
        }
    }

    /// Position in `choices` of the choice with wire index `index`, created if new (`None`
    /// past the entry cap).
    fn choice_pos(&mut self, index: u64) -> Option<usize> {
        // Choices normally arrive in index order, so `index` is usually the position.
        if let Ok(i) = usize::try_from(index)
            && self.choices.get(i).is_some_and(|c| c.index == index)
        {
            return Some(i);
        }
        if let Some(p) = self.choices.iter().position(|c| c.index == index) {
            return Some(p);
        }
        if self.choices.len() >= MAX_STREAM_ENTRIES {
            self.entries_capped = true;
            return None;
        }
        self.choices.push(ChoiceAcc::new(index));
        Some(self.choices.len() - 1)
    }

    fn apply_choice(&mut self, c: ChunkChoice<'_>, bad: &mut bool) {
        let idx = match c.index {
            None => 0,
            v => match index(v, bad) {
                Some(i) => i,
                None => return,
            },
        };
        let Some(pos) = self.choice_pos(idx) else {
            return;
        };
        let Some(choice) = self.choices.get_mut(pos) else {
            return;
        };
        let budget = &mut self.budget;
        budget.append_field(&mut choice.text, c.text, bad);
        if let Some(d) = c.delta {
            set_last(&mut choice.role, d.role, bad);
            budget.append_field(&mut choice.text, d.content, bad);
            // Providers send one or the other; never both.
            let reasoning = match d.reasoning_content {
                Some(r) => Some(r),
                None => d.reasoning,
            };
            budget.append_field(&mut choice.reasoning, reasoning, bad);
            budget.append_field(&mut choice.refusal, d.refusal, bad);
            for call in d.tool_calls.unwrap_or_default() {
                let position = tool_call_pos(
                    &mut choice.tool_calls,
                    &call,
                    &mut self.tool_call_count,
                    &mut self.entries_capped,
                    bad,
                );
                let Some(acc) = position.and_then(|p| choice.tool_calls.get_mut(p)) else {
                    continue;
                };
                set_last(&mut acc.id, call.id, bad);
                if let Some(fun) = call.function.or(call.custom.map(|c| *c)) {
                    set_last(&mut acc.name, fun.name, bad);
                    let piece = match fun.arguments {
                        Some(a) => Some(a),
                        None => fun.input,
                    };
                    budget.append_field(&mut acc.arguments, piece, bad);
                }
            }
            if let Some(fun) = d.function_call {
                let acc = choice.function_call.get_or_insert_with(ToolAcc::default);
                set_last(&mut acc.name, fun.name, bad);
                budget.append_field(&mut acc.arguments, fun.arguments, bad);
            }
        }
        set_last(&mut choice.finish_reason, c.finish_reason, bad);
    }

    // -----------------------------------------------------------------------------------
    // Responses API
    // -----------------------------------------------------------------------------------

    fn push_responses(
        &mut self,
        event_name: Option<&str>,
        data: &str,
        bad: &mut bool,
        faults: &mut Vec<FaultKind>,
    ) -> bool {
        let mut ev: ResponsesEvent<'_> = match serde_json::from_str(data) {
            Ok(e) => e,
            Err(e) => {
                self.fault(faults, json_error_kind(&e, data.as_bytes()));
                return false;
            }
        };
        let kind = text(ev.kind.take(), bad);
        let kind: &str = match (&kind, event_name) {
            (Some(k), _) => k,
            (None, Some(name)) => name,
            (None, None) => {
                *bad = true;
                return false;
            }
        };
        match kind {
            "response.output_text.delta" => {
                if let Some((ItemKind::Message { text: t, .. }, budget)) =
                    self.item(ev.output_index, ItemTag::Message, bad)
                {
                    budget.append_field(t, ev.delta, bad);
                }
            }
            "response.refusal.delta" => {
                if let Some((ItemKind::Message { refusal, .. }, budget)) =
                    self.item(ev.output_index, ItemTag::Message, bad)
                {
                    budget.append_field(refusal, ev.delta, bad);
                }
            }
            "response.reasoning_summary_text.delta" => {
                let part = int(ev.summary_index, bad);
                if let Some((ItemKind::Reasoning { text: t, summary }, budget)) =
                    self.item(ev.output_index, ItemTag::Reasoning, bad)
                {
                    // Summary parts are joined with "\n", as in a complete response.
                    if part.is_some() && *summary != part {
                        if summary.is_some() && !t.is_empty() {
                            budget.append(t, "\n");
                        }
                        *summary = part;
                    }
                    budget.append_field(t, ev.delta, bad);
                }
            }
            "response.function_call_arguments.delta" | "response.custom_tool_call_input.delta" => {
                if let Some((ItemKind::Call(call), budget)) =
                    self.item(ev.output_index, ItemTag::Call, bad)
                {
                    budget.append_field(&mut call.arguments, ev.delta, bad);
                }
            }
            "response.output_item.added" | "response.output_item.done" => {
                self.output_item(ev.output_index, ev.item.take(), bad);
            }
            "response.created" | "response.in_progress" | "response.queued" => {
                if let Some(Value::Object(r)) = &ev.response {
                    let take = |slot: &mut Option<String>, key: &str| {
                        if slot.is_none()
                            && let Some(Value::String(s)) = r.get(key)
                            && !s.is_empty()
                        {
                            *slot = Some(s.clone());
                        }
                    };
                    take(&mut self.id, "id");
                    take(&mut self.model, "model");
                    take(&mut self.service_tier, "service_tier");
                } else {
                    *bad = true;
                }
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                self.complete = true;
                if let Some(Value::Object(r)) = &ev.response {
                    let mut own = Vec::new();
                    let mut rec = ResponseRecord::default();
                    responses_body(r, &mut Faults::new(&mut own), &mut rec);
                    for k in own {
                        self.fault(faults, k);
                    }
                    self.final_record = Some(rec);
                } else {
                    *bad = true;
                }
            }
            "error" => {
                let nested = ev.error.take().filter(|e| !e.is_null());
                let error_type = match (nested, ev.code.take()) {
                    (Some(Value::Object(e)), _) => error_type_of(&e),
                    (_, Some(Value::String(c))) if !c.is_empty() => c,
                    (_, Some(Value::Number(n))) => n.to_string(),
                    _ => API_ERROR.to_owned(),
                };
                self.error = Some(ProviderError { error_type });
            }
            // The Responses API has many more event types; none is needed here.
            _ => {}
        }
        kind.ends_with(".delta")
    }

    /// The item at `output_index` (created if new) and the content budget, if the item is of
    /// kind `tag`. Without an index: the last item when it is of kind `tag`, else a new one.
    fn item(
        &mut self,
        output_index: Option<WInt>,
        tag: ItemTag,
        bad: &mut bool,
    ) -> Option<(&mut ItemKind, &mut Budget)> {
        let found = match output_index {
            Some(_) => {
                let i = index(output_index, bad)?;
                self.items
                    .iter()
                    .rposition(|it| it.output_index == i)
                    .ok_or(i)
            }
            None => match self.items.last() {
                Some(last) if last.kind.tag() == tag => Ok(self.items.len() - 1),
                _ => Err(self
                    .items
                    .iter()
                    .map(|it| it.output_index.saturating_add(1))
                    .max()
                    .unwrap_or(0)),
            },
        };
        let pos = match found {
            Ok(p) => p,
            Err(new_index) => {
                if self.items.len() >= MAX_STREAM_ENTRIES {
                    self.entries_capped = true;
                    return None;
                }
                self.items.push(ItemAcc {
                    output_index: new_index,
                    kind: ItemKind::new(tag),
                });
                self.items.len() - 1
            }
        };
        let item = self.items.get_mut(pos)?;
        if item.kind.tag() != tag {
            // E.g. text deltas for a function-call item.
            *bad = true;
            return None;
        }
        Some((&mut item.kind, &mut self.budget))
    }

    /// `response.output_item.added` / `.done`: creates the item, records a call's id and
    /// name, and fills in content the deltas did not carry (only when they carried none).
    fn output_item(&mut self, output_index: Option<WInt>, item: Option<Value>, bad: &mut bool) {
        let Some(Value::Object(item)) = item else {
            *bad = true;
            return;
        };
        let tag = match item.get("type").and_then(Value::as_str) {
            Some("message") => ItemTag::Message,
            Some("reasoning") => ItemTag::Reasoning,
            Some("function_call" | "custom_tool_call") => ItemTag::Call,
            // Built-in tool calls and other items are not recorded.
            _ => return,
        };
        let non_empty = |key: &str| {
            item.get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let carried = match tag {
            ItemTag::Message => joined_texts(&item, "content", Some("output_text"), ""),
            ItemTag::Reasoning => joined_texts(&item, "summary", None, "\n"),
            ItemTag::Call => non_empty("arguments")
                .or_else(|| non_empty("input"))
                .unwrap_or_default(),
        };
        let call_id = non_empty("call_id");
        let name = non_empty("name");
        let Some((kind, budget)) = self.item(output_index, tag, bad) else {
            return;
        };
        let dst = match kind {
            ItemKind::Message { text, .. } | ItemKind::Reasoning { text, .. } => text,
            ItemKind::Call(call) => {
                if call_id.is_some() {
                    call.id = call_id;
                }
                if name.is_some() {
                    call.name = name;
                }
                &mut call.arguments
            }
        };
        if dst.is_empty() {
            budget.append(dst, &carried);
        }
    }

    // -----------------------------------------------------------------------------------
    // Results
    // -----------------------------------------------------------------------------------

    /// The response model seen so far (the first non-empty `model`), if any.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// True once the stream's terminal event was seen: `data: [DONE]`, an error chunk
    /// (chat and legacy completions), or `response.completed` / `response.incomplete` /
    /// `response.failed` (Responses API).
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// The accumulated record, shaped like [`parse_response`](super::parse_response)'s.
    /// Works at any time: a stream dropped early yields the partial data (partial tool
    /// arguments that are not valid JSON are kept as a string).
    ///
    /// For the Responses API the `response` object of the terminal event is authoritative:
    /// when one was seen it is the record (the id, model and error seen earlier fill its
    /// gaps).
    pub fn finish(self) -> ResponseRecord {
        if self.op == Operation::Responses {
            return self.finish_responses();
        }
        let mut rec = ResponseRecord {
            id: self.id,
            model: self.model,
            system_fingerprint: self.system_fingerprint,
            service_tier: self.service_tier,
            usage: with_total(self.usage),
            error: self.error,
            ..ResponseRecord::default()
        };
        let mut choices = self.choices;
        choices.sort_by_key(|c| c.index);
        for c in choices {
            let finish = c
                .finish_reason
                .as_deref()
                .map(map_finish_reason)
                .unwrap_or("");
            let mut parts = Vec::new();
            if !c.text.is_empty() {
                parts.push(Part::Text { content: c.text });
            }
            if !c.reasoning.is_empty() {
                parts.push(Part::Reasoning {
                    content: c.reasoning,
                });
            }
            if !c.refusal.is_empty() {
                parts.push(refusal_part(c.refusal));
            }
            let mut calls = c.tool_calls;
            calls.sort_by_key(|t| t.index);
            parts.extend(calls.into_iter().map(ToolAcc::into_part));
            if let Some(call) = c.function_call {
                parts.push(call.into_part());
            }
            if !finish.is_empty() {
                rec.finish_reasons.push(finish.to_owned());
            }
            rec.output_messages.push(OutputMessage {
                role: c.role.unwrap_or_else(|| "assistant".to_owned()),
                parts,
                name: None,
                finish_reason: finish.to_owned(),
            });
        }
        rec
    }

    fn finish_responses(self) -> ResponseRecord {
        if let Some(mut rec) = self.final_record {
            rec.id = rec.id.or(self.id);
            rec.model = rec.model.or(self.model);
            rec.service_tier = rec.service_tier.or(self.service_tier);
            rec.error = rec.error.or(self.error);
            return rec;
        }
        let mut rec = ResponseRecord {
            id: self.id,
            model: self.model,
            service_tier: self.service_tier,
            usage: with_total(self.usage),
            error: self.error,
            ..ResponseRecord::default()
        };
        if self.items.is_empty() {
            return rec;
        }
        let mut items = self.items;
        items.sort_by_key(|it| it.output_index);
        let mut parts = Vec::new();
        for item in items {
            match item.kind {
                ItemKind::Message { text, refusal } => {
                    if !text.is_empty() {
                        parts.push(Part::Text { content: text });
                    }
                    if !refusal.is_empty() {
                        parts.push(refusal_part(refusal));
                    }
                }
                ItemKind::Reasoning { text, .. } => {
                    if !text.is_empty() {
                        parts.push(Part::Reasoning { content: text });
                    }
                }
                ItemKind::Call(call) => parts.push(call.into_part()),
            }
        }
        // The stream ended before its terminal event: the finish reason is unknown.
        rec.output_messages.push(OutputMessage {
            role: "assistant".to_owned(),
            parts,
            name: None,
            finish_reason: String::new(),
        });
        rec
    }
}

/// Position in `calls` of the tool call a delta continues, created if new (`None` past the
/// entry cap). Calls are matched by `index`; a delta without one continues the call with
/// the same id, or the last call when it has no id.
fn tool_call_pos(
    calls: &mut Vec<ToolAcc>,
    delta: &ToolCallDelta<'_>,
    count: &mut usize,
    capped: &mut bool,
    bad: &mut bool,
) -> Option<usize> {
    let wire_index = match delta.index {
        None => None,
        v => Some(index(v, bad)?),
    };
    let found = match (wire_index, &delta.id) {
        (Some(i), _) => calls.iter().rposition(|c| c.index == i),
        (None, Some(WStr::Str(id))) => calls
            .iter()
            .rposition(|c| c.id.as_deref() == Some(id.as_ref())),
        (None, _) => calls.len().checked_sub(1),
    };
    if found.is_some() {
        return found;
    }
    if *count >= MAX_STREAM_ENTRIES {
        *capped = true;
        return None;
    }
    let index = wire_index.unwrap_or_else(|| {
        calls
            .iter()
            .map(|c| c.index.saturating_add(1))
            .max()
            .unwrap_or(0)
    });
    calls.push(ToolAcc {
        index,
        ..ToolAcc::default()
    });
    *count += 1;
    Some(calls.len() - 1)
}

/// The `text` of the entries of `item[key]` (only those of type `only`, when given), joined
/// with `sep`.
fn joined_texts(
    item: &serde_json::Map<String, Value>,
    key: &str,
    only: Option<&str>,
    sep: &str,
) -> String {
    let mut out = String::new();
    let Some(Value::Array(entries)) = item.get(key) else {
        return out;
    };
    for e in entries {
        let Value::Object(e) = e else { continue };
        if only.is_some_and(|t| e.get("type").and_then(Value::as_str) != Some(t)) {
            continue;
        }
        if let Some(Value::String(t)) = e.get("text") {
            if !out.is_empty() {
                out.push_str(sep);
            }
            out.push_str(t);
        }
    }
    out
}
