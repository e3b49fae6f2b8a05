//! The HTTP side: OTLP/HTTP ingest behind a bounded queue, the JSON API, the embedded UI and
//! bearer authentication.

use std::io::Read as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message as _;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::extract::{LogRecordRow, SpanRecord, log_row, service_name, span_record};
use crate::prices::PriceTable;
use crate::store::{SessionKey, SqliteStore, Store, TraceQuery};

/// Default address of the UI and API.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8790";
/// Default capacity of the ingest queue, in export requests.
pub const DEFAULT_QUEUE_CAPACITY: usize = 256;
/// Largest accepted OTLP request body, compressed or not (and after gunzip).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Seconds a producer is told to wait (`Retry-After`) when the queue is full.
pub const RETRY_AFTER_SECS: u64 = 1;
/// Interval between retention passes of the writer.
pub const DEFAULT_RETENTION_INTERVAL: Duration = Duration::from_secs(30);

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");

/// Configuration of the viewer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UiConfig {
    /// Address of the UI, the API and OTLP/HTTP ingest (default [`DEFAULT_LISTEN`]).
    pub listen: SocketAddr,
    /// Extra OTLP/HTTP-only listener (the CLI's `--otlp-http`), if any.
    pub otlp_http: Option<SocketAddr>,
    /// OTLP/gRPC listener (the CLI's `--otlp-grpc`), if any.
    pub otlp_grpc: Option<SocketAddr>,
    /// SQLite database file.
    pub store_path: PathBuf,
    /// ClickHouse store (`--store clickhouse://...`); when set, used instead of `store_path`.
    pub clickhouse: Option<crate::store::clickhouse::ClickHouseConfig>,
    /// Delete data older than this many days (none: keep).
    pub retention_days: Option<u32>,
    /// Keep the store at most this many bytes, dropping the oldest data (none: no cap).
    pub max_store_bytes: Option<u64>,
    /// Bearer token; required for a non-loopback listen address.
    pub auth_token: Option<String>,
    /// Capacity of the ingest queue (default [`DEFAULT_QUEUE_CAPACITY`]).
    pub queue_capacity: usize,
    /// Interval between retention passes (default [`DEFAULT_RETENTION_INTERVAL`]).
    pub retention_interval: Duration,
}

impl UiConfig {
    /// A configuration with the defaults and this store file.
    pub fn new(store_path: impl Into<PathBuf>) -> Self {
        UiConfig {
            listen: DEFAULT_LISTEN.parse().expect("constant address"),
            otlp_http: None,
            otlp_grpc: None,
            store_path: store_path.into(),
            clickhouse: None,
            retention_days: None,
            max_store_bytes: None,
            auth_token: None,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            retention_interval: DEFAULT_RETENTION_INTERVAL,
        }
    }

    /// Sets the listen address.
    pub fn with_listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Sets the bearer token.
    pub fn with_auth_token(mut self, token: Option<String>) -> Self {
        self.auth_token = token.filter(|t| !t.is_empty());
        self
    }

    /// Sets the queue capacity (at least 1).
    pub fn with_queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity.max(1);
        self
    }

    /// Sets retention by age and size.
    pub fn with_retention(mut self, days: Option<u32>, max_bytes: Option<u64>) -> Self {
        self.retention_days = days;
        self.max_store_bytes = max_bytes;
        self
    }
}

/// Errors starting the viewer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UiError {
    /// A non-loopback address without a bearer token.
    #[error(
        "refusing to listen on non-loopback address {0} without a bearer token (--auth-token or OPENLLMETRY_UI_TOKEN)"
    )]
    NonLoopbackWithoutToken(SocketAddr),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A listener could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) accepted_requests: AtomicU64,
    pub(crate) rejected_queue_full: AtomicU64,
    pub(crate) rejected_invalid: AtomicU64,
    pub(crate) rejected_unauthorized: AtomicU64,
    pub(crate) spans_ingested: AtomicU64,
    pub(crate) logs_ingested: AtomicU64,
    pub(crate) write_errors: AtomicU64,
    pub(crate) retention_spans_deleted: AtomicU64,
    pub(crate) fault_reports_accepted: AtomicU64,
    pub(crate) fault_reports_rejected: AtomicU64,
}

