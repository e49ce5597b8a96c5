//! [`Array`](crate::Array) in Python (feature `numpy`): a read-only `numpy.ndarray` over the Rust
//! buffer, and a `numpy.ndarray` of the expected dtype and rank back.
//!
//! The array Python gets is `numpy.frombuffer` over the read-only `memoryview` of
//! [`super::buffer`], reshaped: it views the buffer (for a received frame, the frame itself, in
//! shared memory when it is large) and keeps it alive through the view's exporter.

use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyTuple;

use super::error::{ConversionErrorKind, Error, Result};
use crate::array::incoming::{Expected, Read};
use crate::array::outgoing::Outgoing;

/// `numpy.frombuffer` and `numpy.ascontiguousarray`, looked up once per interpreter.
static NUMPY: PyOnceLock<(Py<PyAny>, Py<PyAny>)> = PyOnceLock::new();

fn numpy_functions(py: Python<'_>) -> PyResult<&(Py<PyAny>, Py<PyAny>)> {
    NUMPY.get_or_try_init(py, || {
        let numpy = py.import("numpy")?;
        Ok((numpy.getattr("frombuffer")?.unbind(), numpy.getattr("ascontiguousarray")?.unbind()))
    })
}

/// A read-only `numpy.ndarray` viewing `array`'s bytes, without a copy.
pub(crate) fn to_numpy(py: Python<'_>, array: Outgoing) -> Result<Bound<'_, PyAny>> {
    let (frombuffer, _) = numpy_functions(py)?;
    let view = super::buffer::memoryview(py, array.bytes)?;
    let flat = frombuffer.bind(py).call1((view, array.dtype))?;
    Ok(flat.call_method1("reshape", (PyTuple::new(py, array.shape)?,))?)
}

/// The shape and the C-order bytes of `obj`, which must be a `numpy.ndarray` of `expected`'s
/// dtype and rank (a non-contiguous one is copied into C order first).
pub(crate) fn from_numpy(obj: &Bound<'_, PyAny>, expected: &Expected) -> Result<Read> {
    let py = obj.py();
    let Ok(array) = obj.cast::<PyUntypedArray>() else {
        return Err(Error::type_mismatch(expected.name.clone(), obj));
    };
    let dtype = array.dtype();
    let rank = array.ndim();
    if !dtype.is_equiv_to(&(expected.dtype)(py)) || expected.rank.is_some_and(|r| r != rank) {
        return Err(Error::new(ConversionErrorKind::TypeMismatch {
            expected: expected.name.clone(),
            got: format!("{dtype} array of rank {rank}"),
        }));
    }
    let shape = array.shape().to_vec();
    if array.is_empty() {
        // A memoryview of no elements cannot be cast to bytes.
        return Ok(Read { shape, bytes: bytes::Bytes::new() });
    }
    let contiguous = if array.is_c_contiguous() {
        array.clone().into_any()
    } else {
        let (_, ascontiguousarray) = numpy_functions(py)?;
        ascontiguousarray.bind(py).call1((array,))?
    };
    let Some(bytes) = super::buffer::bytes_of(&contiguous)? else {
        return Err(Error::type_mismatch(expected.name.clone(), obj));
    };
    Ok(Read { shape, bytes })
}
