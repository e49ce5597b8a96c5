//! The return-type marker of generator methods in `#[snake::actor]` declarations.

use std::marker::PhantomData;

/// The declared return type of a Python generator or async generator: only used in
/// `#[snake::actor]` declarations, never as a value.
///
/// `fn f(request: Req) -> snake::Stream<T>;` declares a generator whose items are `T`s; the
/// generated handle method returns a [`ReplyStream<T>`](crate::ReplyStream) of them
/// (`async fn` declares an async generator).
pub struct Stream<T>(PhantomData<T>);

impl<T> std::fmt::Debug for Stream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stream")
    }
}
