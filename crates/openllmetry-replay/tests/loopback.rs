//! The fake provider must not mislead (issue 11): over real loopback HTTP, replay answers
//! gzip only to a client that asked for it, never crosses the `stream` flag in its fallback
//! match, and reports every request with the interaction that answered it.

use std::io::Read as _;
use std::sync::{Arc, Mutex};

use openllmetry_replay::{Cassette, ReceivedRequest, ReplayServer, embedded};

const CHAT: &str = "openai/test_chat/test_chat.yaml";
const CHAT_STREAMING: &str = "openai/test_chat/test_chat_streaming.yaml";

/// A client that neither asks for nor decodes any content coding: it sees the bytes sent.
fn raw_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .no_zstd()
        .build()
        .unwrap()
}

fn load(name: &str) -> Cassette {
    embedded::load(name).expect("embedded").expect("parses")
}

async fn post(
    server: &ReplayServer,
    body: &serde_json::Value,
    accept_encoding: Option<&str>,
) -> reqwest::Response {
    let mut req = raw_client()
        .post(server.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap());
    if let Some(ae) = accept_encoding {
        req = req.header("accept-encoding", ae);
    }
    req.send().await.unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

#[tokio::test]
async fn gzip_goes_only_to_clients_that_accept_it() {
    let chat = load(CHAT);
    let recorded = chat.interactions[0].clone();
    assert!(
        recorded.response.is_gzip(),
        "the fixture must be a gzip recording"
    );
    let body = recorded.request.body_json().unwrap();
    let plain = gunzip(&recorded.response.body);
    serde_json::from_slice::<serde_json::Value>(&plain).expect("recorded body is JSON");

    // That one interaction only (the cassette holds several, all gzip, with different bodies).
    let server = ReplayServer::pool(vec![recorded.clone()])
        .reuse(true)
        .honour_accept_encoding(true)
        .start()
        .await;

    // No Accept-Encoding, identity, and gzip refused with q=0: the decoded body, no coding.
    for ae in [None, Some("identity"), Some("gzip;q=0, identity")] {
        let resp = post(&server, &body, ae).await;
        assert_eq!(resp.status(), 200, "{ae:?}");
        assert!(
            resp.headers().get("content-encoding").is_none(),
            "{ae:?}: no Content-Encoding for a client that did not accept gzip"
        );
        let got = resp.bytes().await.unwrap();
        assert_eq!(got.as_ref(), plain.as_slice(), "{ae:?}: identity body");
    }

    // A client that accepts gzip gets the exact recorded bytes.
    for ae in ["gzip", "br, gzip;q=0.5", "*"] {
        let resp = post(&server, &body, Some(ae)).await;
        assert_eq!(resp.status(), 200, "{ae}");
        assert_eq!(resp.headers()["content-encoding"], "gzip", "{ae}");
        let got = resp.bytes().await.unwrap();
        assert_eq!(got.as_ref(), recorded.response.body.as_slice(), "{ae}");
    }
    server.shutdown();
}

#[tokio::test]
async fn default_keeps_vcrpy_semantics_recorded_bytes_for_everyone() {
    // Without honour_accept_encoding (the testkit's default, as vcrpy): recorded bytes as-is.
    let chat = load(CHAT);
    let recorded = chat.interactions[0].clone();
    let server = ReplayServer::pool(&chat).reuse(true).start().await;
    let resp = post(&server, &recorded.request.body_json().unwrap(), None).await;
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    assert_eq!(
        resp.bytes().await.unwrap().as_ref(),
        recorded.response.body.as_slice()
    );
    server.shutdown();
}

/// A request body that equals no recording (so only the route fallback can match it).
fn unrecorded(stream: bool) -> serde_json::Value {
    serde_json::json!({
        "model": "gpt-3.5-turbo",
        "messages": [{"role": "user", "content": "a prompt nobody recorded"}],
        "stream": stream,
    })
}

#[tokio::test]
async fn fallback_never_crosses_the_stream_flag() {
    let chat = load(CHAT);
    let streaming = load(CHAT_STREAMING);

    // Only plain recordings: a streaming request finds nothing (and the reverse).
    let plain_only = ReplayServer::pool(&chat).reuse(true).start().await;
    let resp = post(&plain_only, &unrecorded(true), Some("gzip")).await;
    assert_ne!(
        resp.status(),
        200,
        "a streaming request got a plain recording"
    );
    assert_eq!(plain_only.unmatched(), 1);
    let resp = post(&plain_only, &unrecorded(false), Some("gzip")).await;
    assert_eq!(resp.status(), 200);
    plain_only.shutdown();

    let stream_only = ReplayServer::pool(&streaming).reuse(true).start().await;
    let resp = post(&stream_only, &unrecorded(false), Some("gzip")).await;
    assert_ne!(
        resp.status(),
        200,
        "a plain request got a streamed recording"
    );
    // `stream` absent counts as false.
    let mut absent = unrecorded(false);
    absent.as_object_mut().unwrap().remove("stream");
    let resp = post(&stream_only, &absent, Some("gzip")).await;
    assert_ne!(
        resp.status(),
        200,
        "absent stream flag got a streamed recording"
    );
    assert_eq!(stream_only.unmatched(), 2);
    stream_only.shutdown();

    // Both kinds, plain first: each request gets its own kind.
    let both = ReplayServer::pool(Cassette::concat([chat.clone(), streaming.clone()]))
        .reuse(true)
        .start()
        .await;
    let resp = post(&both, &unrecorded(true), Some("gzip")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let resp = post(&both, &unrecorded(false), None).await;
    assert_eq!(resp.status(), 200);
    assert_ne!(resp.headers()["content-type"], "text/event-stream");
    both.shutdown();
}

/// What the hook saw of one request: path and query, and the interaction that answered it.
type Seen = (String, Option<usize>);

#[tokio::test]
async fn each_request_is_reported_with_its_match() {
    let chat = load(CHAT);
    let streaming = load(CHAT_STREAMING);
    let n_chat = chat.interactions.len();
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let server = ReplayServer::pool(Cassette::concat([chat.clone(), streaming.clone()]))
        .reuse(true)
        .on_request(move |req: &ReceivedRequest| {
            sink.lock()
                .unwrap()
                .push((req.path_and_query.clone(), req.interaction));
        })
        .start()
        .await;

    // Exact body of the first streaming interaction, an unrecorded plain one, and a route
    // nobody recorded.
    let exact = streaming.interactions[0].request.body_json().unwrap();
    assert_eq!(post(&server, &exact, None).await.status(), 200);
    assert_eq!(post(&server, &unrecorded(false), None).await.status(), 200);
    let resp = raw_client()
        .get(server.url("/v1/nowhere"))
        .send()
        .await
        .unwrap();
    assert_ne!(resp.status(), 200);

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "one report per request: {seen:?}");
    assert_eq!(seen[0], ("/v1/chat/completions".into(), Some(n_chat)));
    let (path, plain) = &seen[1];
    assert_eq!(path, "/v1/chat/completions");
    assert!(
        plain.is_some_and(|i| i < n_chat),
        "plain request answered by a plain recording: {plain:?}"
    );
    assert_eq!(seen[2], ("/v1/nowhere".into(), None));
    server.shutdown();
}
