//! Server-side bounds of the gateway binary (issue 10, items 8 to 11 and 17): header-read,
//! body-idle and keep-alive timeouts, the connection cap, accept errors when file descriptors
//! run out, shutdown with idle connections open, the right status for broken request bodies
//! and broken upstreams, URL credentials kept out of the logs, and `telemetry preview`
//! reading a running gateway. Every timeout here is shortened by flag to 1 s; bounds on time
//! are generous (the machine may be loaded).

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// A black-hole upstream (never used by these requests, or never answering).
fn sink_opts() -> (Sink, GatewayOpts) {
    let sink = Sink::start();
    let base = format!("http://{}", sink.addr);
    let opts = GatewayOpts::new(format!("{base}/v1"), base);
    (sink, opts)
}

/// Reads from `s` until the server closes it (true) or `within` passes (false). Bytes read
/// are returned too.
fn closed_within(s: &mut TcpStream, within: Duration) -> (bool, Vec<u8>) {
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (false, out);
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return (true, out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (false, out);
            }
            // Reset by the server: closed too.
            Err(_) => return (true, out),
        }
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).unwrap()
}

#[test]
fn slow_header_connection_is_closed_after_the_header_timeout() {
    let (_sink, opts) = sink_opts();
    let gateway = opts.arg("--header-read-timeout-secs").arg("1").spawn();
    let mut s = connect(gateway.addr);
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let started = Instant::now();
    let (closed, _) = closed_within(&mut s, Duration::from_secs(10));
    assert!(closed, "a half-sent request head kept its connection open");
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[test]
fn idle_keep_alive_connection_is_closed() {
    let (_sink, opts) = sink_opts();
    let gateway = opts.arg("--header-read-timeout-secs").arg("1").spawn();
    let mut s = connect(gateway.addr);
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (closed, got) = closed_within(&mut s, Duration::from_secs(10));
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(closed, "an idle keep-alive connection stayed open");
}

#[test]
fn stalled_request_body_gets_408_and_its_connection_closed() {
    let (sink, opts) = sink_opts();
    let gateway = opts.arg("--body-idle-timeout-secs").arg("1").spawn();
    let mut s = connect(gateway.addr);
    s.write_all(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"model\":",
    )
    .unwrap();
    let (closed, got) = closed_within(&mut s, Duration::from_secs(10));
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408"), "{text:?}");
    assert!(closed, "the stalled connection stayed open");
    assert!(
        gateway
            .wait_for_stderr("body idle timeout", PATIENCE)
            .is_some()
    );
    assert_eq!(
        sink.connections(),
        0,
        "a stalled request reached the upstream"
    );
}

#[test]
fn connections_past_the_cap_wait_until_one_closes() {
    let (_sink, opts) = sink_opts();
    let gateway = opts.arg("--max-connections").arg("2").spawn();
    let mut held: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = connect(gateway.addr);
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s
        })
        .collect();
    // Make sure both were accepted before the third arrives.
    std::thread::sleep(Duration::from_millis(300));
    let mut third = connect(gateway.addr);
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (closed, got) = closed_within(&mut third, Duration::from_millis(1500));
    assert!(
        !closed && got.is_empty(),
        "a connection past the cap was served: {:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(
        gateway
            .wait_for_stderr("connection limit reached", PATIENCE)
            .is_some(),
        "{}",
        gateway.stderr()
    );
    held.pop().unwrap().shutdown(Shutdown::Both).unwrap();
    let (_, got) = closed_within(&mut third, PATIENCE);
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text:?}");
    drop(held);
}

#[test]
fn accept_errors_are_logged_when_file_descriptors_run_out_and_service_recovers() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        eprintln!("prlimit (util-linux) missing: skipped");
        return;
    }
    let (_sink, opts) = sink_opts();
    let base = common::binary_command();
    let mut cmd = Command::new("prlimit");
    cmd.arg("--nofile=64:64").arg(base.get_program()).args([
        "gateway",
        "--listen",
        "127.0.0.1:0",
        "--openai-upstream",
        &opts.openai_upstream,
        "--anthropic-upstream",
        &opts.anthropic_upstream,
    ]);
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let gateway = GatewayProcess::spawn_command(cmd, None);
    let mut held = Vec::new();
    for _ in 0..80 {
        let mut s = connect(gateway.addr);
        let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n");
        held.push(s);
    }
    let line = gateway.wait_for_stderr("accept failed", PATIENCE);
    assert!(
        line.is_some(),
        "no accept error logged:\n{}",
        gateway.stderr()
    );
    // Rate-limited: not one line per failed attempt (the loop retries every 100 ms).
    std::thread::sleep(Duration::from_millis(1500));
    let lines = gateway.stderr().matches("accept failed").count();
    assert!(lines <= 4, "{lines} accept-error lines in 1.5 s");
    drop(held);
    let resp = raw_exchange(
        gateway.addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        PATIENCE,
    );
    assert_eq!(raw_status(&resp), 200);
}

