//! `openllmetry`: the gateway, a cassette replayer, telemetry status, and a demo.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use openllmetry_gateway::{FAULTS_PATH, GatewayConfig, redact_url};
use openllmetry_replay::cassette::Cassette;
use openllmetry_replay::replay::{ReceivedRequest, ReplayServer};

#[derive(Debug, Parser)]
#[command(
    name = "openllmetry",
    version,
    about = "OpenLLMetry for Rust: gateway and tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the instrumenting proxy. Export is configured like the SDK (OTEL_* / TRACELOOP_*
    /// variables); with nothing configured, traces print to the console.
    Gateway(Box<GatewayArgs>),
    /// Serve recorded exchanges as a fake provider (no API key, no network).
    Replay {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8788")]
        listen: SocketAddr,
        /// Serve one recorded exchange for every request, forever, as fast as possible (for
        /// benchmarks): a cassette file, or a bundled cassette's name such as
        /// `openai/test_chat/test_chat.yaml`.
        #[arg(long = "loop", value_name = "CASSETTE", conflicts_with = "paths")]
        looping: Option<PathBuf>,
        /// With `--loop`: which interaction of the cassette (0-based).
        #[arg(long, default_value_t = 0, requires = "looping")]
        index: usize,
        /// Worker threads of the replay server.
        #[arg(long, default_value_t = 1)]
        workers: usize,
        /// Cassette files or directories of cassettes (default: the recordings embedded in the
        /// binary: OpenAI chat, streamed chat and embeddings, Anthropic messages and streamed
        /// messages).
        paths: Vec<PathBuf>,
    },
    /// SDK telemetry.
    Telemetry {
        #[command(subcommand)]
        command: TelemetryCommand,
    },
    /// Start `replay` with the bundled cassettes and the gateway in front of it, send a small
    /// workflow's OpenAI and Anthropic calls through the gateway, and print the trace; the trace
    /// is also written to the viewer's store and its URL printed.
    Demo {
        /// Keep serving the viewer (until Ctrl-C) instead of exiting after the demo.
        #[arg(long)]
        serve: bool,
        /// Address of the viewer.
        #[arg(long, default_value = openllmetry_ui::server::DEFAULT_LISTEN)]
        ui_listen: SocketAddr,
        /// Store of the viewer: `sqlite:PATH` or a path (default: `ui.sqlite` in the user's data
        /// directory, the one `openllmetry ui` opens).
        #[arg(long)]
        store: Option<String>,
    },
    /// Run the local LLM trace viewer: OTLP/HTTP receiver, SQLite store, cost, web UI.
    Ui(openllmetry_ui::cli::UiArgs),
}

/// The gateway's command-line flags (each overrides the `--config` file's setting).
#[derive(Debug, clap::Args)]
struct GatewayArgs {
    /// Address to listen on (default 127.0.0.1:8787; a non-loopback address needs this flag).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// OpenAI-compatible upstream base URL (default https://api.openai.com/v1).
    #[arg(long)]
    openai_upstream: Option<String>,
    /// Anthropic upstream base URL (default https://api.anthropic.com).
    #[arg(long)]
    anthropic_upstream: Option<String>,
    /// Gemini API upstream base URL (default https://generativelanguage.googleapis.com).
    #[arg(long)]
    gemini_upstream: Option<String>,
    /// Vertex AI upstream base URL (default https://aiplatform.googleapis.com).
    #[arg(long)]
    vertex_upstream: Option<String>,
    /// Provider name of the OpenAI-compatible upstream (`groq`, `x_ai`, `deepseek`,
    /// `openrouter`, `together_ai`, ...) when its URL does not name it.
    #[arg(long)]
    openai_upstream_provider: Option<String>,
    /// Provider name of the Anthropic-compatible upstream when its URL does not name it.
    #[arg(long)]
    anthropic_upstream_provider: Option<String>,
    /// Ollama base URL (default http://127.0.0.1:11434).
    #[arg(long)]
    ollama_upstream: Option<String>,
    /// Cohere base URL (default https://api.cohere.com).
    #[arg(long)]
    cohere_upstream: Option<String>,
    /// Mistral AI base URL (default https://api.mistral.ai).
    #[arg(long)]
    mistral_upstream: Option<String>,
    /// Amazon Bedrock runtime base URL (default
    /// https://bedrock-runtime.us-east-1.amazonaws.com); requests under `/bedrock/` go
    /// there, re-signed with the gateway's own AWS credentials.
    #[arg(long)]
    bedrock_upstream: Option<String>,
    /// Seconds a client may take to send a request head; also closes idle keep-alive
    /// connections (default 10).
    #[arg(long)]
    header_read_timeout_secs: Option<u64>,
    /// Seconds a request body may pause before the request is refused with 408 (default 30).
    #[arg(long)]
    body_idle_timeout_secs: Option<u64>,
    /// Most client connections open at once; more wait in the listen backlog (default 1024).
    #[arg(long)]
    max_connections: Option<usize>,
    /// Bytes of request bodies and responses kept for observation across all requests in
    /// flight; past it requests stream through unparsed (default 64 MiB).
    #[arg(long)]
    observation_budget_bytes: Option<usize>,
    /// On SIGTERM/SIGINT, seconds in-flight requests may take to finish (default 20).
    #[arg(long)]
    drain_timeout_secs: Option<u64>,
    /// TOML file with the same settings as these flags (flags win).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Also run the trace viewer: the gateway's spans go straight into its store (instead of
    /// OTLP export) and the UI is served on `--ui-listen`.
    #[arg(long)]
    ui: bool,
    /// Address of the viewer (with `--ui`).
    #[arg(long, default_value = openllmetry_ui::server::DEFAULT_LISTEN, requires = "ui")]
    ui_listen: SocketAddr,
    /// Store of the viewer (with `--ui`): `sqlite:PATH` or a path (default: `ui.sqlite` in
    /// the user's data directory, shared with `openllmetry ui`).
    #[arg(long, requires = "ui")]
    ui_store: Option<String>,
}

