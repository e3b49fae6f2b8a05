//! The OTLP receiver decodes what the real `opentelemetry-otlp` exporters send.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use openllmetry_testkit::capture::Capture;
use openllmetry_testkit::flat::{AttrValue, PointKind, StatusCode};
use openllmetry_testkit::otlp::{OtlpReceiver, Protocol as Wire};
use opentelemetry::KeyValue;
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry_otlp::{
    Compression, Protocol, RetryPolicy, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter as _};

const WAIT: Duration = Duration::from_secs(10);
const API_KEY: &str = "sk-testkit-never-exported-0123456789";

fn http_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
}

fn resource() -> Resource {
    Resource::builder()
        .with_service_name("testkit-wire")
        .build()
}

fn http_tracer_provider(
    receiver: &OtlpReceiver,
    protocol: Protocol,
    gzip: bool,
) -> SdkTracerProvider {
    let mut builder = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(http_client())
        .with_protocol(protocol)
        .with_endpoint(receiver.traces_url())
        .with_retry_policy(RetryPolicy::disabled())
        .with_headers(HashMap::from([(
            "x-team".to_string(),
            "wire-tests".to_string(),
        )]));
    if gzip {
        builder = builder.with_compression(Compression::Gzip);
    }
    SdkTracerProvider::builder()
        .with_resource(resource())
        .with_simple_exporter(builder.build().unwrap())
        .build()
}

/// Emits a parent "workflow" span and a child "chat gpt-4" span with typical attributes.
fn emit_spans(provider: &SdkTracerProvider) -> (String, String) {
    let tracer = provider.tracer("openllmetry-wire");
    let parent = tracer.start("workflow");
    let cx = opentelemetry::Context::current_with_span(parent);
    let mut span = tracer
        .span_builder("chat gpt-4")
        .with_kind(SpanKind::Client)
        .start_with_context(&tracer, &cx);
    span.set_attribute(KeyValue::new("gen_ai.request.model", "gpt-4"));
    span.set_attribute(KeyValue::new("gen_ai.usage.input_tokens", 12));
    span.set_attribute(KeyValue::new("gen_ai.request.temperature", 0.5));
    span.set_attribute(KeyValue::new("gen_ai.request.stream", true));
    span.set_attribute(KeyValue::new(
        "gen_ai.response.finish_reasons",
        opentelemetry::Value::Array(vec![opentelemetry::StringValue::from("stop")].into()),
    ));
    span.add_event(
        "gen_ai.content.completion",
        vec![KeyValue::new("gen_ai.completion", "Hello!")],
    );
    span.set_status(Status::error("rate limited"));
    let trace_id = span.span_context().trace_id().to_string();
    let parent_id = cx.span().span_context().span_id().to_string();
    span.end();
    cx.span().end();
    (trace_id, parent_id)
}

fn check_spans(receiver: &OtlpReceiver, trace_id: &str, parent_id: &str) {
    let spans = receiver.wait_for_spans_blocking(2, WAIT);
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let chat = receiver.span("chat gpt-4");
    assert_eq!(chat.kind, SpanKind::Client);
    assert_eq!(chat.trace_id, trace_id);
    assert_eq!(chat.parent_span_id.as_deref(), Some(parent_id));
    assert_eq!(chat.span_id.len(), 16);
    assert_eq!(chat.attr_str("gen_ai.request.model"), Some("gpt-4"));
    assert_eq!(chat.attributes["gen_ai.request.model"], "gpt-4");
    assert_eq!(chat.attr_i64("gen_ai.usage.input_tokens"), Some(12));
    assert_eq!(chat.attr_f64("gen_ai.request.temperature"), Some(0.5));
    assert_eq!(chat.attr_bool("gen_ai.request.stream"), Some(true));
    assert_eq!(
        chat.attr_str_array("gen_ai.response.finish_reasons"),
        Some(vec!["stop"])
    );
    assert_eq!(
        chat.event("gen_ai.content.completion").unwrap()["gen_ai.completion"],
        "Hello!"
    );
    assert_eq!(chat.status_code, StatusCode::Error);
    assert_eq!(chat.status_message, "rate limited");
    assert_eq!(chat.scope_name, "openllmetry-wire");
    assert_eq!(chat.resource["service.name"], "testkit-wire");
    assert!(chat.end_time_unix_nano >= chat.start_time_unix_nano);
    let workflow = receiver.span("workflow");
    assert_eq!(workflow.parent_span_id, None);
    assert_eq!(workflow.kind, SpanKind::Internal);
    assert!(receiver.all_text().contains("Hello!"));
}

