//! Entity spans (workflow, task, agent, tool).
//!
//! An *entity* is a unit of application logic that LLM calls happen in: a **workflow** (one end
//! to end job, e.g. answering a request), the **tasks** it is made of, **agents** and the
//! **tools** they call. Each entity run is an OpenTelemetry span of kind `INTERNAL` named
//! `{name}.{kind}` (e.g. `answer_question.workflow`), created with the global tracer
//! (instrumentation scope `openllmetry`), and current while the entity runs, so that LLM spans
//! and nested entities started inside become its children.
//!
//! The attribute macros [`workflow`](crate::workflow), [`task`](crate::task),
//! [`agent`](crate::agent) and [`tool`](crate::tool) are the usual way to create them. This
//! module is the API underneath, for code that cannot use an attribute:
//!
//! ```
//! use openllmetry::entity::Entity;
//!
//! // A guard: the span is current until the guard is dropped.
//! let wf = Entity::workflow("nightly_report").version(2).start();
//! wf.record_input(&["2024-01-01", "2024-01-31"]);
//! let rows = Entity::task("load_rows").in_scope(|| vec![1, 2, 3]);
//! wf.record_output(&rows.len());
//! drop(wf);
//!
//! // Async: wrap the future; the span is current on every poll, never across an `.await`
//! // boundary on a thread that polls something else.
//! # async fn fetch() -> u32 { 1 }
//! # async fn run() {
//! let n = Entity::task("fetch").instrument(fetch()).await;
//! # let _ = n;
//! # }
//! ```
//!
//! # Attributes
//!
//! | Attribute | On | Value |
//! |---|---|---|
//! | `traceloop.span.kind` | every entity span | `workflow`, `task`, `agent` or `tool` |
//! | `traceloop.entity.name` | every entity span | the entity name |
//! | `traceloop.entity.version` | entity spans given a version | the version (integer) |
//! | `traceloop.workflow.name` | a workflow span and **every span started inside it** (nested entities, LLM spans, …) | the innermost enclosing workflow's name |
//! | `traceloop.entity.path` | every span started inside a task, agent or tool | see below |
//! | `gen_ai.agent.name` | an agent span and every span started inside it | the innermost enclosing agent's name |
//! | `gen_ai.tool.name` | a tool span | the tool name |
//! | `traceloop.entity.input` / `traceloop.entity.output` | entity spans, only when content capture is on | JSON (`serde_json`) |
//! | `error.type` | entity spans that failed | the error's type name, or `panic` |
//!
//! In the `semconv` flavour ([`Flavour::Semconv`](crate::Flavour::Semconv), selected by
//! `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`), agents and tools follow the
//! latest GenAI conventions' agent and tool spans (semantic-conventions-genai, pinned in
//! [`openllmetry_semconv::latest`]): an agent span is named `invoke_agent {name}` with
//! `gen_ai.operation.name = invoke_agent` (and `gen_ai.agent.version` when given a version);
//! a tool span is named `execute_tool {name}` with `gen_ai.operation.name = execute_tool` and
//! `gen_ai.tool.type = function`, and records its input and output as
//! `gen_ai.tool.call.arguments` / `gen_ai.tool.call.result` instead of
//! `traceloop.entity.input` / `.output`. Both stay `INTERNAL` and keep the `traceloop.*`
//! attributes above. Workflows and tasks are unchanged. Not written: `gen_ai.provider.name`
//! (required on the conventions' `invoke_agent` span, but an in-process agent has no single
//! provider the SDK can know) and `gen_ai.tool.call.id` (the call id is the model's, not
//! known to the function).
//!
//! Spans started inside an entity that are not entity spans (LLM spans, your own spans) get the
//! scoped values (`traceloop.workflow.name`, `traceloop.entity.path`, `gen_ai.agent.name` and
//! the [association properties](crate::association)) from
//! [`ContextSpanProcessor`](crate::span_processor::ContextSpanProcessor).
//!
//! # The entity path
//!
//! `traceloop.entity.path` is the dotted list of the task, agent and tool names enclosing a
//! span, innermost last, counted from the nearest enclosing workflow (as upstream
//! traceloop-sdk does for tasks):
//!
//! * a span carries the path of the context it starts in — so an entity's *own* span carries
//!   its **parent's** path, and the attribute is absent when that path is empty;
//! * a task, agent or tool named `n` makes the path `parent_path.n` (or `n` when the parent
//!   path is empty) for everything started inside it;
//! * a workflow starts an empty path for everything started inside it.
//!
//! For `workflow w → task a → tool b → LLM span`: `w` and `a` have no path, `b` has `a`, the
//! LLM span has `a.b`.
//!
//! # Errors and panics
//!
//! [`EntitySpan::record_error`] (and `Err` returns of macro-instrumented functions) set the span
//! status to `ERROR` with the error's `Display` text as description and `error.type` to the
//! error's type name. A panic that unwinds out of the entity sets status `ERROR` and
//! `error.type = "panic"`. The span always ends exactly once: when the guard or
//! [`EntitySpan`] is dropped or [`ended`](EntitySpan::end), or when an
//! [`Instrumented`] future completes or is dropped.
//!
//! # Content
//!
//! Inputs and outputs are recorded only when content capture is on (`TRACELOOP_TRACE_CONTENT`,
//! on by default) and the span is sampled; otherwise nothing is serialized at all. A value that
//! fails to serialize is not recorded; the failure never reaches the caller. The switch is the
//! one LLM content uses (the global instrumentation's), and with secret masking on
//! (`TRACELOOP_MASK_SECRETS`) every string in the input and output is masked as in LLM content
//! ([`crate::redact`]). Then the [`Config::with_redaction`](crate::Config::with_redaction) hook
//! sees it as [`Redact::Entity`], with the entity's kind and name,
//! exactly as it sees LLM content; a hook that sets the value to `null` drops it.

