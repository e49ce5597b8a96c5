//! Python -> Rust: a `serde::Deserializer` that reads Python objects in place.
//!
//! One file of about 700 lines on purpose: the deserializer and its access types (sequence, map,
//! enum) are one `serde` implementation whose methods call each other; split, each part would
//! only make sense next to the others. How a Python number (a numpy scalar included) is read is
//! in [`super::numbers`]; the newtypes read from a Python buffer (`SharedBytes`, `Array`) in
//! [`super::newtypes`].
//!
//! Every typed `deserialize_*` checks the Python type first and reports a mismatch in Python's
//! words; only `deserialize_any` (used by untagged, internally tagged and flattened types) lets the
//! Python type decide what the visitor sees.

use std::borrow::Cow;

use pyo3::prelude::*;
use pyo3::types::iter::{BoundDictIterator, BoundListIterator, BoundTupleIterator};
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyFrozenSet, PyInt, PyIterator, PyList, PyMapping, PySet, PyString,
    PyTuple,
};
use pyo3::{PyTypeCheck, PyTypeInfo};
use serde::de::{self, DeserializeSeed, Visitor};

use super::error::{ConversionErrorKind, Error, Result, Segment, type_name};
use super::numbers::{NumpyScalar, extract_int, int_to_float, is_int, numpy_scalar};
use super::unknown_keys::{self, Allowed, UnknownKeys};

/// How deeply Python containers may nest. Rust types that are not recursive can never come near;
/// the limit turns hostile or self-containing input (`l = []; l.append(l)`) into an error instead
/// of a stack overflow, and leaves room for it on a 2 MiB thread stack.
pub(crate) const MAX_DEPTH: u32 = 256;

/// Reads one Python object (and, through the access types below, its contents).
pub(crate) struct Deserializer<'a, 'py> {
    obj: &'a Bound<'py, PyAny>,
    /// How many containers enclose `obj`.
    depth: u32,
    /// What a struct dict's keys that the struct does not have are.
    unknown_keys: UnknownKeys,
}

/// `obj` as a `T` if it is one (subclasses included), without building an error when it is not.
#[inline]
fn as_type<'a, 'py, T: PyTypeCheck>(obj: &'a Bound<'py, PyAny>) -> Option<&'a Bound<'py, T>> {
    if obj.is_instance_of::<T>() { obj.cast::<T>().ok() } else { None }
}

/// The `items()` of a mapping that is not a dict (`types.MappingProxyType`, a custom
/// `collections.abc.Mapping`); `None` for anything else. Dicts never get here: they are read in
/// place.
#[cold]
fn mapping_items<'py>(obj: &Bound<'py, PyAny>) -> Result<Option<Bound<'py, PyList>>> {
    let py = obj.py();
    if !obj.is_instance(PyMapping::type_object(py).as_any())? {
        return Ok(None);
    }
    let mapping = obj.cast::<PyMapping>().map_err(PyErr::from)?;
    Ok(Some(mapping.items()?))
}

/// One `(key, value)` tuple out of `Mapping.items()`.
#[cold]
fn item_pair<'py>(item: &Bound<'py, PyAny>) -> Result<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    match item.cast::<PyTuple>() {
        Ok(pair) if pair.len() == 2 => Ok((pair.get_item(0)?, pair.get_item(1)?)),
        _ => Err(Error::type_mismatch("(key, value) tuple from items()", item)),
    }
}

impl<'a, 'py> Deserializer<'a, 'py> {
    pub(crate) fn new(obj: &'a Bound<'py, PyAny>, unknown_keys: UnknownKeys) -> Self {
        Self::at_depth(obj, 0, unknown_keys)
    }

    fn at_depth(obj: &'a Bound<'py, PyAny>, depth: u32, unknown_keys: UnknownKeys) -> Self {
        Deserializer { obj, depth, unknown_keys }
    }

