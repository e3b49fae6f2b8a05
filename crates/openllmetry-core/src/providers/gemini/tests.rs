//! Gemini parser tests. `testdata/` holds bodies decoded from the vendored cassettes in
//! `openllmetry-testkit/cassettes/gemini/` (see the SOURCE.md files there); expected values
//! are literals read from those recordings.

use super::*;
use crate::sse::SseParser;
use crate::{FaultKind, Operation, SseEvent, detect};
use openllmetry_semconv::message::Part;
use proptest::prelude::*;

macro_rules! testdata {
    ($name:literal) => {
        include_bytes!(concat!("testdata/", $name)).as_slice()
    };
}

#[test]
fn finish_reason_table_follows_openllmetry() {
    for (raw, want) in [
        ("STOP", Some("stop")),
        ("MAX_TOKENS", Some("length")),
        ("SAFETY", Some("content_filter")),
        ("RECITATION", Some("content_filter")),
        ("PROHIBITED_CONTENT", Some("content_filter")),
        ("LANGUAGE", Some("content_filter")),
        ("MALFORMED_FUNCTION_CALL", Some("error")),
        ("OTHER", Some("error")),
        ("FINISH_REASON_UNSPECIFIED", None),
        ("TOTALLY_NEW_VALUE", None),
    ] {
        assert_eq!(map_finish_reason(raw), want, "{raw}");
    }
}

#[test]
fn detection_rows() {
    let t = detect(
        "POST",
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
    )
    .unwrap();
    assert_eq!(
        (t.format, t.operation, t.provider_name),
        (crate::ApiFormat::Gemini, Operation::Chat, "gcp.gemini")
    );
    assert_eq!(t.model_in_path.as_deref(), Some("gemini-2.5-flash"));
    assert!(!t.stream_in_path);
    assert_eq!(t.span_name(), "gemini.generate_content");
    assert_eq!(t.api_base, "https://generativelanguage.googleapis.com/");

    let t = detect(
        "POST",
        "http://127.0.0.1:9/v1beta/models/gemini-2.0-flash-exp:streamGenerateContent?alt=sse",
    )
    .unwrap();
    assert!(t.stream_in_path);
    assert_eq!(t.provider_name, "gcp.gemini");

    let t = detect("POST", "https://aiplatform.googleapis.com/v1beta1/projects/pydantic-ai/locations/global/publishers/google/models/gemini-2.0-flash:generateContent").unwrap();
    assert_eq!(
        (t.format, t.provider_name, t.span_name()),
        (
            crate::ApiFormat::Gemini,
            "gcp.vertex_ai",
            "vertexai.generate_content"
        )
    );
    assert_eq!(t.model_in_path.as_deref(), Some("gemini-2.0-flash"));

    let t = detect("POST", "https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514:streamRawPredict").unwrap();
    assert_eq!(
        (t.format, t.operation, t.provider_name),
        (
            crate::ApiFormat::Anthropic,
            Operation::Chat,
            "gcp.vertex_ai"
        )
    );
    assert!(t.stream_in_path);
    assert_eq!(t.model_in_path.as_deref(), Some("claude-sonnet-4@20250514"));

    let t = detect(
        "POST",
        "https://generativelanguage.googleapis.com/v1beta/models/text-embedding-004:batchEmbedContents",
    )
    .unwrap();
    assert_eq!(t.operation, Operation::Embeddings);
    assert_eq!(t.span_name(), "gemini.embed_content");

    for not_inference in [
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:countTokens",
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash",
        "https://generativelanguage.googleapis.com/v1beta/cachedContents",
    ] {
        assert!(detect("POST", not_inference).is_none(), "{not_inference}");
    }
    // The existing rows are unaffected.
    let t = detect("POST", "https://api.openai.com/v1/chat/completions").unwrap();
    assert_eq!(t.model_in_path, None);
}

