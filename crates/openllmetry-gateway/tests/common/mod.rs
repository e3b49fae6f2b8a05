//! Shared harness of the gateway tests: the `openllmetry` binary as a child process (its SDK
//! export pointed at an in-process [`OtlpReceiver`]), replay servers over the bundled
//! cassettes, the official Python clients, and raw loopback helpers.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use openllmetry_testkit::cassette::{Cassette, Interaction, all_cassette_names};
use openllmetry_testkit::flat::ReceivedSpan;
use openllmetry_testkit::otlp::OtlpReceiver;

/// API keys the clients send: they must reach the upstream and never the OTLP receiver.
pub const OPENAI_KEY: &str = "sk-test-gateway-SECRET-openai-0123456789";
pub const ANTHROPIC_KEY: &str = "sk-ant-test-gateway-SECRET-anthropic-9876543210";
pub const AZURE_KEY: &str = "azure-test-gateway-SECRET-api-key-55555";

/// Generous bound for anything that should take milliseconds (the machine may be loaded).
pub const PATIENCE: Duration = Duration::from_secs(20);

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// The Python of the virtualenv with the pinned official clients.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("OPENLLMETRY_TEST_PYTHON") {
        let p = PathBuf::from(p);
        assert!(
            p.exists(),
            "OPENLLMETRY_TEST_PYTHON={} does not exist; run scripts/setup-python.sh",
            p.display()
        );
        return p;
    }
    let p = workspace_root().join(".venv/bin/python");
    assert!(
        p.exists(),
        "no Python with the official openai/anthropic clients: set OPENLLMETRY_TEST_PYTHON or run \
         scripts/setup-python.sh (creates {})",
        p.display()
    );
    p
}

/// Runs `tests/python/<script>` with `input` as JSON on stdin; returns its stdout as JSON.
pub fn run_python(script: &str, input: &serde_json::Value) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let mut child = Command::new(python())
        .arg(&path)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONWARNINGS", "ignore")
        .env_remove("OPENAI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("ANTHROPIC_BASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python().display()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let hint = if stderr.contains("ModuleNotFoundError") {
        "\n(the official clients are missing: run scripts/setup-python.sh)"
    } else {
        ""
    };
    assert!(
        out.status.success(),
        "{script} failed ({}):{hint}\n--- stderr\n{stderr}\n--- stdout\n{stdout}",
        out.status
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{script} printed no JSON ({e}):\n{stdout}\n{stderr}"))
}

/// Every interaction of every bundled cassette: (cassette name, index, interaction).
pub fn all_interactions() -> Vec<(String, usize, Interaction)> {
    let mut out = Vec::new();
    for name in all_cassette_names() {
        let c = Cassette::load_named(&name).unwrap_or_else(|e| panic!("{name}: {e}"));
        for (i, it) in c.interactions.into_iter().enumerate() {
            out.push((name.clone(), i, it));
        }
    }
    out
}

/// One interaction of a bundled cassette.
pub fn interaction(cassette: &str, index: usize) -> Interaction {
    openllmetry_testkit::load_cassette(cassette)
        .unwrap_or_else(|e| panic!("{cassette}: {e}"))
        .interactions
        .swap_remove(index)
}

/// A reqwest client that never decompresses (we compare raw bytes).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .no_zstd()
        .no_proxy()
        .build()
        .unwrap()
}

/// Headers of the recorded request worth sending again (not hop-by-hop, length, host or
/// auth), as (name, value).
pub fn request_headers(it: &Interaction) -> Vec<(String, String)> {
    const SKIP: &[&str] = &[
        "host",
        "content-length",
        "connection",
        "transfer-encoding",
        "authorization",
        "x-api-key",
        "api-key",
        "cookie",
    ];
    it.request
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .filter(|(k, _)| !SKIP.contains(&k.as_str()))
        .collect()
}

/// Output of the gateway child, line by line.
#[derive(Default)]
struct Output {
    lines: Mutex<Vec<String>>,
    changed: Condvar,
}

