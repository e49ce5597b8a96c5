//! What the macros declare ([`ActorDecl`], [`CallbackDecl`]), their `inventory` entries and
//! [`Declarations`], everything a binary declares, collected for the stubs.

use serde::{Deserialize, Serialize};

use super::model::Type;
use super::registry::Registry;
use crate::protocol::HandlerMode;

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
