//! The metric instruments of the [`Flavour::Semconv`](crate::Flavour::Semconv) flavour: the
//! latest conventions' `gen_ai.client.inference.*` and `gen_ai.client.embeddings.*` families
//! (`docs/gen-ai/client-inference.md`, `gen-ai-token-metrics.md`, `client-embeddings.md` at
//! the commits pinned in [`openllmetry_semconv::latest`]), in place of the v1.41 metrics and
//! OpenLLMetry's extra ones.
//!
//! - Inference calls (every operation but embeddings): `gen_ai.client.inference.duration`
//!   (with `error.type` on failures); for streams `…time_to_first_chunk` and
//!   `…time_per_output_chunk`; the usage counters
//!   `gen_ai.client.inference.usage.{input_tokens,output_tokens}` for every call (`0` when no
//!   usage came back, as the conventions ask) and `…cache_read.input_tokens`,
//!   `…cache_write.input_tokens`, `…reasoning.output_tokens` when the provider reported them,
//!   all with `gen_ai.token.modality=unknown` (the parsers read no per-modality breakdown);
//!   the per-operation histograms `gen_ai.client.inference.operation.{input,output}_tokens`
//!   (`0` when no usage came back, `error.type` on failures).
//! - Embeddings: `gen_ai.client.embeddings.duration` and
//!   `gen_ai.client.embeddings.operation.input_tokens`.
//!
//! Every point carries the attributes of the other flavours' metrics (provider, operation,
//! request and response model bounded to [`MAX_METRIC_MODEL_BYTES`](super::MAX_METRIC_MODEL_BYTES),
//! server address and port).

use std::time::Instant;

use openllmetry_semconv::latest::{attr as latest_attr, metric, value as latest_value};
use openllmetry_semconv::{attr, metric as v141};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, Meter};

use super::call::CallState;
use crate::detect::{Operation, Target};
use crate::record::{RequestRecord, ResponseRecord};

/// The other flavours' metric attributes with the semconv flavour's operation name.
fn metric_attributes(
    target: &Target,
    request: &RequestRecord,
    response_model: Option<&str>,
) -> Vec<KeyValue> {
    let mut attrs = super::metrics::metric_attributes(target, request, response_model);
    let op = crate::render::semconv_operation_name(target);
    for kv in &mut attrs {
        if kv.key.as_str() == attr::GEN_AI_OPERATION_NAME {
            *kv = KeyValue::new(attr::GEN_AI_OPERATION_NAME, op);
        }
    }
    attrs
}

/// The instruments of the semconv flavour.
pub(super) struct SemconvInstruments {
    duration: Histogram<f64>,
    time_to_first_chunk: Histogram<f64>,
    time_per_output_chunk: Histogram<f64>,
    usage_input: Counter<u64>,
    usage_output: Counter<u64>,
    usage_cache_read: Counter<u64>,
    usage_cache_write: Counter<u64>,
    usage_reasoning: Counter<u64>,
    operation_input: Histogram<u64>,
    operation_output: Histogram<u64>,
    embeddings_duration: Histogram<f64>,
    embeddings_input: Histogram<u64>,
}

fn seconds(meter: &Meter, name: &'static str, description: &'static str) -> Histogram<f64> {
    meter
        .f64_histogram(name)
        .with_unit("s")
        .with_description(description)
        .with_boundaries(v141::DURATION_BUCKETS.to_vec())
        .build()
}

fn tokens(meter: &Meter, name: &'static str, description: &'static str) -> Histogram<u64> {
    meter
        .u64_histogram(name)
        .with_unit("{token}")
        .with_description(description)
        .with_boundaries(v141::TOKEN_USAGE_BUCKETS.to_vec())
        .build()
}

fn counter(meter: &Meter, name: &'static str, description: &'static str) -> Counter<u64> {
    meter
        .u64_counter(name)
        .with_unit("{token}")
        .with_description(description)
        .build()
}

