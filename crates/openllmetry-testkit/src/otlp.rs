//! An OTLP receiver on loopback for wire tests: OTLP/HTTP (protobuf and JSON, optionally gzip)
//! and OTLP/gRPC (the `opentelemetry-proto` tonic services), decoding what exporters send and
//! keeping every raw byte.
//!
//! ```no_run
//! # async fn demo() {
//! use std::time::Duration;
//! use openllmetry_testkit::otlp::OtlpReceiver;
//! let receiver = OtlpReceiver::start();
//! // export with endpoint receiver.traces_url() (HTTP) or receiver.grpc_endpoint() (gRPC) ...
//! assert!(receiver.wait_for(|r| r.spans().len() == 1, Duration::from_secs(5)).await);
//! let span = receiver.span("chat gpt-4");
//! assert_eq!(span.attr_str("gen_ai.request.model"), Some("gpt-4"));
//! assert!(!receiver.raw_contains(b"sk-secret"));
//! # }
//! ```
//!
//! The servers run on a thread and Tokio runtime of their own (so the receiver works from
//! blocking and async tests alike) and stop when the receiver is dropped or
//! [`stopped`](OtlpReceiver::stop).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tonic::codec::CompressionEncoding;
use tower_service::Service;

use crate::cassette::gunzip;
use crate::flat::{
    Attributes, MetricPoint, ReceivedLog, ReceivedSpan, proto_attributes, push_line,
};

/// Largest accepted OTLP/HTTP body (compressed size).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Which server a request arrived at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// OTLP/HTTP.
    Http,
    /// OTLP/gRPC.
    Grpc,
}

/// One request exactly as it arrived, plus its body with the transport encoding undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRequest {
    /// Which server received it.
    pub protocol: Protocol,
    /// Method, e.g. `POST`.
    pub method: String,
    /// Path, e.g. `/v1/traces` or `/opentelemetry.proto.collector.trace.v1.TraceService/Export`.
    pub path: String,
    /// Headers in received order (names lower-case, values as raw bytes).
    pub headers: Vec<(String, Vec<u8>)>,
    /// Body as received (possibly gzip-compressed; for gRPC, the length-prefixed messages).
    pub body: Vec<u8>,
    /// The body with `Content-Encoding` (HTTP) or gRPC framing and compression undone: the
    /// protobuf or JSON message bytes.
    pub decoded_body: Vec<u8>,
    /// HTTP status (or `200` for gRPC) the receiver answered with.
    pub status: u16,
}

impl RawRequest {
    /// The first value of a header as text (lossy), name compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

    /// Request line, headers, body and decoded body, concatenated.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + self.decoded_body.len() + 512);
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.path.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        if self.decoded_body != self.body {
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&self.decoded_body);
        }
        out
    }
}

#[derive(Debug, Default)]
struct State {
    traces: Vec<ExportTraceServiceRequest>,
    metrics: Vec<ExportMetricsServiceRequest>,
    logs: Vec<ExportLogsServiceRequest>,
    raw: Vec<RawRequest>,
    rejected: usize,
    generation: u64,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    notify: tokio::sync::Notify,
    /// 0: accept; otherwise the HTTP status to fail every request with.
    failure: AtomicU16,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        {
            let mut state = self.state();
            f(&mut state);
            state.generation += 1;
        }
        self.changed.notify_all();
        self.notify.notify_waiters();
    }
}

/// Stops the server thread.
#[derive(Debug)]
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

/// The receiver. See the [module docs](self).
pub struct OtlpReceiver {
    http_addr: SocketAddr,
    grpc_addr: SocketAddr,
    shared: Arc<Shared>,
    running: Mutex<Option<Running>>,
}

impl fmt::Debug for OtlpReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.state();
        f.debug_struct("OtlpReceiver")
            .field("http_addr", &self.http_addr)
            .field("grpc_addr", &self.grpc_addr)
            .field("trace_requests", &state.traces.len())
            .field("metrics_requests", &state.metrics.len())
            .field("logs_requests", &state.logs.len())
            .field("raw_requests", &state.raw.len())
            .finish()
    }
}

impl OtlpReceiver {
    /// Starts both servers on ephemeral loopback ports; panics if that fails.
    pub fn start() -> OtlpReceiver {
        OtlpReceiver::try_start().unwrap_or_else(|e| panic!("OtlpReceiver: cannot start: {e}"))
    }

