//! Benchmarks of openllmetry-rs (not published). See `BENCHMARKS.md` at the repository root
//! for the command, the machine and the figures.
//!
//! * `benches/micro.rs`: criterion micro benches of the core's hot paths on recorded
//!   exchanges, with allocation counts per call ([`alloc::CountingAlloc`]).
//! * `overhead` binary: end-to-end overhead of [`openllmetry_http::OpenLlmMiddleware`] with the
//!   SDK exporting over OTLP, against plain reqwest, over loopback ([`e2e`]).
//! * `memory` binary: resident memory over 100k instrumented calls and 10k streamed responses.
//! * `replay-loop` binary: the looping replay servers the Python side calls.
//! * `bench-summary` binary: the final side-by-side table of both implementations' overheads.
//!
//! Nothing here runs in `cargo test` beyond a few unit tests of the helpers.

#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

pub mod alloc;
pub mod e2e;
pub mod results;
pub mod scenario;
pub mod sink;
pub mod stats;
