//! The test-side oracle of the corpus harness: facts read from a recorded exchange with plain
//! `serde_json` pointers and an independent `data:` line split, never with our parsers, and
//! the attribute names each flavour must carry them under (literals from upstream OpenLLMetry
//! 0.62.1's instrumentations and tests, and 0.53.4 for the legacy flavour; see
//! `docs/notes/harness.md`). Shared by the middleware harness (`openllmetry-http`) and the
//! gateway harness (`openllmetry-gateway`) with `#[path]`.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use openllmetry_testkit::cassette::{Cassette, Interaction};
use openllmetry_testkit::flat::{AttrValue, ReceivedLog, ReceivedSpan, StatusCode};
use serde_json::Value;

// ---------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------

/// One row of `rows.tsv`: a recording, the span each interaction must produce (`None`: no
/// span), and the checks known to fail (patterns over `<flavour>/<on|off>/<fact>`) with why.
#[derive(Debug, Clone)]
pub struct Row {
    /// `<folder>/<path>`, e.g. `corpus/openai/test_chat/test_chat_with_events_with_content.yaml`.
    pub recording: String,
    /// One entry per interaction, in recorded order.
    pub spans: Vec<Option<String>>,
    /// Known-gap patterns (`*` matches one segment; a pattern of one segment is a fact
    /// name in every flavour and mode).
    pub gaps: Vec<String>,
    /// Why the gaps are there (or a note).
    pub reason: String,
}

/// The three folders of OpenAI and Anthropic recordings, by row prefix.
pub fn folder_root(prefix: &str) -> PathBuf {
    let testkit = openllmetry_testkit::test_cassettes_dir()
        .parent()
        .expect("testkit cassettes dir")
        .to_path_buf();
    match prefix {
        "replay" => openllmetry_testkit::cassette::cassettes_dir(),
        "corpus" => testkit.join("openllmetry-corpus"),
        "pydantic-ai" => testkit.join("pydantic-ai"),
        other => panic!("unknown recording folder {other:?}"),
    }
}

/// Every OpenAI and Anthropic recording of the three folders, as row names, sorted.
pub fn all_recordings() -> Vec<String> {
    let mut out = Vec::new();
    for prefix in ["replay", "corpus", "pydantic-ai"] {
        let root = folder_root(prefix);
        for path in openllmetry_testkit::cassette::find_cassettes(&root).expect("folder lists") {
            let rel = path
                .strip_prefix(&root)
                .unwrap()
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            if prefix == "pydantic-ai"
                || rel.starts_with("openai/")
                || rel.starts_with("anthropic/")
            {
                out.push(format!("{prefix}/{rel}"));
            }
        }
    }
    out.sort();
    out
}

/// Loads a row's recording.
pub fn load(recording: &str) -> Cassette {
    let (prefix, rel) = recording.split_once('/').expect("<folder>/<path>");
    let path: PathBuf = folder_root(prefix).join(rel);
    Cassette::load(&path).unwrap_or_else(|e| panic!("{recording}: {e}"))
}

/// Request headers a harness does not send again (hop-by-hop, length, host, compression,
/// trace context: each call sends its own).
pub const SKIPPED_REQUEST_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "connection",
    "accept-encoding",
    "transfer-encoding",
    "traceparent",
    "tracestate",
];

/// The rows of `rows.tsv` a run checks: all of them, or those whose recording path contains
/// the `CORPUS_ROWS` environment variable (a maintainer's switch). Never empty.
pub fn selected_rows(text: &str) -> Vec<Row> {
    let filter = std::env::var("CORPUS_ROWS").ok();
    let rows: Vec<Row> = parse_rows(text)
        .into_iter()
        .filter(|r| filter.as_deref().is_none_or(|f| r.recording.contains(f)))
        .collect();
    assert!(!rows.is_empty(), "no rows selected");
    rows
}

/// Parses `rows.tsv` (tab-separated: recording, spans, gaps, reason; `#` comments).
pub fn parse_rows(text: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(
            cols.len() >= 3,
            "rows.tsv line {}: expected recording, spans, gaps[, reason]",
            n + 1
        );
        let spans = cols[1]
            .split(',')
            .map(|s| (s != "-").then(|| s.to_string()))
            .collect();
        let gaps = if cols[2] == "-" {
            Vec::new()
        } else {
            cols[2].split(',').map(str::to_string).collect()
        };
        rows.push(Row {
            recording: cols[0].to_string(),
            spans,
            gaps,
            reason: cols.get(3).unwrap_or(&"").to_string(),
        });
    }
    rows
}

/// Whether a known-gap pattern covers a failure key `<flavour>/<on|off>/<fact>`.
pub fn gap_matches(pattern: &str, key: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let k: Vec<&str> = key.split('/').collect();
    let p: Vec<&str> = if p.len() == 1 {
        vec!["*", "*", p[0]]
    } else {
        p
    };
    p.len() == k.len() && p.iter().zip(&k).all(|(p, k)| *p == "*" || p == k)
}

