//! The replay server over real loopback HTTP with a plain reqwest client.

use std::time::{Duration, Instant};

use bytes::Bytes;
use openllmetry_testkit::cassette::{
    Cassette, Interaction, RecordedRequest, RecordedResponse, all_cassettes,
};
use openllmetry_testkit::replay::{Fault, INVALID_JSON, ReplayServer, UNMATCHED_STATUS};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .no_zstd()
        .build()
        .unwrap()
}

async fn send(
    client: &reqwest::Client,
    server: &ReplayServer,
    req: &RecordedRequest,
) -> reqwest::Response {
    let mut builder = client
        .request(
            reqwest::Method::from_bytes(req.method.as_bytes()).unwrap(),
            server.url(req.path_and_query()),
        )
        .body(req.body.clone());
    if let Some(ct) = req.header("content-type") {
        builder = builder.header("content-type", ct);
    }
    builder.send().await.unwrap()
}

/// Reads a response body frame by frame until it ends or fails.
async fn frames(resp: &mut reqwest::Response) -> (Vec<Bytes>, Option<reqwest::Error>) {
    let mut out = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => out.push(chunk),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

fn interaction(method: &str, uri: &str, req_body: &str, status: u16, body: &str) -> Interaction {
    Interaction {
        request: RecordedRequest {
            method: method.into(),
            uri: uri.into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: req_body.as_bytes().to_vec(),
        },
        response: RecordedResponse {
            status,
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Content-Length".into(), "999".into()),
                ("Connection".into(), "close".into()),
                ("Transfer-Encoding".into(), "chunked".into()),
                ("x-custom".into(), "kept".into()),
            ],
            body: body.as_bytes().to_vec(),
        },
    }
}

#[tokio::test]
async fn every_cassette_replays_byte_identical() {
    let client = client();
    for path in all_cassettes() {
        let cassette = Cassette::load(&path).unwrap();
        let server = ReplayServer::start(&cassette).await;
        for (i, interaction) in cassette.interactions.iter().enumerate() {
            let ctx = format!("{} #{i}", path.display());
            let resp = send(&client, &server, &interaction.request).await;
            assert_eq!(resp.status().as_u16(), interaction.response.status, "{ctx}");
            let headers = resp.headers().clone();
            assert_eq!(
                headers.get("content-type").map(|v| v.to_str().unwrap()),
                interaction.response.content_type(),
                "{ctx}"
            );
            assert_eq!(
                headers.get("content-encoding").map(|v| v.to_str().unwrap()),
                interaction.response.header("content-encoding"),
                "{ctx}"
            );
            assert_eq!(
                headers.get_all("set-cookie").iter().count(),
                interaction
                    .response
                    .headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
                    .count(),
                "{ctx}"
            );
            assert!(
                headers.get("connection").is_none_or(|v| v != "close"),
                "{ctx}"
            );
            let body = resp.bytes().await.unwrap();
            assert!(
                body[..] == interaction.response.body[..],
                "{ctx}: body differs ({} vs {} bytes)",
                body.len(),
                interaction.response.body.len()
            );
        }
        assert_eq!(server.unmatched(), 0, "{}", path.display());
        assert_eq!(server.played(), cassette.interactions.len());
        server.assert_all_played();
        let requests = server.requests();
        assert_eq!(requests.len(), cassette.interactions.len());
        for (i, req) in requests.iter().enumerate() {
            assert_eq!(req.interaction, Some(i));
            assert_eq!(req.body, cassette.interactions[i].request.body);
        }
    }
}

#[tokio::test]
async fn sse_arrives_event_by_event_over_time() {
    let cassette = Cassette::load_named("openai/test_chat/test_chat_streaming.yaml").unwrap();
    let recorded = &cassette.interactions[0];
    let events = recorded.response.sse_events();
    let delay = Duration::from_millis(2);
    let server = ReplayServer::builder(&cassette)
        .with_event_delay(delay)
        .start()
        .await;
    let started = Instant::now();
    let mut resp = send(&client(), &server, &recorded.request).await;
    assert!(resp.headers().get("content-length").is_none());
    let (chunks, err) = frames(&mut resp).await;
    assert!(err.is_none(), "{err:?}");
    assert!(
        chunks.len() >= events.len() && chunks.len() > 1,
        "{} frames for {} events",
        chunks.len(),
        events.len()
    );
    assert_eq!(chunks.concat(), recorded.response.body);
    assert!(started.elapsed() >= delay * events.len() as u32);
}

