//! The tower adapter proven with a client we did not write: `async_openai::Client` with
//! `with_http_service(OpenLlmLayer::with_instrumentation(..).layer(ReqwestService::new(..)))`,
//! replaying the chat, streaming chat, tool-call and embeddings cassettes over loopback.
//!
//! async-openai builds its own request body, so the replay server matches by method and path
//! only; request-side values are compared with what async-openai actually sent (read back
//! from the server), response-side values with literals read from the cassette. The client's
//! `reqwest::Client` does not ask for gzip, so the recorded body is served decoded (the
//! bytes a server answering that client would send); the values are the recorded ones.
#![cfg(feature = "async-openai")]

mod common;

use std::future::Future;
use std::sync::{Arc, Mutex};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::middleware::ReqwestService;
use async_openai::types::chat::{
    ChatCompletionMessageToolCall, ChatCompletionMessageToolCalls,
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestToolMessage, ChatCompletionRequestToolMessageContent,
    ChatCompletionRequestUserMessage, ChatCompletionTool, ChatCompletionToolChoiceOption,
    ChatCompletionTools, CreateChatCompletionRequest, FunctionCall, FunctionObject,
    ToolChoiceOptions,
};
use async_openai::types::embeddings::{CreateEmbeddingRequest, EmbeddingInput, EncodingFormat};
use common::*;
use futures_util::StreamExt;
use openllmetry_http::OpenLlmLayer;
use openllmetry_testkit::capture::{
    Capture, attr_bool, attr_f64, attr_i64, attr_str, attr_str_array,
};
use openllmetry_testkit::cassette::{Cassette, Interaction};
use openllmetry_testkit::flat::{AttrValue, MetricPoint};
use openllmetry_testkit::replay::ReplayServer;
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;
use serde_json::{Value, json};
use tower_layer::Layer;

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// The recorded interaction with its body decoded and `Content-Encoding` dropped.
fn identity(recorded: &Interaction) -> Interaction {
    let mut served = recorded.clone();
    served.response.body = recorded.response.decoded_body();
    served
        .response
        .headers
        .retain(|(k, _)| !k.eq_ignore_ascii_case("content-encoding"));
    served
}

/// Replays the first interaction of `cassette` to an async-openai client whose HTTP service
/// is our tower layer over async-openai's own `ReqwestService`; `call` makes the API call.
/// The returned [`Run`]'s interaction has the request body async-openai sent.
async fn tower_run<T, F, Fut>(cassette: &str, content: bool, call: F) -> (Run, T)
where
    F: FnOnce(Client<OpenAIConfig>) -> Fut,
    Fut: Future<Output = T>,
{
    let recorded = Cassette::load_named(cassette)
        .expect("cassette loads")
        .interactions[0]
        .clone();
    let served = identity(&recorded);
    let server = ReplayServer::start(served.clone()).await;
    let capture = Capture::with_resource(opentelemetry_sdk::Resource::builder_empty().build());
    let faults = Arc::new(Mutex::new(Vec::new()));
    let opts = Opts {
        content,
        ..Opts::default()
    };
    let instr = instrumentation(&capture, opts, faults.clone());
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let service = OpenLlmLayer::with_instrumentation(instr).layer(ReqwestService::new(http));
    let config = OpenAIConfig::new()
        .with_api_base(format!("{}/v1", server.base_url()))
        .with_api_key("sk-test");
    let client = Client::with_config(config).with_http_service(service);
    let out = call(client).await;
    capture.flush();
    assert_eq!(server.unmatched(), 0, "unmatched request");
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "one request");
    assert_eq!(requests[0].path(), recorded.request.path());
    let mut interaction = served;
    interaction.request.body = requests[0].body.clone();
    let faults = faults.lock().unwrap().clone();
    let run = Run {
        capture,
        interaction,
        server,
        status: 200,
        body: Vec::new(),
        chunks: 0,
        faults,
    };
    (run, out)
}

/// What async-openai sent.
fn sent(run: &Run) -> Value {
    run.server.requests()[0]
        .body_json()
        .expect("async-openai sent JSON")
}

// ---------------------------------------------------------------------------------------
// Expectations and checks
// ---------------------------------------------------------------------------------------

