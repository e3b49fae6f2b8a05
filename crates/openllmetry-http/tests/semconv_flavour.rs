//! The `semconv` flavour end to end: recorded exchanges replayed over real loopback HTTP
//! through the real reqwest middleware, with the flavour chosen on the builder.
//!
//! Expectations: attribute and metric names are literals from the latest GenAI conventions
//! (semantic-conventions-genai, `docs/gen-ai/client-inference.md` and the message schemas at
//! the commits pinned in `openllmetry_semconv::latest`); values come from the recorded bodies,
//! read here with plain JSON walks, never from the parsers; message shapes are checked with
//! `openllmetry_testkit::genai_schema`. Each exchange runs with content on and off.

mod common;

use common::{Opts, Run, content_strings, run};
use openllmetry_core::Flavour;
use openllmetry_testkit::capture::attr_str;
use openllmetry_testkit::genai_schema;
use opentelemetry::Value as OtelValue;
use opentelemetry_sdk::trace::SpanData;
use serde_json::Value;

fn semconv(content: bool) -> Opts {
    Opts {
        flavour: Flavour::Semconv,
        content,
        read_chunks: None,
    }
}

fn int(span: &SpanData, key: &str) -> Option<i64> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .and_then(|kv| match kv.value {
            OtelValue::I64(v) => Some(v),
            _ => None,
        })
}

fn strings(span: &SpanData, key: &str) -> Option<Vec<String>> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .and_then(|kv| match &kv.value {
            OtelValue::Array(opentelemetry::Array::String(v)) => {
                Some(v.iter().map(|s| s.as_str().to_owned()).collect())
            }
            _ => None,
        })
}

fn json_attr(span: &SpanData, key: &str) -> Value {
    serde_json::from_str(attr_str(span, key).unwrap_or_else(|| panic!("no {key}")))
        .unwrap_or_else(|e| panic!("{key} is not JSON: {e}"))
}

/// The only span of the run (the flavour names it `{operation} {model}`).
fn only_span(r: &Run) -> SpanData {
    let spans = r.capture.spans();
    assert_eq!(
        spans.len(),
        1,
        "{:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    spans.into_iter().next().unwrap()
}

/// The recorded response's JSON objects: the body, or each `data:` event of a stream.
fn recorded_events(r: &Run) -> Vec<Value> {
    let resp = &r.interaction.response;
    if resp.is_event_stream() {
        resp.body_text()
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str(d.trim()).ok())
            .collect()
    } else {
        vec![resp.body_json().expect("a JSON body")]
    }
}

/// The first value at `key` (searched depth-first) in any recorded event.
fn recorded(r: &Run, key: &str) -> Option<Value> {
    fn find(v: &Value, key: &str) -> Option<Value> {
        match v {
            Value::Object(o) => o
                .get(key)
                .cloned()
                .or_else(|| o.values().find_map(|c| find(c, key))),
            Value::Array(a) => a.iter().find_map(|c| find(c, key)),
            _ => None,
        }
    }
    recorded_events(r).iter().find_map(|e| find(e, key))
}

/// With content on, every content attribute present follows the schemas, and the recorded
/// content is there; with content off, no content attribute and no recorded content string
/// anywhere in what was exported.
fn check_content(r: &Run, span: &SpanData, on: bool) {
    let keys = [
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.definitions",
    ];
    if !on {
        for k in keys {
            assert!(attr_str(span, k).is_none(), "{k} with content off");
        }
        let text = r.capture.all_exported_text();
        for s in content_strings(&r.interaction) {
            assert!(
                !text.contains(&s),
                "content {s:?} exported with content off"
            );
        }
        return;
    }
    genai_schema::check_input_messages(&json_attr(span, "gen_ai.input.messages")).unwrap();
    if attr_str(span, "gen_ai.output.messages").is_some() {
        genai_schema::check_output_messages(&json_attr(span, "gen_ai.output.messages"), true)
            .unwrap();
    }
    if attr_str(span, "gen_ai.system_instructions").is_some() {
        genai_schema::check_system_instructions(&json_attr(span, "gen_ai.system_instructions"))
            .unwrap();
    }
    if attr_str(span, "gen_ai.tool.definitions").is_some() {
        genai_schema::check_tool_definitions(&json_attr(span, "gen_ai.tool.definitions")).unwrap();
    }
}

