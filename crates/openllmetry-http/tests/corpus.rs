//! The conformance harness over the whole vendored OpenAI and Anthropic corpus (issue 15 §3):
//! one row per recording in `tests/corpus/rows.tsv`, every interaction of it replayed over
//! loopback through the real reqwest middleware in every flavour (`current`, `legacy`,
//! `events`), with content capture on and off.
//!
//! * The facts come from the recorded bodies, read by a test-side oracle
//!   (`tests/corpus/oracle.rs`: plain `serde_json` pointers, `data:` lines split by hand),
//!   and are checked under each flavour's attribute names (literals from upstream
//!   OpenLLMetry, never our renderer's constants). With content off, no content string of
//!   the exchange may appear in any exported attribute, event, metric or log record.
//! * The client addresses the recorded host name (resolved to the loopback replay server),
//!   so host-based provider detection is what upstream's `base_url` detection sees.
//! * Every recording of the three folders must have its row and every row its recording:
//!   adding a recording is adding a row.
//! * A row's known gaps (`<flavour>/<on|off>/<fact>` patterns, with the reason) must fail:
//!   a gap that starts passing fails the harness, so the list stays honest.
//! * All failures are collected and reported together, each naming the recording, the
//!   interaction, the flavour and the content mode.
//!
//! Environment (for maintainers): `CORPUS_ROWS=<substring>` runs only the matching rows;
//! `CORPUS_PRINT_FAILURES=1` prints every row's failures, expected ones included, with a
//! `<recording>\t<keys>` line per row (what a new row's gap column would list);
//! `CORPUS_TIMING=1` prints each row's time.

#[path = "corpus/oracle.rs"]
mod oracle;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use openllmetry_core::{Flavour, Instrumentation};
use openllmetry_http::OpenLlmMiddleware;
use openllmetry_testkit::capture::Capture;
use openllmetry_testkit::cassette::Interaction;
use openllmetry_testkit::flat::{ReceivedLog, ReceivedSpan};
use openllmetry_testkit::replay::ReplayServer;
use oracle::{Api, Names, Row};

const ROWS: &str = include_str!("corpus/rows.tsv");

/// Rows replayed at once (each runs its six variants one after the other).
const PARALLEL_ROWS: usize = 8;

/// The six middleware variants: flavour, its attribute names, content capture.
const VARIANTS: [(Flavour, Names, bool); 6] = [
    (Flavour::Current, Names::Current, true),
    (Flavour::Current, Names::Current, false),
    (Flavour::Legacy, Names::Legacy, true),
    (Flavour::Legacy, Names::Legacy, false),
    (Flavour::Events, Names::Events, true),
    (Flavour::Events, Names::Events, false),
];

/// Resolves every host name to `127.0.0.1`: the client addresses the recorded host (so
/// host-based provider detection sees it) on the replay server's port (reqwest always uses
/// the URL's port).
struct Loopback;

impl reqwest::dns::Resolve for Loopback {
    fn resolve(&self, _name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        Box::pin(std::future::ready(Ok(
            Box::new(std::iter::once(addr)) as reqwest::dns::Addrs
        )))
    }
}

/// One HTTP client for every run (building one loads the TLS roots: tens of milliseconds):
/// no proxy, no redirects (nothing may leave loopback), no decompression (the bytes are
/// compared), no idle connections kept (each row's replay server is a new one).
fn loopback_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .no_zstd()
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(Loopback))
        .build()
        .expect("client builds")
}

/// What one interaction produced in one variant.
struct Played {
    spans: Vec<ReceivedSpan>,
    logs: Vec<ReceivedLog>,
    status: u16,
    body: Vec<u8>,
}

