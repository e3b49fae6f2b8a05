//! OpenLLMetry for Rust.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub, rust_2018_idioms)]

pub(crate) mod state;
pub mod telemetry;