#[test]
fn generate_content_response_from_openllmetry_cassette() {
    let mut faults = Vec::new();
    let r = parse_response(
        Operation::Chat,
        testdata!("client_spans.response.json"),
        &mut faults,
    );
    assert!(faults.is_empty(), "{faults:?}");
    assert_eq!(r.model.as_deref(), Some("gemini-2.5-flash"));
    assert_eq!(r.id.as_deref(), Some("-hk4afOSMZKkjuMPnJWGkAk"));
    assert_eq!(r.finish_reasons, vec!["stop".to_owned()]);
    assert_eq!(r.usage.input_tokens, Some(5));
    assert_eq!(r.usage.output_tokens, Some(877));
    assert_eq!(r.usage.total_tokens, Some(1940));
    assert_eq!(r.usage.reasoning_output_tokens, Some(1058));
    let Part::Text { content } = &r.output_messages[0].parts[0] else {
        panic!("text part")
    };
    assert!(content.starts_with("AI stands for **Artificial Intelligence**."));

    let req = parse_request(
        Operation::Chat,
        testdata!("client_spans.request.json"),
        &mut faults,
    );
    assert!(faults.is_empty());
    assert_eq!(req.input_messages.len(), 1);
    assert_eq!(req.input_messages[0].role, "user");
    assert_eq!(req.input_messages[0].parts, vec![Part::text("What is ai?")]);
}

#[test]
fn function_calls_and_system_instruction() {
    let mut faults = Vec::new();
    let r = parse_response(
        Operation::Chat,
        testdata!("tools.response.json"),
        &mut faults,
    );
    assert!(faults.is_empty(), "{faults:?}");
    let names: Vec<&str> = r.output_messages[0]
        .parts
        .iter()
        .map(|p| match p {
            Part::ToolCall { name, .. } => name.as_str(),
            _ => "other",
        })
        .collect();
    assert_eq!(names, ["generate_topic"; 3]);
    assert_eq!(r.usage.input_tokens, Some(83));
    assert_eq!(r.usage.output_tokens, Some(30));
    assert_eq!(r.usage.reasoning_output_tokens, Some(190));
    assert_eq!(r.usage.total_tokens, Some(303));
    assert_eq!(r.finish_reasons, vec!["stop".to_owned()]);

    let req = parse_request(
        Operation::Chat,
        testdata!("tools.request.json"),
        &mut faults,
    );
    assert_eq!(
        req.system_instructions,
        vec![Part::text(
            "Tell three jokes. Generate topics with the generate_topic tool."
        )]
    );
    let tools: Vec<&str> = req
        .tool_definitions
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert!(tools.contains(&"generate_topic"), "{tools:?}");
}

#[test]
fn thought_parts_are_reasoning() {
    let mut faults = Vec::new();
    let r = parse_response(
        Operation::Chat,
        testdata!("thinking.response.json"),
        &mut faults,
    );
    assert!(faults.is_empty(), "{faults:?}");
    let parts = &r.output_messages[0].parts;
    assert!(matches!(parts[0], Part::Reasoning { .. }));
    assert!(matches!(parts[1], Part::Text { .. }));
    assert_eq!(r.usage.reasoning_output_tokens, Some(1001));
    assert_eq!(r.usage.output_tokens, Some(736));
}

#[test]
fn vertex_body_is_the_same_format() {
    let mut faults = Vec::new();
    let r = parse_response(
        Operation::Chat,
        testdata!("vertex.response.json"),
        &mut faults,
    );
    assert!(faults.is_empty(), "{faults:?}");
    assert_eq!(r.model.as_deref(), Some("gemini-2.0-flash"));
    assert_eq!(r.id.as_deref(), Some("1lpeaM2zA_H_2PgPh_z--AY"));
    assert_eq!(
        (
            r.usage.input_tokens,
            r.usage.output_tokens,
            r.usage.total_tokens
        ),
        (Some(13), Some(8), Some(21))
    );
}

