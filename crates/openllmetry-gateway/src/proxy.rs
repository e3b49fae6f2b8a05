//! The proxy: routing, forwarding through the instrumenting service, and streaming back.

use crate::error::StartError;
use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use futures_util::Stream;
use openllmetry_core::budget::{ObservationBudget, Reservation};
use openllmetry_core::skim::LateSkim;
use openllmetry_http::{OpenLlmLayer, OpenLlmService};
use opentelemetry::propagation::Extractor;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinHandle;
use tower_service::Service;

use crate::config::{GatewayConfig, redact_url};

/// Path of the gateway's own diagnostics endpoint: its fault counts and pending telemetry
/// report as JSON, answered to loopback clients only (404 to others).
pub const FAULTS_PATH: &str = "/_openllmetry/faults";

/// After an accept error (e.g. out of file descriptors), how long the accept loop pauses
/// before trying again (instead of spinning).
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);
/// Accept errors and "connection limit reached" are logged at most once per this period.
const LOG_QUIET: Duration = Duration::from_secs(1);
/// Once nothing is in flight at shutdown, how long connections get to flush their last bytes
/// and close before they are dropped.
const SHUTDOWN_LINGER: Duration = Duration::from_millis(500);

struct AppState {
    config: GatewayConfig,
    budget: Arc<ObservationBudget>,
    service: OpenLlmService<reqwest::Client>,
    inflight: Arc<InFlight>,
    /// Signs forwarded Bedrock requests; `None` when the gateway has no AWS credentials.
    bedrock_signer: Option<crate::sigv4::AwsSigner>,
}

/// Requests and response bodies in flight, and the switch that cuts them when the drain
/// timeout is reached (so their spans end, with the partial data, before the final flush).
#[derive(Debug)]
struct InFlight {
    count: AtomicUsize,
    idle: Notify,
    abort: watch::Sender<bool>,
}

impl InFlight {
    fn new() -> Self {
        InFlight {
            count: AtomicUsize::new(0),
            idle: Notify::new(),
            abort: watch::channel(false).0,
        }
    }

    fn enter(self: &Arc<Self>) -> InFlightGuard {
        self.count.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self.clone())
    }

    fn len(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Resolves once the abort switch is on.
    fn aborted(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.abort.subscribe();
        async move {
            let _ = rx.wait_for(|a| *a).await;
        }
    }

    /// Waits until nothing is in flight (or `timeout`).
    async fn wait_idle(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, async {
            loop {
                let idle = self.idle.notified();
                if self.len() == 0 {
                    return;
                }
                idle.await;
            }
        })
        .await;
    }
}

/// One request (and then its response body) in flight.
#[derive(Debug)]
struct InFlightGuard(Arc<InFlight>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// The upstream body on its way to the client: passes every chunk through as it arrives,
/// keeps the request counted as in flight until the body is done or dropped, and fails
/// (so the client sees a cut, not a clean end) if the upstream body fails or the gateway
/// aborts in-flight streams.
struct ForwardBody {
    inner: Pin<Box<dyn Stream<Item = Result<Bytes, reqwest::Error>> + Send>>,
    aborted: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// An error held back for one poll, so the server flushes the bytes already forwarded
    /// before it tears the connection down.
    failing: Option<std::io::Error>,
    done: bool,
    _guard: InFlightGuard,
}

impl ForwardBody {
    fn fail(
        &mut self,
        cx: &mut Context<'_>,
        e: std::io::Error,
    ) -> Poll<Option<<Self as Stream>::Item>> {
        self.failing = Some(e);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Stream for ForwardBody {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Some(e) = self.failing.take() {
            self.done = true;
            return Poll::Ready(Some(Err(e)));
        }
        if self.aborted.as_mut().poll(cx).is_ready() {
            let e = std::io::Error::other("gateway shutting down: drain timeout reached");
            return self.fail(cx, e);
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Err(e))) => self.fail(cx, std::io::Error::other(e)),
            other => other.map(|item| item.map(|r| r.map_err(std::io::Error::other))),
        }
    }
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) and those the HTTP stacks set themselves.
const HOP_BY_HOP: &[&str] = &[
    "expect",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(&name.as_str())
}

