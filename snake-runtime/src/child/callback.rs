//! The child's side of callbacks into Rust, and the runtime module Python code imports.
//!
//! Before the user's module is imported, the child registers a module named `snake` (and the
//! same object as `kameo`, the original name) in `sys.modules`, with:
//! - `callback_handle(msg)`: sends `msg` to the parent's callback handler. In a sync handler it
//!   blocks, with the GIL released, until the reply arrives; on the asyncio loop it returns an
//!   awaitable instead, so `await callback_handle(msg)` never blocks other handlers;
//! - `CallbackError`: raised when the Rust handler fails, is missing, or the call that made the
//!   callback was cancelled. Its message is the Rust error's message;
//! - `Cancelled` (a `BaseException`): raised in a sync handler whose call was cancelled (see
//!   [`pool`](super::pool)), also out of a blocking callback it was waiting on.
//!
//! Each callback carries the id of the call it was made from (a thread-local for sync handlers, a
//! context variable for async ones, so tasks the handler spawns inherit it); the parent refuses
//! callbacks of calls it no longer waits for.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use bytes::Bytes;
use pyo3::prelude::*;
use pyo3::types::PyModule;
use snake_ipc::shm::FrameOut;

use super::Child;
use super::pool::Cancelled;
use crate::codec::{CallbackCodec, CallbackHead};
use crate::error::PythonExecutionError;
use crate::protocol::{FrameKind, Header};
use crate::shared_bytes::with_source;

pyo3::create_exception!(
    snake,
    CallbackError,
    pyo3::exceptions::PyException,
    "A callback into Rust failed; the message is the Rust side's."
);

/// The result of a callback as the reader receives it.
pub(crate) type Outcome = Result<Bytes, PythonExecutionError>;

/// Who waits for a callback's reply.
pub(crate) enum Waiter {
    /// A sync handler blocked in `callback_handle`, serving call `origin`.
    Blocking { tx: std::sync::mpsc::SyncSender<Outcome>, origin: u64 },
    /// An asyncio future on the loop, resolved there.
    Future { future: Py<PyAny>, index: u32 },
}

/// The callback state of a child.
#[derive(Default)]
pub(crate) struct Callbacks {
    pub(crate) codecs: Vec<CallbackCodec>,
    waiters: Mutex<HashMap<u64, Waiter>>,
    streams: Mutex<HashMap<u64, Arc<Inbox>>>,
    next_id: AtomicU64,
    limit: usize,
}

impl Callbacks {
    pub(crate) fn new(codecs: Vec<CallbackCodec>, limit: usize) -> Self {
        Self {
            codecs,
            waiters: Mutex::default(),
            streams: Mutex::default(),
            next_id: AtomicU64::new(1),
            limit: limit.max(1),
        }
    }

    fn waiters(&self) -> MutexGuard<'_, HashMap<u64, Waiter>> {
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the waiter of callback `id`, if it still waits.
    pub(crate) fn take(&self, id: u64) -> Option<Waiter> {
        self.waiters().remove(&id)
    }

    /// Wakes the sync handler of call `origin` if it waits for a callback's reply: the call was
    /// cancelled, and the handler raises [`Cancelled`] instead of waiting on.
    pub(crate) fn cancel_blocking(&self, origin: u64) {
        let woken: Vec<Waiter> = self
            .waiters()
            .extract_if(|_, waiter| matches!(waiter, Waiter::Blocking { origin: o, .. } if *o == origin))
            .map(|(_, waiter)| waiter)
            .collect();
        for waiter in woken {
            if let Waiter::Blocking { tx, .. } = waiter {
                let _ = tx.send(Err(PythonExecutionError::Cancelled));
            }
        }
    }
}

thread_local! {
    /// The call a sync handler on this thread is serving (0 for none).
    static CURRENT_CALL: Cell<u64> = const { Cell::new(0) };
}

/// Runs `f` with `id` as the current call of this thread.
pub(crate) fn with_current_call<R>(id: u64, f: impl FnOnce() -> R) -> R {
    let previous = CURRENT_CALL.with(|c| c.replace(id));
    let result = f();
    CURRENT_CALL.with(|c| c.set(previous));
    result
}

/// What the asyncio side exposes to callbacks made on its thread.
pub(crate) struct LoopHandle {
    pub(crate) thread: std::thread::ThreadId,
    pub(crate) event_loop: Py<PyAny>,
    /// `contextvars.ContextVar` holding the current call id inside handler tasks.
    pub(crate) call_var: Py<PyAny>,
}

