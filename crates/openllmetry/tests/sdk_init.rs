//! `openllmetry::init` end to end with in-memory exporters: every option changes what a real
//! LLM call (replayed over loopback through the reqwest middleware) exports.
//!
//! `init` installs process-wide providers, so the tests in this file run one at a time.

use tokio::sync::{Mutex, MutexGuard};

use openllmetry::{ApiFormat, Config, Flavour, SamplerChoice};
use openllmetry_http::OpenLlmMiddleware;
use openllmetry_testkit::cassette::Cassette;
use openllmetry_testkit::replay::{Fault, ReplayServer};
use opentelemetry::KeyValue;
use opentelemetry_sdk::logs::InMemoryLogExporter;
use opentelemetry_sdk::metrics::InMemoryMetricExporter;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};

static SERIAL: Mutex<()> = Mutex::const_new(());

async fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().await
}

struct Sinks {
    spans: InMemorySpanExporter,
    metrics: InMemoryMetricExporter,
    logs: InMemoryLogExporter,
}

impl Sinks {
    fn new() -> Self {
        Sinks {
            spans: InMemorySpanExporter::default(),
            metrics: InMemoryMetricExporter::default(),
            logs: InMemoryLogExporter::default(),
        }
    }

    fn config(&self) -> Config {
        Config::new()
            .with_app_name("sdk-init-test")
            .with_batch(false)
            .with_span_exporter(self.spans.clone())
            .with_metric_exporter(self.metrics.clone())
            .with_log_exporter(self.logs.clone())
            .with_telemetry(openllmetry::telemetry::TelemetryLevel::Off)
    }

    fn spans(&self) -> Vec<SpanData> {
        self.spans.get_finished_spans().unwrap()
    }

    fn span(&self, name: &str) -> SpanData {
        let spans: Vec<_> = self
            .spans()
            .into_iter()
            .filter(|s| s.name == name)
            .collect();
        assert_eq!(
            spans.len(),
            1,
            "expected one {name} span, got {}",
            spans.len()
        );
        spans.into_iter().next().unwrap()
    }

