//! Errors a caller can act on. Every variant is serialisable, because most of them are detected in
//! the child and travel to the parent in an error frame. The engine's own failures
//! ([`IpcError`]) become the variants of the same name.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use snake_ipc::{ExitStatus, ProtocolError};
use snake_ipc::{IpcError, PeerError};

use crate::protocol::HandlerMode;
use crate::serde_py::ConversionError;

/// ` (did you mean `name`?)`, or nothing.
struct DidYouMean<'a>(Option<&'a str>);

impl fmt::Display for DidYouMean<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(name) => write!(f, " (did you mean `{name}`?)"),
            None => Ok(()),
        }
    }
}

/// Why a call to a Python child, or the spawn of one, failed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum PythonExecutionError {
    /// The configured module (or a package on its path) is not importable.
    #[error("python module `{module}` was not found (sys.path: {sys_path:?})")]
    ModuleNotFound {
        /// The module that was asked for.
        module: String,
        /// `sys.path` in the child when the import failed.
        sys_path: Vec<String>,
    },

    /// The module imported but raised an exception while doing so.
    #[error("importing python module `{module}` raised {exception}")]
    ImportFailed {
        /// The module that was asked for.
        module: String,
        /// The exception the import raised.
        exception: PythonException,
    },

    /// The actor's messages carry numpy arrays (`snake::Array`, feature `numpy`), or the builder
    /// was told so with `require_numpy(true)`, but the child cannot import numpy (install it in
    /// the child's Python).
    #[error("the messages carry numpy arrays, but importing numpy in the child raised {exception}")]
    NumpyUnavailable {
        /// The exception `import numpy` raised.
        exception: PythonException,
    },

    /// The module has no attribute with the configured function name.
    #[error("python module `{module}` has no function `{function}`{}", DidYouMean(.suggestion.as_deref()))]
    FunctionNotFound {
        /// The module that was imported.
        module: String,
        /// The missing attribute.
        function: String,
        /// The module's public function whose name is closest to `function`, when it is close
        /// enough to be a likely typo: `(did you mean `add_sync`?)`.
        suggestion: Option<String>,
    },

    /// The attribute exists but cannot be called.
    #[error("`{module}.{function}` is not callable: it is a `{type_name}`")]
    NotCallable {
        /// The module that was imported.
        module: String,
        /// The attribute that was found.
        function: String,
        /// The Python type of that attribute.
        type_name: String,
    },

    /// The function is sync where async was declared, or the other way round.
    #[error("`{module}.{function}` is {} but was declared as {}", actual.describe(), declared.describe())]
    HandlerMismatch {
        /// The module that was imported.
        module: String,
        /// The function whose kind does not match.
        function: String,
        /// What the Rust side declared.
        declared: HandlerMode,
        /// What the Python function is.
        actual: HandlerMode,
    },

    /// The function cannot be called with the one argument snake passes it (the message).
    #[error("`{module}.{function}{signature}` cannot be called with one positional argument (the message)")]
    WrongSignature {
        /// The module that was imported.
        module: String,
        /// The function.
        function: String,
        /// Its signature, as Python prints it.
        signature: String,
    },

    /// The handler's annotation names another type than the one Rust declares for its request
    /// (the first positional parameter) or its reply (the return annotation, or the item type of
    /// a generator's `Iterator[T]`). Checked at spawn, before any call.
    #[error("{module}.{function} annotates its {what} as `{annotated}`, but Rust declares `{declared}`")]
    AnnotationMismatch {
        /// The module that was imported.
        module: String,
        /// The function.
        function: String,
        /// `"request"` or `"reply"`.
        what: String,
        /// The type Rust declares, as the generated stubs name it.
        declared: String,
        /// The handler's annotation, as written (module prefixes dropped).
        annotated: String,
    },

    /// The Python handler raised.
    #[error("python raised {0}")]
    Exception(PythonException),

    /// A value could not be converted between Rust and Python.
    #[error("converting the {direction} failed: {error}")]
    Conversion {
        /// Which value failed.
        direction: ConversionDirection,
        /// Where in the value, and why.
        error: ConversionError,
    },

    /// The channel to the child carried something that is not a valid frame; the child is stopped.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),

    /// The child answered the handshake, but not with what the parent needs.
    #[error("handshake with the python child failed: {reason}{}", StderrTail(stderr_tail))]
    HandshakeFailed {
        /// What did not match.
        reason: String,
        /// The last lines the child wrote to stderr.
        stderr_tail: Vec<String>,
    },

    /// The child did not complete the handshake in time.
    #[error("the python child did not complete the handshake within {timeout:?}{}", StderrTail(stderr_tail))]
    HandshakeTimedOut {
        /// The configured handshake timeout.
        timeout: Duration,
        /// The last lines the child wrote to stderr.
        stderr_tail: Vec<String>,
    },

    /// The child process could not be started at all.
    #[error("could not start the python child `{program}`: {message}")]
    SpawnFailed {
        /// The program that was executed.
        program: String,
        /// The operating system's error.
        message: String,
    },

    /// The binary that was started as the child has no actor registered under the requested key.
    #[error(
        "the child program has no actor `{actor}` registered: list it in `setup_python_subprocess_system!`, \
         register it with `snake::register_actor!`, or run a binary whose `main` is `#[snake::main]`"
    )]
    ActorNotRegistered {
        /// The registry key that was asked for.
        actor: String,
    },

    /// The child exited (or was killed); every in-flight and later call fails with this.
    #[error("the python child exited ({status}){}", StderrTail(stderr_tail))]
    ChildExited {
        /// How it exited.
        status: ExitStatus,
        /// The last lines the child wrote to stderr.
        stderr_tail: Vec<String>,
    },

    /// The call did not complete within its timeout; the child was told to cancel it.
    #[error("the python call did not complete within {timeout:?}")]
    CallTimedOut {
        /// The timeout that elapsed.
        timeout: Duration,
    },

    /// The call was cancelled (its caller went away, or the actor stopped).
    #[error("the python call was cancelled")]
    Cancelled,

    /// The actor is no longer running (it was stopped, or it panicked), so it took no message.
    #[error("the python actor has stopped")]
    ActorStopped,

    /// The actor is stopping gracefully: its calls in flight may finish, but it admits no new
    /// one (nor a call still waiting for a slot in the in-flight window).
    #[error("the python actor is stopping and takes no new calls")]
    ActorStopping,

    /// The warmup function the builder named raised, so the child was not put into service.
    #[error("warmup `{function}` raised {exception}")]
    WarmupFailed {
        /// The warmup function's name.
        function: String,
        /// What it raised.
        exception: PythonException,
    },

    /// The warmup function did not return within the warmup timeout; the child was killed.
    #[error("warmup `{function}` did not finish within {timeout:?}")]
    WarmupTimedOut {
        /// The warmup function's name.
        function: String,
        /// The configured warmup timeout.
        timeout: Duration,
    },

    /// The child stopped answering its health probe (`probe` is `"heartbeat"` for the reader
    /// thread, `"gil"` for the probe that needs the GIL) for `after`, so it was killed and
    /// replaced; every call in flight on it fails with this.
    #[error("the python child (pid {pid}) did not answer its {probe} probe for {after:?} and was killed")]
    Unresponsive {
        /// The child's process id.
        pid: u32,
        /// Which probe went unanswered: `"heartbeat"` or `"gil"`.
        probe: String,
        /// How long it went unanswered (the builder's `unresponsive_after`).
        after: Duration,
    },

    /// The child's resident memory passed the builder's `memory_limit`, so it was killed; every
    /// call in flight on it fails with this.
    #[error("the python child (pid {pid}) used {rss} bytes, over its memory limit of {limit} bytes, and was killed")]
    MemoryLimitExceeded {
        /// The child's process id.
        pid: u32,
        /// The resident set size that was sampled, in bytes.
        rss: u64,
        /// The configured limit, in bytes.
        limit: u64,
    },

    /// No worker could take the call within the builder's `acquire_timeout` (they were all
    /// starting or restarting).
    #[error("no python worker became available within {waited:?}")]
    NoWorkerAvailable {
        /// How long the call waited.
        waited: Duration,
    },

    /// Workers died more often than the restart limit allows (`restarts` within `within`), so the
    /// pool stopped replacing them and fails calls at once; `last_error` says how the last one
    /// ended (exit status and stderr tail, or the error its restart met).
    #[error(
        "the python workers were restarted {restarts} times within {within:?}, past the restart limit; \
             the last one failed: {last_error}"
    )]
    RestartLimitReached {
        /// Restarts counted inside the window.
        restarts: u32,
        /// The restart window.
        within: Duration,
        /// How the last worker ended, or why it could not be started.
        last_error: Box<PythonExecutionError>,
    },

    /// A builder option has a value that cannot work (a pool of 0 workers, say); nothing was
    /// started.
    #[error("invalid option `{option}`: {message}")]
    InvalidConfig {
        /// The builder method.
        option: String,
        /// Why the value cannot work.
        message: String,
    },

    /// A remote call (feature `remote`) could not reach a node serving `name`, or the node stopped
    /// answering: it died, the network dropped, or no reply came within the node's request
    /// timeout. Calls in flight fail with this once the cause is seen; later calls fail at once
    /// until a lookup finds the name again (tried at most once per retry interval).
    #[error("no node serving `{name}` answered{}: {cause}", peer.as_ref().map(|p| format!(" (peer {p})")).unwrap_or_default())]
    RemoteUnavailable {
        /// The name the handle was looked up under.
        name: String,
        /// The libp2p peer id of the node that failed, when one was tried.
        peer: Option<String>,
        /// What failed.
        cause: RemoteCause,
    },

    /// A request or reply body is larger than the transport's limit (the node builder's
    /// `max_request_size` or `max_response_size`); it was refused before it was sent.
    #[error("a remote {direction:?} body of {size} bytes is over the transport limit of {limit} bytes")]
    RemoteTooLarge {
        /// Whether the request (checked by the caller) or the reply (checked by the host) was too large.
        direction: ConversionDirection,
        /// The encoded body's size, in bytes.
        size: u64,
        /// The configured limit, in bytes.
        limit: u64,
    },

    /// The operation needs the actor in this process, and the handle calls one on another node
    /// (it came from `lookup`): reload, metrics, register and `actor_ref` are local only.
    #[error("`{operation}` needs a local actor; this handle calls a remote one")]
    LocalOnly {
        /// The operation that was asked for.
        operation: String,
    },

    /// A callback from Python into Rust failed: the Rust handler returned an error, there is no
    /// handler, or the call that made the callback is gone. Python sees it as
    /// `snake.CallbackError` carrying this message.
    #[error("callback `{callback}` failed: {message}")]
    CallbackFailed {
        /// The callback's name.
        callback: String,
        /// What went wrong, in the handler's own words.
        message: String,
    },
}

