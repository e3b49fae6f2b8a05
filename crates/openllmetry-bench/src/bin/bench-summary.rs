//! The closing table of `scripts/bench.sh`: our overhead per call, the Python
//! instrumentations' overhead on the same replayed exchanges, and the ratio, per scenario.
//!
//! ```text
//! bench-summary RUST_RESULTS.json PYTHON_RESULTS.json [MARKDOWN_OUT]
//! ```
//!
//! A missing or unreadable Python file prints `n/a` in its columns.

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

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(ours), Some(theirs)) = (args.first(), args.get(1)) else {
        eprintln!("usage: bench-summary RUST_RESULTS.json PYTHON_RESULTS.json [MARKDOWN_OUT]");
        std::process::exit(2);
    };
    let ours = load(ours);
    let theirs = load(theirs);
    if ours.is_empty() {
        eprintln!("bench-summary: no Rust results in {}", args[0]);
        std::process::exit(1);
    }
    let mut md = String::new();
    let _ = writeln!(
        md,
        "| scenario | uninstrumented call, Rust (µs) | added by openllmetry-rs (µs/call) | uninstrumented call, Python (µs) | added by OpenLLMetry Python (µs/call) | Python ÷ Rust | Rust added per chunk (µs) | Python added per chunk (µs) |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for o in &ours {
        let t = theirs.iter().find(|t| t.name == o.name);
        let na = || "n/a".to_owned();
        let ratio = t
            .filter(|_| o.overhead_us() > 0.0)
            .map(|t| format!("{:.0}×", t.overhead_us() / o.overhead_us()))
            .unwrap_or_else(na);
        let chunk = |r: &ScenarioResult| r.per_chunk_us().map(fmt_us).unwrap_or_else(|| "–".into());
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            o.label,
            fmt_us(o.plain.mean_us),
            fmt_us(o.overhead_us()),
            t.map(|t| fmt_us(t.plain.mean_us)).unwrap_or_else(na),
            t.map(|t| fmt_us(t.overhead_us())).unwrap_or_else(na),
            ratio,
            chunk(o),
            t.map(chunk).unwrap_or_else(na),
        );
    }
    println!(
        "\nAdded time per call (mean instrumented − mean uninstrumented, same replayed exchange on loopback)\n"
    );
    print!("{md}");
    if let Some(out) = args.get(2)
        && let Err(e) = std::fs::write(out, &md)
    {
        eprintln!("bench-summary: cannot write {out}: {e}");
    }
}
