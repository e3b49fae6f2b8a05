//! Gemini API and Vertex AI (`publishers/google`) request, response and stream parsing.
//!
//! Covers `…/models/{model}:generateContent` and `:streamGenerateContent`
//! ([`Operation::Chat`](crate::Operation::Chat)) and `:embedContent` / `:batchEmbedContents`
//! ([`Operation::Embeddings`](crate::Operation::Embeddings)), on
//! `generativelanguage.googleapis.com` and on `*-aiplatform.googleapis.com` (same bodies).
//! `:countTokens` is not an inference call and passes through uninstrumented (as Anthropic's
//! `count_tokens` does). Anthropic models on Vertex (`publishers/anthropic`) are detected as
//! the Anthropic format (see [`detect`](mod@crate::detect)).
//!
//! Mapping (OpenLLMetry 0.62 google-generativeai / vertexai, GenAI semconv v1.41):
//!
//! * `contents[]` become input messages (`model` → `assistant`, a content made only of
//!   `functionResponse` parts → `tool`); parts: `text` (`thought: true` → `reasoning`),
//!   `inlineData` → `blob`, `fileData` → `uri`, `functionCall` → `tool_call`,
//!   `functionResponse` → `tool_call_response`, anything else kept as a generic part;
//! * `systemInstruction` → `gen_ai.system_instructions`; `tools[].functionDeclarations` →
//!   tool definitions; `generationConfig` → request parameters;
//! * candidates → output messages; finish reasons with [`map_finish_reason`];
//! * `usageMetadata`: `promptTokenCount` (which includes cached tokens) → input,
//!   `candidatesTokenCount` → output (as reported), `totalTokenCount`,
//!   `cachedContentTokenCount` → cache read, `thoughtsTokenCount` → reasoning output tokens.
//!
//! The model is not in the body: it comes from the URL path ([`crate::Target`]'s
//! `model_in_path`). Streams come as SSE (`alt=sse`) or, without it, as one JSON array whose
//! elements arrive over time: [`JsonArraySplitter`] cuts that array into elements
//! incrementally with a bounded buffer. Nothing here panics on any input.

use openllmetry_semconv::message::Part;
use openllmetry_semconv::value::finish_reason;
use serde_json::{Map, Value};

use crate::json::{Faults, Obj};
use crate::record::{ProviderError, Usage};

mod framing;
mod request;
mod response;
mod stream;
#[cfg(test)]
mod tests;

pub use framing::JsonArraySplitter;
pub use request::parse_request;
pub use response::parse_response;
pub use stream::StreamAccumulator;

/// Maps a Gemini `finishReason` to the semconv value, as OpenLLMetry's
/// google-generativeai instrumentation does: `STOP` → `stop`, `MAX_TOKENS` → `length`, the
/// safety/recitation/blocklist family → `content_filter`, `MALFORMED_FUNCTION_CALL` and
/// `OTHER` → `error`; `FINISH_REASON_UNSPECIFIED` and unknown values → `None`.
///
/// ```
/// use openllmetry_core::providers::gemini::map_finish_reason;
/// assert_eq!(map_finish_reason("STOP"), Some("stop"));
/// assert_eq!(map_finish_reason("SAFETY"), Some("content_filter"));
/// assert_eq!(map_finish_reason("FINISH_REASON_UNSPECIFIED"), None);
/// ```
pub fn map_finish_reason(raw: &str) -> Option<&'static str> {
    Some(match raw {
        "STOP" => finish_reason::STOP,
        "MAX_TOKENS" => finish_reason::LENGTH,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION"
        | "LANGUAGE" => finish_reason::CONTENT_FILTER,
        "MALFORMED_FUNCTION_CALL" | "OTHER" => finish_reason::ERROR,
        _ => return None,
    })
}

/// A Gemini-API path: `…/models/{model}:{method}` → (model, method).
pub(crate) fn model_and_method(path: &str) -> Option<(&str, &str)> {
    let last = path.rsplit('/').next()?;
    let (model, method) = last.split_once(':')?;
    let before = path.get(..path.len() - last.len())?;
    if !before.ends_with("/models/") || model.is_empty() {
        return None;
    }
    Some((model, method))
}

