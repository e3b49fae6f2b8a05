//! Dispatch from a [`Target`]'s wire format to that provider's parsers.

use crate::detect::Target;
use crate::detect::{ApiFormat, Operation};
use crate::fault::FaultKind;
use crate::providers::{bedrock, cohere, gemini, mistral, ollama};
use crate::record::{RequestRecord, ResponseRecord};
use crate::sse::SseEvent;
use crate::{anthropic, openai};

/// Parses a request body of `format`/`op`.
pub fn parse_request(
    format: ApiFormat,
    op: Operation,
    body: &[u8],
    faults: &mut Vec<FaultKind>,
) -> RequestRecord {
    match format {
        ApiFormat::OpenAi => openai::parse_request(op, body, faults),
        ApiFormat::Anthropic => anthropic::parse_request(op, body, faults),
        ApiFormat::Gemini => gemini::parse_request(op, body, faults),
        ApiFormat::Ollama => ollama::parse_request(op, body, faults),
        ApiFormat::Cohere => cohere::parse_request(op, body, faults),
        ApiFormat::Mistral => mistral::parse_request(op, body, faults),
        // Bedrock needs the model id from the path: see `parse_request_for`.
        ApiFormat::Bedrock => RequestRecord::default(),
    }
}

/// Parses a complete, decoded response body of `format`/`op`.
pub fn parse_response(
    format: ApiFormat,
    op: Operation,
    body: &[u8],
    faults: &mut Vec<FaultKind>,
) -> ResponseRecord {
    match format {
        ApiFormat::OpenAi => openai::parse_response(op, body, faults),
        ApiFormat::Anthropic => anthropic::parse_response(op, body, faults),
        ApiFormat::Gemini => gemini::parse_response(op, body, faults),
        ApiFormat::Ollama => ollama::parse_response(op, body, faults),
        ApiFormat::Cohere => cohere::parse_response(op, body, faults),
        ApiFormat::Mistral => mistral::parse_response(op, body, faults),
        ApiFormat::Bedrock => ResponseRecord::default(),
    }
}

/// Parses a request body for `target` (Bedrock reads its model id from the target).
pub fn parse_request_for(
    target: &Target,
    body: &[u8],
    faults: &mut Vec<FaultKind>,
) -> RequestRecord {
    match &target.bedrock {
        Some(b) => bedrock::parse_request(b, body, faults),
        None => parse_request(target.format, target.operation, body, faults),
    }
}

/// Parses a complete, decoded response body for `target`.
pub fn parse_response_for(
    target: &Target,
    body: &[u8],
    faults: &mut Vec<FaultKind>,
) -> ResponseRecord {
    match &target.bedrock {
        Some(b) => bedrock::parse_response(b, body, faults),
        None => parse_response(target.format, target.operation, body, faults),
    }
}

/// A stream accumulator of either provider.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per stream, always boxed by the recorder
pub enum StreamAccumulator {
    /// OpenAI format.
    OpenAi(openai::StreamAccumulator),
    /// Anthropic format.
    Anthropic(anthropic::StreamAccumulator),
    /// Gemini / Vertex AI format.
    Gemini(gemini::StreamAccumulator),
    /// Ollama NDJSON stream (one event per line).
    Ollama(ollama::StreamAccumulator),
    /// Cohere v2 chat stream.
    Cohere(cohere::StreamAccumulator),
    /// Mistral AI stream.
    Mistral(mistral::StreamAccumulator),
}

impl StreamAccumulator {
    /// A fresh accumulator for `format`/`op`.
    pub fn new(format: ApiFormat, op: Operation) -> Self {
        match format {
            ApiFormat::OpenAi => StreamAccumulator::OpenAi(openai::StreamAccumulator::new(op)),
            // Bedrock streams are AWS event-stream framed, not SSE: the recorder builds a
            // `bedrock::StreamAccumulator` from the target instead. This SSE accumulator
            // only stands in so the match is total.
            ApiFormat::Anthropic | ApiFormat::Bedrock => {
                StreamAccumulator::Anthropic(anthropic::StreamAccumulator::new(op))
            }
            ApiFormat::Gemini => StreamAccumulator::Gemini(gemini::StreamAccumulator::new(op)),
            ApiFormat::Ollama => StreamAccumulator::Ollama(ollama::StreamAccumulator::new(op)),
            ApiFormat::Cohere => StreamAccumulator::Cohere(cohere::StreamAccumulator::new(op)),
            ApiFormat::Mistral => StreamAccumulator::Mistral(mistral::StreamAccumulator::new(op)),
        }
    }

    /// Feeds one event; true when it was an output chunk.
    pub fn push(&mut self, event: &SseEvent<'_>, faults: &mut Vec<FaultKind>) -> bool {
        match self {
            StreamAccumulator::OpenAi(a) => a.push(event, faults),
            StreamAccumulator::Anthropic(a) => a.push(event, faults),
            StreamAccumulator::Gemini(a) => a.push(event, faults),
            StreamAccumulator::Ollama(a) => a.push(event, faults),
            StreamAccumulator::Cohere(a) => a.push(event, faults),
            StreamAccumulator::Mistral(a) => a.push(event, faults),
        }
    }

    /// The response model seen so far, if any.
    pub fn model(&self) -> Option<&str> {
        match self {
            StreamAccumulator::OpenAi(a) => a.model(),
            StreamAccumulator::Anthropic(a) => a.model(),
            StreamAccumulator::Gemini(a) => a.model(),
            StreamAccumulator::Ollama(a) => a.model(),
            StreamAccumulator::Cohere(a) => a.model(),
            StreamAccumulator::Mistral(a) => a.model(),
        }
    }

    /// True once the provider's terminal event was seen.
    pub fn is_complete(&self) -> bool {
        match self {
            StreamAccumulator::OpenAi(a) => a.is_complete(),
            StreamAccumulator::Anthropic(a) => a.is_complete(),
            StreamAccumulator::Gemini(a) => a.is_complete(),
            StreamAccumulator::Ollama(a) => a.is_complete(),
            StreamAccumulator::Cohere(a) => a.is_complete(),
            StreamAccumulator::Mistral(a) => a.is_complete(),
        }
    }

    /// The accumulated (possibly partial) record.
    pub fn finish(self) -> ResponseRecord {
        match self {
            StreamAccumulator::OpenAi(a) => a.finish(),
            StreamAccumulator::Anthropic(a) => a.finish(),
            StreamAccumulator::Gemini(a) => a.finish(),
            StreamAccumulator::Ollama(a) => a.finish(),
            StreamAccumulator::Cohere(a) => a.finish(),
            StreamAccumulator::Mistral(a) => a.finish(),
        }
    }
}
