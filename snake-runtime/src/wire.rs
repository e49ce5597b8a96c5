//! How typed message bodies cross the process boundary: plain postcard, or a self-describing
//! [`Value`] tree (itself postcard-encoded) for the types whose serde attributes postcard cannot
//! carry.
//!
//! postcard writes a value without its shape and reads it back by following the type. It cannot
//! answer `deserialize_any`, which serde uses for internally tagged, adjacently tagged and
//! untagged enums and for `flatten`, and it cannot tell that a field was left out by
//! `skip_serializing_if`. A [`Value`] records the shape (a struct's keys, a variant's name, `None`
//! against `Some`), so reading it back can answer every request the way a self-describing format
//! such as JSON does. Which form a type takes is [`Describe::SELF_DESCRIBING`], fixed at compile
//! time; both processes take it from the same type, so they always agree.
//!
//! [`Describe::SELF_DESCRIBING`]: crate::schema::Describe::SELF_DESCRIBING

use std::fmt;

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer as _, IntoDeserializer, Visitor};
use serde::{Deserialize, Serialize, forward_to_deserialize_any, ser};

use crate::error::ProtocolError;
use crate::protocol::FrameKind;
use crate::schema::Bytes;

/// Appends `value` to `out`: as postcard, or as the postcard of its [`Value`] tree when
/// `self_describing`. On error `out` is left as it was.
pub(crate) fn encode<T: Serialize + ?Sized>(
    value: &T,
    self_describing: bool,
    out: &mut Vec<u8>,
) -> Result<(), ProtocolError> {
    let start = out.len();
    let result = if self_describing {
        let tree = to_value(value).map_err(|e| ProtocolError::Encode { message: e.to_string() })?;
        postcard::serialize_with_flavor(&tree, Append(out))
    } else {
        postcard::serialize_with_flavor(value, Append(out))
    };
    result.map_err(|e| {
        out.truncate(start);
        ProtocolError::Encode { message: e.to_string() }
    })
}

/// Reads a body written by [`encode`] with the same `self_describing`; errors are reported as
/// undecodable frames of `kind`.
pub(crate) fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    self_describing: bool,
    kind: FrameKind,
) -> Result<T, ProtocolError> {
    let error = |message: String| ProtocolError::Decode { kind, message };
    if self_describing {
        let tree: Value = postcard::from_bytes(bytes).map_err(|e| error(e.to_string()))?;
        T::deserialize(tree).map_err(|e| error(e.to_string()))
    } else {
        postcard::from_bytes(bytes).map_err(|e| error(e.to_string()))
    }
}

/// A request on its way into a frame, which the connection encodes with postcard: the value
/// itself, or its tree (built up front, so that a failure keeps its message: postcard reports
/// every custom serde error as the same `SerdeSerCustom`).
pub(crate) enum Body<T> {
    Plain(T),
    Tree(Value),
}

impl<T: Serialize> Body<T> {
    pub(crate) fn new(value: T, self_describing: bool) -> Result<Self, ProtocolError> {
        if self_describing {
            to_value(&value).map(Self::Tree).map_err(|e| ProtocolError::Encode { message: e.to_string() })
        } else {
            Ok(Self::Plain(value))
        }
    }
}

impl<T: Serialize> Serialize for Body<T> {
    fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Plain(value) => value.serialize(serializer),
            Self::Tree(tree) => tree.serialize(serializer),
        }
    }
}

/// A postcard output that appends to a borrowed buffer.
struct Append<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Append<'_> {
    type Output = ();

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// A value in the serde data model, with its shape: what [`to_value`] makes of any `Serialize`
/// type and what any `Deserialize` type can be read from.
///
/// Newtype structs are transparent and tuples are sequences, as in JSON: serde's derives do not
/// need them told apart when reading. Struct names are dropped for the same reason; variant names
/// are kept (serde's derives find a variant by name) and so are their numbers (for hand-written
/// impls that ask for one).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Value {
    Unit,
    Bool(bool),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    I128(i128),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    U128(u128),
    F32(f32),
    F64(f64),
    Char(char),
    String(String),
    Bytes(Bytes),
    None,
    Some(Box<Value>),
    /// A sequence, tuple or tuple struct.
    Seq(Vec<Value>),
    /// A map, in iteration order.
    Map(Vec<(Value, Value)>),
    /// A struct's fields, in order; skipped fields are absent.
    Struct(Vec<(String, Value)>),
    UnitVariant {
        index: u32,
        name: String,
    },
    NewtypeVariant {
        index: u32,
        name: String,
        value: Box<Value>,
    },
    TupleVariant {
        index: u32,
        name: String,
        items: Vec<Value>,
    },
    StructVariant {
        index: u32,
        name: String,
        fields: Vec<(String, Value)>,
    },
}