#[test]
fn sigterm_with_idle_and_half_sent_connections_exits_at_once() {
    let (_sink, opts) = sink_opts();
    let mut gateway = opts.spawn();
    let mut partial = connect(gateway.addr);
    partial
        .write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut idle = connect(gateway.addr);
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 512];
    let n = idle.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    std::thread::sleep(Duration::from_millis(200));
    gateway.signal("TERM");
    let signalled = Instant::now();
    // The default header timeout (10 s) and drain (20 s) are both longer than this bound.
    let status = gateway.wait_exit(Duration::from_secs(6));
    assert!(
        status.is_some(),
        "idle connections held the shutdown; stderr:\n{}",
        gateway.stderr()
    );
    assert!(status.unwrap().success());
    assert!(signalled.elapsed() < Duration::from_secs(6));
    drop((partial, idle));
}

/// A raw request to the gateway; returns (status, body, whole response text).
fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let resp = raw_exchange(addr, request, PATIENCE);
    (
        raw_status(&resp),
        String::from_utf8_lossy(&resp).into_owned(),
    )
}

/// A gateway in front of a sink, with `toml` as its config file (in a fresh `temp_dir`,
/// returned for removal).
fn spawn_with_config(name: &str, toml: &str) -> (Sink, GatewayProcess, std::path::PathBuf) {
    let (sink, opts) = sink_opts();
    let dir = temp_dir(name);
    let config = dir.join("gateway.toml");
    std::fs::write(&config, toml).unwrap();
    let gateway = opts.arg("--config").arg(config.to_str().unwrap()).spawn();
    (sink, gateway, dir)
}

/// A chat request whose chunked body (three 512-byte chunks, no declared length) is 1,536
/// bytes.
fn chunked_1536_bytes() -> Vec<u8> {
    let mut chunked =
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for _ in 0..3 {
        chunked.extend_from_slice(b"200\r\n");
        chunked.extend_from_slice(&[b'a'; 512]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    chunked
}

#[test]
fn malformed_chunked_body_is_400_and_only_a_real_overflow_is_413() {
    let (_sink, gateway, dir) = spawn_with_config("bounds", "body_limit_bytes = 1024\n");
    let (status, text) = raw(
        gateway.addr,
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    );
    assert_eq!(status, 400, "{text}");
    assert!(!text.contains("larger than"), "{text}");
    assert!(
        gateway
            .wait_for_stderr("malformed body framing", PATIENCE)
            .is_some()
    );
    // A real overflow, chunked (no declared length) and declared.
    let (status, text) = raw(gateway.addr, &chunked_1536_bytes());
    assert_eq!(status, 413, "{text}");
    let (status, _) = raw(
        gateway.addr,
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n",
    );
    assert_eq!(status, 413);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_streamed_body_over_the_observation_budget_that_overflows_is_413_not_502() {
    // With a one-byte observation budget the gateway streams the request body to the
    // upstream as it arrives; an overflow found mid-stream must still answer 413.
    let (_sink, gateway, dir) = spawn_with_config(
        "stream413",
        "body_limit_bytes = 1024\nobservation_budget_bytes = 1\n",
    );
    let (status, text) = raw(gateway.addr, &chunked_1536_bytes());
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("request_too_large"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn client_half_close_mid_body_is_logged_as_such_not_413() {
    let (sink, opts) = sink_opts();
    let gateway = opts.spawn();
    let mut s = connect(gateway.addr);
    s.write_all(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"model\":",
    )
    .unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let line = gateway.wait_for_stderr("request body not read", PATIENCE);
    let line = line.unwrap_or_else(|| panic!("not logged:\n{}", gateway.stderr()));
    assert!(line.contains("client went away"), "{line}");
    assert!(!line.contains("413"), "{line}");
    assert!(!gateway.stderr().contains("over the limit"));
    assert_eq!(sink.connections(), 0);
}

/// A one-shot raw upstream: accepts connections, reads the request head, then runs `answer`.
fn raw_upstream(answer: fn(&mut tokio::net::TcpStream) -> Vec<u8>) -> SocketAddr {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            std_listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let bytes = answer(&mut s);
                    let _ = s.write_all(&bytes).await;
                    let _ = s.shutdown().await;
                });
            }
        });
    });
    addr
}

