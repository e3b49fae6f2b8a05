//! Shared harness of the cassette conformance tests: replay a recorded exchange over real
//! loopback HTTP through the real reqwest middleware (or tower layer), with in-memory
//! OpenTelemetry providers, and hand back what came out.
#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex};

use openllmetry_core::{Fault, Flavour, Instrumentation};
use openllmetry_http::OpenLlmMiddleware;
use openllmetry_testkit::capture::Capture;
use openllmetry_testkit::cassette::Interaction;
use openllmetry_testkit::replay::ReplayServer;
use opentelemetry_sdk::trace::SpanData;
use serde_json::Value;

/// How to run one exchange.
#[derive(Debug, Clone, Copy)]
pub struct Opts {
    pub flavour: Flavour,
    pub content: bool,
    /// Read only this many body chunks, then drop the response (partial consumption).
    pub read_chunks: Option<usize>,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            flavour: Flavour::Current,
            content: true,
            read_chunks: None,
        }
    }
}

impl Opts {
    pub fn content_off() -> Self {
        Opts {
            content: false,
            ..Opts::default()
        }
    }

    pub fn flavour(flavour: Flavour) -> Self {
        Opts {
            flavour,
            ..Opts::default()
        }
    }
}

/// What one replayed exchange produced.
pub struct Run {
    pub capture: Capture,
    pub interaction: Interaction,
    pub server: ReplayServer,
    pub status: u16,
    /// The body bytes the caller received.
    pub body: Vec<u8>,
    /// Number of body chunks the caller received.
    pub chunks: usize,
    pub faults: Vec<Fault>,
}

impl Run {
    /// The only span with this name.
    pub fn span(&self, name: &str) -> SpanData {
        self.capture.span(name)
    }

    /// The first interaction's request body as JSON.
    pub fn request_json(&self) -> Value {
        self.interaction
            .request
            .body_json()
            .expect("request body is JSON")
    }

    /// Asserts the caller got exactly the recorded bytes.
    pub fn assert_pass_through(&self) {
        assert_eq!(self.status, self.interaction.response.status);
        assert!(
            self.body == self.interaction.response.body,
            "the caller's body differs from the recorded one ({} vs {} bytes)",
            self.body.len(),
            self.interaction.response.body.len()
        );
    }
}

pub fn instrumentation(
    capture: &Capture,
    opts: Opts,
    faults: Arc<Mutex<Vec<Fault>>>,
) -> Instrumentation {
    Instrumentation::builder()
        .with_tracer_provider(capture.tracer_provider())
        .with_meter_provider(capture.meter_provider())
        .with_logger_provider(capture.logger_provider())
        .with_flavour(opts.flavour)
        .with_content_capture(opts.content)
        .with_fault_hook(move |f| faults.lock().unwrap().push(*f))
        .build()
}

/// Headers of the recorded request worth replaying (not hop-by-hop, not length, not host).
pub fn replay_headers(interaction: &Interaction) -> reqwest::header::HeaderMap {
    let mut h = reqwest::header::HeaderMap::new();
    for (k, v) in &interaction.request.headers {
        let lk = k.to_ascii_lowercase();
        if [
            "host",
            "content-length",
            "connection",
            "accept-encoding",
            "transfer-encoding",
        ]
        .contains(&lk.as_str())
        {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            reqwest::header::HeaderName::from_bytes(lk.as_bytes()),
            reqwest::header::HeaderValue::from_str(v),
        ) {
            h.append(name, value);
        }
    }
    h
}

/// Replays the first interaction of `cassette` through the reqwest middleware.
pub async fn run(cassette: &str, opts: Opts) -> Run {
    let c = openllmetry_testkit::load_cassette(cassette).expect("cassette loads");
    let interaction = c.interactions[0].clone();
    let server = ReplayServer::start(c.interactions.clone()).await;
    let capture = Capture::new();
    let faults = Arc::new(Mutex::new(Vec::new()));
    let instr = instrumentation(&capture, opts, faults.clone());
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(OpenLlmMiddleware::with_instrumentation(instr))
        .build();
    let url = server.url(interaction.request.path_and_query());
    let method = reqwest::Method::from_bytes(interaction.request.method.as_bytes()).unwrap();
    let mut resp = client
        .request(method, url)
        .headers(replay_headers(&interaction))
        .body(interaction.request.body.clone())
        .send()
        .await
        .expect("request succeeds");
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = resp.chunk().await.expect("body reads") {
        body.extend_from_slice(&chunk);
        chunks += 1;
        if opts.read_chunks.is_some_and(|n| chunks >= n) {
            break;
        }
    }
    drop(resp);
    capture.flush();
    assert_eq!(
        server.unmatched(),
        0,
        "the replay server saw an unmatched request"
    );
    let faults = faults.lock().unwrap().clone();
    Run {
        capture,
        interaction,
        server,
        status,
        body,
        chunks,
        faults,
    }
}

