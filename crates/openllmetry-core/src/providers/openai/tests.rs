//! Tests of the OpenAI parsers.
//!
//! `testdata/` holds bodies and streams decoded byte-for-byte from the vendored cassettes in
//! `crates/openllmetry-replay/cassettes/openllmetry/openai/` (gzip bodies inflated):
//!
//! | file | cassette, interaction |
//! |---|---|
//! | `chat.{request,response}.json` | `test_chat/test_chat.yaml`, 0 |
//! | `tools_parallel.{request,response}.json` | `test_functions/test_open_ai_function_calls_tools_parallel.yaml`, 1 |
//! | `function_call.{request,response}.json` | `test_functions/test_open_ai_function_calls.yaml`, 2 |
//! | `tool_history.request.json` | `test_chat/test_chat_pydantic_based_tool_calls.yaml`, 1 |
//! | `reasoning.{request,response}.json` | `test_chat/test_chat_reasoning.yaml`, 0 |
//! | `chat_stream.sse` | `test_chat/test_chat_async_streaming.yaml`, 0 |
//! | `tools_parallel_stream.sse` | `test_functions/test_open_ai_function_calls_tools_streaming_parallel.yaml`, 1 |
//! | `usage_stream.sse` | `test_streaming_with_api_usage/test_streaming_with_api_usage_capture.yaml`, 0 (DeepSeek) |
//! | `embeddings.{request,response}.json` | `test_embeddings/test_embeddings.yaml`, 0 |
//! | `embeddings_error.response.json` | `test_embeddings/test_azure_openai_embeddings.yaml`, 2 (HTTP 401) |
//!
//! The expected values of the cassette tests were read from those files.

use super::*;
use crate::record::{MAX_STREAM_CONTENT_BYTES, MAX_STREAM_ENTRIES, RequestParams};
use crate::sse::SseParser;
use crate::{Operation, RequestRecord, ResponseRecord, SseEvent};
use openllmetry_semconv::message::{ChatMessage, OutputMessage, ToolDefinition};
use proptest::prelude::*;
use serde_json::json;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn req(op: Operation, body: Value) -> (RequestRecord, Vec<FaultKind>) {
    let mut faults = Vec::new();
    let r = parse_request(op, body.to_string().as_bytes(), &mut faults);
    (r, faults)
}

fn resp(op: Operation, body: Value) -> (ResponseRecord, Vec<FaultKind>) {
    let mut faults = Vec::new();
    let r = parse_response(op, body.to_string().as_bytes(), &mut faults);
    (r, faults)
}

/// Feeds JSON values as `data:` events without `event:` names; returns the accumulator,
/// the faults and the number of events `push` counted as output chunks.
fn stream(op: Operation, events: &[Value]) -> (StreamAccumulator, Vec<FaultKind>, usize) {
    let mut acc = StreamAccumulator::new(op);
    let mut faults = Vec::new();
    let mut chunks = 0;
    for e in events {
        let data = e.to_string();
        if acc.push(&SseEvent::data(&data), &mut faults) {
            chunks += 1;
        }
    }
    (acc, faults, chunks)
}

/// Feeds raw `data:` strings.
fn stream_raw(op: Operation, events: &[&str]) -> (StreamAccumulator, Vec<FaultKind>, usize) {
    let mut acc = StreamAccumulator::new(op);
    let mut faults = Vec::new();
    let mut chunks = 0;
    for data in events {
        if acc.push(&SseEvent::data(data), &mut faults) {
            chunks += 1;
        }
    }
    (acc, faults, chunks)
}

/// Parses a recorded SSE body with the crate's SSE parser and feeds every event.
fn replay(op: Operation, sse: &str) -> (StreamAccumulator, Vec<FaultKind>, usize) {
    let mut parser = SseParser::default();
    let mut acc = StreamAccumulator::new(op);
    let mut faults = Vec::new();
    let mut acc_faults = Vec::new();
    let mut chunks = 0;
    parser.push(
        sse.as_bytes(),
        |e| {
            if acc.push(&e, &mut acc_faults) {
                chunks += 1;
            }
        },
        &mut faults,
    );
    faults.append(&mut acc_faults);
    (acc, faults, chunks)
}

fn text(s: &str) -> Part {
    Part::text(s)
}

fn call(id: Option<&str>, name: &str, arguments: Value) -> Part {
    Part::ToolCall {
        id: id.map(str::to_owned),
        name: name.to_owned(),
        arguments: Some(arguments),
    }
}

fn generic(v: Value) -> Part {
    match v {
        Value::Object(m) => Part::Generic(m),
        other => panic!("not an object: {other}"),
    }
}

fn only_message(r: &ResponseRecord) -> &OutputMessage {
    assert_eq!(r.output_messages.len(), 1, "{r:?}");
    &r.output_messages[0]
}

fn count(faults: &[FaultKind], kind: FaultKind) -> usize {
    faults.iter().filter(|&&k| k == kind).count()
}

// ---------------------------------------------------------------------------------------
// Finish reasons
// ---------------------------------------------------------------------------------------

#[test]
fn finish_reason_table() {
    for (raw, want) in [
        ("tool_calls", "tool_call"),
        ("function_call", "tool_call"),
        ("stop", "stop"),
        ("length", "length"),
        ("content_filter", "content_filter"),
        (
            "insufficient_system_resource",
            "insufficient_system_resource",
        ),
        ("", ""),
    ] {
        assert_eq!(map_finish_reason(raw), want, "{raw}");
    }
}

// ---------------------------------------------------------------------------------------
// Chat requests
// ---------------------------------------------------------------------------------------

#[test]
fn chat_request_parameters() {
    let (r, f) = req(
        Operation::Chat,
        json!({
            "model": "gpt-4o", "stream": true, "max_tokens": 100, "temperature": 0.5,
            "top_p": 0.9, "frequency_penalty": 0.1, "presence_penalty": -0.2, "stop": "END",
            "seed": 42, "n": 2, "service_tier": "flex", "reasoning_effort": "low",
            "messages": [],
        }),
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(r.model.as_deref(), Some("gpt-4o"));
    assert!(r.stream);
    assert_eq!(
        r.params,
        RequestParams {
            max_tokens: Some(100),
            temperature: Some(0.5),
            top_p: Some(0.9),
            frequency_penalty: Some(0.1),
            presence_penalty: Some(-0.2),
            stop_sequences: vec!["END".to_owned()],
            seed: Some(42),
            choice_count: Some(2),
            service_tier: Some("flex".to_owned()),
            reasoning_effort: Some("low".to_owned()),
            ..RequestParams::default()
        }
    );
}

#[test]
fn chat_request_max_completion_tokens_and_stop_list() {
    let (r, f) = req(
        Operation::Chat,
        json!({"model": "o3", "max_completion_tokens": 256, "stop": ["a", "b"], "messages": []}),
    );
    assert!(f.is_empty(), "{f:?}");
    assert!(!r.stream);
    assert_eq!(r.params.max_tokens, Some(256));
    assert_eq!(r.params.stop_sequences, ["a", "b"]);
    // `max_tokens` wins when both are sent.
    let (r, _) = req(
        Operation::Chat,
        json!({"max_tokens": 1, "max_completion_tokens": 2}),
    );
    assert_eq!(r.params.max_tokens, Some(1));
}

#[test]
fn chat_request_response_format() {
    let (r, f) = req(
        Operation::Chat,
        json!({"response_format": {"type": "text"}}),
    );
    assert!(f.is_empty());
    assert_eq!(r.params.output_type.as_deref(), Some("text"));
    assert_eq!(r.params.structured_output_schema, None);

    let (r, _) = req(
        Operation::Chat,
        json!({"response_format": {"type": "json_object"}}),
    );
    assert_eq!(r.params.output_type.as_deref(), Some("json"));
    assert_eq!(r.params.structured_output_schema, None);

    let schema = json!({"type": "object", "properties": {"name": {"type": "string"}},
                        "required": ["name"], "additionalProperties": false});
    let (r, f) = req(
        Operation::Chat,
        json!({"response_format": {"type": "json_schema",
            "json_schema": {"name": "person", "strict": true, "schema": schema}}}),
    );
    assert!(f.is_empty());
    assert_eq!(r.params.output_type.as_deref(), Some("json"));
    let s = r.params.structured_output_schema.unwrap();
    assert!(!s.contains(' ') && !s.contains('\n'), "compact: {s}");
    assert_eq!(serde_json::from_str::<Value>(&s).unwrap(), schema);
}

#[test]
fn chat_request_string_content_and_name() {
    let (r, f) = req(
        Operation::Chat,
        json!({"messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi", "name": "alice"},
            {"role": "developer", "content": ""},
        ]}),
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(
        r.input_messages,
        vec![
            ChatMessage {
                role: "system".into(),
                parts: vec![text("Be brief.")],
                name: None
            },
            ChatMessage {
                role: "user".into(),
                parts: vec![text("Hi")],
                name: Some("alice".into())
            },
            ChatMessage {
                role: "developer".into(),
                parts: vec![text("")],
                name: None
            },
        ]
    );
    assert!(r.system_instructions.is_empty());
}

#[test]
fn chat_request_content_blocks() {
    let unknown = json!({"type": "video_url", "video_url": {"url": "https://v"}});
    let file_data = json!({"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"}});
    let (r, f) = req(
        Operation::Chat,
        json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
            {"type": "file", "file": {"file_id": "file-abc"}},
            file_data,
            unknown,
        ]}]}),
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(
        r.input_messages[0].parts,
        vec![
            text("What is this?"),
            Part::Blob {
                mime_type: Some("image/png".into()),
                modality: "image".into(),
                content: "iVBORw0KGgo=".into()
            },
            Part::Uri {
                mime_type: None,
                modality: "image".into(),
                uri: "https://example.com/cat.jpg".into()
            },
            Part::Blob {
                mime_type: Some("audio/wav".into()),
                modality: "audio".into(),
                content: "UklGRg==".into()
            },
            Part::File {
                mime_type: None,
                modality: "document".into(),
                file_id: "file-abc".into()
            },
            generic(file_data),
            generic(unknown),
        ]
    );
}

#[test]
fn data_uri_parsing() {
    assert_eq!(
        data_uri("data:image/jpeg;base64,/9j/4A"),
        Some((Some("image/jpeg"), "/9j/4A"))
    );
    assert_eq!(data_uri("DATA:;base64,AAAA"), Some((None, "AAAA")));
    assert_eq!(data_uri("data:text/plain,hello"), None);
    assert_eq!(data_uri("data:image/png;base64"), None);
    assert_eq!(data_uri("https://x/y.png"), None);
    assert_eq!(data_uri("dat"), None);
    assert_eq!(data_uri("é"), None);
    // A non-base64 data URI stays a URI.
    assert!(matches!(url_part("data:,x", "image"), Part::Uri { .. }));
}

