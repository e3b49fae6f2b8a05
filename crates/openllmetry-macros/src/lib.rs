//! Attribute macros for openllmetry entity spans; use them through the `openllmetry` crate.
