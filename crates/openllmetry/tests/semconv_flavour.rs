//! The `semconv` flavour in the SDK: selected by the standard
//! `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental` (below `TRACELOOP_OUTPUT_FLAVOUR`),
//! and `#[agent]` / `#[tool]` entities as the conventions' `invoke_agent` / `execute_tool`
//! spans. Each case runs in a child process (`init` is process-wide and reads the real
//! environment).
//!
//! Names and values are the conventions' (semantic-conventions-genai,
//! `docs/gen-ai/gen-ai-agent-spans.md` and `gen-ai-spans.md`, pinned in
//! `openllmetry_semconv::latest`): `invoke_agent {gen_ai.agent.name}`,
//! `execute_tool {gen_ai.tool.name}`, `gen_ai.operation.name`, `gen_ai.tool.type = function`,
//! `gen_ai.tool.call.arguments` / `.result` (opt-in content).

mod child_process;

use openllmetry::redact::{EntityField, Redact};
use openllmetry::{agent, tool};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};

fn child(test: &str, env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = child_process::ignored_test(test);
    for var in [
        "TRACELOOP_TRACE_CONTENT",
        "TRACELOOP_BASE_URL",
        "TRACELOOP_API_KEY",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "TRACELOOP_OUTPUT_FLAVOUR",
        "OTEL_SEMCONV_STABILITY_OPT_IN",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
        "OTEL_SDK_DISABLED",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One recorded OpenAI chat through the reqwest middleware (upstream's `test_chat` cassette,
/// model `gpt-3.5-turbo`).
async fn one_chat_call() {
    use openllmetry_testkit::cassette::Cassette;
    use openllmetry_testkit::replay::ReplayServer;
    let c = Cassette::load_named("openai/test_chat/test_chat.yaml").unwrap();
    let server = ReplayServer::start(c.clone()).await;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(openllmetry_http::OpenLlmMiddleware::new())
        .build();
    client
        .post(server.url("/v1/chat/completions"))
        .body(c.interactions[0].request.body.clone())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
}

fn init(spans: &InMemorySpanExporter) -> openllmetry::OpenLlmetry {
    openllmetry::init(
        openllmetry::Config::new()
            .with_span_exporter(spans.clone())
            .with_batch(false)
            .with_metrics(false)
            .with_telemetry(openllmetry::telemetry::TelemetryLevel::Off),
    )
}

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

/// Child: init from the environment, one chat call; prints the LLM span's name.
#[tokio::test]
#[ignore = "child process of the semconv_flavour tests"]
async fn child_report_span_name() {
    let spans = InMemorySpanExporter::default();
    let otel = init(&spans);
    one_chat_call().await;
    otel.force_flush();
    for s in spans.get_finished_spans().unwrap() {
        println!("SPAN={}", s.name);
        println!(
            "HAS_TOTAL={}",
            attr(&s, "gen_ai.usage.total_tokens").is_some()
        );
        println!("HAS_SYSTEM={}", attr(&s, "gen_ai.system").is_some());
    }
}

#[test]
fn the_standard_opt_in_selects_the_semconv_flavour() {
    let (ok, out, err) = child(
        "child_report_span_name",
        &[(
            "OTEL_SEMCONV_STABILITY_OPT_IN",
            "http,gen_ai_latest_experimental",
        )],
    );
    assert!(ok, "{out}{err}");
    // `{gen_ai.operation.name} {gen_ai.request.model}`, and no OpenLLMetry total.
    assert!(out.contains("SPAN=chat gpt-3.5-turbo"), "{out}");
    assert!(out.contains("HAS_TOTAL=false"), "{out}");
    // Unset (or another category only): the upstream-compatible default.
    let (ok, out, err) = child(
        "child_report_span_name",
        &[("OTEL_SEMCONV_STABILITY_OPT_IN", "http")],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("SPAN=openai.chat"), "{out}");
    assert!(out.contains("HAS_TOTAL=true"), "{out}");
    // `TRACELOOP_OUTPUT_FLAVOUR` wins over the standard switch.
    let (ok, out, err) = child(
        "child_report_span_name",
        &[
            (
                "OTEL_SEMCONV_STABILITY_OPT_IN",
                "gen_ai_latest_experimental",
            ),
            ("TRACELOOP_OUTPUT_FLAVOUR", "legacy"),
        ],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("SPAN=openai.chat"), "{out}");
    assert!(out.contains("HAS_SYSTEM=true"), "legacy: {out}");
}

#[agent(name = "planner", version = 2)]
async fn planner() -> String {
    let weather = get_weather("Paris");
    one_chat_call().await;
    weather
}

#[tool(name = "get_weather")]
fn get_weather(city: &str) -> String {
    format!("sunny in {city}")
}

/// Child: an agent calling a tool and an LLM; checks the spans (panics on a mismatch).
#[tokio::test]
#[ignore = "child process of the semconv_flavour tests"]
async fn child_agent_and_tool_spans() {
    let spans = InMemorySpanExporter::default();
    let otel = openllmetry::init(
        openllmetry::Config::new()
            .with_span_exporter(spans.clone())
            .with_batch(false)
            .with_metrics(false)
            .with_telemetry(openllmetry::telemetry::TelemetryLevel::Off)
            .with_flavour(openllmetry::Flavour::Semconv)
            // The hook sees the tool's arguments as its input, before they are recorded
            // under the conventions' key.
            .with_redaction(|r| {
                if let Redact::Entity {
                    name: "get_weather",
                    field: EntityField::Input,
                    value,
                    ..
                } = r
                {
                    value["city"] = serde_json::json!("[city]");
                }
            }),
    );
    assert_eq!(planner().await, "sunny in Paris");
    otel.force_flush();
    let finished = spans.get_finished_spans().unwrap();
    let by_name = |n: &str| {
        finished.iter().find(|s| s.name == n).unwrap_or_else(|| {
            panic!(
                "no span {n}: {:?}",
                finished.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        })
    };
    let agent = by_name("invoke_agent planner");
    assert_eq!(agent.span_kind, opentelemetry::trace::SpanKind::Internal);
    assert_eq!(
        attr(agent, "gen_ai.operation.name").as_deref(),
        Some("invoke_agent")
    );
    assert_eq!(attr(agent, "gen_ai.agent.name").as_deref(), Some("planner"));
    assert_eq!(attr(agent, "gen_ai.agent.version").as_deref(), Some("2"));

    let tool = by_name("execute_tool get_weather");
    assert_eq!(tool.span_kind, opentelemetry::trace::SpanKind::Internal);
    assert_eq!(tool.parent_span_id, agent.span_context.span_id());
    assert_eq!(
        attr(tool, "gen_ai.operation.name").as_deref(),
        Some("execute_tool")
    );
    assert_eq!(
        attr(tool, "gen_ai.tool.name").as_deref(),
        Some("get_weather")
    );
    assert_eq!(attr(tool, "gen_ai.tool.type").as_deref(), Some("function"));
    let args: serde_json::Value =
        serde_json::from_str(&attr(tool, "gen_ai.tool.call.arguments").expect("arguments"))
            .unwrap();
    assert_eq!(args, serde_json::json!({"city": "[city]"}));
    let result: serde_json::Value =
        serde_json::from_str(&attr(tool, "gen_ai.tool.call.result").expect("result")).unwrap();
    assert_eq!(result, serde_json::json!("sunny in Paris"));
    assert!(attr(tool, "traceloop.entity.input").is_none());

    let llm = by_name("chat gpt-3.5-turbo");
    assert_eq!(llm.parent_span_id, agent.span_context.span_id());
    assert_eq!(attr(llm, "gen_ai.provider.name").as_deref(), Some("openai"));
    println!("CHILD_OK");
}

#[test]
fn agents_and_tools_are_invoke_agent_and_execute_tool_spans() {
    let (ok, out, err) = child("child_agent_and_tool_spans", &[]);
    assert!(ok && out.contains("CHILD_OK"), "{out}{err}");
}

/// Child: the same agent with content capture off: no tool arguments or result.
#[tokio::test]
#[ignore = "child process of the semconv_flavour tests"]
async fn child_tool_content_off() {
    let spans = InMemorySpanExporter::default();
    let otel = openllmetry::init(
        openllmetry::Config::new()
            .with_span_exporter(spans.clone())
            .with_batch(false)
            .with_metrics(false)
            .with_telemetry(openllmetry::telemetry::TelemetryLevel::Off)
            .with_flavour(openllmetry::Flavour::Semconv)
            .with_content_capture(false),
    );
    planner().await;
    otel.force_flush();
    for s in spans.get_finished_spans().unwrap() {
        for kv in &s.attributes {
            let v = kv.value.as_str();
            assert!(!v.contains("Paris"), "{}: {kv:?}", s.name);
            assert!(!v.contains("opentelemetry"), "{}: {kv:?}", s.name);
        }
        assert!(attr(&s, "gen_ai.tool.call.arguments").is_none());
        assert!(attr(&s, "gen_ai.input.messages").is_none());
    }
    println!("CHILD_OK");
}

#[test]
fn with_content_off_no_tool_arguments_or_messages_are_recorded() {
    let (ok, out, err) = child("child_tool_content_off", &[]);
    assert!(ok && out.contains("CHILD_OK"), "{out}{err}");
}