#[test]
fn chat_request_tool_messages() {
    let (r, f) = req(
        Operation::Chat,
        json!({"messages": [
            {"role": "tool", "tool_call_id": "call_1", "content": "70 degrees"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "x"}]},
        ]}),
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(
        r.input_messages[0],
        ChatMessage {
            role: "tool".into(),
            parts: vec![Part::ToolCallResponse {
                id: Some("call_1".into()),
                response: json!("70 degrees")
            }],
            name: None
        }
    );
    assert_eq!(
        r.input_messages[1].parts,
        vec![Part::ToolCallResponse {
            id: Some("call_2".into()),
            response: json!([{"type": "text", "text": "x"}])
        }]
    );
}

#[test]
fn chat_request_assistant_tool_calls() {
    let (r, f) = req(
        Operation::Chat,
        json!({"messages": [
            {"role": "assistant", "content": "Let me check.", "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "weather", "arguments": "{\"city\": \"Paris\"}"}},
                {"id": "call_2", "type": "function",
                 "function": {"name": "search", "arguments": "{not json"}},
            ]},
            {"role": "assistant", "content": null,
             "function_call": {"name": "legacy", "arguments": "{\"a\":1}"}},
            {"role": "assistant", "content": null},
        ]}),
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(
        r.input_messages[0].parts,
        vec![
            text("Let me check."),
            call(Some("call_1"), "weather", json!({"city": "Paris"})),
            call(Some("call_2"), "search", json!("{not json")),
        ]
    );
    assert_eq!(
        r.input_messages[1].parts,
        vec![call(None, "legacy", json!({"a": 1}))]
    );
    assert_eq!(r.input_messages[2].role, "assistant");
    assert!(r.input_messages[2].parts.is_empty());
}