/// Replays every interaction of a recording once, through the middleware with `flavour` and
/// `content`, to `server` (which holds one copy of the recording per variant, in order);
/// returns what each produced and the metric point attributes the run exported.
async fn play(
    http: &reqwest::Client,
    server: &ReplayServer,
    interactions: &[Interaction],
    send: &[bool],
    flavour: Flavour,
    content: bool,
) -> Result<(Vec<Option<Played>>, String), String> {
    let capture = Capture::with_resource(opentelemetry_sdk::Resource::builder_empty().build());
    let instr = Instrumentation::builder()
        .with_tracer_provider(capture.tracer_provider())
        .with_meter_provider(capture.meter_provider())
        .with_logger_provider(capture.logger_provider())
        .with_flavour(flavour)
        .with_content_capture(content)
        .build();
    let client = reqwest_middleware::ClientBuilder::new(http.clone())
        .with(OpenLlmMiddleware::with_instrumentation(instr))
        .build();
    let mut played = Vec::with_capacity(interactions.len());
    let (mut spans_seen, mut logs_seen) = (0, 0);
    for (it, &send) in interactions.iter().zip(send) {
        if !send {
            played.push(None);
            continue;
        }
        let url = format!(
            "http://{}:{}{}",
            oracle::host_of(&it.request.uri),
            server.addr().port(),
            it.request.path_and_query()
        );
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in &it.request.headers {
            let k = k.to_ascii_lowercase();
            if oracle::SKIPPED_REQUEST_HEADERS.contains(&k.as_str()) {
                continue;
            }
            if let (Ok(name), Ok(value)) = (
                reqwest::header::HeaderName::from_bytes(k.as_bytes()),
                reqwest::header::HeaderValue::from_str(v),
            ) {
                headers.append(name, value);
            }
        }
        let method = reqwest::Method::from_bytes(it.request.method.as_bytes())
            .map_err(|e| format!("method: {e}"))?;
        let mut resp = client
            .request(method, url)
            .headers(headers)
            .body(it.request.body.clone())
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| format!("body: {e}"))? {
            body.extend_from_slice(&chunk);
        }
        drop(resp);
        let spans = capture.flat_spans();
        let logs = capture.logs();
        played.push(Some(Played {
            spans: spans[spans_seen..].to_vec(),
            logs: logs[logs_seen..].to_vec(),
            status,
            body,
        }));
        spans_seen = spans.len();
        logs_seen = logs.len();
    }
    // Metric point attributes (names and descriptions are not exported content).
    let mut exported = String::new();
    for name in capture.metric_names() {
        for point in capture.metric_points(&name) {
            for v in point.attributes.values() {
                if let Some(s) = v.as_str() {
                    exported.push_str(s);
                    exported.push('\n');
                }
            }
        }
    }
    drop(client);
    drop(capture);
    Ok((played, exported))
}

/// Runs one row in every variant; returns its failures as (key, message), the key being
/// `<flavour>/<on|off>/<fact>`.
async fn run_row(http: reqwest::Client, row: Row) -> (Row, Vec<(String, String)>) {
    let t0 = Instant::now();
    let out = run_row_inner(&http, row).await;
    if std::env::var_os("CORPUS_TIMING").is_some() {
        eprintln!(
            "timing\t{:.3}\t{}",
            t0.elapsed().as_secs_f64(),
            out.0.recording
        );
    }
    out
}

async fn run_row_inner(http: &reqwest::Client, row: Row) -> (Row, Vec<(String, String)>) {
    let cassette = oracle::load(&row.recording);
    let mut failures = Vec::new();
    if cassette.interactions.len() != row.spans.len() {
        failures.push((
            "*/*/table".to_string(),
            format!(
                "{} interactions recorded, {} span entries in the row",
                cassette.interactions.len(),
                row.spans.len()
            ),
        ));
        return (row, failures);
    }
    let facts: Vec<Option<(Api, oracle::Facts)>> = cassette
        .interactions
        .iter()
        .zip(&row.spans)
        .map(|(it, span)| {
            span.as_deref().map(|name| {
                let api = Api::of_span(name);
                (api, oracle::facts(api, it))
            })
        })
        .collect();
    // One replay server per row: the recording once per variant, in order (vcrpy matching
    // plays the first unplayed interaction with the same method, path and query).
    let copies: Vec<Interaction> = VARIANTS
        .iter()
        .flat_map(|_| cassette.interactions.iter().cloned())
        .collect();
    let server = match ReplayServer::builder(copies).spawn() {
        Ok(s) => s,
        Err(e) => {
            failures.push(("*/*/replay".to_string(), format!("replay server: {e}")));
            return (row, failures);
        }
    };
    for (v, (flavour, names, content)) in VARIANTS.into_iter().enumerate() {
        let mode = if content { "on" } else { "off" };
        let prefix = format!("{}/{mode}", flavour.as_str());
        // A call upstream does not instrument (Assistants, files, ...) has nothing
        // flavour-specific: it is replayed in the first variant only (no span, same bytes).
        // The expected span depends on method and path only, so the copies left unplayed
        // never answer another call (vcrpy matching).
        let send: Vec<bool> = row.spans.iter().map(|s| v == 0 || s.is_some()).collect();
        let (played, exported) = match play(
            http,
            &server,
            &cassette.interactions,
            &send,
            flavour,
            content,
        )
        .await
        {
            Ok(p) => p,
            Err(e) => {
                failures.push((format!("{prefix}/replay"), e));
                continue;
            }
        };
        for (i, ((it, p), f)) in cassette
            .interactions
            .iter()
            .zip(&played)
            .zip(&facts)
            .enumerate()
        {
            let Some(p) = p else { continue };
            if p.status != it.response.status || p.body != it.response.body {
                failures.push((
                    format!("{prefix}/pass_through"),
                    format!(
                        "interaction {i}: got status {} and {} bytes, recorded {} and {} bytes",
                        p.status,
                        p.body.len(),
                        it.response.status,
                        it.response.body.len()
                    ),
                ));
            }
            match (f, &row.spans[i]) {
                (Some((api, facts)), Some(name)) => {
                    let extra = if content { "" } else { exported.as_str() };
                    for (fact, msg) in
                        oracle::check(*api, name, facts, names, content, &p.spans, &p.logs, extra)
                    {
                        failures.push((
                            format!("{prefix}/{fact}"),
                            format!("interaction {i}: {msg}"),
                        ));
                    }
                }
                _ => {
                    if !p.spans.is_empty() {
                        let names: Vec<&str> = p.spans.iter().map(|s| s.name.as_str()).collect();
                        failures.push((
                            format!("{prefix}/span"),
                            format!("interaction {i}: want no span, got {names:?}"),
                        ));
                    }
                }
            }
        }
    }
    if server.unmatched() > 0 {
        failures.push((
            "*/*/replay".to_string(),
            format!(
                "the replay server saw {} unmatched request(s)",
                server.unmatched()
            ),
        ));
    }
    (row, failures)
}

