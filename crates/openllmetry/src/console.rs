//! The console exporter: one readable block per LLM call, and a tree per trace.
//!
//! It is the zero-setup default (no endpoint, no key, no exporter configured), so a newcomer
//! sees a trace with nothing configured. Spans are kept per trace until the trace's local
//! root ends, then the whole tree is printed. A trace with no local root (e.g. the gateway,
//! whose LLM spans continue a caller's trace) is printed once no span of it has ended for
//! [`QUIET_PERIOD`]. At most [`MAX_PENDING_SPANS`] spans wait (older traces are printed early
//! when the cap is hit, and everything on flush/shutdown).

use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use openllmetry_semconv::attr;
use opentelemetry::Value;
use opentelemetry::trace::{SpanId, Status, TraceId};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// Cap on spans waiting for their trace's root: 4096.
pub const MAX_PENDING_SPANS: usize = 4096;

/// How long a trace without a local root waits for more spans before it is printed: 1 s.
pub const QUIET_PERIOD: Duration = Duration::from_secs(1);

/// Characters of prompt/completion text shown per LLM call.
const CONTENT_PREVIEW_CHARS: usize = 100;

type Sink = Arc<Mutex<Box<dyn Write + Send>>>;

/// Prints spans as readable blocks and trees. See the [module docs](self).
#[derive(Clone)]
pub struct ConsoleExporter {
    sink: Sink,
    pending: Arc<Mutex<Pending>>,
    ticker: Arc<OnceLock<()>>,
    stopped: Arc<AtomicBool>,
}

#[derive(Default)]
struct Pending {
    by_trace: HashMap<TraceId, (Instant, Vec<SpanData>)>,
    order: Vec<TraceId>,
    count: usize,
}

impl fmt::Debug for ConsoleExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleExporter").finish_non_exhaustive()
    }
}

/// Where the console exporter writes, chosen by `OPENLLMETRY_CONSOLE_STREAM`
/// ([`crate::config::OPENLLMETRY_CONSOLE_STREAM`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ConsoleStream {
    /// Standard error (the default): traces never mix with the application's own output.
    #[default]
    Stderr,
    /// Standard output.
    Stdout,
}

impl ConsoleStream {
    /// Parses a value of `OPENLLMETRY_CONSOLE_STREAM` (`stderr` or `stdout`,
    /// case-insensitive, surrounding whitespace ignored); `None` for anything else.
    pub fn parse(value: &str) -> Option<ConsoleStream> {
        match value.trim().to_ascii_lowercase().as_str() {
            "stderr" => Some(ConsoleStream::Stderr),
            "stdout" => Some(ConsoleStream::Stdout),
            _ => None,
        }
    }

    /// The stream named by `OPENLLMETRY_CONSOLE_STREAM`; stderr when unset or invalid (an
    /// invalid value is reported once on stderr).
    pub fn from_env() -> ConsoleStream {
        let Ok(v) = std::env::var(crate::env_vars::OPENLLMETRY_CONSOLE_STREAM) else {
            return ConsoleStream::default();
        };
        ConsoleStream::parse(&v).unwrap_or_else(|| {
            crate::diagnostics::warn(format_args!(
                "invalid value {v:?} for {}; using stderr",
                crate::env_vars::OPENLLMETRY_CONSOLE_STREAM
            ));
            ConsoleStream::default()
        })
    }

    pub(crate) fn sink(self) -> Box<dyn Write + Send> {
        match self {
            ConsoleStream::Stderr => Box::new(std::io::stderr()),
            ConsoleStream::Stdout => Box::new(std::io::stdout()),
        }
    }
}

impl Default for ConsoleExporter {
    /// Writes to the stream chosen by `OPENLLMETRY_CONSOLE_STREAM` (stderr by default).
    fn default() -> Self {
        Self::new(ConsoleStream::from_env().sink())
    }
}

impl ConsoleExporter {
    /// A console exporter writing to `sink` ([`ConsoleExporter::default`] writes to stderr,
    /// or to the stream chosen by `OPENLLMETRY_CONSOLE_STREAM`).
    pub fn new(sink: Box<dyn Write + Send>) -> Self {
        ConsoleExporter {
            sink: Arc::new(Mutex::new(sink)),
            pending: Arc::default(),
            ticker: Arc::default(),
            stopped: Arc::default(),
        }
    }

    /// Starts (once) the thread that prints quiet traces without a local root.
    fn start_ticker(&self) {
        self.ticker.get_or_init(|| {
            let this = self.clone();
            let _ = std::thread::Builder::new()
                .name("ollm-console".into())
                .spawn(move || {
                    while !this.stopped.load(Ordering::Relaxed) {
                        std::thread::sleep(QUIET_PERIOD / 4);
                        for spans in this.take_quiet() {
                            this.write(&render_trace(spans));
                        }
                    }
                });
        });
    }

