//! [`ResponseObserver`]: sees the response body as it passes to the caller, inflates it
//! (`gzip`/`deflate`, bounded), cuts streams into events (SSE, NDJSON, JSON array, AWS
//! event-stream) and feeds the provider's parser or stream accumulator.

use std::fmt;
use std::io::Write as _;

use flate2::write::{GzDecoder, ZlibDecoder};
use openllmetry_semconv::value;
use opentelemetry::trace::Span as _;

use super::call::{CallState, Outcome, finish};
use super::metrics::note_chunks;
use super::parse_skimmed_response;
use crate::budget::Reservation;
use crate::detect::{ApiFormat, Operation};
use crate::fault::FaultKind;
use crate::ndjson::NdjsonParser;
use crate::provider::{self, StreamAccumulator};
use crate::providers::gemini::JsonArraySplitter;
use crate::skim::Skim;
use crate::sse::{SseEvent, SseParser};

/// Compressed bytes inflated per step (deflate expands at most ~1032x, so one step yields at
/// most ~1 MiB before the budget is checked again).
pub const INFLATE_INPUT_STEP: usize = 1024;
enum Decoder {
    Identity,
    Gzip(Box<GzDecoder<Vec<u8>>>),
    Zlib(Box<ZlibDecoder<Vec<u8>>>),
}

/// How a stream body is cut into events.
enum Framing {
    Sse(SseParser),
    /// Gemini's JSON-array stream: each element is fed as one event's data.
    JsonArray(JsonArraySplitter),
    /// Newline-delimited JSON (Ollama): one event per line.
    Ndjson(NdjsonParser),
}

impl Framing {
    fn push(
        &mut self,
        data: &[u8],
        mut on_event: impl FnMut(SseEvent<'_>),
        faults: &mut Vec<FaultKind>,
    ) {
        match self {
            Framing::Sse(p) => p.push(data, on_event, faults),
            Framing::JsonArray(s) => s.push(
                data,
                |el| match std::str::from_utf8(el) {
                    Ok(text) => on_event(SseEvent::data(text)),
                    Err(_) => on_event(SseEvent::data("\u{fffd}")),
                },
                faults,
            ),
            Framing::Ndjson(p) => p.push(data, on_event, faults),
        }
    }
}

enum Mode {
    Buffer(Vec<u8>),
    /// A non-streamed body too large to keep (body cap or observation budget): skimmed.
    Skim(Box<Skim>),
    /// A skim that gets no more input (the decoder failed or hit its cap): what it kept is
    /// still parsed at the end.
    Skimmed(Box<Skim>),
    Stream {
        parser: Framing,
        acc: Box<StreamAccumulator>,
        done: bool,
    },
    /// Bedrock streams (AWS event-stream framing).
    EventStream {
        acc: Box<crate::providers::bedrock::StreamAccumulator>,
        done: bool,
    },
    Ignore,
}

impl Mode {
    /// No more input is observed: a skim keeps what it has, anything else is dropped.
    fn close(&mut self) {
        *self = match std::mem::replace(self, Mode::Ignore) {
            Mode::Skim(skim) | Mode::Skimmed(skim) => Mode::Skimmed(skim),
            _ => Mode::Ignore,
        };
    }

    fn is_closed(&self) -> bool {
        matches!(self, Mode::Ignore | Mode::Skimmed(_))
    }
}

/// Observes a response body as it passes to the caller. See the [module docs](super).
pub struct ResponseObserver {
    state: Option<CallState>,
    status: u16,
    decoder: Option<Decoder>,
    mode: Mode,
    scratch: Vec<u8>,
    /// Bytes inflated so far (compressed bodies only).
    inflated: usize,
    /// Observation budget held for the accumulated body (non-streamed responses).
    reservation: Option<Reservation>,
}

impl fmt::Debug for ResponseObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseObserver")
            .field("status", &self.status)
            .field("active", &self.state.is_some())
            .finish_non_exhaustive()
    }
}