    /// The depth of this object's contents, or an error when that is too deep.
    #[inline]
    fn nested(&self) -> Result<u32> {
        if self.depth < MAX_DEPTH {
            Ok(self.depth + 1)
        } else {
            Err(Error::new(ConversionErrorKind::TooDeep { limit: MAX_DEPTH as usize }))
        }
    }

    /// What `deserialize_any` makes of an object that is none of the types it knows first: with
    /// the `numpy` feature, a `numpy.ndarray` is an array's parts (a newtype that only
    /// `snake::Array` reads back); any other object with the buffer protocol (a
    /// `memoryview`, an `array.array`) is its bytes.
    #[cold]
    fn any_buffer<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        #[cfg(feature = "numpy")]
        if let Some(parts) = super::ndarray::parts(self.obj)? {
            return visitor.visit_newtype_struct(parts);
        }
        match super::buffer::bytes_of(self.obj)? {
            Some(bytes) => visitor.visit_bytes(&bytes),
            None => Err(self.mismatch("None, bool, int, float, str, bytes-like object, list, tuple, set or dict")),
        }
    }

    #[cold]
    fn mismatch(&self, expected: &str) -> Error {
        Error::type_mismatch(expected, self.obj)
    }

    fn int<T>(&self, target: &str) -> Result<T>
    where
        T: for<'b> FromPyObject<'b, 'py, Error = PyErr>,
    {
        if is_int(self.obj) {
            return extract_int(self.obj, target);
        }
        match numpy_scalar(self.obj)? {
            Some(NumpyScalar::Int(int)) => extract_int(&int, target),
            _ => Err(self.mismatch("int")),
        }
    }

    fn float(&self, target: &str) -> Result<f64> {
        if let Some(float) = as_type::<PyFloat>(self.obj) {
            return Ok(float.value());
        }
        if is_int(self.obj) {
            return int_to_float(self.obj, target);
        }
        match numpy_scalar(self.obj)? {
            Some(NumpyScalar::Float(float)) => Ok(float),
            Some(NumpyScalar::Int(int)) => int_to_float(&int, target),
            _ => Err(self.mismatch("float")),
        }
    }

    fn str(&self, expected: &str) -> Result<&'a str> {
        match as_type::<PyString>(self.obj) {
            Some(text) => Ok(text.to_str()?),
            None => Err(self.mismatch(expected)),
        }
    }

    /// The elements of a Python sequence (or a set, unless `ordered_only`), `None` for anything
    /// else.
    fn elements(&self, ordered_only: bool) -> Result<Option<SeqAccess<'py>>> {
        let obj = self.obj;
        let elements = if let Some(list) = as_type::<PyList>(obj) {
            Elements::List(list.iter())
        } else if let Some(tuple) = as_type::<PyTuple>(obj) {
            Elements::Tuple(tuple.iter())
        } else if let Some(bytes) = as_type::<PyBytes>(obj) {
            Elements::Bytes(bytes.clone(), 0)
        } else if let Some(bytes) = as_type::<PyByteArray>(obj) {
            // A bytearray can change under us: read a snapshot.
            Elements::ByteVec(obj.py(), bytes.to_vec().into_iter())
        } else if !ordered_only && (obj.is_instance_of::<PySet>() || obj.is_instance_of::<PyFrozenSet>()) {
            // Through the iterator protocol, so a set changed meanwhile raises instead of panicking.
            Elements::Set(obj.try_iter()?, obj.len()?)
        } else {
            return Ok(None);
        };
        Ok(Some(SeqAccess { elements, index: 0, depth: self.nested()?, unknown_keys: self.unknown_keys }))
    }

    /// The entries of a dict (or other mapping), `None` for anything else.
    ///
    /// A dict subclass is read from its storage, like `dict(obj)` does: overridden `__getitem__`
    /// or `items()` are not consulted. Reading a dict runs no Python code, which matters because
    /// the dict must not change while it is read (pyo3 panics if it does).
    fn entries(&self, keys: Keys<'static>) -> Result<Option<MapAccess<'py>>> {
        let entries = if let Some(dict) = as_type::<PyDict>(self.obj) {
            Entries::Dict(dict.iter())
        } else if let Some(items) = mapping_items(self.obj)? {
            Entries::Items(items.iter())
        } else {
            return Ok(None);
        };
        Ok(Some(MapAccess {
            entries,
            key: None,
            value: None,
            keys,
            depth: self.nested()?,
            unknown_keys: self.unknown_keys,
        }))
    }

    /// An int of any width: the narrowest of i64, u64, i128, u128 that holds it.
    fn visit_int<'de, V: Visitor<'de>>(&self, visitor: V) -> Result<V::Value> {
        let obj = self.obj;
        if let Ok(v) = obj.extract::<i64>() {
            return visitor.visit_i64(v);
        }
        if let Ok(v) = obj.extract::<u64>() {
            return visitor.visit_u64(v);
        }
        if let Ok(v) = obj.extract::<i128>() {
            return visitor.visit_i128(v);
        }
        match obj.extract::<u128>() {
            Ok(v) => visitor.visit_u128(v),
            Err(err) => Err(Error::int_extraction(err, obj, "i128 or u128")),
        }
    }
}

