//! Which provider and operation an HTTP request is, from its method and URL alone.

use openllmetry_semconv::value::{operation, provider};

/// The wire format a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApiFormat {
    /// OpenAI and every OpenAI-compatible API (Azure OpenAI, vLLM, Groq, Ollama `/v1`, ...).
    OpenAi,
    /// Anthropic Messages API and Anthropic-compatible APIs.
    Anthropic,
    /// Amazon Bedrock runtime (Converse and InvokeModel, streams in AWS event-stream framing).
    Bedrock,
}

impl ApiFormat {
    /// `openai` / `anthropic`: the span-name prefix and the fault component name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ApiFormat::OpenAi => "openai",
            ApiFormat::Anthropic => "anthropic",
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
}

impl Operation {
    /// Value of `gen_ai.operation.name`.
    pub const fn semconv_name(self) -> &'static str {
        match self {
            Operation::Chat | Operation::Responses => operation::CHAT,
            Operation::TextCompletion => operation::TEXT_COMPLETION,
            Operation::Embeddings => operation::EMBEDDINGS,
        }
    }

    /// Stable snake_case name (fault and telemetry reports).
    pub const fn as_str(self) -> &'static str {
        match self {
            Operation::Chat => "chat",
            Operation::TextCompletion => "text_completion",
            Operation::Embeddings => "embeddings",
            Operation::Responses => "responses",
        }
    }

    /// Value of `llm.request.type` in the legacy flavour.
    pub const fn legacy_request_type(self) -> &'static str {
        match self {
            Operation::Chat | Operation::Responses => "chat",
            Operation::TextCompletion => "completion",
            Operation::Embeddings => "embedding",
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
    /// Bedrock: the operation and the model id from the path (`None` for other formats).
    pub bedrock: Option<crate::providers::bedrock::BedrockTarget>,
}

impl Target {
    /// Span name: `openai.chat`, `openai.completion`, `openai.embeddings`, `openai.response`,
    /// `anthropic.chat`, `anthropic.completion`.
    pub const fn span_name(&self) -> &'static str {
        if let Some(b) = &self.bedrock {
            return b.api.span_name();
        }
        match (self.format, self.operation) {
            (ApiFormat::OpenAi, Operation::Chat) => "openai.chat",
            (ApiFormat::OpenAi, Operation::TextCompletion) => "openai.completion",
            (ApiFormat::OpenAi, Operation::Embeddings) => "openai.embeddings",
            (ApiFormat::OpenAi, Operation::Responses) => "openai.response",
            (ApiFormat::Anthropic, Operation::TextCompletion) => "anthropic.completion",
            (ApiFormat::Anthropic, _) => "anthropic.chat",
            (ApiFormat::Bedrock, Operation::Chat) => "bedrock.converse",
            (ApiFormat::Bedrock, _) => "bedrock.completion",
        }
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

/// Detects an instrumented LLM call from the HTTP method and the absolute request URL.
///
/// Returns `None` for anything that is not one of the instrumented operations (it then
/// passes through uninstrumented):
///
/// * OpenAI format (`POST`): `…/chat/completions`, `…/completions`, `…/embeddings`,
///   `…/responses`, under any base URL (api.openai.com, Azure OpenAI deployment paths,
///   vLLM, Groq, Together, OpenRouter, Ollama `/v1`, DeepSeek, Mistral, localhost, ...).
/// * Anthropic format (`POST`): `…/v1/messages` and `…/v1/complete`, under any base URL.
///
/// ```
/// use openllmetry_core::{detect, ApiFormat, Operation};
/// let t = detect("POST", "https://api.groq.com/openai/v1/chat/completions").unwrap();
/// assert_eq!((t.format, t.operation, t.provider_name), (ApiFormat::OpenAi, Operation::Chat, "groq"));
/// assert_eq!(t.api_base, "https://api.groq.com/openai/v1/");
/// assert!(detect("GET", "https://api.openai.com/v1/models").is_none());
/// ```
pub fn detect(method: &str, url: &str) -> Option<Target> {
    if !method.eq_ignore_ascii_case("POST") {
        return None;
    }
    let parts = split_url(url)?;
    let path = parts.path.trim_end_matches('/');
    if let Some(t) = detect_bedrock(&parts) {
        return Some(t);
    }
    const SUFFIXES: &[(&str, ApiFormat, Operation)] = &[
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
    let base_path = match format {
        // The Anthropic client's base URL is the part before `/v1/...`.
        ApiFormat::Anthropic | ApiFormat::OpenAi | ApiFormat::Bedrock => prefix,
    };
    let api_version = query_param(parts.query, "api-version").map(str::to_owned);
    let azure_path = prefix.contains("/openai/deployments/") || api_version.is_some();
    let provider_name = match provider_for_host(parts.host) {
        Some(p) => p,
        None if format == ApiFormat::OpenAi && azure_path => provider::AZURE_AI_OPENAI,
        None => match format {
            ApiFormat::OpenAi => provider::OPENAI,
            ApiFormat::Anthropic => provider::ANTHROPIC,
            ApiFormat::Bedrock => provider::AWS_BEDROCK,
        },
    };
    let default_port = if parts.scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    };
    let authority = match parts.port {
        Some(p) => format!("{}:{p}", parts.host),
        None => parts.host.to_owned(),
    };
    Some(Target {
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
        bedrock: None,
    })
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
    let authority = match parts.port {
        Some(p) => format!("{}:{p}", parts.host),
        None => parts.host.to_owned(),
    };
    let default_port = if parts.scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    };
    Some(Target {
        format: ApiFormat::Bedrock,
        operation,
        provider_name: provider::AWS_BEDROCK,
        server_address: parts
            .host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        server_port: parts.port.unwrap_or(default_port),
        api_base: format!("{}://{authority}{base_path}/", parts.scheme),
        api_version: None,
        bedrock: Some(b),
    })
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
                    ApiFormat::OpenAi,
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
