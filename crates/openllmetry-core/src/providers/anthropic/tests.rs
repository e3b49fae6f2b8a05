//! Tests of the Anthropic parsers.
//!
//! `testdata/` holds bodies and streams decoded byte-for-byte from the vendored cassettes in
//! `crates/openllmetry-replay/cassettes/openllmetry/anthropic/` (gzip bodies inflated); the
//! expected values in the cassette tests were read from those files.

use super::*;
use crate::sse::SseParser;
use proptest::prelude::*;
use serde_json::json;

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

/// Feeds `data` lines (JSON values) as SSE events without `event:` names.
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

fn only_message(r: &ResponseRecord) -> &OutputMessage {
    assert_eq!(r.output_messages.len(), 1, "{r:?}");
    &r.output_messages[0]
}

fn text(s: &str) -> Part {
    Part::text(s)
}

// ---------------------------------------------------------------------------------------
// Finish reasons and usage
// ---------------------------------------------------------------------------------------

#[test]
fn finish_reason_table() {
    for (raw, want) in [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("tool_use", "tool_call"),
        ("max_tokens", "length"),
        ("pause_turn", "pause_turn"),
        ("refusal", "refusal"),
        ("", ""),
    ] {
        assert_eq!(map_finish_reason(raw), want, "{raw}");
    }
}

#[test]
fn usage_folds_cache_tokens_into_input() {
    let u = fold_usage(Some(4), Some(187), Some(10), Some(1163));
    assert_eq!(u.input_tokens, Some(4 + 10 + 1163));
    assert_eq!(u.output_tokens, Some(187));
    assert_eq!(u.total_tokens, Some(4 + 10 + 1163 + 187));
    assert_eq!(u.cache_read_input_tokens, Some(10));
    assert_eq!(u.cache_creation_input_tokens, Some(1163));
    assert_eq!(u.reasoning_output_tokens, None);

    // Missing cache counts are 0, in the sum and in the record: OpenLLMetry 0.62.1
    // `anthropic/__init__.py::_set_token_usage` (`getattr(usage, "cache_read_input_tokens", 0)
    // or 0`) writes them, and `tests/test_prompt_caching.py` asserts
    // `gen_ai.usage.cache_read.input_tokens == 0` on the cache-creation call.
    let u = fold_usage(Some(17), Some(220), None, None);
    assert_eq!(
        (
            u.input_tokens,
            u.total_tokens,
            u.cache_read_input_tokens,
            u.cache_creation_input_tokens
        ),
        (Some(17), Some(237), Some(0), Some(0))
    );
    // Nothing is estimated.
    let u = fold_usage(None, Some(5), Some(3), None);
    assert_eq!(
        (u.input_tokens, u.output_tokens, u.total_tokens),
        (None, Some(5), None)
    );
    assert_eq!(fold_usage(None, None, None, None), Usage::default());
    // No overflow panic.
    let u = fold_usage(Some(i64::MAX), Some(i64::MAX), Some(1), Some(1));
    assert_eq!(u.total_tokens, Some(i64::MAX));
}

#[test]
fn response_usage_with_and_without_cache() {
    let (r, f) = resp(
        Operation::Chat,
        json!({"content": [], "usage": {"input_tokens": 4, "cache_creation_input_tokens": 0,
              "cache_read_input_tokens": 1163, "output_tokens": 202}}),
    );
    assert!(f.is_empty());
    assert_eq!(r.usage.input_tokens, Some(1167));
    assert_eq!(r.usage.total_tokens, Some(1369));
    assert_eq!(r.usage.cache_read_input_tokens, Some(1163));
    assert_eq!(r.usage.cache_creation_input_tokens, Some(0));

    let (r, _) = resp(Operation::Chat, json!({"content": []}));
    assert_eq!(r.usage, Usage::default());
}

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

#[test]
fn messages_request_params() {
    let (r, f) = req(
        Operation::Chat,
        json!({
            "model": "claude-sonnet-4-5", "stream": true, "max_tokens": 512,
            "temperature": 0.5, "top_p": 0.9, "top_k": 40,
            "stop_sequences": ["\n\nHuman:", "END"],
            "messages": [{"role": "user", "content": "Hi"}],
            "metadata": {"user_id": "u"}
        }),
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(r.model.as_deref(), Some("claude-sonnet-4-5"));
    assert!(r.stream);
    assert_eq!(r.params.max_tokens, Some(512));
    assert_eq!(r.params.temperature, Some(0.5));
    assert_eq!(r.params.top_p, Some(0.9));
    assert_eq!(r.params.top_k, Some(40));
    assert_eq!(r.params.stop_sequences, vec!["\n\nHuman:", "END"]);
    assert_eq!(r.params.output_type, None);
    assert_eq!(
        r.input_messages,
        vec![ChatMessage {
            role: "user".into(),
            parts: vec![text("Hi")],
            name: None
        }]
    );
    assert!(r.system_instructions.is_empty());
    assert!(r.tool_definitions.is_empty());

    let (r, _) = req(Operation::Chat, json!({"messages": []}));
    assert!(!r.stream);
    assert_eq!(r.model, None);
}

#[test]
fn system_string_and_blocks() {
    let (r, f) = req(
        Operation::Chat,
        json!({"system": "Be brief.", "messages": []}),
    );
    assert!(f.is_empty());
    assert_eq!(r.system_instructions, vec![text("Be brief.")]);

    let (r, f) = req(
        Operation::Chat,
        json!({"system": [
            {"type": "text", "text": "Rule 1", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Rule 2"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
            {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}}
        ], "messages": []}),
    );
    assert!(f.is_empty());
    assert_eq!(
        r.system_instructions,
        vec![
            text("Rule 1"),
            text("Rule 2"),
            Part::Blob {
                mime_type: Some("image/png".into()),
                modality: "image".into(),
                content: "iVBO".into()
            },
            Part::Uri {
                mime_type: None,
                modality: "image".into(),
                uri: "https://x.test/a.png".into()
            },
        ]
    );
}

#[test]
fn message_content_blocks() {
    let (r, f) = req(
        Operation::Chat,
        json!({"messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "Look:"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"}},
                {"type": "image", "source": {"type": "url", "url": "https://x.test/i.jpg"}},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
                {"type": "document", "source": {"type": "url", "url": "https://x.test/d.pdf"}},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain"}},
                {"type": "image", "source": {"type": "file", "file_id": "file_1"}}
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "redacted_thinking", "data": "xxx"},
                {"type": "text", "text": "Calling."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_2",
                 "content": [{"type": "text", "text": "42"}], "is_error": false},
                {"type": "search_result", "source": "s", "title": "t", "content": []}
            ]}
        ]}),
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(r.input_messages.len(), 3);
    assert_eq!(r.input_messages[0].role, "user");
    assert_eq!(
        r.input_messages[0].parts,
        vec![
            text("Look:"),
            Part::Blob {
                mime_type: Some("image/jpeg".into()),
                modality: "image".into(),
                content: "/9j/".into()
            },
            Part::Uri {
                mime_type: None,
                modality: "image".into(),
                uri: "https://x.test/i.jpg".into()
            },
            Part::Blob {
                mime_type: Some("application/pdf".into()),
                modality: "document".into(),
                content: "JVBE".into()
            },
            Part::Uri {
                mime_type: None,
                modality: "document".into(),
                uri: "https://x.test/d.pdf".into()
            },
            Part::Generic(
                json!({"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain"}})
                    .as_object()
                    .unwrap()
                    .clone()
            ),
            Part::File {
                mime_type: None,
                modality: "image".into(),
                file_id: "file_1".into()
            },
        ]
    );
    assert_eq!(r.input_messages[1].role, "assistant");
    assert_eq!(
        r.input_messages[1].parts,
        vec![
            Part::Reasoning {
                content: "hmm".into()
            },
            text("Calling."),
            Part::ToolCall {
                id: Some("toolu_1".into()),
                name: "get_weather".into(),
                arguments: Some(json!({"city": "Paris"}))
            },
            Part::Generic(
                json!({"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}})
                    .as_object()
                    .unwrap()
                    .clone()
            ),
        ]
    );
    assert_eq!(
        r.input_messages[2].parts[..2],
        [
            Part::ToolCallResponse {
                id: Some("toolu_1".into()),
                response: json!("sunny")
            },
            Part::ToolCallResponse {
                id: Some("toolu_2".into()),
                response: json!([{"type": "text", "text": "42"}])
            },
        ]
    );
    assert!(
        matches!(&r.input_messages[2].parts[2], Part::Generic(m) if m["type"] == "search_result")
    );
}

#[test]
fn tool_definitions() {
    let (r, f) = req(
        Operation::Chat,
        json!({"messages": [], "tools": [
            {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}},
            {"type": "custom", "name": "calc", "input_schema": {"type": "object", "properties": {}}},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
            {"description": "nameless"}
        ]}),
    );
    assert_eq!(f, vec![FaultKind::UnexpectedShape]);
    assert_eq!(
        r.tool_definitions,
        vec![
            ToolDefinition {
                kind: "function".into(),
                name: "get_weather".into(),
                description: Some("Weather".into()),
                parameters: Some(json!({"type": "object"}))
            },
            ToolDefinition {
                kind: "function".into(),
                name: "calc".into(),
                description: None,
                parameters: Some(json!({"type": "object", "properties": {}}))
            },
            ToolDefinition {
                kind: "web_search_20250305".into(),
                name: "web_search".into(),
                description: None,
                parameters: None
            },
        ]
    );
}

