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
use serde::de::value::SeqDeserializer;
use serde::de::{self, IntoDeserializer, Visitor};

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
        return Err(Error::type_mismatch((expected.name)(), obj));
    };
    let dtype = array.dtype();
    let rank = array.ndim();
    if !dtype.is_equiv_to(&(expected.dtype)(py)) || expected.rank.is_some_and(|r| r != rank) {
        return Err(Error::new(ConversionErrorKind::TypeMismatch {
            expected: (expected.name)(),
            got: format!("{dtype} array of rank {rank}"),
        }));
    }
    Ok(Read { shape: array.shape().to_vec(), bytes: c_order_bytes(array, expected.name)? })
}

/// The elements of `array` in C order: a view of its buffer when it is C-contiguous (no copy for
/// one over a buffer Rust exported), else a copy made by `numpy.ascontiguousarray`.
fn c_order_bytes(array: &Bound<'_, PyUntypedArray>, expected: fn() -> String) -> Result<bytes::Bytes> {
    if array.is_empty() {
        // A memoryview of no elements cannot be cast to bytes.
        return Ok(bytes::Bytes::new());
    }
    let contiguous = if array.is_c_contiguous() {
        array.clone().into_any()
    } else {
        let (_, ascontiguousarray) = numpy_functions(array.py())?;
        ascontiguousarray.bind(array.py()).call1((array,))?
    };
    match super::buffer::bytes_of(&contiguous)? {
        Some(bytes) => Ok(bytes),
        None => Err(Error::type_mismatch(expected(), array.as_any())),
    }
}

/// A `numpy.ndarray` read where the Rust type is not known (`deserialize_any`: untagged, internally
/// tagged and flattened types, which serde buffers before it picks the type): its shape, its
/// elements in C order and its dtype. Visited as a newtype around the sequence
/// `(shape, bytes, dtype)`, which [`Array`](crate::Array)'s visitor reads back, checking the dtype;
/// serde's buffering copies the bytes once.
pub(super) struct Parts {
    shape: Vec<usize>,
    bytes: bytes::Bytes,
    dtype: String,
}

/// `obj`'s parts if it is a `numpy.ndarray`. numpy stays unimported: an object can only be an
/// array when numpy is already in `sys.modules`.
#[cold]
pub(super) fn parts(obj: &Bound<'_, PyAny>) -> Result<Option<Parts>> {
    let py = obj.py();
    let modules = py.import("sys")?.getattr("modules")?;
    if !modules.contains("numpy")? {
        return Ok(None);
    }
    let Ok(array) = obj.cast::<PyUntypedArray>() else {
        return Ok(None);
    };
    let dtype = array.dtype().str()?.to_string();
    let bytes = c_order_bytes(array, || "numpy.ndarray".to_owned())?;
    Ok(Some(Parts { shape: array.shape().to_vec(), bytes, dtype }))
}

impl<'de> de::Deserializer<'de> for Parts {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_seq(PartsAccess { parts: Some(self), index: 0 })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// The three parts, in order.
struct PartsAccess {
    parts: Option<Parts>,
    index: u8,
}

impl<'de> de::SeqAccess<'de> for PartsAccess {
    type Error = Error;

    fn next_element_seed<S: de::DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>> {
        let Some(parts) = self.parts.as_mut() else { return Ok(None) };
        self.index += 1;
        let value = match self.index {
            1 => seed.deserialize(SeqDeserializer::<_, Error>::new(std::mem::take(&mut parts.shape).into_iter()))?,
            2 => seed.deserialize(BytesPart(std::mem::take(&mut parts.bytes)))?,
            _ => {
                let dtype = std::mem::take(&mut parts.dtype);
                self.parts = None;
                seed.deserialize(IntoDeserializer::<Error>::into_deserializer(dtype))?
            }
        };
        Ok(Some(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(if self.parts.is_some() { 3 - usize::from(self.index) } else { 0 })
    }
}

/// The elements, visited as bytes.
struct BytesPart(bytes::Bytes);

impl<'de> de::Deserializer<'de> for BytesPart {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_bytes(&self.0)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}
