//! Faults inside the observation path end the span once, with the fault recorded, and never
//! reach the caller (issue 10, item 13).

use std::sync::{Arc, Mutex};

use bytes::{Buf, Bytes};
use http_body_util::{BodyExt, StreamBody};
use openllmetry_core::{FaultKind, Instrumentation};
use openllmetry_http::ObservedBody;
use openllmetry_testkit::capture::{Capture, attr_bool};

/// A two-segment buffer whose vectored view panics: the observer (which asks for it) panics,
/// while a caller reading it with `chunk`/`advance` is unaffected.
struct TwoSegments {
    a: Bytes,
    b: Bytes,
}

impl Buf for TwoSegments {
    fn remaining(&self) -> usize {
        self.a.len() + self.b.len()
    }
    fn chunk(&self) -> &[u8] {
        if self.a.is_empty() { &self.b } else { &self.a }
    }
    fn advance(&mut self, mut cnt: usize) {
        let n = cnt.min(self.a.len());
        self.a.advance(n);
        cnt -= n;
        self.b.advance(cnt);
    }
    fn chunks_vectored<'a>(&'a self, _dst: &mut [std::io::IoSlice<'a>]) -> usize {
        panic!("deliberate panic while the observer reads a frame");
    }
}

#[tokio::test]
async fn a_panicking_observer_ends_its_span_once_with_the_fault() {
    let capture = Capture::new();
    let faults = Arc::new(Mutex::new(Vec::new()));
    let seen = faults.clone();
    let instr = Instrumentation::builder()
        .with_tracer_provider(capture.tracer_provider())
        .with_fault_hook(move |f| seen.lock().unwrap().push(f.kind))
        .build();
    let call = instr
        .start(
            "POST",
            "https://api.openai.com/v1/chat/completions",
            Some(br#"{"model":"gpt-4o","messages":[]}"#),
        )
        .expect("an LLM URL");
    let observer = call.on_response(200, Some("text/event-stream"), None);
    let frames = vec![
        Ok::<_, std::io::Error>(http_body::Frame::data(TwoSegments {
            a: Bytes::from_static(b"data: {\"id\":\"x\","),
            b: Bytes::from_static(b"\"choices\":[]}\n\n"),
        })),
        Ok(http_body::Frame::data(TwoSegments {
            a: Bytes::from_static(b"data: [DO"),
            b: Bytes::from_static(b"NE]\n\n"),
        })),
    ];
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let body = ObservedBody::new(
        StreamBody::new(futures_util::stream::iter(frames)),
        Some(observer),
    );
    let collected = body.collect().await;
    std::panic::set_hook(prev);
    let mut got = collected.expect("the body reads fine").aggregate();
    let got = got.copy_to_bytes(got.remaining());
    assert_eq!(
        &got[..],
        b"data: {\"id\":\"x\",\"choices\":[]}\n\ndata: [DONE]\n\n"
    );
    capture.flush();
    let spans = capture.spans();
    assert_eq!(spans.len(), 1, "the span ends exactly once: {spans:?}");
    assert_eq!(
        attr_bool(&spans[0], "openllmetry.response.incomplete"),
        Some(true)
    );
    assert_eq!(*faults.lock().unwrap(), vec![FaultKind::RecorderPanicked]);
    drop(instr);
}
