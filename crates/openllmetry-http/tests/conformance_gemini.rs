//! Gemini / Vertex AI cassettes replayed over loopback through the reqwest middleware.
//!
//! The cassettes live in `openllmetry-testkit/cassettes/gemini/` (attribution in the
//! SOURCE.md files there). Expected values are literals read from the recorded bodies.
//! pydantic-ai cassettes keep most bodies as `parsed_body`, which the testkit loader does
//! not read: their request bodies are given here as recorded; the tool-call and thinking
//! recordings are covered by the core unit tests on their decoded bodies.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use common::{Opts, instrumentation, replay_headers};
use openllmetry_http::OpenLlmMiddleware;
use openllmetry_testkit::capture::{Capture, attr_i64, attr_str, attr_str_array};
use openllmetry_testkit::cassette::Cassette;
use openllmetry_testkit::replay::ReplayServer;

fn gemini_cassette(rel: &str) -> Cassette {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../openllmetry-testkit/cassettes/gemini")
        .join(rel);
    Cassette::load(&path).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

struct Replayed {
    capture: Capture,
    body: Vec<u8>,
    recorded: Vec<u8>,
    faults: Vec<openllmetry_core::Fault>,
}

/// Replays the first interaction; `body` replaces the request body when the cassette
/// stores it in a form the loader does not read (pydantic-ai's `parsed_body`).
async fn replay(rel: &str, body: Option<&str>) -> Replayed {
    let c = gemini_cassette(rel);
    let it = c.interactions[0].clone();
    let server = ReplayServer::start(c.interactions.clone()).await;
    let capture = Capture::new();
    let faults = Arc::new(Mutex::new(Vec::new()));
    let instr = instrumentation(&capture, Opts::default(), faults.clone());
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(OpenLlmMiddleware::with_instrumentation(instr))
        .build();
    let mut resp = client
        .post(server.url(it.request.path_and_query()))
        .headers(replay_headers(&it))
        .body(body.map_or(it.request.body.clone(), |b| b.as_bytes().to_vec()))
        .send()
        .await
        .expect("request succeeds");
    let mut got = Vec::new();
    while let Some(chunk) = resp.chunk().await.expect("body reads") {
        got.extend_from_slice(&chunk);
    }
    drop(resp);
    capture.flush();
    assert_eq!(server.unmatched(), 0);
    let faults = faults.lock().unwrap().clone();
    Replayed {
        capture,
        body: got,
        recorded: it.response.body.clone(),
        faults,
    }
}

#[tokio::test]
async fn test_client_spans() {
    let r = replay(
        "openllmetry/google-generativeai/test_generate_content/test_client_spans.yaml",
        None,
    )
    .await;
    assert_eq!(r.body, r.recorded, "bytes pass through unchanged");
    assert!(r.faults.is_empty(), "{:?}", r.faults);
    let span = r.capture.span("gemini.generate_content");
    assert_eq!(attr_str(&span, "gen_ai.provider.name"), Some("gcp.gemini"));
    assert_eq!(attr_str(&span, "gen_ai.operation.name"), Some("chat"));
    assert_eq!(
        attr_str(&span, "gen_ai.request.model"),
        Some("gemini-2.5-flash")
    );
    assert_eq!(
        attr_str(&span, "gen_ai.response.model"),
        Some("gemini-2.5-flash")
    );
    assert_eq!(
        attr_str(&span, "gen_ai.response.id"),
        Some("-hk4afOSMZKkjuMPnJWGkAk")
    );
    assert_eq!(attr_i64(&span, "gen_ai.usage.input_tokens"), Some(5));
    assert_eq!(attr_i64(&span, "gen_ai.usage.output_tokens"), Some(877));
    assert_eq!(
        attr_str_array(&span, "gen_ai.response.finish_reasons"),
        Some(vec!["stop".to_owned()])
    );
}

#[tokio::test]
async fn test_google_model_stream() {
    // The request as recorded in `parsed_body`.
    let request = r#"{"contents":[{"parts":[{"text":"What is the capital of France?"}],"role":"user"}],"generationConfig":{"temperature":0.0},"systemInstruction":{"parts":[{"text":"You are a helpful chatbot."}],"role":"user"}}"#;
    let r = replay(
        "pydantic-ai/test_google/test_google_model_stream.yaml",
        Some(request),
    )
    .await;
    assert_eq!(r.body, r.recorded);
    assert!(r.faults.is_empty(), "{:?}", r.faults);
    let span = r.capture.span("gemini.generate_content");
    assert_eq!(
        attr_str(&span, "gen_ai.request.model"),
        Some("gemini-2.0-flash-exp")
    );
    assert_eq!(
        attr_str(&span, "gen_ai.response.id"),
        Some("w1peaMz6INOvnvgPgYfPiQY")
    );
    assert_eq!(attr_i64(&span, "gen_ai.usage.input_tokens"), Some(13));
    assert_eq!(attr_i64(&span, "gen_ai.usage.output_tokens"), Some(8));
    assert_eq!(
        attr_str_array(&span, "gen_ai.response.finish_reasons"),
        Some(vec!["stop".to_owned()])
    );
    let out = attr_str(&span, "gen_ai.output.messages").unwrap_or_default();
    assert!(out.contains("The capital of France is Paris."), "{out}");
    let sys = attr_str(&span, "gen_ai.system_instructions").unwrap_or_default();
    assert!(sys.contains("You are a helpful chatbot."), "{sys}");
}

#[tokio::test]
async fn test_google_model_vertex_labels() {
    let r = replay(
        "pydantic-ai/test_google/test_google_model_vertex_labels.yaml",
        Some("{}"),
    )
    .await;
    assert_eq!(r.body, r.recorded);
    // Over loopback the host does not name Vertex; the `publishers/google` path does.
    let span = r.capture.span("vertexai.generate_content");
    assert_eq!(
        attr_str(&span, "gen_ai.provider.name"),
        Some("gcp.vertex_ai")
    );
    assert_eq!(
        attr_str(&span, "gen_ai.request.model"),
        Some("gemini-2.0-flash")
    );
    // This cassette stores its response as `parsed_body`, which the testkit loader does not
    // read (the replayed body is empty): the response facts are checked by the core tests
    // on the decoded body (`providers/gemini/testdata/vertex.response.json`).
}
