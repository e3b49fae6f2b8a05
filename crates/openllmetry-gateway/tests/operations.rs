//! Operations: `GET /healthz`, only the configured upstreams are reachable (not an open
//! proxy), the request body limit, and the TOML config file.

mod common;

use std::io::Write as _;
use std::time::Duration;

use common::*;
use openllmetry_testkit::otlp::OtlpReceiver;
use openllmetry_testkit::replay::ReplayServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_and_unknown_paths_and_other_hosts_are_refused() {
    let it = interaction("openai/test_chat/test_chat.yaml", 0);
    let upstream = ReplayServer::pool(vec![it.clone()])
        .reuse(true)
        .spawn()
        .unwrap();
    // Another server on loopback the gateway must never reach.
    let other = Sink::start();
    let receiver = OtlpReceiver::start();
    let gateway = GatewayOpts::replay(&upstream.base_url())
        .otlp(&receiver)
        .spawn();
    let client = http_client();

    let resp = client.get(gateway.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok");

    for path in [
        "/",
        "/x",
        "/admin",
        "/healthz/x",
        "/v2/chat/completions",
        "/openaix/chat/completions",
        "/metrics",
    ] {
        for method in [reqwest::Method::GET, reqwest::Method::POST] {
            let resp = client
                .request(method.clone(), gateway.url(path))
                .body("{}")
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 404, "{method} {path}");
        }
    }

    let other_port = other.addr.port();
    let raw = |request: String| {
        let r = raw_exchange(gateway.addr, request.as_bytes(), Duration::from_secs(5));
        String::from_utf8_lossy(&r).into_owned()
    };
    // Absolute-form targets (forward-proxy requests), to another server on loopback.
    for target in [
        format!("http://127.0.0.1:{other_port}/x"),
        format!("http://127.0.0.1:{other_port}/v1/chat/completions"),
        format!("http://localhost:{other_port}/v1/messages"),
    ] {
        let body = String::from_utf8_lossy(&it.request.body).into_owned();
        let r = raw(format!(
            "POST {target} HTTP/1.1\r\nHost: 127.0.0.1:{other_port}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ));
        assert!(
            (400..500).contains(&raw_status(r.as_bytes())),
            "absolute-form {target}: {r}"
        );
        let r = raw(format!(
            "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{other_port}\r\nconnection: close\r\n\r\n"
        ));
        assert!(
            (400..500).contains(&raw_status(r.as_bytes())),
            "{target}: {r}"
        );
    }
    // CONNECT tunnels.
    let r = raw(format!(
        "CONNECT 127.0.0.1:{other_port} HTTP/1.1\r\nHost: 127.0.0.1:{other_port}\r\n\r\n"
    ));
    assert!(!r.starts_with("HTTP/1.1 2"), "CONNECT: {r}");
    // Dot segments cannot climb out of the upstream's base path.
    for path in ["/v1/../../x", "/openai/../../admin", "/v1/%2e%2e/%2e%2e/x"] {
        let r = raw(format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nconnection: close\r\n\r\n"
        ));
        let status = raw_status(r.as_bytes());
        assert!((400..500).contains(&status), "{path}: {r}");
    }
    // A Host header naming the other server changes nothing: the configured upstream answers.
    let resp = client
        .post(gateway.url("/v1/chat/completions"))
        .header("host", format!("127.0.0.1:{other_port}"))
        .header("content-type", "application/json")
        .body(it.request.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let _ = resp.bytes().await.unwrap();

    assert_eq!(
        other.connections(),
        0,
        "the gateway connected to another server"
    );
    // Only the last (legitimate) request reached the upstream.
    let got = upstream.requests();
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].path(), "/v1/chat/completions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_limit_and_config_file() {
    let it = interaction("openai/test_chat/test_chat.yaml", 0);
    let upstream = ReplayServer::pool(vec![it.clone()])
        .reuse(true)
        .spawn()
        .unwrap();
    let receiver = OtlpReceiver::start();
    let dir = std::env::temp_dir().join(format!("openllmetry-gateway-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("gateway.toml");
    let mut f = std::fs::File::create(&config).unwrap();
    // Upstreams from the file; the limit just above the recorded body.
    writeln!(
        f,
        "openai_upstream = \"{}/v1\"\nanthropic_upstream = \"{}\"\nbody_limit_bytes = 1024\n",
        upstream.base_url(),
        upstream.base_url()
    )
    .unwrap();
    drop(f);
    let mut opts = GatewayOpts::new("http://127.0.0.1:1/v1".into(), "http://127.0.0.1:1".into())
        .otlp(&receiver);
    // Flags win over the file: give none for the upstreams.
    opts.openai_upstream.clear();
    opts.anthropic_upstream.clear();
    let gateway = spawn_with_config(opts, &config);
    let client = http_client();

    let big = vec![b' '; 4096];
    let resp = client
        .post(gateway.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body([&it.request.body[..], &big[..]].concat())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let _ = resp.bytes().await;
    assert!(
        upstream.requests().is_empty(),
        "an oversized body was forwarded"
    );

    let resp = client
        .post(gateway.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(it.request.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap(), it.response.body);
    assert_eq!(upstream.requests().len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts the gateway with `--config FILE` and only the upstream flags that are non-empty.
fn spawn_with_config(opts: GatewayOpts, config: &std::path::Path) -> GatewayProcess {
    let mut cmd = binary_command();
    cmd.arg("gateway")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--config")
        .arg(config);
    if !opts.openai_upstream.is_empty() {
        cmd.arg("--openai-upstream").arg(&opts.openai_upstream);
    }
    GatewayProcess::spawn_command(cmd, opts.otlp.as_deref())
}
