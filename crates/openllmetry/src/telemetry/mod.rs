//! Privacy-first telemetry of SDK-internal faults.
//!
//! When an instrumentation cannot understand a provider response (a changed API, a new stream
//! event), the core reports a [`Fault`]: a provider format, an operation and a fault kind,
//! all closed enums. This module counts those faults and, **only if you opt in**, sends the
//! counts to the maintainers so that they learn quickly when a provider change breaks an
//! instrumentation. The full contract, including every field of the report, is in
//! `TELEMETRY.md` at the repository root; a test keeps that document equal to the schema.
//!
//! # Levels
//!
//! | level | what happens |
//! |---|---|
//! | `off` | nothing is recorded; no thread, task, socket or file is ever created |
//! | `local` (default) | faults are counted in this process ([`preview`], [`fault_counts`]); nothing leaves the process |
//! | `on` (opt-in only) | as `local`, and aggregated reports are uploaded (see below) |
//! | `debug` | as `on`, but each report is printed to stderr and nothing is sent |
//!
//! # One gate
//!
//! The level is decided once, by the pure function [`decide`], from the builder option,
//! `TRACELOOP_TELEMETRY`, `DO_NOT_TRACK` and `CI` (the environment is read through a lookup
//! you pass, so the decision is testable). The most restrictive switch wins
//! (`off` > `local` > `debug` > `on`); `DO_NOT_TRACK` and `CI` (set to anything but `0` or
//! `false`) mean `off`. The builder and the variable accept the same values, parsed by
//! [`TelemetryLevel::from_str`](std::str::FromStr).
//!
//! The type that sends is private and its constructor takes an [`UploadToken`], which only
//! [`Decision::upload_token`] returns, and only at level `on`: no code path can send without
//! going through the gate. Before [`install`] nothing is recorded at all.
//!
//! # Transport (level `on`)
//!
//! * No thread, task or connection exists until the first fault is recorded. Then one
//!   thread named `ollm-telemetry` starts; the recording call itself only bumps an atomic
//!   counter in a fixed table and `try_send`s a wake-up on a bounded channel.
//! * Faults are aggregated per (component, operation, kind). The first report leaves
//!   [`TelemetryConfig::batch_delay`] (30 s) after the first fault; after that at most one
//!   report per [`TelemetryConfig::interval`] (1 h), and at most
//!   [`TelemetryConfig::max_uploads`] (20) per process.
//! * A report is one HTTP/1.1 `POST` of JSON to [`DEFAULT_ENDPOINT`] (or
//!   `TRACELOOP_TELEMETRY_ENDPOINT`), over rustls for `https://`. Each attempt has a hard
//!   timeout ([`TelemetryConfig::timeout`], 3 s) covering connect, TLS, request and status
//!   line (name resolution uses the system resolver, on the telemetry thread); there is at
//!   most one retry, and none after a 4xx. Failures are silent and
//!   the failed counts are not re-sent.
//! * [`shutdown`] sends what is pending if the interval allows and waits at most
//!   [`TelemetryConfig::shutdown_timeout`] (1 s); without it the thread simply dies with the
//!   process, so exit is never delayed.
//! * The module creates no span, log record or metric through your OpenTelemetry pipeline
//!   and logs nothing; a panic inside it is caught.
//!
//! # Wiring (done by `openllmetry::init`)
//!
//! ```
//! use std::sync::Arc;
//! use openllmetry::telemetry::{self, TelemetryConfig, TelemetryLevel};
//!
//! // From the builder option and the real environment (here: an empty one).
//! let no_env = |_: &str| None;
//! let decision = telemetry::decide(Some(TelemetryLevel::Local), &no_env)?;
//! let config = TelemetryConfig::from_lookup(&no_env)?;
//! let status = telemetry::install(decision, config);
//! assert_eq!(status.level(), TelemetryLevel::Local);
//! println!("{status}"); // openllmetry telemetry: local (builder) — ...
//!
//! // The core's fault hook.
//! let hook: Arc<dyn Fn(&openllmetry_core::Fault) + Send + Sync> = Arc::new(telemetry::record_fault);
//! # let _ = hook;
//! # Ok::<(), openllmetry::telemetry::TelemetryError>(())
//! ```

mod config;
mod gate;
mod schema;
mod transport;
mod worker;

use std::fmt;

use openllmetry_core::Fault;

pub use config::{
    DEFAULT_BATCH_DELAY, DEFAULT_ENDPOINT, DEFAULT_INTERVAL, DEFAULT_MAX_UPLOADS,
    DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_TIMEOUT, TelemetryConfig,
};
pub use gate::{
    Decision, ENV_CI, ENV_DO_NOT_TRACK, ENV_TELEMETRY, ENV_TELEMETRY_ENDPOINT, ParseLevelError,
    Switch, TelemetryError, TelemetryLevel, UploadToken, decide, decide_lossy, std_env,
};
pub use schema::{Component, FaultCount, Kind, Operation, SCHEMA_VERSION};

/// The level in force, the switch that decided it, and where reports go at level `on`.
///
/// Its `Display` is the one-line status the SDK prints at init (and that
/// `openllmetry telemetry status` prints), e.g.
/// `openllmetry telemetry: local (default) — faults are counted in-process only; nothing
/// leaves the process`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    level: TelemetryLevel,
    decided_by: Switch,
    installed: bool,
    endpoint: String,
}

