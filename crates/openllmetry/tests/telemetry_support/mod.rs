//! Helpers shared by the `telemetry_*` integration tests (each file is its own process).

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use openllmetry_core::{ApiFormat, Fault, FaultKind, Operation};

/// An environment lookup over fixed pairs (nothing else is set).
pub fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

/// Threads of this process named like the telemetry thread (Linux: `/proc/self/task/*/comm`).
pub fn telemetry_threads() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| t.ok())
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == openllmetry::telemetry::__THREAD_NAME)
        .count()
}

/// A core fault.
pub fn fault(provider: ApiFormat, operation: Operation, kind: FaultKind) -> Fault {
    Fault {
        provider,
        operation,
        kind,
    }
}

/// Polls `cond` every 10 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, cond: impl Fn() -> bool) -> bool {
    let until = Instant::now() + timeout;
    while Instant::now() < until {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}