/// Content strings of an exchange, found by a plain walk of the recorded JSON (independent of
/// the parsers): every string under a content-bearing key, plus the concatenation of streamed
/// deltas. Only strings of 6+ characters are kept, so words like `stop` cannot match by chance.
pub fn content_strings(interaction: &Interaction) -> Vec<String> {
    const KEYS: &[&str] = &[
        "content",
        "text",
        "arguments",
        "partial_json",
        "thinking",
        "prompt",
        "input",
        "system",
        "description",
        "completion",
        "refusal",
        "reasoning_content",
        "instructions",
    ];
    fn walk(v: &Value, under: bool, out: &mut Vec<String>) {
        match v {
            Value::String(s) if under => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| walk(x, under, out)),
            Value::Object(o) => {
                for (k, x) in o {
                    // Structure, not content: identifiers, names, types, roles.
                    if [
                        "id",
                        "name",
                        "type",
                        "role",
                        "tool_use_id",
                        "tool_call_id",
                        "index",
                        "media_type",
                        "model",
                    ]
                    .contains(&k.as_str())
                    {
                        continue;
                    }
                    // Tool input schemas are content (tool definitions) too.
                    let content_key =
                        KEYS.contains(&k.as_str()) || k == "parameters" || k == "input_schema";
                    let under = under || content_key;
                    // Keys of the schema (property names) are not searched; values are.
                    walk(x, under, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Some(req) = interaction.request.body_json() {
        walk(&req, false, &mut out);
    }
    let resp = &interaction.response;
    if resp.is_event_stream() {
        let mut deltas = String::new();
        for event in resp.sse_events() {
            let text = String::from_utf8_lossy(&event).into_owned();
            for line in text.lines() {
                if let Some(data) = line.strip_prefix("data:")
                    && let Ok(v) = serde_json::from_str::<Value>(data.trim())
                {
                    let mut parts = Vec::new();
                    walk(&v, false, &mut parts);
                    for p in &parts {
                        deltas.push_str(p);
                    }
                    out.extend(parts);
                }
            }
        }
        out.push(deltas);
    } else if let Some(v) = resp.body_json() {
        walk(&v, false, &mut out);
    }
    out.retain(|s| s.chars().count() >= 6);
    out.sort();
    out.dedup();
    out
}

/// Asserts no content string of the exchange appears in anything exported.
pub fn assert_no_content_exported(run: &Run) {
    let exported = run.capture.all_exported_text();
    let strings = content_strings(&run.interaction);
    assert!(
        !strings.is_empty(),
        "the oracle found no content strings to look for"
    );
    for s in &strings {
        assert!(
            !exported.contains(s.as_str()),
            "content string {s:?} was exported with content capture off"
        );
    }
}

/// Parses a JSON string attribute.
pub fn json_attr(span: &SpanData, key: &str) -> Value {
    let s = openllmetry_testkit::capture::attr_str(span, key)
        .unwrap_or_else(|| panic!("span {} has no attribute {key}", span.name));
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{key} is not JSON: {e}"))
}

// ---------------------------------------------------------------------------------------
// More control over a replay (OpenAI conformance suite; usable by any suite)
// ---------------------------------------------------------------------------------------

/// How [`run_with`] replays an exchange, beyond [`Opts`].
#[derive(Debug, Clone, Copy)]
pub struct Replay {
    pub opts: Opts,
    /// Address the request to the recorded host name (scheme `http`, the replay server's port),
    /// resolved to the loopback server, so host-based provider detection is exercised.
    /// Default: `127.0.0.1`.
    pub recorded_host: bool,
    /// W3C trace-context propagation (default on).
    pub propagate: bool,
    /// Read none of the body: drop the response right after its head.
    pub read_none: bool,
    /// Wait this long before each event of an event stream (so a partial read sees
    /// exactly the events it asked for).
    pub event_delay: Option<std::time::Duration>,
    /// Install a content redaction hook that panics (a bug inside the recorder).
    pub panicking_hook: bool,
}

impl Default for Replay {
    fn default() -> Self {
        Replay {
            opts: Opts::default(),
            recorded_host: false,
            propagate: true,
            read_none: false,
            event_delay: None,
            panicking_hook: false,
        }
    }
}

impl Replay {
    pub fn opts(opts: Opts) -> Self {
        Replay {
            opts,
            ..Replay::default()
        }
    }
}

/// Scheme, host and port of the recorded request URI (`https://api.openai.com/v1/x` →
/// `("https", "api.openai.com", None)`).
pub fn recorded_authority(interaction: &Interaction) -> (String, String, Option<u16>) {
    let uri = &interaction.request.uri;
    let (scheme, rest) = uri.split_once("://").unwrap_or(("http", uri.as_str()));
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    match authority.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => {
            (scheme.to_string(), h.to_string(), p.parse().ok())
        }
        _ => (scheme.to_string(), authority.to_string(), None),
    }
}

/// Replays the first interaction of `cassette` through the reqwest middleware, like [`run`],
/// with the extra controls of [`Replay`]. Recorded `traceparent`/`tracestate` request headers
/// are not replayed (the middleware is the only source of trace context).
pub async fn run_with(cassette: &str, replay: Replay) -> Run {
    let opts = replay.opts;
    let c = openllmetry_testkit::load_cassette(cassette).expect("cassette loads");
    let interaction = c.interactions[0].clone();
    let mut builder = ReplayServer::builder(c.interactions.clone());
    if let Some(delay) = replay.event_delay {
        builder = builder.with_event_delay(delay);
    }
    let server = builder.start().await;
    // An empty resource: the SDK's default one (`telemetry.sdk.*`) would make the content
    // oracle match short content strings such as a streamed "telemetry" delta.
    let capture = Capture::with_resource(opentelemetry_sdk::Resource::builder_empty().build());
    let faults = Arc::new(Mutex::new(Vec::new()));
    let hook_faults = faults.clone();
    let mut b = Instrumentation::builder()
        .with_tracer_provider(capture.tracer_provider())
        .with_meter_provider(capture.meter_provider())
        .with_logger_provider(capture.logger_provider())
        .with_flavour(opts.flavour)
        .with_content_capture(opts.content)
        .with_trace_context_propagation(replay.propagate)
        .with_fault_hook(move |f| hook_faults.lock().unwrap().push(*f));
    if replay.panicking_hook {
        b = b.with_redact_hook(|_, _| panic!("deliberate panic inside the recorder"));
    }
    let instr = b.build();
    let mut http = reqwest::Client::builder().no_proxy();
    let url = if replay.recorded_host {
        let (_, host, _) = recorded_authority(&interaction);
        http = http.resolve(&host, server.addr());
        format!(
            "http://{host}:{}{}",
            server.addr().port(),
            interaction.request.path_and_query()
        )
    } else {
        server.url(interaction.request.path_and_query())
    };
    let client = reqwest_middleware::ClientBuilder::new(http.build().expect("client builds"))
        .with(OpenLlmMiddleware::with_instrumentation(instr))
        .build();
    let mut headers = replay_headers(&interaction);
    headers.remove("traceparent");
    headers.remove("tracestate");
    let method = reqwest::Method::from_bytes(interaction.request.method.as_bytes()).unwrap();
    let mut resp = client
        .request(method, url)
        .headers(headers)
        .body(interaction.request.body.clone())
        .send()
        .await
        .expect("request succeeds");
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    let mut chunks = 0;
    if !replay.read_none {
        while opts.read_chunks.is_none_or(|n| chunks < n) {
            match resp.chunk().await.expect("body reads") {
                Some(chunk) => {
                    body.extend_from_slice(&chunk);
                    chunks += 1;
                }
                None => break,
            }
        }
    }
    drop(resp);
    capture.flush();
    assert_eq!(
        server.unmatched(),
        0,
        "the replay server saw an unmatched request"
    );
    let faults = faults.lock().unwrap().clone();
    Run {
        capture,
        interaction,
        server,
        status,
        body,
        chunks,
        faults,
    }
}

/// The JSON payloads of the `data:` lines of a (decoded) server-sent event stream, in order,
/// `[DONE]` and non-JSON lines skipped; only complete events (ended by a blank line) count.
/// A test-side oracle, independent of the parsers.
pub fn sse_json_chunks(body: &[u8]) -> Vec<Value> {
    let mut out = Vec::new();
    for event in openllmetry_testkit::cassette::split_sse_events(body) {
        let text = String::from_utf8_lossy(event);
        if !(text.ends_with("\n\n") || text.ends_with("\r\n\r\n") || text.ends_with("\r\r")) {
            continue; // an incomplete trailing event
        }
        for line in text.lines() {
            if let Some(data) = line.strip_prefix("data:")
                && let Ok(v) = serde_json::from_str::<Value>(data.trim())
            {
                out.push(v);
            }
        }
    }
    out
}
