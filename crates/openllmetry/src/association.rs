//! Association properties: scoped key/value labels (user id, session id, customer id, …) and a
//! conversation id, put on every span started in their scope.
//!
//! Every span started while a scope is active gets each property as
//! `traceloop.association.properties.<key>` and the conversation id as `gen_ai.conversation.id`
//! (through [`ContextSpanProcessor`](crate::span_processor::ContextSpanProcessor), which
//! `openllmetry::init` installs; entity spans set them themselves).
//!
//! The properties live in the OpenTelemetry [`Context`], so a scope is exactly as long as the
//! context that holds them is current:
//!
//! * a guard — [`AssociationProperties::attach`] — for synchronous code; the properties apply
//!   until the guard is dropped;
//! * a closure — [`AssociationProperties::in_scope`];
//! * a future wrapper — [`with_association_properties`], [`AssociationProperties::scope`] or
//!   [`AssociationFutureExt`] — for async code; on every poll the properties are merged into
//!   the context current at that moment, attached, and detached after the poll, so they follow
//!   the future across `.await` points and threads, compose with entity futures in any order,
//!   and never stay behind on a worker thread.
//!
//! Scopes nest: an inner scope is merged with the enclosing one, the inner value winning per
//! key, and the enclosing properties are back in force when the inner scope ends. Unlike
//! upstream traceloop-sdk (where `set_association_properties` replaced the whole set and the
//! values leaked into later spans, issue #1518), nothing is ever left in the context after a
//! scope ends.
//!
//! When a scope is opened directly in the body of an entity (a `#[workflow]`, `#[task]`,
//! `#[agent]` or `#[tool]` function, or an [`Entity`](crate::entity::Entity) scope), the new or
//! changed properties are also written onto that entity's span, as upstream does, so a workflow
//! that labels itself with the user it serves carries the label too. Re-setting a key to a
//! different value in the same entity body writes the attribute again (backends keep the last
//! value).
//!
//! ```
//! use openllmetry::association::{AssociationProperties, with_association_properties};
//!
//! // Synchronous code: a guard.
//! {
//!     let _scope = AssociationProperties::new()
//!         .with("user_id", "u-42")
//!         .with("session_id", "s-7")
//!         .conversation_id("conv-1")
//!         .attach();
//!     // spans started here carry the properties
//! }
//! // and spans started here do not.
//!
//! // Async code: a future wrapper.
//! # async fn answer() {}
//! # async fn run() {
//! let props = AssociationProperties::new().with("user_id", "u-42");
//! with_association_properties(props, answer()).await;
//! # }
//! ```

use std::collections::BTreeMap;
use std::future::IntoFuture;
use std::sync::Arc;

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use openllmetry_semconv::attr;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::{Context, ContextGuard, Key, KeyValue, Value};

use crate::span_processor::{ScopeValues, current_span_is_entity};

/// The value of an association property: a string, a boolean, an integer or a float.
///
/// Built with `From`/`Into` from `&str`, `String`, `Arc<str>`, `bool`, the integer types that fit
/// in an `i64`, `f64` and [`opentelemetry::Value`].
#[derive(Clone, Debug, PartialEq)]
pub struct PropertyValue(Value);

impl PropertyValue {
    /// The value as an OpenTelemetry attribute value.
    pub fn as_value(&self) -> &Value {
        &self.0
    }

    /// Converts into an OpenTelemetry attribute value.
    pub fn into_value(self) -> Value {
        self.0
    }
}

impl From<&str> for PropertyValue {
    fn from(value: &str) -> Self {
        Self(Value::from(Arc::<str>::from(value)))
    }
}

impl From<&String> for PropertyValue {
    fn from(value: &String) -> Self {
        Self::from(value.as_str())
    }
}

impl From<String> for PropertyValue {
    fn from(value: String) -> Self {
        Self(Value::from(Arc::<str>::from(value)))
    }
}

impl From<Arc<str>> for PropertyValue {
    fn from(value: Arc<str>) -> Self {
        Self(Value::from(value))
    }
}

impl From<bool> for PropertyValue {
    fn from(value: bool) -> Self {
        Self(Value::Bool(value))
    }
}

impl From<f64> for PropertyValue {
    fn from(value: f64) -> Self {
        Self(Value::F64(value))
    }
}

impl From<Value> for PropertyValue {
    fn from(value: Value) -> Self {
        Self(value)
    }
}

