//! `OTEL_PROPAGATORS`: what `init` installs as the global text-map propagator. The global
//! propagator and the environment are process-wide, so each case runs in a child process:
//! the parent re-runs this test binary with one `#[ignore]`d child test and the variable set.

mod child_process;

use std::collections::HashMap;

use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceState};
use opentelemetry::{Context, KeyValue};

fn child(test: &str, propagators: Option<&str>) -> String {
    let mut cmd = child_process::ignored_test(test);
    cmd.env_remove("OTEL_PROPAGATORS")
        .env_remove("TRACELOOP_TRACE_CONTEXT_PROPAGATION");
    if let Some(p) = propagators {
        cmd.env("OTEL_PROPAGATORS", p);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{test}: {stdout}\n{stderr}");
    stderr
}

/// Inits the SDK (spans to memory, nothing on the network), then injects a context with a
/// sampled span and one baggage entry through the global propagator; prints the carrier.
fn init_and_inject() -> HashMap<String, String> {
    let _otel = openllmetry::init(
        openllmetry::Config::new()
            .with_span_exporter(opentelemetry_sdk::trace::InMemorySpanExporter::default())
            .with_metrics(false),
    );
    let sc = SpanContext::new(
        0x4bf92f3577b34da6a3ce929d0e0e4736u128.into(),
        SpanId::from(0x00f067aa0ba902b7u64),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let cx = Context::new()
        .with_remote_span_context(sc)
        .with_baggage(vec![KeyValue::new("user", "alice")]);
    let mut carrier = HashMap::new();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut carrier));
    eprintln!("CARRIER {carrier:?}");
    carrier
}

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
#[ignore = "child process of propagators_from_the_environment"]
fn child_tracecontext_and_baggage() {
    let c = init_and_inject();
    assert_eq!(c.get("traceparent").map(String::as_str), Some(TRACEPARENT));
    assert_eq!(c.get("baggage").map(String::as_str), Some("user=alice"));
}

#[test]
#[ignore = "child process of propagators_from_the_environment"]
fn child_tracecontext_only() {
    let c = init_and_inject();
    assert_eq!(c.get("traceparent").map(String::as_str), Some(TRACEPARENT));
    assert!(!c.contains_key("baggage"), "{c:?}");
}

#[test]
#[ignore = "child process of propagators_from_the_environment"]
fn child_baggage_only() {
    let c = init_and_inject();
    assert!(!c.contains_key("traceparent"), "{c:?}");
    assert_eq!(c.get("baggage").map(String::as_str), Some("user=alice"));
}

#[test]
#[ignore = "child process of propagators_from_the_environment"]
fn child_nothing() {
    let c = init_and_inject();
    assert!(c.is_empty(), "{c:?}");
}

#[test]
fn propagators_from_the_environment() {
    // Unset: the OTel default, W3C trace context and baggage.
    child("child_tracecontext_and_baggage", None);
    child(
        "child_tracecontext_and_baggage",
        Some("tracecontext,baggage"),
    );
    child("child_tracecontext_only", Some(" TraceContext "));
    child("child_baggage_only", Some("baggage"));
    child("child_nothing", Some("none"));
}

#[test]
fn an_unknown_propagator_is_ignored_with_one_warning() {
    let stderr = child("child_tracecontext_only", Some("b3,tracecontext,xray"));
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("OTEL_PROPAGATORS"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("b3") && warnings[0].contains("xray"),
        "{stderr}"
    );
}
