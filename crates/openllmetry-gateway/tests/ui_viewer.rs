//! `openllmetry ui` end to end: a recorded OpenAI call goes through the real gateway process,
//! whose SDK exports over OTLP/HTTP (protobuf, then JSON) to the viewer; the API shows the LLM
//! span with its tokens and cost, and Debian's chromium (headless) renders what a person sees.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use openllmetry_testkit::replay::ReplayServer;
use serde_json::Value;

const PROMPT: &str = "Tell me a joke about opentelemetry";
const COMPLETION: &str = "Why did Opentelemetry break up with Tracing?";
/// gpt-3.5-turbo-0125 in the vendored genai-prices table: $0.5 input, $1.5 output per million;
/// the recorded usage is 15 prompt and 19 completion tokens: 15 × 0.5 + 19 × 1.5 = 36 µ$.
const EXPECTED_COST: f64 = 36e-6;

async fn get_json(url: &str) -> Value {
    let bytes = http_client()
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// Sends the recorded chat through a gateway exporting with `protocol` to the viewer and returns
/// the trace id the viewer shows for it.
async fn one_call_through_the_gateway(
    ui: &openllmetry_ui::UiServer,
    upstream: &ReplayServer,
    protocol: &str,
    known: &[String],
) -> String {
    let mut opts = GatewayOpts::replay(&upstream.base_url());
    opts.otlp = Some(format!("http://{}", ui.addr()));
    let mut gateway = opts
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .env("TRACELOOP_TRACE_CONTENT", "true")
        .spawn();
    let it = interaction("openai/test_chat/test_chat.yaml", 0);
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
    let base = format!("http://{}", ui.addr());
    let deadline = Instant::now() + Duration::from_secs(20);
    let trace_id = loop {
        let list = get_json(&format!("{base}/api/traces?q=opentelemetry&limit=100")).await;
        let fresh = list["traces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["trace_id"].as_str().unwrap().to_string())
            .find(|id| !known.contains(id));
        if let Some(id) = fresh {
            break id;
        }
        assert!(
            Instant::now() < deadline,
            "{protocol}: no trace reached the viewer; gateway stderr:\n{}",
            gateway.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    gateway.stop();
    trace_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_traces_reach_the_viewer_over_protobuf_and_json_and_render_in_chromium() {
    let dir = temp_dir("gw");
    let ui = openllmetry_ui::start(
        openllmetry_ui::UiConfig::new(dir.join("ui.sqlite"))
            .with_listen("127.0.0.1:0".parse().unwrap()),
    )
    .await
    .unwrap();
    let it = interaction("openai/test_chat/test_chat.yaml", 0);
    let upstream = ReplayServer::pool(vec![it]).reuse(true).spawn().unwrap();
    let base = format!("http://{}", ui.addr());

    let proto = one_call_through_the_gateway(&ui, &upstream, "http/protobuf", &[]).await;
    let json =
        one_call_through_the_gateway(&ui, &upstream, "http/json", std::slice::from_ref(&proto))
            .await;

    let mut llm_span = None;
    for trace_id in [&proto, &json] {
        let trace = get_json(&format!("{base}/api/traces/{trace_id}")).await;
        let spans = trace["spans"].as_array().unwrap();
        let llm = spans
            .iter()
            .find(|s| s["is_llm"] == true)
            .unwrap_or_else(|| panic!("no LLM span in {trace}"));
        assert_eq!(llm["provider"], "openai", "{llm}");
        assert_eq!(llm["model"], "gpt-3.5-turbo-0125");
        assert_eq!(llm["input_tokens"], 15);
        assert_eq!(llm["output_tokens"], 19);
        assert!(
            (llm["cost"].as_f64().unwrap() - EXPECTED_COST).abs() < 1e-12,
            "{llm}"
        );
        let span = get_json(&format!(
            "{base}/api/traces/{trace_id}/spans/{}",
            llm["span_id"].as_str().unwrap()
        ))
        .await;
        let text = span["attributes"].to_string();
        assert!(text.contains(PROMPT) && text.contains("baggage"), "{text}");
        assert!(
            !text.contains("sk-test-not-a-key"),
            "the API key reached the store"
        );
        llm_span = Some(llm["name"].as_str().unwrap().to_string());
    }
    let list = get_json(&format!("{base}/api/traces")).await;
    assert_eq!(list["traces"].as_array().unwrap().len(), 2, "{list}");

    // A hostile prompt, sent straight to the viewer's OTLP/JSON endpoint.
    let xss =
        "<script>document.title='pwned'</script>\"><img src=x onerror=\"document.title='pwned'\">";
    let hostile = serde_json::json!({"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "hostile"}}]},
        "scopeSpans": [{"spans": [{"traceId": "0123456789abcdef0123456789abcdef", "spanId": "2222222222222222",
            "name": "openai.chat", "kind": 3, "startTimeUnixNano": "1780000000000000000", "endTimeUnixNano": "1780000001000000000",
            "attributes": [
                {"key": "gen_ai.system", "value": {"stringValue": "openai"}},
                {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-3.5-turbo"}},
                {"key": "gen_ai.usage.prompt_tokens", "value": {"intValue": "3"}},
                {"key": "gen_ai.conversation.id", "value": {"stringValue": "conv-hostile-1"}},
                {"key": "gen_ai.prompt.0.role", "value": {"stringValue": "user"}},
                {"key": "gen_ai.prompt.0.content", "value": {"stringValue": xss}}]},
            // An LLM call recorded with content capture off: usage, no messages.
            {"traceId": "0123456789abcdef0123456789abcdef", "spanId": "3333333333333333", "parentSpanId": "2222222222222222",
            "name": "anthropic.chat", "kind": 3, "startTimeUnixNano": "1780000000100000000", "endTimeUnixNano": "1780000000900000000",
            "attributes": [
                {"key": "gen_ai.provider.name", "value": {"stringValue": "anthropic"}},
                {"key": "gen_ai.request.model", "value": {"stringValue": "claude-sonnet-4-5"}},
                {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "5"}}]}]}]}]});
    let r = http_client()
        .post(format!("{base}/v1/traces"))
        .header("content-type", "application/json")
        .body(hostile.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is missing under CI: run scripts/setup-browser.sh"
        );
        eprintln!(
            "\n!!! SKIPPING the browser part: chromium is not installed (scripts/setup-browser.sh) !!!\n"
        );
        ui.shutdown().await;
        return;
    };
    let llm_name = llm_span.unwrap();
    // Traces list: both traces, the LLM call's tokens and cost.
    let dom = dump_dom(&chromium, &format!("{base}/#/"), &dir);
    assert!(
        dom.contains("data-ready=\"1\""),
        "the page did not finish:\n{dom}"
    );
    assert!(
        dom.contains(&format!("data-trace=\"{proto}\""))
            && dom.contains(&format!("data-trace=\"{json}\"")),
        "{dom}"
    );
    assert!(dom.contains("$0.000036"), "no cost in the list:\n{dom}");
    assert!(
        dom.contains("<td>15</td>") && dom.contains("<td>19</td>"),
        "no token counts:\n{dom}"
    );
    // A filter narrows the list.
    let dom = dump_dom(&chromium, &format!("{base}/#/?service=hostile"), &dir);
    assert!(
        !dom.contains(&format!("data-trace=\"{proto}\"")),
        "filter did not narrow:\n{dom}"
    );
    assert!(
        dom.contains("data-trace=\"0123456789abcdef0123456789abcdef\""),
        "{dom}"
    );
    // Trace page: waterfall with the span names, the chat with prompt and completion, usage, cost.
    let dom = dump_dom(&chromium, &format!("{base}/#/trace/{proto}"), &dir);
    assert!(dom.contains(&llm_name), "span name missing:\n{dom}");
    assert!(
        dom.contains(PROMPT) && dom.contains(COMPLETION),
        "chat missing:\n{dom}"
    );
    assert!(
        dom.contains("$0.000036") && dom.contains("gpt-3.5-turbo-0125"),
        "usage missing:\n{dom}"
    );
    // Sessions: the conversation appears with its trace and token count.
    let dom = dump_dom(&chromium, &format!("{base}/#/sessions"), &dir);
    assert!(
        dom.contains("data-session=\"conv-hostile-1\""),
        "no session:\n{dom}"
    );
    assert!(
        dom.contains("<td>conv-hostile-1</td><td>1</td>"),
        "session row:\n{dom}"
    );
    // The hostile prompt is shown as text: escaped in the DOM, nothing executed.
    let dom = dump_dom(
        &chromium,
        &format!("{base}/#/trace/0123456789abcdef0123456789abcdef"),
        &dir,
    );
    assert!(
        dom.contains(
            "&lt;script&gt;document.title='pwned'&lt;/script&gt;\"&gt;&lt;img src=x onerror="
        ),
        "prompt not shown as text:\n{dom}"
    );
    assert!(!dom.contains("<img"), "an img element was injected:\n{dom}");
    assert!(
        dom.contains("<title>openllmetry ui</title>") && !dom.contains("pwned</title>"),
        "script ran:\n{dom}"
    );
    // A content-off LLM span says so.
    let dom = dump_dom(
        &chromium,
        &format!("{base}/#/trace/0123456789abcdef0123456789abcdef?span=3333333333333333"),
        &dir,
    );
    assert!(
        dom.contains("Content capture was off for this span"),
        "{dom}"
    );
    // A screenshot of the trace page, for people (not asserted).
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
    let _ = std::fs::create_dir_all(&shots);
    let shot = shots.join("trace.png");
    screenshot(&chromium, &format!("{base}/#/trace/{proto}"), &dir, &shot);
    eprintln!("screenshot: {}", shot.display());
    ui.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        })
    })
}

/// The DOM after the page's scripts ran (virtual time lets its fetches finish).
fn dump_dom(chromium: &PathBuf, url: &str, dir: &std::path::Path) -> String {
    let out = chromium_command(chromium, dir)
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("chromium runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn screenshot(chromium: &PathBuf, url: &str, dir: &std::path::Path, to: &std::path::Path) {
    let _ = chromium_command(chromium, dir)
        .arg(format!("--screenshot={}", to.display()))
        .arg("--window-size=1400,700")
        .arg(url)
        .output();
}

fn chromium_command(chromium: &PathBuf, dir: &std::path::Path) -> Command {
    let profile = dir.join(format!(
        "chromium-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--virtual-time-budget=3000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}
