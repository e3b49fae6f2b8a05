//! Attribute macros for openllmetry entity spans; use them through the `openllmetry` crate
//! (`openllmetry::workflow`, …), which re-exports them: the generated code refers to
//! `::openllmetry::__private` only.
//!
//! See the documentation of `openllmetry::workflow` for what they do.

use proc_macro::TokenStream;

mod args;
mod expand;

use expand::Kind;

/// Runs a function inside a **workflow** span (`{name}.workflow`).
///
/// A workflow is one end-to-end job of an LLM application. Its name is recorded as
/// `traceloop.workflow.name` on the workflow span and on every span started while it runs,
/// LLM spans included.
///
/// ```
/// use openllmetry::{task, workflow};
///
/// #[workflow(name = "answer", version = 2)]
/// fn answer(question: &str) -> String {
///     let context = retrieve(question);
///     format!("{question}: {context}")
/// }
///
/// #[task]
/// fn retrieve(question: &str) -> String {
///     question.to_uppercase()
/// }
/// # assert_eq!(answer("q"), "q: Q");
/// ```
///
/// # Arguments
///
/// * `name = "…"` (string literal): the entity name; defaults to the function's name.
/// * `version = N` (integer literal): recorded as `traceloop.entity.version`.
///
/// # What is recorded
///
/// Applies to all four macros (`workflow`, `task`, `agent`, `tool`):
///
/// * The span is named `{name}.{kind}`, is `INTERNAL`, carries `traceloop.span.kind` and
///   `traceloop.entity.name`, and is current while the body runs (see `openllmetry::entity` for
///   every attribute and the entity-path rule).
/// * **Input** (`traceloop.entity.input`): a JSON object `{"arg": value, …}` of the arguments
///   whose types implement `serde::Serialize`, as known where the function is defined (a generic
///   `T` counts only if bounded by `Serialize`). Other arguments, `self`, and arguments bound by
///   a pattern other than a plain name are left out; they never make the build fail.
/// * **Output** (`traceloop.entity.output`): the JSON of the return value, if `Serialize`; for a
///   `Result`, of the `Ok` value. Not recorded for functions returning `()`, `!`, or a type that
///   mentions `impl Trait`.
/// * Input and output are serialized only when content capture is on and the span is sampled;
///   a serialization failure just leaves the attribute out.
/// * **Errors**: a function whose return type is `core::result::Result<T, E>` — written directly
///   or through any alias (`io::Result<T>`, `anyhow::Result<T>`, …), as resolved where the
///   function is defined (a generic `R` that happens to be a `Result` does not count) and not
///   mentioning `impl Trait` — sets status `ERROR` when it returns `Err(e)`, with
///   `error.type` = the type name of `E` and, if `E: Display`, `e.to_string()` as the status
///   description. A panic that unwinds out of the function sets status `ERROR` and
///   `error.type = "panic"`, and is resumed.
///
/// # Sync and async
///
/// Works on free functions, methods (`self`, `&self`, `&mut self`), trait methods with a body,
/// generic functions, `unsafe fn` and `async fn`. The body of a sync function runs in a
/// `move` closure (so that `return` and `?` keep working and the return value can be
/// recorded); the body of an `async fn` runs in an `async move` block whose span context is
/// attached on every poll and detached after it. The span of an `async fn` starts at its first
/// poll, as a child of the context current then: when you spawn such a future, wrap it with
/// `opentelemetry::context::FutureExt::with_current_context` (or call it inside a parent
/// entity) to keep the parent. A non-`async` function that returns a future is instrumented
/// only while it builds the future.
///
/// # Rejected
///
/// `const fn`, items that are not functions, trait methods without a body, unknown arguments
/// and values of the wrong type are compile errors pointing at the offending token.
#[proc_macro_attribute]
pub fn workflow(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::entity(Kind::Workflow, attr.into(), item.into()).into()
}

/// Runs a function inside a **task** span (`{name}.task`): a step of a workflow.
///
/// The task's name is appended to `traceloop.entity.path` for everything started inside it.
/// Same arguments and behaviour as [`macro@workflow`].
///
/// ```
/// #[openllmetry::task(name = "summarize")]
/// async fn summarize(text: String) -> Result<String, std::fmt::Error> {
///     Ok(text.chars().take(10).collect())
/// }
/// ```
#[proc_macro_attribute]
pub fn task(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::entity(Kind::Task, attr.into(), item.into()).into()
}

/// Runs a function inside an **agent** span (`{name}.agent`).
///
/// Sets `gen_ai.agent.name` on the agent span and every span started inside it, and appends
/// the name to `traceloop.entity.path`. Same arguments and behaviour as [`macro@workflow`].
///
/// ```
/// struct Planner;
///
/// impl Planner {
///     #[openllmetry::agent(name = "planner")]
///     fn plan(&self, goal: &str) -> Vec<String> {
///         vec![goal.to_owned()]
///     }
/// }
/// ```
#[proc_macro_attribute]
pub fn agent(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::entity(Kind::Agent, attr.into(), item.into()).into()
}

/// Runs a function inside a **tool** span (`{name}.tool`).
///
/// Sets `gen_ai.tool.name` on the tool span and appends the name to `traceloop.entity.path`.
/// Same arguments and behaviour as [`macro@workflow`].
///
/// ```
/// #[openllmetry::tool]
/// fn get_weather(city: &str) -> String {
///     format!("sunny in {city}")
/// }
/// ```
#[proc_macro_attribute]
pub fn tool(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::entity(Kind::Tool, attr.into(), item.into()).into()
}
