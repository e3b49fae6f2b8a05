//! Cassette conformance, Amazon Bedrock (issue 12): every vendored upstream OpenLLMetry
//! Bedrock recording (`cassettes/openllmetry/bedrock`) replayed over real loopback HTTP
//! through the real reqwest middleware.
//!
//! Expected values come from the recorded exchange, read by a test-side oracle that shares
//! no code with the parsers: the model id from the recorded URI, the usage and text from the
//! recorded JSON bodies, and for event streams a plain length-walk of the frames (no CRC
//! check) plus base64 for invoke-stream chunks. Span names and the vendor-stripped model
//! name are upstream OpenLLMetry's (`bedrock.converse` / `bedrock.completion`,
//! `titan-text-express-v1`, from its `test_titan.py`).

mod common;

use base64::Engine;
use common::{Opts, Replay, json_attr, run_with};
use openllmetry_semconv::attr;
use openllmetry_testkit::capture::{attr_i64, attr_str, attr_str_array};
use serde_json::Value;

/// All vendored Bedrock cassettes whose first interaction is a runtime call.
fn cassettes() -> Vec<String> {
    openllmetry_testkit::test_cassette_names("bedrock")
}

/// Independent event-stream oracle: payloads by walking the length prefixes.
fn frames(body: &[u8]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut rest = body;
    while rest.len() >= 16 {
        let total = u32::from_be_bytes(rest[0..4].try_into().unwrap()) as usize;
        let hlen = u32::from_be_bytes(rest[4..8].try_into().unwrap()) as usize;
        let headers = &rest[12..12 + hlen];
        let payload = &rest[12 + hlen..total - 4];
        // The `:event-type` header value (string headers only in these recordings).
        let mut event = String::new();
        let mut h = headers;
        while !h.is_empty() {
            let n = h[0] as usize;
            let name = std::str::from_utf8(&h[1..1 + n]).unwrap().to_owned();
            let len = u16::from_be_bytes([h[2 + n], h[3 + n]]) as usize;
            let value = std::str::from_utf8(&h[4 + n..4 + n + len])
                .unwrap()
                .to_owned();
            if name == ":event-type" {
                event = value;
            }
            h = &h[4 + n + len..];
        }
        out.push((
            event,
            serde_json::from_slice(payload).unwrap_or(Value::Null),
        ));
        rest = &rest[total..];
    }
    out
}

fn invoke_chunks(body: &[u8]) -> Vec<Value> {
    frames(body)
        .into_iter()
        .filter(|(e, _)| e == "chunk")
        .map(|(_, p)| {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(p["bytes"].as_str().unwrap())
                .unwrap();
            serde_json::from_slice(&raw).unwrap()
        })
        .collect()
}