impl Status {
    /// The level in force.
    pub fn level(&self) -> TelemetryLevel {
        self.level
    }

    /// The switch that decided it.
    pub fn decided_by(&self) -> Switch {
        self.decided_by
    }

    /// Whether [`install`] has run in this process. Before it nothing is recorded, and the
    /// level shown is the one the environment alone would give.
    pub fn installed(&self) -> bool {
        self.installed
    }

    /// Where reports are uploaded at level `on`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "openllmetry telemetry: {} ({}) — ",
            self.level, self.decided_by
        )?;
        match self.level {
            TelemetryLevel::Off => f.write_str("nothing is recorded and nothing is sent"),
            TelemetryLevel::Local => f.write_str(
                "faults are counted in-process only; nothing leaves the process \
                 (inspect with openllmetry::telemetry::preview())",
            ),
            TelemetryLevel::On => write!(
                f,
                "anonymous fault counts are sent to {}; turn off with TRACELOOP_TELEMETRY=off \
                 or DO_NOT_TRACK=1",
                self.endpoint
            ),
            TelemetryLevel::Debug => f.write_str("reports are printed to stderr; nothing is sent"),
        }
    }
}

/// Installs the process-wide telemetry state; `openllmetry::init` calls it once with the
/// decision from [`decide`]. Returns the [`Status`] in force (log its `Display`).
///
/// At level `on` it prints, once per process, a one-line notice to stderr saying what is sent
/// and how to turn it off. It starts nothing: the thread starts with the first fault.
///
/// Only the first call installs. A later call can only lower the level to `off` (any off
/// wins, even late); any other later decision is ignored.
pub fn install(decision: Decision, config: TelemetryConfig) -> Status {
    worker::install(decision, config);
    let status = status();
    if status.level() == TelemetryLevel::On
        && let Some(g) = worker::global()
    {
        worker::print_on_notice(g.config());
    }
    status
}

/// The level in force and the switch that decided it. Before [`install`], the decision the
/// environment alone gives (with no builder option), with [`Status::installed`] false.
pub fn status() -> Status {
    match worker::global() {
        Some(g) => {
            let d = g.current();
            Status {
                level: d.level(),
                decided_by: d.decided_by(),
                installed: true,
                endpoint: g.config().endpoint().to_owned(),
            }
        }
        None => {
            let (d, _) = decide_lossy(None, &std_env);
            let (config, _) = TelemetryConfig::from_lookup_lossy(&std_env);
            Status {
                level: d.level(),
                decided_by: d.decided_by(),
                installed: false,
                endpoint: config.endpoint().to_owned(),
            }
        }
    }
}

/// The pending report as pretty-printed JSON: exactly what the next upload would send
/// (at level `local`, what it would send if you opted in). `None` when nothing is pending,
/// at level `off`, or before [`install`].
pub fn preview() -> Option<String> {
    let g = worker::global()?;
    if !g.current().level().records() {
        return None;
    }
    let pending = worker::COUNTERS.pending();
    if pending.is_empty() {
        return None;
    }
    schema::Report::new(pending).to_pretty_json()
}

/// Every fault counted since [`install`] (including those already reported), sorted by
/// component, operation and kind. Empty at level `off` and before install.
pub fn fault_counts() -> Vec<FaultCount> {
    let Some(g) = worker::global() else {
        return Vec::new();
    };
    if !g.current().level().records() {
        return Vec::new();
    }
    let mut counts = worker::COUNTERS.totals();
    counts.sort_by_key(|c| (c.component.as_str(), c.operation.as_str(), c.kind.as_str()));
    counts
}

/// Records one instrumentation fault from the core. Cheap (an atomic increment in a fixed
/// table), never blocks, never panics; a no-op at level `off` and before [`install`].
///
/// Its signature fits the core's fault hook as is:
/// `Arc::new(openllmetry::telemetry::record_fault)`.
pub fn record_fault(fault: &Fault) {
    let (component, operation, kind) = FaultCount::key_of(fault);
    worker::record(component, operation, kind);
}

/// Records one SDK-internal fault (operation `none`). Same cost and guarantees as
/// [`record_fault`].
pub fn record_sdk_fault(component: Component, kind: Kind) {
    worker::record(component, Operation::None, kind);
}

/// Sends the pending report if the interval allows and stops the telemetry thread, waiting
/// at most [`TelemetryConfig::shutdown_timeout`]. Returns at once when no thread was started
/// (levels `off` and `local`, or no fault yet). After it, faults are still counted locally
/// but nothing more is sent. `openllmetry`'s shutdown calls it.
pub fn shutdown() {
    worker::shutdown();
}

/// Whether the telemetry thread has been started in this process (for tests).
#[doc(hidden)]
pub fn __worker_started() -> bool {
    worker::worker_started()
}

/// Panics caught inside the telemetry module (for tests).
#[doc(hidden)]
pub fn __caught_panics() -> u64 {
    worker::caught_panics()
}

/// The telemetry thread's name (for tests that look for it).
#[doc(hidden)]
pub const __THREAD_NAME: &str = worker::THREAD_NAME;
