//! The process-wide observation byte budget (issue 10, item 6): 12 concurrent requests with
//! 30 MiB prompts keep the gateway (a child process) under 256 MiB peak RSS, every call is
//! answered with the upstream's bytes, and all 12 spans are exported; those past the budget
//! are marked `openllmetry.request.truncated` and still carry the request's model, read by
//! skimming the body as it streams through (no prompt text).

mod common;

use std::sync::Arc;

use common::*;
use openllmetry_testkit::cassette::Cassette;
use openllmetry_testkit::otlp::OtlpReceiver;
use openllmetry_testkit::replay::ReplayServer;

const MIB: usize = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_concurrent_30_mib_prompts_stay_under_256_mib_with_all_spans_exported() {
    let it = Cassette::load_named("openai/test_chat/test_chat.yaml")
        .unwrap()
        .interactions
        .remove(0);
    let upstream = ReplayServer::looping(it.clone()).spawn().unwrap();
    let receiver = OtlpReceiver::start();
    let gateway = GatewayOpts::replay(&upstream.base_url())
        .otlp(&receiver)
        .spawn();
    let mut body: serde_json::Value = serde_json::from_slice(&it.request.body).unwrap();
    let model = body["model"].as_str().unwrap().to_owned();
    body["messages"][0]["content"] = serde_json::Value::String("p".repeat(30 * MIB));
    let body = bytes::Bytes::from(serde_json::to_vec(&body).unwrap());
    let client = http_client();
    let url = Arc::new(gateway.url("/v1/chat/completions"));
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let resp = client
                .post(url.as_str())
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {OPENAI_KEY}"))
                .body(body)
                .send()
                .await
                .unwrap();
            let status = resp.status();
            (status, resp.bytes().await.unwrap())
        }));
    }
    for t in tasks {
        let (status, bytes) = t.await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(&bytes[..], &it.response.body[..], "response bytes changed");
    }
    let spans = wait_spans(&receiver, "openai.chat", 12);
    assert_eq!(spans.len(), 12, "{}", describe(&spans));
    let peak = peak_rss_kib(gateway.pid());
    assert!(
        peak <= 256 * 1024,
        "gateway peak RSS {} MiB > 256 MiB",
        peak / 1024
    );
    // Not all 12 prompts fit the 64 MiB budget at once: the rest were streamed through,
    // each marked.
    let skipped = spans
        .iter()
        .filter(|s| s.attr_bool("openllmetry.request.truncated") == Some(true))
        .count();
    assert!(skipped >= 1, "{}", describe(&spans));
    // ... but not all: what fits is still observed.
    assert!(skipped < 12, "{}", describe(&spans));
    // The prompt ("messages", serialized before "model") is skipped by the skim, not kept:
    // the streamed-through spans have the model and the response's usage, and no prompt text.
    for span in spans
        .iter()
        .filter(|s| s.attr_bool("openllmetry.request.truncated") == Some(true))
    {
        assert_eq!(
            span.attr_str("gen_ai.request.model"),
            Some(model.as_str()),
            "{}",
            describe(&spans)
        );
        assert!(span.attr_i64("gen_ai.usage.input_tokens").is_some());
        assert!(
            !span
                .attributes
                .iter()
                .any(|(_, v)| format!("{v:?}").contains("pppppppp")),
            "prompt text on a skimmed span"
        );
    }
    eprintln!(
        "gateway peak RSS {} MiB; {skipped} of 12 requests streamed through unparsed",
        peak / 1024
    );
}
