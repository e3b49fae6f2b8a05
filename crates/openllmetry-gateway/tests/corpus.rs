//! The corpus harness through the gateway (issue 15 §3): the rows of
//! `crates/openllmetry-http/tests/corpus/rows.tsv` (one per OpenAI or Anthropic recording),
//! every interaction sent through the `openllmetry gateway` binary, which exports over OTLP
//! to the in-process receiver: one child process per flavour (`current`, `legacy`, `events`,
//! set with `TRACELOOP_OUTPUT_FLAVOUR`) and content mode (on, and off with
//! `TRACELOOP_TRACE_CONTENT=false`), all at once. `CORPUS_GATEWAY_FLAVOURS=current,legacy` (a maintainer's
//! switch) runs only the listed flavours. The facts and the checks are the middleware
//! harness's (`tests/corpus/oracle.rs` there, shared with `#[path]`).
//!
//! Each interaction upstream instruments (a span in its row) goes to the gateway the way a client configured with the gateway's base
//! URL sends it (`/v1/...` as recorded; other paths, e.g. Azure's `/openai/deployments/...`,
//! under `/openai/...`, Bedrock's under `/bedrock/...`) with its own `traceparent`, so its
//! spans are found by trace id. Both upstreams point at a forwarding server that sends each
//! request on to that row's replay server, to the recorded path (headers `x-corpus-port`,
//! `x-corpus-path`), so rows run in parallel on one pair of gateways.
//!
//! Known gaps: the row's gaps that apply to a flavour run here must fail here too, plus the
//! gateway-only ones in [`GATEWAY_GAPS`]. The provider is not
//! checked: the gateway names it from its configured upstream (a loopback address here),
//! not from the recorded host (the middleware harness checks host-based detection).

#[path = "../../openllmetry-http/tests/corpus/oracle.rs"]
mod oracle;

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use common::GatewayOpts;
use openllmetry_core::Flavour;
use openllmetry_testkit::cassette::{Cassette, Interaction};
use openllmetry_testkit::flat::ReceivedSpan;
use openllmetry_testkit::otlp::OtlpReceiver;
use openllmetry_testkit::replay::ReplayServer;
use oracle::{Api, Names, Row};

const ROWS: &str = include_str!("../../openllmetry-http/tests/corpus/rows.tsv");

/// Rows replayed at once.
const PARALLEL_ROWS: usize = 16;

/// The flavours run through the gateway, with the attribute names each must carry.
const FLAVOURS: [(Flavour, Names); 3] = [
    (Flavour::Current, Names::Current),
    (Flavour::Legacy, Names::Legacy),
    (Flavour::Events, Names::Events),
];

/// The flavours this run covers: all of [`FLAVOURS`], or those named in
/// `CORPUS_GATEWAY_FLAVOURS` (comma-separated).
fn selected_flavours() -> Vec<(Flavour, Names)> {
    let only = std::env::var("CORPUS_GATEWAY_FLAVOURS").ok();
    let out: Vec<(Flavour, Names)> = FLAVOURS
        .into_iter()
        .filter(|(f, _)| {
            only.as_deref()
                .is_none_or(|o| o.split(',').any(|n| n.trim() == f.as_str()))
        })
        .collect();
    assert!(!out.is_empty(), "no flavour selected");
    out
}

/// Gaps seen only through the gateway: (recording, pattern, reason).
const GATEWAY_GAPS: &[(&str, &str, &str)] = &[];

/// Credentials are not forwarded either (on top of the harness-wide
/// [`oracle::SKIPPED_REQUEST_HEADERS`]).
const SKIPPED_CREDENTIAL_HEADERS: &[&str] = &["authorization", "x-api-key", "api-key", "cookie"];

/// A client for loopback only: no proxy, no redirects, no decompression (the bytes are
/// compared).
fn loopback_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .no_zstd()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client builds")
}

/// A loopback server that forwards every request to `127.0.0.1:<x-corpus-port>` at the
/// path `x-corpus-path`, streaming the answer back unchanged (no decompression).
struct Forwarder {
    addr: std::net::SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

impl Forwarder {
    fn start() -> Forwarder {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let client = loopback_client();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let client = client.clone();
            async move { forward(client, req).await }
        });
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Forwarder {
            addr,
            _runtime: runtime,
        }
    }
}

