//! The gateway's export pipeline under pressure (issue 10): export problems are logged
//! whatever the telemetry switches say, simple mode never blocks a request, and a
//! black-holed collector with big prompts keeps memory bounded while the spans are still
//! exported (truncated, marked) once a collector is there.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use openllmetry_testkit::cassette::{Cassette, Interaction};
use openllmetry_testkit::otlp::OtlpReceiver;
use openllmetry_testkit::replay::ReplayServer;

const MIB: usize = 1024 * 1024;

fn chat() -> Interaction {
    Cassette::load_named("openai/test_chat/test_chat.yaml")
        .unwrap()
        .interactions
        .remove(0)
}

/// The recorded chat request with its first message's content replaced by `prompt_bytes`.
fn big_request(it: &Interaction, prompt_bytes: usize) -> bytes::Bytes {
    let mut body: serde_json::Value = serde_json::from_slice(&it.request.body).unwrap();
    body["messages"][0]["content"] = serde_json::Value::String("p".repeat(prompt_bytes));
    bytes::Bytes::from(serde_json::to_vec(&body).unwrap())
}

/// Sends `n` requests with `body` on `concurrency` connections; panics on any non-200 answer.
async fn send(gateway: &GatewayProcess, body: bytes::Bytes, n: usize, concurrency: usize) {
    let client = http_client();
    let url = Arc::new(gateway.url("/v1/chat/completions"));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..n / concurrency {
                let resp = client
                    .post(url.as_str())
                    .header("content-type", "application/json")
                    .header("authorization", format!("Bearer {OPENAI_KEY}"))
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200);
                resp.bytes().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_failures_are_logged_even_with_do_not_track_and_ci() {
    let it = chat();
    let upstream = ReplayServer::looping(it.clone()).spawn().unwrap();
    let refused = OtlpReceiver::start();
    refused.stop();
    let mut opts = GatewayOpts::replay(&upstream.base_url())
        .env("DO_NOT_TRACK", "1")
        .env("CI", "1");
    opts.otlp = Some(refused.http_endpoint());
    let gateway = opts.spawn();
    send(&gateway, bytes::Bytes::from(it.request.body.clone()), 3, 1).await;
    let line = gateway.wait_for_stderr("telemetry export failed", PATIENCE);
    assert!(
        line.is_some(),
        "no export warning with DO_NOT_TRACK=1 CI=1:\n{}",
        gateway.stderr()
    );
    // The cause is logged (connection refused, whatever the client library's wording).
    assert!(
        line.unwrap().contains("cause="),
        "no cause:\n{}",
        gateway.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_mode_with_the_collector_down_never_blocks_requests() {
    let it = chat();
    let upstream = ReplayServer::looping(it.clone()).spawn().unwrap();
    for (what, endpoint) in [
        ("black hole", format!("http://{}", Sink::start().addr)),
        ("refused", {
            let r = OtlpReceiver::start();
            r.stop();
            r.http_endpoint()
        }),
    ] {
        let mut opts = GatewayOpts::replay(&upstream.base_url())
            .env("TRACELOOP_DISABLE_BATCH", "true")
            .env("OTEL_EXPORTER_OTLP_TIMEOUT", "3000");
        opts.otlp = Some(endpoint);
        let gateway = opts.spawn();
        let started = Instant::now();
        // 5 concurrent requests, all answered well within the export timeout.
        tokio::time::timeout(
            Duration::from_secs(10),
            send(&gateway, bytes::Bytes::from(it.request.body.clone()), 5, 5),
        )
        .await
        .unwrap_or_else(|_| panic!("{what}: 5 requests not answered within 10 s"));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{what}: 5 concurrent requests took {:?} (the export timeout is 3 s)",
            started.elapsed()
        );
        let stderr = gateway.stderr();
        assert!(!stderr.contains("panicked"), "{what}:\n{stderr}");
        assert!(
            !stderr.contains("Cannot drop a runtime"),
            "{what}:\n{stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_prompts_with_a_black_holed_collector_keep_memory_bounded() {
    let it = chat();
    let upstream = ReplayServer::looping(it.clone())
        .record_requests(false)
        .spawn()
        .unwrap();
    let hole = Sink::start();
    let mut opts = GatewayOpts::replay(&upstream.base_url());
    opts.otlp = Some(format!("http://{}", hole.addr));
    let gateway = opts.spawn();
    // 100 MiB of prompts: more than the 64 MiB export-queue budget (kept small for the test's
    // duration; see docs/notes/export.md for 2,000 requests).
    let n: usize = std::env::var("OPENLLMETRY_TEST_BIG_PROMPTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    send(&gateway, big_request(&it, MIB), n, 4).await;
    let peak = peak_rss_kib(gateway.pid());
    eprintln!("peak RSS with a black-holed collector: {peak} KiB");
    assert!(peak <= 256 * 1024, "peak RSS {peak} KiB > 256 MiB");
    assert!(
        gateway.wait_for_stderr("truncated", PATIENCE).is_some(),
        "truncation over the queue budget not logged:\n{}",
        gateway.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_over_the_queue_budget_arrive_truncated_not_missing() {
    let it = chat();
    let upstream = ReplayServer::looping(it.clone())
        .record_requests(false)
        .spawn()
        .unwrap();
    let receiver = OtlpReceiver::start();
    // A small budget and a long batch delay: the queue fills past its budget.
    let gateway = GatewayOpts::replay(&upstream.base_url())
        .otlp(&receiver)
        .env("TRACELOOP_EXPORT_QUEUE_MAX_BYTES", &(8 * MIB).to_string())
        .env("OTEL_BSP_SCHEDULE_DELAY", "3000")
        .spawn();
    send(&gateway, big_request(&it, MIB), 30, 3).await;
    let spans = wait_spans(&receiver, "openai.chat", 30);
    assert_eq!(spans.len(), 30, "{}", describe(&spans));
    let truncated = spans
        .iter()
        .filter(|s| s.attr("openllmetry.truncated").is_some())
        .count();
    assert!(
        (1..30).contains(&truncated),
        "{truncated} of 30 spans truncated with an 8 MiB budget and 1 MiB prompts"
    );
    for r in receiver.raw_requests() {
        assert!(r.body.len() <= 4 * MIB, "request of {} bytes", r.body.len());
    }
}
