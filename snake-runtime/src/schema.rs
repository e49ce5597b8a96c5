//! Deterministic descriptions of the Python shapes of Rust message types.
//!
//! A message crosses into Python through [`serde_py`](crate::serde_py): a struct becomes a dict, a
//! `Vec` a list, an enum a string or a one-key dict, and so on. This module describes those shapes
//! as data, so that the stub generator ([`crate::stubs`]) can write `TypedDict`s a Python handler
//! is type-checked against, the handshake can fingerprint the shapes a binary was built with, and
//! [`check_value`] can tell whether a Python object has the shape Rust will accept.
//!
//! - [`Type`] is a use of a type (`list[int]`, `Named("User")`); [`Definition`] is a named type
//!   (a struct, enum, newtype...), kept once in a [`Registry`] under its Python name.
//! - [`Describe`] produces a `Type`; it is implemented here for the std types users put in
//!   messages and derived with `#[derive(snake::PyMessage)]` for their own types.
//! - [`ActorDecl`] and [`CallbackDecl`] are what the actor and callback macros declare; they and
//!   standalone message types are collected from the whole binary through `inventory`
//!   ([`Declarations::collect`]).
//!
//! A description is of the *serialized* form, the value `serde_py::to_python` produces: a field
//! skipped when serializing is absent, a field with `skip_serializing_if` is a key that may be
//! missing. Python replies must have the same shape; serde is more lenient when reading (it fills
//! `Option` and `default` fields that are missing), so a shape that type-checks always converts.
//!
//! Python names: a type is named after its Rust identifier (or `#[snake(name = "...")]`); a generic
//! type is named per instance, its base name and the name fragments of its arguments joined with
//! `_` (`Page<User>` is `Page_User`, `Page<Vec<u8>>` is `Page_list_u8`), because each instance is
//! a different shape. Two different Rust types that end up with the same Python name are an error
//! ([`SchemaError::NameConflict`]), never a silent overwrite.

mod bytes;
mod canon;
mod check;
mod std_impls;

use std::collections::BTreeMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use self::bytes::Bytes;
pub use self::check::check_value;
use crate::protocol::HandlerMode;

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
    /// `bytes` (a type that serializes with `serialize_bytes`, such as [`Bytes`]).
    Bytes,
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
    /// A reference to the [`Definition`] of this Python name in the [`Registry`].
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

    /// A stable fingerprint of this type and every definition it reaches in `registry`.
    ///
    /// Python names and docs do not count (renaming a type keeps the wire shape); field and
    /// variant names, their order, integer widths and representations do.
    pub fn fingerprint(&self, registry: &Registry) -> u64 {
        canon::fingerprint(registry, |canon| canon.ty(self))
    }
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
    /// The Python name, unique in a [`Registry`].
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

/// Produces the Python shape of a type, registering the named types it uses.
///
/// Derive it with `#[derive(snake::PyMessage)]`; it is implemented for the std types messages are
/// made of. An implementation must return the same shape for every call: descriptions are
/// compared across processes.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no Python description",
    label = "`{Self}` does not implement `snake::schema::Describe`",
    note = "derive `snake::PyMessage` for your own types; std types, `snake::Bytes` and tuples and collections of them are described already"
)]
pub trait Describe {
    /// Whether values of `Self` must cross the process boundary in a self-describing form.
    ///
    /// Message bodies are postcard, which writes values without their shape and reads them back
    /// by following the type. That breaks for serde attributes that make the serialized shape
    /// depend on the value or that read it back with `deserialize_any`: internally tagged,
    /// adjacently tagged and untagged enums, `#[serde(untagged)]` variants, `flatten`,
    /// `skip_serializing_if`, `#[serde(tag)]` on a struct, custom (de)serialize functions. A type
    /// that uses any of them, or contains such a type, sets this to `true`, and its values are
    /// carried as a tree that records the shape (the same serde data model, self-describing).
    ///
    /// `#[derive(PyMessage)]` computes it from the type's serde attributes and its fields' types;
    /// the std implementations take it from their type parameters. A hand-written implementation
    /// must set it to `true` when the type's `Serialize`/`Deserialize` need it; `true` is always
    /// correct, only larger on the wire.
    const SELF_DESCRIBING: bool = false;

    /// The shape of `Self`; named types are added to `registry` and referred to by name.
    fn describe(registry: &mut Registry) -> Type;
}