    /// Starts both servers on ephemeral loopback ports.
    pub fn try_start() -> std::io::Result<OtlpReceiver> {
        let bind = || -> std::io::Result<std::net::TcpListener> {
            let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
            listener.set_nonblocking(true)?;
            Ok(listener)
        };
        let (http, grpc) = (bind()?, bind()?);
        let (http_addr, grpc_addr) = (http.local_addr()?, grpc.local_addr()?);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let shared = Arc::new(Shared::default());
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("otlp-receiver".into())
            .spawn({
                let shared = shared.clone();
                move || runtime.block_on(serve(http, grpc, shared, stopped))
            })?;
        Ok(OtlpReceiver {
            http_addr,
            grpc_addr,
            shared,
            running: Mutex::new(Some(Running { stop, thread })),
        })
    }

    /// Base URL of the OTLP/HTTP server, `http://127.0.0.1:<port>` (what
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` takes; exporters append `/v1/traces` etc.).
    pub fn http_endpoint(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// `http_endpoint()` + `/v1/traces` (what a span exporter's `with_endpoint` takes).
    pub fn traces_url(&self) -> String {
        format!("http://{}/v1/traces", self.http_addr)
    }

    /// `http_endpoint()` + `/v1/metrics`.
    pub fn metrics_url(&self) -> String {
        format!("http://{}/v1/metrics", self.http_addr)
    }

    /// `http_endpoint()` + `/v1/logs`.
    pub fn logs_url(&self) -> String {
        format!("http://{}/v1/logs", self.http_addr)
    }

    /// The OTLP/gRPC endpoint, `http://127.0.0.1:<port>`.
    pub fn grpc_endpoint(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    /// Address of the OTLP/HTTP server.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Address of the OTLP/gRPC server.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// Makes every following request fail: OTLP/HTTP answers `status` (e.g. `503`), OTLP/gRPC
    /// answers `UNAVAILABLE` for 503, `RESOURCE_EXHAUSTED` for 429 and `INTERNAL` otherwise.
    /// Failed requests are kept in [`raw_requests`](Self::raw_requests) but not decoded.
    /// `None` accepts again.
    pub fn set_failure(&self, status: Option<u16>) {
        self.shared
            .failure
            .store(status.unwrap_or(0), Ordering::SeqCst);
    }

    /// `set_failure(Some(503))` or `set_failure(None)`.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.set_failure(unavailable.then_some(503));
    }

    /// Stops both servers: their ports refuse connections from now on and open connections
    /// are dropped. Received data stays readable. Idempotent.
    pub fn stop(&self) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(Running { stop, thread }) = running {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }

    /// Decoded trace export requests, in arrival order.
    pub fn trace_requests(&self) -> Vec<ExportTraceServiceRequest> {
        self.shared.state().traces.clone()
    }

    /// Decoded metrics export requests, in arrival order.
    pub fn metrics_requests(&self) -> Vec<ExportMetricsServiceRequest> {
        self.shared.state().metrics.clone()
    }

    /// Decoded logs export requests, in arrival order.
    pub fn logs_requests(&self) -> Vec<ExportLogsServiceRequest> {
        self.shared.state().logs.clone()
    }

    /// Every request received (accepted, rejected or failed), in arrival order.
    pub fn raw_requests(&self) -> Vec<RawRequest> {
        self.shared.state().raw.clone()
    }

    /// Number of requests received so far.
    pub fn request_count(&self) -> usize {
        self.shared.state().raw.len()
    }

    /// Number of requests answered with an error (bad path, type or encoding, undecodable, or
    /// failed on purpose with [`set_failure`](Self::set_failure)).
    pub fn rejected_count(&self) -> usize {
        self.shared.state().rejected
    }

    /// Every byte received: for each request its request line, headers, body as received and
    /// body with transport encoding undone (see [`RawRequest::bytes`]), concatenated. Search it
    /// to prove a secret never left the process.
    pub fn raw_bytes(&self) -> Vec<u8> {
        self.shared
            .state()
            .raw
            .iter()
            .flat_map(RawRequest::bytes)
            .collect()
    }

    /// True if `needle` occurs anywhere in [`raw_bytes`](Self::raw_bytes).
    pub fn raw_contains(&self, needle: &[u8]) -> bool {
        if needle.is_empty() {
            return true;
        }
        let haystack = self.raw_bytes();
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    /// All received spans, flattened, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        let state = self.shared.state();
        let mut out = Vec::new();
        for req in &state.traces {
            for rs in &req.resource_spans {
                let resource = resource_attributes(rs.resource.as_ref());
                for ss in &rs.scope_spans {
                    for span in &ss.spans {
                        out.push(ReceivedSpan::from_proto(span, &resource, ss.scope.as_ref()));
                    }
                }
            }
        }
        out
    }

