//! The official Python `openai` and `anthropic` clients as callers of the gateway: their parsed
//! results through the gateway equal what they get from the replayed provider directly, and
//! the spans the gateway exports to a real OTLP receiver carry what the conformance tests
//! assert, with no API key anywhere in the exported bytes.

mod common;

use common::*;
use openllmetry_testkit::flat::{ReceivedSpan, SpanKind, StatusCode};
use openllmetry_testkit::otlp::OtlpReceiver;
use openllmetry_testkit::replay::ReplayServer;
use serde_json::{Value, json};

/// (name, cassette, interaction index, client API).
const SCENARIOS: &[(&str, &str, usize, &str)] = &[
    (
        "openai_chat",
        "openai/test_chat/test_chat.yaml",
        1,
        "openai.chat",
    ),
    (
        "openai_chat_stream",
        "openai/test_chat/test_chat_streaming.yaml",
        0,
        "openai.chat",
    ),
    (
        "openai_tool_calls",
        "openai/test_functions/test_open_ai_function_calls_tools.yaml",
        1,
        "openai.chat",
    ),
    (
        "openai_tool_calls_stream",
        "openai/test_functions/test_open_ai_function_calls_tools_streaming.yaml",
        1,
        "openai.chat",
    ),
    (
        "openai_embeddings",
        "openai/test_embeddings/test_embeddings.yaml",
        2,
        "openai.embeddings",
    ),
    (
        "anthropic_messages",
        "anthropic/test_messages/test_anthropic_message_create_legacy.yaml",
        0,
        "anthropic.messages",
    ),
    (
        "anthropic_messages_stream",
        "anthropic/test_messages/test_anthropic_message_streaming_legacy.yaml",
        0,
        "anthropic.messages",
    ),
    (
        "anthropic_tools",
        "anthropic/test_messages/test_anthropic_tools_legacy.yaml",
        0,
        "anthropic.messages",
    ),
    (
        "anthropic_tools_stream",
        "anthropic/test_messages/test_anthropic_tools_streaming_legacy.yaml",
        0,
        "anthropic.messages",
    ),
    (
        "anthropic_thinking",
        "anthropic/test_thinking/test_anthropic_thinking_legacy.yaml",
        0,
        "anthropic.messages",
    ),
    (
        "anthropic_thinking_stream",
        "anthropic/test_thinking/test_anthropic_thinking_streaming_legacy.yaml",
        0,
        "anthropic.messages",
    ),
];

fn spec(openai_base: &str, anthropic_base: &str, bodies: &[Value]) -> Value {
    let scenarios: Vec<Value> = SCENARIOS
        .iter()
        .zip(bodies)
        .map(|((name, _, _, api), body)| json!({"name": name, "api": api, "body": body}))
        .collect();
    json!({
        "openai_base_url": openai_base,
        "anthropic_base_url": anthropic_base,
        "openai_key": OPENAI_KEY,
        "anthropic_key": ANTHROPIC_KEY,
        "scenarios": scenarios,
    })
}

/// Parts of the output messages with this `type`.
fn output_parts(span: &ReceivedSpan, kind: &str) -> Vec<Value> {
    let out = json_attr(span, "gen_ai.output.messages");
    out.as_array()
        .expect("output messages are an array")
        .iter()
        .flat_map(|m| m["parts"].as_array().cloned().unwrap_or_default())
        .filter(|p| p["type"] == kind)
        .collect()
}

