//! Cassette conformance suite, Anthropic half (issue 3, "How it is proven").
//!
//! One test per vendored Anthropic cassette, named after the cassette file. Each replays the
//! recorded exchange over real loopback HTTP through the real reqwest middleware and asserts
//! the span, its attributes, the metric points and (events flavour) the log records against
//! **literal values read from the cassette** (ids, token counts, finish reasons, tool-call ids,
//! names and arguments, the full completion text). Each is also run with content capture off,
//! where the independent content oracle of `common` must find no content string anywhere in
//! the exported telemetry while ids, tokens and finish reasons stay.
//!
//! Beyond the cassettes: a drop-early test (the caller reads a few chunks of a stream and
//! drops it) and fault-isolation tests (malformed bodies and events, a connection closed
//! mid-stream), where a plain client without the middleware is the oracle for what the
//! caller must get.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::{Opts, Run, content_strings, instrumentation, run};
use openllmetry_core::{ApiFormat, Fault, FaultKind, Flavour, Operation};
use openllmetry_http::OpenLlmMiddleware;
use openllmetry_semconv::metric::{DURATION_BUCKETS, TOKEN_USAGE_BUCKETS};
use openllmetry_testkit::capture::{Capture, SpanDataExt};
use openllmetry_testkit::cassette::{Cassette, Interaction};
use openllmetry_testkit::flat::{AttrValue, MetricPoint, PointKind, ReceivedLog};
use openllmetry_testkit::replay::{self, INVALID_JSON, ReplayServer};
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// Expected values of one call
// ---------------------------------------------------------------------------------------

/// What one recorded call must produce. Every value is a literal read from the cassette.
#[derive(Debug, Clone)]
struct Expect {
    span_name: &'static str,
    operation: &'static str,
    request_model: &'static str,
    max_tokens: i64,
    temperature: Option<f64>,
    top_p: Option<f64>,
    top_k: Option<i64>,
    stop_sequences: &'static [&'static str],
    stream: bool,
    response_id: &'static str,
    response_model: &'static str,
    /// Mapped finish reason.
    finish_reason: &'static str,
    /// `input_tokens + cache_read + cache_creation`; `None` when the response has no usage.
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    /// As recorded; `None` when the response does not report it (never estimated). With an
    /// input count, an unreported cache count is checked as 0 ([`Expect::cache`]).
    cache_read: Option<i64>,
    cache_creation: Option<i64>,
    /// `gen_ai.system_instructions`, when `system` was sent.
    system: Option<Value>,
    input_messages: Value,
    /// `gen_ai.tool.definitions`, when `tools` were sent.
    tools: Option<Value>,
    output_messages: Value,
}

impl Expect {
    /// A chat call with no optional parameters, no system, no tools; fill in the rest.
    fn chat(request_model: &'static str, response_id: &'static str) -> Expect {
        Expect {
            span_name: "anthropic.chat",
            operation: "chat",
            request_model,
            max_tokens: 1024,
            temperature: None,
            top_p: None,
            top_k: None,
            stop_sequences: &[],
            stream: false,
            response_id,
            response_model: request_model,
            finish_reason: "stop",
            input_tokens: None,
            output_tokens: None,
            cache_read: None,
            cache_creation: None,
            system: None,
            input_messages: Value::Null,
            tools: None,
            output_messages: Value::Null,
        }
    }

    fn total_tokens(&self) -> Option<i64> {
        Some(self.input_tokens? + self.output_tokens?)
    }

    /// A cache count as upstream writes it: 0 when the usage (with an input count) leaves
    /// it out. OpenLLMetry 0.62.1 `anthropic/__init__.py::_set_token_usage` and
    /// `streaming.py::_set_token_usage` read `... .get("cache_read_input_tokens", 0) or 0` and
    /// always write both counts; `tests/test_prompt_caching.py` asserts the 0.
    fn cache(&self, recorded: Option<i64>) -> Option<i64> {
        recorded.or(self.input_tokens.map(|_| 0))
    }
}

/// One user message with one text part.
fn user_text(text: &str) -> Value {
    json!([{"role": "user", "parts": [{"type": "text", "content": text}]}])
}

/// The single assistant output message.
fn assistant(parts: Value, finish_reason: &str) -> Value {
    json!([{"role": "assistant", "parts": parts, "finish_reason": finish_reason}])
}

/// The `get_weather` / `get_time` tools of the tools cassettes, in the shape upstream writes
/// to `gen_ai.tool.definitions` for Anthropic: `{name, description, input_schema}`
/// (`tests/test_messages.py::test_anthropic_tools_legacy` asserts `tool_defs[0]["input_schema"]`).
fn weather_time_tools() -> Value {
    json!([
        {
            "name": "get_weather",
            "description": "Get the current weather in a given location",
            "input_schema": {
                "type": "object",
                "properties": {
                    "location": {
                        "type": "string",
                        "description": "The city and state, e.g. San Francisco, CA"
                    },
                    "unit": {
                        "type": "string",
                        "enum": ["celsius", "fahrenheit"],
                        "description": "The unit of temperature, either 'celsius' or 'fahrenheit'"
                    }
                },
                "required": ["location"]
            }
        },
        {
            "name": "get_time",
            "description": "Get the current time in a given time zone",
            "input_schema": {
                "type": "object",
                "properties": {
                    "timezone": {
                        "type": "string",
                        "description": "The IANA time zone name, e.g. America/Los_Angeles"
                    }
                },
                "required": ["timezone"]
            }
        }
    ])
}

const SUMMARIZER_SYSTEM: &str =
    "You help generate concise summaries of news articles and blog posts that user sends you.";

// ---------------------------------------------------------------------------------------
// Replay helpers (beyond `common::run`)
// ---------------------------------------------------------------------------------------

/// What one request/response exchange gave the caller.
#[derive(Debug, Clone)]
struct Exchange {
    /// Response status; 0 when the request itself failed.
    status: u16,
    /// The body bytes the caller received.
    body: Vec<u8>,
    /// The error the caller got (sending, or reading the body), if any.
    error: Option<String>,
}

/// Sends `interaction`'s recorded request through `client` to `server` and reads the body
/// until it ends, fails, or `stop(body so far)` says to stop (then drops the response).
async fn exchange(
    client: &reqwest_middleware::ClientWithMiddleware,
    server: &ReplayServer,
    interaction: &Interaction,
    stop: &dyn Fn(&[u8]) -> bool,
) -> Exchange {
    let method = reqwest::Method::from_bytes(interaction.request.method.as_bytes()).unwrap();
    let sent = client
        .request(method, server.url(interaction.request.path_and_query()))
        .headers(common::replay_headers(interaction))
        .body(interaction.request.body.clone())
        .send()
        .await;
    let mut resp = match sent {
        Ok(resp) => resp,
        Err(e) => {
            return Exchange {
                status: 0,
                body: Vec::new(),
                error: Some(e.to_string()),
            };
        }
    };
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    let mut error = None;
    while !stop(&body) {
        match resp.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        }
    }
    drop(resp);
    Exchange {
        status,
        body,
        error,
    }
}

fn read_all(_: &[u8]) -> bool {
    false
}

/// Every interaction of a cassette, replayed in order on one server through one
/// instrumented client.
struct SequenceRun {
    capture: Capture,
    server: ReplayServer,
    interactions: Vec<Interaction>,
    exchanges: Vec<Exchange>,
    faults: Vec<Fault>,
}

impl SequenceRun {
    fn port(&self) -> u16 {
        self.server.addr().port()
    }

    fn assert_pass_through(&self) {
        for (i, (x, it)) in self.exchanges.iter().zip(&self.interactions).enumerate() {
            assert_eq!(x.error, None, "exchange {i} failed");
            assert_eq!(x.status, it.response.status, "status of exchange {i}");
            assert!(
                x.body == it.response.body,
                "the caller's body of exchange {i} differs from the recorded one"
            );
        }
    }

    /// The content oracle, over every interaction.
    fn assert_no_content_exported(&self) {
        let all: Vec<&Interaction> = self.interactions.iter().collect();
        assert_no_content_exported_in(&self.capture, &all);
    }
}

async fn run_sequence(cassette: &str, opts: Opts) -> SequenceRun {
    let c = Cassette::load_named(cassette).expect("cassette loads");
    let server = ReplayServer::start(c.interactions.clone()).await;
    let capture = Capture::new();
    let faults = Arc::new(Mutex::new(Vec::new()));
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(OpenLlmMiddleware::with_instrumentation(instrumentation(
            &capture,
            opts,
            faults.clone(),
        )))
        .build();
    let mut exchanges = Vec::new();
    for it in &c.interactions {
        exchanges.push(exchange(&client, &server, it, &read_all).await);
    }
    capture.flush();
    server.assert_all_played();
    let faults = faults.lock().unwrap().clone();
    SequenceRun {
        capture,
        server,
        interactions: c.interactions,
        exchanges,
        faults,
    }
}

/// A replay against a server that misbehaves with `fault`, through the middleware, plus the
/// same exchange through a plain client (no middleware) as the oracle of what the caller
/// must get.
struct FaultRun {
    capture: Capture,
    server: ReplayServer,
    got: Exchange,
    baseline: Exchange,
    faults: Vec<Fault>,
}

impl FaultRun {
    /// The instrumented caller got exactly what the plain caller got: same status, same
    /// bytes, an error only if the plain caller got one too.
    fn assert_same_as_without_middleware(&self) {
        assert_eq!(self.got.status, self.baseline.status, "status");
        assert!(
            self.got.body == self.baseline.body,
            "the instrumented caller's body ({} bytes) differs from the plain caller's ({} bytes)",
            self.got.body.len(),
            self.baseline.body.len()
        );
        assert_eq!(
            self.got.error.is_some(),
            self.baseline.error.is_some(),
            "error with middleware {:?}, without {:?}",
            self.got.error,
            self.baseline.error
        );
    }
}

async fn run_with_fault(cassette: &str, opts: Opts, fault: replay::Fault) -> FaultRun {
    let c = Cassette::load_named(cassette).expect("cassette loads");
    let interaction = c.interactions[0].clone();

    let plain_server = ReplayServer::builder(vec![interaction.clone()])
        .with_fault(fault.clone())
        .start()
        .await;
    let plain = reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).build();
    let baseline = exchange(&plain, &plain_server, &interaction, &read_all).await;

    let server = ReplayServer::builder(vec![interaction.clone()])
        .with_fault(fault)
        .start()
        .await;
    let capture = Capture::new();
    let faults = Arc::new(Mutex::new(Vec::new()));
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(OpenLlmMiddleware::with_instrumentation(instrumentation(
            &capture,
            opts,
            faults.clone(),
        )))
        .build();
    let got = exchange(&client, &server, &interaction, &read_all).await;
    capture.flush();
    server.assert_all_played();
    let faults = faults.lock().unwrap().clone();
    FaultRun {
        capture,
        server,
        got,
        baseline,
        faults,
    }
}