    /// The received spans with this name.
    pub fn spans_named(&self, name: &str) -> Vec<ReceivedSpan> {
        self.spans()
            .into_iter()
            .filter(|s| s.name == name)
            .collect()
    }

    /// The one received span with this name; panics (listing what was received) if there is
    /// not exactly one.
    pub fn span(&self, name: &str) -> ReceivedSpan {
        let spans = self.spans();
        let mut matching: Vec<ReceivedSpan> =
            spans.iter().filter(|s| s.name == name).cloned().collect();
        if matching.len() != 1 {
            let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
            panic!(
                "expected exactly one received span named {name:?}, found {}; received spans: {names:?}",
                matching.len()
            );
        }
        matching.remove(0)
    }

    /// All received metric data points by metric name, in arrival order.
    pub fn metrics(&self) -> BTreeMap<String, Vec<MetricPoint>> {
        let state = self.shared.state();
        let mut out: BTreeMap<String, Vec<MetricPoint>> = BTreeMap::new();
        for req in &state.metrics {
            for rm in &req.resource_metrics {
                for sm in &rm.scope_metrics {
                    let scope = sm.scope.as_ref().map_or("", |s| s.name.as_str());
                    for metric in &sm.metrics {
                        out.entry(metric.name.clone())
                            .or_default()
                            .extend(MetricPoint::from_proto(metric, scope));
                    }
                }
            }
        }
        out
    }

    /// The received data points of one metric (empty if none), in arrival order.
    pub fn metric_points(&self, name: &str) -> Vec<MetricPoint> {
        self.metrics().remove(name).unwrap_or_default()
    }

    /// All received log records, flattened, in arrival order.
    pub fn logs(&self) -> Vec<ReceivedLog> {
        let state = self.shared.state();
        let mut out = Vec::new();
        for req in &state.logs {
            for rl in &req.resource_logs {
                let resource = resource_attributes(rl.resource.as_ref());
                for sl in &rl.scope_logs {
                    for record in &sl.log_records {
                        out.push(ReceivedLog::from_proto(
                            record,
                            &resource,
                            sl.scope.as_ref(),
                        ));
                    }
                }
            }
        }
        out
    }

    /// Every string in received spans, metrics and logs (names, attribute keys and values,
    /// events, status messages, log bodies, resources, scopes), one per line.
    pub fn all_text(&self) -> String {
        let mut out = String::new();
        for span in self.spans() {
            span.push_text(&mut out);
        }
        for points in self.metrics().values() {
            for point in points {
                point.push_text(&mut out);
            }
        }
        for log in self.logs() {
            log.push_text(&mut out);
        }
        out
    }

    /// Clears everything received so far.
    pub fn clear(&self) {
        self.shared.update(|state| {
            let generation = state.generation;
            *state = State {
                generation,
                ..State::default()
            };
        });
    }

    /// Waits until `predicate(self)` holds, re-checking whenever a request arrives (no busy
    /// polling); returns whether it held before `timeout`. Needs a Tokio runtime with time
    /// enabled (`#[tokio::test]` has one).
    pub async fn wait_for(&self, predicate: impl Fn(&Self) -> bool, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if predicate(self) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return predicate(self);
            }
        }
    }

    /// Blocking version of [`wait_for`](Self::wait_for), for tests without a runtime.
    pub fn wait_for_blocking(&self, predicate: impl Fn(&Self) -> bool, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let generation = self.shared.state().generation;
            if predicate(self) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let guard = self.shared.state();
            let _ = self
                .shared
                .changed
                .wait_timeout_while(guard, deadline - now, |s| s.generation == generation);
        }
    }

    /// Waits until at least `count` spans arrived; returns all spans received by then (fewer
    /// on timeout).
    pub async fn wait_for_spans(&self, count: usize, timeout: Duration) -> Vec<ReceivedSpan> {
        self.wait_for(|r| r.spans().len() >= count, timeout).await;
        self.spans()
    }

    /// Blocking version of [`wait_for_spans`](Self::wait_for_spans).
    pub fn wait_for_spans_blocking(&self, count: usize, timeout: Duration) -> Vec<ReceivedSpan> {
        self.wait_for_blocking(|r| r.spans().len() >= count, timeout);
        self.spans()
    }

    /// Waits for a span with this name; returns the first one, or `None` on timeout.
    pub async fn wait_for_span(&self, name: &str, timeout: Duration) -> Option<ReceivedSpan> {
        self.wait_for(|r| r.spans().iter().any(|s| s.name == name), timeout)
            .await;
        self.spans().into_iter().find(|s| s.name == name)
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.stop();
    }
}

