//! A replaying HTTP/1.1 server on loopback: serves recorded [`Interaction`]s the way vcrpy
//! replays a cassette, over a real TCP socket, so clients, adapters and gateways are exercised
//! end to end.
//!
//! * **Sequential (vcrpy) mode** ([`ReplayServer::start`], [`ReplayServer::builder`]): a request
//!   is answered by the first not-yet-played interaction with the same method, path and query
//!   (scheme, host and port are ignored; the body is not compared). Each interaction plays once
//!   (unless [`ReplayBuilder::reuse`]).
//! * **Pool mode** ([`ReplayServer::pool`]): a fake provider serving many cassettes at once.
//!   For each request, the first unplayed interaction that matches best wins, in this order:
//!   same method + path + query *and* an equal JSON body; an equal JSON body (same method, any
//!   path); same method + path + query *and* the same `stream` flag in the JSON body (absent
//!   counts as `false`), so a streaming request never gets a plain JSON answer or the reverse.
//!   With [`ReplayBuilder::reuse`], played interactions are considered again (same order) when
//!   no unplayed one matches.
//! * **Loop mode** ([`ReplayServer::looping`]): one interaction answers every request, as fast
//!   as possible (for benchmarks). Requests are not recorded unless
//!   [`ReplayBuilder::record_requests`] is set.
//!
//! Responses carry the recorded status and headers minus hop-by-hop and length headers
//! (`Content-Length`, `Transfer-Encoding`, `Connection`, `Keep-Alive`, ...; hyper frames the
//! body itself); `Content-Encoding` and `Content-Type` are kept and the body bytes are the
//! recorded ones (a gzip body is served gzip-compressed). With
//! [`ReplayBuilder::honour_accept_encoding`], a recorded gzip body goes to a client whose
//! `Accept-Encoding` does not accept gzip decompressed, without `Content-Encoding` (clients that
//! accept gzip still get the exact recorded bytes). A `text/event-stream` body is sent
//! **one event per body frame**, each flushed to the socket before the next is produced, with
//! an optional delay before each event ([`ReplayBuilder::with_event_delay`]).
//!
//! A request that matches nothing gets status [`UNMATCHED_STATUS`] (599) with a plain-text
//! explanation and is counted ([`ReplayServer::unmatched`]). Every request is recorded
//! ([`ReplayServer::requests`]); [`ReplayBuilder::on_request`] sees each one with the index of
//! the interaction that answered it, as it is answered. All accepted sockets have `TCP_NODELAY`
//! set.
//!
//! The server runs on its own thread and Tokio runtime, so it works the same from async tests,
//! blocking tests and tests that block on a child process; it stops when dropped.
//!
//! ```no_run
//! # async fn demo() {
//! use openllmetry_replay::{cassette::Cassette, replay::ReplayServer};
//! let cassette = Cassette::load_named("openai/test_chat/test_chat.yaml").unwrap();
//! let server = ReplayServer::start(&cassette).await;
//! // point a client at format!("{}/v1", server.base_url()) ...
//! assert_eq!(server.unmatched(), 0);
//! assert_eq!(server.requests()[0].path(), "/v1/chat/completions");
//! # }
//! ```

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};

use crate::cassette::{Interaction, gunzip, split_sse_events};

/// Status of the answer to a request that matches no interaction (vcrpy raises
/// `CannotOverwriteExistingCassetteException` instead). Configurable with
/// [`ReplayBuilder::unmatched_status`].
pub const UNMATCHED_STATUS: u16 = 599;

/// Invalid JSON used by [`Fault::InvalidJsonBody`] and [`Fault::InvalidJsonEvent`]: a
/// truncated object.
pub const INVALID_JSON: &str = r#"{"id": "testkit-invalid-json", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assist"#;

