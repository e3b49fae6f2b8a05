//! The metric instruments of the recorder ([`Instruments`], OpenLLMetry's extra
//! [`UpstreamInstruments`]) and the attributes every metric point carries.

use std::time::Instant;

use openllmetry_semconv::{attr, metric, value};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, Meter};

use super::call::CallState;
use crate::detect::{ApiFormat, Operation, Target};
use crate::record::{RequestRecord, ResponseRecord};

/// Cap on the bytes of a request- or response-derived model name used as a metric attribute
/// value: 256 bytes (cut at a char boundary). Client input must not grow metric series keys
/// without bound.
pub const MAX_METRIC_MODEL_BYTES: usize = 256;

/// `s` cut to at most `max` bytes at a char boundary.
fn bounded(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}
/// The metric instruments of one [`Instrumentation`](super::Instrumentation).
pub(super) struct Instruments {
    token_usage: Histogram<u64>,
    duration: Histogram<f64>,
    time_to_first_chunk: Histogram<f64>,
    time_per_output_chunk: Histogram<f64>,
    choices: Counter<u64>,
    /// OpenLLMetry's metrics beside the semconv ones (see [`UpstreamInstruments`]).
    upstream: UpstreamInstruments,
}

/// The metrics OpenLLMetry 0.62 records that the semconv does not name: time to first token
/// and time to generate of streamed OpenAI chats, the OpenAI embedding vector size, and the
/// per-operation exception counters.
struct UpstreamInstruments {
    time_to_first_token: Histogram<f64>,
    streaming_time_to_generate: Histogram<f64>,
    embeddings_vector_size: Counter<u64>,
    chat_exceptions: Counter<u64>,
    embeddings_exceptions: Counter<u64>,
    anthropic_exceptions: Counter<u64>,
}

impl UpstreamInstruments {
    fn new(meter: &Meter) -> Self {
        let exceptions = |name: &'static str, description: &'static str| {
            meter
                .u64_counter(name)
                .with_unit("time")
                .with_description(description)
                .build()
        };
        UpstreamInstruments {
            time_to_first_token: seconds_histogram(
                meter,
                metric::GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
                "Time to first token in streaming chat completions",
            ),
            streaming_time_to_generate: seconds_histogram(
                meter,
                metric::LLM_CHAT_COMPLETIONS_STREAMING_TIME_TO_GENERATE,
                "Time between first token and completion in streaming chat completions",
            ),
            embeddings_vector_size: meter
                .u64_counter(metric::LLM_OPENAI_EMBEDDINGS_VECTOR_SIZE)
                .with_unit("element")
                .with_description("The size of returned vector")
                .build(),
            chat_exceptions: exceptions(
                metric::LLM_OPENAI_CHAT_COMPLETIONS_EXCEPTIONS,
                "Number of exceptions occurred during chat completions",
            ),
            embeddings_exceptions: exceptions(
                metric::LLM_OPENAI_EMBEDDINGS_EXCEPTIONS,
                "Number of exceptions occurred during embeddings operation",
            ),
            anthropic_exceptions: exceptions(
                metric::LLM_ANTHROPIC_COMPLETION_EXCEPTIONS,
                "Number of exceptions occurred during chat completions",
            ),
        }
    }
}

/// Whether OpenLLMetry records its streaming-time metrics for this call: streamed OpenAI-format
/// chat completions only (upstream's `ChatStream`; Anthropic and Responses streams record none).
fn upstream_stream_timing(t: &Target) -> bool {
    t.format == ApiFormat::OpenAi && t.operation == Operation::Chat
}

/// A seconds histogram with the semconv duration buckets.
fn seconds_histogram(
    meter: &Meter,
    name: &'static str,
    description: &'static str,
) -> Histogram<f64> {
    meter
        .f64_histogram(name)
        .with_unit("s")
        .with_description(description)
        .with_boundaries(metric::DURATION_BUCKETS.to_vec())
        .build()
}