use std::borrow::Cow;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::Poll;

use openllmetry_semconv::attr;
use openllmetry_semconv::latest::{attr as latest, value as latest_value};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, ContextGuard, InstrumentationScope, KeyValue, Value, global};
use serde::Serialize;

pub use crate::entity_kind::EntityKind;
use crate::redact::{EntityField, Redact};
use crate::span_processor::{ScopeValues, SelfAttributed};

/// The description of an entity run, before its span starts.
///
/// ```
/// use openllmetry::entity::{Entity, EntityKind};
///
/// let entity = Entity::new(EntityKind::Agent, "planner").version(3);
/// let out = entity.in_scope(|| 40 + 2);
/// assert_eq!(out, 42);
/// ```
#[derive(Clone, Debug)]
pub struct Entity {
    kind: EntityKind,
    name: Arc<str>,
    version: Option<i64>,
}

impl Entity {
    /// An entity of `kind` named `name`.
    pub fn new(kind: EntityKind, name: impl Into<Arc<str>>) -> Self {
        Self {
            kind,
            name: name.into(),
            version: None,
        }
    }

    /// A workflow named `name`.
    pub fn workflow(name: impl Into<Arc<str>>) -> Self {
        Self::new(EntityKind::Workflow, name)
    }

    /// A task named `name`.
    pub fn task(name: impl Into<Arc<str>>) -> Self {
        Self::new(EntityKind::Task, name)
    }

    /// An agent named `name`.
    pub fn agent(name: impl Into<Arc<str>>) -> Self {
        Self::new(EntityKind::Agent, name)
    }

    /// A tool named `name`.
    pub fn tool(name: impl Into<Arc<str>>) -> Self {
        Self::new(EntityKind::Tool, name)
    }

    /// Sets `traceloop.entity.version`.
    pub fn version(mut self, version: i64) -> Self {
        self.version = Some(version);
        self
    }

