//! Tests for `serde_py`: one module per area, plus the reusable rich type in [`rich`].

mod attributes;
mod bench;
mod buffers;
mod collections;
mod enums;
mod errors;
mod numpy;
pub(crate) mod rich;
mod roundtrip;
mod scalars;
mod unknown_keys;

use std::ffi::CString;
use std::fmt::Debug;

use pyo3::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{ConversionError, ConversionErrorKind, from_python, to_python};

/// Runs `f` attached to the interpreter, starting it first if needed.
pub(crate) fn with_py<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
    Python::initialize();
    Python::attach(f)
}

/// Evaluates a Python expression.
pub(crate) fn eval<'py>(py: Python<'py>, expression: &str) -> Bound<'py, PyAny> {
    let code = CString::new(expression).expect("test expressions have no NUL");
    py.eval(&code, None, None).unwrap_or_else(|err| panic!("`{expression}` does not evaluate: {err}"))
}

/// `repr()` of a Python object: distinguishes `1`, `1.0` and `True`, which `==` does not.
pub(crate) fn repr(obj: &Bound<'_, PyAny>) -> String {
    obj.repr().expect("repr works").to_string()
}

/// Converts `value` to Python and checks the `repr` of the result.
#[track_caller]
pub(crate) fn assert_to_python<T: ?Sized + Serialize>(value: &T, expected_repr: &str) {
    with_py(|py| {
        let obj = to_python(py, value).expect("converts to Python");
        assert_eq!(repr(&obj), expected_repr);
    });
}

/// Reads the value of a Python expression as a `T`.
#[track_caller]
pub(crate) fn read<T: DeserializeOwned>(expression: &str) -> Result<T, ConversionError> {
    with_py(|py| from_python(&eval(py, expression)))
}

/// Reads the value of a Python expression and checks it.
#[track_caller]
pub(crate) fn assert_reads<T: DeserializeOwned + PartialEq + Debug>(expression: &str, expected: T) {
    match read::<T>(expression) {
        Ok(value) => assert_eq!(value, expected, "reading `{expression}`"),
        Err(err) => panic!("reading `{expression}` failed: {err}"),
    }
}

/// Reads a Python expression that must fail, and returns the error.
#[track_caller]
pub(crate) fn read_err<T: DeserializeOwned + Debug>(expression: &str) -> ConversionError {
    match read::<T>(expression) {
        Ok(value) => panic!("reading `{expression}` should fail, got {value:?}"),
        Err(err) => err,
    }
}

/// Converts to Python and back, checking that the value survives unchanged.
#[track_caller]
pub(crate) fn assert_round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
    with_py(|py| {
        let obj = to_python(py, value).expect("converts to Python");
        let back: T = from_python(&obj).unwrap_or_else(|err| panic!("reading back {} failed: {err}", repr(&obj)));
        assert_eq!(&back, value, "via {}", repr(&obj));
    });
}

/// Shorthand for a `TypeMismatch` kind.
pub(crate) fn mismatch(expected: &str, got: &str) -> ConversionErrorKind {
    ConversionErrorKind::TypeMismatch { expected: expected.to_owned(), got: got.to_owned() }
}

/// Shorthand for an `OutOfRange` kind.
pub(crate) fn out_of_range(target: &str, value: &str) -> ConversionErrorKind {
    ConversionErrorKind::OutOfRange { target: target.to_owned(), value: value.to_owned() }
}