impl Instruments {
    pub(super) fn new(meter: &Meter) -> Self {
        Instruments {
            token_usage: meter
                .u64_histogram(metric::GEN_AI_CLIENT_TOKEN_USAGE)
                .with_unit("{token}")
                .with_description("Number of input and output tokens used")
                .with_boundaries(metric::TOKEN_USAGE_BUCKETS.to_vec())
                .build(),
            duration: seconds_histogram(
                meter,
                metric::GEN_AI_CLIENT_OPERATION_DURATION,
                "GenAI operation duration",
            ),
            time_to_first_chunk: seconds_histogram(
                meter,
                metric::GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
                "Time to receive the first chunk of a streamed response",
            ),
            time_per_output_chunk: seconds_histogram(
                meter,
                metric::GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK,
                "Time between consecutive chunks of a streamed response",
            ),
            choices: meter
                .u64_counter(metric::GEN_AI_CLIENT_GENERATION_CHOICES)
                .with_unit("{choice}")
                .with_description("Number of choices returned")
                .build(),
            upstream: UpstreamInstruments::new(meter),
        }
    }
}
/// Records the per-chunk metrics of `chunks` output chunks that arrived in one read (SSE,
/// NDJSON, JSON-array and Bedrock event-stream paths alike); the attributes are built at the
/// first chunk, which carries the response model.
pub(super) fn note_chunks(state: &mut CallState, chunks: u32, model: Option<&str>) {
    let now = Instant::now();
    if state.inner.semconv_instruments.is_some() {
        // The semconv flavour's histograms (the `Arc` is cloned only in that flavour).
        let inner = state.inner.clone();
        if let Some(m) = &inner.semconv_instruments {
            m.note_chunks(state, chunks, model, now);
        }
    } else if let Some(m) = &state.inner.instruments {
        let attrs = state
            .chunk_metric_attrs
            .get_or_insert_with(|| metric_attributes(&state.target, &state.request, model));
        // Each chunk after the first records the time since the previous one; chunks that
        // arrived in the same read record 0.
        let mut remaining = chunks;
        if state.first_chunk.is_none() {
            let ttfc = now.duration_since(state.start).as_secs_f64();
            m.time_to_first_chunk.record(ttfc, attrs);
            if upstream_stream_timing(&state.target) {
                m.upstream.time_to_first_token.record(ttfc, attrs);
            }
            remaining -= 1;
        } else if let Some(last) = state.last_chunk {
            m.time_per_output_chunk
                .record(now.duration_since(last).as_secs_f64(), attrs);
            remaining -= 1;
        }
        for _ in 0..remaining {
            m.time_per_output_chunk.record(0.0, attrs);
        }
    }
    if state.first_chunk.is_none() {
        state.first_chunk = Some(now);
    }
    state.last_chunk = Some(now);
}

/// Attributes every metric point of a call carries.
pub(super) fn metric_attributes(
    t: &Target,
    request: &RequestRecord,
    response_model: Option<&str>,
) -> Vec<KeyValue> {
    let mut attrs = Vec::with_capacity(8);
    attrs.push(KeyValue::new(attr::GEN_AI_PROVIDER_NAME, t.provider_name));
    attrs.push(KeyValue::new(
        attr::GEN_AI_OPERATION_NAME,
        t.operation.semconv_name(),
    ));
    if let Some(m) = &request.model {
        attrs.push(KeyValue::new(
            attr::GEN_AI_REQUEST_MODEL,
            bounded(m, MAX_METRIC_MODEL_BYTES),
        ));
    }
    if let Some(m) = response_model {
        attrs.push(KeyValue::new(
            attr::GEN_AI_RESPONSE_MODEL,
            bounded(m, MAX_METRIC_MODEL_BYTES),
        ));
    }
    attrs.push(KeyValue::new(
        attr::SERVER_ADDRESS,
        t.server_address.clone(),
    ));
    attrs.push(KeyValue::new(attr::SERVER_PORT, i64::from(t.server_port)));
    attrs
}

