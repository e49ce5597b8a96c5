//! What a snake parent and its Python child say to each other on top of the engine's frames
//! ([`snake_ipc`]): the Python half of the handshake (which actor, which module, which functions,
//! and what the child found when it imported them).
//!
//! Every frame is `[u32 little-endian length][postcard Header][postcard body]`; the frame layout,
//! the header, the decoder and the versioned core of the handshake live in the engine and are
//! re-exported here.

use serde::{Deserialize, Serialize};

pub use snake_ipc::frame::{encode_frame, encode_frame_with};
pub use snake_ipc::handshake::{fingerprint, peek_version};
pub use snake_ipc::{
    DEFAULT_MAX_FRAME_SIZE, Frame, FrameDecoder, FrameKind, Header, LogRecord, LogSource, MAGIC, PING_GIL,
    PING_HEARTBEAT, PROTOCOL_VERSION, SpanRecord, TraceContext,
};

/// The method index of the warmup call: the parent sends it once, right after the handshake, to
/// a child whose hello named a [`HelloPayload::warmup`] function, with a `()` body. The child runs
/// the function with no arguments and replies `()`, or with what it raised.
pub const WARMUP_METHOD: u32 = u32::MAX;

/// The parent's hello to a Python child.
pub type Hello = snake_ipc::Hello<HelloPayload>;

/// A Python child's welcome.
pub type Welcome = snake_ipc::Welcome<WelcomePayload, crate::PythonExecutionError>;

/// How a Python function is run in the child.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum HandlerMode {
    /// A plain function, run on a Python worker thread.
    Sync,
    /// An `async def` function, run as a task on the child's asyncio loop.
    Async,
    /// A generator function: its items are streamed back.
    Generator,
    /// An async generator function: its items are streamed back.
    AsyncGenerator,
}

impl HandlerMode {
    /// How the mode reads in Python terms, for error messages.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Sync => "a plain (sync) function",
            Self::Async => "an `async def` function",
            Self::Generator => "a generator function",
            Self::AsyncGenerator => "an async generator function",
        }
    }
}

/// One Python function the parent will call, by index in [`HelloPayload::methods`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodSpec {
    /// The attribute looked up on the module.
    pub function: String,
    /// The mode the parent expects; `None` accepts whatever the function is.
    pub mode: Option<HandlerMode>,
    /// The request type as the generated stubs name it (`Summarize`, `list[int]`), which the
    /// child compares with the handler's annotation of its parameter; `None` skips the check.
    pub request_type: Option<String>,
    /// The reply type (each item, for generator modes) as the stubs name it, compared with the
    /// handler's return annotation; `None` skips the check.
    pub reply_type: Option<String>,
    /// Whether the actor's messages carry numpy arrays (`snake::Array`): the child then imports
    /// numpy at startup and fails the spawn with `NumpyUnavailable` when it cannot.
    #[serde(default)]
    pub needs_numpy: bool,
}

/// The Python half of the parent's hello.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloPayload {
    /// Registry key of the actor the child must run.
    pub actor: String,
    /// The Python module to import.
    pub module: String,
    /// The functions the parent will call.
    pub methods: Vec<MethodSpec>,
    /// Most Python worker threads for sync handlers.
    pub sync_workers: u16,
    /// How many callbacks the parent serves at once (the child lets 16 times as many wait).
    pub max_callbacks_in_flight: u32,
    /// The log level filter for the child (`tracing` level name).
    pub log_level: String,
    /// Whether the child records spans for traced calls and sends them back.
    pub record_spans: bool,
    /// A function of the module the child runs once, with no arguments, when the parent sends
    /// the [`WARMUP_METHOD`] call (before any other call).
    pub warmup: Option<String>,
    /// A function of the module the child runs, with no arguments, when it shuts down gracefully:
    /// after its calls in flight, before it exits. What it raises is logged.
    pub teardown: Option<String>,
}

/// The Python half of the child's welcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WelcomePayload {
    /// Facts about the child process and its interpreter.
    pub info: ChildInfo,
    /// The mode of every requested method, in order.
    pub modes: Vec<HandlerMode>,
}

/// Facts a child reports about itself in the handshake.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildInfo {
    /// The child's process id.
    pub pid: u32,
    /// `platform.python_version()` of the embedded interpreter.
    pub python_version: String,
    /// `sys.prefix` of the embedded interpreter.
    pub sys_prefix: String,
}
