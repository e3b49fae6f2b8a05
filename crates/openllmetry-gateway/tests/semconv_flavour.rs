//! The gateway in the `semconv` flavour: selected by the standard
//! `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental` in the gateway's environment
//! (the gateway's telemetry settings are the SDK's variables). Names are the latest GenAI
//! conventions' (semantic-conventions-genai, pinned in `openllmetry_semconv::latest`);
//! values come from the recorded bodies.

mod common;

use common::*;
use openllmetry_testkit::otlp::OtlpReceiver;
use openllmetry_testkit::replay::ReplayServer;

const CHAT: &str = "openai/test_chat/test_chat.yaml";
const CACHE: &str = "anthropic/test_prompt_caching/test_anthropic_prompt_caching_legacy.yaml";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standard_opt_in_selects_the_semconv_flavour_in_the_gateway() {
    let chat = interaction(CHAT, 0);
    let cache = interaction(CACHE, 0);
    let upstream = ReplayServer::pool(vec![chat.clone(), cache.clone()])
        .reuse(true)
        .spawn()
        .unwrap();
    let receiver = OtlpReceiver::start();
    let gateway = GatewayOpts::replay(&upstream.base_url())
        .otlp(&receiver)
        .env(
            "OTEL_SEMCONV_STABILITY_OPT_IN",
            "http,gen_ai_latest_experimental",
        )
        .spawn();
    let client = http_client();
    for (it, path) in [(&chat, "/v1/chat/completions"), (&cache, "/v1/messages")] {
        let mut req = client.post(gateway.url(path)).body(it.request.body.clone());
        for (k, v) in request_headers(it) {
            req = req.header(k, v);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), it.response.status);
        resp.bytes().await.unwrap();
    }

    let model = |it: &openllmetry_testkit::cassette::Interaction| {
        it.request.body_json().unwrap()["model"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let span = &wait_spans(&receiver, &format!("chat {}", model(&chat)), 1)[0];
    assert_eq!(span.attr_str("gen_ai.provider.name"), Some("openai"));
    assert_eq!(span.attr_str("gen_ai.operation.name"), Some("chat"));
    let body = chat.response.body_json().unwrap();
    assert_eq!(span.attr_str("gen_ai.response.id"), body["id"].as_str());
    assert_eq!(
        span.attr_i64("gen_ai.usage.input_tokens"),
        body["usage"]["prompt_tokens"].as_i64()
    );
    assert_eq!(span.attr_i64("gen_ai.usage.total_tokens"), None);
    assert!(span.attr_str("gen_ai.input.messages").is_some());

    let span = &wait_spans(&receiver, &format!("chat {}", model(&cache)), 1)[0];
    assert_eq!(span.attr_str("gen_ai.provider.name"), Some("anthropic"));
    let usage = cache.response.body_json().unwrap()["usage"].clone();
    assert_eq!(
        span.attr_i64("gen_ai.usage.cache_write.input_tokens"),
        usage["cache_creation_input_tokens"].as_i64()
    );
    assert_eq!(
        span.attr_i64("gen_ai.usage.cache_creation.input_tokens"),
        None
    );
    // No span under an OpenLLMetry name.
    assert!(receiver.spans_named("openai.chat").is_empty());
    assert!(receiver.spans_named("anthropic.chat").is_empty());
}
