//! The traits that tie Rust message types to a Python child.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A request a Python child answers: the value handed to the Python function, and the type its
/// return value is converted to.
///
/// Both sides cross the process boundary with postcard and become Python objects through
/// [`serde_py`](crate::serde_py), so any serde type works.
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
pub trait CallbackHandler<C: ChildCallbackMessage>: Send + 'static {
    /// Handles one callback.
    fn handle(&mut self, msg: C) -> impl Future<Output = C::Reply> + Send;
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
    async fn handle(&mut self, msg: NoCallback) -> NoCallback {
        match msg {}
    }
}
