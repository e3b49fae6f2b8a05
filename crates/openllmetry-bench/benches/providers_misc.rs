//! Per-chunk cost of the Ollama NDJSON path (line splitting + accumulation), the Cohere v2
//! SSE accumulator and the Mistral (OpenAI-shaped) accumulator, on the recorded streams of
//! `openllmetry-testkit/cassettes/openllmetry-misc`. Reported per stream and divided by
//! the number of chunks in the notes (`docs/notes/prov-misc.md`).

use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use openllmetry_core::ndjson::NdjsonParser;
use openllmetry_core::providers::{cohere, mistral, ollama};
use openllmetry_core::{Operation, SseParser};
use openllmetry_testkit::cassette::Cassette;

fn body(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../openllmetry-testkit/cassettes/openllmetry-misc")
        .join(name);
    Cassette::load(p).unwrap().interactions[0]
        .response
        .decoded_body()
}

fn bench(c: &mut Criterion) {
    let ollama_body = body("ollama/test_generation/test_ollama_streaming_generation_legacy.yaml");
    let lines = ollama_body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    let mut g = c.benchmark_group("providers_misc");
    g.throughput(Throughput::Elements(lines as u64));
    g.bench_function(format!("ollama_ndjson_stream_{lines}_lines"), |b| {
        b.iter(|| {
            let mut p = NdjsonParser::default();
            let mut acc = ollama::StreamAccumulator::new(Operation::TextCompletion);
            let mut faults = Vec::new();
            let mut af = Vec::new();
            // Network-like reads of 256 bytes.
            for chunk in ollama_body.chunks(256) {
                p.push(
                    chunk,
                    |e| {
                        acc.push(&e, &mut af);
                    },
                    &mut faults,
                );
            }
            std::hint::black_box(acc.finish())
        })
    });

    let cohere_body = body("cohere/test_chat/test_cohere_v2_chat_legacy_with_streaming.yaml");
    let events = cohere_body.windows(2).filter(|w| w == b"\n\n").count();
    g.throughput(Throughput::Elements(events as u64));
    g.bench_function(format!("cohere_sse_stream_{events}_events"), |b| {
        b.iter(|| {
            let mut p = SseParser::default();
            let mut acc = cohere::StreamAccumulator::new(Operation::Chat);
            let mut faults = Vec::new();
            let mut af = Vec::new();
            for chunk in cohere_body.chunks(256) {
                p.push(
                    chunk,
                    |e| {
                        acc.push(&e, &mut af);
                    },
                    &mut faults,
                );
            }
            std::hint::black_box(acc.finish())
        })
    });

    let mistral_body = body("mistralai/test_chat/test_mistralai_streaming_chat_legacy.yaml");
    let events = mistral_body.windows(2).filter(|w| w == b"\n\n").count();
    g.throughput(Throughput::Elements(events as u64));
    g.bench_function(format!("mistral_sse_stream_{events}_events"), |b| {
        b.iter(|| {
            let mut p = SseParser::default();
            let mut acc = mistral::StreamAccumulator::new(Operation::Chat);
            let mut faults = Vec::new();
            let mut af = Vec::new();
            for chunk in mistral_body.chunks(256) {
                p.push(
                    chunk,
                    |e| {
                        acc.push(&e, &mut af);
                    },
                    &mut faults,
                );
            }
            std::hint::black_box(acc.finish())
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3))
        .sample_size(20);
    targets = bench
}
criterion_main!(benches);
