//! SSE stream accumulation of `/v2/chat` with `stream: true`.

use openllmetry_semconv::message::{OutputMessage, Part};
use serde_json::Value;

use super::map_finish_reason;
use crate::json::{ReportedOnce, json_error_kind};
use crate::providers::common::{ContentBudget, arguments};
use crate::record::{MAX_STREAM_ENTRIES, ProviderError, ResponseRecord, Usage};
use crate::sse::SseEvent;
use crate::{FaultKind, Operation};

#[derive(Debug, Default)]
struct ToolCall {
    id: Option<String>,
    name: String,
    arguments: String,
}

/// Accumulates a Cohere v2 chat stream. Content kept is bounded by
/// [`MAX_STREAM_CONTENT_BYTES`](crate::record::MAX_STREAM_CONTENT_BYTES), tool calls by
/// [`MAX_STREAM_ENTRIES`]; each fault kind is reported once per stream.
#[derive(Debug)]
pub struct StreamAccumulator {
    id: Option<String>,
    text: String,
    thinking: String,
    tool_calls: Vec<ToolCall>,
    finish_reason: Option<String>,
    usage: Usage,
    error: Option<ProviderError>,
    done: bool,
    budget: ContentBudget,
    reported: ReportedOnce,
}

impl StreamAccumulator {
    /// A fresh accumulator (`op` is always chat for Cohere streams).
    pub fn new(_op: Operation) -> Self {
        StreamAccumulator {
            id: None,
            text: String::new(),
            thinking: String::new(),
            tool_calls: Vec::new(),
            finish_reason: None,
            usage: Usage::default(),
            error: None,
            done: false,
            budget: ContentBudget::default(),
            reported: ReportedOnce::default(),
        }
    }

    /// Feeds one SSE event; true when it was an output chunk.
    pub fn push(&mut self, event: &SseEvent<'_>, faults: &mut Vec<FaultKind>) -> bool {
        let data = event.data.as_ref();
        if data.trim() == "[DONE]" {
            self.done = true;
            return false;
        }
        let v: Value = match serde_json::from_str(data) {
            Ok(v) => v,
            Err(e) => {
                self.reported
                    .report(faults, json_error_kind(&e, data.as_bytes()));
                return false;
            }
        };
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .or(event.event)
            .unwrap_or("");
        let delta = v.get("delta");
        let message = delta.and_then(|d| d.get("message"));
        match kind {
            "message-start" => {
                if let Some(id) = v.get("id").and_then(Value::as_str) {
                    self.id = Some(id.to_owned());
                }
                false
            }
            "content-start" | "content-delta" => {
                let content = message.and_then(|m| m.get("content"));
                let mut out = false;
                if let Some(t) = content.and_then(|c| c.get("text")).and_then(Value::as_str) {
                    self.budget
                        .append(&mut self.text, t, &mut self.reported, faults);
                    out |= !t.is_empty();
                }
                if let Some(t) = content
                    .and_then(|c| c.get("thinking"))
                    .and_then(Value::as_str)
                {
                    self.budget
                        .append(&mut self.thinking, t, &mut self.reported, faults);
                    out |= !t.is_empty();
                }
                out || kind == "content-delta"
            }
            "tool-call-start" => {
                let call = message.and_then(|m| m.get("tool_calls"));
                if self.tool_calls.len() >= MAX_STREAM_ENTRIES {
                    self.reported
                        .report(faults, FaultKind::StreamContentTruncated);
                    return true;
                }
                let func = call.and_then(|c| c.get("function"));
                let mut tc = ToolCall {
                    id: call
                        .and_then(|c| c.get("id"))
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    name: func
                        .and_then(|f| f.get("name"))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    arguments: String::new(),
                };
                if let Some(a) = func
                    .and_then(|f| f.get("arguments"))
                    .and_then(Value::as_str)
                {
                    self.budget
                        .append(&mut tc.arguments, a, &mut self.reported, faults);
                }
                self.tool_calls.push(tc);
                true
            }
            "tool-call-delta" => {
                let args = message
                    .and_then(|m| m.get("tool_calls"))
                    .and_then(|c| c.get("function"))
                    .and_then(|f| f.get("arguments"))
                    .and_then(Value::as_str);
                if let (Some(a), Some(tc)) = (args, self.tool_calls.last_mut()) {
                    self.budget
                        .append(&mut tc.arguments, a, &mut self.reported, faults);
                }
                true
            }
            "message-end" => {
                self.done = true;
                if let Some(r) = delta
                    .and_then(|d| d.get("finish_reason"))
                    .and_then(Value::as_str)
                {
                    self.finish_reason = Some(map_finish_reason(r));
                }
                if let Some(u) = delta
                    .and_then(|d| d.get("usage"))
                    .and_then(Value::as_object)
                {
                    self.usage = super::response::usage(u);
                }
                if delta
                    .and_then(|d| d.get("error"))
                    .is_some_and(|e| !e.is_null())
                {
                    self.error = Some(ProviderError {
                        error_type: "api_error".to_owned(),
                    });
                }
                false
            }
            "content-end" | "tool-plan-delta" | "tool-call-end" | "citation-start"
            | "citation-end" | "debug" => false,
            _ => {
                self.reported.report(faults, FaultKind::UnknownEvent);
                false
            }
        }
    }

    /// Cohere streams do not repeat the model; always `None`.
    pub fn model(&self) -> Option<&str> {
        None
    }

    /// True once `message-end` (or `[DONE]`) was seen.
    pub fn is_complete(&self) -> bool {
        self.done
    }

    /// The accumulated (possibly partial) record.
    pub fn finish(self) -> ResponseRecord {
        let mut rec = ResponseRecord {
            id: self.id,
            usage: self.usage,
            error: self.error,
            ..ResponseRecord::default()
        };
        let mut parts = Vec::new();
        if !self.thinking.is_empty() {
            parts.push(Part::Reasoning {
                content: self.thinking,
            });
        }
        if !self.text.is_empty() {
            parts.push(Part::Text { content: self.text });
        }
        for tc in self.tool_calls {
            parts.push(Part::ToolCall {
                id: tc.id,
                name: tc.name,
                arguments: if tc.arguments.is_empty() {
                    None
                } else {
                    arguments(Some(&Value::String(tc.arguments)))
                },
            });
        }
        if let Some(r) = &self.finish_reason {
            rec.finish_reasons.push(r.clone());
        }
        if !parts.is_empty() || self.finish_reason.is_some() {
            rec.output_messages.push(OutputMessage {
                role: "assistant".into(),
                parts,
                name: None,
                finish_reason: self.finish_reason.unwrap_or_default(),
            });
        }
        rec
    }
}
