//! Micro benches of the core's hot paths on recorded exchanges, with allocation counts.
//!
//! * `record`: one whole non-streamed call through `Instrumentation` (request parse, span
//!   start, response parse, render, span end, metrics), with a no-op tracer (`noop`: parse +
//!   render only) and with the SDK (`sdk`: recording spans through a discarding span
//!   processor, metrics aggregated in memory by the SDK);
//! * `stream`: one whole streamed call, the recorded SSE events fed one per `on_data` (as the
//!   replay server sends them); the table also gives the cost per chunk;
//! * `parse` / `sse` / `accumulate`: the parsers alone (a non-streamed body; the SSE parser;
//!   the SSE parser + the provider's stream accumulator);
//! * `render`: each output flavour (current, legacy, events) from already parsed records;
//! * `middleware`: a whole call through a `reqwest_middleware` client whose last middleware
//!   answers with the recorded response from memory (no socket): `none` without
//!   `OpenLlmMiddleware`, `noop` and `sdk` with it. The difference is the adapter's and the
//!   core's cost per call, without network noise.
//!
//! Allocations per call are counted by a counting global allocator, over 200 calls made
//! before criterion measures, and printed beside criterion's timings in the closing table.
//!
//! `cargo bench -p openllmetry-bench --bench micro` (criterion filters work as usual).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::Criterion;
use openllmetry_bench::alloc::{self, CountingAlloc};
use openllmetry_bench::scenario::{self, Loaded};
use openllmetry_core::record::{RequestRecord, ResponseRecord};
use openllmetry_core::render::{self, Content};
use openllmetry_core::{Flavour, Instrumentation, SseParser, detect, provider};
use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{SdkTracerProvider, Span, SpanData, SpanProcessor};

/// The last middleware of the in-memory client: answers every request with the recorded
/// response (status, headers and body; an event stream as one frame per SSE event).
struct Canned {
    status: u16,
    headers: Vec<(String, String)>,
    body: bytes::Bytes,
    events: Vec<bytes::Bytes>,
}

impl Canned {
    fn new(s: &Loaded) -> Canned {
        Canned {
            status: s.interaction.response.status,
            headers: s
                .interaction
                .response
                .headers
                .iter()
                .filter(|(n, _)| {
                    !n.eq_ignore_ascii_case("content-encoding")
                        && !n.eq_ignore_ascii_case("content-length")
                        && !n.eq_ignore_ascii_case("transfer-encoding")
                })
                .cloned()
                .collect(),
            body: bytes::Bytes::from(s.decoded_body.clone()),
            events: s.events.iter().cloned().map(bytes::Bytes::from).collect(),
        }
    }
}

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for Canned {
    async fn handle(
        &self,
        _req: reqwest::Request,
        _extensions: &mut http::Extensions,
        _next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let mut b = http::Response::builder().status(self.status);
        for (n, v) in &self.headers {
            b = b.header(n, v);
        }
        let body = if self.events.is_empty() {
            reqwest::Body::from(self.body.clone())
        } else {
            let frames = self.events.clone().into_iter().map(Ok::<_, std::io::Error>);
            reqwest::Body::wrap_stream(futures_util::stream::iter(frames))
        };
        Ok(reqwest::Response::from(
            b.body(body).expect("canned response"),
        ))
    }
}

/// A client whose requests never leave the process: `OpenLlmMiddleware` (if given) in front
/// of [`Canned`].
fn canned_client(
    s: &Loaded,
    i: Option<&Instrumentation>,
) -> reqwest_middleware::ClientWithMiddleware {
    let mut b = reqwest_middleware::ClientBuilder::new(reqwest::Client::new());
    if let Some(i) = i {
        b = b.with(openllmetry_http::OpenLlmMiddleware::with_instrumentation(
            i.clone(),
        ));
    }
    b.with(Canned::new(s)).build()
}

