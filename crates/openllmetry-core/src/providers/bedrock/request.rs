//! Bedrock request bodies: Converse and the invoke body of each model family.

use openllmetry_semconv::message::{ChatMessage, Part, ToolDefinition};
use serde_json::Value;

use super::{BedrockTarget, ModelFamily};
use crate::detect::Operation;
use crate::fault::FaultKind;
use crate::json::{Faults, Obj, int_of, parse_object};
use crate::record::RequestRecord;

/// Parses the request body of a Bedrock call. Never fails: problems are pushed to
/// `faults` (each kind once) and the record keeps what could be read.
///
/// `model` is the target's model name (the body carries none); `stream` is set for the
/// streaming operations.
pub fn parse_request(t: &BedrockTarget, body: &[u8], faults: &mut Vec<FaultKind>) -> RequestRecord {
    let mut rec = if !t.api.is_converse() && t.family == ModelFamily::Anthropic {
        // Anthropic's own body format (Messages, or legacy text with `prompt`).
        let op = if looks_like_messages(body) {
            Operation::Chat
        } else {
            Operation::TextCompletion
        };
        crate::anthropic::parse_request(op, body, faults)
    } else {
        let mut f = Faults::new(faults);
        match parse_object(body, &mut f) {
            Some(obj) => read_body(&obj, &mut f),
            None => RequestRecord::default(),
        }
    };
    rec.model = Some(t.model_name().to_owned());
    rec.stream = t.api.is_stream();
    rec
}

/// True when an invoke body is chat-shaped (`messages`), i.e. `gen_ai.operation.name` is
/// `chat` rather than `text_completion`.
pub fn looks_like_messages(body: &[u8]) -> bool {
    // Cheap pre-check before a parse: the key must appear at all.
    if !body.windows(10).any(|w| w == b"\"messages\"") {
        return false;
    }
    matches!(
        serde_json::from_slice::<Value>(body),
        Ok(Value::Object(o)) if o.get("messages").is_some_and(Value::is_array)
    )
}

fn num_i64(v: Option<&Value>) -> Option<i64> {
    v.and_then(int_of)
}

fn num_f64(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
}

/// The first of `keys` present in any of `objs`.
fn first<'v>(objs: &[Option<&'v Obj>], keys: &[&str]) -> Option<&'v Value> {
    objs.iter()
        .flatten()
        .find_map(|o| keys.iter().find_map(|k| o.get(*k).filter(|v| !v.is_null())))
}

fn read_body(obj: &Obj, f: &mut Faults<'_>) -> RequestRecord {
    let mut rec = RequestRecord::default();
    let inference = obj.get("inferenceConfig").and_then(Value::as_object);
    let titan = obj.get("textGenerationConfig").and_then(Value::as_object);
    let objs = [inference, titan, Some(obj)];
    let p = &mut rec.params;
    p.max_tokens = num_i64(first(
        &objs,
        &[
            "maxTokens",
            "max_new_tokens",
            "maxTokenCount",
            "max_tokens",
            "max_gen_len",
            "max_tokens_to_sample",
        ],
    ));
    p.temperature = num_f64(first(&objs, &["temperature"]));
    p.top_p = num_f64(first(&objs, &["topP", "top_p", "p"]));
    p.top_k = num_i64(first(&objs, &["topK", "top_k", "k"]));
    if let Some(stop) = first(&objs, &["stopSequences", "stop_sequences", "stop"]) {
        match stop {
            Value::String(s) => p.stop_sequences.push(s.clone()),
            Value::Array(a) => p
                .stop_sequences
                .extend(a.iter().filter_map(Value::as_str).map(str::to_owned)),
            _ => f.push(FaultKind::UnexpectedShape),
        }
    }
    // System instructions: Converse/Nova `system: [{text}]`, or a plain string.
    match obj.get("system") {
        Some(Value::Array(a)) => {
            for block in a {
                if let Some(t) = block.get("text").and_then(Value::as_str) {
                    rec.system_instructions.push(Part::text(t));
                }
            }
        }
        Some(Value::String(s)) => rec.system_instructions.push(Part::text(s.clone())),
        _ => {}
    }
    // Messages (Converse, Nova, Mistral chat) or a single prompt.
    if let Some(msgs) = obj.get("messages") {
        match msgs {
            Value::Array(a) => {
                for m in a {
                    match m.as_object() {
                        Some(m) => rec.input_messages.push(message_of(m)),
                        None => f.push(FaultKind::UnexpectedShape),
                    }
                }
            }
            _ => f.push(FaultKind::UnexpectedShape),
        }
    } else {
        // Cohere Command R history first, then its `message`.
        if let Some(Value::Array(h)) = obj.get("chat_history") {
            for m in h {
                let role = match m.get("role").and_then(Value::as_str) {
                    Some("CHATBOT") => "assistant",
                    Some("SYSTEM") => "system",
                    _ => "user",
                };
                if let Some(t) = m.get("message").and_then(Value::as_str) {
                    rec.input_messages.push(ChatMessage {
                        role: role.to_owned(),
                        parts: vec![Part::text(t)],
                        name: None,
                    });
                }
            }
        }
        if let Some(prompt) = first(&[Some(obj)], &["inputText", "prompt", "message"]) {
            match prompt.as_str() {
                Some(t) => rec.input_messages.push(ChatMessage {
                    role: "user".to_owned(),
                    parts: vec![Part::text(t)],
                    name: None,
                }),
                None => f.push(FaultKind::UnexpectedShape),
            }
        }
    }
    // Tools: Converse `toolConfig.tools[].toolSpec`.
    if let Some(Value::Array(tools)) = obj.get("toolConfig").and_then(|c| c.get("tools")) {
        for tool in tools {
            let Some(spec) = tool.get("toolSpec") else {
                continue;
            };
            let Some(name) = spec.get("name").and_then(Value::as_str) else {
                f.push(FaultKind::UnexpectedShape);
                continue;
            };
            rec.tool_definitions.push(ToolDefinition {
                kind: "function".to_owned(),
                name: name.to_owned(),
                description: spec
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                parameters: spec
                    .get("inputSchema")
                    .map(|s| s.get("json").unwrap_or(s).clone()),
            });
        }
    }
    rec
}

