//! Gemini streams (SSE with `alt=sse`, or JSON-array elements) → [`ResponseRecord`].

use openllmetry_semconv::message::{OutputMessage, Part};
use serde_json::Value;

use super::{error_of, map_finish_reason, part_of, usage_of};
use crate::json::{Faults, Obj, get_array, get_i64, get_obj, get_str, json_error_kind};
use crate::providers::common::{ContentBudget, ReportedOnce};
use crate::record::{MAX_STREAM_ENTRIES, ProviderError, Usage};
use crate::{FaultKind, Operation, ResponseRecord, SseEvent};

#[derive(Debug)]
struct CandidateAcc {
    index: i64,
    parts: Vec<Part>,
    finish: Option<Option<&'static str>>,
}

/// Accumulates a Gemini stream: every chunk is a whole `GenerateContentResponse`; text
/// (and thought text) is concatenated per candidate, function calls are kept whole, the
/// last `usageMetadata`, `responseId` and `modelVersion` win.
///
/// Memory is bounded: at most [`MAX_STREAM_ENTRIES`] candidates and parts per candidate and
/// [`MAX_STREAM_CONTENT_BYTES`](crate::record::MAX_STREAM_CONTENT_BYTES) of content (text
/// and function-call arguments) are kept; past a cap a
/// [`FaultKind::StreamContentTruncated`] is reported once. The stream is complete once every
/// candidate seen carries a `finishReason`, or an error arrives.
#[derive(Debug)]
pub struct StreamAccumulator {
    op: Operation,
    id: Option<String>,
    model: Option<String>,
    usage: Usage,
    candidates: Vec<CandidateAcc>,
    blocked: bool,
    error: Option<ProviderError>,
    complete: bool,
    budget: ContentBudget,
    reported: ReportedOnce,
}

impl StreamAccumulator {
    /// A fresh accumulator.
    pub fn new(op: Operation) -> Self {
        StreamAccumulator {
            op,
            id: None,
            model: None,
            usage: Usage::default(),
            candidates: Vec::new(),
            blocked: false,
            error: None,
            complete: false,
            budget: ContentBudget::default(),
            reported: ReportedOnce::default(),
        }
    }

    /// Feeds one SSE event (its `data` is one chunk). True when it carried output.
    pub fn push(&mut self, event: &SseEvent<'_>, faults: &mut Vec<FaultKind>) -> bool {
        self.push_element(event.data.as_bytes(), faults)
    }

    /// Feeds one chunk (a JSON-array element or an SSE `data`). True when it carried output.
    pub fn push_element(&mut self, data: &[u8], faults: &mut Vec<FaultKind>) -> bool {
        let obj: Obj = match serde_json::from_slice::<Value>(data) {
            Ok(Value::Object(o)) => o,
            Ok(_) => {
                self.reported.report(faults, FaultKind::UnexpectedShape);
                return false;
            }
            Err(e) => {
                self.reported.report(faults, json_error_kind(&e, data));
                return false;
            }
        };
        self.apply(&obj, data.len(), faults)
    }

    fn apply(&mut self, obj: &Obj, data_len: usize, faults: &mut Vec<FaultKind>) -> bool {
        if let Some(e) = error_of(obj) {
            self.error = Some(e);
            self.complete = true;
            return false;
        }
        // Shape faults of this chunk, reported once per stream below.
        let mut shape = Vec::new();
        let mut f = Faults::new(&mut shape);
        if let Some(id) = get_str(obj, "responseId", &mut f)
            && self.id.as_deref() != Some(id)
        {
            self.id = Some(id.to_owned());
        }
        if let Some(m) = get_str(obj, "modelVersion", &mut f)
            && self.model.as_deref() != Some(m)
        {
            self.model = Some(m.to_owned());
        }
        if let Some(u) = get_obj(obj, "usageMetadata", &mut f) {
            self.usage = usage_of(u, &mut f);
        }
        if get_obj(obj, "promptFeedback", &mut f)
            .and_then(|p| get_str(p, "blockReason", &mut f))
            .is_some()
        {
            self.blocked = true;
            self.complete = true;
        }
        let mut output = false;
        let mut pending = Vec::new();
        for c in get_array(obj, "candidates", &mut f).unwrap_or_default() {
            let Value::Object(c) = c else {
                f.push(FaultKind::UnexpectedShape);
                continue;
            };
            let index = get_i64(c, "index", &mut f).unwrap_or(0);
            let parts: Vec<Part> = get_obj(c, "content", &mut f)
                .and_then(|content| get_array(content, "parts", &mut f))
                .unwrap_or_default()
                .iter()
                .filter_map(|p| part_of(p, &mut f))
                .collect();
            let finish = get_str(c, "finishReason", &mut f).map(map_finish_reason);
            output |= !parts.is_empty();
            pending.push((index, parts, finish));
        }
        let _ = f;
        for k in shape {
            self.reported.report(faults, k);
        }
        for (index, parts, finish) in pending {
            self.merge(index, parts, finish, data_len, faults);
        }
        if !self.candidates.is_empty() && self.candidates.iter().all(|c| c.finish.is_some()) {
            self.complete = true;
        }
        output
    }

