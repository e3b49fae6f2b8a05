//! `openllmetry replay` as a child process, with no cassette paths (the recordings embedded in
//! the binary): it logs every request with the recording that answered it, or that nothing
//! did, and answers a client that did not ask for gzip with a plain body.

mod common;

use std::time::Duration;

use common::*;

#[tokio::test]
async fn replay_logs_each_request_with_its_match() {
    let mut cmd = binary_command();
    cmd.args(["replay", "--listen", "127.0.0.1:0"]);
    let mut process = GatewayProcess::spawn_until(cmd, None, "replaying recorded exchanges");
    let base = process.base_url();
    let client = reqwest::Client::builder()
        .no_proxy()
        .no_gzip()
        .build()
        .unwrap();

    // A plain chat completion nobody recorded word for word: the route fallback answers it
    // with the embedded plain chat recording, decoded (no Accept-Encoding sent).
    let resp = client
        .post(format!("{base}/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(r#"{"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"hi"}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("content-encoding").is_none());
    let json: serde_json::Value = resp.json().await.expect("a plain JSON body");
    assert_eq!(json["object"], "chat.completion");

    let resp = client
        .get(format!("{base}/v1/nowhere"))
        .send()
        .await
        .unwrap();
    assert_ne!(resp.status(), 200);

    let answered = process
        .wait_for_stderr(
            "replay: answered from embedded:openai/test_chat/test_chat.yaml #",
            PATIENCE,
        )
        .unwrap_or_else(|| panic!("no log line for the match; stderr:\n{}", process.stderr()));
    assert!(answered.contains("/v1/chat/completions"), "{answered}");
    let unmatched = process
        .wait_for_stderr("replay: no match", PATIENCE)
        .unwrap_or_else(|| panic!("no log line for the miss; stderr:\n{}", process.stderr()));
    assert!(unmatched.contains("/v1/nowhere"), "{unmatched}");
    process.signal("TERM");
    assert!(process.wait_exit(Duration::from_secs(20)).is_some());
}
