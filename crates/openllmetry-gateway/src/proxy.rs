//! The proxy: routing, forwarding through the instrumenting service, and streaming back.

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
use openllmetry_http::{OpenLlmLayer, OpenLlmService};
use opentelemetry::propagation::Extractor;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinHandle;
use tower_service::Service;

use crate::config::GatewayConfig;

struct AppState {
    config: GatewayConfig,
    service: OpenLlmService<reqwest::Client>,
    inflight: Arc<InFlight>,
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
    if let Some(rest) = path.strip_prefix("/openai/") {
        return Some((&config.openai_upstream, format!("/{rest}")));
    }
    if let Some(rest) = path.strip_prefix("/anthropic/") {
        return Some((&config.anthropic_upstream, format!("/{rest}")));
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

async fn proxy(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let started = Instant::now();
    let guard = state.inflight.enter();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    // An HTTP/1 absolute-form target (`GET http://host/x`) is a forward-proxy request: the
    // gateway is not one. (HTTP/2 always carries the authority; only the path is used.)
    if parts.version < Version::HTTP_2 && parts.uri.authority().is_some() {
        tracing::info!(method = %parts.method, target = %parts.uri, status = 400, "refused: absolute-form request target (not a forward proxy)");
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
    let bytes = match axum::body::to_bytes(body, state.config.body_limit_bytes).await {
        Ok(b) => b,
        Err(_) => {
            tracing::info!(method = %parts.method, path = %path, status = 413, "request body over the limit");
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_too_large",
                "request body is larger than the gateway's limit",
            );
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
    *upstream.body_mut() = Some(reqwest::Body::from(bytes));

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
        service.call(upstream)
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
    match result {
        Ok(resp) => {
            let status = resp.status();
            tracing::info!(
                method = %parts.method,
                path = %path,
                status = status.as_u16(),
                upstream = %base,
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
            let (status, kind) = if e.is_timeout() {
                (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout")
            } else {
                (StatusCode::BAD_GATEWAY, "upstream_unreachable")
            };
            tracing::warn!(method = %parts.method, path = %path, status = status.as_u16(), upstream = %base, "upstream request failed: {kind}");
            error_response(status, kind, "the upstream could not be reached")
        }
    }
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
fn router(config: GatewayConfig) -> anyhow::Result<(Router, Arc<InFlight>)> {
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
        .build()?;
    let service = tower_layer_apply(client);
    let inflight = Arc::new(InFlight::new());
    let state = Arc::new(AppState {
        config,
        service,
        inflight: inflight.clone(),
    });
    let router = Router::new()
        .route("/healthz", get(healthz))
        .fallback(proxy)
        .with_state(state);
    Ok((router, inflight))
}

fn tower_layer_apply(client: reqwest::Client) -> OpenLlmService<reqwest::Client> {
    use tower_layer::Layer as _;
    OpenLlmLayer::new().layer(client)
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

/// Binds and starts serving. The returned handle stops the server on
/// [`RunningGateway::shutdown`]; `signal` (e.g. SIGINT/SIGTERM) stops it too.
pub async fn start(
    config: GatewayConfig,
    signal: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<RunningGateway> {
    config.validate()?;
    let drain = config.drain_timeout;
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let (app, inflight) = router(config)?;
    let (tx, rx) = oneshot::channel::<()>();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stop = async move {
        tokio::select! {
            _ = rx => {},
            _ = signal => {},
        }
        let _ = stop_tx.send(true);
    };
    let task = tokio::spawn(async move {
        use axum::serve::ListenerExt as _;
        // Nagle's algorithm would hold back small writes (stream events) until the peer's
        // delayed ACK: every accepted socket gets TCP_NODELAY.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let server = axum::serve(listener, app).with_graceful_shutdown(stop);
        let mut stop_rx = stop_rx;
        let server = std::pin::pin!(server.into_future());
        tokio::select! {
            r = server => {
                if let Err(e) = r {
                    tracing::error!("server error: {e}");
                }
            }
            _ = async {
                let _ = stop_rx.wait_for(|s| *s).await;
                tracing::info!(in_flight = inflight.len(), "draining in-flight requests");
                tokio::time::sleep(drain).await;
            } => {
                tracing::warn!(
                    in_flight = inflight.len(),
                    "drain timeout reached; cutting the remaining requests and streams"
                );
                let _ = inflight.abort.send(true);
                inflight.wait_idle(Duration::from_secs(2)).await;
            }
        }
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
