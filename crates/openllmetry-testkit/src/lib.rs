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

pub mod capture;
pub use openllmetry_replay::{cassette, replay};
pub mod clickhouse;
pub mod flat;
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