/// A Converse-shaped message (`{role, content: [blocks] | "text"}`).
fn message_of(m: &Obj) -> ChatMessage {
    let role = m
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or("user")
        .to_owned();
    let parts = match m.get("content") {
        Some(Value::String(s)) => vec![Part::text(s.clone())],
        Some(Value::Array(blocks)) => blocks.iter().filter_map(block_part).collect(),
        _ => Vec::new(),
    };
    ChatMessage {
        role,
        parts,
        name: None,
    }
}

/// One Converse content block as a part (`None` for blocks with nothing to record).
pub(crate) fn block_part(b: &Value) -> Option<Part> {
    let o = b.as_object()?;
    if let Some(t) = o.get("text").and_then(Value::as_str) {
        return Some(Part::text(t));
    }
    if let Some(tu) = o.get("toolUse") {
        return Some(Part::ToolCall {
            id: tu
                .get("toolUseId")
                .and_then(Value::as_str)
                .map(str::to_owned),
            name: tu
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            arguments: tu.get("input").cloned(),
        });
    }
    if let Some(tr) = o.get("toolResult") {
        return Some(Part::ToolCallResponse {
            id: tr
                .get("toolUseId")
                .and_then(Value::as_str)
                .map(str::to_owned),
            response: tr.get("content").cloned().unwrap_or(Value::Null),
        });
    }
    if let Some(g) = o.get("guardContent") {
        // `{"guardContent": {"text": {"text": "...", "qualifiers": [...]}}}`
        if let Some(t) = g
            .get("text")
            .and_then(|t| t.get("text"))
            .and_then(Value::as_str)
        {
            return Some(Part::text(t));
        }
    }
    if let Some(r) = o.get("reasoningContent") {
        if let Some(t) = r
            .get("reasoningText")
            .and_then(|t| t.get("text"))
            .and_then(Value::as_str)
        {
            return Some(Part::Reasoning {
                content: t.to_owned(),
            });
        }
        return None;
    }
    // Images, documents, cache points...: kept as the provider sent them.
    let (kind, _) = o.iter().next()?;
    if kind == "cachePoint" {
        return None;
    }
    let mut generic = o.clone();
    generic.insert("type".to_owned(), Value::String(kind.clone()));
    Some(Part::Generic(generic))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::bedrock::{BedrockApi, BedrockTarget};

    #[test]
    fn titan_invoke_request() {
        // Body of upstream's `test_titan_completion` (cassettes/openllmetry/bedrock).
        let body = br#"{"inputText": "Translate to spanish", "textGenerationConfig": {"maxTokenCount": 200, "temperature": 0.5, "topP": 0.5}}"#;
        let t = BedrockTarget::new(BedrockApi::InvokeModel, "amazon.titan-text-express-v1");
        let mut faults = Vec::new();
        let r = parse_request(&t, body, &mut faults);
        assert!(faults.is_empty());
        assert_eq!(r.model.as_deref(), Some("titan-text-express-v1"));
        assert_eq!(r.params.max_tokens, Some(200));
        assert_eq!(r.params.temperature, Some(0.5));
        assert_eq!(r.params.top_p, Some(0.5));
        assert_eq!(
            r.input_messages[0].parts,
            vec![Part::text("Translate to spanish")]
        );
    }

    #[test]
    fn converse_request_with_tools_and_guard_content() {
        let body = br#"{"messages":[{"role":"user","content":[{"guardContent":{"text":{"text":"Q?","qualifiers":["query"]}}},{"text":"hi"}]}],
            "system":[{"text":"be brief"}],"inferenceConfig":{"maxTokens":10,"stopSequences":["x"]},
            "toolConfig":{"tools":[{"toolSpec":{"name":"top_song","description":"d","inputSchema":{"json":{"type":"object"}}}}]}}"#;
        let t = BedrockTarget::new(BedrockApi::ConverseStream, "amazon.nova-lite-v1:0");
        let mut faults = Vec::new();
        let r = parse_request(&t, body, &mut faults);
        assert!(faults.is_empty(), "{faults:?}");
        assert!(r.stream);
        assert_eq!(r.params.max_tokens, Some(10));
        assert_eq!(r.params.stop_sequences, vec!["x".to_owned()]);
        assert_eq!(r.system_instructions, vec![Part::text("be brief")]);
        assert_eq!(
            r.input_messages[0].parts,
            vec![Part::text("Q?"), Part::text("hi")]
        );
        assert_eq!(r.tool_definitions[0].name, "top_song");
        assert_eq!(
            r.tool_definitions[0].parameters,
            Some(serde_json::json!({"type":"object"}))
        );
    }

    #[test]
    fn invalid_body_is_a_fault() {
        let t = BedrockTarget::new(BedrockApi::Converse, "meta.llama3");
        let mut faults = Vec::new();
        let r = parse_request(&t, b"{not json", &mut faults);
        assert_eq!(faults, vec![FaultKind::InvalidJson]);
        assert_eq!(r.model.as_deref(), Some("llama3"));
    }
}