fn check_span(
    name: &str,
    api: &str,
    body: &Value,
    summary: &Value,
    span: &ReceivedSpan,
    replay: &ReplayServer,
) {
    let ctx = format!("{name}: span {}", span.all_text());
    let (provider, operation, span_name) = match api {
        "openai.chat" => ("openai", "chat", "openai.chat"),
        "openai.embeddings" => ("openai", "embeddings", "openai.embeddings"),
        _ => ("anthropic", "chat", "anthropic.chat"),
    };
    assert_eq!(span.name, span_name, "{ctx}");
    assert_eq!(span.kind, SpanKind::Client, "{ctx}");
    assert_ne!(span.status_code, StatusCode::Error, "{ctx}");
    assert_eq!(
        span.attr("openllmetry.response.incomplete"),
        None,
        "{ctx}: a complete response recorded as incomplete"
    );
    assert_eq!(span.scope_name, "openllmetry", "{ctx}");
    assert_eq!(
        span.attr_str("gen_ai.provider.name"),
        Some(provider),
        "{ctx}"
    );
    assert_eq!(
        span.attr_str("gen_ai.operation.name"),
        Some(operation),
        "{ctx}"
    );
    assert_eq!(
        span.attr_str("gen_ai.request.model"),
        body["model"].as_str(),
        "{ctx}"
    );
    assert_eq!(span.attr_str("server.address"), Some("127.0.0.1"), "{ctx}");
    assert_eq!(
        span.attr_i64("server.port"),
        Some(i64::from(replay.addr().port())),
        "{ctx}"
    );
    let stream = body["stream"].as_bool().unwrap_or(false);
    assert_eq!(
        span.attr_bool("gen_ai.request.stream"),
        Some(stream),
        "{ctx}"
    );
    if provider == "openai" {
        // The upstream base URL (what the client would have used without the gateway).
        assert_eq!(
            span.attr_str("gen_ai.openai.api_base"),
            Some(format!("{}/v1/", replay.base_url()).as_str()),
            "{ctx}"
        );
    }
    if let Some(model) = summary["model"].as_str() {
        assert_eq!(span.attr_str("gen_ai.response.model"), Some(model), "{ctx}");
    }
    if let Some(id) = summary["id"].as_str() {
        assert_eq!(span.attr_str("gen_ai.response.id"), Some(id), "{ctx}");
    }
    let finish: Vec<&str> = summary["finish_reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if !finish.is_empty() {
        assert_eq!(
            span.attr_str_array("gen_ai.response.finish_reasons"),
            Some(finish),
            "{ctx}"
        );
    }
    for (key, attr) in [
        ("input_tokens", "gen_ai.usage.input_tokens"),
        ("output_tokens", "gen_ai.usage.output_tokens"),
    ] {
        if let Some(n) = summary[key].as_i64() {
            assert_eq!(span.attr_i64(attr), Some(n), "{ctx}: {attr}");
        }
    }
    // Content, as JSON attributes (current flavour, capture on by default).
    let input = json_attr(span, "gen_ai.input.messages");
    let mut recorded = Vec::new();
    strings(&input, &mut recorded);
    let prompt = match api {
        "openai.embeddings" => body["input"].as_str().unwrap().to_owned(),
        _ => {
            let last = body["messages"].as_array().unwrap().last().unwrap();
            match &last["content"] {
                Value::String(s) => s.clone(),
                Value::Array(parts) => parts[0]["text"].as_str().unwrap().to_owned(),
                other => panic!("{name}: unexpected content {other}"),
            }
        }
    };
    assert!(
        recorded.iter().any(|s| s == &prompt),
        "{ctx}: prompt {prompt:?} not in gen_ai.input.messages {input}"
    );
    if api != "openai.embeddings" {
        let texts: Vec<String> = output_parts(span, "text")
            .iter()
            .map(|p| p["content"].as_str().unwrap_or_default().to_owned())
            .collect();
        for t in summary["texts"].as_array().unwrap() {
            assert!(
                texts.iter().any(|x| Some(x.as_str()) == t.as_str()),
                "{ctx}: output text {t} not in {texts:?}"
            );
        }
        let tools: Vec<String> = output_parts(span, "tool_call")
            .iter()
            .map(|p| p["name"].as_str().unwrap_or_default().to_owned())
            .collect();
        let want: Vec<String> = summary["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(tools, want, "{ctx}: tool calls");
        if let Some(thinking) = summary.get("thinking").and_then(Value::as_array) {
            let reasoning: Vec<String> = output_parts(span, "reasoning")
                .iter()
                .map(|p| p["content"].as_str().unwrap_or_default().to_owned())
                .collect();
            for t in thinking {
                assert!(
                    reasoning.iter().any(|x| Some(x.as_str()) == t.as_str()),
                    "{ctx}: thinking {t} not in {reasoning:?}"
                );
            }
        }
        if let Some(tools) = body["tools"].as_array() {
            let defs = json_attr(span, "gen_ai.tool.definitions");
            let names: Vec<&str> = defs
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|d| d["name"].as_str())
                .collect();
            let want: Vec<&str> = tools
                .iter()
                .map(|t| {
                    t["name"]
                        .as_str()
                        .or_else(|| t["function"]["name"].as_str())
                        .unwrap()
                })
                .collect();
            assert_eq!(names, want, "{ctx}: tool definitions");
        }
    }
}