    fn take_quiet(&self) -> Vec<Vec<SpanData>> {
        let Ok(mut p) = self.pending.lock() else {
            return Vec::new();
        };
        let quiet: Vec<TraceId> = p
            .order
            .iter()
            .filter(|t| {
                p.by_trace
                    .get(t)
                    .is_some_and(|(at, _)| at.elapsed() >= QUIET_PERIOD)
            })
            .copied()
            .collect();
        let mut out = Vec::new();
        for t in quiet {
            if let Some((_, spans)) = p.by_trace.remove(&t) {
                p.count -= spans.len();
                out.push(spans);
            }
        }
        let Pending {
            by_trace, order, ..
        } = &mut *p;
        order.retain(|t| by_trace.contains_key(t));
        out
    }

    fn write(&self, text: &str) {
        if let Ok(mut s) = self.sink.lock() {
            let _ = s.write_all(text.as_bytes());
            let _ = s.flush();
        }
    }

    fn take_complete(&self, batch: Vec<SpanData>) -> Vec<Vec<SpanData>> {
        let Ok(mut p) = self.pending.lock() else {
            return Vec::new();
        };
        let mut ready = Vec::new();
        for span in batch {
            let trace = span.span_context.trace_id();
            let is_local_root = span.parent_span_id == SpanId::INVALID;
            if !p.by_trace.contains_key(&trace) {
                p.order.push(trace);
            }
            let entry = p
                .by_trace
                .entry(trace)
                .or_insert_with(|| (Instant::now(), Vec::new()));
            entry.0 = Instant::now();
            entry.1.push(span);
            p.count += 1;
            if is_local_root && let Some((_, spans)) = p.by_trace.remove(&trace) {
                p.count -= spans.len();
                p.order.retain(|t| *t != trace);
                ready.push(spans);
            }
        }
        while p.count > MAX_PENDING_SPANS && !p.order.is_empty() {
            let oldest = p.order.remove(0);
            if let Some((_, spans)) = p.by_trace.remove(&oldest) {
                p.count -= spans.len();
                ready.push(spans);
            }
        }
        ready
    }

    fn drain(&self) {
        let all: Vec<Vec<SpanData>> = match self.pending.lock() {
            Ok(mut p) => {
                p.count = 0;
                let order = std::mem::take(&mut p.order);
                order
                    .into_iter()
                    .filter_map(|t| p.by_trace.remove(&t).map(|(_, spans)| spans))
                    .collect()
            }
            Err(_) => Vec::new(),
        };
        for spans in all {
            self.write(&render_trace(spans));
        }
    }
}

impl SpanExporter for ConsoleExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.start_ticker();
        for spans in self.take_complete(batch) {
            self.write(&render_trace(spans));
        }
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.drain();
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.stopped.store(true, Ordering::Relaxed);
        self.drain();
        Ok(())
    }
}

fn get<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn get_str(span: &SpanData, key: &str) -> Option<String> {
    get(span, key).map(|v| v.as_str().into_owned())
}

fn get_i64(span: &SpanData, key: &str) -> Option<i64> {
    match get(span, key)? {
        Value::I64(i) => Some(*i),
        _ => None,
    }
}

fn truncate(s: &str) -> String {
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= CONTENT_PREVIEW_CHARS {
        one_line
    } else {
        let cut: String = one_line.chars().take(CONTENT_PREVIEW_CHARS).collect();
        format!("{cut}…")
    }
}

/// First text of the last input message (current flavour JSON), or the legacy indexed form.
fn prompt_preview(span: &SpanData) -> Option<String> {
    if let Some(json) = get_str(span, attr::GEN_AI_INPUT_MESSAGES) {
        let v: serde_json::Value = serde_json::from_str(&json).ok()?;
        let last = v.as_array()?.last()?;
        return first_text(last);
    }
    let mut last = None;
    for i in 0.. {
        match get_str(span, &format!("gen_ai.prompt.{i}.content")) {
            Some(c) => last = Some(c),
            None => break,
        }
    }
    last
}

fn completion_preview(span: &SpanData) -> Option<String> {
    if let Some(json) = get_str(span, attr::GEN_AI_OUTPUT_MESSAGES) {
        let v: serde_json::Value = serde_json::from_str(&json).ok()?;
        let first = v.as_array()?.first()?;
        return first_text(first).or_else(|| {
            first["parts"].as_array()?.iter().find_map(|p| {
                (p["type"] == "tool_call").then(|| {
                    format!(
                        "tool call {}({})",
                        p["name"].as_str().unwrap_or(""),
                        p["arguments"]
                    )
                })
            })
        });
    }
    get_str(span, "gen_ai.completion.0.content")
}

fn first_text(message: &serde_json::Value) -> Option<String> {
    message["parts"]
        .as_array()?
        .iter()
        .find_map(|p| (p["type"] == "text").then(|| p["content"].as_str().map(str::to_owned))?)
}

