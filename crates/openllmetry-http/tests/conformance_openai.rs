//! Cassette conformance suite, OpenAI half: one test per vendored OpenAI cassette, each
//! replayed over loopback HTTP through the real reqwest middleware.
//!
//! Every expected value below is a literal read from the cassette (the first interaction,
//! the one upstream asserts on), never produced by our own parsers. Streams are also checked
//! against a test-side oracle ([`common::sse_json_chunks`]) that splits the recorded bytes
//! independently.
//!
//! Each test replays its cassette:
//! * with content capture on, asserting span, attributes, content JSON, events, metrics and
//!   byte-exact pass-through;
//! * with content capture off, asserting that no content string is exported anywhere while
//!   ids, tokens and finish reasons still are;
//! * addressed to the recorded host name (resolved to the loopback server), asserting
//!   host-based provider detection;
//! * for the chat, streaming and tool-call cassettes, in the legacy and events flavours too
//!   (content on and off).

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use openllmetry_core::Flavour;
use openllmetry_testkit::capture::{
    SpanDataExt, attr_bool, attr_f64, attr_i64, attr_str, attr_str_array,
};
use openllmetry_testkit::flat::{AttrValue, MetricPoint};
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// Expectations
// ---------------------------------------------------------------------------------------

/// What one cassette must produce (all literals from the cassette).
#[derive(Debug, Clone)]
struct Exp {
    cassette: &'static str,
    span: &'static str,
    operation: &'static str,
    /// `openai.api.type`.
    api_type: &'static str,
    /// `gen_ai.provider.name` when replayed on `127.0.0.1`.
    provider: &'static str,
    /// Recorded host and the provider detected from it.
    host: &'static str,
    host_provider: &'static str,
    /// Path of the client's base URL (`/v1/`).
    base_path: &'static str,
    api_version: Option<&'static str>,
    request_model: &'static str,
    stream: bool,
    /// Request parameters present in the recorded request (string-valued attributes).
    params: Vec<(&'static str, &'static str)>,
    encoding_formats: Option<Vec<&'static str>>,
    response_id: Option<&'static str>,
    response_model: Option<&'static str>,
    fingerprint: Option<&'static str>,
    service_tier: Option<&'static str>,
    finish_reasons: Vec<&'static str>,
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    total_tokens: Option<i64>,
    cache_read: Option<i64>,
    reasoning: Option<i64>,
    dimensions: Option<i64>,
    /// `gen_ai.input.messages`.
    input_messages: Value,
    /// `gen_ai.output.messages` (`None`: not written).
    output_messages: Option<Value>,
    /// `gen_ai.tool.definitions` (`None`: not written).
    tool_definitions: Option<Value>,
    /// Streams: number of `data:` JSON chunks recorded.
    chunks: Option<usize>,
}

impl Exp {
    fn chat(cassette: &'static str, request_model: &'static str) -> Exp {
        Exp {
            cassette,
            span: "openai.chat",
            operation: "chat",
            api_type: "chat_completions",
            provider: "openai",
            host: "api.openai.com",
            host_provider: "openai",
            base_path: "/v1/",
            api_version: None,
            request_model,
            stream: false,
            params: Vec::new(),
            encoding_formats: None,
            response_id: None,
            response_model: None,
            fingerprint: None,
            service_tier: None,
            finish_reasons: Vec::new(),
            input_tokens: None,
            output_tokens: None,
            total_tokens: None,
            cache_read: None,
            reasoning: None,
            dimensions: None,
            input_messages: Value::Null,
            output_messages: None,
            tool_definitions: None,
            chunks: None,
        }
    }

    fn embeddings(cassette: &'static str, request_model: &'static str) -> Exp {
        Exp {
            span: "openai.embeddings",
            operation: "embeddings",
            api_type: "embeddings",
            encoding_formats: Some(vec!["base64"]),
            input_messages: user_text("Tell me a joke about opentelemetry"),
            // Upstream writes 0: `shared/__init__.py::_set_response_attributes` reads
            // `usage.get("prompt_tokens_details", {})` from the client's `model_dump()`, and
            // the embeddings usage model has no such field (the recordings send none).
            cache_read: Some(0),
            ..Exp::chat(cassette, request_model)
        }
    }

    fn choices(&self) -> usize {
        self.output_messages
            .as_ref()
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    }
}

const JOKE_PROMPT: &str = "Tell me a joke about opentelemetry";

fn user_text(text: &str) -> Value {
    json!([{"role": "user", "parts": [{"type": "text", "content": text}]}])
}

fn assistant_text(text: &str, finish: &str) -> Value {
    json!([{"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": finish}])
}

/// The recorded `get_current_weather` definition of the function-call cassettes.
fn weather_tool_full() -> Value {
    json!({
        "type": "function",
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
            },
            "required": ["location"]
        }
    })
}

/// The recorded `get_current_weather` definition of the parallel / streaming tool cassettes.
fn weather_tool_short() -> Value {
    json!({
        "type": "function",
        "name": "get_current_weather",
        "description": "Get the current weather",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"}
            },
            "required": ["location"]
        }
    })
}

/// Request parameter attributes; each must be present exactly when the request had it.
const PARAM_KEYS: &[&str] = &[
    "gen_ai.request.max_tokens",
    "gen_ai.request.temperature",
    "gen_ai.request.top_p",
    "gen_ai.request.top_k",
    "gen_ai.request.frequency_penalty",
    "gen_ai.request.presence_penalty",
    "gen_ai.request.stop_sequences",
    "gen_ai.request.seed",
    "gen_ai.request.choice.count",
    "openai.request.service_tier",
    "gen_ai.request.reasoning_effort",
    "gen_ai.request.structured_output_schema",
    "gen_ai.output.type",
];

const CONTENT_KEYS: &[&str] = &[
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
];

// ---------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------

fn has(span: &SpanData, key: &str) -> bool {
    span.attr(key).is_some()
}