/// Header names listed in `Connection` (hop-by-hop for this message only).
fn connection_listed(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Encodings the instrumentation can decode; others are removed from `Accept-Encoding` so
/// the upstream never answers in a form the observer cannot read (the client still gets
/// the upstream's bytes unchanged).
const DECODABLE_ENCODINGS: &[&str] = &["gzip", "x-gzip", "deflate", "identity"];

fn filter_accept_encoding(v: &HeaderValue) -> Option<HeaderValue> {
    let s = v.to_str().ok()?;
    let kept: Vec<&str> = s
        .split(',')
        .map(str::trim)
        .filter(|t| {
            let name = t
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            DECODABLE_ENCODINGS.contains(&name.as_str())
        })
        .collect();
    if kept.is_empty() {
        return HeaderValue::from_static("identity").into();
    }
    HeaderValue::from_str(&kept.join(", ")).ok()
}

/// Which upstream a request path goes to, and the path to append to it.
fn route<'a>(
    config: &'a GatewayConfig,
    path: &str,
    headers: &HeaderMap,
) -> Option<(&'a str, String)> {
    // `/<provider>/<rest>` goes to that provider's upstream as `/<rest>`.
    for (prefix, upstream) in [
        ("/openai/", &config.openai_upstream),
        ("/anthropic/", &config.anthropic_upstream),
        ("/gemini/", &config.gemini_upstream),
        ("/vertex/", &config.vertex_upstream),
        ("/ollama/", &config.ollama_upstream),
        ("/cohere/", &config.cohere_upstream),
        ("/mistral/", &config.mistral_upstream),
        ("/bedrock/", &config.bedrock_upstream),
    ] {
        if let Some(rest) = path.strip_prefix(prefix) {
            return Some((upstream, format!("/{rest}")));
        }
    }
    // Native Google paths: the Gemini API's `/v1beta/…` (and `/v1/models/…:method`), Vertex
    // AI's `/v1/projects/…` and `/v1beta1/projects/…`.
    if path.starts_with("/v1beta/") || (path.starts_with("/v1/models/") && path.contains(':')) {
        return Some((&config.gemini_upstream, path.to_owned()));
    }
    if path.starts_with("/v1/projects/") || path.starts_with("/v1beta1/projects/") {
        return Some((&config.vertex_upstream, path.to_owned()));
    }
    // The instrumented native paths (exact): Ollama, Cohere v2, Mistral FIM.
    for (native, upstream) in [
        ("/api/chat", &config.ollama_upstream),
        ("/api/generate", &config.ollama_upstream),
        ("/api/embed", &config.ollama_upstream),
        ("/api/embeddings", &config.ollama_upstream),
        ("/v2/chat", &config.cohere_upstream),
        ("/v2/embed", &config.cohere_upstream),
        ("/v2/rerank", &config.cohere_upstream),
        ("/v1/fim/completions", &config.mistral_upstream),
    ] {
        if path == native {
            return Some((upstream, path.to_owned()));
        }
    }
    let rest = path
        .strip_prefix("/v1/")
        .or_else(|| (path == "/v1").then_some(""))?;
    let anthropic = rest == "messages"
        || rest.starts_with("messages/")
        || rest == "complete"
        || headers.contains_key("anthropic-version");
    if anthropic {
        Some((&config.anthropic_upstream, format!("/v1/{rest}")))
    } else {
        Some((&config.openai_upstream, format!("/{rest}")))
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

fn error_response(status: StatusCode, kind: &str, message: &str) -> Response {
    let body = serde_json::json!({"error": {"type": kind, "message": message}}).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn healthz() -> &'static str {
    "ok"
}

/// The peer address of the connection a request came on.
#[derive(Debug, Clone, Copy)]
struct Peer(SocketAddr);

/// `GET /_openllmetry/faults`: every fault counted in this process and the pending telemetry
/// report (what `openllmetry telemetry preview --gateway URL` prints). Loopback peers only.
async fn faults(req: Request) -> Response {
    let loopback = req
        .extensions()
        .get::<Peer>()
        .is_some_and(|p| p.0.ip().is_loopback());
    if !loopback {
        return error_response(
            StatusCode::NOT_FOUND,
            "not_found",
            "no upstream is configured for this path",
        );
    }
    let status = openllmetry::telemetry::status();
    let counts: Vec<serde_json::Value> = openllmetry::telemetry::fault_counts()
        .iter()
        .map(|c| {
            serde_json::json!({
                "component": c.component.as_str(),
                "operation": c.operation.as_str(),
                "kind": c.kind.as_str(),
                "count": c.count,
            })
        })
        .collect();
    let pending = openllmetry::telemetry::preview()
        .and_then(|p| serde_json::from_str::<serde_json::Value>(&p).ok());
    let body = serde_json::json!({
        "telemetry": {
            "level": status.level().to_string(),
            "decided_by": status.decided_by().to_string(),
        },
        "fault_counts": counts,
        "pending_report": pending,
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn proxy(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let started = Instant::now();
    let guard = state.inflight.enter();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    // An HTTP/1 absolute-form target (`GET http://host/x`) is a forward-proxy request: the
    // gateway is not one. (HTTP/2 always carries the authority; only the path is used.)
    if parts.version < Version::HTTP_2 && parts.uri.authority().is_some() {
        tracing::info!(method = %parts.method, target = %redact_url(&parts.uri.to_string()), status = 400, "refused: absolute-form request target (not a forward proxy)");
        return error_response(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "absolute-form request targets are refused: the gateway is not a forward proxy",
        );
    }
    let Some((base, rest)) = route(&state.config, &path, &parts.headers) else {
        tracing::info!(method = %parts.method, path = %path, status = 404, "refused: no upstream for this path");
        return error_response(
            StatusCode::NOT_FOUND,
            "not_found",
            "no upstream is configured for this path",
        );
    };
    let Some(url) = upstream_url(base, &rest, parts.uri.query()) else {
        tracing::info!(method = %parts.method, path = %path, status = 400, "refused: invalid request path");
        return error_response(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "invalid request path",
        );
    };
    let body = match read_body(body, &parts.headers, &state.config, &state.budget).await {
        Ok(b) => b,
        Err(e) => {
            let (status, kind, message) = e.response();
            tracing::info!(method = %parts.method, path = %path, status = status.as_u16(), "request body not read: {e}");
            return error_response(status, kind, message);
        }
    };
    let mut upstream = reqwest::Request::new(parts.method.clone(), url);
    let listed = connection_listed(&parts.headers);
    for (name, value) in &parts.headers {
        if is_hop_by_hop(name) || listed.iter().any(|l| l == name.as_str()) {
            continue;
        }
        if name == header::ACCEPT_ENCODING {
            if let Some(v) = filter_accept_encoding(value) {
                upstream.headers_mut().append(name.clone(), v);
            }
            continue;
        }
        upstream.headers_mut().append(name.clone(), value.clone());
    }
    let bedrock = path.starts_with("/bedrock/");
    // `skim`: `None` when the body is buffered (shown to the instrumentation whole).
    let (skim, reservation) = match body {
        RequestBody::Buffered(bytes, mut r) => {
            // Half of it is for the parsed request: handed to the instrumentation, which
            // reserves that itself when it parses the body just below.
            r.release(bytes.len());
            if bedrock
                && let Some(refusal) =
                    sign_bedrock(&state, &mut upstream, &bytes, &parts.method, &path)
            {
                return refusal;
            }
            *upstream.body_mut() = Some(reqwest::Body::from(bytes));
            (None, Some(r))
        }
        RequestBody::Streamed(..) if bedrock => {
            // SigV4 signs a hash of the whole body, which a streamed body does not give.
            tracing::warn!(method = %parts.method, path = %path, status = 503, "refused: observation budget spent, a Bedrock request cannot be re-signed without buffering it");
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "observation_budget_exceeded",
                "the gateway's memory budget for request bodies is spent and a Bedrock request must be buffered to be re-signed; retry shortly",
            );
        }
        RequestBody::Streamed(b, skim) => {
            // Same framing as the client's: its declared length, if it had one.
            if let Some(len) = parts.headers.get(header::CONTENT_LENGTH) {
                upstream
                    .headers_mut()
                    .insert(header::CONTENT_LENGTH, len.clone());
            }
            *upstream.body_mut() = Some(b);
            (Some(skim), None)
        }
    };

    // Continue an incoming trace: the LLM span becomes a child of the caller's span.
    let parent = opentelemetry::global::get_text_map_propagator(|p| {
        p.extract(&HeaderExtractor(&parts.headers))
    });
    let mut service = state.service.clone();
    if poll_fn(|cx| service.poll_ready(cx)).await.is_err() {
        return error_response(
            StatusCode::BAD_GATEWAY,
            "upstream_unavailable",
            "upstream client unavailable",
        );
    }
    let fut = {
        let _guard = parent.attach();
        match skim {
            None => service.call(upstream),
            Some(skim) => service.call_body_skipped(upstream, skim),
        }
    };
    // Past the drain timeout, a request still waiting for its upstream is cut (its span
    // ends as cancelled before the final flush).
    let result = tokio::select! {
        r = fut => r,
        _ = state.inflight.aborted() => {
            tracing::warn!(method = %parts.method, path = %path, status = 503, "cut: gateway shutting down");
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the gateway is shutting down",
            );
        }
    };
    // The upstream answered: the request body has been sent; its copy is gone.
    drop(reservation);
    match result {
        Ok(resp) => {
            let status = resp.status();
            tracing::info!(
                method = %parts.method,
                path = %path,
                status = status.as_u16(),
                upstream = %redact_url(base),
                latency_ms = started.elapsed().as_millis() as u64,
                "forwarded"
            );
            let mut builder = Response::builder().status(status);
            let listed = connection_listed(resp.headers());
            if let Some(h) = builder.headers_mut() {
                for (name, value) in resp.headers() {
                    // The body is forwarded unchanged, so the upstream's length stays true.
                    if name == header::CONTENT_LENGTH
                        || !(is_hop_by_hop(name) || listed.iter().any(|l| l == name.as_str()))
                    {
                        h.append(name.clone(), value.clone());
                    }
                }
            }
            let body = ForwardBody {
                inner: Box::pin(resp.bytes_stream()),
                aborted: Box::pin(state.inflight.aborted()),
                failing: None,
                done: false,
                _guard: guard,
            };
            builder.body(Body::from_stream(body)).unwrap_or_else(|_| {
                error_response(
                    StatusCode::BAD_GATEWAY,
                    "bad_gateway",
                    "invalid upstream response",
                )
            })
        }
        Err(e) => {
            let (status, kind, message) = upstream_failure(&e);
            tracing::warn!(method = %parts.method, path = %path, status = status.as_u16(), upstream = %redact_url(base), "upstream request failed: {message}");
            error_response(status, kind, message)
        }
    }
}

/// Status, error type and message (also the logged cause) for a failed upstream request.
fn upstream_failure(e: &reqwest::Error) -> (StatusCode, &'static str, &'static str) {
    if let Some(body) = find_source::<BodyError>(e) {
        return body.response();
    }
    if e.is_timeout() {
        return (
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_timeout",
            "the upstream did not answer in time",
        );
    }
    if e.is_connect() {
        return (
            StatusCode::BAD_GATEWAY,
            "upstream_unreachable",
            "the upstream could not be reached (connection failed)",
        );
    }
    if let Some(h) = find_source::<hyper::Error>(e) {
        if h.is_parse_too_large() {
            return (
                StatusCode::BAD_GATEWAY,
                "upstream_bad_response",
                "upstream response headers too large",
            );
        }
        if h.is_incomplete_message() {
            return (
                StatusCode::BAD_GATEWAY,
                "upstream_closed",
                "upstream closed the connection before responding",
            );
        }
        if h.is_parse() {
            return (
                StatusCode::BAD_GATEWAY,
                "upstream_bad_response",
                "upstream sent an invalid HTTP response",
            );
        }
    }
    (
        StatusCode::BAD_GATEWAY,
        "upstream_failed",
        "the upstream request failed",
    )
}

/// The first error of type `T` in `e`'s source chain (`e` included).
fn find_source<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<T>() {
            return Some(t);
        }
        cur = err.source();
    }
    None
}

/// Why a request body could not be read.
#[derive(Debug)]
enum BodyError {
    /// Larger than the limit (declared or counted).
    TooLarge,
    /// No bytes for the body idle timeout.
    Idle(Duration),
    /// Invalid framing (e.g. malformed chunked encoding).
    Malformed(String),
    /// The client went away (abort, half-close) before the body was complete.
    ClientGone(String),
}

impl BodyError {
    fn response(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            BodyError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_too_large",
                "request body is larger than the gateway's limit",
            ),
            BodyError::Idle(_) => (
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the request body stalled",
            ),
            BodyError::Malformed(_) => (
                StatusCode::BAD_REQUEST,
                "bad_request",
                "malformed request body framing",
            ),
            // Nobody reads this one; it is answered for form's sake.
            BodyError::ClientGone(_) => (
                StatusCode::BAD_REQUEST,
                "bad_request",
                "the request body was incomplete",
            ),
        }
    }
}

