//! Bedrock response bodies: Converse (and Nova invoke, the same shape) and the invoke body
//! of each model family.

use openllmetry_semconv::message::{OutputMessage, Part};
use serde_json::Value;

use super::request::block_part;
use super::{BedrockTarget, ModelFamily, map_finish_reason};
use crate::detect::Operation;
use crate::fault::FaultKind;
use crate::json::{Faults, Obj, int_of, parse_object};
use crate::record::{ProviderError, ResponseRecord, Usage};

/// Parses a complete Bedrock response body. Never fails: problems are pushed to `faults`
/// (each kind once) and the record keeps what could be read. An AWS error body
/// (`{"message": ...}` with a 4xx/5xx status) yields no record fields: the recorder falls
/// back to the HTTP status for `error.type`.
pub fn parse_response(
    t: &BedrockTarget,
    body: &[u8],
    faults: &mut Vec<FaultKind>,
) -> ResponseRecord {
    if !t.api.is_converse() && t.family == ModelFamily::Anthropic {
        let op = if body.windows(9).any(|w| w == b"\"content\"") {
            Operation::Chat
        } else {
            Operation::TextCompletion
        };
        return crate::anthropic::parse_response(op, body, faults);
    }
    let mut f = Faults::new(faults);
    let Some(obj) = parse_object(body, &mut f) else {
        return ResponseRecord::default();
    };
    let mut rec = ResponseRecord::default();
    read_body(&obj, &mut rec, &mut f);
    rec
}

/// Converse-shaped `usage` (`inputTokens`, `outputTokens`, `totalTokens`,
/// `cacheReadInputTokens`, `cacheWriteInputTokens`). Input tokens include the cached ones
/// (as for Anthropic: see [`Usage::input_tokens`]).
pub(crate) fn converse_usage(u: &Obj) -> Usage {
    let get = |k: &str| u.get(k).and_then(int_of);
    let read = get("cacheReadInputTokens");
    let write = get("cacheWriteInputTokens");
    let input = get("inputTokens").map(|i| i + read.unwrap_or(0) + write.unwrap_or(0));
    let output = get("outputTokens");
    Usage {
        input_tokens: input,
        output_tokens: output,
        total_tokens: get("totalTokens").or(match (input, output) {
            (Some(i), Some(o)) => Some(i + o),
            _ => None,
        }),
        cache_read_input_tokens: read,
        cache_creation_input_tokens: write,
        reasoning_output_tokens: None,
    }
}

/// `amazon-bedrock-invocationMetrics` (last stream chunk) as usage.
pub(crate) fn invocation_metrics_usage(m: &Obj) -> Usage {
    let input = m.get("inputTokenCount").and_then(int_of);
    let output = m.get("outputTokenCount").and_then(int_of);
    let read = m.get("cacheReadInputTokenCount").and_then(int_of);
    let write = m.get("cacheWriteInputTokenCount").and_then(int_of);
    let input = input.map(|i| i + read.unwrap_or(0) + write.unwrap_or(0));
    Usage {
        input_tokens: input,
        output_tokens: output,
        total_tokens: match (input, output) {
            (Some(i), Some(o)) => Some(i + o),
            _ => None,
        },
        cache_read_input_tokens: read,
        cache_creation_input_tokens: write,
        reasoning_output_tokens: None,
    }
}

fn push_output(rec: &mut ResponseRecord, role: &str, parts: Vec<Part>, raw_reason: Option<&str>) {
    let mapped = raw_reason.map(map_finish_reason).unwrap_or("");
    if !mapped.is_empty() {
        rec.finish_reasons.push(mapped.to_owned());
    }
    rec.output_messages.push(OutputMessage {
        role: role.to_owned(),
        parts,
        name: None,
        finish_reason: mapped.to_owned(),
    });
}

fn text_of(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
}