#[test]
fn chat_request_tools_and_functions() {
    let params = json!({"type": "object", "properties": {"city": {"type": "string"}}});
    let (r, f) = req(
        Operation::Chat,
        json!({
            "tools": [
                {"type": "function", "function": {"name": "weather", "description": "Get weather", "parameters": params}},
                {"function": {"name": "bare"}},
                {"type": "custom", "custom": {"name": "sql", "description": "Run SQL"}},
            ],
            "functions": [{"name": "legacy", "description": "Old style", "parameters": params}],
        }),
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(
        r.tool_definitions,
        vec![
            ToolDefinition {
                kind: "function".into(),
                name: "weather".into(),
                description: Some("Get weather".into()),
                parameters: Some(params.clone())
            },
            ToolDefinition {
                kind: "function".into(),
                name: "bare".into(),
                description: None,
                parameters: None
            },
            ToolDefinition {
                kind: "custom".into(),
                name: "sql".into(),
                description: Some("Run SQL".into()),
                parameters: None
            },
            ToolDefinition {
                kind: "function".into(),
                name: "legacy".into(),
                description: Some("Old style".into()),
                parameters: Some(params)
            },
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Legacy completions and embeddings requests
// ---------------------------------------------------------------------------------------

#[test]
fn completion_request_prompts() {
    let (r, f) = req(
        Operation::TextCompletion,
        json!({"model": "gpt-3.5-turbo-instruct", "prompt": "Say this", "max_tokens": 7,
               "temperature": 0, "stop": ["\n"], "n": 1, "stream": false}),
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(r.model.as_deref(), Some("gpt-3.5-turbo-instruct"));
    assert_eq!(r.params.max_tokens, Some(7));
    assert_eq!(r.params.temperature, Some(0.0));
    assert_eq!(r.params.stop_sequences, ["\n"]);
    assert_eq!(r.params.choice_count, Some(1));
    assert_eq!(
        r.input_messages,
        vec![ChatMessage {
            role: "user".into(),
            parts: vec![text("Say this")],
            name: None
        }]
    );

    let (r, f) = req(Operation::TextCompletion, json!({"prompt": ["one", "two"]}));
    assert!(f.is_empty());
    assert_eq!(r.input_messages.len(), 1);
    assert_eq!(r.input_messages[0].parts, vec![text("one"), text("two")]);
}

#[test]
fn embeddings_request_inputs() {
    let (r, f) = req(
        Operation::Embeddings,
        json!({"model": "text-embedding-3-small", "input": "hello", "encoding_format": "float"}),
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(r.model.as_deref(), Some("text-embedding-3-small"));
    assert_eq!(r.params.encoding_formats, ["float"]);
    assert_eq!(r.input_messages.len(), 1);
    assert_eq!(r.input_messages[0].role, "user");
    assert_eq!(r.input_messages[0].parts, vec![text("hello")]);

    let texts = |r: &RequestRecord| -> Vec<Vec<Part>> {
        r.input_messages.iter().map(|m| m.parts.clone()).collect()
    };
    let (r, _) = req(Operation::Embeddings, json!({"input": ["a", "b"]}));
    assert_eq!(texts(&r), vec![vec![text("a")], vec![text("b")]]);
    assert!(r.params.encoding_formats.is_empty());
    let (r, _) = req(Operation::Embeddings, json!({"input": [1, 2, 3]}));
    assert_eq!(texts(&r), vec![vec![text("[1,2,3]")]]);
    let (r, _) = req(Operation::Embeddings, json!({"input": [[1, 2], [3]]}));
    assert_eq!(texts(&r), vec![vec![text("[1,2]")], vec![text("[3]")]]);
}

// ---------------------------------------------------------------------------------------
// Responses API requests
// ---------------------------------------------------------------------------------------

#[test]
fn responses_request_parameters_and_string_input() {
    let params = json!({"type": "object", "properties": {}});
    let schema = json!({"type": "object", "properties": {"a": {"type": "integer"}}});
    let (r, f) = req(
        Operation::Responses,
        json!({
            "model": "gpt-5", "stream": true, "instructions": "You are terse.",
            "input": "Hello", "max_output_tokens": 500, "temperature": 1.0, "top_p": 0.5,
            "reasoning": {"effort": "high", "summary": "auto"}, "service_tier": "priority",
            "tools": [
                {"type": "function", "name": "lookup", "description": "Look up", "parameters": params, "strict": true},
                {"type": "web_search"},
            ],
            "text": {"format": {"type": "json_schema", "name": "out", "schema": schema, "strict": true}},
        }),
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(r.model.as_deref(), Some("gpt-5"));
    assert!(r.stream);
    assert_eq!(r.params.max_tokens, Some(500));
    assert_eq!(r.params.temperature, Some(1.0));
    assert_eq!(r.params.top_p, Some(0.5));
    assert_eq!(r.params.reasoning_effort.as_deref(), Some("high"));
    assert_eq!(r.params.service_tier.as_deref(), Some("priority"));
    assert_eq!(r.params.output_type.as_deref(), Some("json"));
    let s = r.params.structured_output_schema.as_deref().unwrap();
    assert_eq!(serde_json::from_str::<Value>(s).unwrap(), schema);
    assert_eq!(r.system_instructions, vec![text("You are terse.")]);
    assert_eq!(
        r.input_messages,
        vec![ChatMessage {
            role: "user".into(),
            parts: vec![text("Hello")],
            name: None
        }]
    );
    assert_eq!(
        r.tool_definitions,
        vec![ToolDefinition {
            kind: "function".into(),
            name: "lookup".into(),
            description: Some("Look up".into()),
            parameters: Some(params)
        }]
    );

    let (r, _) = req(
        Operation::Responses,
        json!({"text": {"format": {"type": "text"}}}),
    );
    assert_eq!(r.params.output_type.as_deref(), Some("text"));
}

#[test]
fn responses_request_items() {
    let (r, f) = req(
        Operation::Responses,
        json!({"input": [
            {"role": "user", "content": "plain"},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "Look:"},
                {"type": "input_image", "image_url": "https://x/y.png", "detail": "auto"},
                {"type": "input_image", "image_url": "data:image/webp;base64,UklG"},
                {"type": "input_image", "file_id": "file-img"},
                {"type": "input_file", "file_id": "file-doc"},
                {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"},
            ]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Earlier answer"}]},
            {"type": "function_call", "call_id": "call_9", "name": "lookup", "arguments": "{\"q\":\"x\"}"},
            {"type": "function_call_output", "call_id": "call_9", "output": "result"},
            {"type": "reasoning", "summary": []},
        ]}),
    );
    assert!(f.is_empty(), "{f:?}");
    let msg = |role: &str, parts: Vec<Part>| ChatMessage {
        role: role.into(),
        parts,
        name: None,
    };
    assert_eq!(
        r.input_messages,
        vec![
            msg("user", vec![text("plain")]),
            msg(
                "user",
                vec![
                    text("Look:"),
                    Part::Uri {
                        mime_type: None,
                        modality: "image".into(),
                        uri: "https://x/y.png".into()
                    },
                    Part::Blob {
                        mime_type: Some("image/webp".into()),
                        modality: "image".into(),
                        content: "UklG".into()
                    },
                    Part::File {
                        mime_type: None,
                        modality: "image".into(),
                        file_id: "file-img".into()
                    },
                    Part::File {
                        mime_type: None,
                        modality: "document".into(),
                        file_id: "file-doc".into()
                    },
                    Part::Blob {
                        mime_type: Some("application/pdf".into()),
                        modality: "document".into(),
                        content: "JVBE".into()
                    },
                ]
            ),
            msg("assistant", vec![text("Earlier answer")]),
            msg(
                "assistant",
                vec![call(Some("call_9"), "lookup", json!({"q": "x"}))]
            ),
            msg(
                "tool",
                vec![Part::ToolCallResponse {
                    id: Some("call_9".into()),
                    response: json!("result")
                }]
            ),
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Chat responses
// ---------------------------------------------------------------------------------------

#[test]
fn chat_response_basic_and_usage() {
    let (r, f) = resp(
        Operation::Chat,
        json!({
            "id": "chatcmpl-1", "model": "gpt-4o-2024-08-06", "system_fingerprint": "fp_1",
            "service_tier": "default",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!", "refusal": null},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
                      "prompt_tokens_details": {"cached_tokens": 4},
                      "completion_tokens_details": {"reasoning_tokens": 2}},
        }),
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(r.id.as_deref(), Some("chatcmpl-1"));
    assert_eq!(r.model.as_deref(), Some("gpt-4o-2024-08-06"));
    assert_eq!(r.system_fingerprint.as_deref(), Some("fp_1"));
    assert_eq!(r.service_tier.as_deref(), Some("default"));
    assert_eq!(
        r.usage,
        Usage {
            input_tokens: Some(10),
            output_tokens: Some(5),
            total_tokens: Some(15),
            cache_read_input_tokens: Some(4),
            cache_creation_input_tokens: None,
            reasoning_output_tokens: Some(2),
        }
    );
    assert_eq!(r.finish_reasons, ["stop"]);
    assert_eq!(
        only_message(&r),
        &OutputMessage {
            role: "assistant".into(),
            parts: vec![text("Hi!")],
            name: None,
            finish_reason: "stop".into()
        }
    );
    assert_eq!(r.error, None);
    assert_eq!((r.embedding_count, r.embedding_dimensions), (None, None));
}

#[test]
fn chat_response_usage_is_never_estimated() {
    let (r, _) = resp(Operation::Chat, json!({"choices": []}));
    assert_eq!(r.usage, Usage::default());
    // A total missing from the report is the sum of the reported counts.
    let (r, _) = resp(
        Operation::Chat,
        json!({"usage": {"prompt_tokens": 3, "completion_tokens": 4}}),
    );
    assert_eq!(r.usage.total_tokens, Some(7));
    assert_eq!(r.usage.cache_read_input_tokens, None);
    let (r, _) = resp(Operation::Chat, json!({"usage": {"prompt_tokens": 3}}));
    assert_eq!(
        (
            r.usage.input_tokens,
            r.usage.output_tokens,
            r.usage.total_tokens
        ),
        (Some(3), None, None)
    );
}

#[test]
fn chat_response_parts_and_finish_reasons() {
    let (r, f) = resp(
        Operation::Chat,
        json!({"choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Answer",
                "reasoning_content": "Thinking...", "refusal": null}, "finish_reason": "length"},
            {"index": 1, "message": {"role": "assistant", "content": null, "refusal": "I can't."},
                "finish_reason": "content_filter"},
            {"index": 2, "message": {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{\"x\":1}"}},
                {"id": "call_b", "type": "function", "function": {"name": "g", "arguments": "oops"}},
            ]}, "finish_reason": "tool_calls"},
            {"index": 3, "message": {"content": null,
                "function_call": {"name": "legacy", "arguments": "{}"}}, "finish_reason": "function_call"},
            {"index": 4, "message": {"role": "assistant", "content": "partial", "reasoning": "hmm"}},
        ]}),
    );
    assert!(f.is_empty(), "{f:?}");
    let parts: Vec<_> = r.output_messages.iter().map(|m| m.parts.clone()).collect();
    assert_eq!(
        parts,
        vec![
            vec![
                text("Answer"),
                Part::Reasoning {
                    content: "Thinking...".into()
                }
            ],
            vec![generic(json!({"type": "refusal", "content": "I can't."}))],
            vec![
                call(Some("call_a"), "f", json!({"x": 1})),
                call(Some("call_b"), "g", json!("oops")),
            ],
            vec![call(None, "legacy", json!({}))],
            vec![
                text("partial"),
                Part::Reasoning {
                    content: "hmm".into()
                }
            ],
        ]
    );
    let reasons: Vec<_> = r
        .output_messages
        .iter()
        .map(|m| m.finish_reason.as_str())
        .collect();
    assert_eq!(
        reasons,
        ["length", "content_filter", "tool_call", "tool_call", ""]
    );
    // Only choices that reported a reason.
    assert_eq!(
        r.finish_reasons,
        ["length", "content_filter", "tool_call", "tool_call"]
    );
    assert!(r.output_messages.iter().all(|m| m.role == "assistant"));
}

#[test]
fn chat_response_error_bodies() {
    for (body, want) in [
        (
            json!({"error": {"message": "x", "type": "invalid_request_error", "code": "bad"}}),
            "invalid_request_error",
        ),
        (json!({"error": {"message": "x", "code": "401"}}), "401"),
        (json!({"error": {"message": "x", "code": 429}}), "429"),
        (
            json!({"error": {"message": "x", "type": null}}),
            "api_error",
        ),
        (json!({"error": "model not found"}), "api_error"),
    ] {
        for op in [
            Operation::Chat,
            Operation::TextCompletion,
            Operation::Embeddings,
            Operation::Responses,
        ] {
            let (r, f) = resp(op, body.clone());
            assert!(f.is_empty(), "{body} {f:?}");
            assert_eq!(
                r.error.as_ref().map(|e| e.error_type.as_str()),
                Some(want),
                "{op:?} {body}"
            );
            assert!(r.output_messages.is_empty());
        }
    }
    let (r, _) = resp(Operation::Chat, json!({"error": null, "choices": []}));
    assert_eq!(r.error, None);
}

#[test]
fn completion_response() {
    let (r, f) = resp(
        Operation::TextCompletion,
        json!({"id": "cmpl-1", "object": "text_completion", "model": "gpt-3.5-turbo-instruct",
               "choices": [{"text": "\n\nThis is a test.", "index": 0, "logprobs": null, "finish_reason": "length"},
                           {"text": "", "index": 1, "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}),
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(r.id.as_deref(), Some("cmpl-1"));
    assert_eq!(r.model.as_deref(), Some("gpt-3.5-turbo-instruct"));
    assert_eq!(r.output_messages.len(), 2);
    assert_eq!(
        r.output_messages[0].parts,
        vec![text("\n\nThis is a test.")]
    );
    assert!(r.output_messages[1].parts.is_empty());
    assert_eq!(r.finish_reasons, ["length", "stop"]);
    assert_eq!(
        (
            r.usage.input_tokens,
            r.usage.output_tokens,
            r.usage.total_tokens
        ),
        (Some(5), Some(7), Some(12))
    );
}

// ---------------------------------------------------------------------------------------
// Embeddings responses
// ---------------------------------------------------------------------------------------

#[test]
fn embeddings_response_float_vectors() {
    let (r, f) = resp(
        Operation::Embeddings,
        json!({"object": "list", "model": "text-embedding-3-small",
               "data": [{"object": "embedding", "index": 0, "embedding": [0.1, -0.2, 0.3, 0.4]},
                        {"object": "embedding", "index": 1, "embedding": [0.5, 0.6, 0.7, 0.8]}],
               "usage": {"prompt_tokens": 6, "total_tokens": 6}}),
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(r.model.as_deref(), Some("text-embedding-3-small"));
    assert_eq!(r.embedding_dimensions, Some(4));
    assert_eq!(r.embedding_count, Some(2));
    assert_eq!(
        r.usage,
        Usage {
            input_tokens: Some(6),
            total_tokens: Some(6),
            // OpenLLMetry writes 0 (see `embeddings_cached_tokens_as_upstream_writes_them`).
            cache_read_input_tokens: Some(0),
            ..Usage::default()
        }
    );
    assert!(r.output_messages.is_empty());
    assert!(r.finish_reasons.is_empty());
}

#[test]
fn embeddings_response_base64_vectors() {
    // 3 f32 = 12 bytes = 16 base64 chars; 2 f32 = 8 bytes = "…=" padded.
    let (r, f) = resp(
        Operation::Embeddings,
        json!({"data": [{"embedding": "AACAPwAAAEAAAEBA"}]}),
    );
    assert!(f.is_empty());
    assert_eq!(r.embedding_dimensions, Some(3));
    assert_eq!(r.embedding_count, Some(1));
    let (r, _) = resp(
        Operation::Embeddings,
        json!({"data": [{"embedding": "AACAPwAAAEA="}, {"embedding": "AACAPwAAAEA="}]}),
    );
    assert_eq!(
        (r.embedding_dimensions, r.embedding_count),
        (Some(2), Some(2))
    );
    assert_eq!(response::base64_decoded_len(""), 0);
    assert_eq!(response::base64_decoded_len("AA=="), 1);
    assert_eq!(response::base64_decoded_len("AAA="), 2);
    assert_eq!(response::base64_decoded_len("AAAA"), 3);
    assert_eq!(response::base64_decoded_len("AAAA\nAAAA"), 6);
    assert_eq!(response::base64_decoded_len("-_-_"), 3);
    let (r, _) = resp(Operation::Embeddings, json!({"data": []}));
    assert_eq!((r.embedding_dimensions, r.embedding_count), (None, Some(0)));
}

#[test]
fn embeddings_response_id_and_completion_tokens_when_sent() {
    // vLLM (OpenAI-compatible) sends an id and `completion_tokens: 0`; OpenAI sends neither.
    let (r, f) = resp(
        Operation::Embeddings,
        json!({"id": "embd-1", "object": "list", "model": "e5", "data": [{"embedding": [0.5]}],
               "usage": {"prompt_tokens": 11, "total_tokens": 11, "completion_tokens": 0}}),
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(r.id.as_deref(), Some("embd-1"));
    assert_eq!(r.usage.output_tokens, Some(0));
    assert_eq!(r.usage.input_tokens, Some(11));
}

#[test]
fn embeddings_cached_tokens_as_upstream_writes_them() {
    // OpenLLMetry 0.62.1 `shared/__init__.py::_set_response_attributes`:
    // `dict(usage.get("prompt_tokens_details", {})).get("cached_tokens", 0)` over the
    // embeddings usage model, which declares no `prompt_tokens_details`: 0 when the body has
    // none or has details without `cached_tokens`, the count when sent, none when null.
    let cached = |usage: Value| {
        let (r, f) = resp(
            Operation::Embeddings,
            json!({"data": [{"embedding": [0.5]}], "usage": usage}),
        );
        assert!(f.is_empty(), "{f:?}");
        r.usage.cache_read_input_tokens
    };
    assert_eq!(
        cached(json!({"prompt_tokens": 2, "total_tokens": 2})),
        Some(0)
    );
    assert_eq!(
        cached(json!({"prompt_tokens": 2, "prompt_tokens_details": {"text_tokens": 2}})),
        Some(0)
    );
    assert_eq!(
        cached(json!({"prompt_tokens": 2, "prompt_tokens_details": {"cached_tokens": 1}})),
        Some(1)
    );
    assert_eq!(
        cached(json!({"prompt_tokens": 2, "prompt_tokens_details": null})),
        None
    );
    // No usage object: nothing written upstream either (`if not usage: return`).
    let (r, _) = resp(Operation::Embeddings, json!({"data": []}));
    assert_eq!(r.usage.cache_read_input_tokens, None);
    // Chat keeps "as sent": the chat usage model dumps an absent `prompt_tokens_details` as
    // None, and `dict(None)` stops upstream before it writes anything.
    let (r, _) = resp(
        Operation::Chat,
        json!({"choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3}}),
    );
    assert_eq!(r.usage.cache_read_input_tokens, None);
}

// ---------------------------------------------------------------------------------------
// Responses API responses
// ---------------------------------------------------------------------------------------

fn responses_body(status: &str, output: Value) -> Value {
    json!({"id": "resp_1", "object": "response", "status": status, "model": "gpt-5-2025-08-07",
           "service_tier": "default", "error": null, "incomplete_details": null, "output": output,
           "usage": {"input_tokens": 20, "input_tokens_details": {"cached_tokens": 8},
                     "output_tokens": 30, "output_tokens_details": {"reasoning_tokens": 12},
                     "total_tokens": 50}})
}

#[test]
fn responses_response_output_items() {
    let (r, f) = resp(
        Operation::Responses,
        responses_body(
            "completed",
            json!([
                {"type": "reasoning", "id": "rs_1", "summary": [
                    {"type": "summary_text", "text": "First."},
                    {"type": "summary_text", "text": "Second."}]},
                {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed", "content": [
                    {"type": "output_text", "text": "Hello", "annotations": []},
                    {"type": "refusal", "refusal": "Not that."}]},
                {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "lookup",
                 "arguments": "{\"q\":\"rust\"}", "status": "completed"},
            ]),
        ),
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(r.id.as_deref(), Some("resp_1"));
    assert_eq!(r.model.as_deref(), Some("gpt-5-2025-08-07"));
    assert_eq!(r.service_tier.as_deref(), Some("default"));
    assert_eq!(r.error, None);
    assert_eq!(
        r.usage,
        Usage {
            input_tokens: Some(20),
            output_tokens: Some(30),
            total_tokens: Some(50),
            cache_read_input_tokens: Some(8),
            cache_creation_input_tokens: None,
            reasoning_output_tokens: Some(12),
        }
    );
    assert_eq!(
        only_message(&r),
        &OutputMessage {
            role: "assistant".into(),
            parts: vec![
                Part::Reasoning {
                    content: "First.\nSecond.".into()
                },
                text("Hello"),
                generic(json!({"type": "refusal", "content": "Not that."})),
                call(Some("call_1"), "lookup", json!({"q": "rust"})),
            ],
            name: None,
            finish_reason: "tool_call".into(),
        }
    );
    assert_eq!(r.finish_reasons, ["tool_call"]);
}

#[test]
fn responses_finish_reason_from_status() {
    let msg = json!([{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "x"}]}]);
    let cases: &[(Value, &str)] = &[
        (responses_body("completed", msg.clone()), "stop"),
        (
            responses_body(
                "completed",
                json!([{"type": "web_search_call", "id": "ws", "status": "completed"}]),
            ),
            "tool_call",
        ),
        (
            responses_body(
                "completed",
                json!([{"type": "file_search_call", "id": "fs"}]),
            ),
            "tool_call",
        ),
        (
            responses_body("completed", json!([{"type": "computer_call", "id": "c"}])),
            "tool_call",
        ),
        (
            responses_body(
                "completed",
                json!([{"type": "code_interpreter_call", "id": "ci"}]),
            ),
            "tool_call",
        ),
        (
            {
                let mut b = responses_body("incomplete", msg.clone());
                b["incomplete_details"] = json!({"reason": "max_output_tokens"});
                b
            },
            "length",
        ),
        (
            {
                let mut b = responses_body("incomplete", msg.clone());
                b["incomplete_details"] = json!({"reason": "content_filter"});
                b
            },
            "content_filter",
        ),
        (responses_body("failed", json!([])), "error"),
        (responses_body("cancelled", json!([])), "error"),
        (responses_body("in_progress", json!([])), ""),
        (responses_body("queued", json!([])), ""),
    ];
    for (body, want) in cases {
        let (r, f) = resp(Operation::Responses, body.clone());
        assert!(f.is_empty(), "{f:?}");
        assert_eq!(only_message(&r).finish_reason, *want, "{body}");
        if want.is_empty() {
            assert!(r.finish_reasons.is_empty());
        } else {
            assert_eq!(r.finish_reasons, [*want]);
        }
    }
    // No status at all.
    let mut b = responses_body("", msg);
    b.as_object_mut().unwrap().remove("status");
    let (r, _) = resp(Operation::Responses, b);
    assert_eq!(only_message(&r).finish_reason, "");
    assert!(r.finish_reasons.is_empty());
}

#[test]
fn responses_response_error_object() {
    let mut b = responses_body("failed", json!([]));
    b["error"] = json!({"code": "server_error", "message": "Something went wrong"});
    let (r, f) = resp(Operation::Responses, b);
    assert!(f.is_empty());
    assert_eq!(r.error.unwrap().error_type, "server_error");
    assert_eq!(r.id.as_deref(), Some("resp_1"));
    assert_eq!(r.finish_reasons, ["error"]);
}

// ---------------------------------------------------------------------------------------
// Chat streams
// ---------------------------------------------------------------------------------------

#[test]
fn chat_stream_text_and_metadata() {
    let (acc, f, chunks) = stream_raw(
        Operation::Chat,
        &[
            r#"{"id":"c1","model":"gpt-4o","system_fingerprint":null,"service_tier":"default","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
            r#"{"id":"c2","model":"other","system_fingerprint":"fp_9","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#,
            r#"{"id":"c1","choices":[{"index":0,"delta":{"content":"lo \"you\""}}]}"#,
            r#"{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            "[DONE]",
        ],
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(chunks, 4);
    assert!(acc.is_complete());
    let r = acc.finish();
    assert_eq!(r.id.as_deref(), Some("c1"));
    assert_eq!(r.model.as_deref(), Some("gpt-4o"));
    assert_eq!(r.system_fingerprint.as_deref(), Some("fp_9"));
    assert_eq!(r.service_tier.as_deref(), Some("default"));
    assert_eq!(
        only_message(&r),
        &OutputMessage {
            role: "assistant".into(),
            parts: vec![text("Hello \"you\"")],
            name: None,
            finish_reason: "stop".into()
        }
    );
    assert_eq!(r.finish_reasons, ["stop"]);
    assert_eq!(r.usage, Usage::default());
}

#[test]
fn chat_stream_is_not_complete_without_done() {
    let (acc, f, _) = stream(
        Operation::Chat,
        &[json!({"choices": [{"index": 0, "delta": {"content": "par"}}]})],
    );
    assert!(f.is_empty());
    assert!(!acc.is_complete());
    let r = acc.finish();
    assert_eq!(only_message(&r).parts, vec![text("par")]);
    assert_eq!(only_message(&r).finish_reason, "");
    assert!(r.finish_reasons.is_empty());
    // A fresh accumulator finishes to an empty record.
    assert_eq!(
        StreamAccumulator::new(Operation::Chat).finish(),
        ResponseRecord::default()
    );
}

#[test]
fn chat_stream_tool_calls_merge_by_index() {
    let tc = |index: u64, id: Option<&str>, name: Option<&str>, args: &str| {
        let mut function = json!({"arguments": args});
        if let Some(n) = name {
            function["name"] = json!(n);
        }
        let mut c = json!({"index": index, "function": function});
        if let Some(id) = id {
            c["id"] = json!(id);
            c["type"] = json!("function");
        }
        json!({"choices": [{"index": 0, "delta": {"tool_calls": [c]}}]})
    };
    let (acc, f, chunks) = stream(
        Operation::Chat,
        &[
            json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": null}}]}),
            tc(0, Some("call_a"), Some("get_weather"), ""),
            tc(0, None, None, "{\"city\":"),
            tc(1, Some("call_b"), Some("get_time"), ""),
            tc(0, None, None, "\"Paris\"}"),
            tc(1, None, None, "{\"tz\":\"CET\"}"),
            // Two calls in one delta (parallel), one of them a broken JSON.
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": 2, "id": "call_c", "type": "function", "function": {"name": "broken", "arguments": "{\"x\""}},
                {"index": 3, "id": "call_d", "type": "function", "function": {"name": "empty", "arguments": ""}},
            ]}}]}),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
        ],
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(chunks, 8);
    let r = acc.finish();
    assert_eq!(
        only_message(&r).parts,
        vec![
            call(Some("call_a"), "get_weather", json!({"city": "Paris"})),
            call(Some("call_b"), "get_time", json!({"tz": "CET"})),
            call(Some("call_c"), "broken", json!("{\"x\"")),
            call(Some("call_d"), "empty", json!("")),
        ]
    );
    assert_eq!(r.finish_reasons, ["tool_call"]);
    assert_eq!(only_message(&r).finish_reason, "tool_call");
}

#[test]
fn chat_stream_tool_calls_without_index() {
    let (acc, f, _) = stream(
        Operation::Chat,
        &[
            json!({"choices": [{"delta": {"tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{\"x\""}}]}}]}),
            json!({"choices": [{"delta": {"tool_calls": [{"function": {"arguments": ":1}"}}]}}]}),
            json!({"choices": [{"delta": {"tool_calls": [{"id": "b", "function": {"name": "g", "arguments": "{}"}}]}}]}),
        ],
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(
        only_message(&acc.finish()).parts,
        vec![
            call(Some("a"), "f", json!({"x": 1})),
            call(Some("b"), "g", json!({})),
        ]
    );
}

#[test]
fn chat_stream_include_usage_chunk() {
    let (acc, f, chunks) = stream_raw(
        Operation::Chat,
        &[
            r#"{"id":"c","choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":null}],"usage":null}"#,
            r#"{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}"#,
            r#"{"id":"c","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11,"prompt_tokens_details":{"cached_tokens":3},"completion_tokens_details":{"reasoning_tokens":1}}}"#,
            "[DONE]",
        ],
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(chunks, 3);
    let r = acc.finish();
    assert_eq!(
        r.usage,
        Usage {
            input_tokens: Some(9),
            output_tokens: Some(2),
            total_tokens: Some(11),
            cache_read_input_tokens: Some(3),
            cache_creation_input_tokens: None,
            reasoning_output_tokens: Some(1),
        }
    );
    assert_eq!(only_message(&r).parts, vec![text("ok")]);
}

#[test]
fn chat_stream_usage_in_first_choice() {
    let (acc, f, _) = stream(
        Operation::Chat,
        &[
            json!({"choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": "stop",
                 "usage": {"prompt_tokens": 4, "completion_tokens": 1}}]}),
        ],
    );
    assert!(f.is_empty());
    let r = acc.finish();
    assert_eq!(
        (
            r.usage.input_tokens,
            r.usage.output_tokens,
            r.usage.total_tokens
        ),
        (Some(4), Some(1), Some(5))
    );
}

#[test]
fn chat_stream_reasoning_refusal_and_choices() {
    let (acc, f, _) = stream(
        Operation::Chat,
        &[
            // Choice 1 arrives first; output is in index order.
            json!({"choices": [{"index": 1, "delta": {"role": "assistant", "refusal": "I can"}}]}),
            json!({"choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": "Let me "}},
                               {"index": 1, "delta": {"refusal": "not."}, "finish_reason": "stop"}]}),
            json!({"choices": [{"index": 0, "delta": {"reasoning_content": "think."}}]}),
            json!({"choices": [{"index": 0, "delta": {"content": "42"}, "finish_reason": "length"}]}),
            // `reasoning` (OpenRouter, Groq) is the same thing.
            json!({"choices": [{"index": 2, "delta": {"reasoning": "R"}}]}),
        ],
    );
    assert!(f.is_empty(), "{f:?}");
    let r = acc.finish();
    assert_eq!(r.output_messages.len(), 3);
    assert_eq!(
        r.output_messages[0].parts,
        vec![
            text("42"),
            Part::Reasoning {
                content: "Let me think.".into()
            }
        ]
    );
    assert_eq!(
        r.output_messages[1].parts,
        vec![generic(json!({"type": "refusal", "content": "I cannot."}))]
    );
    assert_eq!(
        r.output_messages[2].parts,
        vec![Part::Reasoning {
            content: "R".into()
        }]
    );
    assert_eq!(r.finish_reasons, ["length", "stop"]);
    assert_eq!(r.output_messages[2].finish_reason, "");
}

