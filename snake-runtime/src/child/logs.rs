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
//! `logging` is not imported for this: with what it pulls in (`re`, `traceback`, `threading`) it
//! would cost a child's start 10 to 20 ms. The handler is attached when something imports
//! `logging` (a finder on `sys.meta_path` sees the import, [`AFTER_IMPORT`]), right after the
//! module ran and before the importing code goes on; or at once, when `logging` is already
//! imported. Until then `warnings.showwarning` forwards warnings itself, with the same fields;
//! `logging.captureWarnings(True)` takes over from it once `logging` is in.
//!
//! The user's module is imported during the handshake, before the handler is attached: records
//! logged at import time are not forwarded (those at `WARNING` and above still reach stderr
//! through `logging.lastResort`, and from there the parent's stderr pump). The root logger's level
//! is set as soon as `logging` is imported, though (or before the user's module, when it already
//! is), so a level the module sets for itself wins.
//!
//! Log frames do not answer a call, so they are not bounded by the in-flight window like every
//! other frame in the outbox: while the parent falls behind, at most [`BACKLOG_BUDGET`] bytes of
//! records are queued, later ones are dropped and counted, and the count is reported as one
//! warning once the channel has caught up. A logging call never blocks on the parent.

use std::ffi::CStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

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

/// Python's `logging.WARNING`, the level of forwarded warnings.
const WARNING: u32 = 30;

/// Calls a function right after a module's first import; see the file's docs.
const AFTER_IMPORT: &CStr = c_str!(include_str!("embedded/after_import.py"));

/// What is forwarded until `logging` is imported.
struct Pending {
    /// The root logger's level, set when `logging` is imported.
    level: u32,
    /// The forwarder, once the child is up: the handler is attached when `logging` is imported.
    forwarder: Option<Py<Forwarder>>,
}

/// Set while `logging` has not been imported yet (the import finder is armed).
static PENDING: Mutex<Option<Pending>> = Mutex::new(None);

fn pending() -> MutexGuard<'static, Option<Pending>> {
    PENDING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `logging`, if it has been imported. A module another thread is still running (importlib marks
/// its spec `_initializing`) counts as not yet imported: the finder fires when it is done.
fn imported_logging<'py>(py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
    let module = py.import("sys")?.getattr("modules")?.call_method1("get", ("logging",))?;
    if module.is_none() {
        return Ok(None);
    }
    let initializing = match module.getattr_opt("__spec__")? {
        Some(spec) if !spec.is_none() => {
            spec.getattr_opt("_initializing")?.is_some_and(|flag| flag.is_truthy().unwrap_or(false))
        }
        _ => false,
    };
    Ok((!initializing).then_some(module))
}

fn set_level(logging: &Bound<'_, PyAny>, level: u32) -> PyResult<()> {
    logging.call_method0("getLogger")?.call_method1("setLevel", (level,))?;
    Ok(())
}

/// Sets the root logger's level from the parent's log level: now if `logging` is imported, else
/// when it is. Called before the user's module is imported, so that whatever the module
/// configures for itself takes precedence.
pub(crate) fn set_root_level(py: Python<'_>, level: &str) -> PyResult<()> {
    let level = python_level(level);
    if let Some(logging) = imported_logging(py)? {
        return set_level(&logging, level);
    }
    *pending() = Some(Pending { level, forwarder: None });
    let arrived = pyo3::types::PyCFunction::new_closure(py, None, None, |args, _kwargs| {
        let logging = args.get_item(0)?;
        logging_imported(&logging)
    })?;
    let hook = PyModule::from_code(py, AFTER_IMPORT, c"<snake after_import>", c"_snake_after_import")?;
    hook.getattr("after_import")?.call1(("logging", arrived))?;
    Ok(())
}

/// `logging` was just imported: sets the root level and, if the child is up, attaches the handler.
fn logging_imported(logging: &Bound<'_, PyAny>) -> PyResult<()> {
    // The lock is let go at the end of this statement, before any Python runs.
    let Some(Pending { level, forwarder }) = pending().take() else { return Ok(()) };
    set_level(logging, level)?;
    match forwarder {
        Some(forwarder) => attach(logging, forwarder.bind(logging.py())),
        None => Ok(()),
    }
}