/// The fixed vocabulary of the exported telemetry: span, event, metric and scope names,
/// metric descriptions and units, attribute keys. Never a value, so never content.
fn vocabulary(capture: &Capture) -> String {
    let mut out = String::new();
    let mut push = |s: &str| {
        out.push_str(s);
        out.push('\n');
    };
    for span in capture.flat_spans() {
        push(&span.name);
        push(&span.scope_name);
        span.attributes.keys().for_each(|k| push(k));
        for (name, attrs) in &span.events {
            push(name);
            attrs.keys().for_each(|k| push(k));
        }
    }
    for export in capture.finished_metrics() {
        for scope in export.scope_metrics() {
            push(scope.scope().name());
            for metric in scope.metrics() {
                push(metric.name());
                push(metric.description());
                push(metric.unit());
            }
        }
    }
    for log in capture.logs() {
        push(log.event_name.as_deref().unwrap_or_default());
        push(&log.scope_name);
        log.attributes.keys().for_each(|k| push(k));
    }
    out
}

/// `common::assert_no_content_exported` over several interactions of one capture, with one
/// refinement: a content string that also occurs in the fixed [`vocabulary`] (e.g. the
/// streamed word `" first"` inside the metric description "Time to receive the first chunk
/// of a streamed response") cannot tell a leak from a name, so it is not searched for. The
/// joined stream text and every longer string still are.
fn assert_no_content_exported_in(capture: &Capture, interactions: &[&Interaction]) {
    let exported = capture.all_exported_text();
    let vocabulary = vocabulary(capture);
    for interaction in interactions {
        let strings = content_strings(interaction);
        assert!(!strings.is_empty(), "the oracle found no content strings");
        let mut searched = 0;
        for s in strings.iter().filter(|s| !vocabulary.contains(s.as_str())) {
            searched += 1;
            assert!(
                !exported.contains(s.as_str()),
                "content string {s:?} was exported with content capture off"
            );
        }
        assert!(searched > 0, "every content string is in the vocabulary");
    }
}

/// [`assert_no_content_exported_in`] for a [`Run`].
fn assert_no_content(run: &Run) {
    assert_no_content_exported_in(&run.capture, &[&run.interaction]);
}