#[test]
fn chat_stream_legacy_function_call() {
    let (acc, f, _) = stream(
        Operation::Chat,
        &[
            json!({"choices": [{"index": 0, "delta": {"role": "assistant", "function_call": {"name": "get_weather", "arguments": ""}}}]}),
            json!({"choices": [{"index": 0, "delta": {"function_call": {"arguments": "{\"loc\""}}}]}),
            json!({"choices": [{"index": 0, "delta": {"function_call": {"arguments": ":\"Boston\"}"}}}]}),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "function_call"}]}),
        ],
    );
    assert!(f.is_empty(), "{f:?}");
    let r = acc.finish();
    assert_eq!(
        only_message(&r).parts,
        vec![call(None, "get_weather", json!({"loc": "Boston"}))]
    );
    assert_eq!(r.finish_reasons, ["tool_call"]);
}

#[test]
fn chat_stream_error_chunk() {
    let (acc, f, chunks) = stream(
        Operation::Chat,
        &[
            json!({"choices": [{"index": 0, "delta": {"content": "x"}}]}),
            json!({"error": {"message": "overloaded", "type": "server_error", "code": null}}),
        ],
    );
    assert!(f.is_empty());
    assert_eq!(chunks, 1);
    assert!(acc.is_complete());
    let r = acc.finish();
    assert_eq!(r.error.as_ref().unwrap().error_type, "server_error");
    assert_eq!(only_message(&r).parts, vec![text("x")]);

    // `event: error` carrying the error object itself.
    let mut acc = StreamAccumulator::new(Operation::Chat);
    let mut faults = Vec::new();
    let data = r#"{"message":"boom","code":"rate_limit_exceeded"}"#;
    let ev = SseEvent {
        event: Some("error"),
        data: data.into(),
    };
    assert!(!acc.push(&ev, &mut faults));
    assert!(acc.is_complete());
    assert_eq!(
        acc.finish().error.unwrap().error_type,
        "rate_limit_exceeded"
    );
}