#[test]
fn gap_patterns_and_rows_parse() {
    assert!(oracle::gap_matches("usage.input", "legacy/off/usage.input"));
    assert!(oracle::gap_matches(
        "events/*/content.input",
        "events/on/content.input"
    ));
    assert!(oracle::gap_matches("*/*/span", "current/on/span"));
    assert!(!oracle::gap_matches(
        "events/*/content.input",
        "current/on/content.input"
    ));
    assert!(!oracle::gap_matches(
        "events/on/content.input",
        "events/off/content.input"
    ));
    assert!(!oracle::gap_matches(
        "usage.input",
        "current/on/usage.input_tokens"
    ));
    let rows = oracle::parse_rows(
        "# comment\nreplay/a.yaml\topenai.chat,-\t-\tnote\ncorpus/b.yaml\t-\tspan,events/on/x\twhy\n",
    );
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].spans, vec![Some("openai.chat".to_string()), None]);
    assert!(rows[0].gaps.is_empty());
    assert_eq!(rows[1].gaps, ["span", "events/on/x"]);
    assert_eq!(rows[1].reason, "why");
}

#[test]
fn every_recording_has_a_row() {
    let rows = oracle::parse_rows(ROWS);
    let mut listed: Vec<String> = rows.iter().map(|r| r.recording.clone()).collect();
    let n = listed.len();
    listed.sort();
    listed.dedup();
    assert_eq!(listed.len(), n, "a recording has several rows in rows.tsv");
    let all = oracle::all_recordings();
    let missing: Vec<&String> = all.iter().filter(|r| !listed.contains(r)).collect();
    let stale: Vec<&String> = listed.iter().filter(|r| !all.contains(r)).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "rows.tsv is out of date.\nrecordings without a row:\n{missing:#?}\nrows without a recording:\n{stale:#?}"
    );
}

#[test]
fn corpus_conforms_in_every_flavour() {
    let started = Instant::now();
    let rows: Vec<Row> = oracle::selected_rows(ROWS);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let http = loopback_client();
    let results: Vec<(Row, Vec<(String, String)>)> = runtime.block_on(async {
        let limit = Arc::new(tokio::sync::Semaphore::new(PARALLEL_ROWS));
        let tasks: Vec<_> = rows
            .into_iter()
            .map(|row| {
                let limit = limit.clone();
                let http = http.clone();
                tokio::spawn(async move {
                    let _permit = limit.acquire_owned().await.unwrap();
                    run_row(http, row).await
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.expect("row task"));
        }
        out
    });
    let mut report = String::new();
    let mut by_pattern: BTreeMap<String, usize> = BTreeMap::new();
    let (mut passing, mut with_gaps) = (0, 0);
    for (row, failures) in &results {
        let unexpected: Vec<(String, String)> = failures
            .iter()
            .filter(|(k, _)| !row.gaps.iter().any(|g| oracle::gap_matches(g, k)))
            .cloned()
            .collect();
        let stale: Vec<&String> = row
            .gaps
            .iter()
            .filter(|g| !failures.iter().any(|(k, _)| oracle::gap_matches(g, k)))
            .collect();
        report.push_str(&oracle::describe(&row.recording, &unexpected));
        for g in &stale {
            report.push_str(&format!(
                "  {} [{g}]: known gap no longer fails ({}): remove it from rows.tsv\n",
                row.recording, row.reason
            ));
        }
        if row.gaps.is_empty() {
            passing += usize::from(unexpected.is_empty());
        } else {
            with_gaps += 1;
            for g in &row.gaps {
                *by_pattern.entry(g.clone()).or_default() += 1;
            }
        }
        if std::env::var_os("CORPUS_PRINT_FAILURES").is_some() && !failures.is_empty() {
            let mut keys: Vec<&str> = failures.iter().map(|(k, _)| k.as_str()).collect();
            keys.sort();
            keys.dedup();
            eprintln!("{}\t{}", row.recording, keys.join(","));
            eprint!("{}", oracle::describe(&row.recording, failures));
        }
    }
    eprintln!(
        "corpus harness: {} rows ({passing} clean, {with_gaps} with known gaps) in {:.1} s; gaps by pattern: {by_pattern:?}",
        results.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(report.is_empty(), "corpus harness failures:\n{report}");
}