fn read_body(obj: &Obj, rec: &mut ResponseRecord, f: &mut Faults<'_>) {
    // Converse / Nova invoke.
    if let Some(output) = obj.get("output") {
        if let Some(u) = obj.get("usage").and_then(Value::as_object) {
            rec.usage = converse_usage(u);
        }
        let stop = text_of(obj.get("stopReason"));
        match output.get("message").and_then(Value::as_object) {
            Some(msg) => {
                let role = text_of(msg.get("role")).unwrap_or("assistant");
                let parts = match msg.get("content") {
                    Some(Value::Array(blocks)) => blocks.iter().filter_map(block_part).collect(),
                    _ => Vec::new(),
                };
                push_output(rec, role, parts, stop);
            }
            None if stop.is_some() => push_output(rec, "assistant", Vec::new(), stop),
            None => f.push(FaultKind::UnexpectedShape),
        }
        return;
    }
    // Titan: {inputTextTokenCount, results: [{tokenCount, outputText, completionReason}]}.
    if let Some(Value::Array(results)) = obj.get("results") {
        let input = obj.get("inputTextTokenCount").and_then(int_of);
        let mut output = None;
        for r in results {
            if let Some(n) = r.get("tokenCount").and_then(int_of) {
                output = Some(output.unwrap_or(0) + n);
            }
            let parts = text_of(r.get("outputText"))
                .map(|t| vec![Part::text(t)])
                .unwrap_or_default();
            push_output(rec, "assistant", parts, text_of(r.get("completionReason")));
        }
        rec.usage = usage(input, output);
        return;
    }
    // Llama: {generation, prompt_token_count, generation_token_count, stop_reason}.
    if let Some(g) = obj.get("generation") {
        let parts = text_of(Some(g))
            .map(|t| vec![Part::text(t)])
            .unwrap_or_default();
        push_output(rec, "assistant", parts, text_of(obj.get("stop_reason")));
        rec.usage = usage(
            obj.get("prompt_token_count").and_then(int_of),
            obj.get("generation_token_count").and_then(int_of),
        );
        return;
    }
    // Cohere Command: {id, generations: [{id, text, finish_reason}]}.
    if let Some(Value::Array(gens)) = obj.get("generations") {
        rec.id = text_of(obj.get("id")).map(str::to_owned);
        for g in gens {
            let parts = text_of(g.get("text"))
                .map(|t| vec![Part::text(t)])
                .unwrap_or_default();
            push_output(rec, "assistant", parts, text_of(g.get("finish_reason")));
        }
        return;
    }
    // Mistral text: {outputs: [{text, stop_reason}]}.
    if let Some(Value::Array(outs)) = obj.get("outputs") {
        for o in outs {
            let parts = text_of(o.get("text"))
                .map(|t| vec![Part::text(t)])
                .unwrap_or_default();
            push_output(rec, "assistant", parts, text_of(o.get("stop_reason")));
        }
        return;
    }
    // Mistral chat (OpenAI-like): {id, choices: [{message: {role, content}, finish_reason}], usage}.
    if let Some(Value::Array(choices)) = obj.get("choices") {
        rec.id = text_of(obj.get("id")).map(str::to_owned);
        rec.model = text_of(obj.get("model")).map(str::to_owned);
        for c in choices {
            let msg = c.get("message");
            let role = text_of(msg.and_then(|m| m.get("role"))).unwrap_or("assistant");
            let parts = text_of(msg.and_then(|m| m.get("content")))
                .map(|t| vec![Part::text(t)])
                .unwrap_or_default();
            push_output(rec, role, parts, text_of(c.get("finish_reason")));
        }
        if let Some(u) = obj.get("usage") {
            rec.usage = usage(
                u.get("prompt_tokens").and_then(int_of),
                u.get("completion_tokens").and_then(int_of),
            );
        }
        return;
    }
    // AI21 Jurassic: {id, prompt: {tokens}, completions: [{data: {text, tokens}, finishReason: {reason}}]}.
    if let Some(Value::Array(comps)) = obj.get("completions") {
        rec.id = obj.get("id").map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let input = obj
            .get("prompt")
            .and_then(|p| p.get("tokens"))
            .and_then(Value::as_array)
            .map(|a| a.len() as i64);
        let mut output = None;
        for c in comps {
            let data = c.get("data");
            if let Some(n) = data.and_then(|d| d.get("tokens")).and_then(Value::as_array) {
                output = Some(output.unwrap_or(0) + n.len() as i64);
            }
            let parts = text_of(data.and_then(|d| d.get("text")))
                .map(|t| vec![Part::text(t)])
                .unwrap_or_default();
            let reason = c.get("finishReason").and_then(|r| r.get("reason"));
            push_output(rec, "assistant", parts, text_of(reason));
        }
        rec.usage = usage(input, output);
        return;
    }
    // Cohere Command R: {response_id, text, finish_reason}; imported models: {generation...}
    if let Some(t) = text_of(obj.get("text")) {
        rec.id = text_of(obj.get("response_id")).map(str::to_owned);
        push_output(
            rec,
            "assistant",
            vec![Part::text(t)],
            text_of(obj.get("finish_reason")),
        );
        return;
    }
    if obj.contains_key("message") && obj.len() <= 2 {
        // An AWS error body that came with a 2xx (should not happen); nothing to record.
        rec.error = obj
            .get("__type")
            .and_then(Value::as_str)
            .map(|t| ProviderError {
                error_type: t.rsplit('#').next().unwrap_or(t).to_owned(),
            });
        return;
    }
    f.push(FaultKind::UnexpectedShape);
}