/// The cause, as logged.
impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge => f.write_str("larger than the limit"),
            BodyError::Idle(d) => {
                write!(f, "no body bytes for {}s (body idle timeout)", d.as_secs())
            }
            BodyError::Malformed(c) => write!(f, "malformed body framing: {c}"),
            BodyError::ClientGone(c) => write!(f, "client went away mid-body: {c}"),
        }
    }
}

/// A streamed request body fails the upstream request with this error as its source, so
/// the client is answered with the body's own status (413, 408, 400), not 502.
impl std::error::Error for BodyError {}

/// Re-signs a Bedrock request with the gateway's AWS credentials (a client's signature is
/// only valid for the gateway's host); `Some(refusal)` to answer instead when it cannot.
fn sign_bedrock(
    state: &AppState,
    upstream: &mut reqwest::Request,
    body: &[u8],
    method: &axum::http::Method,
    path: &str,
) -> Option<Response> {
    let Some(signer) = &state.bedrock_signer else {
        tracing::warn!(method = %method, path = %path, status = 502, "refused: no AWS credentials to re-sign the Bedrock request");
        return Some(error_response(
            StatusCode::BAD_GATEWAY,
            "no_aws_credentials",
            "the gateway has no AWS credentials to re-sign this Bedrock request (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, optionally AWS_SESSION_TOKEN and AWS_REGION, in the gateway's environment)",
        ));
    };
    let e = signer
        .sign(upstream, body, std::time::SystemTime::now())
        .err()?;
    tracing::warn!(method = %method, path = %path, status = 502, "refused: SigV4 signing failed: {e}");
    Some(error_response(
        StatusCode::BAD_GATEWAY,
        "signing_failed",
        "the gateway could not sign the Bedrock request",
    ))
}

