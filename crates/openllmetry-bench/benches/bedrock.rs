//! Per-chunk cost of the Amazon Bedrock parsers on upstream OpenLLMetry's vendored
//! recordings (`openllmetry-testkit/cassettes/openllmetry/bedrock`, see the SOURCE.md there):
//!
//! * `ConverseStream` (`test_meta_converse_stream`, 40 event-stream frames) and
//!   `InvokeModelWithResponseStream` (`test_anthropic_3_completion_streaming`, 23 frames of
//!   base64-wrapped Anthropic events; `test_nova_invoke_stream`, 115 frames of wrapped Converse
//!   events), each fed one frame per read (one network read per event, the worst case for
//!   per-call overhead) through `StreamAccumulator::push_bytes` (event-stream decode with both
//!   CRCs checked + JSON + accumulation), then `finish`;
//! * the event-stream decode alone (`eventstream::Decoder`, the same reads), to split the cost;
//! * the non-streamed `Converse` and `InvokeModel` (Llama) bodies through `parse_response`.
//!
//! Stream groups report `thrpt` in frames per second (`Throughput::Elements`): the per-chunk
//! time is its inverse.

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use openllmetry_core::providers::bedrock::{self, BedrockTarget, eventstream};

struct Recording {
    target: BedrockTarget,
    body: Vec<u8>,
}

fn recording(name: &str) -> Recording {
    let c = openllmetry_testkit::load_cassette(&format!("bedrock/{name}")).unwrap();
    let i = &c.interactions[0];
    let target = bedrock::parse_path(i.request.path()).expect("a Bedrock runtime path");
    Recording {
        target,
        body: i.response.decoded_body(),
    }
}

/// The body cut at its frame boundaries (by the length prefixes).
fn frame_reads(body: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = body;
    while rest.len() >= 4 {
        let n = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        out.push(&rest[..n]);
        rest = &rest[n..];
    }
    out
}

fn stream(c: &mut Criterion, label: &str, name: &str) {
    let r = recording(name);
    let reads = frame_reads(&r.body);
    // The recording decodes cleanly and completes (checked once, outside the timing).
    {
        let mut faults = Vec::new();
        let mut acc = bedrock::StreamAccumulator::new(&r.target);
        for read in &reads {
            acc.push_bytes(read, &mut faults);
        }
        assert!(acc.is_complete() && faults.is_empty(), "{name}: {faults:?}");
    }
    let mut g = c.benchmark_group("bedrock");
    g.throughput(Throughput::Elements(reads.len() as u64));
    g.bench_function(format!("{label}_{}_frames", reads.len()), |b| {
        b.iter(|| {
            let mut faults = Vec::new();
            let mut acc = bedrock::StreamAccumulator::new(&r.target);
            for read in &reads {
                acc.push_bytes(read, &mut faults);
            }
            black_box(acc.finish())
        })
    });
    g.bench_function(format!("{label}_{}_frames_decode_only", reads.len()), |b| {
        b.iter(|| {
            let mut d = eventstream::Decoder::new();
            let mut payload = 0usize;
            for read in &reads {
                d.push(read, |m| payload += m.payload.len()).unwrap();
            }
            black_box(payload)
        })
    });
    g.finish();
}

fn whole(c: &mut Criterion, label: &str, name: &str) {
    let r = recording(name);
    let mut faults = Vec::new();
    let rec = bedrock::parse_response(&r.target, &r.body, &mut faults);
    assert!(
        faults.is_empty() && rec.usage.output_tokens.is_some(),
        "{name}: {faults:?}"
    );
    c.bench_function(&format!("bedrock/{label}_{}_bytes", r.body.len()), |b| {
        b.iter(|| {
            let mut faults = Vec::new();
            black_box(bedrock::parse_response(
                &r.target,
                black_box(&r.body),
                &mut faults,
            ))
        })
    });
}

fn bench(c: &mut Criterion) {
    stream(
        c,
        "converse_stream",
        "test_meta/test_meta_converse_stream.yaml",
    );
    stream(
        c,
        "invoke_stream_anthropic",
        "test_anthropic/test_anthropic_3_completion_streaming.yaml",
    );
    stream(
        c,
        "invoke_stream_nova",
        "test_nova/test_nova_invoke_stream.yaml",
    );
    whole(c, "converse_response", "test_meta/test_meta_converse.yaml");
    whole(
        c,
        "invoke_response_llama",
        "test_meta/test_meta_llama3_completion.yaml",
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