impl PythonExecutionError {
    /// A short, stable name for the variant, suited to metrics labels and log fields.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::ModuleNotFound { .. } => "module_not_found",
            Self::ImportFailed { .. } => "import_failed",
            Self::NumpyUnavailable { .. } => "numpy_unavailable",
            Self::FunctionNotFound { .. } => "function_not_found",
            Self::NotCallable { .. } => "not_callable",
            Self::HandlerMismatch { .. } => "handler_mismatch",
            Self::WrongSignature { .. } => "wrong_signature",
            Self::AnnotationMismatch { .. } => "annotation_mismatch",
            Self::Exception(_) => "exception",
            Self::Conversion { .. } => "conversion",
            Self::Protocol(_) => "protocol",
            Self::HandshakeFailed { .. } => "handshake_failed",
            Self::HandshakeTimedOut { .. } => "handshake_timed_out",
            Self::SpawnFailed { .. } => "spawn_failed",
            Self::ActorNotRegistered { .. } => "actor_not_registered",
            Self::ChildExited { .. } => "child_exited",
            Self::CallTimedOut { .. } => "call_timed_out",
            Self::Cancelled => "cancelled",
            Self::ActorStopped => "actor_stopped",
            Self::ActorStopping => "actor_stopping",
            Self::CallbackFailed { .. } => "callback_failed",
            Self::WarmupFailed { .. } => "warmup_failed",
            Self::WarmupTimedOut { .. } => "warmup_timed_out",
            Self::Unresponsive { .. } => "unresponsive",
            Self::MemoryLimitExceeded { .. } => "memory_limit_exceeded",
            Self::NoWorkerAvailable { .. } => "no_worker_available",
            Self::RestartLimitReached { .. } => "restart_limit_reached",
            Self::InvalidConfig { .. } => "invalid_config",
            Self::RemoteUnavailable { .. } => "remote_unavailable",
            Self::RemoteTooLarge { .. } => "remote_too_large",
            Self::LocalOnly { .. } => "local_only",
        }
    }

    /// The Python exception behind this error, if there is one.
    pub const fn python_exception(&self) -> Option<&PythonException> {
        match self {
            Self::Exception(e) | Self::ImportFailed { exception: e, .. } | Self::WarmupFailed { exception: e, .. } => {
                Some(e)
            }
            _ => None,
        }
    }
}

