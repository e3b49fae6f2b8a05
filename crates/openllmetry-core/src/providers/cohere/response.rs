//! Complete (non-streamed) response bodies.

use openllmetry_semconv::message::{OutputMessage, Part};
use serde_json::Value;

use super::map_finish_reason;
use crate::json::{Faults, Obj, get_array, get_obj, get_str, get_string, int_of, parse_object};
use crate::record::Usage;
use crate::{FaultKind, Operation, ResponseRecord};

/// Parses a complete Cohere v2 response body (see the [module docs](super)).
///
/// ```
/// use openllmetry_core::{Operation, providers::cohere};
/// let body = br#"{"id":"x","message":{"role":"assistant","content":[{"type":"text","text":"Hi"}]},"finish_reason":"COMPLETE","usage":{"billed_units":{"input_tokens":7,"output_tokens":2}}}"#;
/// let rec = cohere::parse_response(Operation::Chat, body, &mut Vec::new());
/// assert_eq!(rec.finish_reasons, ["stop"]);
/// assert_eq!(rec.usage.input_tokens, Some(7));
/// ```
pub fn parse_response(op: Operation, body: &[u8], faults: &mut Vec<FaultKind>) -> ResponseRecord {
    let mut f = Faults::new(faults);
    let mut rec = ResponseRecord::default();
    let Some(obj) = parse_object(body, &mut f) else {
        return rec;
    };
    let f = &mut f;
    rec.id = get_string(&obj, "id", f);
    match op {
        Operation::Embeddings => {
            let vectors: Vec<&Value> = match obj.get("embeddings") {
                Some(Value::Array(v)) => v.iter().collect(),
                Some(Value::Object(by_type)) => by_type
                    .values()
                    .next()
                    .and_then(Value::as_array)
                    .map(|v| v.iter().collect())
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            rec.embedding_count = Some(vectors.len() as i64);
            rec.embedding_dimensions = vectors
                .first()
                .and_then(|v| v.as_array())
                .map(|a| a.len() as i64);
            if let Some(meta) = get_obj(&obj, "meta", f) {
                rec.usage = usage(meta);
            }
        }
        Operation::Rerank => {
            if let Some(meta) = get_obj(&obj, "meta", f) {
                rec.usage = usage(meta);
            }
            let _ = get_array(&obj, "results", f);
        }
        _ => {
            let finish = get_str(&obj, "finish_reason", f).map(map_finish_reason);
            if let Some(u) = get_obj(&obj, "usage", f) {
                rec.usage = usage(u);
            }
            let mut parts = Vec::new();
            if let Some(m) = get_obj(&obj, "message", f) {
                for c in get_array(m, "content", f).unwrap_or_default() {
                    content_item(c, &mut parts);
                }
                super::request::tool_call_parts(m, f, &mut parts);
            }
            if let Some(r) = &finish {
                rec.finish_reasons.push(r.clone());
            }
            rec.output_messages.push(OutputMessage {
                role: "assistant".into(),
                parts,
                name: None,
                finish_reason: finish.unwrap_or_default(),
            });
        }
    }
    rec
}

/// One `message.content` item of a response.
fn content_item(c: &Value, parts: &mut Vec<Part>) {
    let Some(o) = c.as_object() else {
        return;
    };
    match o.get("type").and_then(Value::as_str) {
        Some("text") => {
            if let Some(t) = o.get("text").and_then(Value::as_str) {
                parts.push(Part::text(t));
            }
        }
        Some("thinking") => {
            if let Some(t) = o.get("thinking").and_then(Value::as_str) {
                parts.push(Part::Reasoning {
                    content: t.to_owned(),
                });
            }
        }
        _ => parts.push(Part::Generic(o.clone())),
    }
}

/// Tokens of a `usage` (chat) or `meta` (embed, rerank) object: `billed_units` first, else
/// `tokens`.
pub(super) fn usage(u: &Obj) -> Usage {
    let pick = |key: &str| -> Option<i64> {
        ["billed_units", "tokens"].iter().find_map(|group| {
            u.get(*group)
                .and_then(Value::as_object)
                .and_then(|g| g.get(key))
                .and_then(int_of)
        })
    };
    let input = pick("input_tokens");
    let output = pick("output_tokens");
    Usage {
        input_tokens: input,
        output_tokens: output,
        total_tokens: match (input, output) {
            (Some(i), Some(o)) => Some(i.saturating_add(o)),
            (Some(i), None) => Some(i),
            _ => None,
        },
        cache_read_input_tokens: u.get("cached_tokens").and_then(int_of),
        ..Usage::default()
    }
}