async fn forward(client: reqwest::Client, req: axum::extract::Request) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = req.into_parts();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (Some(port), Some(path)) = (header("x-corpus-port"), header("x-corpus-path")) else {
        return (
            http::StatusCode::BAD_GATEWAY,
            "no x-corpus-port / x-corpus-path",
        )
            .into_response();
    };
    let Ok(body) = axum::body::to_bytes(body, 64 << 20).await else {
        return (http::StatusCode::BAD_GATEWAY, "request body").into_response();
    };
    let mut headers = parts.headers.clone();
    for h in ["host", "content-length", "x-corpus-port", "x-corpus-path"] {
        headers.remove(h);
    }
    let sent = client
        .request(parts.method, format!("http://127.0.0.1:{port}{path}"))
        .headers(headers)
        .body(body)
        .send()
        .await;
    let Ok(resp) = sent else {
        return (http::StatusCode::BAD_GATEWAY, "replay server").into_response();
    };
    let mut out = axum::response::Response::builder().status(resp.status());
    for (k, v) in resp.headers() {
        if k != "content-length" && k != "transfer-encoding" && k != "connection" {
            out = out.header(k, v);
        }
    }
    out.body(axum::body::Body::from_stream(resp.bytes_stream()))
        .unwrap_or_else(|_| http::StatusCode::BAD_GATEWAY.into_response())
}

/// The path a client configured with the gateway's base URL uses for a recorded request.
fn gateway_path(it: &Interaction) -> String {
    let pq = it.request.path_and_query();
    if pq.starts_with("/v1/") {
        pq.to_string()
    } else if pq.starts_with("/model/") {
        format!("/bedrock{pq}")
    } else {
        format!("/openai{pq}")
    }
}

/// What one interaction was sent as and what came back.
struct Sent {
    /// The interaction's index in the recording.
    index: usize,
    trace_id: String,
    status: u16,
    body: Vec<u8>,
}

static TRACE_COUNTER: AtomicU64 = AtomicU64::new(1);

/// Sends every interaction of a recording through `gateway`, via the forwarder to a fresh
/// replay server.
async fn send_row(
    http: &reqwest::Client,
    gateway: std::net::SocketAddr,
    interactions: &[Interaction],
    spans: &[Option<String>],
) -> Result<Vec<Sent>, String> {
    let server = ReplayServer::builder(interactions.to_vec())
        .spawn()
        .map_err(|e| format!("replay server: {e}"))?;
    let mut out = Vec::new();
    for (index, it) in interactions.iter().enumerate() {
        // Calls upstream does not instrument (Assistants polls, files, ...) are left to the
        // middleware harness; the expected span depends on method and path only, so the
        // skipped ones never answer a sent one (vcrpy matching).
        if spans.get(index).is_none_or(Option::is_none) {
            continue;
        }
        let n = TRACE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let trace_id = format!("{:016x}{:016x}", 0xc0de_c0de_u64, n);
        let mut req = http
            .request(
                reqwest::Method::from_bytes(it.request.method.as_bytes())
                    .map_err(|e| e.to_string())?,
                format!("http://{gateway}{}", gateway_path(it)),
            )
            .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
            .header("x-corpus-port", server.addr().port().to_string())
            .header("x-corpus-path", it.request.path_and_query());
        for (k, v) in &it.request.headers {
            let k = k.to_ascii_lowercase();
            if !oracle::SKIPPED_REQUEST_HEADERS.contains(&k.as_str())
                && !SKIPPED_CREDENTIAL_HEADERS.contains(&k.as_str())
            {
                req = req.header(k, v);
            }
        }
        let mut resp = req
            .body(it.request.body.clone())
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| format!("body: {e}"))? {
            body.extend_from_slice(&chunk);
        }
        out.push(Sent {
            index,
            trace_id,
            status,
            body,
        });
    }
    if server.unmatched() > 0 {
        return Err(format!(
            "the replay server saw {} unmatched request(s)",
            server.unmatched()
        ));
    }
    Ok(out)
}

type RowSends = Vec<(Row, Result<Vec<Sent>, String>)>;

