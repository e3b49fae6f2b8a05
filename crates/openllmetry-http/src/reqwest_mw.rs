//! The reqwest-middleware adapter.

use openllmetry_core::Instrumentation;
use openllmetry_core::instrument::guard;
use reqwest_middleware::{Middleware, Next};

use crate::{Source, inject, reqwest_error_type, wrap_reqwest_response};

/// A [`reqwest_middleware::Middleware`] that records every LLM call made through the client.
///
/// Requests that are not instrumented LLM calls (see [`openllmetry_core::detect()`]) pass
/// through untouched. For LLM calls the middleware adds the LLM span's trace context (what the
/// global text-map propagator writes, else a W3C `traceparent`; see
/// [`LlmCall::propagation_headers`](openllmetry_core::LlmCall::propagation_headers); none when
/// propagation is off), and wraps the response body so it is observed chunk by chunk while
/// the caller reads it.
#[derive(Debug, Clone, Default)]
pub struct OpenLlmMiddleware {
    source: Source,
}

impl OpenLlmMiddleware {
    /// Records with [`Instrumentation::global`] (what the SDK's `init` configured).
    pub fn new() -> Self {
        Self::default()
    }

    /// Records with the given instrumentation.
    pub fn with_instrumentation(instrumentation: Instrumentation) -> Self {
        OpenLlmMiddleware {
            source: Source::Fixed(instrumentation),
        }
    }
}

#[async_trait::async_trait]
impl Middleware for OpenLlmMiddleware {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let instrumentation = self.source.get();
        let call = {
            let method = req.method().as_str();
            let url = req.url().as_str();
            let body = req.body().and_then(|b| b.as_bytes());
            guard(|| instrumentation.start(method, url, body)).flatten()
        };
        let Some(call) = call else {
            return next.run(req, extensions).await;
        };
        let _ = guard(|| inject(&call, req.headers_mut()));
        match next.run(req, extensions).await {
            Ok(resp) => Ok(wrap_reqwest_response(call, resp)),
            Err(e) => {
                let error_type = match &e {
                    reqwest_middleware::Error::Reqwest(re) => reqwest_error_type(re),
                    reqwest_middleware::Error::Middleware(_) => "middleware_error",
                };
                let _ = guard(move || call.on_transport_error(error_type));
                Err(e)
            }
        }
    }
}
