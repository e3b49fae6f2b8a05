//! Scenarios that need a fresh process each (the telemetry state is process-global) or
//! need the process's stderr: each parent test re-runs this test binary with
//! `child_entry --exact` and an environment variable naming the scenario, holds the
//! loopback endpoint itself, and checks the child's stderr and the endpoint's counts.

mod telemetry_support;

use std::io::Read;
use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use openllmetry::telemetry::{self, Component, Kind, TelemetryConfig, TelemetryLevel};
use openllmetry_core::{ApiFormat, FaultKind, Operation};
use openllmetry_testkit::telemetry_receiver::TelemetryReceiver;
use serde_json::Value;
use telemetry_support::{env, fault, telemetry_threads, wait_until};

const MODE: &str = "OLLM_TELEMETRY_TEST_CHILD";
const ENDPOINT: &str = "OLLM_TELEMETRY_TEST_ENDPOINT";
const DEBUG_HEADER: &str = "openllmetry telemetry (debug: this report is printed, not sent):";
const ON_NOTICE: &str = "openllmetry: telemetry is on:";

/// Runs one scenario in a child process; returns its stderr (the child must succeed).
fn run_child(mode: &str, endpoint: &str) -> String {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["child_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env(MODE, mode)
        .env(ENDPOINT, endpoint)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "child {mode} failed\nstdout:\n{}\nstderr:\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

fn some_faults() {
    for _ in 0..2 {
        telemetry::record_fault(&fault(
            ApiFormat::OpenAi,
            Operation::Chat,
            FaultKind::InvalidJson,
        ));
    }
    telemetry::record_sdk_fault(Component::SdkInit, Kind::InvalidConfig);
}

fn install(level_env: &str, config: TelemetryConfig) -> TelemetryLevel {
    let decision = telemetry::decide(None, &env(&[("TRACELOOP_TELEMETRY", level_env)])).unwrap();
    telemetry::install(decision, config).level()
}

/// The child side. A no-op when run as an ordinary test.
#[test]
fn child_entry() {
    let (Ok(mode), Ok(endpoint)) = (std::env::var(MODE), std::env::var(ENDPOINT)) else {
        return;
    };
    let base = TelemetryConfig::default()
        .with_endpoint(endpoint)
        .with_batch_delay(Duration::ZERO);
    match mode.as_str() {
        "debug" => {
            let config = base.with_batch_delay(Duration::from_millis(100));
            assert_eq!(install("debug", config), TelemetryLevel::Debug);
            some_faults();
            std::thread::sleep(Duration::from_millis(600));
            telemetry::shutdown();
        }
        "notice" => {
            let config = base.with_batch_delay(Duration::from_millis(500));
            assert_eq!(install("on", config.clone()), TelemetryLevel::On);
            some_faults();
            assert_eq!(install("on", config), TelemetryLevel::On);
            some_faults();
            std::thread::sleep(Duration::from_millis(1200));
            telemetry::shutdown();
        }
        "retry" => {
            // The endpoint accepts connections and never answers.
            let config = base
                .with_timeout(Duration::from_millis(300))
                .with_shutdown_timeout(Duration::from_millis(200));
            assert_eq!(install("on", config), TelemetryLevel::On);
            let started = Instant::now();
            some_faults();
            assert!(
                started.elapsed() < Duration::from_millis(100),
                "recording blocked"
            );
            std::thread::sleep(Duration::from_millis(100));
            // An upload is in flight: shutdown still returns within its bound.
            let started = Instant::now();
            telemetry::shutdown();
            let waited = started.elapsed();
            assert!(
                waited < Duration::from_millis(450),
                "shutdown took {waited:?}"
            );
            // Let the in-flight upload finish its single retry before exiting.
            std::thread::sleep(Duration::from_millis(2000));
        }
        "tls" | "reject" => {
            let config = base.with_timeout(Duration::from_millis(500));
            assert_eq!(install("on", config), TelemetryLevel::On);
            some_faults();
            std::thread::sleep(Duration::from_millis(2500));
        }
        "cap" => {
            let config = base.with_interval(Duration::ZERO).with_max_uploads(3);
            assert_eq!(install("on", config), TelemetryLevel::On);
            for _ in 0..6 {
                some_faults();
                std::thread::sleep(Duration::from_millis(250));
            }
            // The thread exits once the cap is reached.
            assert!(wait_until(Duration::from_secs(2), || telemetry_threads() == 0));
        }
        other => panic!("unknown child mode {other}"),
    }
    assert_eq!(telemetry::__caught_panics(), 0);
}

#[test]
fn debug_prints_the_payload_and_sends_nothing() {
    let receiver = TelemetryReceiver::start().unwrap();
    let stderr = run_child("debug", &receiver.endpoint());
    assert_eq!(receiver.connections(), 0, "{stderr}");
    assert_eq!(stderr.matches(DEBUG_HEADER).count(), 1, "{stderr}");
    assert!(!stderr.contains(ON_NOTICE), "{stderr}");
    let json = &stderr[stderr.find(DEBUG_HEADER).unwrap() + DEBUG_HEADER.len()..];
    let report: Value = serde_json::Deserializer::from_str(json)
        .into_iter()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["language"], "rust");
    assert_eq!(
        report["entries"],
        serde_json::json!([
            {"component": "openai", "operation": "chat", "kind": "invalid_json", "count": 2},
            {"component": "sdk_init", "operation": "none", "kind": "invalid_config", "count": 1},
        ])
    );
}

#[test]
fn on_notice_is_printed_exactly_once() {
    let receiver = TelemetryReceiver::start().unwrap();
    let stderr = run_child("notice", &receiver.endpoint());
    assert_eq!(stderr.matches(ON_NOTICE).count(), 1, "{stderr}");
    let line = stderr.lines().find(|l| l.contains(ON_NOTICE)).unwrap();
    assert!(line.contains(&receiver.endpoint()), "{line}");
    assert!(line.contains("TRACELOOP_TELEMETRY=off"), "{line}");
    assert!(line.contains("DO_NOT_TRACK=1"), "{line}");
    // Two installs and two bursts of faults: still one aggregated report.
    assert!(receiver.wait_for_reports(1, Duration::from_secs(2)));
    assert_eq!(receiver.reports(), 1);
    assert_eq!(receiver.rejected(), 0);
    let counts: Vec<u64> = receiver.counts().into_values().collect();
    assert_eq!(counts, vec![4, 2]);
}

#[test]
fn a_silent_endpoint_gets_one_retry_and_never_blocks() {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicU64::new(0));
    std::thread::spawn({
        let accepted = accepted.clone();
        move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                accepted.fetch_add(1, Ordering::SeqCst);
                // Read the request, then say nothing until the client gives up.
                let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
                let _ = stream.read(&mut [0u8; 4096]);
                held.push(stream);
            }
        }
    });
    let stderr = run_child("retry", &format!("http://{addr}/v1/reports"));
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "{stderr}");
}

