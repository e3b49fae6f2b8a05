//! Local, always-on diagnostics of the export pipeline: failed exports, dropped and
//! truncated spans. Unlike [`crate::telemetry`], these counters never leave the process and
//! do not depend on the telemetry level (`DO_NOT_TRACK`, `CI`, `TRACELOOP_TELEMETRY`): the
//! privacy switches govern what leaves the machine, not what the operator sees.
//!
//! The SDK prints the first export problem on stderr at once, then at most one line per
//! [`WARNING_INTERVAL`] with the counts since the previous line.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Minimum interval between two export warnings on stderr (the first is printed at once).
pub const WARNING_INTERVAL: Duration = Duration::from_secs(60);

static EXPORT_FAILURES: AtomicU64 = AtomicU64::new(0);
static SPANS_DROPPED: AtomicU64 = AtomicU64::new(0);
static SPANS_TRUNCATED: AtomicU64 = AtomicU64::new(0);

struct Warner {
    last: Option<Instant>,
    reported_failures: u64,
    reported_dropped: u64,
    reported_truncated: u64,
    last_cause: Option<String>,
}

static WARNER: Mutex<Warner> = Mutex::new(Warner {
    last: None,
    reported_failures: 0,
    reported_dropped: 0,
    reported_truncated: 0,
    last_cause: None,
});

/// A snapshot of the export pipeline's local counters (since the process started).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostics {
    /// Export calls (spans, metrics or logs) the endpoint did not accept: their data is lost.
    pub export_failures: u64,
    /// Spans dropped before export because the export queue was full.
    pub spans_dropped: u64,
    /// Spans exported with some attribute values truncated (request-size cap, export-queue
    /// byte budget or the OTel attribute value length limits), marked `openllmetry.truncated`.
    pub spans_truncated: u64,
    /// The cause of the most recent export failure, if any.
    pub last_export_error: Option<String>,
}

/// The export pipeline's local counters; always kept, whatever the telemetry level.
pub fn diagnostics() -> Diagnostics {
    Diagnostics {
        export_failures: EXPORT_FAILURES.load(Ordering::Relaxed),
        spans_dropped: SPANS_DROPPED.load(Ordering::Relaxed),
        spans_truncated: SPANS_TRUNCATED.load(Ordering::Relaxed),
        last_export_error: WARNER.lock().ok().and_then(|w| w.last_cause.clone()),
    }
}

pub(crate) fn export_failed(signal: &str, cause: &str) {
    EXPORT_FAILURES.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut w) = WARNER.lock() {
        w.last_cause = Some(format!("{signal}: {cause}"));
    }
    warn();
}

pub(crate) fn span_dropped(why: &str) {
    SPANS_DROPPED.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut w) = WARNER.lock()
        && w.last_cause.is_none()
    {
        w.last_cause = Some(why.to_owned());
    }
    warn();
}

pub(crate) fn span_truncated() {
    SPANS_TRUNCATED.fetch_add(1, Ordering::Relaxed);
    warn();
}

/// Prints one line on stderr if something new happened and the last line is older than
/// [`WARNING_INTERVAL`].
fn warn() {
    let Ok(mut w) = WARNER.lock() else { return };
    if w.last.is_some_and(|t| t.elapsed() < WARNING_INTERVAL) {
        return;
    }
    let d = (
        EXPORT_FAILURES.load(Ordering::Relaxed),
        SPANS_DROPPED.load(Ordering::Relaxed),
        SPANS_TRUNCATED.load(Ordering::Relaxed),
    );
    let (f, dr, tr) = (
        d.0 - w.reported_failures,
        d.1 - w.reported_dropped,
        d.2 - w.reported_truncated,
    );
    if f == 0 && dr == 0 && tr == 0 {
        return;
    }
    let cause = w.last_cause.clone().unwrap_or_default();
    eprintln!(
        "openllmetry: telemetry export problem (the application is not affected): {f} failed export(s), {dr} span(s) dropped (export queue full), {tr} span(s) truncated since the last report; last cause: {cause}"
    );
    w.last = Some(Instant::now());
    w.reported_failures = d.0;
    w.reported_dropped = d.1;
    w.reported_truncated = d.2;
}
