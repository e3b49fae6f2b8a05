//! OpenLLMetry for Rust.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub, rust_2018_idioms)]

pub mod association;
pub mod entity;
pub mod span_processor;
pub(crate) mod state;
pub mod telemetry;

#[cfg(feature = "macros")]
pub use openllmetry_macros::{agent, task, tool, workflow};

#[doc(hidden)]
pub mod __private;