/// Attributes every flavour shares: span name and kind, operation, provider, request,
/// server, response and errors.
fn check_common(run: &Run, e: &Exp, span: &SpanData, provider: &str, host: &str) {
    let port = run.server.addr().port();
    assert_eq!(span.name, e.span);
    assert_eq!(span.span_kind, SpanKind::Client, "{}", e.cassette);
    assert_eq!(attr_str(span, "gen_ai.operation.name"), Some(e.operation));
    assert_eq!(attr_str(span, "gen_ai.provider.name"), Some(provider));
    assert_eq!(
        attr_str(span, "gen_ai.request.model"),
        Some(e.request_model)
    );
    assert_eq!(
        attr_str(span, "gen_ai.openai.api_base"),
        Some(format!("http://{host}:{port}{}", e.base_path).as_str())
    );
    assert_eq!(attr_str(span, "server.address"), Some(host));
    assert_eq!(attr_i64(span, "server.port"), Some(i64::from(port)));
    assert_eq!(attr_str(span, "gen_ai.openai.api_version"), e.api_version);
    for key in PARAM_KEYS {
        let want = e.params.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
        assert_eq!(attr_str(span, key), want, "{}: {key}", e.cassette);
    }
    assert_eq!(
        attr_str_array(span, "gen_ai.request.encoding_formats"),
        e.encoding_formats
            .as_ref()
            .map(|v| v.iter().map(|s| s.to_string()).collect())
    );
    assert_eq!(attr_str(span, "gen_ai.response.id"), e.response_id);
    assert_eq!(attr_str(span, "gen_ai.response.model"), e.response_model);
    // OpenLLMetry 0.62 writes `gen_ai.openai.response.system_fingerprint`
    // (tests/traces/test_chat.py); 0.53 (legacy) wrote `gen_ai.openai.system_fingerprint`.
    let (fp_key, other_fp_key) = if has(span, "llm.request.type") {
        (
            "gen_ai.openai.system_fingerprint",
            "gen_ai.openai.response.system_fingerprint",
        )
    } else {
        (
            "gen_ai.openai.response.system_fingerprint",
            "gen_ai.openai.system_fingerprint",
        )
    };
    assert_eq!(attr_str(span, fp_key), e.fingerprint);
    assert!(!has(span, other_fp_key));
    assert!(!has(span, "openai.response.system_fingerprint"));
    assert_eq!(
        attr_str(span, "openai.response.service_tier"),
        e.service_tier
    );
    let finish = attr_str_array(span, "gen_ai.response.finish_reasons");
    if e.finish_reasons.is_empty() {
        assert_eq!(finish, None, "{}", e.cassette);
    } else {
        assert_eq!(finish, Some(strings(&e.finish_reasons)), "{}", e.cassette);
    }
    assert_eq!(
        attr_i64(span, "gen_ai.embeddings.dimension.count"),
        e.dimensions
    );
    assert!(
        !has(span, "error.type"),
        "{}: unexpected error.type",
        e.cassette
    );
    assert!(
        !matches!(span.status, Status::Error { .. }),
        "{}: status {:?}",
        e.cassette,
        span.status
    );
    assert!(!has(span, "openllmetry.response.incomplete"));
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Usage attributes of the current / events flavours.
fn check_usage(span: &SpanData, e: &Exp) {
    assert_eq!(
        attr_i64(span, "gen_ai.usage.input_tokens"),
        e.input_tokens,
        "{}",
        e.cassette
    );
    assert_eq!(
        attr_i64(span, "gen_ai.usage.output_tokens"),
        e.output_tokens,
        "{}",
        e.cassette
    );
    assert_eq!(
        attr_i64(span, "gen_ai.usage.total_tokens"),
        e.total_tokens,
        "{}",
        e.cassette
    );
    assert_eq!(
        attr_i64(span, "gen_ai.usage.cache_read.input_tokens"),
        e.cache_read
    );
    // Upstream: `gen_ai.usage.reasoning_tokens` (tests/traces/test_chat.py::test_chat_reasoning).
    assert_eq!(attr_i64(span, "gen_ai.usage.reasoning_tokens"), e.reasoning);
    assert!(!has(span, "gen_ai.usage.reasoning.output_tokens"));
    assert!(!has(span, "gen_ai.usage.cache_creation.input_tokens"));
}

/// The current flavour: every attribute, with content (when `content`) compared as JSON.
fn check_current(run: &Run, e: &Exp, content: bool) {
    let span = run.span(e.span);
    check_common(run, e, &span, e.provider, "127.0.0.1");
    check_usage(&span, e);
    assert_eq!(attr_bool(&span, "gen_ai.request.stream"), Some(e.stream));
    assert_eq!(attr_bool(&span, "gen_ai.is_streaming"), Some(e.stream));
    assert_eq!(attr_str(&span, "openai.api.type"), Some(e.api_type));
    assert!(
        !has(&span, "gen_ai.system"),
        "legacy key in current flavour"
    );
    assert!(!has(&span, "llm.is_streaming"));
    if content {
        assert_eq!(
            json_attr(&span, "gen_ai.input.messages"),
            e.input_messages,
            "{}: gen_ai.input.messages",
            e.cassette
        );
        match &e.output_messages {
            Some(v) => assert_eq!(
                &json_attr(&span, "gen_ai.output.messages"),
                v,
                "{}: gen_ai.output.messages",
                e.cassette
            ),
            None => assert!(!has(&span, "gen_ai.output.messages")),
        }
        match &e.tool_definitions {
            Some(v) => assert_eq!(
                &json_attr(&span, "gen_ai.tool.definitions"),
                v,
                "{}: gen_ai.tool.definitions",
                e.cassette
            ),
            None => assert!(!has(&span, "gen_ai.tool.definitions")),
        }
        assert!(!has(&span, "gen_ai.system_instructions"));
    } else {
        for key in CONTENT_KEYS {
            assert!(!has(&span, key), "{}: {key} with content off", e.cassette);
        }
    }
    // The current flavour emits no log events.
    assert!(run.capture.logs().is_empty(), "{}: log events", e.cassette);
}

/// Streams: one chunk span event per recorded `data:` JSON chunk, time to first chunk, and
/// the recorded chunk count (literal) equal to the oracle's.
fn check_stream(run: &Run, e: &Exp) {
    let Some(chunks) = e.chunks else {
        let span = run.span(e.span);
        assert!(span.events.is_empty(), "{}: span events", e.cassette);
        assert!(!has(&span, "gen_ai.response.time_to_first_chunk"));
        return;
    };
    let recorded = sse_json_chunks(&run.interaction.response.decoded_body());
    assert_eq!(
        recorded.len(),
        chunks,
        "{}: recorded chunk count",
        e.cassette
    );
    let span = run.span(e.span);
    assert!(
        span.events
            .iter()
            .all(|ev| ev.name == "gen_ai.content.completion.chunk" && ev.attributes.is_empty())
    );
    // The SDK keeps at most `max_events_per_span` (128) events and counts the rest as dropped.
    assert_eq!(
        span.events.len() + span.events.dropped_count as usize,
        chunks,
        "{}: one gen_ai.content.completion.chunk event per chunk",
        e.cassette
    );
    let ttfc = attr_f64(&span, "gen_ai.response.time_to_first_chunk")
        .expect("gen_ai.response.time_to_first_chunk");
    assert!(ttfc >= 0.0);
}

/// Joined `delta.content` of the chunks of choice 0 (test-side oracle).
fn joined_deltas(chunks: &[Value]) -> String {
    chunks
        .iter()
        .flat_map(|c| c["choices"].as_array().cloned().unwrap_or_default())
        .filter(|c| c["index"] == 0)
        .filter_map(|c| c["delta"]["content"].as_str().map(str::to_string))
        .collect()
}

fn points(run: &Run, name: &str) -> Vec<MetricPoint> {
    run.capture.metric_points(name)
}

fn point_str<'a>(p: &'a MetricPoint, key: &str) -> Option<&'a str> {
    p.attr(key).and_then(AttrValue::as_str)
}

/// Attributes every metric point carries.
fn check_point_base(p: &MetricPoint, e: &Exp, provider: &str) {
    assert_eq!(
        point_str(p, "gen_ai.provider.name"),
        Some(provider),
        "{p:?}"
    );
    assert_eq!(point_str(p, "gen_ai.operation.name"), Some(e.operation));
    assert_eq!(
        point_str(p, "gen_ai.request.model"),
        Some(e.request_model),
        "{p:?}"
    );
    assert_eq!(
        point_str(p, "gen_ai.response.model"),
        e.response_model,
        "{p:?}"
    );
    assert!(p.attr("error.type").is_none(), "{p:?}");
}