#[derive(Debug, Subcommand)]
enum TelemetryCommand {
    /// Print the telemetry level and the switch that decided it.
    Status,
    /// Print a running gateway's fault counts and pending telemetry report (as it would be
    /// sent), fetched from its loopback-only diagnostics endpoint.
    Preview {
        /// Base URL of the running gateway.
        #[arg(long, default_value = "http://127.0.0.1:8787")]
        gateway: String,
    },
}

/// Structured logs to stderr only (never into the exported OTLP signals). Colours only on a
/// terminal (and not with `NO_COLOR`), so piped logs stay plain text.
fn init_logs() {
    use std::io::IsTerminal as _;
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("OPENLLMETRY_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .try_init();
}

/// The cassettes to serve, each with its name: the embedded set when `paths` is empty.
fn load_cassettes(paths: &[PathBuf]) -> anyhow::Result<Vec<(String, Cassette)>> {
    if paths.is_empty() {
        return Ok(openllmetry_replay::embedded::all()
            .into_iter()
            .map(|(name, c)| (format!("embedded:{name}"), c))
            .collect());
    }
    let mut all = Vec::new();
    for p in paths {
        if p.is_dir() {
            for (path, c) in
                Cassette::load_dir(p).with_context(|| format!("loading {}", p.display()))?
            {
                all.push((path.display().to_string(), c));
            }
        } else {
            let c = Cassette::load(p).with_context(|| format!("loading {}", p.display()))?;
            all.push((p.display().to_string(), c));
        }
    }
    Ok(all)
}

/// A replay server over named cassettes that logs every request and what answered it
/// (`cassette #interaction`, or `no match`) on stderr.
fn replay_pool(cassettes: Vec<(String, Cassette)>) -> openllmetry_replay::ReplayBuilder {
    let mut labels = Vec::new();
    for (name, c) in &cassettes {
        labels.extend((0..c.interactions.len()).map(|i| format!("{name} #{i}")));
    }
    let log = move |req: &ReceivedRequest| match req.interaction.and_then(|i| labels.get(i)) {
        Some(label) => tracing::info!(
            method = %req.method, path = %req.path_and_query, "replay: answered from {label}"
        ),
        None => tracing::warn!(
            method = %req.method, path = %req.path_and_query, "replay: no match (answered 599)"
        ),
    };
    ReplayServer::pool(Cassette::concat(cassettes.into_iter().map(|(_, c)| c)))
        .reuse(true)
        .honour_accept_encoding(true)
        .on_request(log)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: draining in-flight requests");
}

/// Starts the viewer on `listen` over `store` (for `gateway --ui` and `demo`).
async fn start_viewer(
    listen: SocketAddr,
    store: Option<&str>,
) -> anyhow::Result<openllmetry_ui::UiServer> {
    let config = openllmetry_ui::cli::store_config(store)?.with_listen(listen);
    let server = openllmetry_ui::start(config)
        .await
        .with_context(|| format!("starting the viewer on {listen}"))?;
    Ok(server)
}

async fn gateway(args: GatewayArgs) -> anyhow::Result<()> {
    let GatewayArgs {
        listen,
        openai_upstream,
        anthropic_upstream,
        gemini_upstream,
        vertex_upstream,
        openai_upstream_provider,
        anthropic_upstream_provider,
        ollama_upstream,
        cohere_upstream,
        mistral_upstream,
        bedrock_upstream,
        header_read_timeout_secs,
        body_idle_timeout_secs,
        max_connections,
        observation_budget_bytes,
        drain_timeout_secs,
        config,
        ui,
        ui_listen,
        ui_store,
    } = args;
    let ui = ui.then_some((ui_listen, ui_store));
    let mut c = GatewayConfig::default();
    if let Some(path) = &config {
        c = c.apply_file(path)?;
    }
    if let Some(v) = header_read_timeout_secs {
        c.header_read_timeout = std::time::Duration::from_secs(v);
    }
    if let Some(v) = body_idle_timeout_secs {
        c.body_idle_timeout = std::time::Duration::from_secs(v);
    }
    if let Some(v) = max_connections {
        c.max_connections = v;
    }
    if let Some(v) = observation_budget_bytes {
        c.observation_budget_bytes = v;
    }
    if let Some(v) = drain_timeout_secs {
        c.drain_timeout = std::time::Duration::from_secs(v);
    }
    if let Some(l) = listen {
        c.listen = l;
        c.listen_explicit = true;
    }
    if let Some(u) = openai_upstream {
        c.openai_upstream = u;
    }
    if let Some(u) = anthropic_upstream {
        c.anthropic_upstream = u;
    }
    if let Some(u) = gemini_upstream {
        c.gemini_upstream = u;
    }
    if let Some(u) = vertex_upstream {
        c.vertex_upstream = u;
    }
    if openai_upstream_provider.is_some() {
        c.openai_upstream_provider = openai_upstream_provider;
    }
    if anthropic_upstream_provider.is_some() {
        c.anthropic_upstream_provider = anthropic_upstream_provider;
    }
    for (flag, field) in [
        (ollama_upstream, &mut c.ollama_upstream),
        (cohere_upstream, &mut c.cohere_upstream),
        (mistral_upstream, &mut c.mistral_upstream),
    ] {
        if let Some(u) = flag {
            *field = u;
        }
    }
    if let Some(u) = bedrock_upstream {
        c.bedrock_upstream = u;
    }
    let mut otel_config = openllmetry::Config::new().with_app_name("openllmetry-gateway");
    let viewer = match ui {
        Some((listen, store)) => {
            let v = start_viewer(listen, store.as_deref()).await?;
            otel_config = otel_config.with_span_exporter(v.span_exporter());
            eprintln!("openllmetry gateway: trace viewer on http://{}/", v.addr());
            Some(v)
        }
        None => None,
    };
    let otel = openllmetry::init(otel_config);
    tracing::info!("{}", otel.summary());
    tracing::info!(
        openai = %redact_url(&c.openai_upstream),
        anthropic = %redact_url(&c.anthropic_upstream),
        gemini = %redact_url(&c.gemini_upstream),
        vertex = %redact_url(&c.vertex_upstream),
        bedrock = %redact_url(&c.bedrock_upstream),
        "upstreams"
    );
    let running = openllmetry_gateway::start(c, shutdown_signal()).await?;
    // Export problems (failed exports, dropped or truncated spans) are reported by the SDK as
    // they happen, rate-limited, through its diagnostics channel: with this process's
    // `tracing` subscriber installed, they are log lines like the gateway's own.
    running.wait().await;
    // Flush every signal before exit, on a thread of its own (the exporters block), for at
    // most FLUSH_TIMEOUT: an unreachable OTLP endpoint must not keep the process alive.
    tracing::info!("flushing telemetry");
    let (done, flushed) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        otel.shutdown();
        let _ = done.send(());
    });
    if tokio::time::timeout(FLUSH_TIMEOUT, flushed).await.is_err() {
        tracing::warn!(
            "telemetry flush did not finish within {}s; exiting without it",
            FLUSH_TIMEOUT.as_secs()
        );
    }
    if let Some(v) = viewer {
        v.shutdown().await;
    }
    let failed = export_problems().export_failures;
    if failed > 0 {
        openllmetry::diagnostics::warn(format_args!(
            "{failed} telemetry export(s) failed during this run; the spans, metrics or logs in them were dropped"
        ));
    }
    tracing::info!("exited");
    Ok(())
}