// ---------------------------------------------------------------------------------------
// Facts from the recorded bodies
// ---------------------------------------------------------------------------------------

/// The kind of call, from the span name the row expects (upstream's span names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    OpenAiChat,
    OpenAiCompletion,
    OpenAiEmbeddings,
    OpenAiResponses,
    AnthropicMessages,
    AnthropicCompletion,
}

impl Api {
    pub fn of_span(name: &str) -> Api {
        match name {
            "openai.chat" => Api::OpenAiChat,
            "openai.completion" => Api::OpenAiCompletion,
            "openai.embeddings" => Api::OpenAiEmbeddings,
            "openai.response" => Api::OpenAiResponses,
            "anthropic.chat" => Api::AnthropicMessages,
            "anthropic.completion" => Api::AnthropicCompletion,
            other => panic!("no oracle for span {other:?}"),
        }
    }

    /// `gen_ai.operation.name` (upstream 0.62: `chat`, `text_completion`, `embeddings`; the
    /// Responses API is `chat`).
    pub fn operation(self) -> &'static str {
        match self {
            Api::OpenAiCompletion | Api::AnthropicCompletion => "text_completion",
            Api::OpenAiEmbeddings => "embeddings",
            _ => "chat",
        }
    }

    /// `llm.request.type` of the legacy flavour (0.53.4: `LLMRequestTypeValues`; every
    /// Anthropic span was opened as `completion`).
    pub fn legacy_request_type(self) -> &'static str {
        match self {
            Api::OpenAiChat | Api::OpenAiResponses => "chat",
            Api::OpenAiEmbeddings => "embedding",
            _ => "completion",
        }
    }

    fn anthropic(self) -> bool {
        matches!(self, Api::AnthropicMessages | Api::AnthropicCompletion)
    }
}

/// What the recorded exchange says, read without our parsers.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub status: u16,
    /// The call failed: HTTP status 400+, or (upstream's `_set_response_attributes`) a
    /// response body with an `error` object, whose `type` or `code` upstream writes as
    /// `error.type`.
    pub error: bool,
    pub error_type: Option<String>,
    /// `gen_ai.provider.name` upstream derives (host for OpenAI clients; always `anthropic`).
    pub provider: String,
    /// `gen_ai.system` of 0.53.4 (legacy flavour).
    pub legacy_system: String,
    pub request_model: Option<String>,
    pub stream: bool,
    pub response_id: Option<String>,
    pub response_model: Option<String>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub total_tokens: Option<i64>,
    pub cache_read: Option<i64>,
    pub cache_creation: Option<i64>,
    pub reasoning: Option<i64>,
    /// Mapped as upstream maps them, de-duplicated in first-seen order.
    pub finish_reasons: Vec<String>,
    /// Prompt texts that must be exported with content on.
    pub input_texts: Vec<String>,
    /// Completion texts that must be exported with content on.
    pub output_texts: Vec<String>,
    /// Every content string (6+ characters) of the exchange: none may be exported with
    /// content off.
    pub content_strings: Vec<String>,
}

