//! Bedrock streams: `ConverseStream` events and `InvokeModelWithResponseStream` chunks, both
//! carried in the AWS event-stream framing.
//!
//! The accumulator owns the [`eventstream::Decoder`]: it takes the body bytes as they pass
//! and keeps at most one partial frame ([`eventstream::MAX_FRAME_BYTES`]). A corrupt or
//! oversized frame is a [`FaultKind::EventStreamCorrupt`] / [`FaultKind::EventTooLarge`]
//! fault and ends the observation (the bytes still pass to the caller unchanged).
//! Accumulated content is capped by [`MAX_STREAM_CONTENT_BYTES`] and the blocks by
//! [`MAX_STREAM_ENTRIES`], as for the other providers.

use base64::Engine;
use openllmetry_semconv::message::{OutputMessage, Part};
use serde_json::Value;

use super::eventstream::{self, Decoder, EventStreamError, Message};
use super::response::{converse_usage, invocation_metrics_usage};
use super::{BedrockApi, BedrockTarget, ModelFamily, map_finish_reason};
use crate::detect::Operation;
use crate::fault::FaultKind;
use crate::record::{
    MAX_STREAM_CONTENT_BYTES, MAX_STREAM_ENTRIES, ProviderError, ResponseRecord, Usage,
};
use crate::sse::SseEvent;

#[derive(Debug)]
enum Block {
    Text(String),
    Reasoning(String),
    Tool {
        id: Option<String>,
        name: String,
        input: String,
    },
}

/// Accumulates one Bedrock stream into a [`ResponseRecord`].
#[derive(Debug)]
pub struct StreamAccumulator {
    api: BedrockApi,
    family: ModelFamily,
    decoder: Decoder,
    /// Invoke streams of Anthropic models carry Anthropic's own stream events.
    anthropic: Option<Box<crate::anthropic::StreamAccumulator>>,
    role: Option<String>,
    blocks: Vec<(i64, Block)>,
    stop_reason: Option<String>,
    usage: Option<Usage>,
    error: Option<ProviderError>,
    complete: bool,
    content_bytes: usize,
    truncated_reported: bool,
    /// Decoding stopped (corrupt framing): nothing more is read.
    stopped: bool,
}

impl StreamAccumulator {
    /// A fresh accumulator for `target`'s stream.
    pub fn new(target: &BedrockTarget) -> Self {
        let anthropic = (!target.api.is_converse() && target.family == ModelFamily::Anthropic)
            .then(|| Box::new(crate::anthropic::StreamAccumulator::new(Operation::Chat)));
        StreamAccumulator {
            api: target.api,
            family: target.family,
            decoder: Decoder::new(),
            anthropic,
            role: None,
            blocks: Vec::new(),
            stop_reason: None,
            usage: None,
            error: None,
            complete: false,
            content_bytes: 0,
            truncated_reported: false,
            stopped: false,
        }
    }

    /// Feeds body bytes as they pass; returns how many output chunks they completed.
    pub fn push_bytes(&mut self, data: &[u8], faults: &mut Vec<FaultKind>) -> u32 {
        if self.stopped || self.complete {
            return 0;
        }
        let mut chunks = 0u32;
        let mut decoder = std::mem::take(&mut self.decoder);
        let r = decoder.push(data, |m| {
            if !self.complete && self.on_message(m, faults) {
                chunks += 1;
            }
        });
        self.decoder = decoder;
        if let Err(e) = r {
            self.stopped = true;
            faults.push(match e {
                EventStreamError::FrameTooLarge => FaultKind::EventTooLarge,
                _ => FaultKind::EventStreamCorrupt,
            });
        }
        chunks
    }

    /// The response model seen so far (Anthropic invoke streams report one).
    pub fn model(&self) -> Option<&str> {
        self.anthropic.as_ref().and_then(|a| a.model())
    }

