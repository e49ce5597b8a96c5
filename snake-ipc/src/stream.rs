//! The consumer's end of a stream of items, with credit-based backpressure.
//!
//! The parent grants the child a window of items when it opens the stream; the child stops
//! producing when the credit runs out. As the consumer takes items, credit flows back in batches
//! of half the window, so a slow consumer holds the child at most one window ahead and memory
//! stays flat. Dropping the stream cancels it in the child.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use tokio::sync::mpsc;

use crate::connection::Connection;
use crate::error::PeerError;

/// The encoded items of one streaming call, in the order the child sent them. A failure arrives
/// as one `Err` item, after which the stream ends; so does the death of the child.
pub struct RawStream<E: PeerError> {
    items: mpsc::Receiver<Result<Bytes, E>>,
    connection: Arc<Connection<E>>,
    id: u64,
    window: u32,
    consumed: u32,
    finished: bool,
}

impl<E: PeerError> std::fmt::Debug for RawStream<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawStream").field("id", &self.id).field("finished", &self.finished).finish_non_exhaustive()
    }
}

impl<E: PeerError> RawStream<E> {
    pub(crate) fn new(
        items: mpsc::Receiver<Result<Bytes, E>>,
        connection: Arc<Connection<E>>,
        id: u64,
        window: u32,
    ) -> Self {
        Self { items, connection, id, window, consumed: 0, finished: false }
    }

    /// The stream's correlation id.
    pub const fn id(&self) -> u64 {
        self.id
    }
}

impl<E: PeerError> Stream for RawStream<E> {
    type Item = Result<Bytes, E>;

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
                Poll::Ready(Some(Ok(body)))
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

impl<E: PeerError> Drop for RawStream<E> {
    fn drop(&mut self) {
        if !self.finished {
            self.connection.abandon(self.id);
        }
    }
}
