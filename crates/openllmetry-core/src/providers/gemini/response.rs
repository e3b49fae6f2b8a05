//! Gemini response bodies → [`ResponseRecord`].

use openllmetry_semconv::message::OutputMessage;
use serde_json::Value;

use super::{error_of, map_finish_reason, part_of, usage_of};
use crate::json::{Faults, Obj, get_array, get_obj, get_str, parse_object};
use crate::{FaultKind, Operation, ResponseRecord};

/// Parses a complete `generateContent` / embeddings response body, or an error body.
/// A JSON array (a non-SSE `streamGenerateContent` body read whole) is folded element by
/// element through the stream accumulator.
pub fn parse_response(op: Operation, body: &[u8], faults: &mut Vec<FaultKind>) -> ResponseRecord {
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        let mut acc = super::StreamAccumulator::new(op);
        let mut split = super::JsonArraySplitter::default();
        let mut split_faults = Vec::new();
        split.push(
            body,
            |el| {
                acc.push_element(el, faults);
            },
            &mut split_faults,
        );
        faults.append(&mut split_faults);
        return acc.finish();
    }
    let mut f = Faults::new(faults);
    let mut rec = ResponseRecord::default();
    let Some(obj) = parse_object(body, &mut f) else {
        return rec;
    };
    if let Some(e) = error_of(&obj) {
        rec.error = Some(e);
        return rec;
    }
    if op == Operation::Embeddings {
        if let Some(e) = get_obj(&obj, "embedding", &mut f) {
            rec.embedding_count = Some(1);
            rec.embedding_dimensions = vector_len(e);
        } else if let Some(list) = get_array(&obj, "embeddings", &mut f) {
            rec.embedding_count = i64::try_from(list.len()).ok();
            rec.embedding_dimensions = list.first().and_then(Value::as_object).and_then(vector_len);
        }
        return rec;
    }
    apply_chunk(&obj, &mut rec, &mut f);
    rec
}

fn vector_len(e: &Obj) -> Option<i64> {
    e.get("values")
        .and_then(Value::as_array)
        .and_then(|v| i64::try_from(v.len()).ok())
}

/// Fills `rec` from one whole `GenerateContentResponse` object.
pub(crate) fn apply_chunk(obj: &Obj, rec: &mut ResponseRecord, f: &mut Faults<'_>) {
    if let Some(id) = get_str(obj, "responseId", f) {
        rec.id = Some(id.to_owned());
    }
    if let Some(m) = get_str(obj, "modelVersion", f) {
        rec.model = Some(m.to_owned());
    }
    if let Some(u) = get_obj(obj, "usageMetadata", f) {
        rec.usage = usage_of(u, f);
    }
    let candidates = get_array(obj, "candidates", f).unwrap_or_default();
    for c in candidates {
        let Value::Object(c) = c else {
            f.push(FaultKind::UnexpectedShape);
            continue;
        };
        let parts = get_obj(c, "content", f)
            .and_then(|content| get_array(content, "parts", f))
            .unwrap_or_default()
            .iter()
            .filter_map(|p| part_of(p, f))
            .collect();
        let reason = get_str(c, "finishReason", f).and_then(map_finish_reason);
        if let Some(r) = reason {
            rec.finish_reasons.push(r.to_owned());
        }
        rec.output_messages.push(OutputMessage {
            role: "assistant".to_owned(),
            parts,
            name: None,
            finish_reason: reason.unwrap_or("").to_owned(),
        });
    }
    if candidates.is_empty()
        && get_obj(obj, "promptFeedback", f)
            .and_then(|p| get_str(p, "blockReason", f))
            .is_some()
    {
        // The prompt itself was blocked: no candidate at all.
        rec.finish_reasons
            .push(openllmetry_semconv::value::finish_reason::CONTENT_FILTER.to_owned());
    }
}
