//! Throughput of the bounded JSON skim (`openllmetry_core::skim`), the observation tier used
//! past the observation budget: a 1 MiB chat request whose prompt the skim skips, in 16 KiB
//! reads, against a plain byte-sum pass over the same reads (the cheapest thing one can do
//! with every byte), so the ratio comes from one run. Criterion reports MiB/s.

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use openllmetry_core::skim::Skim;

/// A chat request with a 1 MiB prompt (with some escapes, as JSON text has) before `model`.
fn body() -> Vec<u8> {
    let prompt =
        "Summarise: \\\"quoted\\\" text, {braces} and [brackets]. ".repeat(1024 * 1024 / 54);
    format!(
        r#"{{"messages":[{{"role":"system","content":"be brief"}},{{"role":"user","content":"{prompt}"}}],"model":"gpt-4o","stream":true,"temperature":0.2}}"#
    )
    .into_bytes()
}

fn bench(c: &mut Criterion) {
    let body = body();
    let reads: Vec<&[u8]> = body.chunks(16 * 1024).collect();
    let mut group = c.benchmark_group("skim");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("chat_request_1_mib", |b| {
        b.iter(|| {
            let mut s = Skim::new();
            for r in &reads {
                s.push(black_box(r));
            }
            black_box(s.finish())
        })
    });
    group.bench_function("byte_sum_baseline_1_mib", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for r in &reads {
                for &byte in black_box(*r) {
                    sum = sum.wrapping_add(u64::from(byte));
                }
            }
            black_box(sum)
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
