//! Serves the end-to-end scenarios from looping replay servers on loopback, for the Python
//! side of the comparison.
//!
//! Prints one JSON line describing every scenario (name, label, provider, stream, SSE events
//! per response, `base_url`, recorded path and request body), then serves until its standard
//! input closes.

use std::io::{BufRead as _, Write as _};

use openllmetry_bench::e2e::Target;
use openllmetry_bench::scenario::END_TO_END;
use serde_json::{Value, json};

fn main() {
    let targets: Vec<Target> = END_TO_END
        .iter()
        .map(|s| Target::start(s).expect("replay server"))
        .collect();
    let scenarios: Vec<Value> = targets
        .iter()
        .map(|t| {
            let s = &t.loaded.scenario;
            json!({
                "name": s.name,
                "label": s.label,
                "provider": s.provider,
                "stream": s.stream,
                "chunks": t.loaded.chunks(),
                "base_url": t.server.base_url(),
                "path": t.loaded.path(),
                "request": t.loaded.interaction.request.body_json(),
            })
        })
        .collect();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", json!({ "scenarios": scenarios })).expect("stdout");
    out.flush().expect("stdout");
    drop(out);
    // Serve until stdin closes (the parent exited or closed the pipe).
    let mut line = String::new();
    let stdin = std::io::stdin();
    while stdin.lock().read_line(&mut line).is_ok_and(|n| n > 0) {
        line.clear();
    }
    drop(targets);
}