fn replay_sse(body: &[u8]) -> (StreamAccumulator, Vec<FaultKind>) {
    let mut parser = SseParser::default();
    let mut acc = StreamAccumulator::new(Operation::Chat);
    let mut faults = Vec::new();
    let mut acc_faults = Vec::new();
    parser.push(
        body,
        |e| {
            acc.push(&e, &mut acc_faults);
        },
        &mut faults,
    );
    faults.extend(acc_faults);
    (acc, faults)
}

#[test]
fn sse_stream_from_pydantic_cassette() {
    let (acc, faults) = replay_sse(testdata!("stream.response.sse"));
    assert!(faults.is_empty(), "{faults:?}");
    assert!(acc.is_complete());
    let r = acc.finish();
    assert_eq!(r.model.as_deref(), Some("gemini-2.0-flash-exp"));
    assert_eq!(r.id.as_deref(), Some("w1peaMz6INOvnvgPgYfPiQY"));
    assert_eq!(
        r.output_messages[0].parts,
        vec![Part::text("The capital of France is Paris.\n")]
    );
    assert_eq!(r.finish_reasons, vec!["stop".to_owned()]);
    // The last chunk's usage wins.
    assert_eq!(
        (
            r.usage.input_tokens,
            r.usage.output_tokens,
            r.usage.total_tokens
        ),
        (Some(13), Some(8), Some(21))
    );
}