/// A Python exception, captured in the child with its formatted traceback.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PythonException {
    /// Qualified type name, e.g. `ValueError` or `mypkg.errors.RateLimited`.
    pub type_name: String,
    /// `str(exception)`.
    pub message: String,
    /// `traceback.format_exception(exception)`, joined: what Python itself would print.
    pub traceback: String,
}

impl fmt::Display for PythonException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str(&self.type_name)
        } else {
            write!(f, "{}: {}", self.type_name, self.message)
        }
    }
}

/// Why a remote call failed to reach its node (in [`PythonExecutionError::RemoteUnavailable`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteCause {
    /// No node answered a lookup of the name within the request timeout (or none serves it).
    #[error("no node serves the name")]
    NotFound,
    /// No reply came within the node builder's request timeout.
    #[error("no reply within {timeout:?}")]
    Timeout {
        /// The request timeout that elapsed.
        timeout: Duration,
    },
    /// The connection to the node closed or could not be opened.
    #[error("the connection to the node is lost")]
    ConnectionLost,
    /// This node did not start a swarm (`snake::remote::NodeBuilder::start`) before the call.
    #[error("this process has no remote node running")]
    NoNode,
    /// The node took the request but it failed in kameo's transport (the remote actor is not
    /// running any more, its mailbox is full, the message could not be decoded).
    #[error("the transport failed: {message}")]
    Transport {
        /// kameo's error, as text.
        message: String,
    },
    /// The hosting node serves as many streams as its `max_streams` allows; it refused another.
    #[error("the node serves {limit} streams already")]
    TooManyStreams {
        /// The host's `max_streams`.
        limit: usize,
    },
    /// The node failed earlier and no lookup has found the name again since.
    #[error("the node failed earlier and the name was not found again")]
    Down,
}

