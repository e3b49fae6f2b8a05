//! The [`Flavour::Semconv`](super::Flavour::Semconv) flavour: the latest experimental GenAI
//! conventions of `open-telemetry/semantic-conventions-genai`, pinned by commit in
//! [`openllmetry_semconv::latest`], instead of what OpenLLMetry emits.
//!
//! What it writes (from `docs/gen-ai/client-inference.md` and `client-embeddings.md` at the
//! pinned commits):
//!
//! - span name `{gen_ai.operation.name} {gen_ai.request.model}` (the operation alone when the
//!   request names no model), kind CLIENT; the operation of a Gemini / Vertex AI
//!   `generateContent` call is `generate_content` (OpenLLMetry writes `chat`);
//! - at span start: `gen_ai.operation.name`, `gen_ai.provider.name`, `gen_ai.request.model`,
//!   `server.address`, `server.port`, the request parameters, `gen_ai.request.stream` (only
//!   when `true`: "if unset, the request is assumed to be non-streaming"),
//!   `gen_ai.request.choice.count` (only when not 1), `gen_ai.request.reasoning.level` (the
//!   effort string sent), `gen_ai.output.type`; for OpenAI and Azure OpenAI only,
//!   `openai.api.type` and `openai.request.service_tier`;
//! - at the end: `gen_ai.response.{id,model,finish_reasons}`,
//!   `gen_ai.usage.{input,output}_tokens`, `gen_ai.usage.cache_read.input_tokens`,
//!   `gen_ai.usage.cache_write.input_tokens`, `gen_ai.usage.reasoning.output_tokens`,
//!   `gen_ai.embeddings.dimension.count`, `gen_ai.response.time_to_first_chunk`,
//!   `error.type`; when the call ended abnormally (stream cut, transport or provider error),
//!   `error` in `gen_ai.response.finish_reasons` for each generation without a finish reason
//!   (`["error"]` when none came back); for OpenAI and Azure OpenAI only, `openai.response.system_fingerprint` and
//!   `openai.response.service_tier`;
//! - with content capture on: `gen_ai.input.messages`, `gen_ai.output.messages`,
//!   `gen_ai.system_instructions`, `gen_ai.tool.definitions`, as JSON strings following the
//!   pinned JSON schemas (parts discriminated by `type`; output messages without the
//!   deprecated `finish_reason`; tool definitions `{type, name, description?, parameters?}`
//!   for every provider, Anthropic's `input_schema` included).
//!
//! Where it knowingly differs from the conventions, and why:
//!
//! - Content attributes are JSON strings, not structured values: the OpenTelemetry Rust API
//!   (0.33) has no map-valued attributes, and the conventions allow a JSON string "if
//!   structured format is not supported".
//! - No per-modality usage (`gen_ai.usage.{text,image,audio}.*`): the parsers do not read
//!   the providers' modality breakdowns; the usage counters carry
//!   `gen_ai.token.modality=unknown`, as the conventions ask when the modality is not known.
//! - No `gen_ai.request.previous_response.id`, `gen_ai.conversation.id`,
//!   `gen_ai.prompt.name`: the records do not carry them.
//! - No cost attributes: the inference span at the pinned commit defines none (the sources
//!   read describe the `gen_ai.usage.cost.*` proposal as an open pull request,
//!   semantic-conventions-genai #443), and the core knows no cost: it has no price table and
//!   no provider response parsed here reports one.
//! - `gen_ai.tool.definitions` carries `description` and `parameters` whenever content
//!   capture is on (the schema advises leaving these optional properties out by default;
//!   here the whole attribute is already opt-in content).
//! - No `gen_ai.client.inference.operation.details` or `gen_ai.client.operation.exception`
//!   events: content stays on the span, errors are `error.type` and the span status.
//! - The OpenLLMetry extensions of the other flavours (`gen_ai.usage.total_tokens`,
//!   `gen_ai.is_streaming`, `gen_ai.openai.api_base`, `gen_ai.openai.api_version`,
//!   `gen_ai.request.structured_output_schema`, Ollama's duration attributes) are not
//!   written; the `openllmetry.*` markers (truncation, incomplete response) are kept, and
//!   so are the attributes the SDK's entity scope adds to every span inside a workflow or
//!   agent (`traceloop.workflow.name`, `traceloop.entity.path`, association properties).
//!
//! Metrics (`crate::instrument`'s semconv instruments, in place of the v1.41 and OpenLLMetry
//! metrics): `gen_ai.client.inference.duration`, `…time_to_first_chunk`,
//! `…time_per_output_chunk`, the usage counters `gen_ai.client.inference.usage.*` (with
//! `gen_ai.token.modality=unknown`) and the per-operation histograms
//! `gen_ai.client.inference.operation.{input,output}_tokens`; embeddings record
//! `gen_ai.client.embeddings.duration` and `gen_ai.client.embeddings.operation.input_tokens`
//! instead. Usage is recorded as `0` for a call that returned none, as the conventions ask.
//!
//! Agent and tool entities of the SDK (`#[agent]`, `#[tool]`) become `invoke_agent {name}` /
//! `execute_tool {name}` spans in this flavour; see the SDK's `entity` module.

