//! Process-global state and the lazily started telemetry thread.

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::Instant;

use super::config::TelemetryConfig;
use super::gate::{Decision, Switch, TelemetryLevel};
use super::schema::{Component, Counters, Kind, Operation, Report};
use super::transport::Uploader;

/// Name of the telemetry thread (≤ 15 bytes, so `/proc/self/task/*/comm` shows it whole).
pub(crate) const THREAD_NAME: &str = "ollm-telemetry";

/// The fault counters (a fixed table; see [`Counters`]).
pub(crate) static COUNTERS: Counters = Counters::new();
/// The installed state; empty until `install`.
static GLOBAL: OnceLock<Global> = OnceLock::new();
/// Set while a wake-up message is queued, so that a burst of faults queues one message.
static WAKE_PENDING: AtomicBool = AtomicBool::new(false);
/// Set once the telemetry thread has been started (it is started at most once).
static WORKER_STARTED: AtomicBool = AtomicBool::new(false);
/// Panics caught inside the telemetry module (counted here only, never reported).
static CAUGHT_PANICS: AtomicU64 = AtomicU64::new(0);
/// The `on` notice has been printed.
static ON_NOTICE_PRINTED: AtomicBool = AtomicBool::new(false);

enum Msg {
    /// Something was recorded.
    Wake,
    /// Send what is pending (if the interval allows), acknowledge, and stop.
    Flush(SyncSender<()>),
}

pub(crate) struct Global {
    /// The decision passed to the first `install` (the one the uploader's token comes from).
    decision: Decision,
    config: TelemetryConfig,
    /// The level in force and its switch, packed (`level | switch << 2`). It can only go
    /// down to `off` after install (a later `install` with `off`).
    current: AtomicU8,
    /// `shutdown` was called, the upload cap was reached or the thread died: no more
    /// wake-ups, no new thread.
    stopped: AtomicBool,
    worker: OnceLock<Option<SyncSender<Msg>>>,
}

const fn pack(level: TelemetryLevel, switch: Switch) -> u8 {
    level.to_u8() | (switch.to_u8() << 2)
}

impl Global {
    pub(crate) fn current(&self) -> Decision {
        let v = self.current.load(Ordering::Acquire);
        Decision::from_parts(TelemetryLevel::from_u8(v & 0b11), Switch::from_u8(v >> 2))
    }

    pub(crate) fn config(&self) -> &TelemetryConfig {
        &self.config
    }

    fn level(&self) -> TelemetryLevel {
        TelemetryLevel::from_u8(self.current.load(Ordering::Acquire) & 0b11)
    }

    fn wake(&self) {
        if self.stopped.load(Ordering::Acquire) || WAKE_PENDING.swap(true, Ordering::AcqRel) {
            return;
        }
        let sent = match self.worker() {
            Some(tx) => tx.try_send(Msg::Wake).is_ok(),
            None => false,
        };
        if !sent {
            WAKE_PENDING.store(false, Ordering::Release);
        }
    }

    /// The channel to the telemetry thread, starting it on first use.
    fn worker(&self) -> Option<&SyncSender<Msg>> {
        self.worker.get_or_init(|| self.spawn()).as_ref()
    }

    fn spawn(&self) -> Option<SyncSender<Msg>> {
        let sink = match self.decision.level() {
            TelemetryLevel::On => Sink::Upload(Box::new(Uploader::new(
                self.decision.upload_token()?,
                self.config.endpoint(),
                self.config.timeout(),
            ))),
            TelemetryLevel::Debug => Sink::Stderr,
            TelemetryLevel::Off | TelemetryLevel::Local => return None,
        };
        if self.config.max_uploads() == 0 {
            return None;
        }
        let (tx, rx) = sync_channel(4);
        let config = self.config.clone();
        let spawned = std::thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || {
                let result = catch_unwind(AssertUnwindSafe(|| run(&rx, sink, &config)));
                if result.is_err() {
                    CAUGHT_PANICS.fetch_add(1, Ordering::Relaxed);
                }
                if let Some(g) = GLOBAL.get() {
                    g.stopped.store(true, Ordering::Release);
                }
            });
        match spawned {
            Ok(_) => {
                WORKER_STARTED.store(true, Ordering::Release);
                Some(tx)
            }
            Err(_) => None,
        }
    }
}

pub(crate) fn global() -> Option<&'static Global> {
    GLOBAL.get()
}

/// Installs the state (first call) or lowers it to `off` (a later call with `off`). Returns
/// whether this call installed it.
pub(crate) fn install(decision: Decision, config: TelemetryConfig) -> bool {
    let mut first = false;
    let g = GLOBAL.get_or_init(|| {
        first = true;
        Global {
            decision,
            current: AtomicU8::new(pack(decision.level(), decision.decided_by())),
            config,
            stopped: AtomicBool::new(false),
            worker: OnceLock::new(),
        }
    });
    if !first && decision.level() == TelemetryLevel::Off {
        // Any off wins, even after the fact: stop recording and sending.
        g.current.store(
            pack(TelemetryLevel::Off, decision.decided_by()),
            Ordering::Release,
        );
        g.stopped.store(true, Ordering::Release);
        if let Some(Some(tx)) = g.worker.get() {
            let _ = tx.try_send(Msg::Wake);
        }
    }
    first
}