#[test]
fn official_python_clients_through_the_gateway() {
    let interactions: Vec<_> = SCENARIOS
        .iter()
        .map(|(_, cassette, index, _)| interaction(cassette, *index))
        .collect();
    let bodies: Vec<Value> = interactions
        .iter()
        .map(|it| it.request.body_json().expect("recorded JSON body"))
        .collect();
    // Two identical fake providers: one the clients call directly, one behind the gateway.
    let direct = ReplayServer::pool(interactions.clone()).spawn().unwrap();
    let upstream = ReplayServer::pool(interactions.clone()).spawn().unwrap();
    let receiver = OtlpReceiver::start();
    let mut gateway = GatewayOpts::replay(&upstream.base_url())
        .otlp(&receiver)
        .spawn();

    let (direct_out, via_gateway) = std::thread::scope(|s| {
        let d = s.spawn(|| {
            run_python(
                "clients.py",
                &spec(
                    &format!("{}/v1", direct.base_url()),
                    &direct.base_url(),
                    &bodies,
                ),
            )
        });
        let g = s.spawn(|| {
            run_python(
                "clients.py",
                &spec(&gateway.url("/v1"), &gateway.base_url(), &bodies),
            )
        });
        (d.join().unwrap(), g.join().unwrap())
    });

    // Each call reached its recorded interaction, with the recorded JSON body, on both sides.
    for (server, side) in [(&direct, "direct"), (&upstream, "via gateway")] {
        let requests = server.requests();
        assert_eq!(requests.len(), SCENARIOS.len(), "{side}: {requests:#?}");
        for (i, r) in requests.iter().enumerate() {
            let name = SCENARIOS[i].0;
            assert_eq!(
                r.interaction,
                Some(i),
                "{side} {name}: matched another interaction"
            );
            assert_eq!(
                r.body_json().as_ref(),
                Some(&bodies[i]),
                "{side} {name}: body"
            );
        }
    }
    // The gateway forwards the credentials to the upstream.
    for (i, r) in upstream.requests().iter().enumerate() {
        if SCENARIOS[i].3.starts_with("openai") {
            assert_eq!(
                r.header("authorization"),
                Some(format!("Bearer {OPENAI_KEY}").as_str())
            );
        } else {
            // (Anthropic clients send `x-api-key`; this version sends a bearer token.)
            let bearer = format!("Bearer {ANTHROPIC_KEY}");
            assert!(
                r.header("x-api-key") == Some(ANTHROPIC_KEY)
                    || r.header("authorization") == Some(bearer.as_str()),
                "the Anthropic key did not reach the upstream: {:?}",
                r.headers
            );
            assert!(r.header("anthropic-version").is_some());
        }
    }

    // The clients' parsed results are the same with and without the gateway.
    assert_same_parsed_results(SCENARIOS.iter().map(|s| s.0), &direct_out, &via_gateway);

    // One span per call, each with the attributes of the conformance tests.
    let spans = wait_all_spans(&receiver, SCENARIOS.len());
    let mut embeddings = spans.iter().filter(|s| s.name == "openai.embeddings");
    for (i, (name, _, _, api)) in SCENARIOS.iter().enumerate() {
        let summary = &via_gateway[name]["summary"];
        let span = match summary["id"].as_str() {
            Some(id) => spans
                .iter()
                .find(|s| s.attr_str("gen_ai.response.id") == Some(id))
                .unwrap_or_else(|| panic!("{name}: no span with response id {id}")),
            None => embeddings.next().expect("the embeddings span"),
        };
        check_span(name, api, &bodies[i], summary, span, &upstream);
    }

    // No credential in any byte the receiver got.
    for secret in [OPENAI_KEY, ANTHROPIC_KEY, "SECRET"] {
        assert!(
            !receiver.raw_contains(secret.as_bytes()),
            "{secret} reached the OTLP receiver"
        );
    }
    gateway.stop();
    for secret in [OPENAI_KEY, ANTHROPIC_KEY] {
        assert!(!receiver.raw_contains(secret.as_bytes()));
        assert!(
            !gateway.stderr().contains(secret),
            "{secret} in the gateway's logs"
        );
    }
}
