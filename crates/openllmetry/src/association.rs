//! Association properties.
