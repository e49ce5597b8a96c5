//! The parent's side of callbacks: a type-erased dispatcher the connection calls for every
//! callback frame, so the connection does not need to know the callback types.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use crate::child::CallbackCodec;
use crate::error::{ProtocolError, PythonExecutionError};
use crate::message::{CallbackError, CallbackHandler, ChildCallbackMessage};
use crate::protocol::FrameKind;
use crate::schema::Describe;
use crate::wire;

/// The encoded items of a streaming callback.
pub(crate) type EncodedStream =
    Pin<Box<dyn futures_core::Stream<Item = Result<Vec<u8>, PythonExecutionError>> + Send + 'static>>;

/// A streaming callback's items, or why it cannot stream.
pub(crate) type CallbackStreamFuture =
    Pin<Box<dyn Future<Output = Result<EncodedStream, PythonExecutionError>> + Send>>;

/// The encoded reply of a callback, or why there is none.
pub type CallbackFuture = Pin<Box<dyn Future<Output = Result<Vec<u8>, PythonExecutionError>> + Send>>;

/// Answers callback `index` with an encoded argument.
pub(crate) trait CallbackDispatch: Send + Sync + 'static {
    /// Starts one callback; it runs on its own task, concurrently with others.
    fn call(&self, index: u32, arg: Bytes) -> CallbackFuture;

    /// Starts one streaming callback.
    fn call_stream(&self, index: u32, arg: Bytes) -> CallbackStreamFuture {
        let _ = arg;
        let name = self.name(index);
        Box::pin(std::future::ready(Err(PythonExecutionError::CallbackFailed {
            callback: name,
            message: "this callback does not answer with a stream".into(),
        })))
    }

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

    fn call_stream(&self, _index: u32, arg: Bytes) -> CallbackStreamFuture {
        let mut handler = self.handler.clone();
        Box::pin(async move {
            let callback = || std::any::type_name::<C>().to_owned();
            let msg: C = postcard::from_bytes(&arg)
                .map_err(|e| ProtocolError::Decode { kind: FrameKind::OpenCallbackStream, message: e.to_string() })?;
            let stream = handler.handle_stream(msg).await.map_err(|err| PythonExecutionError::CallbackFailed {
                callback: callback(),
                message: err.message().to_owned(),
            })?;
            let encoded: EncodedStream = Box::pin(EncodeItems { inner: stream, callback: callback() });
            Ok(encoded)
        })
    }

    fn name(&self, _index: u32) -> String {
        std::any::type_name::<C>().to_owned()
    }
}

/// Encodes the items of a callback stream as they are produced.
struct EncodeItems<T> {
    inner: crate::message::CallbackStream<T>,
    callback: String,
}

impl<T: serde::Serialize> futures_core::Stream for EncodeItems<T> {
    type Item = Result<Vec<u8>, PythonExecutionError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.inner.as_mut().poll_next(cx).map(|item| {
            item.map(|item| match item {
                Ok(value) => {
                    postcard::to_stdvec(&value).map_err(|e| ProtocolError::Encode { message: e.to_string() }.into())
                }
                Err(err) => Err(PythonExecutionError::CallbackFailed {
                    callback: this.callback.clone(),
                    message: err.message().to_owned(),
                }),
            })
        })
    }
}

/// State provided to a child's `#[snake::callback]` methods, one value per type.
#[derive(Clone, Default)]
pub(crate) struct States(std::collections::HashMap<std::any::TypeId, Arc<dyn std::any::Any + Send + Sync>>);

impl std::fmt::Debug for States {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("States").field("count", &self.0.len()).finish()
    }
}

impl States {
    pub(crate) fn insert<T: Send + Sync + 'static>(&mut self, state: Arc<T>) {
        self.0.insert(std::any::TypeId::of::<T>(), state);
    }

    /// The provided value of type `T`.
    pub(crate) fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.0.get(&std::any::TypeId::of::<T>()).cloned().and_then(|state| state.downcast::<T>().ok())
    }
}

