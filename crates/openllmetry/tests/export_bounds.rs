//! The export pipeline's bounds (issue 10), against the testkit's real OTLP receiver: export
//! requests bounded by encoded size (a big span never takes its batch down, a huge one is
//! truncated and marked, never dropped), simple mode exporting off the caller's thread in
//! every protocol with the collector up or down, the per-instrument series limit, and the
//! always-on local diagnostics.

use std::time::{Duration, Instant};

use openllmetry::telemetry::TelemetryLevel;
use openllmetry::{Config, OpenLlmetry, Protocol};
use openllmetry_testkit::otlp::OtlpReceiver;
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use tokio::sync::Mutex;

/// `cargo test` runs these in one process: the SDK installs globals.
static SERIAL: Mutex<()> = Mutex::const_new(());

const MIB: usize = 1024 * 1024;

fn config(endpoint: String, protocol: Protocol, batch: bool) -> Config {
    Config::new()
        .with_app_name("export-bounds")
        .with_api_endpoint(endpoint)
        .with_protocol(protocol)
        .with_batch(batch)
        .with_metrics(false)
        .with_export_timeout(Duration::from_millis(500))
        .with_telemetry(TelemetryLevel::Off)
}

fn endpoint(receiver: &OtlpReceiver, protocol: Protocol) -> String {
    match protocol {
        Protocol::Grpc => receiver.grpc_endpoint(),
        _ => receiver.http_endpoint(),
    }
}

/// Shuts the SDK down off the runtime's worker threads (the exporters may block).
async fn shutdown(otel: OpenLlmetry) {
    tokio::task::spawn_blocking(move || otel.shutdown())
        .await
        .unwrap();
}