use openllmetry_semconv::latest::attr as latest;
use openllmetry_semconv::message::{OutputMessage, Part};
use openllmetry_semconv::{attr, value};
use opentelemetry::KeyValue;
use serde::Serialize;

use super::{Content, kv_str, str_array, to_json_string};
use crate::detect::{ApiFormat, Operation, Target};
use crate::record::{RequestRecord, ResponseRecord};

/// `gen_ai.operation.name` in the semconv flavour: the other flavours' value, except that a
/// Gemini / Vertex AI `generateContent` call is `generate_content` (the conventions' value for
/// "multimodal content generation operation such as Gemini Generate Content"; OpenLLMetry
/// writes `chat`).
pub(crate) fn operation_name(target: &Target) -> &'static str {
    match (target.format, target.operation) {
        (ApiFormat::Gemini, Operation::Chat) => "generate_content",
        (_, op) => op.semconv_name(),
    }
}

/// The span name of an LLM call in the semconv flavour: `{gen_ai.operation.name}
/// {gen_ai.request.model}`, or the operation name alone when the request names no model.
pub fn semconv_span_name(target: &Target, request: &RequestRecord) -> String {
    let op = operation_name(target);
    match request.model.as_deref().filter(|m| !m.is_empty()) {
        Some(model) => format!("{op} {model}"),
        None => op.to_owned(),
    }
}

/// Whether `provider` is one whose telemetry carries the `openai.*` attributes
/// (`gen_ai.provider.name` is the discriminator of provider-specific attributes).
fn is_openai(provider: &str) -> bool {
    provider == value::provider::OPENAI || provider == value::provider::AZURE_AI_OPENAI
}

