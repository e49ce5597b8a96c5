//! Any `Deserialize` type read back from a [`Value`] tree.

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer as _, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

use super::value::{Error, Value};

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
            Self::Bytes(v) => visitor.visit_byte_buf(v),
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
