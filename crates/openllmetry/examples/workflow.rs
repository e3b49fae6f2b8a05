//! A workflow with two tasks: one OpenAI and one Anthropic call, made in-process through the
//! instrumented reqwest client against the bundled cassette replayer (no API key, no network).
//! With nothing configured, the trace prints to the console.
//!
//! ```text
//! cargo run -p openllmetry --example workflow
//! ```

use openllmetry::{task, workflow};
use openllmetry_testkit::cassette::Cassette;
use openllmetry_testkit::replay::ReplayServer;
use reqwest_middleware::ClientWithMiddleware;

#[task(name = "tell_openai_joke")]
async fn openai_joke(client: &ClientWithMiddleware, base: &str, body: Vec<u8>) -> String {
    let resp = client
        .post(format!("{base}/v1/chat/completions"))
        .header("content-type", "application/json")
        .header("authorization", "Bearer sk-example-not-a-key")
        .body(body)
        .send()
        .await
        .expect("replay answers");
    let status = resp.status();
    let _ = resp.bytes().await;
    format!("OpenAI: HTTP {status}")
}

#[task(name = "tell_anthropic_joke")]
async fn anthropic_joke(client: &ClientWithMiddleware, base: &str, body: Vec<u8>) -> String {
    let resp = client
        .post(format!("{base}/v1/messages"))
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .header("x-api-key", "sk-ant-example-not-a-key")
        .body(body)
        .send()
        .await
        .expect("replay answers");
    let _ = resp.bytes().await;
    "Anthropic: done".to_owned()
}

#[workflow(name = "joke_generator")]
async fn jokes(
    client: &ClientWithMiddleware,
    base: &str,
    openai: Vec<u8>,
    anthropic: Vec<u8>,
) -> Vec<String> {
    vec![
        openai_joke(client, base, openai).await,
        anthropic_joke(client, base, anthropic).await,
    ]
}

#[tokio::main]
async fn main() {
    let otel = openllmetry::init(openllmetry::Config::new().with_app_name("workflow-example"));
    let chat = Cassette::load_named("openai/test_chat/test_chat.yaml").expect("bundled cassette");
    let messages =
        Cassette::load_named("anthropic/test_messages/test_anthropic_message_create_legacy.yaml")
            .expect("bundled cassette");
    let openai = chat.interactions[0].request.body.clone();
    let anthropic = messages.interactions[0].request.body.clone();
    let replay = ReplayServer::pool(Cassette::concat([chat, messages]))
        .reuse(true)
        .start()
        .await;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(openllmetry_http::OpenLlmMiddleware::new())
        .build();
    for line in jokes(&client, &replay.base_url(), openai, anthropic).await {
        eprintln!("{line}");
    }
    otel.shutdown();
}
