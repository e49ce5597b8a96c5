//! Run Python code in supervised child processes and talk to it as typed, async kameo actors.
//!
//! Each Python worker is a child process: the same Rust binary, re-executed, with CPython
//! embedded. The parent talks to it over a socketpair with a multiplexed, length-prefixed
//! postcard protocol ([`protocol`], on the engine crate [`snake_ipc`]): many calls in flight, replies matched by correlation id,
//! `async def` handlers running concurrently on the child's asyncio loop, sync handlers on worker
//! threads. A crashing extension takes down its child, never the service: every pending and later
//! call fails at once with [`PythonExecutionError::ChildExited`].
//!
//! The low-level API:
//!
//! ```no_run
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Add { a: i64, b: i64 }
//! impl snake::ChildMessage for Add { type Reply = i64; }
//!
//! // Registers `PythonActor<Add>` so that this binary can serve it as a child.
//! snake::register_actor!(Add);
//!
//! #[snake::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let config = snake::PythonConfig {
//!         module_name: "arith".into(),
//!         function_name: "add".into(), // def add(msg): return msg["a"] + msg["b"]
//!         module_path: "python".into(),
//!         ..Default::default()
//!     };
//!     let actor = snake::PythonChildProcessBuilder::new(config).spawn::<Add>().await?;
//!     assert_eq!(actor.ask(Add { a: 2, b: 3 }).await?, 5);
//!     Ok(())
//! }
//! ```

#[cfg(feature = "numpy")]
mod array;
mod callbacks;
mod child;
mod codec;
mod config;
mod entry;
mod error;
mod handle;
mod message;
pub mod metrics;
mod parent;
pub mod protocol;
mod registry;
#[cfg(feature = "remote")]
pub mod remote;
pub mod schema;
pub mod serde_py;
mod shared_buffer;
mod shared_bytes;
mod stream_marker;
pub mod stubs;
mod suggest;

