//! [`ObservedBody`]: an `http_body::Body` that shows every data frame to the recorder.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use openllmetry_core::ResponseObserver;
use openllmetry_core::instrument::guard;
use pin_project_lite::pin_project;

pin_project! {
    /// A response body that passes every frame through unchanged, at the moment it arrives,
    /// and shows a copy of each data frame to a [`ResponseObserver`].
    ///
    /// The observer is told when the body ends, fails, or is dropped early (the span then
    /// records the partial data). A panic inside the observer is caught, ends the span once
    /// with a `recorder_panicked` fault, and turns the observation off; it never reaches the
    /// caller.
    pub struct ObservedBody<B> {
        #[pin]
        inner: B,
        observer: Slot,
    }
}

/// Holds the observer; dropping it early (the body was dropped before its end) lets the
/// observer record the partial data, behind a panic guard.
struct Slot(Option<ResponseObserver>);

impl Slot {
    fn as_mut(&mut self) -> Option<&mut ResponseObserver> {
        self.0.as_mut()
    }

    fn take(&mut self) -> Option<ResponseObserver> {
        self.0.take()
    }

    fn is_some(&self) -> bool {
        self.0.is_some()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(obs) = self.0.take() {
            let _ = guard(move || drop(obs));
        }
    }
}

impl<B> fmt::Debug for ObservedBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObservedBody")
            .field("observing", &self.observer.is_some())
            .finish_non_exhaustive()
    }
}

impl<B> ObservedBody<B> {
    /// Wraps `inner`; with `observer == None` it is a plain pass-through.
    pub fn new(inner: B, observer: Option<ResponseObserver>) -> Self {
        ObservedBody {
            inner,
            observer: Slot(observer),
        }
    }

    /// The wrapped body.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B> Body for ObservedBody<B>
where
    B: Body,
    B::Error: fmt::Display,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let mut inner = this.inner;
        let polled = inner.as_mut().poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(obs), Some(data)) = (this.observer.as_mut(), frame.data_ref()) {
                    let ok = guard(|| {
                        if data.chunk().len() == data.remaining() {
                            obs.on_data(data.chunk());
                            return true;
                        }
                        // A multi-segment buffer: observe each segment in order.
                        let mut slices = [std::io::IoSlice::new(&[]); 64];
                        let n = data.chunks_vectored(&mut slices);
                        let seen: usize = slices[..n].iter().map(|s| s.len()).sum();
                        if seen != data.remaining() {
                            return false;
                        }
                        for s in &slices[..n] {
                            obs.on_data(s);
                        }
                        true
                    });
                    match ok {
                        Some(true) => {}
                        // Could not see the whole frame: end the observation with what it has.
                        Some(false) => {
                            if let Some(obs) = this.observer.take() {
                                let _ = guard(move || drop(obs));
                            }
                        }
                        // The observer panicked: feed it nothing more, but end its span once
                        // with the fault recorded (behind a guard: if that panics too, the
                        // observer is dropped during the unwind and the span ends there).
                        None => {
                            if let Some(obs) = this.observer.take() {
                                let _ = guard(move || obs.on_panic());
                            }
                        }
                    }
                }
                // That was the last frame: a consumer may stop polling here (hyper does once
                // a Content-Length body is complete), so end the observation now.
                if inner.is_end_stream()
                    && let Some(obs) = this.observer.take()
                {
                    let _ = guard(move || obs.on_end());
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(obs) = this.observer.take() {
                    let _ = guard(move || obs.on_error("body_error"));
                }
            }
            Poll::Ready(None) => {
                if let Some(obs) = this.observer.take() {
                    let _ = guard(move || obs.on_end());
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
