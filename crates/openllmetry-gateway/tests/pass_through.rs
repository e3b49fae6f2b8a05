//! Byte-for-byte pass-through of every interaction of every bundled cassette (streamed and
//! not): the client gets the recorded status, headers and body bytes; the upstream gets the
//! client's request; streams are forwarded event by event as the upstream produces them.

mod common;

use std::time::{Duration, Instant};

use common::*;
use openllmetry_testkit::cassette::{Interaction, split_sse_events};
use openllmetry_testkit::otlp::OtlpReceiver;
use openllmetry_testkit::replay::ReplayServer;

/// Response headers the replayer never sends (it frames bodies itself) and the gateway
/// may not keep (hop-by-hop).
const FRAMING: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

fn expected_headers(it: &Interaction) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = it
        .response
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .filter(|(k, v)| !FRAMING.contains(&k.as_str()) && http::HeaderValue::from_str(v).is_ok())
        .collect();
    v.sort();
    v
}

fn received_headers(h: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = h
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .filter(|(k, _)| !FRAMING.contains(&k.as_str()))
        .collect();
    v.sort();
    v
}

/// How a client would reach a recorded request through a gateway: the OpenAI upstream path
/// the gateway needs (`/v1`, an Azure deployment, DeepSeek's `/beta`, ...; `None` for
/// Anthropic) and the path to call on the gateway.
fn route(it: &Interaction) -> (Option<String>, String) {
    let path = it.request.path();
    let query = it
        .request
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    if path.starts_with("/v1/messages") || path == "/v1/complete" {
        return (None, format!("{path}{query}"));
    }
    let op = [
        "/chat/completions",
        "/completions",
        "/embeddings",
        "/responses",
    ]
    .iter()
    .find(|op| path.ends_with(*op))
    .unwrap_or_else(|| panic!("no OpenAI operation in {path}"));
    let prefix = &path[..path.len() - op.len()];
    (Some(prefix.to_owned()), format!("/v1{op}{query}"))
}

