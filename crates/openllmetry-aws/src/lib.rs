//! An HTTP client wrapper for the AWS SDK for Rust that records the Amazon Bedrock runtime
//! calls made with `aws-sdk-bedrockruntime`.
//!
//! The SDK sends every request through a smithy [`HttpClient`]. [`OpenLlmHttpClient`] wraps
//! the client you would have used (the SDK's default hyper client, or any other) and feeds
//! each request and response to the same IO-free [`openllmetry_core::Instrumentation`] as
//! the reqwest middleware and tower layer of `openllmetry-http`: `Converse`,
//! `ConverseStream` (AWS event-stream framing), `InvokeModel` and
//! `InvokeModelWithResponseStream` get the same spans, metrics, flavours and content switch.
//!
//! * The request is seen after the SDK signed it; the wrapper only adds the LLM span's trace
//!   context headers (`traceparent`, ...), which are not among the SigV4 signed headers, so
//!   the signature stays valid. Credentials, the `authorization` header and
//!   `x-amz-security-token` are never read into any span, metric or log.
//! * The response body is wrapped in [`openllmetry_http::ObservedBody`]: every byte reaches
//!   the SDK unchanged and at the moment it arrives, and a copy of each chunk goes to the
//!   recorder (bounded as there: [`openllmetry_core::budget`], the stream accumulators' caps).
//!   The span ends when the body ends, fails, or is dropped early (an event stream the caller
//!   stops reading).
//! * A panic in the recorder is caught and only stops the observation; an unparseable body
//!   is passed through and recorded as a fault.
//!
//! Requests that are not Bedrock runtime (or other LLM) calls pass through untouched, so one
//! wrapped client can serve every AWS service client of an application.
//!
//! ```no_run
//! # fn demo(inner: aws_smithy_runtime_api::client::http::SharedHttpClient) {
//! // `inner`: the HTTP client the SDK would have used, e.g.
//! // `aws_smithy_http_client::Builder::new().tls_provider(...).build_https()`.
//! let http_client = openllmetry_aws::instrument(inner);
//! // aws_config::defaults(BehaviorVersion::latest()).http_client(http_client) ...
//! // or aws_sdk_bedrockruntime::Config::builder().http_client(http_client) ...
//! # let _ = http_client; }
//! ```
//!
//! This crate depends only on the light smithy runtime crates (`aws-smithy-runtime-api`,
//! `aws-smithy-types`), not on any AWS service crate, and brings no TLS stack of its own.

#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

use std::fmt;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use openllmetry_core::instrument::guard;
use openllmetry_core::{Instrumentation, LlmCall, ResponseObserver};
use openllmetry_http::ObservedBody;

/// Wraps `inner` so the calls the SDK makes through it are recorded with
/// [`Instrumentation::global`]; pass the result to the SDK config's `http_client(...)`.
pub fn instrument(inner: impl HttpClient + 'static) -> SharedHttpClient {
    SharedHttpClient::new(OpenLlmHttpClient::new(inner))
}

/// `error.type` of a call whose connector failed: `timeout`, `io_error` (the connection
/// could not be made or was lost), `request_error` (anything else).
fn connector_error_type(e: &ConnectorError) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_io() {
        "io_error"
    } else {
        "request_error"
    }
}

/// Which instrumentation the wrapper records with.
#[derive(Debug, Clone, Default)]
enum Source {
    /// [`Instrumentation::global`] at the time of each request (so a client built before
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

/// A smithy [`HttpClient`] that records the LLM calls made through the wrapped client.
///
/// Each connector the SDK asks for is the inner client's connector, wrapped; configuration
/// validation and connector metadata are the inner client's. The wrapper sits below the SDK's
/// retry loop, so each attempt is its own span with its own HTTP status. A connector failure
/// ends the span with `error.type` `timeout`, `io_error` (the connection could not be made or
/// was lost) or `request_error`, and is returned to the SDK unchanged.
#[derive(Clone)]
pub struct OpenLlmHttpClient<C> {
    inner: C,
    source: Source,
}

impl<C: fmt::Debug> fmt::Debug for OpenLlmHttpClient<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenLlmHttpClient")
            .field("inner", &self.inner)
            .field("source", &self.source)
            .finish()
    }
}

impl<C> OpenLlmHttpClient<C> {
    /// Records with [`Instrumentation::global`] (what the SDK's `init` configured).
    pub fn new(inner: C) -> Self {
        OpenLlmHttpClient {
            inner,
            source: Source::Global,
        }
    }

    /// Records with the given instrumentation.
    pub fn with_instrumentation(inner: C, instrumentation: Instrumentation) -> Self {
        OpenLlmHttpClient {
            inner,
            source: Source::Fixed(instrumentation),
        }
    }

    /// The wrapped client.
    pub fn get_ref(&self) -> &C {
        &self.inner
    }
}

impl<C: HttpClient> HttpClient for OpenLlmHttpClient<C> {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(OpenLlmConnector {
            inner: self.inner.http_connector(settings, components),
            source: self.source.clone(),
        })
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner
            .validate_base_client_config(runtime_components, cfg)
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

/// The connector handed to the SDK: records each call, then calls the inner connector.
#[derive(Debug)]
struct OpenLlmConnector {
    inner: SharedHttpConnector,
    source: Source,
}

impl HttpConnector for OpenLlmConnector {
    fn call(&self, mut request: HttpRequest) -> HttpConnectorFuture {
        let instrumentation = self.source.get();
        let call = guard(|| {
            instrumentation.start(request.method(), request.uri(), request.body().bytes())
        })
        .flatten();
        let Some(call) = call else {
            return self.inner.call(request);
        };
        let _ = guard(|| inject(&call, &mut request));
        let fut = self.inner.call(request);
        HttpConnectorFuture::new(async move {
            match fut.await {
                Ok(response) => Ok(observe(call, response)),
                Err(e) => {
                    let error_type = connector_error_type(&e);
                    let _ = guard(move || call.on_transport_error(error_type));
                    Err(e)
                }
            }
        })
    }
}

/// Adds the call's propagation headers (overwriting a header of the same name); a name or
/// value that is not a valid header is skipped. These headers are added after signing and
/// are not in the SigV4 `SignedHeaders`, so the signature still holds.
fn inject(call: &LlmCall, request: &mut HttpRequest) {
    for (name, value) in call.propagation_headers() {
        let _ = request.headers_mut().try_insert(name, value);
    }
}

/// Starts observing the response head and wraps the body so each chunk is observed as the
/// SDK reads it. Status and headers are untouched.
fn observe(call: LlmCall, mut response: HttpResponse) -> HttpResponse {
    let observer: Option<ResponseObserver> = {
        let status = response.status().as_u16();
        let headers = response.headers();
        let ct = headers.get("content-type");
        let ce = headers.get("content-encoding");
        guard(move || call.on_response(status, ct, ce))
    };
    let body = response.take_body();
    *response.body_mut() = SdkBody::from_body_1_x(ObservedBody::new(body, observer));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connector_errors_map_to_low_cardinality_error_types() {
        let e = || -> BoxError { "x".into() };
        assert_eq!(
            connector_error_type(&ConnectorError::timeout(e())),
            "timeout"
        );
        assert_eq!(connector_error_type(&ConnectorError::io(e())), "io_error");
        assert_eq!(
            connector_error_type(&ConnectorError::user(e())),
            "request_error"
        );
        assert_eq!(
            connector_error_type(&ConnectorError::other(e(), None)),
            "request_error"
        );
    }
}