fn duration_ms(span: &SpanData) -> f64 {
    span.end_time
        .duration_since(span.start_time)
        .unwrap_or_default()
        .as_secs_f64()
        * 1000.0
}

fn render_llm_block(span: &SpanData, indent: &str, out: &mut String) {
    let provider = get_str(span, attr::GEN_AI_PROVIDER_NAME)
        .or_else(|| get_str(span, "gen_ai.system"))
        .unwrap_or_default();
    let req_model = get_str(span, attr::GEN_AI_REQUEST_MODEL).unwrap_or_else(|| "?".into());
    let resp_model = get_str(span, attr::GEN_AI_RESPONSE_MODEL);
    let input = get_i64(span, attr::GEN_AI_USAGE_INPUT_TOKENS)
        .or_else(|| get_i64(span, "gen_ai.usage.prompt_tokens"));
    let output = get_i64(span, attr::GEN_AI_USAGE_OUTPUT_TOKENS)
        .or_else(|| get_i64(span, "gen_ai.usage.completion_tokens"));
    let finish = match get(span, attr::GEN_AI_RESPONSE_FINISH_REASONS) {
        Some(Value::Array(opentelemetry::Array::String(v))) => v
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect::<Vec<_>>()
            .join(","),
        _ => "-".into(),
    };
    let _ = write!(out, "{indent}  provider: {provider} · model: {req_model}");
    if let Some(m) = resp_model.filter(|m| *m != req_model) {
        let _ = write!(out, " → {m}");
    }
    let tokens = match (input, output) {
        (Some(i), Some(o)) => format!("{i} in / {o} out"),
        (Some(i), None) => format!("{i} in"),
        _ => "n/a".into(),
    };
    let _ = writeln!(
        out,
        "\n{indent}  tokens: {tokens} · finish: {finish} · latency: {:.1} ms",
        duration_ms(span)
    );
    if let Some(p) = prompt_preview(span) {
        let _ = writeln!(out, "{indent}  prompt: {}", truncate(&p));
    }
    if let Some(c) = completion_preview(span) {
        let _ = writeln!(out, "{indent}  completion: {}", truncate(&c));
    }
    if matches!(
        get(span, attr::OPENLLMETRY_RESPONSE_INCOMPLETE),
        Some(Value::Bool(true))
    ) {
        let _ = writeln!(
            out,
            "{indent}  incomplete: the response body was not read to its end"
        );
    }
    if let Status::Error { description } = &span.status {
        let _ = writeln!(out, "{indent}  error: {description}");
    }
}

/// Renders one trace: a tree of its spans (roots are spans whose parent is not here).
pub(crate) fn render_trace(mut spans: Vec<SpanData>) -> String {
    spans.sort_by_key(|s| s.start_time);
    let ids: std::collections::HashSet<SpanId> =
        spans.iter().map(|s| s.span_context.span_id()).collect();
    let mut children: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut roots = Vec::new();
    let index: HashMap<SpanId, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_context.span_id(), i))
        .collect();
    for (i, s) in spans.iter().enumerate() {
        match index.get(&s.parent_span_id) {
            Some(p) if ids.contains(&s.parent_span_id) => children.entry(*p).or_default().push(i),
            _ => roots.push(i),
        }
    }
    let mut out = String::new();
    let trace_id = spans
        .first()
        .map(|s| s.span_context.trace_id().to_string())
        .unwrap_or_default();
    let _ = writeln!(out, "── trace {trace_id} ──");
    fn walk(
        spans: &[SpanData],
        children: &BTreeMap<usize, Vec<usize>>,
        i: usize,
        prefix: &str,
        last: bool,
        root: bool,
        out: &mut String,
    ) {
        let s = &spans[i];
        let branch = if root {
            ""
        } else if last {
            "└─ "
        } else {
            "├─ "
        };
        let kind = get_str(s, attr::TRACELOOP_SPAN_KIND);
        let status = if matches!(s.status, Status::Error { .. }) {
            " ✗"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{prefix}{branch}{}{} ({:.1} ms){status}",
            s.name,
            kind.map(|k| format!(" [{k}]")).unwrap_or_default(),
            duration_ms(s)
        );
        let child_prefix = if root {
            prefix.to_owned()
        } else if last {
            format!("{prefix}   ")
        } else {
            format!("{prefix}│  ")
        };
        if get(s, attr::GEN_AI_OPERATION_NAME).is_some() || get(s, "llm.request.type").is_some() {
            render_llm_block(s, &child_prefix, out);
        }
        if let Some(kids) = children.get(&i) {
            for (n, k) in kids.iter().enumerate() {
                walk(
                    spans,
                    children,
                    *k,
                    &child_prefix,
                    n + 1 == kids.len(),
                    false,
                    out,
                );
            }
        }
    }
    for r in roots {
        walk(&spans, &children, r, "", true, true, &mut out);
    }
    out
}
