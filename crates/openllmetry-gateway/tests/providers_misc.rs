//! Ollama, Cohere v2, Mistral AI and a labelled OpenAI-compatible upstream (Groq) through
//! the gateway binary: prefixed routes (`/ollama/…`, `/cohere/…`, `/mistral/…`) and native
//! paths (`/api/chat`, `/v2/chat`, …), each upstream a loopback replay server set with the
//! new flags. The client must get the recorded bytes; the spans (over OTLP to the testkit
//! receiver) must carry the provider names and the facts of the recorded bodies.

mod common;

use std::path::PathBuf;

use common::*;
use openllmetry_testkit::cassette::{Cassette, Interaction};
use openllmetry_testkit::otlp::OtlpReceiver;
use openllmetry_testkit::replay::ReplayServer;

fn misc(name: &str, index: usize) -> Interaction {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../openllmetry-testkit/cassettes/openllmetry-misc")
        .join(name);
    let mut c = Cassette::load(path).expect("cassette loads");
    let mut it = c.interactions.swap_remove(index);
    if let Some(i) = it.request.uri.find('#') {
        it.request.uri.truncate(i);
    }
    it
}

fn server(its: Vec<Interaction>) -> ReplayServer {
    ReplayServer::pool(its).reuse(true).spawn().unwrap()
}

async fn send(client: &reqwest::Client, url: String, it: &Interaction) -> (u16, Vec<u8>) {
    let mut req = client.post(url);
    for (k, v) in request_headers(it) {
        req = req.header(k, v);
    }
    let resp = req.body(it.request.body.clone()).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ollama_cohere_mistral_and_labelled_groq_through_the_gateway() {
    let ollama_chat = misc("ollama/test_chat/test_ollama_chat_legacy.yaml", 0);
    let ollama_stream = misc(
        "ollama/test_generation/test_ollama_streaming_generation_legacy.yaml",
        0,
    );
    let cohere_chat = misc("cohere/test_chat/test_cohere_v2_chat_legacy.yaml", 0);
    let cohere_rerank = misc("cohere/test_rerank/test_cohere_v2_rerank_legacy.yaml", 0);
    let mistral_stream = misc(
        "mistralai/test_chat/test_mistralai_streaming_chat_legacy.yaml",
        0,
    );
    let groq = misc("groq/test_chat_tracing/test_chat_legacy.yaml", 0);

    let ollama = server(vec![ollama_chat.clone(), ollama_stream.clone()]);
    let cohere = server(vec![cohere_chat.clone(), cohere_rerank.clone()]);
    let mistral = server(vec![mistral_stream.clone()]);
    let openai = server(vec![groq.clone()]);
    let receiver = OtlpReceiver::start();
    let gateway = GatewayOpts::new(
        format!("{}/openai/v1", openai.base_url()),
        openai.base_url(),
    )
    .otlp(&receiver)
    .arg("--ollama-upstream")
    .arg(&ollama.base_url())
    .arg("--cohere-upstream")
    .arg(&cohere.base_url())
    .arg("--mistral-upstream")
    .arg(&mistral.base_url())
    .arg("--openai-upstream-provider")
    .arg("groq")
    .spawn();
    let client = http_client();

    let cases: [(&str, &Interaction); 6] = [
        ("/api/chat", &ollama_chat),
        ("/ollama/api/generate", &ollama_stream),
        ("/v2/chat", &cohere_chat),
        ("/cohere/v2/rerank", &cohere_rerank),
        ("/mistral/v1/chat/completions", &mistral_stream),
        ("/v1/chat/completions", &groq),
    ];
    for (path, it) in cases {
        let (status, body) = send(&client, gateway.url(path), it).await;
        assert_eq!(status, it.response.status, "{path}");
        assert!(
            body == it.response.body,
            "{path}: the client's body differs from the recorded one"
        );
    }

    let s = &wait_spans(&receiver, "ollama.chat", 1)[0];
    assert_eq!(s.attr_str("gen_ai.provider.name"), Some("ollama"));
    assert_eq!(s.attr_i64("gen_ai.usage.input_tokens"), Some(17));
    assert_eq!(s.attr_i64("gen_ai.usage.output_tokens"), Some(66));

    let s = &wait_spans(&receiver, "ollama.completion", 1)[0];
    assert_eq!(s.attr_bool("gen_ai.request.stream"), Some(true));
    assert_eq!(s.attr_i64("gen_ai.usage.output_tokens"), Some(71));
    assert_eq!(
        s.attr_i64("ollama.response.total_duration"),
        Some(4218611084)
    );

    let s = &wait_spans(&receiver, "cohere.chat", 1)[0];
    assert_eq!(s.attr_str("gen_ai.provider.name"), Some("cohere"));
    assert_eq!(
        s.attr_str("gen_ai.response.id"),
        Some("83e3e297-264b-478e-9b22-5058386292ed")
    );
    assert_eq!(s.attr_i64("gen_ai.usage.input_tokens"), Some(7));

    let s = &wait_spans(&receiver, "cohere.rerank", 1)[0];
    assert_eq!(
        s.attr_str("gen_ai.request.model"),
        Some("rerank-english-v3.0")
    );
    assert_eq!(s.attr_str("gen_ai.operation.name"), Some("rerank"));

    let s = &wait_spans(&receiver, "mistralai.chat", 1)[0];
    assert_eq!(s.attr_str("gen_ai.provider.name"), Some("mistral_ai"));
    assert_eq!(s.attr_i64("gen_ai.usage.output_tokens"), Some(80));

    let s = &wait_spans(&receiver, "openai.chat", 1)[0];
    assert_eq!(s.attr_str("gen_ai.provider.name"), Some("groq"));
    assert_eq!(s.attr_i64("gen_ai.usage.input_tokens"), Some(18));
}
