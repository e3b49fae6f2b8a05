//! The proxy: routing, forwarding through the instrumenting service, and streaming back.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::TryStreamExt;
use openllmetry_http::{OpenLlmLayer, OpenLlmService};
use opentelemetry::propagation::Extractor;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower_service::Service;

use crate::config::GatewayConfig;

struct AppState {
    config: GatewayConfig,
    service: OpenLlmService<reqwest::Client>,
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) and those the HTTP stacks set themselves.
const HOP_BY_HOP: &[&str] = &[
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
    let body = format!(
        "{{\"error\":{{\"type\":\"{kind}\",\"message\":{}}}}}",
        quote(message)
    );
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

async fn healthz() -> &'static str {
    "ok"
}

async fn proxy(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let Some((base, rest)) = route(&state.config, &path, &parts.headers) else {
        tracing::info!(method = %parts.method, path = %path, status = 404, "refused: no upstream for this path");
        return error_response(
            StatusCode::NOT_FOUND,
            "not_found",
            "no upstream is configured for this path",
        );
    };
    let mut url = format!("{}{rest}", base.trim_end_matches('/'));
    if let Some(q) = parts.uri.query() {
        url.push('?');
        url.push_str(q);
    }
    let Ok(url) = reqwest::Url::parse(&url) else {
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
    for (name, value) in &parts.headers {
        if is_hop_by_hop(name) {
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
    match fut.await {
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
            if let Some(h) = builder.headers_mut() {
                for (name, value) in resp.headers() {
                    if !is_hop_by_hop(name) {
                        h.append(name.clone(), value.clone());
                    }
                }
            }
            let stream = resp.bytes_stream().map_err(std::io::Error::other);
            builder.body(Body::from_stream(stream)).unwrap_or_else(|_| {
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

/// The router (for embedding the gateway in another server).
fn router(config: GatewayConfig) -> anyhow::Result<Router> {
    let client = reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        .read_timeout(config.read_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .build()?;
    let service = tower_layer_apply(client);
    let state = Arc::new(AppState { config, service });
    Ok(Router::new()
        .route("/healthz", get(healthz))
        .fallback(proxy)
        .with_state(state))
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
    let app = router(config)?;
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
                tokio::time::sleep(drain).await;
            } => {
                tracing::warn!("drain timeout reached; closing remaining connections");
            }
        }
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
        let cases: &[(&str, &HeaderMap, Option<(&str, &str)>)] = &[
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
    fn accept_encoding_keeps_only_decodable() {
        let v =
            filter_accept_encoding(&HeaderValue::from_static("gzip, deflate, br, zstd")).unwrap();
        assert_eq!(v, "gzip, deflate");
        let v = filter_accept_encoding(&HeaderValue::from_static("br")).unwrap();
        assert_eq!(v, "identity");
    }
}