/// Request attributes of the semconv flavour (set at span start).
pub(super) fn request_attributes(target: &Target, req: &RequestRecord, out: &mut Vec<KeyValue>) {
    out.push(kv_str(attr::GEN_AI_OPERATION_NAME, operation_name(target)));
    out.push(kv_str(attr::GEN_AI_PROVIDER_NAME, target.provider_name));
    if let Some(m) = &req.model {
        out.push(kv_str(attr::GEN_AI_REQUEST_MODEL, m.clone()));
    }
    out.push(kv_str(attr::SERVER_ADDRESS, target.server_address.clone()));
    out.push(KeyValue::new(
        attr::SERVER_PORT,
        i64::from(target.server_port),
    ));
    if req.stream {
        out.push(KeyValue::new(attr::GEN_AI_REQUEST_STREAM, true));
    }
    let openai = is_openai(target.provider_name);
    if openai {
        // `openai.api.type` has two values in the conventions' OpenAI document.
        let api_type = match target.operation {
            Operation::Chat => Some("chat_completions"),
            Operation::Responses => Some("responses"),
            _ => None,
        };
        if let Some(t) = api_type {
            out.push(kv_str(attr::OPENAI_API_TYPE, t));
        }
    }
    let p = &req.params;
    let ints = [
        (attr::GEN_AI_REQUEST_MAX_TOKENS, p.max_tokens),
        (attr::GEN_AI_REQUEST_TOP_K, p.top_k),
        (attr::GEN_AI_REQUEST_SEED, p.seed),
        (
            attr::GEN_AI_REQUEST_CHOICE_COUNT,
            p.choice_count.filter(|n| *n != 1),
        ),
    ];
    out.extend(
        ints.into_iter()
            .filter_map(|(k, v)| v.map(|v| KeyValue::new(k, v))),
    );
    let floats = [
        (attr::GEN_AI_REQUEST_TEMPERATURE, p.temperature),
        (attr::GEN_AI_REQUEST_TOP_P, p.top_p),
        (attr::GEN_AI_REQUEST_FREQUENCY_PENALTY, p.frequency_penalty),
        (attr::GEN_AI_REQUEST_PRESENCE_PENALTY, p.presence_penalty),
    ];
    out.extend(
        floats
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| KeyValue::new(k, v))),
    );
    if !p.stop_sequences.is_empty() {
        out.push(KeyValue::new(
            attr::GEN_AI_REQUEST_STOP_SEQUENCES,
            str_array(&p.stop_sequences),
        ));
    }
    if !p.encoding_formats.is_empty() {
        out.push(KeyValue::new(
            attr::GEN_AI_REQUEST_ENCODING_FORMATS,
            str_array(&p.encoding_formats),
        ));
    }
    if let Some(v) = &p.reasoning_effort {
        out.push(kv_str(latest::GEN_AI_REQUEST_REASONING_LEVEL, v.clone()));
    }
    if let Some(v) = &p.output_type {
        out.push(kv_str(attr::GEN_AI_OUTPUT_TYPE, v.clone()));
    }
    if openai && let Some(v) = &p.service_tier {
        out.push(kv_str(attr::OPENAI_REQUEST_SERVICE_TIER, v.clone()));
    }
}

/// Response attributes of the semconv flavour. `provider` is the call's
/// `gen_ai.provider.name` (`None`: unknown, the `openai.*` attributes are written when the
/// response has them).
pub fn semconv_response_attributes(
    provider: Option<&str>,
    resp: &ResponseRecord,
    out: &mut Vec<KeyValue>,
) {
    if let Some(v) = &resp.id {
        out.push(kv_str(attr::GEN_AI_RESPONSE_ID, v.clone()));
    }
    if let Some(v) = &resp.model {
        out.push(kv_str(attr::GEN_AI_RESPONSE_MODEL, v.clone()));
    }
    if !resp.finish_reasons.is_empty() {
        out.push(KeyValue::new(
            attr::GEN_AI_RESPONSE_FINISH_REASONS,
            str_array(&resp.finish_reasons),
        ));
    }
    if provider.is_none_or(is_openai) {
        if let Some(v) = &resp.system_fingerprint {
            out.push(kv_str(attr::OPENAI_RESPONSE_SYSTEM_FINGERPRINT, v.clone()));
        }
        if let Some(v) = &resp.service_tier {
            out.push(kv_str(attr::OPENAI_RESPONSE_SERVICE_TIER, v.clone()));
        }
    }
    if let Some(d) = resp.embedding_dimensions {
        out.push(KeyValue::new(attr::GEN_AI_EMBEDDINGS_DIMENSION_COUNT, d));
    }
    let u = &resp.usage;
    let usage = [
        (attr::GEN_AI_USAGE_INPUT_TOKENS, u.input_tokens),
        (attr::GEN_AI_USAGE_OUTPUT_TOKENS, u.output_tokens),
        (
            attr::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
            u.cache_read_input_tokens,
        ),
        (
            latest::GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
            u.cache_creation_input_tokens,
        ),
        (
            attr::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
            u.reasoning_output_tokens,
        ),
    ];
    out.extend(
        usage
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| KeyValue::new(k, v))),
    );
}