fn resource_attributes(
    resource: Option<&opentelemetry_proto::tonic::resource::v1::Resource>,
) -> Attributes {
    resource.map_or_else(Attributes::new, |r| proto_attributes(&r.attributes))
}

async fn serve(
    http: std::net::TcpListener,
    grpc: std::net::TcpListener,
    shared: Arc<Shared>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let (Ok(http), Ok(grpc)) = (
        tokio::net::TcpListener::from_std(http),
        tokio::net::TcpListener::from_std(grpc),
    ) else {
        return;
    };
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = http.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle_http(req, &shared).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            accepted = grpc.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle_grpc(req, shared).await) }
                    });
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .timer(TokioTimer::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

fn header_list(headers: &http::HeaderMap) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
        .collect()
}

fn text_response(status: StatusCode, text: impl Into<String>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text.into())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Signal {
    Traces,
    Metrics,
    Logs,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Protobuf,
    Json,
}

/// A decoded export request.
enum Decoded {
    Traces(ExportTraceServiceRequest),
    Metrics(ExportMetricsServiceRequest),
    Logs(ExportLogsServiceRequest),
}

impl Decoded {
    fn store(self, state: &mut State) {
        match self {
            Decoded::Traces(req) => state.traces.push(req),
            Decoded::Metrics(req) => state.metrics.push(req),
            Decoded::Logs(req) => state.logs.push(req),
        }
    }
}

/// Decodes one export request; `Err` is a message for a `400`.
fn decode_export(signal: Signal, format: Format, bytes: &[u8]) -> Result<Decoded, String> {
    fn decode<T: Message + Default + serde::de::DeserializeOwned>(
        format: Format,
        bytes: &[u8],
    ) -> Result<T, String> {
        match format {
            Format::Protobuf => T::decode(bytes).map_err(|e| format!("invalid protobuf: {e}")),
            Format::Json => serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON: {e}")),
        }
    }
    Ok(match signal {
        Signal::Traces => Decoded::Traces(decode(format, bytes)?),
        Signal::Metrics => Decoded::Metrics(decode(format, bytes)?),
        Signal::Logs => Decoded::Logs(decode(format, bytes)?),
    })
}

async fn handle_http(req: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            let response = text_response(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
            shared.update(|s| s.rejected += 1);
            return response;
        }
    };
    let header = |name: http::header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_ascii_lowercase())
    };
    let encoding = header(http::header::CONTENT_ENCODING);
    let decoded: Result<Vec<u8>, (StatusCode, String)> = match encoding.as_deref() {
        None | Some("") | Some("identity") => Ok(body.to_vec()),
        Some("gzip") | Some("x-gzip") => {
            gunzip(&body).ok_or((StatusCode::BAD_REQUEST, "invalid gzip body".to_string()))
        }
        Some(other) => Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Encoding {other:?}"),
        )),
    };

    let failure = shared.failure.load(Ordering::SeqCst);
    let content_type = header(http::header::CONTENT_TYPE).unwrap_or_default();
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let signal = match parts.uri.path() {
        "/v1/traces" => Some(Signal::Traces),
        "/v1/metrics" => Some(Signal::Metrics),
        "/v1/logs" => Some(Signal::Logs),
        _ => None,
    };
    let format = match mime.as_str() {
        "application/x-protobuf" | "application/protobuf" => Some(Format::Protobuf),
        "application/json" => Some(Format::Json),
        _ => None,
    };

    let mut decoded_export = None;
    let outcome: Result<Format, (StatusCode, String)> = if failure != 0 {
        Err((
            StatusCode::from_u16(failure).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            "receiver set to fail".to_string(),
        ))
    } else if parts.method != http::Method::POST {
        Err((StatusCode::METHOD_NOT_ALLOWED, "POST only".to_string()))
    } else if let (Some(signal), Some(format)) = (signal, format) {
        match &decoded {
            Ok(bytes) => match decode_export(signal, format, bytes) {
                Ok(export) => {
                    decoded_export = Some(export);
                    Ok(format)
                }
                Err(e) => Err((StatusCode::BAD_REQUEST, e)),
            },
            Err(e) => Err(e.clone()),
        }
    } else if signal.is_none() {
        Err((
            StatusCode::NOT_FOUND,
            format!("unknown path {}", parts.uri.path()),
        ))
    } else {
        Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Type {content_type:?}"),
        ))
    };

    let response = match outcome {
        Ok(Format::Protobuf) => {
            let bytes = match signal {
                Some(Signal::Metrics) => ExportMetricsServiceResponse::default().encode_to_vec(),
                Some(Signal::Logs) => ExportLogsServiceResponse::default().encode_to_vec(),
                _ => ExportTraceServiceResponse::default().encode_to_vec(),
            };
            let mut response = Response::new(Full::new(Bytes::from(bytes)));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/x-protobuf"),
            );
            response
        }
        Ok(Format::Json) => {
            let mut response = Response::new(Full::new(Bytes::from_static(b"{}")));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            response
        }
        Err((status, text)) => text_response(status, text),
    };
    let raw = RawRequest {
        protocol: Protocol::Http,
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        headers: header_list(&parts.headers),
        decoded_body: decoded.unwrap_or_else(|_| body.to_vec()),
        body: body.to_vec(),
        status: response.status().as_u16(),
    };
    let rejected = !response.status().is_success();
    shared.update(|s| {
        s.raw.push(raw);
        if rejected {
            s.rejected += 1;
        }
        if let Some(export) = decoded_export {
            export.store(s);
        }
    });
    response
}

