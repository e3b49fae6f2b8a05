//! Process-wide switches decided by `init` and read on hot paths.

use std::sync::atomic::{AtomicBool, Ordering};

static CONTENT_CAPTURE: AtomicBool = AtomicBool::new(true);

/// Whether prompts, completions, tool arguments and entity input/output may be recorded.
pub(crate) fn content_capture() -> bool {
    CONTENT_CAPTURE.load(Ordering::Relaxed)
}

/// Set by `init` from the configuration.
#[allow(dead_code)]
pub(crate) fn set_content_capture(on: bool) {
    CONTENT_CAPTURE.store(on, Ordering::Relaxed);
}