impl ResponseObserver {
    /// The observer of the body of the response whose head just arrived: picks the decoder
    /// (`Content-Encoding`) and the framing (`Content-Type`, provider) for the call.
    pub(super) fn new(
        mut state: CallState,
        status: u16,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
    ) -> Self {
        let ct = content_type.map(str::to_ascii_lowercase);
        let ndjson = state.target.format == ApiFormat::Ollama
            && ct.as_deref().is_some_and(|ct| ct.contains("ndjson"));
        let streaming = status < 400
            && (ndjson
                || ct
                    .as_deref()
                    .is_some_and(|ct| ct.contains("text/event-stream")));
        // `streamGenerateContent` without `alt=sse`: one JSON array, elements over time.
        let json_array = !streaming
            && status < 400
            && state.target.format == ApiFormat::Gemini
            && state.target.stream_in_path;
        let decoder = match content_encoding.map(|e| e.trim().to_ascii_lowercase()) {
            None => Some(Decoder::Identity),
            Some(e) if e.is_empty() || e == "identity" => Some(Decoder::Identity),
            Some(e) if e == "gzip" || e == "x-gzip" => {
                Some(Decoder::Gzip(Box::new(GzDecoder::new(Vec::new()))))
            }
            Some(e) if e == "deflate" => {
                Some(Decoder::Zlib(Box::new(ZlibDecoder::new(Vec::new()))))
            }
            Some(_) => {
                state.faults.push(FaultKind::UnsupportedEncoding);
                None
            }
        };
        let event_stream = status < 400
            && state.target.bedrock.is_some()
            && content_type.is_some_and(|ct| {
                ct.to_ascii_lowercase()
                    .contains("application/vnd.amazon.eventstream")
            });
        let mode = match decoder {
            None => Mode::Ignore,
            Some(_) if event_stream => match &state.target.bedrock {
                Some(b) => Mode::EventStream {
                    acc: Box::new(crate::providers::bedrock::StreamAccumulator::new(b)),
                    done: false,
                },
                None => Mode::Ignore,
            },
            Some(_) if streaming || json_array => Mode::Stream {
                parser: if json_array {
                    Framing::JsonArray(JsonArraySplitter::default())
                } else if ndjson {
                    Framing::Ndjson(NdjsonParser::default())
                } else {
                    Framing::Sse(SseParser::default())
                },
                acc: Box::new(StreamAccumulator::new(
                    state.target.format,
                    state.target.operation,
                )),
                done: false,
            },
            Some(_) => Mode::Buffer(Vec::new()),
        };
        let reservation = state.inner.budget.empty();
        ResponseObserver {
            state: Some(state),
            status,
            decoder,
            mode,
            scratch: Vec::new(),
            inflated: 0,
            reservation: Some(reservation),
        }
    }

    pub(super) fn inert() -> Self {
        ResponseObserver {
            state: None,
            status: 0,
            decoder: None,
            mode: Mode::Ignore,
            scratch: Vec::new(),
            inflated: 0,
            reservation: None,
        }
    }

    /// Whether the observer still records (false once the span ended).
    pub fn is_active(&self) -> bool {
        self.state.is_some()
    }

