//! Support for the attribute macros; not a public API.
