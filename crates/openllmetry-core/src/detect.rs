//! Which provider and operation an HTTP request is, from its method and URL alone.

use openllmetry_semconv::value::{operation, provider};

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApiFormat {
    /// OpenAI and every OpenAI-compatible API (Azure OpenAI, vLLM, Groq, Ollama `/v1`, ...).
    OpenAi,
    /// Anthropic Messages API and Anthropic-compatible APIs.
    Anthropic,
    /// Gemini API and Vertex AI `publishers/google` models (`generateContent` bodies).
    Gemini,
    /// Ollama's native API (`/api/chat`, `/api/generate`, `/api/embed`), NDJSON streams.
    Ollama,
    /// Cohere API v2 (`/v2/chat`, `/v2/embed`, `/v2/rerank`).
    Cohere,
    /// Mistral AI (OpenAI-like chat and embeddings, plus FIM completions).
    Mistral,
    /// Amazon Bedrock runtime (Converse and InvokeModel, streams in AWS event-stream framing).
    Bedrock,
}

impl ApiFormat {
    /// `openai` / `anthropic`: the span-name prefix and the fault component name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ApiFormat::OpenAi => "openai",
            ApiFormat::Anthropic => "anthropic",
            ApiFormat::Gemini => "gemini",
            ApiFormat::Ollama => "ollama",
            ApiFormat::Cohere => "cohere",
            ApiFormat::Mistral => "mistral",
            ApiFormat::Bedrock => "bedrock",
        }
    }
}

/// The instrumented operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// OpenAI chat completions, Anthropic messages.
    Chat,
    /// OpenAI legacy completions, Anthropic legacy complete.
    TextCompletion,
    /// OpenAI embeddings.
    Embeddings,
    /// OpenAI Responses API.
    Responses,
    /// Cohere rerank.
    Rerank,
}

impl Operation {
    /// Value of `gen_ai.operation.name`.
    pub const fn semconv_name(self) -> &'static str {
        match self {
            Operation::Chat | Operation::Responses => operation::CHAT,
            Operation::TextCompletion => operation::TEXT_COMPLETION,
            Operation::Embeddings => operation::EMBEDDINGS,
            Operation::Rerank => "rerank",
        }
    }

    /// Stable snake_case name (fault and telemetry reports).
    pub const fn as_str(self) -> &'static str {
        match self {
            Operation::Chat => "chat",
            Operation::TextCompletion => "text_completion",
            Operation::Embeddings => "embeddings",
            Operation::Responses => "responses",
            Operation::Rerank => "rerank",
        }
    }

    /// Value of `llm.request.type` in the legacy flavour.
    pub const fn legacy_request_type(self) -> &'static str {
        match self {
            Operation::Chat | Operation::Responses => "chat",
            Operation::TextCompletion => "completion",
            Operation::Embeddings => "embedding",
            Operation::Rerank => "rerank",
        }
    }
}

/// A detected LLM call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Wire format.
    pub format: ApiFormat,
    /// Operation.
    pub operation: Operation,
    /// `gen_ai.provider.name`: the semconv well-known value where the host tells it.
    pub provider_name: &'static str,
    /// `server.address` (host).
    pub server_address: String,
    /// `server.port` (explicit, or the scheme's default).
    pub server_port: u16,
    /// The client's base URL (everything before the operation path), with a trailing `/`.
    pub api_base: String,
    /// Azure OpenAI `api-version` query parameter.
    pub api_version: Option<String>,
    /// The model named by the URL path (Gemini API, Vertex AI), when the body has none.
    pub model_in_path: Option<String>,
    /// The URL path itself asks for a stream (`:streamGenerateContent`,
    /// `:streamRawPredict`).
    pub stream_in_path: bool,
    /// Bedrock: the operation and the model id from the path (`None` for other formats).
    pub bedrock: Option<crate::providers::bedrock::BedrockTarget>,
}

