//! Keeps TELEMETRY.md equal to the schema: the field table lists exactly the fields a real
//! report has, the value lists are exactly the enums, the transport numbers are the defaults;
//! and the reference receiver accepts a report using every value (sender/receiver cross-check).

mod telemetry_support;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use openllmetry::telemetry::{
    self, Component, DEFAULT_BATCH_DELAY, DEFAULT_ENDPOINT, DEFAULT_INTERVAL, DEFAULT_MAX_UPLOADS,
    DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_TIMEOUT, Kind, Operation as Op, SCHEMA_VERSION,
    TelemetryConfig,
};
use openllmetry_core::{ApiFormat, FaultKind, Operation};
use openllmetry_testkit::telemetry_receiver::validate_report;
use serde_json::Value;
use telemetry_support::{env, fault};

const DOC: &str = include_str!("../../../TELEMETRY.md");
const GOLDEN: &str = include_str!("golden/telemetry_on_report.json");

/// A real report (the `local` preview) that uses every component, operation and kind.
fn sample() -> &'static str {
    static SAMPLE: OnceLock<String> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let decision = telemetry::decide(None, &env(&[])).unwrap();
        telemetry::install(decision, TelemetryConfig::default());
        for provider in [ApiFormat::OpenAi, ApiFormat::Anthropic] {
            for op in [
                Operation::Chat,
                Operation::TextCompletion,
                Operation::Embeddings,
                Operation::Responses,
                Operation::Rerank,
            ] {
                for kind in FaultKind::ALL {
                    telemetry::record_fault(&fault(provider, op, *kind));
                }
            }
        }
        for component in Component::ALL {
            for kind in Kind::ALL {
                telemetry::record_sdk_fault(*component, *kind);
            }
        }
        telemetry::preview().expect("a pending report")
    })
}

/// The rows of the "Report fields" table: (field, allowed-values cell).
fn field_rows() -> Vec<(String, String)> {
    let section = DOC
        .split("\n## Report fields\n")
        .nth(1)
        .expect("a `## Report fields` section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[1].trim_matches('`').to_string(), cells[3].to_string())
        })
        .collect()
}

fn backticked(cell: &str) -> BTreeSet<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// (top-level keys, entry keys) of a report.
fn key_sets(report: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let top = report.as_object().unwrap().keys().cloned().collect();
    let entries = report["entries"].as_array().unwrap();
    assert!(!entries.is_empty());
    let entry: BTreeSet<String> = entries[0].as_object().unwrap().keys().cloned().collect();
    for e in entries {
        let keys: BTreeSet<String> = e.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, entry);
    }
    (top, entry)
}

#[test]
fn field_table_lists_exactly_the_schema_fields() {
    let rows = field_rows();
    let documented_top: BTreeSet<String> = rows
        .iter()
        .map(|(f, _)| f.clone())
        .filter(|f| !f.starts_with("entries[]."))
        .collect();
    let documented_entry: BTreeSet<String> = rows
        .iter()
        .filter_map(|(f, _)| f.strip_prefix("entries[].").map(str::to_string))
        .collect();
    assert_eq!(
        rows.len(),
        documented_top.len() + documented_entry.len(),
        "duplicate rows"
    );

    let report: Value = serde_json::from_str(sample()).unwrap();
    let (top, entry) = key_sets(&report);
    assert_eq!(
        documented_top, top,
        "top-level fields in TELEMETRY.md vs the schema"
    );
    assert_eq!(
        documented_entry, entry,
        "entry fields in TELEMETRY.md vs the schema"
    );

    // The golden file is written by hand from the same schema.
    let golden: Value = serde_json::from_str(GOLDEN).unwrap();
    assert_eq!(key_sets(&golden), (top, entry));
}

#[test]
fn value_lists_are_exactly_the_enums() {
    let rows = field_rows();
    let cell = |field: &str| {
        rows.iter()
            .find(|(f, _)| f == field)
            .map(|(_, c)| backticked(c))
            .unwrap_or_else(|| panic!("{field} not documented"))
    };
    let names = |all: &[&str]| all.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let components: Vec<&str> = Component::ALL.iter().map(|c| c.as_str()).collect();
    let operations: Vec<&str> = Op::ALL.iter().map(|o| o.as_str()).collect();
    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(cell("entries[].component"), names(&components));
    assert_eq!(cell("entries[].operation"), names(&operations));
    assert_eq!(cell("entries[].kind"), names(&kinds));
    assert_eq!(
        cell("schema_version"),
        names(&[&SCHEMA_VERSION.to_string()])
    );
    assert_eq!(cell("language"), names(&["rust"]));

    // Every value really occurs in a report.
    let report: Value = serde_json::from_str(sample()).unwrap();
    let seen = |field: &str| -> BTreeSet<String> {
        report["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[field].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(seen("component"), names(&components));
    assert_eq!(seen("operation"), names(&operations));
    assert_eq!(seen("kind"), names(&kinds));
}

#[test]
fn the_receiver_accepts_every_value_the_sdk_sends() {
    let report = validate_report(sample().as_bytes()).unwrap();
    // 2 providers × 5 operations × 14 core kinds, plus 12 components × 21 kinds at `none`.
    assert_eq!(report.entries.len(), 2 * 5 * FaultKind::ALL.len() + 12 * 21);
    assert_eq!(FaultKind::ALL.len(), 14);
    assert_eq!(Component::ALL.len(), 12);
    assert_eq!(Kind::ALL.len(), 21);
}

#[test]
fn transport_numbers_are_the_defaults() {
    let secs = |d: std::time::Duration| d.as_secs();
    assert_eq!(secs(DEFAULT_INTERVAL), 3600);
    let expected = [
        DEFAULT_ENDPOINT.to_string(),
        format!("at most {DEFAULT_MAX_UPLOADS} reports per process"),
        format!("{} s per attempt", secs(DEFAULT_TIMEOUT)),
        format!("{} s after the first fault", secs(DEFAULT_BATCH_DELAY)),
        format!("at most {} s", secs(DEFAULT_SHUTDOWN_TIMEOUT)),
        "at most one report per hour".to_string(),
        "TRACELOOP_TELEMETRY_ENDPOINT".to_string(),
    ];
    for text in expected {
        assert!(DOC.contains(&text), "TELEMETRY.md should say {text:?}");
    }
}
