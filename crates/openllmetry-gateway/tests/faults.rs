//! Faults: the upstream closes mid-stream, sends invalid JSON, times out or is unreachable;
//! the client disconnects mid-stream. The client always gets what the upstream sent (or a
//! faithful error), and the span ends exactly once with what could be recorded.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use openllmetry_testkit::cassette::split_sse_events;
use openllmetry_testkit::flat::StatusCode;
use openllmetry_testkit::otlp::OtlpReceiver;
use openllmetry_testkit::replay::{Fault, INVALID_JSON, ReplayServer};

const STREAM: &str = "openai/test_functions/test_open_ai_function_calls_tools_streaming.yaml";

/// Waits a little longer, so a second end of the same span would have been exported too.
fn settle() {
    std::thread::sleep(Duration::from_millis(400));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_closing_mid_stream_is_a_visible_cut_and_one_error_span() {
    let it = interaction(STREAM, 0);
    let events = split_sse_events(&it.response.body);
    let upstream = ReplayServer::pool(vec![it.clone()])
        .with_fault(Fault::CloseAfterEvents(3))
        .spawn()
        .unwrap();
    let receiver = OtlpReceiver::start();
    let gateway = GatewayOpts::replay(&upstream.base_url())
        .otlp(&receiver)
        .spawn();
    let client = http_client();
    let mut resp = client
        .post(gateway.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(it.request.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut got = Vec::new();
    let error = loop {
        match resp.chunk().await {
            Ok(Some(c)) => got.extend_from_slice(&c),
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    assert!(
        error.is_some(),
        "the client saw a clean end of a cut stream"
    );
    assert_eq!(got, events[..3].concat(), "the events sent before the cut");

    let spans = wait_spans(&receiver, "openai.chat", 1);
    settle();
    let spans_after = receiver.spans_named("openai.chat");
    assert_eq!(spans_after.len(), 1, "{}", describe(&receiver.spans()));
    let span = &spans[0];
    assert_eq!(span.status_code, StatusCode::Error, "{}", span.all_text());
    assert!(span.attr_str("error.type").is_some());
    // What arrived before the cut is recorded.
    assert!(
        span.attr_str("gen_ai.response.id").is_some(),
        "{}",
        span.all_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_json_passes_through_unchanged_and_is_counted() {
    let chat = interaction("openai/test_chat/test_chat.yaml", 0);
    let stream = interaction(STREAM, 0);
    let upstream = ReplayServer::pool(vec![chat.clone(), stream.clone()])
        .with_fault_for(0, Fault::InvalidJsonBody)
        .with_fault_for(1, Fault::InvalidJsonEvent(1))
        .spawn()
        .unwrap();
    let receiver = OtlpReceiver::start();
    let mut gateway = GatewayOpts::replay(&upstream.base_url())
        .otlp(&receiver)
        .spawn();
    let client = http_client();

    let resp = client
        .post(gateway.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(chat.request.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers().get("content-type").unwrap(),
        "application/json"
    );
    assert_eq!(resp.bytes().await.unwrap(), INVALID_JSON.as_bytes());

    let resp = client
        .post(gateway.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(stream.request.body.clone())
        .send()
        .await
        .unwrap();
    let body = resp.bytes().await.unwrap();
    let mut events: Vec<Vec<u8>> = split_sse_events(&stream.response.body)
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect();
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains(INVALID_JSON),
        "the corrupted event was changed"
    );
    // Every other event arrives unchanged.
    events.remove(1);
    for e in &events {
        assert!(
            body.windows(e.len()).any(|w| w == &e[..]),
            "event {:?} missing",
            String::from_utf8_lossy(e)
        );
    }

    let spans = wait_spans(&receiver, "openai.chat", 2);
    settle();
    assert_eq!(receiver.spans_named("openai.chat").len(), 2);
    // The span of the unreadable body records what the request said and ends normally.
    let bad = spans
        .iter()
        .find(|s| s.attr_bool("gen_ai.request.stream") == Some(false))
        .unwrap();
    assert_eq!(bad.attr_str("gen_ai.request.model"), Some("gpt-3.5-turbo"));
    assert_eq!(bad.attr_str("gen_ai.provider.name"), Some("openai"));
    assert!(bad.attr_str("gen_ai.response.id").is_none());
    // The stream's span still has what the readable events said.
    let streamed = spans
        .iter()
        .find(|s| s.attr_bool("gen_ai.request.stream") == Some(true))
        .unwrap();
    assert!(
        streamed.attr_str("gen_ai.response.id").is_some(),
        "{}",
        streamed.all_text()
    );

    // Each fault is counted, as a metric next to the spans.
    gateway.stop();
    let faults = receiver.metric_points("openllmetry.instrumentation.faults");
    let invalid: f64 = faults
        .iter()
        .filter(|p| p.attr_str("openllmetry.fault.kind") == Some("invalid_json"))
        .filter_map(|p| p.value)
        .fold(0.0, f64::max);
    assert!(invalid >= 2.0, "invalid_json faults: {faults:#?}");
}

/// An upstream that streams OpenAI chunks every 20 ms (up to ~10 s) and notes when its
/// client goes away.
struct SlowUpstream {
    addr: SocketAddr,
    cancelled: Arc<Mutex<Option<Instant>>>,
    sent: Arc<Mutex<usize>>,
}

impl SlowUpstream {
    fn start() -> SlowUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let cancelled = Arc::new(Mutex::new(None));
        let sent = Arc::new(Mutex::new(0));
        let (c, n) = (cancelled.clone(), sent.clone());
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            stream.set_nodelay(true).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let mut out = stream;
            out.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
            )
            .unwrap();
            for i in 0..500 {
                let event = format!(
                    "data: {{\"id\":\"chatcmpl-partial\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"tok{i} \"}},\"finish_reason\":null}}]}}\n\n"
                );
                let chunk = format!("{:x}\r\n{event}\r\n", event.len());
                if out
                    .write_all(chunk.as_bytes())
                    .and_then(|_| out.flush())
                    .is_err()
                {
                    *c.lock().unwrap() = Some(Instant::now());
                    return;
                }
                *n.lock().unwrap() += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        SlowUpstream {
            addr,
            cancelled,
            sent,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_disconnect_cancels_the_upstream_and_ends_the_span_once_with_partial_data() {
    let upstream = SlowUpstream::start();
    let receiver = OtlpReceiver::start();
    let gateway = GatewayOpts::replay(&format!("http://{}", upstream.addr))
        .otlp(&receiver)
        .spawn();
    let client = http_client();
    let mut resp = client
        .post(gateway.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(r#"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"count"}]}"#)
        .send()
        .await
        .unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        got.push(resp.chunk().await.unwrap().unwrap());
    }
    let dropped = Instant::now();
    drop(resp);
    drop(client);

    // The gateway notices, drops its upstream request, and the upstream sees it go away.
    let deadline = Instant::now() + PATIENCE;
    let cancelled_at = loop {
        if let Some(t) = *upstream.cancelled.lock().unwrap() {
            break t;
        }
        assert!(
            Instant::now() < deadline,
            "the upstream request was not cancelled ({} events sent)",
            upstream.sent.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(
        cancelled_at - dropped < Duration::from_secs(3),
        "cancelled {:?} after the client left",
        cancelled_at - dropped
    );
    assert!(*upstream.sent.lock().unwrap() < 400);

    let span = wait_spans(&receiver, "openai.chat", 1).remove(0);
    settle();
    assert_eq!(receiver.spans_named("openai.chat").len(), 1, "ended twice?");
    assert_eq!(
        span.attr_bool("openllmetry.response.incomplete"),
        Some(true),
        "{}",
        span.all_text()
    );
    assert_eq!(
        span.attr_str("gen_ai.response.id"),
        Some("chatcmpl-partial")
    );
    let out = span.attr_str("gen_ai.output.messages").unwrap_or_default();
    assert!(out.contains("tok0 tok1 tok2"), "partial output: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_errors_timeouts_and_unreachable_upstreams_are_returned_and_recorded() {
    let chat = interaction("openai/test_chat/test_chat.yaml", 0);
    let messages = interaction(
        "anthropic/test_messages/test_anthropic_message_create_legacy.yaml",
        0,
    );
    // OpenAI: answers 429 with the recorded body; Anthropic: too slow for the read timeout.
    let upstream = ReplayServer::pool(vec![chat.clone(), messages.clone()])
        .with_fault_for(0, Fault::Status(429))
        .with_fault_for(1, Fault::DelayHeaders(Duration::from_secs(5)))
        .spawn()
        .unwrap();
    let receiver = OtlpReceiver::start();
    let dir = std::env::temp_dir().join(format!("openllmetry-gw-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("gateway.toml");
    std::fs::write(&config, "read_timeout_secs = 1\nconnect_timeout_secs = 1\n").unwrap();
    let gateway = GatewayOpts::replay(&upstream.base_url())
        .otlp(&receiver)
        .arg("--config")
        .arg(config.to_str().unwrap())
        .spawn();
    let client = http_client();

    let resp = client
        .post(gateway.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(chat.request.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        429,
        "the upstream's status is returned as is"
    );
    assert_eq!(resp.bytes().await.unwrap(), chat.response.body);

    let started = Instant::now();
    let resp = client
        .post(gateway.url("/v1/messages"))
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .body(messages.request.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 504);
    assert!(started.elapsed() < Duration::from_secs(4));

    let openai = wait_spans(&receiver, "openai.chat", 1).remove(0);
    assert_eq!(openai.status_code, StatusCode::Error);
    assert_eq!(openai.attr_str("error.type"), Some("429"));
    let anthropic = wait_spans(&receiver, "anthropic.chat", 1).remove(0);
    assert_eq!(anthropic.status_code, StatusCode::Error);
    assert_eq!(anthropic.attr_str("error.type"), Some("timeout"));

    // Nothing listens on the configured upstream: 502, and an error span.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let gateway = GatewayOpts::replay(&dead).otlp(&receiver).spawn();
    let resp = client
        .post(gateway.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(chat.request.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    wait_spans(&receiver, "openai.chat", 2);
    let spans = receiver.spans_named("openai.chat");
    let unreachable = spans
        .iter()
        .find(|s| s.attr_str("error.type") == Some("connect_error"))
        .unwrap_or_else(|| panic!("{}", describe(&spans)));
    assert_eq!(unreachable.status_code, StatusCode::Error);
    let _ = std::fs::remove_dir_all(&dir);
}