fn check_metrics(run: &Run, e: &Exp, provider: &str) {
    // Token usage: one point per recorded token type, with the recorded value.
    let usage = points(run, "gen_ai.client.token.usage");
    for p in &usage {
        check_point_base(p, e, provider);
        assert_eq!(p.unit, "{token}");
        let t = point_str(p, "gen_ai.token.type");
        assert!(matches!(t, Some("input" | "output")), "{p:?}");
    }
    for (kind, want) in [("input", e.input_tokens), ("output", e.output_tokens)] {
        let of_kind: Vec<&MetricPoint> = usage
            .iter()
            .filter(|p| point_str(p, "gen_ai.token.type") == Some(kind))
            .collect();
        match want {
            Some(n) => {
                assert_eq!(of_kind.len(), 1, "{}: {kind} token points", e.cassette);
                assert_eq!(of_kind[0].count, Some(1));
                assert_eq!(of_kind[0].sum, Some(n as f64), "{}: {kind}", e.cassette);
            }
            None => assert!(of_kind.is_empty(), "{}: {kind} tokens", e.cassette),
        }
    }
    // Duration: one call.
    let duration = points(run, "gen_ai.client.operation.duration");
    assert_eq!(duration.len(), 1, "{}: duration points", e.cassette);
    assert_eq!(duration[0].count, Some(1));
    assert_eq!(duration[0].unit, "s");
    check_point_base(&duration[0], e, provider);
    // Choices: each counted once, with its (mapped) finish reason.
    let choices = points(run, "gen_ai.client.generation.choices");
    for p in &choices {
        check_point_base(p, e, provider);
    }
    let total: f64 = choices.iter().filter_map(|p| p.value).sum();
    assert_eq!(total as usize, e.choices(), "{}: choices", e.cassette);
    let mut reasons: Vec<(String, f64)> = choices
        .iter()
        .map(|p| {
            (
                point_str(p, "gen_ai.response.finish_reason")
                    .unwrap_or("")
                    .to_string(),
                p.value.unwrap_or(0.0),
            )
        })
        .collect();
    reasons.sort_by(|a, b| a.0.cmp(&b.0));
    let mut want: Vec<(String, f64)> = Vec::new();
    if let Some(Value::Array(msgs)) = &e.output_messages {
        for m in msgs {
            let r = m["finish_reason"].as_str().unwrap_or("").to_string();
            match want.iter_mut().find(|(k, _)| *k == r) {
                Some((_, n)) => *n += 1.0,
                None => want.push((r, 1.0)),
            }
        }
    }
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(reasons, want, "{}: choices by finish reason", e.cassette);
    // Streams: time to first chunk, once.
    let ttfc = points(run, "gen_ai.client.operation.time_to_first_chunk");
    if e.stream && e.chunks.is_some() {
        assert_eq!(ttfc.len(), 1, "{}: time to first chunk", e.cassette);
        assert_eq!(ttfc[0].count, Some(1));
        check_point_base(&ttfc[0], e, provider);
        for p in points(run, "gen_ai.client.operation.time_per_output_chunk") {
            check_point_base(&p, e, provider);
            // One point per chunk after the first.
            assert_eq!(p.count, Some(e.chunks.unwrap_or(0) as u64 - 1), "{p:?}");
        }
    } else {
        assert!(ttfc.is_empty(), "{}: time to first chunk", e.cassette);
    }
    // Upstream's names (opentelemetry-instrumentation-openai `Meters`): streamed chats record
    // `gen_ai.server.time_to_first_token` and `llm.chat_completions.streaming_time_to_generate`
    // once; embeddings add the first vector's length to `llm.openai.embeddings.vector_size`.
    for name in [
        "gen_ai.server.time_to_first_token",
        "llm.chat_completions.streaming_time_to_generate",
    ] {
        let pts = points(run, name);
        if e.stream && e.chunks.is_some() && e.operation == "chat" {
            assert_eq!(pts.len(), 1, "{}: {name}", e.cassette);
            assert_eq!(pts[0].count, Some(1), "{}: {name}", e.cassette);
            assert_eq!(pts[0].unit, "s");
            check_point_base(&pts[0], e, provider);
        } else {
            assert!(pts.is_empty(), "{}: {name}", e.cassette);
        }
    }
    let size = points(run, "llm.openai.embeddings.vector_size");
    match e.dimensions {
        Some(d) => {
            assert_eq!(size.len(), 1, "{}: vector size", e.cassette);
            assert_eq!(size[0].value, Some(d as f64), "{}: vector size", e.cassette);
            assert_eq!(size[0].unit, "element");
        }
        None => assert!(size.is_empty(), "{}: vector size", e.cassette),
    }
    assert!(points(run, "llm.openai.chat_completions.exceptions").is_empty());
}

/// Content off: the non-content attributes are still there, content is nowhere.
fn check_content_off(run: &Run, e: &Exp) {
    let span = run.span(e.span);
    for key in CONTENT_KEYS {
        assert!(!has(&span, key), "{}: {key} with content off", e.cassette);
    }
    assert!(
        span.attributes
            .iter()
            .all(|kv| !kv.key.as_str().starts_with("gen_ai.prompt.")
                && !kv.key.as_str().starts_with("gen_ai.completion.")
                && !kv.key.as_str().starts_with("llm.request.functions.")),
        "{}: legacy content keys with content off",
        e.cassette
    );
    assert_eq!(attr_str(&span, "gen_ai.response.id"), e.response_id);
    if !e.finish_reasons.is_empty() {
        assert_eq!(
            attr_str_array(&span, "gen_ai.response.finish_reasons"),
            Some(strings(&e.finish_reasons))
        );
    }
    assert_no_content_exported(run);
}

/// The full replay of one cassette: content on (current flavour), content off, and the
/// recorded host.
async fn conform(e: &Exp) {
    // Content on.
    let run = run_with(e.cassette, Replay::default()).await;
    run.assert_pass_through();
    assert!(
        run.faults.is_empty(),
        "{}: faults {:?}",
        e.cassette,
        run.faults
    );
    assert_eq!(run.capture.spans().len(), 1, "{}: spans", e.cassette);
    check_current(&run, e, true);
    check_stream(&run, e);
    check_metrics(&run, e, e.provider);

    // Content off.
    let run = run_with(e.cassette, Replay::opts(Opts::content_off())).await;
    run.assert_pass_through();
    check_current(&run, e, false);
    check_stream(&run, e);
    check_metrics(&run, e, e.provider);
    check_content_off(&run, e);

    // Addressed to the recorded host (resolved to the loopback server).
    let run = run_with(
        e.cassette,
        Replay {
            recorded_host: true,
            ..Replay::default()
        },
    )
    .await;
    run.assert_pass_through();
    let span = run.span(e.span);
    check_common(&run, e, &span, e.host_provider, e.host);
    check_metrics(&run, e, e.host_provider);
}

// ---------------------------------------------------------------------------------------
// Legacy and events flavours
// ---------------------------------------------------------------------------------------

/// Legacy flavour: the indexed content keys (exactly `content`, as key → value; values ending
/// in `.arguments` / `.parameters` compared as JSON), plus the legacy scalar keys.
async fn check_legacy(e: &Exp, content: &[(&str, &str)]) {
    for on in [true, false] {
        let opts = Opts {
            flavour: Flavour::Legacy,
            content: on,
            ..Opts::default()
        };
        let run = run_with(e.cassette, Replay::opts(opts)).await;
        run.assert_pass_through();
        let span = run.span(e.span);
        check_common(&run, e, &span, e.provider, "127.0.0.1");
        // `gen_ai.system`, `llm.is_streaming`, `llm.request.type` and the 0.53 token keys
        // are checked for every recording by the corpus harness (tests/corpus.rs).
        // 0.53 wrote `llm.usage.reasoning_tokens` (tests/traces/test_chat.py at v0.53.4).
        assert_eq!(attr_i64(&span, "llm.usage.reasoning_tokens"), e.reasoning);
        assert!(!has(&span, "gen_ai.request.stream"));
        assert!(!has(&span, "gen_ai.usage.input_tokens"));
        for key in CONTENT_KEYS {
            assert!(!has(&span, key), "{key} in the legacy flavour");
        }
        let indexed: BTreeSet<String> = span
            .attributes
            .iter()
            .map(|kv| kv.key.as_str().to_string())
            .filter(|k| {
                k.starts_with("gen_ai.prompt.")
                    || k.starts_with("gen_ai.completion.")
                    || k.starts_with("llm.request.functions.")
            })
            .collect();
        if on {
            let want: BTreeSet<String> = content.iter().map(|(k, _)| k.to_string()).collect();
            assert_eq!(indexed, want, "{}: legacy content keys", e.cassette);
            for (k, v) in content {
                let got = attr_str(&span, k).unwrap_or_else(|| panic!("{k} is not a string"));
                if k.ends_with(".arguments") || k.ends_with(".parameters") {
                    let got: Value = serde_json::from_str(got).unwrap();
                    let want: Value = serde_json::from_str(v).unwrap();
                    assert_eq!(got, want, "{}: {k}", e.cassette);
                } else {
                    assert_eq!(got, *v, "{}: {k}", e.cassette);
                }
            }
        } else {
            assert!(indexed.is_empty(), "{}: {indexed:?}", e.cassette);
            assert_no_content_exported(&run);
        }
        assert!(run.capture.logs().is_empty());
        check_metrics(&run, e, e.provider);
    }
}

/// Removes content (`content`, `arguments`) from an events-flavour body, recursively.
fn strip_content(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| *k != "content" && *k != "arguments")
                .map(|(k, v)| (k.clone(), strip_content(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_content).collect()),
        other => other.clone(),
    }
}