/// The same recorded chunks as a JSON-array stream (what the API sends without `alt=sse`).
fn as_json_array() -> Vec<u8> {
    let text = std::str::from_utf8(testdata!("stream.response.sse")).unwrap();
    let elements: Vec<&str> = text
        .split("\r\n\r\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .collect();
    assert_eq!(elements.len(), 3);
    format!("[{}]", elements.join(",\r\n")).into_bytes()
}

fn replay_array(body: &[u8], cut: &[usize]) -> (ResponseRecordAlias, Vec<FaultKind>, usize) {
    let mut split = JsonArraySplitter::default();
    let mut acc = StreamAccumulator::new(Operation::Chat);
    let mut faults = Vec::new();
    let mut acc_faults = Vec::new();
    let mut start = 0;
    let mut max_buffered = 0;
    for &c in cut.iter().chain(std::iter::once(&body.len())) {
        let end = c.clamp(start, body.len());
        split.push(
            &body[start..end],
            |el| {
                acc.push_element(el, &mut acc_faults);
            },
            &mut faults,
        );
        max_buffered = max_buffered.max(split.buffered());
        start = end;
    }
    faults.extend(acc_faults);
    assert!(split.is_finished());
    (acc.finish(), faults, max_buffered)
}

type ResponseRecordAlias = crate::ResponseRecord;

#[test]
fn json_array_stream_matches_the_sse_stream() {
    let body = as_json_array();
    let (whole, faults, _) = replay_array(&body, &[]);
    assert!(faults.is_empty(), "{faults:?}");
    let (sse, _) = replay_sse(testdata!("stream.response.sse"));
    assert_eq!(whole, sse.finish());
    // Read whole as a buffered body, it folds the same way.
    let mut f = Vec::new();
    assert_eq!(parse_response(Operation::Chat, &body, &mut f), whole);
}

#[test]
fn oversized_json_array_element_is_skipped_and_reported() {
    let big = format!(
        "[{{\"candidates\":[{{\"content\":{{\"parts\":[{{\"text\":\"{}\"}}]}}}}]}},{{\"modelVersion\":\"m\"}}]",
        "x".repeat(200)
    );
    let mut split = JsonArraySplitter::new(64);
    let mut got = Vec::new();
    let mut faults = Vec::new();
    split.push(big.as_bytes(), |el| got.push(el.to_vec()), &mut faults);
    assert_eq!(faults, vec![FaultKind::EventTooLarge]);
    assert_eq!(got, vec![br#"{"modelVersion":"m"}"#.to_vec()]);
    assert!(split.buffered() <= 64);
}

#[test]
fn error_body_and_blocked_prompt() {
    let mut f = Vec::new();
    let r = parse_response(
        Operation::Chat,
        br#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}"#,
        &mut f,
    );
    assert_eq!(r.error.unwrap().error_type, "RESOURCE_EXHAUSTED");
    let r = parse_response(
        Operation::Chat,
        br#"{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":4,"cachedContentTokenCount":2}}"#,
        &mut f,
    );
    assert_eq!(r.finish_reasons, vec!["content_filter".to_owned()]);
    assert_eq!(r.usage.cache_read_input_tokens, Some(2));
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn embeddings() {
    let mut f = Vec::new();
    let req = parse_request(
        Operation::Embeddings,
        br#"{"requests":[{"model":"models/text-embedding-004","content":{"parts":[{"text":"a"}]}},{"model":"models/text-embedding-004","content":{"parts":[{"text":"b"}]}}]}"#,
        &mut f,
    );
    assert_eq!(req.input_messages.len(), 2);
    let r = parse_response(
        Operation::Embeddings,
        br#"{"embeddings":[{"values":[0.1,0.2,0.3]},{"values":[0.4,0.5,0.6]}]}"#,
        &mut f,
    );
    assert_eq!(
        (r.embedding_count, r.embedding_dimensions),
        (Some(2), Some(3))
    );
    assert!(f.is_empty());
}

#[test]
fn stream_content_is_bounded() {
    let mut acc = StreamAccumulator::new(Operation::Chat);
    let mut faults = Vec::new();
    let piece = "y".repeat(64 * 1024);
    let chunk = format!(r#"{{"candidates":[{{"content":{{"parts":[{{"text":"{piece}"}}]}}}}]}}"#);
    for _ in 0..(crate::record::MAX_STREAM_CONTENT_BYTES / piece.len() + 4) {
        acc.push(&SseEvent::data(&chunk), &mut faults);
    }
    assert_eq!(faults, vec![FaultKind::StreamContentTruncated]);
    let r = acc.finish();
    let Part::Text { content } = &r.output_messages[0].parts[0] else {
        panic!()
    };
    assert_eq!(content.len(), crate::record::MAX_STREAM_CONTENT_BYTES);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any chunking of the recorded JSON-array stream yields the same record, with no fault.
    #[test]
    fn json_array_any_chunking(mut cuts in proptest::collection::vec(0usize..1200, 0..12)) {
        let body = as_json_array();
        cuts.sort_unstable();
        let (whole, _, _) = replay_array(&body, &[]);
        let (chunked, faults, _) = replay_array(&body, &cuts);
        prop_assert!(faults.is_empty());
        prop_assert_eq!(chunked, whole);
    }

    /// Arbitrary bytes in arbitrary chunks: never panics, buffer stays under the cap.
    #[test]
    fn json_array_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..512),
                                  cut in 1usize..64) {
        let mut split = JsonArraySplitter::new(128);
        let mut acc = StreamAccumulator::new(Operation::Chat);
        let mut faults = Vec::new();
        let mut acc_faults = Vec::new();
        let mut framed = vec![b'['];
        framed.extend_from_slice(&body);
        for piece in framed.chunks(cut) {
            split.push(piece, |el| { acc.push_element(el, &mut acc_faults); }, &mut faults);
            prop_assert!(split.buffered() <= 128);
        }
        let _ = acc.finish();
    }
}

/// Whole `GenerateContentResponse` objects from the recordings: the three stream chunks and
/// the non-streamed tool-call and thinking responses (a stream chunk has the same shape).
fn chunk_seeds() -> Vec<serde_json::Value> {
    let mut seeds: Vec<serde_json::Value> = std::str::from_utf8(testdata!("stream.response.sse"))
        .unwrap()
        .split("\r\n\r\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    for body in [
        testdata!("tools.response.json"),
        testdata!("thinking.response.json"),
    ] {
        seeds.push(serde_json::from_slice(body).unwrap());
    }
    seeds
}

/// Every JSON pointer inside `v` (the root excepted).
fn pointers(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
    let children: Vec<(String, &serde_json::Value)> = match v {
        serde_json::Value::Object(o) => o
            .iter()
            .map(|(k, c)| {
                (
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    c,
                )
            })
            .collect(),
        serde_json::Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("{at}/{i}"), c))
            .collect(),
        _ => Vec::new(),
    };
    for (p, c) in children {
        out.push(p.clone());
        pointers(c, p, out);
    }
}

#[test]
fn recorded_chunks_take_the_typed_read() {
    for seed in chunk_seeds() {
        assert!(
            super::stream::reads_typed(seed.to_string().as_bytes()),
            "{seed}"
        );
    }
}

const REPLACEMENTS: usize = 16;

/// Values of every JSON type, to put where the API sends another one.
fn replacement(k: usize) -> serde_json::Value {
    use serde_json::json;
    [
        json!(null),
        json!(true),
        json!(7),
        json!(2.0),
        json!(1.5),
        json!(-3),
        json!("STOP"),
        json!("text"),
        json!([1, "a"]),
        json!(["x", true]),
        json!({}),
        json!({"text": "t", "thought": true}),
        json!({"text": "t", "thought": false}),
        json!({"text": "t", "thought": "yes"}),
        json!({"text": 5}),
        json!({"functionCall": {"name": "f", "args": {"a": 1}}}),
    ][k % REPLACEMENTS]
        .clone()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The typed read of a chunk and the `Value` read give the same record and the same faults
    /// for any chunk: recorded chunks with up to three members replaced by values of any type,
    /// removed, or a member duplicated in the text (the `Value` read is the reference).
    #[test]
    fn typed_and_value_reads_of_a_chunk_agree(
        seed in 0usize..5,
        edits in proptest::collection::vec((any::<usize>(), 0usize..REPLACEMENTS + 2), 0..4),
        duplicate in proptest::option::of(0usize..4),
    ) {
        let mut chunk = chunk_seeds().swap_remove(seed);
        for (at, what) in edits {
            let mut all = Vec::new();
            pointers(&chunk, String::new(), &mut all);
            if all.is_empty() {
                break;
            }
            let p = &all[at % all.len()];
            if what >= REPLACEMENTS {
                // Remove the member (or array element).
                let (parent, last) = p.rsplit_once('/').unwrap();
                match chunk.pointer_mut(parent) {
                    Some(serde_json::Value::Object(o)) => {
                        o.remove(&last.replace("~1", "/").replace("~0", "~"));
                    }
                    Some(serde_json::Value::Array(a)) => {
                        a.remove(last.parse::<usize>().unwrap());
                    }
                    _ => {}
                }
            } else if let Some(slot) = chunk.pointer_mut(p) {
                *slot = replacement(what);
            }
        }
        let mut text = chunk.to_string();
        if let Some(d) = duplicate {
            let member = ["\"responseId\":\"dup\",", "\"modelVersion\":1,", "\"candidates\":null,",
                          "\"error\":null,"][d];
            if text.len() > 2 {
                text.insert_str(1, member);
            }
        }
        let data = text.as_bytes();

        let mut fast = StreamAccumulator::new(Operation::Chat);
        let mut fast_faults = Vec::new();
        let fast_output = fast.push_element(data, &mut fast_faults);
        let mut slow = StreamAccumulator::new(Operation::Chat);
        let mut slow_faults = Vec::new();
        let slow_output = slow.push_element_as_value(data, &mut slow_faults);
        prop_assert_eq!(fast_output, slow_output, "{}", text);
        prop_assert_eq!(&fast_faults, &slow_faults, "{}", text);
        prop_assert_eq!(fast.is_complete(), slow.is_complete(), "{}", text);
        prop_assert_eq!(fast.finish(), slow.finish(), "{}", text);
    }
}
