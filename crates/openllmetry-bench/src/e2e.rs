//! The end-to-end harness shared by the `overhead` and `memory` binaries: a looping replay
//! server per scenario, a plain reqwest client and one through [`OpenLlmMiddleware`], and the
//! SDK initialised with OTLP export of traces and metrics to a local [`OtlpSink`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt as _;
use openllmetry::telemetry::TelemetryLevel;
use openllmetry::{Config, ConfigError, OpenLlmetry};
use openllmetry_core::Instrumentation;
use openllmetry_http::OpenLlmMiddleware;
use openllmetry_testkit::cassette::Interaction;
use openllmetry_testkit::replay::ReplayServer;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::scenario::{Loaded, Scenario};
use crate::sink::OtlpSink;

/// One scenario served by its own looping replay server on loopback.
#[derive(Debug)]
pub struct Target {
    /// The scenario and its recorded exchange.
    pub loaded: Loaded,
    /// The replay server (loop mode: the one recorded response, again and again).
    pub server: ReplayServer,
    /// The URL calls go to (`http://127.0.0.1:<port>` + the recorded path).
    pub url: String,
    /// The recorded request body, sent with every call.
    pub body: Bytes,
}

impl Target {
    /// Loads `scenario` and starts its looping replay server. The response is served
    /// uncompressed (see [`identity`]).
    pub fn start(scenario: &Scenario) -> std::io::Result<Target> {
        let loaded = scenario.load();
        let server = ReplayServer::looping(identity(&loaded)).spawn()?;
        let url = server.url(loaded.path());
        let body = Bytes::copy_from_slice(loaded.request_body());
        Ok(Target {
            loaded,
            server,
            url,
            body,
        })
    }
}

/// The recorded exchange with its response body decoded and `Content-Encoding` removed.
///
/// The non-streamed bodies were recorded gzip-compressed because the Python clients send
/// `Accept-Encoding: gzip`; a default `reqwest` client sends no `Accept-Encoding` and a real
/// API answers it uncompressed (and with reqwest's `gzip` feature, reqwest decodes before
/// the middleware sees the body). Serving the same uncompressed bytes to both the Rust and
/// the Python clients keeps the comparison on equal terms; the cost of decoding a gzip body
/// in the observer is measured by the `record/openai_chat_gzip_sdk` micro bench.
pub fn identity(loaded: &Loaded) -> Interaction {
    let mut interaction = loaded.interaction.clone();
    if interaction.response.header("content-encoding").is_some() {
        interaction.response.body = loaded.decoded_body.clone();
        interaction
            .response
            .headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case("content-encoding"));
    }
    interaction
}

/// The clients compared: (a) plain reqwest, (b) reqwest through the middleware, and two
/// diagnostic ones that split (b)'s overhead.
#[derive(Debug, Clone)]
pub struct Clients {
    /// (a) `reqwest::Client`, no middleware.
    pub plain: reqwest::Client,
    /// (b) `reqwest_middleware` client with [`OpenLlmMiddleware`] (records with the global
    /// instrumentation the SDK installed).
    pub instrumented: reqwest_middleware::ClientWithMiddleware,
    /// A `reqwest_middleware` client without any middleware (the crate's own cost).
    pub empty_middleware: reqwest_middleware::ClientWithMiddleware,
    /// [`OpenLlmMiddleware`] recording with a no-op tracer and no metrics (the adapter and
    /// the core's parse and render, without the OpenTelemetry SDK).
    pub noop_recorder: reqwest_middleware::ClientWithMiddleware,
}

impl Clients {
    /// Builds the clients (no proxy, so loopback stays loopback).
    pub fn new() -> Clients {
        let client = || {
            reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("reqwest client")
        };
        let noop = Instrumentation::builder()
            .with_tracer_provider(&opentelemetry::trace::noop::NoopTracerProvider::new())
            .with_metrics(false)
            .build();
        Clients {
            plain: client(),
            instrumented: reqwest_middleware::ClientBuilder::new(client())
                .with(OpenLlmMiddleware::new())
                .build(),
            empty_middleware: reqwest_middleware::ClientBuilder::new(client()).build(),
            noop_recorder: reqwest_middleware::ClientBuilder::new(client())
                .with(OpenLlmMiddleware::with_instrumentation(noop))
                .build(),
        }
    }
}

