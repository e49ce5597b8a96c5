//! The opt-in retry: a call whose worker died under it is sent once more, to the worker the pool
//! picks then. Only for methods the user marked idempotent (`#[snake(retry)]`, or the builder's
//! `retry_on_exit` for the low-level API): the first worker may have run it already.

use bytes::Bytes;
use snake_ipc::ReplySink;

use super::calls::ReplyTo;
use super::pool::{Conn, Event, Events};
use crate::error::PythonExecutionError;

/// A call's reply sink that re-sends the call once when its worker dies under it.
pub(crate) struct Retry {
    pub(crate) reply: ReplyTo,
    pub(crate) method: u32,
    /// The request, encoded once, so that both attempts send the same bytes.
    pub(crate) body: Bytes,
    pub(crate) caller: tracing::Span,
    pub(crate) key: Option<u64>,
    pub(crate) events: Events,
    pub(crate) retried: bool,
}

impl Retry {
    /// Sends the call on `conn`.
    pub(crate) fn send(self, conn: &Conn) {
        let (method, body, caller) = (self.method, self.body.clone(), self.caller.clone());
        conn.call_encoded(method, &body, Box::new(self), &caller);
    }
}

/// The failures after which a call may not have run to its end: its worker is gone.
const fn worker_lost(err: &PythonExecutionError) -> bool {
    matches!(err, PythonExecutionError::ChildExited { .. } | PythonExecutionError::Unresponsive { .. })
}

impl ReplySink<PythonExecutionError> for Retry {
    fn is_closed(&self) -> bool {
        self.reply.is_closed()
    }

    fn poll_closed(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        self.reply.poll_closed(cx)
    }

    fn complete(mut self: Box<Self>, result: Result<Bytes, PythonExecutionError>) {
        match result {
            Err(err) if !self.retried && worker_lost(&err) => {
                tracing::info!(error = %err, method = self.method, "re-sending a call whose python worker died");
                self.retried = true;
                let (key, events) = (self.key, self.events.clone());
                let job = Box::new(move |conn: Result<Conn, PythonExecutionError>| match conn {
                    Ok(conn) => self.send(&conn),
                    Err(_) => Box::new(self.reply).complete(Err(err)),
                });
                events(Event::Resend { key, job });
            }
            result => Box::new(self.reply).complete(result),
        }
    }
}
