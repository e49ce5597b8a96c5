//! numpy scalars are read where an int, float or bool is declared, without serde_py importing
//! numpy itself. Skipped, with a message, where numpy is not installed (never on CI, where the
//! README's test command installs it).

use serde::Deserialize;

use super::*;

/// Whether numpy can be imported; prints why the test does nothing when it cannot. On CI (`CI`
/// set) a missing numpy fails the test instead, so the cases never go unrun there.
pub(super) fn have_numpy(test: &str) -> bool {
    let found = with_py(|py| py.import("numpy").is_ok());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "numpy is not installed: python3 -m pip install --editable 'python[test]'"
        );
        eprintln!("{test}: skipped, numpy is not installed (python3 -m pip install --editable 'python[test]')");
    }
    found
}

#[test]
fn numpy_integers_are_ints() {
    if !have_numpy("numpy_integers_are_ints") {
        return;
    }
    assert_reads("__import__('numpy').int64(-5)", -5i64);
    assert_reads("__import__('numpy').int64(2**62)", 1i64 << 62);
    assert_reads("__import__('numpy').int32(-7)", -7i32);
    assert_reads("__import__('numpy').int16(300)", 300i16);
    assert_reads("__import__('numpy').int8(-128)", -128i8);
    assert_reads("__import__('numpy').uint8(255)", 255u8);
    assert_reads("__import__('numpy').uint16(65535)", 65535u16);
    assert_reads("__import__('numpy').uint32(7)", 7u64);
    assert_reads("__import__('numpy').uint64(2**64 - 1)", u64::MAX);
    assert_reads("__import__('numpy').intc(42)", 42u128);
    // A wider Rust type than the numpy one, and the other way round when the value fits.
    assert_reads("__import__('numpy').uint8(200)", 200i64);
    assert_reads("__import__('numpy').int64(3)", 3u8);
}

#[test]
fn numpy_integers_are_range_checked() {
    if !have_numpy("numpy_integers_are_range_checked") {
        return;
    }
    let err = read_err::<u8>("__import__('numpy').int64(300)");
    assert_eq!(err.kind, out_of_range("u8", "300"));
    assert_eq!(err.to_string(), "integer 300 out of range for u8");
    assert_eq!(read_err::<u32>("__import__('numpy').int32(-1)").kind, out_of_range("u32", "-1"));
    assert_eq!(
        read_err::<i64>("__import__('numpy').uint64(2**64 - 1)").kind,
        out_of_range("i64", "18446744073709551615")
    );
}

#[test]
fn numpy_floats_are_floats() {
    if !have_numpy("numpy_floats_are_floats") {
        return;
    }
    assert_reads("__import__('numpy').float64(1.5)", 1.5f64);
    assert_reads("__import__('numpy').float32(0.25)", 0.25f64);
    assert_reads("__import__('numpy').float32(0.1)", 0.1f32);
    // An f32 widened exactly, not re-rounded through its decimal form.
    assert_reads("__import__('numpy').float32(0.1)", f64::from(0.1f32));
    assert_reads("__import__('numpy').float16(-2.5)", -2.5f32);
    assert_reads("__import__('numpy').longdouble(3.0)", 3.0f64);
    // numpy ints are ints, which a float accepts.
    assert_reads("__import__('numpy').int32(-7)", -7.0f64);
    assert_reads("__import__('numpy').uint64(2**53 + 1)", 9007199254740992.0f64);
}

#[test]
fn numpy_bools_are_bools_and_nothing_else() {
    if !have_numpy("numpy_bools_are_bools_and_nothing_else") {
        return;
    }
    assert_reads("__import__('numpy').bool_(True)", true);
    assert_reads("__import__('numpy').bool_(False)", false);
    assert_reads("list(__import__('numpy').array([1, 2]) == 2)", [false, true]);
    // numpy names its bool `bool` (numpy 2) or `bool_` (numpy 1): the message shows Python's name.
    let bool_name = with_py(|py| repr(&eval(py, "type(__import__('numpy').True_).__name__")));
    let bool_name = bool_name.trim_matches('\'');
    assert_eq!(read_err::<i64>("__import__('numpy').True_").kind, mismatch("int", bool_name));
    assert_eq!(read_err::<u8>("__import__('numpy').False_").kind, mismatch("int", bool_name));
    assert_eq!(read_err::<f64>("__import__('numpy').True_").kind, mismatch("float", bool_name));
    // And the other way: Python's bool is still no int, and numpy numbers are no bools.
    assert_eq!(read_err::<i32>("True").kind, mismatch("int", "bool"));
    assert_eq!(read_err::<bool>("__import__('numpy').int64(1)").kind, mismatch("bool", "int64"));
    assert_eq!(read_err::<bool>("__import__('numpy').float32(1)").kind, mismatch("bool", "float32"));
}

#[test]
fn numpy_floats_are_not_ints() {
    if !have_numpy("numpy_floats_are_not_ints") {
        return;
    }
    assert_eq!(read_err::<i64>("__import__('numpy').float32(1.0)").kind, mismatch("int", "float32"));
    assert_eq!(read_err::<i64>("__import__('numpy').float64(1.0)").kind, mismatch("int", "float64"));
    assert_eq!(read_err::<f64>("__import__('numpy').complex64(1)").kind, mismatch("float", "complex64"));
}

#[test]
fn numpy_scalars_in_structs_name_the_path() {
    if !have_numpy("numpy_scalars_in_structs_name_the_path") {
        return;
    }
    #[derive(Debug, PartialEq, Deserialize)]
    struct Score {
        id: u32,
        score: f32,
        passed: bool,
    }
    assert_reads(
        "(lambda np: {'id': np.uint32(7), 'score': np.float32(0.5), 'passed': np.bool_(True)})(__import__('numpy'))",
        Score { id: 7, score: 0.5, passed: true },
    );
    let err = read_err::<Vec<Score>>(
        "(lambda np: [{'id': np.int64(-1), 'score': np.float32(0.5), 'passed': np.bool_(True)}])(__import__('numpy'))",
    );
    assert_eq!(err.to_string(), "[0].id: integer -1 out of range for u32");
}

#[test]
fn numpy_scalars_of_unknown_shape_follow_their_kind() {
    if !have_numpy("numpy_scalars_of_unknown_shape_follow_their_kind") {
        return;
    }
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(untagged)]
    enum Number {
        Flag(bool),
        Int(i64),
        Float(f64),
    }
    assert_reads("__import__('numpy').int16(-3)", Number::Int(-3));
    assert_reads("__import__('numpy').float32(0.5)", Number::Float(0.5));
    assert_reads("__import__('numpy').bool_(True)", Number::Flag(true));
}