/// The modality of a MIME type (`image/png` → `image`); documents for anything else.
fn modality(mime: Option<&str>) -> &'static str {
    match mime.and_then(|m| m.split('/').next()) {
        Some("image") => "image",
        Some("video") => "video",
        Some("audio") => "audio",
        _ => "document",
    }
}

fn generic(kind: &str, body: &Obj) -> Part {
    let mut m = Map::new();
    m.insert("type".to_owned(), Value::String(kind.to_owned()));
    for (k, v) in body {
        if k != "type" {
            m.insert(k.clone(), v.clone());
        }
    }
    Part::Generic(m)
}

/// One `Part` object of a `Content` → message parts (normally one).
pub(crate) fn part_of(v: &Value, f: &mut Faults<'_>) -> Option<Part> {
    let Value::Object(p) = v else {
        f.push(crate::FaultKind::UnexpectedShape);
        return None;
    };
    if let Some(Value::String(t)) = p.get("text") {
        return Some(if p.get("thought") == Some(&Value::Bool(true)) {
            Part::Reasoning { content: t.clone() }
        } else {
            Part::text(t.clone())
        });
    }
    let str_of = |o: &Obj, k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
    if let Some(Value::Object(d)) = p.get("inlineData") {
        let mime = str_of(d, "mimeType");
        return Some(Part::Blob {
            modality: modality(mime.as_deref()).to_owned(),
            mime_type: mime,
            content: str_of(d, "data").unwrap_or_default(),
        });
    }
    if let Some(Value::Object(d)) = p.get("fileData") {
        let mime = str_of(d, "mimeType");
        return Some(Part::Uri {
            modality: modality(mime.as_deref()).to_owned(),
            mime_type: mime,
            uri: str_of(d, "fileUri").unwrap_or_default(),
        });
    }
    if let Some(Value::Object(c)) = p.get("functionCall") {
        return Some(Part::ToolCall {
            id: str_of(c, "id"),
            name: str_of(c, "name").unwrap_or_default(),
            arguments: c.get("args").cloned(),
        });
    }
    if let Some(Value::Object(r)) = p.get("functionResponse") {
        return Some(Part::ToolCallResponse {
            id: str_of(r, "id").or_else(|| str_of(r, "name")),
            response: r.get("response").cloned().unwrap_or(Value::Null),
        });
    }
    for kind in ["executableCode", "codeExecutionResult"] {
        if let Some(Value::Object(b)) = p.get(kind) {
            return Some(generic(kind, b));
        }
    }
    // Only metadata (e.g. a bare `thoughtSignature`): nothing to record.
    None
}

/// `usageMetadata` → [`Usage`] (counts as reported; never estimated).
pub(crate) fn usage_of(u: &Obj, f: &mut Faults<'_>) -> Usage {
    use crate::json::get_i64;
    Usage {
        input_tokens: get_i64(u, "promptTokenCount", f),
        output_tokens: get_i64(u, "candidatesTokenCount", f),
        total_tokens: get_i64(u, "totalTokenCount", f),
        cache_read_input_tokens: get_i64(u, "cachedContentTokenCount", f),
        cache_creation_input_tokens: None,
        reasoning_output_tokens: get_i64(u, "thoughtsTokenCount", f),
    }
}

/// `{"error": {"code", "status", "message"}}` → `error.type` = `status`, else the code.
pub(crate) fn error_of(body: &Obj) -> Option<ProviderError> {
    let e = body.get("error")?;
    let error_type = match e {
        Value::Object(e) => match (e.get("status"), e.get("code")) {
            (Some(Value::String(s)), _) => s.clone(),
            (_, Some(Value::Number(n))) => n.to_string(),
            _ => "api_error".to_owned(),
        },
        _ => "api_error".to_owned(),
    };
    Some(ProviderError { error_type })
}