    /// True once the terminal event was seen (Converse `metadata`, the invoke chunk carrying
    /// `amazon-bedrock-invocationMetrics`, or an exception message).
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Decoding stopped on corrupt framing.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    fn on_message(&mut self, m: &Message<'_>, faults: &mut Vec<FaultKind>) -> bool {
        match m.header_str(":message-type") {
            Some("exception") | Some("error") => {
                let t = m
                    .header_str(":exception-type")
                    .or_else(|| m.header_str(":error-code"))
                    .unwrap_or("exception");
                self.error = Some(ProviderError {
                    error_type: t.to_owned(),
                });
                self.complete = true;
                return false;
            }
            _ => {}
        }
        let Some(event) = m.header_str(":event-type") else {
            push_once(faults, FaultKind::UnexpectedShape);
            return false;
        };
        if self.api.is_converse()
            && event == "contentBlockDelta"
            && let Some((index, text)) = text_delta(m.payload)
        {
            self.append(index, &text, 0, faults);
            return true;
        }
        let payload: Value = match serde_json::from_slice(m.payload) {
            Ok(v) => v,
            Err(e) => {
                push_once(faults, crate::json::json_error_kind(&e, m.payload));
                return false;
            }
        };
        if self.api.is_converse() {
            self.converse_event(event, &payload, faults)
        } else if event == "chunk" {
            self.invoke_chunk(&payload, faults)
        } else {
            push_once(faults, FaultKind::UnknownEvent);
            false
        }
    }

    fn block(&mut self, index: i64, faults: &mut Vec<FaultKind>) -> Option<&mut Block> {
        if let Some(pos) = self.blocks.iter().position(|(i, _)| *i == index) {
            return Some(&mut self.blocks[pos].1);
        }
        if self.blocks.len() >= MAX_STREAM_ENTRIES {
            self.truncated(faults);
            return None;
        }
        self.blocks.push((index, Block::Text(String::new())));
        self.blocks.last_mut().map(|(_, b)| b)
    }

    fn truncated(&mut self, faults: &mut Vec<FaultKind>) {
        if !self.truncated_reported {
            self.truncated_reported = true;
            faults.push(FaultKind::StreamContentTruncated);
        }
    }

    /// Appends within the content cap.
    fn append(&mut self, index: i64, piece: &str, kind: u8, faults: &mut Vec<FaultKind>) {
        if self.content_bytes + piece.len() > MAX_STREAM_CONTENT_BYTES {
            self.truncated(faults);
            return;
        }
        self.content_bytes += piece.len();
        let Some(b) = self.block(index, faults) else {
            return;
        };
        match (kind, b) {
            (0, Block::Text(s)) | (1, Block::Reasoning(s)) => s.push_str(piece),
            (2, Block::Tool { input, .. }) => input.push_str(piece),
            (1, b @ Block::Text(_)) => *b = Block::Reasoning(piece.to_owned()),
            (_, _) => {}
        }
    }

    /// One Converse stream event (also Nova invoke chunks, which use the same names).
    fn converse_event(&mut self, event: &str, p: &Value, faults: &mut Vec<FaultKind>) -> bool {
        let index = p
            .get("contentBlockIndex")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        match event {
            "messageStart" => {
                self.role = p.get("role").and_then(Value::as_str).map(str::to_owned);
                false
            }
            "contentBlockStart" => {
                if let Some(tu) = p.get("start").and_then(|s| s.get("toolUse")) {
                    let id = tu
                        .get("toolUseId")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    let name = tu
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    if let Some(b) = self.block(index, faults) {
                        *b = Block::Tool {
                            id,
                            name,
                            input: String::new(),
                        };
                    }
                }
                false
            }
            "contentBlockDelta" => {
                let Some(delta) = p.get("delta") else {
                    push_once(faults, FaultKind::UnexpectedShape);
                    return false;
                };
                if let Some(t) = delta.get("text").and_then(Value::as_str) {
                    self.append(index, t, 0, faults);
                } else if let Some(t) = delta
                    .get("toolUse")
                    .and_then(|t| t.get("input"))
                    .and_then(Value::as_str)
                {
                    self.append(index, t, 2, faults);
                } else if let Some(t) = delta
                    .get("reasoningContent")
                    .and_then(|r| r.get("text"))
                    .and_then(Value::as_str)
                {
                    self.append(index, t, 1, faults);
                }
                true
            }
            "contentBlockStop" => false,
            "messageStop" => {
                self.stop_reason = p
                    .get("stopReason")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                false
            }
            "metadata" => {
                if let Some(u) = p.get("usage").and_then(Value::as_object) {
                    self.usage = Some(converse_usage(u));
                }
                if self.api.is_converse() {
                    self.complete = true;
                }
                false
            }
            _ => {
                push_once(faults, FaultKind::UnknownEvent);
                false
            }
        }
    }