/// Response headers never replayed (hyper frames the body; connection management is local).
const SKIPPED_RESPONSE_HEADERS: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// How requests are matched to interactions (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplayMode {
    /// vcrpy semantics: method + path + query, in order, each once.
    #[default]
    Sequential,
    /// Fake provider: prefer equal JSON bodies, then method + path + query.
    Pool,
    /// The first interaction answers every request.
    Loop,
}

/// A deliberate misbehaviour of the server, for fault-injection tests (see
/// [`ReplayBuilder::with_fault`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Send the headers and the first `n` events, then close the connection without ending the
    /// response. A body that is not an event stream counts as one event (so `0` closes right
    /// after the headers). The response never completes cleanly, even if `n` is at least the
    /// number of events.
    CloseAfterEvents(usize),
    /// Send the headers and the first `n` body bytes (as served, e.g. gzip-compressed), then
    /// close the connection.
    CloseAfterBytes(usize),
    /// Replace the whole body with [`INVALID_JSON`] (sent in one frame, `Content-Encoding`
    /// removed, other headers kept).
    InvalidJsonBody,
    /// In an event stream, replace the payload of every `data:` line of event `n` (0-based)
    /// with [`INVALID_JSON`]. No effect on other bodies.
    InvalidJsonEvent(usize),
    /// Replace the whole body with these bytes (`Content-Encoding` removed).
    ReplaceBody(Vec<u8>),
    /// Answer with this status instead of the recorded one (headers and body kept).
    Status(u16),
    /// Wait this long before sending the response headers.
    DelayHeaders(Duration),
}

/// A request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedRequest {
    /// Method, e.g. `POST`.
    pub method: String,
    /// Path and query as sent, e.g. `/v1/chat/completions`.
    pub path_and_query: String,
    /// Headers in received order (names lower-case; values lossily decoded as UTF-8).
    pub headers: Vec<(String, String)>,
    /// Body bytes as received.
    pub body: Vec<u8>,
    /// Index of the interaction that answered it, `None` if unmatched.
    pub interaction: Option<usize>,
}

impl ReceivedRequest {
    /// The first value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        split_query(&self.path_and_query).0
    }

    /// The query without the `?`, if any.
    pub fn query(&self) -> Option<&str> {
        split_query(&self.path_and_query).1
    }

    /// The body as JSON, if it is JSON.
    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body as UTF-8 text (lossy).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn split_query(pq: &str) -> (&str, Option<&str>) {
    match pq.find('?') {
        Some(i) => (&pq[..i], Some(&pq[i + 1..])),
        None => (pq, None),
    }
}

/// Query pairs sorted, the way vcrpy's `query` matcher compares them.
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.find('=') {
            Some(i) => (p[..i].to_string(), p[i + 1..].to_string()),
            None => (p.to_string(), String::new()),
        })
        .collect();
    pairs.sort();
    pairs
}

/// A callback run for every request the server answers (see [`ReplayBuilder::on_request`]).
#[derive(Clone)]
struct RequestHook(Arc<dyn Fn(&ReceivedRequest) + Send + Sync>);

impl fmt::Debug for RequestHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RequestHook")
    }
}

/// Configures and starts a [`ReplayServer`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until started"]
pub struct ReplayBuilder {
    interactions: Vec<Interaction>,
    mode: ReplayMode,
    reuse: bool,
    honour_accept_encoding: bool,
    on_request: Option<RequestHook>,
    event_delay: Option<Duration>,
    faults: Vec<(Option<usize>, Fault)>,
    record: Option<bool>,
    worker_threads: usize,
    addr: SocketAddr,
    unmatched_status: u16,
}

impl ReplayBuilder {
    fn new(interactions: Vec<Interaction>, mode: ReplayMode) -> Self {
        ReplayBuilder {
            interactions,
            mode,
            reuse: false,
            honour_accept_encoding: false,
            on_request: None,
            event_delay: None,
            faults: Vec::new(),
            record: None,
            worker_threads: 0,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            unmatched_status: UNMATCHED_STATUS,
        }
    }

