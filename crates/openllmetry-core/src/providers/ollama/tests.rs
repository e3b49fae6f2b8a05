use proptest::prelude::*;

use super::*;
use crate::ndjson::NdjsonParser;
use crate::{FaultKind, Operation};

/// The last two lines of an Ollama `/api/chat` stream (shape of the recorded streams).
const STREAM: &str = concat!(
    r#"{"model":"llama3","created_at":"2024-05-24T20:57:45.287166Z","message":{"role":"assistant","content":"?)"},"done":false}"#,
    "\n",
    r#"{"model":"llama3","created_at":"2024-05-24T20:57:45.320606Z","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,"total_duration":3722518334,"load_duration":1534053125,"prompt_eval_count":17,"prompt_eval_duration":179676000,"eval_count":63,"eval_duration":2006086000}"#,
    "\n",
);

fn feed(chunks: &[&[u8]]) -> (crate::ResponseRecord, Vec<FaultKind>, bool) {
    let mut p = NdjsonParser::default();
    let mut acc = StreamAccumulator::new(Operation::Chat);
    let mut faults = Vec::new();
    let mut acc_faults = Vec::new();
    for c in chunks {
        p.push(
            c,
            |e| {
                acc.push(&e, &mut acc_faults);
            },
            &mut faults,
        );
    }
    faults.extend(acc_faults);
    let done = acc.is_complete();
    (acc.finish(), faults, done)
}

#[test]
fn stream_reads_tokens_durations_and_text() {
    let (rec, faults, done) = feed(&[STREAM.as_bytes()]);
    assert!(done && faults.is_empty(), "{faults:?}");
    assert_eq!(rec.usage.input_tokens, Some(17));
    assert_eq!(rec.usage.output_tokens, Some(63));
    assert_eq!(rec.finish_reasons, ["stop"]);
    assert!(
        rec.provider_attributes
            .contains(&(TOTAL_DURATION, 3722518334))
    );
    assert!(
        rec.provider_attributes
            .contains(&(EVAL_DURATION, 2006086000))
    );
}

#[test]
fn error_line_is_a_provider_error_without_its_message() {
    let (rec, _, done) = feed(&[b"{\"error\":\"model 'x' not found\"}\n"]);
    assert!(done);
    assert_eq!(rec.error.unwrap().error_type, "api_error");
}

#[test]
fn stream_tool_calls_and_bad_lines() {
    let (rec, faults, _) = feed(&[
        b"not json\n",
        br#"{"model":"m","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Paris"}}}]},"done":false}"#,
        b"\n",
    ]);
    assert_eq!(faults, [FaultKind::InvalidJson]);
    let part = &rec.output_messages[0].parts[0];
    assert!(
        matches!(part, openllmetry_semconv::message::Part::ToolCall { name, .. } if name == "get_weather")
    );
}

#[test]
fn request_defaults_and_options() {
    let body = br#"{"model":"llama3","prompt":"p","system":"be brief","options":{"num_predict":9,"temperature":0.2,"top_k":4,"stop":["\n"],"seed":1},"format":"json"}"#;
    let rec = parse_request(Operation::TextCompletion, body, &mut Vec::new());
    assert!(rec.stream);
    assert_eq!(rec.params.max_tokens, Some(9));
    assert_eq!(rec.params.top_k, Some(4));
    assert_eq!(rec.params.output_type.as_deref(), Some("json"));
    assert_eq!(rec.system_instructions.len(), 1);
    let rec = parse_request(
        Operation::Chat,
        br#"{"model":"m","stream":false,"messages":[]}"#,
        &mut Vec::new(),
    );
    assert!(!rec.stream);
    let rec = parse_request(
        Operation::Embeddings,
        br#"{"model":"m","input":["a","b"]}"#,
        &mut Vec::new(),
    );
    assert_eq!(rec.input_messages.len(), 2);
}

#[test]
fn embed_response_counts_vectors() {
    let rec = parse_response(
        Operation::Embeddings,
        br#"{"model":"all-minilm","embeddings":[[0.1,0.2,0.3],[0.4,0.5,0.6]],"prompt_eval_count":8}"#,
        &mut Vec::new(),
    );
    assert_eq!(
        (rec.embedding_count, rec.embedding_dimensions),
        (Some(2), Some(3))
    );
    assert_eq!(rec.usage.input_tokens, Some(8));
}

proptest! {
    /// Any chunking of a valid stream gives the same record as one chunk.
    #[test]
    fn any_chunking_gives_the_same_record(cuts in proptest::collection::vec(0usize..STREAM.len(), 0..12)) {
        let bytes = STREAM.as_bytes();
        let mut cuts = cuts;
        cuts.sort_unstable();
        cuts.dedup();
        let mut chunks = Vec::new();
        let mut last = 0;
        for c in cuts {
            chunks.push(&bytes[last..c]);
            last = c;
        }
        chunks.push(&bytes[last..]);
        let whole = feed(&[bytes]);
        let split = feed(&chunks);
        prop_assert_eq!(whole.0, split.0);
        prop_assert_eq!(whole.2, split.2);
    }

    /// Arbitrary bytes in arbitrary chunks: never a panic, and the parser never buffers more
    /// than its cap.
    #[test]
    fn arbitrary_bytes_never_panic_and_stay_bounded(
        data in proptest::collection::vec(any::<u8>(), 0..4096),
        step in 1usize..300,
    ) {
        let cap = 256;
        let mut p = NdjsonParser::new(cap);
        let mut acc = StreamAccumulator::new(Operation::Chat);
        let mut faults = Vec::new();
        let mut acc_faults = Vec::new();
        for chunk in data.chunks(step) {
            p.push(chunk, |e| { acc.push(&e, &mut acc_faults); }, &mut faults);
            prop_assert!(p.buffered() <= cap);
        }
        p.finish(|e| { acc.push(&e, &mut acc_faults); }, &mut faults);
        let _ = acc.finish();
        // Each kind at most once per stream from the accumulator.
        let mut kinds = acc_faults.clone();
        kinds.sort();
        kinds.dedup();
        prop_assert_eq!(kinds.len(), acc_faults.len());
    }
}
