//! The parent's side of callbacks: a type-erased dispatcher the connection calls for every
//! callback frame, so the connection does not need to know the callback types.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use bytes::Bytes;

use crate::error::{ProtocolError, PythonExecutionError};
use crate::message::{CallbackHandler, ChildCallbackMessage};
use crate::protocol::FrameKind;

/// The encoded reply of a callback, or why there is none.
pub(crate) type CallbackFuture = Pin<Box<dyn Future<Output = Result<Vec<u8>, PythonExecutionError>> + Send>>;

/// Answers callback `index` with an encoded argument.
pub(crate) trait CallbackDispatch: Send + Sync + 'static {
    /// Starts one callback; it runs on its own task, concurrently with others.
    fn call(&self, index: u32, arg: Bytes) -> CallbackFuture;

    /// The callback's name, for errors and logs.
    fn name(&self, index: u32) -> String;
}

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

impl<C: ChildCallbackMessage, H: CallbackHandler<C>> CallbackDispatch for HandlerDispatch<C, H> {
    fn call(&self, _index: u32, arg: Bytes) -> CallbackFuture {
        let mut handler = self.handler.clone();
        Box::pin(async move {
            let msg: C = postcard::from_bytes(&arg)
                .map_err(|e| ProtocolError::Decode { kind: FrameKind::Callback, message: e.to_string() })?;
            let reply = handler.handle(msg).await.map_err(|err| PythonExecutionError::CallbackFailed {
                callback: std::any::type_name::<C>().to_owned(),
                message: err.message().to_owned(),
            })?;
            postcard::to_stdvec(&reply).map_err(|e| ProtocolError::Encode { message: e.to_string() }.into())
        })
    }

    fn name(&self, _index: u32) -> String {
        std::any::type_name::<C>().to_owned()
    }
}
