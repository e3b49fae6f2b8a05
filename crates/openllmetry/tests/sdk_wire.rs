//! Wire test: all three signals exported by `openllmetry::init` over OTLP (HTTP/protobuf,
//! HTTP/JSON and gRPC) reach a real OTLP receiver intact, decoded with the opentelemetry-proto
//! types, and no provider API key appears in any exported byte.

use std::time::Duration;
use tokio::sync::Mutex;

use openllmetry::{Config, Flavour, Protocol};
use openllmetry_testkit::cassette::Cassette;
use openllmetry_testkit::otlp::OtlpReceiver;
use openllmetry_testkit::replay::ReplayServer;

static SERIAL: Mutex<()> = Mutex::const_new(());

const PROVIDER_KEY: &str = "sk-provider-secret-9f8e7d6c5b4a";
const EXPORTER_KEY: &str = "tl-exporter-key-1a2b3c";

async fn exchange(protocol: Protocol) {
    let receiver = OtlpReceiver::start();
    let endpoint = match protocol {
        Protocol::Grpc => receiver.grpc_endpoint(),
        _ => receiver.http_endpoint(),
    };
    let otel = openllmetry::try_init(
        Config::new()
            .with_app_name("wire-test")
            .with_api_endpoint(endpoint)
            .with_api_key(EXPORTER_KEY)
            .with_protocol(protocol)
            .with_flavour(Flavour::Events)
            .with_telemetry(openllmetry::telemetry::TelemetryLevel::Off),
    )
    .unwrap();
    let c = Cassette::load_named("openai/test_chat/test_chat.yaml").unwrap();
    let server = ReplayServer::start(c.clone()).await;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(openllmetry_http::OpenLlmMiddleware::new())
        .build();
    let resp = client
        .post(server.url("/v1/chat/completions"))
        .header("authorization", format!("Bearer {PROVIDER_KEY}"))
        .header("x-api-key", PROVIDER_KEY)
        .header("content-type", "application/json")
        .body(c.interactions[0].request.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.bytes().await.unwrap();
    // Shutdown flushes every signal (the blocking exporters run off this runtime's threads).
    tokio::task::spawn_blocking(move || otel.shutdown())
        .await
        .unwrap();

    assert!(
        receiver
            .wait_for(
                |r| !r.spans_named("openai.chat").is_empty()
                    && !r.metric_points("gen_ai.client.token.usage").is_empty()
                    && r.logs().len() >= 2,
                Duration::from_secs(10),
            )
            .await,
        "{protocol:?}: not everything arrived: spans {:?}, metrics {:?}, logs {}",
        receiver
            .spans()
            .iter()
            .map(|s| s.name.clone())
            .collect::<Vec<_>>(),
        receiver.metrics().keys().collect::<Vec<_>>(),
        receiver.logs().len()
    );
    let span = receiver.span("openai.chat");
    assert_eq!(
        span.attr_str("gen_ai.provider.name"),
        Some("openai"),
        "{protocol:?}"
    );
    assert_eq!(span.attr_str("gen_ai.request.model"), Some("gpt-3.5-turbo"));
    assert_eq!(
        span.attr_str("gen_ai.response.model"),
        Some("gpt-3.5-turbo-0125")
    );
    assert_eq!(
        span.attr_str("gen_ai.response.id"),
        Some("chatcmpl-908MD9ivBBLb6EaIjlqwFokntayQK")
    );
    assert_eq!(span.attr_i64("gen_ai.usage.input_tokens"), Some(15));
    assert_eq!(span.attr_i64("gen_ai.usage.output_tokens"), Some(19));
    assert_eq!(span.attr_i64("gen_ai.usage.total_tokens"), Some(34));
    assert_eq!(
        span.attr_str_array("gen_ai.response.finish_reasons"),
        Some(vec!["stop"])
    );
    assert_eq!(
        span.resource.get("service.name").and_then(|v| v.as_str()),
        Some("wire-test")
    );

    let usage = receiver.metric_points("gen_ai.client.token.usage");
    // Cumulative temporality: the last exported point per token type holds the total.
    let sum_of = |kind: &str| -> f64 {
        usage
            .iter()
            .filter(|p| {
                p.attributes
                    .get("gen_ai.token.type")
                    .and_then(|v| v.as_str())
                    == Some(kind)
            })
            .filter_map(|p| p.sum)
            .next_back()
            .unwrap_or_default()
    };
    assert_eq!(
        usage.len(),
        2,
        "one final export with one input and one output point: {usage:?}"
    );
    assert_eq!(sum_of("input"), 15.0);
    assert_eq!(sum_of("output"), 19.0);
    assert!(
        !receiver
            .metric_points("gen_ai.client.operation.duration")
            .is_empty()
    );

    let logs = receiver.logs();
    let user = logs
        .iter()
        .find(|l| l.event_name.as_deref() == Some("gen_ai.user.message"))
        .expect("user message event");
    assert_eq!(
        user.body.as_ref().and_then(|b| b["content"].as_str()),
        Some("Tell me a joke about opentelemetry")
    );
    assert_eq!(user.trace_id.as_deref(), Some(span.trace_id.as_str()));
    assert_eq!(user.span_id.as_deref(), Some(span.span_id.as_str()));
    let choice = logs
        .iter()
        .find(|l| l.event_name.as_deref() == Some("gen_ai.choice"))
        .expect("choice event");
    assert_eq!(
        choice
            .body
            .as_ref()
            .and_then(|b| b["message"]["content"].as_str()),
        Some(
            "Why did Opentelemetry break up with Tracing? Because it couldn't handle the baggage!"
        )
    );

    // The exporter authenticates with its own key; the provider's key never leaves.
    assert!(
        !receiver.raw_contains(PROVIDER_KEY.as_bytes()),
        "{protocol:?}: provider key exported"
    );
    let auth = receiver
        .raw_requests()
        .iter()
        .filter_map(|r| r.header("authorization"))
        .collect::<Vec<_>>();
    assert!(
        auth.iter().all(|a| a == &format!("Bearer {EXPORTER_KEY}")),
        "{auth:?}"
    );
    assert!(!auth.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_signals_reach_a_real_receiver_over_http_protobuf() {
    let _s = SERIAL.lock().await;
    exchange(Protocol::HttpProtobuf).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_signals_reach_a_real_receiver_over_http_json() {
    let _s = SERIAL.lock().await;
    exchange(Protocol::HttpJson).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_signals_reach_a_real_receiver_over_grpc() {
    let _s = SERIAL.lock().await;
    exchange(Protocol::Grpc).await;
}

#[test]
fn grpc_outside_a_runtime_is_a_clear_error() {
    let _s = SERIAL.blocking_lock();
    let err = openllmetry::try_init(
        Config::new()
            .with_api_endpoint("http://127.0.0.1:9")
            .with_protocol(Protocol::Grpc)
            .with_telemetry(openllmetry::telemetry::TelemetryLevel::Off),
    )
    .unwrap_err();
    assert!(err.to_string().contains("Tokio runtime"), "{err}");
}
