//! Gemini through the gateway (child process, loopback replay upstream, real OTLP receiver):
//! the `/gemini/…` route and the native `/v1beta/…` path, an SSE stream and the JSON-array
//! stream (no `alt=sse`). Expected values are literals from the vendored recordings in
//! `openllmetry-testkit/cassettes/gemini/` (attribution in the SOURCE.md files there).

mod common;

use std::path::PathBuf;

use common::*;
use openllmetry_testkit::cassette::{Cassette, Interaction};
use openllmetry_testkit::otlp::OtlpReceiver;
use openllmetry_testkit::replay::ReplayServer;

fn gemini_interaction(rel: &str) -> Interaction {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../openllmetry-testkit/cassettes/gemini")
        .join(rel);
    Cassette::load(&path)
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
        .interactions
        .remove(0)
}

/// The recorded SSE stream re-framed as the JSON array the API sends without `alt=sse`.
fn json_array_variant(sse: &Interaction) -> Interaction {
    let text = String::from_utf8(sse.response.body.clone()).unwrap();
    let elements: Vec<&str> = text
        .split("\r\n\r\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .collect();
    assert_eq!(elements.len(), 3);
    let mut it = sse.clone();
    it.request.uri = it.request.uri.replace("?alt=sse", "");
    it.response.body = format!("[{}]", elements.join(",\r\n")).into_bytes();
    for (k, v) in &mut it.response.headers {
        if k.eq_ignore_ascii_case("content-type") {
            *v = "application/json; charset=UTF-8".to_owned();
        }
    }
    it
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_routes_and_streams_through_the_gateway() {
    let plain = gemini_interaction(
        "openllmetry/google-generativeai/test_generate_content/test_client_spans.yaml",
    );
    let sse = gemini_interaction("pydantic-ai/test_google/test_google_model_stream.yaml");
    let array = json_array_variant(&sse);
    let upstream = ReplayServer::pool(vec![plain.clone(), sse.clone(), array.clone()])
        .reuse(true)
        .spawn()
        .unwrap();
    let receiver = OtlpReceiver::start();
    let base = upstream.base_url();
    let gateway = GatewayOpts::replay(&base)
        .arg("--gemini-upstream")
        .arg(&base)
        .otlp(&receiver)
        .spawn();
    let client = http_client();

    let send = |path: String, body: Vec<u8>| {
        let client = client.clone();
        let url = gateway.url(&path);
        async move {
            let resp = client
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            resp.bytes().await.unwrap().to_vec()
        }
    };
    let path = "/v1beta/models/gemini-2.5-flash:generateContent";
    // `/gemini/…` prefix and the native path.
    for p in [format!("/gemini{path}"), path.to_owned()] {
        let got = send(p, plain.request.body.clone()).await;
        assert_eq!(got, plain.response.body, "bytes pass through unchanged");
    }
    let request =
        br#"{"contents":[{"parts":[{"text":"What is the capital of France?"}],"role":"user"}]}"#;
    let stream_path = "/v1beta/models/gemini-2.0-flash-exp:streamGenerateContent";
    let got = send(format!("{stream_path}?alt=sse"), request.to_vec()).await;
    assert_eq!(got, sse.response.body);
    let got = send(format!("/gemini{stream_path}"), request.to_vec()).await;
    assert_eq!(got, array.response.body);

    let spans = wait_spans(&receiver, "gemini.generate_content", 4);
    let by_model = |m: &str| {
        spans
            .iter()
            .filter(|s| s.attr_str("gen_ai.request.model") == Some(m))
            .collect::<Vec<_>>()
    };
    let plain_spans = by_model("gemini-2.5-flash");
    assert_eq!(plain_spans.len(), 2, "{}", describe(&spans));
    for s in plain_spans {
        assert_eq!(s.attr_str("gen_ai.provider.name"), Some("gcp.gemini"));
        assert_eq!(
            s.attr_str("gen_ai.response.id"),
            Some("-hk4afOSMZKkjuMPnJWGkAk")
        );
        assert_eq!(s.attr_i64("gen_ai.usage.input_tokens"), Some(5));
        assert_eq!(s.attr_i64("gen_ai.usage.output_tokens"), Some(877));
        assert_eq!(
            s.attr_str_array("gen_ai.response.finish_reasons"),
            Some(vec!["stop"])
        );
    }
    let stream_spans = by_model("gemini-2.0-flash-exp");
    assert_eq!(stream_spans.len(), 2, "{}", describe(&spans));
    for s in stream_spans {
        assert_eq!(
            s.attr_str("gen_ai.response.id"),
            Some("w1peaMz6INOvnvgPgYfPiQY")
        );
        assert_eq!(s.attr_i64("gen_ai.usage.input_tokens"), Some(13));
        assert_eq!(s.attr_i64("gen_ai.usage.output_tokens"), Some(8));
        assert_eq!(
            s.attr_str_array("gen_ai.response.finish_reasons"),
            Some(vec!["stop"])
        );
        let out = s.attr_str("gen_ai.output.messages").unwrap_or_default();
        assert!(out.contains("The capital of France is Paris."), "{out}");
    }
}
