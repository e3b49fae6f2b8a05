//! A loopback receiver for the SDK's telemetry reports (see `TELEMETRY.md`).
//!
//! It stands in for the telemetry endpoint in tests and shows what a trustworthy receiving
//! end does:
//!
//! * it validates every report against its **own** copy of the schema (written here
//!   independently of the `openllmetry` crate, so it cross-checks the sender): unknown fields,
//!   unknown enum values, a wrong schema version or malformed constants are a `400`;
//! * it keeps **aggregate counts only** (per environment and per key), never a report as
//!   received, and **never stores the peer address** (it is dropped at `accept`);
//! * it counts accepted TCP connections, so a test can assert that nothing even tried to
//!   connect.
//!
//! ```no_run
//! use openllmetry_testkit::telemetry_receiver::TelemetryReceiver;
//! let receiver = TelemetryReceiver::start().unwrap();
//! // point the SDK at receiver.endpoint(), record faults ...
//! assert_eq!(receiver.connections(), 0);
//! ```

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};

/// The path reports are posted to.
pub const REPORTS_PATH: &str = "/v1/reports";
/// The only schema version this receiver accepts.
pub const SCHEMA_VERSION: u32 = 1;
/// Largest accepted body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest accepted number of entries in one report.
pub const MAX_ENTRIES: usize = 4096;

/// A report as the receiver understands it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Must be [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// SDK version (`[0-9A-Za-z.+-]`, at most 32 characters).
    pub sdk_version: String,
    /// Must be `rust`.
    pub language: String,
    /// Operating system (`[a-z0-9_]`, at most 32 characters).
    pub os: String,
    /// CPU architecture (`[a-z0-9_]`, at most 32 characters).
    pub arch: String,
    /// Counted keys (at least one, no duplicates, each count at least 1).
    pub entries: Vec<Entry>,
}

/// One counted key of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Where the fault happened.
    pub component: Component,
    /// The operation being observed.
    pub operation: Operation,
    /// What went wrong.
    pub kind: Kind,
    /// How many times.
    pub count: u64,
}

/// Components the schema allows.
#[allow(missing_docs)] // the wire names are the documentation (TELEMETRY.md)
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Component {
    #[serde(rename = "openai")]
    OpenAi,
    #[serde(rename = "anthropic")]
    Anthropic,
    #[serde(rename = "gemini")]
    Gemini,
    #[serde(rename = "ollama")]
    Ollama,
    #[serde(rename = "cohere")]
    Cohere,
    #[serde(rename = "mistral")]
    Mistral,
    #[serde(rename = "bedrock")]
    Bedrock,
    #[serde(rename = "sdk_init")]
    SdkInit,
    #[serde(rename = "sdk_export")]
    SdkExport,
    #[serde(rename = "sdk_entity")]
    SdkEntity,
    #[serde(rename = "sdk_association")]
    SdkAssociation,
    #[serde(rename = "sdk_span_processor")]
    SdkSpanProcessor,
}

/// Operations the schema allows.
#[allow(missing_docs)] // the wire names are the documentation (TELEMETRY.md)
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Chat,
    TextCompletion,
    Embeddings,
    Responses,
    Rerank,
    None,
}

/// Fault kinds the schema allows.
#[allow(missing_docs)] // the wire names are the documentation (TELEMETRY.md)
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    InvalidJson,
    UnexpectedShape,
    UnknownEvent,
    BodyTooLarge,
    EventTooLarge,
    StreamContentTruncated,
    UnsupportedEncoding,
    DecodeFailed,
    StreamIncomplete,
    RecorderPanicked,
    InflatedTooLarge,
    ValueTruncated,
    #[serde(rename = "observation_budget_exceeded")]
    ObservationBudget,
    EventStreamCorrupt,
    InitFailed,
    InvalidConfig,
    ExportFailed,
    QueueFull,
    SerializeFailed,
    PanicCaught,
    Other,
}

