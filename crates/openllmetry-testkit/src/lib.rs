//! Test support for openllmetry-rs (dev-only, not published).
//!
//! * [`cassette`] and [`replay`]: re-exported from the publishable `openllmetry-replay` crate
//!   (cassette loading, the vendored cassettes in its `cassettes/openllmetry`, see
//!   `SOURCE.md` there, and the loopback [`ReplayServer`]), so tests keep their paths.
//! * [`otlp`]: an [`OtlpReceiver`] for wire tests (OTLP/HTTP protobuf + JSON and OTLP/gRPC),
//!   keeping decoded requests and every raw byte.
//! * [`capture`]: [`Capture`], SDK providers wired to in-memory exporters, with attribute
//!   getters and an "all exported text" helper.
//! * [`flat`]: the flattened span / metric point / log views and [`AttrValue`] shared by
//!   [`otlp`] and [`capture`].
//! * [`hostile`]: a [`HostileServer`](hostile::HostileServer), a misbehaving upstream (malformed
//!   JSON, truncated bodies, gzip bombs, stalls, huge headers, never-ending events, closes).
//! * [`telemetry_receiver`]: the receiver for the SDK's own telemetry reports.
//! * [`clickhouse`]: a private `clickhouse-server` on a loopback port for the viewer's store tests.
//! * [`genai_schema`]: shape checks of GenAI content attributes against the conventions' JSON
//!   schemas.

pub mod capture;
pub use openllmetry_replay::{cassette, replay};
pub mod clickhouse;
pub mod flat;
pub mod genai_schema;
pub mod hostile;
pub mod otlp;
pub mod telemetry_receiver;

pub use capture::{Capture, SpanDataExt};
pub use cassette::{
    Cassette, CassetteError, Interaction, RecordedRequest, RecordedResponse, all_cassette_names,
    all_cassettes, cassettes_dir,
};
pub use flat::{
    AttrValue, Attributes, MetricPoint, PointKind, ReceivedLog, ReceivedSpan, StatusCode,
};
pub use otlp::OtlpReceiver;
pub use replay::{Fault, ReceivedRequest, ReplayBuilder, ReplayMode, ReplayServer};

/// The `opentelemetry-proto` crate this testkit decodes with (for the raw request types).
pub use opentelemetry_proto as proto;

/// Directory of the test-only recordings kept in this crate rather than in the published
/// `openllmetry-replay` (upstream OpenLLMetry's Bedrock corpus: `bedrock/...`).
pub fn test_cassettes_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("cassettes")
        .join("openllmetry")
}

/// Loads a cassette by name from [`test_cassettes_dir`] when it is there, else as
/// [`Cassette::load_named`] does (the embedded and vendored recordings).
pub fn load_cassette(name: &str) -> Result<Cassette, CassetteError> {
    let local = test_cassettes_dir().join(name);
    if local.is_file() {
        Cassette::load(local)
    } else {
        Cassette::load_named(name)
    }
}

/// The names (relative to [`test_cassettes_dir`], `/`-separated, sorted) of the test-only
/// cassettes under its `prefix` folder, e.g. `bedrock`.
pub fn test_cassette_names(prefix: &str) -> Vec<String> {
    let root = test_cassettes_dir();
    let mut names: Vec<String> = cassette::find_cassettes(&root.join(prefix))
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.strip_prefix(&root).ok())
        .map(|rel| {
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect();
    names.sort();
    names
}