/// Stands in for a recursive type inside its own `SELF_DESCRIBING`.
///
/// `#[derive(PyMessage)]` replaces the type (and `Self`) with this in its fields' types, so that
/// `struct Tree { children: Vec<Tree> }` does not depend on itself in a constant: a type is
/// self-describing through itself only if it already is through something else. Not public API.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SelfReference {}

impl Describe for SelfReference {
    fn describe(_: &mut Registry) -> Type {
        Type::Never
    }
}

impl DescribeFields for SelfReference {
    fn describe_fields(_: &mut Registry) -> Vec<Field> {
        Vec::new()
    }
}

impl DescribeKey for SelfReference {}

/// A type whose values are dicts with known keys: a struct with named fields or a unit struct.
///
/// Needed where serde merges a value's keys into an enclosing dict: `#[serde(flatten)]` fields and
/// the newtype variants of internally tagged enums. Maps and enums have no such fixed set of keys.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no fixed set of keys to merge into the enclosing dict",
    label = "`#[serde(flatten)]` and newtype variants of `#[serde(tag = \"...\")]` enums need a struct with named fields",
    note = "derive `snake::PyMessage` on a struct with named fields; maps and enums cannot be flattened into a Python TypedDict"
)]
pub trait DescribeFields: Describe {
    /// The keys a value contributes, in serialization order.
    fn describe_fields(registry: &mut Registry) -> Vec<Field>;
}

/// A type that can be a dict key in Python: `serde_py` only produces `str` and `int` keys.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a key of a Python dict",
    label = "map keys must become `str` or `int` in Python",
    note = "use `String`, `char`, an integer, a newtype around one of them, or an enum of unit variants (all deriving `snake::PyMessage`)"
)]
pub trait DescribeKey: Describe {}

/// A value that can cross into Python and back: serde both ways, a [`Describe`]d shape, and owned
/// so it can move between tasks.
///
/// Implemented for every type that meets the bounds; `#[derive(PyMessage)]` provides the
/// `Describe` part and checks the rest on your type.
///
/// # `#[derive(PyMessage)]`
///
/// | option | where | meaning |
/// |---|---|---|
/// | `#[snake(crate = path)]` | type | path of the `snake` crate if renamed (default `::snake`) |
/// | `#[snake(name = "Name")]` | type | the Python name (default: the Rust identifier) |
/// | `#[snake(self_describing)]` | type | always carry values self-describingly (see below) |
/// | `#[snake(as = Type)]` | field | describe the field as `Type`; needed with `#[serde(with)]`/`serialize_with` |
///
/// The serde attributes that change the Python shape are honoured: `rename`, `rename_all`,
/// `rename_all_fields`, `tag`, `content`, `untagged` (on the enum or a variant), `skip`,
/// `skip_serializing`, `skip_serializing_if` (the key becomes `NotRequired`), `transparent`,
/// `into`, and `flatten` of structs with named fields. Doc comments become docstrings.
///
/// # The parent-child wire
///
/// Requests and replies travel between the parent and the child as postcard, which is compact
/// but not self-describing. A type whose serde attributes need the shape at run time (internally
/// tagged, adjacently tagged and untagged enums, `#[serde(untagged)]` variants, `flatten`,
/// `skip_serializing_if`, `#[serde(tag)]` on a struct, `with`/`serialize_with`/`deserialize_with`,
/// `from`/`try_from`, a field skipped on one side only, a skipped variant before others) gets
/// [`Describe::SELF_DESCRIBING`] set, as does every type that contains one, and its values are
/// carried as a self-describing tree instead. The derive sees through direct recursion
/// (`Vec<Self>`); types that contain each other need `#[snake(self_describing)]` on one of them,
/// or the constant's evaluation is reported as a cycle.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use snake::PyMessage;
///
/// /// A page of results.
/// #[derive(Serialize, Deserialize, PyMessage)]
/// struct Page<T> {
///     items: Vec<T>,
///     #[serde(skip_serializing_if = "Option::is_none")]
///     next: Option<String>,
/// }
///
/// /// A registered user.
/// #[derive(Serialize, Deserialize, PyMessage)]
/// #[serde(rename_all = "camelCase")]
/// struct User {
///     user_id: u64,
///     display_name: String,
/// }
///
/// #[derive(Serialize, Deserialize, PyMessage)]
/// #[serde(tag = "kind")]
/// enum Event {
///     Joined { user: User },
///     Left,
/// }
///
/// let mut registry = snake::schema::Registry::new();
/// let page = registry.describe::<Page<User>>();
/// assert_eq!(page, snake::schema::Type::Named("Page_User".into()));
/// assert!(registry.get("User").is_some());
/// registry.describe::<Event>();
/// let files = snake::stubs::render(&registry, &[], &[]).expect("no conflicts");
/// assert!(files["snake_types.py"].contains("class Page_User(TypedDict):"));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Python message",
    label = "`{Self}` must implement `Serialize`, `DeserializeOwned` and `snake::schema::Describe`",
    note = "add `#[derive(serde::Serialize, serde::Deserialize, snake::PyMessage)]` to the type"
)]
pub trait PyMessage: Serialize + DeserializeOwned + Describe + Send + 'static {}