/// Events flavour: content as log records (name and body), carrying the LLM span's trace and
/// span ids; no content attributes on the span. With content off the records keep their
/// structure and lose every content field.
async fn check_events(e: &Exp, events: &[(&str, Value)]) {
    for on in [true, false] {
        let opts = Opts {
            flavour: Flavour::Events,
            content: on,
            ..Opts::default()
        };
        let run = run_with(e.cassette, Replay::opts(opts)).await;
        run.assert_pass_through();
        let span = run.span(e.span);
        check_common(&run, e, &span, e.provider, "127.0.0.1");
        check_usage(&span, e);
        assert_eq!(attr_bool(&span, "gen_ai.request.stream"), Some(e.stream));
        for key in CONTENT_KEYS {
            assert!(!has(&span, key), "{key} in the events flavour");
        }
        let logs = run.capture.logs();
        let got: Vec<(String, Value)> = logs
            .iter()
            .map(|l| {
                (
                    l.event_name.clone().unwrap_or_default(),
                    l.body.clone().unwrap_or(Value::Null),
                )
            })
            .collect();
        let want: Vec<(String, Value)> = events
            .iter()
            .map(|(n, b)| (n.to_string(), if on { b.clone() } else { strip_content(b) }))
            .collect();
        assert_eq!(got, want, "{}: log events (content {on})", e.cassette);
        let trace_id = span.span_context.trace_id().to_string();
        let span_id = span.span_context.span_id().to_string();
        for l in &logs {
            assert_eq!(l.trace_id.as_deref(), Some(trace_id.as_str()));
            assert_eq!(l.span_id.as_deref(), Some(span_id.as_str()));
            assert_eq!(l.attr_str("gen_ai.provider.name"), Some(e.provider));
        }
        if !on {
            assert_no_content_exported(&run);
        }
        check_stream(&run, e);
        check_metrics(&run, e, e.provider);
    }
}

// ---------------------------------------------------------------------------------------
// test_chat
// ---------------------------------------------------------------------------------------

const TEST_CHAT_ANSWER: &str =
    "Why did Opentelemetry break up with Tracing? Because it couldn't handle the baggage!";

fn exp_test_chat() -> Exp {
    Exp {
        response_id: Some("chatcmpl-908MD9ivBBLb6EaIjlqwFokntayQK"),
        response_model: Some("gpt-3.5-turbo-0125"),
        fingerprint: Some("fp_2b778c6b35"),
        finish_reasons: vec!["stop"],
        input_tokens: Some(15),
        output_tokens: Some(19),
        total_tokens: Some(34),
        input_messages: user_text(JOKE_PROMPT),
        output_messages: Some(assistant_text(TEST_CHAT_ANSWER, "stop")),
        ..Exp::chat("openai/test_chat/test_chat.yaml", "gpt-3.5-turbo")
    }
}