#[test]
fn http_protobuf_spans() {
    let receiver = OtlpReceiver::start();
    let provider = http_tracer_provider(&receiver, Protocol::HttpBinary, false);
    let (trace_id, parent_id) = emit_spans(&provider);
    check_spans(&receiver, &trace_id, &parent_id);
    let raw = receiver.raw_requests();
    assert!(
        raw.iter()
            .all(|r| r.protocol == Wire::Http && r.path == "/v1/traces")
    );
    assert_eq!(
        raw[0].header("content-type").as_deref(),
        Some("application/x-protobuf")
    );
    assert_eq!(raw[0].status, 200);
    assert!(receiver.raw_contains(b"x-team: wire-tests"));
    assert!(receiver.raw_contains(b"gpt-4"));
    assert!(!receiver.raw_contains(API_KEY.as_bytes()));
    assert_eq!(receiver.rejected_count(), 0);
    provider.shutdown().unwrap();
}

#[test]
fn http_json_and_gzip_spans() {
    let receiver = OtlpReceiver::start();
    let provider = http_tracer_provider(&receiver, Protocol::HttpJson, false);
    let (trace_id, parent_id) = emit_spans(&provider);
    check_spans(&receiver, &trace_id, &parent_id);
    assert_eq!(
        receiver.raw_requests()[0].header("content-type").as_deref(),
        Some("application/json")
    );

    let receiver = OtlpReceiver::start();
    let provider = http_tracer_provider(&receiver, Protocol::HttpBinary, true);
    let (trace_id, parent_id) = emit_spans(&provider);
    check_spans(&receiver, &trace_id, &parent_id);
    let raw = &receiver.raw_requests()[0];
    assert_eq!(raw.header("content-encoding").as_deref(), Some("gzip"));
    assert_ne!(raw.body, raw.decoded_body);
    // The compressed body hides the text; raw_bytes also holds the decoded form.
    assert!(receiver.raw_contains(b"Hello!"));
}

#[test]
fn hand_made_gzip_json_request() {
    let receiver = OtlpReceiver::start();
    let json = br#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"hand"}}]},
        "scopeSpans":[{"scope":{"name":"s"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",
        "spanId":"eee19b7ec3c1b174","name":"hand-made","kind":3,"startTimeUnixNano":"1","endTimeUnixNano":"2",
        "attributes":[{"key":"n","value":{"intValue":"7"}},{"key":"l","value":{"arrayValue":{"values":[{"stringValue":"a"}]}}}]}]}]}]}"#;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(json).unwrap();
    let resp = http_client()
        .post(receiver.traces_url())
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let span = receiver.span("hand-made");
    assert_eq!(span.kind, SpanKind::Client);
    assert_eq!(span.trace_id, "5b8efff798038103d269b633813fc60c");
    assert_eq!(span.attributes["n"], 7);
    assert_eq!(
        span.attributes["l"],
        AttrValue::Array(vec![AttrValue::String("a".into())])
    );
    assert_eq!(span.resource["service.name"], "hand");

    // Bad requests are answered and counted, never stored as spans.
    let client = http_client();
    let bad = client
        .post(receiver.traces_url())
        .header("content-type", "application/x-protobuf")
        .body(vec![0xff, 0xff, 0xff])
        .send()
        .unwrap();
    assert_eq!(bad.status(), 400);
    let unknown = client
        .post(format!("{}/v1/other", receiver.http_endpoint()))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let text = client
        .post(receiver.traces_url())
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(text.status(), 415);
    assert_eq!(receiver.rejected_count(), 3);
    assert_eq!(receiver.spans().len(), 1);
    assert_eq!(receiver.request_count(), 4);
}