async fn canned_call(client: &reqwest_middleware::ClientWithMiddleware, s: &Loaded) -> usize {
    use futures_util::StreamExt as _;
    let resp = client
        .post(s.recorded_url())
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(s.request_body().to_vec())
        .send()
        .await
        .expect("canned call");
    let mut stream = resp.bytes_stream();
    let mut n = 0;
    while let Some(frame) = stream.next().await {
        n += frame.expect("frame").len();
    }
    n
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Calls made to count allocations (outside criterion's timing).
const ALLOC_RUNS: u64 = 200;

/// A span processor that drops every ended span: spans are recorded (and `SpanData` built)
/// as with any SDK pipeline, minus the exporter.
#[derive(Debug)]
struct Discard;

impl SpanProcessor for Discard {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}
    fn on_end(&self, span: SpanData) {
        black_box(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// The two recorders compared.
struct Recorders {
    noop: Instrumentation,
    sdk: Instrumentation,
    _tracer: SdkTracerProvider,
    _meter: SdkMeterProvider,
}

fn recorders() -> Recorders {
    let noop = Instrumentation::builder()
        .with_tracer_provider(&opentelemetry::trace::noop::NoopTracerProvider::new())
        .with_metrics(false)
        .build();
    let tracer = SdkTracerProvider::builder()
        .with_span_processor(Discard)
        .build();
    let meter = SdkMeterProvider::builder()
        .with_reader(
            // Aggregates in memory; never exports while benches run.
            PeriodicReader::builder(InMemoryMetricExporter::default())
                .with_interval(Duration::from_secs(3600))
                .build(),
        )
        .build();
    let sdk = Instrumentation::builder()
        .with_tracer_provider(&tracer)
        .with_meter_provider(&meter)
        .build();
    Recorders {
        noop,
        sdk,
        _tracer: tracer,
        _meter: meter,
    }
}

/// One non-streamed exchange, as an adapter drives the recorder. `body` is fed in one chunk.
fn record_once(i: &Instrumentation, s: &Loaded, encoding: Option<&str>, body: &[u8]) {
    let call = i
        .start("POST", s.recorded_url(), Some(s.request_body()))
        .expect("an instrumented LLM call");
    let headers = call.propagation_headers();
    black_box(&headers);
    let mut obs = call.on_response(200, s.content_type(), encoding);
    obs.on_data(body);
    obs.on_end();
}

/// One streamed exchange: every recorded SSE event fed as its own chunk.
fn stream_once(i: &Instrumentation, s: &Loaded) {
    let call = i
        .start("POST", s.recorded_url(), Some(s.request_body()))
        .expect("an instrumented LLM call");
    let mut obs = call.on_response(200, s.content_type(), None);
    for e in &s.events {
        obs.on_data(e);
    }
    obs.on_end();
}

/// Request and response records of a loaded exchange.
fn records(s: &Loaded) -> (RequestRecord, ResponseRecord) {
    let target = detect("POST", s.recorded_url()).expect("detected");
    let mut faults = Vec::new();
    let req = provider::parse_request(
        target.format,
        target.operation,
        s.request_body(),
        &mut faults,
    );
    let resp = if s.scenario.stream {
        let mut acc = provider::StreamAccumulator::new(target.format, target.operation);
        let mut p = SseParser::default();
        let mut sse_faults = Vec::new();
        for e in &s.events {
            p.push(
                e,
                |ev| {
                    let _ = acc.push(&ev, &mut faults);
                },
                &mut sse_faults,
            );
        }
        faults.append(&mut sse_faults);
        acc.finish()
    } else {
        provider::parse_response(
            target.format,
            target.operation,
            &s.decoded_body,
            &mut faults,
        )
    };
    assert!(
        faults.is_empty(),
        "faults on {}: {faults:?}",
        s.scenario.name
    );
    (req, resp)
}

fn render_once(flavour: Flavour, s: &Loaded, req: &RequestRecord, resp: &ResponseRecord) {
    let target = detect("POST", s.recorded_url()).expect("detected");
    let content = Content {
        system_instructions: req.system_instructions.clone(),
        input_messages: req.input_messages.clone(),
        tool_definitions: req.tool_definitions.clone(),
        output_messages: resp.output_messages.clone(),
    };
    let mut attrs = Vec::with_capacity(48);
    render::request_attributes(flavour, &target, req, &mut attrs);
    render::response_attributes(flavour, resp, &mut attrs);
    match flavour {
        Flavour::Legacy => render::legacy_content_attributes(&content, &mut attrs),
        Flavour::Events => {
            for e in render::events(Some(&content), req, Some(resp)) {
                black_box(render::json_to_any_value(&e.body));
            }
        }
        _ => render::current_content_attributes(&content, &mut attrs),
    }
    black_box(attrs);
}

/// One row of the closing table.
struct Row {
    group: &'static str,
    name: String,
    chunks: usize,
    allocs: f64,
    bytes: f64,
}

struct Bench<'c> {
    c: &'c mut Criterion,
    rows: Vec<Row>,
}

impl Bench<'_> {
    fn run(&mut self, group: &'static str, name: &str, chunks: usize, mut f: impl FnMut()) {
        // Warm caches and lazily initialised state before counting.
        for _ in 0..10 {
            f();
        }
        let (allocs, bytes) = alloc::per_call(ALLOC_RUNS, &mut f);
        println!("{group}/{name}: {allocs:.1} allocations, {bytes:.0} bytes per call");
        self.c
            .benchmark_group(group)
            .bench_function(name, |b| b.iter(&mut f));
        self.rows.push(Row {
            group,
            name: name.to_owned(),
            chunks,
            allocs,
            bytes,
        });
    }
}

/// Where criterion writes its results (the same rule criterion uses, minus `cargo metadata`).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/criterion")
}

/// Criterion's mean estimate (ns) for `group/name`, if it ran in this process (written
/// after `since`; a bench skipped by a filter keeps an older file).
fn mean_ns(
    dir: &std::path::Path,
    group: &str,
    name: &str,
    since: std::time::SystemTime,
) -> Option<f64> {
    let path = dir.join(group).join(name).join("new/estimates.json");
    if std::fs::metadata(&path).ok()?.modified().ok()? < since {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("mean")?.get("point_estimate")?.as_f64()
}

fn fmt_time(ns: f64) -> String {
    if ns >= 1_000_000.0 {
        format!("{:.2} ms", ns / 1_000_000.0)
    } else if ns >= 1_000.0 {
        format!("{:.2} µs", ns / 1_000.0)
    } else {
        format!("{ns:.0} ns")
    }
}

fn main() {
    let started = std::time::SystemTime::now();
    let dir = criterion_dir();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .without_plots()
        .output_directory(&dir)
        .configure_from_args();
    let r = recorders();
    let oai = scenario::OPENAI_CHAT.load();
    let ant = scenario::ANTHROPIC_CHAT.load();
    let oai_stream = scenario::OPENAI_STREAM.load();
    let ant_stream = scenario::ANTHROPIC_STREAM.load();
    let oai_tools = scenario::OPENAI_TOOLS_STREAM.load();
    let ant_tools = scenario::ANTHROPIC_TOOLS_STREAM.load();
    let mut b = Bench {
        c: &mut c,
        rows: Vec::new(),
    };

    // Whole non-streamed calls through the recorder.
    for s in [&oai, &ant] {
        let name = s.scenario.name;
        b.run("record", &format!("{name}_noop"), 0, || {
            record_once(&r.noop, s, None, &s.decoded_body)
        });
        b.run("record", &format!("{name}_sdk"), 0, || {
            record_once(&r.sdk, s, None, &s.decoded_body)
        });
    }
    // As served by the API: gzip-compressed body, decoded by the observer.
    let gz = oai.interaction.response.body.clone();
    b.run("record", "openai_chat_gzip_sdk", 0, || {
        record_once(&r.sdk, &oai, Some("gzip"), &gz)
    });

    // Whole streamed calls, one SSE event per chunk.
    let streams: [(&str, &Loaded); 4] = [
        ("openai_chat", &oai_stream),
        ("anthropic_chat", &ant_stream),
        ("openai_tool_calls", &oai_tools),
        ("anthropic_tool_use", &ant_tools),
    ];
    for (name, s) in streams {
        b.run("stream", &format!("{name}_sdk"), s.chunks(), || {
            stream_once(&r.sdk, s)
        });
    }
    b.run("stream", "openai_chat_noop", oai_stream.chunks(), || {
        stream_once(&r.noop, &oai_stream)
    });

    // The parsers alone.
    for s in [&oai, &ant] {
        let target = detect("POST", s.recorded_url()).unwrap();
        b.run("parse", s.scenario.name, 0, || {
            let mut faults = Vec::new();
            black_box(provider::parse_request(
                target.format,
                target.operation,
                s.request_body(),
                &mut faults,
            ));
            black_box(provider::parse_response(
                target.format,
                target.operation,
                &s.decoded_body,
                &mut faults,
            ));
        });
    }
    for (name, s) in [
        ("openai_chat", &oai_stream),
        ("anthropic_chat", &ant_stream),
    ] {
        b.run("sse", name, s.chunks(), || {
            let mut faults = Vec::new();
            let mut p = SseParser::default();
            let mut n = 0usize;
            for e in &s.events {
                p.push(e, |ev| n += ev.data.len(), &mut faults);
            }
            black_box(n);
        });
    }
    for (name, s) in [
        ("openai_chat", &oai_stream),
        ("anthropic_chat", &ant_stream),
    ] {
        let target = detect("POST", s.recorded_url()).unwrap();
        b.run("accumulate", name, s.chunks(), || {
            let (mut faults, mut sse_faults) = (Vec::new(), Vec::new());
            let mut acc = provider::StreamAccumulator::new(target.format, target.operation);
            let mut p = SseParser::default();
            for e in &s.events {
                p.push(
                    e,
                    |ev| {
                        let _ = acc.push(&ev, &mut faults);
                    },
                    &mut sse_faults,
                );
            }
            black_box(acc.finish());
        });
    }

    // Rendering, per flavour, from parsed records.
    for s in [&oai, &ant, &oai_tools] {
        let (req, resp) = records(s);
        for flavour in [Flavour::Current, Flavour::Legacy, Flavour::Events] {
            let name = format!("{}_{}", s.scenario.name, flavour.as_str());
            b.run("render", &name, 0, || render_once(flavour, s, &req, &resp));
        }
    }

    // Whole calls through reqwest-middleware, answered from memory.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    for s in [&oai, &ant, &oai_stream] {
        for (variant, i) in [
            ("none", None),
            ("noop", Some(&r.noop)),
            ("sdk", Some(&r.sdk)),
        ] {
            let client = canned_client(s, i);
            let name = format!("{}_{variant}", s.scenario.name);
            b.run("middleware", &name, s.chunks(), || {
                black_box(rt.block_on(canned_call(&client, s)));
            });
        }
    }

    let rows = std::mem::take(&mut b.rows);
    c.final_summary();
    println!("\nmicro benches: mean time per call (criterion) and allocations per call");
    println!(
        "{:<36} {:>11} {:>11} {:>9} {:>10} {:>12}",
        "bench", "time/call", "time/chunk", "allocs", "bytes", "allocs/chunk"
    );
    for row in rows {
        let Some(ns) = mean_ns(&dir, row.group, &row.name, started) else {
            continue;
        };
        let (per_chunk, allocs_chunk) = if row.chunks > 0 {
            (
                fmt_time(ns / row.chunks as f64),
                format!("{:.2}", row.allocs / row.chunks as f64),
            )
        } else {
            ("".into(), "".into())
        };
        println!(
            "{:<36} {:>11} {:>11} {:>9.1} {:>10.0} {:>12}",
            format!("{}/{}", row.group, row.name),
            fmt_time(ns),
            per_chunk,
            row.allocs,
            row.bytes,
            allocs_chunk
        );
    }
}