/// Response-side literals from the cassette; request-side values come from [`sent`].
#[derive(Debug, Clone, Default)]
struct Want {
    span: &'static str,
    operation: &'static str,
    response_id: Option<&'static str>,
    response_model: &'static str,
    fingerprint: Option<&'static str>,
    finish_reasons: Vec<&'static str>,
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    total_tokens: Option<i64>,
    dimensions: Option<i64>,
    input_messages: Value,
    output_messages: Option<Value>,
    tool_definitions: Option<Value>,
    /// Streams: recorded `data:` JSON chunks.
    chunks: Option<usize>,
}

fn has(span: &SpanData, key: &str) -> bool {
    openllmetry_testkit::capture::attr(span, key).is_some()
}

fn point_str<'a>(p: &'a MetricPoint, key: &str) -> Option<&'a str> {
    p.attr(key).and_then(AttrValue::as_str)
}

fn check(run: &Run, w: &Want, content: bool) {
    assert!(run.faults.is_empty(), "faults {:?}", run.faults);
    let request = sent(run);
    let request_model = request["model"].as_str().expect("model sent");
    let stream = request["stream"].as_bool().unwrap_or(false);
    let port = run.server.addr().port();
    let spans = run.capture.spans();
    assert_eq!(spans.len(), 1, "{spans:?}");
    let span = run.capture.span(w.span);
    assert_eq!(span.span_kind, SpanKind::Client);
    assert_eq!(attr_str(&span, "gen_ai.operation.name"), Some(w.operation));
    assert_eq!(attr_str(&span, "gen_ai.provider.name"), Some("openai"));
    assert_eq!(attr_str(&span, "gen_ai.request.model"), Some(request_model));
    assert_eq!(attr_bool(&span, "gen_ai.request.stream"), Some(stream));
    assert_eq!(attr_bool(&span, "gen_ai.is_streaming"), Some(stream));
    assert_eq!(
        attr_str(&span, "gen_ai.openai.api_base"),
        Some(format!("http://127.0.0.1:{port}/v1/").as_str())
    );
    assert_eq!(attr_str(&span, "server.address"), Some("127.0.0.1"));
    assert_eq!(attr_i64(&span, "server.port"), Some(i64::from(port)));
    assert_eq!(attr_str(&span, "gen_ai.response.id"), w.response_id);
    assert_eq!(
        attr_str(&span, "gen_ai.response.model"),
        Some(w.response_model)
    );
    assert_eq!(
        attr_str(&span, "openai.response.system_fingerprint"),
        w.fingerprint
    );
    if w.finish_reasons.is_empty() {
        assert!(!has(&span, "gen_ai.response.finish_reasons"));
    } else {
        assert_eq!(
            attr_str_array(&span, "gen_ai.response.finish_reasons"),
            Some(w.finish_reasons.iter().map(|s| s.to_string()).collect())
        );
    }
    assert_eq!(attr_i64(&span, "gen_ai.usage.input_tokens"), w.input_tokens);
    assert_eq!(
        attr_i64(&span, "gen_ai.usage.output_tokens"),
        w.output_tokens
    );
    assert_eq!(attr_i64(&span, "gen_ai.usage.total_tokens"), w.total_tokens);
    assert_eq!(
        attr_i64(&span, "gen_ai.embeddings.dimension.count"),
        w.dimensions
    );
    assert!(!has(&span, "error.type"));
    assert!(!matches!(span.status, Status::Error { .. }));
    assert!(!has(&span, "openllmetry.response.incomplete"));
    if content {
        assert_eq!(json_attr(&span, "gen_ai.input.messages"), w.input_messages);
        match &w.output_messages {
            Some(v) => assert_eq!(&json_attr(&span, "gen_ai.output.messages"), v),
            None => assert!(!has(&span, "gen_ai.output.messages")),
        }
        match &w.tool_definitions {
            Some(v) => assert_eq!(&json_attr(&span, "gen_ai.tool.definitions"), v),
            None => assert!(!has(&span, "gen_ai.tool.definitions")),
        }
    } else {
        for key in [
            "gen_ai.input.messages",
            "gen_ai.output.messages",
            "gen_ai.tool.definitions",
            "gen_ai.system_instructions",
        ] {
            assert!(!has(&span, key), "{key} with content off");
        }
        assert_no_content_exported(run);
    }
    // Streams: one chunk event per recorded chunk, time to first chunk.
    match w.chunks {
        Some(n) => {
            let recorded = sse_json_chunks(&run.interaction.response.body);
            assert_eq!(recorded.len(), n, "recorded chunks");
            assert_eq!(span.events.len() + span.events.dropped_count as usize, n);
            assert!(
                span.events
                    .iter()
                    .all(|e| e.name == "gen_ai.content.completion.chunk")
            );
            assert!(attr_f64(&span, "gen_ai.response.time_to_first_chunk").is_some());
        }
        None => assert!(span.events.is_empty()),
    }
    // The outgoing request carried the LLM span's traceparent.
    let sc = &span.span_context;
    assert_eq!(
        run.server.requests()[0].header("traceparent"),
        Some(format!("00-{}-{}-01", sc.trace_id(), sc.span_id()).as_str())
    );
    // Metrics.
    let base = |p: &MetricPoint| {
        assert_eq!(
            point_str(p, "gen_ai.provider.name"),
            Some("openai"),
            "{p:?}"
        );
        assert_eq!(point_str(p, "gen_ai.operation.name"), Some(w.operation));
        assert_eq!(point_str(p, "gen_ai.request.model"), Some(request_model));
        assert_eq!(
            point_str(p, "gen_ai.response.model"),
            Some(w.response_model),
            "{p:?}"
        );
    };
    let usage = run.capture.metric_points("gen_ai.client.token.usage");
    usage.iter().for_each(base);
    for (kind, want) in [("input", w.input_tokens), ("output", w.output_tokens)] {
        let of: Vec<&MetricPoint> = usage
            .iter()
            .filter(|p| point_str(p, "gen_ai.token.type") == Some(kind))
            .collect();
        match want {
            Some(v) => {
                assert_eq!(of.len(), 1);
                assert_eq!(of[0].count, Some(1));
                assert_eq!(of[0].sum, Some(v as f64), "{kind} tokens");
            }
            None => assert!(of.is_empty(), "{kind} tokens"),
        }
    }
    let duration = run
        .capture
        .metric_points("gen_ai.client.operation.duration");
    assert_eq!(duration.len(), 1);
    assert_eq!(duration[0].count, Some(1));
    base(&duration[0]);
    let choices = run
        .capture
        .metric_points("gen_ai.client.generation.choices");
    choices.iter().for_each(base);
    let n_choices = w
        .output_messages
        .as_ref()
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    assert_eq!(
        choices.iter().filter_map(|p| p.value).sum::<f64>() as usize,
        n_choices
    );
    let ttfc = run
        .capture
        .metric_points("gen_ai.client.operation.time_to_first_chunk");
    if w.chunks.is_some() {
        assert_eq!(ttfc.len(), 1);
        assert_eq!(ttfc[0].count, Some(1));
        base(&ttfc[0]);
    } else {
        assert!(ttfc.is_empty());
    }
}

