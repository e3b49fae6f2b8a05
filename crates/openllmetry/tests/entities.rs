//! Entity spans: the `#[workflow]`/`#[task]`/`#[agent]`/`#[tool]` macros and the `Entity` API.
//!
//! One tracer provider (in-memory exporter + `ContextSpanProcessor`) is installed globally once
//! for this test binary; each test finds its own spans by a root span name unique to it.

use std::sync::{OnceLock, RwLock};

use openllmetry::entity::{Entity, EntityKind};
use openllmetry::span_processor::ContextSpanProcessor;
use openllmetry::{agent, task, tool, workflow};
use opentelemetry::trace::{SpanId, SpanKind, Status, Tracer as _};
use opentelemetry::{Value, global};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use serde::Serialize;

// ===== harness =====

fn pipeline() -> &'static (InMemorySpanExporter, SdkTracerProvider) {
    static PIPELINE: OnceLock<(InMemorySpanExporter, SdkTracerProvider)> = OnceLock::new();
    PIPELINE.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(ContextSpanProcessor::new())
            .with_simple_exporter(exporter.clone())
            .build();
        global::set_tracer_provider(provider.clone());
        (exporter, provider)
    })
}

fn exporter() -> &'static InMemorySpanExporter {
    &pipeline().0
}

/// Content capture is process-wide: tests that look at input/output hold a read lock, the test
/// that turns it off holds the write lock.
static CONTENT: RwLock<()> = RwLock::new(());

fn content_on() -> std::sync::RwLockReadGuard<'static, ()> {
    CONTENT.read().unwrap_or_else(|e| e.into_inner())
}

/// All finished spans of the trace whose root span is named `root` (unique per test).
fn trace(root: &str) -> Vec<SpanData> {
    let spans = exporter().get_finished_spans().unwrap();
    let roots: Vec<_> = spans.iter().filter(|s| s.name == root).collect();
    assert_eq!(roots.len(), 1, "expected one span named {root}");
    let trace_id = roots[0].span_context.trace_id();
    spans
        .into_iter()
        .filter(|s| s.span_context.trace_id() == trace_id)
        .collect()
}

fn span<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let found: Vec<_> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(
        found.len(),
        1,
        "expected one span named {name}, got {spans:#?}"
    );
    found[0]
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    let values: Vec<_> = span
        .attributes
        .iter()
        .filter(|kv| kv.key.as_str() == key)
        .collect();
    assert!(
        values.len() <= 1,
        "{key} set {} times on {}",
        values.len(),
        span.name
    );
    values.first().map(|kv| kv.value.clone())
}

fn str_attr(span: &SpanData, key: &str) -> Option<String> {
    attr(span, key).map(|v| v.as_str().into_owned())
}

fn tracer() -> opentelemetry::global::BoxedTracer {
    global::tracer("test-llm")
}

/// Stands in for an LLM call made by the core instrumentation: a span started with
/// `Context::current()` as parent.
fn llm_call(name: &'static str) {
    let _span = tracer().start(name);
}

fn assert_child_of(child: &SpanData, parent: &SpanData) {
    assert_eq!(
        child.parent_span_id,
        parent.span_context.span_id(),
        "{} should be a child of {}",
        child.name,
        parent.name
    );
}

// ===== a workflow with two tasks (sync) =====

#[workflow(name = "wf_two_tasks", version = 2)]
fn two_tasks(question: &str) -> String {
    let a = first_task(question);
    let b = second_task(a.len());
    format!("{a}/{b}")
}

#[task(name = "first")]
fn first_task(q: &str) -> String {
    llm_call("llm.in.first");
    q.to_uppercase()
}

#[task(name = "second")]
fn second_task(n: usize) -> usize {
    lookup(n) + 1
}

#[tool]
fn lookup(n: usize) -> usize {
    llm_call("llm.in.lookup");
    n * 10
}

