//! The gateway (a child process) in front of a misbehaving upstream (the testkit's
//! `HostileServer`): a gzip bomb on a streaming and a non-streaming call keeps the gateway's
//! peak RSS bounded, the client gets the upstream's bytes unchanged, the span is exported
//! marked truncated with the fault counted, and an unrelated call is still answered.

mod common;

use std::time::{Duration, Instant};

use common::*;
use openllmetry_testkit::cassette::Cassette;
use openllmetry_testkit::hostile::{Hostile, HostileServer, gzip_bomb_chunks};
use openllmetry_testkit::otlp::OtlpReceiver;
use openllmetry_testkit::replay::ReplayServer;

const MIB: u64 = 1024;

/// Counts of `openllmetry.instrumentation.faults` by kind, as exported.
fn fault_count(receiver: &OtlpReceiver, kind: &str) -> f64 {
    receiver
        .metric_points("openllmetry.instrumentation.faults")
        .iter()
        .filter(|p| {
            p.attributes
                .get("openllmetry.fault.kind")
                .and_then(|v| v.as_str())
                == Some(kind)
        })
        .filter_map(|p| p.value)
        .fold(0.0, f64::max)
}

/// Posts `body`; returns the status and the response body (`None` if it was cut).
async fn post(url: String, body: &'static str) -> (u16, Option<bytes::Bytes>) {
    let resp = http_client()
        .post(url)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {OPENAI_KEY}"))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.bytes().await.ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bombs_keep_memory_bounded_and_pass_through_unchanged() {
    // 5 GiB of zeros, about 5 MB on the wire (issue 10, item 5: before the fix a streaming
    // bomb took the gateway to 1.3 GB).
    let inflated_mib = 5 * 1024;
    let bomb = HostileServer::start(Hostile::GzipBomb { inflated_mib });
    let expected: Vec<u8> = gzip_bomb_chunks(inflated_mib).flatten().copied().collect();
    let anthropic =
        Cassette::load_named("anthropic/test_messages/test_anthropic_message_create_legacy.yaml")
            .unwrap()
            .interactions
            .remove(0);
    let other = ReplayServer::looping(anthropic.clone()).spawn().unwrap();
    let receiver = OtlpReceiver::start();
    let gateway = GatewayOpts::new(format!("{}/v1", bomb.base_url()), other.base_url())
        .otlp(&receiver)
        .spawn();
    let url = gateway.url("/v1/chat/completions");
    let streaming = tokio::spawn(post(
        url.clone(),
        r#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
    ));
    let whole = tokio::spawn(post(
        url,
        r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#,
    ));
    // An unrelated call while the bombs go through.
    let started = Instant::now();
    let mut req = http_client()
        .post(gateway.url("/v1/messages"))
        .header("x-api-key", ANTHROPIC_KEY)
        .body(anthropic.request.body.clone());
    for (k, v) in request_headers(&anthropic) {
        req = req.header(k, v);
    }
    let resp = tokio::time::timeout(Duration::from_secs(10), async {
        let r = req.send().await.unwrap();
        let s = r.status();
        (s, r.bytes().await.unwrap())
    })
    .await
    .expect("an unrelated call answered within 10 s during the bombs");
    assert_eq!(resp.0, 200);
    assert_eq!(&resp.1[..], &anthropic.response.body[..]);
    let unrelated = started.elapsed();

    for (what, task) in [("streaming", streaming), ("non-streaming", whole)] {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, 200, "{what}");
        let body = body.unwrap_or_else(|| panic!("{what}: body cut"));
        assert_eq!(body.len(), expected.len(), "{what}: length changed");
        assert!(body[..] == expected[..], "{what}: bytes changed");
    }
    let peak = peak_rss_kib(gateway.pid());
    assert!(
        peak <= 256 * MIB,
        "gateway peak RSS {} MiB > 256 MiB",
        peak / MIB
    );

    let spans = wait_spans(&receiver, "openai.chat", 2);
    for s in &spans {
        assert_eq!(
            s.attr_bool("openllmetry.response.truncated"),
            Some(true),
            "{}",
            describe(&spans)
        );
    }
    // The streamed bomb hits the inflate budget; the whole body hits the body cap first.
    receiver.wait_for_blocking(
        |r| fault_count(r, "inflated_too_large") >= 1.0 && fault_count(r, "body_too_large") >= 1.0,
        PATIENCE,
    );
    assert!(fault_count(&receiver, "inflated_too_large") >= 1.0);
    assert!(fault_count(&receiver, "body_too_large") >= 1.0);
    eprintln!(
        "gateway peak RSS {} MiB; unrelated call answered in {unrelated:?}",
        peak / MIB
    );
}

/// Each misbehaviour: the gateway answers (or cuts) the call, logs nothing secret, stays up,
/// and still ends the call's span.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_misbehaviour_ends_its_span_and_the_gateway_stays_up() {
    let receiver = OtlpReceiver::start();
    let cases: Vec<(&str, Hostile, Option<u16>)> = vec![
        ("malformed json", Hostile::MalformedJson, Some(200)),
        (
            "truncated body",
            Hostile::TruncatedBody {
                announced: 4096,
                sent: 100,
            },
            Some(200),
        ),
        (
            "stall",
            Hostile::Stall {
                stall: Duration::from_millis(300),
            },
            Some(200),
        ),
        (
            "huge headers",
            Hostile::HugeHeaders { bytes: 1 << 20 },
            Some(502),
        ),
        (
            "never-ending event",
            Hostile::NeverEndingEvent {
                total_bytes: 8 << 20,
            },
            Some(200),
        ),
        ("immediate close", Hostile::ImmediateClose, Some(502)),
    ];
    let mut expected_spans = 0;
    for (what, mode, status) in cases {
        let server = HostileServer::start(mode);
        let gateway = GatewayOpts::new(format!("{}/v1", server.base_url()), server.base_url())
            .otlp(&receiver)
            .spawn();
        let (got, _body) = tokio::time::timeout(
            PATIENCE,
            post(
                gateway.url("/v1/chat/completions"),
                r#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
            ),
        )
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer"));
        if let Some(s) = status {
            assert_eq!(got, s, "{what}");
        }
        expected_spans += 1;
        wait_spans(&receiver, "openai.chat", expected_spans);
        // Still serving.
        let health = http_client()
            .get(gateway.url("/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200, "{what}");
        assert!(!gateway.stderr().contains(OPENAI_KEY), "{what}: key logged");
        assert!(
            peak_rss_kib(gateway.pid()) <= 256 * MIB,
            "{what}: peak RSS over 256 MiB"
        );
    }
}
