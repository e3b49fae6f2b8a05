//! Property tests over the response observer with compressed bodies (issue 10): for valid
//! and broken gzip/deflate bodies of arbitrary payloads, in arbitrary chunkings, under small
//! inflate caps and a small observation budget, the observer never panics, never inflates
//! more than its cap plus one step's output, never holds more than the budget, returns every
//! reserved byte, and records the same faults whatever the chunking (for bodies under the caps).

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use openllmetry_core::budget::ObservationBudget;
use openllmetry_core::{FaultKind, Instrumentation};
use proptest::prelude::*;

const URLS: &[&str] = &[
    "https://api.openai.com/v1/chat/completions",
    "https://api.anthropic.com/v1/messages",
    "https://api.openai.com/v1/embeddings",
];

/// Output one inflate step can produce beyond the cap (deflate expands at most ~1032x; the
/// step is `INFLATE_INPUT_STEP` compressed bytes).
const STEP_OUTPUT: usize = openllmetry_core::instrument::INFLATE_INPUT_STEP * 1100;

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..4096),
        // Highly compressible: long runs (a small bomb).
        (any::<u8>(), 0usize..300_000).prop_map(|(b, n)| vec![b; n]),
        // SSE-ish text.
        proptest::collection::vec("data: \\PC{0,60}\n\n", 0..60)
            .prop_map(|v| v.concat().into_bytes()),
    ]
}

fn compress(encoding: &str, data: &[u8]) -> Vec<u8> {
    match encoding {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        _ => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
    }
}

fn chunks<'a>(body: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    points.push(0);
    points.push(body.len());
    points.sort_unstable();
    points.dedup();
    points.windows(2).map(|w| &body[w[0]..w[1]]).collect()
}

/// Feeds `body` in `cuts` chunking; returns the faults, checking the bounds as it goes.
fn observe(
    url: &str,
    content_type: &str,
    encoding: &str,
    body: &[u8],
    cuts: &[usize],
    max_inflated: usize,
    budget: &Arc<ObservationBudget>,
) -> Vec<FaultKind> {
    let faults = Arc::new(Mutex::new(Vec::new()));
    let seen = faults.clone();
    let i = Instrumentation::builder()
        .with_metrics(false)
        .with_max_inflated_bytes(max_inflated)
        .with_observation_budget(budget.clone())
        .with_fault_hook(move |f| seen.lock().unwrap().push(f.kind))
        .build();
    let call = i
        .start(
            "POST",
            url,
            Some(br#"{"model":"m","stream":true,"messages":[]}"#),
        )
        .expect("an LLM URL");
    let mut obs = call.on_response(200, Some(content_type), Some(encoding));
    for c in chunks(body, cuts) {
        obs.on_data(c);
        assert!(obs.inflated_bytes() <= max_inflated + STEP_OUTPUT);
        assert!(budget.used() <= budget.capacity());
    }
    obs.on_end();
    assert_eq!(budget.used(), 0, "every reserved byte returned");
    let mut f = faults.lock().unwrap().clone();
    f.sort_unstable();
    f
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn compressed_bodies_are_observed_within_bounds_whatever_the_chunking(
        data in payload(),
        url in proptest::sample::select(URLS),
        content_type in prop_oneof![Just("application/json"), Just("text/event-stream")],
        encoding in prop_oneof![Just("gzip"), Just("deflate")],
        corrupt in proptest::option::of((any::<usize>(), any::<u8>())),
        cuts_a in proptest::collection::vec(any::<usize>(), 0..12),
        cuts_b in proptest::collection::vec(any::<usize>(), 0..12),
        max_inflated in prop_oneof![Just(4096usize), Just(64 * 1024), Just(1 << 20)],
        capacity in prop_oneof![Just(1024usize), Just(1 << 20)],
    ) {
        let mut body = compress(encoding, &data);
        if let Some((at, b)) = corrupt {
            let n = body.len();
            body[at % n] ^= b | 1;
        }
        let budget = ObservationBudget::new(capacity);
        let a = observe(url, content_type, encoding, &body, &cuts_a, max_inflated, &budget);
        // Chunking does not change what is recorded for a valid body under every cap (past
        // a cap, which cap is hit first depends on where the inflate steps fall).
        if corrupt.is_none() && data.len() <= 900 {
            let b = observe(url, content_type, encoding, &body, &cuts_b, max_inflated, &budget);
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn arbitrary_bytes_as_a_compressed_body_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..4096),
        encoding in prop_oneof![Just("gzip"), Just("deflate"), Just("identity")],
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let budget = ObservationBudget::new(2048);
        observe(URLS[0], "application/json", encoding, &body, &cuts, 4096, &budget);
        observe(URLS[1], "text/event-stream", encoding, &body, &cuts, 4096, &budget);
    }
}

/// A compressed body that arrives in one chunk is observed whole: the decoder's output of the
/// last piece is taken at once, not left in the decoder until a next write that never comes
/// (found by the property above: the same body in one chunk recorded nothing).
#[test]
fn a_compressed_body_in_one_chunk_is_observed_whole() {
    for encoding in ["gzip", "deflate"] {
        let body = compress(encoding, b"data: not json\n\n");
        let budget = ObservationBudget::new(1 << 20);
        let faults = observe(
            URLS[0],
            "text/event-stream",
            encoding,
            &body,
            &[],
            1 << 20,
            &budget,
        );
        assert!(
            faults.contains(&FaultKind::InvalidJson),
            "{encoding}: {faults:?}"
        );
    }
}
