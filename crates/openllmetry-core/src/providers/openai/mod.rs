//! OpenAI (and OpenAI-compatible) request, response and stream parsing.
//!
//! Covers the four instrumented operations of the OpenAI wire format:
//!
//! * [`Operation::Chat`]: `POST …/chat/completions`;
//! * [`Operation::TextCompletion`]: the legacy `POST …/completions`;
//! * [`Operation::Embeddings`]: `POST …/embeddings`;
//! * [`Operation::Responses`]: the Responses API, `POST …/responses`.
//!
//! The mapping follows OpenLLMetry 0.62 and the GenAI semantic conventions v1.41:
//!
//! * chat messages, legacy prompts, embedding inputs and Responses input items become
//!   [`ChatMessage`]s whose content is split into message [`Part`]s (`text`, `blob`/`uri`/`file`
//!   for images, audio and files, `tool_call`, `tool_call_response`, anything else kept as a
//!   generic part);
//! * choices (or the Responses output items) become [`OutputMessage`]s with `text`,
//!   `reasoning`, `refusal` (generic) and `tool_call` parts;
//! * finish reasons are mapped with [`map_finish_reason`]; the Responses API's is derived from
//!   the response `status`;
//! * tokens are taken from `usage` as reported and never estimated: absent counts stay `None`.
//!
//! Nothing here panics on any input. Problems become [`FaultKind`]s (each kind reported at
//! most once per body or per stream) and the record keeps whatever could be read.
//!
//! Stream chunks are deserialized into small borrowed structs (no `serde_json::Value` on the
//! per-chunk path); content kept by a [`StreamAccumulator`] is bounded by
//! [`MAX_STREAM_CONTENT_BYTES`](crate::record::MAX_STREAM_CONTENT_BYTES) and
//! [`MAX_STREAM_ENTRIES`](crate::record::MAX_STREAM_ENTRIES).
//!
//! [`ChatMessage`]: openllmetry_semconv::message::ChatMessage
//! [`OutputMessage`]: openllmetry_semconv::message::OutputMessage
//! [`Operation::Chat`]: crate::Operation::Chat
//! [`Operation::TextCompletion`]: crate::Operation::TextCompletion
//! [`Operation::Embeddings`]: crate::Operation::Embeddings
//! [`Operation::Responses`]: crate::Operation::Responses

use openllmetry_semconv::message::Part;
use openllmetry_semconv::value::finish_reason;
use serde_json::{Map, Value};

use crate::FaultKind;
use crate::json::{
    Faults, Obj, get_array, get_bool, get_f64, get_i64, get_obj, get_str, get_str_list, get_string,
    json_error_kind, parse_object,
};
use crate::record::{ProviderError, Usage};

mod request;
mod response;
mod stream;
#[cfg(test)]
mod tests;

pub use request::parse_request;
pub use response::parse_response;
pub use stream::StreamAccumulator;

/// `error.type` of an error body or event that names neither a `type` nor a `code`
/// (OpenLLMetry's fallback value).
const API_ERROR: &str = "api_error";

/// Maps an OpenAI finish reason to the semconv value: `tool_calls` and `function_call` →
/// `tool_call`; any other value (`stop`, `length`, `content_filter`, ...) is returned
/// unchanged.
///
/// ```
/// use openllmetry_core::openai::map_finish_reason;
/// assert_eq!(map_finish_reason("tool_calls"), "tool_call");
/// assert_eq!(map_finish_reason("function_call"), "tool_call");
/// assert_eq!(map_finish_reason("length"), "length");
/// ```
pub fn map_finish_reason(raw: &str) -> &str {
    match raw {
        "tool_calls" | "function_call" => finish_reason::TOOL_CALL,
        other => other,
    }
}

// ---------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------
// Shared mappings
// ---------------------------------------------------------------------------------------

/// Tool-call arguments as sent in a string: parsed JSON when valid, else the raw string.
fn arguments_value(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()))
}

/// [`arguments_value`] of an owned string (no copy when it is not JSON).
fn arguments_from(raw: String) -> Value {
    match serde_json::from_str(&raw) {
        Ok(v) => v,
        Err(_) => Value::String(raw),
    }
}

/// Arguments field of a tool call: a string is parsed when it holds JSON; any other JSON
/// value is kept; absent or `null` → `None`.
fn arguments_field(v: Option<&Value>) -> Option<Value> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(arguments_value(s)),
        Some(other) => Some(other.clone()),
    }
}

/// A generic `{"type":"refusal","content":...}` part.
fn refusal_part(content: impl Into<String>) -> Part {
    let mut m = Map::new();
    m.insert("type".to_owned(), Value::String("refusal".to_owned()));
    m.insert("content".to_owned(), Value::String(content.into()));
    Part::Generic(m)
}

/// Splits a base64 `data:` URI into its MIME type (if any) and payload; `None` for anything
/// else (other URIs, data URIs that are not base64).
fn data_uri(uri: &str) -> Option<(Option<&str>, &str)> {
    let scheme = uri.get(..5)?;
    if !scheme.eq_ignore_ascii_case("data:") {
        return None;
    }
    let (meta, payload) = uri.get(5..)?.split_once(',')?;
    let mut fields = meta.split(';');
    let mime = fields.next().filter(|m| !m.is_empty());
    if !fields.any(|p| p.trim().eq_ignore_ascii_case("base64")) {
        return None;
    }
    Some((mime, payload))
}