#[test]
fn completion_stream() {
    let (acc, f, chunks) = stream_raw(
        Operation::TextCompletion,
        &[
            r#"{"id":"cmpl-1","object":"text_completion","model":"gpt-3.5-turbo-instruct","choices":[{"text":"Hello","index":0,"logprobs":null,"finish_reason":null}]}"#,
            r#"{"id":"cmpl-1","choices":[{"text":" world","index":0,"finish_reason":"length"}]}"#,
            r#"{"id":"cmpl-1","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":2,"total_tokens":4}}"#,
            "[DONE]",
        ],
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(chunks, 3);
    assert!(acc.is_complete());
    let r = acc.finish();
    assert_eq!(r.id.as_deref(), Some("cmpl-1"));
    assert_eq!(r.model.as_deref(), Some("gpt-3.5-turbo-instruct"));
    assert_eq!(
        only_message(&r),
        &OutputMessage {
            role: "assistant".into(),
            parts: vec![text("Hello world")],
            name: None,
            finish_reason: "length".into()
        }
    );
    assert_eq!(r.usage.total_tokens, Some(4));
}

#[test]
fn stream_matches_non_streamed_response() {
    let body = json!({"id": "x", "model": "m", "choices": [{"index": 0, "message": {
        "role": "assistant", "content": "Hi", "reasoning_content": "R", "refusal": "No",
        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{\"a\":[1]}"}}]},
        "finish_reason": "tool_calls"}], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}});
    let (whole, _) = resp(Operation::Chat, body);
    let (acc, _, _) = stream(
        Operation::Chat,
        &[
            json!({"id": "x", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "H", "reasoning_content": "R"}}]}),
            json!({"choices": [{"index": 0, "delta": {"content": "i", "refusal": "No"}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{\"a\":"}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "[1]}"}}]}, "finish_reason": "tool_calls"}]}),
            json!({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}),
        ],
    );
    assert_eq!(acc.finish(), whole);
}

// ---------------------------------------------------------------------------------------
// Stream caps
// ---------------------------------------------------------------------------------------

fn content_chunk(s: &str) -> String {
    json!({"choices": [{"index": 0, "delta": {"content": s}}]}).to_string()
}

#[test]
fn stream_content_cap_truncates_once() {
    let piece = "a".repeat(64 * 1024);
    let chunk = content_chunk(&piece);
    let mut acc = StreamAccumulator::new(Operation::Chat);
    let mut faults = Vec::new();
    for _ in 0..(MAX_STREAM_CONTENT_BYTES / piece.len()) {
        assert!(acc.push(&SseEvent::data(&chunk), &mut faults));
    }
    assert!(faults.is_empty(), "exactly at the cap: {faults:?}");
    for _ in 0..3 {
        // Past the cap: still an output chunk, but nothing more is kept.
        assert!(acc.push(&SseEvent::data(&chunk), &mut faults));
    }
    let more = json!({"choices": [{"index": 0, "delta": {"reasoning_content": "r",
        "tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{}"}}]},
        "finish_reason": "stop"}]})
    .to_string();
    acc.push(&SseEvent::data(&more), &mut faults);
    assert_eq!(faults, vec![FaultKind::StreamContentTruncated]);
    let r = acc.finish();
    let m = only_message(&r);
    let Part::Text { content } = &m.parts[0] else {
        panic!("{:?}", m.parts[0]);
    };
    assert_eq!(content.len(), MAX_STREAM_CONTENT_BYTES);
    // The tool call is still recorded (name and id are not content), its arguments are not;
    // the finish reason still arrives.
    assert_eq!(m.parts.len(), 2);
    assert_eq!(m.parts[1], call(Some("c"), "f", json!("")));
    assert_eq!(r.finish_reasons, ["stop"]);
}

#[test]
fn stream_content_cap_counts_all_content_and_respects_char_boundaries() {
    let mut acc = StreamAccumulator::new(Operation::Chat);
    let mut faults = Vec::new();
    let reasoning = "r".repeat(MAX_STREAM_CONTENT_BYTES / 2);
    let args = "x".repeat(MAX_STREAM_CONTENT_BYTES / 2 - 1);
    let chunks = [
        json!({"choices": [{"index": 0, "delta": {"reasoning_content": reasoning}}]}),
        json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": args}}]}}]}),
        // One byte left: a two-byte character does not fit and is not split.
        json!({"choices": [{"index": 0, "delta": {"content": "é"}}]}),
        json!({"choices": [{"index": 0, "delta": {"content": "z"}}]}),
    ];
    for c in &chunks {
        acc.push(&SseEvent::data(&c.to_string()), &mut faults);
    }
    assert_eq!(faults, vec![FaultKind::StreamContentTruncated]);
    let r = acc.finish();
    let parts = &only_message(&r).parts;
    // No text part (the cap was hit by the `é`), reasoning and arguments intact.
    assert_eq!(parts.len(), 2);
    assert!(
        matches!(&parts[0], Part::Reasoning { content } if content.len() == MAX_STREAM_CONTENT_BYTES / 2)
    );
    assert!(
        matches!(&parts[1], Part::ToolCall { arguments: Some(Value::String(a)), .. }
        if a.len() == MAX_STREAM_CONTENT_BYTES / 2 - 1)
    );
}

#[test]
fn stream_entry_caps() {
    // Choices.
    let choices: Vec<Value> = (0..200)
        .map(|i| json!({"index": i, "delta": {"content": "c"}}))
        .collect();
    let (acc, f, _) = stream(
        Operation::Chat,
        &[
            json!({"choices": choices.clone()}),
            json!({"choices": choices}),
        ],
    );
    assert_eq!(f, vec![FaultKind::StreamContentTruncated]);
    let r = acc.finish();
    assert_eq!(r.output_messages.len(), MAX_STREAM_ENTRIES);
    assert!(
        r.output_messages
            .iter()
            .all(|m| m.parts == vec![text("cc")])
    );

    // Tool calls (counted across choices).
    let calls: Vec<Value> = (0..100)
        .map(|i| json!({"index": i, "id": format!("c{i}"), "function": {"name": "f", "arguments": "{}"}}))
        .collect();
    let (acc, f, _) = stream(
        Operation::Chat,
        &[json!({"choices": [
            {"index": 0, "delta": {"tool_calls": calls.clone()}},
            {"index": 1, "delta": {"tool_calls": calls}},
        ]})],
    );
    assert_eq!(f, vec![FaultKind::StreamContentTruncated]);
    let r = acc.finish();
    let n: usize = r.output_messages.iter().map(|m| m.parts.len()).sum();
    assert_eq!(n, MAX_STREAM_ENTRIES);

    // Responses output items.
    let events: Vec<Value> = (0..200)
        .map(|i| json!({"type": "response.output_text.delta", "output_index": i, "delta": "t"}))
        .collect();
    let (acc, f, chunks) = stream(Operation::Responses, &events);
    assert_eq!(chunks, 200);
    assert_eq!(f, vec![FaultKind::StreamContentTruncated]);
    assert_eq!(only_message(&acc.finish()).parts.len(), MAX_STREAM_ENTRIES);
}

// ---------------------------------------------------------------------------------------
// Stream faults
// ---------------------------------------------------------------------------------------

#[test]
fn stream_malformed_chunks_are_reported_once_and_skipped() {
    let (acc, f, chunks) = stream_raw(
        Operation::Chat,
        &[
            r#"{"choices":[{"index":0,"delta":{"content":"a"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"b"#,
            "not json",
            r#"{"choices":"nope"}"#,
            r#"[1,2]"#,
            r#"{"choices":[{"index":0,"delta":{"content":"c"}}]}"#,
            r#"{"choices":[{"index":0,"delta":"x"}]}"#,
            "",
        ],
    );
    assert_eq!(chunks, 2);
    assert_eq!(f, vec![FaultKind::InvalidJson, FaultKind::UnexpectedShape]);
    assert_eq!(only_message(&acc.finish()).parts, vec![text("ac")]);
}