/// A row with its loaded recording (loaded once: parsing the YAML is a good part of the
/// run's time in the debug profile).
type Loaded = (Row, Arc<Cassette>);

/// Runs every row through one gateway; returns what was sent, after the gateway has flushed
/// its telemetry and exited.
fn run_gateway(
    rows: &[Loaded],
    flavour: Flavour,
    content: bool,
    receiver: &OtlpReceiver,
    forwarder: &Forwarder,
) -> RowSends {
    let base = format!("http://{}", forwarder.addr);
    let mut gateway = GatewayOpts::new(format!("{base}/v1"), base.clone())
        .otlp(receiver)
        .env("TRACELOOP_OUTPUT_FLAVOUR", flavour.as_str())
        .env(
            "TRACELOOP_TRACE_CONTENT",
            if content { "true" } else { "false" },
        )
        .arg("--bedrock-upstream")
        .arg(&base)
        // Room for every span of the run in the export queue (default 2048).
        .env("OTEL_BSP_MAX_QUEUE_SIZE", "65536")
        // Test-only credentials, so Bedrock requests are re-signed and forwarded.
        .env("AWS_ACCESS_KEY_ID", "AKIDCORPUSHARNESS")
        .env("AWS_SECRET_ACCESS_KEY", "corpus-harness-not-a-secret")
        .env("AWS_REGION", "us-east-1")
        .spawn();
    let addr = gateway.addr;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let http = loopback_client();
    let sends = runtime.block_on(async {
        let limit = Arc::new(tokio::sync::Semaphore::new(PARALLEL_ROWS));
        let tasks: Vec<_> = rows
            .iter()
            .cloned()
            .map(|(row, cassette)| {
                let limit = limit.clone();
                let http = http.clone();
                tokio::spawn(async move {
                    let _permit = limit.acquire_owned().await.unwrap();
                    let sent = send_row(&http, addr, &cassette.interactions, &row.spans).await;
                    (row, sent)
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.expect("row task"));
        }
        out
    });
    // SIGTERM: the gateway drains, flushes its telemetry and exits.
    gateway.stop();
    sends
}

/// Whether a gap pattern applies through the gateway: to a flavour run here, and not the
/// provider (see the module docs).
fn applies_to_gateway(pattern: &str, flavours: &[(Flavour, Names)]) -> bool {
    let fact = pattern.rsplit('/').next().unwrap_or(pattern);
    fact != "provider"
        && flavours.iter().any(|(f, _)| {
            ["on", "off"]
                .iter()
                .any(|mode| oracle::gap_matches(pattern, &format!("{}/{mode}/{fact}", f.as_str())))
        })
}

#[test]
fn corpus_conforms_through_the_gateway() {
    let started = Instant::now();
    let rows: Vec<Row> = oracle::selected_rows(ROWS);
    let loaded: Vec<Loaded> = std::thread::scope(|scope| {
        let handles: Vec<_> = rows
            .chunks(rows.len().div_ceil(2))
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|r| (r.clone(), Arc::new(oracle::load(&r.recording))))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("loading"))
            .collect()
    });
    let forwarder = Forwarder::start();
    let flavours = selected_flavours();
    let mut failures: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    // Every gateway (flavour × content on and off) at once.
    let runs: Vec<(Flavour, Names, bool, OtlpReceiver, RowSends)> = std::thread::scope(|scope| {
        let handles: Vec<_> = flavours
            .iter()
            .flat_map(|&(flavour, names)| [(flavour, names, true), (flavour, names, false)])
            .map(|(flavour, names, content)| {
                let (loaded, forwarder) = (&loaded, &forwarder);
                scope.spawn(move || {
                    let receiver = OtlpReceiver::start();
                    let sends = run_gateway(loaded, flavour, content, &receiver, forwarder);
                    (flavour, names, content, receiver, sends)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("gateway run"))
            .collect()
    });
    for (flavour, names, content, receiver, sends) in runs {
        let mode = format!(
            "{}/{}",
            flavour.as_str(),
            if content { "on" } else { "off" }
        );
        let mut by_trace: BTreeMap<String, Vec<ReceivedSpan>> = BTreeMap::new();
        for span in receiver.spans() {
            by_trace
                .entry(span.trace_id.clone())
                .or_default()
                .push(span);
        }
        let logs = receiver.logs();
        // Metric point attribute values, each once (every export repeats the cumulative
        // series).
        let mut values = std::collections::BTreeSet::new();
        for points in receiver.metrics().values() {
            for p in points {
                for v in p.attributes.values() {
                    if let Some(s) = v.as_str() {
                        values.insert(s.to_string());
                    }
                }
            }
        }
        let extra = values.into_iter().collect::<Vec<_>>().join("\n");
        for (row, sent) in sends {
            let out = failures.entry(row.recording.clone()).or_default();
            let sent = match sent {
                Ok(s) => s,
                Err(e) => {
                    out.push((format!("{mode}/replay"), e));
                    continue;
                }
            };
            let cassette = &loaded
                .iter()
                .find(|(r, _)| r.recording == row.recording)
                .expect("loaded")
                .1;
            for s in &sent {
                let (i, it) = (s.index, &cassette.interactions[s.index]);
                if s.status != it.response.status || s.body != it.response.body {
                    out.push((
                        format!("{mode}/pass_through"),
                        format!(
                            "interaction {i}: got status {} and {} bytes, recorded {} and {} bytes{}",
                            s.status,
                            s.body.len(),
                            it.response.status,
                            it.response.body.len(),
                            if s.status >= 500 && s.body.len() < 1000 {
                                format!(": {}", String::from_utf8_lossy(&s.body))
                            } else {
                                String::new()
                            }
                        ),
                    ));
                }
                // The gateway's own server span, if any, is not the LLM span.
                let spans: Vec<ReceivedSpan> = by_trace
                    .get(&s.trace_id)
                    .map(|v| {
                        v.iter()
                            .filter(|sp| sp.attr("gen_ai.operation.name").is_some())
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                let span_logs: Vec<_> = logs
                    .iter()
                    .filter(|l| l.trace_id.as_deref() == Some(s.trace_id.as_str()))
                    .cloned()
                    .collect();
                // Only interactions with an expected span were sent.
                let name = row.spans[i].clone().expect("a sent interaction has a span");
                let api = Api::of_span(&name);
                let mut facts = oracle::facts(api, it);
                facts.provider = String::new();
                let extra = if content { "" } else { extra.as_str() };
                for (fact, msg) in oracle::check(
                    api, &name, &facts, names, content, &spans, &span_logs, extra,
                ) {
                    if fact != "provider" {
                        out.push((format!("{mode}/{fact}"), format!("interaction {i}: {msg}")));
                    }
                }
            }
        }
    }
    let mut report = String::new();
    let mut with_gaps = 0;
    for row in &rows {
        let fails = failures.get(&row.recording).cloned().unwrap_or_default();
        let mut gaps: Vec<(String, String)> = row
            .gaps
            .iter()
            .filter(|g| applies_to_gateway(g, &flavours))
            .map(|g| (g.clone(), row.reason.clone()))
            .collect();
        gaps.extend(
            GATEWAY_GAPS
                .iter()
                .filter(|(r, _, _)| *r == row.recording)
                .map(|(_, g, why)| (g.to_string(), why.to_string())),
        );
        with_gaps += usize::from(!gaps.is_empty());
        let unexpected: Vec<(String, String)> = fails
            .iter()
            .filter(|(k, _)| !gaps.iter().any(|(g, _)| oracle::gap_matches(g, k)))
            .cloned()
            .collect();
        report.push_str(&oracle::describe(
            &format!("{} (gateway)", row.recording),
            &unexpected,
        ));
        for (g, why) in &gaps {
            if !fails.iter().any(|(k, _)| oracle::gap_matches(g, k)) {
                report.push_str(&format!(
                    "  {} (gateway) [{g}]: known gap no longer fails ({why})\n",
                    row.recording
                ));
            }
        }
        if std::env::var_os("CORPUS_PRINT_FAILURES").is_some() && !fails.is_empty() {
            eprint!("{}", oracle::describe(&row.recording, &fails));
        }
    }
    eprintln!(
        "corpus harness (gateway): {} rows ({with_gaps} with known gaps), flavours {:?}, in {:.1} s",
        rows.len(),
        flavours.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        report.is_empty(),
        "corpus harness failures (gateway):\n{report}"
    );
}