impl Output {
    fn collect(self: &Arc<Self>, reader: impl Read + Send + 'static) {
        let out = self.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(reader).lines() {
                let Ok(line) = line else { break };
                out.lines.lock().unwrap().push(line);
                out.changed.notify_all();
            }
        });
    }

    fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    fn wait_for(&self, pred: impl Fn(&str) -> bool, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut lines = self.lines.lock().unwrap();
        loop {
            if let Some(l) = lines.iter().find(|l| pred(l)) {
                return Some(l.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            lines = self.changed.wait_timeout(lines, deadline - now).unwrap().0;
        }
    }
}

/// How to start a gateway child.
#[derive(Debug, Clone, Default)]
pub struct GatewayOpts {
    pub openai_upstream: String,
    pub anthropic_upstream: String,
    /// OTLP base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`); `None` leaves export unconfigured
    /// (console output).
    pub otlp: Option<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// Extra arguments after `gateway`.
    pub args: Vec<String>,
}

impl GatewayOpts {
    pub fn new(openai_upstream: String, anthropic_upstream: String) -> Self {
        GatewayOpts {
            openai_upstream,
            anthropic_upstream,
            ..GatewayOpts::default()
        }
    }

    /// Upstreams on one replay server: OpenAI at `<base>/v1`, Anthropic at `<base>`.
    pub fn replay(base: &str) -> Self {
        GatewayOpts::new(format!("{base}/v1"), base.to_owned())
    }

    pub fn otlp(mut self, receiver: &OtlpReceiver) -> Self {
        self.otlp = Some(receiver.http_endpoint());
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn arg(mut self, a: &str) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn spawn(self) -> GatewayProcess {
        GatewayProcess::spawn(self)
    }
}

/// The `openllmetry gateway` binary running as a child process.
pub struct GatewayProcess {
    child: Child,
    pub addr: SocketAddr,
    stderr: Arc<Output>,
    stdout: Arc<Output>,
    exited: Option<ExitStatus>,
}

/// A new, empty directory under the system temp dir, unique to this process and call.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "openllmetry-gw-test-{}-{name}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Peak resident set size of process `pid` in KiB (`VmHWM` of `/proc/<pid>/status`).
pub fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// A `Command` for the binary with a clean environment: no inherited OTEL_* / TRACELOOP_*
/// or telemetry switches, no colours.
pub fn binary_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_openllmetry"));
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("OTEL_")
            || k.starts_with("TRACELOOP_")
            || k.starts_with("OPENLLMETRY_")
            || [
                "CI",
                "DO_NOT_TRACK",
                "RUST_LOG",
                "HTTP_PROXY",
                "HTTPS_PROXY",
                "ALL_PROXY",
            ]
            .contains(&k.to_ascii_uppercase().as_str())
        {
            cmd.env_remove(&k);
        }
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

impl GatewayProcess {
    pub fn spawn(opts: GatewayOpts) -> GatewayProcess {
        let mut cmd = binary_command();
        cmd.arg("gateway")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--openai-upstream")
            .arg(&opts.openai_upstream)
            .arg("--anthropic-upstream")
            .arg(&opts.anthropic_upstream)
            .args(&opts.args);
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        GatewayProcess::spawn_command(cmd, opts.otlp.as_deref())
    }

    /// Starts `cmd` (a [`binary_command`] running `gateway`), exporting to `otlp` if given.
    pub fn spawn_command(cmd: Command, otlp: Option<&str>) -> GatewayProcess {
        GatewayProcess::spawn_until(cmd, otlp, "gateway listening")
    }

    /// Starts `cmd` (any [`binary_command`] that logs `addr=` on a stderr line containing
    /// `ready` once it listens), exporting to `otlp` if given.
    pub fn spawn_until(mut cmd: Command, otlp: Option<&str>, ready: &str) -> GatewayProcess {
        if let Some(endpoint) = otlp {
            cmd.env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint);
            // Export soon after each call (defaults: 5 s for spans, 60 s for metrics), unless
            // the test chose otherwise.
            for (k, default) in [
                ("OTEL_BSP_SCHEDULE_DELAY", "50"),
                ("OTEL_METRIC_EXPORT_INTERVAL", "300"),
            ] {
                if !cmd.get_envs().any(|(n, v)| n == k && v.is_some()) {
                    cmd.env(k, default);
                }
            }
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the openllmetry binary starts");
        let stderr = Arc::new(Output::default());
        stderr.collect(child.stderr.take().unwrap());
        let stdout = Arc::new(Output::default());
        stdout.collect(child.stdout.take().unwrap());
        let line = stderr.wait_for(|l| l.contains(ready), PATIENCE);
        let Some(line) = line else {
            let _ = child.kill();
            panic!("the binary did not start; stderr:\n{}", stderr.text());
        };
        let addr = line
            .split_whitespace()
            .find_map(|t| t.strip_prefix("addr="))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no addr= in {line:?}"));
        GatewayProcess {
            child,
            addr,
            stderr,
            stdout,
            exited: None,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    pub fn stdout(&self) -> String {
        self.stdout.text()
    }

    /// Waits for a stderr line containing `needle`.
    pub fn wait_for_stderr(&self, needle: &str, timeout: Duration) -> Option<String> {
        self.stderr.wait_for(|l| l.contains(needle), timeout)
    }

    /// Sends a signal (`TERM`, `INT`, `KILL`).
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{sig} failed");
    }

    /// Waits for the child to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                self.exited = Some(s);
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn stop(&mut self) -> ExitStatus {
        if let Some(s) = self.exited {
            return s;
        }
        self.signal("TERM");
        let status = self
            .wait_exit(PATIENCE)
            .unwrap_or_else(|| panic!("the gateway did not exit; stderr:\n{}", self.stderr()));
        assert!(
            status.success(),
            "the gateway exited with {status}; stderr:\n{}",
            self.stderr()
        );
        status
    }

    /// Resident set size in KiB (Linux `/proc`).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("/proc/<pid>/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        if self.exited.is_none() && self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Spans received so far, with a readable description for assertion messages.
pub fn describe(spans: &[ReceivedSpan]) -> String {
    openllmetry_testkit::otlp::describe_spans(spans)
}

/// Waits until the receiver holds `n` spans named `name`; returns them.
pub fn wait_spans(receiver: &OtlpReceiver, name: &str, n: usize) -> Vec<ReceivedSpan> {
    receiver.wait_for_blocking(|r| r.spans_named(name).len() >= n, PATIENCE);
    let spans = receiver.spans_named(name);
    assert!(
        spans.len() >= n,
        "expected {n} span(s) named {name}, got:\n{}",
        describe(&receiver.spans())
    );
    spans
}

/// Exactly `n` spans of any name (waits up to [`PATIENCE`] for them).
pub fn wait_all_spans(receiver: &OtlpReceiver, n: usize) -> Vec<ReceivedSpan> {
    receiver.wait_for_blocking(|r| r.spans().len() >= n, PATIENCE);
    let spans = receiver.spans();
    assert_eq!(spans.len(), n, "{}", describe(&spans));
    spans
}

/// The Python clients' parsed result of each scenario `names` is the same with and without
/// the gateway (`direct` and `via_gateway` are the driver scripts' outputs).
pub fn assert_same_parsed_results<'a>(
    names: impl IntoIterator<Item = &'a str>,
    direct: &serde_json::Value,
    via_gateway: &serde_json::Value,
) {
    for name in names {
        let d = &direct[name];
        assert!(d.is_object(), "{name}: no direct result");
        assert_eq!(
            d, &via_gateway[name],
            "{name}: parsed results differ through the gateway"
        );
    }
}

/// A raw HTTP/1.1 exchange over a fresh loopback connection: writes `request` as is and
/// reads until the server closes or `timeout`.
pub fn raw_exchange(addr: SocketAddr, request: &[u8], timeout: Duration) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                // One response is enough: stop once the head and a complete body are in.
                if response_complete(&out) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    out
}

fn response_complete(buf: &[u8]) -> bool {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let body = &buf[end + 4..];
    if let Some(len) = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        return body.len() >= len;
    }
    if head.contains("transfer-encoding: chunked") {
        return body.ends_with(b"0\r\n\r\n");
    }
    false
}

/// The status code of a raw HTTP/1.1 response.
pub fn raw_status(response: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(response);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"))
}

/// A TCP server that counts connections and never answers (a black hole), or records what
/// arrives (to prove nothing reached it).
pub struct Sink {
    pub addr: SocketAddr,
    accepted: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Sink {
    pub fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let acc = accepted.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { break };
                let idx = {
                    let mut a = acc.lock().unwrap();
                    a.push(Vec::new());
                    a.len() - 1
                };
                let acc = acc.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = stream.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        acc.lock().unwrap()[idx].extend_from_slice(&buf[..n]);
                    }
                });
            }
        });
        Sink { addr, accepted }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.lock().unwrap().len()
    }

    /// Bytes received so far, over all connections.
    pub fn bytes(&self) -> usize {
        self.accepted.lock().unwrap().iter().map(Vec::len).sum()
    }
}

/// Every string of a JSON value (recursively), for "this text was recorded" checks.
pub fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// The JSON value of a span's string attribute `key`; panics, naming the span, if it is
/// missing or not JSON.
pub fn json_attr(span: &openllmetry_testkit::flat::ReceivedSpan, key: &str) -> serde_json::Value {
    let s = span
        .attr_str(key)
        .unwrap_or_else(|| panic!("span {} has no {key}: {:#?}", span.name, span.attributes));
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{key} is not JSON ({e}): {s}"))
}
