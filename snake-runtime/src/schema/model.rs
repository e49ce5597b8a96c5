//! The type model: [`Type`], a use of a type, and [`Definition`], a named type with its [`Kind`]
//! of shape (fields, variants and how an enum is tagged).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The Python shape of a use of a type, as `serde_py` produces it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Type {
    /// `bool`.
    Bool,
    /// `int`; the Rust width is kept because values outside it do not convert back and because
    /// postcard encodes widths and signedness differently.
    Int {
        /// Whether negative values are allowed.
        signed: bool,
        /// Width in bits (8 to 128).
        bits: u8,
    },
    /// `float` (`f32` or `f64`).
    Float {
        /// Width in bits (32 or 64).
        bits: u8,
    },
    /// `str`.
    Str,
    /// `str` of exactly one character (a Rust `char`).
    Char,
    /// `bytes` (a type that serializes with `serialize_bytes`, such as [`Bytes`](super::Bytes)).
    Bytes,
    /// bytes Python reads in place, as a read-only `memoryview`, and may return as any object
    /// with the buffer protocol ([`SharedBytes`](crate::SharedBytes)).
    Buffer,
    /// A `numpy.ndarray` of one dtype and rank (`snake::Array`, feature `numpy`).
    NdArray {
        /// The numpy dtype name, as `str(arr.dtype)` writes it (`float32`).
        dtype: String,
        /// The number of axes; `None` for any.
        rank: Option<usize>,
    },
    /// `None` (`()`, unit structs, `PhantomData`).
    NoneType,
    /// `list[T]` (`Vec`, `VecDeque`, sets, slices).
    List(Box<Type>),
    /// `tuple[A, B, ...]` of fixed length (Rust tuples).
    Tuple(Vec<Type>),
    /// `tuple[T, T, ...]` of `len` items (`[T; N]`).
    Array {
        /// The item type.
        item: Box<Type>,
        /// The number of items.
        len: usize,
    },
    /// `dict[K, V]`; keys are `str` or `int`.
    Dict {
        /// The key type.
        key: Box<Type>,
        /// The value type.
        value: Box<Type>,
    },
    /// `T | None` (`Option<T>`).
    Optional(Box<Type>),
    /// `Literal["..."]`: one exact string (the tag of a tagged struct or variant).
    Literal(String),
    /// No value at all (an enum without variants).
    Never,
    /// A reference to the [`Definition`] of this Python name in the [`Registry`](super::Registry).
    Named(String),
}

impl Type {
    /// `Type::Int` for a Rust integer type.
    pub const fn int(signed: bool, bits: u32) -> Self {
        // Rust integers are at most 128 bits wide, so the cast is lossless.
        #[allow(clippy::cast_possible_truncation)]
        Self::Int { signed, bits: bits as u8 }
    }

    /// The fragment this type contributes to the Python name of a generic instance: `User`,
    /// `u8`, `list_User`, `opt_str`. Distinct Rust types give distinct fragments, so distinct
    /// instances of one generic type get distinct names.
    pub fn name_fragment(&self) -> String {
        match self {
            Self::Bool => "bool".into(),
            Self::Int { signed, bits } => format!("{}{bits}", if *signed { 'i' } else { 'u' }),
            Self::Float { bits } => format!("f{bits}"),
            Self::Str => "str".into(),
            Self::Char => "char".into(),
            Self::Bytes => "bytes".into(),
            Self::Buffer => "buffer".into(),
            Self::NdArray { dtype, rank: Some(rank) } => format!("ndarray{rank}_{dtype}"),
            Self::NdArray { dtype, rank: None } => format!("ndarray_{dtype}"),
            Self::NoneType => "None".into(),
            Self::List(item) => format!("list_{}", item.name_fragment()),
            Self::Tuple(items) if items.is_empty() => "tuple".into(),
            Self::Tuple(items) => {
                let parts: Vec<String> = items.iter().map(Self::name_fragment).collect();
                format!("tuple_{}", parts.join("_"))
            }
            Self::Array { item, len } => format!("array{len}_{}", item.name_fragment()),
            Self::Dict { key, value } => format!("dict_{}_{}", key.name_fragment(), value.name_fragment()),
            Self::Optional(inner) => format!("opt_{}", inner.name_fragment()),
            Self::Literal(text) => text.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect(),
            Self::Never => "Never".into(),
            Self::Named(name) => name.clone(),
        }
    }

    /// The Python name of the instance of generic type `base` with these arguments (type
    /// arguments' [`name_fragment`](Self::name_fragment)s and const arguments' values).
    pub fn generic_name(base: &str, arguments: &[String]) -> String {
        let mut name = base.to_owned();
        for argument in arguments {
            name.push('_');
            name.push_str(argument);
        }
        name
    }
}

/// The numpy scalar type of a dtype name: numpy calls its boolean scalar `bool_` (`bool` only
/// since numpy 2.0).
pub(crate) fn numpy_scalar(dtype: &str) -> &str {
    if dtype == "bool" { "bool_" } else { dtype }
}

