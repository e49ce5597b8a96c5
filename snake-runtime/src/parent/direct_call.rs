//! A typed handle's call on the direct path: from the caller's task to the worker's connection,
//! past the actor's mailbox (see [`Direct`] for when the pool must decide instead).

use bytes::Bytes;
use serde::Serialize;
use snake_ipc::{ReplySink, wire};
use tokio::sync::oneshot;

use super::calls::ReplyTo;
use super::pool::Direct;
use super::retry::Retry;
use crate::error::{ProtocolError, PythonExecutionError};

/// Where a direct call's reply body arrives.
pub(crate) type DirectReply = oneshot::Receiver<Result<Bytes, PythonExecutionError>>;

/// Sends a call of `method` to the worker the pool would pick now, as the actor would send it
/// (once encoded and re-sent to another worker if its worker dies, when `retry` or the
/// builder's `retry_on_exit`). Gives `body` back when only the pool can route the call: the
/// caller then sends it through the actor. Dropping the reply cancels the call in the child.
pub(crate) fn send<T: Serialize>(
    direct: &Direct,
    key: Option<u64>,
    method: u32,
    body: wire::Body<T>,
    retry: bool,
    caller: &tracing::Span,
) -> Result<DirectReply, wire::Body<T>> {
    let (tx, rx) = oneshot::channel();
    if retry || direct.retry_on_exit() {
        let Some(events) = direct.events() else { return Err(body) };
        let encoded = match postcard::to_stdvec(&body) {
            Ok(bytes) => Bytes::from(bytes),
            Err(err) => {
                let err = ProtocolError::Encode { message: err.to_string() };
                ReplySink::complete(Box::new(tx), Err(err.into()));
                return Ok(rx);
            }
        };
        let Some(picked) = direct.pick(key) else { return Err(body) };
        let retry = Retry {
            reply: ReplyTo::Direct(tx),
            method,
            body: encoded,
            caller: caller.clone(),
            key,
            events: std::sync::Arc::clone(events),
            retried: false,
        };
        retry.send(picked.take());
    } else {
        let Some(picked) = direct.pick(key) else { return Err(body) };
        picked.take().call(method, body, Box::new(tx), caller);
    }
    Ok(rx)
}