    fn merge(
        &mut self,
        index: i64,
        parts: Vec<Part>,
        finish: Option<Option<&'static str>>,
        data_len: usize,
        faults: &mut Vec<FaultKind>,
    ) {
        let pos = match self.candidates.iter().position(|c| c.index == index) {
            Some(p) => p,
            None if self.candidates.len() >= MAX_STREAM_ENTRIES => {
                self.reported
                    .report(faults, FaultKind::StreamContentTruncated);
                return;
            }
            None => {
                self.candidates.push(CandidateAcc {
                    index,
                    parts: Vec::new(),
                    finish: None,
                });
                self.candidates.len() - 1
            }
        };
        let Some(cand) = self.candidates.get_mut(pos) else {
            return;
        };
        if finish.is_some() {
            cand.finish = finish;
        }
        for part in parts {
            let full = cand.parts.len() >= MAX_STREAM_ENTRIES;
            match (cand.parts.last_mut(), part) {
                (Some(Part::Text { content: dst }), Part::Text { content })
                | (Some(Part::Reasoning { content: dst }), Part::Reasoning { content }) => {
                    self.budget
                        .append(dst, &content, &mut self.reported, faults);
                }
                (_, Part::Text { .. } | Part::Reasoning { .. }) if full => {
                    self.reported
                        .report(faults, FaultKind::StreamContentTruncated);
                }
                (_, Part::Text { content }) => {
                    let mut dst = String::new();
                    self.budget
                        .append(&mut dst, &content, &mut self.reported, faults);
                    cand.parts.push(Part::Text { content: dst });
                }
                (_, Part::Reasoning { content }) => {
                    let mut dst = String::new();
                    self.budget
                        .append(&mut dst, &content, &mut self.reported, faults);
                    cand.parts.push(Part::Reasoning { content: dst });
                }
                (_, other) => {
                    if !full && self.budget.charge(data_len, &mut self.reported, faults) {
                        cand.parts.push(other);
                    } else {
                        self.reported
                            .report(faults, FaultKind::StreamContentTruncated);
                    }
                }
            }
        }
    }

    /// The response model seen so far, if any.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// True once every candidate has finished, the prompt was blocked or an error arrived.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// The accumulated record, shaped like [`parse_response`](super::parse_response)'s.
    pub fn finish(self) -> ResponseRecord {
        let _ = self.op;
        let mut rec = ResponseRecord {
            id: self.id,
            model: self.model,
            usage: self.usage,
            error: self.error,
            ..ResponseRecord::default()
        };
        for c in self.candidates {
            let reason = c.finish.flatten();
            if let Some(r) = reason {
                rec.finish_reasons.push(r.to_owned());
            }
            rec.output_messages.push(OutputMessage {
                role: "assistant".to_owned(),
                parts: c.parts,
                name: None,
                finish_reason: reason.unwrap_or("").to_owned(),
            });
        }
        if self.blocked && rec.output_messages.is_empty() {
            rec.finish_reasons
                .push(openllmetry_semconv::value::finish_reason::CONTENT_FILTER.to_owned());
        }
        rec
    }
}
