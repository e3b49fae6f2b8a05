//! The closing table of `scripts/bench.sh`: the time our instrumentation adds per call, the
//! time the Python OpenLLMetry instrumentations add on the same replayed exchanges, and the
//! ratio, per scenario.
//!
//! ```text
//! bench-summary RUST_OTLP.json PYTHON.json [RUST_DISCARD.json] [--markdown OUT]
//! ```
//!
//! `RUST_OTLP.json` is the `overhead` run exporting over OTLP (the headline figure),
//! `RUST_DISCARD.json` the run with discarding exporters (the Python side's setup). A missing
//! or unreadable file prints `n/a` in its columns.

use std::fmt::Write as _;

use openllmetry_bench::results::{ScenarioResult, scenarios_from_file_json};
use openllmetry_bench::stats::fmt_us;

fn load(path: &str) -> Vec<ScenarioResult> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .map(|v| scenarios_from_file_json(&v))
        .unwrap_or_default()
}

/// `theirs / ours` as `N×`, when ours is a positive figure.
fn ratio(theirs: Option<f64>, ours: Option<f64>) -> String {
    match (theirs, ours) {
        (Some(t), Some(o)) if o > 0.0 => format!("{:.0}×", t / o),
        (Some(_), Some(_)) => "– (ours ≤ 0)".into(),
        _ => "n/a".into(),
    }
}

fn main() {
    let mut files = Vec::new();
    let mut markdown = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        if a == "--markdown" {
            markdown = it.next();
        } else {
            files.push(a);
        }
    }
    let (Some(ours_path), Some(theirs_path)) = (files.first(), files.get(1)) else {
        eprintln!(
            "usage: bench-summary RUST_OTLP.json PYTHON.json [RUST_DISCARD.json] [--markdown OUT]"
        );
        std::process::exit(2);
    };
    let ours = load(ours_path);
    let theirs = load(theirs_path);
    let discard = files.get(2).map(|p| load(p)).unwrap_or_default();
    if ours.is_empty() {
        eprintln!("bench-summary: no Rust results in {ours_path}");
        std::process::exit(1);
    }
    let na = || "n/a".to_owned();
    let mut md = String::new();
    let _ = writeln!(
        md,
        "| scenario | uninstrumented call, Rust (µs) | added by openllmetry-rs, OTLP export (µs/call) | added, % of the call | added by openllmetry-rs, discarding exporter (µs/call) | uninstrumented call, Python (µs) | added by OpenLLMetry Python, discarding exporter (µs/call) | Python ÷ Rust, added time | Python ÷ Rust, added CPU | added per chunk, Rust: time / CPU (µs) | added per chunk, Python: time / CPU (µs) |"
    );
    let _ = writeln!(
        md,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for o in &ours {
        let t = theirs.iter().find(|t| t.name == o.name);
        let d = discard.iter().find(|d| d.name == o.name);
        let per_chunk = |r: Option<&ScenarioResult>| match r {
            Some(r) if r.stream && r.chunks > 0 => format!(
                "{} / {}",
                r.per_chunk_us().map(fmt_us).unwrap_or_else(na),
                r.cpu_overhead_us()
                    .map(|c| fmt_us(c / r.chunks as f64))
                    .unwrap_or_else(na)
            ),
            Some(_) => "–".into(),
            None => "n/a".into(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.0}% | {} | {} | {} | {} | {} | {} | {} |",
            o.label,
            fmt_us(o.plain.mean_us),
            fmt_us(o.overhead_us()),
            100.0 * o.overhead_us() / o.plain.mean_us,
            d.map(|d| fmt_us(d.overhead_us())).unwrap_or_else(na),
            t.map(|t| fmt_us(t.plain.mean_us)).unwrap_or_else(na),
            t.map(|t| fmt_us(t.overhead_us())).unwrap_or_else(na),
            ratio(t.map(ScenarioResult::overhead_us), Some(o.overhead_us())),
            ratio(
                t.and_then(ScenarioResult::cpu_overhead_us),
                o.cpu_overhead_us()
            ),
            per_chunk(Some(o)),
            per_chunk(t),
        );
    }
    println!(
        "\n== added per call: mean instrumented − mean uninstrumented, same recorded exchange replayed on loopback\n"
    );
    print!("{md}");
    if let Some(out) = &markdown
        && let Err(e) = std::fs::write(out, &md)
    {
        eprintln!("bench-summary: cannot write {out}: {e}");
    }
}