static CHILD: OnceLock<Arc<Child>> = OnceLock::new();
pub(crate) static LOOP: OnceLock<LoopHandle> = OnceLock::new();

/// Makes the child reachable from the module functions.
pub(crate) fn install(child: &Arc<Child>) {
    let _ = CHILD.set(Arc::clone(child));
}

/// Creates the `snake` runtime module and registers it (and its `kameo` alias) in `sys.modules`.
pub(crate) fn register_module(py: Python<'_>) -> PyResult<()> {
    let module = PyModule::new(py, "snake")?;
    module.add_function(wrap_pyfunction!(callback_handle, &module)?)?;
    module.add_function(wrap_pyfunction!(callback_stream, &module)?)?;
    module.add("CallbackError", py.get_type::<CallbackError>())?;
    module.add("Cancelled", py.get_type::<Cancelled>())?;
    module.add_class::<CallbackStreamIter>()?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    module.add("IN_CHILD", true)?;
    // `log_handler` is set when `logging` is first imported (see `logs`): asking for it first
    // imports `logging`.
    let getattr = pyo3::types::PyCFunction::new_closure(py, None, None, |args, _kwargs| {
        let py = args.py();
        let name = args.get_item(0)?;
        if name.eq("log_handler")? {
            py.import("logging")?;
            if let Some(handler) = py.import("snake")?.dict().get_item("log_handler")? {
                return Ok(handler.unbind());
            }
        }
        Err::<Py<PyAny>, _>(pyo3::exceptions::PyAttributeError::new_err(format!(
            "module 'snake' has no attribute {name}"
        )))
    })?;
    module.setattr("__getattr__", getattr)?;
    let modules = py.import("sys")?.getattr("modules")?;
    modules.set_item("snake", &module)?;
    modules.set_item("kameo", &module)?;
    Ok(())
}

/// Registers `snake_callbacks`: for each `#[snake::callback]`, `name(arg)` (blocking, for sync
/// handlers) and `name_async(arg)` (awaitable, for `async def` handlers).
pub(crate) fn register_named_callbacks(py: Python<'_>, codecs: &[CallbackCodec]) -> PyResult<()> {
    let module = PyModule::new(py, "snake_callbacks")?;
    for (index, codec) in codecs.iter().enumerate() {
        let index = u32::try_from(index).map_err(|_| CallbackError::new_err("too many callbacks"))?;
        let name = (codec.name)();
        let blocking = pyo3::types::PyCFunction::new_closure(py, None, None, move |args, _kwargs| {
            let py = args.py();
            let arg = args.get_item(0)?;
            call(py, index, &arg, Spelling::Blocking(name))
        })?;
        let awaitable = pyo3::types::PyCFunction::new_closure(py, None, None, move |args, _kwargs| {
            let py = args.py();
            let arg = args.get_item(0)?;
            call(py, index, &arg, Spelling::Awaitable(name))
        })?;
        module.add(name, blocking)?;
        module.add(format!("{name}_async"), awaitable)?;
    }
    py.import("sys")?.getattr("modules")?.set_item("snake_callbacks", module)?;
    Ok(())
}

