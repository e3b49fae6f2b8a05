//! Per-chunk cost of the Gemini stream parser: the recorded `alt=sse` stream
//! (pydantic-ai `test_google_model_stream`, 3 chunks; see the SOURCE.md next to the
//! cassette) fed through the SSE parser and the accumulator, and the same chunks as a
//! JSON-array stream through `JsonArraySplitter`. Divide the reported time by 3 for the
//! per-chunk figure. `gemini/sse_stream_3_chunks_value` is the same stream with every chunk
//! read as a `serde_json::Value` (the reader the typed one replaced; the fallback for chunks the
//! typed read refuses), for a side-by-side ratio; `gemini/chunk_typed` and `chunk_value` are
//! one recorded chunk through each reader alone.

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use openllmetry_core::Operation;
use openllmetry_core::providers::gemini::{JsonArraySplitter, StreamAccumulator};
use openllmetry_core::sse::SseParser;

const SSE: &[u8] =
    include_bytes!("../../openllmetry-core/src/providers/gemini/testdata/stream.response.sse");

fn json_array() -> Vec<u8> {
    let text = std::str::from_utf8(SSE).unwrap();
    let elements: Vec<&str> = text
        .split("\r\n\r\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .collect();
    format!("[{}]", elements.join(",\r\n")).into_bytes()
}

/// The body split where the chunks end (one network read per chunk).
fn reads(body: &[u8], sep: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + sep.len() <= body.len() {
        if &body[i..i + sep.len()] == sep {
            out.push(body[start..i + sep.len()].to_vec());
            start = i + sep.len();
            i = start;
        } else {
            i += 1;
        }
    }
    if start < body.len() {
        out.push(body[start..].to_vec());
    }
    out
}

fn bench(c: &mut Criterion) {
    let sse_reads = reads(SSE, b"\r\n\r\n");
    assert_eq!(sse_reads.len(), 3);
    let array = json_array();
    let array_reads = reads(&array, b",\r\n");
    assert_eq!(array_reads.len(), 3);

    c.bench_function("gemini/sse_stream_3_chunks", |b| {
        b.iter(|| {
            let (mut faults, mut sse_faults) = (Vec::new(), Vec::new());
            let mut acc = StreamAccumulator::new(Operation::Chat);
            let mut p = SseParser::default();
            for r in &sse_reads {
                p.push(
                    r,
                    |ev| {
                        let _ = acc.push(&ev, &mut faults);
                    },
                    &mut sse_faults,
                );
            }
            black_box(acc.finish())
        })
    });
    c.bench_function("gemini/sse_stream_3_chunks_value", |b| {
        b.iter(|| {
            let (mut faults, mut sse_faults) = (Vec::new(), Vec::new());
            let mut acc = StreamAccumulator::new(Operation::Chat);
            let mut p = SseParser::default();
            for r in &sse_reads {
                p.push(
                    r,
                    |ev| {
                        let _ = acc.push_element_as_value(ev.data.as_bytes(), &mut faults);
                    },
                    &mut sse_faults,
                );
            }
            black_box(acc.finish())
        })
    });
    let chunk = sse_reads[1]
        .strip_prefix(b"data: ")
        .and_then(|c| c.strip_suffix(b"\r\n\r\n"))
        .unwrap();
    c.bench_function("gemini/chunk_typed", |b| {
        b.iter(|| {
            // A fresh accumulator each time, so the content budget never fills.
            let mut acc = StreamAccumulator::new(Operation::Chat);
            let mut faults = Vec::new();
            black_box(acc.push_element(chunk, &mut faults));
            black_box(acc)
        })
    });
    c.bench_function("gemini/chunk_value", |b| {
        b.iter(|| {
            // A fresh accumulator each time, so the content budget never fills.
            let mut acc = StreamAccumulator::new(Operation::Chat);
            let mut faults = Vec::new();
            black_box(acc.push_element_as_value(chunk, &mut faults));
            black_box(acc)
        })
    });
    c.bench_function("gemini/json_array_stream_3_chunks", |b| {
        b.iter(|| {
            let (mut faults, mut split_faults) = (Vec::new(), Vec::new());
            let mut acc = StreamAccumulator::new(Operation::Chat);
            let mut s = JsonArraySplitter::default();
            for r in &array_reads {
                s.push(
                    r,
                    |el| {
                        let _ = acc.push_element(el, &mut faults);
                    },
                    &mut split_faults,
                );
            }
            black_box(acc.finish())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
