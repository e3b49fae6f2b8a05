//! Resident memory over a long instrumented run in one process.
//!
//! The SDK is initialised as in the `overhead` binary (batch span processor and periodic
//! metrics over OTLP/HTTP to a local discarding sink) and every call goes through
//! `OpenLlmMiddleware` to looping replay servers on loopback. After a warm-up, the process
//! makes `--calls` non-streaming calls (OpenAI and Anthropic alternately), then `--streams`
//! streamed responses (OpenAI 196 events and Anthropic 76 events alternately), sampling the
//! resident set size (`VmRSS` of `/proc/self/status`) and the live heap bytes (counted by the
//! global allocator) as it goes (each sample after flushing the span queue), and reports the
//! range and the trend per call.
//!
//! ```text
//! memory [--calls N] [--streams N] [--warmup N] [--samples N] [--out FILE]
//! ```

use std::time::{Duration, Instant};

use openllmetry_bench::alloc::{self, CountingAlloc};
use openllmetry_bench::e2e::{self, Clients, Mode, Target};
use openllmetry_bench::scenario::{ANTHROPIC_CHAT, ANTHROPIC_STREAM, OPENAI_CHAT, OPENAI_STREAM};
use openllmetry_bench::sink::OtlpSink;
use openllmetry_bench::stats::vm_rss_kib;
use serde_json::json;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

struct Args {
    calls: usize,
    streams: usize,
    warmup: usize,
    samples: usize,
    out: Option<String>,
}

fn parse_args() -> Args {
    let mut a = Args {
        calls: 100_000,
        streams: 10_000,
        warmup: 2_000,
        samples: 10,
        out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next().unwrap_or_else(|| {
                eprintln!("memory: {flag} needs a value");
                std::process::exit(2)
            })
        };
        let num = |v: String| -> usize {
            v.parse().unwrap_or_else(|_| {
                eprintln!("memory: bad number {v}");
                std::process::exit(2)
            })
        };
        match flag.as_str() {
            "--calls" => a.calls = num(value()),
            "--streams" => a.streams = num(value()),
            "--warmup" => a.warmup = num(value()),
            "--samples" => a.samples = num(value()).max(1),
            "--out" => a.out = Some(value()),
            _ => {
                eprintln!(
                    "usage: memory [--calls N] [--streams N] [--warmup N] [--samples N] [--out FILE]"
                );
                std::process::exit(2)
            }
        }
    }
    a
}

/// One memory sample.
#[derive(Clone, Copy)]
struct Sample {
    phase: &'static str,
    done: usize,
    rss_kib: u64,
    heap_kib: u64,
    secs: f64,
}