/// How a callback was spelled in Python.
#[derive(Clone, Copy)]
enum Spelling {
    /// `callback_handle(msg)`: blocks in a sync handler, awaitable on the loop.
    Either,
    /// `name(arg)`: must not be used on the loop, where blocking would stall every handler.
    Blocking(&'static str),
    /// `name_async(arg)`: only on the loop, where the awaitable can be awaited.
    Awaitable(&'static str),
}

/// Sends `msg` to the parent's callback handler and returns its reply: directly in a sync
/// handler (blocking, GIL released), as an awaitable inside an `async def` handler.
#[pyfunction]
fn callback_handle(py: Python<'_>, msg: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    call(py, 0, msg, Spelling::Either)
}

fn call(py: Python<'_>, index: u32, msg: &Bound<'_, PyAny>, spelling: Spelling) -> PyResult<Py<PyAny>> {
    let child = CHILD.get().ok_or_else(|| CallbackError::new_err("the snake child is not serving yet"))?;
    let callbacks = &child.callbacks;
    let Some(codec) = callbacks.codecs.get(index as usize) else {
        return Err(CallbackError::new_err(if callbacks.codecs.is_empty() {
            "this actor declares no callbacks".to_owned()
        } else {
            format!("no callback with index {index}")
        }));
    };
    let on_loop = LOOP.get().filter(|l| l.thread == std::thread::current().id());
    match (spelling, on_loop.is_some()) {
        (Spelling::Blocking(name), true) => {
            return Err(CallbackError::new_err(format!(
                "`{name}(..)` would block the event loop: use `await {name}_async(..)` in async handlers"
            )));
        }
        (Spelling::Awaitable(name), false) => {
            return Err(CallbackError::new_err(format!(
                "`{name}_async(..)` needs a running snake event loop: use `{name}(..)` in sync handlers"
            )));
        }
        _ => {}
    }
    let origin = current_call(py)?;
    let id = callbacks.next_id.fetch_add(1, Ordering::Relaxed);
    let trace = child.spans.of(origin).map(|traced| traced.python_context());
    let header = Header { kind: FrameKind::Callback, id, method: index, trace };
    let mut frame = Unsent::new(child);
    let mut out = FrameOut::new(&mut frame.bytes, header, child.max_frame_size, child.shm.as_ref());
    (codec.arg_from_python)(msg, CallbackHead { origin, window: None }, &mut out)
        .map_err(|err| CallbackError::new_err(format!("callback `{}`: {err}", (codec.name)())))?;

    if let Some(handle) = on_loop {
        let future = handle.event_loop.bind(py).call_method0("create_future")?;
        register(callbacks, id, Waiter::Future { future: future.clone().unbind(), index })?;
        frame.send();
        return Ok(future.unbind());
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    register(callbacks, id, Waiter::Blocking { tx, origin })?;
    frame.send();
    let outcome = py.detach(move || rx.recv());
    match outcome {
        Ok(Err(PythonExecutionError::Cancelled)) => Err(Cancelled::new_err("the call was cancelled")),
        Ok(outcome) => reply_to_python(py, codec, outcome).map(Bound::unbind),
        Err(_) => Err(CallbackError::new_err("the parent went away before answering the callback")),
    }
}

/// A callback frame being encoded on this thread. Sent, it goes to the writer, which lets go of
/// the views it handed back (`snake_ipc::shm::handback`); dropped unsent (a conversion error, too
/// many callbacks in flight), it takes back what it took in shared memory (`Child::discard`: its
/// region, its loans) and lets go of those views itself.
struct Unsent<'a> {
    child: &'a Child,
    bytes: Vec<u8>,
}

impl<'a> Unsent<'a> {
    fn new(child: &'a Child) -> Self {
        Self { child, bytes: Vec::with_capacity(64) }
    }

    fn send(mut self) {
        self.child.send(&std::mem::take(&mut self.bytes));
    }
}

impl Drop for Unsent<'_> {
    fn drop(&mut self) {
        if !self.bytes.is_empty() {
            self.child.discard(&self.bytes);
        }
        snake_ipc::shm::handback::after_send();
    }
}

fn register(callbacks: &Callbacks, id: u64, waiter: Waiter) -> PyResult<()> {
    let mut waiters = callbacks.waiters();
    if waiters.len() >= callbacks.limit {
        return Err(CallbackError::new_err(format!("too many callbacks in flight (limit {})", callbacks.limit)));
    }
    waiters.insert(id, waiter);
    Ok(())
}

/// Converts a callback's outcome into the value or exception Python sees.
pub(crate) fn reply_to_python<'py>(
    py: Python<'py>,
    codec: &CallbackCodec,
    outcome: Outcome,
) -> PyResult<Bound<'py, PyAny>> {
    match outcome {
        Ok(body) => with_source(&body, || (codec.reply_to_python)(py, &body))
            .map_err(|err| CallbackError::new_err(err.to_string())),
        Err(PythonExecutionError::CallbackFailed { message, .. }) => Err(CallbackError::new_err(message)),
        Err(err) => Err(CallbackError::new_err(err.to_string())),
    }
}

/// Resolves an asyncio future with a callback's outcome (on the loop thread).
pub(crate) fn resolve_future(py: Python<'_>, future: &Bound<'_, PyAny>, index: u32, outcome: Outcome) -> PyResult<()> {
    if future.call_method0("done")?.is_truthy()? {
        // The awaiting task was cancelled meanwhile.
        return Ok(());
    }
    let Some(child) = CHILD.get() else { return Ok(()) };
    let Some(codec) = child.callbacks.codecs.get(index as usize) else { return Ok(()) };
    match reply_to_python(py, codec, outcome) {
        Ok(value) => future.call_method1("set_result", (value,))?,
        Err(err) => future.call_method1("set_exception", (err.value(py),))?,
    };
    Ok(())
}