/// `gen_ai.response.finish_reasons` of a call that ended abnormally (stream cut, transport or
/// provider error): "If a finish reason was expected but not received, for example because
/// generation failed, was cancelled, or a stream ended before the final event,
/// instrumentations SHOULD report `error` for that position" (`client-inference.md`). One
/// entry per output message, its own reason or `error`; `["error"]` when no generation came
/// back.
pub(crate) fn abnormal_finish_reasons(resp: Option<&ResponseRecord>) -> Vec<String> {
    let messages = resp
        .map(|r| r.output_messages.as_slice())
        .unwrap_or_default();
    if messages.is_empty() {
        return match resp.map(|r| r.finish_reasons.as_slice()) {
            Some(reported) if !reported.is_empty() => reported.to_vec(),
            _ => vec![value::finish_reason::ERROR.to_owned()],
        };
    }
    messages
        .iter()
        .map(|m| {
            if m.finish_reason.is_empty() {
                value::finish_reason::ERROR.to_owned()
            } else {
                m.finish_reason.clone()
            }
        })
        .collect()
}

/// An output message as the pinned output-messages schema has it: `{role, parts, name?}`
/// (its `finish_reason` is deprecated in favour of `gen_ai.response.finish_reasons`).
#[derive(Serialize)]
struct LatestOutputMessage<'a> {
    role: &'a str,
    parts: &'a [Part],
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

fn output_messages_json(messages: &[OutputMessage]) -> Option<String> {
    let list: Vec<LatestOutputMessage<'_>> = messages
        .iter()
        .map(|m| LatestOutputMessage {
            role: &m.role,
            parts: &m.parts,
            name: m.name.as_deref(),
        })
        .collect();
    to_json_string(&list)
}

/// Content attributes of the semconv flavour: `gen_ai.input.messages`,
/// `gen_ai.output.messages`, `gen_ai.system_instructions`, `gen_ai.tool.definitions`, as
/// JSON strings following the pinned schemas (the same shapes for every provider).
pub fn semconv_content_attributes(content: &Content, out: &mut Vec<KeyValue>) {
    if !content.input_messages.is_empty()
        && let Some(s) = to_json_string(&content.input_messages)
    {
        out.push(kv_str(attr::GEN_AI_INPUT_MESSAGES, s));
    }
    if !content.output_messages.is_empty()
        && let Some(s) = output_messages_json(&content.output_messages)
    {
        out.push(kv_str(attr::GEN_AI_OUTPUT_MESSAGES, s));
    }
    if !content.system_instructions.is_empty()
        && let Some(s) = to_json_string(&content.system_instructions)
    {
        out.push(kv_str(attr::GEN_AI_SYSTEM_INSTRUCTIONS, s));
    }
    if !content.tool_definitions.is_empty()
        && let Some(s) = to_json_string(&content.tool_definitions)
    {
        out.push(kv_str(attr::GEN_AI_TOOL_DEFINITIONS, s));
    }
}

#[cfg(test)]
mod tests {
    //! Expectations are the conventions' attribute names, written as literals from
    //! `docs/gen-ai/client-inference.md` and the message schemas at the pinned commits, with
    //! values from recorded bodies (`providers/*/testdata`), never from the renderer.
    use super::*;
    use crate::detect::detect;
    use crate::provider::{parse_request_for, parse_response_for};
    use crate::render::tests::{content, find};
    use crate::render::{Flavour, request_attributes, response_attributes};
    use opentelemetry::Value;
    use serde_json::{Value as Json, json};

    const OPENAI_CHAT_REQ: &[u8] = include_bytes!("../providers/openai/testdata/chat.request.json");
    const OPENAI_CHAT_RESP: &[u8] =
        include_bytes!("../providers/openai/testdata/chat.response.json");
    const ANTHROPIC_TOOLS_REQ: &[u8] =
        include_bytes!("../providers/anthropic/testdata/tools.request.json");
    const ANTHROPIC_CACHE_READ_RESP: &[u8] =
        include_bytes!("../providers/anthropic/testdata/prompt_caching_read.response.json");

    fn keys(kvs: &[KeyValue]) -> Vec<&str> {
        kvs.iter().map(|kv| kv.key.as_str()).collect()
    }

