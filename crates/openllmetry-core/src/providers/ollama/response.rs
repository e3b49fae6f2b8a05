//! Complete (non-streamed) response bodies.

use openllmetry_semconv::message::{OutputMessage, Part};
use serde_json::Value;

use super::{API_ERROR, DURATION_KEYS};
use crate::json::{
    Faults, Obj, get_array, get_bool, get_i64, get_obj, get_str, get_string, parse_object,
};
use crate::record::{ProviderError, Usage};
use crate::{FaultKind, Operation, ResponseRecord};

/// Parses a complete Ollama response body (see the [module docs](super)).
///
/// ```
/// use openllmetry_core::{Operation, providers::ollama};
/// let body = br#"{"model":"llama3","message":{"role":"assistant","content":"Hi"},"done":true,"done_reason":"stop","prompt_eval_count":3,"eval_count":2}"#;
/// let rec = ollama::parse_response(Operation::Chat, body, &mut Vec::new());
/// assert_eq!(rec.usage.input_tokens, Some(3));
/// assert_eq!(rec.finish_reasons, ["stop"]);
/// ```
pub fn parse_response(op: Operation, body: &[u8], faults: &mut Vec<FaultKind>) -> ResponseRecord {
    let mut f = Faults::new(faults);
    let mut rec = ResponseRecord::default();
    let Some(obj) = parse_object(body, &mut f) else {
        return rec;
    };
    let f = &mut f;
    read_common(&obj, f, &mut rec);
    if rec.error.is_some() {
        return rec;
    }
    match op {
        Operation::Embeddings => {
            let vectors: Vec<&Value> = match get_array(&obj, "embeddings", f) {
                Some(v) => v.iter().collect(),
                None => obj.get("embedding").into_iter().collect(),
            };
            rec.embedding_count = Some(vectors.len() as i64);
            rec.embedding_dimensions = vectors
                .first()
                .and_then(|v| v.as_array())
                .map(|a| a.len() as i64);
        }
        Operation::TextCompletion => {
            let mut parts = Vec::new();
            if let Some(t) = get_str(&obj, "thinking", f).filter(|t| !t.is_empty()) {
                parts.push(Part::Reasoning {
                    content: t.to_owned(),
                });
            }
            if let Some(t) = get_str(&obj, "response", f) {
                parts.push(Part::text(t));
            }
            push_output(&mut rec, parts);
        }
        _ => {
            let mut parts = Vec::new();
            if let Some(m) = get_obj(&obj, "message", f) {
                if let Some(t) = get_str(m, "thinking", f).filter(|t| !t.is_empty()) {
                    parts.push(Part::Reasoning {
                        content: t.to_owned(),
                    });
                }
                if let Some(t) = get_str(m, "content", f).filter(|t| !t.is_empty()) {
                    parts.push(Part::text(t));
                }
                super::request::tool_call_parts(m, f, &mut parts);
            }
            push_output(&mut rec, parts);
        }
    }
    rec
}

/// Model, error, `done_reason`, token counts and durations: the fields every body and the
/// last stream line share.
fn read_common(obj: &Obj, f: &mut Faults<'_>, rec: &mut ResponseRecord) {
    rec.model = get_string(obj, "model", f);
    if obj.get("error").is_some_and(|e| !e.is_null()) {
        rec.error = Some(ProviderError {
            error_type: API_ERROR.to_owned(),
        });
    }
    let _ = get_bool(obj, "done", f);
    if let Some(r) = get_str(obj, "done_reason", f) {
        rec.finish_reasons.push(r.to_owned());
    }
    rec.usage = usage(
        get_i64(obj, "prompt_eval_count", f),
        get_i64(obj, "eval_count", f),
    );
    for (key, attr) in DURATION_KEYS {
        if let Some(ns) = get_i64(obj, key, f) {
            rec.provider_attributes.push((attr, ns));
        }
    }
}

pub(super) fn usage(input: Option<i64>, output: Option<i64>) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        total_tokens: match (input, output) {
            (Some(i), Some(o)) => Some(i.saturating_add(o)),
            _ => None,
        },
        ..Usage::default()
    }
}

fn push_output(rec: &mut ResponseRecord, parts: Vec<Part>) {
    rec.output_messages.push(OutputMessage {
        role: "assistant".into(),
        parts,
        name: None,
        finish_reason: rec.finish_reasons.first().cloned().unwrap_or_default(),
    });
}