    /// Feeds a chunk of the (possibly compressed) body, exactly as the caller receives it.
    ///
    /// A compressed chunk is inflated [`INFLATE_INPUT_STEP`] bytes at a time, each step's
    /// output observed before the next, so memory stays bounded whatever the ratio; once an
    /// observation bound is reached nothing more is inflated.
    pub fn on_data(&mut self, chunk: &[u8]) {
        if self.state.is_none() || chunk.is_empty() || self.mode.is_closed() {
            return;
        }
        let mut decoder = self.decoder.take();
        match &mut decoder {
            Some(Decoder::Identity) | None => self.observe(chunk),
            Some(d) => {
                let mut scratch = std::mem::take(&mut self.scratch);
                for piece in chunk.chunks(INFLATE_INPUT_STEP) {
                    scratch.clear();
                    let ok = match d {
                        Decoder::Gzip(d) => {
                            // `flush` hands over what the decoder still holds from this
                            // piece (a write keeps its last output until the next call).
                            let ok = d.write_all(piece).is_ok() && d.flush().is_ok();
                            std::mem::swap(&mut scratch, d.get_mut());
                            ok
                        }
                        Decoder::Zlib(d) => {
                            // `flush` hands over what the decoder still holds from this
                            // piece (a write keeps its last output until the next call).
                            let ok = d.write_all(piece).is_ok() && d.flush().is_ok();
                            std::mem::swap(&mut scratch, d.get_mut());
                            ok
                        }
                        Decoder::Identity => true,
                    };
                    let Some(state) = self.state.as_mut() else {
                        return;
                    };
                    if !ok {
                        state.faults.push(FaultKind::DecodeFailed);
                        self.mode.close();
                        return;
                    }
                    self.inflated = self.inflated.saturating_add(scratch.len());
                    if self.inflated > state.inner.max_inflated_bytes {
                        state.faults.push(FaultKind::InflatedTooLarge);
                        state.truncated = true;
                        self.mode.close();
                        // The decoder is dropped: the rest passes through uninflated.
                        return;
                    }
                    self.observe(&scratch);
                    if self.state.is_none() || self.mode.is_closed() {
                        return;
                    }
                }
                scratch.clear();
                self.scratch = scratch;
            }
        }
        self.decoder = decoder;
    }

    /// Bytes inflated so far for observation (0 for an uncompressed body).
    pub fn inflated_bytes(&self) -> usize {
        self.inflated
    }

    /// Observes decoded body bytes.
    fn observe(&mut self, data: &[u8]) {
        let Some(state) = self.state.as_mut() else {
            return;
        };
        match &mut self.mode {
            Mode::Ignore | Mode::Skimmed(_) => {}
            Mode::Skim(skim) => skim.push(data),
            Mode::Buffer(buf) => {
                let fault = if buf.len() + data.len() > state.inner.max_body_bytes {
                    Some(FaultKind::BodyTooLarge)
                } else if !self.reservation.as_mut().is_none_or(|r| r.grow(data.len())) {
                    // The process-wide observation budget is spent.
                    Some(FaultKind::ObservationBudget)
                } else {
                    None
                };
                // Only a decoder's output counts as inflated: non-zero means compressed.
                let compressed = self.inflated > 0;
                if fault == Some(FaultKind::BodyTooLarge) && compressed {
                    // A compressed body past the body cap is no longer inflated at all (a
                    // decompression bomb costs at most the cap).
                    state.faults.push(FaultKind::BodyTooLarge);
                    state.truncated = true;
                    self.mode = Mode::Ignore;
                    self.reservation = None;
                } else if let Some(fault) = fault {
                    // Too large to keep, or no budget to keep it: skimmed from here on (what
                    // was kept so far, then the rest as it passes), and the copy released.
                    state.faults.push(fault);
                    state.truncated = true;
                    let mut skim = Box::new(Skim::new());
                    skim.push(buf);
                    skim.push(data);
                    self.mode = Mode::Skim(skim);
                    self.reservation = None;
                } else {
                    buf.extend_from_slice(data);
                }
            }
            Mode::EventStream { acc, done } => {
                if *done {
                    return;
                }
                let chunks = acc.push_bytes(data, &mut state.faults);
                if acc.is_stopped() {
                    state.truncated = true;
                }
                if chunks > 0 {
                    note_chunks(state, chunks, acc.model());
                }
                // Once the framing is lost (`is_stopped`) the accumulator reads nothing more;
                // the span ends with what it had when the body ends.
                if acc.is_complete() {
                    *done = true;
                    self.complete(Outcome::Complete);
                }
            }
            Mode::Stream { parser, acc, done } => {
                if *done {
                    return;
                }
                let chunk_events = state.target.format == ApiFormat::OpenAi
                    && state.target.operation == Operation::Chat;
                let mut chunks = 0u32;
                let mut acc_faults = Vec::new();
                parser.push(
                    data,
                    |event| {
                        if !*done && acc.push(&event, &mut acc_faults) {
                            chunks += 1;
                        }
                        if acc.is_complete() {
                            *done = true;
                        }
                    },
                    &mut state.faults,
                );
                state.faults.append(&mut acc_faults);
                if chunks > 0 {
                    note_chunks(state, chunks, acc.model());
                    if chunk_events {
                        for _ in 0..chunks {
                            state
                                .span
                                .add_event(value::event::CONTENT_COMPLETION_CHUNK, Vec::new());
                        }
                    }
                }
                if *done {
                    self.complete(Outcome::Complete);
                }
            }
        }
    }