    fn parsed(url: &str, req: &[u8], resp: &[u8]) -> (Target, RequestRecord, ResponseRecord) {
        let t = detect("POST", url).expect("an LLM URL");
        let mut faults = Vec::new();
        let rq = parse_request_for(&t, req, &mut faults);
        let rs = parse_response_for(&t, resp, &mut faults);
        assert!(faults.is_empty(), "{faults:?}");
        (t, rq, rs)
    }

    #[test]
    fn openai_chat_renders_the_inference_span_attributes() {
        let (t, rq, rs) = parsed(
            "https://api.openai.com/v1/chat/completions",
            OPENAI_CHAT_REQ,
            OPENAI_CHAT_RESP,
        );
        assert_eq!(semconv_span_name(&t, &rq), "chat gpt-3.5-turbo");
        let mut out = Vec::new();
        request_attributes(Flavour::Semconv, &t, &rq, &mut out);
        let s = |k: &str| find(&out, k).map(|v| v.as_str().into_owned());
        assert_eq!(s("gen_ai.operation.name").as_deref(), Some("chat"));
        assert_eq!(s("gen_ai.provider.name").as_deref(), Some("openai"));
        assert_eq!(s("gen_ai.request.model").as_deref(), Some("gpt-3.5-turbo"));
        assert_eq!(s("server.address").as_deref(), Some("api.openai.com"));
        assert_eq!(find(&out, "server.port"), Some(&Value::I64(443)));
        assert_eq!(s("openai.api.type").as_deref(), Some("chat_completions"));
        // Not streamed: `gen_ai.request.stream` is left unset ("if unset, the request is
        // assumed to be non-streaming"); none of OpenLLMetry's extensions.
        for absent in [
            "gen_ai.request.stream",
            "gen_ai.is_streaming",
            "gen_ai.openai.api_base",
            "gen_ai.system",
            "llm.request.type",
        ] {
            assert!(find(&out, absent).is_none(), "{absent} in {:?}", keys(&out));
        }

        let mut out = Vec::new();
        semconv_response_attributes(Some("openai"), &rs, &mut out);
        let s = |k: &str| find(&out, k).map(|v| v.as_str().into_owned());
        assert_eq!(
            s("gen_ai.response.id").as_deref(),
            Some("chatcmpl-908MD9ivBBLb6EaIjlqwFokntayQK")
        );
        assert_eq!(
            s("gen_ai.response.model").as_deref(),
            Some("gpt-3.5-turbo-0125")
        );
        assert_eq!(
            find(&out, "gen_ai.response.finish_reasons"),
            Some(&Value::Array(
                vec![opentelemetry::StringValue::from("stop")].into()
            ))
        );
        assert_eq!(
            find(&out, "gen_ai.usage.input_tokens"),
            Some(&Value::I64(15))
        );
        assert_eq!(
            find(&out, "gen_ai.usage.output_tokens"),
            Some(&Value::I64(19))
        );
        assert_eq!(
            s("openai.response.system_fingerprint").as_deref(),
            Some("fp_2b778c6b35")
        );
        for absent in [
            "gen_ai.usage.total_tokens",
            "gen_ai.openai.response.system_fingerprint",
            "gen_ai.usage.cache_write.input_tokens",
        ] {
            assert!(find(&out, absent).is_none(), "{absent} in {:?}", keys(&out));
        }
    }

