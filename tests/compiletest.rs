//! The compile-fail suite: every misuse the macros catch, one per file in `tests/ui/`, with
//! the expected diagnostics beside it. Regenerate with `TRYBUILD=overwrite` and review.

#[test]
fn ui() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