/// Items of one streaming callback as they arrive from the parent, until its end.
pub(crate) struct Inbox {
    index: u32,
    state: Mutex<InboxState>,
    arrived: std::sync::Condvar,
}

#[derive(Default)]
struct InboxState {
    items: std::collections::VecDeque<Outcome>,
    ended: bool,
    consumed: u32,
    /// An `__anext__` future waiting on the loop for the next item.
    waiting: Option<Py<PyAny>>,
}

/// Items a streaming callback may send ahead of Python's consumption.
const CALLBACK_STREAM_WINDOW: u32 = 32;

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, InboxState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds an item, an error (`Err`, which ends the stream) or the end (`None`). Returns the
    /// future to wake on the loop, if an `async for` waits.
    pub(crate) fn push(&self, event: Option<Outcome>) -> Option<Py<PyAny>> {
        let mut state = self.lock();
        match event {
            Some(outcome) => {
                state.ended |= outcome.is_err();
                state.items.push_back(outcome);
            }
            None => state.ended = true,
        }
        let waiting = state.waiting.take();
        drop(state);
        self.arrived.notify_one();
        waiting
    }
}

impl Callbacks {
    fn streams(&self) -> MutexGuard<'_, HashMap<u64, Arc<Inbox>>> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The inbox of callback stream `id`, if Python still consumes it.
    pub(crate) fn stream(&self, id: u64) -> Option<Arc<Inbox>> {
        self.streams().get(&id).cloned()
    }
}

/// Starts a streaming callback: `for item in callback_stream(msg)` in a sync handler,
/// `async for item in callback_stream(msg)` in an `async def` one.
#[pyfunction]
pub(crate) fn callback_stream(py: Python<'_>, msg: &Bound<'_, PyAny>) -> PyResult<CallbackStreamIter> {
    let child = CHILD.get().ok_or_else(|| CallbackError::new_err("the snake child is not serving yet"))?;
    let callbacks = &child.callbacks;
    let index = 0;
    let Some(codec) = callbacks.codecs.get(index as usize) else {
        return Err(CallbackError::new_err("this actor declares no callbacks"));
    };
    let origin = current_call(py)?;
    let id = callbacks.next_id.fetch_add(1, Ordering::Relaxed);
    let trace = child.spans.of(origin).map(|traced| traced.python_context());
    let header = Header { kind: FrameKind::OpenCallbackStream, id, method: index, trace };
    let mut frame = Unsent::new(child);
    let mut out = FrameOut::new(&mut frame.bytes, header, child.max_frame_size, child.shm.as_ref());
    (codec.arg_from_python)(msg, CallbackHead { origin, window: Some(CALLBACK_STREAM_WINDOW) }, &mut out)
        .map_err(|err| CallbackError::new_err(format!("callback `{}`: {err}", (codec.name)())))?;
    let inbox = Arc::new(Inbox { index, state: Mutex::default(), arrived: std::sync::Condvar::new() });
    {
        let mut streams = callbacks.streams();
        if streams.len() + callbacks.waiters().len() >= callbacks.limit {
            return Err(CallbackError::new_err(format!("too many callbacks in flight (limit {})", callbacks.limit)));
        }
        streams.insert(id, Arc::clone(&inbox));
    }
    frame.send();
    Ok(CallbackStreamIter { id, inbox, child: Arc::clone(child) })
}

/// The call id of the handler running on this thread or task (0 for none).
pub(crate) fn current_call(py: Python<'_>) -> PyResult<u64> {
    match LOOP.get().filter(|l| l.thread == std::thread::current().id()) {
        Some(handle) => handle.call_var.bind(py).call_method1("get", (0,))?.extract::<u64>(),
        None => Ok(CURRENT_CALL.with(Cell::get)),
    }
}

/// The items of a streaming callback, for `for` and `async for`.
#[pyclass(frozen, module = "snake", name = "CallbackStream")]
pub(crate) struct CallbackStreamIter {
    id: u64,
    inbox: Arc<Inbox>,
    child: Arc<Child>,
}

impl CallbackStreamIter {
    fn on_loop() -> Option<&'static LoopHandle> {
        LOOP.get().filter(|l| l.thread == std::thread::current().id())
    }
}