/// Longest wait for the final telemetry flush at exit. With the default drain timeout
/// (20 s) and the shutdown linger (0.5 s), exit comes within 28.5 s of SIGTERM: inside a
/// 30 s kill grace period (Kubernetes' default).
const FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(8);

/// `openllmetry telemetry preview`: the telemetry counters live in the gateway process, so
/// ask the running gateway for them.
async fn preview(gateway: &str) -> anyhow::Result<()> {
    let url = format!("{}{FAULTS_PATH}", gateway.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(10))
        .build()?;
    let resp = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("no gateway answering at {}", redact_url(gateway)))?;
    let status = resp.status();
    if !status.is_success() {
        anyhow::bail!(
            "{} answered HTTP {status} (the endpoint answers loopback clients only)",
            redact_url(&url)
        );
    }
    let body = resp
        .bytes()
        .await
        .context("reading the diagnostics answer")?;
    let v: serde_json::Value =
        serde_json::from_slice(&body).context("invalid diagnostics answer")?;
    let level = v["telemetry"]["level"].as_str().unwrap_or("?");
    let decided_by = v["telemetry"]["decided_by"].as_str().unwrap_or("?");
    println!(
        "gateway {}: telemetry level {level} (set by {decided_by})",
        redact_url(gateway)
    );
    let counts = v["fault_counts"].as_array().cloned().unwrap_or_default();
    if counts.is_empty() {
        println!("no faults counted");
    } else {
        println!("faults counted since start:");
        for c in &counts {
            println!(
                "  {:>8}  {} / {} / {}",
                c["count"],
                c["component"].as_str().unwrap_or("?"),
                c["operation"].as_str().unwrap_or("?"),
                c["kind"].as_str().unwrap_or("?")
            );
        }
    }
    match &v["pending_report"] {
        serde_json::Value::Null => println!("no pending telemetry report"),
        report => println!(
            "pending telemetry report (as it would be sent):\n{}",
            serde_json::to_string_pretty(report)?
        ),
    }
    Ok(())
}

