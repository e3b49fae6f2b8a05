//! Test support for openllmetry-rs (dev-only, not published).
//!
//! * [`cassette`]: load the vendored VCR.py cassettes (`cassettes/openllmetry`, see its
//!   `SOURCE.md`) into [`Cassette`]s, keeping response bytes exactly as recorded.
//! * [`replay`]: a [`ReplayServer`] that serves interactions over real loopback HTTP/1.1 with
//!   vcrpy semantics, a pool mode (fake provider), a loop mode (benchmarks), streamed SSE and
//!   fault injection.
//! * [`otlp`]: an [`OtlpReceiver`] for wire tests (OTLP/HTTP protobuf + JSON and OTLP/gRPC),
//!   keeping decoded requests and every raw byte.
//! * [`capture`]: [`Capture`], SDK providers wired to in-memory exporters, with attribute
//!   getters and an "all exported text" helper.
//! * [`flat`]: the flattened span / metric point / log views and [`AttrValue`] shared by
//!   [`otlp`] and [`capture`].
//! * [`telemetry_receiver`]: the receiver for the SDK's own telemetry reports.
//! * [`clickhouse`]: a private `clickhouse-server` on a loopback port for the viewer's store tests.

pub mod capture;
pub mod cassette;
pub mod clickhouse;
pub mod flat;
pub mod otlp;
pub mod replay;
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
