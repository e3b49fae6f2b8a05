//! Entity input/output takes the same content path as LLM content: with secret masking on
//! (`TRACELOOP_MASK_SECRETS` / `Config::with_secret_masking`), an API key in a task's
//! arguments or result, or in what the `Entity` API records, is masked in the exported
//! `traceloop.entity.input` / `traceloop.entity.output`. Own test binary: `init` is
//! process-wide.

use openllmetry::entity::Entity;
use openllmetry::task;
use opentelemetry_sdk::trace::InMemorySpanExporter;

const KEY: &str = "sk-proj1234567890abcdefghijklmnop";

#[task]
fn call_with_key(api_key: &str, question: &str) -> String {
    format!("{question} (used {api_key})")
}

fn attr(span: &opentelemetry_sdk::trace::SpanData, key: &str) -> String {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
        .unwrap_or_else(|| panic!("{} has no {key}: {:?}", span.name, span.attributes))
}

#[test]
fn secrets_in_entity_input_and_output_are_masked() {
    let spans = InMemorySpanExporter::default();
    let otel = openllmetry::init(
        openllmetry::Config::new()
            .with_span_exporter(spans.clone())
            .with_batch(false)
            .with_metrics(false)
            .with_telemetry(openllmetry::telemetry::TelemetryLevel::Off)
            .with_content_capture(true)
            .with_secret_masking(true),
    );
    let answer = call_with_key(KEY, "why?");
    assert!(
        answer.contains(KEY),
        "the application's own values are untouched"
    );
    let api = Entity::task("api_task").start();
    api.record_input(
        &serde_json::json!({ "headers": { "authorization": format!("Bearer {KEY}") } }),
    );
    api.record_output(&vec![KEY]);
    drop(api);
    otel.force_flush();

    let finished = spans.get_finished_spans().unwrap();
    let by_name = |name: &str| {
        finished
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no span {name}: {finished:?}"))
    };
    for name in ["call_with_key.task", "api_task.task"] {
        let span = by_name(name);
        let input = attr(span, "traceloop.entity.input");
        let output = attr(span, "traceloop.entity.output");
        for (what, json) in [("input", &input), ("output", &output)] {
            assert!(!json.contains(KEY), "{name} {what} leaks the key: {json}");
            assert!(
                json.contains("[REDACTED"),
                "{name} {what} not masked: {json}"
            );
            serde_json::from_str::<serde_json::Value>(json)
                .unwrap_or_else(|e| panic!("{name} {what} is not JSON ({e}): {json}"));
        }
    }
    // The rest of the content is kept.
    assert!(attr(by_name("call_with_key.task"), "traceloop.entity.input").contains("why?"));
    otel.shutdown();
}
