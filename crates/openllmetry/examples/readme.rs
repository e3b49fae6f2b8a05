//! The README's "Use it in an application" program, compiled with the workspace (a test keeps
//! the README's copy equal to this file below these lines). Run it against the replayer:
//!
//! ```text
//! cargo run -p openllmetry-gateway --bin openllmetry -- replay &
//! OPENAI_BASE_URL=http://127.0.0.1:8787/v1 cargo run -p openllmetry --example readme
//! ```
use reqwest_middleware::ClientWithMiddleware;

/// Entity spans: `{name}.workflow` / `{name}.task` / `.agent` / `.tool`.
#[openllmetry::workflow(name = "joke")]
async fn joke(
    client: &ClientWithMiddleware,
    base: &str,
) -> Result<String, reqwest_middleware::Error> {
    let key = std::env::var("OPENAI_API_KEY").unwrap_or_default();
    let response = client
        .post(format!("{base}/chat/completions"))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(r#"{"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"Tell me a joke about opentelemetry"}]}"#)
        .send()
        .await?;
    Ok(response.text().await?)
}

#[tokio::main]
async fn main() {
    // One init: tracer, meter and logger providers with OTLP export. With no endpoint, key or
    // exporter configured, traces print to the console (stderr) and init says so in one line.
    let _otel = openllmetry::init(openllmetry::Config::new().with_app_name("my-app"));

    // Record every LLM call made through this client.
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(openllmetry_http::OpenLlmMiddleware::new())
        .build();

    let base =
        std::env::var("OPENAI_BASE_URL").unwrap_or_else(|_| "https://api.openai.com/v1".into());
    match joke(&client, &base).await {
        Ok(body) => println!("{body}"),
        Err(e) => eprintln!("request failed: {e}"),
    }
    // Dropping `_otel` flushes and shuts the providers down.
}