    /// The kind.
    pub fn kind(&self) -> EntityKind {
        self.kind
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Starts the span as a child of the current context without making it current. Use
    /// [`EntitySpan::enter`], [`EntitySpan::in_scope`] or [`EntitySpan::instrument`] to run code
    /// inside it.
    pub fn begin(self) -> EntitySpan {
        // Not `map_current`: starting a span runs span processors, which may touch the
        // current context themselves.
        self.begin_with_parent(&Context::current())
    }

    /// Starts the span as a child of `parent` without making it current.
    pub fn begin_with_parent(self, parent: &Context) -> EntitySpan {
        let tracer = global::tracer_with_scope(scope().clone());

        // The values this span carries itself: the enclosing ones, plus its own workflow or
        // agent name (upstream attaches those before starting the span).
        let mut own = ScopeValues::from_context(parent);
        own.entity_span = None;
        match self.kind {
            EntityKind::Workflow => own.workflow_name = Some(Arc::clone(&self.name)),
            EntityKind::Agent => own.agent_name = Some(Arc::clone(&self.name)),
            EntityKind::Task | EntityKind::Tool => {}
        }
        let own = own.seal();

        // In the semconv flavour agents and tools are the conventions' `invoke_agent` (internal)
        // and `execute_tool` spans.
        let semconv = matches!(self.kind, EntityKind::Agent | EntityKind::Tool)
            && crate::state::semconv_flavour();
        let mut attributes = Vec::with_capacity(7 + own.attributes().len());
        attributes.push(KeyValue::new(attr::TRACELOOP_SPAN_KIND, self.kind.as_str()));
        attributes.push(KeyValue::new(
            attr::TRACELOOP_ENTITY_NAME,
            Value::from(Arc::clone(&self.name)),
        ));
        if let Some(version) = self.version {
            attributes.push(KeyValue::new(attr::TRACELOOP_ENTITY_VERSION, version));
        }
        if self.kind == EntityKind::Tool {
            attributes.push(KeyValue::new(
                attr::GEN_AI_TOOL_NAME,
                Value::from(Arc::clone(&self.name)),
            ));
        }
        attributes.extend(own.attributes().iter().cloned());
        let span_name = if semconv {
            semconv_entity_attributes(&self, &mut attributes)
        } else {
            format!("{}.{}", self.name, self.kind)
        };

        let span = tracer
            .span_builder(span_name)
            .with_kind(SpanKind::Internal)
            .with_attributes(attributes)
            // The marker tells `ContextSpanProcessor` that this span already has its scope
            // attributes; it is only in the start context, never in the entity's own context.
            .start_with_context(&tracer, &parent.with_value(SelfAttributed));
        let span_id = opentelemetry::trace::Span::span_context(&span).span_id();

        // The values everything inside carries.
        let mut inner = own;
        inner.entity_path = match self.kind {
            EntityKind::Workflow => None,
            EntityKind::Task | EntityKind::Agent | EntityKind::Tool => {
                Some(match &inner.entity_path {
                    Some(parent_path) => format!("{parent_path}.{}", self.name).into(),
                    None => Arc::clone(&self.name),
                })
            }
        };
        inner.entity_span = Some(span_id);
        let cx = parent.with_value(inner.seal()).with_span(span);
        EntitySpan {
            shared: Arc::new(Shared {
                cx,
                error_recorded: AtomicBool::new(false),
                kind: self.kind,
                name: self.name,
                tool_call_content: semconv && self.kind == EntityKind::Tool,
            }),
            ended: false,
        }
    }

    /// Starts the span as a child of the current context and makes it current until the returned
    /// guard is dropped.
    ///
    /// The guard is `!Send`: in async code use [`instrument`](Self::instrument), which never
    /// holds a context across an `.await`.
    #[must_use = "the entity span ends when the guard is dropped"]
    pub fn start(self) -> EntityGuard {
        let span = self.begin();
        let entered = span.shared.cx.clone().attach();
        EntityGuard {
            span,
            _entered: entered,
        }
    }

    /// Runs `f` inside the entity span. A panic in `f` is recorded and resumed.
    pub fn in_scope<R>(self, f: impl FnOnce() -> R) -> R {
        let _guard = self.start();
        f()
    }

    /// Wraps `future` in the entity span, which is current during every poll of `future` and
    /// ends when it completes or is dropped.
    ///
    /// The span starts at the first poll, as a child of the context current then — as for an
    /// `async fn` under `#[task]` — so the wrapper composes with
    /// [association scopes](crate::association) in either order. To keep the current span as
    /// parent when spawning, wrap the result with
    /// [`FutureExt::with_current_context`](opentelemetry::context::FutureExt::with_current_context),
    /// or use [`begin`](Self::begin) and [`EntitySpan::instrument`], which start the span
    /// immediately.
    ///
    /// To record the future's output, use [`begin`](Self::begin) and
    /// [`EntitySpan::instrument`] instead:
    ///
    /// ```
    /// # use openllmetry::entity::Entity;
    /// # async fn fetch() -> u32 { 1 }
    /// # async fn run() {
    /// let span = Entity::task("fetch").begin();
    /// let n = span.instrument(fetch()).await;
    /// span.record_output(&n);
    /// span.end();
    /// # }
    /// ```
    pub fn instrument<F: IntoFuture>(self, future: F) -> Instrumented<F::IntoFuture> {
        Instrumented {
            inner: future.into_future(),
            state: State::NotStarted(self),
        }
    }
}

/// The instrumentation scope of entity spans, built once.
fn scope() -> &'static InstrumentationScope {
    static SCOPE: OnceLock<InstrumentationScope> = OnceLock::new();
    SCOPE.get_or_init(|| {
        InstrumentationScope::builder("openllmetry")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build()
    })
}

