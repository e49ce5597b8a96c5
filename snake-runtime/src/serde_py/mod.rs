//! Conversion between any serde-serializable Rust value and Python objects.
//!
//! Requests and replies cross into Python as plain Python objects: a struct becomes a dict, a `Vec`
//! a list, and so on, built directly through the C API with no intermediate format. Field names are
//! interned once per thread and reused, so converting a struct does not create its key strings again.
//!
//! | Rust / serde | Python produced | Python accepted when reading |
//! |---|---|---|
//! | `bool` | `bool` | `bool`, `numpy.bool_` |
//! | `i8`..`i128`, `u8`..`u128` | `int` | `int` or numpy integer (`np.int64`, `np.uint8`, ...), not `bool` nor `np.bool_`; range-checked per width ([`ConversionErrorKind::OutOfRange`]) |
//! | `f32`, `f64` | `float` | `float` or numpy float (`np.float32`, ...), or an int as above (converted as `float(int)` does), not `bool` |
//! | `char` | `str` of length 1 | `str` of length 1 |
//! | `String`, `&str` | `str` | `str` |
//! | bytes (`serialize_bytes`, e.g. `serde_bytes`) | `bytes` | `bytes`, `bytearray` |
//! | `Option<T>` | `None` or the value | `None` -> `None`, anything else -> `Some` |
//! | unit, unit struct | `None` | `None` |
//! | sequence (`Vec`, `VecDeque`, `HashSet`, `BTreeSet`, ...) | `list` | `list`, `tuple`, `set`, `frozenset`; `bytes`/`bytearray` as a sequence of `u8` |
//! | tuple, tuple struct, array | `tuple` | `tuple` or `list` of exactly that length (also `bytes`/`bytearray`) |
//! | map (`HashMap`, `BTreeMap`) with str or integer keys | `dict` | `dict` or other `Mapping`, keys `str` or `int` ([`ConversionErrorKind::UnsupportedKey`] otherwise) |
//! | struct | `dict` with `str` keys | `dict` (subclasses and other `Mapping`s too), keys `str` |
//! | newtype struct | the inner value | the inner value |
//! | enum unit variant | `str` `"Variant"` | `str` (or `{"Variant": None}`) |
//! | enum newtype / tuple / struct variant | `{"Variant": value}`, the value a tuple for tuple variants and a dict for struct variants | single-key `dict` |
//!
//! Reading a value of unknown shape (`deserialize_any`, which serde uses for
//! `#[serde(tag = ..)]`, `#[serde(tag = .., content = ..)]`, `#[serde(untagged)]` and
//! `#[serde(flatten)]`) follows the Python type: `None` -> unit, `bool`, `int` (as `i64` if it
//! fits, else `u64`, `i128`, `u128`), `float`, `str`, `bytes`/`bytearray`, `list`/`tuple`/`set` ->
//! sequence, `dict`/`Mapping` -> map, any other object with the buffer protocol (a `memoryview`,
//! an `array.array`) -> bytes. With the `numpy` feature a `numpy.ndarray` keeps its shape and
//! dtype there, for an `Array` to read back with its dtype and rank checked.
//!
//! Details beyond the table:
//! - `Some(None)` of an `Option<Option<T>>` (and `Some(())`) becomes `None` in Python and reads
//!   back as `None`: Python has a single `None`.
//! - A sequence of `u8` (`Vec<u8>`) is a list of ints in Python unless it goes through
//!   `serde_bytes`; either reads back from `bytes`.
//! - Sets are unordered: they are accepted where a sequence is expected, never for a tuple.
//! - Both sides report `is_human_readable() == true`, so types with a readable form (`IpAddr`,
//!   `SocketAddr`, the usual date and time types) become strings, as they would in JSON.
//! - Map keys that serialize as `str` (unit variants, `char`, newtypes around `String`) or `int`
//!   work on both sides; any other key is [`ConversionErrorKind::UnsupportedKey`], `bool` included.
//!   Dict order follows the Rust map's iteration order.
//! - Narrowing a Python float to `f32` rounds to the nearest `f32`, and gives infinity beyond
//!   `f32::MAX`, as serde_json does.
//! - Values buffered by serde (inside untagged or internally tagged enums, or flattened fields)
//!   go through serde's own buffer, which has no 128-bit integers: there, integers must fit in 64
//!   bits, errors carry the path only down to the buffered value, and a buffer (`SharedBytes`,
//!   `Array`) is copied once more, into that buffer.
//! - Keys a struct does not have are skipped by [`from_python`] and refused by
//!   [`from_python_strict_at`], which typed messages go through (opt-out:
//!   `#[snake(allow_unknown_keys)]`).
//! - Struct dicts must have `str` keys; a dict with another key type is rejected rather than
//!   having its keys matched against field positions.
//! - numpy scalars are recognised by their type's module (`numpy`), only after the built-in types
//!   failed to match, so numpy is never imported for a value that is not one of its own; in a value
//!   of unknown shape they read as the bool, int or float they stand for. numpy arrays are not
//!   sequences here (`arr.tolist()` is).
//! - With the `numpy` feature, `snake::Array<T, D>` is a read-only `numpy.ndarray` over
//!   the Rust buffer (no copy), and reads back from a `numpy.ndarray` of exactly dtype `T` and
//!   rank `D` (copied into C order), anything else being [`ConversionErrorKind::TypeMismatch`]
//!   (`expected float32 array of rank 2, got float64 array of rank 1`).
//! - Python containers may nest at most 256 levels deep; a container that contains itself is
//!   reported as [`ConversionErrorKind::TooDeep`] rather than overflowing the stack.
//! - Dicts, lists, tuples, str, int and float (subclasses included) are read from their storage
//!   without calling back into Python: overridden `__getitem__` or `items()` of a dict subclass are
//!   not consulted. Other mappings are read through their `items()`, sets through iteration.
//!
//! Errors name the path from the root to the offending value, `reply.items[3].score: expected
//! float, got str`; the path is assembled only when a conversion fails.