macro_rules! deserialize_int {
    ($($method:ident => $visit:ident($ty:ty)),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            visitor.$visit(self.int::<$ty>(stringify!($ty))?)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Deserializer<'_, '_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let obj = self.obj;
        if let Some(text) = as_type::<PyString>(obj) {
            return visitor.visit_str(text.to_str()?);
        }
        if obj.is_instance_of::<PyInt>() {
            return match as_type::<PyBool>(obj) {
                Some(flag) => visitor.visit_bool(flag.is_true()),
                None => self.visit_int(visitor),
            };
        }
        if let Some(float) = as_type::<PyFloat>(obj) {
            return visitor.visit_f64(float.value());
        }
        if obj.is_none() {
            return visitor.visit_unit();
        }
        if let Some(bytes) = as_type::<PyBytes>(obj) {
            return visitor.visit_bytes(bytes.as_bytes());
        }
        if let Some(bytes) = as_type::<PyByteArray>(obj) {
            return visitor.visit_byte_buf(bytes.to_vec());
        }
        // Dicts, then sequences and sets, and only then the costlier check for other mappings.
        if obj.is_instance_of::<PyDict>()
            && let Some(entries) = self.entries(Keys::StrOrInt)?
        {
            return visitor.visit_map(entries);
        }
        if let Some(elements) = self.elements(false)? {
            return visitor.visit_seq(elements);
        }
        if let Some(entries) = self.entries(Keys::StrOrInt)? {
            return visitor.visit_map(entries);
        }
        match numpy_scalar(obj)? {
            Some(NumpyScalar::Bool(flag)) => visitor.visit_bool(flag),
            Some(NumpyScalar::Int(int)) => {
                Deserializer::at_depth(int.as_any(), self.depth, self.unknown_keys).visit_int(visitor)
            }
            Some(NumpyScalar::Float(float)) => visitor.visit_f64(float),
            None => self.any_buffer(visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if let Some(flag) = as_type::<PyBool>(self.obj) {
            return visitor.visit_bool(flag.is_true());
        }
        match numpy_scalar(self.obj)? {
            Some(NumpyScalar::Bool(flag)) => visitor.visit_bool(flag),
            _ => Err(self.mismatch("bool")),
        }
    }

    deserialize_int! {
        deserialize_i8 => visit_i8(i8),
        deserialize_i16 => visit_i16(i16),
        deserialize_i32 => visit_i32(i32),
        deserialize_i64 => visit_i64(i64),
        deserialize_i128 => visit_i128(i128),
        deserialize_u8 => visit_u8(u8),
        deserialize_u16 => visit_u16(u16),
        deserialize_u32 => visit_u32(u32),
        deserialize_u64 => visit_u64(u64),
        deserialize_u128 => visit_u128(u128),
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        // Narrowing rounds to nearest (and to infinity beyond f32::MAX), as serde_json does.
        visitor.visit_f32(self.float("f32")? as f32)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_f64(self.float("f64")?)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        const EXPECTED: &str = "str of length 1";
        let text = self.str(EXPECTED)?;
        let mut chars = text.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => visitor.visit_char(c),
            _ => Err(Error::new(ConversionErrorKind::InvalidLength {
                expected: EXPECTED.to_owned(),
                got: text.chars().count(),
            })),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_str(self.str("str")?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if let Some(bytes) = as_type::<PyBytes>(self.obj) {
            visitor.visit_bytes(bytes.as_bytes())
        } else if let Some(bytes) = as_type::<PyByteArray>(self.obj) {
            visitor.visit_byte_buf(bytes.to_vec())
        } else {
            Err(self.mismatch("bytes"))
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.obj.is_none() { visitor.visit_none() } else { visitor.visit_some(self) }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.obj.is_none() { visitor.visit_unit() } else { Err(self.mismatch("None")) }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value> {
        // `SharedBytes` and `Array` are read from Python's buffer here; their visitors take the value.
        if super::newtypes::offer(name, self.obj)? {
            let value = visitor.visit_newtype_struct(self);
            super::newtypes::clear_slots();
            return value;
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.elements(false)? {
            Some(elements) => visitor.visit_seq(elements),
            None => Err(self.mismatch("list")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        let Some(elements) = self.elements(true)? else {
            return Err(self.mismatch("tuple"));
        };
        let got = elements.remaining();
        if got != len {
            return Err(Error::new(ConversionErrorKind::InvalidLength {
                expected: format!("tuple of length {len}"),
                got,
            }));
        }
        visitor.visit_seq(elements)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.entries(Keys::StrOrInt)? {
            Some(entries) => visitor.visit_map(entries),
            None => Err(self.mismatch("dict")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        let keys = match self.unknown_keys {
            UnknownKeys::Ignore => Keys::FieldNames,
            UnknownKeys::Refuse => match unknown_keys::allowed_for(name) {
                Allowed::Any => Keys::FieldNames,
                Allowed::Only(extra) => Keys::Fields(fields, extra),
            },
        };
        match self.entries(keys)? {
            Some(entries) => visitor.visit_map(entries),
            None => Err(self.mismatch("dict")),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        const SINGLE_KEY: &str = "dict with a single key";
        let obj = self.obj;
        if let Some(variant) = as_type::<PyString>(obj) {
            return visitor.visit_enum(EnumAccess {
                name,
                variant: variant.clone(),
                value: None,
                depth: self.depth,
                unknown_keys: self.unknown_keys,
            });
        }
        let (len, first) = if let Some(dict) = as_type::<PyDict>(obj) {
            (dict.len(), dict.iter().next())
        } else if let Some(items) = mapping_items(obj)? {
            let first = match items.iter().next() {
                Some(item) => Some(item_pair(&item)?),
                None => None,
            };
            (items.len(), first)
        } else {
            return Err(self.mismatch("str or dict with a single key"));
        };
        let (variant, value) = match first {
            Some(entry) if len == 1 => entry,
            _ => {
                return Err(Error::new(ConversionErrorKind::InvalidLength {
                    expected: SINGLE_KEY.to_owned(),
                    got: len,
                }));
            }
        };
        let variant =
            variant.cast_into::<PyString>().map_err(|err| Error::type_mismatch("str key", &err.into_inner()))?;
        visitor.visit_enum(EnumAccess {
            name,
            variant,
            value: Some(value),
            depth: self.nested()?,
            unknown_keys: self.unknown_keys,
        })
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        // Nothing to read: an ignored value is never looked at, so it can never be wrong.
        visitor.visit_unit()
    }
}

/// A byte as a Python int; CPython preallocates these, so nothing is allocated.
#[inline]
fn small_int(py: Python<'_>, byte: u8) -> Bound<'_, PyAny> {
    let Ok(int) = byte.into_pyobject(py);
    int.into_any()
}

/// Where the elements of a sequence come from.
enum Elements<'py> {
    List(BoundListIterator<'py>),
    Tuple(BoundTupleIterator<'py>),
    /// A set or frozenset, and how many elements it had.
    Set(Bound<'py, PyIterator>, usize),
    /// A bytes object, read as ints, and the position of the next byte.
    Bytes(Bound<'py, PyBytes>, usize),
    /// A bytearray, copied.
    ByteVec(Python<'py>, std::vec::IntoIter<u8>),
}

/// Hands the elements of a Python sequence to a serde visitor.
struct SeqAccess<'py> {
    elements: Elements<'py>,
    /// Index of the next element, for error paths.
    index: usize,
    /// Depth of the elements.
    depth: u32,
    unknown_keys: UnknownKeys,
}

impl<'py> SeqAccess<'py> {
    fn next_item(&mut self) -> Result<Option<Bound<'py, PyAny>>> {
        Ok(match &mut self.elements {
            Elements::List(items) => items.next(),
            Elements::Tuple(items) => items.next(),
            Elements::Set(items, _) => items.next().transpose()?,
            Elements::Bytes(bytes, position) => {
                let byte = bytes.as_bytes().get(*position).copied();
                if byte.is_some() {
                    *position += 1;
                }
                byte.map(|byte| small_int(bytes.py(), byte))
            }
            Elements::ByteVec(py, bytes) => bytes.next().map(|byte| small_int(*py, byte)),
        })
    }

    /// How many elements are left (for a set: at the time it was opened).
    fn remaining(&self) -> usize {
        match &self.elements {
            Elements::List(items) => items.len(),
            Elements::Tuple(items) => items.len(),
            Elements::Set(_, len) => len.saturating_sub(self.index),
            Elements::Bytes(bytes, position) => bytes.as_bytes().len().saturating_sub(*position),
            Elements::ByteVec(_, bytes) => bytes.len(),
        }
    }
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        let Some(item) = self.next_item()? else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(Deserializer::at_depth(&item, self.depth, self.unknown_keys))
            .map(Some)
            .map_err(|err| err.at(Segment::Index(index)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.remaining())
    }
}

/// What the keys of a dict stand for.
#[derive(Clone, Copy)]
enum Keys<'f> {
    /// A struct: keys are field names (str), shown as `.name` in paths.
    FieldNames,
    /// A struct that refuses keys it does not have: the keys it accepts (aliases included), as
    /// serde gives them to `deserialize_struct`, and those it reads past (a `#[serde(tag)]`).
    Fields(&'f [&'f str], &'f [&'f str]),
    /// A map: keys are str or int, shown as `["key"]` or `[5]` in paths.
    StrOrInt,
}

/// Where the entries of a map come from.
enum Entries<'py> {
    /// A dict (or subclass), read in place.
    Dict(BoundDictIterator<'py>),
    /// The `items()` of another kind of mapping.
    Items(BoundListIterator<'py>),
}

/// Hands the entries of a Python dict to a serde visitor.
struct MapAccess<'py> {
    entries: Entries<'py>,
    /// The key whose value is next, kept for error paths.
    key: Option<Bound<'py, PyAny>>,
    value: Option<Bound<'py, PyAny>>,
    keys: Keys<'static>,
    /// Depth of the values.
    depth: u32,
    unknown_keys: UnknownKeys,
}

impl<'py> MapAccess<'py> {
    fn next_entry(&mut self) -> Result<Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
        match &mut self.entries {
            Entries::Dict(entries) => Ok(entries.next()),
            Entries::Items(items) => items.next().as_ref().map(item_pair).transpose(),
        }
    }

    /// The path segment for the value under the current key.
    #[cold]
    fn segment(&self) -> Segment {
        match (&self.key, self.keys) {
            (Some(key), Keys::FieldNames | Keys::Fields(..)) => match key.cast::<PyString>() {
                Ok(name) => Segment::Field(Cow::Owned(name.to_string_lossy().into_owned())),
                Err(_) => Segment::for_map_key(key),
            },
            (Some(key), Keys::StrOrInt) => Segment::for_map_key(key),
            (None, _) => Segment::Field(Cow::Borrowed("?")),
        }
    }
}

impl<'de> de::MapAccess<'de> for MapAccess<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        let Some((key, value)) = self.next_entry()? else {
            return Ok(None);
        };
        match self.keys {
            Keys::FieldNames | Keys::Fields(..) if !key.is_instance_of::<PyString>() => {
                return Err(Error::type_mismatch("str key", &key));
            }
            Keys::Fields(fields, extra) => {
                let name = key.cast::<PyString>().map_err(PyErr::from)?.to_str()?;
                if !fields.contains(&name) && !extra.contains(&name) {
                    return Err(Error::new(ConversionErrorKind::UnknownKey {
                        key: name.to_owned(),
                        expected: fields.iter().chain(extra).map(|&field| field.to_owned()).collect(),
                    }));
                }
            }
            Keys::StrOrInt if !key.is_instance_of::<PyString>() && !is_int(&key) => {
                return Err(Error::new(ConversionErrorKind::UnsupportedKey { got: type_name(&key) }));
            }
            _ => {}
        }
        let parsed = seed.deserialize(Deserializer::at_depth(&key, self.depth, self.unknown_keys))?;
        self.key = Some(key);
        self.value = Some(value);
        Ok(Some(parsed))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        let Some(value) = self.value.take() else {
            return Err(de::Error::custom("next_value_seed called before next_key_seed"));
        };
        seed.deserialize(Deserializer::at_depth(&value, self.depth, self.unknown_keys))
            .map_err(|err| err.at(self.segment()))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(match &self.entries {
            Entries::Dict(entries) => entries.len(),
            Entries::Items(items) => items.len(),
        })
    }
}

/// An enum given as `"Variant"` (`value` is `None`) or `{"Variant": value}`.
struct EnumAccess<'py> {
    /// The enum's serde name, which its struct variants answer to.
    name: &'static str,
    variant: Bound<'py, PyString>,
    value: Option<Bound<'py, PyAny>>,
    /// Depth of the value.
    depth: u32,
    unknown_keys: UnknownKeys,
}

impl<'py> EnumAccess<'py> {
    #[cold]
    fn inside(&self, err: Error) -> Error {
        err.at(Segment::Variant(Cow::Owned(self.variant.to_string_lossy().into_owned())))
    }

    /// Reads the value of a variant that must have one.
    fn with_value<T>(self, read: impl FnOnce(Deserializer<'_, 'py>) -> Result<T>) -> Result<T> {
        match &self.value {
            Some(value) => {
                read(Deserializer::at_depth(value, self.depth, self.unknown_keys)).map_err(|e| self.inside(e))
            }
            None => Err(Error::new(ConversionErrorKind::TypeMismatch {
                expected: "dict with a single key".to_owned(),
                got: "str".to_owned(),
            })),
        }
    }
}

impl<'de> de::EnumAccess<'de> for EnumAccess<'_> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let variant = seed.deserialize(Deserializer::at_depth(self.variant.as_any(), self.depth, self.unknown_keys))?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for EnumAccess<'_> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        match &self.value {
            Some(value) if !value.is_none() => Err(self.inside(Error::type_mismatch("None", value))),
            _ => Ok(()),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        self.with_value(|value| seed.deserialize(value))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        self.with_value(|value| de::Deserializer::deserialize_tuple(value, len, visitor))
    }

    fn struct_variant<V: Visitor<'de>>(self, fields: &'static [&'static str], visitor: V) -> Result<V::Value> {
        // Under the enum's name: `#[snake(allow_unknown_keys)]` on an enum covers its variants.
        let name = self.name;
        self.with_value(|value| de::Deserializer::deserialize_struct(value, name, fields, visitor))
    }
}
