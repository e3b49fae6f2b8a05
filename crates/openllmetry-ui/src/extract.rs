//! From OTLP spans and log records to flat records with the GenAI fields pulled out.
//!
//! Understood flavours: current semconv (`gen_ai.provider.name`, `gen_ai.usage.*`,
//! `gen_ai.input.messages`/`gen_ai.output.messages` as JSON strings or structured values), the
//! legacy Traceloop shape (`gen_ai.system`, `gen_ai.usage.prompt_tokens`,
//! `gen_ai.prompt.N.role/content`, `gen_ai.completion.N.*`, `traceloop.*`) and the `events`
//! flavour (content in log records, joined to spans by trace and span id). A span with none of
//! these is still stored with its raw attributes.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value as Av};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{Map, Value};

use crate::prices::{PriceTable, Usage};

/// One span, flattened for the store.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct SpanRecord {
    /// Trace id, lowercase hex.
    pub trace_id: String,
    /// Span id, lowercase hex.
    pub span_id: String,
    /// Parent span id, lowercase hex, `None` for a root.
    pub parent_span_id: Option<String>,
    /// Span name.
    pub name: String,
    /// OTLP span kind number.
    pub kind: i32,
    /// `service.name` of the resource.
    pub service: String,
    /// Start, Unix nanoseconds.
    pub start_ns: i64,
    /// End, Unix nanoseconds.
    pub end_ns: i64,
    /// OTLP status code (0 unset, 1 ok, 2 error).
    pub status_code: i32,
    /// Status message.
    pub status_message: String,
    /// GenAI provider (`gen_ai.provider.name`, else `gen_ai.system`).
    pub provider: Option<String>,
    /// Model (response model, else request model).
    pub model: Option<String>,
    /// `gen_ai.operation.name` (or legacy `llm.request.type`).
    pub operation: Option<String>,
    /// Input tokens (cached included).
    pub input_tokens: Option<i64>,
    /// Output tokens.
    pub output_tokens: Option<i64>,
    /// Cache-read input tokens.
    pub cache_read_tokens: Option<i64>,
    /// Cache-write input tokens.
    pub cache_write_tokens: Option<i64>,
    /// Reasoning output tokens.
    pub reasoning_tokens: Option<i64>,
    /// Cost in USD; `None` when unknown (no usage or a model the price table does not know).
    pub cost: Option<f64>,
    /// `traceloop.workflow.name`.
    pub workflow_name: Option<String>,
    /// `traceloop.entity.name` (else `gen_ai.agent.name` / `gen_ai.tool.name`).
    pub entity_name: Option<String>,
    /// `gen_ai.conversation.id` (else `session.id`).
    pub conversation_id: Option<String>,
    /// `traceloop.association.properties.*` as a JSON object (key without prefix → value).
    pub association: Value,
    /// Every attribute as a JSON object.
    pub attributes: Value,
    /// Span events as a JSON array.
    pub events: Value,
    /// Prompt/completion text for full-text search (empty when content capture was off).
    pub content: String,
    /// Whether this looks like an LLM call (has a provider or a model or token usage).
    pub is_llm: bool,
    /// Time to first token/chunk in nanoseconds (`gen_ai.response.time_to_first_chunk`, seconds).
    pub ttft_ns: Option<i64>,
}

/// One log record (the `events` flavour carries prompts and completions in them).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct LogRecordRow {
    /// Trace id, lowercase hex (empty when not correlated).
    pub trace_id: String,
    /// Span id, lowercase hex (empty when not correlated).
    pub span_id: String,
    /// Time, Unix nanoseconds.
    pub time_ns: i64,
    /// Event name (`event_name` field, else the `event.name` attribute).
    pub event_name: String,
    /// Body as JSON.
    pub body: Value,
    /// Attributes as a JSON object.
    pub attributes: Value,
    /// `service.name` of the resource.
    pub service: String,
}

