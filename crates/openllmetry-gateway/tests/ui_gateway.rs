//! `openllmetry gateway --ui` and `openllmetry demo` write their spans straight into the viewer's
//! store (real child processes, real replayed provider, no OTLP endpoint configured).

mod common;

use std::time::{Duration, Instant};

use common::*;
use openllmetry_testkit::replay::ReplayServer;
use openllmetry_ui::store::{SqliteStore, Store as _};
use serde_json::Value;

/// gpt-3.5-turbo-0125 in the vendored genai-prices table: $0.5 input, $1.5 output per million;
/// the recorded usage is 15 prompt and 19 completion tokens: 15 × 0.5 + 19 × 1.5 = 36 µ$.
const EXPECTED_COST: f64 = 36e-6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_with_ui_serves_the_viewer_and_records_into_its_store() {
    let dir = temp_dir("gw");
    let it = interaction("openai/test_chat/test_chat.yaml", 0);
    let upstream = ReplayServer::pool(vec![it.clone()])
        .reuse(true)
        .spawn()
        .unwrap();
    let store = dir.join("ui.sqlite");
    let gateway = GatewayOpts::replay(&upstream.base_url())
        .env("TRACELOOP_TRACE_CONTENT", "true")
        .env("OTEL_BSP_SCHEDULE_DELAY", "50")
        .arg("--ui")
        .arg("--ui-listen")
        .arg("127.0.0.1:0")
        .arg("--ui-store")
        .arg(&format!("sqlite:{}", store.display()))
        .spawn();
    let line = gateway
        .wait_for_stderr("trace viewer on http://", Duration::from_secs(20))
        .unwrap_or_else(|| panic!("no viewer line:\n{}", gateway.stderr()));
    let ui = line
        .split("trace viewer on ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let resp = http_client()
        .post(gateway.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .header("authorization", "Bearer sk-test-not-a-key")
        .body(it.request.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let _ = resp.bytes().await;
    // The viewer of the gateway process lists the call, with the cost from the table.
    let deadline = Instant::now() + Duration::from_secs(20);
    let list: Value = loop {
        let v: Value = http_client()
            .get(format!("{ui}/api/traces"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if !v["traces"].as_array().unwrap().is_empty() {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "no trace in the gateway's viewer:\n{}",
            gateway.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let t = &list["traces"][0];
    assert_eq!(t["llm_calls"], 1, "{list}");
    assert_eq!(t["input_tokens"], 15);
    assert_eq!(t["output_tokens"], 19);
    assert!((t["cost"].as_f64().unwrap() - EXPECTED_COST).abs() < 1e-12);
    // The UI page itself is served by the gateway process.
    let page = http_client().get(format!("{ui}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("openllmetry ui"));
    assert!(
        !gateway
            .stderr()
            .contains("no endpoint, API key or exporter configured"),
        "the gateway fell back to console export"
    );
    drop(gateway);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn demo_prints_the_url_of_its_trace_and_stores_it() {
    let dir = temp_dir("demo");
    let store = dir.join("ui.sqlite");
    let out = binary_command()
        .arg("demo")
        .arg("--store")
        .arg(format!("sqlite:{}", store.display()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Printed for the viewer `openllmetry ui` serves by default.
    let url = stdout
        .lines()
        .find_map(|l| l.strip_prefix("trace: "))
        .unwrap_or_else(|| panic!("no trace URL in:\n{stdout}"));
    let trace_id = url
        .strip_prefix("http://127.0.0.1:8790/#/trace/")
        .unwrap_or_else(|| panic!("unexpected URL {url}"));
    assert_eq!(trace_id.len(), 32);
    let spans = SqliteStore::open(&store)
        .unwrap()
        .trace_spans(trace_id)
        .unwrap();
    let names: Vec<&str> = spans.iter().map(|s| s["name"].as_str().unwrap()).collect();
    for want in [
        "joke_generator.workflow",
        "tell_openai_joke.task",
        "tell_anthropic_joke.task",
        "openai.chat",
        "anthropic.chat",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let openai = spans.iter().find(|s| s["name"] == "openai.chat").unwrap();
    assert!((openai["cost"].as_f64().unwrap() - EXPECTED_COST).abs() < 1e-12);
    let _ = std::fs::remove_dir_all(&dir);
}
