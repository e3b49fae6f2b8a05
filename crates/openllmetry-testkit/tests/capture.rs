//! In-memory capture through real SDK providers.

use std::collections::HashMap;

use openllmetry_testkit::capture::{self, Capture, SpanDataExt};
use openllmetry_testkit::flat::{AttrValue, PointKind, StatusCode};
use opentelemetry::KeyValue;
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{Span as _, Status, Tracer as _};

#[test]
fn spans_and_attribute_getters() {
    let capture = Capture::new();
    let tracer = capture.tracer("test");
    let mut span = tracer.start("chat gpt-4");
    span.set_attribute(KeyValue::new("gen_ai.request.model", "gpt-4"));
    span.set_attribute(KeyValue::new("gen_ai.usage.input_tokens", 12));
    span.set_attribute(KeyValue::new("gen_ai.request.temperature", 0.7));
    span.set_attribute(KeyValue::new("gen_ai.request.stream", false));
    span.set_attribute(KeyValue::new(
        "gen_ai.response.finish_reasons",
        opentelemetry::Value::Array(
            vec![
                opentelemetry::StringValue::from("stop"),
                opentelemetry::StringValue::from("length"),
            ]
            .into(),
        ),
    ));
    span.add_event(
        "gen_ai.choice",
        vec![KeyValue::new("message", "a completion")],
    );
    span.set_status(Status::error("boom"));
    span.end();
    tracer.start("other").end();

    let span = capture.span("chat gpt-4");
    assert_eq!(
        capture::attr_str(&span, "gen_ai.request.model"),
        Some("gpt-4")
    );
    assert_eq!(span.attr_str("gen_ai.request.model"), Some("gpt-4"));
    assert_eq!(span.attr_i64("gen_ai.usage.input_tokens"), Some(12));
    assert_eq!(span.attr_f64("gen_ai.request.temperature"), Some(0.7));
    assert_eq!(span.attr_f64("gen_ai.usage.input_tokens"), Some(12.0));
    assert_eq!(span.attr_bool("gen_ai.request.stream"), Some(false));
    assert_eq!(
        span.attr_str_array("gen_ai.response.finish_reasons"),
        Some(vec!["stop".to_string(), "length".to_string()])
    );
    assert_eq!(span.attr_str("missing"), None);
    assert_eq!(span.attr_i64("gen_ai.request.model"), None);
    assert_eq!(
        span.attr_value("gen_ai.usage.input_tokens"),
        Some(AttrValue::Int(12))
    );
    assert_eq!(
        span.event_attrs("gen_ai.choice").unwrap()["message"],
        "a completion"
    );
    assert_eq!(span.attr_map().len(), 5);

    assert_eq!(capture.spans().len(), 2);
    assert_eq!(capture.spans_named("other").len(), 1);
    let flat = capture.flat_spans();
    let chat = flat.iter().find(|s| s.name == "chat gpt-4").unwrap();
    assert_eq!(chat.status_code, StatusCode::Error);
    assert_eq!(chat.status_message, "boom");
    assert_eq!(chat.scope_name, "test");

    let text = capture.all_exported_text();
    for needle in [
        "chat gpt-4",
        "gpt-4",
        "a completion",
        "boom",
        "gen_ai.choice",
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
    assert!(!text.contains("never said"));

    capture.reset();
    assert!(capture.spans().is_empty());
}

#[test]
#[should_panic(expected = "expected exactly one finished span named \"twice\", found 2")]
fn span_panics_unless_exactly_one() {
    let capture = Capture::new();
    let tracer = capture.tracer("test");
    tracer.start("twice").end();
    tracer.start("twice").end();
    capture.span("twice");
}

#[test]
fn metric_points_show_current_totals() {
    let capture = Capture::new();
    let meter = capture.meter_provider().meter("m");
    let histogram = meter
        .f64_histogram("gen_ai.client.operation.duration")
        .with_unit("s")
        .build();
    let counter = meter.u64_counter("llm.calls").build();
    let model = [KeyValue::new("gen_ai.request.model", "gpt-4")];
    histogram.record(0.5, &model);
    histogram.record(1.5, &model);
    counter.add(1, &model);

    let points = capture.metric_points("gen_ai.client.operation.duration");
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].kind, PointKind::Histogram);
    assert_eq!(points[0].count, Some(2));
    assert_eq!(points[0].sum, Some(2.0));
    assert_eq!(points[0].min, Some(0.5));
    assert_eq!(points[0].max, Some(1.5));
    assert_eq!(points[0].unit, "s");
    assert_eq!(points[0].attr_str("gen_ai.request.model"), Some("gpt-4"));
    assert!(!points[0].bounds.is_empty());
    assert_eq!(points[0].bucket_counts.len(), points[0].bounds.len() + 1);

    counter.add(2, &model);
    let calls = capture.metric_points("llm.calls");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].kind, PointKind::Sum { monotonic: true });
    assert_eq!(calls[0].value, Some(3.0), "cumulative total");
    assert!(capture.metric_points("nothing").is_empty());
    assert_eq!(
        capture.metric_names(),
        vec!["gen_ai.client.operation.duration", "llm.calls"]
    );
    assert!(capture.all_exported_text().contains("gen_ai.request.model"));
}

#[test]
fn logs_are_flattened() {
    let capture = Capture::new();
    let logger = capture.logger_provider().logger("l");
    let mut record = logger.create_log_record();
    record.set_event_name("gen_ai.user.message");
    record.set_body(AnyValue::Map(Box::new(HashMap::from([(
        "content".into(),
        AnyValue::String("secret prompt".into()),
    )]))));
    record.add_attribute("gen_ai.system", "openai");
    logger.emit(record);

    let logs = capture.logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].event_name.as_deref(), Some("gen_ai.user.message"));
    assert_eq!(
        logs[0].body,
        Some(serde_json::json!({"content": "secret prompt"}))
    );
    assert_eq!(logs[0].attr_str("gen_ai.system"), Some("openai"));
    assert_eq!(logs[0].scope_name, "l");
    assert_eq!(logs[0].trace_id, None);
    assert_eq!(capture.raw_logs().len(), 1);
    assert!(capture.all_exported_text().contains("secret prompt"));
}