#[tokio::test]
async fn sse_frames_without_delay_still_match_events() {
    let cassette = Cassette::load_named(
        "anthropic/test_messages/test_anthropic_message_streaming_legacy.yaml",
    )
    .unwrap();
    let recorded = &cassette.interactions[0];
    let server = ReplayServer::start(&cassette).await;
    let mut resp = send(&client(), &server, &recorded.request).await;
    let (chunks, err) = frames(&mut resp).await;
    assert!(err.is_none());
    assert!(chunks.len() > 1);
    assert_eq!(chunks.concat(), recorded.response.body);
}

#[tokio::test]
async fn vcrpy_order_once_and_unmatched() {
    let server = ReplayServer::start(vec![
        interaction("POST", "https://api.example/v1/a", "{}", 200, r#"{"n":1}"#),
        interaction("POST", "https://api.example/v1/a", "{}", 200, r#"{"n":2}"#),
        interaction(
            "POST",
            "https://api.example/v1/b?x=1&y=2",
            "{}",
            201,
            r#"{"n":3}"#,
        ),
    ])
    .await;
    let client = client();
    let post = |path: &str| client.post(server.url(path)).body("{}").send();

    // A later route may be played before an earlier one; same-route interactions in order.
    let b = post("/v1/b?y=2&x=1").await.unwrap();
    assert_eq!(b.status(), 201);
    assert_eq!(b.headers()["x-custom"], "kept");
    assert!(b.headers().get("connection").is_none_or(|v| v != "close"));
    assert_eq!(b.headers()["content-length"], "7");
    assert_eq!(b.text().await.unwrap(), r#"{"n":3}"#);
    assert_eq!(
        post("/v1/a").await.unwrap().text().await.unwrap(),
        r#"{"n":1}"#
    );
    assert_eq!(server.unplayed(), vec![1]);
    assert_eq!(
        post("/v1/a").await.unwrap().text().await.unwrap(),
        r#"{"n":2}"#
    );

    // Each interaction plays once; then a clear error, counted.
    let again = post("/v1/a").await.unwrap();
    assert_eq!(again.status().as_u16(), UNMATCHED_STATUS);
    let text = again.text().await.unwrap();
    assert!(
        text.contains("no unplayed interaction matches POST /v1/a"),
        "{text}"
    );
    // Query and method are part of the match.
    assert_eq!(post("/v1/b?x=1").await.unwrap().status().as_u16(), 599);
    let get = client.get(server.url("/v1/a")).send().await.unwrap();
    assert_eq!(get.status().as_u16(), 599);

    assert_eq!(server.played(), 3);
    assert_eq!(server.unmatched(), 3);
    assert!(server.unplayed().is_empty());
    let requests = server.requests();
    let routed: Vec<Option<usize>> = requests.iter().map(|r| r.interaction).collect();
    assert_eq!(routed, vec![Some(2), Some(0), Some(1), None, None, None]);
    assert_eq!(requests[0].path(), "/v1/b");
    assert_eq!(requests[0].query(), Some("y=2&x=1"));
    assert_eq!(requests[5].method, "GET");
}

#[tokio::test]
async fn reuse_serves_played_interactions_again() {
    let server = ReplayServer::builder(vec![
        interaction("POST", "http://h/v1/a", "{}", 200, "1"),
        interaction("POST", "http://h/v1/a", "{}", 200, "2"),
    ])
    .reuse(true)
    .start()
    .await;
    let client = client();
    let mut got = Vec::new();
    for _ in 0..4 {
        let resp = client.post(server.url("/v1/a")).send().await.unwrap();
        got.push(resp.text().await.unwrap());
    }
    assert_eq!(got, ["1", "2", "1", "1"]);
    assert_eq!(server.play_counts(), vec![3, 1]);
    assert_eq!(server.unmatched(), 0);
}

#[tokio::test]
async fn records_headers_such_as_traceparent() {
    let cassette = Cassette::load_named("openai/test_chat/test_chat.yaml").unwrap();
    let server = ReplayServer::start(&cassette).await;
    let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    client()
        .post(server.url("/v1/chat/completions"))
        .header("traceparent", tp)
        .header("content-type", "application/json")
        .body(r#"{"model":"gpt-3.5-turbo"}"#)
        .send()
        .await
        .unwrap();
    let req = server.last_request().unwrap();
    assert_eq!(req.header("TraceParent"), Some(tp));
    assert_eq!(req.method, "POST");
    assert_eq!(req.body_json().unwrap()["model"], "gpt-3.5-turbo");
}

#[tokio::test]
async fn pool_prefers_equal_json_bodies_then_routes() {
    let chat = Cassette::load_named("openai/test_chat/test_chat.yaml").unwrap();
    let streaming = Cassette::load_named("openai/test_chat/test_chat_streaming.yaml").unwrap();
    let stream_req = streaming.interactions[0].request.clone();
    let pool = Cassette::concat([chat.clone(), streaming.clone()]);
    let n = pool.interactions.len();
    let server = ReplayServer::pool(&pool).start().await;
    let client = client();

    // The streaming request's JSON, reformatted, finds the streaming interaction even though
    // unplayed chat interactions on the same path come first.
    let mut json = stream_req.body_json().unwrap();
    json.as_object_mut().unwrap().remove("stream");
    json["stream"] = serde_json::Value::Bool(true);
    let resp = client
        .post(server.url("/v1/chat/completions"))
        .body(serde_json::to_vec_pretty(&json).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(
        resp.bytes().await.unwrap(),
        streaming.interactions[0].response.body
    );
    assert_eq!(server.requests()[0].interaction, Some(n - 1));

    // An unknown body falls back to the first unplayed interaction on the route.
    let resp = client
        .post(server.url("/v1/chat/completions"))
        .body(r#"{"model":"other"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.bytes().await.unwrap(),
        chat.interactions[0].response.body
    );
    assert_eq!(server.requests()[1].interaction, Some(0));

    // Without reuse, the pool runs dry.
    for _ in 1..chat.interactions.len() {
        let resp = client
            .post(server.url("/v1/chat/completions"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let resp = client
        .post(server.url("/v1/chat/completions"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 599);
    assert_eq!(server.unmatched(), 1);
}

#[tokio::test]
async fn pool_with_reuse_never_runs_dry() {
    let streaming = Cassette::load_named("openai/test_chat/test_chat_streaming.yaml").unwrap();
    let body = streaming.interactions[0].request.body.clone();
    let server = ReplayServer::pool(&streaming).reuse(true).start().await;
    let client = client();
    for _ in 0..3 {
        let resp = client
            .post(server.url("/v1/chat/completions"))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.bytes().await.unwrap(),
            streaming.interactions[0].response.body
        );
    }
    assert_eq!(server.play_counts(), vec![3]);
}

#[tokio::test]
async fn loop_mode_serves_one_interaction_forever() {
    let cassette = Cassette::load_named("openai/test_chat/test_chat.yaml").unwrap();
    let recorded = cassette.interactions[0].clone();
    let server = ReplayServer::looping(recorded.clone()).start().await;
    let client = client();
    for i in 0..200 {
        let path = if i % 2 == 0 {
            "/v1/chat/completions"
        } else {
            "/anything"
        };
        let resp = client
            .post(server.url(path))
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.bytes().await.unwrap(), recorded.response.body);
    }
    assert_eq!(server.played(), 200);
    assert_eq!(server.unmatched(), 0);
    assert!(
        server.requests().is_empty(),
        "loop mode does not record by default"
    );
}

#[tokio::test]
async fn fault_close_after_events() {
    let cassette = Cassette::load_named("openai/test_chat/test_chat_streaming.yaml").unwrap();
    let recorded = &cassette.interactions[0];
    let events = recorded.response.sse_events();
    let server = ReplayServer::builder(&cassette)
        .with_fault(Fault::CloseAfterEvents(3))
        .start()
        .await;
    let mut resp = send(&client(), &server, &recorded.request).await;
    assert_eq!(resp.status(), 200);
    let (chunks, err) = frames(&mut resp).await;
    assert!(err.is_some(), "the stream must end in an error");
    assert_eq!(chunks.concat(), events[..3].concat());
}

#[tokio::test]
async fn fault_close_after_bytes_on_gzip_body() {
    let cassette = Cassette::load_named("openai/test_chat/test_chat.yaml").unwrap();
    let recorded = &cassette.interactions[0];
    let server = ReplayServer::builder(&cassette)
        .with_fault(Fault::CloseAfterBytes(10))
        .start()
        .await;
    let mut resp = send(&client(), &server, &recorded.request).await;
    assert_eq!(resp.headers()["content-encoding"], "gzip");
    let (chunks, err) = frames(&mut resp).await;
    assert!(err.is_some());
    assert_eq!(chunks.concat(), recorded.response.body[..10].to_vec());
}

#[tokio::test]
async fn fault_invalid_json_body_and_event() {
    let chat = Cassette::load_named("openai/test_chat/test_chat.yaml").unwrap();
    let server = ReplayServer::builder(&chat)
        .with_fault(Fault::InvalidJsonBody)
        .start()
        .await;
    let resp = send(&client(), &server, &chat.interactions[0].request).await;
    assert!(resp.headers().get("content-encoding").is_none());
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body = resp.bytes().await.unwrap();
    assert_eq!(body, INVALID_JSON.as_bytes());
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());

    let streaming = Cassette::load_named("openai/test_chat/test_chat_streaming.yaml").unwrap();
    let events = streaming.interactions[0].response.sse_events();
    let server = ReplayServer::builder(&streaming)
        .with_fault_for(0, Fault::InvalidJsonEvent(1))
        .start()
        .await;
    let mut resp = send(&client(), &server, &streaming.interactions[0].request).await;
    let (chunks, err) = frames(&mut resp).await;
    assert!(err.is_none());
    assert_eq!(chunks.concat().len(), {
        let bad = format!("data: {INVALID_JSON}\n\n");
        events.concat().len() - events[1].len() + bad.len()
    });
    let text = String::from_utf8(chunks.concat().to_vec()).unwrap();
    assert!(text.contains(&format!("data: {INVALID_JSON}\n\n")));
}

#[tokio::test]
async fn fault_status_and_header_delay() {
    let chat = Cassette::load_named("openai/test_chat/test_chat.yaml").unwrap();
    let server = ReplayServer::builder(&chat)
        .with_fault(Fault::Status(503))
        .with_fault(Fault::DelayHeaders(Duration::from_millis(50)))
        .start()
        .await;
    let started = Instant::now();
    let resp = send(&client(), &server, &chat.interactions[0].request).await;
    assert_eq!(resp.status(), 503);
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(
        resp.bytes().await.unwrap(),
        chat.interactions[0].response.body
    );
}

#[test]
fn works_without_an_async_runtime_and_stops_on_drop() {
    let cassette = Cassette::load_named("openai/test_chat/test_chat.yaml").unwrap();
    let server = ReplayServer::builder(&cassette).spawn().unwrap();
    let addr = server.addr();
    assert_eq!(server.base_url(), format!("http://{addr}"));
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .no_gzip()
        .build()
        .unwrap();
    let resp = client
        .post(server.url("/v1/chat/completions"))
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(
        resp.bytes().unwrap(),
        cassette.interactions[0].response.body
    );
    drop(server);
    assert!(std::net::TcpStream::connect(addr).is_err());
}
