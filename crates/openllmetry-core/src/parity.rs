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
//!
//! # Divergences kept on purpose
//!
//! - **Anthropic streamed output tokens** are `message_delta`'s `output_tokens`, which is
//!   cumulative (Anthropic's streaming documentation). Upstream adds it to `message_start`'s
//!   `output_tokens` (`anthropic/streaming.py::_process_response_item`), counting the first
//!   tokens twice (for example 8 + 7 = 15 where the response generated 8). A token count that
//!   feeds cost dashboards should not be inflated to match; the difference is
//!   `message_start`'s output count (usually 1 to a few tokens).
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
