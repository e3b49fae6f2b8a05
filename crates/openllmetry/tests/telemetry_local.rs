//! Level `local` (the default): faults are counted in-process and previewable; no thread
//! starts and the endpoint sees zero connection attempts. A later install cannot raise the
//! level, but can lower it to `off`.

mod telemetry_support;

use std::time::{Duration, Instant};

use openllmetry::telemetry::{
    self, Component, FaultCount, Kind, Operation as Op, Switch, TelemetryConfig, TelemetryLevel,
};
use openllmetry_core::{ApiFormat, FaultKind, Operation};
use openllmetry_testkit::telemetry_receiver::{TelemetryReceiver, validate_report};
use telemetry_support::{env, fault, telemetry_threads};

#[test]
fn local_counts_in_process_and_never_connects() {
    let receiver = TelemetryReceiver::start().unwrap();
    let decision = telemetry::decide(None, &env(&[])).unwrap();
    let config = TelemetryConfig::default()
        .with_endpoint(receiver.endpoint())
        .with_batch_delay(Duration::ZERO)
        .with_interval(Duration::ZERO);
    let status = telemetry::install(decision, config.clone());
    assert_eq!(
        (status.level(), status.decided_by()),
        (TelemetryLevel::Local, Switch::Default)
    );
    assert_eq!(
        status.to_string(),
        "openllmetry telemetry: local (default) — faults are counted in-process only; nothing \
         leaves the process (inspect with openllmetry::telemetry::preview())"
    );
    assert_eq!(telemetry::preview(), None);

    for _ in 0..3 {
        telemetry::record_fault(&fault(
            ApiFormat::OpenAi,
            Operation::Responses,
            FaultKind::UnknownEvent,
        ));
    }
    telemetry::record_sdk_fault(Component::SdkEntity, Kind::SerializeFailed);
    std::thread::sleep(Duration::from_millis(300));

    assert_eq!(receiver.connections(), 0);
    assert!(!telemetry::__worker_started());
    assert_eq!(telemetry_threads(), 0);
    assert_eq!(
        telemetry::fault_counts(),
        vec![
            FaultCount {
                component: Component::OpenAi,
                operation: Op::Responses,
                kind: Kind::UnknownEvent,
                count: 3
            },
            FaultCount {
                component: Component::SdkEntity,
                operation: Op::None,
                kind: Kind::SerializeFailed,
                count: 1
            },
        ]
    );
    // The preview is exactly what `on` would send: a valid report for the receiver.
    let preview = telemetry::preview().expect("pending report");
    let report = validate_report(preview.as_bytes()).unwrap();
    assert_eq!(report.entries.len(), 2);
    assert!(preview.contains("\"count\": 3"), "{preview}");

    // A later install never raises the level ...
    let on = telemetry::decide(Some(TelemetryLevel::On), &env(&[])).unwrap();
    let status = telemetry::install(on, config.clone());
    assert_eq!(status.level(), TelemetryLevel::Local);
    telemetry::record_fault(&fault(
        ApiFormat::OpenAi,
        Operation::Chat,
        FaultKind::InvalidJson,
    ));
    std::thread::sleep(Duration::from_millis(200));
    assert!(!telemetry::__worker_started());
    assert_eq!(receiver.connections(), 0);

    let started = Instant::now();
    telemetry::shutdown();
    assert!(started.elapsed() < Duration::from_millis(50));

    // ... but can lower it to off: nothing is recorded or shown any more.
    let off = telemetry::decide(Some(TelemetryLevel::Off), &env(&[])).unwrap();
    let status = telemetry::install(off, config);
    assert_eq!(
        (status.level(), status.decided_by()),
        (TelemetryLevel::Off, Switch::Builder)
    );
    telemetry::record_fault(&fault(
        ApiFormat::OpenAi,
        Operation::Chat,
        FaultKind::InvalidJson,
    ));
    assert_eq!(telemetry::preview(), None);
    assert!(telemetry::fault_counts().is_empty());
    assert_eq!(receiver.connections(), 0);
    assert_eq!(telemetry_threads(), 0);
}