impl Target {
    /// Span name: `openai.chat`, `openai.completion`, `openai.embeddings`, `openai.response`,
    /// `anthropic.chat`, `anthropic.completion`, `gemini.generate_content`,
    /// `gemini.embed_content` (`vertexai.*` on Vertex AI, as OpenLLMetry names them),
    /// `bedrock.converse`, `bedrock.completion`.
    pub fn span_name(&self) -> &'static str {
        if let Some(b) = &self.bedrock {
            return b.api.span_name();
        }
        let vertex = self.provider_name == GCP_VERTEX_AI;
        match (self.format, self.operation) {
            (ApiFormat::Gemini, Operation::Embeddings) if vertex => "vertexai.embed_content",
            (ApiFormat::Gemini, Operation::Embeddings) => "gemini.embed_content",
            (ApiFormat::Gemini, _) if vertex => "vertexai.generate_content",
            (ApiFormat::Gemini, _) => "gemini.generate_content",
            (ApiFormat::OpenAi, Operation::Chat) => "openai.chat",
            (ApiFormat::OpenAi, Operation::TextCompletion) => "openai.completion",
            (ApiFormat::OpenAi, Operation::Embeddings) => "openai.embeddings",
            (ApiFormat::OpenAi, Operation::Responses) => "openai.response",
            (ApiFormat::Anthropic, Operation::TextCompletion) => "anthropic.completion",
            (ApiFormat::Anthropic, _) => "anthropic.chat",
            (ApiFormat::Ollama, Operation::TextCompletion) => "ollama.completion",
            (ApiFormat::Ollama, Operation::Embeddings) => "ollama.embeddings",
            (ApiFormat::Ollama, _) => "ollama.chat",
            (ApiFormat::Cohere, Operation::Embeddings) => "cohere.embed",
            (ApiFormat::Cohere, Operation::Rerank) => "cohere.rerank",
            (ApiFormat::Cohere, Operation::TextCompletion) => "cohere.completion",
            (ApiFormat::Cohere, _) => "cohere.chat",
            (ApiFormat::Mistral, Operation::TextCompletion) => "mistralai.completion",
            (ApiFormat::Mistral, Operation::Embeddings) => "mistralai.embeddings",
            (ApiFormat::Mistral, _) => "mistralai.chat",
            (ApiFormat::OpenAi, Operation::Rerank) => "openai.rerank",
            (ApiFormat::Bedrock, Operation::Chat) => "bedrock.converse",
            (ApiFormat::Bedrock, _) => "bedrock.completion",
        }
    }
}

/// `gen_ai.provider.name` of Vertex AI (semconv well-known value).
pub const GCP_VERTEX_AI: &str = "gcp.vertex_ai";

/// Gemini API / Vertex AI path rows: `…/models/{model}:{method}`. `publishers/anthropic`
/// on Vertex is the Anthropic format (`:rawPredict`, `:streamRawPredict`).
fn detect_google(parts: &UrlParts<'_>) -> Option<Target> {
    let (model, method) = crate::providers::gemini::model_and_method(parts.path)?;
    let anthropic = parts.path.contains("/publishers/anthropic/");
    let (format, operation, stream) = match method {
        "generateContent" if !anthropic => (ApiFormat::Gemini, Operation::Chat, false),
        "streamGenerateContent" if !anthropic => (ApiFormat::Gemini, Operation::Chat, true),
        "embedContent" | "batchEmbedContents" if !anthropic => {
            (ApiFormat::Gemini, Operation::Embeddings, false)
        }
        "rawPredict" if anthropic => (ApiFormat::Anthropic, Operation::Chat, false),
        "streamRawPredict" if anthropic => (ApiFormat::Anthropic, Operation::Chat, true),
        _ => return None,
    };
    let host = parts.host.to_ascii_lowercase();
    let vertex = host.ends_with("aiplatform.googleapis.com") || parts.path.contains("/publishers/");
    let provider_name = if vertex {
        GCP_VERTEX_AI
    } else {
        provider::GCP_GEMINI
    };
    // The client's base URL: everything before the API version segment.
    let base_path = parts
        .path
        .find("/v1")
        .map_or("", |i| parts.path.get(..i).unwrap_or(""));
    let mut t = target(parts, format, operation, provider_name, base_path, None);
    t.model_in_path = Some(model.to_owned());
    t.stream_in_path = stream;
    Some(t)
}

fn target(
    parts: &UrlParts<'_>,
    format: ApiFormat,
    operation: Operation,
    provider_name: &'static str,
    base_path: &str,
    api_version: Option<String>,
) -> Target {
    let default_port = if parts.scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    };
    let authority = match parts.port {
        Some(p) => format!("{}:{p}", parts.host),
        None => parts.host.to_owned(),
    };
    Target {
        format,
        operation,
        provider_name,
        server_address: parts
            .host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        server_port: parts.port.unwrap_or(default_port),
        api_base: format!("{}://{authority}{base_path}/", parts.scheme),
        api_version,
        model_in_path: None,
        stream_in_path: false,
        bedrock: None,
    }
}

