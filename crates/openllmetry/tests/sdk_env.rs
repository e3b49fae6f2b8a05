//! Environment variables, precedence and bad values, each in a child process (the real
//! process environment is what `init` reads). The parent re-runs this test binary with one
//! `#[ignore]`d child test selected and the variables set.

mod child_process;

fn child(test: &str, env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = child_process::ignored_test(test);
    for var in [
        "TRACELOOP_TRACE_CONTENT",
        "TRACELOOP_BASE_URL",
        "TRACELOOP_API_KEY",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "TRACELOOP_OUTPUT_FLAVOUR",
        "OTEL_SDK_DISABLED",
        "TRACELOOP_TELEMETRY",
        "OPENLLMETRY_CONSOLE_STREAM",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("TRACELOOP_TELEMETRY", "off");
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

async fn one_chat_call() -> Vec<opentelemetry_sdk::trace::SpanData> {
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
    Vec::new()
}

/// Child: init with an in-memory exporter, make a call, print what the span holds.
#[tokio::test]
#[ignore = "child process of the sdk_env tests"]
async fn child_report_content() {
    let spans = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let mut config = openllmetry::Config::new()
        .with_span_exporter(spans.clone())
        .with_batch(false)
        .with_metrics(false);
    if std::env::var("CHILD_BUILDER_CONTENT").as_deref() == Ok("on") {
        config = config.with_content_capture(true);
    }
    let otel = if std::env::var("CHILD_STRICT").is_ok() {
        match openllmetry::try_init(config) {
            Ok(o) => o,
            Err(e) => {
                println!("TRY_INIT_ERROR: {e}");
                return;
            }
        }
    } else {
        openllmetry::init(config)
    };
    one_chat_call().await;
    otel.force_flush();
    let finished = spans.get_finished_spans().unwrap();
    let span = finished.iter().find(|s| s.name == "openai.chat").unwrap();
    let has = |k: &str| span.attributes.iter().any(|kv| kv.key.as_str() == k);
    println!("CONTENT={}", has("gen_ai.input.messages"));
    println!("LEGACY={}", has("gen_ai.prompt.0.content"));
}

/// Child: zero-setup init, one call; the trace goes to the console.
#[tokio::test]
#[ignore = "child process of the sdk_env tests"]
async fn child_zero_setup() {
    let otel = openllmetry::init(openllmetry::Config::new().with_app_name("zero"));
    one_chat_call().await;
    otel.force_flush();
}

#[test]
fn env_turns_content_off_and_the_builder_wins_over_env() {
    let (ok, out, _) = child(
        "child_report_content",
        &[("TRACELOOP_TRACE_CONTENT", "false")],
    );
    assert!(ok);
    assert!(out.contains("CONTENT=false"), "{out}");
    let (ok, out, _) = child(
        "child_report_content",
        &[
            ("TRACELOOP_TRACE_CONTENT", "false"),
            ("CHILD_BUILDER_CONTENT", "on"),
        ],
    );
    assert!(ok);
    assert!(out.contains("CONTENT=true"), "{out}");
    let (ok, out, _) = child("child_report_content", &[]);
    assert!(ok);
    assert!(out.contains("CONTENT=true"), "default is on: {out}");
}

#[test]
fn env_selects_the_flavour() {
    let (ok, out, _) = child(
        "child_report_content",
        &[("TRACELOOP_OUTPUT_FLAVOUR", "legacy")],
    );
    assert!(ok);
    assert!(
        out.contains("LEGACY=true") && out.contains("CONTENT=false"),
        "{out}"
    );
}

#[test]
fn try_init_rejects_an_invalid_value_and_init_warns_and_uses_the_default() {
    let (ok, out, _) = child(
        "child_report_content",
        &[("TRACELOOP_TRACE_CONTENT", "maybe"), ("CHILD_STRICT", "1")],
    );
    assert!(ok);
    assert!(
        out.contains("TRY_INIT_ERROR: invalid value \"maybe\" for TRACELOOP_TRACE_CONTENT"),
        "{out}"
    );
    let (ok, out, err) = child(
        "child_report_content",
        &[("TRACELOOP_TRACE_CONTENT", "maybe")],
    );
    assert!(ok);
    assert!(
        err.contains("TRACELOOP_TRACE_CONTENT") && err.contains("using the default"),
        "{err}"
    );
    assert!(out.contains("CONTENT=true"), "{out}");
}

#[test]
fn zero_setup_prints_the_trace_to_the_console_and_says_so_once() {
    let (ok, out, err) = child("child_zero_setup", &[]);
    assert!(ok, "{err}");
    assert_eq!(
        err.matches("printing traces to the console").count(),
        1,
        "{err}"
    );
    // The trace goes to stderr by default, never mixed with the application's stdout.
    assert!(!out.contains("openai.chat"), "{out}");
    assert!(err.contains("openai.chat"), "{err}");
    assert!(err.contains("tokens: 15 in / 19 out"), "{err}");
    assert!(
        err.contains("prompt: Tell me a joke about opentelemetry"),
        "{err}"
    );
    // Init itself prints one line: the console notice and the telemetry status together
    // (before, the status came on a second `openllmetry telemetry: …` line).
    let init_lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("openllmetry"))
        .collect();
    assert_eq!(init_lines.len(), 1, "{err}");
    assert!(
        init_lines[0].starts_with("openllmetry: no endpoint")
            && init_lines[0].contains("; telemetry: "),
        "{err}"
    );
}

#[test]
fn console_stream_switch_selects_stdout() {
    let (ok, out, err) = child(
        "child_zero_setup",
        &[("OPENLLMETRY_CONSOLE_STREAM", "stdout")],
    );
    assert!(ok, "{err}");
    assert!(out.contains("openai.chat"), "{out}");
    assert!(out.contains("tokens: 15 in / 19 out"), "{out}");
    assert!(!err.contains("openai.chat"), "{err}");
}