#[test]
fn structured_output_schema() {
    let (r, f) = req(
        Operation::Chat,
        json!({"messages": [], "output_format": {"type": "json_schema",
               "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}}),
    );
    assert!(f.is_empty());
    let schema = r.params.structured_output_schema.unwrap();
    assert!(
        !schema.contains(' ') && !schema.contains('\n'),
        "compact: {schema}"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&schema).unwrap(),
        json!({"type": "object", "properties": {"a": {"type": "string"}}})
    );
    assert_eq!(r.params.output_type.as_deref(), Some("json"));

    let (r, _) = req(
        Operation::Chat,
        json!({"messages": [], "output_format": {"type": "text"}}),
    );
    assert_eq!(r.params.structured_output_schema, None);
    assert_eq!(r.params.output_type, None);
}

#[test]
fn legacy_complete_request() {
    let prompt = "\n\nHuman: Hello\n\nAssistant:";
    let (r, f) = req(
        Operation::TextCompletion,
        json!({"model": "claude-2.1", "prompt": prompt, "max_tokens_to_sample": 300,
               "temperature": 1.0, "top_p": 0.7, "top_k": 5, "stop_sequences": ["\n\nHuman:"],
               "stream": true}),
    );
    assert!(f.is_empty());
    assert_eq!(r.model.as_deref(), Some("claude-2.1"));
    assert!(r.stream);
    assert_eq!(r.params.max_tokens, Some(300));
    assert_eq!(r.params.temperature, Some(1.0));
    assert_eq!(r.params.top_p, Some(0.7));
    assert_eq!(r.params.top_k, Some(5));
    assert_eq!(r.params.stop_sequences, vec!["\n\nHuman:"]);
    assert_eq!(
        r.input_messages,
        vec![ChatMessage {
            role: "user".into(),
            parts: vec![text(prompt)],
            name: None
        }]
    );
}

#[test]
fn request_wrong_types_are_faults_not_panics() {
    let (r, f) = req(
        Operation::Chat,
        json!({"model": 3, "max_tokens": "many", "temperature": "hot", "stream": "yes",
               "stop_sequences": [1, "x"], "system": 5,
               "messages": [{"content": "no role"}, "str", {"role": "user", "content": [7, {"type": "text"}, {"type": "text", "text": "ok"}]}],
               "tools": {"name": "x"}}),
    );
    assert_eq!(f, vec![FaultKind::UnexpectedShape]);
    assert_eq!(r.model, None);
    assert_eq!(r.params.max_tokens, None);
    assert_eq!(r.params.stop_sequences, vec!["x"]);
    assert_eq!(r.input_messages.len(), 1);
    assert_eq!(r.input_messages[0].parts, vec![text("ok")]);

    // Integral floats are accepted for integers.
    let (r, f) = req(Operation::Chat, json!({"max_tokens": 1024.0, "top_k": 2.5}));
    assert_eq!(r.params.max_tokens, Some(1024));
    assert_eq!(r.params.top_k, None);
    assert_eq!(f, vec![FaultKind::UnexpectedShape]);
}

// ---------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------

#[test]
fn messages_response_all_block_kinds() {
    let (r, f) = resp(
        Operation::Chat,
        json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-opus-4-1",
            "content": [
                {"type": "thinking", "thinking": "let me think", "signature": "s"},
                {"type": "redacted_thinking", "data": "zz"},
                {"type": "text", "text": "Two calls."},
                {"type": "tool_use", "id": "toolu_a", "name": "f", "input": {"x": 1}},
                {"type": "tool_use", "id": "toolu_b", "name": "g", "input": {}},
                {"type": "server_tool_use", "id": "srv_1", "name": "web_search", "input": {"query": "q"}},
                {"type": "web_search_tool_result", "tool_use_id": "srv_1", "content": []}
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 20}
        }),
    );
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(r.id.as_deref(), Some("msg_1"));
    assert_eq!(r.model.as_deref(), Some("claude-opus-4-1"));
    assert_eq!(r.finish_reasons, vec!["tool_call"]);
    assert_eq!(r.usage.input_tokens, Some(10));
    assert_eq!(r.usage.total_tokens, Some(30));
    assert_eq!(r.usage.cache_read_input_tokens, Some(0));
    assert_eq!(r.error, None);
    let m = only_message(&r);
    assert_eq!(m.role, "assistant");
    assert_eq!(m.finish_reason, "tool_call");
    assert_eq!(m.parts.len(), 6);
    assert_eq!(
        m.parts[..4],
        [
            Part::Reasoning {
                content: "let me think".into()
            },
            text("Two calls."),
            Part::ToolCall {
                id: Some("toolu_a".into()),
                name: "f".into(),
                arguments: Some(json!({"x": 1}))
            },
            Part::ToolCall {
                id: Some("toolu_b".into()),
                name: "g".into(),
                arguments: Some(json!({}))
            },
        ]
    );
    assert!(
        matches!(&m.parts[4], Part::Generic(b) if b["type"] == "server_tool_use" && b["input"]["query"] == "q")
    );
    assert!(matches!(&m.parts[5], Part::Generic(b) if b["type"] == "web_search_tool_result"));
}