impl Default for Clients {
    fn default() -> Self {
        Clients::new()
    }
}

/// Which client a call uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// (a) plain reqwest.
    Plain,
    /// (b) through the middleware, SDK exporting.
    Instrumented,
    /// Diagnostic: `reqwest_middleware` without any middleware.
    EmptyMiddleware,
    /// Diagnostic: the middleware with a no-op tracer and no metrics.
    NoopRecorder,
}

impl Mode {
    /// Short label.
    pub const fn label(self) -> &'static str {
        match self {
            Mode::Plain => "(a) plain",
            Mode::Instrumented => "(b) instrumented",
            Mode::EmptyMiddleware => "empty middleware",
            Mode::NoopRecorder => "no-op recorder",
        }
    }
}

/// Reads a response to its end; returns the number of body frames.
async fn drain(resp: reqwest::Response) -> Result<usize, reqwest::Error> {
    let status = resp.status();
    assert!(status.is_success(), "replay answered {status}");
    let mut stream = resp.bytes_stream();
    let mut frames = 0;
    while let Some(frame) = stream.next().await {
        frame?;
        frames += 1;
    }
    Ok(frames)
}

/// Makes one call (request sent, whole body read); returns its duration in ns and the
/// number of body frames received.
pub async fn call(clients: &Clients, mode: Mode, target: &Target) -> (u64, usize) {
    let start = Instant::now();
    let frames = match mode {
        Mode::Plain => {
            let resp = clients
                .plain
                .post(&target.url)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(target.body.clone())
                .send()
                .await
                .expect("plain call");
            drain(resp).await.expect("plain body")
        }
        Mode::Instrumented | Mode::EmptyMiddleware | Mode::NoopRecorder => {
            let client = match mode {
                Mode::Instrumented => &clients.instrumented,
                Mode::EmptyMiddleware => &clients.empty_middleware,
                _ => &clients.noop_recorder,
            };
            let resp = client
                .post(&target.url)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(target.body.clone())
                .send()
                .await
                .expect("middleware call");
            drain(resp).await.expect("middleware body")
        }
    };
    (start.elapsed().as_nanos() as u64, frames)
}

/// Initialises the SDK the way an application would: batch span processor and periodic
/// metrics, both exported over OTLP/HTTP (protobuf) to `sink`; content capture on (the
/// default); the SDK's own telemetry off.
pub fn init_sdk(sink: &OtlpSink) -> Result<OpenLlmetry, ConfigError> {
    openllmetry::try_init(
        Config::new()
            .with_app_name("openllmetry-bench")
            .with_api_endpoint(sink.endpoint())
            .with_telemetry(TelemetryLevel::Off),
    )
}

/// Counts the spans it is given and drops them.
#[derive(Debug, Clone, Default)]
pub struct DiscardSpans(pub Arc<AtomicU64>);

impl SpanExporter for DiscardSpans {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// Drops every metric export.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscardMetrics;

impl PushMetricExporter for DiscardMetrics {
    async fn export(&self, _metrics: &ResourceMetrics) -> OTelSdkResult {
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}

/// Initialises the SDK like [`init_sdk`], but with the batch span processor and the periodic
/// metric reader feeding discarding exporters instead of OTLP: the configuration the Python
/// side uses. The returned counter holds the number of spans exported.
pub fn init_sdk_discarding() -> Result<(OpenLlmetry, Arc<AtomicU64>), ConfigError> {
    let spans = DiscardSpans::default();
    let count = spans.0.clone();
    let sdk = openllmetry::try_init(
        Config::new()
            .with_app_name("openllmetry-bench")
            .with_span_exporter(spans)
            .with_metric_exporter(DiscardMetrics)
            .with_telemetry(TelemetryLevel::Off),
    )?;
    Ok((sdk, count))
}

/// A current-thread Tokio runtime for the client side.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// CPU time consumed so far by the whole process (every thread: client, replay server,
/// batch exporter, sink), in nanoseconds.
pub fn process_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes one `timespec` through a valid, exclusive pointer.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