    fn metric_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .metrics
            .get_finished_metrics()
            .unwrap()
            .iter()
            .flat_map(|rm| {
                rm.scope_metrics()
                    .flat_map(|sm| sm.metrics().map(|m| m.name().to_owned()))
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a opentelemetry::Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn attr_str(span: &SpanData, key: &str) -> Option<String> {
    attr(span, key).map(|v| v.as_str().into_owned())
}

/// Sends the first interaction of `cassette` through a middleware client that records with
/// whatever `init` installed, and reads the whole body.
async fn call(cassette: &str, server: &ReplayServer) -> (u16, Vec<u8>) {
    let c = Cassette::load_named(cassette).unwrap();
    let req = &c.interactions[0].request;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(OpenLlmMiddleware::new())
        .build();
    let resp = client
        .post(server.url(req.path_and_query()))
        .header("content-type", "application/json")
        .header("authorization", "Bearer sk-provider-secret-0123456789")
        .body(req.body.clone())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.bytes().await.unwrap().to_vec())
}

async fn replay(cassette: &str) -> ReplayServer {
    ReplayServer::start(Cassette::load_named(cassette).unwrap()).await
}

const CHAT: &str = "openai/test_chat/test_chat.yaml";
const ANTHROPIC: &str = "anthropic/test_messages/test_anthropic_message_create_legacy.yaml";
const CHAT_PROMPT: &str = "Tell me a joke about opentelemetry";

#[tokio::test]
async fn default_config_records_current_flavour_with_content_and_metrics() {
    let _s = serial().await;
    let sinks = Sinks::new();
    let otel = openllmetry::try_init(sinks.config()).unwrap();
    let server = replay(CHAT).await;
    let (status, _) = call(CHAT, &server).await;
    assert_eq!(status, 200);
    otel.force_flush();
    let span = sinks.span("openai.chat");
    assert_eq!(
        attr_str(&span, "gen_ai.provider.name").as_deref(),
        Some("openai")
    );
    assert!(
        attr_str(&span, "gen_ai.input.messages")
            .unwrap()
            .contains(CHAT_PROMPT)
    );
    let names = sinks.metric_names();
    assert!(
        names.contains(&"gen_ai.client.token.usage".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"gen_ai.client.operation.duration".to_owned()),
        "{names:?}"
    );
    // The resource carries the app name.
    let svc = span.instrumentation_scope.name().to_owned();
    assert_eq!(svc, "openllmetry");
}

#[tokio::test]
async fn content_capture_off_removes_every_prompt_and_completion() {
    let _s = serial().await;
    let sinks = Sinks::new();
    let otel = openllmetry::try_init(sinks.config().with_content_capture(false)).unwrap();
    let server = replay(CHAT).await;
    call(CHAT, &server).await;
    otel.force_flush();
    let span = sinks.span("openai.chat");
    assert!(attr(&span, "gen_ai.input.messages").is_none());
    assert!(attr(&span, "gen_ai.output.messages").is_none());
    let all: String = span
        .attributes
        .iter()
        .map(|kv| format!("{} {}\n", kv.key, kv.value))
        .collect();
    assert!(!all.contains(CHAT_PROMPT));
    assert!(!all.contains("baggage"), "completion text leaked: {all}");
    assert_eq!(
        attr(&span, "gen_ai.usage.input_tokens"),
        Some(&opentelemetry::Value::I64(15))
    );
}

#[tokio::test]
async fn legacy_flavour_writes_indexed_attributes() {
    let _s = serial().await;
    let sinks = Sinks::new();
    let otel = openllmetry::try_init(sinks.config().with_flavour(Flavour::Legacy)).unwrap();
    let server = replay(CHAT).await;
    call(CHAT, &server).await;
    otel.force_flush();
    let span = sinks.span("openai.chat");
    assert_eq!(
        attr_str(&span, "gen_ai.prompt.0.content").as_deref(),
        Some(CHAT_PROMPT)
    );
    assert_eq!(attr_str(&span, "gen_ai.system").as_deref(), Some("openai"));
    assert_eq!(
        attr(&span, "llm.usage.total_tokens"),
        Some(&opentelemetry::Value::I64(34))
    );
    assert!(attr(&span, "gen_ai.input.messages").is_none());
}

#[tokio::test]
async fn events_flavour_exports_log_events_through_the_logs_pipeline() {
    let _s = serial().await;
    let sinks = Sinks::new();
    let otel = openllmetry::try_init(sinks.config().with_flavour(Flavour::Events)).unwrap();
    let server = replay(CHAT).await;
    call(CHAT, &server).await;
    otel.force_flush();
    let span = sinks.span("openai.chat");
    assert!(attr(&span, "gen_ai.input.messages").is_none());
    let logs = sinks.logs.get_emitted_logs().unwrap();
    let names: Vec<String> = logs
        .iter()
        .filter_map(|l| l.record.event_name().map(str::to_owned))
        .collect();
    assert_eq!(names, vec!["gen_ai.user.message", "gen_ai.choice"]);
    let tc = logs[0].record.trace_context().unwrap();
    assert_eq!(tc.span_id, span.span_context.span_id());
}

#[tokio::test]
async fn span_postprocess_hook_sees_every_span_before_export() {
    let _s = serial().await;
    let sinks = Sinks::new();
    let config = sinks.config().with_span_postprocess(|span| {
        span.attributes
            .retain(|kv| kv.key.as_str() != "gen_ai.input.messages");
        span.attributes.push(KeyValue::new("postprocessed", true));
    });
    let otel = openllmetry::try_init(config).unwrap();
    let server = replay(CHAT).await;
    call(CHAT, &server).await;
    otel.force_flush();
    let span = sinks.span("openai.chat");
    assert!(attr(&span, "gen_ai.input.messages").is_none());
    assert_eq!(
        attr(&span, "postprocessed"),
        Some(&opentelemetry::Value::Bool(true))
    );
}

#[tokio::test]
async fn redaction_hook_and_secret_masking_run_before_rendering() {
    let _s = serial().await;
    let sinks = Sinks::new();
    let config = sinks
        .config()
        .with_secret_masking(true)
        .with_redaction(|r| {
            let openllmetry::redact::Redact::Llm {
                target, content, ..
            } = r
            else {
                panic!("only an LLM call runs here: {r:?}");
            };
            assert_eq!(target.provider_name, "openai");
            for m in &mut content.output_messages {
                m.parts.clear();
            }
        });
    let otel = openllmetry::try_init(config).unwrap();
    let server = ReplayServer::start(Cassette::load_named(CHAT).unwrap()).await;
    let c = Cassette::load_named(CHAT).unwrap();
    let body = String::from_utf8(c.interactions[0].request.body.clone())
        .unwrap()
        .replace(
            CHAT_PROMPT,
            "my key is sk-abcdefghijklmnopqrstuv and mail me at a.b@example.com",
        );
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(OpenLlmMiddleware::new())
        .build();
    client
        .post(server.url("/v1/chat/completions"))
        .body(body)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    otel.force_flush();
    let span = sinks.span("openai.chat");
    let input: serde_json::Value =
        serde_json::from_str(&attr_str(&span, "gen_ai.input.messages").unwrap()).unwrap();
    assert_eq!(
        input[0]["parts"][0]["content"],
        "my key is [REDACTED_KEY] and mail me at [REDACTED_EMAIL]"
    );
    let output: serde_json::Value =
        serde_json::from_str(&attr_str(&span, "gen_ai.output.messages").unwrap()).unwrap();
    assert_eq!(output[0]["parts"], serde_json::json!([]));
}

#[tokio::test]
async fn blocked_instrumentations_record_nothing() {
    let _s = serial().await;
    let sinks = Sinks::new();
    let otel = openllmetry::try_init(
        sinks
            .config()
            .with_block_instruments([ApiFormat::Anthropic]),
    )
    .unwrap();
    let server = replay(ANTHROPIC).await;
    let (status, _) = call(ANTHROPIC, &server).await;
    assert_eq!(status, 200);
    let chat = replay(CHAT).await;
    call(CHAT, &chat).await;
    otel.force_flush();
    let names: Vec<_> = sinks.spans().iter().map(|s| s.name.to_string()).collect();
    assert_eq!(names, vec!["openai.chat"]);
}

#[tokio::test]
async fn allow_list_keeps_only_listed_instrumentations() {
    let _s = serial().await;
    let sinks = Sinks::new();
    let otel =
        openllmetry::try_init(sinks.config().with_instruments([ApiFormat::Anthropic])).unwrap();
    let chat = replay(CHAT).await;
    call(CHAT, &chat).await;
    let server = replay(ANTHROPIC).await;
    call(ANTHROPIC, &server).await;
    otel.force_flush();
    let names: Vec<_> = sinks.spans().iter().map(|s| s.name.to_string()).collect();
    assert_eq!(names, vec!["anthropic.chat"]);
}

#[tokio::test]
async fn disabled_sdk_records_nothing_and_passes_calls_through() {
    let _s = serial().await;
    let sinks = Sinks::new();
    let otel = openllmetry::try_init(sinks.config().with_enabled(false)).unwrap();
    assert!(otel.tracer_provider().is_none());
    let server = replay(CHAT).await;
    let (status, body) = call(CHAT, &server).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        Cassette::load_named(CHAT).unwrap().interactions[0]
            .response
            .body
    );
    otel.force_flush();
    assert!(sinks.spans().is_empty());
}

#[tokio::test]
async fn trace_context_propagation_can_be_turned_off() {
    let _s = serial().await;
    for on in [true, false] {
        let sinks = Sinks::new();
        let otel =
            openllmetry::try_init(sinks.config().with_trace_context_propagation(on)).unwrap();
        let server = replay(CHAT).await;
        call(CHAT, &server).await;
        otel.force_flush();
        let span = sinks.span("openai.chat");
        let sent = server.last_request().unwrap();
        match sent.header("traceparent") {
            Some(tp) => {
                assert!(on, "traceparent sent with propagation off");
                assert!(
                    tp.contains(&span.span_context.span_id().to_string()),
                    "{tp}"
                );
            }
            None => assert!(!on, "no traceparent with propagation on"),
        }
    }
}

#[tokio::test]
async fn always_off_sampler_exports_no_spans() {
    let _s = serial().await;
    let sinks = Sinks::new();
    let otel =
        openllmetry::try_init(sinks.config().with_sampler(SamplerChoice::AlwaysOff)).unwrap();
    let server = replay(CHAT).await;
    call(CHAT, &server).await;
    otel.force_flush();
    assert!(sinks.spans().is_empty());
}

#[tokio::test]
async fn metrics_off_exports_no_metrics() {
    let _s = serial().await;
    let sinks = Sinks::new();
    let otel = openllmetry::try_init(sinks.config().with_metrics(false)).unwrap();
    assert!(otel.meter_provider().is_none());
    let server = replay(CHAT).await;
    call(CHAT, &server).await;
    otel.force_flush();
    assert_eq!(sinks.spans().len(), 1);
    assert!(sinks.metric_names().is_empty());
}

#[tokio::test]
async fn instrumentation_faults_feed_the_sdk_counter() {
    let _s = serial().await;
    let sinks = Sinks::new();
    let otel = openllmetry::try_init(sinks.config()).unwrap();
    let server = ReplayServer::builder(Cassette::load_named(CHAT).unwrap())
        .with_fault(Fault::InvalidJsonBody)
        .start()
        .await;
    let (status, _) = call(CHAT, &server).await;
    assert_eq!(status, 200, "the caller's call is unaffected");
    otel.force_flush();
    let metrics = sinks.metrics.get_finished_metrics().unwrap();
    let mut found = false;
    for rm in &metrics {
        for sm in rm.scope_metrics() {
            for m in sm.metrics() {
                if m.name() == "openllmetry.instrumentation.faults" {
                    found = true;
                    let text = format!("{:?}", m.data());
                    assert!(text.contains("invalid_json"), "{text}");
                    assert!(text.contains("chat"), "{text}");
                }
            }
        }
    }
    assert!(
        found,
        "no fault counter exported: {:?}",
        sinks.metric_names()
    );
    // The span still records what it could (the request side).
    let span = sinks.span("openai.chat");
    assert_eq!(
        attr_str(&span, "gen_ai.request.model").as_deref(),
        Some("gpt-3.5-turbo")
    );
}

#[tokio::test]
async fn llm_spans_nest_under_the_current_tracing_span() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let _s = serial().await;
    let sinks = Sinks::new();
    let otel = openllmetry::try_init(sinks.config()).unwrap();
    let tracer =
        opentelemetry::trace::TracerProvider::tracer(otel.tracer_provider().unwrap(), "app");
    let subscriber =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
    let _default = tracing::subscriber::set_default(subscriber);
    let server = replay(CHAT).await;
    let root = tracing::info_span!("handle_request");
    {
        use tracing::Instrument as _;
        call(CHAT, &server).instrument(root.clone()).await;
    }
    drop(root);
    drop(_default);
    otel.force_flush();
    let spans = sinks.spans();
    let parent = spans
        .iter()
        .find(|s| s.name == "handle_request")
        .expect("tracing span exported");
    let llm = spans
        .iter()
        .find(|s| s.name == "openai.chat")
        .expect("llm span");
    assert_eq!(llm.parent_span_id, parent.span_context.span_id());
    assert_eq!(llm.span_context.trace_id(), parent.span_context.trace_id());
}
