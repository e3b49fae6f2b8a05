//! Recorder behaviours that follow upstream OpenLLMetry (see [`crate::parity`]).

use std::sync::{Arc, Mutex};

use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};

use crate::{FaultKind, Flavour, Instrumentation};

/// Runs one exchange through an instrumentation with `flavour` and `content`; returns the
/// span and the faults reported.
fn run(
    flavour: Flavour,
    content: bool,
    method: &str,
    url: &str,
    request: &[u8],
    response: &[u8],
) -> (SpanData, Vec<FaultKind>) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let faults = Arc::new(Mutex::new(Vec::new()));
    let seen = faults.clone();
    let i = Instrumentation::builder()
        .with_tracer_provider(&provider)
        .with_meter_provider(&opentelemetry_sdk::metrics::SdkMeterProvider::default())
        .with_flavour(flavour)
        .with_content_capture(content)
        .with_fault_hook(move |f| seen.lock().unwrap().push(f.kind))
        .build();
    let call = i.start(method, url, Some(request)).expect("instrumented");
    let mut obs = call.on_response(200, Some("application/json"), None);
    obs.on_data(response);
    obs.on_end();
    let mut spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 1);
    let faults = faults.lock().unwrap().clone();
    (spans.remove(0), faults)
}

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

const SCHEMA_KEY: &str = "gen_ai.request.structured_output_schema";

#[test]
fn anthropic_output_format_schema_is_content_and_absent_in_events() {
    // OpenLLMetry 0.62.1 `anthropic/span_utils.py::aset_input_attributes` writes the schema
    // inside `if should_send_prompts():`, and the events mode does not call it.
    let req = br#"{"model":"claude-sonnet-4-5","max_tokens":64,
        "messages":[{"role":"user","content":"hi"}],
        "output_format":{"type":"json_schema","schema":{"type":"object","properties":{"secret_field":{"type":"string"}}}}}"#;
    let resp = br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5",
        "content":[{"type":"text","text":"{}"}],"stop_reason":"end_turn",
        "usage":{"input_tokens":3,"output_tokens":1}}"#;
    let url = "https://api.anthropic.com/v1/messages";
    let schema = |flavour, content| {
        let (span, faults) = run(flavour, content, "POST", url, req, resp);
        assert!(faults.is_empty(), "{faults:?}");
        attr(&span, SCHEMA_KEY)
    };
    assert!(
        schema(Flavour::Current, true).is_some_and(|s| s.contains("secret_field")),
        "written with content on"
    );
    assert!(schema(Flavour::Legacy, true).is_some());
    assert_eq!(schema(Flavour::Current, false), None);
    assert_eq!(schema(Flavour::Legacy, false), None);
    assert_eq!(schema(Flavour::Events, true), None);
    assert_eq!(schema(Flavour::Events, false), None);

    // An OpenAI `response_format` schema is not gated upstream
    // (`openai/shared/__init__.py::_set_request_attributes`).
    let req = br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],
        "response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}}}"#;
    let resp = br#"{"id":"c1","model":"gpt-4o","choices":[]}"#;
    let (span, _) = run(
        Flavour::Current,
        false,
        "POST",
        "https://api.openai.com/v1/chat/completions",
        req,
        resp,
    );
    assert!(attr(&span, SCHEMA_KEY).is_some());
}

#[test]
fn responses_retrieve_has_a_span_and_no_request_body() {
    // `GET /v1/responses/{id}`: upstream wraps `responses.retrieve` as `openai.response`.
    let resp = br#"{"id":"resp_1","object":"response","status":"completed","model":"gpt-4o-2024-08-06",
        "output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"4"}]}],
        "usage":{"input_tokens":5,"output_tokens":1,"total_tokens":6}}"#;
    let (span, faults) = run(
        Flavour::Current,
        true,
        "GET",
        "https://api.openai.com/v1/responses/resp_1?stream=false",
        b"",
        resp,
    );
    // The empty GET body is not parsed (no InvalidJson fault).
    assert!(faults.is_empty(), "{faults:?}");
    assert_eq!(span.name, "openai.response");
    assert_eq!(attr(&span, "gen_ai.response.id").as_deref(), Some("resp_1"));
    assert_eq!(attr(&span, "gen_ai.request.model"), None);
    assert_eq!(attr(&span, "gen_ai.is_streaming").as_deref(), Some("false"));
    assert!(attr(&span, "gen_ai.output.messages").is_some_and(|m| m.contains("\"4\"")));
}

#[test]
fn client_only_providers_are_named_as_upstream_names_them() {
    // OpenLLMetry 0.62.1 `openai/shared/__init__.py::_get_vendor_from_url`: `openai` for
    // api.deepseek.com; the Anthropic instrumentation always writes `anthropic`.
    let resp = br#"{"id":"c1","model":"deepseek-chat","choices":[]}"#;
    let req = br#"{"model":"deepseek-chat","messages":[{"role":"user","content":"hi"}]}"#;
    let url = "https://api.deepseek.com/chat/completions";
    for flavour in [Flavour::Current, Flavour::Events] {
        let (span, _) = run(flavour, true, "POST", url, req, resp);
        assert_eq!(
            attr(&span, "gen_ai.provider.name").as_deref(),
            Some("openai")
        );
    }
    let (span, _) = run(Flavour::Legacy, true, "POST", url, req, resp);
    assert_eq!(attr(&span, "gen_ai.system").as_deref(), Some("openai"));
    let (span, _) = run(
        Flavour::Current,
        true,
        "POST",
        "https://api.deepseek.com/anthropic/v1/messages",
        br#"{"model":"deepseek-chat","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}"#,
        br#"{"id":"m1","type":"message","model":"deepseek-chat","content":[],"stop_reason":"end_turn"}"#,
    );
    assert_eq!(
        attr(&span, "gen_ai.provider.name").as_deref(),
        Some("anthropic")
    );
    // A provider with an upstream instrumentation of its own keeps its name.
    let (span, _) = run(
        Flavour::Current,
        true,
        "POST",
        "https://api.groq.com/openai/v1/chat/completions",
        req,
        resp,
    );
    assert_eq!(attr(&span, "gen_ai.provider.name").as_deref(), Some("groq"));
}