    /// One `InvokeModelWithResponseStream` chunk: `{"bytes": "<base64 of the model's chunk>"}`.
    fn invoke_chunk(&mut self, p: &Value, faults: &mut Vec<FaultKind>) -> bool {
        let Some(b64) = p.get("bytes").and_then(Value::as_str) else {
            push_once(faults, FaultKind::UnexpectedShape);
            return false;
        };
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64) else {
            push_once(faults, FaultKind::UnexpectedShape);
            return false;
        };
        let chunk: Value = match serde_json::from_slice(&raw) {
            Ok(Value::Object(o)) => Value::Object(o),
            Ok(_) => {
                push_once(faults, FaultKind::UnexpectedShape);
                return false;
            }
            Err(e) => {
                push_once(faults, crate::json::json_error_kind(&e, &raw));
                return false;
            }
        };
        let metrics = chunk
            .get("amazon-bedrock-invocationMetrics")
            .and_then(Value::as_object)
            .map(invocation_metrics_usage);
        let mut out = false;
        if let Some(a) = self.anthropic.as_mut() {
            if let Ok(text) = std::str::from_utf8(&raw) {
                out = a.push(&SseEvent::data(text), faults);
            }
        } else if let Some((key, inner)) = chunk.as_object().and_then(|o| {
            [
                "messageStart",
                "contentBlockStart",
                "contentBlockDelta",
                "contentBlockStop",
                "messageStop",
                "metadata",
            ]
            .iter()
            .find_map(|k| o.get(*k).map(|v| (*k, v)))
        }) {
            // Nova: Converse event names as keys.
            out = self.converse_event(key, inner, faults);
        } else {
            out = self.family_chunk(&chunk, faults);
        }
        if let Some(u) = metrics {
            self.usage = Some(u);
            self.complete = true;
        }
        out
    }

    /// Titan, Llama, Cohere, Mistral, AI21 and unknown chunk shapes.
    fn family_chunk(&mut self, c: &Value, faults: &mut Vec<FaultKind>) -> bool {
        let text = c
            .get("outputText")
            .or_else(|| c.get("generation"))
            .or_else(|| c.pointer("/outputs/0/text"))
            .or_else(|| c.pointer("/generations/0/text"))
            .or_else(|| c.pointer("/choices/0/message/content"))
            .or_else(|| c.pointer("/choices/0/delta/content"))
            .or_else(|| c.get("text"))
            .and_then(Value::as_str);
        let reason = c
            .get("completionReason")
            .or_else(|| c.get("stop_reason"))
            .or_else(|| c.pointer("/outputs/0/stop_reason"))
            .or_else(|| c.pointer("/generations/0/finish_reason"))
            .or_else(|| c.pointer("/choices/0/finish_reason"))
            .or_else(|| c.get("finish_reason"))
            .and_then(Value::as_str);
        if let Some(r) = reason {
            self.stop_reason = Some(r.to_owned());
        }
        // Titan and Llama report counts per chunk; the invocation metrics win when present.
        let input = c
            .get("inputTextTokenCount")
            .or_else(|| c.get("prompt_token_count"))
            .and_then(Value::as_i64);
        let output = c
            .get("totalOutputTextTokenCount")
            .or_else(|| c.get("generation_token_count"))
            .and_then(Value::as_i64);
        if input.is_some() || output.is_some() {
            let u = self.usage.get_or_insert_with(Usage::default);
            if input.is_some() {
                u.input_tokens = input;
            }
            if let (Some(o), ModelFamily::Llama) = (output, self.family) {
                u.output_tokens = Some(u.output_tokens.unwrap_or(0) + o);
            } else if output.is_some() {
                u.output_tokens = output;
            }
        }
        match text {
            Some(t) => {
                self.append(0, t, 0, faults);
                true
            }
            None => false,
        }
    }

    /// The accumulated (possibly partial) record.
    pub fn finish(self) -> ResponseRecord {
        let mut rec = match self.anthropic {
            Some(a) => a.finish(),
            None => {
                let mut rec = ResponseRecord::default();
                let parts: Vec<Part> = self
                    .blocks
                    .into_iter()
                    .filter_map(|(_, b)| match b {
                        Block::Text(s) if s.is_empty() => None,
                        Block::Text(s) => Some(Part::text(s)),
                        Block::Reasoning(s) => Some(Part::Reasoning { content: s }),
                        Block::Tool { id, name, input } => Some(Part::ToolCall {
                            id,
                            name,
                            arguments: if input.is_empty() {
                                None
                            } else {
                                Some(serde_json::from_str(&input).unwrap_or(Value::String(input)))
                            },
                        }),
                    })
                    .collect();
                let mapped = self
                    .stop_reason
                    .as_deref()
                    .map(map_finish_reason)
                    .unwrap_or("")
                    .to_owned();
                if !parts.is_empty() || !mapped.is_empty() {
                    if !mapped.is_empty() {
                        rec.finish_reasons.push(mapped.clone());
                    }
                    rec.output_messages.push(OutputMessage {
                        role: self.role.unwrap_or_else(|| "assistant".to_owned()),
                        parts,
                        name: None,
                        finish_reason: mapped,
                    });
                }
                rec
            }
        };
        if let Some(u) = self.usage
            && rec.usage.input_tokens.is_none()
            && rec.usage.output_tokens.is_none()
        {
            rec.usage = u;
        }
        if self.error.is_some() {
            rec.error = self.error;
        }
        rec
    }
}

