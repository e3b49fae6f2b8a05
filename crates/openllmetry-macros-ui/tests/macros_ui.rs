//! Compile tests for the entity macros (trybuild).
//!
//! `ui/fail/*.rs` must fail with exactly the diagnostics in the `.stderr` next to them:
//! unsupported items and bad arguments are reported at the offending token, the item itself
//! still compiles (no follow-up errors), and errors in a body point at the user's code.
//!
//! The forms that must compile and run are ordinary tests (`sync_forms.rs`, `async_forms.rs`):
//! built with the rest of the workspace, they cost nothing extra, while each trybuild case that
//! must run needs a full `cargo build` of the SDK's dependency tree in trybuild's own target
//! directory. With only `compile_fail` cases, trybuild runs `cargo check` (no code generation,
//! no linking). The snapshots depend on the compiler's wording; regenerate them with
//! `TRYBUILD=overwrite cargo test -p openllmetry-macros-ui --test macros_ui` after a toolchain update and
//! review the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
}