fn model_from_uri(uri: &str) -> String {
    let seg = uri
        .split("/model/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let id = seg.replace("%3A", ":").replace("%2F", "/");
    if id.starts_with("arn:") {
        return id;
    }
    let id = ["us.", "eu.", "apac."]
        .iter()
        .find_map(|p| id.strip_prefix(p))
        .unwrap_or(&id)
        .to_owned();
    id.split_once('.').unwrap().1.to_owned()
}

/// Text of the first output message's text parts, joined.
fn output_text(v: &Value) -> String {
    v[0]["parts"]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .filter(|p| p["type"] == "text")
                .map(|p| p["content"].as_str().unwrap_or_default())
                .collect::<String>()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bedrock_cassette_through_the_middleware() {
    let names = cassettes();
    assert!(
        names.len() >= 60,
        "vendored Bedrock cassettes: {}",
        names.len()
    );
    let mut streams = 0;
    for name in &names {
        let c = openllmetry_testkit::load_cassette(name).unwrap();
        let i = &c.interactions[0];
        let uri = i.request.uri.clone();
        let run = run_with(name, Replay::opts(Opts::default())).await;
        run.assert_pass_through();
        let converse = uri.contains("/converse");
        let span = run.span(if converse {
            "bedrock.converse"
        } else {
            "bedrock.completion"
        });
        assert_eq!(
            attr_str(&span, attr::GEN_AI_PROVIDER_NAME),
            Some("aws.bedrock"),
            "{name}"
        );
        assert_eq!(
            attr_str(&span, attr::GEN_AI_REQUEST_MODEL),
            Some(model_from_uri(&uri).as_str()),
            "{name}"
        );
        assert!(run.faults.is_empty(), "{name}: {:?}", run.faults);
        let out = json_attr(&span, attr::GEN_AI_OUTPUT_MESSAGES);
        let body = i.response.decoded_body();
        if uri.ends_with("/converse-stream") {
            streams += 1;
            let fs = frames(&body);
            let text: String = fs
                .iter()
                .filter(|(e, _)| e == "contentBlockDelta")
                .filter_map(|(_, p)| p["delta"]["text"].as_str())
                .collect();
            assert_eq!(output_text(&out), text, "{name}");
            let usage = &fs.iter().find(|(e, _)| e == "metadata").unwrap().1["usage"];
            assert_eq!(
                attr_i64(&span, attr::GEN_AI_USAGE_OUTPUT_TOKENS),
                usage["outputTokens"].as_i64(),
                "{name}"
            );
            let stop = fs.iter().find(|(e, _)| e == "messageStop").unwrap().1["stopReason"]
                .as_str()
                .unwrap()
                .to_owned();
            if stop == "guardrail_intervened" {
                assert_eq!(
                    attr_str_array(&span, attr::GEN_AI_RESPONSE_FINISH_REASONS),
                    Some(vec!["content_filter".to_owned()]),
                    "{name}"
                );
            }
        } else if uri.ends_with("/invoke-with-response-stream") {
            streams += 1;
            let chunks = invoke_chunks(&body);
            let metrics = &chunks.last().unwrap()["amazon-bedrock-invocationMetrics"];
            assert_eq!(
                attr_i64(&span, attr::GEN_AI_USAGE_OUTPUT_TOKENS),
                metrics["outputTokenCount"].as_i64(),
                "{name}"
            );
            // Titan chunks carry `outputText`; the completion is their concatenation.
            let titan: String = chunks
                .iter()
                .filter_map(|c| c["outputText"].as_str())
                .collect();
            if !titan.is_empty() {
                assert_eq!(output_text(&out), titan, "{name}");
            }
        } else {
            let json: Value = serde_json::from_slice(&body).unwrap();
            if let Some(u) = json.get("usage").filter(|_| converse) {
                assert_eq!(
                    attr_i64(&span, attr::GEN_AI_USAGE_OUTPUT_TOKENS),
                    u["outputTokens"].as_i64(),
                    "{name}"
                );
            }
            if let Some(n) = json.get("inputTextTokenCount") {
                assert_eq!(
                    attr_i64(&span, attr::GEN_AI_USAGE_INPUT_TOKENS),
                    // Recorded as `28.0` in some files.
                    n.as_f64().map(|f| f as i64),
                    "{name}"
                );
                assert_eq!(
                    output_text(&out),
                    json["results"][0]["outputText"].as_str().unwrap(),
                    "{name}"
                );
            }
            if let Some(n) = json.get("generation_token_count") {
                assert_eq!(
                    attr_i64(&span, attr::GEN_AI_USAGE_OUTPUT_TOKENS),
                    n.as_i64(),
                    "{name}"
                );
            }
        }
    }
    assert!(streams >= 15, "streamed cassettes: {streams}");
}

/// Content off: no recorded prompt or completion string in any exported byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bedrock_content_off_exports_no_content() {
    for name in [
        "bedrock/test_titan/test_titan_converse_stream.yaml",
        "bedrock/test_titan/test_titan_invoke_stream.yaml",
        "bedrock/test_nova/test_nova_converse.yaml",
    ] {
        let run = run_with(name, Replay::opts(Opts::content_off())).await;
        run.assert_pass_through();
        let exported = run.capture.all_exported_text();
        let req = run.request_json();
        let prompt = req["messages"][0]["content"][0]["text"]
            .as_str()
            .or(req["inputText"].as_str())
            .or(req["messages"][0]["content"][0]["guardContent"]["text"]["text"].as_str())
            .unwrap();
        assert!(!exported.contains(prompt), "{name}: prompt exported");
        let span = run.span(if name.contains("converse") {
            "bedrock.converse"
        } else {
            "bedrock.completion"
        });
        assert!(
            attr_i64(&span, attr::GEN_AI_USAGE_OUTPUT_TOKENS).is_some(),
            "{name}"
        );
    }
}

/// A corrupt event-stream frame (one payload byte flipped, so its message CRC fails): the
/// caller still gets exactly the served bytes, the recorder reports `EventStreamCorrupt`,
/// and the span is marked truncated. Without the CRC check the flipped byte would go
/// unnoticed (or be parsed as content).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_event_stream_frame_is_a_fault_and_bytes_pass_through() {
    use openllmetry_core::FaultKind;
    use openllmetry_testkit::capture::{Capture, attr_bool};
    use openllmetry_testkit::replay::ReplayServer;
    use std::sync::{Arc, Mutex};

    let c =
        openllmetry_testkit::load_cassette("bedrock/test_titan/test_titan_converse_stream.yaml")
            .unwrap();
    let mut it = c.interactions[0].clone();
    // Flip a byte inside the third frame's payload.
    let mut off = 0;
    for _ in 0..2 {
        off += u32::from_be_bytes(it.response.body[off..off + 4].try_into().unwrap()) as usize;
    }
    let n = u32::from_be_bytes(it.response.body[off..off + 4].try_into().unwrap()) as usize;
    it.response.body[off + n - 8] ^= 0x20;
    let served = it.response.body.clone();
    let server = ReplayServer::start(vec![it.clone()]).await;
    let capture = Capture::new();
    let faults = Arc::new(Mutex::new(Vec::new()));
    let instr = common::instrumentation(&capture, Opts::default(), faults.clone());
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(openllmetry_http::OpenLlmMiddleware::with_instrumentation(
            instr,
        ))
        .build();
    let resp = client
        .post(server.url(it.request.path_and_query()))
        .header("content-type", "application/json")
        .body(it.request.body.clone())
        .send()
        .await
        .unwrap();
    let body = resp.bytes().await.unwrap();
    assert!(body[..] == served[..], "bytes changed");
    capture.flush();
    let span = capture.span("bedrock.converse");
    assert_eq!(
        attr_bool(&span, attr::OPENLLMETRY_RESPONSE_TRUNCATED),
        Some(true)
    );
    let kinds: Vec<FaultKind> = faults.lock().unwrap().iter().map(|f| f.kind).collect();
    assert!(kinds.contains(&FaultKind::EventStreamCorrupt), "{kinds:?}");
}
