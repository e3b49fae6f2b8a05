//! The viewer on a ClickHouse store, end to end over loopback: two `ui` instances share one
//! private `clickhouse-server` (testkit); OTLP/JSON posted to one is listed and shown by the
//! other. The OTLP/JSON body is written by hand following the OTLP/HTTP JSON encoding.
//! Skips with a message when clickhouse-server is not installed, except under `CI`.

use std::time::{Duration, Instant};

use openllmetry_testkit::clickhouse::{ClickHouseServer, ClickHouseStartError};
use openllmetry_ui::store::clickhouse::ClickHouseConfig;
use openllmetry_ui::{UiConfig, UiServer};
use serde_json::{Value, json};

fn trace(trace_id: &str, start_ns: u64) -> Value {
    json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "joke-service"}}]},
        "scopeSpans": [{"scope": {"name": "test"}, "spans": [
            {"traceId": trace_id, "spanId": "1111111111111111", "name": "joke_workflow.workflow",
             "kind": 1, "startTimeUnixNano": start_ns.to_string(), "endTimeUnixNano": (start_ns + 2_000_000).to_string(),
             "attributes": [{"key": "traceloop.workflow.name", "value": {"stringValue": "joke_workflow"}}],
             "status": {}},
            {"traceId": trace_id, "spanId": "2222222222222222", "parentSpanId": "1111111111111111",
             "name": "openai.chat", "kind": 3,
             "startTimeUnixNano": (start_ns + 100_000).to_string(), "endTimeUnixNano": (start_ns + 1_900_000).to_string(),
             "attributes": [
                {"key": "gen_ai.system", "value": {"stringValue": "openai"}},
                {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-3.5-turbo-0125"}},
                {"key": "gen_ai.usage.prompt_tokens", "value": {"intValue": "15"}},
                {"key": "gen_ai.usage.completion_tokens", "value": {"intValue": "19"}},
                {"key": "gen_ai.prompt.0.role", "value": {"stringValue": "user"}},
                {"key": "gen_ai.prompt.0.content", "value": {"stringValue": "Tell me a joke about opentelemetry"}}
             ], "status": {"code": 1}}
        ]}]
    }]})
}

async fn viewer(url: &str) -> UiServer {
    let mut config = UiConfig::new("unused.sqlite").with_listen("127.0.0.1:0".parse().unwrap());
    config.clickhouse = Some(ClickHouseConfig::from_url(url).unwrap());
    openllmetry_ui::start(config).await.unwrap()
}

async fn get(c: &reqwest::Client, server: &UiServer, path: &str) -> Value {
    c.get(format!("http://{}{path}", server.addr()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_viewers_share_one_clickhouse() {
    let server = match tokio::task::spawn_blocking(ClickHouseServer::start)
        .await
        .unwrap()
    {
        Ok(s) => s,
        Err(ClickHouseStartError::NotInstalled) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED: {}", ClickHouseStartError::NotInstalled);
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let url = server.url("viewer_e2e");
    let a = viewer(&url).await;
    let b = viewer(&url).await;
    let c = reqwest::Client::builder().no_proxy().build().unwrap();
    let t = "0123456789abcdef0123456789abcdef";
    let r = c
        .post(format!("http://{}/v1/traces", a.addr()))
        .header("content-type", "application/json")
        .body(trace(t, 1_780_000_000_000_000_000).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Written by instance a, read through instance b.
    let deadline = Instant::now() + Duration::from_secs(15);
    let list = loop {
        let v = get(&c, &b, "/api/traces?q=JOKE").await;
        let list = v["traces"].as_array().cloned().unwrap_or_default();
        if !list.is_empty() || Instant::now() > deadline {
            break list;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(list.len(), 1, "trace visible through the other instance");
    assert_eq!(list[0]["trace_id"], json!(t));
    assert_eq!(list[0]["root_name"], json!("joke_workflow.workflow"));
    assert_eq!(list[0]["service"], json!("joke-service"));
    assert_eq!(list[0]["llm_calls"], json!(1));
    assert_eq!(list[0]["input_tokens"], json!(15));
    assert_eq!(list[0]["output_tokens"], json!(19));

    let detail = get(&c, &b, &format!("/api/traces/{t}")).await;
    let names: Vec<&str> = detail["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["joke_workflow.workflow", "openai.chat"]);
    let status = get(&c, &a, "/api/status").await;
    assert_eq!(status["store"]["schema_version"], json!(2), "{status}");
    assert_eq!(status["store"]["spans"], json!(2), "{status}");
    drop((a, b));
}
