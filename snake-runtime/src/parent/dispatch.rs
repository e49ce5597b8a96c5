//! The parent's callback dispatchers: the engine calls one for every callback frame, so it never
//! needs to know the callback types.

use std::marker::PhantomData;
use std::pin::Pin;

use bytes::Bytes;
use snake_ipc::{CallbackDispatch, CallbackStreamFuture, EncodedStream, ReplyBody};

use crate::callbacks::{self, CallbackFuture, CallbackStates, States};
use crate::error::{ProtocolError, PythonExecutionError};
use crate::message::{CallbackHandler, ChildCallbackMessage};
use crate::protocol::FrameKind;
use crate::shared_bytes::with_source;

/// The dispatcher of the low-level API: one callback type `C`, answered by clones of `H`.
pub(crate) struct HandlerDispatch<C, H> {
    handler: H,
    _callback: PhantomData<fn() -> C>,
}

impl<C, H> HandlerDispatch<C, H> {
    pub(crate) fn new(handler: H) -> Self {
        Self { handler, _callback: PhantomData }
    }
}

impl<C: ChildCallbackMessage, H: CallbackHandler<C>> CallbackDispatch<PythonExecutionError> for HandlerDispatch<C, H> {
    fn call(&self, _index: u32, arg: Bytes) -> CallbackFuture {
        let mut handler = self.handler.clone();
        Box::pin(async move {
            // A `SharedBytes` in the argument stays a slice of the frame (in shared memory when large).
            let msg: C = with_source(&arg, || postcard::from_bytes(&arg))
                .map_err(|e| ProtocolError::Decode { kind: FrameKind::Callback, message: e.to_string() })?;
            let reply = handler.handle(msg).await.map_err(|err| PythonExecutionError::CallbackFailed {
                callback: std::any::type_name::<C>().to_owned(),
                message: err.message().to_owned(),
            })?;
            Ok(ReplyBody::value(reply, false))
        })
    }

    fn call_stream(&self, _index: u32, arg: Bytes) -> CallbackStreamFuture<PythonExecutionError> {
        let mut handler = self.handler.clone();
        Box::pin(async move {
            let callback = || std::any::type_name::<C>().to_owned();
            let msg: C = with_source(&arg, || postcard::from_bytes(&arg))
                .map_err(|e| ProtocolError::Decode { kind: FrameKind::OpenCallbackStream, message: e.to_string() })?;
            let stream = handler.handle_stream(msg).await.map_err(|err| PythonExecutionError::CallbackFailed {
                callback: callback(),
                message: err.message().to_owned(),
            })?;
            let encoded: EncodedStream<PythonExecutionError> =
                Box::pin(EncodeItems { inner: stream, callback: callback() });
            Ok(encoded)
        })
    }

    fn name(&self, _index: u32) -> String {
        std::any::type_name::<C>().to_owned()
    }
}

/// The items of a callback stream as they are produced, each encoded as its frame is written.
struct EncodeItems<T> {
    inner: crate::message::CallbackStream<T>,
    callback: String,
}

impl<T: serde::Serialize + Send + 'static> futures_core::Stream for EncodeItems<T> {
    type Item = Result<ReplyBody, PythonExecutionError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.inner.as_mut().poll_next(cx).map(|item| {
            item.map(|item| match item {
                Ok(value) => Ok(ReplyBody::value(value, false)),
                Err(err) => Err(PythonExecutionError::CallbackFailed {
                    callback: this.callback.clone(),
                    message: err.message().to_owned(),
                }),
            })
        })
    }
}

/// Dispatches callbacks to the registered `#[snake::callback]` functions.
pub(crate) struct RegistryDispatch {
    states: CallbackStates,
}

impl RegistryDispatch {
    pub(crate) fn new(states: States) -> Self {
        Self { states: CallbackStates(states) }
    }
}

impl CallbackDispatch<PythonExecutionError> for RegistryDispatch {
    fn call(&self, index: u32, arg: Bytes) -> CallbackFuture {
        match callbacks::registered().get(index as usize) {
            Some(callback) => (callback.call)(&self.states, arg),
            None => Box::pin(std::future::ready(Err(PythonExecutionError::CallbackFailed {
                callback: format!("#{index}"),
                message: "the parent has no callback with this index (parent and child differ)".into(),
            }))),
        }
    }

    fn name(&self, index: u32) -> String {
        callbacks::registered().get(index as usize).map_or_else(|| format!("#{index}"), |c| c.name.to_owned())
    }
}
