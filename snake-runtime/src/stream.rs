//! Streams of items from a Python generator, with credit-based backpressure.
//!
//! The parent grants the child a window of items when it opens the stream; the child stops
//! pulling from the generator when the credit runs out. As the consumer takes items, credit flows
//! back in batches of half the window, so a slow consumer holds the child at most one window
//! ahead and memory stays flat. Dropping the stream cancels it in the child, which closes the
//! generator (its `finally` blocks run).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use tokio::sync::mpsc;

use crate::connection::Connection;
use crate::error::PythonExecutionError;

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
    items: mpsc::Receiver<Result<Bytes, PythonExecutionError>>,
    connection: Arc<Connection>,
    id: u64,
    decode: fn(&[u8]) -> Result<T, PythonExecutionError>,
    window: u32,
    consumed: u32,
    finished: bool,
}

impl<T> std::fmt::Debug for ReplyStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyStream").field("id", &self.id).field("finished", &self.finished).finish_non_exhaustive()
    }
}

impl<T> ReplyStream<T> {
    pub(crate) fn new(
        items: mpsc::Receiver<Result<Bytes, PythonExecutionError>>,
        connection: Arc<Connection>,
        id: u64,
        window: u32,
        decode: fn(&[u8]) -> Result<T, PythonExecutionError>,
    ) -> Self {
        Self { items, connection, id, decode, window, consumed: 0, finished: false }
    }
}

impl<T> Stream for ReplyStream<T> {
    type Item = Result<T, PythonExecutionError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.finished {
            return Poll::Ready(None);
        }
        match this.items.poll_recv(cx) {
            Poll::Ready(Some(Ok(body))) => {
                this.consumed += 1;
                if this.consumed >= (this.window / 2).max(1) {
                    this.connection.grant_credit(this.id, this.consumed);
                    this.consumed = 0;
                }
                Poll::Ready(Some((this.decode)(&body)))
            }
            Poll::Ready(Some(Err(err))) => {
                this.finished = true;
                Poll::Ready(Some(Err(err)))
            }
            Poll::Ready(None) => {
                this.finished = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> Drop for ReplyStream<T> {
    fn drop(&mut self) {
        if !self.finished {
            self.connection.abandon(self.id);
        }
    }
}