    /// Sets the matching mode.
    pub fn mode(mut self, mode: ReplayMode) -> Self {
        self.mode = mode;
        self
    }

    /// Serve played interactions again when no unplayed one matches (vcrpy's
    /// `allow_playback_repeats`). Default: off.
    pub fn reuse(mut self, reuse: bool) -> Self {
        self.reuse = reuse;
        self
    }

    /// Serve a recorded gzip body decompressed, without `Content-Encoding`, to a client whose
    /// `Accept-Encoding` does not accept gzip (no header, `identity`, or `gzip;q=0`); a client
    /// that accepts gzip gets the exact recorded bytes. Default: off (vcrpy semantics: the
    /// recorded bytes for everyone), which tests of decompression on the client side rely on;
    /// `openllmetry replay` and `openllmetry demo` turn it on.
    pub fn honour_accept_encoding(mut self, honour: bool) -> Self {
        self.honour_accept_encoding = honour;
        self
    }

    /// Call `hook` for every request, as it is answered, with the interaction index that
    /// answers it ([`ReceivedRequest::interaction`], `None` when nothing matched). Runs on the
    /// server's thread: keep it short (e.g. one log line).
    pub fn on_request(mut self, hook: impl Fn(&ReceivedRequest) + Send + Sync + 'static) -> Self {
        self.on_request = Some(RequestHook(Arc::new(hook)));
        self
    }

    /// Wait this long before sending each event of an event stream (the first one included).
    pub fn with_event_delay(mut self, delay: Duration) -> Self {
        self.event_delay = Some(delay);
        self
    }

