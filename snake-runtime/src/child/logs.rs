//! Python `logging` records and warnings, forwarded to the parent as [`LogRecord`] frames.
//!
//! One handler, [`HANDLER`], sits on the root logger; its `emit` hands each record to
//! [`Forwarder`], which sends it with the id of the call that logged it (so the parent can attach
//! the event to that request's span). `logging.captureWarnings(True)` routes `warnings.warn`
//! through the `py.warnings` logger, so warnings take the same path.
//!
//! Nothing in `logging` is patched: the user's own handlers, levels and filters keep working, and
//! the handler is also exposed as `snake.log_handler` for code that rebuilds the logging
//! configuration (`dictConfig`, `basicConfig(force=True)`) and wants to keep forwarding.
//!
//! The user's module is imported during the handshake, before the handler is attached: records
//! logged at import time are not forwarded (those at `WARNING` and above still reach stderr
//! through `logging.lastResort`, and from there the parent's stderr pump). The root logger's level
//! is set before the import, though, so a level the module sets for itself wins.
//!
//! Log frames do not answer a call, so they are not bounded by the in-flight window like every
//! other frame in the outbox: while the parent falls behind, at most [`BACKLOG_BUDGET`] bytes of
//! records are queued, later ones are dropped and counted, and the count is reported as one
//! warning once the channel has caught up. A logging call never blocks on the parent.

use std::ffi::CStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use pyo3::ffi::c_str;
use pyo3::prelude::*;
use pyo3::types::{PyModule, PyString};

use super::{Child, callback};
use crate::protocol::{FrameKind, Header, LogRecord, LogSource, encode_frame};

/// Most bytes of log frames queued behind a busy writer before records are dropped.
const BACKLOG_BUDGET: usize = 8 << 20;

/// The handler class, `SnakeHandler(level, forward)`. Kept in Python: it is `logging`'s own protocol
/// (`emit`, `handleError`), and extracting the record's fields there costs no more than doing it
/// through pyo3.
const HANDLER: &CStr = c_str!(include_str!("embedded/log_forwarder.py"));

/// Python's numeric level for a `tracing` level name (as the parent sends it in the hello).
fn python_level(level: &str) -> u32 {
    match level.to_ascii_uppercase().as_str() {
        "TRACE" | "DEBUG" => 10,
        "WARN" | "WARNING" => 30,
        "ERROR" => 40,
        _ => 20,
    }
}

/// Sets the root logger's level from the parent's log level. Called before the user's module is
/// imported, so that whatever the module configures for itself takes precedence.
pub(crate) fn set_root_level(py: Python<'_>, level: &str) -> PyResult<()> {
    py.import("logging")?.call_method0("getLogger")?.call_method1("setLevel", (python_level(level),))?;
    Ok(())
}

/// Attaches the forwarding handler to the root logger, at `level` (records below it are not sent
/// whatever the loggers admit), and captures warnings.
pub(crate) fn install(py: Python<'_>, child: &Arc<Child>, level: &str) -> PyResult<()> {
    let logging = py.import("logging")?;
    let source = PyModule::from_code(py, HANDLER, c"<snake logging>", c"_snake_logging")?;
    let forwarder = Forwarder { child: Arc::clone(child), queued: AtomicUsize::new(0), dropped: AtomicU64::new(0) };
    let handler = source.getattr("SnakeHandler")?.call1((python_level(level), forwarder))?;
    logging.call_method0("getLogger")?.call_method1("addHandler", (&handler,))?;
    logging.call_method1("captureWarnings", (true,))?;
    py.import("snake")?.setattr("log_handler", handler)?;
    Ok(())
}

/// The Rust end of the handler: builds the [`LogRecord`] and sends it.
#[pyclass(frozen)]
struct Forwarder {
    child: Arc<Child>,
    /// Bytes of log frames pushed since the writer last had nothing queued.
    queued: AtomicUsize,
    /// Records dropped since then.
    dropped: AtomicU64,
}

#[pymethods]
impl Forwarder {
    #[allow(clippy::too_many_arguments, reason = "the fields of one logging.LogRecord, passed positionally")]
    fn __call__(
        &self,
        py: Python<'_>,
        level: i64,
        logger: &Bound<'_, PyString>,
        message: &Bound<'_, PyString>,
        file: &Bound<'_, PyAny>,
        line: i64,
        exception: Option<&Bound<'_, PyString>>,
        warning: bool,
    ) {
        let record = LogRecord {
            source: if warning { LogSource::Warning } else { LogSource::Logging },
            level: u32::try_from(level.max(0)).unwrap_or(u32::MAX),
            logger: logger.to_string_lossy().into_owned(),
            message: message.to_string_lossy().into_owned(),
            file: if file.is_none() { None } else { file.str().ok().map(|f| f.to_string_lossy().into_owned()) },
            line: u32::try_from(line).ok().filter(|&line| line > 0),
            exception: exception.map(|e| e.to_string_lossy().into_owned()),
        };
        // A lookup failure only loses the correlation, never the record.
        let call = callback::current_call(py).unwrap_or(0);
        self.forward(call, record);
    }
}

impl Forwarder {
    fn forward(&self, call: u64, mut record: LogRecord) {
        let mut frame = Vec::with_capacity(128 + record.message.len());
        let header = Header::new(FrameKind::Log, call);
        if encode_frame(&mut frame, &header, &record, self.child.max_frame_size).is_err() {
            // Too large for a frame: keep the start of the long parts.
            let keep = self.child.max_frame_size / 4;
            truncate(&mut record.message, keep);
            if let Some(exception) = &mut record.exception {
                truncate(exception, keep);
            }
            truncate(&mut record.logger, keep / 4);
            if let Some(file) = &mut record.file {
                truncate(file, keep / 4);
            }
            if encode_frame(&mut frame, &header, &record, self.child.max_frame_size).is_err() {
                return;
            }
        }
        if self.admit(frame.len()) {
            self.child.send(&frame);
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether a log frame of `len` bytes fits in the budget; reports earlier drops once the
    /// writer has caught up.
    fn admit(&self, len: usize) -> bool {
        if !self.child.writer.is_idle() {
            return self.queued.fetch_add(len, Ordering::Relaxed).saturating_add(len) <= BACKLOG_BUDGET;
        }
        self.queued.store(len, Ordering::Relaxed);
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let notice = LogRecord {
                source: LogSource::Logging,
                level: 30,
                logger: "snake".into(),
                message: format!(
                    "{dropped} log records were dropped: the parent did not read them as fast as they were written"
                ),
                file: None,
                line: None,
                exception: None,
            };
            let mut frame = Vec::with_capacity(160);
            if encode_frame(&mut frame, &Header::new(FrameKind::Log, 0), &notice, self.child.max_frame_size).is_ok() {
                self.child.send(&frame);
            }
        }
        true
    }
}

/// Cuts `text` to at most `max` bytes (on a character boundary), marking the cut.
fn truncate(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str("… [truncated]");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracing_level_names_map_to_python_levels() {
        for (name, level) in [("TRACE", 10), ("DEBUG", 10), ("INFO", 20), ("WARN", 30), ("ERROR", 40), ("info", 20)] {
            assert_eq!(python_level(name), level, "{name}");
        }
    }

    #[test]
    fn truncation_keeps_a_char_boundary_and_marks_the_cut() {
        let mut text = "ééééé".to_owned();
        truncate(&mut text, 3);
        assert_eq!(text, "é… [truncated]");
        let mut short = "abc".to_owned();
        truncate(&mut short, 3);
        assert_eq!(short, "abc");
    }
}
