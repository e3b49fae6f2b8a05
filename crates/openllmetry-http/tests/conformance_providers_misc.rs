//! Cassette conformance for Ollama, Cohere v2, Mistral AI and OpenAI-compatible hosts
//! (Groq, Together) through the real reqwest middleware over loopback HTTP.
//!
//! The cassettes are OpenLLMetry's own recordings
//! (`openllmetry-testkit/cassettes/openllmetry-misc`, see its SOURCE.md). Expected values are
//! literals read from the recorded bodies, or (for the legacy attribute names and the Cohere
//! token counts) the values upstream OpenLLMetry's tests assert on the same recordings.
//! A loopback upstream does not name its provider, so the OpenAI-format ones are labelled
//! with `with_upstream_provider`, as the gateway's `provider` settings do.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use common::{Opts, replay_headers};
use openllmetry_core::{Fault, FaultKind, Flavour, Instrumentation};
use openllmetry_http::OpenLlmMiddleware;
use openllmetry_testkit::capture::{Capture, SpanDataExt};
use openllmetry_testkit::cassette::{Cassette, Interaction};
use openllmetry_testkit::replay::ReplayServer;
use opentelemetry_sdk::trace::SpanData;
use serde_json::Value;

fn cassette_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../openllmetry-testkit/cassettes/openllmetry-misc")
        .join(name)
}

/// The interactions of a cassette, with URI fragments dropped (Mistral's SDK records
/// `#stream`, which is never sent).
fn load(name: &str) -> Vec<Interaction> {
    let mut c = Cassette::load(cassette_path(name)).expect("cassette loads");
    for it in &mut c.interactions {
        if let Some(i) = it.request.uri.find('#') {
            it.request.uri.truncate(i);
        }
    }
    c.interactions
}

struct Run {
    capture: Capture,
    interaction: Interaction,
    body: Vec<u8>,
    faults: Vec<Fault>,
}

impl Run {
    fn span(&self, name: &str) -> SpanData {
        self.capture.span(name)
    }

    fn assert_pass_through(&self) {
        assert!(
            self.body == self.interaction.response.body,
            "the caller's body differs from the recorded one"
        );
    }

    fn fault_kinds(&self) -> Vec<FaultKind> {
        self.faults.iter().map(|f| f.kind).collect()
    }
}

/// Replays interaction `index` of `name` through the middleware; `label` names the
/// provider of the loopback upstream.
async fn run_at(name: &str, index: usize, opts: Opts, label: Option<&'static str>) -> Run {
    let interactions = load(name);
    let interaction = interactions[index].clone();
    let server = ReplayServer::start(vec![interaction.clone()]).await;
    let capture = Capture::new();
    let faults = Arc::new(Mutex::new(Vec::new()));
    let sink = faults.clone();
    let mut b = Instrumentation::builder()
        .with_tracer_provider(capture.tracer_provider())
        .with_meter_provider(capture.meter_provider())
        .with_logger_provider(capture.logger_provider())
        .with_flavour(opts.flavour)
        .with_content_capture(opts.content)
        .with_fault_hook(move |f| sink.lock().unwrap().push(*f));
    if let Some(p) = label {
        b = b.with_upstream_provider(server.base_url(), p);
    }
    let client = reqwest_middleware::ClientBuilder::new(
        reqwest::Client::builder().no_gzip().build().unwrap(),
    )
    .with(OpenLlmMiddleware::with_instrumentation(b.build()))
    .build();
    let mut resp = client
        .post(server.url(interaction.request.path_and_query()))
        .headers(replay_headers(&interaction))
        .body(interaction.request.body.clone())
        .send()
        .await
        .expect("request succeeds");
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.expect("body reads") {
        body.extend_from_slice(&chunk);
    }
    drop(resp);
    capture.flush();
    assert_eq!(server.unmatched(), 0, "unmatched request");
    let faults = faults.lock().unwrap().clone();
    Run {
        capture,
        interaction,
        body,
        faults,
    }
}

