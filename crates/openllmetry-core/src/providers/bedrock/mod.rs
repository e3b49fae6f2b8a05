//! Amazon Bedrock runtime: `Converse`, `ConverseStream`, `InvokeModel` and
//! `InvokeModelWithResponseStream`.
//!
//! ```text
//! POST …/model/{modelId}/converse                      -> BedrockApi::Converse
//! POST …/model/{modelId}/converse-stream               -> BedrockApi::ConverseStream
//! POST …/model/{modelId}/invoke                        -> BedrockApi::InvokeModel
//! POST …/model/{modelId}/invoke-with-response-stream   -> BedrockApi::InvokeModelWithResponseStream
//! ```
//!
//! The model id (URL-decoded) picks the body format of the invoke operations
//! ([`ModelFamily`]): Anthropic (Messages and legacy text), Amazon Nova (the Converse shape
//! with snake_case inference keys), Amazon Titan, Meta Llama, Cohere Command, Mistral and
//! AI21. Streams use the AWS event-stream binary framing ([`eventstream`]); invoke streams
//! wrap each model chunk as `{"bytes": "<base64>"}`.
//!
//! Span names follow upstream OpenLLMetry: `bedrock.converse` for the Converse operations,
//! `bedrock.completion` for the invoke operations. `gen_ai.request.model` is the model id
//! without its cross-region (`us.`, `eu.`, `apac.`, `us-gov.`, `global.`) and vendor
//! prefixes, as upstream records it (`amazon.titan-text-express-v1` → `titan-text-express-v1`).

pub mod eventstream;
pub mod request;
pub mod response;
pub mod stream;

pub use request::parse_request;
pub use response::parse_response;
pub use stream::StreamAccumulator;

use openllmetry_semconv::value::finish_reason;

/// The four Bedrock runtime operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BedrockApi {
    /// `POST /model/{modelId}/converse`.
    Converse,
    /// `POST /model/{modelId}/converse-stream`.
    ConverseStream,
    /// `POST /model/{modelId}/invoke`.
    InvokeModel,
    /// `POST /model/{modelId}/invoke-with-response-stream`.
    InvokeModelWithResponseStream,
}

impl BedrockApi {
    /// The path segment after the model id.
    pub const fn path_suffix(self) -> &'static str {
        match self {
            BedrockApi::Converse => "converse",
            BedrockApi::ConverseStream => "converse-stream",
            BedrockApi::InvokeModel => "invoke",
            BedrockApi::InvokeModelWithResponseStream => "invoke-with-response-stream",
        }
    }

    /// True for the two Converse operations.
    pub const fn is_converse(self) -> bool {
        matches!(self, BedrockApi::Converse | BedrockApi::ConverseStream)
    }

    /// True for the two streaming operations.
    pub const fn is_stream(self) -> bool {
        matches!(
            self,
            BedrockApi::ConverseStream | BedrockApi::InvokeModelWithResponseStream
        )
    }

    /// Span name (upstream OpenLLMetry's): `bedrock.converse` or `bedrock.completion`.
    pub const fn span_name(self) -> &'static str {
        if self.is_converse() {
            "bedrock.converse"
        } else {
            "bedrock.completion"
        }
    }
}

/// The body format family of an invoke call, from the model id's vendor prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ModelFamily {
    /// `anthropic.*`: Messages (`messages`) or legacy text (`prompt`).
    Anthropic,
    /// `amazon.nova*`: the Converse body shape.
    Nova,
    /// `amazon.titan*`: `inputText` / `results[].outputText`.
    Titan,
    /// `meta.*`: `prompt` / `generation`.
    Llama,
    /// `cohere.*`: `prompt` / `generations[]`, or Command R `message` / `text`.
    Cohere,
    /// `mistral.*`: `prompt` / `outputs[]`, or chat `messages` / `choices[]`.
    Mistral,
    /// `ai21.*`: `prompt` / `completions[]`.
    Ai21,
    /// Anything else (imported models, ARNs): read by the keys present.
    Other,
}

/// A detected Bedrock call: the operation and the model id from the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BedrockTarget {
    /// The operation.
    pub api: BedrockApi,
    /// The model id as sent, URL-decoded (may be an ARN or an inference profile id).
    pub model_id: String,
    /// The body format family.
    pub family: ModelFamily,
}

impl BedrockTarget {
    /// The target for `api` and the (still percent-encoded) `model_id` path segment.
    pub fn new(api: BedrockApi, raw_model_id: &str) -> Self {
        let model_id = percent_decode(raw_model_id);
        let family = family_of(&model_id);
        BedrockTarget {
            api,
            model_id,
            family,
        }
    }

    /// The model name recorded as `gen_ai.request.model` (see the [module docs](self)).
    pub fn model_name(&self) -> &str {
        model_name(&self.model_id)
    }
}

/// Splits `path` (no query) as `…/model/{modelId}/{operation}`.
pub fn parse_path(path: &str) -> Option<BedrockTarget> {
    let path = path.trim_end_matches('/');
    let (rest, op) = path.rsplit_once('/')?;
    let api = match op {
        "converse" => BedrockApi::Converse,
        "converse-stream" => BedrockApi::ConverseStream,
        "invoke" => BedrockApi::InvokeModel,
        "invoke-with-response-stream" => BedrockApi::InvokeModelWithResponseStream,
        _ => return None,
    };
    let (rest, model) = rest.rsplit_once('/')?;
    if model.is_empty() || !(rest == "/model" || rest.ends_with("/model")) {
        return None;
    }
    Some(BedrockTarget::new(api, model))
}

