//! Test support for openllmetry-rs.
