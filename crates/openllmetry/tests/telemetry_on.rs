//! Level `on`: nothing starts before the first fault; then faults become exactly one
//! aggregated report at the receiver, equal to the hand-written golden file; the interval
//! holds back a second one; telemetry emits nothing through the OpenTelemetry pipeline.

mod telemetry_support;

use std::time::{Duration, Instant};

use openllmetry::telemetry::{self, Component, Kind, Switch, TelemetryConfig, TelemetryLevel};
use openllmetry_core::{ApiFormat, FaultKind, Operation};
use openllmetry_testkit::telemetry_receiver::TelemetryReceiver;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use serde_json::Value;
use telemetry_support::{env, fault, telemetry_threads, wait_until};

const GOLDEN: &str = include_str!("golden/telemetry_on_report.json");

/// Replaces the build-dependent constants with the golden file's placeholders, after
/// checking they are what the schema says.
fn normalise(mut report: Value) -> Value {
    let fields = [
        ("sdk_version", env!("CARGO_PKG_VERSION"), "<sdk_version>"),
        ("os", std::env::consts::OS, "<os>"),
        ("arch", std::env::consts::ARCH, "<arch>"),
    ];
    for (field, actual, placeholder) in fields {
        assert_eq!(report[field], actual, "{field}");
        report[field] = Value::from(placeholder);
    }
    report
}

#[test]
fn on_sends_one_aggregated_report() {
    // A user pipeline: telemetry must never create spans in it.
    let spans = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(spans.clone())
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());

    let receiver = TelemetryReceiver::start().unwrap();
    let decision = telemetry::decide(None, &env(&[("TRACELOOP_TELEMETRY", "on")])).unwrap();
    let config = TelemetryConfig::default()
        .with_endpoint(receiver.endpoint())
        .with_batch_delay(Duration::from_secs(1));
    let status = telemetry::install(decision, config);
    assert_eq!(
        (status.level(), status.decided_by()),
        (TelemetryLevel::On, Switch::TraceloopTelemetry)
    );
    assert!(status.to_string().starts_with(&format!(
        "openllmetry telemetry: on (TRACELOOP_TELEMETRY) — anonymous fault counts are sent to {}",
        receiver.endpoint()
    )));

    // Event-driven: installed at `on`, but no fault yet, so nothing exists.
    std::thread::sleep(Duration::from_millis(200));
    assert!(!telemetry::__worker_started());
    assert_eq!(telemetry_threads(), 0);
    assert_eq!(receiver.connections(), 0);

    let started = Instant::now();
    for _ in 0..3 {
        telemetry::record_fault(&fault(
            ApiFormat::OpenAi,
            Operation::Chat,
            FaultKind::UnknownEvent,
        ));
    }
    for _ in 0..2 {
        telemetry::record_fault(&fault(
            ApiFormat::OpenAi,
            Operation::Embeddings,
            FaultKind::InvalidJson,
        ));
    }
    telemetry::record_fault(&fault(
        ApiFormat::Anthropic,
        Operation::Chat,
        FaultKind::StreamIncomplete,
    ));
    telemetry::record_sdk_fault(Component::SdkExport, Kind::ExportFailed);
    // Recording (including starting the thread) does not wait for the network.
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );
    assert!(telemetry::__worker_started());
    // (The thread names itself once it runs.)
    assert!(wait_until(Duration::from_secs(2), || telemetry_threads() == 1));

    assert!(receiver.wait_for_reports(1, Duration::from_secs(10)));
    assert_eq!(receiver.rejected(), 0);
    assert_eq!(receiver.connections(), 1);
    let summary = receiver.summary();
    assert_eq!(summary.len(), 1);
    let got = normalise(serde_json::to_value(&summary[0]).unwrap());
    let want: Value = serde_json::from_str(GOLDEN).unwrap();
    assert_eq!(
        got,
        want,
        "got:\n{}",
        serde_json::to_string_pretty(&got).unwrap()
    );
    assert_eq!(
        telemetry::preview(),
        None,
        "everything pending was reported"
    );

    // More faults within the interval (1 h): aggregated locally, not sent.
    telemetry::record_fault(&fault(
        ApiFormat::OpenAi,
        Operation::Chat,
        FaultKind::UnknownEvent,
    ));
    std::thread::sleep(Duration::from_millis(800));
    let pending = telemetry::preview().expect("pending report");
    assert!(pending.contains("\"unknown_event\""), "{pending}");
    // Shutdown respects the interval too, and returns within its bound.
    let started = Instant::now();
    telemetry::shutdown();
    assert!(started.elapsed() < Duration::from_millis(1200));
    assert!(wait_until(Duration::from_secs(2), || telemetry_threads() == 0));
    assert_eq!(receiver.reports(), 1);
    assert_eq!(receiver.connections(), 1);

    let total: u64 = telemetry::fault_counts().iter().map(|c| c.count).sum();
    assert_eq!(total, 8);

    provider.force_flush().unwrap();
    assert!(spans.get_finished_spans().unwrap().is_empty());
    assert_eq!(telemetry::__caught_panics(), 0);
}
