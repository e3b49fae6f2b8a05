//! OpenAI-compatible dialects (issue 12): Groq's `x_groq.usage`, OpenRouter's
//! `prompt_tokens_details.cache_write_tokens`, an error chunk carrying `choices` and `usage`;
//! provider names by host and by label. Bodies follow the providers' documented shapes.

use openllmetry_core::detect::{KNOWN_PROVIDERS, known_provider};
use openllmetry_core::openai::{StreamAccumulator, parse_response};
use openllmetry_core::{ApiFormat, Operation, SseEvent, detect};

fn stream(events: &[&str]) -> openllmetry_core::ResponseRecord {
    let mut acc = StreamAccumulator::new(Operation::Chat);
    let mut faults = Vec::new();
    for e in events {
        acc.push(&SseEvent::data(e), &mut faults);
    }
    assert!(faults.is_empty(), "{faults:?}");
    acc.finish()
}

#[test]
fn groq_stream_usage_under_x_groq_is_read() {
    let rec = stream(&[
        r#"{"id":"chatcmpl-1","model":"llama-3.1-8b-instant","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}],"x_groq":{"id":"req_1"}}"#,
        r#"{"id":"chatcmpl-1","model":"llama-3.1-8b-instant","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"x_groq":{"id":"req_1","usage":{"queue_time":0.01,"prompt_tokens":18,"completion_tokens":43,"total_tokens":61}}}"#,
        "[DONE]",
    ]);
    assert_eq!(rec.usage.input_tokens, Some(18));
    assert_eq!(rec.usage.output_tokens, Some(43));
    assert_eq!(rec.usage.total_tokens, Some(61));
}

#[test]
fn openrouter_cache_write_tokens_are_read() {
    let body = br#"{"id":"gen-1","model":"anthropic/claude-3.5-sonnet","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1200,"completion_tokens":5,"total_tokens":1205,"prompt_tokens_details":{"cached_tokens":0,"cache_write_tokens":1100}}}"#;
    let rec = parse_response(Operation::Chat, body, &mut Vec::new());
    assert_eq!(rec.usage.cache_creation_input_tokens, Some(1100));
    assert_eq!(rec.usage.cache_read_input_tokens, Some(0));
    let streamed = stream(&[
        r#"{"id":"gen-1","choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1200,"completion_tokens":5,"total_tokens":1205,"prompt_tokens_details":{"cached_tokens":0,"cache_write_tokens":1100}}}"#,
    ]);
    assert_eq!(streamed.usage.cache_creation_input_tokens, Some(1100));
}

#[test]
fn error_chunk_with_choices_and_usage_keeps_them() {
    let rec = stream(&[
        r#"{"id":"gen-2","model":"m","choices":[{"index":0,"delta":{"content":"partial"},"finish_reason":null}]}"#,
        r#"{"id":"gen-2","model":"m","error":{"code":502,"message":"upstream died"},"choices":[{"index":0,"delta":{"content":" end"},"finish_reason":"error"}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}"#,
    ]);
    assert!(rec.error.is_some());
    assert_eq!(rec.usage.input_tokens, Some(9));
    assert_eq!(rec.usage.output_tokens, Some(3));
    assert_eq!(rec.finish_reasons, ["error"]);
}

#[test]
fn compatible_hosts_report_their_provider() {
    for (url, provider) in [
        ("https://api.groq.com/openai/v1/chat/completions", "groq"),
        ("https://api.x.ai/v1/chat/completions", "x_ai"),
        ("https://api.deepseek.com/chat/completions", "deepseek"),
        (
            "https://openrouter.ai/api/v1/chat/completions",
            "openrouter",
        ),
        (
            "https://api.together.xyz/v1/chat/completions",
            "together_ai",
        ),
        (
            "https://api.fireworks.ai/inference/v1/chat/completions",
            "fireworks_ai",
        ),
        ("https://api.perplexity.ai/chat/completions", "perplexity"),
    ] {
        let t = detect("POST", url).unwrap();
        assert_eq!(
            (t.format, t.provider_name),
            (ApiFormat::OpenAi, provider),
            "{url}"
        );
    }
    let t = detect("POST", "https://api.mistral.ai/v1/chat/completions").unwrap();
    assert_eq!(
        (t.format, t.provider_name, t.span_name()),
        (ApiFormat::Mistral, "mistral_ai", "mistralai.chat")
    );
}

#[test]
fn native_paths_are_detected() {
    for (url, format, op, span, provider) in [
        (
            "http://127.0.0.1:11434/api/chat",
            ApiFormat::Ollama,
            Operation::Chat,
            "ollama.chat",
            "ollama",
        ),
        (
            "http://127.0.0.1:11434/api/generate",
            ApiFormat::Ollama,
            Operation::TextCompletion,
            "ollama.completion",
            "ollama",
        ),
        (
            "http://127.0.0.1:11434/api/embed",
            ApiFormat::Ollama,
            Operation::Embeddings,
            "ollama.embeddings",
            "ollama",
        ),
        (
            "http://127.0.0.1:11434/api/embeddings",
            ApiFormat::Ollama,
            Operation::Embeddings,
            "ollama.embeddings",
            "ollama",
        ),
        (
            "https://api.cohere.com/v2/chat",
            ApiFormat::Cohere,
            Operation::Chat,
            "cohere.chat",
            "cohere",
        ),
        (
            "https://api.cohere.com/v2/embed",
            ApiFormat::Cohere,
            Operation::Embeddings,
            "cohere.embed",
            "cohere",
        ),
        (
            "https://api.cohere.com/v2/rerank",
            ApiFormat::Cohere,
            Operation::Rerank,
            "cohere.rerank",
            "cohere",
        ),
        (
            "http://127.0.0.1:9/v1/fim/completions",
            ApiFormat::Mistral,
            Operation::TextCompletion,
            "mistralai.completion",
            "mistral_ai",
        ),
    ] {
        let t = detect("POST", url).unwrap();
        assert_eq!(
            (t.format, t.operation, t.span_name(), t.provider_name),
            (format, op, span, provider),
            "{url}"
        );
    }
    assert!(detect("GET", "http://127.0.0.1:11434/api/tags").is_none());
    assert!(detect("POST", "http://127.0.0.1:11434/api/pull").is_none());
}

#[test]
fn labels_override_detection_and_route_mistral_to_its_parser() {
    let t = detect("POST", "http://127.0.0.1:9/v1/chat/completions").unwrap();
    assert_eq!(t.provider_name, "openai");
    let t = t.with_provider(known_provider("mistral_ai").unwrap());
    assert_eq!(
        (t.format, t.span_name()),
        (ApiFormat::Mistral, "mistralai.chat")
    );
    let t = detect("POST", "http://127.0.0.1:9/v1/chat/completions").unwrap();
    assert_eq!(t.with_provider("groq").format, ApiFormat::OpenAi);
    assert!(KNOWN_PROVIDERS.contains(&"x_ai"));
    assert_eq!(known_provider(" DeepSeek "), Some("deepseek"));
}
