//! NDJSON stream accumulation (`/api/chat` and `/api/generate` with `stream: true`).

use std::borrow::Cow;

use openllmetry_semconv::message::{OutputMessage, Part};
use serde::Deserialize;
use serde_json::Value;

use super::{API_ERROR, DURATION_KEYS};
use crate::json::{ReportedOnce, json_error_kind};
use crate::providers::common::{ContentBudget, arguments};
use crate::record::{MAX_STREAM_ENTRIES, ProviderError, ResponseRecord, Usage};
use crate::sse::SseEvent;
use crate::{FaultKind, Operation};

/// One NDJSON line, borrowed (no `serde_json::Value` on the per-line path except tool calls).
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    message: Option<Message<'a>>,
    #[serde(borrow, default)]
    response: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    thinking: Option<Cow<'a, str>>,
    #[serde(default)]
    done: Option<bool>,
    #[serde(borrow, default)]
    done_reason: Option<Cow<'a, str>>,
    #[serde(default)]
    prompt_eval_count: Option<i64>,
    #[serde(default)]
    eval_count: Option<i64>,
    #[serde(default)]
    total_duration: Option<i64>,
    #[serde(default)]
    load_duration: Option<i64>,
    #[serde(default)]
    prompt_eval_duration: Option<i64>,
    #[serde(default)]
    eval_duration: Option<i64>,
    #[serde(default)]
    error: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    thinking: Option<Cow<'a, str>>,
    #[serde(default)]
    tool_calls: Option<Vec<Value>>,
}

/// Accumulates an Ollama NDJSON stream into a [`ResponseRecord`]. Content kept is bounded by
/// [`MAX_STREAM_CONTENT_BYTES`](crate::record::MAX_STREAM_CONTENT_BYTES), tool calls by
/// [`MAX_STREAM_ENTRIES`]; each fault kind is reported once per stream.
#[derive(Debug)]
pub struct StreamAccumulator {
    op: Operation,
    model: Option<String>,
    text: String,
    thinking: String,
    tool_calls: Vec<Part>,
    finish_reason: Option<String>,
    usage: Usage,
    durations: [Option<i64>; 4],
    error: Option<ProviderError>,
    done: bool,
    budget: ContentBudget,
    reported: ReportedOnce,
}

impl StreamAccumulator {
    /// A fresh accumulator for `op`.
    pub fn new(op: Operation) -> Self {
        StreamAccumulator {
            op,
            model: None,
            text: String::new(),
            thinking: String::new(),
            tool_calls: Vec::new(),
            finish_reason: None,
            usage: Usage::default(),
            durations: [None; 4],
            error: None,
            done: false,
            budget: ContentBudget::default(),
            reported: ReportedOnce::default(),
        }
    }

    /// Feeds one NDJSON line (as an [`SseEvent`] whose `data` is the line); true when it was
    /// an output chunk.
    pub fn push(&mut self, event: &SseEvent<'_>, faults: &mut Vec<FaultKind>) -> bool {
        let data = event.data.as_ref();
        let line: Line<'_> = match serde_json::from_str(data) {
            Ok(l) => l,
            Err(e) => {
                self.reported
                    .report(faults, json_error_kind(&e, data.as_bytes()));
                return false;
            }
        };
        if self.model.is_none()
            && let Some(m) = line.model
        {
            self.model = Some(m.into_owned());
        }
        if line.error.is_some() {
            self.error = Some(ProviderError {
                error_type: API_ERROR.to_owned(),
            });
            self.done = true;
            return false;
        }
        let (content, thinking, calls) = match (self.op, line.message) {
            (Operation::TextCompletion, _) => (line.response, line.thinking, None),
            (_, Some(m)) => (m.content, m.thinking, m.tool_calls),
            (_, None) => (None, None, None),
        };
        let mut output = false;
        if let Some(t) = thinking.filter(|t| !t.is_empty()) {
            self.budget
                .append(&mut self.thinking, &t, &mut self.reported, faults);
            output = true;
        }
        if let Some(c) = content.filter(|c| !c.is_empty()) {
            self.budget
                .append(&mut self.text, &c, &mut self.reported, faults);
            output = true;
        }
        for call in calls.unwrap_or_default() {
            output = true;
            if self.tool_calls.len() >= MAX_STREAM_ENTRIES {
                self.reported
                    .report(faults, FaultKind::StreamContentTruncated);
                continue;
            }
            let Some(func) = call.get("function").and_then(Value::as_object) else {
                self.reported.report(faults, FaultKind::UnexpectedShape);
                continue;
            };
            self.tool_calls.push(Part::ToolCall {
                id: call.get("id").and_then(Value::as_str).map(str::to_owned),
                name: func
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                arguments: arguments(func.get("arguments")),
            });
        }
        if line.done == Some(true) {
            self.done = true;
            self.finish_reason = line.done_reason.map(Cow::into_owned);
            self.usage = super::response::usage(line.prompt_eval_count, line.eval_count);
            self.durations = [
                line.total_duration,
                line.load_duration,
                line.prompt_eval_duration,
                line.eval_duration,
            ];
        }
        output
    }

    /// The response model seen so far.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// True once the `done: true` line (or an error line) was seen.
    pub fn is_complete(&self) -> bool {
        self.done
    }

    /// The accumulated (possibly partial) record.
    pub fn finish(self) -> ResponseRecord {
        let mut rec = ResponseRecord {
            model: self.model,
            usage: self.usage,
            error: self.error,
            ..ResponseRecord::default()
        };
        for ((_, attr), v) in DURATION_KEYS.iter().zip(self.durations) {
            if let Some(ns) = v {
                rec.provider_attributes.push((attr, ns));
            }
        }
        if let Some(r) = &self.finish_reason {
            rec.finish_reasons.push(r.clone());
        }
        let mut parts = Vec::new();
        if !self.thinking.is_empty() {
            parts.push(Part::Reasoning {
                content: self.thinking,
            });
        }
        if !self.text.is_empty() {
            parts.push(Part::Text { content: self.text });
        }
        parts.extend(self.tool_calls);
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