/// Local export problems (failed exports, dropped and truncated spans), read from the SDK's
/// always-on diagnostics: independent of the telemetry level (`DO_NOT_TRACK`, `CI`).
fn export_problems() -> openllmetry::Diagnostics {
    openllmetry::diagnostics()
}

async fn replay(
    listen: SocketAddr,
    looping: Option<PathBuf>,
    index: usize,
    workers: usize,
    paths: Vec<PathBuf>,
) -> anyhow::Result<()> {
    let workers = if workers > 1 { workers } else { 0 };
    if let Some(path) = looping {
        let cassette = if path.exists() {
            Cassette::load(&path)
        } else {
            Cassette::load_named(&path.to_string_lossy())
        }
        .with_context(|| format!("loading {}", path.display()))?;
        let n = cassette.interactions.len();
        let Some(interaction) = cassette.interactions.into_iter().nth(index) else {
            anyhow::bail!("{} has {n} interaction(s), no #{index}", path.display());
        };
        let request = format!(
            "{} {}",
            interaction.request.method,
            interaction.request.path()
        );
        let server = ReplayServer::looping(interaction)
            .honour_accept_encoding(true)
            .worker_threads(workers)
            .bind(listen)
            .spawn()
            .with_context(|| format!("binding {listen}"))?;
        tracing::info!(addr = %server.addr(), "replaying one recorded exchange in a loop");
        eprintln!(
            "replay: answering every request on {} with {} #{index} (recorded for {request})",
            server.base_url(),
            path.display()
        );
        shutdown_signal().await;
        server.shutdown();
        return Ok(());
    }
    let cassettes = load_cassettes(&paths)?;
    let n: usize = cassettes.iter().map(|(_, c)| c.interactions.len()).sum();
    let server = replay_pool(cassettes)
        .worker_threads(workers)
        .bind(listen)
        .spawn()
        .with_context(|| format!("binding {listen}"))?;
    tracing::info!(addr = %server.addr(), interactions = n, "replaying recorded exchanges");
    eprintln!(
        "replay: serving {n} recorded exchanges on {}\n  OpenAI base URL:    {}/v1\n  Anthropic base URL: {}",
        server.base_url(),
        server.base_url(),
        server.base_url()
    );
    shutdown_signal().await;
    server.shutdown();
    Ok(())
}

