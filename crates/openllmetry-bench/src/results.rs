//! Result files of the end-to-end runs (JSON, one per implementation), written by the
//! `overhead` binary and the Python script, read by `bench-summary`.

use serde_json::{Value, json};

use crate::stats::Summary;

/// The overhead measured for one scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioResult {
    /// Scenario name, e.g. `openai_chat`.
    pub name: String,
    /// Human label.
    pub label: String,
    /// Whether the response is streamed.
    pub stream: bool,
    /// SSE events per streamed response (0 when not streamed).
    pub chunks: usize,
    /// Rounds of (a) and (b) alternated.
    pub rounds: usize,
    /// (a) uninstrumented calls.
    pub plain: Summary,
    /// (b) instrumented calls.
    pub instrumented: Summary,
    /// Process CPU time per call, µs, of (a) and (b) (every thread of the process), when
    /// measured.
    pub cpu_us: Option<[f64; 2]>,
}

impl ScenarioResult {
    /// Added time per call, µs: mean(b) − mean(a).
    pub fn overhead_us(&self) -> f64 {
        self.instrumented.mean_us - self.plain.mean_us
    }

    /// Added time per call at the median, µs: p50(b) − p50(a).
    pub fn overhead_p50_us(&self) -> f64 {
        self.instrumented.p50_us - self.plain.p50_us
    }

    /// mean(b) / mean(a).
    pub fn ratio(&self) -> f64 {
        if self.plain.mean_us > 0.0 {
            self.instrumented.mean_us / self.plain.mean_us
        } else {
            f64::NAN
        }
    }

    /// Added time per streamed chunk, µs (`None` when not streamed).
    pub fn per_chunk_us(&self) -> Option<f64> {
        (self.stream && self.chunks > 0).then(|| self.overhead_us() / self.chunks as f64)
    }

    /// Added process CPU time per call, µs: CPU(b) − CPU(a).
    pub fn cpu_overhead_us(&self) -> Option<f64> {
        self.cpu_us.map(|[a, b]| b - a)
    }

    /// As JSON.
    pub fn to_json(&self) -> Value {
        let s = |s: &Summary| json!({"n": s.n, "mean_us": s.mean_us, "p50_us": s.p50_us, "p99_us": s.p99_us});
        json!({
            "name": self.name,
            "label": self.label,
            "stream": self.stream,
            "chunks": self.chunks,
            "rounds": self.rounds,
            "plain": s(&self.plain),
            "instrumented": s(&self.instrumented),
            "overhead_us": self.overhead_us(),
            "overhead_p50_us": self.overhead_p50_us(),
            "ratio": self.ratio(),
            "per_chunk_us": self.per_chunk_us(),
            "plain_cpu_us": self.cpu_us.map(|c| c[0]),
            "instrumented_cpu_us": self.cpu_us.map(|c| c[1]),
            "cpu_overhead_us": self.cpu_overhead_us(),
        })
    }

    /// From JSON written by [`to_json`](Self::to_json) (or the Python script).
    pub fn from_json(v: &Value) -> Option<ScenarioResult> {
        let s = |v: &Value| -> Option<Summary> {
            Some(Summary {
                n: v.get("n")?.as_u64()? as usize,
                mean_us: v.get("mean_us")?.as_f64()?,
                p50_us: v.get("p50_us")?.as_f64()?,
                p99_us: v.get("p99_us")?.as_f64()?,
            })
        };
        Some(ScenarioResult {
            name: v.get("name")?.as_str()?.to_owned(),
            label: v.get("label")?.as_str()?.to_owned(),
            stream: v.get("stream")?.as_bool()?,
            chunks: v.get("chunks")?.as_u64()? as usize,
            rounds: v.get("rounds")?.as_u64()? as usize,
            plain: s(v.get("plain")?)?,
            instrumented: s(v.get("instrumented")?)?,
            cpu_us: match (
                v.get("plain_cpu_us").and_then(Value::as_f64),
                v.get("instrumented_cpu_us").and_then(Value::as_f64),
            ) {
                (Some(a), Some(b)) => Some([a, b]),
                _ => None,
            },
        })
    }
}

/// A whole result file: which implementation, free-form notes, and the scenarios.
pub fn to_file_json(implementation: &str, notes: Value, scenarios: &[ScenarioResult]) -> Value {
    json!({
        "implementation": implementation,
        "notes": notes,
        "scenarios": scenarios.iter().map(ScenarioResult::to_json).collect::<Vec<_>>(),
    })
}

/// The scenarios of a result file (those that parse).
pub fn scenarios_from_file_json(v: &Value) -> Vec<ScenarioResult> {
    v.get("scenarios")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(ScenarioResult::from_json).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_derives() {
        let r = ScenarioResult {
            name: "openai_stream".into(),
            label: "x".into(),
            stream: true,
            chunks: 10,
            rounds: 2,
            plain: Summary {
                n: 4,
                mean_us: 100.0,
                p50_us: 90.0,
                p99_us: 200.0,
            },
            instrumented: Summary {
                n: 4,
                mean_us: 110.0,
                p50_us: 95.0,
                p99_us: 210.0,
            },
            cpu_us: Some([50.0, 60.0]),
        };
        assert_eq!(r.cpu_overhead_us(), Some(10.0));
        assert_eq!(r.overhead_us(), 10.0);
        assert_eq!(r.overhead_p50_us(), 5.0);
        assert!((r.ratio() - 1.1).abs() < 1e-12);
        assert_eq!(r.per_chunk_us(), Some(1.0));
        let file = to_file_json("rust", json!({}), std::slice::from_ref(&r));
        assert_eq!(scenarios_from_file_json(&file), vec![r]);
    }
}
