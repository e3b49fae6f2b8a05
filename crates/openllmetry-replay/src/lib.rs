//! Replay recorded LLM provider exchanges over loopback HTTP: the fake provider behind the
//! `openllmetry replay` and `openllmetry demo` commands (crate `openllmetry-gateway`), and the
//! replay server of the workspace's tests.
//!
//! * [`cassette`]: load VCR.py cassettes (the YAML files `vcrpy` / `pytest-recording` write,
//!   `!!binary` gzip bodies included) into [`Cassette`]s, keeping response bytes exactly as
//!   recorded.
//! * [`replay`]: a [`ReplayServer`] that serves interactions over real loopback HTTP/1.1 with
//!   vcrpy semantics, a pool mode (fake provider), a loop mode (benchmarks), streamed SSE and
//!   fault injection.
//! * [`embedded`]: a few recordings compiled into this crate, so a binary built on it serves
//!   them without the source tree (what `openllmetry replay` serves with no paths).
//!
//! The cassettes come from [traceloop/openllmetry](https://github.com/traceloop/openllmetry)
//! (Apache-2.0); `cassettes/openllmetry/SOURCE.md` in this crate gives their origin.
//!
//! ```no_run
//! # async fn demo() {
//! use openllmetry_replay::{ReplayServer, embedded};
//! let server = ReplayServer::pool(embedded::cassette())
//!     .reuse(true)
//!     .honour_accept_encoding(true)
//!     .start()
//!     .await;
//! // point an OpenAI client at format!("{}/v1", server.base_url()) ...
//! # drop(server);
//! # }
//! ```

pub mod cassette;
pub mod embedded;
pub mod replay;

pub use cassette::{
    Cassette, CassetteError, Interaction, RecordedRequest, RecordedResponse, all_cassette_names,
    all_cassettes, cassettes_dir,
};
pub use replay::{Fault, ReceivedRequest, ReplayBuilder, ReplayMode, ReplayServer};