/// Why a value could not become a [`Value`] or be read back from one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

/// The tree of `value`.
pub(crate) fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, Error> {
    value.serialize(ValueSerializer)
}

/// Builds a [`Value`].
///
/// Human-readable, unlike postcard: serde buffers the content of tagged and untagged enums and
/// flattened structs in a private buffer that always reports itself human-readable, so a type
/// that serializes differently for machines (`IpAddr`, ...) could not be read back through it
/// otherwise.
struct ValueSerializer;

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = SeqSerializer;
    type SerializeTuple = SeqSerializer;
    type SerializeTupleStruct = SeqSerializer;
    type SerializeTupleVariant = TupleVariantSerializer;
    type SerializeMap = MapSerializer;
    type SerializeStruct = StructSerializer;
    type SerializeStructVariant = StructVariantSerializer;

    fn is_human_readable(&self) -> bool {
        true
    }

    fn serialize_bool(self, v: bool) -> Result<Value, Error> {
        Ok(Value::Bool(v))
    }

    fn serialize_i8(self, v: i8) -> Result<Value, Error> {
        Ok(Value::I8(v))
    }

    fn serialize_i16(self, v: i16) -> Result<Value, Error> {
        Ok(Value::I16(v))
    }

    fn serialize_i32(self, v: i32) -> Result<Value, Error> {
        Ok(Value::I32(v))
    }

    fn serialize_i64(self, v: i64) -> Result<Value, Error> {
        Ok(Value::I64(v))
    }

    fn serialize_i128(self, v: i128) -> Result<Value, Error> {
        Ok(Value::I128(v))
    }

    fn serialize_u8(self, v: u8) -> Result<Value, Error> {
        Ok(Value::U8(v))
    }

    fn serialize_u16(self, v: u16) -> Result<Value, Error> {
        Ok(Value::U16(v))
    }

    fn serialize_u32(self, v: u32) -> Result<Value, Error> {
        Ok(Value::U32(v))
    }

    fn serialize_u64(self, v: u64) -> Result<Value, Error> {
        Ok(Value::U64(v))
    }

    fn serialize_u128(self, v: u128) -> Result<Value, Error> {
        Ok(Value::U128(v))
    }

    fn serialize_f32(self, v: f32) -> Result<Value, Error> {
        Ok(Value::F32(v))
    }

    fn serialize_f64(self, v: f64) -> Result<Value, Error> {
        Ok(Value::F64(v))
    }

    fn serialize_char(self, v: char) -> Result<Value, Error> {
        Ok(Value::Char(v))
    }

    fn serialize_str(self, v: &str) -> Result<Value, Error> {
        Ok(Value::String(v.to_owned()))
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Value, Error> {
        Ok(Value::Bytes(Bytes::from(v)))
    }

    fn serialize_none(self) -> Result<Value, Error> {
        Ok(Value::None)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, Error> {
        Ok(Value::Some(Box::new(to_value(value)?)))
    }

    fn serialize_unit(self) -> Result<Value, Error> {
        Ok(Value::Unit)
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, Error> {
        Ok(Value::Unit)
    }

    fn serialize_unit_variant(self, _name: &'static str, index: u32, variant: &'static str) -> Result<Value, Error> {
        Ok(Value::UnitVariant { index, name: variant.to_owned() })
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _name: &'static str, value: &T) -> Result<Value, Error> {
        to_value(value)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, Error> {
        Ok(Value::NewtypeVariant { index, name: variant.to_owned(), value: Box::new(to_value(value)?) })
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSerializer, Error> {
        Ok(SeqSerializer(Vec::with_capacity(len.unwrap_or(0))))
    }

    fn serialize_tuple(self, len: usize) -> Result<SeqSerializer, Error> {
        Ok(SeqSerializer(Vec::with_capacity(len)))
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<SeqSerializer, Error> {
        Ok(SeqSerializer(Vec::with_capacity(len)))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<TupleVariantSerializer, Error> {
        Ok(TupleVariantSerializer { index, name: variant, items: Vec::with_capacity(len) })
    }

    fn serialize_map(self, len: Option<usize>) -> Result<MapSerializer, Error> {
        Ok(MapSerializer { entries: Vec::with_capacity(len.unwrap_or(0)), key: None })
    }

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<StructSerializer, Error> {
        Ok(StructSerializer(Vec::with_capacity(len)))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<StructVariantSerializer, Error> {
        Ok(StructVariantSerializer { index, name: variant, fields: Vec::with_capacity(len) })
    }
}

struct SeqSerializer(Vec<Value>);

impl ser::SerializeSeq for SeqSerializer {
    type Ok = Value;
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.0.push(to_value(value)?);
        Ok(())
    }

    fn end(self) -> Result<Value, Error> {
        Ok(Value::Seq(self.0))
    }
}

impl ser::SerializeTuple for SeqSerializer {
    type Ok = Value;
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<Value, Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SeqSerializer {
    type Ok = Value;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<Value, Error> {
        ser::SerializeSeq::end(self)
    }
}

struct TupleVariantSerializer {
    index: u32,
    name: &'static str,
    items: Vec<Value>,
}

impl ser::SerializeTupleVariant for TupleVariantSerializer {
    type Ok = Value;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.items.push(to_value(value)?);
        Ok(())
    }

    fn end(self) -> Result<Value, Error> {
        Ok(Value::TupleVariant { index: self.index, name: self.name.to_owned(), items: self.items })
    }
}

struct MapSerializer {
    entries: Vec<(Value, Value)>,
    /// The key given to `serialize_key`, waiting for its value.
    key: Option<Value>,
}

impl ser::SerializeMap for MapSerializer {
    type Ok = Value;
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key = Some(to_value(key)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self.key.take().ok_or_else(|| Error("a map value was serialized before its key".into()))?;
        self.entries.push((key, to_value(value)?));
        Ok(())
    }

    fn end(self) -> Result<Value, Error> {
        Ok(Value::Map(self.entries))
    }
}

struct StructSerializer(Vec<(String, Value)>);

impl ser::SerializeStruct for StructSerializer {
    type Ok = Value;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        self.0.push((key.to_owned(), to_value(value)?));
        Ok(())
    }

    fn end(self) -> Result<Value, Error> {
        Ok(Value::Struct(self.0))
    }
}

struct StructVariantSerializer {
    index: u32,
    name: &'static str,
    fields: Vec<(String, Value)>,
}

impl ser::SerializeStructVariant for StructVariantSerializer {
    type Ok = Value;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        self.fields.push((key.to_owned(), to_value(value)?));
        Ok(())
    }

    fn end(self) -> Result<Value, Error> {
        Ok(Value::StructVariant { index: self.index, name: self.name.to_owned(), fields: self.fields })
    }
}

impl Value {
    fn unexpected(&self) -> de::Unexpected<'_> {
        use de::Unexpected;
        match self {
            Self::Unit => Unexpected::Unit,
            Self::Bool(v) => Unexpected::Bool(*v),
            Self::I8(v) => Unexpected::Signed((*v).into()),
            Self::I16(v) => Unexpected::Signed((*v).into()),
            Self::I32(v) => Unexpected::Signed((*v).into()),
            Self::I64(v) => Unexpected::Signed(*v),
            Self::I128(_) => Unexpected::Other("i128"),
            Self::U8(v) => Unexpected::Unsigned((*v).into()),
            Self::U16(v) => Unexpected::Unsigned((*v).into()),
            Self::U32(v) => Unexpected::Unsigned((*v).into()),
            Self::U64(v) => Unexpected::Unsigned(*v),
            Self::U128(_) => Unexpected::Other("u128"),
            Self::F32(v) => Unexpected::Float((*v).into()),
            Self::F64(v) => Unexpected::Float(*v),
            Self::Char(v) => Unexpected::Char(*v),
            Self::String(v) => Unexpected::Str(v),
            Self::Bytes(v) => Unexpected::Bytes(v),
            Self::None | Self::Some(_) => Unexpected::Option,
            Self::Seq(_) => Unexpected::Seq,
            Self::Map(_) | Self::Struct(_) => Unexpected::Map,
            Self::UnitVariant { .. } => Unexpected::UnitVariant,
            Self::NewtypeVariant { .. } => Unexpected::NewtypeVariant,
            Self::TupleVariant { .. } => Unexpected::TupleVariant,
            Self::StructVariant { .. } => Unexpected::StructVariant,
        }
    }
}

fn visit_seq<'de, V: Visitor<'de>>(items: Vec<Value>, visitor: V) -> Result<V::Value, Error> {
    let mut access = SeqDeserializer::new(items.into_iter());
    let value = visitor.visit_seq(&mut access)?;
    access.end()?;
    Ok(value)
}

fn visit_map<'de, K, V>(entries: Vec<(K, Value)>, visitor: V) -> Result<V::Value, Error>
where
    K: IntoDeserializer<'de, Error>,
    V: Visitor<'de>,
{
    let mut access = MapDeserializer::new(entries.into_iter());
    let value = visitor.visit_map(&mut access)?;
    access.end()?;
    Ok(value)
}

impl<'de> IntoDeserializer<'de, Error> for Value {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

/// Reads a [`Value`] back the way serde's self-describing formats do: an enum variant offered to
/// `deserialize_any` is a string (unit) or a one-key map, `deserialize_option` takes a bare value
/// as `Some`, and a newtype struct is its content.
impl<'de> de::Deserializer<'de> for Value {
    type Error = Error;

    fn is_human_readable(&self) -> bool {
        true
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Self::Unit => visitor.visit_unit(),
            Self::Bool(v) => visitor.visit_bool(v),
            Self::I8(v) => visitor.visit_i8(v),
            Self::I16(v) => visitor.visit_i16(v),
            Self::I32(v) => visitor.visit_i32(v),
            Self::I64(v) => visitor.visit_i64(v),
            Self::I128(v) => visitor.visit_i128(v),
            Self::U8(v) => visitor.visit_u8(v),
            Self::U16(v) => visitor.visit_u16(v),
            Self::U32(v) => visitor.visit_u32(v),
            Self::U64(v) => visitor.visit_u64(v),
            Self::U128(v) => visitor.visit_u128(v),
            Self::F32(v) => visitor.visit_f32(v),
            Self::F64(v) => visitor.visit_f64(v),
            Self::Char(v) => visitor.visit_char(v),
            Self::String(v) => visitor.visit_string(v),
            Self::Bytes(v) => visitor.visit_byte_buf(v.into_vec()),
            Self::None => visitor.visit_none(),
            Self::Some(v) => visitor.visit_some(*v),
            Self::Seq(items) => visit_seq(items, visitor),
            Self::Map(entries) => visit_map(entries, visitor),
            Self::Struct(fields) => visit_map(fields, visitor),
            Self::UnitVariant { name, .. } => visitor.visit_string(name),
            Self::NewtypeVariant { name, value, .. } => visit_map(vec![(name, *value)], visitor),
            Self::TupleVariant { name, items, .. } => visit_map(vec![(name, Self::Seq(items))], visitor),
            Self::StructVariant { name, fields, .. } => visit_map(vec![(name, Self::Struct(fields))], visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Self::None | Self::Unit => visitor.visit_none(),
            Self::Some(v) => visitor.visit_some(*v),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let (id, content) = match self {
            Self::UnitVariant { index, name } => (Variant { name: Self::String(name), index: Some(index) }, None),
            Self::NewtypeVariant { index, name, value } => {
                (Variant { name: Self::String(name), index: Some(index) }, Some(*value))
            }
            Self::TupleVariant { index, name, items } => {
                (Variant { name: Self::String(name), index: Some(index) }, Some(Self::Seq(items)))
            }
            Self::StructVariant { index, name, fields } => {
                (Variant { name: Self::String(name), index: Some(index) }, Some(Self::Struct(fields)))
            }
            // What other serde formats write for a variant: its name, or a map from it.
            Self::String(name) => (Variant { name: Self::String(name), index: None }, None),
            Self::Map(entries) if entries.len() == 1 => {
                let Some((name, content)) = entries.into_iter().next() else {
                    return Err(Error("an enum map without its entry".into()));
                };
                (Variant { name, index: None }, Some(content))
            }
            other => return Err(de::Error::invalid_type(other.unexpected(), &"an enum variant")),
        };
        visitor.visit_enum(Enum { id, content })
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        drop(self);
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct identifier
    }
}

/// A variant's identifier: its name, and its number when known.
struct Variant {
    name: Value,
    index: Option<u32>,
}

impl Variant {
    fn number<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.index {
            Some(index) => visitor.visit_u32(index),
            None => self.name.deserialize_any(visitor),
        }
    }
}

impl<'de> de::Deserializer<'de> for Variant {
    type Error = Error;

    fn is_human_readable(&self) -> bool {
        true
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.name.deserialize_any(visitor)
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.number(visitor)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.number(visitor)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.number(visitor)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.number(visitor)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u128 f32 f64 char str string bytes byte_buf option unit unit_struct
        newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// A variant and its content (`None` for a unit variant).
struct Enum {
    id: Variant,
    content: Option<Value>,
}

impl<'de> de::EnumAccess<'de> for Enum {
    type Error = Error;
    type Variant = Content;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Content), Error> {
        Ok((seed.deserialize(self.id)?, Content(self.content)))
    }
}

/// The content of the variant [`Enum`] chose.
struct Content(Option<Value>);

impl Content {
    fn expect(self, expected: &str) -> Result<Value, Error> {
        self.0.ok_or_else(|| de::Error::invalid_type(de::Unexpected::UnitVariant, &expected))
    }
}

impl<'de> de::VariantAccess<'de> for Content {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.0 {
            None | Some(Value::Unit) => Ok(()),
            Some(other) => Err(de::Error::invalid_type(other.unexpected(), &"a unit variant")),
        }
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, Error> {
        seed.deserialize(self.expect("a newtype variant")?)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.expect("a tuple variant")?.deserialize_any(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], visitor: V) -> Result<V::Value, Error> {
        self.expect("a struct variant")?.deserialize_any(visitor)
    }
}

#[cfg(test)]
mod tests;
