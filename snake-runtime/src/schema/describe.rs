//! [`Describe`], how a Rust type produces its Python shape, the traits for the shapes some
//! positions need ([`DescribeFields`], [`DescribeKey`]) and [`PyMessage`], what a message is.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::model::{Field, Type};
use super::registry::Registry;

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

// Here rather than in `registry.rs`: the registry holds definitions and knows nothing of the
// trait that produces them.
impl Registry {
    /// Describes `T`, adding the named types it uses.
    pub fn describe<T: Describe + ?Sized>(&mut self) -> Type {
        T::describe(self)
    }
}