/// The message bytes of a gRPC body: each length-prefixed message, decompressed when flagged.
fn grpc_messages(mut body: &[u8], encoding: Option<&str>) -> Vec<u8> {
    let mut out = Vec::new();
    while body.len() >= 5 {
        let compressed = body[0] == 1;
        let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        let Some(message) = body.get(5..5 + len) else {
            break;
        };
        match (compressed, encoding) {
            (true, Some("gzip")) => out.extend(gunzip(message).unwrap_or_else(|| message.to_vec())),
            _ => out.extend_from_slice(message),
        }
        body = &body[5 + len..];
    }
    out
}

/// The tonic services: store what they receive.
#[derive(Debug, Clone)]
struct Sink(Arc<Shared>);

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let req = request.into_inner();
        self.0.update(|s| s.traces.push(req));
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let req = request.into_inner();
        self.0.update(|s| s.metrics.push(req));
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let req = request.into_inner();
        self.0.update(|s| s.logs.push(req));
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

async fn handle_grpc(req: Request<Incoming>, shared: Arc<Shared>) -> Response<tonic::body::Body> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let encoding = parts
        .headers
        .get("grpc-encoding")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let raw = RawRequest {
        protocol: Protocol::Grpc,
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        headers: header_list(&parts.headers),
        decoded_body: grpc_messages(&body, encoding.as_deref()),
        body: body.to_vec(),
        status: 200,
    };
    let failure = shared.failure.load(Ordering::SeqCst);
    let path = parts.uri.path().to_string();
    let known = path.starts_with("/opentelemetry.proto.collector.");
    shared.update(|s| {
        s.raw.push(raw);
        if failure != 0 || !known {
            s.rejected += 1;
        }
    });
    if failure != 0 {
        let status = match failure {
            503 => tonic::Status::unavailable("receiver set to fail"),
            429 => tonic::Status::resource_exhausted("receiver set to fail"),
            _ => tonic::Status::internal("receiver set to fail"),
        };
        return status.into_http();
    }
    let req = Request::from_parts(parts, Full::new(body));
    let sink = Arc::new(Sink(shared));
    let result = if path.starts_with("/opentelemetry.proto.collector.trace.v1.TraceService/") {
        TraceServiceServer::from_arc(sink)
            .accept_compressed(CompressionEncoding::Gzip)
            .call(req)
            .await
    } else if path.starts_with("/opentelemetry.proto.collector.metrics.v1.MetricsService/") {
        MetricsServiceServer::from_arc(sink)
            .accept_compressed(CompressionEncoding::Gzip)
            .call(req)
            .await
    } else if path.starts_with("/opentelemetry.proto.collector.logs.v1.LogsService/") {
        LogsServiceServer::from_arc(sink)
            .accept_compressed(CompressionEncoding::Gzip)
            .call(req)
            .await
    } else {
        return tonic::Status::unimplemented(format!("unknown method {path}")).into_http();
    };
    match result {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Renders received spans as one line each (`name [kind] key=value ...`), handy in assertion
/// messages.
pub fn describe_spans(spans: &[ReceivedSpan]) -> String {
    let mut out = String::new();
    for span in spans {
        let mut line = format!("{} [{:?}]", span.name, span.kind);
        for (k, v) in &span.attributes {
            line.push_str(&format!(" {k}={v}"));
        }
        push_line(&mut out, &line);
    }
    out
}
