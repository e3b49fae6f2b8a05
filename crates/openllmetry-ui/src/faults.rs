//! SDK fault reports (TELEMETRY.md, schema version 1) received at the same path the SDK uploads
//! to (`POST /v1/reports`), so `TRACELOOP_TELEMETRY_ENDPOINT` can point a fleet at its own viewer.
//!
//! The viewer keeps its own copy of the closed schema: unknown fields or values, a wrong
//! `schema_version`, a non-`rust` language, malformed constants or a zero count are rejected
//! (`400`, counted). Only the report's fields and the time of receipt are stored: never the peer
//! address.

use crate::store::FaultReport;

/// The path reports are posted to (as in TELEMETRY.md's transport table).
pub const REPORTS_PATH: &str = "/v1/reports";
/// The only schema version accepted.
pub const SCHEMA_VERSION: u32 = 1;
/// Largest accepted report body.
pub const MAX_REPORT_BYTES: usize = 64 * 1024;
/// Most entries in one report.
pub const MAX_REPORT_ENTRIES: usize = 4096;

/// Components the schema allows.
pub const COMPONENTS: &[&str] = &[
    "openai",
    "anthropic",
    "sdk_init",
    "sdk_export",
    "sdk_entity",
    "sdk_association",
    "sdk_span_processor",
];
/// Operations the schema allows.
pub const OPERATIONS: &[&str] = &["chat", "text_completion", "embeddings", "responses", "none"];
/// Fault kinds the schema allows.
pub const KINDS: &[&str] = &[
    "invalid_json",
    "unexpected_shape",
    "unknown_event",
    "body_too_large",
    "event_too_large",
    "stream_content_truncated",
    "unsupported_encoding",
    "decode_failed",
    "stream_incomplete",
    "init_failed",
    "invalid_config",
    "export_failed",
    "queue_full",
    "serialize_failed",
    "panic_caught",
    "other",
];

fn token(value: &str, max: usize, allowed: impl Fn(char) -> bool) -> bool {
    !value.is_empty() && value.len() <= max && value.chars().all(allowed)
}

/// Parses and validates a report body; `Err` names what is wrong (never echoes the body).
pub fn parse_report(body: &[u8]) -> Result<FaultReport, String> {
    if body.len() > MAX_REPORT_BYTES {
        return Err("report too large".into());
    }
    let r: FaultReport = serde_json::from_slice(body).map_err(|e| format!("schema: {e}"))?;
    if r.schema_version != SCHEMA_VERSION {
        return Err(format!("unsupported schema_version {}", r.schema_version));
    }
    if r.language != "rust" {
        return Err("invalid language".into());
    }
    if !token(&r.sdk_version, 32, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-')
    }) {
        return Err("invalid sdk_version".into());
    }
    let lower = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
    if !token(&r.os, 32, lower) {
        return Err("invalid os".into());
    }
    if !token(&r.arch, 32, lower) {
        return Err("invalid arch".into());
    }
    if r.entries.is_empty() || r.entries.len() > MAX_REPORT_ENTRIES {
        return Err("invalid entries".into());
    }
    let mut seen = std::collections::BTreeSet::new();
    for e in &r.entries {
        if !COMPONENTS.contains(&e.component.as_str()) {
            return Err("invalid entries[].component".into());
        }
        if !OPERATIONS.contains(&e.operation.as_str()) {
            return Err("invalid entries[].operation".into());
        }
        if !KINDS.contains(&e.kind.as_str()) {
            return Err("invalid entries[].kind".into());
        }
        if e.count == 0 {
            return Err("invalid entries[].count".into());
        }
        if !seen.insert((&e.component, &e.operation, &e.kind)) {
            return Err("duplicate entry".into());
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example report of TELEMETRY.md.
    const EXAMPLE: &str = r#"{"schema_version":1,"sdk_version":"0.1.0","language":"rust","os":"linux","arch":"x86_64",
        "entries":[{"component":"openai","operation":"chat","kind":"unknown_event","count":3}]}"#;

    #[test]
    fn accepts_the_documented_example() {
        let r = parse_report(EXAMPLE.as_bytes()).unwrap();
        assert_eq!(r.entries[0].count, 3);
    }

    #[test]
    fn rejects_what_the_schema_does_not_allow() {
        for bad in [
            EXAMPLE.replace("\"schema_version\":1", "\"schema_version\":2"),
            EXAMPLE.replace("\"rust\"", "\"python\""),
            EXAMPLE.replace("unknown_event", "a_new_kind"),
            EXAMPLE.replace("\"openai\"", "\"gemini\""),
            EXAMPLE.replace("\"count\":3", "\"count\":0"),
            EXAMPLE.replace(
                "\"arch\":\"x86_64\"",
                "\"arch\":\"x86_64\",\"host\":\"db1\"",
            ),
            EXAMPLE.replace("\"linux\"", "\"10.0.0.1\""),
            "not json".to_string(),
        ] {
            assert!(parse_report(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
