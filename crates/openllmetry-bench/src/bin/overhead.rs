//! End-to-end in-process overhead of the reqwest middleware with the SDK exporting.
//!
//! For each scenario a looping replay server on loopback serves one recorded response again
//! and again; N sequential calls are made with (a) plain reqwest and (b) reqwest through
//! `OpenLlmMiddleware` with the SDK initialised (batch span processor and periodic metrics,
//! both exported over OTLP/HTTP to a local discarding sink). Rounds of (a) and (b) alternate
//! (ab, ba, ab, ...) so machine noise falls on both. Prints per-call mean, p50 and p99, the
//! overhead per call, the ratio b/a, the process CPU time per call and, for streams, the
//! added cost per chunk; writes the figures as JSON for `bench-summary`.
//!
//! With `--export discard`, the batch span processor and the metric reader feed discarding
//! exporters instead of OTLP (what the Python side of the comparison does).
//!
//! With `--breakdown`, two diagnostic clients join the rotation: `reqwest_middleware` without
//! any middleware, and `OpenLlmMiddleware` recording with a no-op tracer and no metrics.
//!
//! ```text
//! overhead [--calls N] [--stream-calls N] [--rounds R] [--warmup N] [--breakdown]
//!          [--export otlp|discard] [--out FILE] [--only NAME,...]
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

use openllmetry_bench::e2e::{self, Clients, Mode, Target};
use openllmetry_bench::results::{self, ScenarioResult};
use openllmetry_bench::scenario::END_TO_END;
use openllmetry_bench::sink::OtlpSink;
use openllmetry_bench::stats::{Summary, fmt_us};

struct Args {
    calls: usize,
    stream_calls: usize,
    rounds: usize,
    warmup: usize,
    breakdown: bool,
    discard: bool,
    out: Option<String>,
    only: Option<Vec<String>>,
}

fn parse_args() -> Args {
    let mut a = Args {
        calls: 10_000,
        stream_calls: 2_000,
        rounds: 10,
        warmup: 200,
        breakdown: false,
        discard: false,
        out: None,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        let num = |v: String| {
            v.parse()
                .unwrap_or_else(|_| usage(&format!("bad number {v}")))
        };
        match flag.as_str() {
            "--calls" => a.calls = num(value()),
            "--stream-calls" => a.stream_calls = num(value()),
            "--rounds" => a.rounds = num(value()).max(1),
            "--warmup" => a.warmup = num(value()),
            "--breakdown" => a.breakdown = true,
            "--export" => match value().as_str() {
                "otlp" => a.discard = false,
                "discard" => a.discard = true,
                other => usage(&format!("--export takes otlp or discard, not {other}")),
            },
            "--out" => a.out = Some(value()),
            "--only" => a.only = Some(value().split(',').map(str::to_owned).collect()),
            "-h" | "--help" => usage(""),
            _ => usage(&format!("unknown argument {flag}")),
        }
    }
    a
}

fn usage(msg: &str) -> ! {
    if !msg.is_empty() {
        eprintln!("overhead: {msg}");
    }
    eprintln!(
        "usage: overhead [--calls N] [--stream-calls N] [--rounds R] [--warmup N] [--breakdown] [--export otlp|discard] [--out FILE] [--only NAME,...]"
    );
    std::process::exit(2)
}

/// Latencies (ns) and process CPU time (ns) of one mode.
#[derive(Default)]
struct Samples {
    latencies: Vec<u64>,
    cpu_ns: u64,
    frames: usize,
}

