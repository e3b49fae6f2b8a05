//! Level `off`: faults are injected, nothing is recorded, no thread starts and the endpoint
//! (a loopback receiver) sees zero connection attempts.

mod telemetry_support;

use std::time::{Duration, Instant};

use openllmetry::telemetry::{self, Component, Kind, Switch, TelemetryConfig, TelemetryLevel};
use openllmetry_core::{ApiFormat, FaultKind, Operation};
use openllmetry_testkit::telemetry_receiver::TelemetryReceiver;
use telemetry_support::{env, fault, telemetry_threads};

#[test]
fn off_records_nothing_and_never_connects() {
    let receiver = TelemetryReceiver::start().unwrap();
    // The application asked for `on`; DO_NOT_TRACK wins.
    let decision = telemetry::decide(
        Some(TelemetryLevel::On),
        &env(&[("DO_NOT_TRACK", "1"), ("TRACELOOP_TELEMETRY", "on")]),
    )
    .unwrap();
    let config = TelemetryConfig::default()
        .with_endpoint(receiver.endpoint())
        .with_batch_delay(Duration::ZERO)
        .with_interval(Duration::ZERO);
    let status = telemetry::install(decision, config);
    assert_eq!(
        (status.level(), status.decided_by(), status.installed()),
        (TelemetryLevel::Off, Switch::DoNotTrack, true)
    );
    assert_eq!(
        status.to_string(),
        "openllmetry telemetry: off (DO_NOT_TRACK) — nothing is recorded and nothing is sent"
    );

    for kind in FaultKind::ALL {
        for _ in 0..50 {
            telemetry::record_fault(&fault(ApiFormat::Anthropic, Operation::Chat, *kind));
        }
    }
    telemetry::record_sdk_fault(Component::SdkExport, Kind::ExportFailed);
    std::thread::sleep(Duration::from_millis(500));

    assert_eq!(receiver.connections(), 0);
    assert!(!telemetry::__worker_started());
    assert_eq!(telemetry_threads(), 0);
    assert!(telemetry::fault_counts().is_empty());
    assert_eq!(telemetry::preview(), None);

    let started = Instant::now();
    telemetry::shutdown();
    assert!(started.elapsed() < Duration::from_millis(50));
    assert_eq!(receiver.connections(), 0);
}
