//! The self-describing tree and its error.

use std::fmt;

use serde::{Deserialize, Serialize, de, ser};

/// A value in the serde data model, with its shape: what [`to_value`](super::to_value) makes of any `Serialize`
/// type and what any `Deserialize` type can be read from.
///
/// Newtype structs are transparent and tuples are sequences, as in JSON: serde's derives do not
/// need them told apart when reading. Struct names are dropped for the same reason; variant names
/// are kept (serde's derives find a variant by name) and so are their numbers (for hand-written
/// impls that ask for one).
///
/// Reading one back is bounded in depth and size (see [`limits`](super::limits)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
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
    Bytes(#[serde(with = "serde_bytes")] Vec<u8>),
    None,
    Some(#[serde(deserialize_with = "super::limits::boxed")] Box<Value>),
    /// A sequence, tuple or tuple struct.
    Seq(#[serde(deserialize_with = "super::limits::seq")] Vec<Value>),
    /// A map, in iteration order.
    Map(#[serde(deserialize_with = "super::limits::seq")] Vec<(Value, Value)>),
    /// A struct's fields, in order; skipped fields are absent.
    Struct(#[serde(deserialize_with = "super::limits::seq")] Vec<(String, Value)>),
    UnitVariant {
        index: u32,
        name: String,
    },
    NewtypeVariant {
        index: u32,
        name: String,
        #[serde(deserialize_with = "super::limits::boxed")]
        value: Box<Value>,
    },
    TupleVariant {
        index: u32,
        name: String,
        #[serde(deserialize_with = "super::limits::seq")]
        items: Vec<Value>,
    },
    StructVariant {
        index: u32,
        name: String,
        #[serde(deserialize_with = "super::limits::seq")]
        fields: Vec<(String, Value)>,
    },
}

/// Why a value could not become a [`Value`] or be read back from one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(pub(super) String);

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