/// Every HTTP request the receiver got is at most 4 MiB (the default request cap).
fn assert_requests_capped(receiver: &OtlpReceiver) {
    for r in receiver.raw_requests() {
        assert!(
            r.body.len() <= 4 * MIB,
            "an export request of {} bytes exceeds the 4 MiB cap",
            r.body.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_spans_do_not_take_their_batch_down() {
    let _serial = SERIAL.lock().await;
    let receiver = OtlpReceiver::start();
    let otel = openllmetry::try_init(config(
        receiver.http_endpoint(),
        Protocol::HttpProtobuf,
        true,
    ))
    .unwrap();
    let tracer = otel.tracer_provider().unwrap().tracer("bounds");
    let prompt = "p".repeat(MIB);
    // 300 ordinary spans and 50 with a 1 MiB prompt, in one batch (at most 512 per batch).
    for i in 0..350 {
        let mut span = tracer.start(if i % 7 == 0 { "big" } else { "ordinary" });
        if i % 7 == 0 {
            span.set_attribute(KeyValue::new("gen_ai.prompt", prompt.clone()));
        }
        span.end();
    }
    shutdown(otel).await;
    let spans = receiver.wait_for_spans(350, Duration::from_secs(20)).await;
    assert_eq!(spans.len(), 350, "spans lost");
    assert_eq!(receiver.spans_named("big").len(), 50);
    for s in receiver.spans_named("big") {
        assert_eq!(s.attr_str("gen_ai.prompt").map(str::len), Some(MIB));
        assert!(s.attr("openllmetry.truncated").is_none());
    }
    assert!(
        receiver.raw_requests().len() >= 13,
        "50 MiB cannot fit in fewer 4 MiB requests"
    );
    assert_requests_capped(&receiver);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_span_too_big_alone_arrives_truncated_and_marked() {
    let _serial = SERIAL.lock().await;
    let receiver = OtlpReceiver::start();
    let before = openllmetry::diagnostics().spans_truncated;
    let otel = openllmetry::try_init(config(
        receiver.http_endpoint(),
        Protocol::HttpProtobuf,
        true,
    ))
    .unwrap();
    let tracer = otel.tracer_provider().unwrap().tracer("bounds");
    let mut span = tracer.start("huge");
    span.set_attribute(KeyValue::new("gen_ai.prompt", "q".repeat(10 * MIB)));
    span.set_attribute(KeyValue::new("gen_ai.request.model", "gpt-4o"));
    span.end();
    shutdown(otel).await;
    let span = receiver
        .wait_for_span("huge", Duration::from_secs(20))
        .await
        .expect("the huge span was dropped");
    let kept = span.attr_str("gen_ai.prompt").unwrap().len();
    assert!(kept < 4 * MIB && kept > MIB, "kept {kept} bytes");
    assert_eq!(span.attr_str("gen_ai.request.model"), Some("gpt-4o"));
    assert_eq!(
        span.attr_str_array("openllmetry.truncated"),
        Some(vec!["gen_ai.prompt"])
    );
    assert!(openllmetry::diagnostics().spans_truncated > before);
    assert_requests_capped(&receiver);
}

/// One cell of the mode × protocol × collector matrix, in the calling runtime.
async fn cell(protocol: Protocol, batch: bool, up: bool) {
    let _serial = SERIAL.lock().await;
    let receiver = OtlpReceiver::start();
    let endpoint = endpoint(&receiver, protocol);
    if !up {
        receiver.stop();
    }
    let failures = openllmetry::diagnostics().export_failures;
    let otel = openllmetry::try_init(config(endpoint, protocol, batch)).unwrap();
    let tracer = otel.tracer_provider().unwrap().tracer("matrix");
    let started = Instant::now();
    for _ in 0..5 {
        let mut span = tracer.start("call");
        span.set_attribute(KeyValue::new("gen_ai.request.model", "m"));
        span.end();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Ending spans never waits for an export (generous bound for a loaded machine).
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "ending 5 spans took {:?}",
        started.elapsed()
    );
    if up && !batch {
        // Simple mode exports each span as it ends, without a flush.
        assert!(
            receiver
                .wait_for(
                    |r| r.spans_named("call").len() == 5,
                    Duration::from_secs(10)
                )
                .await,
            "{protocol:?} simple: {} of 5 spans arrived before shutdown",
            receiver.spans_named("call").len()
        );
    }
    let stopping = Instant::now();
    shutdown(otel).await;
    assert!(stopping.elapsed() < Duration::from_secs(15));
    if up {
        assert!(
            receiver
                .wait_for(
                    |r| r.spans_named("call").len() == 5,
                    Duration::from_secs(10)
                )
                .await,
            "{protocol:?} batch={batch}: {} of 5 spans arrived",
            receiver.spans_named("call").len()
        );
    } else {
        assert!(
            openllmetry::diagnostics().export_failures > failures,
            "{protocol:?} batch={batch}: the failed export was not counted"
        );
        assert!(openllmetry::diagnostics().last_export_error.is_some());
    }
}

macro_rules! matrix {
    ($($name:ident: $protocol:ident, $batch:expr, $up:expr;)*) => {
        mod multi_thread {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    cell(Protocol::$protocol, $batch, $up).await;
                }
            )*
        }
        mod current_thread {
            use super::*;
            $(
                #[tokio::test(flavor = "current_thread")]
                async fn $name() {
                    cell(Protocol::$protocol, $batch, $up).await;
                }
            )*
        }
    };
}

matrix! {
    simple_http_protobuf_up: HttpProtobuf, false, true;
    simple_http_protobuf_down: HttpProtobuf, false, false;
    simple_http_json_up: HttpJson, false, true;
    simple_http_json_down: HttpJson, false, false;
    simple_grpc_up: Grpc, false, true;
    simple_grpc_down: Grpc, false, false;
    batch_http_protobuf_up: HttpProtobuf, true, true;
    batch_http_protobuf_down: HttpProtobuf, true, false;
    batch_http_json_up: HttpJson, true, true;
    batch_http_json_down: HttpJson, true, false;
    batch_grpc_up: Grpc, true, true;
    batch_grpc_down: Grpc, true, false;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_keep_flowing_past_the_series_limit() {
    let _serial = SERIAL.lock().await;
    let receiver = OtlpReceiver::start();
    let otel = openllmetry::try_init(
        config(receiver.http_endpoint(), Protocol::HttpProtobuf, true).with_metrics(true),
    )
    .unwrap();
    use opentelemetry::metrics::MeterProvider as _;
    let meter = otel.meter_provider().unwrap().meter("attack");
    let calls = meter.u64_counter("attack.calls").build();
    // 600 unique 2 KiB model names: more series than the default limit (500, plus the
    // overflow series).
    for i in 0..600 {
        let model = format!("{i:04}-{}", "m".repeat(2048));
        calls.add(1, &[KeyValue::new("gen_ai.request.model", model)]);
    }
    let otel = tokio::task::spawn_blocking(move || {
        otel.force_flush();
        otel
    })
    .await
    .unwrap();
    assert!(
        receiver
            .wait_for(
                |r| !r.metric_points("attack.calls").is_empty(),
                Duration::from_secs(10)
            )
            .await,
        "the first metric export did not arrive"
    );
    let first = receiver.metric_points("attack.calls");
    assert!(
        first.len() <= 501,
        "{} series exported for one instrument",
        first.len()
    );
    let overflow: Vec<_> = first
        .iter()
        .filter(|p| p.attr("otel.metric.overflow").is_some())
        .collect();
    assert_eq!(overflow.len(), 1, "no overflow series");
    assert!(overflow[0].value.unwrap() >= 100.0);
    // Later points still arrive.
    receiver.clear();
    calls.add(7, &[KeyValue::new("gen_ai.request.model", "0000-late")]);
    shutdown(otel).await;
    assert!(
        receiver
            .wait_for(
                |r| !r.metric_points("attack.calls").is_empty(),
                Duration::from_secs(10)
            )
            .await,
        "metrics stopped flowing after the attack"
    );
    assert_eq!(openllmetry::diagnostics().export_failures, 0);
}