#[cfg(feature = "numpy")]
pub use crate::array::{Array, ArrayElement, SharedArrayMut};
pub use crate::config::{PythonConfig, RuntimeConfig, RuntimeFlavor};
pub use crate::error::{
    ConversionDirection, ExitStatus, ProtocolError, PythonException, PythonExecutionError, RemoteCause,
};
pub use crate::message::{
    CallbackError, CallbackHandler, CallbackStream, ChildCallbackMessage, ChildMessage, NoCallback, NoopCallbackHandler,
};
pub use crate::metrics::{GetMetrics, MetricsSnapshot, WorkerState, WorkerStatus};
#[cfg(feature = "numpy")]
pub use crate::parent::SharedArray;
pub use crate::parent::{
    GetChildInfo, Keyed, PythonActor, PythonActorExt, PythonChildProcessBuilder, Reload, Routing, SharedBuffer,
};
pub use crate::parent::{ReplyStream, Streaming};
pub use crate::protocol::{ChildInfo, HandlerMode};
pub use crate::schema::{Bytes, Describe, PyMessage};
pub use crate::shared_buffer::SharedBytesMut;
pub use crate::shared_bytes::SharedBytes;
pub use crate::stream_marker::Stream;
pub use kameo;
#[cfg(feature = "numpy")]
pub use ndarray;
pub use snake_macros::PyMessage;
/// Declares the functions of a Python module; the trait is replaced by a typed handle struct
/// of the same name (see the macro's documentation for the options and generated methods).
///
/// ```no_run
/// use serde::{Deserialize, Serialize};
///
/// /// What to predict from.
/// #[derive(Serialize, Deserialize, snake::PyMessage)]
/// pub struct Predict {
///     pub text: String,
/// }
///
/// /// A label and how sure the model is.
/// #[derive(Serialize, Deserialize, snake::PyMessage)]
/// pub struct Prediction {
///     pub label: String,
///     pub score: f64,
/// }
///
/// /// Inference over a Python model.
/// #[snake::actor(module = "inference")]
/// pub trait Inference {
///     /// Predicts a label.
///     async fn predict(request: Predict) -> Prediction; // async def predict(request)
///     fn tokenize(text: String) -> Vec<String>; // def tokenize(text)
///     #[snake(python = "stream_tokens")]
///     fn stream(prompt: String) -> snake::Stream<String>; // def stream_tokens(prompt): yield ...
/// }
///
/// #[snake::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let config = snake::PythonConfig { module_path: "python".into(), ..Default::default() };
///     // `Inference` is now a struct: a cloneable handle to one child process.
///     let model = Inference::spawn(snake::PythonChildProcessBuilder::new(config)).await?;
///     let prediction: Prediction = model.predict(Predict { text: "hello".into() }).await?;
///     println!("{} ({:.2})", prediction.label, prediction.score);
///     let tokens: Vec<String> = model.tokenize("a b".into()).await?;
///     assert_eq!(tokens.len(), 2);
///     let _stream: snake::ReplyStream<String> = model.stream("once upon".into()).await?;
///     Ok(())
/// }
/// ```
///
/// A method is called without `self` and takes exactly one request; the handle supplies `&self`:
///
/// ```compile_fail
/// #[snake::actor]
/// trait Model {
///     fn predict(&self, text: String) -> String; // error: methods take no `self`
/// }
/// ```
pub use snake_macros::actor;
/// Makes an async Rust function, or the `&self` async methods of an `impl` block, callable from
/// the Python code of every `#[snake::actor]` child (see the macro's documentation).
///
/// ```no_run
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// /// Doubles a number; Python calls `snake_callbacks.double(21)` or `await snake_callbacks.double_async(21)`.
/// #[snake::callback]
/// async fn double(n: i64) -> i64 {
///     n * 2
/// }
///
/// /// State shared by the callbacks of a child, given with `.provide(Counter::default())`.
/// #[derive(Default)]
/// struct Counter {
///     total: AtomicU64,
/// }
///
/// #[snake::callback]
/// impl Counter {
///     /// Adds to the total; `snake_callbacks.add(0)` raises `snake.CallbackError`.
///     async fn add(&self, by: u64) -> Result<u64, snake::CallbackError> {
///         if by == 0 {
///             return Err(snake::CallbackError::new("add at least one"));
///         }
///         Ok(self.total.fetch_add(by, Ordering::SeqCst) + by)
///     }
/// }
///
/// #[snake::actor(module = "counting")]
/// trait Counting {
///     fn count(request: u64) -> u64; // def count(n): return snake_callbacks.add(n)
/// }
///
/// #[snake::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let builder = snake::PythonChildProcessBuilder::new(snake::PythonConfig::default());
///     let counting = Counting::spawn(builder.provide(Counter::default())).await?;
///     assert_eq!(counting.count(2).await?, 2);
///     // Still an ordinary function:
///     assert_eq!(double(4).await, 8);
///     Ok(())
/// }
/// ```
///
/// Callbacks run concurrently on shared state, so a method takes `&self`, never `&mut self`:
///
/// ```compile_fail
/// struct Counter(u64);
///
/// #[snake::callback]
/// impl Counter {
///     async fn add(&mut self, by: u64) -> u64 { // error: take `&self`
///         self.0 += by;
///         self.0
///     }
/// }
/// ```
pub use snake_macros::callback;
/// Makes `async fn main` the entry point of a snake binary: before any of its code runs, a
/// process started as a Python child serves its actor instead. Options: `flavor`,
/// `worker_threads`, `child_init = path`, `crate = path` (see the macro's own docs).
///
/// ```no_run
/// fn child_runtime() -> snake::RuntimeConfig {
///     snake::RuntimeConfig { flavor: snake::RuntimeFlavor::CurrentThread, worker_threads: None }
/// }
///
/// #[snake::main(flavor = "multi_thread", worker_threads = 2, child_init = child_runtime)]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     // spawn Python actors here
///     Ok(())
/// }
/// ```
///
/// ```compile_fail
/// #[snake::main]
/// fn main() {} // `#[snake::main]` goes on an `async fn`
/// ```
pub use snake_macros::main;

/// The directory of the libpython this crate was built against, passed to children.
pub(crate) fn python_lib_dir() -> Option<&'static str> {
    option_env!("SNAKE_PYTHON_LIB_DIR").filter(|dir| !dir.is_empty())
}

/// The `python3` executable this crate was built against.
pub fn build_python() -> Option<&'static str> {
    option_env!("SNAKE_PYTHON_EXECUTABLE").filter(|exe| !exe.is_empty())
}