/// Which side of a call a conversion error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConversionDirection {
    /// The Rust request, converted to Python for the handler.
    Request,
    /// The handler's return value, converted back to the Rust reply type.
    Reply,
    /// A streamed item.
    StreamItem,
    /// A callback's argument or reply.
    Callback,
}

impl fmt::Display for ConversionDirection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Request => "request",
            Self::Reply => "reply",
            Self::StreamItem => "stream item",
            Self::Callback => "callback value",
        })
    }
}

/// Renders the stderr tail under an error message, or nothing when it is empty.
struct StderrTail<'a>(&'a [String]);

impl fmt::Display for StderrTail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        f.write_str("; last lines of its stderr:")?;
        for line in self.0 {
            write!(f, "\n  | {line}")?;
        }
        Ok(())
    }
}

impl From<IpcError> for PythonExecutionError {
    fn from(err: IpcError) -> Self {
        match err {
            IpcError::Protocol(err) => Self::Protocol(err),
            IpcError::HandshakeFailed { reason, stderr_tail } => Self::HandshakeFailed { reason, stderr_tail },
            IpcError::HandshakeTimedOut { timeout, stderr_tail } => Self::HandshakeTimedOut { timeout, stderr_tail },
            IpcError::SpawnFailed { program, message } => Self::SpawnFailed { program, message },
            IpcError::ChildExited { status, stderr_tail } => Self::ChildExited { status, stderr_tail },
            IpcError::CallTimedOut { timeout } => Self::CallTimedOut { timeout },
            IpcError::CallbackFailed { callback, message } => Self::CallbackFailed { callback, message },
            IpcError::Cancelled => Self::Cancelled,
            IpcError::Stopping => Self::ActorStopping,
            // `IpcError` is non-exhaustive: a failure this version does not know ends the call.
            _ => Self::Cancelled,
        }
    }
}

