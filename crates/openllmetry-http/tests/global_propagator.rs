//! Trace context reaches the provider through the process-wide text-map propagator
//! (`opentelemetry::global::set_text_map_propagator`): a user's propagator is honoured, the
//! default no-op one still gets a W3C `traceparent`, and switching propagation off sends
//! nothing. Real HTTP on loopback: the replay server records the request headers it received.
//!
//! The global propagator is process-wide, so these tests live in their own test binary and
//! take a lock while they set it (cargo test runs the tests of one binary on threads).

mod common;

use std::sync::{Mutex, MutexGuard};

use common::{Replay, Run, run_with};
use openllmetry_testkit::ReceivedRequest;
use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::context::FutureExt as _;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{
    Extractor, Injector, TextMapCompositePropagator, TextMapPropagator,
};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::trace::noop::NoopTextMapPropagator;
use opentelemetry::{Context, KeyValue, global};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

const CASSETTE: &str = "openai/test_chat/test_chat_context_propagation.yaml";
const SPAN: &str = "openai.chat";

/// Holds the global propagator for one test.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Runtime::new().expect("runtime").block_on(f)
}

/// A B3 single-header propagator (`b3: {trace_id}-{span_id}-{sampled}`), standing in for any
/// propagator that is not W3C trace context.
#[derive(Debug)]
struct B3Single {
    fields: Vec<String>,
}

impl B3Single {
    fn new() -> Self {
        B3Single {
            fields: vec!["b3".to_owned()],
        }
    }
}

impl TextMapPropagator for B3Single {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if sc.is_valid() {
            let sampled = if sc.is_sampled() { "1" } else { "0" };
            injector.set(
                "b3",
                format!("{}-{}-{sampled}", sc.trace_id(), sc.span_id()),
            );
        }
    }

    fn extract_with_context(&self, cx: &Context, _extractor: &dyn Extractor) -> Context {
        cx.clone()
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// The one request the replay server received, and the LLM span's trace and span ids.
fn request_and_span(run: &Run) -> (ReceivedRequest, String, String) {
    let mut requests = run.server.requests();
    assert_eq!(requests.len(), 1);
    let span = run.span(SPAN);
    let sc = &span.span_context;
    (
        requests.remove(0),
        sc.trace_id().to_string(),
        sc.span_id().to_string(),
    )
}

#[test]
fn a_custom_global_propagator_writes_the_outgoing_headers() {
    let _g = serial();
    global::set_text_map_propagator(B3Single::new());
    let run = block_on(run_with(CASSETTE, Replay::default()));
    run.assert_pass_through();
    let (req, trace_id, span_id) = request_and_span(&run);
    assert_eq!(
        req.header("b3"),
        Some(format!("{trace_id}-{span_id}-1").as_str()),
        "the user's propagator wrote the LLM span's context"
    );
    // Only what the configured propagator writes: no W3C header besides it.
    assert_eq!(req.header("traceparent"), None);
    assert_eq!(req.header("tracestate"), None);

    // The usual SDK set-up (trace context + baggage): the current context's baggage goes out
    // with the LLM span's traceparent.
    global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]));
    let cx = Context::current_with_baggage([KeyValue::new("tenant", "acme")]);
    let run = block_on(run_with(CASSETTE, Replay::default()).with_context(cx));
    let (req, trace_id, span_id) = request_and_span(&run);
    assert_eq!(
        req.header("traceparent"),
        Some(format!("00-{trace_id}-{span_id}-01").as_str())
    );
    assert_eq!(req.header("baggage"), Some("tenant=acme"));
    assert_eq!(req.header("b3"), None);
    // The W3C propagator writes an empty `tracestate` when there is none: not sent.
    assert_eq!(req.header("tracestate"), None);
    global::set_text_map_propagator(NoopTextMapPropagator::new());
}

#[test]
fn the_default_noop_global_propagator_still_sends_a_w3c_traceparent() {
    let _g = serial();
    // What a process that never configured one has (set here so the order of the tests in
    // this binary does not matter).
    global::set_text_map_propagator(NoopTextMapPropagator::new());
    let run = block_on(run_with(CASSETTE, Replay::default()));
    run.assert_pass_through();
    let (req, trace_id, span_id) = request_and_span(&run);
    assert_eq!(
        req.header("traceparent"),
        Some(format!("00-{trace_id}-{span_id}-01").as_str())
    );
    assert_eq!(req.header("tracestate"), None);
}

#[test]
fn propagation_off_sends_nothing_whatever_the_global_propagator() {
    let _g = serial();
    let off = || Replay {
        propagate: false,
        ..Replay::default()
    };
    let installs: [fn(); 3] = [
        || global::set_text_map_propagator(B3Single::new()),
        || {
            global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
                Box::new(TraceContextPropagator::new()),
                Box::new(BaggagePropagator::new()),
            ]))
        },
        || global::set_text_map_propagator(NoopTextMapPropagator::new()),
    ];
    for install in installs {
        install();
        let cx = Context::current_with_baggage([KeyValue::new("tenant", "acme")]);
        let run = block_on(run_with(CASSETTE, off()).with_context(cx));
        run.assert_pass_through();
        let (req, _, _) = request_and_span(&run);
        for name in ["traceparent", "tracestate", "baggage", "b3"] {
            assert_eq!(req.header(name), None, "{name} sent with propagation off");
        }
    }
    global::set_text_map_propagator(NoopTextMapPropagator::new());
}