    #[test]
    fn anthropic_cache_tokens_use_cache_write_and_input_includes_the_cache() {
        let (t, rq, rs) = parsed(
            "https://api.anthropic.com/v1/messages",
            ANTHROPIC_TOOLS_REQ,
            ANTHROPIC_CACHE_READ_RESP,
        );
        let mut out = Vec::new();
        request_attributes(Flavour::Semconv, &t, &rq, &mut out);
        assert_eq!(
            find(&out, "gen_ai.provider.name").map(|v| v.as_str().into_owned()),
            Some("anthropic".to_owned())
        );
        assert_eq!(
            find(&out, "gen_ai.request.max_tokens"),
            Some(&Value::I64(1024))
        );
        // `openai.*` attributes belong to the OpenAI provider only.
        assert!(
            keys(&out).iter().all(|k| !k.starts_with("openai.")),
            "{:?}",
            keys(&out)
        );
        let mut out = Vec::new();
        semconv_response_attributes(Some("anthropic"), &rs, &mut out);
        // Recorded usage: input 4, cache_creation 0, cache_read 1163, output 202. The
        // conventions' input tokens include the cached ones: 4 + 0 + 1163.
        assert_eq!(
            find(&out, "gen_ai.usage.input_tokens"),
            Some(&Value::I64(1167))
        );
        assert_eq!(
            find(&out, "gen_ai.usage.cache_read.input_tokens"),
            Some(&Value::I64(1163))
        );
        assert_eq!(
            find(&out, "gen_ai.usage.cache_write.input_tokens"),
            Some(&Value::I64(0))
        );
        assert!(find(&out, "gen_ai.usage.cache_creation.input_tokens").is_none());
        assert_eq!(
            find(&out, "gen_ai.usage.output_tokens"),
            Some(&Value::I64(202))
        );
        assert_eq!(
            find(&out, "gen_ai.response.finish_reasons"),
            Some(&Value::Array(
                vec![opentelemetry::StringValue::from("stop")].into()
            ))
        );
    }