#[test]
fn response_null_stop_reason_and_string_tool_input() {
    let (r, _) = resp(
        Operation::Chat,
        json!({"content": [{"type": "tool_use", "id": "t", "name": "f", "input": "{\"a\":1}"},
                           {"type": "tool_use", "id": "u", "name": "f", "input": "not json"}],
               "stop_reason": null}),
    );
    assert!(r.finish_reasons.is_empty());
    let m = only_message(&r);
    assert_eq!(m.finish_reason, "");
    assert!(
        matches!(&m.parts[0], Part::ToolCall { arguments: Some(a), .. } if *a == json!({"a": 1}))
    );
    assert!(
        matches!(&m.parts[1], Part::ToolCall { arguments: Some(a), .. } if *a == json!("not json"))
    );
}

#[test]
fn error_body() {
    let (r, f) = resp(
        Operation::Chat,
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    );
    assert!(f.is_empty());
    assert_eq!(
        r.error,
        Some(ProviderError {
            error_type: "overloaded_error".into()
        })
    );
    assert!(r.output_messages.is_empty());
    assert!(r.finish_reasons.is_empty());

    // An error without a type: left to the HTTP status, and reported.
    let (r, f) = resp(Operation::Chat, json!({"type": "error", "error": "boom"}));
    assert_eq!(r.error, None);
    assert_eq!(f, vec![FaultKind::UnexpectedShape]);

    let (r, _) = resp(
        Operation::TextCompletion,
        json!({"type": "error", "error": {"type": "rate_limit_error"}}),
    );
    assert_eq!(r.error.unwrap().error_type, "rate_limit_error");
}

#[test]
fn legacy_complete_response() {
    let (r, f) = resp(
        Operation::TextCompletion,
        json!({"type": "completion", "id": "compl_1", "completion": " Hi there",
               "stop_reason": "max_tokens", "model": "claude-2.1"}),
    );
    assert!(f.is_empty());
    assert_eq!(r.id.as_deref(), Some("compl_1"));
    assert_eq!(r.model.as_deref(), Some("claude-2.1"));
    assert_eq!(r.finish_reasons, vec!["length"]);
    assert_eq!(r.usage, Usage::default());
    let m = only_message(&r);
    assert_eq!(m.parts, vec![text(" Hi there")]);
    assert_eq!(m.finish_reason, "length");
}

// ---------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------

fn delta(index: u64, kind: &str, field: &str, value: &str) -> Value {
    json!({"type": "content_block_delta", "index": index, "delta": {"type": kind, field: value}})
}

#[test]
fn stream_text_thinking_and_multiple_tools() {
    let events = [
        json!({"type": "message_start", "message": {"id": "msg_s", "model": "claude-x", "content": [],
               "usage": {"input_tokens": 5, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 7, "output_tokens": 1}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
        json!({"type": "ping"}),
        delta(0, "thinking_delta", "thinking", "Let me "),
        delta(0, "thinking_delta", "thinking", "think."),
        delta(0, "signature_delta", "signature", "EqQB"),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "content_block_start", "index": 1, "content_block": {"type": "redacted_thinking", "data": "abc"}}),
        json!({"type": "content_block_stop", "index": 1}),
        json!({"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": ""}}),
        delta(2, "text_delta", "text", "Calling "),
        delta(2, "text_delta", "text", "tools.\n"),
        json!({"type": "content_block_stop", "index": 2}),
        json!({"type": "content_block_start", "index": 3, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}}),
        delta(3, "input_json_delta", "partial_json", ""),
        delta(3, "input_json_delta", "partial_json", "{\"city\": \"Pa"),
        delta(3, "input_json_delta", "partial_json", "ris\"}"),
        json!({"type": "content_block_stop", "index": 3}),
        json!({"type": "content_block_start", "index": 4, "content_block": {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}}}),
        json!({"type": "content_block_stop", "index": 4}),
        json!({"type": "content_block_start", "index": 5, "content_block": {"type": "tool_use", "id": "toolu_3", "name": "echo", "input": {}}}),
        delta(5, "input_json_delta", "partial_json", "[1, 2]"),
        json!({"type": "content_block_stop", "index": 5}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 88}}),
        json!({"type": "message_stop"}),
    ];
    let (acc, faults, chunks) = stream(Operation::Chat, &events);
    assert!(faults.is_empty(), "{faults:?}");
    assert_eq!(chunks, 9);
    assert!(acc.is_complete());
    let r = acc.finish();
    assert_eq!(r.id.as_deref(), Some("msg_s"));
    assert_eq!(r.model.as_deref(), Some("claude-x"));
    assert_eq!(r.finish_reasons, vec!["tool_call"]);
    assert_eq!(r.usage.input_tokens, Some(5 + 100 + 7));
    assert_eq!(r.usage.output_tokens, Some(88));
    assert_eq!(r.usage.total_tokens, Some(112 + 88));
    assert_eq!(r.usage.cache_read_input_tokens, Some(100));
    assert_eq!(r.usage.cache_creation_input_tokens, Some(7));
    let m = only_message(&r);
    assert_eq!(m.finish_reason, "tool_call");
    assert_eq!(
        m.parts,
        vec![
            Part::Reasoning {
                content: "Let me think.".into()
            },
            text("Calling tools.\n"),
            Part::ToolCall {
                id: Some("toolu_1".into()),
                name: "get_weather".into(),
                arguments: Some(json!({"city": "Paris"}))
            },
            Part::ToolCall {
                id: Some("toolu_2".into()),
                name: "get_time".into(),
                arguments: Some(json!({}))
            },
            Part::ToolCall {
                id: Some("toolu_3".into()),
                name: "echo".into(),
                arguments: Some(json!([1, 2]))
            },
        ]
    );
}