#[tokio::test]
async fn test_chat() {
    let e = exp_test_chat();
    conform(&e).await;
    check_legacy(
        &e,
        &[
            ("gen_ai.prompt.0.role", "user"),
            ("gen_ai.prompt.0.content", JOKE_PROMPT),
            ("gen_ai.completion.0.role", "assistant"),
            ("gen_ai.completion.0.content", TEST_CHAT_ANSWER),
            ("gen_ai.completion.0.finish_reason", "stop"),
        ],
    )
    .await;
    check_events(
        &e,
        &[
            ("gen_ai.user.message", json!({"content": JOKE_PROMPT})),
            (
                "gen_ai.choice",
                json!({"index": 0, "message": {"content": TEST_CHAT_ANSWER}, "finish_reason": "stop"}),
            ),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// Streaming
// ---------------------------------------------------------------------------------------

const ASYNC_STREAMING_TEXT: &str = "Why did the developer break up with Opentelemetry? Because it couldn't handle the baggage of all their tracing requests!";

#[tokio::test]
async fn test_chat_async_streaming() {
    let e = Exp {
        stream: true,
        chunks: Some(26),
        response_id: Some("chatcmpl-9AGW3t9akkLW9f5f93B7mOhiqhNMC"),
        response_model: Some("gpt-3.5-turbo-0125"),
        fingerprint: Some("fp_b28b39ffa8"),
        finish_reasons: vec!["stop"],
        input_messages: user_text(JOKE_PROMPT),
        output_messages: Some(assistant_text(ASYNC_STREAMING_TEXT, "stop")),
        ..Exp::chat(
            "openai/test_chat/test_chat_async_streaming.yaml",
            "gpt-3.5-turbo",
        )
    };
    conform(&e).await;
    let recorded = sse_json_chunks(&recorded_response(&e).decoded_body());
    assert_eq!(joined_deltas(&recorded), ASYNC_STREAMING_TEXT);
}

/// The first recorded response of an expectation's cassette.
fn recorded_response(e: &Exp) -> openllmetry_testkit::cassette::RecordedResponse {
    openllmetry_testkit::cassette::Cassette::load_named(e.cassette)
        .unwrap()
        .interactions[0]
        .response
        .clone()
}

const STREAMING_TEXT: &str = "In the observability department, Prometheus, Grafana, Jaeger, and Loki were stressed. Prometheus groaned, \"12-hour backfills\u{2014}8 a.m., 8 p.m.\u{2014}just to keep up.\" Grafana flipped her hair, \"47 dashboards, all screaming 'CRITICAL'\u{2014}users want real-time, not 'click here for yesterday's query.'\" Jaeger crossed arms, \"Agents breaking daily. A dev traced a Python function, sent telemetry to my email. Spent hours deleting 200 emails!\" Loki smirked, \"And logs? A mountain. We argue Jaeger vs. Zipkin vs. Tempo\u{2014}we forgot the goal: understanding what\u{2019}s really happening*.\"\n\n";

fn exp_test_chat_streaming() -> Exp {
    Exp {
        // Recorded against a mock server at http://localhost:5002/v1/.
        host: "localhost",
        stream: true,
        chunks: Some(195),
        response_id: Some("chatcmpl-7UR4UcvmeD79Xva3UxkKkL2es6b5W"),
        response_model: Some("gpt-3.5-turbo"),
        finish_reasons: vec!["stop"],
        // From the last chunk's `usage` (prompt_tokens_details.cached_tokens = 0,
        // completion_tokens_details = null).
        input_tokens: Some(10),
        output_tokens: Some(50),
        total_tokens: Some(60),
        cache_read: Some(0),
        input_messages: user_text(JOKE_PROMPT),
        output_messages: Some(assistant_text(STREAMING_TEXT, "stop")),
        ..Exp::chat("openai/test_chat/test_chat_streaming.yaml", "gpt-3.5-turbo")
    }
}

#[tokio::test]
async fn test_chat_streaming() {
    let e = exp_test_chat_streaming();
    conform(&e).await;
    let recorded = sse_json_chunks(&recorded_response(&e).decoded_body());
    assert_eq!(joined_deltas(&recorded), STREAMING_TEXT);
    check_legacy(
        &e,
        &[
            ("gen_ai.prompt.0.role", "user"),
            ("gen_ai.prompt.0.content", JOKE_PROMPT),
            ("gen_ai.completion.0.role", "assistant"),
            ("gen_ai.completion.0.content", STREAMING_TEXT),
            ("gen_ai.completion.0.finish_reason", "stop"),
        ],
    )
    .await;
    check_events(
        &e,
        &[
            ("gen_ai.user.message", json!({"content": JOKE_PROMPT})),
            (
                "gen_ai.choice",
                json!({"index": 0, "message": {"content": STREAMING_TEXT}, "finish_reason": "stop"}),
            ),
        ],
    )
    .await;
}

const API_USAGE_TEXT: &str = "Sure! Here's a techy joke for you:  \n\n**Why did the OpenTelemetry span break up with the logs?**  \nBecause it wanted *tracing* independence!  \n\n*(For context: OpenTelemetry handles traces, logs, and metrics\u{2014}this joke plays on the idea of \"tracing\" as both a feature and a pun on \"chasing\" independence.)*  \n\nHope that gives you a chuckle! \u{1f604}";

#[tokio::test]
async fn test_streaming_with_api_usage_capture() {
    let e = Exp {
        host: "api.deepseek.com",
        // Upstream names the provider from the OpenAI client's base URL: `openai` for
        // api.deepseek.com (0.62.1 `openai/shared/__init__.py::_get_vendor_from_url`).
        host_provider: "openai",
        base_path: "/beta/",
        stream: true,
        chunks: Some(90),
        response_id: Some("ae36ce18-5dd0-4b09-9f33-09d49ad58b00"),
        response_model: Some("deepseek-chat"),
        fingerprint: Some("fp_8802369eaa_prod0623_fp8_kvcache"),
        finish_reasons: vec!["stop"],
        // The usage chunk (the last one, with `finish_reason: stop`).
        input_tokens: Some(12),
        output_tokens: Some(89),
        total_tokens: Some(101),
        cache_read: Some(0),
        input_messages: user_text(JOKE_PROMPT),
        output_messages: Some(assistant_text(API_USAGE_TEXT, "stop")),
        ..Exp::chat(
            "openai/test_streaming_with_api_usage/test_streaming_with_api_usage_capture.yaml",
            "deepseek-chat",
        )
    };
    conform(&e).await;
    let recorded = sse_json_chunks(&recorded_response(&e).decoded_body());
    assert_eq!(joined_deltas(&recorded), API_USAGE_TEXT);
}

const PARTIAL_TEXT: &str = "Why did the opentelemetry developer go broke? \nBecause they kept trying to trace their steps back too far!";
const PARTIAL_ID: &str = "chatcmpl-908MECg5dMyTTbJEltubwQXeeWlBA";

fn exp_partial(cassette: &'static str) -> Exp {
    Exp {
        stream: true,
        chunks: Some(25),
        response_id: Some(PARTIAL_ID),
        response_model: Some("gpt-3.5-turbo-0125"),
        fingerprint: Some("fp_2b778c6b35"),
        finish_reasons: vec!["stop"],
        input_messages: user_text(JOKE_PROMPT),
        output_messages: Some(assistant_text(PARTIAL_TEXT, "stop")),
        ..Exp::chat(cassette, "gpt-3.5-turbo")
    }
}

/// Exactly one span, ended once, marked incomplete, with the request attributes.
fn check_incomplete_span(run: &Run, e: &Exp) -> SpanData {
    let spans = run.capture.spans();
    assert_eq!(spans.len(), 1, "exactly one span: {spans:?}");
    let span = run.span(e.span);
    assert_eq!(span.span_kind, SpanKind::Client);
    assert_eq!(
        attr_bool(&span, "openllmetry.response.incomplete"),
        Some(true)
    );
    assert_eq!(
        attr_str(&span, "gen_ai.request.model"),
        Some(e.request_model)
    );
    assert_eq!(attr_bool(&span, "gen_ai.request.stream"), Some(true));
    assert_eq!(attr_str(&span, "gen_ai.provider.name"), Some(e.provider));
    assert!(!matches!(span.status, Status::Error { .. }));
    // No finish chunk was read.
    assert!(!has(&span, "gen_ai.response.finish_reasons"));
    assert!(!has(&span, "gen_ai.usage.input_tokens"));
    let duration = points(run, "gen_ai.client.operation.duration");
    assert_eq!(duration.len(), 1);
    assert_eq!(duration[0].count, Some(1));
    assert!(points(run, "gen_ai.client.token.usage").is_empty());
    span
}

#[tokio::test]
async fn test_chat_streaming_partial_consumption() {
    let e = exp_partial("openai/test_chat/test_chat_streaming_partial_consumption.yaml");
    // The whole stream still conforms when read to the end.
    conform(&e).await;
    let recorded = sse_json_chunks(&recorded_response(&e).decoded_body());
    assert_eq!(joined_deltas(&recorded), PARTIAL_TEXT);

    for content in [true, false] {
        let run = run_with(
            e.cassette,
            Replay {
                opts: Opts {
                    content,
                    read_chunks: Some(3),
                    ..Opts::default()
                },
                event_delay: Some(Duration::from_millis(5)),
                ..Replay::default()
            },
        )
        .await;
        assert_eq!(run.status, 200);
        assert_eq!(run.chunks, 3);
        let recorded_body = &run.interaction.response.body;
        assert!(
            run.body.len() < recorded_body.len() && recorded_body.starts_with(&run.body),
            "the caller got a strict prefix of the recorded bytes"
        );
        let received = sse_json_chunks(&run.body);
        assert!(!received.is_empty() && received.len() < 25);
        let span = check_incomplete_span(&run, &e);
        assert_eq!(attr_str(&span, "gen_ai.response.id"), Some(PARTIAL_ID));
        assert_eq!(
            attr_str(&span, "gen_ai.response.model"),
            Some("gpt-3.5-turbo-0125")
        );
        assert_eq!(
            attr_str(&span, "gen_ai.openai.response.system_fingerprint"),
            Some("fp_2b778c6b35")
        );
        assert_eq!(
            span.events.len(),
            received.len(),
            "one chunk event per chunk received"
        );
        assert!(has(&span, "gen_ai.response.time_to_first_chunk"));
        let partial = joined_deltas(&received);
        assert!(PARTIAL_TEXT.starts_with(&partial) && partial.len() < PARTIAL_TEXT.len());
        if content {
            let out = json_attr(&span, "gen_ai.output.messages");
            let want = if partial.is_empty() {
                json!([{"role": "assistant", "parts": [], "finish_reason": ""}])
            } else {
                json!([{"role": "assistant", "parts": [{"type": "text", "content": partial}], "finish_reason": ""}])
            };
            assert_eq!(out, want);
            assert_eq!(
                json_attr(&span, "gen_ai.input.messages"),
                user_text(JOKE_PROMPT)
            );
        } else {
            check_content_off(
                &run,
                &Exp {
                    finish_reasons: vec![],
                    ..e.clone()
                },
            );
        }
        // The choice was counted once, without a finish reason.
        let choices = points(&run, "gen_ai.client.generation.choices");
        assert_eq!(choices.iter().filter_map(|p| p.value).sum::<f64>(), 1.0);
        assert!(
            choices
                .iter()
                .all(|p| p.attr("gen_ai.response.finish_reason").is_none())
        );
        let ttfc = points(&run, "gen_ai.client.operation.time_to_first_chunk");
        assert_eq!(ttfc.len(), 1);
        assert_eq!(ttfc[0].count, Some(1));
    }
}

#[tokio::test]
async fn test_chat_streaming_not_consumed() {
    let e = exp_partial("openai/test_chat/test_chat_streaming_not_consumed.yaml");
    conform(&e).await;

    for content in [true, false] {
        let run = run_with(
            e.cassette,
            Replay {
                opts: Opts {
                    content,
                    ..Opts::default()
                },
                read_none: true,
                ..Replay::default()
            },
        )
        .await;
        assert_eq!(run.status, 200);
        assert_eq!(run.chunks, 0);
        let span = check_incomplete_span(&run, &e);
        // Nothing of the body was seen.
        assert!(span.events.is_empty());
        assert!(!has(&span, "gen_ai.response.id"));
        assert!(!has(&span, "gen_ai.output.messages"));
        assert!(!has(&span, "gen_ai.response.time_to_first_chunk"));
        assert!(points(&run, "gen_ai.client.operation.time_to_first_chunk").is_empty());
        if content {
            assert_eq!(
                json_attr(&span, "gen_ai.input.messages"),
                user_text(JOKE_PROMPT)
            );
        } else {
            assert!(!has(&span, "gen_ai.input.messages"));
            assert_no_content_exported(&run);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Plain chat cassettes
// ---------------------------------------------------------------------------------------

const PROPAGATION_ANSWER: &str = "Why did the OpenTelemetry metric go to therapy?\n\nBecause it was feeling a little \"trapped\" in its logging function, and wanted to \"release\" its stress.";

/// The outgoing request carried a `traceparent` naming the LLM span.
fn check_traceparent(run: &Run, span_name: &str) {
    let span = run.span(span_name);
    let requests = run.server.requests();
    assert_eq!(requests.len(), 1);
    let sc = &span.span_context;
    assert_eq!(
        requests[0].header("traceparent"),
        Some(format!("00-{}-{}-01", sc.trace_id(), sc.span_id()).as_str()),
        "the request's traceparent is the LLM span's"
    );
}

#[tokio::test]
async fn test_chat_context_propagation() {
    let e = Exp {
        // A vLLM server at http://localhost:8000/v1/.
        host: "localhost",
        response_id: Some("chat-43f4347c3299481e9704ab77439fbdb8"),
        response_model: Some("meta-llama/Llama-3.2-1B-Instruct"),
        finish_reasons: vec!["stop"],
        input_tokens: Some(43),
        output_tokens: Some(36),
        total_tokens: Some(79),
        input_messages: user_text(JOKE_PROMPT),
        // `tool_calls: []` adds no part.
        output_messages: Some(assistant_text(PROPAGATION_ANSWER, "stop")),
        ..Exp::chat(
            "openai/test_chat/test_chat_context_propagation.yaml",
            "meta-llama/Llama-3.2-1B-Instruct",
        )
    };
    conform(&e).await;
    for flavour in [Flavour::Current, Flavour::Legacy, Flavour::Events] {
        for content in [true, false] {
            let opts = Opts {
                flavour,
                content,
                ..Opts::default()
            };
            let run = run_with(e.cassette, Replay::opts(opts)).await;
            check_traceparent(&run, e.span);
            if flavour != Flavour::Events {
                // Upstream's legacy-mode test: no log events.
                assert!(run.capture.logs().is_empty());
            }
        }
    }
}

#[tokio::test]
async fn test_chat_context_propagation_disabled() {
    let run = run_with(
        "openai/test_chat/test_chat_context_propagation.yaml",
        Replay {
            propagate: false,
            ..Replay::default()
        },
    )
    .await;
    run.assert_pass_through();
    let requests = run.server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("traceparent"), None);
    assert_eq!(requests[0].header("tracestate"), None);
    // Still recorded.
    let span = run.span("openai.chat");
    assert_eq!(
        attr_str(&span, "gen_ai.response.id"),
        Some("chat-43f4347c3299481e9704ab77439fbdb8")
    );
}

#[tokio::test]
async fn test_chat_history_message_dict() {
    conform(&Exp {
        response_id: Some("chatcmpl-Bf7TrRvxt3O6teTe3G5AT1bLbMpYX"),
        response_model: Some("gpt-4.1-nano-2025-04-14"),
        fingerprint: Some("fp_38343a2f8f"),
        service_tier: Some("default"),
        finish_reasons: vec!["stop"],
        input_tokens: Some(20),
        output_tokens: Some(2),
        total_tokens: Some(22),
        cache_read: Some(0),
        reasoning: Some(0),
        input_messages: user_text("Generate a random noun in Korean. Respond with just that word."),
        // "바다"; `refusal: null` and `annotations: []` add no part.
        output_messages: Some(assistant_text("\u{bc14}\u{b2e4}", "stop")),
        ..Exp::chat(
            "openai/test_chat/test_chat_history_message_dict.yaml",
            "gpt-4.1-nano",
        )
    })
    .await;
}

const WEATHER_SF: &str = "The weather in San Francisco is 70 degrees and sunny.";

/// The recorded request of the two tool-call-history cassettes: an assistant tool call and
/// the tool's answer.
fn tool_history_input() -> Value {
    json!([
        {"role": "assistant", "parts": [
            {"type": "tool_call", "id": "1", "name": "get_current_weather",
             "arguments": {"location": "San Francisco"}}
        ]},
        {"role": "tool", "parts": [
            {"type": "tool_call_response", "id": "1", "response": WEATHER_SF}
        ]}
    ])
}

#[tokio::test]
async fn test_chat_pydantic_based_tool_calls() {
    conform(&Exp {
        response_id: Some("chatcmpl-9lvGJKrBUPeJjHi3KKSEbGfcfomOP"),
        response_model: Some("gpt-3.5-turbo-0125"),
        finish_reasons: vec!["stop"],
        input_tokens: Some(40),
        output_tokens: Some(13),
        total_tokens: Some(53),
        input_messages: tool_history_input(),
        output_messages: Some(assistant_text(
            "The current weather in San Francisco is 70 degrees and sunny.",
            "stop",
        )),
        ..Exp::chat(
            "openai/test_chat/test_chat_pydantic_based_tool_calls.yaml",
            "gpt-3.5-turbo",
        )
    })
    .await;
}

#[tokio::test]
async fn test_chat_tool_calls() {
    let e = Exp {
        response_id: Some("chatcmpl-9gKNZbUWSC4s2Uh2QfVV7PYiqWIuH"),
        response_model: Some("gpt-3.5-turbo-0125"),
        finish_reasons: vec!["stop"],
        input_tokens: Some(40),
        output_tokens: Some(12),
        total_tokens: Some(52),
        input_messages: tool_history_input(),
        output_messages: Some(assistant_text(WEATHER_SF, "stop")),
        ..Exp::chat(
            "openai/test_chat/test_chat_tool_calls.yaml",
            "gpt-3.5-turbo",
        )
    };
    conform(&e).await;
    check_legacy(
        &e,
        &[
            ("gen_ai.prompt.0.role", "assistant"),
            ("gen_ai.prompt.0.tool_calls.0.id", "1"),
            ("gen_ai.prompt.0.tool_calls.0.name", "get_current_weather"),
            (
                "gen_ai.prompt.0.tool_calls.0.arguments",
                r#"{"location": "San Francisco"}"#,
            ),
            ("gen_ai.prompt.1.role", "tool"),
            ("gen_ai.prompt.1.content", WEATHER_SF),
            ("gen_ai.prompt.1.tool_call_id", "1"),
            ("gen_ai.completion.0.role", "assistant"),
            ("gen_ai.completion.0.content", WEATHER_SF),
            ("gen_ai.completion.0.finish_reason", "stop"),
        ],
    )
    .await;
    check_events(
        &e,
        &[
            (
                "gen_ai.assistant.message",
                json!({"content": "", "tool_calls": [
                    {"id": "1", "type": "function",
                     "function": {"name": "get_current_weather", "arguments": {"location": "San Francisco"}}}
                ]}),
            ),
            ("gen_ai.tool.message", json!({"content": WEATHER_SF, "id": "1"})),
            (
                "gen_ai.choice",
                json!({"index": 0, "message": {"content": WEATHER_SF}, "finish_reason": "stop"}),
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn test_chat_reasoning() {
    conform(&Exp {
        params: vec![("gen_ai.request.reasoning_effort", "low")],
        response_id: Some("chatcmpl-C6DUm0Lah8z5kRsRhhtk97oh5ey0B"),
        response_model: Some("gpt-5-nano-2025-08-07"),
        service_tier: Some("default"),
        finish_reasons: vec!["stop"],
        input_tokens: Some(11),
        output_tokens: Some(228),
        total_tokens: Some(239),
        cache_read: Some(0),
        reasoning: Some(192),
        input_messages: user_text("Count r's in strawberry"),
        output_messages: Some(assistant_text(
            "3\n\nThere are three 'r' letters in \"strawberry\" (positions 3, 8, and 9).",
            "stop",
        )),
        ..Exp::chat("openai/test_chat/test_chat_reasoning.yaml", "gpt-5-nano")
    })
    .await;
}

#[tokio::test]
async fn test_chat_with_service_tier() {
    conform(&Exp {
        params: vec![("openai.request.service_tier", "priority")],
        response_id: Some("chatcmpl-Cf5wGPHPBqszCcDHyQPt9SNASzZKN"),
        response_model: Some("gpt-5-2025-08-07"),
        service_tier: Some("priority"),
        finish_reasons: vec!["stop"],
        input_tokens: Some(8),
        output_tokens: Some(82),
        total_tokens: Some(90),
        cache_read: Some(0),
        reasoning: Some(64),
        input_messages: user_text("Say hello"),
        output_messages: Some(assistant_text("Hello! How can I help you today?", "stop")),
        ..Exp::chat("openai/test_chat/test_chat_with_service_tier.yaml", "gpt-5")
    })
    .await;
}

#[tokio::test]
async fn test_with_asyncio_run() {
    conform(&Exp {
        response_id: Some("chatcmpl-ANnyEsyt6uxfIIA7lcPLH95lKcEeK"),
        response_model: Some("gpt-3.5-turbo-0125"),
        finish_reasons: vec!["stop"],
        input_tokens: Some(15),
        output_tokens: Some(27),
        total_tokens: Some(42),
        cache_read: Some(0),
        reasoning: Some(0),
        input_messages: user_text(JOKE_PROMPT),
        output_messages: Some(assistant_text(
            "Why did the developer bring a compass to the Opentelemetry party? \nTo ensure they didn't lose track of all their traces!",
            "stop",
        )),
        ..Exp::chat("openai/test_chat/test_with_asyncio_run.yaml", "gpt-3.5-turbo")
    })
    .await;
}

#[tokio::test]
async fn test_exception_in_instrumentation_suppressed() {
    let e = Exp {
        response_id: Some("chatcmpl-9FbhkiA8ltCYhz27nvCySFBYx6Q9r"),
        response_model: Some("gpt-3.5-turbo-0125"),
        fingerprint: Some("fp_d9767fc5b9"),
        finish_reasons: vec!["stop"],
        input_tokens: Some(15),
        output_tokens: Some(27),
        total_tokens: Some(42),
        input_messages: user_text(JOKE_PROMPT),
        output_messages: Some(assistant_text(
            "Why did the developer bring a compass to the opentelemetry conference? To ensure they didn't get lost in the endless data trails!",
            "stop",
        )),
        ..Exp::chat(
            "openai/test_exceptions/test_exception_in_instrumentation_suppressed.yaml",
            "gpt-3.5-turbo",
        )
    };
    conform(&e).await;
    // A bug inside the recorder (here: a panicking redaction hook while the response is
    // recorded; its panic message is expected in the test output) never reaches the caller:
    // the call succeeds with the recorded bytes.
    for stream_of in [
        e.cassette,
        "openai/test_chat/test_chat_async_streaming.yaml",
    ] {
        let run = run_with(
            stream_of,
            Replay {
                panicking_hook: true,
                ..Replay::default()
            },
        )
        .await;
        run.assert_pass_through();
        // Whatever it recorded: at most the one span, with the request's attributes.
        let spans = run.capture.spans_named("openai.chat");
        assert!(spans.len() <= 1, "{spans:?}");
        for span in &spans {
            assert_eq!(
                attr_str(span, "gen_ai.request.model"),
                Some("gpt-3.5-turbo")
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Functions and tools
// ---------------------------------------------------------------------------------------

const WEATHER_BOSTON_PROMPT: &str = "What's the weather like in Boston?";

#[tokio::test]
async fn test_open_ai_function_calls() {
    let e = Exp {
        response_id: Some("chatcmpl-8wq4AUDD36geK9Za8cccowhObkV9H"),
        response_model: Some("gpt-4-0613"),
        // `function_call` → `tool_call`.
        finish_reasons: vec!["tool_call"],
        input_tokens: Some(82),
        output_tokens: Some(16),
        total_tokens: Some(98),
        input_messages: user_text(WEATHER_BOSTON_PROMPT),
        // The legacy `function_call` is a tool call without an id; arguments parsed from
        // "{\n  \"location\": \"Boston\"\n}".
        output_messages: Some(json!([{"role": "assistant", "parts": [
            {"type": "tool_call", "name": "get_current_weather", "arguments": {"location": "Boston"}}
        ], "finish_reason": "tool_call"}])),
        tool_definitions: Some(json!([weather_tool_full()])),
        ..Exp::chat(
            "openai/test_functions/test_open_ai_function_calls.yaml",
            "gpt-4",
        )
    };
    conform(&e).await;
    check_legacy(
        &e,
        &[
            ("gen_ai.prompt.0.role", "user"),
            ("gen_ai.prompt.0.content", WEATHER_BOSTON_PROMPT),
            ("gen_ai.completion.0.role", "assistant"),
            ("gen_ai.completion.0.finish_reason", "tool_call"),
            ("gen_ai.completion.0.tool_calls.0.name", "get_current_weather"),
            (
                "gen_ai.completion.0.tool_calls.0.arguments",
                "{\n  \"location\": \"Boston\"\n}",
            ),
            ("llm.request.functions.0.name", "get_current_weather"),
            (
                "llm.request.functions.0.description",
                "Get the current weather in a given location",
            ),
            (
                "llm.request.functions.0.parameters",
                r#"{"type": "object", "properties": {"location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["location"]}"#,
            ),
        ],
    )
    .await;
}

fn exp_function_calls_tools() -> Exp {
    Exp {
        response_id: Some("chatcmpl-934OqhoorTmk1VnovIRXQCPk8PUTd"),
        response_model: Some("gpt-4-0613"),
        finish_reasons: vec!["tool_call"],
        input_tokens: Some(82),
        output_tokens: Some(16),
        total_tokens: Some(98),
        input_messages: user_text(WEATHER_BOSTON_PROMPT),
        output_messages: Some(json!([{"role": "assistant", "parts": [
            {"type": "tool_call", "id": "call_b4lU3wKOqwO7Xb2Ksok2XWyB",
             "name": "get_current_weather", "arguments": {"location": "Boston"}}
        ], "finish_reason": "tool_call"}])),
        tool_definitions: Some(json!([weather_tool_full()])),
        ..Exp::chat(
            "openai/test_functions/test_open_ai_function_calls_tools.yaml",
            "gpt-4",
        )
    }
}

#[tokio::test]
async fn test_open_ai_function_calls_tools() {
    let e = exp_function_calls_tools();
    conform(&e).await;
    check_legacy(
        &e,
        &[
            ("gen_ai.prompt.0.role", "user"),
            ("gen_ai.prompt.0.content", WEATHER_BOSTON_PROMPT),
            ("gen_ai.completion.0.role", "assistant"),
            ("gen_ai.completion.0.finish_reason", "tool_call"),
            (
                "gen_ai.completion.0.tool_calls.0.id",
                "call_b4lU3wKOqwO7Xb2Ksok2XWyB",
            ),
            ("gen_ai.completion.0.tool_calls.0.name", "get_current_weather"),
            (
                "gen_ai.completion.0.tool_calls.0.arguments",
                "{\n  \"location\": \"Boston\"\n}",
            ),
            ("llm.request.functions.0.name", "get_current_weather"),
            (
                "llm.request.functions.0.description",
                "Get the current weather in a given location",
            ),
            (
                "llm.request.functions.0.parameters",
                r#"{"type": "object", "properties": {"location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["location"]}"#,
            ),
        ],
    )
    .await;
    check_events(
        &e,
        &[
            (
                "gen_ai.user.message",
                json!({"content": WEATHER_BOSTON_PROMPT}),
            ),
            (
                "gen_ai.choice",
                // `content: null` renders as an empty string; the finish reason is the mapped
                // one (upstream's OpenAI events keep the raw `tool_calls`).
                json!({"index": 0, "message": {"content": ""}, "finish_reason": "tool_call",
                       "tool_calls": [{"id": "call_b4lU3wKOqwO7Xb2Ksok2XWyB", "type": "function",
                                       "function": {"name": "get_current_weather",
                                                    "arguments": {"location": "Boston"}}}]}),
            ),
        ],
    )
    .await;
}

const WEATHER_SF_BOSTON_PROMPT: &str = "What's the weather like in San Francisco and Boston?";

#[tokio::test]
async fn test_open_ai_function_calls_tools_parallel() {
    conform(&Exp {
        response_id: Some("chatcmpl-9g4cZhrW9CsqihSvXslk0EUtjASsO"),
        response_model: Some("gpt-3.5-turbo-0125"),
        finish_reasons: vec!["tool_call"],
        input_tokens: Some(70),
        output_tokens: Some(46),
        total_tokens: Some(116),
        input_messages: user_text(WEATHER_SF_BOSTON_PROMPT),
        output_messages: Some(json!([{"role": "assistant", "parts": [
            {"type": "tool_call", "id": "call_3JNWJ9wdfRsmkhKWql4HqJhR",
             "name": "get_current_weather", "arguments": {"location": "San Francisco"}},
            {"type": "tool_call", "id": "call_8jQ7TzSBlLV4tzrMRpq5Tg98",
             "name": "get_current_weather", "arguments": {"location": "Boston"}}
        ], "finish_reason": "tool_call"}])),
        tool_definitions: Some(json!([weather_tool_short()])),
        ..Exp::chat(
            "openai/test_functions/test_open_ai_function_calls_tools_parallel.yaml",
            "gpt-3.5-turbo",
        )
    })
    .await;
}

fn exp_tools_streaming() -> Exp {
    Exp {
        stream: true,
        chunks: Some(10),
        response_id: Some("chatcmpl-9g4TmLd49mPoD6c0EnGlhNAp8b0on"),
        response_model: Some("gpt-3.5-turbo-0125"),
        finish_reasons: vec!["tool_call"],
        input_messages: user_text("What's the weather like in San Francisco?"),
        // Arguments streamed in 8 pieces: {"location":"San Francisco, CA"}.
        output_messages: Some(json!([{"role": "assistant", "parts": [
            {"type": "tool_call", "id": "call_90R0NgAY0rQUYihSqVx7OuIs",
             "name": "get_current_weather", "arguments": {"location": "San Francisco, CA"}}
        ], "finish_reason": "tool_call"}])),
        tool_definitions: Some(json!([weather_tool_short()])),
        ..Exp::chat(
            "openai/test_functions/test_open_ai_function_calls_tools_streaming.yaml",
            "gpt-3.5-turbo",
        )
    }
}

#[tokio::test]
async fn test_open_ai_function_calls_tools_streaming() {
    let e = exp_tools_streaming();
    conform(&e).await;
    check_legacy(
        &e,
        &[
            ("gen_ai.prompt.0.role", "user"),
            (
                "gen_ai.prompt.0.content",
                "What's the weather like in San Francisco?",
            ),
            ("gen_ai.completion.0.role", "assistant"),
            ("gen_ai.completion.0.finish_reason", "tool_call"),
            (
                "gen_ai.completion.0.tool_calls.0.id",
                "call_90R0NgAY0rQUYihSqVx7OuIs",
            ),
            ("gen_ai.completion.0.tool_calls.0.name", "get_current_weather"),
            (
                "gen_ai.completion.0.tool_calls.0.arguments",
                r#"{"location":"San Francisco, CA"}"#,
            ),
            ("llm.request.functions.0.name", "get_current_weather"),
            (
                "llm.request.functions.0.description",
                "Get the current weather",
            ),
            (
                "llm.request.functions.0.parameters",
                r#"{"type": "object", "properties": {"location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"}}, "required": ["location"]}"#,
            ),
        ],
    )
    .await;
    check_events(
        &e,
        &[
            (
                "gen_ai.user.message",
                json!({"content": "What's the weather like in San Francisco?"}),
            ),
            (
                "gen_ai.choice",
                json!({"index": 0, "message": {"content": ""}, "finish_reason": "tool_call",
                       "tool_calls": [{"id": "call_90R0NgAY0rQUYihSqVx7OuIs", "type": "function",
                                       "function": {"name": "get_current_weather",
                                                    "arguments": {"location": "San Francisco, CA"}}}]}),
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn test_open_ai_function_calls_tools_streaming_parallel() {
    let e = Exp {
        stream: true,
        chunks: Some(15),
        response_id: Some("chatcmpl-9g58noIjRkOeNNxfFsFfcNjhXlul7"),
        response_model: Some("gpt-3.5-turbo-0125"),
        finish_reasons: vec!["tool_call"],
        input_messages: user_text(WEATHER_SF_BOSTON_PROMPT),
        // Two tool calls (index 0 and 1), their argument pieces merged by index.
        output_messages: Some(json!([{"role": "assistant", "parts": [
            {"type": "tool_call", "id": "call_cCPjAyfwTzboEKjVlqFrArNF",
             "name": "get_current_weather", "arguments": {"location": "San Francisco"}},
            {"type": "tool_call", "id": "call_Zi4He1Ns0mozwT6f85nW1BOW",
             "name": "get_current_weather", "arguments": {"location": "Boston"}}
        ], "finish_reason": "tool_call"}])),
        tool_definitions: Some(json!([weather_tool_short()])),
        ..Exp::chat(
            "openai/test_functions/test_open_ai_function_calls_tools_streaming_parallel.yaml",
            "gpt-3.5-turbo",
        )
    };
    conform(&e).await;
    check_legacy(
        &e,
        &[
            ("gen_ai.prompt.0.role", "user"),
            ("gen_ai.prompt.0.content", WEATHER_SF_BOSTON_PROMPT),
            ("gen_ai.completion.0.role", "assistant"),
            ("gen_ai.completion.0.finish_reason", "tool_call"),
            (
                "gen_ai.completion.0.tool_calls.0.id",
                "call_cCPjAyfwTzboEKjVlqFrArNF",
            ),
            ("gen_ai.completion.0.tool_calls.0.name", "get_current_weather"),
            (
                "gen_ai.completion.0.tool_calls.0.arguments",
                r#"{"location": "San Francisco"}"#,
            ),
            (
                "gen_ai.completion.0.tool_calls.1.id",
                "call_Zi4He1Ns0mozwT6f85nW1BOW",
            ),
            ("gen_ai.completion.0.tool_calls.1.name", "get_current_weather"),
            (
                "gen_ai.completion.0.tool_calls.1.arguments",
                r#"{"location": "Boston"}"#,
            ),
            ("llm.request.functions.0.name", "get_current_weather"),
            (
                "llm.request.functions.0.description",
                "Get the current weather",
            ),
            (
                "llm.request.functions.0.parameters",
                r#"{"type": "object", "properties": {"location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"}}, "required": ["location"]}"#,
            ),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// Embeddings
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn test_embeddings() {
    conform(&Exp {
        response_model: Some("text-embedding-ada-002"),
        input_tokens: Some(8),
        total_tokens: Some(8),
        // base64: 6144 bytes = 1536 float32s.
        dimensions: Some(1536),
        ..Exp::embeddings(
            "openai/test_embeddings/test_embeddings.yaml",
            "text-embedding-ada-002",
        )
    })
    .await;
}

#[tokio::test]
async fn test_embeddings_with_raw_response() {
    conform(&Exp {
        response_model: Some("text-embedding-ada-002"),
        input_tokens: Some(8),
        total_tokens: Some(8),
        dimensions: Some(1536),
        ..Exp::embeddings(
            "openai/test_embeddings/test_embeddings_with_raw_response.yaml",
            "text-embedding-ada-002",
        )
    })
    .await;
}

#[tokio::test]
async fn test_azure_openai_embeddings() {
    conform(&Exp {
        // On 127.0.0.1: detected from the deployment path and `api-version`.
        provider: "azure.ai.openai",
        host: "test-resource.openai.azure.com",
        host_provider: "azure.ai.openai",
        base_path: "/openai/deployments/test-deployment/",
        api_version: Some("2023-07-01-preview"),
        response_model: Some("text-embedding-3-large"),
        input_tokens: Some(8),
        total_tokens: Some(8),
        // base64: 12288 bytes = 3072 float32s.
        dimensions: Some(3072),
        ..Exp::embeddings(
            "openai/test_embeddings/test_azure_openai_embeddings.yaml",
            "embedding",
        )
    })
    .await;
}

fn exp_embeddings_context_propagation() -> Exp {
    Exp {
        // A vLLM server at http://localhost:8000/v1/.
        host: "localhost",
        response_id: Some("embd-8a98ba78590c4c53b21b4ca6d197e648"),
        response_model: Some("intfloat/e5-mistral-7b-instruct"),
        input_tokens: Some(11),
        // vLLM reports `completion_tokens: 0`.
        output_tokens: Some(0),
        total_tokens: Some(11),
        // base64: 32768 bytes, read as float32s as the OpenAI client does.
        dimensions: Some(8192),
        ..Exp::embeddings(
            "openai/test_embeddings/test_embeddings_context_propagation.yaml",
            "intfloat/e5-mistral-7b-instruct",
        )
    }
}

#[tokio::test]
async fn test_embeddings_context_propagation() {
    let e = exp_embeddings_context_propagation();
    conform(&e).await;
    for flavour in [Flavour::Current, Flavour::Legacy, Flavour::Events] {
        for content in [true, false] {
            let opts = Opts {
                flavour,
                content,
                ..Opts::default()
            };
            // The recorded request carried upstream's own `traceparent`; `run_with` does not
            // replay it, so the one the server sees comes from the middleware.
            let run = run_with(e.cassette, Replay::opts(opts)).await;
            check_traceparent(&run, e.span);
        }
    }
    // The harness's plain `run` replays the recorded `traceparent`; the middleware replaces it.
    let run = run(e.cassette, Opts::default()).await;
    check_traceparent(&run, e.span);
}

#[tokio::test]
async fn test_embeddings_context_propagation_disabled() {
    let run = run_with(
        "openai/test_embeddings/test_embeddings_context_propagation.yaml",
        Replay {
            propagate: false,
            ..Replay::default()
        },
    )
    .await;
    run.assert_pass_through();
    let requests = run.server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("traceparent"), None);
    let span = run.span("openai.embeddings");
    assert_eq!(
        attr_str(&span, "gen_ai.response.model"),
        Some("intfloat/e5-mistral-7b-instruct")
    );
}

/// Every vendored OpenAI cassette has its test above.
#[test]
fn every_openai_cassette_has_a_test() {
    let source = include_str!("conformance_openai.rs");
    let names: Vec<String> = openllmetry_testkit::cassette::all_cassette_names()
        .into_iter()
        .filter(|n| n.starts_with("openai/"))
        .collect();
    assert_eq!(names.len(), 23, "{names:?}");
    for name in names {
        let stem = name
            .rsplit('/')
            .next()
            .unwrap()
            .trim_end_matches(".yaml")
            .to_string();
        assert!(
            source.contains(&format!("async fn {stem}()")),
            "no test named {stem}"
        );
    }
}