/// Split of an absolute URL into its parts (enough for detection; no normalisation).
struct UrlParts<'a> {
    scheme: &'a str,
    host: &'a str,
    port: Option<u16>,
    path: &'a str,
    query: &'a str,
}

fn split_url(url: &str) -> Option<UrlParts<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    let (authority, path_query) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let path_query = path_query.split('#').next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = if let Some(stripped) = authority.strip_prefix('[') {
        // IPv6 literal: [::1]:8080
        let end = stripped.find(']')?;
        let host = &authority[..end + 2];
        let port = stripped[end + 1..]
            .strip_prefix(':')
            .and_then(|p| p.parse().ok());
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.parse().ok()?)),
            None => (authority, None),
        }
    };
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, q),
        None => (path_query, ""),
    };
    Some(UrlParts {
        scheme,
        host,
        port,
        path,
        query,
    })
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `gen_ai.provider.name` from a host name, for hosts that identify their provider.
pub fn provider_for_host(host: &str) -> Option<&'static str> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    // No allocation per candidate domain: `host` is `domain` or ends with `.` + `domain`.
    let is = |domain: &str| {
        host.strip_suffix(domain)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
    };
    let name = if is("openai.com") {
        provider::OPENAI
    } else if is("openai.azure.com") || is("cognitiveservices.azure.com") {
        provider::AZURE_AI_OPENAI
    } else if is("services.ai.azure.com") || is("inference.ai.azure.com") {
        "azure.ai.inference"
    } else if is("anthropic.com") {
        provider::ANTHROPIC
    } else if is("groq.com") {
        provider::GROQ
    } else if is("deepseek.com") {
        provider::DEEPSEEK
    } else if is("mistral.ai") {
        provider::MISTRAL_AI
    } else if is("x.ai") {
        provider::X_AI
    } else if is("perplexity.ai") {
        provider::PERPLEXITY
    } else if is("generativelanguage.googleapis.com") {
        provider::GCP_GEMINI
    } else if is("openrouter.ai") {
        provider::OPENROUTER
    } else if is("together.xyz") || is("together.ai") {
        provider::TOGETHER_AI
    } else if is("fireworks.ai") {
        provider::FIREWORKS_AI
    } else if is("cohere.ai") || is("cohere.com") {
        provider::COHERE
    } else if host.starts_with("bedrock") && is("amazonaws.com") {
        provider::AWS_BEDROCK
    } else {
        return None;
    };
    Some(name)
}

/// `gen_ai.provider.name` of a wire format when the host does not tell.
const fn default_provider(format: ApiFormat) -> &'static str {
    match format {
        ApiFormat::OpenAi => provider::OPENAI,
        ApiFormat::Anthropic => provider::ANTHROPIC,
        ApiFormat::Gemini => provider::GCP_GEMINI,
        ApiFormat::Ollama => OLLAMA,
        ApiFormat::Cohere => provider::COHERE,
        ApiFormat::Mistral => provider::MISTRAL_AI,
        ApiFormat::Bedrock => provider::AWS_BEDROCK,
    }
}

/// The format whose parser reads an OpenAI-format call to `provider_name`: Mistral AI's
/// OpenAI-like API has its own parser (span names `mistralai.*`); any other provider keeps
/// the detected format.
const fn dialect_format(format: ApiFormat, provider_name: &str) -> ApiFormat {
    match format {
        ApiFormat::OpenAi if const_eq(provider_name, provider::MISTRAL_AI) => ApiFormat::Mistral,
        other => other,
    }
}

const fn const_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `gen_ai.provider.name` of Ollama. Not a well-known value of the GenAI conventions (v1.41);
/// the conventions ask for the provider's name in lower snake case when none is defined.
pub const OLLAMA: &str = "ollama";

