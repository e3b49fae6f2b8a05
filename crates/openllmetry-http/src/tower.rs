//! The tower adapter: [`OpenLlmLayer`] and [`OpenLlmService`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use openllmetry_core::Instrumentation;
use openllmetry_core::instrument::guard;
use openllmetry_core::skim::LateSkim;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::ObservedBody;
use crate::{Source, inject, observe_head, reqwest_error_type, wrap_reqwest_response};

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'static>>;

/// A [`Layer`] that records the LLM calls its service makes. See [`OpenLlmService`].
///
/// ```no_run
/// # #[cfg(feature = "async-openai")]
/// # fn demo() {
/// use async_openai::{Client, config::OpenAIConfig, middleware::ReqwestService};
/// use openllmetry_http::OpenLlmLayer;
/// use tower_layer::Layer;
/// let service = OpenLlmLayer::new().layer(ReqwestService::new(reqwest::Client::new()));
/// let client = Client::with_config(OpenAIConfig::default()).with_http_service(service);
/// # let _ = client; }
/// ```
#[derive(Debug, Clone, Default)]
pub struct OpenLlmLayer {
    source: Source,
    labels: Labels,
}

/// Base URLs labelled with a provider name, longest first.
type Labels = std::sync::Arc<Vec<(String, &'static str)>>;

impl OpenLlmLayer {
    /// Records with [`Instrumentation::global`] (what the SDK's `init` configured).
    pub fn new() -> Self {
        Self::default()
    }

    /// Records with the given instrumentation.
    pub fn with_instrumentation(instrumentation: Instrumentation) -> Self {
        OpenLlmLayer {
            source: Source::Fixed(instrumentation),
            labels: Labels::default(),
        }
    }

    /// Labels the `reqwest::Request` calls under `base_url` with `provider_name`
    /// (`gen_ai.provider.name`), for an upstream whose URL does not name its provider (a
    /// proxy, a loopback server); the longest matching base URL wins. See
    /// [`openllmetry_core::detect::known_provider`] for the names.
    pub fn with_upstream_provider(
        mut self,
        base_url: impl Into<String>,
        provider_name: &'static str,
    ) -> Self {
        let base = base_url.into().trim_end_matches('/').to_owned();
        let mut labels: Vec<_> = self
            .labels
            .iter()
            .filter(|(b, _)| *b != base)
            .cloned()
            .collect();
        labels.push((base, provider_name));
        labels.sort_by_key(|(b, _)| std::cmp::Reverse(b.len()));
        self.labels = std::sync::Arc::new(labels);
        self
    }
}

impl<S> Layer<S> for OpenLlmLayer {
    type Service = OpenLlmService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OpenLlmService {
            inner,
            source: self.source.clone(),
            labels: self.labels.clone(),
        }
    }
}

/// A service that records the LLM calls made through the inner service. It implements:
///
/// * `Service<reqwest::Request>` over services returning `reqwest::Response` (e.g.
///   `reqwest::Client`): the response keeps its type, its body is observed;
/// * `Service<http::Request<B>>` over hyper-style services returning `http::Response<RB>`,
///   for request bodies whose bytes can be read without consuming them ([`PeekBody`]);
///   the response body becomes [`ObservedBody<RB>`];
/// * with the `async-openai` feature, `Service<async_openai::middleware::HttpRequestFactory>`
///   for `async_openai::Client::with_http_service`.
#[derive(Debug, Clone)]
pub struct OpenLlmService<S> {
    inner: S,
    source: Source,
    labels: Labels,
}

impl<S> OpenLlmService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S> Service<reqwest::Request> for OpenLlmService<S>
where
    S: Service<reqwest::Request, Response = reqwest::Response>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    for<'a> &'a S::Error: IntoErrorType,
{
    type Response = reqwest::Response;
    type Error = S::Error;
    type Future = BoxFuture<reqwest::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: reqwest::Request) -> Self::Future {
        self.call_observing(req, None)
    }
}