fn user_text(text: &str) -> Value {
    json!([{"role": "user", "parts": [{"type": "text", "content": text}]}])
}

fn assistant_text(text: &str, finish: &str) -> Value {
    json!([{"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": finish}])
}

fn user(text: &str) -> ChatCompletionRequestMessage {
    ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage::from(text))
}

const JOKE_PROMPT: &str = "Tell me a joke about opentelemetry";

// ---------------------------------------------------------------------------------------
// Chat
// ---------------------------------------------------------------------------------------

const TEST_CHAT_ANSWER: &str =
    "Why did Opentelemetry break up with Tracing? Because it couldn't handle the baggage!";

#[tokio::test]
async fn tower_async_openai_test_chat() {
    let want = Want {
        span: "openai.chat",
        operation: "chat",
        response_id: Some("chatcmpl-908MD9ivBBLb6EaIjlqwFokntayQK"),
        response_model: "gpt-3.5-turbo-0125",
        fingerprint: Some("fp_2b778c6b35"),
        finish_reasons: vec!["stop"],
        input_tokens: Some(15),
        output_tokens: Some(19),
        total_tokens: Some(34),
        input_messages: user_text(JOKE_PROMPT),
        output_messages: Some(assistant_text(TEST_CHAT_ANSWER, "stop")),
        ..Want::default()
    };
    for content in [true, false] {
        let (run, resp) = tower_run("openai/test_chat/test_chat.yaml", content, |c| async move {
            let req = CreateChatCompletionRequest {
                model: "gpt-3.5-turbo".into(),
                messages: vec![user(JOKE_PROMPT)],
                ..Default::default()
            };
            c.chat().create(req).await
        })
        .await;
        // async-openai got the recorded response.
        let resp = resp.expect("async-openai parsed the response");
        assert_eq!(resp.id, "chatcmpl-908MD9ivBBLb6EaIjlqwFokntayQK");
        assert_eq!(
            resp.choices[0].message.content.as_deref(),
            Some(TEST_CHAT_ANSWER)
        );
        assert_eq!(resp.usage.as_ref().map(|u| u.total_tokens), Some(34));
        // It sent the recorded request's messages and model.
        let recorded = run.interaction.request.body_json().unwrap();
        assert_eq!(
            recorded["messages"],
            json!([{"role": "user", "content": JOKE_PROMPT}])
        );
        assert_eq!(recorded["model"], "gpt-3.5-turbo");
        check(&run, &want, content);
    }
}