#[test]
fn stream_output_tokens_are_cumulative_and_set() {
    let (acc, faults, _) = stream(
        Operation::Chat,
        &[
            json!({"type": "message_start", "message": {"usage": {"input_tokens": 17, "output_tokens": 3}}}),
            json!({"type": "message_delta", "delta": {}, "usage": {"output_tokens": 40}}),
            json!({"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 108}}),
        ],
    );
    assert!(faults.is_empty());
    assert!(!acc.is_complete());
    let r = acc.finish();
    assert_eq!(r.usage.output_tokens, Some(108));
    assert_eq!(r.usage.input_tokens, Some(17));
    assert_eq!(r.usage.total_tokens, Some(125));
    assert_eq!(r.finish_reasons, vec!["length"]);
}

#[test]
fn stream_message_delta_input_and_cache_counts_are_not_taken() {
    // Server tools and compaction send input and cache counts in `message_delta` too (over
    // every iteration). OpenLLMetry 0.62.1 `anthropic/streaming.py::_process_response_item`
    // takes only `output_tokens` from it: input and cache counts stay `message_start`'s.
    let (acc, faults, _) = stream(
        Operation::Chat,
        &[
            json!({"type": "message_start", "message": {"usage": {"input_tokens": 100,
                   "cache_read_input_tokens": 55096, "cache_creation_input_tokens": 0, "output_tokens": 7}}}),
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                   "usage": {"input_tokens": 181, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0, "output_tokens": 8}}),
        ],
    );
    assert!(faults.is_empty(), "{faults:?}");
    let u = acc.finish().usage;
    assert_eq!(u.input_tokens, Some(100 + 55096));
    assert_eq!(u.cache_read_input_tokens, Some(55096));
    assert_eq!(u.cache_creation_input_tokens, Some(0));
    // The cumulative output count (upstream adds it to message_start's 7: a divergence kept
    // on purpose, see `openllmetry_core::parity`).
    assert_eq!(u.output_tokens, Some(8));
    // Without a message_start count nothing is taken from the delta's input either.
    let (acc, _, _) = stream(
        Operation::Chat,
        &[
            json!({"type": "message_delta", "delta": {}, "usage": {"input_tokens": 9, "output_tokens": 4}}),
        ],
    );
    let u = acc.finish().usage;
    assert_eq!((u.input_tokens, u.output_tokens), (None, Some(4)));
}

#[test]
fn stream_out_of_range_delta_index_is_ignored() {
    let (acc, faults, chunks) = stream(
        Operation::Chat,
        &[
            delta(0, "text_delta", "text", "before start"),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            delta(0, "text_delta", "text", "ok"),
            delta(7, "text_delta", "text", "nowhere"),
            delta(u64::MAX, "input_json_delta", "partial_json", "{"),
            // A delta of the wrong kind for its block.
            delta(0, "input_json_delta", "partial_json", "{"),
        ],
    );
    assert_eq!(faults, vec![FaultKind::UnexpectedShape]);
    assert_eq!(chunks, 5);
    let r = acc.finish();
    assert_eq!(only_message(&r).parts, vec![text("ok")]);
    assert!(r.finish_reasons.is_empty());
}

#[test]
fn stream_dropped_early_yields_partial_data() {
    let (acc, _, _) = stream(
        Operation::Chat,
        &[
            json!({"type": "message_start", "message": {"id": "msg_p", "model": "m", "usage": {"input_tokens": 3, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            delta(0, "text_delta", "text", "Half a sen"),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {}}}),
            delta(1, "input_json_delta", "partial_json", "{\"a\": 1, \"b"),
        ],
    );
    assert!(!acc.is_complete());
    let r = acc.finish();
    assert_eq!(r.id.as_deref(), Some("msg_p"));
    assert_eq!(r.usage.output_tokens, Some(1));
    let m = only_message(&r);
    assert_eq!(m.finish_reason, "");
    assert_eq!(
        m.parts,
        vec![
            text("Half a sen"),
            Part::ToolCall {
                id: Some("t".into()),
                name: "f".into(),
                arguments: Some(json!("{\"a\": 1, \"b"))
            }
        ]
    );

    // Only message_start: no output message yet.
    let (acc, _, _) = stream(
        Operation::Chat,
        &[json!({"type": "message_start", "message": {"id": "msg_q"}})],
    );
    let r = acc.finish();
    assert!(r.output_messages.is_empty());
    assert_eq!(r.id.as_deref(), Some("msg_q"));
    assert_eq!(
        StreamAccumulator::new(Operation::Chat).finish(),
        ResponseRecord::default()
    );
}

#[test]
fn stream_server_tool_blocks_are_generic_with_streamed_input() {
    let (acc, faults, _) = stream(
        Operation::Chat,
        &[
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "server_tool_use", "id": "srv_1", "name": "web_search", "input": {}}}),
            delta(
                0,
                "input_json_delta",
                "partial_json",
                "{\"query\": \"rust\"}",
            ),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "web_search_tool_result", "tool_use_id": "srv_1", "content": [{"type": "web_search_result", "url": "https://x.test"}]}}),
            json!({"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "content_block_delta", "index": 2, "delta": {"type": "citations_delta", "citation": {"type": "web_search_result_location"}}}),
        ],
    );
    assert!(faults.is_empty(), "{faults:?}");
    let r = acc.finish();
    let m = only_message(&r);
    assert_eq!(
        m.parts[0],
        Part::Generic(
            json!({"type": "server_tool_use", "id": "srv_1", "name": "web_search", "input": {"query": "rust"}})
                .as_object()
                .unwrap()
                .clone()
        )
    );
    assert!(matches!(&m.parts[1], Part::Generic(b) if b["content"][0]["url"] == "https://x.test"));
    assert_eq!(m.parts[2], text(""));
}

#[test]
fn stream_error_event() {
    let (acc, faults, _) = stream(
        Operation::Chat,
        &[
            json!({"type": "message_start", "message": {"id": "msg_e"}}),
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ],
    );
    assert!(faults.is_empty());
    assert!(acc.is_complete());
    let r = acc.finish();
    assert_eq!(
        r.error.map(|e| e.error_type).as_deref(),
        Some("overloaded_error")
    );

    let (acc, faults, _) = stream(Operation::Chat, &[json!({"type": "error"})]);
    assert_eq!(faults, vec![FaultKind::UnexpectedShape]);
    assert_eq!(acc.finish().error.unwrap().error_type, "_OTHER");
}

