//! The attributes every flavour writes from the records, without content: request
//! parameters, response metadata, token usage.

use openllmetry_semconv::{attr, legacy as legacy_keys};
use opentelemetry::KeyValue;

use super::{Flavour, current, kv_str, legacy, semconv, str_array};
use crate::detect::{ApiFormat, Operation, Target};
use crate::record::{RequestRecord, ResponseRecord, Usage};

/// Attributes known when the request is sent (set at span start, so samplers see them).
pub fn request_attributes(
    flavour: Flavour,
    target: &Target,
    req: &RequestRecord,
    out: &mut Vec<KeyValue>,
) {
    if flavour == Flavour::Semconv {
        return semconv::request_attributes(target, req, out);
    }
    out.push(kv_str(
        attr::GEN_AI_OPERATION_NAME,
        target.operation.semconv_name(),
    ));
    out.push(kv_str(attr::GEN_AI_PROVIDER_NAME, target.provider_name));
    if flavour == Flavour::Legacy {
        legacy::request_kind_attributes(target, req, out);
    } else {
        current::request_kind_attributes(req, out);
    }
    out.push(kv_str(attr::SERVER_ADDRESS, target.server_address.clone()));
    out.push(KeyValue::new(
        attr::SERVER_PORT,
        i64::from(target.server_port),
    ));
    if target.format == ApiFormat::OpenAi {
        out.push(kv_str(
            attr::GEN_AI_OPENAI_API_BASE,
            target.api_base.clone(),
        ));
        if flavour != Flavour::Legacy {
            let api_type = match target.operation {
                Operation::Responses => "responses",
                Operation::Chat => "chat_completions",
                Operation::TextCompletion => "completions",
                Operation::Embeddings => "embeddings",
                Operation::Rerank => "rerank",
            };
            out.push(kv_str(attr::OPENAI_API_TYPE, api_type));
        }
    }
    if let Some(v) = &target.api_version {
        out.push(kv_str(attr::GEN_AI_OPENAI_API_VERSION, v.clone()));
    }
    if let Some(m) = &req.model {
        out.push(kv_str(attr::GEN_AI_REQUEST_MODEL, m.clone()));
    }
    let p = &req.params;
    let ints = [
        (attr::GEN_AI_REQUEST_MAX_TOKENS, p.max_tokens),
        (attr::GEN_AI_REQUEST_TOP_K, p.top_k),
        (attr::GEN_AI_REQUEST_SEED, p.seed),
        (attr::GEN_AI_REQUEST_CHOICE_COUNT, p.choice_count),
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
    if let Some(v) = &p.service_tier {
        out.push(kv_str(attr::OPENAI_REQUEST_SERVICE_TIER, v.clone()));
    }
    if let Some(v) = &p.reasoning_effort {
        out.push(kv_str(attr::GEN_AI_REQUEST_REASONING_EFFORT, v.clone()));
    }
    if let Some(v) = &p.structured_output_schema {
        out.push(kv_str(
            attr::GEN_AI_REQUEST_STRUCTURED_OUTPUT_SCHEMA,
            v.clone(),
        ));
    }
    if let Some(v) = &p.output_type {
        out.push(kv_str(attr::GEN_AI_OUTPUT_TYPE, v.clone()));
    }
}

/// Attributes taken from the response (no content).
pub fn response_attributes(flavour: Flavour, resp: &ResponseRecord, out: &mut Vec<KeyValue>) {
    if flavour == Flavour::Semconv {
        return semconv::semconv_response_attributes(None, resp, out);
    }
    if let Some(v) = &resp.id {
        out.push(kv_str(attr::GEN_AI_RESPONSE_ID, v.clone()));
    }
    if let Some(v) = &resp.model {
        out.push(kv_str(attr::GEN_AI_RESPONSE_MODEL, v.clone()));
    }
    if let Some(v) = &resp.system_fingerprint {
        let key = match flavour {
            Flavour::Legacy => legacy_keys::GEN_AI_OPENAI_SYSTEM_FINGERPRINT,
            _ => attr::GEN_AI_OPENAI_RESPONSE_SYSTEM_FINGERPRINT,
        };
        out.push(kv_str(key, v.clone()));
    }
    if let Some(v) = &resp.service_tier {
        out.push(kv_str(attr::OPENAI_RESPONSE_SERVICE_TIER, v.clone()));
    }
    if !resp.finish_reasons.is_empty() {
        out.push(KeyValue::new(
            attr::GEN_AI_RESPONSE_FINISH_REASONS,
            str_array(&resp.finish_reasons),
        ));
    }
    if let Some(d) = resp.embedding_dimensions {
        out.push(KeyValue::new(attr::GEN_AI_EMBEDDINGS_DIMENSION_COUNT, d));
    }
    for (key, v) in &resp.provider_attributes {
        out.push(KeyValue::new(*key, *v));
    }
    usage_attributes(flavour, &resp.usage, out);
}

fn usage_attributes(flavour: Flavour, u: &Usage, out: &mut Vec<KeyValue>) {
    let total = u.total_tokens.or(match (u.input_tokens, u.output_tokens) {
        (Some(i), Some(o)) => Some(i + o),
        _ => None,
    });
    let keys = if flavour == Flavour::Legacy {
        legacy::usage_keys(u, total)
    } else {
        current::usage_keys(u, total)
    };
    out.extend(
        keys.into_iter()
            .filter_map(|(k, v)| v.map(|v| KeyValue::new(k, v))),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tests::find;
    use opentelemetry::Value;

    #[test]
    fn usage_renders_per_flavour() {
        let u = Usage {
            input_tokens: Some(10),
            output_tokens: Some(5),
            cache_read_input_tokens: Some(3),
            ..Default::default()
        };
        let mut cur = Vec::new();
        usage_attributes(Flavour::Current, &u, &mut cur);
        assert_eq!(
            find(&cur, "gen_ai.usage.total_tokens"),
            Some(&Value::I64(15))
        );
        assert_eq!(
            find(&cur, "gen_ai.usage.cache_read.input_tokens"),
            Some(&Value::I64(3))
        );
        assert!(find(&cur, "gen_ai.usage.cache_creation.input_tokens").is_none());
        let mut leg = Vec::new();
        usage_attributes(Flavour::Legacy, &u, &mut leg);
        assert_eq!(find(&leg, "llm.usage.total_tokens"), Some(&Value::I64(15)));
        assert_eq!(
            find(&leg, "gen_ai.usage.prompt_tokens"),
            Some(&Value::I64(10))
        );
    }
    // Expectations below come from upstream's code and tests (traceloop/openllmetry):
    // 0.62 `tests/traces/test_chat.py` (system fingerprint, reasoning tokens),
    // 0.62 `tests/test_messages.py` (Anthropic `input_schema`), and v0.53.4
    // `anthropic/__init__.py` / `span_utils.py` / `openai/shared/__init__.py` (legacy).

    #[test]
    fn fingerprint_and_reasoning_tokens_use_upstream_names() {
        let resp = ResponseRecord {
            system_fingerprint: Some("fp_1".into()),
            usage: Usage {
                reasoning_output_tokens: Some(7),
                ..Default::default()
            },
            ..Default::default()
        };
        for f in [Flavour::Current, Flavour::Events] {
            let mut out = Vec::new();
            response_attributes(f, &resp, &mut out);
            assert_eq!(
                find(&out, "gen_ai.openai.response.system_fingerprint"),
                Some(&Value::from("fp_1"))
            );
            assert_eq!(
                find(&out, "gen_ai.usage.reasoning_tokens"),
                Some(&Value::I64(7))
            );
            assert!(find(&out, "openai.response.system_fingerprint").is_none());
            assert!(find(&out, "gen_ai.usage.reasoning.output_tokens").is_none());
        }
        let mut out = Vec::new();
        response_attributes(Flavour::Legacy, &resp, &mut out);
        assert_eq!(
            find(&out, "gen_ai.openai.system_fingerprint"),
            Some(&Value::from("fp_1"))
        );
        assert_eq!(
            find(&out, "llm.usage.reasoning_tokens"),
            Some(&Value::I64(7))
        );
    }
}