/// Python annotation syntax, for messages.
impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool => f.write_str("bool"),
            Self::Int { .. } => f.write_str("int"),
            Self::Float { .. } => f.write_str("float"),
            Self::Str | Self::Char => f.write_str("str"),
            Self::Bytes => f.write_str("bytes"),
            Self::Buffer => f.write_str("memoryview | bytes | bytearray"),
            Self::NdArray { dtype, rank: Some(rank) } => {
                write!(f, "numpy.typing.NDArray[numpy.{}] (rank {rank})", numpy_scalar(dtype))
            }
            Self::NdArray { dtype, rank: None } => write!(f, "numpy.typing.NDArray[numpy.{}]", numpy_scalar(dtype)),
            Self::NoneType => f.write_str("None"),
            Self::List(item) => write!(f, "list[{item}]"),
            Self::Tuple(items) if items.is_empty() => f.write_str("tuple[()]"),
            Self::Tuple(items) => {
                f.write_str("tuple[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Self::Array { len: 0, .. } => f.write_str("tuple[()]"),
            Self::Array { item, len } => write!(f, "tuple[{item}, ...] (length {len})"),
            Self::Dict { key, value } => write!(f, "dict[{key}, {value}]"),
            Self::Optional(inner) => write!(f, "{inner} | None"),
            Self::Literal(text) => write!(f, "Literal[{text:?}]"),
            Self::Never => f.write_str("Never"),
            Self::Named(name) => f.write_str(name),
        }
    }
}

/// A named type: what a Python stub defines once and refers to by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Definition {
    /// The Python name, unique in a [`Registry`](super::Registry).
    pub name: String,
    /// The Rust type (`std::any::type_name`), to report which types clash on a name.
    pub rust_path: String,
    /// The Rust doc comment, which becomes the Python docstring.
    pub docs: String,
    /// The shape.
    pub kind: Kind,
}

/// The shape of a [`Definition`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Kind {
    /// A struct with named fields: a dict with these keys (`TypedDict`).
    Struct {
        /// The keys, in serialization order.
        fields: Vec<Field>,
    },
    /// A tuple struct: a tuple.
    TupleStruct {
        /// The item types, in order.
        items: Vec<Type>,
    },
    /// A newtype struct or `#[serde(transparent)]` struct: the inner value itself.
    Newtype {
        /// The wrapped type.
        inner: Type,
    },
    /// A unit struct: `None`.
    UnitStruct,
    /// An enum.
    Enum {
        /// How the variant is marked in the serialized value.
        representation: Representation,
        /// The variants that can be serialized, in order.
        variants: Vec<Variant>,
    },
}

/// One key of a dict-shaped type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Field {
    /// The key, after serde's renames.
    pub name: String,
    /// The value's shape.
    pub ty: Type,
    /// Whether the key is always present (`false` for `skip_serializing_if` fields and the fields
    /// of a flattened `Option`).
    pub required: bool,
    /// The Rust doc comment.
    pub docs: String,
}

impl Field {
    /// A required key.
    pub fn new(name: &str, ty: Type, docs: &str) -> Self {
        Self { name: name.to_owned(), ty, required: true, docs: docs.to_owned() }
    }

    /// The same key, marked as possibly missing.
    #[must_use]
    pub fn optional(mut self) -> Self {
        self.required = false;
        self
    }

    /// Marks every key as possibly missing (a flattened field that may be skipped as a whole).
    pub fn all_optional(fields: Vec<Self>) -> Vec<Self> {
        fields.into_iter().map(Self::optional).collect()
    }
}

/// How an enum marks which variant a value is, as serde's container attributes choose.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Representation {
    /// The default: `"Unit"`, or `{"Variant": content}`.
    External,
    /// `#[serde(tag = "t")]`: `{"t": "Variant", ...fields}`.
    Internal {
        /// The tag key.
        tag: String,
    },
    /// `#[serde(tag = "t", content = "c")]`: `{"t": "Variant", "c": content}`.
    Adjacent {
        /// The tag key.
        tag: String,
        /// The content key.
        content: String,
    },
    /// `#[serde(untagged)]`: the content alone.
    Untagged,
}

/// One variant of an enum.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Variant {
    /// The serialized name (the tag value), after serde's renames.
    pub name: String,
    /// The Rust identifier, used to name the generated Python classes.
    pub rust_name: String,
    /// The Rust doc comment.
    pub docs: String,
    /// `#[serde(untagged)]` on the variant: serialized as its bare content even in a tagged enum.
    pub untagged: bool,
    /// The content.
    pub shape: VariantShape,
}

/// The content of a variant.
///
/// In an internally tagged enum a newtype variant's content is merged into the tagged dict, so it
/// is described as [`VariantShape::Struct`] with the content's keys.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum VariantShape {
    /// No content.
    Unit,
    /// One value.
    Newtype(Type),
    /// A tuple.
    Tuple(Vec<Type>),
    /// A dict with these keys.
    Struct(Vec<Field>),
}
