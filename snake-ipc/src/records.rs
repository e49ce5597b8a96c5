//! What a child reports besides replies: log records and finished spans. Language-neutral; the
//! parent hands them to its [`Hooks`](crate::Hooks), which decide what they become.

use serde::{Deserialize, Serialize};

/// One line of output from the child: a log record, a warning, or a line of stdout/stderr.
/// Sent in a [`FrameKind::Log`](crate::FrameKind::Log) frame whose header id is the call it came
/// from (0 for none).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Where it came from.
    pub source: LogSource,
    /// Numeric level on Python's scale (`logging.INFO` is 20); warnings are 30.
    pub level: u32,
    /// The logger name (`"py.warnings"` for warnings).
    pub logger: String,
    /// The formatted message.
    pub message: String,
    /// Source file of the call that logged, if known.
    pub file: Option<String>,
    /// Line in that file.
    pub line: Option<u32>,
    /// The formatted traceback of an exception logged with it.
    pub exception: Option<String>,
}

/// What produced a [`LogRecord`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogSource {
    /// A logging record.
    Logging,
    /// A warning.
    Warning,
}

/// A span the child recorded, with the ids it propagated: the parent exports it as it is, so
/// the whole trace (callbacks and the child's own spans included) keeps consistent parent ids.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpanRecord {
    /// The trace it belongs to.
    pub trace_id: [u8; 16],
    /// Its own id.
    pub span_id: [u8; 8],
    /// Its parent's id.
    pub parent_span_id: [u8; 8],
    /// The span name.
    pub name: String,
    /// Start, in nanoseconds since the Unix epoch (both processes share the clock).
    pub start_unix_nanos: u64,
    /// End, likewise.
    pub end_unix_nanos: u64,
    /// Attributes.
    pub attributes: Vec<(String, String)>,
    /// The error message, when the span failed.
    pub error: Option<String>,
}