impl<T> PyMessage for T where T: Serialize + DeserializeOwned + Describe + Send + 'static {}

/// Two different things claim one Python name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// Two Rust types have the same Python name; rename one with `#[snake(name = "...")]`.
    #[error(
        "two Rust types are both named `{name}` in Python: `{first}` and `{second}`; \
         rename one with #[snake(name = \"...\")]"
    )]
    NameConflict {
        /// The Python name.
        name: String,
        /// The Rust type registered first.
        first: String,
        /// The Rust type that clashed with it.
        second: String,
    },
}

/// A definition being described, or described.
#[derive(Clone, Debug)]
struct Slot {
    rust_path: String,
    /// `None` while its fields are being described (so a recursive reference finds the name).
    definition: Option<Definition>,
}

/// The named types a set of descriptions uses, by Python name (sorted, so output is stable).
#[derive(Clone, Debug, Default)]
pub struct Registry {
    slots: BTreeMap<String, Slot>,
    errors: Vec<SchemaError>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Describes `T`, adding the named types it uses.
    pub fn describe<T: Describe + ?Sized>(&mut self) -> Type {
        T::describe(self)
    }

    /// Defines the named type `name` (once), returning a reference to it.
    ///
    /// The name is reserved before `build` describes the contents, so a type that contains itself
    /// refers to its own name instead of recursing forever. A second definition of the same name
    /// by another Rust type is recorded as a [`SchemaError::NameConflict`] and the first one kept.
    pub fn define(&mut self, name: String, rust_path: &str, docs: &str, build: impl FnOnce(&mut Self) -> Kind) -> Type {
        if let Some(slot) = self.slots.get(&name) {
            if slot.rust_path != rust_path {
                let error = SchemaError::NameConflict {
                    name: name.clone(),
                    first: slot.rust_path.clone(),
                    second: rust_path.to_owned(),
                };
                if !self.errors.contains(&error) {
                    self.errors.push(error);
                }
            }
            return Type::Named(name);
        }
        self.slots.insert(name.clone(), Slot { rust_path: rust_path.to_owned(), definition: None });
        let kind = build(self);
        let definition =
            Definition { name: name.clone(), rust_path: rust_path.to_owned(), docs: docs.to_owned(), kind };
        if let Some(slot) = self.slots.get_mut(&name) {
            slot.definition = Some(definition);
        }
        Type::Named(name)
    }

    /// The definition of a Python name, once fully described.
    pub fn get(&self, name: &str) -> Option<&Definition> {
        self.slots.get(name).and_then(|slot| slot.definition.as_ref())
    }

    /// Every definition, sorted by Python name.
    pub fn definitions(&self) -> impl Iterator<Item = &Definition> {
        self.slots.values().filter_map(|slot| slot.definition.as_ref())
    }

    /// The conflicts found so far.
    pub fn errors(&self) -> &[SchemaError] {
        &self.errors
    }
}

/// A Python module a child imports, as the actor macro declares it: the functions Rust calls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorDecl {
    /// The Python name of the generated `typing.Protocol` class.
    pub name: String,
    /// The Python module that implements it (`handlers` or `package.handlers`).
    pub module: String,
    /// The Rust doc comment.
    pub docs: String,
    /// The functions the module must define.
    pub methods: Vec<MethodDecl>,
}