/// A request body as read for forwarding.
enum RequestBody {
    /// Read whole, its bytes reserved from the observation budget (returned once the
    /// upstream has answered): it is shown to the instrumentation.
    Buffered(Bytes, Reservation),
    /// Past the observation budget: streamed to the upstream as it arrives, without a copy
    /// (same limits: size, idle timeout); the instrumentation gets a bounded skim of it
    /// (its small top-level members: model, parameters) once it has passed.
    Streamed(reqwest::Body, LateSkim),
}

/// Reads the request body: at most `body_limit_bytes`, with no pause longer than
/// `body_idle_timeout` between pieces. The copy is taken from the observation `budget`,
/// twice its size (the copy, and the parsed request the instrumentation will hold; the
/// declared length at once, else chunk by chunk); once the budget cannot hold it, the body
/// is streamed through instead (already read bytes first).
async fn read_body(
    body: Body,
    headers: &HeaderMap,
    config: &GatewayConfig,
    budget: &Arc<ObservationBudget>,
) -> Result<RequestBody, BodyError> {
    use futures_util::StreamExt as _;
    let limit = config.body_limit_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut reservation = budget.empty();
    let mut stream = body.into_data_stream();
    if let Some(n) = declared
        && !reservation.grow((n as usize).saturating_mul(2))
    {
        return Ok(streamed(Vec::new(), stream, config));
    }
    let mut buf = bytes::BytesMut::new();
    loop {
        let next = tokio::time::timeout(config.body_idle_timeout, stream.next())
            .await
            .map_err(|_| BodyError::Idle(config.body_idle_timeout))?;
        match next {
            None => return Ok(RequestBody::Buffered(buf.freeze(), reservation)),
            Some(Ok(chunk)) => {
                if buf.len() + chunk.len() > limit {
                    return Err(BodyError::TooLarge);
                }
                if declared.is_none() && !reservation.grow(chunk.len().saturating_mul(2)) {
                    let read = vec![buf.freeze(), chunk];
                    return Ok(streamed(read, stream, config));
                }
                buf.extend_from_slice(&chunk);
            }
            Some(Err(e)) => return Err(classify_body_error(&e)),
        }
    }
}

