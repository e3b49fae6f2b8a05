//! Upstream parity: what the OpenLLMetry-compatible flavours ([`Flavour::Current`],
//! [`Flavour::Legacy`], [`Flavour::Events`]) emit where upstream OpenLLMetry behaves in a way
//! one would not guess, and where they differ from it on purpose.
//!
//! Upstream is `traceloop/openllmetry` 0.62.1 (`93429cfb`) for the current and events flavours
//! and 0.53.4 for the legacy flavour; paths below are under
//! `packages/opentelemetry-instrumentation-{openai,anthropic}/opentelemetry/instrumentation/`.
//! The corpus harness (`crates/openllmetry-http/tests/corpus.rs`) checks every vendored OpenAI
//! and Anthropic recording against these rules.
//!
//! # Upstream behaviours we reproduce
//!
//! - **Zero cache counts.** Anthropic: `gen_ai.usage.cache_read.input_tokens` and
//!   `gen_ai.usage.cache_creation.input_tokens` (legacy: `..._input_tokens`) are written as 0
//!   when the usage leaves them out (`anthropic/__init__.py::_set_token_usage`,
//!   `anthropic/streaming.py::_set_token_usage`: `getattr(usage, ..., 0) or 0`). OpenAI-format
//!   embeddings: `gen_ai.usage.cache_read.input_tokens` is 0 when the usage has no
//!   `prompt_tokens_details` (`openai/shared/__init__.py::_set_response_attributes` reads
//!   `usage.get("prompt_tokens_details", {})` from the client's `model_dump()`, and the
//!   embeddings usage model has no such field). Chat and legacy completions write the count
//!   only when the response has `prompt_tokens_details.cached_tokens` (the chat usage model
//!   declares the field, null when not sent, and `dict(None)` fails inside upstream's
//!   `dont_throw`); the Responses API only when it has `input_tokens_details`
//!   (`openai/v1/responses_wrappers.py::set_data_attributes`).
//! - **The Responses API in the events flavour** keeps its content on the span
//!   (`gen_ai.input.messages`, `gen_ai.output.messages`, `gen_ai.system_instructions`,
//!   `gen_ai.tool.definitions`, as in the current flavour) and emits no log record: upstream's
//!   Responses wrappers have no events path (`openai/v1/responses_wrappers.py::
//!   set_data_attributes` writes the JSON attributes whenever content tracing is on, whatever
//!   `use_attributes` says). Chat, completions and embeddings move their content to log
//!   records in that flavour.
//! - **Anthropic stream usage** comes from `message_start` (input, cache read, cache
//!   creation); `message_delta` contributes only the output count, even when it carries input
//!   and cache counts of its own (server tools, compaction:
//!   `anthropic/streaming.py::_process_response_item`).
//! - **Anthropic `output_format` schemas are content.** `gen_ai.request.structured_output_schema`
//!   from an Anthropic `output_format` is written only with content capture on, and not in
//!   the events flavour: upstream writes it inside the `should_send_prompts()` branch of
//!   `anthropic/span_utils.py::aset_input_attributes`, which its events mode does not call.
//!   An OpenAI `response_format` schema is written whatever the content setting, as upstream
//!   (`openai/shared/__init__.py::_set_request_attributes`).
//! - **The Responses API's retrieve** (`GET …/responses/{id}`, `?stream=true` for a stream)
//!   is instrumented as `openai.response`, as upstream wraps `responses.retrieve`; the request
//!   has no body, so its span has no request model or input.
//! - **Providers without an upstream instrumentation** (DeepSeek, xAI, Perplexity, Fireworks
//!   AI) are named after the client upstream would trace them with: `openai` for the OpenAI
//!   format (`openai/shared/__init__.py::_get_vendor_from_url` names every base URL but Azure,
//!   Bedrock, Vertex AI and OpenRouter `openai`; legacy `gen_ai.system` `openai`), `anthropic`
//!   for the Anthropic format. A provider label given by the caller (a gateway upstream
//!   setting) still wins.
//!
//! # Divergences kept on purpose
//!
//! - **Anthropic streamed output tokens** are `message_delta`'s `output_tokens`, which is
//!   cumulative (Anthropic's streaming documentation). Upstream adds it to `message_start`'s
//!   `output_tokens` (`anthropic/streaming.py::_process_response_item`), counting the first
//!   tokens twice (for example 8 + 7 = 15 where the response generated 8). A token count that
//!   feeds cost dashboards should not be inflated to match; the difference is
//!   `message_start`'s output count (usually 1 to a few tokens).
//! - **Responses API spans per exchange.** Every `POST …/responses` and every retrieve
//!   (`GET …/responses/{id}`) gets its `openai.response` span, whatever the response's
//!   `status`. Upstream opens a span for a non-streamed response only when its status is
//!   `completed` (`openai/v1/responses_wrappers.py::responses_get_or_create_wrapper`), back-dated
//!   to the create and merged with the create's request through a process-global map of
//!   responses (which is never trimmed). So upstream reports no span for an `incomplete` or
//!   `failed` response, nor for a background create (`queued`) or a poll (`in_progress`); its
//!   completed retrieve carries the create's input. We keep no state across calls (the recorder
//!   is per exchange, and the gateway may see the create and the retrieve on different
//!   connections), and a call that ran out of tokens or failed must not vanish from the trace.
//!   The retrieve's span has what the exchange shows: the response, no request model or input.
//! - **Anthropic calls in the events flavour** keep their request and response attributes
//!   (`gen_ai.request.model`, `gen_ai.request.max_tokens`, `gen_ai.response.model`,
//!   `gen_ai.response.id`, ...). Upstream's `_handle_input` / `_handle_response`
//!   (`anthropic/__init__.py`) emit the log events *instead of* setting them, so its
//!   non-streamed events-mode spans lack the model and id; that loses facts every other mode
//!   reports, for no reason tied to content.
//! - **Groq, Together AI, Mistral AI, Ollama and Cohere** keep their provider names even over
//!   the OpenAI format: upstream has an instrumentation of their own SDKs, which reports
//!   those names, and the wire does not tell which SDK made the call. A user who reached them
//!   through the `openai` Python client saw `openai` upstream.
//! - **`gen_ai.is_streaming`** is written on every span. Upstream's Anthropic
//!   instrumentation writes it only when the call passed `stream`
//!   (`anthropic/span_utils.py::aset_input_attributes`: `kwargs.get("stream")`, skipped when
//!   `None`); its OpenAI instrumentation writes it always.
//! - **AnthropicBedrock** (the Anthropic SDK's Bedrock client) calls are recorded by the
//!   Bedrock instrumentation as `bedrock.completion`, where upstream's Anthropic
//!   instrumentation opens `anthropic.chat`. On the wire they are Bedrock `InvokeModel` calls
//!   like boto3's `invoke_model` (which upstream's Bedrock instrumentation names
//!   `bedrock.completion`); only the client's headers (`User-Agent: AnthropicBedrock/…`,
//!   `x-stainless-*`) tell them apart, and the recorder is given the method, URL and body.
//! - **JSON bytes.** JSON attribute values are compact (`{"a":1}`); upstream's `json.dumps`
//!   writes `{"a": 1}`. Same JSON; upstream's own tests compare parsed JSON.
//! - **`error.type` on exception counters** is the provider's error type (or the HTTP
//!   status); upstream uses the Python client's exception class name (`NotFoundError`, ...),
//!   which does not exist on the wire.
//! - **Metric point attributes.** Upstream-named metric points carry our metric attribute set
//!   (`gen_ai.provider.name`, `gen_ai.operation.name`, request/response model,
//!   `server.address`, `server.port`), not upstream's `stream` boolean.
//!
//! [`Flavour::Current`]: crate::Flavour::Current
//! [`Flavour::Legacy`]: crate::Flavour::Legacy
//! [`Flavour::Events`]: crate::Flavour::Events
