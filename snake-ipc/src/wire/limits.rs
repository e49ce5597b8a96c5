//! Bounds on reading a [`Value`](super::Value) tree: how deep it nests and how many nodes it has.
//!
//! A body comes from the other process, which may be corrupt or hostile. postcard reads a
//! recursive type by recursing, so a deep enough tree would overflow the reader's stack, and a
//! frame of one-byte nodes would grow about fifty-fold once built. Every nested value passes
//! through here: past [`MAX_DEPTH`] levels, or [`MAX_NODES`] nodes in one body, the read fails
//! with a decode error instead.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

/// Deepest nesting of containers in one body.
pub const MAX_DEPTH: u32 = 128;

/// Most nodes (container elements and boxed values) in one body read by
/// [`decode`](super::decode).
pub const MAX_NODES: u64 = 8 << 20;

#[derive(Clone, Copy, Default)]
struct State {
    /// Whether a [`counted`] read is in progress on this thread (nodes are counted only then).
    counting: bool,
    depth: u32,
    nodes: u64,
    /// Which limit a read ran into, if any.
    tripped: Option<Limit>,
}

#[derive(Clone, Copy)]
enum Limit {
    Depth,
    Nodes,
}

impl Limit {
    fn message(self) -> String {
        match self {
            Self::Depth => format!("a self-describing value nests deeper than {MAX_DEPTH} levels"),
            Self::Nodes => format!("a self-describing value has more than {MAX_NODES} nodes"),
        }
    }
}

thread_local! {
    static STATE: Cell<State> =
        const { Cell::new(State { counting: false, depth: 0, nodes: 0, tripped: None }) };
}

/// Runs one top-level read with a fresh node count. Its error names the limit it ran into, if it
/// did (some formats, postcard among them, drop the message of a custom error).
pub(crate) fn counted<T, E: fmt::Display>(read: impl FnOnce() -> Result<T, E>) -> Result<T, String> {
    let fresh = State { counting: true, ..State::default() };
    let outer = STATE.with(|state| state.replace(fresh));
    let result = read();
    let inner = STATE.with(|state| state.replace(outer));
    result.map_err(|err| inner.tripped.map_or_else(|| err.to_string(), Limit::message))
}

fn trip<E: de::Error>(state: &Cell<State>, mut now: State, limit: Limit) -> E {
    now.tripped = Some(limit);
    state.set(now);
    E::custom(limit.message())
}

/// One level down; back up when dropped (also on error).
struct Level;

impl Level {
    fn enter<E: de::Error>() -> Result<Self, E> {
        STATE.with(|state| {
            let mut now = state.get();
            if now.depth >= MAX_DEPTH {
                return Err(trip(state, now, Limit::Depth));
            }
            now.depth += 1;
            state.set(now);
            Ok(Self)
        })
    }
}

impl Drop for Level {
    fn drop(&mut self) {
        STATE.with(|state| {
            let mut now = state.get();
            now.depth = now.depth.saturating_sub(1);
            state.set(now);
        });
    }
}

fn count<E: de::Error>() -> Result<(), E> {
    STATE.with(|state| {
        let mut now = state.get();
        if now.counting {
            now.nodes += 1;
            if now.nodes > MAX_NODES {
                return Err(trip(state, now, Limit::Nodes));
            }
            state.set(now);
        }
        Ok(())
    })
}

/// `deserialize_with` for a boxed nested value.
pub(super) fn boxed<'de, D, T>(deserializer: D) -> Result<Box<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let _level = Level::enter::<D::Error>()?;
    count::<D::Error>()?;
    T::deserialize(deserializer).map(Box::new)
}

/// `deserialize_with` for a sequence of nested values (or of pairs holding them).
pub(super) fn seq<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let _level = Level::enter::<D::Error>()?;
    deserializer.deserialize_seq(Counted(PhantomData))
}

struct Counted<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for Counted<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Vec<T>, A::Error> {
        // The announced length is the peer's word: reserve no more than a little up front.
        let mut out = Vec::with_capacity(items.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = items.next_element()? {
            count::<A::Error>()?;
            out.push(item);
        }
        Ok(out)
    }
}