/// Lowercase hex of an id.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// An OTLP value as JSON; strings holding JSON objects/arrays stay strings.
pub fn any_to_json(v: &AnyValue) -> Value {
    match &v.value {
        None => Value::Null,
        Some(Av::StringValue(s)) => Value::String(s.clone()),
        Some(Av::BoolValue(b)) => Value::Bool(*b),
        Some(Av::IntValue(i)) => Value::from(*i),
        Some(Av::DoubleValue(d)) => serde_json::Number::from_f64(*d)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Some(Av::ArrayValue(a)) => Value::Array(a.values.iter().map(any_to_json).collect()),
        Some(Av::KvlistValue(kv)) => attrs_to_json(&kv.values),
        Some(Av::BytesValue(b)) => Value::String(hex(b)),
        Some(_) => Value::Null,
    }
}

/// Attributes as a JSON object.
pub fn attrs_to_json(attrs: &[KeyValue]) -> Value {
    let mut map = Map::new();
    for kv in attrs {
        let v = kv.value.as_ref().map(any_to_json).unwrap_or(Value::Null);
        map.insert(kv.key.clone(), v);
    }
    Value::Object(map)
}

fn get_str(a: &Map<String, Value>, key: &str) -> Option<String> {
    match a.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn get_int(a: &Map<String, Value>, keys: &[&str]) -> Option<i64> {
    keys.iter().find_map(|k| match a.get(*k)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    })
}

/// Collects the text of a content value (JSON string of messages, or structured) for search.
fn push_text(out: &mut String, v: &Value) {
    match v {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(parsed @ (Value::Array(_) | Value::Object(_))) => push_text(out, &parsed),
            _ => {
                out.push_str(s);
                out.push('\n');
            }
        },
        Value::Array(items) => items.iter().for_each(|i| push_text(out, i)),
        Value::Object(m) => m.values().for_each(|i| push_text(out, i)),
        _ => {}
    }
}

/// Keys whose values are prompt/completion content.
fn is_content_key(k: &str) -> bool {
    matches!(
        k,
        "gen_ai.input.messages"
            | "gen_ai.output.messages"
            | "gen_ai.system_instructions"
            | "traceloop.entity.input"
            | "traceloop.entity.output"
    ) || ((k.starts_with("gen_ai.prompt.") || k.starts_with("gen_ai.completion."))
        && (k.ends_with(".content") || k.ends_with(".arguments")))
}