/// Decodes `%XX` escapes (invalid escapes are kept as written; invalid UTF-8 is replaced).
pub fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

const REGION_PREFIXES: &[&str] = &["us.", "us-gov.", "eu.", "apac.", "global.", "jp.", "au."];

fn without_region(id: &str) -> &str {
    REGION_PREFIXES
        .iter()
        .find_map(|p| id.strip_prefix(p))
        .unwrap_or(id)
}

/// The model name of a model id: cross-region and vendor prefixes removed; an ARN is kept.
pub fn model_name(model_id: &str) -> &str {
    if model_id.starts_with("arn:") {
        return model_id;
    }
    let id = without_region(model_id);
    match id.split_once('.') {
        Some((_, name)) if !name.is_empty() => name,
        _ => id,
    }
}

/// The body family of a model id.
pub fn family_of(model_id: &str) -> ModelFamily {
    if model_id.starts_with("arn:") {
        // Inference-profile ARNs end in the profile id, which names the model.
        return match model_id.rsplit_once('/') {
            Some((_, tail)) if !tail.starts_with("arn:") && tail.contains('.') => family_of(tail),
            _ => ModelFamily::Other,
        };
    }
    let id = without_region(model_id);
    let (vendor, name) = id.split_once('.').unwrap_or((id, ""));
    match vendor {
        "anthropic" => ModelFamily::Anthropic,
        "amazon" if name.starts_with("nova") => ModelFamily::Nova,
        "amazon" if name.starts_with("titan") => ModelFamily::Titan,
        "meta" => ModelFamily::Llama,
        "cohere" => ModelFamily::Cohere,
        "mistral" => ModelFamily::Mistral,
        "ai21" => ModelFamily::Ai21,
        _ => ModelFamily::Other,
    }
}

/// Maps a Bedrock or model-family stop reason to the semconv finish reason.
///
/// Converse `end_turn`/`stop_sequence` → `stop`, `max_tokens` → `length`, `tool_use` →
/// `tool_call`, `guardrail_intervened`/`content_filtered` → `content_filter`; Titan `FINISH`
/// → `stop`, `LENGTH` → `length`, `CONTENT_FILTERED` → `content_filter`; Cohere `COMPLETE`
/// → `stop`, `MAX_TOKENS` → `length`; Llama/Mistral `stop`/`length` unchanged; anything
/// else is kept as sent.
pub fn map_finish_reason(raw: &str) -> &str {
    match raw {
        "end_turn" | "stop_sequence" | "FINISH" | "COMPLETE" | "stop" | "endoftext" => {
            finish_reason::STOP
        }
        "max_tokens" | "LENGTH" | "MAX_TOKENS" | "length" => finish_reason::LENGTH,
        "tool_use" | "tool_calls" => finish_reason::TOOL_CALL,
        "guardrail_intervened" | "content_filtered" | "CONTENT_FILTERED" => {
            finish_reason::CONTENT_FILTER
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_model_ids() {
        let t = parse_path("/model/amazon.titan-text-express-v1/invoke").unwrap();
        assert_eq!(t.api, BedrockApi::InvokeModel);
        assert_eq!(t.family, ModelFamily::Titan);
        assert_eq!(t.model_name(), "titan-text-express-v1");
        let t = parse_path(
            "/bedrock/model/us.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream",
        )
        .unwrap();
        assert_eq!(t.api, BedrockApi::ConverseStream);
        assert_eq!(t.model_id, "us.anthropic.claude-3-5-sonnet-20240620-v1:0");
        assert_eq!(t.family, ModelFamily::Anthropic);
        assert_eq!(t.model_name(), "claude-3-5-sonnet-20240620-v1:0");
        let t =
            parse_path("/model/meta.llama3-70b-instruct-v1:0/invoke-with-response-stream").unwrap();
        assert_eq!(
            (t.api, t.family),
            (
                BedrockApi::InvokeModelWithResponseStream,
                ModelFamily::Llama
            )
        );
        let t =
            parse_path("/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Aimported-model%2Fabc/invoke")
                .unwrap();
        assert_eq!(t.model_id, "arn:aws:bedrock:us-east-1:1:imported-model/abc");
        assert_eq!(t.family, ModelFamily::Other);
        assert!(parse_path("/model//invoke").is_none());
        assert!(parse_path("/v1/invoke").is_none());
        assert!(parse_path("/models/x/invoke").is_none());
        assert_eq!(percent_decode("a%zz%4"), "a%zz%4");
    }

    #[test]
    fn finish_reasons() {
        assert_eq!(map_finish_reason("guardrail_intervened"), "content_filter");
        assert_eq!(map_finish_reason("FINISH"), "stop");
        assert_eq!(map_finish_reason("tool_use"), "tool_call");
        assert_eq!(map_finish_reason("weird"), "weird");
    }
}
