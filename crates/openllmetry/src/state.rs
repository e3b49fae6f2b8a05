//! Process-wide content policy decided by `init` and read on hot paths.
//!
//! There is one content-capture switch, the recorder's: [`Instrumentation::captures_content`]
//! of the global instrumentation (set by `init` from `TRACELOOP_TRACE_CONTENT`). Entity
//! input/output reads it too. What lives here is what the recorder cannot hold for entity
//! content: whether secrets are masked in it (`TRACELOOP_MASK_SECRETS`) and the user's
//! redaction hook.
//!
//! [`Instrumentation::captures_content`]: openllmetry_core::Instrumentation::captures_content

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock};

use crate::config::RedactHook;

static MASK_SECRETS: AtomicBool = AtomicBool::new(false);
static REDACT_HOOK: RwLock<Option<RedactHook>> = RwLock::new(None);

/// Whether prompts, completions, tool arguments and entity input/output may be recorded: the
/// global instrumentation's switch.
pub(crate) fn content_capture() -> bool {
    openllmetry_core::Instrumentation::global().captures_content()
}

/// Whether the global instrumentation renders the `semconv` flavour (the latest experimental
/// GenAI conventions), in which agent and tool entities become `invoke_agent` /
/// `execute_tool` spans.
pub(crate) fn semconv_flavour() -> bool {
    openllmetry_core::Instrumentation::global().flavour() == openllmetry_core::Flavour::Semconv
}

/// Whether secrets are masked in entity input/output (as in LLM content).
pub(crate) fn mask_secrets() -> bool {
    MASK_SECRETS.load(Ordering::Relaxed)
}

/// Set by `init` from the configuration.
pub(crate) fn set_mask_secrets(on: bool) {
    MASK_SECRETS.store(on, Ordering::Relaxed);
}

/// The user's redaction hook, for entity content (the recorder holds its own copy for LLM
/// content).
pub(crate) fn redact_hook() -> Option<RedactHook> {
    REDACT_HOOK
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// Set by `init` from the configuration (`None` clears a previous one).
pub(crate) fn set_redact_hook(hook: Option<RedactHook>) {
    *REDACT_HOOK.write().unwrap_or_else(PoisonError::into_inner) = hook;
}