#[test]
fn stream_unknown_events_and_event_name_fallback() {
    let mut acc = StreamAccumulator::new(Operation::Chat);
    let mut faults = Vec::new();
    assert!(!acc.push(
        &SseEvent::data(r#"{"type":"brand_new_event"}"#),
        &mut faults
    ));
    assert!(!acc.push(
        &SseEvent::data(r#"{"type":"other_new_event"}"#),
        &mut faults
    ));
    assert_eq!(faults, vec![FaultKind::UnknownEvent]);

    // No JSON `type`: the SSE event name decides.
    let ev = SseEvent {
        event: Some("message_stop"),
        data: Cow::Borrowed("{}"),
    };
    acc.push(&ev, &mut faults);
    assert!(acc.is_complete());

    // Neither.
    let mut faults = Vec::new();
    let mut acc = StreamAccumulator::new(Operation::Chat);
    acc.push(&SseEvent::data("{}"), &mut faults);
    assert_eq!(faults, vec![FaultKind::UnexpectedShape]);
    // Unknown delta type.
    let mut faults = Vec::new();
    let data = delta(0, "future_delta", "x", "y").to_string();
    assert!(acc.push(&SseEvent::data(&data), &mut faults));
    assert_eq!(faults, vec![FaultKind::UnknownEvent]);
}

#[test]
fn legacy_complete_stream() {
    let events = [
        json!({"type": "completion", "completion": " Hello", "stop_reason": null, "model": "claude-2.1", "stop": null, "log_id": "l1"}),
        json!({"type": "ping"}),
        json!({"type": "completion", "completion": " world", "stop_reason": null, "model": "claude-2.1"}),
        json!({"type": "completion", "completion": "", "stop_reason": "stop_sequence", "model": "claude-2.1", "stop": "\n\nHuman:"}),
    ];
    let (acc, faults, chunks) = stream(Operation::TextCompletion, &events[..3]);
    assert!(faults.is_empty());
    assert_eq!(chunks, 2);
    assert!(!acc.is_complete());
    let (acc, _, _) = stream(Operation::TextCompletion, &events);
    assert!(acc.is_complete());
    let r = acc.finish();
    assert_eq!(r.model.as_deref(), Some("claude-2.1"));
    assert_eq!(r.finish_reasons, vec!["stop"]);
    assert_eq!(r.usage, Usage::default());
    let m = only_message(&r);
    assert_eq!(m.parts, vec![text(" Hello world")]);
    assert_eq!(m.finish_reason, "stop");

    let (acc, faults, _) = stream(
        Operation::TextCompletion,
        &[json!({"type": "message_start"})],
    );
    assert_eq!(faults, vec![FaultKind::UnknownEvent]);
    assert!(acc.finish().output_messages.is_empty());
}

// ---------------------------------------------------------------------------------------
// Caps
// ---------------------------------------------------------------------------------------

#[test]
fn content_cap_truncates_once_and_stops_growing() {
    let mut acc = StreamAccumulator::new(Operation::Chat);
    let mut faults = Vec::new();
    let start = json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}});
    acc.push(&SseEvent::data(&start.to_string()), &mut faults);
    let start = json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {}}});
    acc.push(&SseEvent::data(&start.to_string()), &mut faults);
    // "é" is two bytes: the cut must land on a char boundary.
    let piece = "é".repeat(10_000) + "x";
    let text_delta = delta(0, "text_delta", "text", &piece).to_string();
    let input_delta = delta(1, "input_json_delta", "partial_json", "[1,").to_string();
    let mut bytes_after_cap = None;
    for i in 0..300 {
        assert!(acc.push(&SseEvent::data(&text_delta), &mut faults));
        acc.push(&SseEvent::data(&input_delta), &mut faults);
        if acc.content_truncated && bytes_after_cap.is_none() {
            bytes_after_cap = Some((i, acc.content_bytes));
        }
    }
    let (_, at_cap) = bytes_after_cap.expect("cap reached");
    assert!(at_cap <= MAX_STREAM_CONTENT_BYTES);
    assert!(at_cap > MAX_STREAM_CONTENT_BYTES - 4);
    assert_eq!(acc.content_bytes, at_cap, "memory stops growing");
    assert_eq!(faults, vec![FaultKind::StreamContentTruncated]);
    let r = acc.finish();
    let m = only_message(&r);
    let Part::Text { content } = &m.parts[0] else {
        panic!("{:?}", m.parts[0])
    };
    let Part::ToolCall {
        arguments: Some(Value::String(input)),
        ..
    } = &m.parts[1]
    else {
        panic!("{:?}", m.parts[1])
    };
    assert_eq!(content.len() + input.len(), at_cap);
    assert!(content.chars().all(|c| c == 'é' || c == 'x'));
}

#[test]
fn legacy_stream_respects_content_cap() {
    let mut acc = StreamAccumulator::new(Operation::TextCompletion);
    let mut faults = Vec::new();
    let ev = json!({"type": "completion", "completion": "a".repeat(100_000), "stop_reason": null})
        .to_string();
    for _ in 0..20 {
        assert!(acc.push(&SseEvent::data(&ev), &mut faults));
    }
    assert_eq!(faults, vec![FaultKind::StreamContentTruncated]);
    let r = acc.finish();
    assert_eq!(
        only_message(&r).parts,
        vec![text(&"a".repeat(MAX_STREAM_CONTENT_BYTES))]
    );
}

#[test]
fn entry_cap_drops_extra_blocks_and_reports_once() {
    let mut acc = StreamAccumulator::new(Operation::Chat);
    let mut faults = Vec::new();
    for i in 0..(MAX_STREAM_ENTRIES as u64 + 50) {
        let start = json!({"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}});
        acc.push(&SseEvent::data(&start.to_string()), &mut faults);
        let d = delta(i, "text_delta", "text", "x").to_string();
        acc.push(&SseEvent::data(&d), &mut faults);
    }
    assert_eq!(faults, vec![FaultKind::StreamContentTruncated]);
    assert_eq!(acc.blocks.len(), MAX_STREAM_ENTRIES);
    let r = acc.finish();
    assert_eq!(only_message(&r).parts.len(), MAX_STREAM_ENTRIES);
}

#[test]
fn large_generic_block_past_the_cap_is_reduced_to_its_type() {
    let mut acc = StreamAccumulator::new(Operation::Chat);
    let mut faults = Vec::new();
    let big = "z".repeat(MAX_STREAM_CONTENT_BYTES);
    let start = json!({"type": "content_block_start", "index": 0, "content_block": {"type": "web_fetch_tool_result", "content": big}});
    acc.push(&SseEvent::data(&start.to_string()), &mut faults);
    assert_eq!(faults, vec![FaultKind::StreamContentTruncated]);
    let r = acc.finish();
    assert_eq!(
        only_message(&r).parts,
        vec![Part::Generic(
            json!({"type": "web_fetch_tool_result"})
                .as_object()
                .unwrap()
                .clone()
        )]
    );
}

// ---------------------------------------------------------------------------------------
// Malformed input
// ---------------------------------------------------------------------------------------

#[test]
fn malformed_bodies_never_panic() {
    let bodies: &[&[u8]] = &[
        b"",
        b"   ",
        b"{",
        b"{\"model\": \"claude",
        b"null",
        b"[]",
        b"42",
        b"\"str\"",
        b"\xff\xfe\x00garbage",
        b"{\"model\": \"\xff\"}",
        b"{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image\"}, {\"type\": \"image\", \"source\": 1}, {\"type\": \"tool_use\", \"input\": 3}, {\"type\": \"tool_result\"}]}]}",
        b"{\"content\": {\"type\": \"text\"}, \"usage\": [], \"stop_reason\": 5}",
        b"{\"content\": [null, 1, \"x\", {\"type\": \"thinking\"}], \"usage\": {\"input_tokens\": -1, \"output_tokens\": 1e300}}",
        b"{\"type\": \"error\"}",
        b"{\"error\": {\"type\": 5}}",
        b"{\"completion\": 5, \"prompt\": [1]}",
        b"{\"output_format\": {\"type\": \"json_schema\"}, \"output_config\": 5}",
    ];
    for body in bodies {
        for op in [
            Operation::Chat,
            Operation::TextCompletion,
            Operation::Embeddings,
        ] {
            let mut faults = Vec::new();
            let _ = parse_request(op, body, &mut faults);
            let _ = parse_response(op, body, &mut faults);
        }
    }
    let mut faults = Vec::new();
    let r = parse_request(Operation::Chat, b"{\"model\": \"\xff\"}", &mut faults);
    assert_eq!(r, RequestRecord::default());
    assert_eq!(faults, vec![FaultKind::InvalidJson]);
    let mut faults = Vec::new();
    parse_response(Operation::Chat, b"[]", &mut faults);
    assert_eq!(faults, vec![FaultKind::UnexpectedShape]);
    let mut faults = Vec::new();
    parse_response(Operation::Chat, b"", &mut faults);
    assert_eq!(faults, vec![FaultKind::InvalidJson]);
}

#[test]
fn malformed_events_never_panic() {
    let events = [
        "",
        "{",
        "[DONE]",
        "null",
        "[]",
        "[1, 2, 3]",
        "\"message_stop\"",
        r#"{"type": 5}"#,
        r#"{"type": "content_block_delta"}"#,
        r#"{"type": "content_block_delta", "index": -1, "delta": {"type": "text_delta", "text": "x"}}"#,
        r#"{"type": "content_block_delta", "index": "0", "delta": {}}"#,
        r#"{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}}"#,
        r#"{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": 5}}"#,
        r#"{"type": "content_block_start"}"#,
        r#"{"type": "content_block_start", "index": 0, "content_block": 5}"#,
        r#"{"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use"}}"#,
        r#"{"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}"#,
        r#"{"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "dup"}}"#,
        r#"{"type": "content_block_start", "index": 1, "content_block": {}}"#,
        r#"{"type": "message_start"}"#,
        r#"{"type": "message_start", "message": {"usage": {"input_tokens": "many"}}}"#,
        r#"{"type": "message_delta", "usage": {"output_tokens": 1.5}}"#,
        r#"{"type": "message_delta", "delta": null, "usage": null}"#,
        r#"{"type": "error", "error": 5}"#,
        r#"{"type": "completion", "completion": null, "stop_reason": 3}"#,
        r#"{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "\ud800"}}"#,
    ];
    for op in [Operation::Chat, Operation::TextCompletion] {
        let mut acc = StreamAccumulator::new(op);
        let mut faults = Vec::new();
        for e in events {
            acc.push(&SseEvent::data(e), &mut faults);
        }
        assert!(faults.contains(&FaultKind::InvalidJson), "{faults:?}");
        assert!(faults.contains(&FaultKind::UnexpectedShape), "{faults:?}");
        let mut sorted = faults.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), faults.len(), "each kind reported once");
        let _ = acc.finish();
    }
}