fn auth_header(it: &Interaction) -> (&'static str, String) {
    let pq = it.request.path_and_query();
    if pq.starts_with("/openai/") {
        ("api-key", AZURE_KEY.to_owned())
    } else if pq.starts_with("/v1/messages") || pq.starts_with("/v1/complete") {
        ("x-api-key", ANTHROPIC_KEY.to_owned())
    } else {
        ("authorization", format!("Bearer {OPENAI_KEY}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cassette_passes_through_byte_for_byte() {
    let all = all_interactions();
    let upstream = ReplayServer::pool(all.iter().map(|(_, _, it)| it.clone()).collect::<Vec<_>>())
        .spawn()
        .unwrap();
    let receiver = OtlpReceiver::start();
    // One gateway per OpenAI base path the cassettes use (Anthropic goes through each).
    let mut gateways = std::collections::BTreeMap::new();
    for (_, _, it) in &all {
        if let (Some(prefix), _) = route(it) {
            gateways.entry(prefix.clone()).or_insert_with(|| {
                GatewayOpts::new(
                    format!("{}{prefix}", upstream.base_url()),
                    upstream.base_url(),
                )
                .otlp(&receiver)
                .spawn()
            });
        }
    }
    assert!(gateways.len() >= 3, "{:?}", gateways.keys());
    let client = http_client();
    let mut streams = 0;
    for (k, (name, index, it)) in all.iter().enumerate() {
        let ctx = format!("{name} #{index}");
        let (prefix, path) = route(it);
        let url = gateways[prefix.as_deref().unwrap_or("/v1")].url(&path);
        let mut req = client.request(
            reqwest::Method::from_bytes(it.request.method.as_bytes()).unwrap(),
            url,
        );
        let sent = request_headers(it);
        for (k, v) in &sent {
            req = req.header(k, v);
        }
        let (auth_name, auth_value) = auth_header(it);
        req = req.header(auth_name, &auth_value);
        let mut resp = req
            .body(it.request.body.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let mut body = Vec::new();
        let mut chunks = 0;
        while let Some(c) = resp
            .chunk()
            .await
            .unwrap_or_else(|e| panic!("{ctx}: body: {e}"))
        {
            body.extend_from_slice(&c);
            chunks += 1;
        }
        assert_eq!(status, it.response.status, "{ctx}: status");
        assert!(
            body == it.response.body,
            "{ctx}: body differs ({} bytes received, {} recorded)",
            body.len(),
            it.response.body.len()
        );
        assert_eq!(
            received_headers(&headers),
            expected_headers(it),
            "{ctx}: headers"
        );
        if it.response.is_event_stream() {
            streams += 1;
            assert!(headers.get("content-length").is_none(), "{ctx}");
            assert!(chunks > 1, "{ctx}: a stream arrived in one chunk");
        } else if !body.is_empty() {
            // The upstream's framing is kept: same length header.
            assert_eq!(
                headers
                    .get("content-length")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<usize>().ok()),
                Some(body.len()),
                "{ctx}: content-length"
            );
        }

        // The upstream got this interaction's request: the client's body and headers
        // (credentials included), plus the LLM span's traceparent.
        let got = upstream.requests();
        let got = &got[k];
        assert_eq!(
            got.interaction,
            Some(k),
            "{ctx}: the upstream matched another interaction"
        );
        assert_eq!(got.path_and_query, it.request.path_and_query(), "{ctx}");
        assert!(got.body == it.request.body, "{ctx}: request body changed");
        for (name, value) in &sent {
            // (A recorded traceparent is continued: the upstream gets the LLM span's.)
            if ["accept-encoding", "traceparent", "tracestate"].contains(&name.as_str()) {
                continue;
            }
            let values: Vec<&str> = got
                .headers
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .collect();
            assert!(
                values.contains(&value.as_str()),
                "{ctx}: request header {name}: {value} not forwarded ({values:?})"
            );
        }
        assert_eq!(got.header(auth_name), Some(auth_value.as_str()), "{ctx}");
        assert!(got.header("traceparent").is_some(), "{ctx}: no traceparent");
    }
    assert!(streams >= 20, "only {streams} streamed interactions");
    assert_eq!(upstream.unmatched(), 0);
    upstream.assert_all_played();

    // One span per exchange; no credential among the exported bytes.
    for gateway in gateways.values_mut() {
        gateway.stop();
    }
    let spans = receiver.spans();
    let llm: Vec<_> = spans
        .iter()
        .filter(|s| s.scope_name == "openllmetry")
        .collect();
    assert_eq!(llm.len(), all.len(), "{}", describe(&spans));
    // Every exchange was read to its end: none is recorded as incomplete.
    let incomplete: Vec<_> = llm
        .iter()
        .filter(|s| s.attr("openllmetry.response.incomplete").is_some())
        .collect();
    assert!(
        incomplete.is_empty(),
        "recorded as incomplete: {incomplete:#?}"
    );
    for secret in [OPENAI_KEY, ANTHROPIC_KEY, AZURE_KEY] {
        assert!(
            !receiver.raw_contains(secret.as_bytes()),
            "{secret} exported"
        );
    }
}

const STREAM_EVENT_DELAY: Duration = Duration::from_millis(25);

/// Streams arrive event by event, with the upstream's pacing: each chunk the client reads is
/// whole recorded events (never a buffered pile, never a split event), the first one long
/// before the stream ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_forwarded_event_by_event_without_buffering() {
    const DELAY: Duration = STREAM_EVENT_DELAY;
    let cassettes = [
        (
            "openai/test_functions/test_open_ai_function_calls_tools_streaming.yaml",
            0,
        ),
        (
            "anthropic/test_thinking/test_anthropic_thinking_streaming_legacy.yaml",
            0,
        ),
        ("openai/test_chat/test_chat_async_streaming.yaml", 0),
    ];
    let interactions: Vec<Interaction> =
        cassettes.iter().map(|(c, i)| interaction(c, *i)).collect();
    let upstream = ReplayServer::pool(interactions.clone())
        .with_event_delay(DELAY)
        .reuse(true)
        .spawn()
        .unwrap();
    let direct = ReplayServer::pool(interactions.clone())
        .with_event_delay(DELAY)
        .reuse(true)
        .spawn()
        .unwrap();
    let receiver = OtlpReceiver::start();
    let gateway = GatewayOpts::replay(&upstream.base_url())
        .otlp(&receiver)
        .spawn();
    let client = http_client();
    // The first round warms both paths up (first connections); the second is measured.
    for round in 0..2 {
        for (it, (name, _)) in interactions.iter().zip(cassettes) {
            check_stream(&client, &gateway, &direct, it, name, round == 1).await;
        }
    }
}

async fn check_stream(
    client: &reqwest::Client,
    gateway: &GatewayProcess,
    direct: &ReplayServer,
    it: &Interaction,
    name: &str,
    measure: bool,
) {
    const DELAY: Duration = STREAM_EVENT_DELAY;
    let events: Vec<&[u8]> = split_sse_events(&it.response.body);
    let n = events.len();
    let mut timings = Vec::new();
    for base in [gateway.base_url(), direct.base_url()] {
        let mut req = client.post(format!("{base}{}", it.request.path_and_query()));
        for (k, v) in request_headers(it) {
            req = req.header(k, v);
        }
        let sent = Instant::now();
        let mut resp = req.body(it.request.body.clone()).send().await.unwrap();
        let mut chunks: Vec<(Duration, bytes::Bytes)> = Vec::new();
        while let Some(c) = resp.chunk().await.unwrap() {
            chunks.push((sent.elapsed(), c));
        }
        timings.push(chunks);
    }
    let (through, direct_chunks) = (&timings[0], &timings[1]);
    if !measure {
        return;
    }
    // Chunk boundaries are event boundaries: every chunk is one or more whole events.
    let mut next = 0;
    for (i, (_, c)) in through.iter().enumerate() {
        let mut len = 0;
        let start = next;
        while len < c.len() && next < n {
            len += events[next].len();
            next += 1;
        }
        assert_eq!(
            &c[..],
            &events[start..next].concat()[..],
            "{name}: chunk {i} is not whole events {start}..{next}"
        );
    }
    assert_eq!(next, n, "{name}: events missing");
    // Nothing held back: (nearly) one chunk per event, as direct.
    assert!(
        through.len() * 4 >= n * 3,
        "{name}: {} chunks for {n} events (buffered?); direct: {}",
        through.len(),
        direct_chunks.len()
    );
    // Paced by the upstream: the first event long before the last one (a buffered stream
    // would arrive all at once), the median gap near the event delay.
    let first = through[0].0;
    let last = through.last().unwrap().0;
    assert!(
        last - first >= DELAY * (n as u32 - 1) / 2,
        "{name}: first chunk at {first:?}, last at {last:?}"
    );
    assert!(
        last >= DELAY * (n as u32) * 3 / 4,
        "{name}: {n} events in {last:?}"
    );
    let mut gaps: Vec<Duration> = through.windows(2).map(|w| w[1].0 - w[0].0).collect();
    gaps.sort();
    let median = gaps[gaps.len() / 2];
    assert!(
        median >= DELAY / 2,
        "{name}: median gap {median:?} with an event delay of {DELAY:?}"
    );
    // Time to first byte is the upstream's, not the whole stream's.
    let direct_first = direct_chunks[0].0;
    assert!(
        first < direct_first + DELAY * 4,
        "{name}: first chunk at {first:?} through the gateway, {direct_first:?} direct"
    );
}
