//! A discarding OTLP/HTTP sink on loopback: it decodes what exporters send only to count it
//! (spans, metric export requests, log records) and keeps nothing, so a long run's memory
//! stays flat. The testkit's `OtlpReceiver` keeps every request for assertions, which is what
//! tests want and exactly what a 100k-call run must not do.

use std::convert::Infallible;
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use prost::Message as _;

#[derive(Debug, Default)]
struct Counters {
    spans: AtomicU64,
    trace_requests: AtomicU64,
    metric_requests: AtomicU64,
    log_records: AtomicU64,
    bytes: AtomicU64,
}

/// What the sink received so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkCounts {
    /// Spans in trace export requests.
    pub spans: u64,
    /// Trace export requests.
    pub trace_requests: u64,
    /// Metric export requests.
    pub metric_requests: u64,
    /// Log records.
    pub log_records: u64,
    /// Request body bytes (as sent).
    pub bytes: u64,
}

/// A running sink; stops when dropped.
#[derive(Debug)]
pub struct OtlpSink {
    addr: SocketAddr,
    counters: Arc<Counters>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl OtlpSink {
    /// Starts the sink on an ephemeral loopback port, on a thread of its own.
    pub fn start() -> std::io::Result<OtlpSink> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let counters = Arc::new(Counters::default());
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("otlp-sink".into())
            .spawn({
                let counters = counters.clone();
                move || {
                    runtime.block_on(async move {
                        let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                            return;
                        };
                        loop {
                            tokio::select! {
                                _ = &mut stopped => break,
                                accepted = listener.accept() => {
                                    let Ok((stream, _)) = accepted else { continue };
                                    let _ = stream.set_nodelay(true);
                                    let counters = counters.clone();
                                    tokio::spawn(async move {
                                        let service = hyper::service::service_fn(move |req| {
                                            handle(req, counters.clone())
                                        });
                                        let _ = hyper::server::conn::http1::Builder::new()
                                            .serve_connection(TokioIo::new(stream), service)
                                            .await;
                                    });
                                }
                            }
                        }
                    })
                }
            })?;
        Ok(OtlpSink {
            addr,
            counters,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:<port>`: the OTLP/HTTP base URL (exporters append `/v1/traces` etc.).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What arrived so far.
    pub fn counts(&self) -> SinkCounts {
        let c = &self.counters;
        SinkCounts {
            spans: c.spans.load(Ordering::Relaxed),
            trace_requests: c.trace_requests.load(Ordering::Relaxed),
            metric_requests: c.metric_requests.load(Ordering::Relaxed),
            log_records: c.log_records.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
        }
    }
}

impl Drop for OtlpSink {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads a protobuf varint at `*pos`.
fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Calls `f(field_number, payload)` for every length-delimited field of a protobuf message
/// and skips the others; `None` if the message is malformed.
fn for_each_len_field(buf: &[u8], mut f: impl FnMut(u64, &[u8]) -> Option<()>) -> Option<()> {
    let mut pos = 0;
    while pos < buf.len() {
        let key = varint(buf, &mut pos)?;
        match key & 7 {
            0 => {
                varint(buf, &mut pos)?;
            }
            1 => pos += 8,
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).ok()?;
                let payload = buf.get(pos..pos.checked_add(len)?)?;
                pos += len;
                f(key >> 3, payload)?;
            }
            5 => pos += 4,
            _ => return None,
        }
    }
    (pos == buf.len()).then_some(())
}

/// Number of spans in an `ExportTraceServiceRequest`, counted by walking the message
/// (`resource_spans` = 1 → `scope_spans` = 2 → `spans` = 2) without decoding the spans.
fn count_spans(body: &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for_each_len_field(body, |field, resource_spans| {
        if field != 1 {
            return Some(());
        }
        for_each_len_field(resource_spans, |field, scope_spans| {
            if field != 2 {
                return Some(());
            }
            for_each_len_field(scope_spans, |field, _span| {
                if field == 2 {
                    n += 1;
                }
                Some(())
            })
        })
    })?;
    Some(n)
}

async fn handle(
    req: Request<Incoming>,
    counters: Arc<Counters>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let gzip = req
        .headers()
        .get(http::header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let json = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    counters
        .bytes
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    let body = if gzip {
        let mut out = Vec::new();
        match flate2::read::MultiGzDecoder::new(&body[..]).read_to_end(&mut out) {
            Ok(_) => Bytes::from(out),
            Err(_) => body,
        }
    } else {
        body
    };
    match path.as_str() {
        "/v1/traces" => {
            counters.trace_requests.fetch_add(1, Ordering::Relaxed);
            if !json && let Some(n) = count_spans(&body) {
                counters.spans.fetch_add(n, Ordering::Relaxed);
            }
        }
        "/v1/metrics" => {
            counters.metric_requests.fetch_add(1, Ordering::Relaxed);
        }
        "/v1/logs" => {
            if !json && let Ok(r) = ExportLogsServiceRequest::decode(body) {
                let n: usize = r
                    .resource_logs
                    .iter()
                    .flat_map(|rl| &rl.scope_logs)
                    .map(|sl| sl.log_records.len())
                    .sum();
                counters.log_records.fetch_add(n as u64, Ordering::Relaxed);
            }
        }
        _ => {}
    }
    // An empty protobuf message is a valid (fully successful) export response.
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-protobuf"),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message as _;

    use super::count_spans;

    #[test]
    fn counts_spans_without_decoding_them() {
        let span = |name: &str| Span {
            name: name.into(),
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            start_time_unix_nano: 5,
            ..Span::default()
        };
        let req = ExportTraceServiceRequest {
            resource_spans: vec![
                ResourceSpans {
                    scope_spans: vec![
                        ScopeSpans {
                            spans: vec![span("a"), span("b")],
                            schema_url: "s".into(),
                            ..ScopeSpans::default()
                        },
                        ScopeSpans {
                            spans: vec![span("c")],
                            ..ScopeSpans::default()
                        },
                    ],
                    ..ResourceSpans::default()
                },
                ResourceSpans {
                    scope_spans: vec![ScopeSpans {
                        spans: vec![span("d")],
                        ..ScopeSpans::default()
                    }],
                    ..ResourceSpans::default()
                },
            ],
        };
        assert_eq!(count_spans(&req.encode_to_vec()), Some(4));
        assert_eq!(count_spans(&[]), Some(0));
        assert_eq!(count_spans(&[0x0a, 0x05, 0x01]), None);
    }
}