/// The attributes every inference span of the flavour has, checked against the recorded
/// request and response.
fn check_inference_span(r: &Run, span: &SpanData, provider: &str) {
    let model = r.request_json()["model"].as_str().unwrap().to_owned();
    assert_eq!(span.name, format!("chat {model}"));
    assert_eq!(span.span_kind, opentelemetry::trace::SpanKind::Client);
    assert_eq!(attr_str(span, "gen_ai.operation.name"), Some("chat"));
    assert_eq!(attr_str(span, "gen_ai.provider.name"), Some(provider));
    assert_eq!(attr_str(span, "gen_ai.request.model"), Some(model.as_str()));
    assert_eq!(attr_str(span, "server.address"), Some("127.0.0.1"));
    assert!(int(span, "server.port").is_some());
    let id = recorded(r, "id").and_then(|v| v.as_str().map(str::to_owned));
    assert_eq!(attr_str(span, "gen_ai.response.id"), id.as_deref());
    let resp_model = recorded(r, "model").and_then(|v| v.as_str().map(str::to_owned));
    assert_eq!(
        attr_str(span, "gen_ai.response.model"),
        resp_model.as_deref()
    );
    // None of OpenLLMetry's own attributes.
    for k in [
        "gen_ai.system",
        "gen_ai.usage.total_tokens",
        "llm.usage.total_tokens",
        "gen_ai.is_streaming",
        "gen_ai.openai.api_base",
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.openai.response.system_fingerprint",
    ] {
        assert!(
            attr_str(span, k).is_none() && int(span, k).is_none(),
            "{k} on {}",
            span.name
        );
    }
}

const OPENAI_CHAT: &str = "openai/test_chat/test_chat.yaml";
const OPENAI_STREAM: &str = "openai/test_chat/test_chat_streaming.yaml";
const OPENAI_TOOLS: &str = "openai/test_functions/test_open_ai_function_calls_tools.yaml";
const ANTHROPIC_CACHE: &str =
    "anthropic/test_prompt_caching/test_anthropic_prompt_caching_legacy.yaml";

#[tokio::test]
async fn openai_chat() {
    for on in [true, false] {
        let r = run(OPENAI_CHAT, semconv(on)).await;
        r.assert_pass_through();
        let span = only_span(&r);
        // The test runs against a loopback replay server: the host names no provider, so
        // the call is labelled as OpenAI's format (as in every flavour).
        check_inference_span(&r, &span, "openai");
        assert_eq!(attr_str(&span, "openai.api.type"), Some("chat_completions"));
        assert!(attr_str(&span, "gen_ai.request.stream").is_none());
        let usage = recorded(&r, "usage").unwrap();
        assert_eq!(
            int(&span, "gen_ai.usage.input_tokens"),
            usage["prompt_tokens"].as_i64()
        );
        assert_eq!(
            int(&span, "gen_ai.usage.output_tokens"),
            usage["completion_tokens"].as_i64()
        );
        assert_eq!(
            attr_str(&span, "openai.response.system_fingerprint"),
            recorded(&r, "system_fingerprint")
                .as_ref()
                .and_then(Value::as_str)
        );
        assert_eq!(
            strings(&span, "gen_ai.response.finish_reasons"),
            Some(vec!["stop".to_owned()])
        );
        check_content(&r, &span, on);
        if on {
            let input = json_attr(&span, "gen_ai.input.messages");
            assert_eq!(input[0]["role"], "user");
            assert_eq!(input[0]["parts"][0]["type"], "text");
            assert_eq!(
                input[0]["parts"][0]["content"],
                r.request_json()["messages"][0]["content"]
            );
            let output = json_attr(&span, "gen_ai.output.messages");
            let recorded_text = recorded(&r, "message").unwrap()["content"].clone();
            assert_eq!(output[0]["parts"][0]["content"], recorded_text);
        }
        // Metrics: the inference family with the recorded usage.
        let input = r
            .capture
            .metric_points("gen_ai.client.inference.usage.input_tokens");
        assert_eq!(input.len(), 1);
        assert_eq!(input[0].value, usage["prompt_tokens"].as_f64());
        assert_eq!(
            r.capture
                .metric_points("gen_ai.client.inference.duration")
                .len(),
            1
        );
        assert!(
            r.capture
                .metric_points("gen_ai.client.operation.duration")
                .is_empty()
        );
        assert!(
            r.capture
                .metric_points("gen_ai.client.token.usage")
                .is_empty()
        );
    }
}