#[tokio::test]
async fn grpc_spans_round_trip_intact() {
    let receiver = OtlpReceiver::start();
    // Produce SpanData with the in-memory capture, then send it with the tonic exporter.
    let capture = Capture::with_resource(resource());
    let (trace_id, parent_id) = emit_spans(capture.tracer_provider());
    let spans = capture.spans();
    assert_eq!(spans.len(), 2);

    let mut metadata = tonic::metadata::MetadataMap::new();
    metadata.insert("x-team", "wire-tests".parse().unwrap());
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(receiver.grpc_endpoint())
        .with_metadata(metadata)
        .with_compression(Compression::Gzip)
        .build()
        .unwrap();
    exporter.set_resource(&resource());
    exporter.export(spans).await.unwrap();

    assert!(receiver.wait_for(|r| r.spans().len() == 2, WAIT).await);
    let raw = receiver.raw_requests();
    assert_eq!(raw[0].protocol, Wire::Grpc);
    assert_eq!(
        raw[0].path,
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
    );
    assert_eq!(raw[0].header("grpc-encoding").as_deref(), Some("gzip"));
    assert!(receiver.raw_contains(b"x-team"));
    assert!(receiver.raw_contains(b"Hello!"));
    tokio::task::spawn_blocking(move || {
        check_spans(&receiver, &trace_id, &parent_id);
        // What arrived equals what the SDK produced, apart from the resource the exporter adds.
        let mut wire = receiver.spans();
        for span in &mut wire {
            span.resource.clear();
        }
        let mut local = capture.flat_spans();
        wire.sort_by(|a, b| a.name.cmp(&b.name));
        local.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(wire, local);
    })
    .await
    .unwrap();
}

