//! Property tests: whatever bytes a provider sends, in whatever chunking, the body the caller
//! reads through [`ObservedBody`] is byte-identical, and nothing panics — for every provider
//! format, operation, content type and content encoding the recorder distinguishes.

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use openllmetry_core::Instrumentation;
use openllmetry_http::ObservedBody;
use proptest::prelude::*;

const URLS: &[&str] = &[
    "https://api.openai.com/v1/chat/completions",
    "https://api.openai.com/v1/completions",
    "https://api.openai.com/v1/embeddings",
    "https://api.openai.com/v1/responses",
    "https://api.anthropic.com/v1/messages",
    "https://api.anthropic.com/v1/complete",
];

fn body_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Arbitrary bytes.
        proptest::collection::vec(any::<u8>(), 0..2048),
        // SSE-shaped text with random JSON-ish payloads, events and separators.
        proptest::collection::vec(
            (
                prop_oneof![
                    Just("event: message_delta\n"),
                    Just(""),
                    Just("event: error\n"),
                    Just(": ping\n")
                ],
                "\\PC{0,80}",
                prop_oneof![Just("\n\n"), Just("\r\n\r\n"), Just("\n"), Just("\r")],
            ),
            0..40
        )
        .prop_map(|events| {
            let mut s = String::new();
            for (ev, data, sep) in events {
                s.push_str(ev);
                s.push_str("data: ");
                s.push_str(&data);
                s.push_str(sep);
            }
            s.into_bytes()
        }),
        // Truncated real-looking chunks.
        Just(
            b"data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"".to_vec()
        ),
        Just(b"{\"type\":\"message\",\"content\":[{\"type\":\"text\"".to_vec()),
    ]
}

fn split(body: &[u8], cuts: &[usize]) -> Vec<Bytes> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    points.sort_unstable();
    points.dedup();
    let mut out = Vec::new();
    let mut prev = 0;
    for p in points {
        out.push(Bytes::copy_from_slice(&body[prev..p]));
        prev = p;
    }
    out.push(Bytes::copy_from_slice(&body[prev..]));
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_caller_reads_exactly_the_provider_bytes(
        body in body_strategy(),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        url in 0..URLS.len(),
        content_type in prop_oneof![Just("text/event-stream"), Just("application/json"), Just("text/plain")],
        encoding in prop_oneof![Just(None), Just(Some("gzip")), Just(Some("deflate")), Just(Some("br"))],
        status in prop_oneof![Just(200u16), Just(400), Just(500)],
        request in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let instr = Instrumentation::builder().build();
        let call = instr.start("POST", URLS[url], Some(&request)).expect("an LLM URL");
        let observer = call.on_response(status, Some(content_type), encoding);
        let chunks = split(&body, &cuts);
        let stream = futures_util::stream::iter(chunks.into_iter().map(|c| Ok::<_, std::io::Error>(http_body::Frame::data(c))));
        let observed = ObservedBody::new(StreamBody::new(stream), Some(observer));
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let got = rt.block_on(async { observed.collect().await.map(|c| c.to_bytes()) }).unwrap();
        prop_assert_eq!(got.as_ref(), body.as_slice());
    }

    #[test]
    fn dropping_the_body_midway_never_panics(
        body in body_strategy(),
        cuts in proptest::collection::vec(any::<usize>(), 1..6),
        url in 0..URLS.len(),
        take in 0usize..4,
    ) {
        let instr = Instrumentation::builder().build();
        let call = instr.start("POST", URLS[url], Some(b"{\"stream\":true}")).expect("an LLM URL");
        let observer = call.on_response(200, Some("text/event-stream"), None);
        let chunks = split(&body, &cuts);
        let expected: Vec<u8> = chunks.iter().take(take).flat_map(|c| c.to_vec()).collect();
        let stream = futures_util::stream::iter(chunks.into_iter().map(|c| Ok::<_, std::io::Error>(http_body::Frame::data(c))));
        let mut observed = ObservedBody::new(StreamBody::new(stream), Some(observer));
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let got = rt.block_on(async {
            let mut got = Vec::new();
            for _ in 0..take {
                match observed.frame().await {
                    Some(Ok(f)) => got.extend_from_slice(&f.into_data().unwrap_or_default()),
                    _ => break,
                }
            }
            got
        });
        drop(observed);
        prop_assert_eq!(got, expected);
    }
}