pub(crate) type Batch = (Vec<SpanRecord>, Vec<LogRecordRow>);

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) prices: PriceTable,
    pub(crate) queue: mpsc::Sender<Batch>,
    pub(crate) capacity: usize,
    pub(crate) counters: Counters,
    pub(crate) token: Option<String>,
    pub(crate) writer_paused: AtomicBool,
}

/// A running viewer.
#[derive(Debug)]
pub struct UiServer {
    addr: SocketAddr,
    otlp_addr: Option<SocketAddr>,
    grpc_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl UiServer {
    /// Address of the UI, API and OTLP/HTTP ingest.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Address of the extra OTLP/HTTP listener, if configured.
    pub fn otlp_addr(&self) -> Option<SocketAddr> {
        self.otlp_addr
    }

    /// Address of the OTLP/gRPC listener, if configured.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc_addr
    }

    /// A span exporter writing into this viewer's store (for an in-process SDK).
    pub fn span_exporter(&self) -> crate::exporter::StoreExporter {
        crate::exporter::StoreExporter {
            shared: self.shared.clone(),
            resource: (&opentelemetry_sdk::Resource::builder_empty().build()).into(),
        }
    }

    /// The store behind the viewer.
    pub fn store(&self) -> Arc<dyn Store> {
        self.shared.store.clone()
    }

    /// Stops (or resumes) the writer taking batches from the queue; for tests and maintenance:
    /// while paused, ingest keeps answering and the queue fills, then producers get 429.
    #[doc(hidden)]
    pub fn pause_writer(&self, paused: bool) {
        self.shared.writer_paused.store(paused, Ordering::SeqCst);
    }

    /// Stops accepting connections and waits for the servers to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

/// Starts the viewer: opens the store, starts the writer and binds the listeners.
pub async fn start(config: UiConfig) -> Result<UiServer, UiError> {
    let token = config.auth_token.clone().filter(|t| !t.is_empty());
    for addr in std::iter::once(config.listen)
        .chain(config.otlp_http)
        .chain(config.otlp_grpc)
    {
        if !addr.ip().is_loopback() && token.is_none() {
            return Err(UiError::NonLoopbackWithoutToken(addr));
        }
    }
    let store: Arc<dyn Store> = match config.clickhouse.clone() {
        // Blocking HTTP client: opened (and migrated) off the async threads.
        Some(ch) => Arc::new(
            tokio::task::spawn_blocking(move || {
                crate::store::clickhouse::ClickHouseStore::open(ch)
            })
            .await
            .map_err(|e| crate::store::StoreError::Backend(e.to_string()))??,
        ),
        None => Arc::new(SqliteStore::open(&config.store_path)?),
    };
    let (tx, rx) = mpsc::channel::<Batch>(config.queue_capacity.max(1));
    let shared = Arc::new(Shared {
        store,
        prices: PriceTable::vendored(),
        queue: tx,
        capacity: config.queue_capacity.max(1),
        counters: Counters::default(),
        token,
        writer_paused: AtomicBool::new(false),
    });
    spawn_writer(shared.clone(), rx, &config);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| UiError::Bind(config.listen, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| UiError::Bind(config.listen, e))?;
    tasks.push(serve(
        listener,
        router(shared.clone(), true),
        stop_rx.clone(),
    ));
    let mut otlp_addr = None;
    if let Some(extra) = config.otlp_http {
        let l = tokio::net::TcpListener::bind(extra)
            .await
            .map_err(|e| UiError::Bind(extra, e))?;
        otlp_addr = Some(l.local_addr().map_err(|e| UiError::Bind(extra, e))?);
        tasks.push(serve(l, router(shared.clone(), false), stop_rx.clone()));
    }
    let mut grpc_addr = None;
    if let Some(g) = config.otlp_grpc {
        let l = tokio::net::TcpListener::bind(g)
            .await
            .map_err(|e| UiError::Bind(g, e))?;
        grpc_addr = Some(l.local_addr().map_err(|e| UiError::Bind(g, e))?);
        tasks.push(crate::grpc::serve(l, shared.clone(), stop_rx.clone()));
    }
    Ok(UiServer {
        addr,
        otlp_addr,
        grpc_addr,
        shared,
        shutdown: Some(stop_tx),
        tasks,
    })
}

fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|v| *v).await;
            })
            .await;
    })
}