    /// The recorder panicked while observing (caught by the caller's panic guard): records
    /// [`FaultKind::RecorderPanicked`], drops the partial data (it may be inconsistent) and
    /// ends the span once, marked incomplete. Does nothing if the span already ended.
    pub fn on_panic(mut self) {
        if let Some(state) = self.state.as_mut() {
            state.faults.push(FaultKind::RecorderPanicked);
        }
        self.decoder = None;
        self.mode = Mode::Ignore;
        self.complete(Outcome::Incomplete);
    }

    /// The body ended normally.
    pub fn on_end(mut self) {
        self.complete_at_end();
    }

    fn complete_at_end(&mut self) {
        // A last NDJSON line without its newline.
        if let (
            Some(state),
            Mode::Stream {
                parser: Framing::Ndjson(p),
                acc,
                done: done @ false,
            },
        ) = (self.state.as_mut(), &mut self.mode)
        {
            let mut acc_faults = Vec::new();
            p.finish(
                |event| {
                    acc.push(&event, &mut acc_faults);
                    if acc.is_complete() {
                        *done = true;
                    }
                },
                &mut state.faults,
            );
            state.faults.append(&mut acc_faults);
        }
        self.note_unfinished_stream();
        let outcome = match &self.mode {
            Mode::Stream { done: false, .. } | Mode::EventStream { done: false, .. } => {
                Outcome::Incomplete
            }
            _ => Outcome::Complete,
        };
        self.complete(outcome);
    }

    /// The body failed mid-way (connection reset, upstream closed). Ends the span with status
    /// ERROR and `error.type` = `error_type`, keeping the partial data.
    pub fn on_error(mut self, error_type: &str) {
        self.note_unfinished_stream();
        self.complete(Outcome::Error(error_type));
    }

    /// The provider's event stream ended or failed before its terminal event: a
    /// [`FaultKind::StreamIncomplete`]. (A caller dropping the body early is not a fault.)
    fn note_unfinished_stream(&mut self) {
        if let (
            Some(state),
            Mode::Stream { done: false, .. } | Mode::EventStream { done: false, .. },
        ) = (self.state.as_mut(), &self.mode)
        {
            state.faults.push(FaultKind::StreamIncomplete);
        }
    }

    fn complete(&mut self, outcome: Outcome<'_>) {
        let Some(mut state) = self.state.take() else {
            return;
        };
        let mode = std::mem::replace(&mut self.mode, Mode::Ignore);
        // Flush what the decoder still holds.
        let tail = match self.decoder.take() {
            Some(Decoder::Gzip(d)) => d.finish().ok(),
            Some(Decoder::Zlib(d)) => d.finish().ok(),
            _ => None,
        };
        let response = match mode {
            Mode::Ignore => None,
            Mode::Buffer(mut buf) => {
                if let Some(t) = tail {
                    buf.extend_from_slice(&t);
                }
                if buf.is_empty() {
                    None
                } else {
                    Some(provider::parse_response_for(
                        &state.target,
                        &buf,
                        &mut state.faults,
                    ))
                }
            }
            Mode::Skim(mut skim) | Mode::Skimmed(mut skim) => {
                if let Some(t) = tail {
                    skim.push(&t);
                }
                parse_skimmed_response(&state.target, skim.finish(), &mut state.faults)
            }
            Mode::Stream { acc, .. } => Some(acc.finish()),
            Mode::EventStream { acc, .. } => Some(acc.finish()),
        };
        finish(state, self.status, response, outcome);
    }
}

