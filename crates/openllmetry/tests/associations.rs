//! Association properties and the conversation id: scoped, merged, never leaking.
//!
//! One tracer provider (in-memory exporter + `ContextSpanProcessor`) is installed globally once
//! for this test binary; each test finds its own spans by names unique to it.

use std::sync::OnceLock;
use std::time::Duration;

use openllmetry::association::{
    AssociationFutureExt as _, AssociationProperties, associations, set_conversation_id,
    with_association_properties, with_conversation_id,
};
use openllmetry::entity::Entity;
use openllmetry::span_processor::ContextSpanProcessor;
use openllmetry::workflow;
use opentelemetry::trace::Tracer as _;
use opentelemetry::{Value, global};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};

// ===== harness =====

fn exporter() -> &'static InMemorySpanExporter {
    static EXPORTER: OnceLock<InMemorySpanExporter> = OnceLock::new();
    EXPORTER.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(ContextSpanProcessor::new())
            .with_simple_exporter(exporter.clone())
            .build();
        global::set_tracer_provider(provider);
        exporter
    })
}

/// Starts and ends a span named `name` with `Context::current()` as parent, as the core
/// instrumentation does for an LLM call.
fn llm_call(name: &'static str) {
    let _span = global::tracer("test-llm").start(name);
}

/// The one finished span named `name` (names are unique per test).
fn span(name: &str) -> SpanData {
    let spans: Vec<_> = exporter()
        .get_finished_spans()
        .unwrap()
        .into_iter()
        .filter(|s| s.name == name)
        .collect();
    assert_eq!(spans.len(), 1, "expected one span named {name}");
    spans.into_iter().next().unwrap()
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

fn prop(span: &SpanData, key: &str) -> Option<String> {
    attr(span, &format!("traceloop.association.properties.{key}")).map(|v| v.as_str().into_owned())
}

/// The association property keys on a span, sorted.
fn prop_keys(span: &SpanData) -> Vec<String> {
    let mut keys: Vec<_> = span
        .attributes
        .iter()
        .filter_map(|kv| {
            kv.key
                .as_str()
                .strip_prefix("traceloop.association.properties.")
                .map(str::to_owned)
        })
        .collect();
    keys.sort();
    keys
}

fn conversation(span: &SpanData) -> Option<String> {
    attr(span, "gen_ai.conversation.id").map(|v| v.as_str().into_owned())
}

// ===== guards =====

#[test]
fn properties_are_on_spans_in_scope_and_absent_after() {
    exporter();
    {
        let _scope = associations()
            .with("user_id", "u-1")
            .with("session_id", String::from("s-1"))
            .with("attempt", 2)
            .with("beta", true)
            .attach();
        llm_call("guard.inside");
        Entity::task("guard_task").in_scope(|| llm_call("guard.inside.task"));
    }
    // The #1518 regression: a span started after the scope ended has none of it.
    llm_call("guard.after");

    for name in ["guard.inside", "guard_task.task", "guard.inside.task"] {
        let s = span(name);
        assert_eq!(prop(&s, "user_id").as_deref(), Some("u-1"), "{name}");
        assert_eq!(prop(&s, "session_id").as_deref(), Some("s-1"), "{name}");
        assert_eq!(
            attr(&s, "traceloop.association.properties.attempt"),
            Some(Value::I64(2))
        );
        assert_eq!(
            attr(&s, "traceloop.association.properties.beta"),
            Some(Value::Bool(true))
        );
    }
    let after = span("guard.after");
    assert!(prop_keys(&after).is_empty(), "{:?}", after.attributes);
    assert!(AssociationProperties::current().is_empty());
}

#[test]
fn nested_scopes_merge_and_restore() {
    exporter();
    {
        let _outer = AssociationProperties::new()
            .with("a", "outer-a")
            .with("b", "outer-b")
            .attach();
        {
            let _inner = AssociationProperties::new()
                .with("b", "inner-b")
                .with("c", "inner-c")
                .attach();
            llm_call("nested.inner");
            let current = AssociationProperties::current();
            assert_eq!(current.get("b"), Some(&Value::from("inner-b")));
            assert_eq!(current.iter().count(), 3);
        }
        llm_call("nested.outer.again");
    }
    llm_call("nested.none");

    let inner = span("nested.inner");
    assert_eq!(prop_keys(&inner), ["a", "b", "c"]);
    assert_eq!(prop(&inner, "a").as_deref(), Some("outer-a"));
    assert_eq!(prop(&inner, "b").as_deref(), Some("inner-b"));
    assert_eq!(prop(&inner, "c").as_deref(), Some("inner-c"));

    let outer = span("nested.outer.again");
    assert_eq!(prop_keys(&outer), ["a", "b"]);
    assert_eq!(prop(&outer, "b").as_deref(), Some("outer-b"));

    assert!(prop_keys(&span("nested.none")).is_empty());
}

#[test]
fn in_scope_closure() {
    exporter();
    let out = associations().with("tenant", "t-9").in_scope(|| {
        llm_call("closure.inside");
        7
    });
    assert_eq!(out, 7);
    llm_call("closure.after");
    assert_eq!(
        prop(&span("closure.inside"), "tenant").as_deref(),
        Some("t-9")
    );
    assert!(prop_keys(&span("closure.after")).is_empty());
}

#[test]
fn conversation_id_guard() {
    exporter();
    {
        let _conversation = set_conversation_id("conv-guard");
        llm_call("conversation.inside");
        {
            let _inner = associations().conversation_id("conv-inner").attach();
            llm_call("conversation.inner");
        }
    }
    llm_call("conversation.after");
    assert_eq!(
        conversation(&span("conversation.inside")).as_deref(),
        Some("conv-guard")
    );
    assert_eq!(
        conversation(&span("conversation.inner")).as_deref(),
        Some("conv-inner")
    );
    assert_eq!(conversation(&span("conversation.after")), None);
}

// ===== entity spans =====

#[workflow(name = "labelled_workflow")]
fn labelled_workflow(user: &str) {
    // Set inside the entity body: applies to the children and labels the workflow span too.
    let _scope = associations()
        .with("user_id", user)
        .with("plan", "pro")
        .conversation_id("conv-wf")
        .attach();
    llm_call("labelled.inside");
}

#[test]
fn a_scope_opened_in_an_entity_body_labels_the_entity_span() {
    exporter();
    {
        // "plan" is already in force with the same value: not written twice.
        let _outer = associations().with("plan", "pro").attach();
        labelled_workflow("u-7");
    }
    let wf = span("labelled_workflow.workflow");
    assert_eq!(prop(&wf, "user_id").as_deref(), Some("u-7"));
    assert_eq!(prop(&wf, "plan").as_deref(), Some("pro"));
    assert_eq!(conversation(&wf).as_deref(), Some("conv-wf"));
    let inside = span("labelled.inside");
    assert_eq!(prop(&inside, "user_id").as_deref(), Some("u-7"));
    assert_eq!(conversation(&inside).as_deref(), Some("conv-wf"));
    assert_eq!(
        attr(&inside, "traceloop.workflow.name"),
        Some(Value::from("labelled_workflow"))
    );
}

// ===== futures =====

async fn two_spans_across_awaits(first: &'static str, second: &'static str) {
    tokio::time::sleep(Duration::from_millis(2)).await;
    llm_call(first);
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(2)).await;
    llm_call(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_future_wrapper_works_across_awaits_and_spawn() {
    exporter();
    let a = tokio::spawn(with_association_properties(
        associations().with("user_id", "fut-a"),
        two_spans_across_awaits("fut.a.1", "fut.a.2"),
    ));
    let b = tokio::spawn(
        two_spans_across_awaits("fut.b.1", "fut.b.2")
            .with_association_properties(associations().with("user_id", "fut-b")),
    );
    let c = tokio::spawn(with_conversation_id(
        "conv-fut",
        two_spans_across_awaits("fut.c.1", "fut.c.2"),
    ));
    let d = tokio::spawn(
        two_spans_across_awaits("fut.d.1", "fut.d.2").with_conversation_id("conv-ext"),
    );
    let (a, b, c, d) = tokio::join!(a, b, c, d);
    a.unwrap();
    b.unwrap();
    c.unwrap();
    d.unwrap();

    for name in ["fut.a.1", "fut.a.2"] {
        let s = span(name);
        assert_eq!(prop(&s, "user_id").as_deref(), Some("fut-a"), "{name}");
        assert_eq!(conversation(&s), None);
    }
    for name in ["fut.b.1", "fut.b.2"] {
        assert_eq!(
            prop(&span(name), "user_id").as_deref(),
            Some("fut-b"),
            "{name}"
        );
    }
    for name in ["fut.c.1", "fut.c.2"] {
        let s = span(name);
        assert_eq!(conversation(&s).as_deref(), Some("conv-fut"), "{name}");
        assert!(prop_keys(&s).is_empty());
    }
    for name in ["fut.d.1", "fut.d.2"] {
        assert_eq!(conversation(&span(name)).as_deref(), Some("conv-ext"));
    }

    // Nothing stayed behind on the worker threads or on this one.
    let spawned_after = (0..4).map(|i| {
        tokio::spawn(async move {
            let name: &'static str =
                ["fut.after.0", "fut.after.1", "fut.after.2", "fut.after.3"][i];
            llm_call(name);
        })
    });
    for handle in spawned_after.collect::<Vec<_>>() {
        handle.await.unwrap();
    }
    llm_call("fut.after.main");
    for name in [
        "fut.after.0",
        "fut.after.1",
        "fut.after.2",
        "fut.after.3",
        "fut.after.main",
    ] {
        let s = span(name);
        assert!(prop_keys(&s).is_empty(), "{name}: {:?}", s.attributes);
        assert_eq!(conversation(&s), None, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn future_wrappers_nest_inside_entities() {
    exporter();
    let outer = associations().with("a", "1").with("b", "outer");
    Entity::workflow("assoc_async_wf")
        .instrument(with_association_properties(outer, async {
            tokio::task::yield_now().await;
            let inner = associations().with("b", "inner");
            inner
                .scope(async {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    llm_call("assoc.async.inner");
                })
                .await;
            tokio::task::yield_now().await;
            llm_call("assoc.async.outer");
        }))
        .await;
    llm_call("assoc.async.after");

    let inner = span("assoc.async.inner");
    assert_eq!(prop(&inner, "a").as_deref(), Some("1"));
    assert_eq!(prop(&inner, "b").as_deref(), Some("inner"));
    assert_eq!(
        attr(&inner, "traceloop.workflow.name"),
        Some(Value::from("assoc_async_wf"))
    );
    let wf = span("assoc_async_wf.workflow");
    assert_eq!(inner.parent_span_id, wf.span_context.span_id());
    let outer = span("assoc.async.outer");
    assert_eq!(prop(&outer, "b").as_deref(), Some("outer"));
    assert!(prop_keys(&span("assoc.async.after")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_futures_nest_inside_future_wrappers() {
    exporter();
    // The other order: the entity starts at its first poll, inside the association scope.
    let wrapped = with_association_properties(
        associations().with("order", "props-outside"),
        Entity::workflow("assoc_outside_wf").instrument(async {
            tokio::task::yield_now().await;
            // Spawned with the current context: keeps both the parent and the properties.
            let child = tokio::spawn(opentelemetry::context::FutureExt::with_current_context(
                async {
                    tokio::task::yield_now().await;
                    llm_call("assoc.outside.spawned");
                },
            ));
            child.await.unwrap();
        }),
    );
    wrapped.await;

    let wf = span("assoc_outside_wf.workflow");
    assert_eq!(prop(&wf, "order").as_deref(), Some("props-outside"));
    let spawned = span("assoc.outside.spawned");
    assert_eq!(prop(&spawned, "order").as_deref(), Some("props-outside"));
    assert_eq!(spawned.parent_span_id, wf.span_context.span_id());
    assert_eq!(
        attr(&spawned, "traceloop.workflow.name"),
        Some(Value::from("assoc_outside_wf"))
    );
}

#[test]
fn to_context_builds_a_context_without_attaching_it() {
    exporter();
    let props = associations().with("k", "v").conversation_id("conv-cx");
    let cx = props.to_context(&opentelemetry::Context::current());
    assert!(AssociationProperties::current().is_empty());
    let read = AssociationProperties::from_context(&cx);
    assert_eq!(read, props);
    assert_eq!(read.get_conversation_id(), Some("conv-cx"));
    {
        let _attached = cx.attach();
        llm_call("to_context.attached");
    }
    let s = span("to_context.attached");
    assert_eq!(prop(&s, "k").as_deref(), Some("v"));
    assert_eq!(conversation(&s).as_deref(), Some("conv-cx"));
}