/// A started entity span. It is not current by itself (see [`enter`](Self::enter),
/// [`in_scope`](Self::in_scope), [`instrument`](Self::instrument)); it ends when dropped or
/// [`ended`](Self::end), recording a panic if dropped while one unwinds.
///
/// `EntitySpan` is `Send + Sync`, so it can be kept across `.await` points.
#[derive(Debug)]
pub struct EntitySpan {
    shared: Arc<Shared>,
    ended: bool,
}

/// The name and the conventions' attributes of an agent or tool entity span in the semconv
/// flavour (`docs/gen-ai/gen-ai-agent-spans.md`, `gen-ai-spans.md` of
/// semantic-conventions-genai): `invoke_agent {name}` with `gen_ai.operation.name =
/// invoke_agent` and `gen_ai.agent.version`; `execute_tool {name}` with
/// `gen_ai.operation.name = execute_tool` and `gen_ai.tool.type = function` (a tool the
/// application runs itself). `gen_ai.agent.name` / `gen_ai.tool.name` are written by every
/// flavour.
fn semconv_entity_attributes(entity: &Entity, attributes: &mut Vec<KeyValue>) -> String {
    if entity.kind == EntityKind::Agent {
        attributes.push(KeyValue::new(
            attr::GEN_AI_OPERATION_NAME,
            latest_value::OPERATION_INVOKE_AGENT,
        ));
        if let Some(v) = entity.version {
            attributes.push(KeyValue::new(latest::GEN_AI_AGENT_VERSION, v.to_string()));
        }
        format!("{} {}", latest_value::OPERATION_INVOKE_AGENT, entity.name)
    } else {
        attributes.push(KeyValue::new(
            attr::GEN_AI_OPERATION_NAME,
            latest_value::OPERATION_EXECUTE_TOOL,
        ));
        attributes.push(KeyValue::new(
            latest::GEN_AI_TOOL_TYPE,
            latest_value::TOOL_TYPE_FUNCTION,
        ));
        format!("{} {}", latest_value::OPERATION_EXECUTE_TOOL, entity.name)
    }
}

/// What an [`EntitySpan`] shares with the futures and guards that run code inside it.
#[derive(Debug)]
struct Shared {
    /// The context of the entity's body: parent context + this span + scope values.
    cx: Context,
    /// Set by the first error or panic recorded, so that `error.type` is written once.
    error_recorded: AtomicBool,
    /// The entity's kind and name, shown to the redaction hook with its content.
    kind: EntityKind,
    name: Arc<str>,
    /// A tool in the semconv flavour: its input and output are recorded as
    /// `gen_ai.tool.call.arguments` / `gen_ai.tool.call.result`.
    tool_call_content: bool,
}