/// Records the metrics of a call that ended (duration, token usage, choices and OpenLLMetry's
/// extra metrics), from the response as the provider sent it (before any redaction).
pub(super) fn record_end(
    m: &Instruments,
    state: &CallState,
    response: Option<&ResponseRecord>,
    error_type: Option<&str>,
) {
    let response_model = response.and_then(|r| r.model.as_deref());
    let base = metric_attributes(&state.target, &state.request, response_model);
    let with = |extra: KeyValue| {
        let mut a = base.clone();
        a.push(extra);
        a
    };
    let duration_attrs = match error_type {
        Some(e) => with(KeyValue::new(attr::ERROR_TYPE, e.to_owned())),
        None => base.clone(),
    };
    m.duration
        .record(state.start.elapsed().as_secs_f64(), &duration_attrs);
    if let (Some(first), true) = (state.first_chunk, state.request.stream)
        && upstream_stream_timing(&state.target)
        && error_type.is_none()
    {
        m.upstream
            .streaming_time_to_generate
            .record(first.elapsed().as_secs_f64(), &base);
    }
    if let Some(e) = error_type {
        let t = &state.target;
        let et = KeyValue::new(attr::ERROR_TYPE, e.to_owned());
        match (t.format, t.operation) {
            (ApiFormat::OpenAi, Operation::Chat) => m.upstream.chat_exceptions.add(1, &[et]),
            (ApiFormat::OpenAi, Operation::Embeddings) => {
                m.upstream.embeddings_exceptions.add(1, &[et])
            }
            (ApiFormat::Anthropic, _) => m.upstream.anthropic_exceptions.add(
                1,
                &[
                    KeyValue::new(attr::GEN_AI_PROVIDER_NAME, t.provider_name),
                    et,
                ],
            ),
            _ => {}
        }
    }
    if let Some(d) = response
        .and_then(|r| r.embedding_dimensions)
        .and_then(|d| u64::try_from(d).ok())
        && state.target.format == ApiFormat::OpenAi
    {
        m.upstream.embeddings_vector_size.add(d, &base);
    }
    if let Some(r) = response {
        for (kind, v) in [
            (value::token_type::INPUT, r.usage.input_tokens),
            (value::token_type::OUTPUT, r.usage.output_tokens),
        ] {
            if let Some(v) = v.and_then(|v| u64::try_from(v).ok()) {
                m.token_usage
                    .record(v, &with(KeyValue::new(attr::GEN_AI_TOKEN_TYPE, kind)));
            }
        }
        for msg in &r.output_messages {
            if msg.finish_reason.is_empty() {
                m.choices.add(1, &base);
            } else {
                let reason = KeyValue::new(
                    attr::GEN_AI_RESPONSE_FINISH_REASON,
                    msg.finish_reason.clone(),
                );
                m.choices.add(1, &with(reason));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::ObservationBudget;
    use crate::fault::FaultKind;
    use crate::instrument::Instrumentation;
    use crate::instrument::tests::{CHAT_URL, has_true, recording};

    /// Names of the metrics one call through `i` produced, with their summed values.
    fn upstream_metric_names(
        url: &str,
        body: &[u8],
        status: u16,
        response: &[u8],
    ) -> Vec<(String, String)> {
        use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
        use opentelemetry_sdk::metrics::{
            InMemoryMetricExporter, PeriodicReader, SdkMeterProvider,
        };
        let exporter = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(exporter.clone()).build())
            .build();
        let i = Instrumentation::builder()
            .with_meter_provider(&provider)
            .build();
        let call = i.start("POST", url, Some(body)).expect("an LLM URL");
        let mut obs = call.on_response(status, Some("application/json"), None);
        obs.on_data(response);
        obs.on_end();
        provider.force_flush().expect("flush");
        let mut out = Vec::new();
        for rm in exporter.get_finished_metrics().expect("metrics") {
            for sm in rm.scope_metrics() {
                for m in sm.metrics() {
                    let attrs = match m.data() {
                        AggregatedMetrics::U64(MetricData::Sum(s)) => s
                            .data_points()
                            .flat_map(|p| p.attributes().map(|kv| format!("{kv:?}")))
                            .collect::<Vec<_>>()
                            .join(","),
                        _ => String::new(),
                    };
                    out.push((m.name().to_owned(), attrs));
                }
            }
        }
        out
    }

    #[test]
    fn upstream_exception_counters_count_failed_calls() {
        // Upstream's counters (`Meters.LLM_COMPLETIONS_EXCEPTIONS`,
        // `LLM_EMBEDDINGS_EXCEPTIONS`, `LLM_ANTHROPIC_COMPLETION_EXCEPTIONS`) carry `error.type`
        // (and, for Anthropic, `gen_ai.provider.name`).
        let err = br#"{"error":{"type":"invalid_request_error","message":"bad"}}"#;
        for (url, name) in [
            (
                "https://api.openai.com/v1/chat/completions",
                "llm.openai.chat_completions.exceptions",
            ),
            (
                "https://api.openai.com/v1/embeddings",
                "llm.openai.embeddings.exceptions",
            ),
            (
                "https://api.anthropic.com/v1/messages",
                "llm.anthropic.completion.exceptions",
            ),
        ] {
            let got = upstream_metric_names(url, br#"{"model":"m"}"#, 400, err);
            let hit: Vec<_> = got.iter().filter(|(n, _)| n == name).collect();
            assert_eq!(hit.len(), 1, "{url}: {got:?}");
            assert!(hit[0].1.contains("error.type"), "{url}: {got:?}");
            assert_eq!(
                hit[0].1.contains("gen_ai.provider.name"),
                url.contains("anthropic"),
                "{url}: {got:?}"
            );
            let others = got
                .iter()
                .filter(|(n, _)| n.ends_with(".exceptions") && n != name)
                .count();
            assert_eq!(others, 0, "{url}: {got:?}");
        }
        // A success counts no exception.
        let ok = upstream_metric_names(
            "https://api.openai.com/v1/chat/completions",
            br#"{"model":"m"}"#,
            200,
            br#"{"id":"c","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}"#,
        );
        assert!(
            ok.iter().all(|(n, _)| !n.ends_with(".exceptions")),
            "{ok:?}"
        );
        assert!(
            ok.iter()
                .any(|(n, _)| n == "gen_ai.client.operation.duration")
        );
    }

    #[test]
    fn metric_model_names_are_bounded_at_a_char_boundary() {
        assert_eq!(bounded("gpt-4o", MAX_METRIC_MODEL_BYTES), "gpt-4o");
        let long = "é".repeat(40 * 1024);
        let cut = bounded(&long, MAX_METRIC_MODEL_BYTES);
        assert_eq!(cut.len(), MAX_METRIC_MODEL_BYTES);
        let odd = format!("a{long}");
        assert_eq!(
            bounded(&odd, MAX_METRIC_MODEL_BYTES).len(),
            MAX_METRIC_MODEL_BYTES - 1
        );
        let t = crate::detect::detect("POST", "https://api.openai.com/v1/chat/completions")
            .expect("an LLM URL");
        let request = RequestRecord {
            model: Some(long.clone()),
            ..RequestRecord::default()
        };
        let attrs = metric_attributes(&t, &request, Some(&long));
        for kv in attrs {
            assert!(kv.value.as_str().len() <= MAX_METRIC_MODEL_BYTES, "{kv:?}");
        }
    }
    #[test]
    fn a_model_name_cut_for_metrics_is_marked_and_counted() {
        let (i, exporter, faults, _p) = recording(ObservationBudget::new(1 << 20));
        let body = format!(r#"{{"model":"{}","messages":[]}}"#, "m".repeat(40 * 1024));
        let call = i.start("POST", CHAT_URL, Some(body.as_bytes())).unwrap();
        call.on_response(200, Some("application/json"), None)
            .on_end();
        let call = i
            .start(
                "POST",
                CHAT_URL,
                Some(br#"{"model":"gpt-4o","messages":[]}"#),
            )
            .unwrap();
        call.on_response(200, Some("application/json"), None)
            .on_end();
        let spans = exporter.get_finished_spans().unwrap();
        assert!(has_true(
            &spans[0],
            attr::OPENLLMETRY_METRIC_MODEL_TRUNCATED
        ));
        assert!(!has_true(
            &spans[1],
            attr::OPENLLMETRY_METRIC_MODEL_TRUNCATED
        ));
        assert_eq!(*faults.lock().unwrap(), vec![FaultKind::ValueTruncated]);
    }
}