/// The writer: one thread that owns the inserts and runs retention between batches, so
/// retention never blocks the producers (they only ever touch the queue).
fn spawn_writer(shared: Arc<Shared>, mut rx: mpsc::Receiver<Batch>, config: &UiConfig) {
    let retention_days = config.retention_days;
    let max_bytes = config.max_store_bytes;
    let interval = config.retention_interval;
    std::thread::Builder::new()
        .name("openllmetry-ui-writer".into())
        .spawn(move || {
            let mut last_retention = std::time::Instant::now();
            loop {
                if shared.writer_paused.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(20));
                    if Arc::strong_count(&shared) == 1 {
                        return;
                    }
                    continue;
                }
                let batch = match rx.try_recv() {
                    Ok(b) => Some(b),
                    Err(mpsc::error::TryRecvError::Empty) => {
                        std::thread::sleep(Duration::from_millis(10));
                        None
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => return,
                };
                if let Some((spans, logs)) = batch
                    && let Err(e) = shared.store.insert(&spans, &logs)
                {
                    shared.counters.write_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, "openllmetry ui: cannot write a batch");
                }
                if (retention_days.is_some() || max_bytes.is_some())
                    && last_retention.elapsed() >= interval
                {
                    last_retention = std::time::Instant::now();
                    let min =
                        retention_days.map(|d| now_ns() - i64::from(d) * 86_400 * 1_000_000_000);
                    match shared.store.retain(min, max_bytes) {
                        Ok(o) => {
                            shared
                                .counters
                                .retention_spans_deleted
                                .fetch_add(o.spans_deleted, Ordering::Relaxed);
                        }
                        Err(e) => tracing::warn!(error = %e, "openllmetry ui: retention failed"),
                    }
                }
                if Arc::strong_count(&shared) == 1 && rx.is_empty() {
                    return;
                }
            }
        })
        .expect("spawning the writer thread");
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn router(shared: Arc<Shared>, with_ui: bool) -> Router {
    let mut app = Router::new()
        .route("/v1/traces", post(ingest_traces))
        .route("/v1/logs", post(ingest_logs))
        .route(crate::faults::REPORTS_PATH, post(ingest_report));
    if with_ui {
        app = app
            .route(
                "/",
                get(|| async { asset(INDEX_HTML, "text/html; charset=utf-8") }),
            )
            .route(
                "/assets/app.js",
                get(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }),
            )
            .route(
                "/assets/app.css",
                get(|| async { asset(APP_CSS, "text/css; charset=utf-8") }),
            )
            .route("/api/status", get(status))
            .route("/api/traces", get(list_traces))
            .route("/api/sessions", get(list_sessions))
            .route("/api/dashboard", get(get_dashboard))
            .route("/api/faults", get(get_faults))
            .route("/api/traces/{trace_id}", get(get_trace))
            .route("/api/traces/{trace_id}/spans/{span_id}", get(get_span));
    }
    app.layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(shared.clone(), auth))
        .with_state(shared)
}

/// Bearer authentication when a token is configured (always for non-loopback addresses).
async fn auth(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    if let Some(token) = &shared.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !constant_time_eq(given.as_bytes(), token.as_bytes()) {
            shared
                .counters
                .rejected_unauthorized
                .fetch_add(1, Ordering::Relaxed);
            let mut r = (StatusCode::UNAUTHORIZED, "bearer token required").into_response();
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return r;
        }
    }
    next.run(req).await
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

#[derive(Clone, Copy)]
enum Format {
    Protobuf,
    Json,
}