/// Provider names an upstream may be labelled with (gateway `provider` settings,
/// [`Target::with_provider`]): the GenAI conventions' well-known values plus the names this
/// crate detects by host.
pub const KNOWN_PROVIDERS: &[&str] = &[
    provider::OPENAI,
    provider::AZURE_AI_OPENAI,
    "azure.ai.inference",
    provider::ANTHROPIC,
    provider::GROQ,
    provider::DEEPSEEK,
    provider::MISTRAL_AI,
    provider::X_AI,
    provider::PERPLEXITY,
    provider::GCP_GEMINI,
    "gcp.vertex_ai",
    "gcp.gen_ai",
    provider::COHERE,
    provider::AWS_BEDROCK,
    provider::IBM_WATSONX_AI,
    provider::OPENROUTER,
    provider::TOGETHER_AI,
    provider::FIREWORKS_AI,
    "moonshot_ai",
    OLLAMA,
];

/// The `&'static` spelling of a known provider name (case-insensitive), or `None`.
///
/// ```
/// use openllmetry_core::detect::known_provider;
/// assert_eq!(known_provider("Groq"), Some("groq"));
/// assert_eq!(known_provider("acme"), None);
/// ```
pub fn known_provider(name: &str) -> Option<&'static str> {
    let name = name.trim();
    KNOWN_PROVIDERS
        .iter()
        .copied()
        .find(|p| p.eq_ignore_ascii_case(name))
}