/// `read` then the rest of `stream`, as a streamed upstream body with the same size limit
/// and idle timeout as a buffered one (a violation fails the upstream request). The bytes are
/// skimmed on their way ([`openllmetry_core::skim`]: bounded memory, one look per byte) for
/// the call's request attributes.
fn streamed(
    read: Vec<Bytes>,
    stream: axum::body::BodyDataStream,
    config: &GatewayConfig,
) -> RequestBody {
    use futures_util::StreamExt as _;
    let (limit, idle) = (config.body_limit_bytes, config.body_idle_timeout);
    let seen: usize = read.iter().map(Bytes::len).sum();
    let skim = LateSkim::new();
    for chunk in &read {
        skim.push(chunk);
    }
    let rest = futures_util::stream::unfold(
        (stream, seen, false, skim.clone()),
        move |(mut stream, seen, done, skim)| async move {
            if done {
                return None;
            }
            let item = match tokio::time::timeout(idle, stream.next()).await {
                Err(_) => Err(BodyError::Idle(idle)),
                Ok(None) => return None,
                Ok(Some(Err(e))) => Err(classify_body_error(&e)),
                Ok(Some(Ok(chunk))) if seen + chunk.len() > limit => Err(BodyError::TooLarge),
                Ok(Some(Ok(chunk))) => {
                    skim.push(&chunk);
                    let seen = seen + chunk.len();
                    return Some((Ok(chunk), (stream, seen, false, skim)));
                }
            };
            Some((item, (stream, seen, true, skim)))
        },
    );
    let read = futures_util::stream::iter(read.into_iter().map(Ok::<_, BodyError>));
    RequestBody::Streamed(reqwest::Body::wrap_stream(read.chain(rest)), skim)
}