fn usage(input: Option<i64>, output: Option<i64>) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        total_tokens: match (input, output) {
            (Some(i), Some(o)) => Some(i + o),
            _ => None,
        },
        ..Usage::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::bedrock::BedrockApi;

    fn parse(api: BedrockApi, model: &str, body: &str) -> (ResponseRecord, Vec<FaultKind>) {
        let mut faults = Vec::new();
        let r = parse_response(
            &BedrockTarget::new(api, model),
            body.as_bytes(),
            &mut faults,
        );
        (r, faults)
    }

    #[test]
    fn converse_with_cache_tokens_and_guardrail() {
        let (r, faults) = parse(
            BedrockApi::Converse,
            "amazon.titan-text-express-v1",
            r#"{"output":{"message":{"role":"assistant","content":[{"text":"Sorry."}]}},
               "stopReason":"guardrail_intervened",
               "usage":{"inputTokens":10,"outputTokens":3,"totalTokens":1013,"cacheReadInputTokens":1000,"cacheWriteInputTokens":0}}"#,
        );
        assert!(faults.is_empty());
        assert_eq!(r.finish_reasons, vec!["content_filter".to_owned()]);
        assert_eq!(r.output_messages[0].parts, vec![Part::text("Sorry.")]);
        assert_eq!(r.usage.input_tokens, Some(1010));
        assert_eq!(r.usage.cache_read_input_tokens, Some(1000));
        assert_eq!(r.usage.cache_creation_input_tokens, Some(0));
        assert_eq!(r.usage.total_tokens, Some(1013));
    }

    #[test]
    fn converse_tool_use() {
        let (r, _) = parse(
            BedrockApi::Converse,
            "anthropic.claude-3-haiku",
            r#"{"output":{"message":{"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"top_song","input":{"sign":"WZPZ"}}}]}},"stopReason":"tool_use","usage":{"inputTokens":1,"outputTokens":2}}"#,
        );
        assert_eq!(r.finish_reasons, vec!["tool_call".to_owned()]);
        assert_eq!(
            r.output_messages[0].parts,
            vec![Part::ToolCall {
                id: Some("t1".into()),
                name: "top_song".into(),
                arguments: Some(serde_json::json!({"sign":"WZPZ"}))
            }]
        );
        assert_eq!(r.usage.total_tokens, Some(3));
    }

    #[test]
    fn invoke_families() {
        let (r, _) = parse(
            BedrockApi::InvokeModel,
            "meta.llama3-70b-instruct-v1:0",
            r#"{"generation":"hi","prompt_token_count":5,"generation_token_count":7,"stop_reason":"stop"}"#,
        );
        assert_eq!(
            (r.usage.input_tokens, r.usage.output_tokens),
            (Some(5), Some(7))
        );
        assert_eq!(r.finish_reasons, vec!["stop".to_owned()]);
        let (r, _) = parse(
            BedrockApi::InvokeModel,
            "amazon.titan-text-express-v1",
            r#"{"inputTextTokenCount":4,"results":[{"tokenCount":9,"outputText":"hola","completionReason":"FINISH"}]}"#,
        );
        assert_eq!(
            (r.usage.input_tokens, r.usage.output_tokens),
            (Some(4), Some(9))
        );
        let (r, _) = parse(
            BedrockApi::InvokeModel,
            "anthropic.claude-3-haiku",
            r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-3-haiku","content":[{"type":"text","text":"x"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":1}}"#,
        );
        assert_eq!(r.id.as_deref(), Some("msg_1"));
        assert_eq!(r.usage.input_tokens, Some(3));
        let (r, faults) = parse(BedrockApi::InvokeModel, "cohere.command-text-v14", "[1]");
        assert_eq!(faults, vec![FaultKind::UnexpectedShape]);
        assert!(r.output_messages.is_empty());
    }
}
