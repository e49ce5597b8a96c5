//! Python numbers as Rust ones: ints that are not bools, range errors that name the target type,
//! `float(int)` rounding, and numpy scalars (`np.int64`, `np.float32`, `np.bool_`, ...) read as
//! the Python values they stand for.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt};

use super::error::{Error, Result};

/// A Python int that is not a bool (`bool` subclasses `int`, but `True` is no integer to Rust).
#[inline]
pub(super) fn is_int(obj: &Bound<'_, PyAny>) -> bool {
    obj.is_instance_of::<PyInt>() && !obj.is_instance_of::<PyBool>()
}

/// A numpy scalar (`np.int64`, `np.float32`, `np.bool_`, ...) as the Python value it stands for.
pub(super) enum NumpyScalar<'py> {
    Bool(bool),
    /// A numpy integer, converted to a Python int through `__index__`.
    Int(Bound<'py, PyInt>),
    Float(f64),
}

/// `obj` as a numpy scalar if it is one, `None` for anything else.
///
/// numpy stays optional: only a value whose type comes from the `numpy` module gets past the first
/// check, and then numpy is already imported (the lookup is one `sys.modules` hit). `np.float64`
/// and `np.str_` subclass `float` and `str` and never get here.
#[cold]
pub(super) fn numpy_scalar<'py>(obj: &Bound<'py, PyAny>) -> Result<Option<NumpyScalar<'py>>> {
    let from_numpy = obj.get_type().module().is_ok_and(|module| module.to_str().is_ok_and(|m| m == "numpy"));
    if !from_numpy {
        return Ok(None);
    }
    let numpy = obj.py().import("numpy")?;
    if obj.is_instance(&numpy.getattr("bool_")?)? {
        return Ok(Some(NumpyScalar::Bool(obj.is_truthy()?)));
    }
    if obj.is_instance(&numpy.getattr("integer")?)? {
        let int = obj.call_method0("__index__")?.cast_into::<PyInt>().map_err(PyErr::from)?;
        return Ok(Some(NumpyScalar::Int(int)));
    }
    if obj.is_instance(&numpy.getattr("floating")?)? {
        return Ok(Some(NumpyScalar::Float(obj.extract::<f64>()?)));
    }
    Ok(None)
}

/// A Python int (not a bool) as a Rust integer, or the range error naming `target`.
pub(super) fn extract_int<'py, T>(int: &Bound<'py, PyAny>, target: &str) -> Result<T>
where
    T: for<'b> FromPyObject<'b, 'py, Error = PyErr>,
{
    int.extract::<T>().map_err(|err| Error::int_extraction(err, int, target))
}

/// A Python int as a float, rounded to nearest, ties to even, as Python's `float(int)` does.
pub(super) fn int_to_float(int: &Bound<'_, PyAny>, target: &str) -> Result<f64> {
    if let Ok(small) = int.extract::<i64>() {
        return Ok(small as f64);
    }
    int.extract::<f64>().map_err(|err| Error::int_extraction(err, int, target))
}
