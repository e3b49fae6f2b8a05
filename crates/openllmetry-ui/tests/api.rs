//! API, ingest, backpressure, retention and security tests of the viewer, over real HTTP on
//! loopback. OTLP/JSON bodies are written by hand following the OTLP/HTTP JSON encoding (hex ids,
//! int64 as strings, lowerCamelCase), not produced by our code.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use openllmetry_ui::{UiConfig, UiServer};
use serde_json::{Value, json};

fn temp_store(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "openllmetry-ui-test-{}-{name}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    dir.join("ui.sqlite")
}

async fn start(name: &str) -> UiServer {
    openllmetry_ui::start(
        UiConfig::new(temp_store(name)).with_listen("127.0.0.1:0".parse().unwrap()),
    )
    .await
    .unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

const XSS: &str =
    "<script>document.title='pwned'</script>\"><img src=x onerror=\"document.title='pwned'\">";

/// A legacy-flavour chat span (gen_ai.prompt.N / gen_ai.completion.N) under a workflow span.
fn legacy_trace(trace_id: &str, start_ns: u64, prompt: &str, model: &str) -> Value {
    json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "joke-service"}}]},
        "scopeSpans": [{"scope": {"name": "test"}, "spans": [
            {"traceId": trace_id, "spanId": "1111111111111111", "name": "joke_workflow.workflow",
             "kind": 1, "startTimeUnixNano": start_ns.to_string(), "endTimeUnixNano": (start_ns + 2_000_000).to_string(),
             "attributes": [
                {"key": "traceloop.workflow.name", "value": {"stringValue": "joke_workflow"}},
                {"key": "traceloop.entity.name", "value": {"stringValue": "joke_workflow"}},
                {"key": "traceloop.association.properties.user_id", "value": {"stringValue": "u-42"}}
             ], "status": {}},
            {"traceId": trace_id, "spanId": "2222222222222222", "parentSpanId": "1111111111111111",
             "name": "openai.chat", "kind": 3,
             "startTimeUnixNano": (start_ns + 100_000).to_string(), "endTimeUnixNano": (start_ns + 1_900_000).to_string(),
             "attributes": [
                {"key": "gen_ai.system", "value": {"stringValue": "openai"}},
                {"key": "gen_ai.request.model", "value": {"stringValue": model}},
                {"key": "gen_ai.response.model", "value": {"stringValue": model}},
                {"key": "gen_ai.usage.prompt_tokens", "value": {"intValue": "15"}},
                {"key": "gen_ai.usage.completion_tokens", "value": {"intValue": "19"}},
                {"key": "gen_ai.conversation.id", "value": {"stringValue": "conv-7"}},
                {"key": "gen_ai.prompt.0.role", "value": {"stringValue": "user"}},
                {"key": "gen_ai.prompt.0.content", "value": {"stringValue": prompt}},
                {"key": "gen_ai.completion.0.role", "value": {"stringValue": "assistant"}},
                {"key": "gen_ai.completion.0.content", "value": {"stringValue": "Because of the baggage!"}}
             ], "status": {"code": 1}}
        ]}]
    }]})
}