impl<S> OpenLlmService<S>
where
    S: Service<reqwest::Request, Response = reqwest::Response>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    for<'a> &'a S::Error: IntoErrorType,
{
    /// Like `call`, for a request whose body the caller streams through without keeping a
    /// copy because the observation budget ([`openllmetry_core::budget`]) is spent: the call is
    /// recorded with an `observation_budget_exceeded` fault and the span marked
    /// `openllmetry.request.truncated`. Its request attributes come from `skim`, which the
    /// caller fills while the body passes ([`openllmetry_core::skim`]); if the skim is not
    /// filled by the time the response head arrives, the span has no request attributes.
    pub fn call_body_skipped(
        &mut self,
        req: reqwest::Request,
        skim: LateSkim,
    ) -> BoxFuture<reqwest::Response, S::Error> {
        self.call_observing(req, Some(skim))
    }

    /// `skim`: `None` when the body is in `req` (shown), `Some` when it is streamed through.
    fn call_observing(
        &mut self,
        mut req: reqwest::Request,
        skim: Option<LateSkim>,
    ) -> BoxFuture<reqwest::Response, S::Error> {
        let body_shown = skim.is_none();
        let instrumentation = self.source.get();
        let call = {
            let body = req.body().and_then(|b| b.as_bytes());
            let (method, url) = (req.method().as_str(), req.url().as_str());
            let label = openllmetry_core::detect::provider_for_base(&self.labels, url);
            if body_shown {
                guard(|| instrumentation.start_labelled(method, url, body, label)).flatten()
            } else {
                guard(|| instrumentation.start_body_skipped(method, url, label)).flatten()
            }
        };
        if let Some(call) = &call {
            let _ = guard(|| inject(call, req.headers_mut()));
        }
        let fut = self.inner.call(req);
        Box::pin(async move {
            let result = fut.await;
            match (call, result) {
                (None, r) => r,
                (Some(mut call), Ok(resp)) => {
                    if let Some(skim) = skim {
                        let _ = guard(|| call.set_skimmed_request(skim.get()));
                    }
                    Ok(wrap_reqwest_response(call, resp))
                }
                (Some(call), Err(e)) => {
                    let error_type = (&e).error_type();
                    let _ = guard(move || call.on_transport_error(error_type));
                    Err(e)
                }
            }
        })
    }
}

/// `error.type` of a transport error returned by the inner service.
pub trait IntoErrorType {
    /// A short, low-cardinality error class.
    fn error_type(self) -> &'static str;
}

impl IntoErrorType for &reqwest::Error {
    fn error_type(self) -> &'static str {
        reqwest_error_type(self)
    }
}

impl IntoErrorType for &Box<dyn std::error::Error + Send + Sync> {
    fn error_type(self) -> &'static str {
        match self.downcast_ref::<reqwest::Error>() {
            Some(e) => reqwest_error_type(e),
            None => "request_error",
        }
    }
}

impl IntoErrorType for &std::convert::Infallible {
    fn error_type(self) -> &'static str {
        "request_error"
    }
}

/// A request body whose bytes can be read without consuming it.
pub trait PeekBody {
    /// The whole body, if it is in memory.
    fn peek(&self) -> Option<&[u8]>;

    /// The whole body, for in-memory bodies that can only be read by polling them (such as
    /// `http_body_util::Full`): the body is read at once, without waiting, and replaced by
    /// an equivalent one that sends the same bytes. `None` (the default) when that is not
    /// possible; [`PeekBody::peek`] is then used.
    fn read_in_memory(&mut self) -> Option<bytes::Bytes> {
        None
    }
}

impl PeekBody for bytes::Bytes {
    fn peek(&self) -> Option<&[u8]> {
        Some(self)
    }
}

impl PeekBody for Vec<u8> {
    fn peek(&self) -> Option<&[u8]> {
        Some(self)
    }
}

impl PeekBody for String {
    fn peek(&self) -> Option<&[u8]> {
        Some(self.as_bytes())
    }
}

impl PeekBody for reqwest::Body {
    fn peek(&self) -> Option<&[u8]> {
        self.as_bytes()
    }
}

impl PeekBody for http_body_util::Full<bytes::Bytes> {
    fn peek(&self) -> Option<&[u8]> {
        None
    }

    /// `Full` holds one frame and answers its first poll at once; the frame's bytes are put
    /// back in a new `Full`, so what is sent is unchanged.
    fn read_in_memory(&mut self) -> Option<bytes::Bytes> {
        use http_body::Body as _;
        self.size_hint().exact()?;
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match Pin::new(&mut *self).poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let data = frame.into_data().ok()?;
                *self = http_body_util::Full::new(data.clone());
                Some(data)
            }
            // Empty (already read): nothing to observe, and the body is left as it was.
            _ => None,
        }
    }
}

