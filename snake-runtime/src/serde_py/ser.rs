//! Rust -> Python: a `serde::Serializer` whose output is the Python object itself.

use std::borrow::Cow;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyNone, PyString, PyTuple};
use serde::ser::{self, Serialize};

use super::error::{ConversionErrorKind, Error, Result, Segment, type_name};
use super::intern::static_name;

/// Builds Python objects directly from the serde data model.
pub(crate) struct Serializer<'py> {
    py: Python<'py>,
}

impl<'py> Serializer<'py> {
    pub(crate) fn new(py: Python<'py>) -> Self {
        Serializer { py }
    }
}

#[inline]
fn int<'py, T>(py: Python<'py>, value: T) -> Bound<'py, PyAny>
where
    T: IntoPyObject<'py, Target = PyInt, Output = Bound<'py, PyInt>, Error = std::convert::Infallible>,
{
    let Ok(int) = value.into_pyobject(py);
    int.into_any()
}

/// `{variant: value}`, the externally tagged form of every non-unit variant.
fn single_key_dict<'py>(py: Python<'py>, variant: &'static str, value: Bound<'py, PyAny>) -> Result<Bound<'py, PyAny>> {
    let dict = PyDict::new(py);
    dict.set_item(static_name(py, variant), value)?;
    Ok(dict.into_any())
}

impl<'py> ser::Serializer for Serializer<'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;

    type SerializeSeq = Elements<'py, ListOut>;
    type SerializeTuple = Elements<'py, TupleOut>;
    type SerializeTupleStruct = Elements<'py, TupleOut>;
    type SerializeTupleVariant = InVariant<Elements<'py, TupleOut>>;
    type SerializeMap = Map<'py>;
    type SerializeStruct = Struct<'py>;
    type SerializeStructVariant = InVariant<Struct<'py>>;

    fn serialize_bool(self, v: bool) -> Result<Self::Ok> {
        Ok(PyBool::new(self.py, v).to_owned().into_any())
    }

    fn serialize_i8(self, v: i8) -> Result<Self::Ok> {
        Ok(int(self.py, v))
    }

    fn serialize_i16(self, v: i16) -> Result<Self::Ok> {
        Ok(int(self.py, v))
    }

    fn serialize_i32(self, v: i32) -> Result<Self::Ok> {
        Ok(int(self.py, v))
    }

    fn serialize_i64(self, v: i64) -> Result<Self::Ok> {
        Ok(int(self.py, v))
    }

    fn serialize_i128(self, v: i128) -> Result<Self::Ok> {
        Ok(int(self.py, v))
    }

    fn serialize_u8(self, v: u8) -> Result<Self::Ok> {
        Ok(int(self.py, v))
    }

    fn serialize_u16(self, v: u16) -> Result<Self::Ok> {
        Ok(int(self.py, v))
    }

    fn serialize_u32(self, v: u32) -> Result<Self::Ok> {
        Ok(int(self.py, v))
    }

    fn serialize_u64(self, v: u64) -> Result<Self::Ok> {
        Ok(int(self.py, v))
    }

    fn serialize_u128(self, v: u128) -> Result<Self::Ok> {
        Ok(int(self.py, v))
    }

    fn serialize_f32(self, v: f32) -> Result<Self::Ok> {
        Ok(PyFloat::new(self.py, f64::from(v)).into_any())
    }

    fn serialize_f64(self, v: f64) -> Result<Self::Ok> {
        Ok(PyFloat::new(self.py, v).into_any())
    }

    fn serialize_char(self, v: char) -> Result<Self::Ok> {
        Ok(PyString::new(self.py, v.encode_utf8(&mut [0; 4])).into_any())
    }

    fn serialize_str(self, v: &str) -> Result<Self::Ok> {
        Ok(PyString::new(self.py, v).into_any())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Self::Ok> {
        Ok(PyBytes::new(self.py, v).into_any())
    }

    fn serialize_none(self) -> Result<Self::Ok> {
        Ok(PyNone::get(self.py).to_owned().into_any())
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<Self::Ok> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Self::Ok> {
        self.serialize_none()
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Self::Ok> {
        self.serialize_none()
    }

    fn serialize_unit_variant(self, _name: &'static str, _index: u32, variant: &'static str) -> Result<Self::Ok> {
        Ok(static_name(self.py, variant).into_any())
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, name: &'static str, value: &T) -> Result<Self::Ok> {
        if name == crate::shared_bytes::NAME
            && let Some(bytes) = crate::shared_bytes::handoff::take()
        {
            return Ok(super::buffer::memoryview(self.py, bytes)?);
        }
        #[cfg(feature = "numpy")]
        if name == crate::array::NAME
            && let Some(array) = crate::array::outgoing::take()
        {
            return super::ndarray::to_numpy(self.py, array);
        }
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Self::Ok> {
        let py = self.py;
        let value = value.serialize(self).map_err(|e| e.at(Segment::Variant(Cow::Borrowed(variant))))?;
        single_key_dict(py, variant, value)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq> {
        Ok(Elements::new(self.py, len.unwrap_or(0)))
    }

    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple> {
        Ok(Elements::new(self.py, len))
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Self::SerializeTupleStruct> {
        Ok(Elements::new(self.py, len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Ok(InVariant { variant, inner: Elements::new(self.py, len) })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap> {
        Ok(Map { dict: PyDict::new(self.py), key: None })
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct> {
        Ok(Struct { dict: PyDict::new(self.py) })
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Ok(InVariant { variant, inner: Struct { dict: PyDict::new(self.py) } })
    }
}

/// The Python container a run of elements ends up in.
pub(crate) trait ElementsOut {
    fn build<'py>(py: Python<'py>, items: Vec<Bound<'py, PyAny>>) -> Result<Bound<'py, PyAny>>;
}

/// Sequences become lists.
pub(crate) enum ListOut {}

impl ElementsOut for ListOut {
    fn build<'py>(py: Python<'py>, items: Vec<Bound<'py, PyAny>>) -> Result<Bound<'py, PyAny>> {
        Ok(PyList::new(py, items)?.into_any())
    }
}

/// Tuples, tuple structs and tuple variants become tuples.
pub(crate) enum TupleOut {}

impl ElementsOut for TupleOut {
    fn build<'py>(py: Python<'py>, items: Vec<Bound<'py, PyAny>>) -> Result<Bound<'py, PyAny>> {
        Ok(PyTuple::new(py, items)?.into_any())
    }
}

/// Collects elements, then builds the list or tuple at its final size in one go.
pub(crate) struct Elements<'py, Out> {
    py: Python<'py>,
    items: Vec<Bound<'py, PyAny>>,
    out: std::marker::PhantomData<Out>,
}

impl<'py, Out: ElementsOut> Elements<'py, Out> {
    fn new(py: Python<'py>, len: usize) -> Self {
        Elements { py, items: Vec::with_capacity(len), out: std::marker::PhantomData }
    }

    fn push<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        let index = self.items.len();
        let item = value.serialize(Serializer::new(self.py)).map_err(|e| e.at(Segment::Index(index)))?;
        self.items.push(item);
        Ok(())
    }

    fn finish(self) -> Result<Bound<'py, PyAny>> {
        Out::build(self.py, self.items)
    }
}

impl<'py> ser::SerializeSeq for Elements<'py, ListOut> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }

    fn end(self) -> Result<Self::Ok> {
        self.finish()
    }
}

impl<'py> ser::SerializeTuple for Elements<'py, TupleOut> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }

    fn end(self) -> Result<Self::Ok> {
        self.finish()
    }
}

impl<'py> ser::SerializeTupleStruct for Elements<'py, TupleOut> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }

    fn end(self) -> Result<Self::Ok> {
        self.finish()
    }
}