/// The metadata part of a report: what aggregates are grouped by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Environment {
    /// Schema version.
    pub schema_version: u32,
    /// SDK version.
    pub sdk_version: String,
    /// Language.
    pub language: String,
    /// Operating system.
    pub os: String,
    /// CPU architecture.
    pub arch: String,
}

/// An aggregation key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// Component.
    pub component: Component,
    /// Operation.
    pub operation: Operation,
    /// Fault kind.
    pub kind: Kind,
}

/// Why a report was rejected (the receiver answers `400` with this text).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// Not JSON, or not the schema (unknown field, unknown value, missing field, wrong type).
    Schema(String),
    /// A schema version this receiver does not accept.
    SchemaVersion(u32),
    /// A field whose value breaks the schema's constraints.
    Field(&'static str),
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Schema(e) => write!(f, "schema: {e}"),
            Rejection::SchemaVersion(v) => write!(f, "unsupported schema_version {v}"),
            Rejection::Field(name) => write!(f, "invalid value for {name}"),
        }
    }
}

impl std::error::Error for Rejection {}

fn token(value: &str, max: usize, allowed: impl Fn(char) -> bool) -> bool {
    !value.is_empty() && value.len() <= max && value.chars().all(allowed)
}

/// Validates a report body against the receiver's schema.
pub fn validate_report(body: &[u8]) -> Result<Report, Rejection> {
    let report: Report =
        serde_json::from_slice(body).map_err(|e| Rejection::Schema(e.to_string()))?;
    if report.schema_version != SCHEMA_VERSION {
        return Err(Rejection::SchemaVersion(report.schema_version));
    }
    if report.language != "rust" {
        return Err(Rejection::Field("language"));
    }
    if !token(&report.sdk_version, 32, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-')
    }) {
        return Err(Rejection::Field("sdk_version"));
    }
    let lower = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
    if !token(&report.os, 32, lower) {
        return Err(Rejection::Field("os"));
    }
    if !token(&report.arch, 32, lower) {
        return Err(Rejection::Field("arch"));
    }
    if report.entries.is_empty() || report.entries.len() > MAX_ENTRIES {
        return Err(Rejection::Field("entries"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for e in &report.entries {
        if e.count == 0 {
            return Err(Rejection::Field("entries[].count"));
        }
        if !seen.insert((e.component, e.operation, e.kind)) {
            return Err(Rejection::Field("entries"));
        }
    }
    Ok(report)
}

#[derive(Debug, Default)]
struct Aggregate {
    reports: u64,
    rejected: u64,
    by_environment: BTreeMap<Environment, BTreeMap<Key, u64>>,
}

#[derive(Debug, Default)]
struct Shared {
    connections: AtomicU64,
    aggregate: Mutex<Aggregate>,
}

impl Shared {
    fn aggregate(&self) -> MutexGuard<'_, Aggregate> {
        self.aggregate.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn accept(&self, report: Report) {
        let env = Environment {
            schema_version: report.schema_version,
            sdk_version: report.sdk_version,
            language: report.language,
            os: report.os,
            arch: report.arch,
        };
        let mut agg = self.aggregate();
        agg.reports += 1;
        let counts = agg.by_environment.entry(env).or_default();
        for e in report.entries {
            let key = Key {
                component: e.component,
                operation: e.operation,
                kind: e.kind,
            };
            let c = counts.entry(key).or_default();
            *c = c.saturating_add(e.count);
        }
    }
}

/// The receiver: an HTTP/1.1 server on `127.0.0.1`, on its own thread and runtime, stopped
/// when dropped.
#[derive(Debug)]
pub struct TelemetryReceiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TelemetryReceiver {
    /// Binds an ephemeral loopback port and starts serving.
    pub fn start() -> std::io::Result<TelemetryReceiver> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let shared = Arc::new(Shared::default());
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("telemetry-rx".into())
            .spawn({
                let shared = shared.clone();
                move || runtime.block_on(serve(listener, shared, stopped))
            })?;
        Ok(TelemetryReceiver {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:<port>/v1/reports`.
    pub fn endpoint(&self) -> String {
        format!("http://{}{REPORTS_PATH}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// TCP connections accepted so far (whatever was or was not sent on them).
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Reports accepted so far.
    pub fn reports(&self) -> u64 {
        self.shared.aggregate().reports
    }

    /// Requests rejected so far (wrong path, method, size or schema).
    pub fn rejected(&self) -> u64 {
        self.shared.aggregate().rejected
    }

    /// Counts per key, summed over every accepted report.
    pub fn counts(&self) -> BTreeMap<Key, u64> {
        let agg = self.shared.aggregate();
        let mut out = BTreeMap::new();
        for counts in agg.by_environment.values() {
            for (key, n) in counts {
                *out.entry(*key).or_insert(0) += n;
            }
        }
        out
    }

    /// The aggregate as reports: one per distinct environment, with every key's summed count
    /// (entries sorted by component, operation and kind names). After exactly one accepted
    /// report, this is that report.
    pub fn summary(&self) -> Vec<Report> {
        let agg = self.shared.aggregate();
        agg.by_environment
            .iter()
            .map(|(env, counts)| {
                let mut entries: Vec<Entry> = counts
                    .iter()
                    .map(|(k, n)| Entry {
                        component: k.component,
                        operation: k.operation,
                        kind: k.kind,
                        count: *n,
                    })
                    .collect();
                entries.sort_by_key(|e| (wire(&e.component), wire(&e.operation), wire(&e.kind)));
                Report {
                    schema_version: env.schema_version,
                    sdk_version: env.sdk_version.clone(),
                    language: env.language.clone(),
                    os: env.os.clone(),
                    arch: env.arch.clone(),
                    entries,
                }
            })
            .collect()
    }

    /// Waits until at least `n` reports were accepted; false on timeout.
    pub fn wait_for_reports(&self, n: u64, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if self.reports() >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.reports() >= n
    }
}

impl Drop for TelemetryReceiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn wire<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => {
                // The peer address is dropped here, unread.
                let Ok((stream, _)) = accepted else { continue };
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(req, &shared).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

fn reply(status: StatusCode, text: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    response
}

async fn handle(req: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    let rejected = |status: StatusCode, text: String| {
        shared.aggregate().rejected += 1;
        reply(status, text)
    };
    if req.uri().path() != REPORTS_PATH {
        return rejected(StatusCode::NOT_FOUND, "not found".into());
    }
    if req.method() != Method::POST {
        return rejected(StatusCode::METHOD_NOT_ALLOWED, "POST only".into());
    }
    let json = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().starts_with("application/json"));
    if !json {
        return rejected(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "application/json only".into(),
        );
    }
    let body = match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(_) => return rejected(StatusCode::PAYLOAD_TOO_LARGE, "too large".into()),
    };
    match validate_report(&body) {
        Ok(report) => {
            shared.accept(report);
            reply(StatusCode::NO_CONTENT, String::new())
        }
        Err(rejection) => rejected(StatusCode::BAD_REQUEST, rejection.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"{"schema_version":1,"sdk_version":"0.1.0","language":"rust","os":"linux","arch":"x86_64",
        "entries":[{"component":"openai","operation":"chat","kind":"invalid_json","count":2}]}"#;

    #[test]
    fn validation() {
        assert!(validate_report(VALID.as_bytes()).is_ok());
        let cases = [
            (
                VALID.replace(r#""count":2"#, r#""count":2,"message":"x""#),
                "unknown field",
            ),
            (
                VALID.replace(r#""arch""#, r#""host":"h","arch""#),
                "unknown field",
            ),
            (
                VALID.replace(r#""openai""#, r#""watsonx""#),
                "unknown variant",
            ),
            (
                VALID.replace(r#""schema_version":1"#, r#""schema_version":2"#),
                "schema_version",
            ),
            (VALID.replace(r#""linux""#, r#""Linux 6.1 host-7""#), "os"),
            (VALID.replace(r#""count":2"#, r#""count":0"#), "count"),
            (VALID.replace(r#""rust""#, r#""python""#), "language"),
        ];
        for (body, why) in cases {
            let err = validate_report(body.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(why), "{err} / {why}");
        }
    }
}
