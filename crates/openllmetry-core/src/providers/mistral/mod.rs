//! Mistral AI: chat completions (and their SSE stream), embeddings, and FIM completions
//! (`POST /v1/fim/completions`).
//!
//! Mistral's chat and embeddings bodies are OpenAI-shaped, so they are read by the OpenAI
//! parsers ([`crate::openai`]), plus Mistral's own request fields: `random_seed` (the
//! seed). A FIM request has `prompt` (the code before the gap, one user text part) and
//! `suffix` (the code after it, a second user text part), `max_tokens`, `temperature`,
//! `top_p`, `stop`, `random_seed`, `stream`; its response and stream are chat-completion
//! shaped and read as such. Span names are `mistralai.chat`, `mistralai.embeddings` (as
//! OpenLLMetry's Mistral instrumentation names them) and `mistralai.completion` (FIM).

use openllmetry_semconv::message::{ChatMessage, Part};

use crate::json::{
    Faults, get_bool, get_f64, get_i64, get_str, get_str_list, get_string, parse_object,
};
use crate::sse::SseEvent;
use crate::{FaultKind, Operation, RequestRecord, ResponseRecord, openai};

#[cfg(test)]
mod tests;

/// The OpenAI-format operation whose body shape a Mistral operation has: FIM completions
/// answer like chat completions.
const fn body_op(op: Operation) -> Operation {
    match op {
        Operation::TextCompletion => Operation::Chat,
        other => other,
    }
}

/// Parses a Mistral request body (see the [module docs](self)). Never fails.
///
/// ```
/// use openllmetry_core::{Operation, providers::mistral};
/// let body = br#"{"model":"codestral-latest","prompt":"def f(","suffix":"return 1","random_seed":7}"#;
/// let rec = mistral::parse_request(Operation::TextCompletion, body, &mut Vec::new());
/// assert_eq!(rec.params.seed, Some(7));
/// assert_eq!(rec.input_messages[0].parts.len(), 2);
/// ```
pub fn parse_request(op: Operation, body: &[u8], faults: &mut Vec<FaultKind>) -> RequestRecord {
    if op != Operation::TextCompletion {
        let mut rec = openai::parse_request(op, body, faults);
        if rec.params.seed.is_none() && contains(body, b"\"random_seed\"") {
            let mut scratch = Vec::new();
            let mut f = Faults::new(&mut scratch);
            if let Some(obj) = parse_object(body, &mut f) {
                rec.params.seed = get_i64(&obj, "random_seed", &mut f);
            }
            faults.extend(scratch);
        }
        return rec;
    }
    let mut f = Faults::new(faults);
    let mut rec = RequestRecord::default();
    let Some(obj) = parse_object(body, &mut f) else {
        return rec;
    };
    let f = &mut f;
    rec.model = get_string(&obj, "model", f);
    rec.stream = get_bool(&obj, "stream", f).unwrap_or(false);
    let p = &mut rec.params;
    p.max_tokens = get_i64(&obj, "max_tokens", f);
    p.temperature = get_f64(&obj, "temperature", f);
    p.top_p = get_f64(&obj, "top_p", f);
    p.stop_sequences = get_str_list(&obj, "stop", f);
    p.seed = get_i64(&obj, "random_seed", f);
    let mut parts = Vec::new();
    if let Some(s) = get_str(&obj, "prompt", f) {
        parts.push(Part::text(s));
    }
    if let Some(s) = get_str(&obj, "suffix", f).filter(|s| !s.is_empty()) {
        parts.push(Part::text(s));
    }
    if !parts.is_empty() {
        rec.input_messages.push(ChatMessage {
            role: "user".into(),
            parts,
            name: None,
        });
    }
    rec
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Parses a complete Mistral response body: OpenAI-shaped (FIM answers like chat).
pub fn parse_response(op: Operation, body: &[u8], faults: &mut Vec<FaultKind>) -> ResponseRecord {
    openai::parse_response(body_op(op), body, faults)
}

/// A Mistral SSE stream: OpenAI chat-completion chunks (FIM streams too).
#[derive(Debug)]
pub struct StreamAccumulator(openai::StreamAccumulator);

impl StreamAccumulator {
    /// A fresh accumulator for `op`.
    pub fn new(op: Operation) -> Self {
        StreamAccumulator(openai::StreamAccumulator::new(body_op(op)))
    }

    /// Feeds one event; true when it was an output chunk.
    pub fn push(&mut self, event: &SseEvent<'_>, faults: &mut Vec<FaultKind>) -> bool {
        self.0.push(event, faults)
    }

    /// The response model seen so far.
    pub fn model(&self) -> Option<&str> {
        self.0.model()
    }

    /// True once the terminal event was seen.
    pub fn is_complete(&self) -> bool {
        self.0.is_complete()
    }

    /// The accumulated (possibly partial) record.
    pub fn finish(self) -> ResponseRecord {
        self.0.finish()
    }
}
