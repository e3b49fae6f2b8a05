//! Instrumentations hold no telemetry code: according to `cargo metadata`, the core, semconv
//! and transport-adapter crates do not depend on the SDK (where the telemetry module lives) nor
//! on the TLS stack it uploads with; core and semconv have no HTTP client or runtime at all.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// The SDK and the crates its telemetry uploads with.
const TELEMETRY_CRATES: &[&str] = &["openllmetry", "rustls", "rustls-platform-verifier"];
/// What an IO-free crate must never reach.
const NETWORK_CRATES: &[&str] = &[
    "openllmetry",
    "reqwest",
    "hyper",
    "hyper-util",
    "ureq",
    "rustls",
    "native-tls",
    "tokio",
    "aws-lc-rs",
    "ring",
];

struct Graph {
    names: BTreeMap<String, String>,
    /// Normal (non-dev, non-build) dependency edges, by package id.
    edges: BTreeMap<String, Vec<String>>,
}

impl Graph {
    fn load() -> Graph {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
        let run = |offline: bool| {
            let mut cmd = Command::new(&cargo);
            cmd.args([
                "metadata",
                "--format-version",
                "1",
                "--manifest-path",
                manifest,
            ]);
            if offline {
                cmd.arg("--offline");
            }
            cmd.output().unwrap()
        };
        // Offline first (everything is normally fetched by the build); online if a
        // workspace member's dev-dependency has not been fetched yet.
        let mut out = run(true);
        if !out.status.success() {
            out = run(false);
        }
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
        let names = meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["id"].as_str().unwrap().to_string(),
                    p["name"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let edges = meta["resolve"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|node| {
                let deps = node["deps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|d| {
                        d["dep_kinds"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|k| k["kind"].is_null())
                    })
                    .map(|d| d["pkg"].as_str().unwrap().to_string())
                    .collect();
                (node["id"].as_str().unwrap().to_string(), deps)
            })
            .collect();
        Graph { names, edges }
    }

    fn id(&self, name: &str) -> &str {
        self.names
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(id, _)| id.as_str())
            .unwrap_or_else(|| panic!("{name} is not in the workspace graph"))
    }

    fn direct(&self, name: &str) -> BTreeSet<&str> {
        self.edges[self.id(name)]
            .iter()
            .map(|id| self.names[id].as_str())
            .collect()
    }

    fn closure(&self, name: &str) -> BTreeSet<&str> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![self.id(name)];
        while let Some(id) = stack.pop() {
            for dep in self.edges.get(id).into_iter().flatten() {
                if seen.insert(self.names[dep].as_str()) {
                    stack.push(dep);
                }
            }
        }
        seen
    }
}

#[test]
fn instrumentation_crates_hold_no_telemetry() {
    let graph = Graph::load();
    for krate in ["openllmetry-core", "openllmetry-semconv"] {
        let reached = graph.closure(krate);
        for forbidden in NETWORK_CRATES {
            assert!(
                !reached.contains(forbidden),
                "{krate} reaches {forbidden} (instrumentation crates must not send anything)"
            );
        }
    }
    // The adapters wrap the user's HTTP client, so they reach one; but not the SDK, and not
    // the telemetry's own TLS stack directly.
    let adapter = "openllmetry-http";
    assert!(!graph.closure(adapter).contains("openllmetry"));
    let direct = graph.direct(adapter);
    for forbidden in TELEMETRY_CRATES {
        assert!(
            !direct.contains(forbidden),
            "{adapter} depends on {forbidden}"
        );
    }
    // And the SDK is where the telemetry transport lives.
    let sdk = graph.direct("openllmetry");
    assert!(sdk.contains("rustls") && sdk.contains("openllmetry-core"));
}