impl SemconvInstruments {
    pub(super) fn new(meter: &Meter) -> Self {
        SemconvInstruments {
            duration: seconds(
                meter,
                metric::GEN_AI_CLIENT_INFERENCE_DURATION,
                "GenAI client inference operation duration",
            ),
            time_to_first_chunk: seconds(
                meter,
                metric::GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK,
                "Time to receive the first chunk of a streamed response",
            ),
            time_per_output_chunk: seconds(
                meter,
                metric::GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK,
                "Time between consecutive chunks of a streamed response",
            ),
            usage_input: counter(
                meter,
                metric::GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS,
                "Input tokens used, including cached tokens",
            ),
            usage_output: counter(
                meter,
                metric::GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS,
                "Output tokens used, including reasoning tokens",
            ),
            usage_cache_read: counter(
                meter,
                metric::GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS,
                "Input tokens served from a provider-managed cache",
            ),
            usage_cache_write: counter(
                meter,
                metric::GEN_AI_CLIENT_INFERENCE_USAGE_CACHE_WRITE_INPUT_TOKENS,
                "Input tokens written to a provider-managed cache",
            ),
            usage_reasoning: counter(
                meter,
                metric::GEN_AI_CLIENT_INFERENCE_USAGE_REASONING_OUTPUT_TOKENS,
                "Output tokens used for reasoning",
            ),
            operation_input: tokens(
                meter,
                metric::GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS,
                "Input tokens per inference operation",
            ),
            operation_output: tokens(
                meter,
                metric::GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS,
                "Output tokens per inference operation",
            ),
            embeddings_duration: seconds(
                meter,
                metric::GEN_AI_CLIENT_EMBEDDINGS_DURATION,
                "GenAI client embeddings operation duration",
            ),
            embeddings_input: tokens(
                meter,
                metric::GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS,
                "Input tokens per embeddings operation",
            ),
        }
    }

    /// Records the per-chunk histograms of `chunks` chunks that arrived in one read.
    pub(super) fn note_chunks(
        &self,
        state: &mut CallState,
        chunks: u32,
        model: Option<&str>,
        now: Instant,
    ) {
        let attrs = state
            .chunk_metric_attrs
            .get_or_insert_with(|| metric_attributes(&state.target, &state.request, model));
        let mut remaining = chunks;
        if state.first_chunk.is_none() {
            self.time_to_first_chunk
                .record(now.duration_since(state.start).as_secs_f64(), attrs);
            remaining -= 1;
        } else if let Some(last) = state.last_chunk {
            self.time_per_output_chunk
                .record(now.duration_since(last).as_secs_f64(), attrs);
            remaining -= 1;
        }
        for _ in 0..remaining {
            self.time_per_output_chunk.record(0.0, attrs);
        }
    }

    /// Records the metrics of a call that ended.
    pub(super) fn record_end(
        &self,
        state: &CallState,
        response: Option<&ResponseRecord>,
        error_type: Option<&str>,
    ) {
        let response_model = response.and_then(|r| r.model.as_deref());
        let base = metric_attributes(&state.target, &state.request, response_model);
        let mut with_error = base.clone();
        if let Some(e) = error_type {
            with_error.push(KeyValue::new(attr::ERROR_TYPE, e.to_owned()));
        }
        let elapsed = state.start.elapsed().as_secs_f64();
        let usage = response.map(|r| r.usage).unwrap_or_default();
        let count = |v: Option<i64>| v.and_then(|v| u64::try_from(v).ok());
        if state.target.operation == Operation::Embeddings {
            self.embeddings_duration.record(elapsed, &with_error);
            self.embeddings_input
                .record(count(usage.input_tokens).unwrap_or(0), &with_error);
            return;
        }
        self.duration.record(elapsed, &with_error);
        self.operation_input
            .record(count(usage.input_tokens).unwrap_or(0), &with_error);
        self.operation_output
            .record(count(usage.output_tokens).unwrap_or(0), &with_error);
        let mut by_modality = base;
        by_modality.push(KeyValue::new(
            latest_attr::GEN_AI_TOKEN_MODALITY,
            latest_value::TOKEN_MODALITY_UNKNOWN,
        ));
        self.usage_input
            .add(count(usage.input_tokens).unwrap_or(0), &by_modality);
        self.usage_output
            .add(count(usage.output_tokens).unwrap_or(0), &by_modality);
        for (counter, v) in [
            (&self.usage_cache_read, usage.cache_read_input_tokens),
            (&self.usage_cache_write, usage.cache_creation_input_tokens),
            (&self.usage_reasoning, usage.reasoning_output_tokens),
        ] {
            if let Some(v) = count(v) {
                counter.add(v, &by_modality);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Metric names, units and attributes are literals from the pinned
    //! `client-inference.md`, `gen-ai-token-metrics.md` and `client-embeddings.md`; values
    //! come from the recorded bodies.
    use crate::Flavour;
    use crate::instrument::Instrumentation;
    use opentelemetry::Value;
    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
    use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};

    const CHAT_URL: &str = "https://api.openai.com/v1/chat/completions";
    const STREAM: &[u8] = include_bytes!("../providers/openai/testdata/usage_stream.sse");

    /// One data point: metric name, unit, value (sum or histogram sum), attributes.
    type Point = (String, String, f64, Vec<(String, Value)>);

    struct Rig {
        i: Instrumentation,
        spans: InMemorySpanExporter,
        metrics: InMemoryMetricExporter,
        meter: SdkMeterProvider,
        _tracer: SdkTracerProvider,
    }

    fn rig(flavour: Flavour) -> Rig {
        let spans = InMemorySpanExporter::default();
        let tracer = SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .build();
        let metrics = InMemoryMetricExporter::default();
        let meter = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics.clone()).build())
            .build();
        let i = Instrumentation::builder()
            .with_tracer_provider(&tracer)
            .with_meter_provider(&meter)
            .with_flavour(flavour)
            .build();
        Rig {
            i,
            spans,
            metrics,
            meter,
            _tracer: tracer,
        }
    }