mod buffer;
mod de;
mod error;
mod intern;
#[cfg(feature = "numpy")]
mod ndarray;
mod newtypes;
mod numbers;
mod ser;
mod unknown_keys;

#[cfg(test)]
mod tests;

use pyo3::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub(crate) use self::buffer::read_for_encoding;
pub use self::error::{ConversionError, ConversionErrorKind};
pub use self::unknown_keys::AllowUnknownKeys;
use self::unknown_keys::UnknownKeys;
pub(crate) use self::unknown_keys::allows_any_key;

/// Converts a Rust value into a new Python object, as laid out in the [module documentation](self).
///
/// # Errors
///
/// When the value's `Serialize` implementation fails, or a map key would be neither a str nor an
/// int in Python.
pub fn to_python<'py, T: ?Sized + Serialize>(py: Python<'py>, value: &T) -> Result<Bound<'py, PyAny>, ConversionError> {
    to_python_at(py, value, "")
}

/// Like [`to_python`], but error paths start with `root`, so a caller can say which value failed
/// (`reply.items[3]`).
pub fn to_python_at<'py, T: ?Sized + Serialize>(
    py: Python<'py>,
    value: &T,
    root: &str,
) -> Result<Bound<'py, PyAny>, ConversionError> {
    value.serialize(ser::Serializer::new(py)).map_err(|err| err.into_public(root))
}

/// Reads a Rust value out of a Python object, as laid out in the [module documentation](self).
///
/// # Errors
///
/// When the object does not have the shape `T` expects, or Python raises while it is read.
pub fn from_python<T: DeserializeOwned>(obj: &Bound<'_, PyAny>) -> Result<T, ConversionError> {
    from_python_at(obj, "")
}

/// Like [`from_python`], but error paths start with `root` (e.g. "reply", "request"), so the
/// message says which value failed: `reply.items[3].score: expected float, got str`.
pub fn from_python_at<T: DeserializeOwned>(obj: &Bound<'_, PyAny>, root: &str) -> Result<T, ConversionError> {
    T::deserialize(de::Deserializer::new(obj, UnknownKeys::Ignore)).map_err(|err| err.into_public(root))
}

/// Like [`from_python_at`], but a struct dict with a key the struct does not have is an error
/// ([`ConversionErrorKind::UnknownKey`]: `reply: unknown key `prise` (expected one of `name`,
/// `price`)`), unless the struct is `#[snake(allow_unknown_keys)]`. Typed messages
/// (`#[derive(PyMessage)]`) are read this way.
///
/// Keys are checked where this module reads the dict; values serde buffers itself (inside untagged
/// or internally tagged enums, and structs with a `#[serde(flatten)]` field) keep serde's rule:
/// unknown keys are skipped unless the type is `#[serde(deny_unknown_fields)]`.
///
/// # Errors
///
/// As [`from_python_at`], and for unknown keys.
pub fn from_python_strict_at<T: DeserializeOwned>(obj: &Bound<'_, PyAny>, root: &str) -> Result<T, ConversionError> {
    T::deserialize(de::Deserializer::new(obj, UnknownKeys::Refuse)).map_err(|err| err.into_public(root))
}