async fn run(name: &str, opts: Opts, label: Option<&'static str>) -> Run {
    run_at(name, 0, opts, label).await
}

fn output_messages(span: &SpanData) -> Value {
    serde_json::from_str(
        span.attr_str("gen_ai.output.messages")
            .expect("output messages"),
    )
    .expect("JSON")
}

fn input_messages(span: &SpanData) -> Value {
    serde_json::from_str(
        span.attr_str("gen_ai.input.messages")
            .expect("input messages"),
    )
    .expect("JSON")
}

/// Concatenated `key` strings of every NDJSON line of the recorded body (an oracle that
/// does not use the parser under test).
fn ndjson_text(interaction: &Interaction, pointer: &str) -> String {
    String::from_utf8_lossy(&interaction.response.decoded_body())
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            v.pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect()
}

/// Concatenated string at `pointer` of every SSE `data:` JSON of the recorded body.
fn sse_text(interaction: &Interaction, pointer: &str) -> String {
    String::from_utf8_lossy(&interaction.response.decoded_body())
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v.pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Ollama
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn test_ollama_chat_legacy() {
    let r = run(
        "ollama/test_chat/test_ollama_chat_legacy.yaml",
        Opts::default(),
        None,
    )
    .await;
    r.assert_pass_through();
    let s = r.span("ollama.chat");
    assert_eq!(s.attr_str("gen_ai.provider.name"), Some("ollama"));
    assert_eq!(s.attr_str("gen_ai.operation.name"), Some("chat"));
    assert_eq!(s.attr_str("gen_ai.request.model"), Some("llama3"));
    assert_eq!(s.attr_str("gen_ai.response.model"), Some("llama3"));
    assert_eq!(s.attr_bool("gen_ai.request.stream"), Some(false));
    assert_eq!(s.attr_i64("gen_ai.usage.input_tokens"), Some(17));
    assert_eq!(s.attr_i64("gen_ai.usage.output_tokens"), Some(66));
    assert_eq!(
        s.attr_str_array("gen_ai.response.finish_reasons"),
        Some(vec!["stop".into()])
    );
    assert_eq!(
        s.attr_i64("ollama.response.total_duration"),
        Some(10386172208)
    );
    assert_eq!(
        s.attr_i64("ollama.response.eval_duration"),
        Some(2127200000)
    );
    let out = output_messages(&s);
    let text = out[0]["parts"][0]["content"].as_str().unwrap();
    assert!(text.starts_with(
        "A joke about OpenTelemetry!\n\nWhy did the OpenTelemetry agent go to therapy?"
    ));
    assert_eq!(
        input_messages(&s)[0]["parts"][0]["content"],
        "Tell me a joke about OpenTelemetry"
    );
    assert!(r.faults.is_empty(), "{:?}", r.faults);
}

/// Upstream `test_ollama_chat_legacy` attribute names (legacy flavour).
#[tokio::test]
async fn test_ollama_chat_legacy_flavour_upstream_names() {
    let r = run(
        "ollama/test_chat/test_ollama_chat_legacy.yaml",
        Opts::flavour(Flavour::Legacy),
        None,
    )
    .await;
    let s = r.span("ollama.chat");
    assert_eq!(s.attr_str("llm.request.type"), Some("chat"));
    assert_eq!(s.attr_bool("llm.is_streaming"), Some(false));
    assert_eq!(s.attr_str("gen_ai.request.model"), Some("llama3"));
    assert_eq!(
        s.attr_str("gen_ai.prompt.0.content"),
        Some("Tell me a joke about OpenTelemetry")
    );
    let body: Value = r.interaction.response.body_json().unwrap();
    assert_eq!(
        s.attr_str("gen_ai.completion.0.content"),
        body["message"]["content"].as_str()
    );
    // Our legacy flavour's token key (upstream's Ollama tests now read the current one).
    assert_eq!(s.attr_i64("gen_ai.usage.prompt_tokens"), Some(17));
    assert_eq!(s.attr_i64("llm.usage.total_tokens"), Some(17 + 66));
}

#[tokio::test]
async fn test_ollama_async_streaming_chat_legacy() {
    let name = "ollama/test_chat/test_ollama_async_streaming_chat_legacy.yaml";
    let r = run(name, Opts::default(), None).await;
    r.assert_pass_through();
    let s = r.span("ollama.chat");
    assert_eq!(s.attr_bool("gen_ai.request.stream"), Some(true));
    assert_eq!(s.attr_i64("gen_ai.usage.input_tokens"), Some(17));
    assert_eq!(s.attr_i64("gen_ai.usage.output_tokens"), Some(63));
    assert_eq!(
        s.attr_i64("ollama.response.total_duration"),
        Some(3722518334)
    );
    assert_eq!(
        s.attr_str_array("gen_ai.response.finish_reasons"),
        Some(vec!["stop".into()])
    );
    let want = ndjson_text(&r.interaction, "/message/content");
    assert_eq!(want.len(), 238);
    assert_eq!(output_messages(&s)[0]["parts"][0]["content"], want.as_str());
    assert!(r.faults.is_empty(), "{:?}", r.faults);
    // Time to first chunk was recorded once for the NDJSON stream.
    let ttfc = r
        .capture
        .metric_points("gen_ai.client.operation.time_to_first_chunk");
    assert_eq!(ttfc.len(), 1, "{:?}", r.capture.metric_names());
    assert_eq!(ttfc[0].count, Some(1));
}

#[tokio::test]
async fn test_ollama_chat_tool_calls_legacy() {
    let r = run(
        "ollama/test_chat/test_ollama_chat_tool_calls_legacy.yaml",
        Opts::default(),
        None,
    )
    .await;
    r.assert_pass_through();
    let s = r.span("ollama.chat");
    assert_eq!(s.attr_str("gen_ai.request.model"), Some("llama3.1"));
    let input = input_messages(&s);
    assert_eq!(input[0]["role"], "assistant");
    assert_eq!(input[0]["parts"][0]["type"], "tool_call");
    assert_eq!(input[0]["parts"][0]["name"], "get_current_weather");
    assert_eq!(
        input[0]["parts"][0]["arguments"]["location"],
        "San Francisco"
    );
    assert_eq!(input[1]["role"], "tool");
    assert_eq!(input[1]["parts"][0]["type"], "tool_call_response");
    assert_eq!(
        input[1]["parts"][0]["response"],
        "The weather in San Francisco is 70 degrees and sunny."
    );
}

#[tokio::test]
async fn test_ollama_generation_legacy() {
    let r = run(
        "ollama/test_generation/test_ollama_generation_legacy.yaml",
        Opts::default(),
        None,
    )
    .await;
    r.assert_pass_through();
    let s = r.span("ollama.completion");
    assert_eq!(s.attr_str("gen_ai.operation.name"), Some("text_completion"));
    assert_eq!(s.attr_i64("gen_ai.usage.input_tokens"), Some(17));
    assert_eq!(s.attr_i64("gen_ai.usage.output_tokens"), Some(63));
    assert_eq!(
        s.attr_i64("ollama.response.load_duration"),
        Some(2037300208)
    );
    let text = output_messages(&s)[0]["parts"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.starts_with("A niche topic!\n\nHere's one:"), "{text}");
    assert!(
        s.attr("gen_ai.system_instructions").is_none(),
        "empty system is not recorded"
    );
}

#[tokio::test]
async fn test_ollama_streaming_generation_legacy() {
    let name = "ollama/test_generation/test_ollama_streaming_generation_legacy.yaml";
    let r = run(name, Opts::default(), None).await;
    r.assert_pass_through();
    let s = r.span("ollama.completion");
    assert_eq!(s.attr_i64("gen_ai.usage.input_tokens"), Some(17));
    assert_eq!(s.attr_i64("gen_ai.usage.output_tokens"), Some(71));
    assert_eq!(
        s.attr_i64("ollama.response.total_duration"),
        Some(4218611084)
    );
    let want = ndjson_text(&r.interaction, "/response");
    assert_eq!(want.len(), 291);
    assert_eq!(output_messages(&s)[0]["parts"][0]["content"], want.as_str());
    assert!(r.faults.is_empty(), "{:?}", r.faults);
}

#[tokio::test]
async fn test_ollama_embeddings_legacy() {
    let r = run(
        "ollama/test_embeddings/test_ollama_embeddings_legacy.yaml",
        Opts::default(),
        None,
    )
    .await;
    r.assert_pass_through();
    let s = r.span("ollama.embeddings");
    assert_eq!(s.attr_str("gen_ai.operation.name"), Some("embeddings"));
    assert_eq!(s.attr_i64("gen_ai.embeddings.dimension.count"), Some(4096));
}

#[tokio::test]
async fn ollama_content_off_records_no_content() {
    for name in [
        "ollama/test_chat/test_ollama_chat_legacy.yaml",
        "ollama/test_generation/test_ollama_streaming_generation_legacy.yaml",
        "cohere/test_chat/test_cohere_v2_chat_legacy_with_streaming.yaml",
        "cohere/test_rerank/test_cohere_v2_rerank_legacy.yaml",
    ] {
        let r = run(name, Opts::content_off(), None).await;
        let text = r.capture.all_exported_text();
        for needle in ["OpenTelemetry", "pirate", "capital"] {
            assert!(
                !text.contains(needle),
                "{name}: content `{needle}` exported with content off"
            );
        }
        assert!(
            text.contains("gen_ai.request.model"),
            "{name}: the span is still recorded"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Cohere v2
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn test_cohere_v2_chat_legacy() {
    let r = run(
        "cohere/test_chat/test_cohere_v2_chat_legacy.yaml",
        Opts::default(),
        None,
    )
    .await;
    r.assert_pass_through();
    let s = r.span("cohere.chat");
    assert_eq!(s.attr_str("gen_ai.provider.name"), Some("cohere"));
    assert_eq!(s.attr_str("gen_ai.request.model"), Some("command"));
    assert_eq!(
        s.attr_str("gen_ai.response.id"),
        Some("83e3e297-264b-478e-9b22-5058386292ed")
    );
    // Upstream asserts 7 prompt tokens (the billed units).
    assert_eq!(s.attr_i64("gen_ai.usage.input_tokens"), Some(7));
    assert_eq!(s.attr_i64("gen_ai.usage.output_tokens"), Some(88));
    assert_eq!(
        s.attr_str_array("gen_ai.response.finish_reasons"),
        Some(vec!["stop".into()])
    );
    let text = output_messages(&s)[0]["parts"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        text.starts_with("Arrrr, matey! Shiver me timbers"),
        "{text}"
    );
    assert!(r.faults.is_empty(), "{:?}", r.faults);
}

/// Upstream `test_cohere_v2_chat_legacy` attribute names (legacy flavour).
#[tokio::test]
async fn test_cohere_v2_chat_legacy_flavour_upstream_names() {
    let r = run(
        "cohere/test_chat/test_cohere_v2_chat_legacy.yaml",
        Opts::flavour(Flavour::Legacy),
        None,
    )
    .await;
    let s = r.span("cohere.chat");
    assert_eq!(s.attr_str("llm.request.type"), Some("chat"));
    assert_eq!(
        s.attr_str("gen_ai.prompt.0.content"),
        Some("Tell me a joke, pirate style")
    );
    assert_eq!(
        s.attr_i64("gen_ai.usage.prompt_tokens")
            .or(s.attr_i64("gen_ai.usage.input_tokens")),
        Some(7)
    );
    assert_eq!(s.attr_i64("llm.usage.total_tokens"), Some(7 + 88));
    assert_eq!(
        s.attr_str("gen_ai.response.id"),
        Some("83e3e297-264b-478e-9b22-5058386292ed")
    );
}

#[tokio::test]
async fn test_cohere_v2_chat_legacy_with_streaming() {
    let name = "cohere/test_chat/test_cohere_v2_chat_legacy_with_streaming.yaml";
    let r = run(name, Opts::default(), None).await;
    r.assert_pass_through();
    let s = r.span("cohere.chat");
    assert_eq!(s.attr_bool("gen_ai.request.stream"), Some(true));
    assert_eq!(
        s.attr_str("gen_ai.response.id"),
        Some("6cd6ce61-bb3b-46f6-907e-fcfab45e51b6")
    );
    assert_eq!(s.attr_i64("gen_ai.usage.input_tokens"), Some(7));
    assert_eq!(s.attr_i64("gen_ai.usage.output_tokens"), Some(109));
    assert_eq!(
        s.attr_str_array("gen_ai.response.finish_reasons"),
        Some(vec!["stop".into()])
    );
    let want = sse_text(&r.interaction, "/delta/message/content/text");
    assert!(want.chars().count() > 300);
    assert_eq!(output_messages(&s)[0]["parts"][0]["content"], want.as_str());
    assert!(r.faults.is_empty(), "{:?}", r.faults);
}

#[tokio::test]
async fn test_cohere_v2_chat_legacy_with_tool_calls_and_history() {
    let name = "cohere/test_chat/test_cohere_v2_chat_legacy_with_tool_calls_and_history.yaml";
    let r = run_at(name, 0, Opts::default(), None).await;
    let s = r.span("cohere.chat");
    assert_eq!(s.attr_str("gen_ai.request.model"), Some("command-r"));
    assert_eq!(
        s.attr_str_array("gen_ai.response.finish_reasons"),
        Some(vec!["tool_call".into()])
    );
    assert_eq!(s.attr_i64("gen_ai.usage.input_tokens"), Some(62));
    let out = output_messages(&s);
    assert_eq!(out[0]["parts"][0]["type"], "tool_call");
    assert_eq!(out[0]["parts"][0]["id"], "get_time_dp3men9jrvhf");
    assert_eq!(out[0]["parts"][0]["name"], "get_time");
    assert_eq!(out[0]["parts"][0]["arguments"]["location"], "Tokyo");
    assert_eq!(out[0]["parts"][1]["id"], "get_weather_d7arjgsc96yf");
    let tools: Value =
        serde_json::from_str(s.attr_str("gen_ai.tool.definitions").unwrap()).unwrap();
    assert_eq!(tools[0]["name"], "get_weather");
    assert_eq!(tools[1]["name"], "get_time");

    let r = run_at(name, 1, Opts::default(), None).await;
    let s = r.span("cohere.chat");
    let input = input_messages(&s);
    assert_eq!(input[1]["parts"][0]["type"], "tool_call");
    assert_eq!(input[2]["parts"][0]["type"], "tool_call_response");
    assert_eq!(input[2]["parts"][0]["id"], "get_time_dp3men9jrvhf");
    assert_eq!(input[2]["parts"][0]["response"], "4:20 PM");
    assert_eq!(s.attr_i64("gen_ai.usage.input_tokens"), Some(94));
    assert_eq!(
        s.attr_str_array("gen_ai.response.finish_reasons"),
        Some(vec!["stop".into()])
    );
}

#[tokio::test]
async fn test_cohere_v2_embed_legacy() {
    let r = run(
        "cohere/test_embed/test_cohere_v2_embed_legacy.yaml",
        Opts::flavour(Flavour::Legacy),
        None,
    )
    .await;
    r.assert_pass_through();
    let s = r.span("cohere.embed");
    // Upstream: span name, request type, model, response id.
    assert_eq!(s.attr_str("llm.request.type"), Some("embedding"));
    assert_eq!(
        s.attr_str("gen_ai.request.model"),
        Some("embed-english-light-v3.0")
    );
    assert_eq!(
        s.attr_str("gen_ai.response.id"),
        Some("74d7aae4-2939-4002-b4d4-352dfcca03cf")
    );
    assert_eq!(s.attr_i64("gen_ai.usage.prompt_tokens"), Some(208));
    assert_eq!(s.attr_i64("gen_ai.embeddings.dimension.count"), Some(384));
    assert_eq!(s.attr_str("gen_ai.prompt.0.role"), Some("user"));
}

#[tokio::test]
async fn test_cohere_v2_rerank_legacy() {
    let r = run(
        "cohere/test_rerank/test_cohere_v2_rerank_legacy.yaml",
        Opts::flavour(Flavour::Legacy),
        None,
    )
    .await;
    r.assert_pass_through();
    let s = r.span("cohere.rerank");
    // Upstream `test_cohere_v2_rerank_legacy`: documents are system prompts 0..n, the query
    // the user prompt n.
    assert_eq!(s.attr_str("llm.request.type"), Some("rerank"));
    assert_eq!(
        s.attr_str("gen_ai.request.model"),
        Some("rerank-english-v3.0")
    );
    let req = r.interaction.request.body_json().unwrap();
    let docs = req["documents"].as_array().unwrap();
    for (i, d) in docs.iter().enumerate() {
        assert_eq!(
            s.attr_str(&format!("gen_ai.prompt.{i}.role")),
            Some("system")
        );
        assert_eq!(
            s.attr_str(&format!("gen_ai.prompt.{i}.content")),
            d.as_str()
        );
    }
    let n = docs.len();
    assert_eq!(s.attr_str(&format!("gen_ai.prompt.{n}.role")), Some("user"));
    assert_eq!(
        s.attr_str(&format!("gen_ai.prompt.{n}.content")),
        Some("What is the capital of the United States?")
    );
    assert_eq!(
        s.attr_str("gen_ai.response.id"),
        Some("26c7d7a0-ca6f-49b3-a685-1e44a732603d")
    );
}

// ---------------------------------------------------------------------------------------
// Mistral AI
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn test_mistralai_chat_legacy() {
    let r = run(
        "mistralai/test_chat/test_mistralai_chat_legacy.yaml",
        Opts::default(),
        Some("mistral_ai"),
    )
    .await;
    r.assert_pass_through();
    let s = r.span("mistralai.chat");
    assert_eq!(s.attr_str("gen_ai.provider.name"), Some("mistral_ai"));
    assert_eq!(s.attr_str("gen_ai.request.model"), Some("mistral-tiny"));
    assert_eq!(
        s.attr_str("gen_ai.response.id"),
        Some("e9459fcd56c742e0875167c9926c6aae")
    );
    assert_eq!(s.attr_i64("gen_ai.usage.input_tokens"), Some(11));
    assert_eq!(s.attr_i64("gen_ai.usage.output_tokens"), Some(96));
    assert_eq!(
        s.attr_str_array("gen_ai.response.finish_reasons"),
        Some(vec!["stop".into()])
    );
    assert!(r.faults.is_empty(), "{:?}", r.faults);
}

#[tokio::test]
async fn test_mistralai_streaming_chat_legacy() {
    let name = "mistralai/test_chat/test_mistralai_streaming_chat_legacy.yaml";
    let r = run(name, Opts::default(), Some("mistral_ai")).await;
    r.assert_pass_through();
    let s = r.span("mistralai.chat");
    assert_eq!(s.attr_bool("gen_ai.request.stream"), Some(true));
    assert_eq!(
        s.attr_str("gen_ai.response.id"),
        Some("6dc321029f5d4aa5899c1b38c9657a61")
    );
    assert_eq!(s.attr_i64("gen_ai.usage.input_tokens"), Some(11));
    assert_eq!(s.attr_i64("gen_ai.usage.output_tokens"), Some(80));
    let want = sse_text(&r.interaction, "/choices/0/delta/content");
    assert_eq!(want.len(), 297);
    assert_eq!(output_messages(&s)[0]["parts"][0]["content"], want.as_str());
    assert!(r.faults.is_empty(), "{:?}", r.faults);
}

#[tokio::test]
async fn test_mistral_async_embeddings_legacy() {
    let name = "mistralai/test_embeddings/test_mistral_async_embeddings_legacy.yaml";
    let r = run(name, Opts::default(), Some("mistral_ai")).await;
    r.assert_pass_through();
    let s = r.span("mistralai.embeddings");
    assert_eq!(s.attr_str("gen_ai.request.model"), Some("mistral-embed"));
    assert_eq!(s.attr_i64("gen_ai.usage.input_tokens"), Some(21));
    assert_eq!(s.attr_i64("gen_ai.embeddings.dimension.count"), Some(1024));
}

// ---------------------------------------------------------------------------------------
// OpenAI-compatible hosts
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn test_groq_chat_legacy() {
    let r = run(
        "groq/test_chat_tracing/test_chat_legacy.yaml",
        Opts::default(),
        Some("groq"),
    )
    .await;
    r.assert_pass_through();
    let s = r.span("openai.chat");
    assert_eq!(s.attr_str("gen_ai.provider.name"), Some("groq"));
    assert_eq!(s.attr_str("gen_ai.request.model"), Some("llama3-8b-8192"));
    assert_eq!(
        s.attr_str("gen_ai.response.id"),
        Some("chatcmpl-645691ff-34af-4d0f-a1c1-fe888f8685cc")
    );
    assert_eq!(s.attr_i64("gen_ai.usage.input_tokens"), Some(18));
    assert_eq!(s.attr_i64("gen_ai.usage.output_tokens"), Some(43));
    // The metrics carry the provider too.
    let points = r.capture.metric_points("gen_ai.client.token.usage");
    assert!(!points.is_empty());
    for p in points {
        assert_eq!(
            p.attributes
                .get("gen_ai.provider.name")
                .map(|v| format!("{v:?}")),
            Some(format!(
                "{:?}",
                openllmetry_testkit::flat::AttrValue::from(&opentelemetry::Value::from("groq"))
            )),
        );
    }
}

#[tokio::test]
async fn test_together_chat_legacy() {
    let r = run(
        "together/test_chat/test_together_chat_legacy.yaml",
        Opts::default(),
        Some("together_ai"),
    )
    .await;
    r.assert_pass_through();
    let s = r.span("openai.chat");
    assert_eq!(s.attr_str("gen_ai.provider.name"), Some("together_ai"));
    assert_eq!(
        s.attr_str("gen_ai.response.id"),
        Some("88fa668fac30bb19-MXP")
    );
    assert_eq!(
        s.attr_str_array("gen_ai.response.finish_reasons"),
        Some(vec!["eos".into()])
    );
    assert_eq!(s.attr_i64("gen_ai.usage.input_tokens"), Some(18));
    assert_eq!(s.attr_i64("gen_ai.usage.output_tokens"), Some(35));
}

/// Without a label, a loopback OpenAI-format upstream stays `openai` (the label is what
/// makes the groq test above pass).
#[tokio::test]
async fn unlabelled_loopback_upstream_is_openai() {
    let r = run(
        "groq/test_chat_tracing/test_chat_legacy.yaml",
        Opts::default(),
        None,
    )
    .await;
    assert_eq!(
        r.span("openai.chat").attr_str("gen_ai.provider.name"),
        Some("openai")
    );
    assert!(r.fault_kinds().is_empty());
}
