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

// Each file uses only those before it: model <- registry <- describe <- declarations <- canon
// (fingerprints); `check`, `std_impls` and `bytes` build on the first three.
mod bytes;
mod canon;
mod check;
mod declarations;
mod describe;
mod model;
mod registry;
mod std_impls;

pub use self::bytes::Bytes;
pub(crate) use self::canon::actor_fingerprint;
pub use self::check::check_value;
pub use self::declarations::{ActorDecl, ActorEntry, CallbackDecl, CallbackEntry, Declarations, MethodDecl, TypeEntry};
pub use self::describe::{Describe, DescribeFields, DescribeKey, PyMessage, SelfReference};
pub(crate) use self::model::numpy_scalar;
pub use self::model::{Definition, Field, Kind, Representation, Type, Variant, VariantShape};
pub use self::registry::{Registry, SchemaError};

#[cfg(test)]
mod tests;