#[test]
fn a_4xx_is_not_retried() {
    let receiver = TelemetryReceiver::start().unwrap();
    let endpoint = format!("http://{}/not-the-reports-path", receiver.addr());
    let stderr = run_child("reject", &endpoint);
    assert_eq!(receiver.connections(), 1, "{stderr}");
    assert_eq!(receiver.rejected(), 1);
    assert_eq!(receiver.reports(), 0);
}

#[test]
fn a_failed_tls_handshake_is_silent_and_retried_once() {
    // A plain-HTTP receiver behind an https:// URL: the handshake cannot succeed.
    let receiver = TelemetryReceiver::start().unwrap();
    let endpoint = format!("https://{}/v1/reports", receiver.addr());
    let stderr = run_child("tls", &endpoint);
    assert_eq!(receiver.connections(), 2, "{stderr}");
    assert_eq!(receiver.reports(), 0);
    assert!(
        stderr.matches(ON_NOTICE).count() == 1 && stderr.lines().count() == 1,
        "{stderr}"
    );
}

#[test]
fn uploads_are_capped_per_process() {
    let receiver = TelemetryReceiver::start().unwrap();
    let stderr = run_child("cap", &receiver.endpoint());
    assert_eq!(receiver.reports(), 3, "{stderr}");
    assert_eq!(receiver.connections(), 3);
}
