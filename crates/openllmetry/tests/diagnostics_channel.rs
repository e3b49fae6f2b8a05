//! The SDK's one diagnostics channel: its warnings (an invalid setting, a failed export) are
//! `tracing` events with target `openllmetry` when the application has a subscriber, and
//! `openllmetry: ...` lines on stderr when it has none, never both. Each case runs in a child
//! process (the global subscriber and the environment are process-wide).

mod child_process;

use std::sync::Mutex;

use tracing_subscriber::layer::SubscriberExt as _;

fn child(test: &str) -> (String, String) {
    let mut cmd = child_process::ignored_test(test);
    // An invalid value: init warns once and uses the default.
    cmd.env("TRACELOOP_TRACE_CONTENT", "maybe");
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{test}: {stdout}\n{stderr}");
    (stdout, stderr)
}

/// Inits the SDK against a closed loopback port (each export is refused at once), exports
/// one span in simple mode and flushes: one failed export.
fn init_and_fail_one_export() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let otel = openllmetry::init(
        openllmetry::Config::new()
            .with_api_endpoint(endpoint)
            .with_batch(false)
            .with_metrics(false),
    );
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    let tracer = otel.tracer_provider().unwrap().tracer("t");
    tracer.in_span("one", |_| {});
    let before = openllmetry::diagnostics().export_failures;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while openllmetry::diagnostics().export_failures == before
        && std::time::Instant::now() < deadline
    {
        otel.force_flush();
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(openllmetry::diagnostics().export_failures > before);
    otel.shutdown();
}

/// Every event the subscriber saw: (target, level, message and fields).
static EVENTS: Mutex<Vec<(String, String, String)>> = Mutex::new(Vec::new());

struct Capture;

struct Text(String);

impl tracing::field::Visit for Text {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _cx: tracing_subscriber::layer::Context<'_, S>) {
        let mut text = Text(String::new());
        event.record(&mut text);
        EVENTS.lock().unwrap().push((
            event.metadata().target().to_owned(),
            event.metadata().level().to_string(),
            text.0,
        ));
    }
}

#[test]
#[ignore = "child process of warnings_reach_a_tracing_subscriber_else_stderr"]
fn child_with_subscriber() {
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Capture)).unwrap();
    init_and_fail_one_export();
    for (target, level, text) in EVENTS.lock().unwrap().iter() {
        println!("EVENT {target} {level}{text}");
    }
}

#[test]
#[ignore = "child process of warnings_reach_a_tracing_subscriber_else_stderr"]
fn child_without_subscriber() {
    init_and_fail_one_export();
}

#[test]
fn warnings_reach_a_tracing_subscriber_else_stderr() {
    let (stdout, stderr) = child("child_with_subscriber");
    // (libtest may print `test child_with_subscriber ... ` before the first one.)
    let events: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.find("EVENT ").map(|i| &l[i..]))
        .collect();
    let find = |needle: &str| {
        events
            .iter()
            .find(|e| e.contains(needle))
            .unwrap_or_else(|| panic!("no event with {needle:?}: {stdout}\n{stderr}"))
    };
    let invalid = find("TRACELOOP_TRACE_CONTENT");
    assert!(invalid.starts_with("EVENT openllmetry WARN"), "{invalid}");
    let export = find("telemetry export failed");
    assert!(export.starts_with("EVENT openllmetry WARN"), "{export}");
    assert!(
        export.contains("failed=1") && export.contains("cause="),
        "{export}"
    );
    // Nothing of it on stderr.
    assert!(!stderr.contains("telemetry export failed"), "{stderr}");
    assert!(!stderr.contains("TRACELOOP_TRACE_CONTENT"), "{stderr}");

    let (_, stderr) = child("child_without_subscriber");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("openllmetry: "))
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("TRACELOOP_TRACE_CONTENT")),
        "{stderr}"
    );
    let export: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("telemetry export failed"))
        .collect();
    assert_eq!(export.len(), 1, "rate-limited to one line: {stderr}");
    assert!(
        export[0].contains("failed=1") && export[0].contains("cause="),
        "{stderr}"
    );
}
