//! Entity input/output takes the same content path as LLM content: with secret masking on
//! (`TRACELOOP_MASK_SECRETS` / `Config::with_secret_masking`), an API key in a task's
//! arguments or result, or in what the `Entity` API records, is masked in the exported
//! `traceloop.entity.input` / `traceloop.entity.output`; then the user's redaction hook sees it,
//! already masked, with the entity's kind and name, and may rewrite or drop it. Own test binary:
//! `init` is process-wide.

use std::sync::{Arc, Mutex};

use openllmetry::entity::{Entity, EntityKind};
use openllmetry::redact::{EntityField, Redact};
use openllmetry::task;
use opentelemetry_sdk::trace::InMemorySpanExporter;

const KEY: &str = "sk-proj1234567890abcdefghijklmnop";
/// A value only the user's hook knows to hide.
const CARD: &str = "4111 1111 1111 1111";

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
fn entity_content_is_masked_then_shown_to_the_redaction_hook() {
    let spans = InMemorySpanExporter::default();
    // What the hook saw: (kind, name, field, whether the raw key was still there).
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen_by_hook = Arc::clone(&seen);
    let otel = openllmetry::init(
        openllmetry::Config::new()
            .with_span_exporter(spans.clone())
            .with_batch(false)
            .with_metrics(false)
            .with_telemetry(openllmetry::telemetry::TelemetryLevel::Off)
            .with_content_capture(true)
            .with_secret_masking(true)
            .with_redaction(move |mut r| {
                if let Redact::Entity {
                    kind,
                    name,
                    field,
                    value,
                    ..
                } = &mut r
                {
                    let raw_key_seen = value.to_string().contains(KEY);
                    seen_by_hook.lock().unwrap().push((
                        *kind,
                        name.to_string(),
                        *field,
                        raw_key_seen,
                    ));
                    if *name == "dropped_output" && *field == EntityField::Output {
                        **value = serde_json::Value::Null;
                    }
                }
                r.for_each_string(|s| {
                    if s.contains(CARD) {
                        *s = s.replace(CARD, "[CARD]");
                    }
                });
            }),
    );
    let answer = call_with_key(KEY, &format!("why? card {CARD}"));
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
    let dropped = Entity::new(EntityKind::Tool, "dropped_output").start();
    dropped.record_input(&CARD);
    dropped.record_output(&CARD);
    drop(dropped);
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
    // The rest of the content is kept, and the hook's own rule applied.
    let input = attr(by_name("call_with_key.task"), "traceloop.entity.input");
    assert!(input.contains("why? card [CARD]"), "{input}");
    let output = attr(by_name("call_with_key.task"), "traceloop.entity.output");
    assert!(output.contains("why? card [CARD]"), "{output}");
    // A value the hook set to null is not recorded; the other field is, rewritten.
    let dropped = by_name("dropped_output.tool");
    assert_eq!(attr(dropped, "traceloop.entity.input"), "\"[CARD]\"");
    assert!(
        !dropped
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "traceloop.entity.output"),
        "{:?}",
        dropped.attributes
    );
    // The hook saw every entity's input and output, after masking.
    let seen = seen.lock().unwrap();
    let expected = [
        (EntityKind::Task, "call_with_key", EntityField::Input),
        (EntityKind::Task, "call_with_key", EntityField::Output),
        (EntityKind::Task, "api_task", EntityField::Input),
        (EntityKind::Task, "api_task", EntityField::Output),
        (EntityKind::Tool, "dropped_output", EntityField::Input),
        (EntityKind::Tool, "dropped_output", EntityField::Output),
    ];
    assert_eq!(seen.len(), expected.len(), "{seen:?}");
    for (kind, name, field) in expected {
        assert!(
            seen.iter()
                .any(|(k, n, f, _)| (*k, n.as_str(), *f) == (kind, name, field)),
            "the hook never saw {kind} {name} {field:?}: {seen:?}"
        );
    }
    assert!(
        seen.iter().all(|(.., raw_key_seen)| !raw_key_seen),
        "the hook ran before masking: {seen:?}"
    );
    otel.shutdown();
}