const ASYNC_STREAMING_TEXT: &str = "Why did the developer break up with Opentelemetry? Because it couldn't handle the baggage of all their tracing requests!";

/// `test_chat_async_streaming` (`test_chat_streaming`'s mock server wrote `created` in
/// milliseconds, which async-openai's `u32` cannot hold).
#[tokio::test]
async fn tower_async_openai_test_chat_async_streaming() {
    let want = Want {
        span: "openai.chat",
        operation: "chat",
        response_id: Some("chatcmpl-9AGW3t9akkLW9f5f93B7mOhiqhNMC"),
        response_model: "gpt-3.5-turbo-0125",
        fingerprint: Some("fp_b28b39ffa8"),
        finish_reasons: vec!["stop"],
        input_messages: user_text(JOKE_PROMPT),
        output_messages: Some(assistant_text(ASYNC_STREAMING_TEXT, "stop")),
        chunks: Some(26),
        ..Want::default()
    };
    for content in [true, false] {
        let (run, chunks) = tower_run(
            "openai/test_chat/test_chat_async_streaming.yaml",
            content,
            |c| async move {
                let req = CreateChatCompletionRequest {
                    model: "gpt-3.5-turbo".into(),
                    messages: vec![user(JOKE_PROMPT)],
                    ..Default::default()
                };
                let stream = c.chat().create_stream(req).await.expect("stream starts");
                stream.collect::<Vec<_>>().await
            },
        )
        .await;
        // async-openai got every recorded chunk.
        let chunks: Vec<_> = chunks
            .into_iter()
            .map(|c| c.expect("chunk parses"))
            .collect();
        assert_eq!(chunks.len(), 26);
        let text: String = chunks
            .iter()
            .filter_map(|c| c.choices.first()?.delta.content.clone())
            .collect();
        assert_eq!(text, ASYNC_STREAMING_TEXT);
        assert_eq!(sent(&run)["stream"], true);
        check(&run, &want, content);
    }
}

// ---------------------------------------------------------------------------------------
// Tool calls
// ---------------------------------------------------------------------------------------

const WEATHER_SF: &str = "The weather in San Francisco is 70 degrees and sunny.";

