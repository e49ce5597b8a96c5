//! The parent's side: the kameo actor that fronts a child ([`PythonActor`]), the builder that
//! starts one, the typed messages of declared methods, streams, and what the parent observes of
//! each connection (metrics, traces, the child's logs). Below it is the engine ([`snake_ipc`]);
//! above it, only the typed handles the macros generate.

mod actor;
mod builder;
mod calls;
mod direct_call;
mod dispatch;
mod hooks;
mod logs;
mod pool;
mod process;
mod retry;
mod start;
mod stream;
#[cfg(feature = "otel")]
mod trace;
#[cfg(all(feature = "remote", feature = "otel"))]
pub(crate) use self::trace::{context_of, set_remote_parent};

#[cfg(feature = "numpy")]
pub use self::actor::SharedArray;
#[doc(hidden)]
pub use self::actor::{DirectCalls, WorkerConnections};
pub use self::actor::{GetChildInfo, PythonActor, PythonActorExt, Reload, SharedBuffer};
pub use self::builder::PythonChildProcessBuilder;
#[cfg(feature = "remote")]
pub(crate) use self::calls::{EncodedCall, EncodedStream, ReplyTo};
pub(crate) use self::calls::{Encoding, decode};
pub use self::calls::{Keyed, MethodCall, MethodStream};
pub(crate) use self::direct_call::send as send_direct;
pub(crate) use self::pool::Direct;
pub use self::pool::Routing;
#[doc(hidden)]
pub use self::pool::{PoolEvent, key_of};
pub use self::stream::{ReplyStream, Streaming};