/// One `#[snake::callback]` function, as the macro registers it.
#[derive(Clone, Copy, Debug)]
pub struct CallbackFn {
    /// Its Python name (in `snake_callbacks`).
    pub name: &'static str,
    /// Converts its argument and reply in the child.
    pub codec: CallbackCodec,
    /// Runs it in the parent: decodes the argument, finds its state, calls it, encodes the reply.
    pub call: fn(&CallbackStates, Bytes) -> CallbackFuture,
}

inventory::collect!(CallbackFn);

/// What a registered callback sees of the state provided to its child.
#[derive(Clone, Debug)]
pub struct CallbackStates(States);

impl CallbackStates {
    /// The provided value of type `T`, or the error Python sees when there is none.
    pub fn get<T: Send + Sync + 'static>(&self, callback: &str) -> Result<Arc<T>, PythonExecutionError> {
        self.0.get::<T>().ok_or_else(|| PythonExecutionError::CallbackFailed {
            callback: callback.to_owned(),
            message: format!(
                "no `{}` was provided to this actor: call `.provide(value)` on its builder",
                std::any::type_name::<T>()
            ),
        })
    }
}

/// Every registered callback, sorted by name: the index of one is the same in parent and child.
pub(crate) fn registered() -> &'static [&'static CallbackFn] {
    static SORTED: std::sync::OnceLock<Vec<&'static CallbackFn>> = std::sync::OnceLock::new();
    SORTED.get_or_init(|| {
        let mut all: Vec<&'static CallbackFn> = inventory::iter::<CallbackFn>.into_iter().collect();
        all.sort_by_key(|callback| callback.name);
        all
    })
}

/// A Python name two registered callbacks share: callbacks are called by index in name order,
/// so such a binary cannot serve them.
pub(crate) fn duplicate_name() -> Option<&'static str> {
    first_duplicate(registered().iter().map(|callback| callback.name))
}

/// The first name that repeats in a sorted sequence of names.
fn first_duplicate<'a>(sorted: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut previous = None;
    for name in sorted {
        if previous == Some(name) {
            return Some(name);
        }
        previous = Some(name);
    }
    None
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

impl CallbackDispatch for RegistryDispatch {
    fn call(&self, index: u32, arg: Bytes) -> CallbackFuture {
        match registered().get(index as usize) {
            Some(callback) => (callback.call)(&self.states, arg),
            None => Box::pin(std::future::ready(Err(PythonExecutionError::CallbackFailed {
                callback: format!("#{index}"),
                message: "the parent has no callback with this index (parent and child differ)".into(),
            }))),
        }
    }

    fn name(&self, index: u32) -> String {
        registered().get(index as usize).map_or_else(|| format!("#{index}"), |c| c.name.to_owned())
    }
}

/// Runs a `#[snake::callback]` function on a decoded argument and encodes its reply: the body of
/// every generated [`CallbackFn::call`]. Each body is self-describing when its type's
/// [`Describe::SELF_DESCRIBING`] says so, as the child's [`CallbackCodec::of`] expects.
pub fn run_callback<A, R, Fut>(name: &'static str, arg: &Bytes, f: impl FnOnce(A) -> Fut) -> CallbackFuture
where
    A: serde::de::DeserializeOwned + Describe,
    R: serde::Serialize + Describe,
    Fut: Future<Output = Result<R, CallbackError>> + Send + 'static,
{
    let decoded: Result<A, PythonExecutionError> =
        wire::decode(arg, A::SELF_DESCRIBING, FrameKind::Callback).map_err(Into::into);
    let future = decoded.map(f);
    Box::pin(async move {
        let reply = future?.await.map_err(|err| PythonExecutionError::CallbackFailed {
            callback: name.to_owned(),
            message: err.message().to_owned(),
        })?;
        let mut body = Vec::new();
        wire::encode(&reply, R::SELF_DESCRIBING, &mut body)?;
        Ok(body)
    })
}

#[cfg(test)]
mod tests {
    use super::first_duplicate;

    #[test]
    fn repeated_names_are_found() {
        assert_eq!(first_duplicate(["a", "b", "c"]), None);
        assert_eq!(first_duplicate(["a", "b", "b", "c", "c"]), Some("b"));
        assert_eq!(first_duplicate([]), None);
    }
}
