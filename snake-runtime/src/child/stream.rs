//! Streaming handlers in the child: generators pulled only as far as the parent's credit allows.
//!
//! A sync generator runs on a pool worker, which takes one unit of credit before each `next()`
//! and waits, with the GIL released, when there is none. An async generator is driven on the
//! loop by [`DRIVER`], which awaits an `asyncio.Event` while out of credit. Either way a cancel
//! closes the generator, so its `finally` blocks run, and an exception ends the stream with one
//! error frame.

use std::ffi::CStr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use pyo3::ffi::c_str;
use pyo3::prelude::*;

use super::pool::{Job, Slot};
use super::spans::Phases;
use super::{Child, python};
use crate::error::{ConversionDirection, PythonExecutionError};
use crate::protocol::{FrameKind, Header, encode_frame};
use snake_ipc::shm::FrameOut;

/// Drives an async generator against a [`StreamSink`]'s credit: `drive(agen, sink)`, kept in
/// Python (typed and tested there) because asyncio's own cancellation semantics do most of it.
pub(crate) const DRIVER: &CStr = c_str!(include_str!("embedded/stream_driver.py"));

#[derive(Debug)]
struct Credit {
    available: u32,
    cancelled: bool,
}

/// Credit and cancellation of one sync generator.
#[derive(Debug)]
pub(crate) struct SyncStream {
    credit: Mutex<Credit>,
    changed: Condvar,
}

impl SyncStream {
    fn new(available: u32) -> Self {
        Self { credit: Mutex::new(Credit { available, cancelled: false }), changed: Condvar::new() }
    }

    fn lock(&self) -> MutexGuard<'_, Credit> {
        self.credit.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// More items may be produced.
    pub(crate) fn grant(&self, items: u32) {
        let mut credit = self.lock();
        credit.available = credit.available.saturating_add(items);
        drop(credit);
        self.changed.notify_one();
    }

    /// The consumer is gone.
    pub(crate) fn cancel(&self) {
        self.lock().cancelled = true;
        self.changed.notify_one();
    }

    /// Takes one unit of credit, waiting with the GIL released while there is none. `false` once
    /// the stream is cancelled.
    fn take(&self, py: Python<'_>) -> bool {
        let take = |credit: &mut Credit| -> Option<bool> {
            if credit.cancelled {
                Some(false)
            } else if credit.available > 0 {
                credit.available -= 1;
                Some(true)
            } else {
                None
            }
        };
        if let Some(go) = take(&mut self.lock()) {
            return go;
        }
        py.detach(|| {
            let mut credit = self.lock();
            loop {
                if let Some(go) = take(&mut credit) {
                    return go;
                }
                credit = self.changed.wait(credit).unwrap_or_else(PoisonError::into_inner);
            }
        })
    }
}

impl Child {
    /// Runs a sync generator handler for stream `job.id` on this worker thread.
    pub(crate) fn run_stream_sync(&self, py: Python<'_>, job: &Job, credit: u32, slot: &Slot) {
        let stream = Arc::new(SyncStream::new(credit));
        self.sync_streams().insert(job.id, Arc::clone(&stream));
        let traced = self.spans.begin(job.id, job.trace, job.received);
        let started = SystemTime::now();
        // The generator runs in the stream's span: its callbacks and Python spans are children.
        let token = traced.as_ref().and_then(|traced| self.spans.attach(py, traced));
        match self.invoke(py, job) {
            Err(err) => self.send_error(job.id, &err),
            Ok(generator) => self.pump(py, job, &stream, &generator, slot),
        }
        self.spans.detach(py, token);
        self.sync_streams().remove(&job.id);
        if traced.is_some() {
            let ended = SystemTime::now();
            let phases = Phases { started, converted: started, executed: ended, replied: ended };
            self.finish_trace(job.id, self.function_name(job.method), phases, None);
        }
    }