fn classify_body_error(e: &axum::Error) -> BodyError {
    let io = find_source::<std::io::Error>(e);
    if let Some(io) = io
        && matches!(
            io.kind(),
            std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData
        )
    {
        return BodyError::Malformed(io.to_string());
    }
    if let Some(h) = find_source::<hyper::Error>(e)
        && h.is_parse()
    {
        return BodyError::Malformed(h.to_string());
    }
    let cause = io.map_or_else(|| e.to_string(), ToString::to_string);
    BodyError::ClientGone(cause)
}

/// `base` + `rest` + `?query`, refused unless it stays on `base`'s origin and path.
fn upstream_url(base: &str, rest: &str, query: Option<&str>) -> Option<reqwest::Url> {
    let base_url = reqwest::Url::parse(base).ok()?;
    let mut url = format!("{}{rest}", base.trim_end_matches('/'));
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    let url = reqwest::Url::parse(&url).ok()?;
    let base_path = base_url.path().trim_end_matches('/');
    let inside = url.path() == base_path || url.path().starts_with(&format!("{base_path}/"));
    (url.origin() == base_url.origin() && inside).then_some(url)
}

/// The router and the in-flight tracker it shares with the server loop.
fn router(config: GatewayConfig) -> Result<(Router, Arc<InFlight>), StartError> {
    let client = reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        .read_timeout(config.read_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        // Bodies pass through as the upstream sent them: never decompress (even if another
        // crate in the build turns on reqwest's decoders).
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .no_zstd()
        .build()
        .map_err(StartError::Client)?;
    let service = tower_layer_apply(client, config.upstream_labels());
    let inflight = Arc::new(InFlight::new());
    // The process-wide observation budget: request copies here, parsing and response
    // accumulation in the instrumentation.
    let budget = openllmetry_core::budget::global().clone();
    budget.set_capacity(config.observation_budget_bytes);
    let bedrock_signer = crate::sigv4::AwsSigner::from_env(&config.bedrock_upstream);
    match &bedrock_signer {
        Some(s) => {
            tracing::info!(region = %s.region(), "bedrock: forwarded requests are re-signed (SigV4) with the gateway's AWS credentials")
        }
        None => tracing::warn!(
            "bedrock: no AWS credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY): requests under /bedrock/ will be answered 502, since a client's signature is only valid for the gateway's host"
        ),
    }
    let state = Arc::new(AppState {
        budget,
        config,
        service,
        inflight: inflight.clone(),
        bedrock_signer,
    });
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route(FAULTS_PATH, get(faults))
        .fallback(proxy)
        .with_state(state);
    Ok((router, inflight))
}

fn tower_layer_apply(
    client: reqwest::Client,
    labels: Vec<(String, &'static str)>,
) -> OpenLlmService<reqwest::Client> {
    use tower_layer::Layer as _;
    let mut layer = OpenLlmLayer::new();
    // Later entries win on equal base URLs: explicit settings come last.
    for (base, provider) in labels {
        layer = layer.with_upstream_provider(base, provider);
    }
    layer.layer(client)
}

/// A gateway serving in the background.
#[derive(Debug)]
pub struct RunningGateway {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RunningGateway {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests and streams finish (up to the drain
    /// timeout), and returns when the server is done.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Waits until the server stops (after a shutdown signal).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

type ServerBuilder = hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>;

/// The HTTP/1 + HTTP/2 connection builder with the configured timeouts.
fn server_builder(config: &GatewayConfig) -> ServerBuilder {
    use hyper_util::rt::{TokioExecutor, TokioTimer};
    let mut builder = ServerBuilder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // hyper starts this timer whenever the connection waits for a request head, so it
        // bounds both a slow head and an idle keep-alive connection.
        .header_read_timeout(config.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(config.header_read_timeout))
        .keep_alive_timeout(config.header_read_timeout);
    builder
}

/// Accepts connections until `stop` turns true, at most `max_connections` at once (the rest
/// wait in the listen backlog). Returns the connection tasks, each already told to close
/// gracefully.
async fn accept_loop(
    listener: TcpListener,
    builder: Arc<ServerBuilder>,
    app: Router,
    max_connections: usize,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinSet<()> {
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections));
    let mut connections = tokio::task::JoinSet::new();
    let mut last_accept_log: Option<Instant> = None;
    let mut accept_errors = 0u64;
    let mut last_full_log: Option<Instant> = None;
    loop {
        while connections.try_join_next().is_some() {}
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if last_full_log.is_none_or(|t| t.elapsed() >= LOG_QUIET) {
                    tracing::warn!(
                        max_connections,
                        "connection limit reached; new clients wait until a connection closes"
                    );
                    last_full_log = Some(Instant::now());
                }
                tokio::select! {
                    p = slots.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
        };
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                accept_errors += 1;
                if last_accept_log.is_none_or(|t| t.elapsed() >= LOG_QUIET) {
                    tracing::warn!(
                        errors = accept_errors,
                        "accept failed: {e}; retrying every {}ms (is the file-descriptor limit too low?)",
                        ACCEPT_ERROR_BACKOFF.as_millis()
                    );
                    accept_errors = 0;
                    last_accept_log = Some(Instant::now());
                }
                tokio::select! {
                    _ = tokio::time::sleep(ACCEPT_ERROR_BACKOFF) => continue,
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
        };
        // Nagle's algorithm would hold back small writes (stream events) until the peer's
        // delayed ACK: every accepted socket gets TCP_NODELAY.
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let builder = builder.clone();
        let mut stop = stop.clone();
        connections.spawn(async move {
            let _permit = permit;
            let service =
                hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(Peer(peer));
                    let mut app = app.clone();
                    // Router is always ready; `call` needs no `poll_ready` first.
                    app.call(req.map(Body::new))
                });
            let io = hyper_util::rt::TokioIo::new(tcp);
            let conn = builder.serve_connection(io, service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!("connection closed with an error: {e}");
                    }
                    return;
                }
                _ = stop.wait_for(|s| *s) => {}
            }
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        });
    }
    drop(listener);
    connections
}

