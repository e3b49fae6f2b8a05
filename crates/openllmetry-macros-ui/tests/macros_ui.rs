//! Compile tests for the entity macros (trybuild).
//!
//! `ui/pass/*.rs` must compile and run: every supported form. `ui/fail/*.rs` must fail with
//! exactly the diagnostics in the `.stderr` next to them: unsupported items and bad arguments
//! are reported at the offending token, and the item itself still compiles (no follow-up
//! errors). The snapshots depend on the compiler's wording; regenerate them with
//! `TRYBUILD=overwrite cargo test -p openllmetry-macros-ui --test macros_ui` after a toolchain update and
//! review the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