    impl Rig {
        fn points(&self) -> Vec<Point> {
            self.meter.force_flush().expect("flush");
            let attrs = |it: &mut dyn Iterator<Item = &opentelemetry::KeyValue>| {
                it.map(|kv| (kv.key.to_string(), kv.value.clone()))
                    .collect::<Vec<_>>()
            };
            let mut out = Vec::new();
            for rm in self.metrics.get_finished_metrics().expect("metrics") {
                for sm in rm.scope_metrics() {
                    for m in sm.metrics() {
                        let (name, unit) = (m.name().to_owned(), m.unit().to_owned());
                        match m.data() {
                            AggregatedMetrics::U64(MetricData::Sum(s)) => {
                                for p in s.data_points() {
                                    out.push((
                                        name.clone(),
                                        unit.clone(),
                                        p.value() as f64,
                                        attrs(&mut p.attributes()),
                                    ));
                                }
                            }
                            AggregatedMetrics::U64(MetricData::Histogram(h)) => {
                                for p in h.data_points() {
                                    out.push((
                                        name.clone(),
                                        unit.clone(),
                                        p.sum() as f64,
                                        attrs(&mut p.attributes()),
                                    ));
                                }
                            }
                            AggregatedMetrics::F64(MetricData::Histogram(h)) => {
                                for p in h.data_points() {
                                    out.push((
                                        name.clone(),
                                        unit.clone(),
                                        p.sum(),
                                        attrs(&mut p.attributes()),
                                    ));
                                }
                            }
                            _ => out.push((name, unit, f64::NAN, Vec::new())),
                        }
                    }
                }
            }
            out
        }

        fn span(&self) -> SpanData {
            let mut spans = self.spans.get_finished_spans().expect("spans");
            assert_eq!(spans.len(), 1);
            spans.remove(0)
        }
    }