impl Shared {
    fn record_error(&self, error_type: &'static str, description: Cow<'static, str>) {
        if !self.error_recorded.swap(true, Ordering::Relaxed) {
            let span = self.cx.span();
            span.set_attribute(KeyValue::new(attr::ERROR_TYPE, error_type));
            span.set_status(Status::error(description));
        }
    }

    fn record_panic(&self) {
        self.record_error("panic", Cow::Borrowed("panic"));
    }
}

impl EntitySpan {
    /// The context of the entity's body (the span and its scoped values); spans started with it
    /// as parent are children of the entity.
    pub fn context(&self) -> &Context {
        &self.shared.cx
    }

    /// Makes the entity current until the returned guard is dropped. The guard is `!Send`; do
    /// not hold it across an `.await`.
    #[must_use = "the entity is current only while the guard is alive"]
    pub fn enter(&self) -> ContextGuard {
        self.shared.cx.clone().attach()
    }

    /// Runs `f` with the entity current. A panic in `f` is recorded and resumed.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _entered = self.enter();
        let _bomb = PanicBomb(&self.shared);
        f()
    }

    /// Wraps `future` so that the entity's context (as it was when the span began) is current
    /// during each of its polls; a panic while polling is recorded. The span does not end when
    /// the future completes: end it with [`end`](Self::end) or by dropping this `EntitySpan`.
    pub fn instrument<F: IntoFuture>(&self, future: F) -> Instrumented<F::IntoFuture> {
        Instrumented {
            inner: future.into_future(),
            state: State::Borrowed(Arc::clone(&self.shared)),
        }
    }

    /// Whether inputs and outputs would be recorded: content capture is on and the span is
    /// sampled. The attribute macros check this before serializing anything.
    pub fn records_content(&self) -> bool {
        crate::state::content_capture() && self.shared.cx.span().is_recording()
    }

    /// Records `traceloop.entity.input` as the JSON of `input`, if
    /// [content is recorded](Self::records_content).
    pub fn record_input<T: Serialize + ?Sized>(&self, input: &T) {
        if self.records_content()
            && let Ok(value) = serde_json::to_value(input)
        {
            self.set_content(attr::TRACELOOP_ENTITY_INPUT, value);
        }
    }

    /// Records `traceloop.entity.output` as the JSON of `output`, if
    /// [content is recorded](Self::records_content).
    pub fn record_output<T: Serialize + ?Sized>(&self, output: &T) {
        if self.records_content()
            && let Ok(value) = serde_json::to_value(output)
        {
            self.set_content(attr::TRACELOOP_ENTITY_OUTPUT, value);
        }
    }

    /// Records a failure: status `ERROR` with `error`'s `Display` text, and `error.type` = the
    /// type name of `E` (e.g. `std::io::error::Error`). Only the first error (or panic) recorded
    /// on a span is kept.
    pub fn record_error<E: fmt::Display + ?Sized>(&self, error: &E) {
        self.record_error_parts(std::any::type_name::<E>(), Some(error.to_string()));
    }

    /// Records `Ok` as output and `Err` as error (see [`record_output`](Self::record_output),
    /// [`record_error`](Self::record_error)).
    pub fn record_result<T: Serialize, E: fmt::Display>(&self, result: &Result<T, E>) {
        match result {
            Ok(value) => self.record_output(value),
            Err(error) => self.record_error(error),
        }
    }

    /// Ends the span now (it also ends when dropped).
    pub fn end(mut self) {
        self.finish();
    }

    /// The one path of entity content (the API's `record_input`/`record_output` and the
    /// attribute macros'): nothing unless content capture is on, secrets masked when
    /// `TRACELOOP_MASK_SECRETS` is on (as in LLM content), then the
    /// [redaction hook](crate::Config::with_redaction), then recorded as JSON.
    pub(crate) fn set_content(&self, key: &'static str, mut value: serde_json::Value) {
        if !crate::state::content_capture() {
            return;
        }
        if crate::state::mask_secrets() {
            crate::redact::mask_value(&mut value);
        }
        if let Some(hook) = crate::state::redact_hook() {
            let field = if key == attr::TRACELOOP_ENTITY_INPUT {
                EntityField::Input
            } else {
                EntityField::Output
            };
            hook(Redact::Entity {
                kind: self.shared.kind,
                name: &self.shared.name,
                field,
                value: &mut value,
            });
            if value.is_null() {
                return;
            }
        }
        // A tool's input and output, in the semconv flavour, under the conventions' keys.
        let key = match key {
            attr::TRACELOOP_ENTITY_INPUT if self.shared.tool_call_content => {
                latest::GEN_AI_TOOL_CALL_ARGUMENTS
            }
            attr::TRACELOOP_ENTITY_OUTPUT if self.shared.tool_call_content => {
                latest::GEN_AI_TOOL_CALL_RESULT
            }
            k => k,
        };
        if let Ok(json) = serde_json::to_string(&value) {
            self.set_json(key, json);
        }
    }

    fn set_json(&self, key: &'static str, json: String) {
        self.shared
            .cx
            .span()
            .set_attribute(KeyValue::new(key, json));
    }

    pub(crate) fn record_error_parts(&self, error_type: &'static str, description: Option<String>) {
        self.shared.record_error(
            error_type,
            description.map_or(Cow::Borrowed(""), Cow::Owned),
        );
    }

    fn finish(&mut self) {
        if !self.ended {
            self.ended = true;
            if std::thread::panicking() {
                self.shared.record_panic();
            }
            self.shared.cx.span().end();
        }
    }
}