fn post_chat(gateway: &GatewayProcess) -> (u16, String) {
    raw(
        gateway.addr,
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    )
}

#[test]
fn upstream_failures_are_502_with_their_cause() {
    // Closes at once, without a byte.
    let closing = raw_upstream(|_| Vec::new());
    // A response head far larger than any client accepts.
    let huge = raw_upstream(|_| {
        let mut v = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
        v.extend(std::iter::repeat_n(b'a', 2 * 1024 * 1024));
        v.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
        v
    });
    // Nothing listening.
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let cases = [
        (closing, "upstream closed the connection before responding"),
        (huge, "upstream response headers too large"),
        (refused, "could not be reached"),
    ];
    for (addr, cause) in cases {
        let base = format!("http://{addr}");
        let gateway = GatewayOpts::new(format!("{base}/v1"), base).spawn();
        let (status, text) = post_chat(&gateway);
        assert_eq!(status, 502, "{cause}: {text}");
        assert!(text.contains(cause), "{cause}: {text}");
        let line = gateway.wait_for_stderr("upstream request failed", PATIENCE);
        let line = line.unwrap_or_else(|| panic!("{cause}: not logged:\n{}", gateway.stderr()));
        assert!(line.contains(cause), "{line}");
        for other in cases.iter().map(|c| c.1).filter(|c| *c != cause) {
            assert!(!text.contains(other), "{cause}: {text}");
        }
    }
}

#[test]
fn url_credentials_and_query_values_never_reach_the_logs() {
    let upstream = raw_upstream(|_| {
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}".to_vec()
    });
    let gateway = GatewayOpts::new(
        format!("http://user:secret@{upstream}/v1"),
        format!("http://user:secret@{upstream}"),
    )
    .spawn();
    let (status, _) = post_chat(&gateway);
    assert_eq!(status, 200);
    let (status, _) = raw(
        gateway.addr,
        b"GET /v1/models?key=sk-123 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
    let (status, _) = raw(
        gateway.addr,
        b"GET http://u:p@host/x?key=sk-123 HTTP/1.1\r\nHost: host\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 400);
    assert!(
        gateway
            .wait_for_stderr("absolute-form request target", PATIENCE)
            .is_some()
    );
    let mut gateway = gateway;
    gateway.stop();
    let stderr = gateway.stderr();
    assert!(stderr.contains("forwarded"), "{stderr}");
    assert!(stderr.contains("[REDACTED]"), "{stderr}");
    for secret in ["secret", "sk-123", "u:p@", "user:"] {
        assert!(!stderr.contains(secret), "{secret:?} logged:\n{stderr}");
    }
}

#[test]
fn telemetry_preview_shows_the_running_gateways_faults() {
    // An upstream answering a chat call with a body that is not JSON: a parse fault.
    let upstream = raw_upstream(|_| {
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"id\": [["
            .to_vec()
    });
    let base = format!("http://{upstream}");
    let gateway = GatewayOpts::new(format!("{base}/v1"), base)
        .env("TRACELOOP_TELEMETRY", "local")
        .spawn();
    let body = r#"{"model":"gpt-4o","messages":[]}"#;
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (status, text) = raw(gateway.addr, request.as_bytes());
    assert_eq!(status, 200, "{text}");
    assert!(text.ends_with("{\"id\": [["), "body changed: {text}");
    let run = || {
        let out = common::binary_command()
            .args(["telemetry", "preview", "--gateway", &gateway.base_url()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let deadline = Instant::now() + PATIENCE;
    let mut out = run();
    while !out.contains("faults counted since start") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        out = run();
    }
    assert!(out.contains("telemetry level local"), "{out}");
    assert!(out.contains("faults counted since start"), "{out}");
    assert!(out.contains("pending telemetry report"), "{out}");
    // With no gateway there, the command says so and fails.
    let out = common::binary_command()
        .args(["telemetry", "preview", "--gateway", "http://127.0.0.1:1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no gateway answering"));
}