impl<S, B, RB> Service<http::Request<B>> for OpenLlmService<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    for<'a> &'a S::Error: IntoErrorType,
    B: PeekBody,
    RB: Send + 'static,
{
    type Response = http::Response<ObservedBody<RB>>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let instrumentation = self.source.get();
        let url = req.uri().to_string();
        let read = guard(|| req.body_mut().read_in_memory()).flatten();
        let call = guard(|| {
            let body = read.as_deref().or_else(|| req.body().peek());
            instrumentation.start(req.method().as_str(), &url, body)
        })
        .flatten();
        if let Some(call) = &call {
            let _ = guard(|| inject(call, req.headers_mut()));
        }
        let fut = self.inner.call(req);
        Box::pin(async move {
            match (call, fut.await) {
                (None, r) => r.map(|resp| resp.map(|b| ObservedBody::new(b, None))),
                (Some(call), Ok(resp)) => {
                    let observer = observe_head(call, resp.status(), resp.headers());
                    Ok(resp.map(|b| ObservedBody::new(b, observer)))
                }
                (Some(call), Err(e)) => {
                    let error_type = (&e).error_type();
                    let _ = guard(move || call.on_transport_error(error_type));
                    Err(e)
                }
            }
        })
    }
}

/// `error.type` of an attempt that a retry layer *inside* [`OpenLlmService`] retried: with
/// async-openai's `OpenAIRetryLayer` below this layer, the attempt's response is consumed by
/// the retry layer and never seen here. Put [`OpenLlmLayer`] inside the retry layer (closer
/// to `ReqwestService`) to record each attempt's real HTTP status instead.
pub const RETRIED: &str = "retried";

#[cfg(feature = "async-openai")]
mod async_openai_impl {
    use std::sync::{Arc, Mutex};

    use async_openai::error::OpenAIError;
    use async_openai::middleware::HttpRequestFactory;
    use openllmetry_core::LlmCall;

    use super::*;

    impl IntoErrorType for &OpenAIError {
        fn error_type(self) -> &'static str {
            match self {
                OpenAIError::Reqwest(e) => reqwest_error_type(e),
                _ => "request_error",
            }
        }
    }

    impl<S> Service<HttpRequestFactory> for OpenLlmService<S>
    where
        S: Service<HttpRequestFactory, Response = reqwest::Response>,
        S::Future: Send + 'static,
        S::Error: Send + 'static,
    {
        type Response = reqwest::Response;
        type Error = S::Error;
        type Future = BoxFuture<reqwest::Response, S::Error>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
            // The factory is rebuilt for each attempt (retries); each build starts a call and
            // parks it here, replacing an earlier attempt's call. A retry layer inside this
            // service consumed that attempt's response, which this service never sees: the
            // earlier call ends with `error.type` [`RETRIED`] (not as cancelled). Placed inside
            // the retry layer, this service sees every attempt's response and status.
            let slot: Arc<Mutex<Option<LlmCall>>> = Arc::default();
            let instrumentation = self.source.get();
            let parked = slot.clone();
            let wrapped = HttpRequestFactory::new(move || {
                let factory = factory.clone();
                let parked = parked.clone();
                let instrumentation = instrumentation.clone();
                async move {
                    let mut req = factory.build().await?;
                    let call = {
                        let body = req.body().and_then(|b| b.as_bytes());
                        guard(|| {
                            instrumentation.start(req.method().as_str(), req.url().as_str(), body)
                        })
                        .flatten()
                    };
                    if let Some(call) = call {
                        let _ = guard(|| inject(&call, req.headers_mut()));
                        let earlier = parked.lock().ok().and_then(|mut s| s.replace(call));
                        if let Some(earlier) = earlier {
                            let _ = guard(move || earlier.on_transport_error(RETRIED));
                        }
                    }
                    Ok::<_, OpenAIError>(req)
                }
            });
            let fut = self.inner.call(wrapped);
            Box::pin(async move {
                let result = fut.await;
                let call = slot.lock().ok().and_then(|mut s| s.take());
                match (call, result) {
                    (None, r) => r,
                    (Some(call), Ok(resp)) => Ok(wrap_reqwest_response(call, resp)),
                    (Some(call), Err(e)) => {
                        let _ = guard(move || call.on_transport_error("request_error"));
                        Err(e)
                    }
                }
            })
        }
    }
}