impl Drop for EntitySpan {
    fn drop(&mut self) {
        self.finish();
    }
}

/// An entity span made current by [`Entity::start`]; the span ends and the previous context is
/// restored when the guard is dropped. Derefs to [`EntitySpan`] for recording.
#[derive(Debug)]
#[must_use = "the entity span ends when the guard is dropped"]
pub struct EntityGuard {
    // Field order matters: the span ends (seeing a panic, if any) before the context detaches.
    span: EntitySpan,
    _entered: ContextGuard,
}

impl std::ops::Deref for EntityGuard {
    type Target = EntitySpan;

    fn deref(&self) -> &EntitySpan {
        &self.span
    }
}

pin_project_lite::pin_project! {
    /// A future running inside an entity span; see [`Entity::instrument`] and
    /// [`EntitySpan::instrument`].
    ///
    /// The entity's context is attached for the duration of each `poll` and detached after it,
    /// so nothing stays current on the thread between polls. A panic while polling sets status
    /// `ERROR`.
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Instrumented<F> {
        #[pin]
        inner: F,
        state: State,
    }
}

#[derive(Debug)]
enum State {
    /// [`Entity::instrument`] before the first poll.
    NotStarted(Entity),
    /// [`Entity::instrument`] after the first poll: this future ends the span on completion.
    Owned(EntitySpan),
    /// [`EntitySpan::instrument`]: the span is ended by its owner.
    Borrowed(Arc<Shared>),
    /// Completed.
    Done,
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task_cx: &mut std::task::Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if let State::NotStarted(_) = this.state
            && let State::NotStarted(entity) = std::mem::replace(this.state, State::Done)
        {
            *this.state = State::Owned(entity.begin());
        }
        let shared = match &*this.state {
            State::Owned(span) => Arc::clone(&span.shared),
            State::Borrowed(shared) => Arc::clone(shared),
            // Polled after completion: nothing to attach.
            State::NotStarted(_) | State::Done => return this.inner.poll(task_cx),
        };
        let _entered = shared.cx.clone().attach();
        let _bomb = PanicBomb(&shared);
        let poll = this.inner.poll(task_cx);
        if poll.is_ready() {
            // Ends an owned span (its drop); a borrowed one just loses this reference.
            *this.state = State::Done;
        }
        poll
    }
}

/// Records a panic on the entity span if dropped while unwinding.
struct PanicBomb<'a>(&'a Shared);

impl Drop for PanicBomb<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.record_panic();
        }
    }
}