impl ActorDecl {
    /// A stable fingerprint of the calls (function names, modes, request and reply shapes) and
    /// the definitions they reach in `registry`; docs and Python type names do not count.
    ///
    /// The handshake compares it so that a child built from other message shapes is refused.
    pub fn fingerprint(&self, registry: &Registry) -> u64 {
        canon::fingerprint(registry, |canon| canon.actor(self))
    }
}

/// One module-level function of an actor's Python module.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodDecl {
    /// The function's name in the module.
    pub python_name: String,
    /// The Rust doc comment.
    pub docs: String,
    /// The argument it is called with.
    pub request: Type,
    /// What it returns (each item, for generator modes).
    pub reply: Type,
    /// Whether it is a plain function, `async def` or a (async) generator.
    pub mode: HandlerMode,
}

/// A callback Python code makes into Rust.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackDecl {
    /// The function's name in `snake_callbacks` (the async spelling gets `_async` appended).
    pub name: String,
    /// The Rust doc comment.
    pub docs: String,
    /// The argument Python passes.
    pub arg: Type,
    /// What Rust answers (each item, when streaming).
    pub reply: Type,
    /// Whether Rust answers with a stream of replies.
    pub streaming: bool,
}

impl CallbackDecl {
    /// A stable fingerprint, as [`ActorDecl::fingerprint`].
    pub fn fingerprint(&self, registry: &Registry) -> u64 {
        canon::fingerprint(registry, |canon| canon.callback(self))
    }
}

/// An actor declaration submitted to `inventory` by the actor macro.
#[derive(Clone, Copy, Debug)]
pub struct ActorEntry {
    /// Builds the declaration, registering the types it uses.
    pub describe: fn(&mut Registry) -> ActorDecl,
}

impl ActorEntry {
    /// An entry for `inventory::submit!`.
    pub const fn new(describe: fn(&mut Registry) -> ActorDecl) -> Self {
        Self { describe }
    }
}

/// A callback declaration submitted to `inventory` by the callback macro.
#[derive(Clone, Copy, Debug)]
pub struct CallbackEntry {
    /// Builds the declaration, registering the types it uses.
    pub describe: fn(&mut Registry) -> CallbackDecl,
}

impl CallbackEntry {
    /// An entry for `inventory::submit!`.
    pub const fn new(describe: fn(&mut Registry) -> CallbackDecl) -> Self {
        Self { describe }
    }
}

/// A message type submitted to `inventory` by `#[derive(PyMessage)]` (non-generic types only), so
/// the stubs list it even when no declaration uses it.
#[derive(Clone, Copy, Debug)]
pub struct TypeEntry {
    /// Describes the type.
    pub describe: fn(&mut Registry) -> Type,
}

impl TypeEntry {
    /// An entry for `inventory::submit!`.
    pub const fn new(describe: fn(&mut Registry) -> Type) -> Self {
        Self { describe }
    }
}

inventory::collect!(ActorEntry);
inventory::collect!(CallbackEntry);
inventory::collect!(TypeEntry);

/// Everything the binary declares: the input of stub generation.
#[derive(Clone, Debug, Default)]
pub struct Declarations {
    /// The named types of every declaration and submitted message type.
    pub registry: Registry,
    /// The actors, sorted by name.
    pub actors: Vec<ActorDecl>,
    /// The callbacks, sorted by name.
    pub callbacks: Vec<CallbackDecl>,
}

impl Declarations {
    /// Collects every declaration linked into this binary.
    ///
    /// `inventory` only sees crates the binary references: a crate that holds nothing but
    /// declarations needs a `use that_crate as _;` somewhere.
    pub fn collect() -> Self {
        let mut registry = Registry::new();
        for entry in inventory::iter::<TypeEntry> {
            (entry.describe)(&mut registry);
        }
        let mut actors: Vec<ActorDecl> =
            inventory::iter::<ActorEntry>.into_iter().map(|entry| (entry.describe)(&mut registry)).collect();
        let mut callbacks: Vec<CallbackDecl> =
            inventory::iter::<CallbackEntry>.into_iter().map(|entry| (entry.describe)(&mut registry)).collect();
        // `inventory` yields in link order, which is not stable across builds.
        actors.sort_by(|a, b| (&a.name, &a.module).cmp(&(&b.name, &b.module)));
        callbacks.sort_by(|a, b| a.name.cmp(&b.name));
        Self { registry, actors, callbacks }
    }
}

#[cfg(test)]
mod tests;