/// The original entry-point macro: generates `main`, serving the listed actors when the process
/// is a child and running `parent_init` when it is the parent.
///
/// `child_init` runs first in a child and returns the [`RuntimeConfig`] for the child's own
/// tokio runtime; `parent_init` is the parent's whole program and evaluates to
/// `Result<(), Box<dyn std::error::Error>>`. Same implementation as `#[snake::main]`.
///
/// ```no_run
/// use serde::{Deserialize, Serialize};
/// use snake::PythonActor;
///
/// #[derive(Serialize, Deserialize)]
/// struct Ping(u32);
/// impl snake::ChildMessage for Ping { type Reply = u32; }
///
/// snake::setup_python_subprocess_system! {
///     actors = { (PythonActor<Ping>, Ping, snake::NoCallback) },
///     child_init = { snake::RuntimeConfig::default() },
///     parent_init = {
///         let runtime = tokio::runtime::Runtime::new()?;
///         runtime.block_on(async {
///             // spawn actors with `PythonChildProcessBuilder` here
///             Ok::<(), Box<dyn std::error::Error>>(())
///         })?;
///         Ok(())
///     },
/// }
/// ```
#[macro_export]
macro_rules! setup_python_subprocess_system {
    (
        actors = { $( ($actor:ty, $msg:ty, $callback:ty) ),* $(,)? },
        child_init = $child_init:block,
        parent_init = $parent_init:block $(,)?
    ) => {
        fn main() -> ::core::result::Result<(), ::std::boxed::Box<dyn ::std::error::Error>> {
            $(
                // Each entry names its actor type and the message types it is made of; they must agree.
                let _: ::core::marker::PhantomData<$actor> =
                    ::core::marker::PhantomData::<$crate::PythonActor<$msg, $callback>>;
            )*
            static __SNAKE_ACTORS: &[$crate::__private::ChildEntry] =
                &[ $( $crate::__private::ChildEntry::actor::<$msg, $callback>() ),* ];
            $crate::__private::enter(__SNAKE_ACTORS, || -> $crate::RuntimeConfig { $child_init });
            $parent_init
        }
    };
}

/// Not public API: what macro expansions reach for.
#[doc(hidden)]
pub mod __private {
    pub use crate::__snake_array_handle_methods as array_handle_methods;
    pub use crate::__snake_remote_handle_methods as remote_handle_methods;
    pub use crate::callbacks::{CallbackFn, CallbackFuture, CallbackStates, run_callback};
    pub use crate::codec::{CallbackCodec, MethodCodec};
    pub use crate::entry::enter;
    #[cfg(feature = "numpy")]
    pub use crate::handle::shared_array;
    pub use crate::handle::{Local, Target, call, shared_bytes, spawn as spawn_handle, stream};
    #[cfg(feature = "remote")]
    pub use crate::handle::{lookup, register};
    pub use crate::parent::{DirectCalls, WorkerConnections};
    pub use crate::parent::{MethodCall, MethodStream, PoolEvent, key_of};
    pub use crate::protocol::{HandlerMode, MethodSpec, fingerprint};
    pub use crate::registry::{ActorSpec, ChildEntry, registered_callbacks};
    pub use crate::schema::SelfReference;
    pub use crate::serde_py::AllowUnknownKeys;
    pub use inventory;
    pub use kameo;
    pub use postcard;
    pub use serde;
    pub use tokio;

    /// What a `#[snake::actor]`'s `ActorSpec::fingerprint` returns: the shapes of the declaration
    /// `describe` builds and of the callbacks this binary serves (computed in `schema::canon`).
    pub fn actor_fingerprint(describe: fn(&mut crate::schema::Registry) -> crate::schema::ActorDecl) -> u64 {
        let callbacks = crate::registry::registered_callbacks();
        crate::schema::actor_fingerprint(describe, callbacks.iter().map(|codec| (codec.name)()))
    }

    /// What a `#[snake::actor]`'s `ActorSpec::methods` returns: each method of the declaration
    /// `describe` builds, with its mode and its request and reply types named as the stubs name
    /// them (the child compares them with the handlers' annotations).
    pub fn method_specs(describe: fn(&mut crate::schema::Registry) -> crate::schema::ActorDecl) -> Vec<MethodSpec> {
        let mut registry = crate::schema::Registry::new();
        let actor = describe(&mut registry);
        actor
            .methods
            .iter()
            .map(|method| MethodSpec {
                function: method.python_name.clone(),
                mode: Some(method.mode),
                request_type: Some(crate::stubs::annotation(&registry, &method.request)),
                reply_type: Some(crate::stubs::annotation(&registry, &method.reply)),
                needs_numpy: registry.uses_numpy(),
            })
            .collect()
    }

    /// Runs the parent's async `main` on the runtime `#[snake::main]` asked for.
    pub fn block_on<F: ::core::future::Future>(config: crate::RuntimeConfig, future: F) -> F::Output {
        match config.build() {
            Ok(runtime) => runtime.block_on(future),
            Err(err) => panic!("snake: could not build the tokio runtime for main: {err}"),
        }
    }
}

/// The README's Rust examples, compiled as doctests so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