macro_rules! property_value_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for PropertyValue {
            fn from(value: $t) -> Self {
                Self(Value::I64(i64::from(value)))
            }
        }
    )*};
}
property_value_from_int!(i8, i16, i32, i64, u8, u16, u32);

/// A set of association properties and an optional conversation id, to be applied to a scope.
///
/// Build it with [`new`](Self::new) (or [`associations`]) and [`with`](Self::with), then open a
/// scope with [`attach`](Self::attach), [`in_scope`](Self::in_scope) or
/// [`scope`](Self::scope). See the [module docs](self).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AssociationProperties {
    /// By user key; the value holds the full attribute key, built once here.
    properties: BTreeMap<Arc<str>, (Key, Value)>,
    conversation_id: Option<Arc<str>>,
}

impl AssociationProperties {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The properties and conversation id in force in the current context (the merge of every
    /// enclosing scope).
    pub fn current() -> Self {
        Context::map_current(Self::from_context)
    }

    /// The properties and conversation id in force in `cx`.
    pub fn from_context(cx: &Context) -> Self {
        match cx.get::<ScopeValues>() {
            None => Self::default(),
            Some(scope) => Self {
                properties: (*scope.properties).clone(),
                conversation_id: scope.conversation_id.clone(),
            },
        }
    }

    /// Adds (or replaces) the property `key`. It is recorded as
    /// `traceloop.association.properties.<key>`.
    pub fn with(mut self, key: impl Into<Arc<str>>, value: impl Into<PropertyValue>) -> Self {
        let key = key.into();
        let attribute_key = Key::from(format!(
            "{}{key}",
            attr::TRACELOOP_ASSOCIATION_PROPERTIES_PREFIX
        ));
        self.properties.insert(key, (attribute_key, value.into().0));
        self
    }

    /// Sets the conversation id, recorded as `gen_ai.conversation.id`.
    pub fn conversation_id(mut self, id: impl Into<Arc<str>>) -> Self {
        self.conversation_id = Some(id.into());
        self
    }

    /// The value of property `key`, if set.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.properties.get(key).map(|(_, value)| value)
    }

    /// The conversation id, if set.
    pub fn get_conversation_id(&self) -> Option<&str> {
        self.conversation_id.as_deref()
    }

    /// The properties, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.properties.iter().map(|(k, (_, v))| (&**k, v))
    }

    /// Whether there is neither a property nor a conversation id.
    pub fn is_empty(&self) -> bool {
        self.properties.is_empty() && self.conversation_id.is_none()
    }

    /// A copy of `parent` in which these properties are merged over the ones already in force
    /// there (these win per key). Nothing is attached; use this with
    /// [`FutureExt::with_context`](opentelemetry::context::FutureExt::with_context) or
    /// [`Context::attach`] when you manage contexts yourself.
    pub fn to_context(&self, parent: &Context) -> Context {
        if self.is_empty() {
            return parent.clone();
        }
        let mut scope = ScopeValues::from_context(parent);
        if !self.properties.is_empty() {
            let properties = Arc::make_mut(&mut scope.properties);
            for (key, entry) in &self.properties {
                properties.insert(Arc::clone(key), entry.clone());
            }
        }
        if let Some(id) = &self.conversation_id {
            scope.conversation_id = Some(Arc::clone(id));
        }
        parent.with_value(scope.seal())
    }

    /// Makes these properties current (merged with the enclosing ones) until the returned guard
    /// is dropped.
    ///
    /// The guard is `!Send` and must not be held across an `.await`: in async code use
    /// [`scope`](Self::scope) or [`with_association_properties`] instead.
    #[must_use = "the properties apply only while the guard is alive"]
    pub fn attach(self) -> AssociationGuard {
        AssociationGuard {
            _guard: self.enter_current().attach(),
        }
    }

    /// Runs `f` with these properties current.
    pub fn in_scope<R>(self, f: impl FnOnce() -> R) -> R {
        let _guard = self.attach();
        f()
    }

    /// Wraps `future` so that these properties are current while it runs.
    ///
    /// On every poll the wrapper merges the properties into the context current *at that
    /// moment* and attaches the result for the duration of the poll. It therefore composes with
    /// entity futures and other context wrappers in either order. It does not capture the
    /// context it is created in: to keep the current span as parent when you spawn it, wrap it
    /// with [`FutureExt::with_current_context`](opentelemetry::context::FutureExt::with_current_context)
    /// as well (the properties apply either way).
    pub fn scope<F: IntoFuture>(self, future: F) -> WithAssociations<F::IntoFuture> {
        WithAssociations {
            inner: future.into_future(),
            properties: self,
            labelled: false,
        }
    }

    /// The current context with these properties merged in; also labels the current entity span
    /// (see the module docs).
    fn enter_current(&self) -> Context {
        let parent = Context::current();
        self.label_entity_span(&parent);
        self.to_context(&parent)
    }

    /// If the span in `cx` is the entity whose body `cx` is, writes the properties that are new
    /// or changed relative to the ones in force onto it.
    fn label_entity_span(&self, cx: &Context) {
        let Some(scope) = cx.get::<ScopeValues>() else {
            return;
        };
        if !current_span_is_entity(cx, scope) {
            return;
        }
        let span = cx.span();
        if !span.is_recording() {
            return;
        }
        let mut attributes = Vec::new();
        for (key, (attribute_key, value)) in &self.properties {
            if scope.properties.get(key).map(|(_, v)| v) != Some(value) {
                attributes.push(KeyValue::new(attribute_key.clone(), value.clone()));
            }
        }
        if let Some(id) = &self.conversation_id
            && scope.conversation_id.as_ref() != Some(id)
        {
            attributes.push(KeyValue::new(
                attr::GEN_AI_CONVERSATION_ID,
                Value::from(Arc::clone(id)),
            ));
        }
        if !attributes.is_empty() {
            span.set_attributes(attributes);
        }
    }
}