    /// Apply a fault to every response served from an interaction. Several faults combine.
    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.faults.push((None, fault));
        self
    }

    /// Apply a fault only when interaction `index` is served.
    pub fn with_fault_for(mut self, index: usize, fault: Fault) -> Self {
        self.faults.push((Some(index), fault));
        self
    }

    /// Record received requests for [`ReplayServer::requests`]. Default: on, except in loop
    /// mode.
    pub fn record_requests(mut self, record: bool) -> Self {
        self.record = Some(record);
        self
    }

    /// Serve on a multi-threaded runtime with this many workers (default: one thread).
    pub fn worker_threads(mut self, threads: usize) -> Self {
        self.worker_threads = threads;
        self
    }

    /// Listen on this address instead of `127.0.0.1:0`.
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Status for requests that match no interaction (default [`UNMATCHED_STATUS`]).
    pub fn unmatched_status(mut self, status: u16) -> Self {
        self.unmatched_status = status;
        self
    }

    /// Binds and starts serving on a thread of its own.
    pub fn spawn(self) -> io::Result<ReplayServer> {
        if self.mode == ReplayMode::Loop && self.interactions.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "loop mode needs an interaction",
            ));
        }
        let unmatched_status = StatusCode::from_u16(self.unmatched_status)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let listener = std::net::TcpListener::bind(self.addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = if self.worker_threads > 0 {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(self.worker_threads)
                .thread_name("replay-server-worker")
                .enable_all()
                .build()?
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
        };
        let count = self.interactions.len();
        let shared = Arc::new(Shared {
            record: self.record.unwrap_or(self.mode != ReplayMode::Loop),
            prepared: self.interactions.into_iter().map(Prepared::new).collect(),
            mode: self.mode,
            reuse: self.reuse,
            honour_accept_encoding: self.honour_accept_encoding,
            on_request: self.on_request,
            event_delay: self.event_delay,
            faults: self.faults,
            unmatched_status,
            played: AtomicUsize::new(0),
            unmatched: AtomicUsize::new(0),
            state: Mutex::new(State {
                play_counts: vec![0; count],
                requests: Vec::new(),
            }),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("replay-server".into())
            .spawn({
                let shared = shared.clone();
                move || runtime.block_on(serve(listener, shared, stopped))
            })?;
        Ok(ReplayServer {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Binds and starts serving (see [`spawn`](Self::spawn)); panics if the address cannot be
    /// bound.
    pub async fn start(self) -> ReplayServer {
        self.spawn()
            .unwrap_or_else(|e| panic!("ReplayServer: cannot start: {e}"))
    }
}

/// A running replay server; stops when dropped. See the [module docs](self).
pub struct ReplayServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for ReplayServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayServer")
            .field("addr", &self.addr)
            .field("mode", &self.shared.mode)
            .field("interactions", &self.shared.prepared.len())
            .field("played", &self.played())
            .field("unmatched", &self.unmatched())
            .finish()
    }
}

impl ReplayServer {
    /// Starts a sequential (vcrpy-style) server for a cassette, `&Cassette`, `Vec<Interaction>`
    /// or a single interaction, with default options.
    pub async fn start(source: impl Into<Vec<Interaction>>) -> ReplayServer {
        ReplayServer::builder(source).start().await
    }

    /// A builder for a sequential (vcrpy-style) server.
    pub fn builder(source: impl Into<Vec<Interaction>>) -> ReplayBuilder {
        ReplayBuilder::new(source.into(), ReplayMode::Sequential)
    }

    /// A builder for a pool-mode server (a fake provider over many cassettes; combine them
    /// with [`Cassette::concat`](crate::cassette::Cassette::concat)).
    pub fn pool(source: impl Into<Vec<Interaction>>) -> ReplayBuilder {
        ReplayBuilder::new(source.into(), ReplayMode::Pool)
    }

    /// A builder for a loop-mode server: `interaction` answers every request.
    pub fn looping(interaction: impl Into<Interaction>) -> ReplayBuilder {
        ReplayBuilder::new(vec![interaction.into()], ReplayMode::Loop)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `base_url()` followed by `path` (which should start with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Responses served from interactions so far (every one in loop mode).
    pub fn played(&self) -> usize {
        self.shared.played.load(Ordering::SeqCst)
    }

    /// Requests that matched no interaction so far.
    pub fn unmatched(&self) -> usize {
        self.shared.unmatched.load(Ordering::SeqCst)
    }

    /// Indices of the interactions not played yet.
    pub fn unplayed(&self) -> Vec<usize> {
        self.shared
            .state()
            .play_counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n == 0)
            .map(|(i, _)| i)
            .collect()
    }

    /// How often each interaction was played, by index.
    pub fn play_counts(&self) -> Vec<usize> {
        self.shared.state().play_counts.clone()
    }

    /// Number of interactions the server was given.
    pub fn interaction_count(&self) -> usize {
        self.shared.prepared.len()
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.shared.state().requests.clone()
    }

    /// The last request received, if any.
    pub fn last_request(&self) -> Option<ReceivedRequest> {
        self.shared.state().requests.last().cloned()
    }

    /// Panics with a helpful message unless every interaction was played and no request was
    /// unmatched.
    pub fn assert_all_played(&self) {
        let unplayed = self.unplayed();
        let unmatched: Vec<String> = self
            .requests()
            .iter()
            .filter(|r| r.interaction.is_none())
            .map(|r| format!("{} {}", r.method, r.path_and_query))
            .collect();
        assert!(
            unplayed.is_empty() && self.unmatched() == 0,
            "ReplayServer: unplayed interactions {unplayed:?}, {} unmatched request(s) {unmatched:?}",
            self.unmatched()
        );
    }

    /// Stops the server now (dropping it does the same).
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ReplayServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// An interaction prepared for serving.
#[derive(Debug)]
struct Prepared {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    request_body: Vec<u8>,
    request_json: Option<serde_json::Value>,
    /// The recorded request body's `stream` flag (`false` when absent or not JSON).
    stream: bool,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    /// The body split into server-sent events, if it is an uncompressed event stream.
    events: Option<Vec<Bytes>>,
    /// For a gzip body that decompresses: the plain body, and its events if it is an event
    /// stream (served to clients that do not accept gzip).
    decoded: Option<(Bytes, Option<Vec<Bytes>>)>,
}

impl Prepared {
    fn new(interaction: Interaction) -> Prepared {
        let Interaction { request, response } = interaction;
        let (path, query) = split_query(request.path_and_query());
        let mut headers = HeaderMap::new();
        for (name, value) in &response.headers {
            let lower = name.to_ascii_lowercase();
            if SKIPPED_RESPONSE_HEADERS.contains(&lower.as_str()) {
                continue;
            }
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(lower.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(name, value);
            }
        }
        let encoded = response
            .header("content-encoding")
            .is_some_and(|ce| !ce.trim().is_empty() && !ce.trim().eq_ignore_ascii_case("identity"));
        let body = Bytes::from(response.body.clone());
        let split = |body: &Bytes| -> Vec<Bytes> {
            split_sse_events(body)
                .into_iter()
                .map(|event| body.slice_ref(event))
                .collect()
        };
        let events = (response.is_event_stream() && !encoded).then(|| split(&body));
        let decoded = if response.is_gzip() {
            gunzip(&body).map(|plain| {
                let plain = Bytes::from(plain);
                let events = response.is_event_stream().then(|| split(&plain));
                (plain, events)
            })
        } else {
            None
        };
        let request_json: Option<serde_json::Value> = serde_json::from_slice(&request.body).ok();
        Prepared {
            method: request.method.to_ascii_uppercase(),
            path: path.to_string(),
            query: query_pairs(query),
            stream: stream_flag(request_json.as_ref()),
            request_json,
            request_body: request.body,
            status: StatusCode::from_u16(response.status).unwrap_or(StatusCode::OK),
            headers,
            body,
            events,
            decoded,
        }
    }
}

/// The `stream` flag of a JSON request body: `true` only for `"stream": true`.
fn stream_flag(json: Option<&serde_json::Value>) -> bool {
    json.and_then(|j| j.get("stream"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
}

/// Whether an `Accept-Encoding` header value accepts gzip (`gzip`, `x-gzip` or `*` with a
/// non-zero quality). No header accepts only `identity`.
fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    let Some(value) = accept_encoding else {
        return false;
    };
    value.split(',').any(|item| {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let quality = parts
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("q")
                    .then(|| v.trim().parse::<f32>().ok())
                    .flatten()
            })
            .next()
            .unwrap_or(1.0);
        matches!(coding.as_str(), "gzip" | "x-gzip" | "*") && quality > 0.0
    })
}

/// What the matcher needs from an incoming request.
struct Probe<'a> {
    method: &'a str,
    path: &'a str,
    query: Vec<(String, String)>,
    body: &'a [u8],
    json: Option<serde_json::Value>,
    stream: bool,
}

impl Probe<'_> {
    fn same_route(&self, p: &Prepared) -> bool {
        p.method == self.method && p.path == self.path && p.query == self.query
    }

    fn same_body(&self, p: &Prepared) -> bool {
        match (&p.request_json, &self.json) {
            (Some(recorded), Some(incoming)) => recorded == incoming,
            _ => !self.body.is_empty() && p.request_body == self.body,
        }
    }
}

#[derive(Debug)]
struct State {
    play_counts: Vec<usize>,
    requests: Vec<ReceivedRequest>,
}

#[derive(Debug)]
struct Shared {
    prepared: Vec<Prepared>,
    mode: ReplayMode,
    reuse: bool,
    honour_accept_encoding: bool,
    on_request: Option<RequestHook>,
    record: bool,
    event_delay: Option<Duration>,
    faults: Vec<(Option<usize>, Fault)>,
    unmatched_status: StatusCode,
    played: AtomicUsize,
    unmatched: AtomicUsize,
    state: Mutex<State>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Picks the interaction for a request, marks it played and records the request.
    fn choose(&self, req: &ReceivedRequest) -> Option<usize> {
        let (path, query) = split_query(&req.path_and_query);
        let incoming = Probe {
            method: &req.method,
            path,
            query: query_pairs(query),
            body: &req.body,
            json: match self.mode {
                ReplayMode::Pool => serde_json::from_slice(&req.body).ok(),
                _ => None,
            },
            stream: false,
        };
        let incoming = Probe {
            stream: stream_flag(incoming.json.as_ref()),
            ..incoming
        };
        let mut state = self.state();
        let chosen = match self.mode {
            ReplayMode::Loop => Some(0),
            ReplayMode::Sequential => {
                let tiers: [&dyn Fn(&Prepared) -> bool; 1] = [&|p| incoming.same_route(p)];
                self.pick(&state.play_counts, &tiers)
            }
            ReplayMode::Pool => {
                let tiers: [&dyn Fn(&Prepared) -> bool; 3] = [
                    &|p| incoming.same_route(p) && incoming.same_body(p),
                    &|p| p.method == incoming.method && incoming.same_body(p),
                    &|p| incoming.same_route(p) && p.stream == incoming.stream,
                ];
                self.pick(&state.play_counts, &tiers)
            }
        };
        match chosen {
            Some(i) => {
                state.play_counts[i] += 1;
                self.played.fetch_add(1, Ordering::SeqCst);
            }
            None => {
                self.unmatched.fetch_add(1, Ordering::SeqCst);
            }
        }
        if self.record || chosen.is_none() {
            let mut req = req.clone();
            req.interaction = chosen;
            state.requests.push(req);
        }
        chosen
    }

    fn pick(&self, play_counts: &[usize], tiers: &[&dyn Fn(&Prepared) -> bool]) -> Option<usize> {
        let first = |unplayed_only: bool| {
            tiers.iter().find_map(|matches| {
                self.prepared
                    .iter()
                    .enumerate()
                    .find(|(i, p)| (!unplayed_only || play_counts[*i] == 0) && matches(p))
                    .map(|(i, _)| i)
            })
        };
        first(true).or_else(|| if self.reuse { first(false) } else { None })
    }

    fn unmatched_response(&self, req: &ReceivedRequest) -> Response<ReplayBody> {
        let state = self.state();
        let played = state.play_counts.iter().filter(|n| **n > 0).count();
        let how = match self.mode {
            ReplayMode::Pool => {
                "an equal JSON body, or method + path + query with the same `stream` flag"
            }
            _ => "method + path + query",
        };
        let text = format!(
            "openllmetry replay: no {}interaction matches {} {} \
             (matching on {how}; {} interactions, {played} played). Recorded routes: {}\n",
            if self.reuse { "" } else { "unplayed " },
            req.method,
            req.path_and_query,
            self.prepared.len(),
            self.prepared
                .iter()
                .enumerate()
                .map(|(i, p)| format!(
                    "#{i} {} {}{}{}",
                    p.method,
                    p.path,
                    if p.query.is_empty() {
                        String::new()
                    } else {
                        let pairs: Vec<String> =
                            p.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        format!("?{}", pairs.join("&"))
                    },
                    if state.play_counts[i] > 0 {
                        " (played)"
                    } else {
                        ""
                    }
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut response = Response::new(ReplayBody::full(Bytes::from(text)));
        *response.status_mut() = self.unmatched_status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
            .headers_mut()
            .insert("x-testkit-unmatched", HeaderValue::from_static("1"));
        response
    }

    fn response(
        &self,
        index: usize,
        accepts_gzip: bool,
    ) -> (Response<ReplayBody>, Option<Duration>) {
        let p = &self.prepared[index];
        let mut status = p.status;
        let mut headers = p.headers.clone();
        let (body, events) = match &p.decoded {
            Some((plain, events)) if self.honour_accept_encoding && !accepts_gzip => {
                headers.remove(header::CONTENT_ENCODING);
                (plain, events)
            }
            _ => (&p.body, &p.events),
        };
        let mut streaming = events.is_some();
        let mut frames: Vec<Bytes> = match events {
            Some(events) => events.clone(),
            None if body.is_empty() => Vec::new(),
            None => vec![body.clone()],
        };
        let mut abort = false;
        let mut header_delay = None;
        let faults = self
            .faults
            .iter()
            .filter(|(only, _)| only.is_none_or(|i| i == index))
            .map(|(_, f)| f);
        for fault in faults {
            match fault {
                Fault::Status(code) => {
                    if let Ok(code) = StatusCode::from_u16(*code) {
                        status = code;
                    }
                }
                Fault::DelayHeaders(delay) => header_delay = Some(*delay),
                Fault::InvalidJsonBody => {
                    frames = vec![Bytes::from_static(INVALID_JSON.as_bytes())];
                    headers.remove(header::CONTENT_ENCODING);
                    streaming = false;
                }
                Fault::ReplaceBody(body) => {
                    frames = vec![Bytes::from(body.clone())];
                    headers.remove(header::CONTENT_ENCODING);
                    streaming = false;
                }
                Fault::InvalidJsonEvent(n) => {
                    if streaming && *n < frames.len() {
                        frames[*n] = corrupt_event(&frames[*n]);
                    }
                }
                Fault::CloseAfterEvents(n) => {
                    frames.truncate(*n);
                    abort = true;
                }
                Fault::CloseAfterBytes(n) => {
                    let mut left = *n;
                    let mut kept = Vec::new();
                    for frame in frames.drain(..) {
                        if left == 0 {
                            break;
                        }
                        let take = left.min(frame.len());
                        kept.push(frame.slice(..take));
                        left -= take;
                    }
                    frames = kept;
                    abort = true;
                }
            }
        }
        let body = ReplayBody {
            exact_len: (!streaming && !abort).then(|| frames.iter().map(|f| f.len() as u64).sum()),
            frames: frames.into(),
            delay: if streaming { self.event_delay } else { None },
            sleep: None,
            waited: false,
            // Flush the headers before the first event of a stream or before an abort.
            yield_next: streaming || abort,
            streaming,
            abort,
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        (response, header_delay)
    }
}

/// Replaces the payload of each `data:` line of an event with [`INVALID_JSON`].
fn corrupt_event(event: &Bytes) -> Bytes {
    let text = String::from_utf8_lossy(event);
    let mut out = String::with_capacity(text.len() + INVALID_JSON.len());
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\r', '\n']);
        if content.starts_with("data:") {
            out.push_str("data: ");
            out.push_str(INVALID_JSON);
            out.push_str(&line[content.len()..]);
        } else {
            out.push_str(line);
        }
    }
    Bytes::from(out)
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
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => {
                        // e.g. out of file descriptors: back off instead of spinning
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(req, &shared).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

async fn handle(req: Request<Incoming>, shared: &Shared) -> Response<ReplayBody> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let received = ReceivedRequest {
        method: parts.method.as_str().to_string(),
        path_and_query: parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_string(), |pq| pq.as_str().to_string()),
        // Loop mode without recording answers blindly: skip the copying.
        headers: if shared.record || shared.mode != ReplayMode::Loop {
            parts
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect()
        } else {
            Vec::new()
        },
        body: body.to_vec(),
        interaction: None,
    };
    let chosen = shared.choose(&received);
    if let Some(RequestHook(hook)) = &shared.on_request {
        let mut seen = received.clone();
        seen.interaction = chosen;
        hook(&seen);
    }
    match chosen {
        None => shared.unmatched_response(&received),
        Some(index) => {
            let gzip_ok = accepts_gzip(
                parts
                    .headers
                    .get(header::ACCEPT_ENCODING)
                    .and_then(|v| v.to_str().ok()),
            );
            let (response, delay) = shared.response(index, gzip_ok);
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            response
        }
    }
}

/// The response body: pre-split frames, served one per poll with optional delays and a
/// flush between frames, optionally ending in an error that makes hyper drop the connection.
pub(crate) struct ReplayBody {
    frames: VecDeque<Bytes>,
    exact_len: Option<u64>,
    delay: Option<Duration>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    waited: bool,
    yield_next: bool,
    streaming: bool,
    abort: bool,
}

impl ReplayBody {
    fn full(bytes: Bytes) -> ReplayBody {
        ReplayBody {
            exact_len: Some(bytes.len() as u64),
            frames: if bytes.is_empty() {
                VecDeque::new()
            } else {
                VecDeque::from([bytes])
            },
            delay: None,
            sleep: None,
            waited: false,
            yield_next: false,
            streaming: false,
            abort: false,
        }
    }

    /// Returns `Pending` once after waking itself, so hyper flushes what it has buffered.
    fn yield_once(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.yield_next = false;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Body for ReplayBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        if this.frames.is_empty() {
            if !this.abort {
                return Poll::Ready(None);
            }
            if this.yield_next {
                return this.yield_once(cx);
            }
            this.abort = false;
            return Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "openllmetry replay fault: connection closed mid-response",
            ))));
        }
        if this.streaming {
            if let Some(delay) = this.delay {
                if !this.waited {
                    let sleep = this
                        .sleep
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(delay)));
                    if sleep.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    this.sleep = None;
                    this.waited = true;
                }
            } else if this.yield_next {
                return this.yield_once(cx);
            }
        } else if this.yield_next {
            return this.yield_once(cx);
        }
        let frame = this.frames.pop_front().unwrap_or_default();
        this.waited = false;
        this.yield_next = this.streaming || this.abort;
        Poll::Ready(Some(Ok(Frame::data(frame))))
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty() && !self.abort
    }

    fn size_hint(&self) -> SizeHint {
        match self.exact_len {
            Some(len) => SizeHint::with_exact(len),
            None => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_are_order_insensitive() {
        assert_eq!(query_pairs(Some("b=2&a=1")), query_pairs(Some("a=1&b=2")));
        assert!(query_pairs(None).is_empty());
        assert_ne!(query_pairs(Some("a=1")), query_pairs(None));
    }

    #[test]
    fn accept_encoding_gzip() {
        assert!(!accepts_gzip(None));
        assert!(!accepts_gzip(Some("identity")));
        assert!(!accepts_gzip(Some("br, deflate")));
        assert!(!accepts_gzip(Some("gzip;q=0")));
        assert!(!accepts_gzip(Some("gzip; q=0.0, identity")));
        assert!(accepts_gzip(Some("gzip")));
        assert!(accepts_gzip(Some("deflate, GZIP;q=0.5")));
        assert!(accepts_gzip(Some("x-gzip")));
        assert!(accepts_gzip(Some("*")));
    }

    #[test]
    fn stream_flag_only_for_true() {
        assert!(stream_flag(Some(&serde_json::json!({"stream": true}))));
        assert!(!stream_flag(Some(&serde_json::json!({"stream": false}))));
        assert!(!stream_flag(Some(&serde_json::json!({"model": "m"}))));
        assert!(!stream_flag(None));
    }

    #[test]
    fn corrupt_event_keeps_framing() {
        let event = Bytes::from_static(b"event: x\r\ndata: {\"a\":1}\r\n\r\n");
        let bad = corrupt_event(&event);
        let text = std::str::from_utf8(&bad).unwrap();
        assert!(text.starts_with("event: x\r\ndata: {\"id\": \"testkit-invalid-json\""));
        assert!(text.ends_with("\r\n\r\n"));
        assert!(serde_json::from_str::<serde_json::Value>(INVALID_JSON).is_err());
    }
}