#[test]
fn text_deltas_borrow_from_the_event() {
    let w: WireEvent<'_> = serde_json::from_str(
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"plain"}}"#,
    )
    .unwrap();
    let Some(WObj::Obj(d)) = w.delta else {
        panic!("delta is an object")
    };
    assert!(matches!(d.text, Some(WStr::Str(Cow::Borrowed("plain")))));
    assert!(matches!(
        w.kind,
        Some(WStr::Str(Cow::Borrowed("content_block_delta")))
    ));
    let w: WireEvent<'_> = serde_json::from_str(r#"{"delta":{"text":"a\nb"}}"#).unwrap();
    let Some(WObj::Obj(d)) = w.delta else {
        panic!("delta is an object")
    };
    assert!(matches!(d.text, Some(WStr::Str(Cow::Owned(ref s))) if s == "a\nb"));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut faults = Vec::new();
        for op in [Operation::Chat, Operation::TextCompletion] {
            let _ = parse_request(op, &body, &mut faults);
            let _ = parse_response(op, &body, &mut faults);
            let mut acc = StreamAccumulator::new(op);
            if let Ok(s) = std::str::from_utf8(&body) {
                acc.push(&SseEvent::data(s), &mut faults);
            }
            let _ = acc.finish();
        }
    }

    #[test]
    fn arbitrary_event_fields_never_panic(
        ty in prop::sample::select(vec![
            "message_start", "content_block_start", "content_block_delta", "content_block_stop",
            "message_delta", "message_stop", "ping", "error", "completion", "x",
        ]),
        index in prop::option::of(0u64..4),
        block_ty in prop::sample::select(vec!["text", "thinking", "tool_use", "redacted_thinking", "server_tool_use", ""]),
        delta_ty in prop::sample::select(vec!["text_delta", "thinking_delta", "input_json_delta", "signature_delta", "?"]),
        s in ".{0,12}",
    ) {
        let ev = json!({
            "type": ty, "index": index,
            "content_block": {"type": block_ty, "text": s, "thinking": s, "id": s, "name": s, "input": {}},
            "delta": {"type": delta_ty, "text": s, "thinking": s, "partial_json": s, "stop_reason": s},
            "message": {"id": s, "model": s, "usage": {"input_tokens": 1}},
            "usage": {"output_tokens": 2},
            "error": {"type": s},
            "completion": s, "stop_reason": s,
        }).to_string();
        for op in [Operation::Chat, Operation::TextCompletion] {
            let mut acc = StreamAccumulator::new(op);
            let mut faults = Vec::new();
            for _ in 0..3 {
                acc.push(&SseEvent::data(&ev), &mut faults);
            }
            let _ = acc.finish();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Recorded exchanges (testdata/, decoded from the cassettes)
// ---------------------------------------------------------------------------------------

macro_rules! testdata {
    ($name:literal) => {
        include_str!(concat!("testdata/", $name))
    };
}

#[test]
fn cassette_message_create() {
    let mut faults = Vec::new();
    let r = parse_request(
        Operation::Chat,
        testdata!("message_create.request.json").as_bytes(),
        &mut faults,
    );
    assert_eq!(r.model.as_deref(), Some("claude-3-opus-20240229"));
    assert_eq!(r.params.max_tokens, Some(1024));
    assert!(!r.stream);
    assert_eq!(
        r.input_messages,
        vec![ChatMessage {
            role: "user".into(),
            parts: vec![text("Tell me a joke about OpenTelemetry")],
            name: None
        }]
    );

    let r = parse_response(
        Operation::Chat,
        testdata!("message_create.response.json").as_bytes(),
        &mut faults,
    );
    assert!(faults.is_empty(), "{faults:?}");
    assert_eq!(r.id.as_deref(), Some("msg_01TPXhkPo8jy6yQMrMhjpiAE"));
    assert_eq!(r.model.as_deref(), Some("claude-3-opus-20240229"));
    assert_eq!(r.finish_reasons, vec!["stop"]);
    assert_eq!(r.usage.input_tokens, Some(17));
    assert_eq!(r.usage.output_tokens, Some(220));
    assert_eq!(r.usage.total_tokens, Some(237));
    assert_eq!(r.usage.cache_read_input_tokens, Some(0));
    let m = only_message(&r);
    let [Part::Text { content }] = m.parts.as_slice() else {
        panic!("{:?}", m.parts)
    };
    assert!(content.starts_with(
        "Sure, here's a joke about OpenTelemetry:\n\nWhy did the developer adopt OpenTelemetry?"
    ));
    assert!(content.ends_with("trace their steps and meter their progress in real life."));
}

#[test]
fn cassette_tools_request_and_response() {
    let mut faults = Vec::new();
    let r = parse_request(
        Operation::Chat,
        testdata!("tools.request.json").as_bytes(),
        &mut faults,
    );
    assert_eq!(r.model.as_deref(), Some("claude-3-5-sonnet-20240620"));
    assert_eq!(r.tool_definitions.len(), 2);
    assert_eq!(r.tool_definitions[0].kind, "function");
    assert_eq!(r.tool_definitions[0].name, "get_weather");
    assert_eq!(
        r.tool_definitions[0].description.as_deref(),
        Some("Get the current weather in a given location")
    );
    assert_eq!(
        r.tool_definitions[0].parameters.as_ref().unwrap()["required"],
        json!(["location"])
    );
    assert_eq!(r.tool_definitions[1].name, "get_time");
    assert_eq!(
        r.tool_definitions[1].parameters.as_ref().unwrap()["properties"]["timezone"]["type"],
        "string"
    );

    let r = parse_response(
        Operation::Chat,
        testdata!("tools.response.json").as_bytes(),
        &mut faults,
    );
    assert!(faults.is_empty(), "{faults:?}");
    assert_eq!(r.finish_reasons, vec!["tool_call"]);
    assert_eq!(r.usage.input_tokens, Some(514));
    assert_eq!(r.usage.output_tokens, Some(152));
    let m = only_message(&r);
    assert_eq!(m.parts.len(), 3);
    assert!(
        matches!(&m.parts[0], Part::Text { content } if content.starts_with("Certainly! I'd be happy to help"))
    );
    assert_eq!(
        m.parts[1..],
        [
            Part::ToolCall {
                id: Some("toolu_012r6TBCWjRHG71j6zruYyUL".into()),
                name: "get_weather".into(),
                arguments: Some(json!({"location": "New York, NY", "unit": "fahrenheit"}))
            },
            Part::ToolCall {
                id: Some("toolu_01SkeBKkLCNYWNuivqFerGDd".into()),
                name: "get_time".into(),
                arguments: Some(json!({"timezone": "America/New_York"}))
            },
        ]
    );
}

#[test]
fn cassette_tools_history_request() {
    let mut faults = Vec::new();
    let r = parse_request(
        Operation::Chat,
        testdata!("tools_history.request.json").as_bytes(),
        &mut faults,
    );
    assert!(faults.is_empty(), "{faults:?}");
    assert_eq!(
        r.input_messages,
        vec![
            ChatMessage {
                role: "user".into(),
                parts: vec![text(
                    "What is the weather and current time in San Francisco?"
                )],
                name: None
            },
            ChatMessage {
                role: "assistant".into(),
                parts: vec![
                    text("I'll help you get the weather and current time in San Francisco."),
                    Part::ToolCall {
                        id: Some("call_1".into()),
                        name: "get_weather".into(),
                        arguments: Some(json!({"location": "San Francisco, CA"}))
                    }
                ],
                name: None
            },
            ChatMessage {
                role: "user".into(),
                parts: vec![Part::ToolCallResponse {
                    id: Some("call_1".into()),
                    response: json!("Sunny and 65 degrees Fahrenheit")
                }],
                name: None
            },
        ]
    );
    let r = parse_response(
        Operation::Chat,
        testdata!("tools_history.response.json").as_bytes(),
        &mut faults,
    );
    assert_eq!(r.usage.input_tokens, Some(568));
    assert_eq!(r.usage.cache_read_input_tokens, Some(0));
    assert_eq!(r.usage.cache_creation_input_tokens, Some(0));
    assert_eq!(
        only_message(&r).parts,
        vec![Part::ToolCall {
            id: Some("toolu_01K5KhMEdg2McN7dAkB4Y4hi".into()),
            name: "get_time".into(),
            arguments: Some(json!({"timezone": "America/Los_Angeles"}))
        }]
    );
}

#[test]
fn cassette_tools_streaming() {
    let mut faults = Vec::new();
    let r = parse_request(
        Operation::Chat,
        testdata!("tools_streaming.request.json").as_bytes(),
        &mut faults,
    );
    assert!(r.stream);
    assert_eq!(r.tool_definitions.len(), 2);

    let (acc, faults, chunks) = replay(Operation::Chat, testdata!("tools_streaming.response.sse"));
    assert!(faults.is_empty(), "{faults:?}");
    // 10 text deltas, 9 + 6 input_json deltas.
    assert_eq!(chunks, 25);
    assert!(acc.is_complete());
    let r = acc.finish();
    assert_eq!(r.id.as_deref(), Some("msg_0138UNF3YbNp49KkqZtUBWqz"));
    assert_eq!(r.model.as_deref(), Some("claude-3-5-sonnet-20240620"));
    assert_eq!(r.finish_reasons, vec!["tool_call"]);
    assert_eq!(r.usage.input_tokens, Some(506));
    assert_eq!(r.usage.output_tokens, Some(153));
    assert_eq!(r.usage.total_tokens, Some(659));
    let m = only_message(&r);
    assert_eq!(m.finish_reason, "tool_call");
    assert_eq!(
        m.parts,
        vec![
            text(
                "Certainly! I can help you with that information. To get the weather and \
                 current time in San Francisco, I'll need to use two separate functions. \
                 Let me fetch that data for you."
            ),
            Part::ToolCall {
                id: Some("toolu_014x5X91kx3fvdhpLvwXZWE2".into()),
                name: "get_weather".into(),
                arguments: Some(json!({"location": "San Francisco, CA", "unit": "celsius"}))
            },
            Part::ToolCall {
                id: Some("toolu_0121kXsENLvoDZ72LCuAnCCz".into()),
                name: "get_time".into(),
                arguments: Some(json!({"timezone": "America/Los_Angeles"}))
            },
        ]
    );
}

#[test]
fn cassette_prompt_caching() {
    let mut faults = Vec::new();
    let r = parse_response(
        Operation::Chat,
        testdata!("prompt_caching_read.response.json").as_bytes(),
        &mut faults,
    );
    assert!(faults.is_empty(), "{faults:?}");
    assert_eq!(r.id.as_deref(), Some("msg_01YGB3PuEANUSkLuzemhtNVF"));
    assert_eq!(r.usage.input_tokens, Some(4 + 1163));
    assert_eq!(r.usage.cache_read_input_tokens, Some(1163));
    assert_eq!(r.usage.cache_creation_input_tokens, Some(0));
    assert_eq!(r.usage.output_tokens, Some(202));
    assert_eq!(r.usage.total_tokens, Some(4 + 1163 + 202));

    let (acc, faults, _) = replay(
        Operation::Chat,
        testdata!("prompt_caching_stream_write.response.sse"),
    );
    assert!(faults.is_empty(), "{faults:?}");
    assert!(acc.is_complete());
    let r = acc.finish();
    assert_eq!(r.id.as_deref(), Some("msg_017FfRkh9PCC8YbjnhDMrPuK"));
    assert_eq!(r.usage.input_tokens, Some(4 + 1165));
    assert_eq!(r.usage.cache_creation_input_tokens, Some(1165));
    assert_eq!(r.usage.cache_read_input_tokens, Some(0));
    assert_eq!(r.usage.output_tokens, Some(201));
    assert_eq!(r.usage.total_tokens, Some(4 + 1165 + 201));
    assert_eq!(r.finish_reasons, vec!["stop"]);
    let m = only_message(&r);
    assert!(
        matches!(m.parts.as_slice(), [Part::Text { content }] if content.starts_with("Here are"))
    );
}

#[test]
fn cassette_thinking() {
    let mut faults = Vec::new();
    let r = parse_request(
        Operation::Chat,
        testdata!("thinking.request.json").as_bytes(),
        &mut faults,
    );
    assert_eq!(r.params.max_tokens, Some(2048));
    assert_eq!(
        r.input_messages[0].parts,
        vec![text(
            "How many times does the letter 'r' appear in the word strawberry?"
        )]
    );
    let r = parse_response(
        Operation::Chat,
        testdata!("thinking.response.json").as_bytes(),
        &mut faults,
    );
    assert!(faults.is_empty(), "{faults:?}");
    let m = only_message(&r);
    assert_eq!(m.parts.len(), 2);
    assert!(matches!(&m.parts[0], Part::Reasoning { content }
        if content.starts_with("Let me count the number of times the letter 'r' appears")
            && content.ends_with("So the letter 'r' appears 3 times in the word \"strawberry\".")));
    assert_eq!(
        m.parts[1],
        text("The letter 'r' appears 3 times in the word \"strawberry\".")
    );
    assert_eq!(r.usage.input_tokens, Some(52));
    assert_eq!(r.usage.output_tokens, Some(215));

    let (acc, faults, _) = replay(
        Operation::Chat,
        testdata!("thinking_streaming.response.sse"),
    );
    assert!(faults.is_empty(), "{faults:?}");
    let r = acc.finish();
    assert_eq!(r.id.as_deref(), Some("msg_01SZKz6DEhWnfZcxPQDQz49Y"));
    assert_eq!(r.usage.output_tokens, Some(216));
    assert_eq!(r.usage.input_tokens, Some(52));
    let m = only_message(&r);
    assert_eq!(m.parts.len(), 2);
    assert!(matches!(&m.parts[0], Part::Reasoning { content }
        if content.starts_with("Let me count the occurrences of the letter 'r' in the word \"")
            && content.contains("r - this is an 'r', so count = 3")));
    assert_eq!(
        m.parts[1],
        text("The letter 'r' appears 3 times in the word \"strawberry\".")
    );
}

#[test]
fn cassette_system_blocks() {
    let mut faults = Vec::new();
    let r = parse_request(
        Operation::Chat,
        testdata!("system_blocks.request.json").as_bytes(),
        &mut faults,
    );
    assert!(faults.is_empty(), "{faults:?}");
    assert_eq!(
        r.system_instructions,
        vec![text(
            "You help generate concise summaries of news articles and blog posts that user sends you."
        )]
    );
    let r = parse_response(
        Operation::Chat,
        testdata!("system_blocks.response.json").as_bytes(),
        &mut faults,
    );
    assert_eq!(r.usage.input_tokens, Some(33));
    assert_eq!(r.usage.output_tokens, Some(95));
}

#[test]
fn cassette_legacy_completion() {
    let mut faults = Vec::new();
    let r = parse_request(
        Operation::TextCompletion,
        testdata!("completion.request.json").as_bytes(),
        &mut faults,
    );
    assert_eq!(r.model.as_deref(), Some("claude-instant-1.2"));
    assert_eq!(r.params.max_tokens, Some(2048));
    assert_eq!(r.params.top_p, Some(0.1));
    assert_eq!(
        r.input_messages[0].parts,
        vec![text("\n\nHuman:\nHello world\n\n\nAssistant:")]
    );
    let r = parse_response(
        Operation::TextCompletion,
        testdata!("completion.response.json").as_bytes(),
        &mut faults,
    );
    assert!(faults.is_empty(), "{faults:?}");
    assert_eq!(r.id.as_deref(), Some("compl_01EjfrPvPEsRDRUKD6VoBxtK"));
    assert_eq!(r.model.as_deref(), Some("claude-instant-1.2"));
    assert_eq!(r.finish_reasons, vec!["stop"]);
    assert_eq!(only_message(&r).parts, vec![text(" Hello!")]);
}

// ---------------------------------------------------------------------------------------
// Lenient stream events (issue 10 item 16)
// ---------------------------------------------------------------------------------------

fn message_events(delta_usage: Value) -> Vec<Value> {
    vec![
        json!({"type": "message_start", "message": {"id": "msg_1", "model": "claude-x",
            "usage": {"input_tokens": 10, "output_tokens": 1}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": delta_usage}),
        json!({"type": "message_stop"}),
    ]
}

#[test]
fn integral_float_token_count_keeps_stop_reason() {
    let (acc, faults, _) = stream(
        Operation::Chat,
        &message_events(json!({"output_tokens": 1024.0})),
    );
    assert!(faults.is_empty(), "{faults:?}");
    let r = acc.finish();
    assert_eq!(r.finish_reasons, vec!["length".to_owned()]);
    assert_eq!(r.usage.output_tokens, Some(1024));
    assert_eq!(r.usage.input_tokens, Some(10));
}

#[test]
fn wrongly_typed_token_count_is_a_fault_and_keeps_the_event() {
    let (acc, faults, _) = stream(
        Operation::Chat,
        &message_events(json!({"output_tokens": "1024", "input_tokens": 12})),
    );
    assert_eq!(faults, vec![FaultKind::UnexpectedShape]);
    let r = acc.finish();
    assert_eq!(r.finish_reasons, vec!["length".to_owned()]);
    // The bad count reads as absent (the earlier one stays). The delta's input count is
    // not taken at all (message_start's 10 stays, as upstream keeps it: see
    // `stream_message_delta_input_and_cache_counts_are_not_taken`).
    assert_eq!(r.usage.output_tokens, Some(1));
    assert_eq!(r.usage.input_tokens, Some(10));
}

#[test]
fn wrongly_typed_fields_elsewhere_keep_the_rest_of_the_event() {
    let events = vec![
        // `model` is a number: id and usage stay.
        json!({"type": "message_start", "message": {"id": "msg_2", "model": 7,
            "usage": {"input_tokens": 3}}}),
        json!({"type": "content_block_start", "index": 0.0, "content_block": {"type": "text", "text": ""}}),
        // `index` as an integral float still addresses block 0.
        json!({"type": "content_block_delta", "index": 0.0, "delta": {"type": "text_delta", "text": "ok"}}),
        // `usage` is a string: the stop reason stays.
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": "n/a"}),
        json!({"type": "message_stop"}),
    ];
    let (acc, faults, chunks) = stream(Operation::Chat, &events);
    assert_eq!(
        faults,
        vec![FaultKind::UnexpectedShape],
        "reported once per stream"
    );
    assert_eq!(chunks, 1);
    assert!(acc.is_complete());
    let r = acc.finish();
    assert_eq!(r.id.as_deref(), Some("msg_2"));
    assert_eq!(r.model, None);
    assert_eq!(r.usage.input_tokens, Some(3));
    assert_eq!(r.finish_reasons, vec!["stop".to_owned()]);
    assert_eq!(r.output_messages[0].parts, vec![text("ok")]);
}