#[tokio::test]
async fn tower_async_openai_test_chat_tool_calls() {
    let want = Want {
        span: "openai.chat",
        operation: "chat",
        response_id: Some("chatcmpl-9gKNZbUWSC4s2Uh2QfVV7PYiqWIuH"),
        response_model: "gpt-3.5-turbo-0125",
        finish_reasons: vec!["stop"],
        input_tokens: Some(40),
        output_tokens: Some(12),
        total_tokens: Some(52),
        input_messages: json!([
            {"role": "assistant", "parts": [
                {"type": "tool_call", "id": "1", "name": "get_current_weather",
                 "arguments": {"location": "San Francisco"}}
            ]},
            {"role": "tool", "parts": [
                {"type": "tool_call_response", "id": "1", "response": WEATHER_SF}
            ]}
        ]),
        output_messages: Some(assistant_text(WEATHER_SF, "stop")),
        ..Want::default()
    };
    for content in [true, false] {
        let (run, resp) = tower_run(
            "openai/test_chat/test_chat_tool_calls.yaml",
            content,
            |c| async move {
                let assistant = ChatCompletionRequestAssistantMessage {
                    tool_calls: Some(vec![ChatCompletionMessageToolCalls::Function(
                        ChatCompletionMessageToolCall {
                            id: "1".into(),
                            function: FunctionCall {
                                name: "get_current_weather".into(),
                                arguments: r#"{"location": "San Francisco"}"#.into(),
                            },
                        },
                    )]),
                    ..Default::default()
                };
                let tool = ChatCompletionRequestToolMessage {
                    content: ChatCompletionRequestToolMessageContent::Text(WEATHER_SF.into()),
                    tool_call_id: "1".into(),
                };
                let req = CreateChatCompletionRequest {
                    model: "gpt-3.5-turbo".into(),
                    messages: vec![assistant.into(), tool.into()],
                    ..Default::default()
                };
                c.chat().create(req).await
            },
        )
        .await;
        let resp = resp.expect("async-openai parsed the response");
        assert_eq!(resp.choices[0].message.content.as_deref(), Some(WEATHER_SF));
        let messages = &sent(&run)["messages"];
        assert_eq!(messages[0]["tool_calls"][0]["id"], "1");
        assert_eq!(messages[1]["tool_call_id"], "1");
        check(&run, &want, content);
    }
}

#[tokio::test]
async fn tower_async_openai_test_open_ai_function_calls_tools() {
    let parameters = json!({
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
        },
        "required": ["location"]
    });
    let want = Want {
        span: "openai.chat",
        operation: "chat",
        response_id: Some("chatcmpl-934OqhoorTmk1VnovIRXQCPk8PUTd"),
        response_model: "gpt-4-0613",
        finish_reasons: vec!["tool_call"],
        input_tokens: Some(82),
        output_tokens: Some(16),
        total_tokens: Some(98),
        input_messages: user_text("What's the weather like in Boston?"),
        output_messages: Some(json!([{"role": "assistant", "parts": [
            {"type": "tool_call", "id": "call_b4lU3wKOqwO7Xb2Ksok2XWyB",
             "name": "get_current_weather", "arguments": {"location": "Boston"}}
        ], "finish_reason": "tool_call"}])),
        tool_definitions: Some(json!([{
            "type": "function",
            "name": "get_current_weather",
            "description": "Get the current weather in a given location",
            "parameters": parameters.clone()
        }])),
        ..Want::default()
    };
    for content in [true, false] {
        let parameters = parameters.clone();
        let (run, resp) = tower_run(
            "openai/test_functions/test_open_ai_function_calls_tools.yaml",
            content,
            |c| async move {
                let tool = ChatCompletionTools::Function(ChatCompletionTool {
                    function: FunctionObject {
                        name: "get_current_weather".into(),
                        description: Some("Get the current weather in a given location".into()),
                        parameters: Some(parameters),
                        strict: None,
                    },
                });
                let req = CreateChatCompletionRequest {
                    model: "gpt-4".into(),
                    messages: vec![user("What's the weather like in Boston?")],
                    tools: Some(vec![tool]),
                    tool_choice: Some(ChatCompletionToolChoiceOption::Mode(
                        ToolChoiceOptions::Auto,
                    )),
                    ..Default::default()
                };
                c.chat().create(req).await
            },
        )
        .await;
        let resp = resp.expect("async-openai parsed the response");
        match resp.choices[0].message.tool_calls.as_deref() {
            Some([ChatCompletionMessageToolCalls::Function(call)]) => {
                assert_eq!(call.id, "call_b4lU3wKOqwO7Xb2Ksok2XWyB");
                assert_eq!(call.function.arguments, "{\n  \"location\": \"Boston\"\n}");
            }
            other => panic!("tool calls {other:?}"),
        }
        assert_eq!(sent(&run)["tool_choice"], "auto");
        check(&run, &want, content);
    }
}