/// Binds and starts serving (errors: [`StartError`]). The returned handle stops the server on
/// [`RunningGateway::shutdown`]; `signal` (e.g. SIGINT/SIGTERM) stops it too.
pub async fn start(
    config: GatewayConfig,
    signal: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<RunningGateway, StartError> {
    config.validate().map_err(StartError::Config)?;
    let drain = config.drain_timeout;
    let bind_error = |source| StartError::Bind {
        addr: config.listen,
        source,
    };
    let listener = TcpListener::bind(config.listen).await.map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;
    let builder = Arc::new(server_builder(&config));
    let max_connections = config.max_connections;
    let (app, inflight) = router(config)?;
    let (tx, rx) = oneshot::channel::<()>();
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        tokio::select! {
            _ = rx => {},
            _ = signal => {},
        }
        let _ = stop_tx.send(true);
    });
    let task = tokio::spawn(async move {
        let mut connections = accept_loop(listener, builder, app, max_connections, stop_rx).await;
        // The listener is closed (new connections are refused); open connections were told
        // to close once their current exchange is done. Only requests in flight hold the
        // drain: idle or half-sent connections do not.
        tracing::info!(in_flight = inflight.len(), "draining in-flight requests");
        if inflight.len() > 0 {
            let started = Instant::now();
            inflight.wait_idle(drain).await;
            if inflight.len() > 0 && started.elapsed() >= drain {
                tracing::warn!(
                    in_flight = inflight.len(),
                    "drain timeout reached; cutting the remaining requests and streams"
                );
                let _ = inflight.abort.send(true);
                inflight.wait_idle(Duration::from_secs(2)).await;
            }
        }
        let _ = tokio::time::timeout(SHUTDOWN_LINGER, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        connections.abort_all();
        tracing::info!("gateway stopped");
    });
    tracing::info!(%addr, "gateway listening");
    Ok(RunningGateway {
        addr,
        shutdown: Some(tx),
        task,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_table() {
        let c = GatewayConfig::default();
        let none = HeaderMap::new();
        let mut anth = HeaderMap::new();
        anth.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
        type Case<'a> = (&'a str, &'a HeaderMap, Option<(&'a str, &'a str)>);
        let cases: &[Case<'_>] = &[
            (
                "/v1/chat/completions",
                &none,
                Some(("https://api.openai.com/v1", "/chat/completions")),
            ),
            (
                "/v1/embeddings",
                &none,
                Some(("https://api.openai.com/v1", "/embeddings")),
            ),
            (
                "/v1/messages",
                &none,
                Some(("https://api.anthropic.com", "/v1/messages")),
            ),
            (
                "/v1/messages/count_tokens",
                &none,
                Some(("https://api.anthropic.com", "/v1/messages/count_tokens")),
            ),
            (
                "/v1/complete",
                &none,
                Some(("https://api.anthropic.com", "/v1/complete")),
            ),
            (
                "/v1/models",
                &anth,
                Some(("https://api.anthropic.com", "/v1/models")),
            ),
            (
                "/v1/models",
                &none,
                Some(("https://api.openai.com/v1", "/models")),
            ),
            (
                "/openai/chat/completions",
                &none,
                Some(("https://api.openai.com/v1", "/chat/completions")),
            ),
            (
                "/anthropic/v1/messages",
                &none,
                Some(("https://api.anthropic.com", "/v1/messages")),
            ),
            (
                "/gemini/v1beta/models/gemini-2.5-flash:generateContent",
                &none,
                Some((
                    "https://generativelanguage.googleapis.com",
                    "/v1beta/models/gemini-2.5-flash:generateContent",
                )),
            ),
            (
                "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
                &none,
                Some((
                    "https://generativelanguage.googleapis.com",
                    "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
                )),
            ),
            (
                "/v1/models/gemini-2.5-flash:generateContent",
                &none,
                Some((
                    "https://generativelanguage.googleapis.com",
                    "/v1/models/gemini-2.5-flash:generateContent",
                )),
            ),
            (
                "/vertex/v1/projects/p/locations/global/publishers/google/models/g:generateContent",
                &none,
                Some((
                    "https://aiplatform.googleapis.com",
                    "/v1/projects/p/locations/global/publishers/google/models/g:generateContent",
                )),
            ),
            (
                "/v1beta1/projects/p/locations/global/publishers/anthropic/models/c:rawPredict",
                &none,
                Some((
                    "https://aiplatform.googleapis.com",
                    "/v1beta1/projects/p/locations/global/publishers/anthropic/models/c:rawPredict",
                )),
            ),
            (
                "/bedrock/model/amazon.titan-text-express-v1/invoke",
                &none,
                Some((
                    "https://bedrock-runtime.us-east-1.amazonaws.com",
                    "/model/amazon.titan-text-express-v1/invoke",
                )),
            ),
            ("/admin", &none, None),
            ("/", &none, None),
        ];
        for (path, headers, want) in cases {
            let got = route(&c, path, headers);
            let got = got.as_ref().map(|(b, r)| (*b, r.as_str()));
            assert_eq!(got, *want, "{path}");
        }
    }

    #[test]
    fn upstream_urls_stay_under_the_upstream_base() {
        let ok = |base: &str, rest: &str, q: Option<&str>| {
            upstream_url(base, rest, q).map(|u| u.to_string())
        };
        assert_eq!(
            ok("http://127.0.0.1:9/v1", "/chat/completions", Some("a=1")).as_deref(),
            Some("http://127.0.0.1:9/v1/chat/completions?a=1")
        );
        assert_eq!(
            ok("http://127.0.0.1:9", "/v1/messages", None).as_deref(),
            Some("http://127.0.0.1:9/v1/messages")
        );
        assert_eq!(
            ok(
                "https://h.example/openai/",
                "/deployments/d/embeddings",
                None
            )
            .as_deref(),
            Some("https://h.example/openai/deployments/d/embeddings")
        );
        for rest in ["/../x", "/../../admin", "/%2e%2e/x", "/./../y"] {
            assert_eq!(ok("http://127.0.0.1:9/v1", rest, None), None, "{rest}");
        }
        // The authority never comes from the request path.
        for rest in ["@evil.example/x", ":80@evil.example/", "/@evil.example/x"] {
            let u = upstream_url("http://127.0.0.1:9", rest, None);
            assert!(
                u.is_none_or(|u| u.host_str() == Some("127.0.0.1")),
                "{rest}"
            );
        }
    }

    #[test]
    fn accept_encoding_keeps_only_decodable() {
        let v =
            filter_accept_encoding(&HeaderValue::from_static("gzip, deflate, br, zstd")).unwrap();
        assert_eq!(v, "gzip, deflate");
        let v = filter_accept_encoding(&HeaderValue::from_static("br")).unwrap();
        assert_eq!(v, "identity");
    }
}