/// Gunzips (bounded) and picks the format; `Err` is the rejection.
fn body_bytes(headers: &HeaderMap, body: Bytes) -> Result<(Format, Vec<u8>), (StatusCode, String)> {
    let h = |n: header::HeaderName| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default()
    };
    let mime = h(header::CONTENT_TYPE);
    let format = match mime.split(';').next().unwrap_or("").trim() {
        "application/x-protobuf" | "application/protobuf" => Format::Protobuf,
        "application/json" => Format::Json,
        other => {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported Content-Type {other:?}"),
            ));
        }
    };
    let bytes = match h(header::CONTENT_ENCODING).as_str() {
        "" | "identity" => body.to_vec(),
        "gzip" | "x-gzip" => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .take(MAX_BODY_BYTES as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|_| (StatusCode::BAD_REQUEST, "invalid gzip body".to_string()))?;
            if out.len() > MAX_BODY_BYTES {
                return Err((StatusCode::PAYLOAD_TOO_LARGE, "body too large".into()));
            }
            out
        }
        other => {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported Content-Encoding {other:?}"),
            ));
        }
    };
    Ok((format, bytes))
}

fn decode<T: prost::Message + Default + serde::de::DeserializeOwned>(
    format: Format,
    bytes: &[u8],
) -> Result<T, (StatusCode, String)> {
    match format {
        Format::Protobuf => T::decode(bytes)
            .map_err(|e| (StatusCode::BAD_REQUEST, format!("invalid protobuf: {e}"))),
        Format::Json => serde_json::from_slice(bytes)
            .map_err(|e| (StatusCode::BAD_REQUEST, format!("invalid JSON: {e}"))),
    }
}

/// Queues a batch; `false` (counted) when the queue is full.
pub(crate) fn try_enqueue(shared: &Shared, batch: Batch) -> bool {
    let (n_spans, n_logs) = (batch.0.len() as u64, batch.1.len() as u64);
    let c = &shared.counters;
    if shared.queue.try_send(batch).is_ok() {
        c.accepted_requests.fetch_add(1, Ordering::Relaxed);
        c.spans_ingested.fetch_add(n_spans, Ordering::Relaxed);
        c.logs_ingested.fetch_add(n_logs, Ordering::Relaxed);
        true
    } else {
        c.rejected_queue_full.fetch_add(1, Ordering::Relaxed);
        false
    }
}

fn enqueue(shared: &Shared, batch: Batch, format: Format, ok_body: Vec<u8>) -> Response {
    if try_enqueue(shared, batch) {
        match format {
            Format::Protobuf => {
                ([(header::CONTENT_TYPE, "application/x-protobuf")], ok_body).into_response()
            }
            Format::Json => ([(header::CONTENT_TYPE, "application/json")], "{}").into_response(),
        }
    } else {
        let mut r = (
            StatusCode::TOO_MANY_REQUESTS,
            "ingest queue full, retry later",
        )
            .into_response();
        r.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_str(&RETRY_AFTER_SECS.to_string()).expect("digits"),
        );
        r
    }
}

fn reject(shared: &Shared, (status, text): (StatusCode, String)) -> Response {
    shared
        .counters
        .rejected_invalid
        .fetch_add(1, Ordering::Relaxed);
    (status, text).into_response()
}

async fn ingest_traces(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match body_bytes(&headers, body)
        .and_then(|(f, b)| Ok((f, decode::<ExportTraceServiceRequest>(f, &b)?)))
    {
        Ok((f, r)) => {
            let batch = trace_batch(&shared, &r);
            enqueue(
                &shared,
                batch,
                f,
                ExportTraceServiceResponse::default().encode_to_vec(),
            )
        }
        Err(e) => reject(&shared, e),
    }
}

pub(crate) fn trace_batch(shared: &Shared, r: &ExportTraceServiceRequest) -> Batch {
    let mut spans = Vec::new();
    for rs in &r.resource_spans {
        let service = service_name(
            rs.resource
                .as_ref()
                .map(|r| &r.attributes[..])
                .unwrap_or(&[]),
        );
        for ss in &rs.scope_spans {
            for s in &ss.spans {
                spans.push(span_record(s, &service, &shared.prices));
            }
        }
    }
    (spans, Vec::new())
}

pub(crate) fn logs_batch(r: &ExportLogsServiceRequest) -> Batch {
    let mut logs = Vec::new();
    for rl in &r.resource_logs {
        let service = service_name(
            rl.resource
                .as_ref()
                .map(|r| &r.attributes[..])
                .unwrap_or(&[]),
        );
        for sl in &rl.scope_logs {
            for l in &sl.log_records {
                logs.push(log_row(l, &service));
            }
        }
    }
    (Vec::new(), logs)
}