/// An empty [`AssociationProperties`] to add properties to:
/// `associations().with("user_id", "u1").attach()`.
pub fn associations() -> AssociationProperties {
    AssociationProperties::new()
}

/// Keeps association properties current until dropped; see [`AssociationProperties::attach`].
#[derive(Debug)]
#[must_use = "the properties apply only while the guard is alive"]
pub struct AssociationGuard {
    _guard: ContextGuard,
}

/// Wraps `future` so that `properties` are current (merged with the enclosing ones) while it
/// runs; see [`AssociationProperties::scope`].
pub fn with_association_properties<F: IntoFuture>(
    properties: AssociationProperties,
    future: F,
) -> WithAssociations<F::IntoFuture> {
    properties.scope(future)
}

/// Makes `id` the current conversation id (`gen_ai.conversation.id`) until the guard is dropped.
pub fn set_conversation_id(id: impl Into<Arc<str>>) -> AssociationGuard {
    AssociationProperties::new().conversation_id(id).attach()
}

/// Wraps `future` so that `id` is the conversation id (`gen_ai.conversation.id`) while it runs.
pub fn with_conversation_id<F: IntoFuture>(
    id: impl Into<Arc<str>>,
    future: F,
) -> WithAssociations<F::IntoFuture> {
    AssociationProperties::new()
        .conversation_id(id)
        .scope(future)
}

/// Adds association scopes to any future:
/// `answer().with_association_properties(props).await`.
pub trait AssociationFutureExt: IntoFuture + Sized {
    /// See [`with_association_properties`].
    fn with_association_properties(
        self,
        properties: AssociationProperties,
    ) -> WithAssociations<Self::IntoFuture> {
        properties.scope(self)
    }

    /// See [`with_conversation_id`].
    fn with_conversation_id(self, id: impl Into<Arc<str>>) -> WithAssociations<Self::IntoFuture> {
        with_conversation_id(id, self)
    }
}

impl<F: IntoFuture> AssociationFutureExt for F {}

pin_project_lite::pin_project! {
    /// A future running with association properties; see [`AssociationProperties::scope`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct WithAssociations<F> {
        #[pin]
        inner: F,
        properties: AssociationProperties,
        // Whether the entity span current at the first poll was labelled already.
        labelled: bool,
    }
}

impl<F> WithAssociations<F> {
    /// The properties this future runs with (merged over the enclosing ones on each poll).
    pub fn properties(&self) -> &AssociationProperties {
        &self.properties
    }
}

impl<F: Future> Future for WithAssociations<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task_cx: &mut std::task::Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let parent = Context::current();
        if !*this.labelled {
            *this.labelled = true;
            this.properties.label_entity_span(&parent);
        }
        let _attached = this.properties.to_context(&parent).attach();
        this.inner.poll(task_cx)
    }
}