#[tokio::test]
async fn openai_streaming_chat() {
    for on in [true, false] {
        let r = run(OPENAI_STREAM, semconv(on)).await;
        r.assert_pass_through();
        let span = only_span(&r);
        check_inference_span(&r, &span, "openai");
        assert_eq!(
            span.attributes
                .iter()
                .find(|kv| kv.key.as_str() == "gen_ai.request.stream")
                .map(|kv| kv.value.clone()),
            Some(OtelValue::Bool(true))
        );
        assert!(
            span.attributes
                .iter()
                .any(|kv| kv.key.as_str() == "gen_ai.response.time_to_first_chunk")
        );
        let reason = recorded_events(&r)
            .iter()
            .find_map(|e| e["choices"][0]["finish_reason"].as_str().map(str::to_owned))
            .unwrap();
        assert_eq!(reason, "stop");
        assert_eq!(
            strings(&span, "gen_ai.response.finish_reasons"),
            Some(vec![reason])
        );
        check_content(&r, &span, on);
        if on {
            let streamed: String = recorded_events(&r)
                .iter()
                .filter_map(|e| {
                    e["choices"][0]["delta"]["content"]
                        .as_str()
                        .map(str::to_owned)
                })
                .collect();
            let output = json_attr(&span, "gen_ai.output.messages");
            assert_eq!(output[0]["parts"][0]["content"], streamed.as_str());
        }
        assert_eq!(
            r.capture
                .metric_points("gen_ai.client.inference.time_to_first_chunk")
                .len(),
            1
        );
    }
}