    #[test]
    fn request_parameters_follow_the_conditions_of_the_span_table() {
        let t = detect("POST", "https://api.openai.com/v1/chat/completions").unwrap();
        let mut faults = Vec::new();
        let rq = parse_request_for(
            &t,
            br#"{"model":"o3","stream":true,"n":1,"seed":7,"reasoning_effort":"low","service_tier":"flex","stop":"END","messages":[]}"#,
            &mut faults,
        );
        let mut out = Vec::new();
        request_attributes(Flavour::Semconv, &t, &rq, &mut out);
        assert_eq!(
            find(&out, "gen_ai.request.stream"),
            Some(&Value::Bool(true))
        );
        // "If available, in the request, and !=1."
        assert!(find(&out, "gen_ai.request.choice.count").is_none());
        assert_eq!(find(&out, "gen_ai.request.seed"), Some(&Value::I64(7)));
        assert_eq!(
            find(&out, "gen_ai.request.reasoning.level").map(|v| v.as_str().into_owned()),
            Some("low".to_owned())
        );
        assert!(find(&out, "gen_ai.request.reasoning_effort").is_none());
        assert_eq!(
            find(&out, "openai.request.service_tier").map(|v| v.as_str().into_owned()),
            Some("flex".to_owned())
        );
        let rq = parse_request_for(&t, br#"{"model":"m","n":3,"messages":[]}"#, &mut faults);
        let mut out = Vec::new();
        request_attributes(Flavour::Semconv, &t, &rq, &mut out);
        assert_eq!(
            find(&out, "gen_ai.request.choice.count"),
            Some(&Value::I64(3))
        );
        // The same request to another OpenAI-compatible provider carries no `openai.*`.
        let groq = detect("POST", "https://api.groq.com/openai/v1/chat/completions").unwrap();
        let mut out = Vec::new();
        request_attributes(Flavour::Semconv, &groq, &rq, &mut out);
        assert_eq!(
            find(&out, "gen_ai.provider.name").map(|v| v.as_str().into_owned()),
            Some("groq".to_owned())
        );
        assert!(
            keys(&out).iter().all(|k| !k.starts_with("openai.")),
            "{:?}",
            keys(&out)
        );
    }

    #[test]
    fn gemini_generate_content_is_its_own_operation() {
        let t = detect(
            "POST",
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent",
        )
        .unwrap();
        let mut faults = Vec::new();
        let mut rq = parse_request_for(
            &t,
            br#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#,
            &mut faults,
        );
        // The model is in the URL; the recorder fills it in from the target.
        assert_eq!(t.model_in_path.as_deref(), Some("gemini-2.0-flash"));
        rq.model.clone_from(&t.model_in_path);
        assert_eq!(
            semconv_span_name(&t, &rq),
            "generate_content gemini-2.0-flash"
        );
        let mut out = Vec::new();
        request_attributes(Flavour::Semconv, &t, &rq, &mut out);
        assert_eq!(
            find(&out, "gen_ai.operation.name").map(|v| v.as_str().into_owned()),
            Some("generate_content".to_owned())
        );
        assert_eq!(
            find(&out, "gen_ai.provider.name").map(|v| v.as_str().into_owned()),
            Some("gcp.gemini".to_owned())
        );
    }

    #[test]
    fn span_name_is_operation_and_model() {
        let t = detect("POST", "https://api.openai.com/v1/embeddings").unwrap();
        let rq = RequestRecord {
            model: Some("text-embedding-3-small".into()),
            ..Default::default()
        };
        assert_eq!(
            semconv_span_name(&t, &rq),
            "embeddings text-embedding-3-small"
        );
        assert_eq!(
            semconv_span_name(&t, &RequestRecord::default()),
            "embeddings"
        );
    }

    #[test]
    fn content_uses_the_current_message_shapes() {
        let mut out = Vec::new();
        semconv_content_attributes(&content(), &mut out);
        let json =
            |k: &str| -> Json { serde_json::from_str(&find(&out, k).unwrap().as_str()).unwrap() };
        assert_eq!(
            json("gen_ai.system_instructions"),
            json!([{"type": "text", "content": "be brief"}])
        );
        assert_eq!(
            json("gen_ai.input.messages")[1],
            json!({"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "get_weather", "arguments": {"city": "Paris"}}]})
        );
        assert_eq!(
            json("gen_ai.input.messages")[2],
            json!({"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "sunny"}]})
        );
        // `finish_reason` is deprecated in the output-messages schema (reported in
        // `gen_ai.response.finish_reasons` instead).
        assert_eq!(
            json("gen_ai.output.messages"),
            json!([{"role": "assistant", "parts": [{"type": "text", "content": "It is sunny."}]}])
        );
        assert_eq!(
            json("gen_ai.tool.definitions"),
            json!([{"type": "function", "name": "get_weather", "description": "Weather", "parameters": {"type": "object"}}])
        );
    }

    #[test]
    fn anthropic_tool_definitions_take_the_schema_shape() {
        let (_, rq, _) = parsed(
            "https://api.anthropic.com/v1/messages",
            ANTHROPIC_TOOLS_REQ,
            ANTHROPIC_CACHE_READ_RESP,
        );
        let c = Content {
            tool_definitions: rq.tool_definitions,
            ..Default::default()
        };
        let mut out = Vec::new();
        semconv_content_attributes(&c, &mut out);
        let defs: Json =
            serde_json::from_str(&find(&out, "gen_ai.tool.definitions").unwrap().as_str()).unwrap();
        assert_eq!(defs[0]["type"], "function");
        assert_eq!(defs[0]["name"], "get_weather");
        assert_eq!(defs[0]["parameters"]["required"], json!(["location"]));
        assert!(defs[0].get("input_schema").is_none());
        assert_eq!(defs[1]["name"], "get_time");
    }

    #[test]
    fn without_content_nothing_of_the_content_is_written() {
        // The recorder renders content only from a `Content`; the attribute renderers alone
        // must carry none of the recorded text.
        let (t, rq, rs) = parsed(
            "https://api.openai.com/v1/chat/completions",
            OPENAI_CHAT_REQ,
            OPENAI_CHAT_RESP,
        );
        let mut out = Vec::new();
        request_attributes(Flavour::Semconv, &t, &rq, &mut out);
        response_attributes(Flavour::Semconv, &rs, &mut out);
        for kv in &out {
            let v = kv.value.as_str();
            assert!(!v.contains("joke"), "{kv:?}");
            assert!(!v.contains("baggage"), "{kv:?}");
        }
        for k in [
            "gen_ai.input.messages",
            "gen_ai.output.messages",
            "gen_ai.system_instructions",
            "gen_ai.tool.definitions",
        ] {
            assert!(find(&out, k).is_none());
        }
    }
}
