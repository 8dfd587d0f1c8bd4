//! The compile-fail suite: each `tests/ui/*.rs` is one misuse of a macro, and its
//! `.stderr` the diagnostic users see. Regenerate with `TRYBUILD=overwrite`.

#[test]
fn ui() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