impl Drop for ResponseObserver {
    fn drop(&mut self) {
        if self.state.is_some() {
            // The caller dropped the body before its end: record what we have.
            let outcome = match &self.mode {
                Mode::Stream { done: true, .. } | Mode::EventStream { done: true, .. } => {
                    Outcome::Complete
                }
                _ => Outcome::Incomplete,
            };
            self.complete(outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use openllmetry_semconv::attr;

    use super::*;
    use crate::budget::ObservationBudget;
    use crate::instrument::tests::{CHAT_URL, any_value_contains, has_true, recording, str_attr};
    use crate::instrument::{DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_INFLATED_BYTES, Instrumentation};

    /// A gzip member holding `mib` MiB of zeros, built without compressing them all: after a
    /// full flush the deflate state is reset, so each further MiB of zeros compresses to the
    /// same bytes, which are repeated. (The trailer's CRC is left zero: the observer must stop
    /// long before it.)
    fn gzip_bomb(mib: usize) -> Vec<u8> {
        use flate2::{Compress, Compression, FlushCompress};
        let zeros = vec![0u8; 1 << 20];
        let mut c = Compress::new(Compression::best(), false);
        let unit = |c: &mut Compress| {
            let mut out = Vec::with_capacity(64 * 1024);
            let before = c.total_in();
            while c.total_in() - before < zeros.len() as u64 {
                let done = (c.total_in() - before) as usize;
                c.compress_vec(&zeros[done..], &mut out, FlushCompress::Full)
                    .expect("compress");
            }
            c.compress_vec(&[], &mut out, FlushCompress::Full)
                .expect("flush");
            out
        };
        let first = unit(&mut c);
        let second = unit(&mut c);
        assert_eq!(second, unit(&mut c), "the repeated unit is stable");
        let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        gz.extend_from_slice(&first);
        for _ in 1..mib {
            gz.extend_from_slice(&second);
        }
        gz.extend_from_slice(&[0; 8]);
        gz
    }
    #[test]
    fn past_the_observation_budget_a_response_body_is_not_kept() {
        let budget = ObservationBudget::new(4096);
        let (i, exporter, faults, _p) = recording(budget.clone());
        let call = i.start("POST", CHAT_URL, Some(b"{}")).unwrap();
        let mut obs = call.on_response(200, Some("application/json"), None);
        for _ in 0..8 {
            obs.on_data(&[b' '; 1000]);
            assert!(budget.used() <= 4096);
        }
        obs.on_end();
        assert_eq!(budget.used(), 0);
        let spans = exporter.get_finished_spans().unwrap();
        assert!(has_true(&spans[0], attr::OPENLLMETRY_RESPONSE_TRUNCATED));
        assert_eq!(*faults.lock().unwrap(), vec![FaultKind::ObservationBudget]);
    }
    /// A chat completion whose `choices` are `content_len` bytes of completion text.
    fn chat_response(content_len: usize) -> String {
        format!(
            r#"{{"id":"chatcmpl-9","object":"chat.completion","model":"gpt-4o-2024-08-06","choices":[{{"index":0,"message":{{"role":"assistant","content":"secret {}"}},"finish_reason":"stop"}}],"usage":{{"prompt_tokens":11,"completion_tokens":22,"total_tokens":33}}}}"#,
            "c".repeat(content_len)
        )
    }

    #[test]
    fn past_the_observation_budget_a_response_is_skimmed_for_its_usage() {
        let budget = ObservationBudget::new(4096);
        let (i, exporter, faults, _p) = recording(budget.clone());
        let call = i.start("POST", CHAT_URL, Some(b"{}")).unwrap();
        let mut obs = call.on_response(200, Some("application/json"), None);
        for piece in chat_response(20_000).as_bytes().chunks(1000) {
            obs.on_data(piece);
            assert!(budget.used() <= 4096);
        }
        obs.on_end();
        assert_eq!(budget.used(), 0);
        let span = &exporter.get_finished_spans().unwrap()[0];
        assert!(has_true(span, attr::OPENLLMETRY_RESPONSE_TRUNCATED));
        assert_eq!(
            str_attr(span, "gen_ai.response.id").0.as_deref(),
            Some("chatcmpl-9")
        );
        let tokens = |key: &str| {
            span.attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.clone())
        };
        assert_eq!(
            tokens("gen_ai.usage.input_tokens"),
            Some(opentelemetry::Value::I64(11))
        );
        assert_eq!(
            tokens("gen_ai.usage.output_tokens"),
            Some(opentelemetry::Value::I64(22))
        );
        assert!(
            !any_value_contains(span, "secret"),
            "no completion text in the skim tier"
        );
        assert_eq!(*faults.lock().unwrap(), vec![FaultKind::ObservationBudget]);
    }

    #[test]
    fn an_uncompressed_response_over_the_body_cap_is_skimmed_a_compressed_one_is_dropped() {
        let body = chat_response(8 * 1024);
        for compressed in [false, true] {
            let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
            let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
                .with_simple_exporter(exporter.clone())
                .build();
            let i = Instrumentation::builder()
                .with_tracer_provider(&provider)
                .with_max_body_bytes(1024)
                .build();
            let call = i.start("POST", CHAT_URL, Some(b"{}")).unwrap();
            let bytes = if compressed {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(body.as_bytes()).unwrap();
                e.finish().unwrap()
            } else {
                body.clone().into_bytes()
            };
            let encoding = compressed.then_some("gzip");
            let mut obs = call.on_response(200, Some("application/json"), encoding);
            for piece in bytes.chunks(512) {
                obs.on_data(piece);
            }
            obs.on_end();
            let span = &exporter.get_finished_spans().unwrap()[0];
            assert!(has_true(span, attr::OPENLLMETRY_RESPONSE_TRUNCATED));
            let input_tokens = span
                .attributes
                .iter()
                .any(|kv| kv.key.as_str() == "gen_ai.usage.input_tokens");
            assert_eq!(input_tokens, !compressed, "compressed: {compressed}");
            assert!(!any_value_contains(span, "secret"));
        }
    }

    #[test]
    fn gzip_bomb_is_inflated_only_up_to_the_budget() {
        // 5 GiB of zeros in a few MB of gzip (issue 10, item 5), streamed and not.
        let bomb = gzip_bomb(5 * 1024);
        assert!(bomb.len() < 16 << 20, "{}", bomb.len());
        for (content_type, fault) in [
            ("text/event-stream", FaultKind::InflatedTooLarge),
            ("application/json", FaultKind::BodyTooLarge),
        ] {
            let faults = Arc::new(std::sync::Mutex::new(Vec::new()));
            let seen = faults.clone();
            let i = Instrumentation::builder()
                .with_fault_hook(move |f| seen.lock().unwrap().push(f.kind))
                .build();
            let call = i
                .start(
                    "POST",
                    "https://api.openai.com/v1/chat/completions",
                    Some(br#"{"model":"m","stream":true}"#),
                )
                .expect("an LLM URL");
            let mut obs = call.on_response(200, Some(content_type), Some("gzip"));
            for c in bomb.chunks(16 * 1024) {
                obs.on_data(c);
            }
            let inflated = obs.inflated_bytes();
            // Stopped within one step (at most ~1 MiB) past the smaller applicable cap.
            let cap = if fault == FaultKind::BodyTooLarge {
                DEFAULT_MAX_BODY_BYTES
            } else {
                DEFAULT_MAX_INFLATED_BYTES
            };
            assert!(
                inflated <= cap + (2 << 20),
                "{content_type}: inflated {inflated} bytes"
            );
            assert!(inflated >= cap / 2, "{content_type}: {inflated}");
            obs.on_end();
            assert_eq!(*faults.lock().unwrap(), {
                let mut v = vec![fault];
                if content_type == "text/event-stream" {
                    // The zeros are one never-ending SSE event; observation stopped before
                    // the end, so the stream's end is not judged.
                    v.insert(0, FaultKind::EventTooLarge);
                }
                v
            });
        }
    }
}