    fn attr<'a>(p: &'a Point, key: &str) -> Option<&'a Value> {
        p.3.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn named<'a>(points: &'a [Point], name: &str) -> Vec<&'a Point> {
        points.iter().filter(|p| p.0 == name).collect()
    }

    #[test]
    fn a_streamed_chat_records_the_inference_metric_family() {
        let r = rig(Flavour::Semconv);
        let call = r
            .i
            .start(
                "POST",
                CHAT_URL,
                Some(br#"{"model":"deepseek-chat","stream":true,"messages":[{"role":"user","content":"joke"}]}"#),
            )
            .expect("an LLM URL");
        let mut obs = call.on_response(200, Some("text/event-stream"), None);
        obs.on_data(STREAM);
        obs.on_end();
        let span = r.span();
        assert_eq!(span.name, "chat deepseek-chat");
        assert_eq!(span.span_kind, opentelemetry::trace::SpanKind::Client);
        assert!(
            span.attributes
                .iter()
                .any(|kv| kv.key.as_str() == "gen_ai.response.time_to_first_chunk")
        );

        let points = r.points();
        let one = |name: &str| {
            let found = named(&points, name);
            assert_eq!(found.len(), 1, "{name}: {points:?}");
            found[0]
        };
        let d = one("gen_ai.client.inference.duration");
        assert_eq!(d.1, "s");
        assert_eq!(attr(d, "gen_ai.operation.name"), Some(&Value::from("chat")));
        assert_eq!(
            attr(d, "gen_ai.provider.name"),
            Some(&Value::from("openai"))
        );
        assert_eq!(
            attr(d, "gen_ai.request.model"),
            Some(&Value::from("deepseek-chat"))
        );
        assert_eq!(
            attr(d, "gen_ai.response.model"),
            Some(&Value::from("deepseek-chat"))
        );
        assert_eq!(
            attr(d, "server.address"),
            Some(&Value::from("api.openai.com"))
        );
        assert!(attr(d, "error.type").is_none());
        assert_eq!(one("gen_ai.client.inference.time_to_first_chunk").1, "s");
        assert!(!named(&points, "gen_ai.client.inference.time_per_output_chunk").is_empty());
        // Usage from the recorded final chunk: prompt 12, completion 89, cached 0.
        for (name, v) in [
            ("gen_ai.client.inference.usage.input_tokens", 12.0),
            ("gen_ai.client.inference.usage.output_tokens", 89.0),
            ("gen_ai.client.inference.usage.cache_read.input_tokens", 0.0),
            ("gen_ai.client.inference.operation.input_tokens", 12.0),
            ("gen_ai.client.inference.operation.output_tokens", 89.0),
        ] {
            let p = one(name);
            assert_eq!((p.1.as_str(), p.2), ("{token}", v), "{name}");
        }
        let usage = one("gen_ai.client.inference.usage.input_tokens");
        assert_eq!(
            attr(usage, "gen_ai.token.modality"),
            Some(&Value::from("unknown"))
        );
        // The histograms are "deliberately not broken down by modality".
        assert!(
            attr(
                one("gen_ai.client.inference.operation.input_tokens"),
                "gen_ai.token.modality"
            )
            .is_none()
        );
        // None of the v1.41 or OpenLLMetry metrics.
        for old in [
            "gen_ai.client.operation.duration",
            "gen_ai.client.token.usage",
            "gen_ai.client.operation.time_to_first_chunk",
            "gen_ai.client.generation.choices",
            "gen_ai.server.time_to_first_token",
            "llm.chat_completions.streaming_time_to_generate",
        ] {
            assert!(named(&points, old).is_empty(), "{old}: {points:?}");
        }
    }

    #[test]
    fn a_failed_call_records_zero_usage_and_the_error_type() {
        let r = rig(Flavour::Semconv);
        let call =
            r.i.start(
                "POST",
                CHAT_URL,
                Some(br#"{"model":"gpt-4o","messages":[]}"#),
            )
            .unwrap();
        let mut obs = call.on_response(400, Some("application/json"), None);
        obs.on_data(br#"{"error":{"type":"invalid_request_error","message":"bad"}}"#);
        obs.on_end();
        let span = r.span();
        assert_eq!(span.name, "chat gpt-4o");
        // "If a finish reason was expected but not received, for example because generation
        // failed, ... instrumentations SHOULD report `error`."
        assert_eq!(finish_reasons(&span), vec!["error"]);
        let points = r.points();
        let d = named(&points, "gen_ai.client.inference.duration");
        assert_eq!(
            attr(d[0], "error.type"),
            Some(&Value::from("invalid_request_error"))
        );
        // "The recorded value SHOULD match the token count returned by the provider, or `0`
        // if the response was not received or did not contain token usage."
        for name in [
            "gen_ai.client.inference.usage.input_tokens",
            "gen_ai.client.inference.usage.output_tokens",
            "gen_ai.client.inference.operation.input_tokens",
        ] {
            let p = named(&points, name);
            assert_eq!(p.len(), 1, "{name}");
            assert_eq!(p[0].2, 0.0, "{name}");
        }
        assert_eq!(
            attr(
                named(&points, "gen_ai.client.inference.operation.input_tokens")[0],
                "error.type"
            ),
            Some(&Value::from("invalid_request_error"))
        );
        assert!(named(&points, "llm.openai.chat_completions.exceptions").is_empty());
    }

    fn finish_reasons(span: &SpanData) -> Vec<String> {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == "gen_ai.response.finish_reasons")
            .map(|kv| match &kv.value {
                Value::Array(opentelemetry::Array::String(v)) => {
                    v.iter().map(|s| s.as_str().to_owned()).collect()
                }
                other => panic!("{other:?}"),
            })
            .unwrap_or_default()
    }

    #[test]
    fn a_stream_cut_before_its_final_event_reports_an_error_finish_reason() {
        let r = rig(Flavour::Semconv);
        let call =
            r.i.start(
                "POST",
                CHAT_URL,
                Some(br#"{"model":"deepseek-chat","stream":true,"messages":[]}"#),
            )
            .unwrap();
        let mut obs = call.on_response(200, Some("text/event-stream"), None);
        // The first two events only: the choice's finish reason never came.
        let cut = STREAM
            .windows(2)
            .enumerate()
            .filter(|(_, w)| w == b"\n\n")
            .nth(1)
            .map(|(i, _)| i + 2)
            .unwrap();
        obs.on_data(&STREAM[..cut]);
        drop(obs);
        let span = r.span();
        assert_eq!(finish_reasons(&span), vec!["error"]);
        // The whole stream: the provider's reason.
        let r = rig(Flavour::Semconv);
        let call =
            r.i.start(
                "POST",
                CHAT_URL,
                Some(br#"{"model":"deepseek-chat","stream":true,"messages":[]}"#),
            )
            .unwrap();
        let mut obs = call.on_response(200, Some("text/event-stream"), None);
        obs.on_data(STREAM);
        obs.on_end();
        assert_eq!(finish_reasons(&r.span()), vec!["stop"]);
        // The other flavours keep what the provider sent (nothing, for the cut stream).
        let r = rig(Flavour::Current);
        let call =
            r.i.start(
                "POST",
                CHAT_URL,
                Some(br#"{"model":"m","stream":true,"messages":[]}"#),
            )
            .unwrap();
        let mut obs = call.on_response(200, Some("text/event-stream"), None);
        obs.on_data(&STREAM[..cut]);
        drop(obs);
        assert!(finish_reasons(&r.span()).is_empty());
    }

    #[test]
    fn a_request_skimmed_after_the_start_names_the_span_with_its_model() {
        // Past the observation budget the body streams through and is skimmed: the span
        // starts as `chat` and gains the model when the skim arrives.
        let r = rig(Flavour::Semconv);
        let mut call = r.i.start_body_skipped("POST", CHAT_URL, None).unwrap();
        let mut skim = crate::skim::Skim::new();
        skim.push(br#"{"messages":[],"model":"gpt-4o","stream":true}"#);
        call.set_skimmed_request(skim.finish());
        call.on_transport_error("timeout");
        let span = r.span();
        assert_eq!(span.name, "chat gpt-4o");
        assert!(
            span.attributes
                .iter()
                .any(|kv| kv.key.as_str() == "error.type" && kv.value.as_str() == "timeout")
        );
    }

    #[test]
    fn gemini_points_carry_the_generate_content_operation() {
        let r = rig(Flavour::Semconv);
        let call = r
            .i
            .start(
                "POST",
                "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent",
                Some(br#"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#),
            )
            .unwrap();
        let mut obs = call.on_response(200, Some("application/json"), None);
        obs.on_data(br#"{"candidates":[{"content":{"role":"model","parts":[{"text":"hello"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"totalTokenCount":5},"modelVersion":"gemini-2.0-flash"}"#);
        obs.on_end();
        assert_eq!(r.span().name, "generate_content gemini-2.0-flash");
        let points = r.points();
        let d = named(&points, "gen_ai.client.inference.duration");
        assert_eq!(d.len(), 1);
        assert_eq!(
            attr(d[0], "gen_ai.operation.name"),
            Some(&Value::from("generate_content"))
        );
        assert_eq!(
            attr(d[0], "gen_ai.provider.name"),
            Some(&Value::from("gcp.gemini"))
        );
        let input = named(&points, "gen_ai.client.inference.usage.input_tokens");
        assert_eq!(input[0].2, 3.0);
    }

    #[test]
    fn embeddings_have_their_own_metrics() {
        let r = rig(Flavour::Semconv);
        let call =
            r.i.start(
                "POST",
                "https://api.openai.com/v1/embeddings",
                Some(include_bytes!(
                    "../providers/openai/testdata/embeddings.request.json"
                )),
            )
            .unwrap();
        let mut obs = call.on_response(200, Some("application/json"), None);
        obs.on_data(include_bytes!(
            "../providers/openai/testdata/embeddings.response.json"
        ));
        obs.on_end();
        assert_eq!(r.span().name, "embeddings text-embedding-ada-002");
        let points = r.points();
        assert_eq!(named(&points, "gen_ai.client.embeddings.duration").len(), 1);
        let tokens = named(&points, "gen_ai.client.embeddings.operation.input_tokens");
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens[0].2, 8.0);
        assert!(named(&points, "gen_ai.client.inference.duration").is_empty());
        assert!(named(&points, "llm.openai.embeddings.vector_size").is_empty());
    }

    #[test]
    fn the_default_flavour_keeps_its_metrics_and_span_name() {
        let r = rig(Flavour::Current);
        let call =
            r.i.start(
                "POST",
                CHAT_URL,
                Some(br#"{"model":"gpt-4o","messages":[]}"#),
            )
            .unwrap();
        call.on_response(200, Some("application/json"), None)
            .on_end();
        assert_eq!(r.span().name, "openai.chat");
        let points = r.points();
        assert!(!named(&points, "gen_ai.client.operation.duration").is_empty());
        assert!(named(&points, "gen_ai.client.inference.duration").is_empty());
    }
}
