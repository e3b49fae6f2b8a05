//! Trace continuation: an incoming `traceparent` is continued (the LLM span is the caller's
//! span's child) and the upstream receives the LLM span's `traceparent`.

mod common;

use common::*;
use openllmetry_testkit::otlp::OtlpReceiver;
use openllmetry_testkit::replay::ReplayServer;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incoming_traceparent_is_continued_and_the_upstream_gets_the_llm_span() {
    let openai = interaction("openai/test_chat/test_chat.yaml", 0);
    let anthropic = interaction(
        "anthropic/test_messages/test_anthropic_message_create_legacy.yaml",
        0,
    );
    let upstream = ReplayServer::pool(vec![openai.clone(), anthropic.clone()])
        .reuse(true)
        .spawn()
        .unwrap();
    let receiver = OtlpReceiver::start();
    let gateway = GatewayOpts::replay(&upstream.base_url())
        .otlp(&receiver)
        .spawn();
    let client = http_client();
    let calls = [
        ("/v1/chat/completions", &openai, "openai.chat"),
        ("/v1/messages", &anthropic, "anthropic.chat"),
    ];
    for (k, (path, it, span_name)) in calls.iter().enumerate() {
        let mut req = client.post(gateway.url(path));
        for (name, value) in request_headers(it) {
            if name != "traceparent" && name != "tracestate" {
                req = req.header(name, value);
            }
        }
        let resp = req
            .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
            .header("tracestate", "vendor=caller")
            .body(it.request.body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let _ = resp.bytes().await.unwrap();

        let span = wait_spans(&receiver, span_name, 1).remove(0);
        assert_eq!(
            span.trace_id, TRACE_ID,
            "{span_name}: not the caller's trace"
        );
        assert_eq!(
            span.parent_span_id.as_deref(),
            Some(CALLER_SPAN),
            "{span_name}"
        );
        let got = &upstream.requests()[k];
        assert_eq!(
            got.header("traceparent"),
            Some(format!("00-{TRACE_ID}-{}-01", span.span_id).as_str()),
            "{span_name}: the upstream must see the LLM span as its parent"
        );
        assert_eq!(got.header("tracestate"), Some("vendor=caller"));
    }

    // Without an incoming traceparent the LLM span is a root, and still propagated.
    receiver.clear();
    let resp = client
        .post(gateway.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(openai.request.body.clone())
        .send()
        .await
        .unwrap();
    let _ = resp.bytes().await.unwrap();
    let span = wait_spans(&receiver, "openai.chat", 1).remove(0);
    assert_eq!(span.parent_span_id, None);
    assert_ne!(span.trace_id, TRACE_ID);
    let got = upstream.last_request().unwrap();
    assert_eq!(
        got.header("traceparent"),
        Some(format!("00-{}-{}-01", span.trace_id, span.span_id).as_str())
    );

    // A caller that did not sample its trace: nothing is exported, the decision is passed on.
    receiver.clear();
    let resp = client
        .post(gateway.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-00"))
        .body(openai.request.body.clone())
        .send()
        .await
        .unwrap();
    let _ = resp.bytes().await.unwrap();
    let got = upstream.last_request().unwrap();
    let tp = got.header("traceparent").unwrap();
    assert!(
        tp.starts_with(&format!("00-{TRACE_ID}-")) && tp.ends_with("-00"),
        "{tp}"
    );
    let mut gateway = gateway;
    gateway.stop();
    assert!(
        receiver.spans_named("openai.chat").is_empty(),
        "{}",
        describe(&receiver.spans())
    );
}
