//! Tests that need a process of their own (the real environment and the process-global
//! OpenTelemetry state are what `init` reads and sets): the parent re-runs its own test binary
//! with one `#[ignore]`d child test selected.

use std::process::Command;

/// This test binary, set to run only the `#[ignore]`d test `test`, with its output shown and
/// SDK telemetry off.
pub fn ignored_test(test: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        test,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    cmd.env("TRACELOOP_TELEMETRY", "off");
    cmd
}
