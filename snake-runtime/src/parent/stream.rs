//! Streams of items from a Python generator, typed.
//!
//! The engine's [`RawStream`] carries the credit: the child pulls its generator only while the
//! consumer has granted room, and dropping the stream cancels it in the child, which closes the
//! generator (its `finally` blocks run). This wrapper decodes each item.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use snake_ipc::RawStream;

use crate::error::PythonExecutionError;
use crate::shared_bytes::with_source;

/// Asks a [`PythonActor`](crate::PythonActor) whose function is a generator (or async
/// generator) to stream its items: `actor.ask(Streaming(msg)).await?` is a [`ReplyStream`] of the
/// message's reply type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Streaming<M>(pub M);

/// The items of one streaming call, in the order Python yielded them.
///
/// An exception in the generator arrives as one `Err` item, after which the stream ends. So does
/// the death of the child.
pub struct ReplyStream<T> {
    raw: Source,
    decode: fn(&[u8]) -> Result<T, PythonExecutionError>,
}

/// Encoded items: from a child of this process, or (feature `remote`) pulled from another node.
enum Source {
    Local(RawStream<PythonExecutionError>),
    #[cfg(feature = "remote")]
    Remote(Pin<Box<dyn Stream<Item = Result<bytes::Bytes, PythonExecutionError>> + Send>>),
}

impl<T> std::fmt::Debug for ReplyStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.raw {
            Source::Local(raw) => f.debug_struct("ReplyStream").field("raw", raw).finish_non_exhaustive(),
            #[cfg(feature = "remote")]
            Source::Remote(_) => f.debug_struct("ReplyStream").field("remote", &true).finish_non_exhaustive(),
        }
    }
}

impl<T> ReplyStream<T> {
    pub(crate) fn new(
        raw: RawStream<PythonExecutionError>,
        decode: fn(&[u8]) -> Result<T, PythonExecutionError>,
    ) -> Self {
        Self { raw: Source::Local(raw), decode }
    }

    /// A stream of encoded items from another node.
    #[cfg(feature = "remote")]
    pub(crate) fn remote(
        items: Pin<Box<dyn Stream<Item = Result<bytes::Bytes, PythonExecutionError>> + Send>>,
        decode: fn(&[u8]) -> Result<T, PythonExecutionError>,
    ) -> Self {
        Self { raw: Source::Remote(items), decode }
    }
}

impl<T> Stream for ReplyStream<T> {
    type Item = Result<T, PythonExecutionError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let decode = this.decode;
        let item = match &mut this.raw {
            Source::Local(raw) => Pin::new(raw).poll_next(cx),
            #[cfg(feature = "remote")]
            Source::Remote(items) => items.as_mut().poll_next(cx),
        };
        item.map(|item| item.map(|item| item.and_then(|body| with_source(&body, || decode(&body)))))
    }
}
