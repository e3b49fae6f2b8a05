//! Transport adapters for openllmetry-rs.
//!
//! * [`OpenLlmMiddleware`]: a [`reqwest_middleware::Middleware`] for code that calls LLM HTTP
//!   APIs through `reqwest_middleware::ClientWithMiddleware`.
//! * [`OpenLlmLayer`]: a [`tower_layer::Layer`] whose service wraps `reqwest::Client`-like
//!   services (`Service<reqwest::Request>`), hyper-style services (`Service<http::Request<B>>`),
//!   and, with the `async-openai` feature, async-openai's
//!   `Service<HttpRequestFactory>` for `Client::with_http_service`.
//!
//! Both feed the IO-free [`openllmetry_core::Instrumentation`] and wrap the response body in
//! an [`ObservedBody`], which hands every chunk to the recorder as it passes to the caller.
//! The caller gets exactly the bytes, headers and timing it would have got without us; a
//! panic in the recorder is caught and only stops the observation.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use openllmetry_http::OpenLlmMiddleware;
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(OpenLlmMiddleware::default())
//!     .build();
//! let resp = client
//!     .post("https://api.openai.com/v1/chat/completions")
//!     .body(r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#)
//!     .send()
//!     .await?;
//! # let _ = resp; Ok(()) }
//! ```

#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

mod body;
mod reqwest_mw;
mod tower;

pub use body::ObservedBody;
pub use reqwest_mw::OpenLlmMiddleware;
pub use tower::{IntoErrorType, OpenLlmLayer, OpenLlmService, PeekBody, RETRIED};

use openllmetry_core::Instrumentation;

/// Which instrumentation an adapter records with.
#[derive(Debug, Clone, Default)]
enum Source {
    /// [`Instrumentation::global`] at the time of each request (so an adapter created before
    /// the SDK's `init` still records with the configured pipeline).
    #[default]
    Global,
    /// A fixed instrumentation.
    Fixed(Instrumentation),
}

impl Source {
    fn get(&self) -> Instrumentation {
        match self {
            Source::Global => Instrumentation::global(),
            Source::Fixed(i) => i.clone(),
        }
    }
}

/// `error.type` for a reqwest transport error.
fn reqwest_error_type(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect_error"
    } else if e.is_body() || e.is_decode() {
        "body_error"
    } else {
        "request_error"
    }
}

fn header_str(headers: &http::HeaderMap, name: http::header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Starts observing the response head and returns the observer (inert if the recorder panicked).
fn observe_head(
    call: openllmetry_core::LlmCall,
    status: http::StatusCode,
    headers: &http::HeaderMap,
) -> Option<openllmetry_core::ResponseObserver> {
    let ct = header_str(headers, http::header::CONTENT_TYPE);
    let ce = header_str(headers, http::header::CONTENT_ENCODING);
    openllmetry_core::instrument::guard(move || call.on_response(status.as_u16(), ct, ce))
}

/// Adds the call's propagation headers to `headers` (overwriting an existing `traceparent`
/// or other header of the same name, since the LLM span is the outgoing request's parent). A
/// name or value that is not a valid header is skipped.
fn inject(call: &openllmetry_core::LlmCall, headers: &mut http::HeaderMap) {
    for (name, value) in call.propagation_headers() {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            headers.insert(n, v);
        }
    }
}

/// Wraps a `reqwest::Response` so its body is observed; status, headers, URL, version and
/// extensions stay as they were.
fn wrap_reqwest_response(
    call: openllmetry_core::LlmCall,
    resp: reqwest::Response,
) -> reqwest::Response {
    let url = resp.url().clone();
    let observer = observe_head(call, resp.status(), resp.headers());
    let http_resp: http::Response<reqwest::Body> = resp.into();
    let (mut parts, body) = http_resp.into_parts();
    let body = reqwest::Body::wrap(ObservedBody::new(body, observer));
    // Restore the URL (`reqwest::Response::url`), which the http conversion does not carry.
    if let Ok(marker) = reqwest::ResponseBuilderExt::url(http::Response::builder(), url).body(()) {
        parts.extensions.extend(marker.into_parts().0.extensions);
    }
    reqwest::Response::from(http::Response::from_parts(parts, body))
}