/// Flattens one span; `prices` computes its cost.
pub fn span_record(span: &Span, service: &str, prices: &PriceTable) -> SpanRecord {
    let attributes = attrs_to_json(&span.attributes);
    let a = attributes.as_object().cloned().unwrap_or_default();
    let provider = get_str(&a, "gen_ai.provider.name").or_else(|| get_str(&a, "gen_ai.system"));
    let model =
        get_str(&a, "gen_ai.response.model").or_else(|| get_str(&a, "gen_ai.request.model"));
    let input_tokens = get_int(
        &a,
        &["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"],
    );
    let output_tokens = get_int(
        &a,
        &[
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.completion_tokens",
        ],
    );
    let cache_read_tokens = get_int(
        &a,
        &[
            "gen_ai.usage.cache_read.input_tokens",
            "gen_ai.usage.cache_read_input_tokens",
        ],
    );
    let cache_write_tokens = get_int(
        &a,
        &[
            "gen_ai.usage.cache_write.input_tokens",
            "gen_ai.usage.cache_creation.input_tokens",
            "gen_ai.usage.cache_creation_input_tokens",
        ],
    );
    let reasoning_tokens = get_int(&a, &["gen_ai.usage.reasoning.output_tokens"]);
    let operation =
        get_str(&a, "gen_ai.operation.name").or_else(|| get_str(&a, "llm.request.type"));
    let mut association = Map::new();
    let mut content = String::new();
    for (k, v) in &a {
        if let Some(rest) = k.strip_prefix("traceloop.association.properties.") {
            association.insert(rest.to_string(), v.clone());
        }
        if is_content_key(k) {
            push_text(&mut content, v);
        }
    }
    let events: Vec<Value> = span
        .events
        .iter()
        .map(|e| {
            let attrs = attrs_to_json(&e.attributes);
            push_text(&mut content, &attrs);
            serde_json::json!({"name": e.name, "time_ns": e.time_unix_nano, "attributes": attrs})
        })
        .collect();
    let start_ns = span.start_time_unix_nano as i64;
    let cost = match (&model, input_tokens.or(output_tokens)) {
        (Some(m), Some(_)) => {
            let u = Usage::new(
                input_tokens.unwrap_or(0).max(0) as u64,
                output_tokens.unwrap_or(0).max(0) as u64,
            )
            .with_cache(
                cache_read_tokens.unwrap_or(0).max(0) as u64,
                cache_write_tokens.unwrap_or(0).max(0) as u64,
            )
            .with_reasoning(reasoning_tokens.unwrap_or(0).max(0) as u64);
            prices
                .cost(provider.as_deref(), m, &u, span.start_time_unix_nano)
                .map(|c| c.total())
        }
        _ => None,
    };
    // A model the table does not know: the producer's own cost attribute, when it sent one.
    let cost = cost.or_else(|| {
        a.get("gen_ai.usage.cost.amount")
            .and_then(Value::as_f64)
            .filter(|c| c.is_finite() && *c >= 0.0)
    });
    let ttft_ns = a
        .get("gen_ai.response.time_to_first_chunk")
        .and_then(Value::as_f64)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| (s * 1e9) as i64);
    let is_llm = provider.is_some() || input_tokens.is_some() || output_tokens.is_some();
    let status = span.status.clone().unwrap_or_default();
    SpanRecord {
        trace_id: hex(&span.trace_id),
        span_id: hex(&span.span_id),
        parent_span_id: (!span.parent_span_id.is_empty()).then(|| hex(&span.parent_span_id)),
        name: span.name.clone(),
        kind: span.kind,
        service: service.to_string(),
        start_ns,
        end_ns: span.end_time_unix_nano as i64,
        status_code: status.code,
        status_message: status.message,
        workflow_name: get_str(&a, "traceloop.workflow.name"),
        entity_name: get_str(&a, "traceloop.entity.name")
            .or_else(|| get_str(&a, "gen_ai.agent.name"))
            .or_else(|| get_str(&a, "gen_ai.tool.name")),
        conversation_id: get_str(&a, "gen_ai.conversation.id")
            .or_else(|| get_str(&a, "session.id")),
        association: Value::Object(association),
        attributes,
        events: Value::Array(events),
        content,
        is_llm,
        ttft_ns,
        provider,
        model,
        operation,
        input_tokens,
        output_tokens,
        cache_read_tokens,
        cache_write_tokens,
        reasoning_tokens,
        cost,
    }
}

