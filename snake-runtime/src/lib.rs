//! Run Python code in supervised child processes and talk to it as typed, async kameo actors.
//!
//! Each Python worker is a child process: the same Rust binary, re-executed, with CPython
//! embedded. The parent talks to it over a socketpair with a multiplexed, length-prefixed
//! postcard protocol ([`protocol`]): many calls in flight, replies matched by correlation id,
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

mod actor;
mod callback;
mod child;
mod config;
mod connection;
mod error;
mod logs;
mod message;
pub mod metrics;
mod outbox;
pub mod protocol;
mod registry;
pub mod serde_py;
mod spawn;
mod stream;
mod trace;

pub use crate::actor::{GetChildInfo, PythonActor, PythonActorExt, PythonChildProcessBuilder};
pub use crate::config::{PythonConfig, RuntimeConfig, RuntimeFlavor};
pub use crate::error::{ConversionDirection, ExitStatus, ProtocolError, PythonException, PythonExecutionError};
pub use crate::metrics::{GetMetrics, MetricsSnapshot};
pub use crate::message::{
    CallbackError, CallbackHandler, CallbackStream, ChildCallbackMessage, ChildMessage, NoCallback, NoopCallbackHandler,
};
pub use crate::protocol::{ChildInfo, HandlerMode};
pub use crate::stream::{ReplyStream, Streaming};
pub use kameo;
pub use snake_macros::PyMessage;
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
    pub use crate::actor::{MethodCall, MethodStream};
    pub use crate::callback::{CallbackFn, CallbackFuture, CallbackStates, run_callback};
    pub use crate::protocol::{HandlerMode, MethodSpec, fingerprint};
    pub use crate::registry::{ActorSpec, CallbackCodec, ChildEntry, MethodCodec, enter, registered_callbacks};
    pub use inventory;
    pub use kameo;
    pub use postcard;
    pub use serde;
    pub use tokio;

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