/// The text of every complete `text_delta` in an Anthropic event stream, joined: a test-side
/// oracle (a plain line split of the bytes), independent of the parsers.
fn text_deltas(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    for event in text.split_inclusive("\n\n").filter(|e| e.ends_with("\n\n")) {
        for line in event.lines() {
            if let Some(data) = line.strip_prefix("data:")
                && let Ok(v) = serde_json::from_str::<Value>(data.trim())
                && v["type"] == "content_block_delta"
                && v["delta"]["type"] == "text_delta"
            {
                out.push_str(v["delta"]["text"].as_str().unwrap_or_default());
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------

/// Content-bearing attributes of the current flavour.
const CONTENT_ATTRS: &[&str] = &[
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
];

/// Prefixes of the legacy flavour's content attributes.
const LEGACY_CONTENT_PREFIXES: &[&str] = &[
    "gen_ai.prompt.",
    "gen_ai.completion.",
    "llm.request.functions.",
];

fn assert_no_faults(faults: &[Fault]) {
    assert!(
        faults.is_empty(),
        "unexpected instrumentation faults: {faults:?}"
    );
}

fn assert_attr_i64(span: &SpanData, key: &str, expected: Option<i64>) {
    assert_eq!(span.attr_i64(key), expected, "{key}");
}

/// Attributes every flavour sets from the request, and the span's identity.
fn check_request(span: &SpanData, e: &Expect, port: u16) {
    assert_eq!(span.name, e.span_name);
    assert_eq!(span.span_kind, SpanKind::Client);
    assert!(
        !matches!(span.status, Status::Error { .. }),
        "status {:?}",
        span.status
    );
    assert_eq!(span.attr_str("gen_ai.operation.name"), Some(e.operation));
    assert_eq!(span.attr_str("gen_ai.provider.name"), Some("anthropic"));
    assert_eq!(span.attr_str("gen_ai.request.model"), Some(e.request_model));
    assert_attr_i64(span, "gen_ai.request.max_tokens", Some(e.max_tokens));
    assert_eq!(span.attr_f64("gen_ai.request.temperature"), e.temperature);
    assert_eq!(span.attr_f64("gen_ai.request.top_p"), e.top_p);
    assert_attr_i64(span, "gen_ai.request.top_k", e.top_k);
    let stops: Option<Vec<String>> = (!e.stop_sequences.is_empty())
        .then(|| e.stop_sequences.iter().map(|s| s.to_string()).collect());
    assert_eq!(span.attr_str_array("gen_ai.request.stop_sequences"), stops);
    assert_eq!(span.attr_str("server.address"), Some("127.0.0.1"));
    assert_attr_i64(span, "server.port", Some(i64::from(port)));
    assert_eq!(span.attr_str("error.type"), None);
    assert_eq!(span.attr_bool("openllmetry.response.incomplete"), None);
}

/// Attributes every flavour sets from the response (usage aside).
fn check_response(span: &SpanData, e: &Expect) {
    assert_eq!(span.attr_str("gen_ai.response.id"), Some(e.response_id));
    assert_eq!(
        span.attr_str("gen_ai.response.model"),
        Some(e.response_model)
    );
    assert_eq!(
        span.attr_str_array("gen_ai.response.finish_reasons"),
        Some(vec![e.finish_reason.to_string()])
    );
    match (
        e.stream,
        span.attr_f64("gen_ai.response.time_to_first_chunk"),
    ) {
        (true, Some(t)) => assert!(t >= 0.0, "time to first chunk {t}"),
        (true, None) => panic!("a streamed call has no gen_ai.response.time_to_first_chunk"),
        (false, t) => assert_eq!(t, None, "time to first chunk on a call that did not stream"),
    }
}

/// Usage in the current (and events) flavour.
fn check_usage(span: &SpanData, e: &Expect) {
    assert_attr_i64(span, "gen_ai.usage.input_tokens", e.input_tokens);
    assert_attr_i64(span, "gen_ai.usage.output_tokens", e.output_tokens);
    assert_attr_i64(span, "gen_ai.usage.total_tokens", e.total_tokens());
    assert_attr_i64(
        span,
        "gen_ai.usage.cache_read.input_tokens",
        e.cache(e.cache_read),
    );
    assert_attr_i64(
        span,
        "gen_ai.usage.cache_creation.input_tokens",
        e.cache(e.cache_creation),
    );
}

/// Request attributes of the current and events flavours (the legacy flavour has others).
fn check_stream_flags(span: &SpanData, e: &Expect) {
    assert_eq!(span.attr_bool("gen_ai.request.stream"), Some(e.stream));
    assert_eq!(span.attr_bool("gen_ai.is_streaming"), Some(e.stream));
    assert_eq!(span.attr_str("gen_ai.system"), None);
    assert_eq!(span.attr_bool("llm.is_streaming"), None);
}

/// Content attributes of the current flavour, compared structurally.
fn check_content(span: &SpanData, e: &Expect) {
    assert_eq!(
        common::json_attr(span, "gen_ai.input.messages"),
        e.input_messages,
        "gen_ai.input.messages"
    );
    assert_eq!(
        common::json_attr(span, "gen_ai.output.messages"),
        e.output_messages,
        "gen_ai.output.messages"
    );
    let optional = |key: &str| span.attr_str(key).map(|_| common::json_attr(span, key));
    assert_eq!(
        optional("gen_ai.system_instructions"),
        e.system,
        "gen_ai.system_instructions"
    );
    assert_eq!(
        optional("gen_ai.tool.definitions"),
        e.tools,
        "gen_ai.tool.definitions"
    );
}

fn check_no_content_attrs(span: &SpanData) {
    for key in CONTENT_ATTRS {
        assert_eq!(span.attr_str(key), None, "{key} exported");
    }
    let legacy: Vec<String> = legacy_content_keys(span);
    assert!(
        legacy.is_empty(),
        "legacy content attributes exported: {legacy:?}"
    );
}

fn legacy_content_keys(span: &SpanData) -> Vec<String> {
    let mut keys: Vec<String> = span
        .attributes
        .iter()
        .map(|kv| kv.key.as_str().to_string())
        .filter(|k| LEGACY_CONTENT_PREFIXES.iter().any(|p| k.starts_with(p)))
        .collect();
    keys.sort();
    keys
}

/// The attributes every GenAI metric point must carry.
fn check_point_identity(p: &MetricPoint, e: &Expect, port: u16) {
    let ctx = format!("{} point {:?}", p.name, p.attributes);
    assert_eq!(
        p.attr_str("gen_ai.provider.name"),
        Some("anthropic"),
        "{ctx}"
    );
    assert_eq!(
        p.attr_str("gen_ai.operation.name"),
        Some(e.operation),
        "{ctx}"
    );
    assert_eq!(
        p.attr_str("gen_ai.request.model"),
        Some(e.request_model),
        "{ctx}"
    );
    assert_eq!(
        p.attr_str("gen_ai.response.model"),
        Some(e.response_model),
        "{ctx}"
    );
    assert_eq!(p.attr_str("server.address"), Some("127.0.0.1"), "{ctx}");
    assert_eq!(
        p.attr("server.port").and_then(AttrValue::as_i64),
        Some(i64::from(port)),
        "{ctx}"
    );
    assert_eq!(p.attr("error.type"), None, "{ctx}");
}

/// Metrics of `calls` successful calls recorded on one capture (they share the models).
fn check_metrics(capture: &Capture, calls: &[&Expect], port: u16) {
    let e = calls[0];
    for c in calls {
        assert_eq!(
            (c.operation, c.request_model, c.response_model, c.stream),
            (e.operation, e.request_model, e.response_model, e.stream)
        );
    }
    let n = calls.len() as u64;

    let tokens = capture.metric_points("gen_ai.client.token.usage");
    let mut types = 0;
    for (ty, values) in [
        (
            "input",
            calls
                .iter()
                .filter_map(|c| c.input_tokens)
                .collect::<Vec<_>>(),
        ),
        (
            "output",
            calls.iter().filter_map(|c| c.output_tokens).collect(),
        ),
    ] {
        let points: Vec<&MetricPoint> = tokens
            .iter()
            .filter(|p| p.attr_str("gen_ai.token.type") == Some(ty))
            .collect();
        if values.is_empty() {
            assert!(
                points.is_empty(),
                "{ty} token points without recorded usage"
            );
            continue;
        }
        types += 1;
        assert_eq!(points.len(), 1, "{ty} token points: {points:?}");
        let p = points[0];
        check_point_identity(p, e, port);
        assert_eq!(p.kind, PointKind::Histogram);
        assert_eq!(p.unit, "{token}");
        assert_eq!(p.count, Some(values.len() as u64), "{ty} token count");
        assert_eq!(
            p.sum,
            Some(values.iter().sum::<i64>() as f64),
            "{ty} token sum"
        );
        assert_eq!(p.bounds, TOKEN_USAGE_BUCKETS, "{ty} token buckets");
    }
    assert_eq!(tokens.len(), types, "token usage points: {tokens:?}");

    let duration = capture.metric_points("gen_ai.client.operation.duration");
    assert_eq!(duration.len(), 1, "duration points: {duration:?}");
    let d = &duration[0];
    check_point_identity(d, e, port);
    assert_eq!(d.kind, PointKind::Histogram);
    assert_eq!(d.unit, "s");
    assert_eq!(d.count, Some(n), "operation duration count");
    assert_eq!(d.bounds, DURATION_BUCKETS);

    let choices = capture.metric_points("gen_ai.client.generation.choices");
    let mut by_reason: BTreeMap<&str, f64> = BTreeMap::new();
    for c in calls {
        *by_reason.entry(c.finish_reason).or_default() += 1.0;
    }
    assert_eq!(choices.len(), by_reason.len(), "choice points: {choices:?}");
    for p in &choices {
        check_point_identity(p, e, port);
        assert_eq!(p.kind, PointKind::Sum { monotonic: true });
        let reason = p
            .attr_str("gen_ai.response.finish_reason")
            .expect("a choice point has a finish reason");
        assert_eq!(
            p.value,
            by_reason.get(reason).copied(),
            "choices with {reason}"
        );
    }

    let ttfc = capture.metric_points("gen_ai.client.operation.time_to_first_chunk");
    if e.stream {
        assert_eq!(ttfc.len(), 1, "time to first chunk points: {ttfc:?}");
        check_point_identity(&ttfc[0], e, port);
        assert_eq!(ttfc[0].unit, "s");
        assert_eq!(ttfc[0].count, Some(n), "time to first chunk count");
    } else {
        assert!(ttfc.is_empty(), "time to first chunk without a stream");
    }
    for p in capture.metric_points("gen_ai.client.operation.time_per_output_chunk") {
        assert!(e.stream);
        check_point_identity(&p, e, port);
    }
    // Upstream's Anthropic stream records no time-to-first-token metric, and a success no
    // exception.
    assert!(
        capture
            .metric_points("gen_ai.server.time_to_first_token")
            .is_empty()
    );
    assert!(
        capture
            .metric_points("llm.anthropic.completion.exceptions")
            .is_empty()
    );
}

/// The full current-flavour check of one call.
fn check_current(span: &SpanData, e: &Expect, port: u16) {
    check_request(span, e, port);
    check_stream_flags(span, e);
    check_response(span, e);
    check_usage(span, e);
    check_content(span, e);
}

/// The content-off check of one call in the current flavour: everything but content.
fn check_current_content_off(span: &SpanData, e: &Expect, port: u16) {
    check_request(span, e, port);
    check_stream_flags(span, e);
    check_response(span, e);
    check_usage(span, e);
    check_no_content_attrs(span);
}

/// Replays `cassette` in the current flavour with content on, then off, and checks
/// everything. Returns the content-on run.
async fn conformance(cassette: &str, e: &Expect) -> Run {
    let on = run(cassette, Opts::default()).await;
    on.assert_pass_through();
    assert_no_faults(&on.faults);
    let span = on.span(e.span_name);
    let port = on.server.addr().port();
    check_current(&span, e, port);
    check_metrics(&on.capture, &[e], port);
    assert!(
        on.capture.logs().is_empty(),
        "log records outside the events flavour"
    );

    let off = run(cassette, Opts::content_off()).await;
    off.assert_pass_through();
    assert_no_faults(&off.faults);
    let span = off.span(e.span_name);
    let port = off.server.addr().port();
    check_current_content_off(&span, e, port);
    check_metrics(&off.capture, &[e], port);
    assert_no_content(&off);
    on
}

/// An expected legacy attribute value: a string, or JSON compared structurally (tool
/// arguments and parameters are JSON strings whose key order is not specified).
fn check_legacy_value(span: &SpanData, key: &str, expected: &Value) {
    let actual = span
        .attr_str(key)
        .unwrap_or_else(|| panic!("legacy attribute {key} missing"));
    match expected {
        Value::String(s) => assert_eq!(actual, s, "{key}"),
        other => {
            let parsed: Value = serde_json::from_str(actual)
                .unwrap_or_else(|err| panic!("{key} is not JSON ({err}): {actual}"));
            assert_eq!(&parsed, other, "{key}");
        }
    }
}

/// Replays `cassette` in the legacy flavour with content on (the content attributes must be
/// exactly `expected`) and off.
async fn legacy(cassette: &str, e: &Expect, expected: &[(&str, Value)]) {
    for content in [true, false] {
        let r = run(
            cassette,
            Opts {
                flavour: Flavour::Legacy,
                content,
                read_chunks: None,
            },
        )
        .await;
        r.assert_pass_through();
        assert_no_faults(&r.faults);
        let span = r.span(e.span_name);
        let port = r.server.addr().port();
        check_request(&span, e, port);
        check_response(&span, e);
        // `gen_ai.system` ("Anthropic"), `llm.is_streaming`, `llm.request.type`
        // ("completion") and the 0.53 token and cache keys are checked for every recording by
        // the corpus harness (tests/corpus.rs).
        assert_eq!(span.attr_bool("gen_ai.request.stream"), None);
        assert_attr_i64(&span, "gen_ai.usage.input_tokens", None);
        for key in CONTENT_ATTRS {
            assert_eq!(span.attr_str(key), None, "{key} in the legacy flavour");
        }
        check_metrics(&r.capture, &[e], port);
        assert!(
            r.capture.logs().is_empty(),
            "log records in the legacy flavour"
        );
        if content {
            let mut keys: Vec<String> = expected.iter().map(|(k, _)| k.to_string()).collect();
            keys.sort();
            assert_eq!(
                legacy_content_keys(&span),
                keys,
                "legacy content attributes"
            );
            for (key, value) in expected {
                check_legacy_value(&span, key, value);
            }
        } else {
            check_no_content_attrs(&span);
            assert_no_content(&r);
        }
    }
}

/// Checks the log records of an events-flavour run against `(event name, body)` pairs.
fn check_logs(logs: &[ReceivedLog], span: &SpanData, expected: &[(&str, Value)]) {
    let got: Vec<(Option<&str>, &Option<Value>)> = logs
        .iter()
        .map(|l| (l.event_name.as_deref(), &l.body))
        .collect();
    assert_eq!(logs.len(), expected.len(), "log records: {got:#?}");
    let trace_id = span.span_context.trace_id().to_string();
    let span_id = span.span_context.span_id().to_string();
    for (i, (log, (name, body))) in logs.iter().zip(expected).enumerate() {
        assert_eq!(
            log.event_name.as_deref(),
            Some(*name),
            "event name of record {i}"
        );
        assert_eq!(log.body.as_ref(), Some(body), "body of record {i} ({name})");
        assert_eq!(
            log.trace_id.as_deref(),
            Some(trace_id.as_str()),
            "trace id of record {i}"
        );
        assert_eq!(
            log.span_id.as_deref(),
            Some(span_id.as_str()),
            "span id of record {i}"
        );
        assert_eq!(log.attr_str("gen_ai.provider.name"), Some("anthropic"));
    }
}

/// Replays `cassette` in the events flavour with content on (`with_content` log records)
/// and off (`without_content`).
async fn events(
    cassette: &str,
    e: &Expect,
    with_content: &[(&str, Value)],
    without_content: &[(&str, Value)],
) {
    for (content, expected) in [(true, with_content), (false, without_content)] {
        let r = run(
            cassette,
            Opts {
                flavour: Flavour::Events,
                content,
                read_chunks: None,
            },
        )
        .await;
        r.assert_pass_through();
        assert_no_faults(&r.faults);
        let span = r.span(e.span_name);
        let port = r.server.addr().port();
        check_request(&span, e, port);
        check_stream_flags(&span, e);
        check_response(&span, e);
        // Usage in the events flavour: checked for every recording by the corpus harness.
        check_no_content_attrs(&span);
        check_metrics(&r.capture, &[e], port);
        check_logs(&r.capture.logs(), &span, expected);
        if !content {
            assert_no_content(&r);
        }
    }
}

// ---------------------------------------------------------------------------------------
// test_messages
// ---------------------------------------------------------------------------------------

const MESSAGES: &str = "anthropic/test_messages";

fn cassette(dir: &str, name: &str) -> String {
    format!("{dir}/{name}.yaml")
}

const JOKE_PROMPT: &str = "Tell me a joke about OpenTelemetry";

fn message_create() -> Expect {
    Expect {
        input_tokens: Some(17),
        output_tokens: Some(220),
        input_messages: user_text(JOKE_PROMPT),
        output_messages: assistant(
            json!([{"type": "text", "content": MESSAGE_CREATE_TEXT}]),
            "stop",
        ),
        ..Expect::chat("claude-3-opus-20240229", "msg_01TPXhkPo8jy6yQMrMhjpiAE")
    }
}

#[tokio::test]
async fn test_anthropic_message_create_legacy() {
    let name = cassette(MESSAGES, "test_anthropic_message_create_legacy");
    let e = message_create();
    conformance(&name, &e).await;
    legacy(
        &name,
        &e,
        &[
            ("gen_ai.prompt.0.role", json!("user")),
            ("gen_ai.prompt.0.content", json!(JOKE_PROMPT)),
            ("gen_ai.completion.0.role", json!("assistant")),
            ("gen_ai.completion.0.content", json!(MESSAGE_CREATE_TEXT)),
            ("gen_ai.completion.0.finish_reason", json!("stop")),
        ],
    )
    .await;
    events(
        &name,
        &e,
        &[
            ("gen_ai.user.message", json!({"content": JOKE_PROMPT})),
            (
                "gen_ai.choice",
                json!({"index": 0, "finish_reason": "stop", "message": {"content": MESSAGE_CREATE_TEXT}}),
            ),
        ],
        &[
            ("gen_ai.user.message", json!({})),
            ("gen_ai.choice", json!({"index": 0, "finish_reason": "stop", "message": {}})),
        ],
    )
    .await;
}

#[tokio::test]
async fn test_async_anthropic_message_create_legacy() {
    let e = Expect {
        input_tokens: Some(17),
        output_tokens: Some(189),
        input_messages: user_text(JOKE_PROMPT),
        output_messages: assistant(
            json!([{"type": "text", "content": ASYNC_MESSAGE_CREATE_TEXT}]),
            "stop",
        ),
        ..Expect::chat("claude-3-opus-20240229", "msg_01UFDDjsFn5BPQnfNwmsMnAY")
    };
    conformance(
        &cassette(MESSAGES, "test_async_anthropic_message_create_legacy"),
        &e,
    )
    .await;
}

fn message_streaming() -> Expect {
    Expect {
        stream: true,
        // message_start: input 17 (no cache fields), output 3; message_delta: output 171.
        input_tokens: Some(17),
        output_tokens: Some(171),
        input_messages: user_text(JOKE_PROMPT),
        output_messages: assistant(json!([{"type": "text", "content": STREAMING_TEXT}]), "stop"),
        ..Expect::chat("claude-3-haiku-20240307", "msg_01MXWxhWoPSgrYhjTuMDM6F1")
    }
}

#[tokio::test]
async fn test_anthropic_message_streaming_legacy() {
    let name = cassette(MESSAGES, "test_anthropic_message_streaming_legacy");
    let e = message_streaming();
    let r = conformance(&name, &e).await;
    // The caller got the stream event by event, and the text is the recorded deltas joined.
    assert_eq!(text_deltas(&r.body), STREAMING_TEXT);
    legacy(
        &name,
        &e,
        &[
            ("gen_ai.prompt.0.role", json!("user")),
            ("gen_ai.prompt.0.content", json!(JOKE_PROMPT)),
            ("gen_ai.completion.0.role", json!("assistant")),
            ("gen_ai.completion.0.content", json!(STREAMING_TEXT)),
            ("gen_ai.completion.0.finish_reason", json!("stop")),
        ],
    )
    .await;
    events(
        &name,
        &e,
        &[
            ("gen_ai.user.message", json!({"content": JOKE_PROMPT})),
            (
                "gen_ai.choice",
                json!({"index": 0, "finish_reason": "stop", "message": {"content": STREAMING_TEXT}}),
            ),
        ],
        &[
            ("gen_ai.user.message", json!({})),
            ("gen_ai.choice", json!({"index": 0, "finish_reason": "stop", "message": {}})),
        ],
    )
    .await;
}

#[tokio::test]
async fn test_async_anthropic_message_streaming_legacy() {
    let e = Expect {
        stream: true,
        input_tokens: Some(17),
        output_tokens: Some(92),
        input_messages: user_text(JOKE_PROMPT),
        output_messages: assistant(
            json!([{"type": "text", "content": ASYNC_STREAMING_TEXT}]),
            "stop",
        ),
        ..Expect::chat("claude-3-haiku-20240307", "msg_016o6A7zDmgjucf5mWv1rrPD")
    };
    let r = conformance(
        &cassette(MESSAGES, "test_async_anthropic_message_streaming_legacy"),
        &e,
    )
    .await;
    assert_eq!(text_deltas(&r.body), ASYNC_STREAMING_TEXT);
}

#[tokio::test]
async fn test_anthropic_message_stream_manager_legacy() {
    // A stream manager (`messages.stream(...)`) is an ordinary stream on the wire.
    let e = Expect {
        stream: true,
        // message_start: input 17, cache read 0, cache creation 0, output 1;
        // message_delta: output 108 (cumulative, not added to the 1).
        input_tokens: Some(17),
        output_tokens: Some(108),
        cache_read: Some(0),
        cache_creation: Some(0),
        input_messages: user_text(JOKE_PROMPT),
        output_messages: assistant(
            json!([{"type": "text", "content": STREAM_MANAGER_TEXT}]),
            "stop",
        ),
        ..Expect::chat("claude-3-5-haiku-20241022", "msg_01MCkQZZtEKF3nVbFaExwATe")
    };
    let r = conformance(
        &cassette(MESSAGES, "test_anthropic_message_stream_manager_legacy"),
        &e,
    )
    .await;
    assert_eq!(text_deltas(&r.body), STREAM_MANAGER_TEXT);
}

#[tokio::test]
async fn test_async_anthropic_message_stream_manager_legacy() {
    let e = Expect {
        stream: true,
        input_tokens: Some(17),
        output_tokens: Some(79),
        cache_read: Some(0),
        cache_creation: Some(0),
        input_messages: user_text(JOKE_PROMPT),
        output_messages: assistant(
            json!([{"type": "text", "content": ASYNC_STREAM_MANAGER_TEXT}]),
            "stop",
        ),
        ..Expect::chat("claude-3-5-haiku-20241022", "msg_01E414PCSTg6skd6JWPTX5Uc")
    };
    let r = conformance(
        &cassette(
            MESSAGES,
            "test_async_anthropic_message_stream_manager_legacy",
        ),
        &e,
    )
    .await;
    assert_eq!(text_deltas(&r.body), ASYNC_STREAM_MANAGER_TEXT);
}

#[tokio::test]
async fn test_anthropic_streaming_helper_methods_legacy() {
    // `get_final_message()` helper: an ordinary stream on the wire. Its message_delta repeats
    // the input and cache counts (11, 0, 0) next to the cumulative output count.
    let e = Expect {
        stream: true,
        input_tokens: Some(11),
        output_tokens: Some(6),
        cache_read: Some(0),
        cache_creation: Some(0),
        input_messages: user_text("Say hello there!"),
        output_messages: assistant(json!([{"type": "text", "content": "Hello there!"}]), "stop"),
        ..Expect::chat("claude-3-5-haiku-20241022", "msg_015vYx5y1ygzx5WM3FSMKpqQ")
    };
    let r = conformance(
        &cassette(MESSAGES, "test_anthropic_streaming_helper_methods_legacy"),
        &e,
    )
    .await;
    assert_eq!(text_deltas(&r.body), "Hello there!");
}

#[tokio::test]
async fn test_anthropic_text_stream_helper_method_legacy() {
    // `text_stream` helper: message_start says output 2, message_delta says 6 (cumulative).
    let e = Expect {
        stream: true,
        input_tokens: Some(11),
        output_tokens: Some(6),
        cache_read: Some(0),
        cache_creation: Some(0),
        input_messages: user_text("Say hello there!"),
        output_messages: assistant(json!([{"type": "text", "content": "Hello there!"}]), "stop"),
        ..Expect::chat("claude-3-5-haiku-20241022", "msg_015gfMD3dPMTLGst8hsmvWJw")
    };
    let r = conformance(
        &cassette(MESSAGES, "test_anthropic_text_stream_helper_method_legacy"),
        &e,
    )
    .await;
    assert_eq!(text_deltas(&r.body), "Hello there!");
}

#[tokio::test]
async fn test_with_asyncio_run_legacy() {
    let name = cassette(MESSAGES, "test_with_asyncio_run_legacy");
    let prompt = "What is the weather in San Francisco?";
    let e = Expect {
        input_tokens: Some(33),
        output_tokens: Some(95),
        system: Some(json!([{"type": "text", "content": SUMMARIZER_SYSTEM}])),
        input_messages: user_text(prompt),
        output_messages: assistant(
            json!([{"type": "text", "content": ASYNCIO_RUN_TEXT}]),
            "stop",
        ),
        ..Expect::chat("claude-3-5-sonnet-20240620", "msg_01AuPRFtHQUKc4DSCpFcEdhD")
    };
    conformance(&name, &e).await;
    // The system prompt is prompt 0.
    legacy(
        &name,
        &e,
        &[
            ("gen_ai.prompt.0.role", json!("system")),
            ("gen_ai.prompt.0.content", json!(SUMMARIZER_SYSTEM)),
            ("gen_ai.prompt.1.role", json!("user")),
            ("gen_ai.prompt.1.content", json!(prompt)),
            ("gen_ai.completion.0.role", json!("assistant")),
            ("gen_ai.completion.0.content", json!(ASYNCIO_RUN_TEXT)),
            ("gen_ai.completion.0.finish_reason", json!("stop")),
        ],
    )
    .await;
    events(
        &name,
        &e,
        &[
            ("gen_ai.system.message", json!({"content": SUMMARIZER_SYSTEM})),
            ("gen_ai.user.message", json!({"content": prompt})),
            (
                "gen_ai.choice",
                json!({"index": 0, "finish_reason": "stop", "message": {"content": ASYNCIO_RUN_TEXT}}),
            ),
        ],
        &[
            ("gen_ai.system.message", json!({})),
            ("gen_ai.user.message", json!({})),
            ("gen_ai.choice", json!({"index": 0, "finish_reason": "stop", "message": {}})),
        ],
    )
    .await;
}

// --- tools ---------------------------------------------------------------------------

const TOOLS_PROMPT: &str =
    "What is the weather like right now in New York? Also what time is it there now?";

#[tokio::test]
async fn test_anthropic_tools_legacy() {
    let name = cassette(MESSAGES, "test_anthropic_tools_legacy");
    let e = Expect {
        finish_reason: "tool_call",
        input_tokens: Some(514),
        output_tokens: Some(152),
        input_messages: user_text(TOOLS_PROMPT),
        tools: Some(weather_time_tools()),
        output_messages: assistant(
            json!([
                {"type": "text", "content": TOOLS_TEXT},
                {
                    "type": "tool_call",
                    "id": "toolu_012r6TBCWjRHG71j6zruYyUL",
                    "name": "get_weather",
                    "arguments": {"location": "New York, NY", "unit": "fahrenheit"}
                },
                {
                    "type": "tool_call",
                    "id": "toolu_01SkeBKkLCNYWNuivqFerGDd",
                    "name": "get_time",
                    "arguments": {"timezone": "America/New_York"}
                }
            ]),
            "tool_call",
        ),
        ..Expect::chat("claude-3-5-sonnet-20240620", "msg_01RBkXFe9TmDNNWThMz2HmGt")
    };
    conformance(&name, &e).await;
    let tools = weather_time_tools();
    legacy(
        &name,
        &e,
        &[
            ("gen_ai.prompt.0.role", json!("user")),
            ("gen_ai.prompt.0.content", json!(TOOLS_PROMPT)),
            ("gen_ai.completion.0.role", json!("assistant")),
            ("gen_ai.completion.0.content", json!(TOOLS_TEXT)),
            ("gen_ai.completion.0.finish_reason", json!("tool_call")),
            (
                "gen_ai.completion.0.tool_calls.0.id",
                json!("toolu_012r6TBCWjRHG71j6zruYyUL"),
            ),
            (
                "gen_ai.completion.0.tool_calls.0.name",
                json!("get_weather"),
            ),
            (
                "gen_ai.completion.0.tool_calls.0.arguments",
                json!({"location": "New York, NY", "unit": "fahrenheit"}),
            ),
            (
                "gen_ai.completion.0.tool_calls.1.id",
                json!("toolu_01SkeBKkLCNYWNuivqFerGDd"),
            ),
            ("gen_ai.completion.0.tool_calls.1.name", json!("get_time")),
            (
                "gen_ai.completion.0.tool_calls.1.arguments",
                json!({"timezone": "America/New_York"}),
            ),
            ("llm.request.functions.0.name", json!("get_weather")),
            (
                "llm.request.functions.0.description",
                tools[0]["description"].clone(),
            ),
            (
                "llm.request.functions.0.input_schema",
                tools[0]["input_schema"].clone(),
            ),
            ("llm.request.functions.1.name", json!("get_time")),
            (
                "llm.request.functions.1.description",
                tools[1]["description"].clone(),
            ),
            (
                "llm.request.functions.1.input_schema",
                tools[1]["input_schema"].clone(),
            ),
        ],
    )
    .await;
    events(
        &name,
        &e,
        &[
            ("gen_ai.user.message", json!({"content": TOOLS_PROMPT})),
            (
                "gen_ai.choice",
                json!({
                    "index": 0,
                    "finish_reason": "tool_call",
                    "message": {"content": TOOLS_TEXT},
                    "tool_calls": [
                        {
                            "id": "toolu_012r6TBCWjRHG71j6zruYyUL",
                            "type": "function",
                            "function": {
                                "name": "get_weather",
                                "arguments": {"location": "New York, NY", "unit": "fahrenheit"}
                            }
                        },
                        {
                            "id": "toolu_01SkeBKkLCNYWNuivqFerGDd",
                            "type": "function",
                            "function": {
                                "name": "get_time",
                                "arguments": {"timezone": "America/New_York"}
                            }
                        }
                    ]
                }),
            ),
        ],
        &[
            ("gen_ai.user.message", json!({})),
            (
                "gen_ai.choice",
                json!({
                    "index": 0,
                    "finish_reason": "tool_call",
                    "message": {},
                    "tool_calls": [
                        {"id": "toolu_012r6TBCWjRHG71j6zruYyUL", "type": "function", "function": {"name": "get_weather"}},
                        {"id": "toolu_01SkeBKkLCNYWNuivqFerGDd", "type": "function", "function": {"name": "get_time"}}
                    ]
                }),
            ),
        ],
    )
    .await;
}

const SF_PROMPT: &str = "What is the weather and current time in San Francisco?";

#[tokio::test]
async fn test_anthropic_tools_streaming_legacy() {
    let name = cassette(MESSAGES, "test_anthropic_tools_streaming_legacy");
    // Every tool_use block, with its input reassembled from the input_json_delta pieces.
    let e = Expect {
        stream: true,
        finish_reason: "tool_call",
        input_tokens: Some(506),
        output_tokens: Some(153),
        cache_read: Some(0),
        cache_creation: Some(0),
        input_messages: user_text(SF_PROMPT),
        tools: Some(weather_time_tools()),
        output_messages: assistant(
            json!([
                {"type": "text", "content": TOOLS_STREAMING_TEXT},
                {
                    "type": "tool_call",
                    "id": "toolu_014x5X91kx3fvdhpLvwXZWE2",
                    "name": "get_weather",
                    "arguments": {"location": "San Francisco, CA", "unit": "celsius"}
                },
                {
                    "type": "tool_call",
                    "id": "toolu_0121kXsENLvoDZ72LCuAnCCz",
                    "name": "get_time",
                    "arguments": {"timezone": "America/Los_Angeles"}
                }
            ]),
            "tool_call",
        ),
        ..Expect::chat("claude-3-5-sonnet-20240620", "msg_0138UNF3YbNp49KkqZtUBWqz")
    };
    let r = conformance(&name, &e).await;
    assert_eq!(text_deltas(&r.body), TOOLS_STREAMING_TEXT);
    let tools = weather_time_tools();
    legacy(
        &name,
        &e,
        &[
            ("gen_ai.prompt.0.role", json!("user")),
            ("gen_ai.prompt.0.content", json!(SF_PROMPT)),
            ("gen_ai.completion.0.role", json!("assistant")),
            ("gen_ai.completion.0.content", json!(TOOLS_STREAMING_TEXT)),
            ("gen_ai.completion.0.finish_reason", json!("tool_call")),
            (
                "gen_ai.completion.0.tool_calls.0.id",
                json!("toolu_014x5X91kx3fvdhpLvwXZWE2"),
            ),
            (
                "gen_ai.completion.0.tool_calls.0.name",
                json!("get_weather"),
            ),
            (
                "gen_ai.completion.0.tool_calls.0.arguments",
                json!({"location": "San Francisco, CA", "unit": "celsius"}),
            ),
            (
                "gen_ai.completion.0.tool_calls.1.id",
                json!("toolu_0121kXsENLvoDZ72LCuAnCCz"),
            ),
            ("gen_ai.completion.0.tool_calls.1.name", json!("get_time")),
            (
                "gen_ai.completion.0.tool_calls.1.arguments",
                json!({"timezone": "America/Los_Angeles"}),
            ),
            ("llm.request.functions.0.name", json!("get_weather")),
            (
                "llm.request.functions.0.description",
                tools[0]["description"].clone(),
            ),
            (
                "llm.request.functions.0.input_schema",
                tools[0]["input_schema"].clone(),
            ),
            ("llm.request.functions.1.name", json!("get_time")),
            (
                "llm.request.functions.1.description",
                tools[1]["description"].clone(),
            ),
            (
                "llm.request.functions.1.input_schema",
                tools[1]["input_schema"].clone(),
            ),
        ],
    )
    .await;
    events(
        &name,
        &e,
        &[
            ("gen_ai.user.message", json!({"content": SF_PROMPT})),
            (
                "gen_ai.choice",
                json!({
                    "index": 0,
                    "finish_reason": "tool_call",
                    "message": {"content": TOOLS_STREAMING_TEXT},
                    "tool_calls": [
                        {
                            "id": "toolu_014x5X91kx3fvdhpLvwXZWE2",
                            "type": "function",
                            "function": {
                                "name": "get_weather",
                                "arguments": {"location": "San Francisco, CA", "unit": "celsius"}
                            }
                        },
                        {
                            "id": "toolu_0121kXsENLvoDZ72LCuAnCCz",
                            "type": "function",
                            "function": {
                                "name": "get_time",
                                "arguments": {"timezone": "America/Los_Angeles"}
                            }
                        }
                    ]
                }),
            ),
        ],
        &[
            ("gen_ai.user.message", json!({})),
            (
                "gen_ai.choice",
                json!({
                    "index": 0,
                    "finish_reason": "tool_call",
                    "message": {},
                    "tool_calls": [
                        {"id": "toolu_014x5X91kx3fvdhpLvwXZWE2", "type": "function", "function": {"name": "get_weather"}},
                        {"id": "toolu_0121kXsENLvoDZ72LCuAnCCz", "type": "function", "function": {"name": "get_time"}}
                    ]
                }),
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn test_anthropic_tools_history_legacy() {
    let name = cassette(MESSAGES, "test_anthropic_tools_history_legacy");
    let assistant_text = "I'll help you get the weather and current time in San Francisco.";
    let tool_result = "Sunny and 65 degrees Fahrenheit";
    let e = Expect {
        finish_reason: "tool_call",
        input_tokens: Some(568),
        output_tokens: Some(58),
        cache_read: Some(0),
        cache_creation: Some(0),
        // A tool_use block in the history becomes a tool_call part with parsed arguments; a
        // tool_result block becomes a tool_call_response part.
        input_messages: json!([
            {"role": "user", "parts": [{"type": "text", "content": SF_PROMPT}]},
            {"role": "assistant", "parts": [
                {"type": "text", "content": assistant_text},
                {
                    "type": "tool_call",
                    "id": "call_1",
                    "name": "get_weather",
                    "arguments": {"location": "San Francisco, CA"}
                }
            ]},
            {"role": "user", "parts": [
                {"type": "tool_call_response", "id": "call_1", "response": tool_result}
            ]}
        ]),
        tools: Some(weather_time_tools()),
        output_messages: assistant(
            json!([{
                "type": "tool_call",
                "id": "toolu_01K5KhMEdg2McN7dAkB4Y4hi",
                "name": "get_time",
                "arguments": {"timezone": "America/Los_Angeles"}
            }]),
            "tool_call",
        ),
        ..Expect::chat("claude-3-5-haiku-20241022", "msg_01QJDheQSo4hSrxgtLpEJFkA")
    };
    conformance(&name, &e).await;
    let tools = weather_time_tools();
    legacy(
        &name,
        &e,
        &[
            ("gen_ai.prompt.0.role", json!("user")),
            ("gen_ai.prompt.0.content", json!(SF_PROMPT)),
            ("gen_ai.prompt.1.role", json!("assistant")),
            ("gen_ai.prompt.1.content", json!(assistant_text)),
            ("gen_ai.prompt.1.tool_calls.0.id", json!("call_1")),
            ("gen_ai.prompt.1.tool_calls.0.name", json!("get_weather")),
            (
                "gen_ai.prompt.1.tool_calls.0.arguments",
                json!({"location": "San Francisco, CA"}),
            ),
            ("gen_ai.prompt.2.role", json!("user")),
            ("gen_ai.prompt.2.content", json!(tool_result)),
            ("gen_ai.prompt.2.tool_call_id", json!("call_1")),
            ("gen_ai.completion.0.role", json!("assistant")),
            ("gen_ai.completion.0.finish_reason", json!("tool_call")),
            (
                "gen_ai.completion.0.tool_calls.0.id",
                json!("toolu_01K5KhMEdg2McN7dAkB4Y4hi"),
            ),
            ("gen_ai.completion.0.tool_calls.0.name", json!("get_time")),
            (
                "gen_ai.completion.0.tool_calls.0.arguments",
                json!({"timezone": "America/Los_Angeles"}),
            ),
            ("llm.request.functions.0.name", json!("get_weather")),
            (
                "llm.request.functions.0.description",
                tools[0]["description"].clone(),
            ),
            (
                "llm.request.functions.0.input_schema",
                tools[0]["input_schema"].clone(),
            ),
            ("llm.request.functions.1.name", json!("get_time")),
            (
                "llm.request.functions.1.description",
                tools[1]["description"].clone(),
            ),
            (
                "llm.request.functions.1.input_schema",
                tools[1]["input_schema"].clone(),
            ),
        ],
    )
    .await;
    events(
        &name,
        &e,
        &[
            ("gen_ai.user.message", json!({"content": SF_PROMPT})),
            (
                "gen_ai.assistant.message",
                json!({
                    "content": assistant_text,
                    "tool_calls": [{
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": {"location": "San Francisco, CA"}}
                    }]
                }),
            ),
            ("gen_ai.user.message", json!({"content": tool_result})),
            (
                "gen_ai.choice",
                json!({
                    "index": 0,
                    "finish_reason": "tool_call",
                    // No text in the message: the events flavour writes an empty content.
                    "message": {"content": ""},
                    "tool_calls": [{
                        "id": "toolu_01K5KhMEdg2McN7dAkB4Y4hi",
                        "type": "function",
                        "function": {"name": "get_time", "arguments": {"timezone": "America/Los_Angeles"}}
                    }]
                }),
            ),
        ],
        &[
            ("gen_ai.user.message", json!({})),
            (
                "gen_ai.assistant.message",
                json!({"tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather"}}]}),
            ),
            ("gen_ai.user.message", json!({})),
            (
                "gen_ai.choice",
                json!({
                    "index": 0,
                    "finish_reason": "tool_call",
                    "message": {},
                    "tool_calls": [{"id": "toolu_01K5KhMEdg2McN7dAkB4Y4hi", "type": "function", "function": {"name": "get_time"}}]
                }),
            ),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// test_completion
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn test_anthropic_completion_legacy() {
    let name = "anthropic/test_completion/test_anthropic_completion_legacy.yaml";
    let prompt = "\n\nHuman:\nHello world\n\n\nAssistant:";
    // The legacy Text Completions API reports no usage: no token attributes, no token points.
    let e = Expect {
        span_name: "anthropic.completion",
        operation: "text_completion",
        max_tokens: 2048, // max_tokens_to_sample
        top_p: Some(0.1),
        input_messages: user_text(prompt),
        output_messages: assistant(json!([{"type": "text", "content": " Hello!"}]), "stop"),
        ..Expect::chat("claude-instant-1.2", "compl_01EjfrPvPEsRDRUKD6VoBxtK")
    };
    conformance(name, &e).await;
    legacy(
        name,
        &e,
        &[
            ("gen_ai.prompt.0.role", json!("user")),
            ("gen_ai.prompt.0.content", json!(prompt)),
            ("gen_ai.completion.0.role", json!("assistant")),
            ("gen_ai.completion.0.content", json!(" Hello!")),
            ("gen_ai.completion.0.finish_reason", json!("stop")),
        ],
    )
    .await;
    events(
        name,
        &e,
        &[
            ("gen_ai.user.message", json!({"content": prompt})),
            (
                "gen_ai.choice",
                json!({"index": 0, "finish_reason": "stop", "message": {"content": " Hello!"}}),
            ),
        ],
        &[
            ("gen_ai.user.message", json!({})),
            (
                "gen_ai.choice",
                json!({"index": 0, "finish_reason": "stop", "message": {}}),
            ),
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// test_prompt_caching: a cache-creation call, then a cache-read call
// ---------------------------------------------------------------------------------------

fn caching(first_line: &str, id: &'static str, output: &str, stream: bool) -> Expect {
    Expect {
        stream,
        system: Some(json!([{"type": "text", "content": SUMMARIZER_SYSTEM}])),
        input_messages: user_text(&format!("{first_line}\n{ARTICLES}")),
        output_messages: assistant(json!([{"type": "text", "content": output}]), "stop"),
        ..Expect::chat("claude-3-5-sonnet-20240620", id)
    }
}

/// Replays both interactions in order, checks both spans and the combined metrics, then
/// again with content off.
async fn check_caching(name: &str, calls: [Expect; 2]) {
    let r = run_sequence(name, Opts::default()).await;
    r.assert_pass_through();
    assert_no_faults(&r.faults);
    let spans = r.capture.spans_named("anthropic.chat");
    assert_eq!(spans.len(), 2);
    for (span, e) in spans.iter().zip(&calls) {
        check_current(span, e, r.port());
    }
    check_metrics(&r.capture, &[&calls[0], &calls[1]], r.port());

    let off = run_sequence(name, Opts::content_off()).await;
    off.assert_pass_through();
    assert_no_faults(&off.faults);
    let spans = off.capture.spans_named("anthropic.chat");
    assert_eq!(spans.len(), 2);
    for (span, e) in spans.iter().zip(&calls) {
        check_current_content_off(span, e, off.port());
    }
    check_metrics(&off.capture, &[&calls[0], &calls[1]], off.port());
    off.assert_no_content_exported();
}

#[tokio::test]
async fn test_anthropic_prompt_caching_legacy() {
    let name = "anthropic/test_prompt_caching/test_anthropic_prompt_caching_legacy.yaml";
    let first_line =
        "test_anthropic_prompt_caching <- IGNORE THIS. ARTICLES START ON THE NEXT LINE";
    let write = Expect {
        // usage: input 4, cache creation 1163, cache read 0, output 187.
        input_tokens: Some(4 + 1163),
        output_tokens: Some(187),
        cache_read: Some(0),
        cache_creation: Some(1163),
        ..caching(
            first_line,
            "msg_01EF3r8zYyZntM4Sg9a5kc6k",
            CACHING_TEXT_0,
            false,
        )
    };
    let read = Expect {
        // usage: input 4, cache creation 0, cache read 1163, output 202.
        input_tokens: Some(4 + 1163),
        output_tokens: Some(202),
        cache_read: Some(1163),
        cache_creation: Some(0),
        ..caching(
            first_line,
            "msg_01YGB3PuEANUSkLuzemhtNVF",
            CACHING_TEXT_1,
            false,
        )
    };
    // The legacy flavour's cache keys, on the cache-creation call (the first interaction).
    legacy(
        name,
        &write,
        &[
            ("gen_ai.prompt.0.role", json!("system")),
            ("gen_ai.prompt.0.content", json!(SUMMARIZER_SYSTEM)),
            ("gen_ai.prompt.1.role", json!("user")),
            (
                "gen_ai.prompt.1.content",
                json!(format!("{first_line}\n{ARTICLES}")),
            ),
            ("gen_ai.completion.0.role", json!("assistant")),
            ("gen_ai.completion.0.content", json!(CACHING_TEXT_0)),
            ("gen_ai.completion.0.finish_reason", json!("stop")),
        ],
    )
    .await;
    check_caching(name, [write, read]).await;
}

#[tokio::test]
async fn test_anthropic_prompt_caching_stream_legacy() {
    let name = "anthropic/test_prompt_caching/test_anthropic_prompt_caching_stream_legacy.yaml";
    let first_line =
        "test_anthropic_prompt_caching_stream <- IGNORE THIS. ARTICLES START ON THE NEXT LINE";
    let write = Expect {
        // message_start usage: input 4, cache creation 1165, cache read 0, output 1;
        // message_delta: output 201.
        input_tokens: Some(4 + 1165),
        output_tokens: Some(201),
        cache_read: Some(0),
        cache_creation: Some(1165),
        ..caching(
            first_line,
            "msg_017FfRkh9PCC8YbjnhDMrPuK",
            CACHING_STREAM_TEXT_0,
            true,
        )
    };
    let read = Expect {
        // message_start usage: input 4, cache creation 0, cache read 1165, output 1;
        // message_delta: output 221.
        input_tokens: Some(4 + 1165),
        output_tokens: Some(221),
        cache_read: Some(1165),
        cache_creation: Some(0),
        ..caching(
            first_line,
            "msg_01XQRA3bs4SB4yTBMwD3dbUi",
            CACHING_STREAM_TEXT_1,
            true,
        )
    };
    check_caching(name, [write, read]).await;
}

// ---------------------------------------------------------------------------------------
// test_thinking
// ---------------------------------------------------------------------------------------

const THINKING_PROMPT: &str = "How many times does the letter 'r' appear in the word strawberry?";

fn thinking(id: &'static str, reasoning: &str, text: &str) -> Expect {
    Expect {
        max_tokens: 2048,
        input_messages: user_text(THINKING_PROMPT),
        output_messages: assistant(
            json!([
                {"type": "reasoning", "content": reasoning},
                {"type": "text", "content": text}
            ]),
            "stop",
        ),
        ..Expect::chat("claude-3-7-sonnet-20250219", id)
    }
}

/// Legacy flavour of a thinking response: the thinking block is a completion of its own
/// with role `thinking` (as older OpenLLMetry wrote it), before the assistant's text.
fn thinking_legacy(reasoning: &str, text: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("gen_ai.prompt.0.role", json!("user")),
        ("gen_ai.prompt.0.content", json!(THINKING_PROMPT)),
        ("gen_ai.completion.0.role", json!("thinking")),
        ("gen_ai.completion.0.content", json!(reasoning)),
        ("gen_ai.completion.0.finish_reason", json!("stop")),
        ("gen_ai.completion.1.role", json!("assistant")),
        ("gen_ai.completion.1.content", json!(text)),
        ("gen_ai.completion.1.finish_reason", json!("stop")),
    ]
}

/// Events flavour of a thinking response: one `gen_ai.choice` for the thinking, one for the
/// text (as older OpenLLMetry emitted them), the thinking one marked with role `thinking`.
fn thinking_events(reasoning: &str, text: &str) -> [Vec<(&'static str, Value)>; 2] {
    [
        vec![
            ("gen_ai.user.message", json!({"content": THINKING_PROMPT})),
            (
                "gen_ai.choice",
                json!({"index": 0, "finish_reason": "stop", "message": {"role": "thinking", "content": reasoning}}),
            ),
            (
                "gen_ai.choice",
                json!({"index": 1, "finish_reason": "stop", "message": {"content": text}}),
            ),
        ],
        vec![
            ("gen_ai.user.message", json!({})),
            (
                "gen_ai.choice",
                json!({"index": 0, "finish_reason": "stop", "message": {"role": "thinking"}}),
            ),
            (
                "gen_ai.choice",
                json!({"index": 1, "finish_reason": "stop", "message": {}}),
            ),
        ],
    ]
}

#[tokio::test]
async fn test_anthropic_thinking_legacy() {
    let name = "anthropic/test_thinking/test_anthropic_thinking_legacy.yaml";
    let e = Expect {
        input_tokens: Some(52),
        output_tokens: Some(215),
        cache_read: Some(0),
        cache_creation: Some(0),
        ..thinking(
            "msg_01Ayp2LhrapBJLPf22sskg4c",
            THINKING_REASONING,
            THINKING_TEXT,
        )
    };
    conformance(name, &e).await;
    legacy(
        name,
        &e,
        &thinking_legacy(THINKING_REASONING, THINKING_TEXT),
    )
    .await;
    let [with, without] = thinking_events(THINKING_REASONING, THINKING_TEXT);
    events(name, &e, &with, &without).await;
}

#[tokio::test]
async fn test_anthropic_thinking_streaming_legacy() {
    let name = "anthropic/test_thinking/test_anthropic_thinking_streaming_legacy.yaml";
    // thinking_delta pieces joined into the reasoning part, text_delta pieces into the text
    // part; the signature_delta is not content and is not recorded.
    let e = Expect {
        stream: true,
        input_tokens: Some(52),
        output_tokens: Some(216),
        cache_read: Some(0),
        cache_creation: Some(0),
        ..thinking(
            "msg_01SZKz6DEhWnfZcxPQDQz49Y",
            THINKING_STREAMING_REASONING,
            THINKING_STREAMING_TEXT,
        )
    };
    let r = conformance(name, &e).await;
    assert_eq!(text_deltas(&r.body), THINKING_STREAMING_TEXT);
    legacy(
        name,
        &e,
        &thinking_legacy(THINKING_STREAMING_REASONING, THINKING_STREAMING_TEXT),
    )
    .await;
    let [with, without] = thinking_events(THINKING_STREAMING_REASONING, THINKING_STREAMING_TEXT);
    events(name, &e, &with, &without).await;
}

// ---------------------------------------------------------------------------------------
// A stream the caller drops early
// ---------------------------------------------------------------------------------------

/// Complete `content_block_delta` events in `body`.
fn delta_events(body: &[u8]) -> usize {
    String::from_utf8_lossy(body)
        .split_inclusive("\n\n")
        .filter(|e| e.ends_with("\n\n") && e.starts_with("event: content_block_delta"))
        .count()
}

#[tokio::test]
async fn anthropic_stream_dropped_early_records_partial_data_once() {
    let c = Cassette::load_named(&cassette(
        MESSAGES,
        "test_anthropic_message_streaming_legacy",
    ))
    .expect("cassette loads");
    let interaction = c.interactions[0].clone();
    // A small delay per event, so the caller really stops in the middle of the stream.
    let server = ReplayServer::builder(vec![interaction.clone()])
        .with_event_delay(std::time::Duration::from_millis(20))
        .start()
        .await;
    let capture = Capture::new();
    let faults = Arc::new(Mutex::new(Vec::new()));
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(OpenLlmMiddleware::with_instrumentation(instrumentation(
            &capture,
            Opts::default(),
            faults.clone(),
        )))
        .build();
    let got = exchange(&client, &server, &interaction, &|body| {
        delta_events(body) >= 6
    })
    .await;
    assert_eq!(got.error, None);
    assert_eq!(got.status, 200);
    // What the caller got is a prefix of the recorded bytes.
    assert!(interaction.response.body.starts_with(&got.body));
    assert!(got.body.len() < interaction.response.body.len());
    capture.flush();

    // Exactly one span, ended once (at the drop), with what had passed to the caller.
    let check = |capture: &Capture| {
        let spans = capture.spans();
        assert_eq!(
            spans.len(),
            1,
            "spans: {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
        spans.into_iter().next().unwrap()
    };
    let span = check(&capture);
    assert_eq!(span.name, "anthropic.chat");
    assert_eq!(
        span.attr_bool("openllmetry.response.incomplete"),
        Some(true)
    );
    assert!(
        !matches!(span.status, Status::Error { .. }),
        "{:?}",
        span.status
    );
    assert_eq!(
        span.attr_str("gen_ai.response.id"),
        Some("msg_01MXWxhWoPSgrYhjTuMDM6F1")
    );
    assert_eq!(
        span.attr_str("gen_ai.response.model"),
        Some("claude-3-haiku-20240307")
    );
    // message_start's counts; the final message_delta never came.
    assert_eq!(span.attr_i64("gen_ai.usage.input_tokens"), Some(17));
    assert_eq!(span.attr_i64("gen_ai.usage.output_tokens"), Some(3));
    assert_eq!(span.attr_str_array("gen_ai.response.finish_reasons"), None);
    assert!(
        span.attr_f64("gen_ai.response.time_to_first_chunk")
            .is_some()
    );
    let partial = text_deltas(&got.body);
    assert!(!partial.is_empty());
    assert!(STREAMING_TEXT.starts_with(&partial) && partial.len() < STREAMING_TEXT.len());
    assert_eq!(
        common::json_attr(&span, "gen_ai.output.messages"),
        json!([{"role": "assistant", "parts": [{"type": "text", "content": partial}], "finish_reason": ""}])
    );
    let duration = capture.metric_points("gen_ai.client.operation.duration");
    assert_eq!(duration.len(), 1);
    assert_eq!(duration[0].count, Some(1));
    // Dropping a stream is the caller's choice, not a provider fault.
    assert_no_faults(&faults.lock().unwrap());

    // Nothing ends the span a second time later (the server is still streaming).
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    capture.flush();
    let again = check(&capture);
    assert_eq!(again.span_context.span_id(), span.span_context.span_id());
    assert_eq!(
        capture.metric_points("gen_ai.client.operation.duration")[0].count,
        Some(1)
    );
}

// ---------------------------------------------------------------------------------------
// Fault isolation
// ---------------------------------------------------------------------------------------

fn anthropic_fault(operation: Operation, kind: FaultKind) -> Fault {
    Fault {
        provider: ApiFormat::Anthropic,
        operation,
        kind,
    }
}

#[tokio::test]
async fn anthropic_invalid_json_body_passes_through_and_is_a_fault() {
    let name = cassette(MESSAGES, "test_anthropic_message_create_legacy");
    let r = run_with_fault(&name, Opts::default(), replay::Fault::InvalidJsonBody).await;
    r.assert_same_as_without_middleware();
    assert_eq!(r.got.status, 200);
    assert_eq!(r.got.error, None);
    assert_eq!(r.got.body, INVALID_JSON.as_bytes());
    let span = r.capture.span("anthropic.chat");
    // What the request told is recorded; nothing is invented for the response.
    let e = message_create();
    check_request(&span, &e, r.server.addr().port());
    assert_eq!(
        common::json_attr(&span, "gen_ai.input.messages"),
        e.input_messages
    );
    assert_eq!(span.attr_str("gen_ai.response.id"), None);
    assert_eq!(span.attr_str("gen_ai.output.messages"), None);
    assert_eq!(span.attr_i64("gen_ai.usage.input_tokens"), None);
    assert_eq!(
        r.faults,
        vec![anthropic_fault(Operation::Chat, FaultKind::InvalidJson)]
    );
    let duration = r.capture.metric_points("gen_ai.client.operation.duration");
    assert_eq!(duration.len(), 1);
    assert_eq!(duration[0].attr("error.type"), None);
}

#[tokio::test]
async fn anthropic_invalid_json_event_is_skipped_and_is_a_fault() {
    let name = cassette(MESSAGES, "test_anthropic_message_streaming_legacy");
    // Event 6 is the text delta "themed joke for".
    let r = run_with_fault(&name, Opts::default(), replay::Fault::InvalidJsonEvent(6)).await;
    r.assert_same_as_without_middleware();
    assert_eq!(r.got.error, None);
    let span = r.capture.span("anthropic.chat");
    let e = Expect {
        output_messages: assistant(
            json!([{"type": "text", "content": STREAMING_TEXT.replacen("themed joke for", "", 1)}]),
            "stop",
        ),
        ..message_streaming()
    };
    check_current(&span, &e, r.server.addr().port());
    assert_eq!(
        r.faults,
        vec![anthropic_fault(Operation::Chat, FaultKind::InvalidJson)]
    );
}

#[tokio::test]
async fn anthropic_invalid_message_start_keeps_the_rest_of_the_stream() {
    let name = cassette(MESSAGES, "test_anthropic_tools_streaming_legacy");
    // Event 0 is message_start: id, model and input usage are lost, the blocks are not.
    let r = run_with_fault(&name, Opts::default(), replay::Fault::InvalidJsonEvent(0)).await;
    r.assert_same_as_without_middleware();
    let span = r.capture.span("anthropic.chat");
    assert_eq!(span.attr_str("gen_ai.response.id"), None);
    assert_eq!(span.attr_str("gen_ai.response.model"), None);
    assert_eq!(span.attr_i64("gen_ai.usage.input_tokens"), None);
    assert_eq!(span.attr_i64("gen_ai.usage.output_tokens"), Some(153));
    assert_eq!(
        span.attr_str_array("gen_ai.response.finish_reasons"),
        Some(vec!["tool_call".to_string()])
    );
    let output = common::json_attr(&span, "gen_ai.output.messages");
    assert_eq!(output[0]["parts"][0]["content"], TOOLS_STREAMING_TEXT);
    assert_eq!(
        output[0]["parts"][1]["arguments"],
        json!({"location": "San Francisco, CA", "unit": "celsius"})
    );
    assert_eq!(
        output[0]["parts"][2]["arguments"],
        json!({"timezone": "America/Los_Angeles"})
    );
    assert_eq!(
        r.faults,
        vec![anthropic_fault(Operation::Chat, FaultKind::InvalidJson)]
    );
}

#[tokio::test]
async fn anthropic_stream_closed_mid_way_is_an_error_with_partial_data() {
    let name = cassette(MESSAGES, "test_anthropic_message_streaming_legacy");
    // Events 0-9 are sent: message_start, content_block_start, ping, then 7 text deltas.
    let r = run_with_fault(&name, Opts::default(), replay::Fault::CloseAfterEvents(10)).await;
    r.assert_same_as_without_middleware();
    assert!(
        r.got.error.is_some(),
        "the caller sees the connection close"
    );
    let span = r.capture.span("anthropic.chat");
    assert!(
        matches!(span.status, Status::Error { .. }),
        "status {:?}",
        span.status
    );
    let error_type = span.attr_str("error.type").expect("error.type").to_string();
    let partial = "Here's an OpenTelemetry-themed joke for you:\n\nWhy did the developer feel";
    assert_eq!(text_deltas(&r.got.body), partial);
    assert_eq!(
        common::json_attr(&span, "gen_ai.output.messages"),
        json!([{"role": "assistant", "parts": [{"type": "text", "content": partial}], "finish_reason": ""}])
    );
    assert_eq!(
        span.attr_str("gen_ai.response.id"),
        Some("msg_01MXWxhWoPSgrYhjTuMDM6F1")
    );
    assert_eq!(
        r.faults,
        vec![anthropic_fault(
            Operation::Chat,
            FaultKind::StreamIncomplete
        )]
    );
    let duration = r.capture.metric_points("gen_ai.client.operation.duration");
    assert_eq!(duration.len(), 1);
    assert_eq!(
        duration[0].attr_str("error.type"),
        Some(error_type.as_str())
    );
}

#[tokio::test]
async fn anthropic_event_stream_with_a_json_body_passes_through_and_is_a_fault() {
    // `Content-Type: text/event-stream`, but the body is a (truncated) JSON object.
    let name = cassette(MESSAGES, "test_anthropic_message_streaming_legacy");
    let r = run_with_fault(&name, Opts::default(), replay::Fault::InvalidJsonBody).await;
    r.assert_same_as_without_middleware();
    assert_eq!(r.got.error, None);
    assert_eq!(r.got.body, INVALID_JSON.as_bytes());
    let span = r.capture.span("anthropic.chat");
    assert!(!matches!(span.status, Status::Error { .. }));
    assert_eq!(
        span.attr_bool("openllmetry.response.incomplete"),
        Some(true)
    );
    assert_eq!(span.attr_str("gen_ai.response.id"), None);
    assert!(
        r.faults.contains(&anthropic_fault(
            Operation::Chat,
            FaultKind::StreamIncomplete
        )),
        "faults: {:?}",
        r.faults
    );
}

#[tokio::test]
async fn anthropic_completion_closed_before_the_body_is_an_error() {
    let name = "anthropic/test_completion/test_anthropic_completion_legacy.yaml";
    let r = run_with_fault(name, Opts::default(), replay::Fault::CloseAfterEvents(0)).await;
    r.assert_same_as_without_middleware();
    assert!(r.got.error.is_some());
    let span = r.capture.span("anthropic.completion");
    assert!(matches!(span.status, Status::Error { .. }));
    assert!(span.attr_str("error.type").is_some());
    assert_eq!(
        span.attr_str("gen_ai.request.model"),
        Some("claude-instant-1.2")
    );
}

// ---------------------------------------------------------------------------------------
// Texts recorded in the cassettes (decoded from the YAML, gunzipped where needed; streamed
// texts are the recorded deltas joined)
// ---------------------------------------------------------------------------------------

const MESSAGE_CREATE_TEXT: &str = "Sure, here's a joke about OpenTelemetry:\n\nWhy did the developer adopt OpenTelemetry?\nBecause they wanted to trace their steps and meter their progress!\n\nExplanation:\nOpenTelemetry is an open-source observability framework that provides a set of APIs, libraries, and tools to instrument, generate, collect, and export telemetry data (traces, metrics, and logs) for distributed systems. The joke plays on the words \"trace\" and \"meter,\" which are key concepts in OpenTelemetry.\n\n- \"Trace their steps\" refers to distributed tracing, which involves recording the path of a request as it travels through a system of microservices.\n- \"Meter their progress\" refers to metrics, which are quantitative measurements of a system's performance and behavior.\n\nThe joke suggests that the developer adopted OpenTelemetry to gain better visibility and understanding of their application's behavior and performance, just like how one might trace their steps and meter their progress in real life.";

const STREAM_MANAGER_TEXT: &str = "Here's a joke about OpenTelemetry:\n\nWhy did the developer love OpenTelemetry?\n\nBecause it helped them trace their problems instead of just tracing their coffee mug! \n\n(Ba dum tss! 🥁 It's a play on the word \"trace\" - which in OpenTelemetry means tracking system performance and interactions, but also can mean physically following a path.)\n\nWould you like me to explain the joke or tell another tech humor one?";

const STREAMING_TEXT: &str = "Here's an OpenTelemetry-themed joke for you:\n\nWhy did the developer feel so lost when using OpenTelemetry?\nThey were in a Span of Confusion!\n\nThe idea behind this joke is that OpenTelemetry uses the concept of \"spans\" to represent individual operations or requests within a distributed system. When a developer is first getting started with OpenTelemetry, they may feel a bit disoriented or lost trying to understand all the different spans and how they fit together - hence the \"Span of Confusion\" pun.\n\nHopefully this gives you a chuckle and provides a lighthearted introduction to some of the key concepts in OpenTelemetry. Let me know if you'd like to hear any other tech-themed jokes!";

const TOOLS_TEXT: &str = "Certainly! I'd be happy to help you with both the current weather in New York and the current time there. Let's use the available tools to get this information for you.";

const TOOLS_STREAMING_TEXT: &str = "Certainly! I can help you with that information. To get the weather and current time in San Francisco, I'll need to use two separate functions. Let me fetch that data for you.";

const ASYNC_MESSAGE_CREATE_TEXT: &str = "Sure, here's a joke about OpenTelemetry:\n\nWhy did the developer decide to use OpenTelemetry?\n\nBecause they wanted to trace their application's every move!\n\nExplanation:\nOpenTelemetry is an open-source observability framework that provides a standard way to generate, collect, and export telemetry data (metrics, logs, and traces) for distributed systems. It allows developers to instrument their applications and gain insights into the behavior and performance of their systems.\n\nThe joke plays on the word \"trace,\" which has a double meaning here. In the context of OpenTelemetry, \"trace\" refers to the ability to track and analyze the flow of requests through a distributed system. However, the joke humorously suggests that the developer wants to trace their application's \"every move,\" as if the application is a person being closely monitored or followed.";

const ASYNC_STREAM_MANAGER_TEXT: &str = "Here's a joke about OpenTelemetry:\n\nWhy did the developer love OpenTelemetry?\n\nBecause it helped them trace their problems from root to branch! 🌳🔍\n\n(A play on the tracing and observability capabilities of OpenTelemetry, showing how it helps developers track and understand issues in their distributed systems.)";

const ASYNC_STREAMING_TEXT: &str = "Here's an OpenTelemetry-themed joke for you:\n\nWhy was the OpenTelemetry tracer so tired? Because it had been tracing all day!\n\nIn the world of distributed tracing and observability, OpenTelemetry is the tracing library that just keeps going and going, collecting data from all your microservices. But even the most diligent tracer needs a break sometimes!";

const ASYNCIO_RUN_TEXT: &str = "I apologize, but I don't have access to real-time weather information. As an AI language model, I don't have the ability to check current weather conditions or forecasts. To get accurate and up-to-date weather information for San Francisco, you would need to check a reliable weather website, app, or local news source. These sources can provide you with current conditions, forecasts, and other weather-related details for specific locations.";

const CACHING_TEXT_0: &str = "Here are concise summaries of the three articles:\n\n1. OpenLLMetry: New open-source library extends OpenTelemetry with LLM functionality, enabling developers to monitor AI model performance in applications. Key features include LLM-specific metrics/traces and integration with existing setups.\n\n2. Major LLM providers introduce prompt caching, dramatically improving speed and reducing costs for API calls. Benefits include millisecond response times, lower computational resources, and improved scalability. Particularly useful for applications with repetitive prompts like chatbots and content moderation.\n\n3. Unit testing is crucial in software development: It catches bugs early, saves time/money, improves code quality, facilitates refactoring, serves as documentation, and enhances collaboration. The post emphasizes that unit testing is a professional responsibility that pays off in the long run.";

const CACHING_TEXT_1: &str = "Here are concise summaries of the three articles:\n\n1. OpenLLMetry: New open-source library extending OpenTelemetry with LLM functionality. Key features include LLM-specific metrics/traces, integration with existing setups, and support for popular LLM frameworks. Aims to improve monitoring of AI-powered systems.\n\n2. Major LLM providers introduce prompt caching to boost speed and reduce costs. Benefits include faster response times, lower computational costs, and improved scalability. Particularly useful for applications with repetitive prompts like chatbots and content moderation. Expected to drive wider LLM adoption and new application paradigms.\n\n3. Argument for the importance of unit testing in software development. Benefits include early bug detection, time/cost savings, improved code quality, easier refactoring, documentation, and enhanced collaboration. Author argues unit testing is a professional responsibility that pays off in the long run.";

const CACHING_STREAM_TEXT_0: &str = "Here are concise summaries of the three articles:\n\n1. OpenLLMetry: New open-source library extends OpenTelemetry with LLM functionality, enabling deeper insights into AI model performance in applications. Key features include LLM-specific metrics/traces and integration with existing setups.\n\n2. Major LLM providers introduce prompt caching, dramatically improving speed and reducing costs for API calls. Benefits include millisecond response times, lower computational resources, and improved scalability. Particularly useful for applications with repetitive prompts like chatbots and content moderation.\n\n3. Unit testing is crucial in software development. Key benefits:\n- Catches bugs early\n- Saves time and money \n- Improves code quality\n- Facilitates refactoring\n- Serves as documentation\n- Enhances collaboration\nThe post emphasizes that unit testing is a professional responsibility with long-term payoffs.";

const CACHING_STREAM_TEXT_1: &str = "Here are concise summaries of the three articles:\n\n1. OpenLLMetry: New open-source library extending OpenTelemetry with LLM functionality. Key features include LLM-specific metrics/traces, integration with existing setups, and support for popular LLM frameworks. Aims to provide deeper insights into AI model performance in applications.\n\n2. Major LLM providers introduce prompt caching to improve speed and reduce costs. Benefits include faster response times, lower computational costs, and improved scalability. Particularly useful for applications with repetitive prompts like chatbots and content moderation. Expected to impact AI industry by enabling wider adoption and new application types.\n\n3. Importance of unit testing in software development:\n- Catches bugs early\n- Saves time and money\n- Improves code quality\n- Facilitates refactoring\n- Serves as documentation\n- Enhances collaboration\nThe post emphasizes that unit testing is crucial for professional software development and pays off in the long run.";

const THINKING_REASONING: &str = "Let me count the number of times the letter 'r' appears in the word \"strawberry\".\n\nThe word \"strawberry\" is spelled:\ns-t-r-a-w-b-e-r-r-y\n\nGoing through each letter:\ns - not an 'r'\nt - not an 'r'\nr - this is an 'r', so count = 1\na - not an 'r'\nw - not an 'r'\nb - not an 'r'\ne - not an 'r'\nr - this is an 'r', so count = 2\nr - this is an 'r', so count = 3\ny - not an 'r'\n\nSo the letter 'r' appears 3 times in the word \"strawberry\".";

const THINKING_TEXT: &str = "The letter 'r' appears 3 times in the word \"strawberry\".";

const THINKING_STREAMING_REASONING: &str = "Let me count the occurrences of the letter 'r' in the word \"strawberry\".\n\nThe word \"strawberry\" is spelled: s-t-r-a-w-b-e-r-r-y\n\nI'll go through each letter:\ns - not an 'r'\nt - not an 'r'\nr - this is an 'r', so count = 1\na - not an 'r'\nw - not an 'r'\nb - not an 'r'\ne - not an 'r'\nr - this is an 'r', so count = 2\nr - this is an 'r', so count = 3\ny - not an 'r'\n\nSo the letter 'r' appears 3 times in the word \"strawberry\".";

const THINKING_STREAMING_TEXT: &str = "The letter 'r' appears 3 times in the word \"strawberry\".";

/// The user message of the prompt-caching cassettes after its first line.
const ARTICLES: &str = "Open-Source Library OpenLLMetry Brings LLM Functionality to OpenTelemetry\nTraceloop, a YCombinator-backed company, has announced the release of OpenLLMetry, a new open-source\nlibrary designed to extend OpenTelemetry with Large Language Model (LLM) functionality. This innovative\ntool aims to bridge the gap between traditional application monitoring and the rapidly evolving field\nof AI-powered systems. OpenLLMetry builds upon the widely-adopted OpenTelemetry framework, which provides\na standardized approach to collecting and exporting telemetry data from cloud-native applications. By\nintegrating LLM-specific features, OpenLLMetry enables developers to gain deeper insights into\nthe performance and behavior of AI models within their applications.\n\nKey features of OpenLLMetry include:\n\nLLM-specific metrics and traces\nSeamless integration with existing OpenTelemetry setups\nSupport for popular LLM frameworks and platforms\n\nThe open-source nature of OpenLLMetry is expected to foster community contributions and rapid adoption\namong developers working with LLMs. As AI continues to transform the software landscape, tools\nlike OpenLLMetry are poised to play a vital role in ensuring the reliability and performance of\nnext-generation applications.\n\n========================================================================\n\nMajor LLM Providers Introduce Prompt Caching, Boosting Speed and Reducing Costs\n\nIn a significant development for the artificial intelligence industry, leading Large Language Model (LLM) providers,\nincluding Anthropic, have announced the implementation of prompt caching. This new feature promises to dramatically\nimprove the speed and cost-effectiveness of LLM API calls, particularly for applications with repetitive prompt patterns.\n\nUnderstanding Prompt Caching\nPrompt caching is a technique that allows LLM providers to store and quickly retrieve responses for frequently used prompts.\nInstead of processing the same or similar prompts repeatedly, the system can serve pre-computed responses,\nsignificantly reducing computation time and resources.\n\nBenefits of Prompt Caching\n1. Improved Response Times\n\nWith prompt caching, response times for cached prompts can be reduced from seconds to milliseconds. This dramatic speed\nimprovement enables near-instantaneous responses in many scenarios, enhancing user experience in AI-powered applications.\n\n2. Cost Reduction\nBy eliminating the need to reprocess identical or highly similar prompts, prompt caching can substantially reduce the\ncomputational resources required. This efficiency translates directly into cost savings for developers and businesses\nutilizing LLM APIs.\n\n3. Scalability\nThe reduced computational load allows LLM providers to handle a higher volume of requests with existing infrastructure,\nimproving the scalability of their services.\n\nUse Cases and Impact\nPrompt caching is particularly beneficial for applications with repetitive prompt patterns. Some key use cases include:\n\nCustomer service chatbots handling common queries\nContent moderation systems processing similar types of content\nLanguage translation services for frequently translated phrases or sentences\nAutomated coding assistants dealing with standard programming tasks\n\nImplementation by Major Providers\nWhile the specific implementation details vary among providers, the general approach involves:\n\nIdentifying frequently used prompts\nStoring pre-computed responses\nImplementing efficient lookup mechanisms\nBalancing cache freshness with performance gains\n\nAnthropic, known for its Claude AI model, has been at the forefront of this technology.\n\nFuture Implications\nThe introduction of prompt caching by major LLM providers is likely to have far-reaching effects on the AI industry:\n\nBroader Adoption: Reduced costs and improved performance could lead to wider adoption of LLM technologies across various sectors.\nNew Application Paradigms: Developers may create new types of applications that leverage the near-instantaneous response times of cached prompts.\nEvolution of Pricing Models: LLM providers might introduce new pricing structures that reflect the efficiency gains of prompt caching.\n\nAs the technology matures, we can expect to see further refinements and innovative applications of prompt caching, potentially\nreshaping the landscape of AI-powered services and applications.\n\n========================================================================\n\n📊 Why Unit Testing is Non-Negotiable in Software Development 🖥️\nAs a software professional, I can't stress enough how crucial unit testing is to our craft. Here's why it's a must-have practice:\n\n🐛 Catches bugs early: Identify and fix issues before they snowball into major problems.\n💰 Saves time and money: Less debugging time means faster development and lower costs.\n🏗️ Improves code quality: Writing testable code inherently leads to better architecture.\n🔄 Facilitates refactoring: Tests give you confidence to improve your code without breaking functionality.\n📚 Serves as documentation: Well-written tests explain how your code should behave.\n🤝 Enhances collaboration: New team members can understand and contribute to the codebase faster.\n\nRemember: The time invested in unit testing pays off multifold in the long run. It's not just good practice—it's professional responsibility.\nWhat's your take on unit testing? Share your experiences below! 👇";