async fn demo(serve: bool, ui_listen: SocketAddr, store: Option<String>) -> anyhow::Result<()> {
    use openllmetry::entity::Entity;
    // Embedded in the binary: the demo works from an installed binary, in any directory.
    const CHAT: &str = "openai/test_chat/test_chat.yaml";
    const MESSAGES: &str = "anthropic/test_messages/test_anthropic_message_create_legacy.yaml";
    let chat = Cassette::load_named(CHAT)?;
    let messages = Cassette::load_named(MESSAGES)?;
    let openai_request = chat.interactions[0].request.body.clone();
    let anthropic_request = messages.interactions[0].request.body.clone();
    let upstream = replay_pool(vec![
        (format!("embedded:{CHAT}"), chat),
        (format!("embedded:{MESSAGES}"), messages),
    ])
    .spawn()?;
    // Without --serve the viewer only writes the store; its port is any free one, and the URL
    // printed is the one `openllmetry ui` serves.
    let viewer = start_viewer(
        if serve {
            ui_listen
        } else {
            "127.0.0.1:0".parse()?
        },
        store.as_deref(),
    )
    .await?;
    let otel = openllmetry::init(
        openllmetry::Config::new()
            .with_app_name("openllmetry-demo")
            .with_console(true)
            .with_span_exporter(viewer.span_exporter()),
    );
    let mut config = GatewayConfig::default();
    config.listen = "127.0.0.1:0".parse()?;
    config.openai_upstream = format!("{}/v1", upstream.base_url());
    config.anthropic_upstream = upstream.base_url();
    let gw = openllmetry_gateway::start(config, std::future::pending()).await?;
    eprintln!(
        "demo: replay on {}, gateway on {}; sending a workflow's two calls through the gateway\n",
        upstream.base_url(),
        gw.base_url()
    );
    let client = reqwest::Client::new();
    let base = gw.base_url();
    let send = |path: &'static str, body: Vec<u8>, anthropic: bool| {
        let client = client.clone();
        let url = format!("{base}{path}");
        async move {
            // Carry the current (task) span to the gateway, as any instrumented client would.
            let mut headers = std::collections::HashMap::new();
            opentelemetry::global::get_text_map_propagator(|p| {
                p.inject_context(&opentelemetry::Context::current(), &mut headers)
            });
            let mut req = client
                .post(url)
                .header("content-type", "application/json")
                .header("authorization", "Bearer sk-demo-not-a-real-key")
                .body(body);
            if anthropic {
                req = req.header("anthropic-version", "2023-06-01");
            }
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let resp = req.send().await?;
            let status = resp.status();
            let bytes = resp.bytes().await?;
            anyhow::Ok((status, bytes.len()))
        }
    };
    let mut trace_id = String::new();
    Entity::workflow("joke_generator")
        .instrument(async {
            use opentelemetry::trace::TraceContextExt as _;
            trace_id = opentelemetry::Context::current()
                .span()
                .span_context()
                .trace_id()
                .to_string();
            let (s, n) = Entity::task("tell_openai_joke")
                .instrument(send("/v1/chat/completions", openai_request, false))
                .await?;
            eprintln!("OpenAI call through the gateway: HTTP {s}, {n} bytes");
            let (s, n) = Entity::task("tell_anthropic_joke")
                .instrument(send("/v1/messages", anthropic_request, true))
                .await?;
            eprintln!("Anthropic call through the gateway: HTTP {s}, {n} bytes\n");
            anyhow::Ok(())
        })
        .await?;
    gw.shutdown().await;
    otel.shutdown();
    upstream.shutdown();
    // The exporter queued the spans; wait (bounded) until the writer stored them.
    let store = viewer.store();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while store.trace_spans(&trace_id).map(|s| s.len()).unwrap_or(0) < 3
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let addr = if serve { viewer.addr() } else { ui_listen };
    println!("trace: http://{addr}/#/trace/{trace_id}");
    if serve {
        eprintln!("demo: serving the viewer on http://{addr}/ (Ctrl-C to stop)");
        shutdown_signal().await;
    } else {
        eprintln!("demo: open it with `openllmetry ui` (or run `demo --serve`)");
    }
    viewer.shutdown().await;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("openllmetry: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Gateway(args) => gateway(*args).await,
            Command::Replay {
                listen,
                looping,
                index,
                workers,
                paths,
            } => replay(listen, looping, index, workers, paths).await,
            Command::Telemetry {
                command: TelemetryCommand::Status,
            } => {
                println!("{}", openllmetry::telemetry::status());
                Ok(())
            }
            Command::Telemetry {
                command: TelemetryCommand::Preview { gateway },
            } => preview(&gateway).await,
            Command::Demo {
                serve,
                ui_listen,
                store,
            } => demo(serve, ui_listen, store).await,
            Command::Ui(args) => openllmetry_ui::cli::run(args)
                .await
                .map_err(anyhow::Error::from),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("openllmetry: {e:#}");
            ExitCode::FAILURE
        }
    }
}