#[tokio::test]
async fn tower_async_openai_test_open_ai_function_calls_tools_streaming() {
    let parameters = json!({
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"}
        },
        "required": ["location"]
    });
    let want = Want {
        span: "openai.chat",
        operation: "chat",
        response_id: Some("chatcmpl-9g4TmLd49mPoD6c0EnGlhNAp8b0on"),
        response_model: "gpt-3.5-turbo-0125",
        finish_reasons: vec!["tool_call"],
        input_messages: user_text("What's the weather like in San Francisco?"),
        output_messages: Some(json!([{"role": "assistant", "parts": [
            {"type": "tool_call", "id": "call_90R0NgAY0rQUYihSqVx7OuIs",
             "name": "get_current_weather", "arguments": {"location": "San Francisco, CA"}}
        ], "finish_reason": "tool_call"}])),
        tool_definitions: Some(json!([{
            "type": "function",
            "name": "get_current_weather",
            "description": "Get the current weather",
            "parameters": parameters.clone()
        }])),
        chunks: Some(10),
        ..Want::default()
    };
    for content in [true, false] {
        let parameters = parameters.clone();
        let (run, chunks) = tower_run(
            "openai/test_functions/test_open_ai_function_calls_tools_streaming.yaml",
            content,
            |c| async move {
                let tool = ChatCompletionTools::Function(ChatCompletionTool {
                    function: FunctionObject {
                        name: "get_current_weather".into(),
                        description: Some("Get the current weather".into()),
                        parameters: Some(parameters),
                        strict: None,
                    },
                });
                let req = CreateChatCompletionRequest {
                    model: "gpt-3.5-turbo".into(),
                    messages: vec![user("What's the weather like in San Francisco?")],
                    tools: Some(vec![tool]),
                    ..Default::default()
                };
                let stream = c.chat().create_stream(req).await.expect("stream starts");
                stream.collect::<Vec<_>>().await
            },
        )
        .await;
        let chunks: Vec<_> = chunks
            .into_iter()
            .map(|c| c.expect("chunk parses"))
            .collect();
        assert_eq!(chunks.len(), 10);
        let arguments: String = chunks
            .iter()
            .flat_map(|c| c.choices.iter())
            .flat_map(|c| c.delta.tool_calls.iter().flatten())
            .filter_map(|t| t.function.as_ref()?.arguments.clone())
            .collect();
        assert_eq!(arguments, r#"{"location":"San Francisco, CA"}"#);
        check(&run, &want, content);
    }
}

// ---------------------------------------------------------------------------------------
// Embeddings
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn tower_async_openai_test_embeddings() {
    let want = Want {
        span: "openai.embeddings",
        operation: "embeddings",
        response_model: "text-embedding-ada-002",
        input_tokens: Some(8),
        total_tokens: Some(8),
        dimensions: Some(1536),
        input_messages: user_text(JOKE_PROMPT),
        ..Want::default()
    };
    for content in [true, false] {
        let (run, resp) = tower_run(
            "openai/test_embeddings/test_embeddings.yaml",
            content,
            |c| async move {
                let req = CreateEmbeddingRequest {
                    model: "text-embedding-ada-002".into(),
                    input: EmbeddingInput::String(JOKE_PROMPT.into()),
                    encoding_format: Some(EncodingFormat::Base64),
                    ..Default::default()
                };
                c.embeddings().create_base64(req).await
            },
        )
        .await;
        let resp = resp.expect("async-openai parsed the response");
        assert_eq!(resp.model, "text-embedding-ada-002");
        assert_eq!(resp.usage.prompt_tokens, 8);
        assert_eq!(resp.data.len(), 1);
        // The exact request upstream recorded.
        assert_eq!(
            sent(&run),
            json!({"input": JOKE_PROMPT, "model": "text-embedding-ada-002", "encoding_format": "base64"})
        );
        let span = run.capture.span("openai.embeddings");
        assert_eq!(
            attr_str_array(&span, "gen_ai.request.encoding_formats"),
            Some(vec!["base64".to_string()])
        );
        check(&run, &want, content);
    }
}

// ---------------------------------------------------------------------------------------
// Retries (issue 10 item 14)
// ---------------------------------------------------------------------------------------