async fn ingest_logs(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match body_bytes(&headers, body)
        .and_then(|(f, b)| Ok((f, decode::<ExportLogsServiceRequest>(f, &b)?)))
    {
        Ok((f, r)) => enqueue(
            &shared,
            logs_batch(&r),
            f,
            ExportLogsServiceResponse::default().encode_to_vec(),
        ),
        Err(e) => reject(&shared, e),
    }
}

fn store_error(e: crate::store::StoreError) -> Response {
    tracing::warn!(error = %e, "openllmetry ui: query failed");
    (StatusCode::INTERNAL_SERVER_ERROR, "store error").into_response()
}

async fn status(State(shared): State<Arc<Shared>>) -> Response {
    let c = &shared.counters;
    let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
    // Off the async threads: a store may block on the network (ClickHouse).
    let store = shared.store.clone();
    let (stats, schema_version) = tokio::task::spawn_blocking(move || {
        (
            store.stats().unwrap_or_default(),
            store.schema_version().unwrap_or(0),
        )
    })
    .await
    .unwrap_or_default();
    axum::Json(json!({
        "queue": {
            "capacity": shared.capacity,
            "queued": shared.capacity - shared.queue.capacity(),
        },
        "ingest": {
            "accepted_requests": l(&c.accepted_requests),
            "rejected_queue_full": l(&c.rejected_queue_full),
            "rejected_invalid": l(&c.rejected_invalid),
            "rejected_unauthorized": l(&c.rejected_unauthorized),
            "spans": l(&c.spans_ingested),
            "logs": l(&c.logs_ingested),
            "write_errors": l(&c.write_errors),
            "fault_reports_accepted": l(&c.fault_reports_accepted),
            "fault_reports_rejected": l(&c.fault_reports_rejected),
        },
        "store": {
            "spans": stats.spans,
            "logs": stats.logs,
            "bytes": stats.bytes,
            "retention_spans_deleted": l(&c.retention_spans_deleted),
            "schema_version": schema_version,
        },
        "prices": { "providers": shared.prices.provider_count() },
    }))
    .into_response()
}