/// An image (or other media) referenced by URL: a base64 data URI becomes a `blob` part,
/// any other URL a `uri` part.
fn url_part(url: &str, modality: &str) -> Part {
    match data_uri(url) {
        Some((mime, payload)) => Part::Blob {
            mime_type: mime.map(str::to_owned),
            modality: modality.to_owned(),
            content: payload.to_owned(),
        },
        None => Part::Uri {
            mime_type: None,
            modality: modality.to_owned(),
            uri: url.to_owned(),
        },
    }
}

/// One block of a content array: chat (`text`, `image_url`, `input_audio`, `file`) or
/// Responses (`input_text`, `output_text`, `input_image`, `input_file`). Anything else, and
/// a known block missing its payload, is kept as a generic part. `None` for entries that
/// cannot be a part at all (not an object, no `type`).
fn content_block(block: &Value, f: &mut Faults<'_>) -> Option<Part> {
    let b = match block {
        Value::Object(b) => b,
        Value::String(s) => {
            // Not a documented shape, but unambiguous.
            f.push(FaultKind::UnexpectedShape);
            return Some(Part::text(s.clone()));
        }
        _ => {
            f.push(FaultKind::UnexpectedShape);
            return None;
        }
    };
    let Some(kind) = b.get("type").and_then(Value::as_str) else {
        f.push(FaultKind::UnexpectedShape);
        return None;
    };
    let str_of = |o: &Obj, key: &str| o.get(key).and_then(Value::as_str).map(str::to_owned);
    let part = match kind {
        "text" | "input_text" | "output_text" => str_of(b, "text").map(Part::text),
        "image_url" => match b.get("image_url") {
            Some(Value::Object(img)) => img
                .get("url")
                .and_then(Value::as_str)
                .map(|u| url_part(u, "image")),
            Some(Value::String(u)) => Some(url_part(u, "image")),
            _ => None,
        },
        "input_audio" => match b.get("input_audio") {
            Some(Value::Object(audio)) => str_of(audio, "data").map(|content| Part::Blob {
                mime_type: audio
                    .get("format")
                    .and_then(Value::as_str)
                    .map(|fmt| format!("audio/{fmt}")),
                modality: "audio".to_owned(),
                content,
            }),
            _ => None,
        },
        "file" => match b.get("file") {
            Some(Value::Object(file)) => str_of(file, "file_id").map(|file_id| Part::File {
                mime_type: None,
                modality: "document".to_owned(),
                file_id,
            }),
            _ => None,
        },
        "input_image" => match (b.get("image_url"), b.get("file_id")) {
            (Some(Value::String(u)), _) => Some(url_part(u, "image")),
            (_, Some(Value::String(id))) => Some(Part::File {
                mime_type: None,
                modality: "image".to_owned(),
                file_id: id.clone(),
            }),
            _ => None,
        },
        "input_file" => {
            if let Some(file_id) = str_of(b, "file_id") {
                Some(Part::File {
                    mime_type: None,
                    modality: "document".to_owned(),
                    file_id,
                })
            } else if let Some(url) = b.get("file_url").and_then(Value::as_str) {
                Some(url_part(url, "document"))
            } else {
                b.get("file_data").and_then(Value::as_str).map(|data| {
                    let (mime, payload) = data_uri(data).unwrap_or((None, data));
                    Part::Blob {
                        mime_type: mime.map(str::to_owned),
                        modality: "document".to_owned(),
                        content: payload.to_owned(),
                    }
                })
            }
        }
        _ => return Some(Part::Generic(b.clone())),
    };
    Some(part.unwrap_or_else(|| Part::Generic(b.clone())))
}

/// Message `content`: a string (one text part), an array of blocks, or nothing.
fn content_parts(content: Option<&Value>, f: &mut Faults<'_>, out: &mut Vec<Part>) {
    match content {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => out.push(Part::text(s.clone())),
        Some(Value::Array(blocks)) => {
            out.extend(blocks.iter().filter_map(|b| content_block(b, f)));
        }
        Some(_) => f.push(FaultKind::UnexpectedShape),
    }
}

/// `error.type` of an error object: its `type`, else its `code` (a string or a number),
/// else `api_error`.
fn error_type_of(e: &Obj) -> String {
    let named = |key: &str| match e.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    named("type")
        .or_else(|| named("code"))
        .unwrap_or_else(|| API_ERROR.to_owned())
}

/// The provider error of an `error` field: an object names its type; a bare string (sent by
/// some OpenAI-compatible servers) is an `api_error`; absent or `null` is no error.
fn provider_error(v: Option<&Value>) -> Option<ProviderError> {
    let error_type = match v? {
        Value::Null => return None,
        Value::Object(e) => error_type_of(e),
        _ => API_ERROR.to_owned(),
    };
    Some(ProviderError { error_type })
}

/// Fills `total_tokens` from input + output when the provider did not report it (a sum of
/// reported counts, not an estimate).
fn with_total(mut u: Usage) -> Usage {
    if u.total_tokens.is_none()
        && let (Some(i), Some(o)) = (u.input_tokens, u.output_tokens)
    {
        u.total_tokens = Some(i.saturating_add(o));
    }
    u
}