#[test]
fn workflow_with_two_tasks() {
    exporter();
    let _content = content_on();
    assert_eq!(two_tasks("hi"), "HI/21");

    let spans = trace("wf_two_tasks.workflow");
    let wf = span(&spans, "wf_two_tasks.workflow");
    let first = span(&spans, "first.task");
    let second = span(&spans, "second.task");
    let tool = span(&spans, "lookup.tool");
    let llm1 = span(&spans, "llm.in.first");
    let llm2 = span(&spans, "llm.in.lookup");
    assert_eq!(spans.len(), 6);

    // Parenting.
    assert_eq!(wf.parent_span_id, SpanId::INVALID);
    assert_child_of(first, wf);
    assert_child_of(second, wf);
    assert_child_of(llm1, first);
    assert_child_of(tool, second);
    assert_child_of(llm2, tool);

    // Kinds, names, versions, scope.
    for (s, kind, name) in [
        (wf, "workflow", "wf_two_tasks"),
        (first, "task", "first"),
        (second, "task", "second"),
        (tool, "tool", "lookup"),
    ] {
        assert_eq!(s.span_kind, SpanKind::Internal);
        assert_eq!(str_attr(s, "traceloop.span.kind").as_deref(), Some(kind));
        assert_eq!(str_attr(s, "traceloop.entity.name").as_deref(), Some(name));
        assert_eq!(s.instrumentation_scope.name(), "openllmetry");
        assert_eq!(s.status, Status::Unset);
    }
    assert_eq!(attr(wf, "traceloop.entity.version"), Some(Value::I64(2)));
    assert_eq!(attr(first, "traceloop.entity.version"), None);
    assert_eq!(
        str_attr(tool, "gen_ai.tool.name").as_deref(),
        Some("lookup")
    );
    assert_eq!(attr(second, "gen_ai.tool.name"), None);
    assert_eq!(attr(llm2, "gen_ai.tool.name"), None);

    // The workflow name is on every span of the workflow, LLM spans included.
    for s in &spans {
        assert_eq!(
            str_attr(s, "traceloop.workflow.name").as_deref(),
            Some("wf_two_tasks"),
            "{}",
            s.name
        );
    }

    // Paths: an entity's own span has its parent's path; children the chained path.
    assert_eq!(attr(wf, "traceloop.entity.path"), None);
    assert_eq!(attr(first, "traceloop.entity.path"), None);
    assert_eq!(attr(second, "traceloop.entity.path"), None);
    assert_eq!(
        str_attr(llm1, "traceloop.entity.path").as_deref(),
        Some("first")
    );
    assert_eq!(
        str_attr(tool, "traceloop.entity.path").as_deref(),
        Some("second")
    );
    assert_eq!(
        str_attr(llm2, "traceloop.entity.path").as_deref(),
        Some("second.lookup")
    );

    // Input and output as JSON.
    assert_eq!(
        str_attr(wf, "traceloop.entity.input").as_deref(),
        Some(r#"{"question":"hi"}"#)
    );
    assert_eq!(
        str_attr(wf, "traceloop.entity.output").as_deref(),
        Some(r#""HI/21""#)
    );
    assert_eq!(
        str_attr(second, "traceloop.entity.input").as_deref(),
        Some(r#"{"n":2}"#)
    );
    assert_eq!(
        str_attr(second, "traceloop.entity.output").as_deref(),
        Some("21")
    );
    // Non-entity spans get no input/output.
    assert_eq!(attr(llm1, "traceloop.entity.input"), None);
}

#[test]
fn nothing_leaks_after_the_workflow_ends() {
    exporter();
    two_tasks_again();
    // Upstream #1518: workflow name and path stayed attached after the workflow returned.
    llm_call("llm.after.workflow");
    let after = &trace("llm.after.workflow")[0];
    assert_eq!(attr(after, "traceloop.workflow.name"), None);
    assert_eq!(attr(after, "traceloop.entity.path"), None);
    assert_eq!(after.parent_span_id, SpanId::INVALID);
}

#[workflow(name = "wf_leak")]
fn two_tasks_again() {
    first_task("x");
}

// ===== async =====

#[workflow(name = "wf_async")]
async fn async_workflow(items: Vec<u32>) -> u32 {
    let mut sum = 0;
    for item in items {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        sum += async_step(item).await;
    }
    // A task spawned on another worker keeps its parent through `with_current_context`.
    let spawned = tokio::spawn(opentelemetry::context::FutureExt::with_current_context(
        async_step(100),
    ));
    sum + spawned.await.unwrap()
}

#[task]
async fn async_step(item: u32) -> u32 {
    tokio::task::yield_now().await;
    llm_call("llm.in.async_step");
    tokio::task::yield_now().await;
    item * 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// The test future is driven by `block_on` on the test thread; the lock only keeps the
// content-off test from running meanwhile.
#[allow(clippy::await_holding_lock)]
async fn async_workflow_and_tasks_on_a_multi_thread_runtime() {
    exporter();
    let _content = content_on();
    assert_eq!(async_workflow(vec![1, 2]).await, 206);

    let spans = trace("wf_async.workflow");
    let wf = span(&spans, "wf_async.workflow");
    let steps: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "async_step.task")
        .collect();
    let llms: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "llm.in.async_step")
        .collect();
    assert_eq!(steps.len(), 3);
    assert_eq!(llms.len(), 3);
    for step in &steps {
        assert_child_of(step, wf);
        assert_eq!(
            str_attr(step, "traceloop.workflow.name").as_deref(),
            Some("wf_async")
        );
    }
    for llm in &llms {
        assert!(
            steps
                .iter()
                .any(|s| llm.parent_span_id == s.span_context.span_id())
        );
        assert_eq!(
            str_attr(llm, "traceloop.entity.path").as_deref(),
            Some("async_step")
        );
        assert_eq!(
            str_attr(llm, "traceloop.workflow.name").as_deref(),
            Some("wf_async")
        );
    }
    assert_eq!(
        str_attr(wf, "traceloop.entity.input").as_deref(),
        Some(r#"{"items":[1,2]}"#)
    );
    assert_eq!(
        str_attr(wf, "traceloop.entity.output").as_deref(),
        Some("206")
    );

    // The worker threads kept nothing: a span started on them later has no workflow.
    tokio::spawn(async { llm_call("llm.after.async") })
        .await
        .unwrap();
    let after = &trace("llm.after.async")[0];
    assert_eq!(attr(after, "traceloop.workflow.name"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_an_async_entity_ends_its_span_without_error() {
    exporter();
    let fut = cancelled_workflow();
    // Poll once (up to the sleep), then drop.
    let _ = tokio::time::timeout(std::time::Duration::from_millis(5), fut).await;
    let spans = trace("wf_cancelled.workflow");
    let wf = span(&spans, "wf_cancelled.workflow");
    assert_eq!(wf.status, Status::Unset);
}

#[workflow(name = "wf_cancelled")]
async fn cancelled_workflow() {
    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
}

// ===== methods =====

#[derive(Serialize)]
struct Counter {
    count: u32,
}

impl Counter {
    #[workflow(name = "wf_methods")]
    fn run(&mut self) -> u32 {
        self.bump(2);
        let total = self.get();
        let copy = Counter { count: total };
        copy.into_total()
    }

    #[task]
    fn bump(&mut self, by: u32) {
        self.count += by;
    }

    #[task(name = "read")]
    fn get(&self) -> u32 {
        self.count
    }

    #[agent]
    fn into_total(self) -> u32 {
        self.count
    }

    #[tool(name = "async_method", version = 7)]
    async fn async_get(&self) -> u32 {
        tokio::task::yield_now().await;
        self.count
    }
}

#[test]
fn methods_by_ref_by_mut_ref_and_by_value() {
    exporter();
    let _content = content_on();
    let mut counter = Counter { count: 1 };
    assert_eq!(counter.run(), 3);
    let spans = trace("wf_methods.workflow");
    let wf = span(&spans, "wf_methods.workflow");
    for name in ["bump.task", "read.task", "into_total.agent"] {
        let s = span(&spans, name);
        assert_child_of(s, wf);
        // `self` is never part of the input.
        let input = str_attr(s, "traceloop.entity.input");
        assert!(
            input.as_deref().is_none_or(|i| !i.contains("count")),
            "{input:?}"
        );
    }
    assert_eq!(
        str_attr(span(&spans, "bump.task"), "traceloop.entity.input").as_deref(),
        Some(r#"{"by":2}"#)
    );
    // `()` output is not recorded.
    assert_eq!(
        attr(span(&spans, "bump.task"), "traceloop.entity.output"),
        None
    );
    assert_eq!(
        str_attr(span(&spans, "read.task"), "traceloop.entity.output").as_deref(),
        Some("3")
    );
    let agent = span(&spans, "into_total.agent");
    assert_eq!(
        str_attr(agent, "gen_ai.agent.name").as_deref(),
        Some("into_total")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_method() {
    exporter();
    let counter = Counter { count: 5 };
    let n = Entity::workflow("wf_async_method")
        .instrument(counter.async_get())
        .await;
    assert_eq!(n, 5);
    let spans = trace("wf_async_method.workflow");
    let tool = span(&spans, "async_method.tool");
    assert_child_of(tool, span(&spans, "wf_async_method.workflow"));
    assert_eq!(attr(tool, "traceloop.entity.version"), Some(Value::I64(7)));
    assert_eq!(
        str_attr(tool, "gen_ai.tool.name").as_deref(),
        Some("async_method")
    );
}

// ===== agents, tools and paths =====

#[workflow(name = "wf_agent")]
fn agent_workflow() {
    research_agent("rust");
    llm_call("llm.in.workflow");
}

#[agent(name = "researcher")]
fn research_agent(topic: &str) {
    search_tool(topic);
}

#[tool(name = "search")]
fn search_tool(_query: &str) {
    summarize_task();
}

#[task(name = "summarize")]
fn summarize_task() {
    llm_call("llm.in.summarize");
}

#[test]
fn agents_tools_and_entity_paths() {
    exporter();
    agent_workflow();
    let spans = trace("wf_agent.workflow");
    let agent = span(&spans, "researcher.agent");
    let tool = span(&spans, "search.tool");
    let task = span(&spans, "summarize.task");
    let llm = span(&spans, "llm.in.summarize");
    let llm_wf = span(&spans, "llm.in.workflow");

    // The agent name is on the agent span and everything inside it, not outside.
    for s in [agent, tool, task, llm] {
        assert_eq!(
            str_attr(s, "gen_ai.agent.name").as_deref(),
            Some("researcher"),
            "{}",
            s.name
        );
    }
    assert_eq!(
        attr(span(&spans, "wf_agent.workflow"), "gen_ai.agent.name"),
        None
    );
    assert_eq!(attr(llm_wf, "gen_ai.agent.name"), None);

    // The tool name is on the tool span only.
    assert_eq!(
        str_attr(tool, "gen_ai.tool.name").as_deref(),
        Some("search")
    );
    assert_eq!(attr(task, "gen_ai.tool.name"), None);

    assert_eq!(attr(agent, "traceloop.entity.path"), None);
    assert_eq!(
        str_attr(tool, "traceloop.entity.path").as_deref(),
        Some("researcher")
    );
    assert_eq!(
        str_attr(task, "traceloop.entity.path").as_deref(),
        Some("researcher.search")
    );
    assert_eq!(
        str_attr(llm, "traceloop.entity.path").as_deref(),
        Some("researcher.search.summarize")
    );
    assert_eq!(attr(llm_wf, "traceloop.entity.path"), None);
}

#[test]
fn a_nested_workflow_renames_and_restarts_the_path() {
    exporter();
    Entity::workflow("wf_outer").in_scope(|| {
        Entity::task("step").in_scope(|| {
            Entity::workflow("wf_inner").in_scope(|| {
                Entity::task("inner_step").in_scope(|| llm_call("llm.nested"));
            });
            llm_call("llm.after.inner");
        });
    });
    let spans = trace("wf_outer.workflow");
    let inner = span(&spans, "wf_inner.workflow");
    assert_eq!(
        str_attr(inner, "traceloop.workflow.name").as_deref(),
        Some("wf_inner")
    );
    assert_eq!(
        str_attr(inner, "traceloop.entity.path").as_deref(),
        Some("step")
    );
    let nested = span(&spans, "llm.nested");
    assert_eq!(
        str_attr(nested, "traceloop.workflow.name").as_deref(),
        Some("wf_inner")
    );
    assert_eq!(
        str_attr(nested, "traceloop.entity.path").as_deref(),
        Some("inner_step")
    );
    let after = span(&spans, "llm.after.inner");
    assert_eq!(
        str_attr(after, "traceloop.workflow.name").as_deref(),
        Some("wf_outer")
    );
    assert_eq!(
        str_attr(after, "traceloop.entity.path").as_deref(),
        Some("step")
    );
}

// ===== errors and panics =====

#[derive(Debug)]
struct QuotaError {
    left: u32,
}

impl std::fmt::Display for QuotaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "quota exhausted ({} left)", self.left)
    }
}

/// An error type without `Display`: only its type name is recorded.
#[derive(Debug)]
struct Opaque;

#[workflow(name = "wf_err")]
fn failing_workflow(fail: bool) -> Result<u32, QuotaError> {
    let value = failing_task(fail)?;
    Ok(value + 1)
}

#[task]
fn failing_task(fail: bool) -> Result<u32, QuotaError> {
    if fail {
        return Err(QuotaError { left: 0 });
    }
    Ok(1)
}

#[task]
fn io_alias() -> std::io::Result<()> {
    Err(std::io::Error::other("disk on fire"))
}

#[task]
fn opaque_error() -> Result<(), Opaque> {
    Err(Opaque)
}

#[test]
fn err_returns_set_error_status() {
    exporter();
    let _content = content_on();
    // `wf_err` also runs in another test: wrap it in a workflow unique to this one.
    assert!(Entity::workflow("wf_err_outer").in_scope(|| failing_workflow(true).is_err()));
    let spans = trace("wf_err_outer.workflow");
    for name in ["wf_err.workflow", "failing_task.task"] {
        let s = span(&spans, name);
        assert_eq!(
            s.status,
            Status::error("quota exhausted (0 left)"),
            "{name}"
        );
        assert_eq!(
            str_attr(s, "error.type").as_deref(),
            Some("entities::QuotaError")
        );
        assert_eq!(attr(s, "traceloop.entity.output"), None);
    }

    Entity::workflow("wf_err_alias").in_scope(|| {
        let _ = io_alias();
        let _ = opaque_error();
    });
    let spans = trace("wf_err_alias.workflow");
    let io = span(&spans, "io_alias.task");
    assert_eq!(io.status, Status::error("disk on fire"));
    assert_eq!(
        str_attr(io, "error.type").as_deref(),
        Some("std::io::error::Error")
    );
    let opaque = span(&spans, "opaque_error.task");
    assert_eq!(opaque.status, Status::error(""));
    assert_eq!(
        str_attr(opaque, "error.type").as_deref(),
        Some("entities::Opaque")
    );
    assert_eq!(span(&spans, "wf_err_alias.workflow").status, Status::Unset);
}

#[test]
fn ok_returns_record_the_ok_value() {
    exporter();
    let _content = content_on();
    assert_eq!(failing_workflow(false).unwrap(), 2);
    // Find the successful run among the `wf_err` runs by its output.
    let spans = exporter().get_finished_spans().unwrap();
    let ok = spans
        .iter()
        .find(|s| {
            s.name == "wf_err.workflow"
                && str_attr(s, "traceloop.entity.output").as_deref() == Some("2")
        })
        .expect("successful wf_err run");
    assert_eq!(ok.status, Status::Unset);
    assert_eq!(attr(ok, "error.type"), None);
}

#[workflow(name = "wf_panic")]
fn panicking_workflow() -> u32 {
    panicking_task();
    1
}

#[task]
fn panicking_task() {
    panic!("boom");
}

#[test]
fn panics_set_error_status_and_end_the_span() {
    exporter();
    let result = std::panic::catch_unwind(panicking_workflow);
    assert!(result.is_err());
    let spans = trace("wf_panic.workflow");
    assert_eq!(spans.len(), 2);
    for s in &spans {
        assert_eq!(s.status, Status::error("panic"), "{}", s.name);
        assert_eq!(str_attr(s, "error.type").as_deref(), Some("panic"));
    }
    // The context was restored while unwinding.
    llm_call("llm.after.panic");
    let after = &trace("llm.after.panic")[0];
    assert_eq!(after.parent_span_id, SpanId::INVALID);
}

#[workflow(name = "wf_async_panic")]
async fn async_panicking_workflow() -> u32 {
    tokio::task::yield_now().await;
    async_panicking_task().await;
    1
}

#[task]
async fn async_panicking_task() {
    tokio::task::yield_now().await;
    panic!("async boom");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_panics_set_error_status() {
    exporter();
    let joined = tokio::spawn(async_panicking_workflow()).await;
    assert!(joined.unwrap_err().is_panic());
    let spans = trace("wf_async_panic.workflow");
    assert_eq!(spans.len(), 2);
    for s in &spans {
        assert_eq!(s.status, Status::error("panic"), "{}", s.name);
        assert_eq!(str_attr(s, "error.type").as_deref(), Some("panic"));
    }
}

// ===== content =====

struct NotSerialize;

#[derive(Serialize)]
struct Doc {
    title: String,
}

#[workflow(name = "wf_skip")]
fn skip_non_serialize(doc: Doc, _handle: NotSerialize, count: u8) -> NotSerialize {
    let _ = (doc, count);
    NotSerialize
}

#[task]
fn generic_bounded<T: Serialize>(value: T) -> T {
    value
}

#[task]
fn generic_unbounded<T>(value: T) -> T {
    value
}

#[task]
fn opaque_return(n: u32) -> impl Iterator<Item = u32> {
    0..n
}

#[task]
fn patterned((a, b): (u32, u32), _: u32) -> u32 {
    a + b
}

#[test]
fn non_serialize_arguments_and_outputs_are_skipped() {
    exporter();
    let _content = content_on();
    let _ = skip_non_serialize(Doc { title: "t".into() }, NotSerialize, 3);
    let spans = trace("wf_skip.workflow");
    let wf = span(&spans, "wf_skip.workflow");
    assert_eq!(
        str_attr(wf, "traceloop.entity.input").as_deref(),
        Some(r#"{"count":3,"doc":{"title":"t"}}"#)
    );
    assert_eq!(attr(wf, "traceloop.entity.output"), None);

    Entity::workflow("wf_generic").in_scope(|| {
        assert_eq!(generic_bounded(4u8), 4);
        assert!(generic_unbounded(NotSerialize).eq_unit());
        assert_eq!(opaque_return(3).sum::<u32>(), 3);
        assert_eq!(patterned((1, 2), 9), 3);
    });
    let spans = trace("wf_generic.workflow");
    let bounded = span(&spans, "generic_bounded.task");
    assert_eq!(
        str_attr(bounded, "traceloop.entity.input").as_deref(),
        Some(r#"{"value":4}"#)
    );
    assert_eq!(
        str_attr(bounded, "traceloop.entity.output").as_deref(),
        Some("4")
    );
    let unbounded = span(&spans, "generic_unbounded.task");
    assert_eq!(
        str_attr(unbounded, "traceloop.entity.input").as_deref(),
        Some("{}")
    );
    assert_eq!(attr(unbounded, "traceloop.entity.output"), None);
    let opaque = span(&spans, "opaque_return.task");
    assert_eq!(
        str_attr(opaque, "traceloop.entity.input").as_deref(),
        Some(r#"{"n":3}"#)
    );
    assert_eq!(attr(opaque, "traceloop.entity.output"), None);
    let patterned = span(&spans, "patterned.task");
    assert_eq!(
        str_attr(patterned, "traceloop.entity.input").as_deref(),
        Some("{}")
    );
    assert_eq!(
        str_attr(patterned, "traceloop.entity.output").as_deref(),
        Some("3")
    );
}

impl NotSerialize {
    fn eq_unit(&self) -> bool {
        true
    }
}

/// A value whose serialization fails.
struct Unserializable;

impl Serialize for Unserializable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("no"))
    }
}

#[task(name = "wf_ser_fail")]
fn serialization_fails(bad: Unserializable, good: u8) -> Unserializable {
    let _ = (bad, good);
    Unserializable
}

#[test]
fn serialization_failures_are_swallowed() {
    exporter();
    let _content = content_on();
    let _ = serialization_fails(Unserializable, 1);
    let spans = trace("wf_ser_fail.task");
    let s = span(&spans, "wf_ser_fail.task");
    assert_eq!(
        str_attr(s, "traceloop.entity.input").as_deref(),
        Some(r#"{"good":1}"#)
    );
    assert_eq!(attr(s, "traceloop.entity.output"), None);
    assert_eq!(s.status, Status::Unset);
}

#[workflow(name = "wf_content_off")]
fn content_off_workflow(secret: &str) -> String {
    content_off_task(secret)
}

#[task]
fn content_off_task(secret: &str) -> String {
    secret.repeat(2)
}

#[test]
fn content_off_records_no_input_or_output() {
    exporter();
    let _exclusive = CONTENT.write().unwrap_or_else(|e| e.into_inner());
    openllmetry::__private::set_content_capture_for_tests(false);
    let out = content_off_workflow("s3cr3t");
    let span_api = Entity::task("content_off_api").start();
    span_api.record_input(&"s3cr3t");
    span_api.record_output(&"s3cr3t");
    drop(span_api);
    openllmetry::__private::set_content_capture_for_tests(true);
    assert_eq!(out, "s3cr3ts3cr3t");

    let mut spans = trace("wf_content_off.workflow");
    spans.extend(trace("content_off_api.task"));
    assert_eq!(spans.len(), 3);
    for s in &spans {
        assert_eq!(attr(s, "traceloop.entity.input"), None, "{}", s.name);
        assert_eq!(attr(s, "traceloop.entity.output"), None, "{}", s.name);
        assert!(!format!("{:?}", s.attributes).contains("s3cr3t"));
    }
}

// ===== `?`, early return, inner attributes =====

#[task]
fn parse_sum(text: &str) -> Result<i64, std::num::ParseIntError> {
    #![allow(clippy::needless_return)]
    let mut sum = 0;
    for part in text.split(',') {
        if part.is_empty() {
            return Ok(sum);
        }
        sum += part.trim().parse::<i64>()?;
    }
    return Ok(sum);
}

#[task]
async fn async_parse(text: String) -> Result<i64, Box<dyn std::error::Error + Send + Sync>> {
    tokio::task::yield_now().await;
    if text.is_empty() {
        return Err("empty".into());
    }
    Ok(text.parse::<i64>()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn question_mark_and_early_return() {
    exporter();
    let (sync_results, async_results) = Entity::workflow("wf_qmark")
        .instrument(async {
            let sync_results = (parse_sum("1,2,,9"), parse_sum("1,x"));
            let async_results = (
                async_parse("12".into()).await,
                async_parse(String::new()).await,
            );
            (sync_results, async_results)
        })
        .await;
    assert_eq!(sync_results.0, Ok(3));
    assert!(sync_results.1.is_err());
    assert_eq!(async_results.0.unwrap(), 12);
    assert_eq!(async_results.1.unwrap_err().to_string(), "empty");

    let spans = trace("wf_qmark.workflow");
    let parse: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "parse_sum.task")
        .collect();
    assert_eq!(parse.len(), 2);
    assert_eq!(
        parse.iter().filter(|s| s.status == Status::Unset).count(),
        1
    );
    let failed = parse.iter().find(|s| s.status != Status::Unset).unwrap();
    assert_eq!(
        str_attr(failed, "error.type").as_deref(),
        Some("core::num::error::ParseIntError")
    );
    let async_parse: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "async_parse.task")
        .collect();
    assert_eq!(async_parse.len(), 2);
    assert!(
        async_parse
            .iter()
            .any(|s| s.status == Status::error("empty"))
    );
}

// ===== the non-macro API =====

#[test]
fn guard_api() {
    exporter();
    let _content = content_on();
    {
        let wf = Entity::workflow("wf_guard").version(3).start();
        wf.record_input(&serde_json::json!({"q": "why"}));
        {
            let task = Entity::task("t1").start();
            llm_call("llm.in.t1");
            let result: Result<u32, QuotaError> = Err(QuotaError { left: 1 });
            task.record_result(&result);
            // A second error is not recorded again.
            task.record_error("second");
        }
        let n = Entity::tool("calc").in_scope(|| 41 + 1);
        wf.record_output(&n);
    }
    let spans = trace("wf_guard.workflow");
    let wf = span(&spans, "wf_guard.workflow");
    assert_eq!(attr(wf, "traceloop.entity.version"), Some(Value::I64(3)));
    assert_eq!(
        str_attr(wf, "traceloop.entity.input").as_deref(),
        Some(r#"{"q":"why"}"#)
    );
    assert_eq!(
        str_attr(wf, "traceloop.entity.output").as_deref(),
        Some("42")
    );
    let t1 = span(&spans, "t1.task");
    assert_child_of(t1, wf);
    assert_eq!(t1.status, Status::error("quota exhausted (1 left)"));
    assert_eq!(
        str_attr(t1, "error.type").as_deref(),
        Some("entities::QuotaError")
    );
    let llm = span(&spans, "llm.in.t1");
    assert_child_of(llm, t1);
    assert_eq!(
        str_attr(llm, "traceloop.entity.path").as_deref(),
        Some("t1")
    );
    let calc = span(&spans, "calc.tool");
    assert_child_of(calc, wf);
    assert_eq!(
        str_attr(calc, "traceloop.span.kind").as_deref(),
        Some("tool")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// The test future is driven by `block_on` on the test thread; the lock only keeps the
// content-off test from running meanwhile.
#[allow(clippy::await_holding_lock)]
async fn future_api() {
    exporter();
    let _content = content_on();
    let wf = Entity::new(EntityKind::Workflow, "wf_future").begin();
    let out = wf
        .instrument(async {
            tokio::task::yield_now().await;
            let n = Entity::task("inner")
                .instrument(async {
                    tokio::task::yield_now().await;
                    llm_call("llm.in.inner");
                    5
                })
                .await;
            // Spawned with an explicit parent context.
            let child = Entity::agent("spawned").begin();
            let handle = tokio::spawn(child.instrument(async {
                tokio::task::yield_now().await;
                llm_call("llm.in.spawned");
            }));
            handle.await.unwrap();
            child.end();
            n
        })
        .await;
    wf.record_output(&out);
    wf.end();

    let spans = trace("wf_future.workflow");
    let wf = span(&spans, "wf_future.workflow");
    let inner = span(&spans, "inner.task");
    assert_child_of(inner, wf);
    assert_child_of(span(&spans, "llm.in.inner"), inner);
    let spawned = span(&spans, "spawned.agent");
    assert_child_of(spawned, wf);
    let llm = span(&spans, "llm.in.spawned");
    assert_child_of(llm, spawned);
    assert_eq!(
        str_attr(llm, "gen_ai.agent.name").as_deref(),
        Some("spawned")
    );
    assert_eq!(
        str_attr(llm, "traceloop.workflow.name").as_deref(),
        Some("wf_future")
    );
    assert_eq!(
        str_attr(wf, "traceloop.entity.output").as_deref(),
        Some("5")
    );
}

#[test]
fn guard_panics_are_recorded() {
    exporter();
    let result = std::panic::catch_unwind(|| {
        Entity::workflow("wf_guard_panic").in_scope(|| {
            let _task = Entity::task("guarded").start();
            panic!("inside guard");
        })
    });
    assert!(result.is_err());
    let spans = trace("wf_guard_panic.workflow");
    assert_eq!(spans.len(), 2);
    for s in &spans {
        assert_eq!(s.status, Status::error("panic"));
        assert_eq!(str_attr(s, "error.type").as_deref(), Some("panic"));
    }
}

// ===== `tracing` interop =====

#[workflow(name = "wf_under_tracing")]
fn workflow_with_tracing_inside() {
    let inner = tracing::info_span!("tracing_inner");
    let _entered = inner.enter();
    llm_call("llm.under.tracing");
}

#[test]
fn entity_spans_nest_under_tracing_spans_and_tracing_spans_under_entities() {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    let provider = &pipeline().1;
    // tracing-opentelemetry makes the OpenTelemetry context of an entered `tracing` span
    // current, and parents new `tracing` spans on the current OpenTelemetry context.
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("tracing")));
    tracing::subscriber::with_default(subscriber, || {
        let root = tracing::info_span!("tracing_root");
        let _entered = root.enter();
        workflow_with_tracing_inside();
    });

    let spans = trace("tracing_root");
    let root = span(&spans, "tracing_root");
    let wf = span(&spans, "wf_under_tracing.workflow");
    let inner = span(&spans, "tracing_inner");
    let llm = span(&spans, "llm.under.tracing");
    assert_child_of(wf, root);
    assert_child_of(inner, wf);
    assert_child_of(llm, inner);
    for s in [wf, inner, llm] {
        assert_eq!(
            str_attr(s, "traceloop.workflow.name").as_deref(),
            Some("wf_under_tracing"),
            "{}",
            s.name
        );
    }
    assert_eq!(attr(root, "traceloop.workflow.name"), None);
}
