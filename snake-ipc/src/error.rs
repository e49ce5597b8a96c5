//! The failures the engine itself detects, and the trait that lets an upper layer carry them in
//! its own error type.

use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use crate::frame::ProtocolError;

/// How a child process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExitStatus {
    /// It exited with this code.
    Code(i32),
    /// It was killed by this signal.
    Signal(i32),
    /// Its status could not be collected (it has not been reaped yet, or waiting failed).
    Unknown,
}

impl ExitStatus {
    /// The status of a reaped process.
    pub fn from_std(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => Self::Code(code),
            (None, Some(signal)) => Self::Signal(signal),
            (None, None) => Self::Unknown,
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code(code) => write!(f, "exit code {code}"),
            Self::Signal(signal) => write!(f, "killed by signal {signal}"),
            Self::Unknown => f.write_str("status unknown"),
        }
    }
}

/// A failure the engine detects on its own: the child, the channel or the clock, never the code
/// the child runs. An upper layer converts it into its own error type (see [`PeerError`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum IpcError {
    /// The channel carried something that is not a valid frame; the child is stopped.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// The child answered the handshake, but not with what the parent needs.
    #[error("handshake with the child failed: {reason}")]
    HandshakeFailed {
        /// What did not match.
        reason: String,
        /// The last lines the child wrote to stderr.
        stderr_tail: Vec<String>,
    },
    /// The child did not complete the handshake in time.
    #[error("the child did not complete the handshake within {timeout:?}")]
    HandshakeTimedOut {
        /// The configured handshake timeout.
        timeout: Duration,
        /// The last lines the child wrote to stderr.
        stderr_tail: Vec<String>,
    },
    /// The child process could not be started at all.
    #[error("could not start the child `{program}`: {message}")]
    SpawnFailed {
        /// The program that was executed.
        program: String,
        /// The operating system's error.
        message: String,
    },
    /// The child exited (or was killed); every in-flight and later call fails with this.
    #[error("the child exited ({status})")]
    ChildExited {
        /// How it exited.
        status: ExitStatus,
        /// The last lines the child wrote to stderr.
        stderr_tail: Vec<String>,
    },
    /// The call did not complete within its timeout; the child was told to cancel it.
    #[error("the call did not complete within {timeout:?}")]
    CallTimedOut {
        /// The timeout that elapsed.
        timeout: Duration,
    },
    /// The call was cancelled (its caller went away, or the connection shut down).
    #[error("the call was cancelled")]
    Cancelled,
    /// The connection is shutting down: it admits no new call.
    #[error("the child is stopping and takes no new calls")]
    Stopping,
    /// A callback from the child could not be served: there is no handler, the call that made it
    /// is gone, or too many callbacks are in flight.
    #[error("callback `{callback}` failed: {message}")]
    CallbackFailed {
        /// The callback's name.
        callback: String,
        /// Why.
        message: String,
    },
    /// A health probe was refused: as many probes as the connection keeps track of are still
    /// unanswered (their callers neither got an answer nor gave up).
    #[error("{limit} health probes of the child are unanswered already")]
    TooManyProbes {
        /// The most probes a connection keeps outstanding.
        limit: usize,
    },
}

/// The error type a connection carries: what error frames hold in both directions, what the
/// child's welcome may refuse with, and what every call ends with when it fails. The engine makes
/// its own failures through `From<IpcError>`; everything else it passes through untouched.
pub trait PeerError:
    From<IpcError> + Serialize + DeserializeOwned + Clone + fmt::Debug + fmt::Display + Send + Sync + 'static
{
    /// A short, stable name for the failure, for metrics labels.
    fn kind(&self) -> &'static str;

    /// Fills in the stderr tail of a handshake failure (the engine's [`IpcError::HandshakeFailed`]
    /// or its equivalent) once the child has been reaped; other errors ignore it.
    fn set_stderr_tail(&mut self, tail: Vec<String>) {
        let _ = tail;
    }
}

impl PeerError for IpcError {
    fn kind(&self) -> &'static str {
        match self {
            Self::Protocol(_) => "protocol",
            Self::HandshakeFailed { .. } => "handshake_failed",
            Self::HandshakeTimedOut { .. } => "handshake_timed_out",
            Self::SpawnFailed { .. } => "spawn_failed",
            Self::ChildExited { .. } => "child_exited",
            Self::CallTimedOut { .. } => "call_timed_out",
            Self::Cancelled => "cancelled",
            Self::Stopping => "stopping",
            Self::CallbackFailed { .. } => "callback_failed",
            Self::TooManyProbes { .. } => "too_many_probes",
        }
    }

    fn set_stderr_tail(&mut self, tail: Vec<String>) {
        if let Self::HandshakeFailed { stderr_tail, .. } = self {
            *stderr_tail = tail;
        }
    }
}
