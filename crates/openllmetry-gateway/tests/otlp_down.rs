//! The OTLP endpoint is down (nothing listening, answering 503, or accepting and never
//! answering): requests still succeed with the same latency order of magnitude, the gateway's
//! memory stays bounded, and the lost exports are counted and logged.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use openllmetry_testkit::cassette::Interaction;
use openllmetry_testkit::otlp::OtlpReceiver;
use openllmetry_testkit::replay::ReplayServer;

/// Sends `n` requests (on `concurrency` connections) and returns their latencies, sorted.
async fn load(
    gateway: &GatewayProcess,
    it: &Interaction,
    n: usize,
    concurrency: usize,
) -> Vec<Duration> {
    let client = http_client();
    let url = Arc::new(gateway.url("/v1/chat/completions"));
    let body = bytes::Bytes::from(it.request.body.clone());
    let expected = bytes::Bytes::from(it.response.body.clone());
    let per = n / concurrency;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, body, expected) =
            (client.clone(), url.clone(), body.clone(), expected.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per);
            for _ in 0..per {
                let t = Instant::now();
                let resp = client
                    .post(url.as_str())
                    .header("content-type", "application/json")
                    .header("authorization", format!("Bearer {OPENAI_KEY}"))
                    .body(body.clone())
                    .send()
                    .await
                    .expect("the request succeeds");
                assert_eq!(resp.status(), 200);
                assert_eq!(resp.bytes().await.unwrap(), expected);
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    all
}

fn median(v: &[Duration]) -> Duration {
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_succeed_and_memory_stays_bounded_when_the_otlp_endpoint_is_down() {
    let it = openllmetry_testkit::cassette::Cassette::load_named("openai/test_chat/test_chat.yaml")
        .unwrap()
        .interactions
        .remove(0);
    let upstream = ReplayServer::pool(vec![it.clone()])
        .reuse(true)
        .record_requests(false)
        .spawn()
        .unwrap();

    // Baseline: the receiver is up.
    let up = OtlpReceiver::start();
    let mut healthy = GatewayOpts::replay(&upstream.base_url()).otlp(&up).spawn();
    let _ = load(&healthy, &it, 20, 1).await; // warm-up
    let baseline = median(&load(&healthy, &it, 60, 1).await);
    healthy.stop();
    assert!(up.spans_named("openai.chat").len() >= 80);

    // 1. Nothing listens on the endpoint.
    let refused = OtlpReceiver::start();
    refused.stop();
    // 2. The endpoint answers 503.
    let unavailable = OtlpReceiver::start();
    unavailable.set_unavailable(true);
    // 3. The endpoint accepts connections and never answers.
    let hole = Sink::start();
    let endpoints = [
        ("refused", refused.http_endpoint()),
        ("503", unavailable.http_endpoint()),
        ("black hole", format!("http://{}", hole.addr)),
    ];
    let mut stopping = Vec::new();
    for (what, endpoint) in endpoints {
        let mut opts = GatewayOpts::replay(&upstream.base_url());
        opts.otlp = Some(endpoint);
        let gateway = opts.spawn();
        let _ = load(&gateway, &it, 20, 1).await;
        let lat = load(&gateway, &it, 60, 1).await;
        let m = median(&lat);
        assert!(
            m < baseline * 5 + Duration::from_millis(5),
            "{what}: median latency {m:?} against {baseline:?} with the receiver up"
        );
        // Many more calls than the span queue holds (2048): memory stays bounded.
        let _ = load(&gateway, &it, 400, 4).await;
        let rss_before = gateway.rss_kib();
        let lat = load(&gateway, &it, 2400, 8).await;
        let rss_after = gateway.rss_kib();
        assert!(
            rss_after < rss_before + 32 * 1024,
            "{what}: RSS grew from {rss_before} KiB to {rss_after} KiB over 2400 calls"
        );
        assert!(rss_after < 256 * 1024, "{what}: RSS {rss_after} KiB");
        let p99 = lat[lat.len() * 99 / 100];
        assert!(p99 < Duration::from_secs(1), "{what}: p99 {p99:?}");

        // The lost exports are visible in the gateway's log (counted by the SDK).
        if what != "black hole" {
            assert!(
                gateway
                    .wait_for_stderr("telemetry export failed", PATIENCE)
                    .is_some(),
                "{what}: export failures not reported:\n{}",
                gateway.stderr()
            );
        }
        eprintln!(
            "{what}: median {m:?} (baseline {baseline:?}), p99 {p99:?}, RSS {rss_before} -> {rss_after} KiB"
        );
        // Exit (in the background while the next case runs).
        gateway.signal("TERM");
        stopping.push((what, gateway, Instant::now()));
    }
    // Every gateway exits in bounded time (the final flush is given up on after 15 s), and
    // the final count of lost exports is logged.
    for (what, mut gateway, signalled) in stopping {
        let exited = gateway.wait_exit(Duration::from_secs(40));
        assert!(exited.is_some(), "{what}: the gateway did not exit");
        eprintln!("{what}: exited {:?} after SIGTERM", signalled.elapsed());
        if what != "black hole" {
            let line = gateway
                .wait_for_stderr("export(s) failed during this run", Duration::from_secs(5))
                .unwrap_or_else(|| panic!("{what}: no final count:\n{}", gateway.stderr()));
            assert!(line.contains("failed"), "{line}");
        }
    }
    assert!(unavailable.rejected_count() > 0);
    assert!(hole.connections() > 0);
}