#[tokio::test]
async fn openai_tool_call() {
    for on in [true, false] {
        let r = run(OPENAI_TOOLS, semconv(on)).await;
        r.assert_pass_through();
        let span = only_span(&r);
        check_inference_span(&r, &span, "openai");
        // The conventions' value for a tool call (`tool_call`, not OpenAI's `tool_calls`).
        assert_eq!(
            strings(&span, "gen_ai.response.finish_reasons"),
            Some(vec!["tool_call".to_owned()])
        );
        check_content(&r, &span, on);
        if on {
            let call = &recorded(&r, "tool_calls").unwrap()[0];
            let output = json_attr(&span, "gen_ai.output.messages");
            let part = &output[0]["parts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["type"] == "tool_call")
                .expect("a tool_call part")
                .clone();
            assert_eq!(part["id"], call["id"]);
            assert_eq!(part["name"], call["function"]["name"]);
            let args: Value =
                serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
            assert_eq!(part["arguments"], args);
            let defs = json_attr(&span, "gen_ai.tool.definitions");
            let tools = r.request_json()["tools"].clone();
            assert_eq!(
                defs.as_array().unwrap().len(),
                tools.as_array().unwrap().len()
            );
            assert_eq!(defs[0]["type"], "function");
            assert_eq!(defs[0]["name"], tools[0]["function"]["name"]);
            assert_eq!(defs[0]["parameters"], tools[0]["function"]["parameters"]);
        }
    }
}

#[tokio::test]
async fn anthropic_prompt_caching() {
    for on in [true, false] {
        let r = run(ANTHROPIC_CACHE, semconv(on)).await;
        r.assert_pass_through();
        let span = only_span(&r);
        check_inference_span(&r, &span, "anthropic");
        assert!(
            span.attributes
                .iter()
                .all(|kv| !kv.key.as_str().starts_with("openai.")),
            "openai.* on an Anthropic span"
        );
        let usage = recorded(&r, "usage").unwrap();
        let (input, read, write) = (
            usage["input_tokens"].as_i64().unwrap(),
            usage["cache_read_input_tokens"].as_i64().unwrap(),
            usage["cache_creation_input_tokens"].as_i64().unwrap(),
        );
        assert!(write > 0, "the first call writes the cache: {usage}");
        // "This value SHOULD include all types of input tokens, including cached tokens."
        assert_eq!(
            int(&span, "gen_ai.usage.input_tokens"),
            Some(input + read + write)
        );
        assert_eq!(
            int(&span, "gen_ai.usage.cache_read.input_tokens"),
            Some(read)
        );
        assert_eq!(
            int(&span, "gen_ai.usage.cache_write.input_tokens"),
            Some(write)
        );
        assert_eq!(
            int(&span, "gen_ai.usage.output_tokens"),
            usage["output_tokens"].as_i64()
        );
        check_content(&r, &span, on);
        if on && r.request_json().get("system").is_some() {
            let system = json_attr(&span, "gen_ai.system_instructions");
            assert_eq!(system[0]["type"], "text");
        }
        let points = r
            .capture
            .metric_points("gen_ai.client.inference.usage.cache_write.input_tokens");
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].value, Some(write as f64));
    }
}

/// Upstream's Responses API recording from the corpus folder beside the test cassettes
/// (`load_cassette` names are relative to `cassettes/openllmetry`).
const OPENAI_RESPONSES: &str =
    "../openllmetry-corpus/openai/test_responses/test_responses_with_request_params.yaml";

#[tokio::test]
async fn openai_responses_api() {
    for on in [true, false] {
        let r = run(OPENAI_RESPONSES, semconv(on)).await;
        r.assert_pass_through();
        let span = only_span(&r);
        check_inference_span(&r, &span, "openai");
        // The conventions' OpenAI document: `openai.api.type` is `responses` for this API.
        assert_eq!(attr_str(&span, "openai.api.type"), Some("responses"));
        let req = r.request_json();
        let float = |k: &str| {
            span.attributes
                .iter()
                .find(|kv| kv.key.as_str() == k)
                .map(|kv| kv.value.clone())
        };
        assert_eq!(
            float("gen_ai.request.temperature"),
            req["temperature"].as_f64().map(OtelValue::F64)
        );
        assert_eq!(
            float("gen_ai.request.top_p"),
            req["top_p"].as_f64().map(OtelValue::F64)
        );
        assert_eq!(
            int(&span, "gen_ai.request.max_tokens"),
            req["max_output_tokens"].as_i64()
        );
        let usage = recorded(&r, "usage").unwrap();
        assert_eq!(
            int(&span, "gen_ai.usage.input_tokens"),
            usage["input_tokens"].as_i64()
        );
        assert_eq!(
            int(&span, "gen_ai.usage.output_tokens"),
            usage["output_tokens"].as_i64()
        );
        check_content(&r, &span, on);
        if on {
            let input = json_attr(&span, "gen_ai.input.messages");
            assert_eq!(input[0]["parts"][0]["content"], req["input"]);
            let output = json_attr(&span, "gen_ai.output.messages");
            assert_eq!(output[0]["role"], "assistant");
        }
    }
}
