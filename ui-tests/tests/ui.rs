//! Compile-time behaviour of the snake macros: one trybuild run over `ui/fail/*.rs` (each must
//! fail with the committed `.stderr`) and `ui/pass/*.rs` (each must build and run).
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test -p snake-ui-tests`; they
//! were made with the toolchain pinned in `rust-toolchain.toml`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
