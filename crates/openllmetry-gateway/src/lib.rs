//! The openllmetry gateway: an instrumenting reverse proxy for OpenAI-compatible and
//! Anthropic APIs.
//!
//! Point a client's base URL at the gateway (`http://127.0.0.1:8787/v1` for OpenAI clients,
//! `http://127.0.0.1:8787` for Anthropic clients) and every LLM call becomes the same spans
//! and metrics the in-process instrumentation produces. The gateway never parses provider
//! JSON itself: it forwards through [`openllmetry_http::OpenLlmService`] over a
//! `reqwest::Client`, which feeds the instrumentation core.
//!
//! Routing:
//!
//! | request path | upstream |
//! |---|---|
//! | `/v1/messages…`, `/v1/complete`, or any `/v1/…` with an `anthropic-version` header | `<anthropic-upstream>/v1/…` |
//! | other `/v1/<rest>` | `<openai-upstream>/<rest>` |
//! | `/openai/<rest>` | `<openai-upstream>/<rest>` |
//! | `/anthropic/<rest>` | `<anthropic-upstream>/<rest>` |
//! | `GET /healthz` | answered by the gateway |
//! | `GET /_openllmetry/faults` | the gateway's fault counts and pending telemetry report (loopback clients only) |
//!
//! Anything else is refused with 404: only the configured upstreams are reachable. An
//! HTTP/1 absolute-form target (`GET http://host/x`, a forward-proxy request) is refused with
//! 400, and so is a path whose dot segments would leave the upstream's base path.
//!
//! Responses keep the upstream's status, headers (minus hop-by-hop ones; `Content-Length`
//! kept) and body bytes; streams are forwarded chunk by chunk as they arrive, on sockets with
//! `TCP_NODELAY`. On shutdown the server stops accepting, lets in-flight requests and streams
//! finish for up to the drain timeout, then cuts the rest (the clients see a truncated
//! response; their spans end with the partial data) before returning. Idle connections and
//! connections still sending a request head never hold the drain.
//!
//! Bounds (see [`GatewayConfig`]): a header-read timeout (which is also the keep-alive idle
//! timeout), a request-body idle timeout, a cap on concurrent connections, and accept errors
//! (such as running out of file descriptors) logged at most once a second with a 100 ms
//! back-off. URLs in log lines go through [`redact_url`].

#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

mod config;
mod proxy;

pub use config::{
    ConfigFileError, DEFAULT_ANTHROPIC_UPSTREAM, DEFAULT_BODY_IDLE_TIMEOUT, DEFAULT_DRAIN_TIMEOUT,
    DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_LISTEN, DEFAULT_MAX_CONNECTIONS, DEFAULT_OPENAI_UPSTREAM,
    GatewayConfig, redact_url,
};
pub use proxy::FAULTS_PATH;
pub use proxy::{RunningGateway, start};