/// A loopback server that answers `429` (with `Retry-After: 0`, so the client retries at
/// once) to its first request and the recorded chat completion to the others. Each response
/// closes its connection. Returns the base URL and the number of requests answered.
async fn rate_limited_once() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ok_body = Cassette::load_named("openai/test_chat/test_chat.yaml")
        .expect("cassette loads")
        .interactions[0]
        .response
        .decoded_body();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let ok_body = ok_body.clone();
            let count = count.clone();
            tokio::spawn(async move {
                // Read the head, then the body by Content-Length.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let n = conn.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break p + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while buf.len() < head_end + len {
                    let n = conn.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let (status, body) = if count.fetch_add(1, Ordering::SeqCst) == 0 {
                    (
                        "429 Too Many Requests",
                        br#"{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#.to_vec(),
                    )
                } else {
                    ("200 OK", ok_body)
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\nretry-after: 0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes()).await;
                let _ = conn.write_all(&body).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    (base, served)
}

/// Runs one chat call with `client`; returns the spans.
async fn retried_chat(client: Client<OpenAIConfig>, capture: &Capture) -> Vec<SpanData> {
    let req = CreateChatCompletionRequest {
        model: "gpt-3.5-turbo".into(),
        messages: vec![user(JOKE_PROMPT)],
        ..Default::default()
    };
    let resp = tokio::time::timeout(
        std::time::Duration::from_secs(15),
        client.chat().create(req),
    )
    .await
    .expect("the call finished");
    let resp = resp.expect("the retry succeeded");
    assert_eq!(
        resp.choices[0].message.content.as_deref(),
        Some(TEST_CHAT_ANSWER)
    );
    capture.flush();
    capture.spans_named("openai.chat")
}

fn client(service_base: String) -> OpenAIConfig {
    OpenAIConfig::new()
        .with_api_base(service_base)
        .with_api_key("sk-test")
}

/// Layer inside async-openai's retry layer: one span per attempt, each with its real status.
#[tokio::test]
async fn tower_inside_retry_layer_records_each_attempts_status() {
    use async_openai::middleware::retry::OpenAIRetryLayer;
    let (base, served) = rate_limited_once().await;
    let capture = Capture::with_resource(opentelemetry_sdk::Resource::builder_empty().build());
    let instr = instrumentation(&capture, Opts::default(), Arc::default());
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let service = tower::ServiceBuilder::new()
        .layer(OpenAIRetryLayer::new(2))
        .layer(OpenLlmLayer::with_instrumentation(instr))
        .service(ReqwestService::new(http));
    let client = Client::with_config(client(base)).with_http_service(service);
    let mut spans = retried_chat(client, &capture).await;
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 2);
    spans.sort_by_key(|s| s.start_time);
    assert_eq!(spans.len(), 2, "{spans:#?}");
    // The 429 attempt carries the error its response body gave (`"type":"requests"`).
    assert_eq!(attr_str(&spans[0], "error.type"), Some("requests"));
    assert!(matches!(spans[0].status, Status::Error { .. }));
    assert_eq!(attr_str(&spans[1], "error.type"), None);
    assert_eq!(spans[1].status, Status::Unset);
}

/// Layer outside the retry layer: the retried attempt's response is consumed by the retry
/// layer; its span says it was retried, never that the caller cancelled it.
#[tokio::test]
async fn tower_outside_retry_layer_marks_the_earlier_attempt_retried_not_cancelled() {
    use async_openai::middleware::retry::OpenAIRetryLayer;
    let (base, served) = rate_limited_once().await;
    let capture = Capture::with_resource(opentelemetry_sdk::Resource::builder_empty().build());
    let instr = instrumentation(&capture, Opts::default(), Arc::default());
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let service = tower::ServiceBuilder::new()
        .layer(OpenLlmLayer::with_instrumentation(instr))
        .layer(OpenAIRetryLayer::new(2))
        .service(ReqwestService::new(http));
    let client = Client::with_config(client(base)).with_http_service(service);
    let mut spans = retried_chat(client, &capture).await;
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 2);
    spans.sort_by_key(|s| s.start_time);
    assert_eq!(spans.len(), 2, "{spans:#?}");
    assert_eq!(
        attr_str(&spans[0], "error.type"),
        Some(openllmetry_http::RETRIED)
    );
    assert_eq!(attr_str(&spans[1], "error.type"), None);
    assert_eq!(spans[1].status, Status::Unset);
}