async fn post_json(
    c: &reqwest::Client,
    server: &UiServer,
    path: &str,
    body: &Value,
) -> reqwest::Response {
    c.post(format!("http://{}{path}", server.addr()))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

async fn get(c: &reqwest::Client, server: &UiServer, path: &str) -> (u16, Value) {
    let r = c
        .get(format!("http://{}{path}", server.addr()))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Polls until the list answers `n` traces (ingest is asynchronous: queue then writer).
async fn wait_traces(c: &reqwest::Client, server: &UiServer, query: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, v) = get(c, server, &format!("/api/traces?{query}")).await;
        let list = v["traces"].as_array().cloned().unwrap_or_default();
        if list.len() >= n || Instant::now() > deadline {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_ingest_list_trace_span_and_filters() {
    let server = start("json").await;
    let c = client();
    let t1 = "0123456789abcdef0123456789abcdef";
    let t2 = "fedcba9876543210fedcba9876543210";
    let now = 1_780_000_000_000_000_000u64; // 2026-05-28
    let r = post_json(
        &c,
        &server,
        "/v1/traces",
        &legacy_trace(
            t1,
            now,
            "Tell me a joke about opentelemetry",
            "gpt-3.5-turbo-0125",
        ),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "{}");
    let r = post_json(
        &c,
        &server,
        "/v1/traces",
        &legacy_trace(
            t2,
            now + 1_000_000_000,
            "Write a haiku",
            "no-such-model-123",
        ),
    )
    .await;
    assert_eq!(r.status(), 200);

    let list = wait_traces(&c, &server, "", 2).await;
    assert_eq!(list.len(), 2, "{list:?}");
    // Newest first.
    assert_eq!(list[0]["trace_id"], t2);
    let first = &list[1];
    assert_eq!(first["root_name"], "joke_workflow.workflow");
    assert_eq!(first["service"], "joke-service");
    assert_eq!(first["spans"], 2);
    assert_eq!(first["llm_calls"], 1);
    assert_eq!(first["input_tokens"], 15);
    assert_eq!(first["output_tokens"], 19);
    assert_eq!(first["duration_ns"], 2_000_000);
    // gpt-3.5-turbo-0125 in the table: $0.5 / $1.5 per million → 15 × 0.5 + 19 × 1.5 = 36 µ$.
    assert!(
        (first["cost"].as_f64().unwrap() - 36e-6).abs() < 1e-12,
        "{first}"
    );
    // An unknown model has no cost, not zero.
    assert_eq!(list[0]["cost"], Value::Null);
    assert_eq!(list[0]["unknown_cost_calls"], 1);

    for (query, expected) in [
        ("q=opentelemetry", vec![t1]),
        ("q=haiku", vec![t2]),
        ("q=Because%20of", vec![t2, t1]),
        ("q=100%25", vec![]),
        ("model=no-such-model-123", vec![t2]),
        ("provider=openai", vec![t2, t1]),
        ("service=other", vec![]),
        ("entity=joke_workflow", vec![t2, t1]),
        ("conversation=conv-7", vec![t2, t1]),
        ("status=error", vec![]),
        ("status=ok", vec![t2, t1]),
        (&format!("from_ns={}", now + 1), vec![t2]),
        (&format!("to_ns={}", now + 1), vec![t1]),
        ("assoc_key=user_id&assoc_value=u-42", vec![t2, t1]),
        ("assoc_key=user_id&assoc_value=u-43", vec![]),
        (
            "assoc_key=user%22)%20OR%201%3D1%20--&assoc_value=u-42",
            vec![],
        ),
        ("limit=1", vec![t2]),
        ("limit=1&offset=1", vec![t1]),
    ] {
        let (status, v) = get(&c, &server, &format!("/api/traces?{query}")).await;
        assert_eq!(status, 200, "{query}");
        let ids: Vec<&str> = v["traces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["trace_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, expected, "{query}");
    }

    // Sessions: both traces share conversation conv-7 and user_id u-42.
    for by in ["conversation", "user_id"] {
        let (status, v) = get(&c, &server, &format!("/api/sessions?by={by}")).await;
        assert_eq!(status, 200);
        let sessions = v["sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 1, "{by}: {v}");
        let s = &sessions[0];
        assert_eq!(s["key"], if by == "user_id" { "u-42" } else { "conv-7" });
        assert_eq!(s["traces"], 2);
        assert_eq!(s["llm_calls"], 2);
        assert_eq!(s["input_tokens"], 30);
        assert_eq!(s["output_tokens"], 38);
        // Only the gpt-3.5-turbo-0125 call has a known cost; the other is counted as unknown.
        assert!((s["cost"].as_f64().unwrap() - 36e-6).abs() < 1e-12, "{s}");
        assert_eq!(s["unknown_cost_calls"], 1);
    }
    let (_, v) = get(&c, &server, "/api/sessions?by=tenant").await;
    assert_eq!(v["sessions"], json!([]));

    let (status, trace) = get(&c, &server, &format!("/api/traces/{t1}")).await;
    assert_eq!(status, 200);
    let spans = trace["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0]["depth"], 0);
    assert_eq!(spans[1]["depth"], 1);
    assert_eq!(spans[1]["parent_span_id"], "1111111111111111");
    assert_eq!(spans[0]["association"]["user_id"], "u-42");

    let (status, span) = get(
        &c,
        &server,
        &format!("/api/traces/{t1}/spans/2222222222222222"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(span["provider"], "openai");
    assert_eq!(span["model"], "gpt-3.5-turbo-0125");
    assert_eq!(
        span["attributes"]["gen_ai.prompt.0.content"],
        "Tell me a joke about opentelemetry"
    );
    assert_eq!(span["status_code"], 1);

    assert_eq!(
        get(&c, &server, "/api/traces/00000000000000000000000000000000")
            .await
            .0,
        404
    );
    assert_eq!(
        get(
            &c,
            &server,
            &format!("/api/traces/{t1}/spans/0000000000000000")
        )
        .await
        .0,
        404
    );
    let (status, st) = get(&c, &server, "/api/status").await;
    assert_eq!(status, 200);
    assert_eq!(st["ingest"]["accepted_requests"], 2);
    assert_eq!(st["store"]["spans"], 4);
    assert_eq!(st["store"]["schema_version"], 2);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_gzip_ingest_and_events_flavour_logs() {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message as _;
    let server = start("proto").await;
    let c = client();
    let trace_id = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    // The JSON request decoded by the protobuf types, then sent as gzipped protobuf.
    let req: ExportTraceServiceRequest = serde_json::from_value(legacy_trace(
        trace_id,
        1_780_000_000_000_000_000,
        "",
        "gpt-3.5-turbo",
    ))
    .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&req.encode_to_vec()).unwrap();
    let r = c
        .post(format!("http://{}/v1/traces", server.addr()))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-protobuf");
    // Events flavour: the prompt is in a log record correlated to the span.
    let logs: ExportLogsServiceRequest = serde_json::from_value(json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "joke-service"}}]},
        "scopeLogs": [{"logRecords": [{
            "timeUnixNano": "1780000000000200000", "eventName": "gen_ai.user.message",
            "traceId": trace_id, "spanId": "2222222222222222",
            "body": {"kvlistValue": {"values": [{"key": "content", "value": {"stringValue": "a prompt only in a log record"}}]}}
        }]}]
    }]}))
    .unwrap();
    let r = c
        .post(format!("http://{}/v1/logs", server.addr()))
        .header("content-type", "application/x-protobuf")
        .body(logs.encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let found = wait_traces(&c, &server, "q=only%20in%20a%20log", 1).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["trace_id"], trace_id);
    let (_, span) = get(
        &c,
        &server,
        &format!("/api/traces/{trace_id}/spans/2222222222222222"),
    )
    .await;
    assert_eq!(span["logs"][0]["event_name"], "gen_ai.user.message");
    assert_eq!(
        span["logs"][0]["body"]["content"],
        "a prompt only in a log record"
    );

    // Invalid bodies are refused and counted.
    for (ct, enc, body) in [
        ("application/x-protobuf", None, vec![0xff, 0xff, 0xff]),
        ("application/json", None, b"{not json".to_vec()),
        ("application/json", Some("gzip"), b"not gzip".to_vec()),
        ("text/plain", None, b"x".to_vec()),
    ] {
        let mut rb = c
            .post(format!("http://{}/v1/traces", server.addr()))
            .header("content-type", ct);
        if let Some(e) = enc {
            rb = rb.header("content-encoding", e);
        }
        let status = rb.body(body).send().await.unwrap().status().as_u16();
        assert!(status == 400 || status == 415, "{ct}: {status}");
    }
    let (_, st) = get(&c, &server, "/api/status").await;
    assert_eq!(st["ingest"]["rejected_invalid"], 4);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_answers_429_with_retry_after_and_is_counted() {
    let config = UiConfig::new(temp_store("queue"))
        .with_listen("127.0.0.1:0".parse().unwrap())
        .with_queue_capacity(2);
    let server = openllmetry_ui::start(config).await.unwrap();
    server.pause_writer(true);
    let c = client();
    let body = legacy_trace(
        "0123456789abcdef0123456789abcdef",
        1_780_000_000_000_000_000,
        "x",
        "gpt-4o",
    );
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..4 {
        let r = post_json(&c, &server, "/v1/traces", &body).await;
        if r.status() == 429 {
            retry_after = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
        }
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 429, 429]);
    assert_eq!(retry_after.as_deref(), Some("1"));
    let (_, st) = get(&c, &server, "/api/status").await;
    assert_eq!(st["ingest"]["rejected_queue_full"], 2);
    assert_eq!(st["queue"]["queued"], 2);
    // Once the writer drains the queue, ingest is accepted again.
    server.pause_writer(false);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, st) = get(&c, &server, "/api/status").await;
        if st["queue"]["queued"] == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        post_json(&c, &server, "/v1/traces", &body).await.status(),
        200
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_by_age_and_by_size_drops_the_oldest() {
    let server = start("retention").await;
    let c = client();
    let day = 86_400_000_000_000u64;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let old = "00000000000000000000000000000001";
    let new = "00000000000000000000000000000002";
    post_json(
        &c,
        &server,
        "/v1/traces",
        &legacy_trace(old, now - 10 * day, "old", "gpt-4o"),
    )
    .await;
    post_json(
        &c,
        &server,
        "/v1/traces",
        &legacy_trace(new, now - day, "new", "gpt-4o"),
    )
    .await;
    assert_eq!(wait_traces(&c, &server, "", 2).await.len(), 2);
    let store = server.store();
    let out = store.retain(Some((now - 5 * day) as i64), None).unwrap();
    assert_eq!(out.spans_deleted, 2);
    let left: Vec<Value> = wait_traces(&c, &server, "", 1).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["trace_id"], new);

    // Size: fill with traces carrying a large prompt, then cap far below.
    let big = "x".repeat(50_000);
    for i in 0..20u64 {
        let id = format!("{:032x}", 100 + i);
        post_json(
            &c,
            &server,
            "/v1/traces",
            &legacy_trace(&id, now - day + i * 1_000_000_000, &big, "gpt-4o"),
        )
        .await;
    }
    assert_eq!(wait_traces(&c, &server, "limit=100", 21).await.len(), 21);
    let before = store.stats().unwrap().bytes;
    assert!(before > 1_000_000, "{before}");
    let cap = 400_000u64;
    let out = store.retain(None, Some(cap)).unwrap();
    assert!(out.spans_deleted > 0);
    let after = store.stats().unwrap().bytes;
    assert!(after as u64 <= cap, "{after} > {cap}");
    let left = wait_traces(&c, &server, "limit=100", 0).await;
    assert!(!left.is_empty() && left.len() < 21, "{}", left.len());
    // The newest survive: the oldest are dropped first.
    assert_eq!(left[0]["trace_id"], format!("{:032x}", 119));
    assert!(left.iter().all(|t| t["trace_id"] != new));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_is_returned_as_data_and_the_page_never_injects_html() {
    let server = start("xss").await;
    let c = client();
    let t = "0123456789abcdef0123456789abcdef";
    post_json(
        &c,
        &server,
        "/v1/traces",
        &legacy_trace(t, 1_780_000_000_000_000_000, XSS, "gpt-4o"),
    )
    .await;
    wait_traces(&c, &server, "", 1).await;
    let (_, span) = get(
        &c,
        &server,
        &format!("/api/traces/{t}/spans/2222222222222222"),
    )
    .await;
    assert_eq!(span["attributes"]["gen_ai.prompt.0.content"], XSS);
    let r = c
        .get(format!("http://{}/", server.addr()))
        .send()
        .await
        .unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let js = c
        .get(format!("http://{}/assets/app.js", server.addr()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !js.contains("innerHTML")
            && !js.contains("outerHTML")
            && !js.contains("insertAdjacentHTML")
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_loopback_needs_a_token_and_then_bearer_auth() {
    let refused = openllmetry_ui::start(
        UiConfig::new(temp_store("auth0")).with_listen("0.0.0.0:0".parse().unwrap()),
    )
    .await;
    assert!(
        matches!(
            refused,
            Err(openllmetry_ui::UiError::NonLoopbackWithoutToken(_))
        ),
        "{refused:?}"
    );

    let server = openllmetry_ui::start(
        UiConfig::new(temp_store("auth1"))
            .with_listen("127.0.0.1:0".parse().unwrap())
            .with_auth_token(Some("s3cret-token".into())),
    )
    .await
    .unwrap();
    let c = client();
    for path in ["/", "/api/traces", "/api/status"] {
        let r = c
            .get(format!("http://{}{path}", server.addr()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let r = c
            .get(format!("http://{}{path}", server.addr()))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let r = c
            .get(format!("http://{}{path}", server.addr()))
            .bearer_auth("s3cret-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let r = post_json(&c, &server, "/v1/traces", &json!({"resourceSpans": []})).await;
    assert_eq!(r.status(), 401);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_ingest_and_resource_exhausted_with_retry_info() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    use tonic_types::StatusExt as _;
    let mut config = UiConfig::new(temp_store("grpc"))
        .with_listen("127.0.0.1:0".parse().unwrap())
        .with_queue_capacity(1);
    config.otlp_grpc = Some("127.0.0.1:0".parse().unwrap());
    let server = openllmetry_ui::start(config).await.unwrap();
    let grpc = server.grpc_addr().unwrap();
    let mut grpc_client = TraceServiceClient::connect(format!("http://{grpc}"))
        .await
        .unwrap()
        .send_compressed(tonic::codec::CompressionEncoding::Gzip);
    let t = "0123456789abcdef0123456789abcdef";
    let req: ExportTraceServiceRequest = serde_json::from_value(legacy_trace(
        t,
        1_780_000_000_000_000_000,
        "sent over gRPC",
        "gpt-4o",
    ))
    .unwrap();
    grpc_client.export(req.clone()).await.unwrap();
    let c = client();
    let found = wait_traces(&c, &server, "q=over%20gRPC", 1).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["trace_id"], t);

    server.pause_writer(true);
    grpc_client.export(req.clone()).await.unwrap();
    let err = grpc_client.export(req).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted);
    let retry = err.get_details_retry_info().expect("a RetryInfo detail");
    assert_eq!(retry.retry_delay, Some(Duration::from_secs(1)));
    let (_, st) = get(&c, &server, "/api/status").await;
    assert_eq!(st["ingest"]["rejected_queue_full"], 1);
    server.pause_writer(false);
    server.shutdown().await;
}