/// Converts a taken item, returning credit to the parent in batches.
fn deliver<'py>(
    py: Python<'py>,
    child: &Child,
    id: u64,
    inbox: &Inbox,
    outcome: Outcome,
) -> PyResult<Bound<'py, PyAny>> {
    let codec = child.callbacks.codecs.get(inbox.index as usize).copied();
    let grant = {
        let mut state = inbox.lock();
        state.consumed += 1;
        (state.consumed >= CALLBACK_STREAM_WINDOW / 2 && !state.ended).then(|| std::mem::take(&mut state.consumed))
    };
    if let Some(credit) = grant {
        child.send_control(FrameKind::StreamCredit, id, credit);
    }
    match codec {
        Some(codec) => reply_to_python(py, &codec, outcome),
        None => Err(CallbackError::new_err("no callback codec")),
    }
}

/// Stops consuming stream `id`; the parent is told to drop it unless it already ended.
fn finish(child: &Child, id: u64, inbox: &Inbox) {
    let unfinished = {
        let mut state = inbox.lock();
        let unfinished = !state.ended;
        state.ended = true;
        unfinished
    };
    child.callbacks.streams().remove(&id);
    if unfinished {
        child.send_control(FrameKind::Cancel, id, 0);
    }
}

/// Completes an `__anext__` future with the next item, its error, or the end.
fn resolve(
    py: Python<'_>,
    child: &Child,
    id: u64,
    inbox: &Inbox,
    future: &Bound<'_, PyAny>,
    next: Option<Outcome>,
) -> PyResult<()> {
    if future.call_method0("done")?.is_truthy()? {
        return Ok(());
    }
    let result = match next {
        Some(outcome) => deliver(py, child, id, inbox, outcome),
        None => {
            finish(child, id, inbox);
            Err(pyo3::exceptions::PyStopAsyncIteration::new_err(()))
        }
    };
    match result {
        Ok(value) => future.call_method1("set_result", (value,))?,
        Err(err) => future.call_method1("set_exception", (err.value(py),))?,
    };
    Ok(())
}

/// Takes the next event of a stream, or parks `future` to be woken when one arrives.
fn next_or_park(inbox: &Inbox, future: &Bound<'_, PyAny>) -> Option<Option<Outcome>> {
    let mut state = inbox.lock();
    match state.items.pop_front() {
        Some(outcome) => Some(Some(outcome)),
        None if state.ended => Some(None),
        None => {
            state.waiting = Some(future.clone().unbind());
            None
        }
    }
}

#[pymethods]
impl CallbackStreamIter {
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        if Self::on_loop().is_some() {
            return Err(CallbackError::new_err("use `async for` over a callback stream inside async handlers"));
        }
        let next = py.detach(|| {
            let mut state = self.inbox.lock();
            loop {
                if let Some(outcome) = state.items.pop_front() {
                    return Some(outcome);
                }
                if state.ended {
                    return None;
                }
                state = self.inbox.arrived.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
        });
        match next {
            Some(outcome) => deliver(py, &self.child, self.id, &self.inbox, outcome).map(Some),
            None => {
                finish(&self.child, self.id, &self.inbox);
                Ok(None)
            }
        }
    }

    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let handle = Self::on_loop().ok_or_else(|| {
            CallbackError::new_err("`async for` over a callback stream needs the handler's event loop")
        })?;
        let future = handle.event_loop.bind(py).call_method0("create_future")?;
        if let Some(next) = next_or_park(&self.inbox, &future) {
            resolve(py, &self.child, self.id, &self.inbox, &future, next)?;
        }
        Ok(future)
    }

    /// Stops consuming: the parent drops the stream.
    fn close(&self) {
        finish(&self.child, self.id, &self.inbox);
    }

    /// `close` for `async` code (`await stream.aclose()`).
    fn aclose<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        finish(&self.child, self.id, &self.inbox);
        py.import("asyncio")?.call_method1("sleep", (0,))
    }
}

impl Drop for CallbackStreamIter {
    fn drop(&mut self) {
        finish(&self.child, self.id, &self.inbox);
    }
}

/// Wakes an `async for` waiting on the loop for callback stream `id` (on the loop thread).
pub(crate) fn wake_stream(py: Python<'_>, id: u64, future: &Bound<'_, PyAny>) -> PyResult<()> {
    let Some(child) = CHILD.get() else { return Ok(()) };
    let Some(inbox) = child.callbacks.stream(id) else {
        // Finished meanwhile: end the iteration.
        let end = pyo3::exceptions::PyStopAsyncIteration::new_err(());
        return future.call_method1("set_exception", (end.value(py),)).map(drop);
    };
    match next_or_park(&inbox, future) {
        Some(next) => resolve(py, child, id, &inbox, future, next),
        None => Ok(()),
    }
}