/// The common Converse event, `contentBlockDelta` with text, read into borrowed typed structs:
/// `(contentBlockIndex, text)`. `None` for anything else (another delta, a field of another
/// type, invalid JSON), which [`StreamAccumulator::converse_event`] then reads as a [`Value`]
/// with the same outcome for every payload this accepts.
fn text_delta(payload: &[u8]) -> Option<(i64, std::borrow::Cow<'_, str>)> {
    use crate::providers::common::{Object, WStr};

    #[derive(serde::Deserialize)]
    struct Event<'a> {
        #[serde(rename = "contentBlockIndex", default)]
        index: Option<i64>,
        #[serde(borrow)]
        delta: Option<Object<TextDelta<'a>>>,
    }
    #[derive(serde::Deserialize)]
    struct TextDelta<'a> {
        #[serde(borrow)]
        text: Option<WStr<'a>>,
    }
    let Object(event) = serde_json::from_slice::<Object<Event<'_>>>(payload).ok()?;
    match event.delta?.0.text? {
        WStr::Str(text) => Some((event.index.unwrap_or(0), text)),
        WStr::Wrong => None,
    }
}

fn push_once(faults: &mut Vec<FaultKind>, kind: FaultKind) {
    if !faults.contains(&kind) {
        faults.push(kind);
    }
}