/// What a connection to a Python child carries in its error frames.
impl PeerError for PythonExecutionError {
    fn kind(&self) -> &'static str {
        Self::kind(self)
    }

    fn set_stderr_tail(&mut self, tail: Vec<String>) {
        if let Self::HandshakeFailed { stderr_tail, .. } = self {
            *stderr_tail = tail;
        }
    }
}

impl<M> From<kameo::error::SendError<M, PythonExecutionError>> for PythonExecutionError {
    /// Flattens a kameo `ask` failure: the handler's own error, or why the actor took no message.
    fn from(err: kameo::error::SendError<M, PythonExecutionError>) -> Self {
        use kameo::error::SendError;
        match err {
            SendError::HandlerError(err) => err,
            SendError::Timeout(_) => Self::Cancelled,
            SendError::ActorNotRunning(_)
            | SendError::ActorStopped
            | SendError::ActorRestarting(_)
            // An awaited `ask` waits for mailbox space, so a full mailbox means the same here.
            | SendError::MailboxFull(_) => Self::ActorStopped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_survive_the_wire() {
        let err = PythonExecutionError::ChildExited { status: ExitStatus::Signal(9), stderr_tail: vec!["boom".into()] };
        let bytes = postcard::to_stdvec(&err).expect("encodes");
        let back: PythonExecutionError = postcard::from_bytes(&bytes).expect("decodes");
        assert_eq!(back, err);
        assert_eq!(
            back.to_string(),
            "the python child exited (killed by signal 9); last lines of its stderr:\n  | boom"
        );
    }

    #[test]
    fn mismatch_message_says_both_sides() {
        let err = PythonExecutionError::HandlerMismatch {
            module: "m".into(),
            function: "f".into(),
            declared: HandlerMode::Async,
            actual: HandlerMode::Sync,
        };
        assert_eq!(err.to_string(), "`m.f` is a plain (sync) function but was declared as an `async def` function");
    }

    #[test]
    fn annotation_mismatch_names_both_types() {
        let err = PythonExecutionError::AnnotationMismatch {
            module: "quickstart".into(),
            function: "summarize".into(),
            what: "request".into(),
            declared: "Summarize".into(),
            annotated: "Tokenize".into(),
        };
        assert_eq!(
            err.to_string(),
            "quickstart.summarize annotates its request as `Tokenize`, but Rust declares `Summarize`"
        );
        assert_eq!(err.kind(), "annotation_mismatch");
    }
}