#[test]
fn metrics_and_logs_over_http() {
    let receiver = OtlpReceiver::start();
    let exporter = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .with_http_client(http_client())
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(receiver.metrics_url())
        .build()
        .unwrap();
    let meters = SdkMeterProvider::builder()
        .with_resource(resource())
        .with_periodic_exporter(exporter)
        .build();
    let meter = meters.meter("openllmetry-wire");
    let histogram = meter
        .f64_histogram("gen_ai.client.token.usage")
        .with_unit("{token}")
        .with_boundaries(vec![1.0, 10.0, 100.0])
        .build();
    let attrs = [KeyValue::new("gen_ai.token.type", "input")];
    histogram.record(12.0, &attrs);
    histogram.record(3.0, &attrs);
    let counter = meter.u64_counter("llm.requests").build();
    counter.add(2, &[KeyValue::new("gen_ai.system", "openai")]);
    meters.force_flush().unwrap();

    assert!(receiver.wait_for_blocking(|r| r.metrics().len() >= 2, WAIT));
    let points = receiver.metric_points("gen_ai.client.token.usage");
    assert_eq!(points.len(), 1, "{points:#?}");
    let p = &points[0];
    assert_eq!(p.kind, PointKind::Histogram);
    assert_eq!(p.unit, "{token}");
    assert_eq!(p.attr_str("gen_ai.token.type"), Some("input"));
    assert_eq!(p.count, Some(2));
    assert_eq!(p.sum, Some(15.0));
    assert_eq!(p.bounds, vec![1.0, 10.0, 100.0]);
    assert_eq!(p.bucket_counts, vec![0, 1, 1, 0]);
    let requests = receiver.metric_points("llm.requests");
    assert_eq!(requests[0].kind, PointKind::Sum { monotonic: true });
    assert_eq!(requests[0].value, Some(2.0));
    assert_eq!(requests[0].scope_name, "openllmetry-wire");

    let exporter = opentelemetry_otlp::LogExporter::builder()
        .with_http()
        .with_http_client(http_client())
        .with_protocol(Protocol::HttpJson)
        .with_endpoint(receiver.logs_url())
        .build()
        .unwrap();
    let logs = SdkLoggerProvider::builder()
        .with_resource(resource())
        .with_simple_exporter(exporter)
        .build();
    let tracer_provider = SdkTracerProvider::builder().build();
    let tracer = tracer_provider.tracer("t");
    let span = tracer.start("parent");
    let span_id = span.span_context().span_id().to_string();
    let trace_id = span.span_context().trace_id().to_string();
    let cx = opentelemetry::Context::current_with_span(span);
    let _guard = cx.attach();
    let logger = logs.logger("openllmetry-wire");
    let mut record = logger.create_log_record();
    record.set_event_name("gen_ai.choice");
    record.set_body(AnyValue::Map(Box::new(HashMap::from([
        ("index".into(), AnyValue::Int(0)),
        ("message".into(), AnyValue::String("Hi there".into())),
    ]))));
    record.add_attribute("gen_ai.system", "openai");
    logger.emit(record);

    assert!(receiver.wait_for_blocking(|r| !r.logs().is_empty(), WAIT));
    let log = &receiver.logs()[0];
    assert_eq!(log.event_name.as_deref(), Some("gen_ai.choice"));
    assert_eq!(
        log.body,
        Some(serde_json::json!({"index": 0, "message": "Hi there"}))
    );
    assert_eq!(log.attr_str("gen_ai.system"), Some("openai"));
    assert_eq!(log.trace_id.as_deref(), Some(trace_id.as_str()));
    assert_eq!(log.span_id.as_deref(), Some(span_id.as_str()));
    assert_eq!(log.scope_name, "openllmetry-wire");
    assert_eq!(log.resource["service.name"], "testkit-wire");
    assert!(receiver.all_text().contains("Hi there"));
}

#[test]
fn unavailable_then_stopped() {
    let receiver = OtlpReceiver::start();
    let provider = http_tracer_provider(&receiver, Protocol::HttpBinary, false);
    let tracer = provider.tracer("t");

    receiver.set_unavailable(true);
    tracer.start("lost").end();
    assert!(receiver.wait_for_blocking(|r| r.request_count() == 1, WAIT));
    assert_eq!(receiver.raw_requests()[0].status, 503);
    assert!(receiver.spans().is_empty());
    assert_eq!(receiver.rejected_count(), 1);

    receiver.set_unavailable(false);
    tracer.start("kept").end();
    assert!(receiver.wait_for_blocking(|r| r.spans().len() == 1, WAIT));
    assert_eq!(receiver.span("kept").name, "kept");

    receiver.stop();
    receiver.stop(); // idempotent
    assert!(std::net::TcpStream::connect(receiver.http_addr()).is_err());
    assert!(std::net::TcpStream::connect(receiver.grpc_addr()).is_err());
    tracer.start("after-stop").end(); // the export fails; the app carries on
    assert_eq!(receiver.spans().len(), 1);
    receiver.clear();
    assert!(receiver.spans().is_empty());
}

#[tokio::test]
async fn grpc_unavailable() {
    let receiver = OtlpReceiver::start();
    receiver.set_failure(Some(503));
    let capture = Capture::new();
    capture.tracer("t").start("x").end();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(receiver.grpc_endpoint())
        .with_retry_policy(RetryPolicy::disabled())
        .build()
        .unwrap();
    assert!(exporter.export(capture.spans()).await.is_err());
    assert_eq!(receiver.request_count(), 1);
    assert!(receiver.spans().is_empty());
}
