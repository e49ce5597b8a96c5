//! The actors and callbacks a binary declares, collected so that both processes find them: the
//! explicit list of `setup_python_subprocess_system!` and the `inventory` submissions of
//! [`register_actor!`](crate::register_actor), `#[snake::actor]` and `#[snake::callback]`, so a
//! binary never lists its actors twice.

use std::sync::OnceLock;

use crate::callbacks;
use crate::codec::{CallbackCodec, MethodCodec};

/// One actor a child can serve.
#[derive(Clone, Copy, Debug)]
pub struct ChildEntry {
    /// The registry key the parent asks for.
    pub key: fn() -> &'static str,
    /// Fingerprint of the message types, compared in the handshake.
    pub fingerprint: fn() -> u64,
    /// The codec of each method, by method index.
    pub codecs: fn() -> Vec<MethodCodec>,
    /// The codec of each callback, by callback index.
    pub callbacks: fn() -> Vec<CallbackCodec>,
    /// Whether the callbacks are `#[snake::callback]` functions, which get a typed Python
    /// function each in the `snake_callbacks` module.
    pub named_callbacks: bool,
}

inventory::collect!(ChildEntry);

impl ChildEntry {
    /// The entry of an actor declared with `#[snake::actor]`; its callbacks are the registered
    /// `#[snake::callback]` functions.
    pub const fn typed<A: ActorSpec>() -> Self {
        Self {
            key: actor_spec_key::<A>,
            fingerprint: A::fingerprint,
            codecs: A::codecs,
            callbacks: registered_callbacks,
            named_callbacks: true,
        }
    }
}

fn actor_spec_key<A: ActorSpec>() -> &'static str {
    A::KEY
}

/// What `#[snake::actor]` generates for an actor: everything both processes need to agree on.
#[doc(hidden)]
pub trait ActorSpec: Send + 'static {
    /// Registry key (the Rust path of the declaration).
    const KEY: &'static str;
    /// The Python module it imports unless the config names another.
    const MODULE: &'static str;
    /// The functions, by method index.
    fn methods() -> Vec<crate::protocol::MethodSpec>;
    /// The codec of each method, by method index.
    fn codecs() -> Vec<MethodCodec>;
    /// Fingerprint of the declaration and of the registered callbacks.
    fn fingerprint() -> u64;
}

/// The codecs of every registered `#[snake::callback]`, by index.
pub fn registered_callbacks() -> Vec<CallbackCodec> {
    callbacks::registered().iter().map(|callback| callback.codec).collect()
}

static EXPLICIT: OnceLock<&'static [ChildEntry]> = OnceLock::new();

/// Records the entries `main` lists (once; the entry point calls it first thing).
pub(crate) fn set_explicit(explicit: &'static [ChildEntry]) {
    let _ = EXPLICIT.set(explicit);
}

/// Finds an actor by key among the explicit and the `inventory` entries.
pub(crate) fn find(key: &str) -> Option<ChildEntry> {
    let explicit = EXPLICIT.get().copied().unwrap_or_default();
    explicit.iter().chain(inventory::iter::<ChildEntry>).find(|entry| (entry.key)() == key).copied()
}

/// Whether `main` went through the entry point, i.e. the current executable can serve as a
/// child.
pub(crate) fn entered() -> bool {
    EXPLICIT.get().is_some()
}

/// Registers `PythonActor<M>` (or `PythonActor<M, C>`) so that this binary can serve it as a
/// child without listing it in `setup_python_subprocess_system!`.
///
/// ```
/// # use serde::{Serialize, Deserialize};
/// #[derive(Serialize, Deserialize)]
/// struct Greet { name: String }
/// impl snake::ChildMessage for Greet { type Reply = String; }
/// snake::register_actor!(Greet);
/// ```
#[macro_export]
macro_rules! register_actor {
    ($msg:ty $(,)?) => {
        $crate::register_actor!($msg, $crate::NoCallback);
    };
    ($msg:ty, $callback:ty $(,)?) => {
        $crate::__private::inventory::submit! {
            $crate::__private::ChildEntry::actor::<$msg, $callback>()
        }
    };
}
