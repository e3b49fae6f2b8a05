//! Test support for openllmetry-rs.
pub mod telemetry_receiver;