fn main() {
    let args = parse_args();
    let sink = OtlpSink::start().expect("OTLP sink");
    let sdk = e2e::init_sdk(&sink).expect("SDK init");
    let rt = e2e::runtime();
    let clients = Clients::new();
    let chats = [
        Target::start(&OPENAI_CHAT).expect("replay"),
        Target::start(&ANTHROPIC_CHAT).expect("replay"),
    ];
    let streams = [
        Target::start(&OPENAI_STREAM).expect("replay"),
        Target::start(&ANTHROPIC_STREAM).expect("replay"),
    ];
    let started = Instant::now();
    // Each sample first flushes the batch span processor, so the spans waiting in its queue
    // (up to 2048) do not blur the figures.
    let sample = |phase, done| {
        sdk.force_flush();
        Sample {
            phase,
            done,
            rss_kib: vm_rss_kib().unwrap_or(0),
            heap_kib: alloc::live_bytes() / 1024,
            secs: started.elapsed().as_secs_f64(),
        }
    };
    let mut samples = vec![sample("start", 0)];
    rt.block_on(async {
        for i in 0..args.warmup {
            e2e::call(&clients, Mode::Instrumented, &chats[i % 2]).await;
            if i % 10 == 0 {
                e2e::call(&clients, Mode::Instrumented, &streams[(i / 10) % 2]).await;
            }
        }
    });
    samples.push(sample("warm", 0));
    let every = args.calls.div_ceil(args.samples).max(1);
    rt.block_on(async {
        for i in 0..args.calls {
            e2e::call(&clients, Mode::Instrumented, &chats[i % 2]).await;
            if (i + 1) % every == 0 || i + 1 == args.calls {
                samples.push(sample("calls", i + 1));
            }
        }
    });
    let every = args.streams.div_ceil(args.samples).max(1);
    rt.block_on(async {
        for i in 0..args.streams {
            e2e::call(&clients, Mode::Instrumented, &streams[i % 2]).await;
            if (i + 1) % every == 0 || i + 1 == args.streams {
                samples.push(sample("streams", i + 1));
            }
        }
    });
    let expected = (args.warmup + args.warmup.div_ceil(10) + args.calls + args.streams) as u64;
    let deadline = Instant::now() + Duration::from_secs(10);
    while sink.counts().spans < expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let counts = sink.counts();

    println!(
        "memory: {} warm-up calls, then {} instrumented non-streaming calls and {} streamed responses in one process",
        args.warmup, args.calls, args.streams
    );
    println!(
        "{:<10} {:>9} {:>11} {:>12} {:>9}",
        "phase", "done", "VmRSS MiB", "heap MiB", "time s"
    );
    for s in &samples {
        println!(
            "{:<10} {:>9} {:>11.1} {:>12.1} {:>9.1}",
            s.phase,
            s.done,
            s.rss_kib as f64 / 1024.0,
            s.heap_kib as f64 / 1024.0,
            s.secs
        );
    }
    let warm = samples[1];
    let run: Vec<Sample> = samples
        .iter()
        .filter(|s| s.phase == "calls" || s.phase == "streams")
        .copied()
        .collect();
    let last = run.last().copied().unwrap_or(warm);
    let min_rss = run.iter().map(|s| s.rss_kib).min().unwrap_or(warm.rss_kib);
    let max_rss = run.iter().map(|s| s.rss_kib).max().unwrap_or(warm.rss_kib);
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "\nVmRSS: {:.1} MiB after warm-up; {:.1} to {:.1} MiB over the run; {:.1} MiB at the end ({:+.1} MiB)",
        mib(warm.rss_kib),
        mib(min_rss),
        mib(max_rss),
        mib(last.rss_kib),
        mib(last.rss_kib) - mib(warm.rss_kib)
    );
    for phase in ["calls", "streams"] {
        let pts: Vec<(f64, f64)> = run
            .iter()
            .filter(|s| s.phase == phase)
            .map(|s| (s.done as f64, s.rss_kib as f64 * 1024.0))
            .collect();
        let heap: Vec<(f64, f64)> = run
            .iter()
            .filter(|s| s.phase == phase)
            .map(|s| (s.done as f64, s.heap_kib as f64 * 1024.0))
            .collect();
        if let (Some(r), Some(h)) = (slope(&pts), slope(&heap)) {
            println!(
                "{phase}: trend {r:+.2} bytes of VmRSS and {h:+.2} bytes of live heap per {}",
                if phase == "calls" {
                    "call"
                } else {
                    "streamed response"
                }
            );
        }
    }
    println!(
        "sink: {} of {} spans received, {} metric requests",
        counts.spans, expected, counts.metric_requests
    );
    drop(sdk);
    if let Some(out) = &args.out {
        let json = json!({
            "warmup": args.warmup,
            "calls": args.calls,
            "streams": args.streams,
            "samples": samples.iter().map(|s| json!({
                "phase": s.phase, "done": s.done, "rss_kib": s.rss_kib,
                "heap_kib": s.heap_kib, "secs": s.secs,
            })).collect::<Vec<_>>(),
            "rss_warm_kib": warm.rss_kib,
            "rss_min_kib": min_rss,
            "rss_max_kib": max_rss,
            "rss_end_kib": last.rss_kib,
            "spans_received": counts.spans,
            "spans_expected": expected,
        });
        if let Some(dir) = std::path::Path::new(out).parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(out, serde_json::to_string_pretty(&json).unwrap()).expect("write results");
    }
}

/// Least-squares slope of `y` over `x`, if there are two distinct `x`.
fn slope(pts: &[(f64, f64)]) -> Option<f64> {
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return None;
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}
