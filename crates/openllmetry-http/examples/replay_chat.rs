//! Sends one recorded exchange (a streamed OpenAI chat completion by default) through the
//! instrumented reqwest client against the cassette replayer on loopback, then prints the
//! spans and metrics it produced.
//!
//! ```text
//! cargo run -p openllmetry-http --example replay_chat [-- CASSETTE]
//! ```

use openllmetry_core::Instrumentation;
use openllmetry_http::OpenLlmMiddleware;
use openllmetry_testkit::capture::Capture;
use openllmetry_testkit::cassette::Cassette;
use openllmetry_testkit::replay::ReplayServer;

#[tokio::main]
async fn main() {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "openai/test_chat/test_chat_streaming.yaml".into());
    let cassette = Cassette::load_named(&name).expect("a bundled cassette name");
    let recorded = cassette.interactions[0].clone();
    let server = ReplayServer::start(cassette).await;
    let capture = Capture::new();
    let instrumentation = Instrumentation::builder()
        .with_tracer_provider(capture.tracer_provider())
        .with_meter_provider(capture.meter_provider())
        .build();
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(OpenLlmMiddleware::with_instrumentation(instrumentation))
        .build();
    let body = client
        .post(server.url(recorded.request.path_and_query()))
        .header("content-type", "application/json")
        .body(recorded.request.body.clone())
        .send()
        .await
        .expect("the replay server answers")
        .bytes()
        .await
        .expect("the body reads");
    println!(
        "{name}: the caller received {} bytes, identical to the recording: {}\n",
        body.len(),
        body.as_ref() == recorded.response.body.as_slice()
    );
    capture.flush();
    for span in capture.flat_spans() {
        println!("span {} ({:?})", span.name, span.kind);
        for (k, v) in &span.attributes {
            println!("  {k} = {v}");
        }
        println!("  events: {}", span.events.len());
    }
    for name in capture.metric_names() {
        for p in capture.metric_points(&name) {
            println!(
                "metric {name} {:?} sum={:?} count={:?}",
                p.attributes,
                p.sum.or(p.value),
                p.count
            );
        }
    }
}
