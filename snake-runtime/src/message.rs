//! The traits that tie Rust message types to a Python child.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A request a Python child answers: the value handed to the Python function, and the type its
/// return value is converted to.
///
/// Both sides become Python objects through [`serde_py`](crate::serde_py) and cross the process
/// boundary as plain postcard, which is not self-describing: the types (and those of
/// [`ChildCallbackMessage`]) must not need `deserialize_any` or skip fields by value. Internally
/// tagged, adjacently tagged and untagged enums, `#[serde(untagged)]` variants and `flatten` fail,
/// and `skip_serializing_if` or `#[serde(tag)]` on a struct decode to wrong values (the README,
/// section *Limits worth knowing*). Types that derive [`PyMessage`](crate::PyMessage) and go
/// through `#[snake::actor]` are carried self-describingly when they need it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a message a Python child can answer",
    label = "this type needs `impl snake::ChildMessage`",
    note = "implement `snake::ChildMessage for {Self}` and name its `Reply` type"
)]
pub trait ChildMessage: Serialize + DeserializeOwned + Send + 'static {
    /// What the Python function returns, converted back to Rust.
    type Reply: Serialize + DeserializeOwned + Send + 'static;
}

/// A message Python sends back to Rust with `kameo.callback_handle(msg)` (or
/// `snake.callback_handle(msg)`), answered by a [`CallbackHandler`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a callback message",
    label = "this type needs `impl snake::ChildCallbackMessage`"
)]
pub trait ChildCallbackMessage: Serialize + DeserializeOwned + Send + 'static {
    /// What the Rust handler answers, converted to a Python value.
    type Reply: Serialize + DeserializeOwned + Send + 'static;
}

/// Answers callbacks from a Python child. Its state (a connection pool, a client) lives in the
/// parent process.
///
/// Callbacks are answered concurrently: each one is handled by its own clone of the handler, so
/// share state through `Arc` (a pool handle usually is one already). The same handler may be
/// given to several children. An `Err` reaches Python as a `snake.CallbackError` exception
/// carrying the error's message.
pub trait CallbackHandler<C: ChildCallbackMessage>: Clone + Send + Sync + 'static {
    /// Handles one callback.
    fn handle(&mut self, msg: C) -> impl Future<Output = Result<C::Reply, CallbackError>> + Send;

    /// Handles one streaming callback (`snake.callback_stream(msg)` in Python): the items are
    /// sent as Python pulls them, with the same credit window as generator streams; Python
    /// closing its iterator drops the stream. By default a handler does not stream.
    fn handle_stream(
        &mut self,
        msg: C,
    ) -> impl Future<Output = Result<CallbackStream<C::Reply>, CallbackError>> + Send {
        let _ = msg;
        std::future::ready(Err(CallbackError::new("this callback handler does not answer with streams")))
    }
}

/// The stream a [`CallbackHandler::handle_stream`] answers with.
pub type CallbackStream<T> =
    std::pin::Pin<Box<dyn futures_core::Stream<Item = Result<T, CallbackError>> + Send + 'static>>;

/// Why a callback handler could not answer; Python raises `snake.CallbackError(message)`.
///
/// Any error converts into it with `?`, keeping its message (and its sources').
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackError {
    message: String,
}

impl CallbackError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }

    /// The message Python will see.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for CallbackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: std::error::Error> From<E> for CallbackError {
    fn from(err: E) -> Self {
        let mut message = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self { message }
    }
}

/// The callback type of an actor whose Python code makes no callbacks. It has no values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub enum NoCallback {}

impl ChildCallbackMessage for NoCallback {
    type Reply = NoCallback;
}

/// The handler of an actor whose Python code makes no callbacks.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopCallbackHandler;

impl CallbackHandler<NoCallback> for NoopCallbackHandler {
    async fn handle(&mut self, msg: NoCallback) -> Result<NoCallback, CallbackError> {
        match msg {}
    }
}