#[test]
fn stream_wrong_typed_fields_keep_the_rest_of_the_chunk() {
    let (acc, f, chunks) = stream_raw(
        Operation::Chat,
        &[
            r#"{"id":7,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":5,"refusal":{"a":[1]},"reasoning_content":"r"},"finish_reason":"stop"}]}"#,
            r#"{"choices":[{"index":"0","delta":{"content":"dropped"}}]}"#,
            r#"{"choices":[{"index":-1,"delta":{"content":"dropped"}}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":"many","completion_tokens":2.0}}"#,
        ],
    );
    assert_eq!(chunks, 4);
    assert_eq!(f, vec![FaultKind::UnexpectedShape]);
    assert_eq!(count(&f, FaultKind::UnexpectedShape), 1);
    let r = acc.finish();
    assert_eq!(r.id, None);
    assert_eq!(r.model.as_deref(), Some("m"));
    assert_eq!(
        only_message(&r).parts,
        vec![Part::Reasoning {
            content: "r".into()
        }]
    );
    assert_eq!(r.finish_reasons, ["stop"]);
    assert_eq!(
        (r.usage.input_tokens, r.usage.output_tokens),
        (None, Some(2))
    );
}

#[test]
fn stream_escaped_strings_are_decoded() {
    let (acc, f, _) = stream_raw(
        Operation::Chat,
        &[r#"{"choices":[{"index":0,"delta":{"content":"line\nnext \u00e9 \ud83d\ude00"}}]}"#],
    );
    assert!(f.is_empty());
    assert_eq!(
        only_message(&acc.finish()).parts,
        vec![text("line\nnext é 😀")]
    );
}

// ---------------------------------------------------------------------------------------
// Responses streams
// ---------------------------------------------------------------------------------------

fn ev(kind: &str, mut v: Value) -> Value {
    v["type"] = json!(kind);
    v
}

#[test]
fn responses_stream_completed_is_authoritative() {
    let final_response = responses_body(
        "completed",
        json!([{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello there"}]}]),
    );
    let (acc, f, chunks) = stream(
        Operation::Responses,
        &[
            ev(
                "response.created",
                json!({"response": {"id": "resp_1", "model": "gpt-5", "status": "in_progress", "output": []}}),
            ),
            ev(
                "response.in_progress",
                json!({"response": {"id": "resp_1"}}),
            ),
            ev(
                "response.output_item.added",
                json!({"output_index": 0, "item": {"type": "message", "id": "msg_1", "content": []}}),
            ),
            ev(
                "response.content_part.added",
                json!({"output_index": 0, "part": {"type": "output_text"}}),
            ),
            ev(
                "response.output_text.delta",
                json!({"output_index": 0, "content_index": 0, "delta": "Hello"}),
            ),
            ev(
                "response.output_text.delta",
                json!({"output_index": 0, "content_index": 0, "delta": " there"}),
            ),
            ev(
                "response.output_text.done",
                json!({"output_index": 0, "text": "Hello there"}),
            ),
            ev(
                "response.completed",
                json!({"response": final_response.clone()}),
            ),
        ],
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(chunks, 2);
    assert!(acc.is_complete());
    let (want, _) = resp(Operation::Responses, final_response);
    assert_eq!(acc.finish(), want);
}

#[test]
fn responses_stream_partial_accumulation() {
    let (acc, f, chunks) = stream(
        Operation::Responses,
        &[
            ev(
                "response.created",
                json!({"response": {"id": "resp_2", "model": "o4-mini", "service_tier": "auto"}}),
            ),
            ev(
                "response.output_item.added",
                json!({"output_index": 0, "item": {"type": "reasoning", "summary": []}}),
            ),
            ev(
                "response.reasoning_summary_text.delta",
                json!({"output_index": 0, "summary_index": 0, "delta": "Plan"}),
            ),
            ev(
                "response.reasoning_summary_text.delta",
                json!({"output_index": 0, "summary_index": 0, "delta": " A."}),
            ),
            ev(
                "response.reasoning_summary_text.delta",
                json!({"output_index": 0, "summary_index": 1, "delta": "Plan B."}),
            ),
            ev(
                "response.output_item.added",
                json!({"output_index": 1, "item": {"type": "function_call", "id": "fc_1", "call_id": "call_7", "name": "search", "arguments": ""}}),
            ),
            ev(
                "response.function_call_arguments.delta",
                json!({"output_index": 1, "delta": "{\"q\":"}),
            ),
            ev(
                "response.function_call_arguments.delta",
                json!({"output_index": 1, "delta": "\"otel\"}"}),
            ),
            ev(
                "response.output_text.delta",
                json!({"output_index": 2, "delta": "Done"}),
            ),
            ev(
                "response.refusal.delta",
                json!({"output_index": 2, "delta": "no"}),
            ),
            // A delta type we do not record still counts as an output chunk.
            ev("response.audio.delta", json!({"delta": "AAAA"})),
            ev("response.some_future_event", json!({"x": 1})),
        ],
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(chunks, 8);
    assert!(!acc.is_complete());
    let r = acc.finish();
    assert_eq!(r.id.as_deref(), Some("resp_2"));
    assert_eq!(r.model.as_deref(), Some("o4-mini"));
    assert_eq!(r.service_tier.as_deref(), Some("auto"));
    assert_eq!(
        only_message(&r),
        &OutputMessage {
            role: "assistant".into(),
            parts: vec![
                Part::Reasoning {
                    content: "Plan A.\nPlan B.".into()
                },
                call(Some("call_7"), "search", json!({"q": "otel"})),
                text("Done"),
                generic(json!({"type": "refusal", "content": "no"})),
            ],
            name: None,
            finish_reason: String::new(),
        }
    );
    assert!(r.finish_reasons.is_empty());
}

#[test]
fn responses_stream_item_done_fills_missing_content() {
    let (acc, f, _) = stream(
        Operation::Responses,
        &[
            ev(
                "response.output_item.done",
                json!({"output_index": 0, "item": {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{\"a\":1}"}}),
            ),
            ev(
                "response.output_item.done",
                json!({"output_index": 1, "item": {"type": "message", "content": [
                    {"type": "output_text", "text": "x"}, {"type": "refusal", "refusal": "r"}, {"type": "output_text", "text": "y"}]}}),
            ),
            ev(
                "response.output_item.done",
                json!({"output_index": 2, "item": {"type": "web_search_call", "id": "ws"}}),
            ),
        ],
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(
        only_message(&acc.finish()).parts,
        vec![call(Some("c1"), "f", json!({"a": 1})), text("xy")]
    );
}

#[test]
fn responses_stream_events_without_output_index() {
    let (acc, f, _) = stream(
        Operation::Responses,
        &[
            ev(
                "response.reasoning_summary_text.delta",
                json!({"delta": "think"}),
            ),
            ev("response.output_text.delta", json!({"delta": "a"})),
            ev("response.output_text.delta", json!({"delta": "b"})),
        ],
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(
        only_message(&acc.finish()).parts,
        vec![
            Part::Reasoning {
                content: "think".into()
            },
            text("ab")
        ]
    );
}

#[test]
fn responses_stream_errors() {
    // `error` event, then `response.failed` carrying the response.
    let mut failed = responses_body("failed", json!([]));
    failed["error"] = json!({"code": "server_error", "message": "x"});
    let (acc, f, _) = stream(
        Operation::Responses,
        &[
            ev(
                "response.created",
                json!({"response": {"id": "resp_3", "model": "gpt-5"}}),
            ),
            ev(
                "error",
                json!({"code": "server_error", "message": "x", "param": null}),
            ),
        ],
    );
    assert!(f.is_empty());
    assert!(!acc.is_complete());
    let r = acc.finish();
    assert_eq!(r.error.unwrap().error_type, "server_error");
    assert_eq!(r.id.as_deref(), Some("resp_3"));

    let (acc, f, _) = stream(
        Operation::Responses,
        &[
            ev("error", json!({"error": {"type": "invalid_request_error"}})),
            ev("response.failed", json!({"response": failed})),
        ],
    );
    assert!(f.is_empty());
    assert!(acc.is_complete());
    let r = acc.finish();
    assert_eq!(r.error.unwrap().error_type, "server_error");
    assert_eq!(r.finish_reasons, ["error"]);

    let (acc, _, _) = stream(Operation::Responses, &[ev("error", json!({}))]);
    assert_eq!(acc.finish().error.unwrap().error_type, "api_error");

    let mut incomplete = responses_body("incomplete", json!([]));
    incomplete["incomplete_details"] = json!({"reason": "max_output_tokens"});
    let (acc, _, _) = stream(
        Operation::Responses,
        &[ev("response.incomplete", json!({"response": incomplete}))],
    );
    assert!(acc.is_complete());
    assert_eq!(acc.finish().finish_reasons, ["length"]);
}

#[test]
fn responses_stream_event_name_and_malformed_events() {
    // Type from the SSE `event:` name when the JSON has none.
    let mut acc = StreamAccumulator::new(Operation::Responses);
    let mut faults = Vec::new();
    let e = SseEvent {
        event: Some("response.output_text.delta"),
        data: r#"{"output_index":0,"delta":"hi"}"#.into(),
    };
    assert!(acc.push(&e, &mut faults));
    assert!(!acc.push(&SseEvent::data("{\"delta\":\"x\"}"), &mut faults));
    assert!(!acc.push(&SseEvent::data("{\"type\":"), &mut faults));
    assert!(!acc.push(
        &SseEvent::data(r#"{"type":"response.completed","response":"x"}"#),
        &mut faults
    ));
    // Text deltas for a function-call item are a shape error.
    acc.push(
        &SseEvent::data(
            r#"{"type":"response.output_item.added","output_index":1,"item":{"type":"function_call","name":"f"}}"#,
        ),
        &mut faults,
    );
    acc.push(
        &SseEvent::data(r#"{"type":"response.output_text.delta","output_index":1,"delta":"x"}"#),
        &mut faults,
    );
    assert!(acc.is_complete());
    assert_eq!(
        faults,
        vec![FaultKind::UnexpectedShape, FaultKind::InvalidJson]
    );
    let r = acc.finish();
    assert_eq!(
        only_message(&r).parts,
        vec![text("hi"), call(None, "f", json!(""))]
    );
    // [DONE] also ends a Responses stream.
    let (acc, _, _) = stream_raw(Operation::Responses, &["[DONE]"]);
    assert!(acc.is_complete());
}

// ---------------------------------------------------------------------------------------
// Never panic
// ---------------------------------------------------------------------------------------

const ALL_OPS: [Operation; 4] = [
    Operation::Chat,
    Operation::TextCompletion,
    Operation::Embeddings,
    Operation::Responses,
];

#[test]
fn malformed_bodies_become_faults() {
    let cases: &[(&[u8], FaultKind)] = &[
        (b"", FaultKind::InvalidJson),
        (b"   ", FaultKind::InvalidJson),
        (b"{\"model\": \"gpt", FaultKind::InvalidJson),
        (b"\xff\xfe{}", FaultKind::InvalidJson),
        (b"{\"model\": \"\xff\"}", FaultKind::InvalidJson),
        (b"[]", FaultKind::UnexpectedShape),
        (b"null", FaultKind::UnexpectedShape),
        (b"\"text\"", FaultKind::UnexpectedShape),
        (b"42", FaultKind::UnexpectedShape),
    ];
    for (body, want) in cases {
        for op in ALL_OPS {
            let mut f = Vec::new();
            assert_eq!(parse_request(op, body, &mut f), RequestRecord::default());
            assert_eq!(f, vec![*want], "{op:?} {body:?}");
            let mut f = Vec::new();
            assert_eq!(parse_response(op, body, &mut f), ResponseRecord::default());
            assert_eq!(f, vec![*want], "{op:?} {body:?}");
        }
    }
}

#[test]
fn wrong_types_are_reported_and_the_rest_is_kept() {
    let (r, f) = req(
        Operation::Chat,
        json!({"model": 5, "stream": "yes", "temperature": "hot", "max_tokens": 1.5, "stop": [1, "x"],
               "messages": [5, {"content": "no role"}, {"role": "user", "content": 7},
                            {"role": "user", "content": ["bare", 3, {"no": "type"}, {"type": "text"}]},
                            {"role": "assistant", "tool_calls": [{"id": "x"}, 3], "function_call": "f"},
                            {"role": "user", "content": "kept"}],
               "tools": [{"type": "function", "function": {"description": "no name"}}, "x"],
               "response_format": "json"}),
    );
    assert_eq!(f, vec![FaultKind::UnexpectedShape]);
    assert_eq!(r.model, None);
    assert!(!r.stream);
    assert_eq!(r.params.temperature, None);
    assert_eq!(r.params.max_tokens, None);
    assert_eq!(r.params.stop_sequences, ["x"]);
    assert!(r.tool_definitions.is_empty());
    let parts: Vec<_> = r.input_messages.iter().map(|m| m.parts.clone()).collect();
    assert_eq!(
        parts,
        vec![
            vec![],
            vec![text("bare"), generic(json!({"type": "text"}))],
            vec![],
            vec![text("kept")],
        ]
    );

    let (r, f) = resp(
        Operation::Chat,
        json!({"id": ["x"], "model": "m", "choices": [3, {"message": "x", "finish_reason": "stop"},
               {"message": {"content": 1, "tool_calls": "x", "refusal": 2}, "finish_reason": 9}],
               "usage": {"prompt_tokens": "x", "completion_tokens": 3, "prompt_tokens_details": 1}}),
    );
    assert_eq!(f, vec![FaultKind::UnexpectedShape]);
    assert_eq!(r.id, None);
    assert_eq!(r.model.as_deref(), Some("m"));
    assert_eq!(r.finish_reasons, ["stop"]);
    assert_eq!(r.output_messages.len(), 2);
    assert_eq!(r.usage.output_tokens, Some(3));
    assert_eq!(r.usage.input_tokens, None);

    for body in [
        json!({"choices": {"0": 1}}),
        json!({"data": "x"}),
        json!({"data": [1]}),
        json!({"data": [{"embedding": {"x": 1}}]}),
        json!({"output": [1, {"type": 3}, {"type": "message", "content": [1, {"type": "output_text", "text": 1}]},
                          {"type": "reasoning", "summary": [1]}], "status": 1, "usage": []}),
        json!({"input": 3, "messages": {}, "prompt": {}, "tools": {}, "instructions": []}),
    ] {
        for op in ALL_OPS {
            let mut f = Vec::new();
            parse_request(op, body.to_string().as_bytes(), &mut f);
            parse_response(op, body.to_string().as_bytes(), &mut f);
            assert!(
                f.iter().all(|k| *k == FaultKind::UnexpectedShape),
                "{op:?} {body} {f:?}"
            );
        }
    }
}

#[test]
fn huge_numbers_do_not_overflow() {
    let (r, _) = resp(
        Operation::Chat,
        json!({"usage": {"prompt_tokens": i64::MAX, "completion_tokens": i64::MAX}}),
    );
    assert_eq!(r.usage.total_tokens, Some(i64::MAX));
    let (r, f) = resp(
        Operation::Chat,
        json!({"usage": {"prompt_tokens": u64::MAX, "completion_tokens": 1e300}}),
    );
    assert_eq!(f, vec![FaultKind::UnexpectedShape]);
    assert_eq!(r.usage, Usage::default());
    let (acc, f, _) = stream(
        Operation::Chat,
        &[
            json!({"choices": [{"index": u64::MAX, "delta": {"tool_calls": [{"index": u64::MAX}]}}],
                 "usage": {"prompt_tokens": 1e300}}),
        ],
    );
    assert_eq!(f, vec![FaultKind::UnexpectedShape]);
    let _ = acc.finish();
    let (acc, _, _) = stream(
        Operation::Chat,
        &[
            json!({"choices": [{"index": i64::MAX, "delta": {"tool_calls": [
            {"index": i64::MAX, "function": {"arguments": "a"}}, {"function": {"arguments": "b"}}]}}]}),
        ],
    );
    assert_eq!(acc.finish().output_messages.len(), 1);
}

#[test]
fn every_prefix_of_real_bodies_is_safe() {
    for (op, body) in [
        (
            Operation::Chat,
            include_str!("testdata/tools_parallel.response.json"),
        ),
        (
            Operation::Chat,
            include_str!("testdata/function_call.request.json"),
        ),
        (
            Operation::Embeddings,
            include_str!("testdata/embeddings.request.json"),
        ),
    ] {
        for cut in 0..body.len() {
            let mut f = Vec::new();
            let _ = parse_request(op, &body.as_bytes()[..cut], &mut f);
            let _ = parse_response(op, &body.as_bytes()[..cut], &mut f);
            assert!(
                f.iter().all(|k| *k == FaultKind::InvalidJson),
                "{cut} {f:?}"
            );
        }
    }
    let sse = include_str!("testdata/tools_parallel_stream.sse");
    for line in sse.lines().filter_map(|l| l.strip_prefix("data: ")) {
        for cut in (0..line.len()).filter(|&c| line.is_char_boundary(c)) {
            let (acc, _, _) = stream_raw(Operation::Chat, &[&line[..cut]]);
            let _ = acc.finish();
        }
    }
}

fn json_strategy() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(vec![
        "id",
        "model",
        "choices",
        "index",
        "delta",
        "content",
        "text",
        "role",
        "tool_calls",
        "function",
        "arguments",
        "name",
        "finish_reason",
        "usage",
        "prompt_tokens",
        "completion_tokens",
        "error",
        "type",
        "messages",
        "tools",
        "input",
        "output",
        "status",
        "item",
        "response",
        "output_index",
        "summary",
        "data",
        "embedding",
        "prompt",
        "reasoning_content",
        "refusal",
        "function_call",
        "call_id",
        "image_url",
        "url",
        "response_format",
        "json_schema",
        "schema",
        "stop",
        "instructions",
        "reasoning",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "",
            "x",
            "function",
            "message",
            "function_call",
            "response.output_text.delta",
            "response.completed",
            "response.output_item.added",
            "error",
            "completed",
            "data:image/png;base64,AAAA",
            "{\"a\":",
            "tool_calls",
            "reasoning",
            "output_text",
            "image_url",
            "input_image",
            "tool",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..6).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut faults = Vec::new();
        for op in ALL_OPS {
            let _ = parse_request(op, &body, &mut faults);
            let _ = parse_response(op, &body, &mut faults);
            let mut acc = StreamAccumulator::new(op);
            let text = String::from_utf8_lossy(&body);
            acc.push(&SseEvent::data(&text), &mut faults);
            let _ = acc.finish();
        }
    }

    #[test]
    fn arbitrary_json_never_panics(values in prop::collection::vec(json_strategy(), 1..6)) {
        for op in ALL_OPS {
            let mut faults = Vec::new();
            let mut acc = StreamAccumulator::new(op);
            for v in &values {
                let s = v.to_string();
                let _ = parse_request(op, s.as_bytes(), &mut faults);
                let _ = parse_response(op, s.as_bytes(), &mut faults);
                acc.push(&SseEvent::data(&s), &mut faults);
            }
            let _ = acc.finish();
            prop_assert!(faults.iter().all(|k| matches!(k,
                FaultKind::InvalidJson | FaultKind::UnexpectedShape | FaultKind::StreamContentTruncated)));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Recorded exchanges (values read from the cassettes)
// ---------------------------------------------------------------------------------------

fn parse_file_request(op: Operation, body: &str) -> RequestRecord {
    let mut f = Vec::new();
    let r = parse_request(op, body.as_bytes(), &mut f);
    assert!(f.is_empty(), "{f:?}");
    r
}

fn parse_file_response(op: Operation, body: &str) -> ResponseRecord {
    let mut f = Vec::new();
    let r = parse_response(op, body.as_bytes(), &mut f);
    assert!(f.is_empty(), "{f:?}");
    r
}

#[test]
fn cassette_chat() {
    let q = parse_file_request(Operation::Chat, include_str!("testdata/chat.request.json"));
    assert_eq!(q.model.as_deref(), Some("gpt-3.5-turbo"));
    assert!(!q.stream);
    assert_eq!(
        q.input_messages,
        vec![ChatMessage {
            role: "user".into(),
            parts: vec![text("Tell me a joke about opentelemetry")],
            name: None
        }]
    );

    let r = parse_file_response(Operation::Chat, include_str!("testdata/chat.response.json"));
    assert_eq!(
        r.id.as_deref(),
        Some("chatcmpl-908MD9ivBBLb6EaIjlqwFokntayQK")
    );
    assert_eq!(r.model.as_deref(), Some("gpt-3.5-turbo-0125"));
    assert_eq!(r.system_fingerprint.as_deref(), Some("fp_2b778c6b35"));
    assert_eq!(r.service_tier, None);
    assert_eq!(
        (
            r.usage.input_tokens,
            r.usage.output_tokens,
            r.usage.total_tokens
        ),
        (Some(15), Some(19), Some(34))
    );
    assert_eq!(r.usage.cache_read_input_tokens, None);
    assert_eq!(
        only_message(&r),
        &OutputMessage {
            role: "assistant".into(),
            parts: vec![text(
                "Why did Opentelemetry break up with Tracing? Because it couldn't handle the baggage!"
            )],
            name: None,
            finish_reason: "stop".into()
        }
    );
    assert_eq!(r.finish_reasons, ["stop"]);
}

#[test]
fn cassette_parallel_tool_calls() {
    let q = parse_file_request(
        Operation::Chat,
        include_str!("testdata/tools_parallel.request.json"),
    );
    assert_eq!(q.tool_definitions.len(), 1);
    let t = &q.tool_definitions[0];
    assert_eq!(
        (t.kind.as_str(), t.name.as_str(), t.description.as_deref()),
        (
            "function",
            "get_current_weather",
            Some("Get the current weather")
        )
    );
    assert_eq!(
        t.parameters.as_ref().unwrap()["required"],
        json!(["location"])
    );

    let r = parse_file_response(
        Operation::Chat,
        include_str!("testdata/tools_parallel.response.json"),
    );
    assert_eq!(
        r.id.as_deref(),
        Some("chatcmpl-DPTOrBCHCedndAglQ0w1ginYRg8my")
    );
    assert_eq!(r.service_tier.as_deref(), Some("default"));
    assert_eq!(r.system_fingerprint, None);
    assert_eq!(
        only_message(&r).parts,
        vec![
            call(
                Some("call_rU416PaA6UFgxje2GemBVAwt"),
                "get_current_weather",
                json!({"location": "San Francisco"})
            ),
            call(
                Some("call_iqCZB6DkOW5TPjHK29vpiAFa"),
                "get_current_weather",
                json!({"location": "Boston"})
            ),
        ]
    );
    assert_eq!(r.finish_reasons, ["tool_call"]);
    assert_eq!(
        r.usage,
        Usage {
            input_tokens: Some(70),
            output_tokens: Some(46),
            total_tokens: Some(116),
            cache_read_input_tokens: Some(0),
            cache_creation_input_tokens: None,
            reasoning_output_tokens: Some(0),
        }
    );
}

#[test]
fn cassette_legacy_function_call() {
    let q = parse_file_request(
        Operation::Chat,
        include_str!("testdata/function_call.request.json"),
    );
    assert_eq!(q.model.as_deref(), Some("gpt-4"));
    assert_eq!(q.tool_definitions.len(), 1);
    assert_eq!(q.tool_definitions[0].kind, "function");
    assert_eq!(q.tool_definitions[0].name, "get_current_weather");
    assert_eq!(
        q.tool_definitions[0].description.as_deref(),
        Some("Get the current weather in a given location")
    );

    let r = parse_file_response(
        Operation::Chat,
        include_str!("testdata/function_call.response.json"),
    );
    assert_eq!(r.model.as_deref(), Some("gpt-4-0613"));
    assert_eq!(
        only_message(&r).parts,
        vec![call(
            None,
            "get_current_weather",
            json!({"location": "Boston, MA"})
        )]
    );
    assert_eq!(r.finish_reasons, ["tool_call"]);
    assert_eq!(
        (
            r.usage.input_tokens,
            r.usage.output_tokens,
            r.usage.total_tokens
        ),
        (Some(82), Some(18), Some(100))
    );
}

#[test]
fn cassette_tool_history_request() {
    let q = parse_file_request(
        Operation::Chat,
        include_str!("testdata/tool_history.request.json"),
    );
    assert_eq!(
        q.input_messages,
        vec![
            ChatMessage {
                role: "assistant".into(),
                parts: vec![call(
                    Some("1"),
                    "get_current_weather",
                    json!({"location": "San Francisco"})
                )],
                name: None
            },
            ChatMessage {
                role: "tool".into(),
                parts: vec![Part::ToolCallResponse {
                    id: Some("1".into()),
                    response: json!("The weather in San Francisco is 70 degrees and sunny.")
                }],
                name: None
            },
        ]
    );
}

#[test]
fn cassette_reasoning() {
    let q = parse_file_request(
        Operation::Chat,
        include_str!("testdata/reasoning.request.json"),
    );
    assert_eq!(q.model.as_deref(), Some("gpt-5-nano"));
    assert_eq!(q.params.reasoning_effort.as_deref(), Some("low"));
    let r = parse_file_response(
        Operation::Chat,
        include_str!("testdata/reasoning.response.json"),
    );
    assert_eq!(r.model.as_deref(), Some("gpt-5-nano-2025-08-07"));
    assert_eq!(r.usage.reasoning_output_tokens, Some(192));
    assert_eq!(
        (
            r.usage.input_tokens,
            r.usage.output_tokens,
            r.usage.total_tokens
        ),
        (Some(11), Some(228), Some(239))
    );
}

#[test]
fn cassette_chat_stream() {
    let (acc, f, chunks) = replay(Operation::Chat, include_str!("testdata/chat_stream.sse"));
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(chunks, 26);
    assert!(acc.is_complete());
    let r = acc.finish();
    assert_eq!(
        r.id.as_deref(),
        Some("chatcmpl-9AGW3t9akkLW9f5f93B7mOhiqhNMC")
    );
    assert_eq!(r.model.as_deref(), Some("gpt-3.5-turbo-0125"));
    assert_eq!(r.system_fingerprint.as_deref(), Some("fp_b28b39ffa8"));
    assert_eq!(
        only_message(&r),
        &OutputMessage {
            role: "assistant".into(),
            parts: vec![text(
                "Why did the developer break up with Opentelemetry? Because it couldn't handle the baggage of all their tracing requests!"
            )],
            name: None,
            finish_reason: "stop".into()
        }
    );
    // This recording did not ask for usage: nothing is estimated.
    assert_eq!(r.usage, Usage::default());
}

#[test]
fn cassette_parallel_tool_calls_stream() {
    let (acc, f, chunks) = replay(
        Operation::Chat,
        include_str!("testdata/tools_parallel_stream.sse"),
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(chunks, 15);
    assert!(acc.is_complete());
    let r = acc.finish();
    assert_eq!(
        r.id.as_deref(),
        Some("chatcmpl-DPTOvF5JuGlXgYrrfyNsKaLXC8lPH")
    );
    assert_eq!(r.service_tier.as_deref(), Some("default"));
    assert_eq!(
        only_message(&r).parts,
        vec![
            call(
                Some("call_u0T52evs3Y0byXDiUv5Al8dG"),
                "get_current_weather",
                json!({"location": "San Francisco"})
            ),
            call(
                Some("call_iXfR9wmFaDTHUw5YaVxD1uFH"),
                "get_current_weather",
                json!({"location": "Boston"})
            ),
        ]
    );
    assert_eq!(r.finish_reasons, ["tool_call"]);
}

#[test]
fn cassette_stream_with_usage() {
    let (acc, f, chunks) = replay(Operation::Chat, include_str!("testdata/usage_stream.sse"));
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(chunks, 90);
    let r = acc.finish();
    assert_eq!(
        r.id.as_deref(),
        Some("ae36ce18-5dd0-4b09-9f33-09d49ad58b00")
    );
    assert_eq!(r.model.as_deref(), Some("deepseek-chat"));
    assert_eq!(
        r.system_fingerprint.as_deref(),
        Some("fp_8802369eaa_prod0623_fp8_kvcache")
    );
    assert_eq!(
        (
            r.usage.input_tokens,
            r.usage.output_tokens,
            r.usage.total_tokens,
            r.usage.cache_read_input_tokens
        ),
        (Some(12), Some(89), Some(101), Some(0))
    );
    let m = only_message(&r);
    let Part::Text { content } = &m.parts[0] else {
        panic!("{:?}", m.parts);
    };
    assert!(content.starts_with("Sure! Here's a techy joke for you:"));
    assert!(content.ends_with("Hope that gives you a chuckle! 😄"));
    assert_eq!(m.finish_reason, "stop");
}

#[test]
fn cassette_embeddings() {
    let q = parse_file_request(
        Operation::Embeddings,
        include_str!("testdata/embeddings.request.json"),
    );
    assert_eq!(q.model.as_deref(), Some("text-embedding-ada-002"));
    assert_eq!(q.params.encoding_formats, ["base64"]);
    assert_eq!(
        q.input_messages,
        vec![ChatMessage {
            role: "user".into(),
            parts: vec![text("Tell me a joke about opentelemetry")],
            name: None
        }]
    );
    let r = parse_file_response(
        Operation::Embeddings,
        include_str!("testdata/embeddings.response.json"),
    );
    assert_eq!(r.model.as_deref(), Some("text-embedding-ada-002"));
    // text-embedding-ada-002 vectors have 1536 dimensions.
    assert_eq!(r.embedding_dimensions, Some(1536));
    assert_eq!(r.embedding_count, Some(1));
    assert_eq!(
        (
            r.usage.input_tokens,
            r.usage.total_tokens,
            r.usage.output_tokens
        ),
        (Some(8), Some(8), None)
    );

    let r = parse_file_response(
        Operation::Embeddings,
        include_str!("testdata/embeddings_error.response.json"),
    );
    assert_eq!(r.error.unwrap().error_type, "401");
}

// ---------------------------------------------------------------------------------------
// Per-chunk cost (run with `cargo test --release -p openllmetry-core -- --ignored --nocapture`)
// ---------------------------------------------------------------------------------------

#[test]
#[ignore = "timing; run in release mode"]
fn chunk_cost() {
    /// Best per-event time over 20 batches (robust against a busy machine).
    fn best(op: Operation, data: &str) -> std::time::Duration {
        let ev = SseEvent::data(data);
        let mut faults = Vec::new();
        let per_batch = 10_000u32;
        let best = (0..20)
            .map(|_| {
                let mut acc = StreamAccumulator::new(op);
                let start = std::time::Instant::now();
                for _ in 0..per_batch {
                    std::hint::black_box(acc.push(std::hint::black_box(&ev), &mut faults));
                }
                start.elapsed() / per_batch
            })
            .min()
            .unwrap_or_default();
        assert!(faults.is_empty(), "{faults:?}");
        best
    }
    let chat = r#"{"id":"chatcmpl-DPTOvF5JuGlXgYrrfyNsKaLXC8lPH","object":"chat.completion.chunk","created":1774963589,"model":"gpt-3.5-turbo-0125","service_tier":"default","system_fingerprint":null,"choices":[{"index":0,"delta":{"content":" the"},"logprobs":null,"finish_reason":null}],"obfuscation":"eRDpsorh"}"#;
    let tool = r#"{"id":"chatcmpl-DPTOvF5JuGlXgYrrfyNsKaLXC8lPH","object":"chat.completion.chunk","created":1774963589,"model":"gpt-3.5-turbo-0125","service_tier":"default","system_fingerprint":null,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"catio"}}]},"logprobs":null,"finish_reason":null}],"obfuscation":"VP8JQyZi"}"#;
    let responses = r#"{"type":"response.output_text.delta","sequence_number":5,"item_id":"msg_68a","output_index":1,"content_index":0,"delta":" the","logprobs":[],"obfuscation":"abc"}"#;
    println!("chat chunk:      {:?}", best(Operation::Chat, chat));
    println!("tool-call chunk: {:?}", best(Operation::Chat, tool));
    println!(
        "responses delta: {:?}",
        best(Operation::Responses, responses)
    );
}