/// The contents of a tuple or struct variant, wrapped in `{variant: ...}` at the end.
pub(crate) struct InVariant<Inner> {
    variant: &'static str,
    inner: Inner,
}

impl<Inner> InVariant<Inner> {
    #[cold]
    fn inside(&self, err: Error) -> Error {
        err.at(Segment::Variant(Cow::Borrowed(self.variant)))
    }
}

impl<'py> ser::SerializeTupleVariant for InVariant<Elements<'py, TupleOut>> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.inner.push(value).map_err(|e| self.inside(e))
    }

    fn end(self) -> Result<Self::Ok> {
        let py = self.inner.py;
        let tuple = self.inner.finish()?;
        single_key_dict(py, self.variant, tuple)
    }
}

impl<'py> ser::SerializeStructVariant for InVariant<Struct<'py>> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<()> {
        self.inner.field(key, value).map_err(|e| self.inside(e))
    }

    fn end(self) -> Result<Self::Ok> {
        let py = self.inner.dict.py();
        single_key_dict(py, self.variant, self.inner.dict.into_any())
    }
}

/// A map becomes a dict; its keys must come out as str or int.
pub(crate) struct Map<'py> {
    dict: Bound<'py, PyDict>,
    /// Set by `serialize_key`, taken by `serialize_value`.
    key: Option<Bound<'py, PyAny>>,
}

impl<'py> Map<'py> {
    fn key<T: ?Sized + Serialize>(&self, key: &T) -> Result<Bound<'py, PyAny>> {
        let key = key.serialize(Serializer::new(self.dict.py()))?;
        if key.is_instance_of::<PyString>() || (key.is_instance_of::<PyInt>() && !key.is_instance_of::<PyBool>()) {
            Ok(key)
        } else {
            Err(Error::new(ConversionErrorKind::UnsupportedKey { got: type_name(&key) }))
        }
    }

    fn value<T: ?Sized + Serialize>(&self, key: Bound<'py, PyAny>, value: &T) -> Result<()> {
        let value = value.serialize(Serializer::new(self.dict.py())).map_err(|e| e.at(Segment::for_map_key(&key)))?;
        self.dict.set_item(key, value)?;
        Ok(())
    }
}

impl<'py> ser::SerializeMap for Map<'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<()> {
        self.key = Some(self.key(key)?);
        Ok(())
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        let key = self
            .key
            .take()
            .ok_or_else(|| <Error as ser::Error>::custom("serialize_value called before serialize_key"))?;
        self.value(key, value)
    }

    fn serialize_entry<K, V>(&mut self, key: &K, value: &V) -> Result<()>
    where
        K: ?Sized + Serialize,
        V: ?Sized + Serialize,
    {
        let key = self.key(key)?;
        self.value(key, value)
    }

    fn end(self) -> Result<Self::Ok> {
        Ok(self.dict.into_any())
    }
}

/// A struct becomes a dict keyed by interned field names.
pub(crate) struct Struct<'py> {
    dict: Bound<'py, PyDict>,
}

impl Struct<'_> {
    fn field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<()> {
        let py = self.dict.py();
        let value = value.serialize(Serializer::new(py)).map_err(|e| e.at(Segment::Field(Cow::Borrowed(key))))?;
        self.dict.set_item(static_name(py, key), value)?;
        Ok(())
    }
}

impl<'py> ser::SerializeStruct for Struct<'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<()> {
        self.field(key, value)
    }

    fn end(self) -> Result<Self::Ok> {
        Ok(self.dict.into_any())
    }
}