/// Flattens one log record.
pub fn log_row(record: &LogRecord, service: &str) -> LogRecordRow {
    let attributes = attrs_to_json(&record.attributes);
    let event_name = if record.event_name.is_empty() {
        attributes
            .get("event.name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    } else {
        record.event_name.clone()
    };
    let time = if record.time_unix_nano != 0 {
        record.time_unix_nano
    } else {
        record.observed_time_unix_nano
    };
    LogRecordRow {
        trace_id: hex(&record.trace_id),
        span_id: hex(&record.span_id),
        time_ns: time as i64,
        event_name,
        body: record.body.as_ref().map(any_to_json).unwrap_or(Value::Null),
        attributes,
        service: service.to_string(),
    }
}

/// Search text of a log record (its body and content attributes).
pub fn log_content(row: &LogRecordRow) -> String {
    let mut out = String::new();
    push_text(&mut out, &row.body);
    if let Some(m) = row.attributes.as_object() {
        for (k, v) in m {
            if is_content_key(k) {
                push_text(&mut out, v);
            }
        }
    }
    out
}

/// `service.name` of a resource's attributes.
pub fn service_name(attrs: &[KeyValue]) -> String {
    attrs
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref())
        .map(|v| match any_to_json(v) {
            Value::String(s) => s,
            other => other.to_string(),
        })
        .unwrap_or_else(|| "unknown_service".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::Status;

    fn kv(k: &str, v: Av) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..KeyValue::default()
        }
    }

    #[test]
    fn current_semconv_flavour() {
        let input = r#"[{"role":"user","parts":[{"type":"text","content":"What is the weather in Paris?"}]}]"#;
        let output = r#"[{"role":"assistant","parts":[{"type":"tool_call","id":"c1","name":"get_weather","arguments":{"city":"Paris"}}],"finish_reason":"tool_call"}]"#;
        let span = Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: "chat claude-sonnet-4-5".into(),
            start_time_unix_nano: 1_780_000_000_000_000_000,
            end_time_unix_nano: 1_780_000_001_000_000_000,
            attributes: vec![
                kv("gen_ai.provider.name", Av::StringValue("anthropic".into())),
                kv("gen_ai.operation.name", Av::StringValue("chat".into())),
                kv(
                    "gen_ai.request.model",
                    Av::StringValue("claude-sonnet-4-5".into()),
                ),
                kv("gen_ai.usage.input_tokens", Av::IntValue(1000)),
                kv("gen_ai.usage.output_tokens", Av::IntValue(100)),
                kv("gen_ai.usage.cache_read.input_tokens", Av::IntValue(600)),
                kv(
                    "gen_ai.usage.cache_creation.input_tokens",
                    Av::IntValue(200),
                ),
                kv("gen_ai.conversation.id", Av::StringValue("conv-1".into())),
                kv("gen_ai.input.messages", Av::StringValue(input.into())),
                kv("gen_ai.output.messages", Av::StringValue(output.into())),
            ],
            status: Some(Status {
                code: 2,
                message: "boom".into(),
            }),
            ..Span::default()
        };
        let r = span_record(&span, "svc", &PriceTable::vendored());
        assert_eq!(r.trace_id, "01".repeat(16));
        assert_eq!(r.parent_span_id, None);
        assert_eq!(r.provider.as_deref(), Some("anthropic"));
        assert_eq!(r.operation.as_deref(), Some("chat"));
        assert_eq!(r.input_tokens, Some(1000));
        assert_eq!(r.cache_read_tokens, Some(600));
        assert_eq!(r.cache_write_tokens, Some(200));
        assert_eq!(r.conversation_id.as_deref(), Some("conv-1"));
        assert_eq!(r.status_code, 2);
        assert!(r.is_llm);
        assert!(
            r.content.contains("What is the weather in Paris?"),
            "{}",
            r.content
        );
        assert!(r.content.contains("get_weather") || r.content.contains("Paris"));
        // claude-sonnet-4-5 (anthropic, base prices below the 200k tier): input $3, cache
        // read $0.3, cache write $3.75, output $15 per million:
        // 200 × 3 + 600 × 0.3 + 200 × 3.75 + 100 × 15 = 600 + 180 + 750 + 1500 = 3030 µ$/1e6.
        let cost = r.cost.expect("known model");
        assert!((cost - 3030.0 / 1e6).abs() < 1e-12, "{cost}");
    }

    #[test]
    fn unknown_spans_and_content_off_spans_are_kept() {
        let span = Span {
            trace_id: vec![3; 16],
            span_id: vec![4; 8],
            parent_span_id: vec![5; 8],
            name: "GET /health".into(),
            attributes: vec![kv("http.method", Av::StringValue("GET".into()))],
            ..Span::default()
        };
        let r = span_record(&span, "svc", &PriceTable::vendored());
        assert!(!r.is_llm);
        assert_eq!(r.cost, None);
        assert_eq!(r.parent_span_id.as_deref(), Some("0505050505050505"));
        assert_eq!(r.attributes["http.method"], "GET");
        assert!(r.content.is_empty());
    }
}