/// Prints the one-line `on` notice to stderr, once per process.
pub(crate) fn print_on_notice(config: &TelemetryConfig) {
    if ON_NOTICE_PRINTED.swap(true, Ordering::AcqRel) {
        return;
    }
    let line = format!(
        "openllmetry: telemetry is on: anonymous SDK fault counts (component, operation, fault \
         kind, count, SDK version, OS, arch; never content, messages, ids or host data) are \
         sent to {} at most once every {}; turn it off with TRACELOOP_TELEMETRY=off or \
         DO_NOT_TRACK=1 (see TELEMETRY.md)\n",
        config.endpoint(),
        human(config.interval()),
    );
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// `1 h`, `10 min`, `30 s`, `250 ms`.
fn human(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3600 && secs.is_multiple_of(3600) {
        format!("{} h", secs / 3600)
    } else if secs >= 60 && secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else if secs > 0 && d.subsec_nanos() == 0 {
        format!("{secs} s")
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// The recording path: cheap, non-blocking, never panics out.
pub(crate) fn record(component: Component, operation: Operation, kind: Kind) {
    let Some(g) = GLOBAL.get() else { return };
    let level = g.level();
    if !level.records() {
        return;
    }
    let result = catch_unwind(AssertUnwindSafe(|| {
        COUNTERS.add(component, operation, kind);
        if matches!(level, TelemetryLevel::On | TelemetryLevel::Debug) {
            g.wake();
        }
    }));
    if result.is_err() {
        CAUGHT_PANICS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Flushes (if the interval allows) and stops the thread, waiting at most the configured
/// shutdown timeout.
pub(crate) fn shutdown() {
    let Some(g) = GLOBAL.get() else { return };
    if g.stopped.swap(true, Ordering::AcqRel) {
        return;
    }
    let Some(Some(tx)) = g.worker.get() else {
        return;
    };
    let (ack_tx, ack_rx) = sync_channel(1);
    if tx.try_send(Msg::Flush(ack_tx)).is_ok() {
        let _ = ack_rx.recv_timeout(g.config.shutdown_timeout());
    }
}

pub(crate) fn worker_started() -> bool {
    WORKER_STARTED.load(Ordering::Acquire)
}

pub(crate) fn caught_panics() -> u64 {
    CAUGHT_PANICS.load(Ordering::Relaxed)
}

enum Sink {
    Upload(Box<Uploader>),
    Stderr,
}

impl Sink {
    fn send(&mut self, report: &Report) {
        match self {
            Sink::Upload(uploader) => {
                if let Some(body) = report.to_json() {
                    // Failures are silent by design; the counts are not re-sent.
                    let _ = uploader.upload(&body);
                }
            }
            Sink::Stderr => {
                if let Some(json) = report.to_pretty_json() {
                    let text = format!(
                        "openllmetry telemetry (debug: this report is printed, not sent):\n{json}\n"
                    );
                    let _ = std::io::stderr().lock().write_all(text.as_bytes());
                }
            }
        }
    }
}

/// Still allowed to send: not lowered to `off` and not stopped by the cap or a panic.
fn active() -> bool {
    GLOBAL
        .get()
        .is_some_and(|g| matches!(g.level(), TelemetryLevel::On | TelemetryLevel::Debug))
}

/// The telemetry thread: waits for faults, batches them for `batch_delay`, sends at most one
/// report per `interval` and at most `max_uploads` reports, then exits.
fn run(rx: &Receiver<Msg>, mut sink: Sink, config: &TelemetryConfig) {
    let mut uploads: u32 = 0;
    let mut next_allowed = Instant::now();
    let mut deadline: Option<Instant> = None;
    let mut send = |uploads: &mut u32, next_allowed: &mut Instant| {
        let counts = COUNTERS.take_pending();
        if counts.is_empty() {
            return;
        }
        sink.send(&Report::new(counts));
        *uploads += 1;
        *next_allowed = Instant::now() + config.interval();
    };
    loop {
        if uploads >= config.max_uploads() || !active() {
            return;
        }
        let msg = match deadline {
            Some(at) => match rx.recv_timeout(at.saturating_duration_since(Instant::now())) {
                Ok(msg) => Some(msg),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            },
            None => match rx.recv() {
                Ok(msg) => Some(msg),
                Err(_) => return,
            },
        };
        match msg {
            Some(Msg::Wake) => {
                WAKE_PENDING.store(false, Ordering::Release);
                if deadline.is_none() {
                    deadline = Some((Instant::now() + config.batch_delay()).max(next_allowed));
                }
            }
            Some(Msg::Flush(ack)) => {
                if Instant::now() >= next_allowed && active() {
                    send(&mut uploads, &mut next_allowed);
                }
                let _ = ack.try_send(());
                return;
            }
            None => {
                if active() {
                    send(&mut uploads, &mut next_allowed);
                }
                // Faults that raced with the send wait for the next allowed time.
                deadline = (!COUNTERS.pending().is_empty()).then_some(next_allowed);
            }
        }
    }
}