/// Encodes an `InvokeModelWithResponseStream` chunk frame around a model chunk (tests,
/// benches).
pub fn encode_invoke_chunk(model_chunk: &[u8]) -> Vec<u8> {
    let payload = serde_json::json!({
        "bytes": base64::engine::general_purpose::STANDARD.encode(model_chunk)
    });
    eventstream::encode_message(
        &[
            (":event-type", "chunk"),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::bedrock::eventstream::encode_message;

    fn ev(name: &str, payload: &str) -> Vec<u8> {
        encode_message(
            &[
                (":event-type", name),
                (":content-type", "application/json"),
                (":message-type", "event"),
            ],
            payload.as_bytes(),
        )
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// The typed read of a `contentBlockDelta` and the `Value` read agree on every payload:
        /// indices and deltas of every JSON type, present or not, with padding, in sequences
        /// (the `Value` read is the reference).
        #[test]
        fn typed_and_value_reads_of_a_delta_agree(
            events in proptest::collection::vec((0usize..10, 0usize..11, proptest::bool::ANY), 1..6),
        ) {
            const INDEX: [&str; 10] = ["0", "1", "-1", "2.0", "\"1\"", "null", "", "9223372036854775808", "[]", "3"];
            const DELTA: [&str; 11] = [
                r#"{"text":"hi"}"#, r#"{"text":5}"#, r#"{"text":null}"#,
                r#"{"toolUse":{"input":"{}"}}"#, "[]", r#""s""#, "null", r#"{"text":"a\"b\u00e9"}"#,
                "", r#"{"reasoningContent":{"text":"th"}}"#, r#"{"text":"x","text":"y"}"#,
            ];
            let t = BedrockTarget::new(BedrockApi::ConverseStream, "amazon.nova-lite-v1:0");
            let (mut fast, mut slow) = (StreamAccumulator::new(&t), StreamAccumulator::new(&t));
            let (mut fast_faults, mut slow_faults) = (Vec::new(), Vec::new());
            let mut fast_out = 0;
            let mut slow_out = 0;
            for (i, d, pad) in events {
                let mut members = Vec::new();
                if !INDEX[i].is_empty() {
                    members.push(format!(r#""contentBlockIndex":{}"#, INDEX[i]));
                }
                if !DELTA[d].is_empty() {
                    members.push(format!(r#""delta":{}"#, DELTA[d]));
                }
                if pad {
                    members.push(r#""p":"abcdefghij""#.to_owned());
                }
                let payload = format!("{{{}}}", members.join(","));
                fast_out += fast.push_bytes(&ev("contentBlockDelta", &payload), &mut fast_faults);
                let value: Value = serde_json::from_str(&payload).unwrap();
                slow_out += u32::from(slow.converse_event("contentBlockDelta", &value, &mut slow_faults));
            }
            proptest::prop_assert_eq!(fast_out, slow_out);
            proptest::prop_assert_eq!(&fast_faults, &slow_faults);
            proptest::prop_assert_eq!(fast.finish(), slow.finish());
        }
    }

    fn converse_wire() -> Vec<u8> {
        let mut w = Vec::new();
        w.extend(ev("messageStart", r#"{"role":"assistant","p":"abc"}"#));
        w.extend(ev(
            "contentBlockDelta",
            r#"{"contentBlockIndex":0,"delta":{"text":"Hel"}}"#,
        ));
        w.extend(ev(
            "contentBlockDelta",
            r#"{"contentBlockIndex":0,"delta":{"text":"lo"}}"#,
        ));
        w.extend(ev("contentBlockStop", r#"{"contentBlockIndex":0}"#));
        w.extend(ev(
            "contentBlockStart",
            r#"{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"t1","name":"f"}}}"#,
        ));
        w.extend(ev(
            "contentBlockDelta",
            r#"{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"a\":"}}}"#,
        ));
        w.extend(ev(
            "contentBlockDelta",
            r#"{"contentBlockIndex":1,"delta":{"toolUse":{"input":"1}"}}}"#,
        ));
        w.extend(ev("messageStop", r#"{"stopReason":"tool_use"}"#));
        w.extend(ev(
            "metadata",
            r#"{"usage":{"inputTokens":5,"outputTokens":7,"totalTokens":12,"cacheReadInputTokens":2},"metrics":{"latencyMs":10}}"#,
        ));
        w
    }

    #[test]
    fn converse_stream_text_and_tool_use_at_any_chunking() {
        let wire = converse_wire();
        for step in [1usize, 3, 17, wire.len()] {
            let t = BedrockTarget::new(BedrockApi::ConverseStream, "amazon.nova-lite-v1:0");
            let mut acc = StreamAccumulator::new(&t);
            let mut faults = Vec::new();
            let mut chunks = 0;
            for c in wire.chunks(step) {
                chunks += acc.push_bytes(c, &mut faults);
            }
            assert!(faults.is_empty(), "{faults:?}");
            assert!(acc.is_complete());
            assert_eq!(chunks, 4);
            let r = acc.finish();
            assert_eq!(r.finish_reasons, vec!["tool_call".to_owned()]);
            let parts = &r.output_messages[0].parts;
            assert_eq!(parts[0], Part::text("Hello"));
            assert_eq!(
                parts[1],
                Part::ToolCall {
                    id: Some("t1".into()),
                    name: "f".into(),
                    arguments: Some(serde_json::json!({"a":1}))
                }
            );
            assert_eq!(r.usage.input_tokens, Some(7));
            assert_eq!(r.usage.cache_read_input_tokens, Some(2));
        }
    }

    #[test]
    fn exception_message_is_an_error() {
        let mut w = ev("messageStart", r#"{"role":"assistant"}"#);
        w.extend(encode_message(
            &[
                (":message-type", "exception"),
                (":exception-type", "throttlingException"),
                (":content-type", "application/json"),
            ],
            br#"{"message":"slow down"}"#,
        ));
        let t = BedrockTarget::new(BedrockApi::ConverseStream, "meta.llama3");
        let mut acc = StreamAccumulator::new(&t);
        let mut faults = Vec::new();
        acc.push_bytes(&w, &mut faults);
        assert!(acc.is_complete());
        assert_eq!(
            acc.finish().error.unwrap().error_type,
            "throttlingException"
        );
    }

    #[test]
    fn corrupt_frame_stops_with_a_fault() {
        let mut w = converse_wire();
        w[20] ^= 0xff;
        let t = BedrockTarget::new(BedrockApi::ConverseStream, "meta.llama3");
        let mut acc = StreamAccumulator::new(&t);
        let mut faults = Vec::new();
        acc.push_bytes(&w, &mut faults);
        assert!(acc.is_stopped());
        assert_eq!(faults, vec![FaultKind::EventStreamCorrupt]);
    }

    #[test]
    fn titan_invoke_stream() {
        let mut w = encode_invoke_chunk(br#"{"outputText":"Hola","index":0,"totalOutputTextTokenCount":3,"completionReason":null,"inputTextTokenCount":9}"#);
        w.extend(encode_invoke_chunk(br#"{"outputText":" mundo","index":0,"totalOutputTextTokenCount":5,"completionReason":"FINISH","inputTextTokenCount":null,"amazon-bedrock-invocationMetrics":{"inputTokenCount":9,"outputTokenCount":5,"invocationLatency":1,"firstByteLatency":1}}"#));
        let t = BedrockTarget::new(
            BedrockApi::InvokeModelWithResponseStream,
            "amazon.titan-text-express-v1",
        );
        let mut acc = StreamAccumulator::new(&t);
        let mut faults = Vec::new();
        assert_eq!(acc.push_bytes(&w, &mut faults), 2);
        assert!(faults.is_empty(), "{faults:?}");
        assert!(acc.is_complete());
        let r = acc.finish();
        assert_eq!(r.output_messages[0].parts, vec![Part::text("Hola mundo")]);
        assert_eq!(r.finish_reasons, vec!["stop".to_owned()]);
        assert_eq!(
            (r.usage.input_tokens, r.usage.output_tokens),
            (Some(9), Some(5))
        );
    }
}
