//! Gemini streams (SSE with `alt=sse`, or JSON-array elements) → [`ResponseRecord`].

use std::borrow::Cow;

use openllmetry_semconv::message::{OutputMessage, Part};
use serde_json::Value;

use super::{error_of, map_finish_reason, part_of, usage_of};
use crate::json::{Faults, Obj, get_array, get_i64, get_obj, get_str, json_error_kind};
use crate::providers::common::{ContentBudget, ReportedOnce};
use crate::record::{MAX_STREAM_ENTRIES, ProviderError, Usage};
use crate::{FaultKind, Operation, ResponseRecord, SseEvent};

/// What one chunk says, whichever way it was read: one candidate is `(index, parts, finish)`.
#[derive(Debug, Default)]
struct ChunkFacts<'a> {
    id: Option<Cow<'a, str>>,
    model: Option<Cow<'a, str>>,
    usage: Option<Usage>,
    blocked: bool,
    candidates: Vec<CandidateFacts>,
}

type CandidateFacts = (i64, Vec<Part>, Option<Option<&'static str>>);

/// The facts of a chunk read as a [`Value`] object; a field of the wrong type is a shape fault
/// and reads as absent.
fn facts_of_value<'a>(obj: &'a Obj, f: &mut Faults<'_>) -> ChunkFacts<'a> {
    let mut facts = ChunkFacts {
        id: get_str(obj, "responseId", f).map(Cow::Borrowed),
        model: get_str(obj, "modelVersion", f).map(Cow::Borrowed),
        usage: get_obj(obj, "usageMetadata", f).map(|u| usage_of(u, f)),
        blocked: get_obj(obj, "promptFeedback", f)
            .and_then(|p| get_str(p, "blockReason", f))
            .is_some(),
        candidates: Vec::new(),
    };
    for c in get_array(obj, "candidates", f).unwrap_or_default() {
        let Value::Object(c) = c else {
            f.push(FaultKind::UnexpectedShape);
            continue;
        };
        let index = get_i64(c, "index", f).unwrap_or(0);
        let parts: Vec<Part> = get_obj(c, "content", f)
            .and_then(|content| get_array(content, "parts", f))
            .unwrap_or_default()
            .iter()
            .filter_map(|p| part_of(p, f))
            .collect();
        let finish = get_str(c, "finishReason", f).map(map_finish_reason);
        facts.candidates.push((index, parts, finish));
    }
    facts
}

/// Whether the typed read takes `data` (the tests check the recorded chunks do).
#[cfg(test)]
pub(super) fn reads_typed(data: &[u8]) -> bool {
    wire::read(data, &mut Faults::new(&mut Vec::new())).is_some()
}

/// The typed read of a chunk: borrowed structs with exactly the fields used, each of the type
/// the API sends. Anything else makes [`read`] give up, and the chunk is read as a [`Value`].
mod wire {
    use serde::de::IgnoredAny;
    use serde::{Deserialize, Deserializer};
    use serde_json::value::RawValue;

    use super::{CandidateFacts, ChunkFacts};
    use crate::json::Faults;
    use crate::providers::common::{Object, WStr};
    use crate::providers::gemini::{map_finish_reason, part_of};
    use crate::record::Usage;
    use openllmetry_semconv::message::Part;

    /// Set when its member is present at all (`"error": null` included).
    #[derive(Default)]
    struct Present(bool);

    impl<'de> Deserialize<'de> for Present {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            IgnoredAny::deserialize(d).map(|_| Present(true))
        }
    }

    #[derive(Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct Chunk<'a> {
        #[serde(borrow)]
        response_id: Option<WStr<'a>>,
        #[serde(borrow)]
        model_version: Option<WStr<'a>>,
        usage_metadata: Option<Object<WireUsage>>,
        #[serde(borrow)]
        prompt_feedback: Option<Object<Feedback<'a>>>,
        #[serde(borrow)]
        candidates: Option<Vec<Object<Candidate<'a>>>>,
        error: Present,
    }

    #[derive(Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct WireUsage {
        prompt_token_count: Option<i64>,
        candidates_token_count: Option<i64>,
        total_token_count: Option<i64>,
        cached_content_token_count: Option<i64>,
        thoughts_token_count: Option<i64>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct Feedback<'a> {
        #[serde(borrow)]
        block_reason: Option<WStr<'a>>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct Candidate<'a> {
        index: Option<i64>,
        #[serde(borrow)]
        content: Option<Object<Content<'a>>>,
        #[serde(borrow)]
        finish_reason: Option<WStr<'a>>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Content<'a> {
        #[serde(borrow)]
        parts: Option<Vec<&'a RawValue>>,
    }

    /// The common part: `{"text": "..."}`, with `"thought": true` for thinking text.
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct TextPart<'a> {
        #[serde(borrow)]
        text: Option<WStr<'a>>,
        thought: Option<bool>,
    }

    fn str_of(v: Option<WStr<'_>>) -> Result<Option<std::borrow::Cow<'_, str>>, ()> {
        match v {
            None => Ok(None),
            Some(WStr::Str(s)) => Ok(Some(s)),
            Some(WStr::Wrong) => Err(()),
        }
    }

    /// A text part directly; any other part through the [`Value`](serde_json::Value) reader.
    fn part(raw: &RawValue, f: &mut Faults<'_>) -> Option<Part> {
        if let Ok(Object(TextPart {
            text: Some(WStr::Str(t)),
            thought,
        })) = serde_json::from_str::<Object<TextPart<'_>>>(raw.get())
        {
            let content = t.into_owned();
            return Some(if thought == Some(true) {
                Part::Reasoning { content }
            } else {
                Part::text(content)
            });
        }
        // `raw` is valid JSON: this parse only fails past serde_json's nesting limit, which
        // the enclosing parse would have hit first.
        let value = serde_json::from_str::<serde_json::Value>(raw.get()).ok()?;
        part_of(&value, f)
    }

    /// The chunk's facts, or `None` when the typed read does not apply.
    pub(super) fn read<'a>(data: &'a [u8], f: &mut Faults<'_>) -> Option<ChunkFacts<'a>> {
        let Object(chunk) = serde_json::from_slice::<Object<Chunk<'a>>>(data).ok()?;
        if chunk.error.0 {
            return None;
        }
        let mut candidates = Vec::new();
        for Object(c) in chunk.candidates.unwrap_or_default() {
            let finish = str_of(c.finish_reason).ok()?;
            let parts = c
                .content
                .and_then(|Object(c)| c.parts)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|p| part(p, f))
                .collect();
            let facts: CandidateFacts = (
                c.index.unwrap_or(0),
                parts,
                finish.as_deref().map(map_finish_reason),
            );
            candidates.push(facts);
        }
        let blocked = match chunk.prompt_feedback {
            Some(Object(p)) => str_of(p.block_reason).ok()?.is_some(),
            None => false,
        };
        Some(ChunkFacts {
            id: str_of(chunk.response_id).ok()?,
            model: str_of(chunk.model_version).ok()?,
            usage: chunk.usage_metadata.map(|Object(u)| Usage {
                input_tokens: u.prompt_token_count,
                output_tokens: u.candidates_token_count,
                total_tokens: u.total_token_count,
                cache_read_input_tokens: u.cached_content_token_count,
                cache_creation_input_tokens: None,
                reasoning_output_tokens: u.thoughts_token_count,
            }),
            blocked,
            candidates,
        })
    }
}

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
    ///
    /// A well-formed chunk is read in one pass into borrowed typed structs; a chunk
    /// the typed read refuses (a field of an unexpected type, an `error` member, invalid JSON)
    /// is read again as a [`Value`], which reports each shape fault and the JSON error. Both
    /// reads give the same facts for every chunk the typed one accepts.
    pub fn push_element(&mut self, data: &[u8], faults: &mut Vec<FaultKind>) -> bool {
        let mut shape = Vec::new();
        if let Some(facts) = wire::read(data, &mut Faults::new(&mut shape)) {
            return self.absorb(facts, shape, data.len(), faults);
        }
        shape.clear();
        self.push_value(data, shape, faults)
    }

    /// [`push_element`](Self::push_element) without the typed read: every chunk read as a
    /// [`Value`]. For the benchmark that compares the two reads; not part of the API.
    #[doc(hidden)]
    pub fn push_element_as_value(&mut self, data: &[u8], faults: &mut Vec<FaultKind>) -> bool {
        self.push_value(data, Vec::new(), faults)
    }

    /// The [`Value`] read of one chunk: every shape fault reported, errors recorded.
    fn push_value(
        &mut self,
        data: &[u8],
        mut shape: Vec<FaultKind>,
        faults: &mut Vec<FaultKind>,
    ) -> bool {
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
        if let Some(e) = error_of(&obj) {
            self.error = Some(e);
            self.complete = true;
            return false;
        }
        let facts = facts_of_value(&obj, &mut Faults::new(&mut shape));
        self.absorb(facts, shape, data.len(), faults)
    }

    /// Applies what one chunk says; `shape` holds its shape faults, reported once per stream.
    fn absorb(
        &mut self,
        facts: ChunkFacts<'_>,
        shape: Vec<FaultKind>,
        data_len: usize,
        faults: &mut Vec<FaultKind>,
    ) -> bool {
        if let Some(id) = facts.id
            && self.id.as_deref() != Some(&*id)
        {
            self.id = Some(id.into_owned());
        }
        if let Some(m) = facts.model
            && self.model.as_deref() != Some(&*m)
        {
            self.model = Some(m.into_owned());
        }
        if let Some(u) = facts.usage {
            self.usage = u;
        }
        if facts.blocked {
            self.blocked = true;
            self.complete = true;
        }
        for k in shape {
            self.reported.report(faults, k);
        }
        let mut output = false;
        for (index, parts, finish) in facts.candidates {
            output |= !parts.is_empty();
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