async fn list_traces(State(shared): State<Arc<Shared>>, Query(q): Query<TraceQuery>) -> Response {
    let store = shared.store.clone();
    match tokio::task::spawn_blocking(move || store.list_traces(&q)).await {
        Ok(Ok(traces)) => axum::Json(json!({ "traces": traces })).into_response(),
        Ok(Err(e)) => store_error(e),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[derive(Debug, serde::Deserialize)]
struct SessionParams {
    /// `conversation` (default) or an association property name.
    by: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

async fn list_sessions(
    State(shared): State<Arc<Shared>>,
    Query(p): Query<SessionParams>,
) -> Response {
    let by = match p.by.as_deref() {
        None | Some("") | Some("conversation") => SessionKey::Conversation,
        Some(k) => SessionKey::Association(k.to_string()),
    };
    let store = shared.store.clone();
    let (limit, offset) = (p.limit.unwrap_or(50), p.offset.unwrap_or(0));
    match tokio::task::spawn_blocking(move || store.sessions(&by, limit, offset)).await {
        Ok(Ok(sessions)) => axum::Json(json!({ "sessions": sessions })).into_response(),
        Ok(Err(e)) => store_error(e),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn get_dashboard(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<crate::store::DashboardQuery>,
) -> Response {
    let store = shared.store.clone();
    match tokio::task::spawn_blocking(move || crate::store::dashboard(&*store, &q, now_ns())).await
    {
        Ok(Ok(d)) => axum::Json(d).into_response(),
        Ok(Err(e)) => store_error(e),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Default bucket of the fault-report view: one hour.
pub const DEFAULT_FAULT_BUCKET_NS: i64 = 3_600 * 1_000_000_000;

#[derive(Debug, serde::Deserialize)]
struct FaultParams {
    from_ns: Option<i64>,
    to_ns: Option<i64>,
    bucket_ns: Option<i64>,
}

async fn get_faults(State(shared): State<Arc<Shared>>, Query(p): Query<FaultParams>) -> Response {
    let store = shared.store.clone();
    let to = p.to_ns.unwrap_or_else(|| now_ns() + 1);
    let from = p.from_ns.unwrap_or(to - 7 * 86_400 * 1_000_000_000);
    let bucket = p
        .bucket_ns
        .unwrap_or(DEFAULT_FAULT_BUCKET_NS)
        .max(1_000_000_000);
    match tokio::task::spawn_blocking(move || store.fault_counts(from, to, bucket)).await {
        Ok(Ok(f)) => axum::Json(json!({
            "bucket_ns": bucket,
            "faults": f,
            "reports_accepted": shared.counters.fault_reports_accepted.load(Ordering::Relaxed),
            "reports_rejected": shared.counters.fault_reports_rejected.load(Ordering::Relaxed),
        }))
        .into_response(),
        Ok(Err(e)) => store_error(e),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// `POST /v1/reports`: an SDK fault report (TELEMETRY.md). Written directly (reports are small
/// and at most hourly per process); the peer address is never looked at.
async fn ingest_report(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let c = &shared.counters;
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        })
        .unwrap_or(false);
    let report = if json_type {
        crate::faults::parse_report(&body)
    } else {
        Err("Content-Type must be application/json".to_string())
    };
    match report {
        Ok(r) => {
            let store = shared.store.clone();
            match tokio::task::spawn_blocking(move || store.insert_fault_report(now_ns(), &r)).await
            {
                Ok(Ok(())) => {
                    c.fault_reports_accepted.fetch_add(1, Ordering::Relaxed);
                    (StatusCode::OK, "").into_response()
                }
                Ok(Err(e)) => store_error(e),
                Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            }
        }
        Err(e) => {
            c.fault_reports_rejected.fetch_add(1, Ordering::Relaxed);
            (StatusCode::BAD_REQUEST, e).into_response()
        }
    }
}

/// Adds `depth` (nesting level) to each span; spans whose parent is missing are roots.
fn with_depth(mut spans: Vec<Value>) -> Vec<Value> {
    let ids: std::collections::HashMap<String, Option<String>> = spans
        .iter()
        .map(|s| {
            (
                s["span_id"].as_str().unwrap_or_default().to_string(),
                s["parent_span_id"].as_str().map(str::to_string),
            )
        })
        .collect();
    for s in &mut spans {
        let mut depth = 0;
        let mut cur = s["parent_span_id"].as_str().map(str::to_string);
        while let Some(p) = cur {
            if depth > ids.len() {
                break;
            }
            match ids.get(&p) {
                Some(next) => {
                    depth += 1;
                    cur = next.clone();
                }
                None => break,
            }
        }
        s["depth"] = json!(depth);
    }
    spans
}

async fn get_trace(State(shared): State<Arc<Shared>>, Path(trace_id): Path<String>) -> Response {
    let store = shared.store.clone();
    let id = trace_id.clone();
    match tokio::task::spawn_blocking(move || store.trace_spans(&id)).await {
        Ok(Ok(spans)) if spans.is_empty() => {
            (StatusCode::NOT_FOUND, "no such trace").into_response()
        }
        Ok(Ok(spans)) => {
            axum::Json(json!({ "trace_id": trace_id, "spans": with_depth(spans) })).into_response()
        }
        Ok(Err(e)) => store_error(e),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn get_span(
    State(shared): State<Arc<Shared>>,
    Path((trace_id, span_id)): Path<(String, String)>,
) -> Response {
    let store = shared.store.clone();
    match tokio::task::spawn_blocking(move || store.span(&trace_id, &span_id)).await {
        Ok(Ok(Some(span))) => axum::Json(span).into_response(),
        Ok(Ok(None)) => (StatusCode::NOT_FOUND, "no such span").into_response(),
        Ok(Err(e)) => store_error(e),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Runs the viewer until Ctrl-C, printing its URL.
pub async fn run(config: UiConfig) -> Result<(), UiError> {
    let server = start(config).await?;
    println!("openllmetry ui: http://{}/", server.addr());
    if let Some(g) = server.grpc_addr() {
        println!("  OTLP/gRPC: http://{g}");
    }
    println!(
        "  OTLP/HTTP: http://{}/v1/traces and /v1/logs",
        server.otlp_addr().unwrap_or(server.addr())
    );
    let _ = tokio::signal::ctrl_c().await;
    server.shutdown().await;
    Ok(())
}
