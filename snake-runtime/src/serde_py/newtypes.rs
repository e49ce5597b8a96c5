//! The newtypes `serde_py` reads from a Python buffer rather than through serde: `SharedBytes`
//! and (feature `numpy`) `Array`. The deserializer offers the value in the slot the type's
//! visitor takes it from.

use pyo3::prelude::*;

use super::error::Error;

/// The newtypes read from a Python buffer rather than through serde: `SharedBytes` and (feature
/// `numpy`) `Array`. Reads `obj` into the slot its visitor takes the value from, and says whether
/// `name` was one of them.
pub(super) fn offer(name: &'static str, obj: &Bound<'_, PyAny>) -> Result<bool, Error> {
    if name == crate::shared_bytes::NAME {
        let Some(bytes) = super::buffer::bytes_of(obj)? else {
            return Err(Error::type_mismatch("bytes-like object", obj));
        };
        crate::shared_bytes::handoff::offer(bytes);
        return Ok(true);
    }
    #[cfg(feature = "numpy")]
    if name == crate::array::NAME
        && let Some(expected) = crate::array::incoming::take_expected()
    {
        crate::array::incoming::offer(super::ndarray::from_numpy(obj, &expected)?);
        return Ok(true);
    }
    Ok(false)
}

/// Empties what [`offer`] left, should a visitor not have taken it (`Array`'s own
/// `Deserialize` empties its slots itself).
pub(super) fn clear_slots() {
    crate::shared_bytes::handoff::clear();
}