/// The provider of the longest base URL in `bases` that `url` is under (`base` followed by
/// nothing, `/`, `?` or `#`). `bases` must be sorted longest first.
///
/// ```
/// use openllmetry_core::detect::provider_for_base;
/// let bases = vec![("http://127.0.0.1:9/v1".to_string(), "groq")];
/// assert_eq!(provider_for_base(&bases, "http://127.0.0.1:9/v1/chat/completions"), Some("groq"));
/// assert_eq!(provider_for_base(&bases, "http://127.0.0.1:9/v10/chat"), None);
/// ```
pub fn provider_for_base(bases: &[(String, &'static str)], url: &str) -> Option<&'static str> {
    bases.iter().find_map(|(base, p)| {
        let rest = url.strip_prefix(base.trim_end_matches('/'))?;
        (rest.is_empty() || rest.starts_with(['/', '?', '#'])).then_some(*p)
    })
}

impl Target {
    /// This target labelled with `provider_name` (an upstream whose URL does not name its
    /// provider: a proxy, a loopback server). An OpenAI-format call labelled `mistral_ai`
    /// is read by the Mistral parser.
    pub fn with_provider(mut self, provider_name: &'static str) -> Target {
        self.provider_name = provider_name;
        self.format = dialect_format(self.format, provider_name);
        self
    }
}

/// Detects an instrumented LLM call from the HTTP method and the absolute request URL.
///
/// Returns `None` for anything that is not one of the instrumented operations (it then
/// passes through uninstrumented):
///
/// * OpenAI format (`POST`): `…/chat/completions`, `…/completions`, `…/embeddings`,
///   `…/responses`, and `GET …/responses/{resp_id}` (retrieve), under any base URL (api.openai.com, Azure OpenAI deployment paths,
///   vLLM, Groq, Together, OpenRouter, Ollama `/v1`, DeepSeek, Mistral, localhost, ...).
/// * Anthropic format (`POST`): `…/v1/messages` and `…/v1/complete`, under any base URL.
/// * Ollama (`POST`): `…/api/chat`, `…/api/generate`, `…/api/embed`, `…/api/embeddings`.
/// * Cohere v2 (`POST`): `…/v2/chat`, `…/v2/embed`, `…/v2/rerank`.
/// * Mistral AI: `…/v1/fim/completions` anywhere, and every OpenAI-format path on a
///   `mistral.ai` host.
///
/// ```
/// use openllmetry_core::{detect, ApiFormat, Operation};
/// let t = detect("POST", "https://api.groq.com/openai/v1/chat/completions").unwrap();
/// assert_eq!((t.format, t.operation, t.provider_name), (ApiFormat::OpenAi, Operation::Chat, "groq"));
/// assert_eq!(t.api_base, "https://api.groq.com/openai/v1/");
/// assert!(detect("GET", "https://api.openai.com/v1/models").is_none());
/// ```
pub fn detect(method: &str, url: &str) -> Option<Target> {
    if method.eq_ignore_ascii_case("GET") {
        return detect_responses_retrieve(url);
    }
    if !method.eq_ignore_ascii_case("POST") {
        return None;
    }
    let parts = split_url(url)?;
    if let Some(t) = detect_google(&parts) {
        return Some(t);
    }
    if let Some(t) = detect_bedrock(&parts) {
        return Some(t);
    }
    let path = parts.path.trim_end_matches('/');
    const SUFFIXES: &[(&str, ApiFormat, Operation)] = &[
        ("/api/chat", ApiFormat::Ollama, Operation::Chat),
        (
            "/api/generate",
            ApiFormat::Ollama,
            Operation::TextCompletion,
        ),
        ("/api/embed", ApiFormat::Ollama, Operation::Embeddings),
        ("/api/embeddings", ApiFormat::Ollama, Operation::Embeddings),
        ("/v2/chat", ApiFormat::Cohere, Operation::Chat),
        ("/v2/embed", ApiFormat::Cohere, Operation::Embeddings),
        ("/v2/rerank", ApiFormat::Cohere, Operation::Rerank),
        (
            "/v1/fim/completions",
            ApiFormat::Mistral,
            Operation::TextCompletion,
        ),
        ("/v1/messages", ApiFormat::Anthropic, Operation::Chat),
        (
            "/v1/complete",
            ApiFormat::Anthropic,
            Operation::TextCompletion,
        ),
        ("/chat/completions", ApiFormat::OpenAi, Operation::Chat),
        ("/completions", ApiFormat::OpenAi, Operation::TextCompletion),
        ("/embeddings", ApiFormat::OpenAi, Operation::Embeddings),
        ("/responses", ApiFormat::OpenAi, Operation::Responses),
    ];
    let (prefix, format, operation) = SUFFIXES.iter().find_map(|(suffix, format, op)| {
        path.strip_suffix(suffix)
            .map(|prefix| (prefix, *format, *op))
    })?;
    // The client's base URL: the part before the matched suffix (Anthropic, Ollama, Cohere,
    // Mistral FIM: before the version or `/api` segment; OpenAI's includes the version).
    let base_path = prefix;
    let api_version = query_param(parts.query, "api-version").map(str::to_owned);
    let azure_path = prefix.contains("/openai/deployments/") || api_version.is_some();
    let provider_name = match provider_for_host(parts.host) {
        Some(p) => p,
        None if format == ApiFormat::OpenAi && azure_path => provider::AZURE_AI_OPENAI,
        None => default_provider(format),
    };
    let format = dialect_format(format, provider_name);
    Some(target(
        &parts,
        format,
        operation,
        provider_name,
        base_path,
        api_version,
    ))
}

/// The Responses API's retrieve, `GET …/responses/{response_id}` (ids are `resp_…`), which
/// OpenLLMetry instruments as `openai.response` like a create (0.62.1
/// `openai/v1/__init__.py` wraps `responses.retrieve`); `?stream=true` asks for a stream.
/// Sub-resources (`…/{id}/input_items`) are not instrumented.
fn detect_responses_retrieve(url: &str) -> Option<Target> {
    let parts = split_url(url)?;
    let path = parts.path.trim_end_matches('/');
    let (rest, id) = path.rsplit_once('/')?;
    let prefix = rest.strip_suffix("/responses")?;
    if !id.starts_with("resp_") {
        return None;
    }
    let api_version = query_param(parts.query, "api-version").map(str::to_owned);
    let azure_path = prefix.contains("/openai/deployments/") || api_version.is_some();
    let provider_name = match provider_for_host(parts.host) {
        Some(p) => p,
        None if azure_path => provider::AZURE_AI_OPENAI,
        None => default_provider(ApiFormat::OpenAi),
    };
    let format = dialect_format(ApiFormat::OpenAi, provider_name);
    let mut t = target(
        &parts,
        format,
        Operation::Responses,
        provider_name,
        prefix,
        api_version,
    );
    t.stream_in_path = query_param(parts.query, "stream") == Some("true");
    Some(t)
}

/// Bedrock runtime: `POST …/model/{modelId}/{converse|converse-stream|invoke|invoke-with-response-stream}`
/// under any host (the path shape is Bedrock's own). The provider is `aws.bedrock` whatever
/// the host (a gateway or a loopback replayer in front of Bedrock).
fn detect_bedrock(parts: &UrlParts<'_>) -> Option<Target> {
    let b = crate::providers::bedrock::parse_path(parts.path)?;
    let operation = if b.api.is_converse() {
        Operation::Chat
    } else {
        Operation::TextCompletion
    };
    let prefix_len = parts.path.find("/model/").unwrap_or(0);
    let base_path = &parts.path[..prefix_len];
    let mut t = target(
        parts,
        ApiFormat::Bedrock,
        operation,
        provider::AWS_BEDROCK,
        base_path,
        None,
    );
    t.bedrock = Some(b);
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Expected = Option<(ApiFormat, Operation, &'static str, &'static str)>;

    #[test]
    fn detection_table() {
        let cases: &[(&str, Expected)] = &[
            (
                "https://api.openai.com/v1/chat/completions",
                Some((
                    ApiFormat::OpenAi,
                    Operation::Chat,
                    "openai",
                    "https://api.openai.com/v1/",
                )),
            ),
            (
                "https://api.openai.com/v1/completions",
                Some((
                    ApiFormat::OpenAi,
                    Operation::TextCompletion,
                    "openai",
                    "https://api.openai.com/v1/",
                )),
            ),
            (
                "https://api.openai.com/v1/embeddings",
                Some((
                    ApiFormat::OpenAi,
                    Operation::Embeddings,
                    "openai",
                    "https://api.openai.com/v1/",
                )),
            ),
            (
                "https://api.openai.com/v1/responses",
                Some((
                    ApiFormat::OpenAi,
                    Operation::Responses,
                    "openai",
                    "https://api.openai.com/v1/",
                )),
            ),
            (
                "https://res.openai.azure.com/openai/deployments/gpt4/chat/completions?api-version=2024-02-01",
                Some((
                    ApiFormat::OpenAi,
                    Operation::Chat,
                    "azure.ai.openai",
                    "https://res.openai.azure.com/openai/deployments/gpt4/",
                )),
            ),
            (
                "http://127.0.0.1:9000/openai/deployments/emb/embeddings?api-version=2023-07-01-preview",
                Some((
                    ApiFormat::OpenAi,
                    Operation::Embeddings,
                    "azure.ai.openai",
                    "http://127.0.0.1:9000/openai/deployments/emb/",
                )),
            ),
            (
                "http://localhost:8000/v1/chat/completions",
                Some((
                    ApiFormat::OpenAi,
                    Operation::Chat,
                    "openai",
                    "http://localhost:8000/v1/",
                )),
            ),
            (
                "http://localhost:11434/v1/chat/completions",
                Some((
                    ApiFormat::OpenAi,
                    Operation::Chat,
                    "openai",
                    "http://localhost:11434/v1/",
                )),
            ),
            (
                "https://api.groq.com/openai/v1/chat/completions",
                Some((
                    ApiFormat::OpenAi,
                    Operation::Chat,
                    "groq",
                    "https://api.groq.com/openai/v1/",
                )),
            ),
            (
                "https://api.together.xyz/v1/chat/completions",
                Some((
                    ApiFormat::OpenAi,
                    Operation::Chat,
                    "together_ai",
                    "https://api.together.xyz/v1/",
                )),
            ),
            (
                "https://openrouter.ai/api/v1/chat/completions",
                Some((
                    ApiFormat::OpenAi,
                    Operation::Chat,
                    "openrouter",
                    "https://openrouter.ai/api/v1/",
                )),
            ),
            (
                "https://api.deepseek.com/chat/completions",
                Some((
                    ApiFormat::OpenAi,
                    Operation::Chat,
                    "deepseek",
                    "https://api.deepseek.com/",
                )),
            ),
            (
                "https://api.mistral.ai/v1/chat/completions",
                Some((
                    ApiFormat::Mistral,
                    Operation::Chat,
                    "mistral_ai",
                    "https://api.mistral.ai/v1/",
                )),
            ),
            (
                "https://api.anthropic.com/v1/messages",
                Some((
                    ApiFormat::Anthropic,
                    Operation::Chat,
                    "anthropic",
                    "https://api.anthropic.com/",
                )),
            ),
            (
                "https://api.anthropic.com/v1/complete",
                Some((
                    ApiFormat::Anthropic,
                    Operation::TextCompletion,
                    "anthropic",
                    "https://api.anthropic.com/",
                )),
            ),
            (
                "https://api.deepseek.com/anthropic/v1/messages",
                Some((
                    ApiFormat::Anthropic,
                    Operation::Chat,
                    "deepseek",
                    "https://api.deepseek.com/anthropic/",
                )),
            ),
            (
                "http://[::1]:8080/v1/messages",
                Some((
                    ApiFormat::Anthropic,
                    Operation::Chat,
                    "anthropic",
                    "http://[::1]:8080/",
                )),
            ),
            (
                "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.titan-text-express-v1/invoke",
                Some((
                    ApiFormat::Bedrock,
                    Operation::TextCompletion,
                    "aws.bedrock",
                    "https://bedrock-runtime.us-east-1.amazonaws.com/",
                )),
            ),
            (
                "http://127.0.0.1:9000/bedrock/model/us.anthropic.claude-3-haiku%3A0/converse-stream",
                Some((
                    ApiFormat::Bedrock,
                    Operation::Chat,
                    "aws.bedrock",
                    "http://127.0.0.1:9000/bedrock/",
                )),
            ),
            (
                "https://bedrock-runtime.us-east-1.amazonaws.com/model/x/count-tokens",
                None,
            ),
            ("https://api.anthropic.com/v1/messages/count_tokens", None),
            ("https://api.anthropic.com/v1/messages/batches", None),
            ("https://api.openai.com/v1/models", None),
            ("https://api.openai.com/v1/files", None),
            ("not a url", None),
        ];
        for (url, want) in cases {
            let got =
                detect("POST", url).map(|t| (t.format, t.operation, t.provider_name, t.api_base));
            let want = want.map(|(f, o, p, b)| (f, o, p, b.to_string()));
            assert_eq!(got, want, "{url}");
        }
    }

    #[test]
    fn only_post_is_instrumented() {
        assert!(detect("GET", "https://api.openai.com/v1/chat/completions").is_none());
        assert!(detect("post", "https://api.openai.com/v1/chat/completions").is_some());
        assert!(detect("DELETE", "https://api.openai.com/v1/responses/resp_1").is_none());
    }

    #[test]
    fn responses_retrieve_is_instrumented() {
        // OpenLLMetry 0.62.1 wraps `responses.retrieve` (`openai/v1/__init__.py`) with the
        // create wrapper: `openai.response`.
        let t = detect(
            "GET",
            "https://api.openai.com/v1/responses/resp_06a5?stream=false",
        )
        .unwrap();
        assert_eq!(
            (t.format, t.operation, t.provider_name, t.span_name()),
            (
                ApiFormat::OpenAi,
                Operation::Responses,
                "openai",
                "openai.response"
            )
        );
        assert_eq!(t.api_base, "https://api.openai.com/v1/");
        assert!(!t.stream_in_path);
        let t = detect(
            "get",
            "https://api.openai.com/v1/responses/resp_08?starting_after=3&stream=true",
        )
        .unwrap();
        assert!(t.stream_in_path);
        let t = detect(
            "GET",
            "https://r.openai.azure.com/openai/responses/resp_1?api-version=2025-04-01-preview",
        )
        .unwrap();
        assert_eq!(t.provider_name, "azure.ai.openai");
        // Not a retrieve: the input items, the list, another resource, a POST.
        for url in [
            "https://api.openai.com/v1/responses/resp_1/input_items",
            "https://api.openai.com/v1/responses",
            "https://api.openai.com/v1/files/file_1",
            "https://api.openai.com/v1/responses/compact",
        ] {
            assert!(detect("GET", url).is_none(), "{url}");
        }
        assert!(detect("POST", "https://api.openai.com/v1/responses/resp_1").is_none());
    }

    #[test]
    fn server_address_and_port() {
        let t = detect("POST", "https://api.openai.com/v1/chat/completions").unwrap();
        assert_eq!(
            (t.server_address.as_str(), t.server_port),
            ("api.openai.com", 443)
        );
        let t = detect("POST", "http://127.0.0.1:5002/v1/chat/completions").unwrap();
        assert_eq!(
            (t.server_address.as_str(), t.server_port),
            ("127.0.0.1", 5002)
        );
        let t = detect("POST", "http://[::1]:8080/v1/messages").unwrap();
        assert_eq!((t.server_address.as_str(), t.server_port), ("::1", 8080));
        let t = detect("POST", "https://x.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-06-01").unwrap();
        assert_eq!(t.api_version.as_deref(), Some("2024-06-01"));
    }
}