fn s(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

fn i(v: &Value) -> Option<i64> {
    v.as_i64()
}

fn push_reason(out: &mut Vec<String>, r: String) {
    if !r.is_empty() && !out.contains(&r) {
        out.push(r);
    }
}

/// Upstream's `OPENAI_FINISH_REASON_MAP`.
fn openai_finish(r: &str) -> String {
    match r {
        "tool_calls" | "function_call" => "tool_call".into(),
        other => other.into(),
    }
}

/// Upstream's Anthropic finish-reason map.
fn anthropic_finish(r: &str) -> String {
    match r {
        "end_turn" | "stop_sequence" => "stop".into(),
        "tool_use" => "tool_call".into(),
        "max_tokens" => "length".into(),
        other => other.into(),
    }
}

/// Upstream's `_derive_finish_reason` for a Responses API response object.
fn responses_finish(resp: &Value) -> Option<String> {
    const TOOL_ITEMS: &[&str] = &[
        "function_call",
        "file_search_call",
        "web_search_call",
        "computer_call",
        "code_interpreter_call",
    ];
    match resp["status"].as_str()? {
        "completed" => {
            let tool = resp["output"].as_array().is_some_and(|items| {
                items
                    .iter()
                    .any(|it| it["type"].as_str().is_some_and(|t| TOOL_ITEMS.contains(&t)))
            });
            Some(if tool { "tool_call" } else { "stop" }.into())
        }
        "incomplete" => Some(
            if resp["incomplete_details"]["reason"] == "content_filter" {
                "content_filter"
            } else {
                "length"
            }
            .into(),
        ),
        "failed" | "cancelled" => Some("error".into()),
        _ => None,
    }
}

/// JSON payloads of the `data:` lines of an event stream (split by lines here, not by the
/// testkit's or our parsers' splitters); `[DONE]` and non-JSON lines skipped.
pub fn data_lines(body: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(body)
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect()
}

/// The texts of a message `content` (a string or a list of parts with `text`).
fn texts_of(content: &Value, out: &mut Vec<String>) {
    match content {
        Value::String(t) if !t.trim().is_empty() => out.push(t.clone()),
        Value::Array(parts) => {
            for p in parts {
                if let Some(t) = p["text"].as_str().filter(|t| !t.trim().is_empty()) {
                    out.push(t.to_string());
                }
            }
        }
        _ => {}
    }
}

/// The host of a recorded URI, without port.
pub fn host_of(uri: &str) -> String {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    authority
        .rsplit_once(':')
        .filter(|(_, p)| p.parse::<u16>().is_ok())
        .map_or(authority, |(h, _)| h)
        .to_string()
}

/// Upstream's `_get_vendor_from_url` (0.62 provider names; 0.53 `gen_ai.system` values).
fn openai_vendor(host: &str) -> (&'static str, &'static str) {
    if host.contains("openai.azure.com") {
        ("azure.ai.openai", "Azure")
    } else if host.contains("openrouter.ai") {
        ("openrouter", "OpenRouter")
    } else if host.contains("amazonaws.com") || host.contains("bedrock") {
        ("aws.bedrock", "AWS")
    } else if host.contains("googleapis.com") || host.contains("vertex") {
        ("gcp.vertex_ai", "Google")
    } else {
        ("openai", "openai")
    }
}

/// Reads the facts of one recorded interaction for the span the row expects.
pub fn facts(api: Api, it: &Interaction) -> Facts {
    let req = it.request.body_json().unwrap_or(Value::Null);
    let resp = &it.response;
    let host = host_of(&it.request.uri);
    let (provider, legacy_system) = if api.anthropic() {
        ("anthropic", "Anthropic")
    } else {
        openai_vendor(&host)
    };
    let mut f = Facts {
        status: resp.status,
        provider: provider.into(),
        legacy_system: legacy_system.into(),
        request_model: s(&req["model"]),
        // A GET (the Responses API's retrieve) asks for a stream in its query; upstream
        // writes `gen_ai.is_streaming` = `kwargs.get("stream") or False`
        // (`openai/shared/__init__.py::_set_request_attributes`, line 172 at 0.62.1).
        stream: req["stream"].as_bool().unwrap_or(false)
            || (it.request.method.eq_ignore_ascii_case("GET")
                && it
                    .request
                    .uri
                    .split_once('?')
                    .is_some_and(|(_, q)| q.split('&').any(|kv| kv == "stream=true"))),
        content_strings: content_strings(it),
        ..Facts::default()
    };
    // Prompt texts.
    match api {
        Api::OpenAiChat => {
            for m in req["messages"].as_array().into_iter().flatten() {
                texts_of(&m["content"], &mut f.input_texts);
            }
        }
        Api::OpenAiCompletion | Api::AnthropicCompletion => match &req["prompt"] {
            Value::String(p) if !p.trim().is_empty() => f.input_texts.push(p.clone()),
            Value::Array(ps) => ps.iter().filter_map(s).for_each(|p| f.input_texts.push(p)),
            _ => {}
        },
        Api::OpenAiEmbeddings => match &req["input"] {
            Value::String(p) => f.input_texts.push(p.clone()),
            Value::Array(ps) => ps.iter().filter_map(s).for_each(|p| f.input_texts.push(p)),
            _ => {}
        },
        Api::OpenAiResponses => {
            if let Some(t) = s(&req["instructions"]) {
                f.input_texts.push(t);
            }
            match &req["input"] {
                Value::String(p) => f.input_texts.push(p.clone()),
                Value::Array(items) => {
                    for item in items {
                        texts_of(&item["content"], &mut f.input_texts);
                    }
                }
                _ => {}
            }
        }
        Api::AnthropicMessages => {
            texts_of(&req["system"], &mut f.input_texts);
            for m in req["messages"].as_array().into_iter().flatten() {
                texts_of(&m["content"], &mut f.input_texts);
            }
        }
    }
    if resp.status >= 400 {
        f.error = true;
        return f;
    }
    if let Some(body) = resp.body_json()
        && body["error"].is_object()
    {
        f.error = true;
        f.error_type = s(&body["error"]["type"])
            .or_else(|| s(&body["error"]["code"]))
            .or(Some("api_error".into()));
        return f;
    }
    if resp.is_event_stream() {
        stream_facts(api, &data_lines(&resp.decoded_body()), &mut f);
    } else if let Some(body) = resp.body_json() {
        json_facts(api, &body, &mut f);
    }
    f
}

/// Chat, completions and embeddings usage.
///
/// The cache-read count: upstream's `_set_response_attributes`
/// (`opentelemetry-instrumentation-openai/.../shared/__init__.py` lines 287-290 at 0.62.1;
/// 0.53.4 lines 241-245) writes `dict(usage.get("prompt_tokens_details", {})).get(
/// "cached_tokens", 0)` from the client's `model_dump()`. Chat and completions usage
/// (`openai-python` `types/completion_usage.py`, `CompletionUsage`) declares
/// `prompt_tokens_details` (dumped as `None` when the body has none: `dict(None)` raises
/// inside `dont_throw` and nothing is written) and `cached_tokens` (`None` when absent:
/// `_set_span_attribute` skips it). The embeddings usage (`types/create_embedding_response.py`,
/// `Usage`) declares neither, so the default `{}` applies and 0 is written.
fn openai_usage(api: Api, u: &Value, f: &mut Facts) {
    if !u.is_object() {
        return;
    }
    f.input_tokens = i(&u["prompt_tokens"]);
    f.output_tokens = i(&u["completion_tokens"]);
    f.total_tokens = i(&u["total_tokens"]);
    f.cache_read = match (api, u.get("prompt_tokens_details")) {
        // Embeddings: an extra field (kept as a plain dict by the dump), else the default.
        (Api::OpenAiEmbeddings, None) => Some(0),
        (Api::OpenAiEmbeddings, Some(d)) if d.is_object() && d.get("cached_tokens").is_none() => {
            Some(0)
        }
        (_, Some(d)) => i(&d["cached_tokens"]),
        (_, None) => None,
    };
    f.reasoning = i(&u["completion_tokens_details"]["reasoning_tokens"]);
}

fn responses_usage(u: &Value, f: &mut Facts) {
    f.input_tokens = i(&u["input_tokens"]);
    f.output_tokens = i(&u["output_tokens"]);
    f.total_tokens = i(&u["total_tokens"]);
    f.cache_read = i(&u["input_tokens_details"]["cached_tokens"]);
    f.reasoning = i(&u["output_tokens_details"]["reasoning_tokens"]);
}

/// Anthropic usage as upstream reports it: cache tokens folded into the input, total =
/// input + output, cache read/creation written (0 when absent).
fn anthropic_usage(input: i64, cache_read: i64, cache_creation: i64, output: i64, f: &mut Facts) {
    let input = input + cache_read + cache_creation;
    f.input_tokens = Some(input);
    f.output_tokens = Some(output);
    f.total_tokens = Some(input + output);
    f.cache_read = Some(cache_read);
    f.cache_creation = Some(cache_creation);
}

fn responses_output(resp: &Value, f: &mut Facts) {
    for item in resp["output"].as_array().into_iter().flatten() {
        if item["type"] == "message" {
            for part in item["content"].as_array().into_iter().flatten() {
                if let Some(t) = s(&part["text"]) {
                    f.output_texts.push(t);
                }
            }
        }
    }
}

fn json_facts(api: Api, body: &Value, f: &mut Facts) {
    f.response_id = s(&body["id"]);
    f.response_model = s(&body["model"]);
    match api {
        Api::OpenAiChat | Api::OpenAiCompletion | Api::OpenAiEmbeddings => {
            openai_usage(api, &body["usage"], f);
            for c in body["choices"].as_array().into_iter().flatten() {
                if let Some(r) = c["finish_reason"].as_str() {
                    push_reason(&mut f.finish_reasons, openai_finish(r));
                }
                if let Some(t) = s(&c["message"]["content"]).or_else(|| s(&c["text"])) {
                    f.output_texts.push(t);
                }
            }
        }
        Api::OpenAiResponses => {
            responses_usage(&body["usage"], f);
            if let Some(r) = responses_finish(body) {
                push_reason(&mut f.finish_reasons, r);
            }
            responses_output(body, f);
        }
        Api::AnthropicMessages => {
            let u = &body["usage"];
            if u.is_object() {
                anthropic_usage(
                    i(&u["input_tokens"]).unwrap_or(0),
                    i(&u["cache_read_input_tokens"]).unwrap_or(0),
                    i(&u["cache_creation_input_tokens"]).unwrap_or(0),
                    i(&u["output_tokens"]).unwrap_or(0),
                    f,
                );
            }
            if let Some(r) = body["stop_reason"].as_str() {
                push_reason(&mut f.finish_reasons, anthropic_finish(r));
            }
            for block in body["content"].as_array().into_iter().flatten() {
                if block["type"] == "text"
                    && let Some(t) = s(&block["text"])
                {
                    f.output_texts.push(t);
                }
            }
        }
        Api::AnthropicCompletion => {
            if let Some(r) = body["stop_reason"].as_str() {
                push_reason(&mut f.finish_reasons, anthropic_finish(r));
            }
            if let Some(t) = s(&body["completion"]) {
                f.output_texts.push(t);
            }
        }
    }
}

fn stream_facts(api: Api, chunks: &[Value], f: &mut Facts) {
    match api {
        Api::OpenAiEmbeddings => {}
        Api::OpenAiChat | Api::OpenAiCompletion => {
            let mut text = String::new();
            for c in chunks {
                if f.response_id.is_none() {
                    f.response_id = s(&c["id"]);
                }
                if f.response_model.is_none() {
                    f.response_model = s(&c["model"]);
                }
                if c["usage"].is_object() {
                    openai_usage(api, &c["usage"], f);
                }
                for choice in c["choices"].as_array().into_iter().flatten() {
                    if let Some(r) = choice["finish_reason"].as_str() {
                        push_reason(&mut f.finish_reasons, openai_finish(r));
                    }
                    if choice["index"].as_i64().unwrap_or(0) == 0 {
                        if let Some(t) = choice["delta"]["content"].as_str() {
                            text.push_str(t);
                        }
                        if let Some(t) = choice["text"].as_str() {
                            text.push_str(t);
                        }
                    }
                }
            }
            if !text.trim().is_empty() {
                f.output_texts.push(text);
            }
        }
        Api::OpenAiResponses => {
            let last = chunks.iter().rev().find(|c| {
                matches!(
                    c["type"].as_str(),
                    Some("response.completed" | "response.incomplete" | "response.failed")
                )
            });
            if let Some(done) = last {
                let r = &done["response"];
                f.response_id = s(&r["id"]);
                f.response_model = s(&r["model"]);
                responses_usage(&r["usage"], f);
                if let Some(reason) = responses_finish(r) {
                    push_reason(&mut f.finish_reasons, reason);
                }
                responses_output(r, f);
            } else if let Some(created) = chunks.iter().find(|c| c["type"] == "response.created") {
                f.response_id = s(&created["response"]["id"]);
                f.response_model = s(&created["response"]["model"]);
            }
        }
        Api::AnthropicMessages => {
            let (mut input, mut cache_read, mut cache_creation, mut output) = (0, 0, 0, 0);
            let mut usage = false;
            // Text per content block index.
            let mut blocks: std::collections::BTreeMap<i64, String> = Default::default();
            for c in chunks {
                match c["type"].as_str() {
                    Some("message_start") => {
                        let m = &c["message"];
                        f.response_id = s(&m["id"]);
                        f.response_model = s(&m["model"]);
                        let u = &m["usage"];
                        if u.is_object() {
                            usage = true;
                            input = i(&u["input_tokens"]).unwrap_or(0);
                            cache_read = i(&u["cache_read_input_tokens"]).unwrap_or(0);
                            cache_creation = i(&u["cache_creation_input_tokens"]).unwrap_or(0);
                            output = i(&u["output_tokens"]).unwrap_or(0);
                        }
                    }
                    Some("message_delta") => {
                        if let Some(r) = c["delta"]["stop_reason"].as_str() {
                            push_reason(&mut f.finish_reasons, anthropic_finish(r));
                        }
                        // Only the output count is read from `message_delta`: upstream's
                        // `_process_response_item` (`anthropic/streaming.py` lines 60-73 at
                        // 0.62.1) keeps `message_start`'s input and cache counts, even when
                        // the delta carries its own (server tools, compaction).
                        //
                        // A divergence kept on purpose (`openllmetry_core::parity`): the same
                        // lines ADD the delta's `output_tokens` to `message_start`'s, but the
                        // delta's count is already cumulative (Anthropic's streaming docs), so
                        // upstream counts `message_start`'s output tokens twice. The fact is
                        // the cumulative count.
                        if let Some(o) = i(&c["usage"]["output_tokens"]) {
                            usage = true;
                            output = o;
                        }
                    }
                    Some("content_block_delta") => {
                        if let Some(t) = c["delta"]["text"].as_str() {
                            let index = c["index"].as_i64().unwrap_or(0);
                            blocks.entry(index).or_default().push_str(t);
                        }
                    }
                    _ => {}
                }
            }
            if usage {
                anthropic_usage(input, cache_read, cache_creation, output, f);
            }
            f.output_texts
                .extend(blocks.into_values().filter(|t| !t.trim().is_empty()));
        }
        Api::AnthropicCompletion => {
            let mut text = String::new();
            for c in chunks {
                if f.response_id.is_none() {
                    f.response_id = s(&c["id"]);
                }
                if f.response_model.is_none() {
                    f.response_model = s(&c["model"]);
                }
                if let Some(r) = c["stop_reason"].as_str() {
                    push_reason(&mut f.finish_reasons, anthropic_finish(r));
                }
                if let Some(t) = c["completion"].as_str() {
                    text.push_str(t);
                }
            }
            if !text.trim().is_empty() {
                f.output_texts.push(text);
            }
        }
    }
}

/// Content strings of an exchange, by a plain walk of the recorded JSON: every string under
/// a content-bearing key (6+ characters, so words like `stop` cannot match by chance), plus
/// the concatenated stream deltas. Identifiers, names, types, roles and models are
/// structure; so are response-format schemas (`response_format`, `text.format`: upstream's
/// `gen_ai.request.structured_output_schema` is not content-gated).
pub fn content_strings(it: &Interaction) -> Vec<String> {
    const KEYS: &[&str] = &[
        "content",
        "text",
        "arguments",
        "partial_json",
        "thinking",
        "prompt",
        "input",
        "system",
        "description",
        "completion",
        "refusal",
        "reasoning_content",
        "instructions",
        "parameters",
        "input_schema",
        "delta",
        "output",
        "summary",
    ];
    const STRUCTURE: &[&str] = &[
        "id",
        "name",
        "type",
        "role",
        "tool_use_id",
        "tool_call_id",
        "call_id",
        "item_id",
        "index",
        "media_type",
        "model",
        "object",
        "status",
        "format",
        "response_format",
        "json_schema",
        "signature",
        "encrypted_content",
        "url",
        "image_url",
        "data",
        "source",
        "file_id",
        "file_data",
        "annotations",
        "logprobs",
        "server_label",
        "server_url",
    ];
    fn walk(v: &Value, under: bool, out: &mut Vec<String>) {
        match v {
            Value::String(s) if under => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| walk(x, under, out)),
            Value::Object(o) => {
                for (k, x) in o {
                    if STRUCTURE.contains(&k.as_str()) {
                        continue;
                    }
                    walk(x, under || KEYS.contains(&k.as_str()), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Some(req) = it.request.body_json() {
        walk(&req, false, &mut out);
    }
    let resp = &it.response;
    if resp.is_event_stream() {
        let mut deltas = String::new();
        for chunk in data_lines(&resp.decoded_body()) {
            let mut parts = Vec::new();
            walk(&chunk, false, &mut parts);
            for p in &parts {
                deltas.push_str(p);
            }
            out.extend(parts);
        }
        out.push(deltas);
    } else if let Some(v) = resp.body_json() {
        walk(&v, false, &mut out);
    }
    // Tool and function names, finish reasons and statuses are structure (exported with
    // content off upstream too): a content string inside one (`population` in
    // `get_population`) is not a leak.
    let mut names = Vec::new();
    if let Some(req) = it.request.body_json() {
        collect_names(&req, &mut names);
    }
    if let Some(v) = resp.body_json() {
        collect_names(&v, &mut names);
    }
    for chunk in data_lines(&resp.decoded_body()) {
        collect_names(&chunk, &mut names);
    }
    out.retain(|s| s.chars().count() >= 6 && !names.iter().any(|n| n.contains(s.as_str())));
    out.sort();
    out.dedup();
    out
}

fn collect_names(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| collect_names(x, out)),
        Value::Object(o) => {
            for (k, x) in o {
                match x {
                    Value::String(n)
                        if ["name", "finish_reason", "stop_reason", "status"]
                            .contains(&k.as_str()) =>
                    {
                        out.push(n.clone())
                    }
                    _ => collect_names(x, out),
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------
// Checks, per flavour, on the flat views (in-memory capture and OTLP receiver alike)
// ---------------------------------------------------------------------------------------

/// Which attribute names a run must carry the facts under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// OpenLLMetry 0.62 attributes (`current`, and `events` for non-content facts).
    Current,
    /// OpenLLMetry 0.53 attributes (`legacy`).
    Legacy,
    /// 0.62 attributes, content as log events (`events`).
    Events,
}

/// Failures of one run, as `(fact, message)`.
pub type Failures = Vec<(String, String)>;

fn fail(out: &mut Failures, fact: &str, msg: String) {
    out.push((fact.to_string(), msg));
}

fn eq_str(out: &mut Failures, fact: &str, span: &ReceivedSpan, key: &str, want: Option<&str>) {
    let got = span.attr_str(key);
    if got != want {
        fail(out, fact, format!("{key}: got {got:?}, want {want:?}"));
    }
}

fn eq_i64(out: &mut Failures, fact: &str, span: &ReceivedSpan, key: &str, want: Option<i64>) {
    let got = span.attr_i64(key);
    if got != want {
        fail(out, fact, format!("{key}: got {got:?}, want {want:?}"));
    }
}

fn eq_bool(out: &mut Failures, fact: &str, span: &ReceivedSpan, key: &str, want: bool) {
    let got = span.attr_bool(key);
    if got != Some(want) {
        fail(out, fact, format!("{key}: got {got:?}, want {want}"));
    }
}

/// Every string a span exports: raw attribute and event values, plus the string leaves of
/// any that parse as JSON (so an escaped content string is found too).
pub fn span_strings(span: &ReceivedSpan) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |v: &AttrValue| collect_value(v, &mut out);
    for v in span.attributes.values() {
        push(v);
    }
    for (_, attrs) in &span.events {
        for v in attrs.values() {
            push(v);
        }
    }
    out.push(span.status_message.clone());
    out
}

fn collect_value(v: &AttrValue, out: &mut Vec<String>) {
    match v {
        AttrValue::String(s) => {
            out.push(s.clone());
            if let Ok(json) = serde_json::from_str::<Value>(s) {
                json_leaves(&json, out);
            }
        }
        AttrValue::Array(a) => a.iter().for_each(|x| collect_value(x, out)),
        AttrValue::Map(m) => m.values().for_each(|x| collect_value(x, out)),
        _ => {}
    }
}

fn json_leaves(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| json_leaves(x, out)),
        Value::Object(o) => o.values().for_each(|x| json_leaves(x, out)),
        _ => {}
    }
}

/// Every string of a log record (event name, body leaves, attributes).
pub fn log_strings(log: &ReceivedLog) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(b) = &log.body {
        json_leaves(b, &mut out);
    }
    for v in log.attributes.values() {
        collect_value(v, &mut out);
    }
    out
}

fn found(text: &str, haystack: &[String]) -> bool {
    haystack.iter().any(|h| h.contains(text))
}

/// A prompt or completion text among exported strings: a short one (under 6 characters,
/// e.g. `4`) must be a whole exported string, a longer one may be part of one.
fn found_text(text: &str, haystack: &[String]) -> bool {
    if !text.chars().any(char::is_alphanumeric) {
        // Punctuation or whitespace between citations (`". "`): no fact to look for.
        true
    } else if text.chars().count() < 6 {
        haystack.iter().any(|h| h.trim() == text.trim())
    } else {
        found(text, haystack)
    }
}

/// Checks one interaction's span (and log records) against its facts.
///
/// `span`: the spans the interaction produced; `logs`: its log records; `content`: content
/// capture on; `extra_exported`: other exported text of the run (metrics) for the
/// content-off check.
#[allow(clippy::too_many_arguments)]
pub fn check(
    api: Api,
    span_name: &str,
    facts: &Facts,
    names: Names,
    content: bool,
    spans: &[ReceivedSpan],
    logs: &[ReceivedLog],
    extra_exported: &str,
) -> Failures {
    let mut out = Failures::new();
    let llm: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.name == span_name).collect();
    if llm.len() != 1 || spans.len() != 1 {
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
        fail(
            &mut out,
            "span",
            format!("want one span {span_name}, got {names:?}"),
        );
        if llm.len() != 1 {
            return out;
        }
    }
    let span = llm[0];
    let legacy = names == Names::Legacy;
    // Identity.
    eq_str(
        &mut out,
        "operation",
        span,
        "gen_ai.operation.name",
        Some(api.operation()),
    );
    if legacy {
        eq_str(
            &mut out,
            "operation",
            span,
            "llm.request.type",
            Some(api.legacy_request_type()),
        );
        eq_str(
            &mut out,
            "provider",
            span,
            "gen_ai.system",
            Some(&facts.legacy_system),
        );
    }
    eq_str(
        &mut out,
        "provider",
        span,
        "gen_ai.provider.name",
        Some(&facts.provider),
    );
    // Request.
    if let Some(m) = &facts.request_model {
        eq_str(
            &mut out,
            "request.model",
            span,
            "gen_ai.request.model",
            Some(m),
        );
    }
    let stream_key = if legacy {
        "llm.is_streaming"
    } else {
        "gen_ai.is_streaming"
    };
    eq_bool(&mut out, "stream", span, stream_key, facts.stream);
    // Errors.
    if facts.error {
        if span.status_code != StatusCode::Error {
            fail(
                &mut out,
                "error",
                format!(
                    "the call failed (HTTP {}) but span status {:?}",
                    facts.status, span.status_code
                ),
            );
        }
        match (&facts.error_type, span.attr_str("error.type")) {
            (_, None) => fail(&mut out, "error", "no error.type".into()),
            (Some(want), Some(got)) if want != got => fail(
                &mut out,
                "error",
                format!("error.type: got {got:?}, want {want:?}"),
            ),
            _ => {}
        }
    } else {
        if span.status_code == StatusCode::Error {
            fail(
                &mut out,
                "error",
                format!("span status Error: {}", span.status_message),
            );
        }
        eq_str(
            &mut out,
            "response.id",
            span,
            "gen_ai.response.id",
            facts.response_id.as_deref(),
        );
        eq_str(
            &mut out,
            "response.model",
            span,
            "gen_ai.response.model",
            facts.response_model.as_deref(),
        );
        // Usage.
        let (input, output, total) = if legacy {
            (
                "gen_ai.usage.prompt_tokens",
                "gen_ai.usage.completion_tokens",
                "llm.usage.total_tokens",
            )
        } else {
            (
                "gen_ai.usage.input_tokens",
                "gen_ai.usage.output_tokens",
                "gen_ai.usage.total_tokens",
            )
        };
        eq_i64(&mut out, "usage.input", span, input, facts.input_tokens);
        eq_i64(&mut out, "usage.output", span, output, facts.output_tokens);
        eq_i64(&mut out, "usage.total", span, total, facts.total_tokens);
        // Cache read (0.53.4: `gen_ai.usage.cache_read_input_tokens` for both providers,
        // `SpanAttributes.LLM_USAGE_CACHE_READ_INPUT_TOKENS` in OpenAI's `shared/__init__.py`
        // and `responses_wrappers.py`, `GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS_DEPRECATED` in
        // Anthropic's). For OpenAI calls an absent fact means upstream writes no attribute.
        if facts.cache_read.is_some() || !api.anthropic() {
            let key = if legacy {
                "gen_ai.usage.cache_read_input_tokens"
            } else {
                "gen_ai.usage.cache_read.input_tokens"
            };
            eq_i64(&mut out, "usage.cache_read", span, key, facts.cache_read);
        }
        if let Some(n) = facts.cache_creation {
            let key = if legacy {
                "gen_ai.usage.cache_creation_input_tokens"
            } else {
                "gen_ai.usage.cache_creation.input_tokens"
            };
            eq_i64(&mut out, "usage.cache_creation", span, key, Some(n));
        }
        if let Some(n) = facts.reasoning
            && !legacy
        {
            eq_i64(
                &mut out,
                "usage.reasoning",
                span,
                "gen_ai.usage.reasoning_tokens",
                Some(n),
            );
        }
        // Finish reasons (not content-gated upstream).
        let got: Vec<String> = span
            .attr_str_array("gen_ai.response.finish_reasons")
            .unwrap_or_default()
            .into_iter()
            .map(str::to_string)
            .collect();
        let got_set: BTreeSet<&String> = got.iter().collect();
        let want_set: BTreeSet<&String> = facts.finish_reasons.iter().collect();
        if got_set != want_set {
            fail(
                &mut out,
                "finish_reasons",
                format!(
                    "gen_ai.response.finish_reasons: got {got:?}, want {:?}",
                    facts.finish_reasons
                ),
            );
        }
    }
    // Content.
    let mut carriers = span_strings(span);
    if names == Names::Events && api != Api::OpenAiResponses {
        // Content goes out as log records; the span carries none (the Responses API has no
        // events path upstream: it keeps its attributes).
        carriers.clear();
        for l in logs {
            carriers.extend(log_strings(l));
        }
        // Upstream emits the records with content off too, with `content` and `arguments`
        // removed.
        if logs.is_empty() {
            fail(&mut out, "events", "no log record".into());
        }
        for l in logs {
            if l.trace_id.as_deref() != Some(span.trace_id.as_str())
                || l.span_id.as_deref() != Some(span.span_id.as_str())
            {
                fail(
                    &mut out,
                    "events",
                    format!(
                        "log record {:?} not in the LLM span's context",
                        l.event_name
                    ),
                );
            }
        }
    } else if !logs.is_empty() {
        // Outside the events flavour, and for the Responses API in it (upstream's
        // `responses_wrappers.py` has no event emitter), no log record.
        fail(
            &mut out,
            "events",
            format!(
                "{} log record(s) outside the events flavour or for the Responses API",
                logs.len()
            ),
        );
    }
    if content {
        let missing = |texts: &[String]| texts.iter().find(|t| !found_text(t, &carriers)).cloned();
        if let Some(t) = missing(&facts.input_texts) {
            fail(
                &mut out,
                "content.input",
                format!("prompt text {t:?} not exported"),
            );
        }
        if !facts.error
            && let Some(t) = missing(&facts.output_texts)
        {
            fail(
                &mut out,
                "content.output",
                format!("completion text {t:?} not exported"),
            );
        }
    } else {
        let places = exported_places(spans, logs, extra_exported);
        for c in &facts.content_strings {
            if let Some((place, _)) = places.iter().find(|(_, strings)| found(c, strings)) {
                fail(
                    &mut out,
                    "content.off",
                    format!("content string {c:?} exported with content off, in {place}"),
                );
                break;
            }
        }
    }
    out
}

/// Every exported string of a run, with where it was exported: span attributes and events,
/// log records, and the run's other output (metric point attributes).
fn exported_places(
    spans: &[ReceivedSpan],
    logs: &[ReceivedLog],
    extra: &str,
) -> Vec<(String, Vec<String>)> {
    let mut places = Vec::new();
    for span in spans {
        for (k, v) in &span.attributes {
            let mut strings = Vec::new();
            collect_value(v, &mut strings);
            places.push((format!("span {} attribute {k}", span.name), strings));
        }
        for (name, attrs) in &span.events {
            let mut strings = Vec::new();
            attrs.values().for_each(|v| collect_value(v, &mut strings));
            places.push((format!("span {} event {name}", span.name), strings));
        }
        places.push((
            format!("span {} status message", span.name),
            vec![span.status_message.clone()],
        ));
    }
    for l in logs {
        places.push((
            format!(
                "log record {} {}",
                l.event_name.as_deref().unwrap_or("?"),
                l.body.as_ref().map(|b| b.to_string()).unwrap_or_default()
            ),
            log_strings(l),
        ));
    }
    places.push((
        "the run's other output (metrics)".to_string(),
        vec![extra.to_string()],
    ));
    places
}

/// A readable list of failures for one row.
pub fn describe(recording: &str, failures: &[(String, String)]) -> String {
    let mut s = String::new();
    for (key, msg) in failures {
        let _ = writeln!(s, "  {recording} [{key}]: {msg}");
    }
    s
}
