//! Spans the child records for traced calls (see `crate::trace` for the whole design).
//!
//! A call is traced when its frame carries a trace context and the parent asked for spans. The
//! child then generates ids for two spans up front: `snake.dispatch` (a child of the caller's
//! span) and `snake.python` (a child of dispatch), so that callbacks made during the call and
//! Python's own OpenTelemetry spans can name `snake.python` as their parent while it runs. When
//! the call ends, the finished spans (with the two conversion steps) go to the parent in one
//! frame.

use std::cell::Cell;
use std::collections::HashMap;
use std::ffi::CStr;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use pyo3::ffi::c_str;
use pyo3::prelude::*;

use super::Child;
use crate::protocol::{FrameKind, Header, SpanRecord, TraceContext, encode_frame};

/// `attach(trace_id, span_id, flags)` and `detach(token)`: set Python's OpenTelemetry context to a
/// remote span, when the package is installed.
const OTEL: &CStr = c_str!(include_str!("embedded/span_context.py"));

/// The ids and start of one traced call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Traced {
    trace_id: [u8; 16],
    caller: [u8; 8],
    dispatch: [u8; 8],
    python: [u8; 8],
    flags: u8,
    received: SystemTime,
}

impl Traced {
    /// The context callbacks and Python code made during the call run under.
    pub(crate) fn python_context(&self) -> TraceContext {
        TraceContext { trace_id: self.trace_id, span_id: self.python, flags: self.flags }
    }
}

/// When each step of a call ended, for its spans.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Phases {
    pub(crate) converted: SystemTime,
    pub(crate) executed: SystemTime,
    pub(crate) replied: SystemTime,
    pub(crate) started: SystemTime,
}

/// Traced calls in flight, and Python's OpenTelemetry hooks.
#[derive(Default)]
pub(crate) struct Spans {
    enabled: bool,
    active: Mutex<HashMap<u64, Traced>>,
    otel: Option<(Py<PyAny>, Py<PyAny>)>,
}

impl Spans {
    pub(crate) fn new(py: Python<'_>, enabled: bool) -> Self {
        let otel = enabled
            .then(|| PyModule::from_code(py, OTEL, c"<snake otel>", c"_snake_otel").ok())
            .flatten()
            .and_then(|module| {
                let attach = module.getattr("attach").ok()?.unbind();
                let detach = module.getattr("detach").ok()?.unbind();
                Some((attach, detach))
            });
        Self { enabled, active: Mutex::default(), otel }
    }

    fn active(&self) -> MutexGuard<'_, HashMap<u64, Traced>> {
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts tracing call `id` if its frame carried a context.
    pub(crate) fn begin(&self, id: u64, trace: Option<TraceContext>, received: SystemTime) -> Option<Traced> {
        let trace = trace.filter(|_| self.enabled)?;
        let traced = Traced {
            trace_id: trace.trace_id,
            caller: trace.span_id,
            dispatch: span_id(),
            python: span_id(),
            flags: trace.flags,
            received,
        };
        self.active().insert(id, traced);
        Some(traced)
    }

    /// The trace of call `id`, while it runs.
    pub(crate) fn of(&self, id: u64) -> Option<Traced> {
        if !self.enabled || id == 0 {
            return None;
        }
        self.active().get(&id).copied()
    }

    /// Makes `traced`'s Python span the current OpenTelemetry context; returns the token.
    pub(crate) fn attach<'py>(&self, py: Python<'py>, traced: &Traced) -> Option<Bound<'py, PyAny>> {
        let (attach, _) = self.otel.as_ref()?;
        let args = (u128::from_be_bytes(traced.trace_id), u64::from_be_bytes(traced.python), traced.flags);
        attach.bind(py).call1(args).ok()
    }

    /// The arguments that make a context current inside an asyncio task's context.
    pub(crate) fn attach_call<'py>(
        &self,
        py: Python<'py>,
        traced: &Traced,
    ) -> Option<(Bound<'py, PyAny>, (u128, u64, u8))> {
        let (attach, _) = self.otel.as_ref()?;
        Some((
            attach.bind(py).clone(),
            (u128::from_be_bytes(traced.trace_id), u64::from_be_bytes(traced.python), traced.flags),
        ))
    }

    /// Undoes [`attach`](Self::attach).
    pub(crate) fn detach(&self, py: Python<'_>, token: Option<Bound<'_, PyAny>>) {
        if let (Some((_, detach)), Some(token)) = (&self.otel, token) {
            let _ = detach.bind(py).call1((token,));
        }
    }
}

impl Child {
    /// Ends the trace of call `id` and sends its spans.
    pub(crate) fn finish_trace(&self, id: u64, function: &str, phases: Phases, error: Option<String>) {
        let Some(traced) = self.spans.active().remove(&id) else { return };
        let record =
            |span_id, parent, name: String, start: SystemTime, end: SystemTime, error: Option<String>| SpanRecord {
                trace_id: traced.trace_id,
                span_id,
                parent_span_id: parent,
                name,
                start_unix_nanos: nanos(start),
                end_unix_nanos: nanos(end.max(start)),
                attributes: vec![
                    ("snake.function".to_owned(), function.to_owned()),
                    ("snake.call_id".to_owned(), id.to_string()),
                    ("process.pid".to_owned(), std::process::id().to_string()),
                ],
                error,
            };
        let spans = vec![
            record(traced.dispatch, traced.caller, "snake.dispatch".into(), traced.received, phases.replied, None),
            record(span_id(), traced.dispatch, "snake.convert.request".into(), phases.started, phases.converted, None),
            record(
                traced.python,
                traced.dispatch,
                format!("snake.python {function}"),
                phases.converted,
                phases.executed,
                error,
            ),
            record(span_id(), traced.dispatch, "snake.convert.reply".into(), phases.executed, phases.replied, None),
        ];
        let mut buf = Vec::with_capacity(512);
        if encode_frame(&mut buf, &Header::new(FrameKind::Spans, id), &spans, self.max_frame_size).is_ok() {
            self.send(&buf);
        }
    }
}

fn nanos(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

thread_local! {
    static STATE: Cell<u64> = Cell::new({
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(nanos(SystemTime::now()));
        hasher.finish() | 1
    });
}

/// A random, non-zero span id (xorshift64*, seeded per thread from the std hasher's keys).
fn span_id() -> [u8; 8] {
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d).max(1).to_be_bytes()
    })
}
