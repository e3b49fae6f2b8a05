//! Graceful shutdown of the gateway binary: SIGTERM/SIGINT during an in-flight stream lets it
//! complete (drain) and every signal reaches the receiver before exit; past the drain timeout
//! the stream is cut and its span still flushed. With the default flavour a call exports spans
//! and metrics and no log records, and the gateway's own diagnostics never enter OTLP.

mod common;

use std::time::{Duration, Instant};

use common::*;
use openllmetry_testkit::cassette::split_sse_events;
use openllmetry_testkit::otlp::OtlpReceiver;
use openllmetry_testkit::replay::ReplayServer;

const STREAM: &str = "anthropic/test_thinking/test_anthropic_thinking_streaming_legacy.yaml";

async fn drain_on(signal: &str) {
    let it = interaction(STREAM, 0);
    let n = split_sse_events(&it.response.body).len();
    let delay = Duration::from_millis(30);
    let upstream = ReplayServer::pool(vec![it.clone()])
        .with_event_delay(delay)
        .spawn()
        .unwrap();
    let receiver = OtlpReceiver::start();
    // Nothing is exported before exit unless the shutdown flushes it.
    let mut gateway = GatewayOpts::replay(&upstream.base_url())
        .otlp(&receiver)
        .env("OTEL_BSP_SCHEDULE_DELAY", "600000")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "600000")
        .spawn();
    let client = http_client();
    let mut resp = client
        .post(gateway.url("/v1/messages"))
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .header("x-api-key", ANTHROPIC_KEY)
        .body(it.request.body.clone())
        .send()
        .await
        .unwrap();
    let mut body = resp.chunk().await.unwrap().unwrap().to_vec();
    gateway.signal(signal);
    let signalled = Instant::now();
    // The listener is closed: new connections are refused while the stream drains.
    assert!(
        gateway
            .wait_for_stderr("draining in-flight requests", PATIENCE)
            .is_some(),
        "{}",
        gateway.stderr()
    );
    let refused = http_client()
        .get(gateway.url("/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "a new request was accepted while draining"
    );
    while let Some(c) = resp.chunk().await.expect("the stream completes") {
        body.extend_from_slice(&c);
    }
    assert_eq!(body, it.response.body, "the drained stream is complete");
    assert!(signalled.elapsed() >= delay * (n as u32) / 2);
    // (With 10-minute export intervals, whatever the receiver holds was flushed at exit.)

    let status = gateway.stop();
    assert!(status.success());
    // Spans and metrics were flushed before exit; no log records (default flavour).
    let spans = receiver.spans();
    assert_eq!(spans.len(), 1, "{}", describe(&spans));
    let span = &spans[0];
    assert_eq!(span.name, "anthropic.chat");
    assert_ne!(
        span.attr_bool("openllmetry.response.incomplete"),
        Some(true)
    );
    assert!(span.attr_i64("gen_ai.usage.output_tokens").is_some());
    let metrics = receiver.metrics();
    for name in [
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
    ] {
        assert!(
            metrics.contains_key(name),
            "{name} missing: {:?}",
            metrics.keys()
        );
    }
    assert!(receiver.logs_requests().is_empty());
    assert!(receiver.logs().is_empty());
    assert!(
        receiver.raw_requests().iter().all(|r| r.path != "/v1/logs"),
        "a logs export was attempted"
    );

    // The gateway's diagnostics went to stderr, and nowhere else.
    let stderr = gateway.stderr();
    for line in [
        "gateway listening",
        "forwarded",
        "draining in-flight requests",
    ] {
        assert!(stderr.contains(line), "{line:?} not logged:\n{stderr}");
    }
    let exported = receiver.all_text();
    for line in [
        "gateway listening",
        "forwarded",
        "draining",
        "shutting down",
        "upstreams",
    ] {
        assert!(
            !exported.contains(line),
            "the log line {line:?} was exported"
        );
    }
    assert!(spans.iter().all(|s| s.scope_name == "openllmetry"));
    assert!(!receiver.raw_contains(ANTHROPIC_KEY.as_bytes()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_the_in_flight_stream_and_flushes_every_signal() {
    drain_on("TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_drains_too() {
    drain_on("INT").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_drain_timeout_the_stream_is_cut_and_its_span_still_flushed() {
    let it = interaction(STREAM, 0);
    let upstream = ReplayServer::pool(vec![it.clone()])
        .with_event_delay(Duration::from_millis(200))
        .spawn()
        .unwrap();
    let receiver = OtlpReceiver::start();
    let dir = std::env::temp_dir().join(format!("openllmetry-gw-drain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("gateway.toml");
    std::fs::write(&config, "drain_timeout_secs = 1\n").unwrap();
    let mut gateway = GatewayOpts::replay(&upstream.base_url())
        .otlp(&receiver)
        .env("OTEL_BSP_SCHEDULE_DELAY", "600000")
        .arg("--config")
        .arg(config.to_str().unwrap())
        .spawn();
    let client = http_client();
    let mut resp = client
        .post(gateway.url("/v1/messages"))
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .body(it.request.body.clone())
        .send()
        .await
        .unwrap();
    let _ = resp.chunk().await.unwrap().unwrap();
    gateway.signal("TERM");
    let signalled = Instant::now();
    let cut = loop {
        match resp.chunk().await {
            Ok(Some(_)) => {}
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert!(cut, "the stream ended cleanly although it was cut");
    let after = signalled.elapsed();
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_secs(5),
        "cut after {after:?}"
    );
    gateway.stop();
    assert!(
        gateway.stderr().contains("drain timeout reached"),
        "{}",
        gateway.stderr()
    );
    let spans = receiver.spans_named("anthropic.chat");
    assert_eq!(spans.len(), 1, "{}", describe(&receiver.spans()));
    let span = &spans[0];
    assert!(
        span.attr_bool("openllmetry.response.incomplete") == Some(true)
            || span.attr_str("error.type").is_some(),
        "{}",
        span.all_text()
    );
    assert!(span.attr_str("gen_ai.response.id").is_some());
    let _ = std::fs::remove_dir_all(&dir);
}
