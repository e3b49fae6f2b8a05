//! Local, always-on diagnostics of the export pipeline: failed exports, dropped and
//! truncated spans. Unlike [`crate::telemetry`], these counters never leave the process and
//! do not depend on the telemetry level (`DO_NOT_TRACK`, `CI`, `TRACELOOP_TELEMETRY`): the
//! privacy switches govern what leaves the machine, not what the operator sees.
//!
//! # One channel for the SDK's messages
//!
//! Everything the SDK has to tell the operator (export problems, observation bounds reached,
//! invalid settings, init's one status line) goes through this module. When a `tracing`
//! subscriber is installed (the application's, or the gateway's log), each message is a
//! `tracing` event with target [`TARGET`], its values as fields; otherwise it is one line on
//! stderr, `openllmetry: <message> key=value ...`. Export problems are rate-limited: the first
//! at once, then at most one per [`WARNING_INTERVAL`] with the counts since the previous one.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Minimum interval between two export warnings (the first is emitted at once).
pub const WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// The `tracing` target of the SDK's messages.
pub const TARGET: &str = "openllmetry";

/// Whether a `tracing` subscriber is in force here (the global default or a scoped one).
fn subscriber_installed() -> bool {
    tracing::dispatcher::get_default(|d| !d.is::<tracing::subscriber::NoSubscriber>())
}

/// Emits one message: a `tracing` event (target [`TARGET`], `key = value` fields) when a
/// subscriber is installed, else `openllmetry: <message> key=value ...` on stderr.
macro_rules! emit {
    ($level:ident, $msg:expr $(, $k:ident = $v:expr)* $(,)?) => {{
        let msg = $msg;
        if subscriber_installed() {
            tracing::$level!(target: TARGET, $($k = %$v,)* "{}", msg);
        } else {
            #[allow(unused_mut)]
            let mut line = format!("openllmetry: {}", msg);
            $(let _ = write!(line, " {}={}", stringify!($k), $v);)*
            eprintln!("{line}");
        }
    }};
}

/// A warning through the SDK's one diagnostics channel (see the [module docs](self)):
/// a `tracing` warning with target [`TARGET`] when a subscriber is installed, else
/// `openllmetry: <message>` on stderr. Not rate-limited: for one-off messages.
pub fn warn(message: impl std::fmt::Display) {
    emit!(warn, message);
}

/// An informational message through the same channel; on stderr the line is printed as
/// given (init's status line carries its own prefix).
pub(crate) fn info_line(line: impl std::fmt::Display) {
    if subscriber_installed() {
        tracing::info!(target: TARGET, "{}", line);
    } else {
        eprintln!("{line}");
    }
}

static EXPORT_FAILURES: AtomicU64 = AtomicU64::new(0);
static SPANS_DROPPED: AtomicU64 = AtomicU64::new(0);
static SPANS_TRUNCATED: AtomicU64 = AtomicU64::new(0);
static OBSERVATIONS_REDUCED: AtomicU64 = AtomicU64::new(0);
static REDUCED_WARNED: Mutex<(Option<Instant>, u64)> = Mutex::new((None, 0));

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
    /// Calls observed partially because an observation bound was reached (body or inflate
    /// caps, the observation byte budget, a model name cut for metrics): the bytes passed
    /// through whole; the span is marked.
    pub observations_reduced: u64,
}

/// The export pipeline's local counters; always kept, whatever the telemetry level.
pub fn diagnostics() -> Diagnostics {
    Diagnostics {
        export_failures: EXPORT_FAILURES.load(Ordering::Relaxed),
        spans_dropped: SPANS_DROPPED.load(Ordering::Relaxed),
        spans_truncated: SPANS_TRUNCATED.load(Ordering::Relaxed),
        last_export_error: WARNER.lock().ok().and_then(|w| w.last_cause.clone()),
        observations_reduced: OBSERVATIONS_REDUCED.load(Ordering::Relaxed),
    }
}

/// An instrumentation fault from the core: the ones that mean a bound was reached are
/// counted and logged on stderr (the first at once, then at most one line per
/// [`WARNING_INTERVAL`] with the count since the previous line).
pub(crate) fn fault(kind: openllmetry_core::FaultKind) {
    use openllmetry_core::FaultKind as K;
    if !matches!(
        kind,
        K::BodyTooLarge
            | K::EventTooLarge
            | K::StreamContentTruncated
            | K::InflatedTooLarge
            | K::ValueTruncated
            | K::ObservationBudget
    ) {
        return;
    }
    let total = OBSERVATIONS_REDUCED.fetch_add(1, Ordering::Relaxed) + 1;
    let since_last = {
        let Ok(mut w) = REDUCED_WARNED.lock() else {
            return;
        };
        if w.0.is_some_and(|t| t.elapsed() < WARNING_INTERVAL) {
            return;
        }
        let since_last = total - w.1;
        *w = (Some(Instant::now()), total);
        since_last
    };
    // Emitted with no lock held: a subscriber may export, and a failed export lands here.
    emit!(
        warn,
        "observation bound reached (the application is not affected): calls observed partially since the last report, spans marked openllmetry.*.truncated",
        calls = since_last,
        last = kind.as_str(),
    );
}

pub(crate) fn export_failed(signal: &str, cause: &str) {
    EXPORT_FAILURES.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut w) = WARNER.lock() {
        w.last_cause = Some(format!("{signal}: {cause}"));
    }
    warn_export();
}

pub(crate) fn span_dropped(why: &str) {
    SPANS_DROPPED.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut w) = WARNER.lock()
        && w.last_cause.is_none()
    {
        w.last_cause = Some(why.to_owned());
    }
    warn_export();
}

pub(crate) fn span_truncated() {
    SPANS_TRUNCATED.fetch_add(1, Ordering::Relaxed);
    warn_export();
}

/// Emits one warning if something new happened and the last one is older than
/// [`WARNING_INTERVAL`].
fn warn_export() {
    let (f, dr, tr, cause) = {
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
        w.last = Some(Instant::now());
        w.reported_failures = d.0;
        w.reported_dropped = d.1;
        w.reported_truncated = d.2;
        (f, dr, tr, w.last_cause.clone().unwrap_or_default())
    };
    // Emitted with no lock held: a subscriber may export, and a failed export lands here.
    emit!(
        warn,
        "telemetry export failed, dropped or truncated data since the last report (the application is not affected): failed exports lose their data, dropped spans were over the export queue, truncated spans are marked openllmetry.truncated",
        failed = f,
        dropped = dr,
        truncated = tr,
        cause = format!("{cause:?}"),
    );
}