/// Forwards records (at `level` and above, whatever the loggers admit) and warnings: attaches the
/// handler to the root logger now if `logging` is imported, else when it is, forwarding warnings
/// directly until then.
pub(crate) fn install(py: Python<'_>, child: &Arc<Child>, level: &str) -> PyResult<()> {
    let forwarder = Forwarder {
        child: Arc::clone(child),
        level: python_level(level),
        queued: AtomicUsize::new(0),
        dropped: AtomicU64::new(0),
    };
    let forwarder = Bound::new(py, forwarder)?;
    if let Some(logging) = imported_logging(py)? {
        return attach(&logging, &forwarder);
    }
    // Warnings first: should `logging` arrive in between, `attach` puts Python's own back.
    py.import("warnings")?.setattr("showwarning", forwarder.getattr("show_warning")?)?;
    // No Python runs while the lock is held: the finder takes it with the GIL held.
    let stored = match pending().as_mut() {
        Some(pending) => {
            pending.forwarder = Some(forwarder.clone().unbind());
            true
        }
        None => false,
    };
    if !stored {
        // `logging` was imported meanwhile: the finder already fired, without a forwarder.
        return attach(py.import("logging")?.as_any(), &forwarder);
    }
    Ok(())
}

/// Attaches the handler to the root logger and routes warnings through `logging`.
fn attach(logging: &Bound<'_, PyAny>, forwarder: &Bound<'_, Forwarder>) -> PyResult<()> {
    let py = logging.py();
    let source = PyModule::from_code(py, HANDLER, c"<snake logging>", c"_snake_logging")?;
    let handler = source.getattr("SnakeHandler")?.call1((forwarder.get().level, forwarder))?;
    logging.call_method0("getLogger")?.call_method1("addHandler", (&handler,))?;
    // `logging` restores what it replaces once `captureWarnings(False)`: Python's own, not the
    // forwarder that stood in until now.
    let warnings = py.import("warnings")?;
    let standing_in = warnings
        .getattr("showwarning")
        .and_then(|show| show.getattr("__self__"))
        .is_ok_and(|owner| owner.is_instance_of::<Forwarder>());
    if standing_in {
        warnings.setattr("showwarning", warnings.getattr("_showwarning_orig")?)?;
    }
    logging.call_method1("captureWarnings", (true,))?;
    py.import("snake")?.setattr("log_handler", handler)?;
    Ok(())
}

/// The Rust end of the handler: builds the [`LogRecord`] and sends it.
#[pyclass(frozen)]
struct Forwarder {
    child: Arc<Child>,
    /// The handler's level, Python's number for the parent's log level.
    level: u32,
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

    /// `warnings.showwarning` until `logging` is imported: forwards the warning as
    /// `logging.captureWarnings` would, to the `py.warnings` logger at `WARNING`.
    #[pyo3(signature = (message, category, filename, lineno, file=None, line=None))]
    #[allow(clippy::too_many_arguments, reason = "the signature of warnings.showwarning")]
    fn show_warning(
        &self,
        py: Python<'_>,
        message: &Bound<'_, PyAny>,
        category: &Bound<'_, PyAny>,
        filename: &Bound<'_, PyAny>,
        lineno: i64,
        file: Option<&Bound<'_, PyAny>>,
        line: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        // Where `warnings` would print the warning, and its source line: nothing to print here.
        let _ = (file, line);
        if self.level > WARNING {
            return Ok(());
        }
        let category = category.getattr("__name__")?;
        let record = LogRecord {
            source: LogSource::Warning,
            level: WARNING,
            logger: "py.warnings".into(),
            message: format!("{}: {}", category.str()?.to_string_lossy(), message.str()?.to_string_lossy()),
            file: Some(filename.str()?.to_string_lossy().into_owned()),
            line: u32::try_from(lineno).ok().filter(|&line| line > 0),
            exception: None,
        };
        let call = callback::current_call(py).unwrap_or(0);
        self.forward(call, record);
        Ok(())
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