    fn pump(&self, py: Python<'_>, job: &Job, stream: &SyncStream, generator: &Bound<'_, PyAny>, slot: &Slot) {
        let close = || {
            if let Err(err) = generator.call_method0("close") {
                // The generator raised from its `finally`; nobody is left to tell but the log.
                tracing::warn!(error = %python::capture(py, &err), "closing a cancelled generator raised");
            }
        };
        let mut items = match generator.try_iter() {
            Ok(items) => items,
            Err(err) => return self.send_error(job.id, &python::exception(py, &err)),
        };
        loop {
            if !stream.take(py) {
                return close();
            }
            match slot.handler(py, job.id, || items.next()) {
                None => return self.send_end(job.id),
                Some(Err(err)) => return self.send_error(job.id, &super::handler_error(py, &err)),
                Some(Ok(item)) => {
                    if !self.send_item(job.id, job.method, &item) {
                        return close();
                    }
                }
            }
        }
    }

    /// Converts and sends one item of stream `id`; on a conversion error sends that error (which
    /// ends the stream) and returns `false`.
    pub(crate) fn send_item(&self, id: u64, method: u32, item: &Bound<'_, PyAny>) -> bool {
        let Some(codec) = self.codecs.get(method as usize) else { return false };
        let mut buf = Vec::with_capacity(128);
        let header = Header::new(FrameKind::StreamItem, id);
        let mut out = FrameOut::new(&mut buf, header, self.max_frame_size, self.shm.as_ref());
        match (codec.reply_from_python)(item, &mut out) {
            Ok(()) => {
                self.send(&buf);
                true
            }
            Err(PythonExecutionError::Conversion { error, .. }) => {
                let err = PythonExecutionError::Conversion { direction: ConversionDirection::StreamItem, error };
                self.send_error(id, &err);
                false
            }
            Err(err) => {
                self.send_error(id, &err);
                false
            }
        }
    }

    /// Ends stream `id`.
    pub(crate) fn send_end(&self, id: u64) {
        let mut buf = Vec::with_capacity(16);
        if encode_frame(&mut buf, &Header::new(FrameKind::StreamEnd, id), &(), self.max_frame_size).is_ok() {
            self.send(&buf);
        }
    }
}

/// The loop-side end of one async generator stream, handed to [`DRIVER`].
#[pyclass(frozen)]
pub(crate) struct StreamSink {
    id: u64,
    method: u32,
    child: Arc<Child>,
    credit: Mutex<u32>,
    event: Py<PyAny>,
}

impl StreamSink {
    pub(crate) fn new(py: Python<'_>, id: u64, method: u32, credit: u32, child: Arc<Child>) -> PyResult<Self> {
        let event = py.import("asyncio")?.call_method0("Event")?.unbind();
        Ok(Self { id, method, child, credit: Mutex::new(credit), event })
    }

    fn credit(&self) -> MutexGuard<'_, u32> {
        self.credit.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// More items may be produced (on the loop thread).
    pub(crate) fn grant(&self, py: Python<'_>, items: u32) -> PyResult<()> {
        let mut credit = self.credit();
        *credit = credit.saturating_add(items);
        drop(credit);
        self.event.bind(py).call_method0("set")?;
        Ok(())
    }
}

#[pymethods]
impl StreamSink {
    fn take(&self) -> bool {
        let mut credit = self.credit();
        let go = *credit > 0;
        if go {
            *credit -= 1;
        }
        go
    }

    fn wait<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let event = self.event.bind(py);
        event.call_method0("clear")?;
        event.call_method0("wait")
    }

    fn item(&self, item: &Bound<'_, PyAny>) -> bool {
        self.child.send_item(self.id, self.method, item)
    }

    fn end(&self) {
        self.child.send_end(self.id);
    }

    fn fail(&self, exc: &Bound<'_, PyAny>) {
        let err = PyErr::from_value(exc.clone());
        self.child.send_error(self.id, &python::exception(exc.py(), &err));
    }
}
