//! Nothing to use: this crate holds the compile tests of `openllmetry`'s entity macros
//! (`tests/macros_ui.rs`). They live apart because trybuild builds each case in its own target
//! directory with every dependency and dev-dependency of the crate that runs it; here that is
//! only `openllmetry`, `serde`, `tokio` and trybuild.
