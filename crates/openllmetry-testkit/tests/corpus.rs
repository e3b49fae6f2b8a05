//! The vendored upstream OpenAI/Anthropic corpus (`cassettes/openllmetry-corpus`) and the
//! pydantic-ai recordings (`cassettes/pydantic-ai`), issue 15, are complete and load as VCR
//! cassettes (counts from each folder's `MANIFEST.tsv`); pydantic-ai's `parsed_body:` bodies
//! are read as JSON.

use openllmetry_testkit::cassette::{Cassette, find_cassettes};

/// Every cassette under `cassettes/<folder>` is listed in its `MANIFEST.tsv` (one row per
/// file after the header) and loads with at least one interaction.
fn assert_matches_manifest_and_loads(folder: &str) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("cassettes")
        .join(folder);
    let manifest = std::fs::read_to_string(root.join("MANIFEST.tsv")).unwrap();
    let listed = manifest.lines().skip(1).filter(|l| !l.is_empty()).count();
    let paths = find_cassettes(&root).unwrap();
    assert_eq!(paths.len(), listed, "{folder}: files vs MANIFEST.tsv rows");
    let mut failed = Vec::new();
    for path in &paths {
        match Cassette::load(path) {
            Ok(c) if !c.interactions.is_empty() => {}
            Ok(_) => failed.push(format!("{}: no interactions", path.display())),
            Err(e) => failed.push(format!("{}: {e}", path.display())),
        }
    }
    assert!(
        failed.is_empty(),
        "{} unloadable:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

#[test]
fn vendored_upstream_corpus_matches_manifest_and_loads() {
    assert_matches_manifest_and_loads("openllmetry-corpus");
}

#[test]
fn vendored_pydantic_ai_recordings_match_manifest_and_load() {
    assert_matches_manifest_and_loads("pydantic-ai");
}

fn pydantic_ai(name: &str) -> Cassette {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("cassettes/pydantic-ai")
        .join(name);
    Cassette::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// pydantic-ai's `parsed_body:` request and response bodies load as JSON (literals read in
/// `anthropic__test_output/test_no_tools_no_output.yaml`).
#[test]
fn pydantic_ai_parsed_body_is_json() {
    let c = pydantic_ai("anthropic__test_output/test_no_tools_no_output.yaml");
    assert_eq!(c.interactions.len(), 1);
    let it = &c.interactions[0];
    assert_eq!(it.request.path(), "/v1/messages");
    assert_eq!(it.request.query(), Some("beta=true"));
    let req = it.request.body_json().expect("request body is JSON");
    assert_eq!(req["model"], "claude-sonnet-4-5");
    assert_eq!(req["max_tokens"], 4096);
    assert_eq!(req["stream"], false);
    assert_eq!(
        req["messages"][0]["content"][0]["text"],
        "Tell me a brief fact about Paris"
    );
    // Mapping keys keep the recorded order.
    let keys: Vec<&String> = req.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["max_tokens", "messages", "model", "stream"]);
    assert_eq!(it.response.status, 200);
    let resp = it.response.body_json().expect("response body is JSON");
    assert_eq!(resp["id"], "msg_01FHKyT8ANtS9RRAo7Kf37i7");
    assert_eq!(resp["model"], "claude-sonnet-4-5-20250929");
    assert_eq!(resp["stop_reason"], "end_turn");
    assert_eq!(resp["stop_sequence"], serde_json::Value::Null);
    assert_eq!(resp["usage"]["input_tokens"], 14);
    assert_eq!(resp["usage"]["output_tokens"], 65);
}

/// A Responses-API recording: floats stay floats, nested lists load (literals read in
/// `test_openai_responses/test_azure_responses_reasoning_context_default_wire_contract[gpt-5.6-sol].yaml`).
#[test]
fn pydantic_ai_responses_body_keeps_types() {
    let c = pydantic_ai(
        "test_openai_responses/test_azure_responses_reasoning_context_default_wire_contract[gpt-5.6-sol].yaml",
    );
    let it = &c.interactions[0];
    assert_eq!(it.request.path(), "/openai/v1/responses");
    let req = it.request.body_json().unwrap();
    assert_eq!(req["include"][0], "reasoning.encrypted_content");
    assert_eq!(
        req["input"][0]["content"],
        "What is the capital of France? Answer in one word."
    );
    let resp = it.response.body_json().unwrap();
    assert_eq!(
        resp["id"],
        "resp_038c17316a6bea06006a67711f1e3081939adc7b190d2a4799"
    );
    assert_eq!(resp["output"][0]["content"][0]["text"], "Paris");
    assert_eq!(resp["temperature"].as_f64(), Some(1.0));
    assert!(resp["temperature"].is_f64());
    assert_eq!(resp["top_p"].as_f64(), Some(0.98));
    assert_eq!(resp["metadata"], serde_json::json!({}));
    assert_eq!(resp["usage"]["total_tokens"], 23);
}

/// An event stream recorded as `body: {string: ...}` next to a `parsed_body:` request stays
/// text (`test_openai_responses/test_background_mode_streaming_vcr.yaml`).
#[test]
fn pydantic_ai_stream_body_stays_text() {
    let c = pydantic_ai("test_openai_responses/test_background_mode_streaming_vcr.yaml");
    let it = &c.interactions[0];
    let req = it.request.body_json().unwrap();
    assert_eq!(req["model"], "gpt-4o");
    assert_eq!(req["background"], true);
    assert_eq!(req["stream"], true);
    assert!(it.response.body_json().is_none());
    let text = it.response.body_text();
    assert!(text.starts_with("event: response.created\ndata: {\"type\":\"response.created\""));
    assert!(text.contains("resp_0da443d9ee8333600069950a0635d88196b2d9243b08e8cc01"));
}

/// Every pydantic-ai `parsed_body:` is read as a JSON body, and the event streams stay
/// streams. The counts were taken with PyYAML over the folder (independent of this loader):
/// 312 interactions, 287 requests and 282 responses with a `parsed_body`, 28 responses with a
/// `text/event-stream` `body: {string: ...}`.
#[test]
fn pydantic_ai_bodies_are_read() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cassettes/pydantic-ai");
    let (mut json_requests, mut json_responses, mut streams, mut total) = (0, 0, 0, 0);
    for (_, c) in Cassette::load_dir(&root).unwrap() {
        for it in &c.interactions {
            total += 1;
            json_requests += usize::from(it.request.body_json().is_some());
            if it.response.is_event_stream() {
                streams += 1;
            } else if it.response.body_json().is_some() {
                json_responses += 1;
            }
        }
    }
    assert_eq!(
        (total, json_requests, json_responses, streams),
        (312, 287, 282, 28)
    );
}