fn main() {
    let args = parse_args();
    let sink = OtlpSink::start().expect("OTLP sink");
    let (sdk, discarded) = if args.discard {
        let (sdk, count) = e2e::init_sdk_discarding().expect("SDK init");
        (sdk, Some(count))
    } else {
        (e2e::init_sdk(&sink).expect("SDK init"), None)
    };
    let spans_received = || match &discarded {
        Some(c) => c.load(std::sync::atomic::Ordering::Relaxed),
        None => sink.counts().spans,
    };
    let export = if args.discard {
        "discarding exporters"
    } else {
        "OTLP/HTTP to a local sink"
    };
    let rt = e2e::runtime();
    let clients = Clients::new();
    let mut modes = vec![Mode::Plain, Mode::Instrumented];
    if args.breakdown {
        modes.extend([Mode::EmptyMiddleware, Mode::NoopRecorder]);
    }
    println!(
        "overhead: {} rounds rotating {} (SDK: batch spans + periodic metrics into {export}; OTEL_METRIC_EXPORT_INTERVAL={})",
        args.rounds,
        modes
            .iter()
            .map(|m| m.label())
            .collect::<Vec<_>>()
            .join(", "),
        std::env::var("OTEL_METRIC_EXPORT_INTERVAL").unwrap_or_else(|_| "unset (60000)".into()),
    );
    let mut results = Vec::new();
    let mut instrumented_calls = 0u64;
    for scenario in END_TO_END {
        if let Some(only) = &args.only
            && !only.iter().any(|o| o == scenario.name)
        {
            continue;
        }
        let target = Target::start(&scenario).expect("replay server");
        let total = if scenario.stream {
            args.stream_calls
        } else {
            args.calls
        };
        let per_round = total.div_ceil(args.rounds).max(1);
        let mut samples: HashMap<Mode, Samples> = HashMap::new();
        rt.block_on(async {
            for _ in 0..args.warmup {
                for &mode in &modes {
                    e2e::call(&clients, mode, &target).await;
                }
            }
            for round in 0..args.rounds {
                let mut order = modes.clone();
                order.rotate_left(round % modes.len());
                for mode in order {
                    let s = samples.entry(mode).or_default();
                    let cpu = e2e::process_cpu_ns();
                    for _ in 0..per_round {
                        let (ns, frames) = e2e::call(&clients, mode, &target).await;
                        s.latencies.push(ns);
                        s.frames = frames;
                    }
                    s.cpu_ns += e2e::process_cpu_ns() - cpu;
                }
            }
        });
        instrumented_calls += (args.warmup + per_round * args.rounds) as u64;
        let cpu = |m: Mode| {
            let s = &samples[&m];
            s.cpu_ns as f64 / 1000.0 / s.latencies.len().max(1) as f64
        };
        let r = ScenarioResult {
            name: scenario.name.into(),
            label: scenario.label.into(),
            stream: scenario.stream,
            chunks: target.loaded.chunks(),
            rounds: args.rounds,
            plain: Summary::from_nanos(&samples[&Mode::Plain].latencies),
            instrumented: Summary::from_nanos(&samples[&Mode::Instrumented].latencies),
            cpu_us: Some([cpu(Mode::Plain), cpu(Mode::Instrumented)]),
        };
        print_result(&r, &modes, &samples);
        results.push(r);
    }
    // Everything recorded must have reached the sink (nothing dropped by the batch queue).
    sdk.force_flush();
    let deadline = Instant::now() + Duration::from_secs(10);
    while spans_received() < instrumented_calls && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let counts = sink.counts();
    let received = spans_received();
    if args.discard {
        println!("\nexporter: {received} of {instrumented_calls} spans");
    } else {
        println!(
            "\nsink: {} of {} spans received in {} trace requests, {} metric requests, {:.1} MiB",
            received,
            instrumented_calls,
            counts.trace_requests,
            counts.metric_requests,
            counts.bytes as f64 / (1024.0 * 1024.0)
        );
    }
    drop(sdk);
    if let Some(out) = &args.out {
        let notes = serde_json::json!({
            "client": "reqwest (plain) vs reqwest-middleware + OpenLlmMiddleware",
            "export": if args.discard {
                "batch span processor + periodic metrics into discarding exporters"
            } else {
                "batch span processor + periodic metrics, OTLP/HTTP protobuf to a local sink"
            },
            "spans_received": received,
            "spans_expected": instrumented_calls,
        });
        let json = results::to_file_json("rust", notes, &results);
        if let Some(dir) = std::path::Path::new(out).parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(out, serde_json::to_string_pretty(&json).unwrap()).expect("write results");
        println!("results written to {out}");
    }
}

fn print_result(r: &ScenarioResult, modes: &[Mode], samples: &HashMap<Mode, Samples>) {
    println!("\n{} ({})", r.label, r.name);
    if r.stream {
        println!(
            "  {} SSE events per response ({} body frames seen by the plain caller on its last call)",
            r.chunks,
            samples[&Mode::Plain].frames
        );
    }
    println!(
        "  {:<18} {:>7} {:>10} {:>10} {:>10} {:>12}",
        "", "calls", "mean µs", "p50 µs", "p99 µs", "CPU µs/call"
    );
    for m in modes {
        let s = &samples[m];
        let sum = Summary::from_nanos(&s.latencies);
        println!(
            "  {:<18} {:>7} {:>10} {:>10} {:>10} {:>12}",
            m.label(),
            sum.n,
            fmt_us(sum.mean_us),
            fmt_us(sum.p50_us),
            fmt_us(sum.p99_us),
            fmt_us(s.cpu_ns as f64 / 1000.0 / sum.n.max(1) as f64),
        );
    }
    print!(
        "  overhead (b − a): {} µs per call (p50 {} µs), ratio b/a {:.3}, CPU {} µs per call",
        fmt_us(r.overhead_us()),
        fmt_us(r.overhead_p50_us()),
        r.ratio(),
        r.cpu_overhead_us().map(fmt_us).unwrap_or_default(),
    );
    match r.per_chunk_us() {
        Some(c) => println!(
            "; per streamed chunk: {} µs latency, {} µs CPU",
            fmt_us(c),
            fmt_us(r.cpu_overhead_us().unwrap_or_default() / r.chunks.max(1) as f64)
        ),
        None => println!(),
    }
}
