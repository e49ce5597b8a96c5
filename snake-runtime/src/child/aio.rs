//! The asyncio event loop that runs `async def` handlers, on a thread of its own.
//!
//! The reader thread never takes the GIL to hand work over: it pushes commands onto a queue and
//! writes one byte to a pipe that the loop watches with `add_reader`, only when the loop is not
//! already due to drain. The loop drains every queued command in one callback, so a burst of
//! calls costs one wake-up.
//!
//! A handler task's first step runs as soon as the task is made, inside the drain
//! ([`first_step_now`]): a handler that returns without waiting replies there, with no further
//! turn of the loop.
//!
//! A handler's `SystemExit` or `KeyboardInterrupt` is that call's error. Raised in the first step,
//! the task records it and the reply reports it. Raised later, asyncio records it on the task and
//! then lets it escape `run_forever`, which is simply entered again, and the task's done-callback
//! reports it. If the loop thread ends for any other reason than the child's
//! shutdown, the child exits ([`LOOP_ENDED`]), so the parent sees it die and its restart policy
//! applies, instead of every later `async` call waiting for a loop that is gone.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::SystemTime;

use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PySystemExit};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{IntoPyDict, PyCFunction, PyModule, PyTuple};

use super::callback::{self, LoopHandle, Outcome};
use super::pool::Job;
use super::spans::Phases;
use super::stream::{DRIVER, StreamSink};
use super::{Child, LOOP_ENDED, python};
use crate::error::PythonExecutionError;

enum Command {
    Call(Job),
    Cancel(u64),
    Credit(u64, u32),
    Resolve { future: Py<PyAny>, index: u32, outcome: Outcome },
    WakeStream { id: u64, future: Py<PyAny> },
    Stop,
}

/// Handle to the loop thread, used by the reader.
pub(crate) struct AsyncLoop {
    state: Arc<LoopState>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct LoopState {
    commands: Mutex<VecDeque<Command>>,
    pending_wake: AtomicBool,
    /// The child is shutting down: the loop stopping is expected.
    stopping: AtomicBool,
    wake_read: OwnedFd,
    wake_write: OwnedFd,
    tasks: Mutex<HashMap<u64, Py<PyAny>>>,
    sinks: Mutex<HashMap<u64, Py<StreamSink>>>,
    event_loop: OnceLock<Py<PyAny>>,
    /// `contextvars.copy_context`, the call-id context variable, and the stream driver.
    helpers: OnceLock<Helpers>,
}

struct Helpers {
    copy_context: Py<PyAny>,
    call_var: Py<PyAny>,
    drive: Py<PyAny>,
}

impl LoopState {
    fn commands(&self) -> MutexGuard<'_, VecDeque<Command>> {
        self.commands.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn tasks(&self) -> MutexGuard<'_, HashMap<u64, Py<PyAny>>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sinks(&self) -> MutexGuard<'_, HashMap<u64, Py<StreamSink>>> {
        self.sinks.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl AsyncLoop {
    /// Starts the loop thread and waits until the loop is ready to take calls.
    pub(crate) fn start(child: Arc<Child>) -> io::Result<Self> {
        let (wake_read, wake_write) = pipe()?;
        let state = Arc::new(LoopState {
            commands: Mutex::new(VecDeque::new()),
            pending_wake: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            wake_read,
            wake_write,
            tasks: Mutex::new(HashMap::new()),
            sinks: Mutex::new(HashMap::new()),
            event_loop: OnceLock::new(),
            helpers: OnceLock::new(),
        });
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let thread_state = Arc::clone(&state);
        let thread = std::thread::Builder::new().name("snake-asyncio".into()).spawn(move || {
            let mut ready = Some(ready_tx);
            let ended = std::panic::catch_unwind(AssertUnwindSafe(|| {
                Python::attach(|py| {
                    run_loop(py, &thread_state, &child, &mut ready).map_err(|err| python::capture(py, &err).to_string())
                })
            }));
            if thread_state.stopping.load(Ordering::Acquire) {
                return;
            }
            let reason = match ended {
                Ok(Ok(())) => "it returned".to_owned(),
                Ok(Err(reason)) => reason,
                Err(_) => "it panicked".to_owned(),
            };
            if let Some(ready) = ready {
                // It never started: `start` reports why.
                let _ = ready.send(Err(reason));
                return;
            }
            eprintln!(
                "snake child: the asyncio loop ended without a shutdown ({reason}); exiting with code {LOOP_ENDED}"
            );
            child.end(LOOP_ENDED)
        })?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Self { state, thread: Mutex::new(Some(thread)) }),
            Ok(Err(message)) => Err(io::Error::other(message)),
            Err(_) => Err(io::Error::other("the asyncio thread ended before the loop started")),
        }
    }

    /// Handler tasks running now.
    pub(crate) fn running(&self) -> usize {
        self.state.tasks().len()
    }

    /// Starts `job` as a task on the loop.
    pub(crate) fn call(&self, job: Job) {
        self.push(Command::Call(job));
    }

    /// Starts `job` (with its initial credit) as an async generator stream on the loop.
    pub(crate) fn open_stream(&self, job: Job) {
        self.push(Command::Call(job));
    }

    /// Cancels the task of call or stream `id`, if it is still running.
    pub(crate) fn cancel(&self, id: u64) {
        self.push(Command::Cancel(id));
    }

    /// Lets stream `id` produce `items` more items.
    pub(crate) fn credit(&self, id: u64, items: u32) {
        self.push(Command::Credit(id, items));
    }

    /// Wakes an `async for` over callback stream `id`, on the loop.
    pub(crate) fn wake_stream(&self, id: u64, future: Py<PyAny>) {
        self.push(Command::WakeStream { id, future });
    }

    /// Completes a callback future with its outcome, on the loop.
    pub(crate) fn resolve(&self, future: Py<PyAny>, index: u32, outcome: Outcome) {
        self.push(Command::Resolve { future, index, outcome });
    }

    /// The event loop, once it runs.
    pub(crate) fn event_loop<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        self.state.event_loop.get().map(|event_loop| event_loop.bind(py).clone())
    }

    /// Cancels every task, stops the loop and joins its thread.
    pub(crate) fn stop(&self) {
        self.state.stopping.store(true, Ordering::Release);
        self.push(Command::Stop);
        let thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }

    fn push(&self, command: Command) {
        self.state.commands().push_back(command);
        if !self.state.pending_wake.swap(true, Ordering::AcqRel) {
            // A full pipe already means a wake-up is pending, so a failed write loses nothing.
            // SAFETY: the buffer is one valid byte and the fd is the pipe's open write end.
            let _ = unsafe { libc::write(self.state.wake_write.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
        }
    }
}

fn run_loop(
    py: Python<'_>,
    state: &Arc<LoopState>,
    child: &Arc<Child>,
    ready: &mut Option<std::sync::mpsc::Sender<Result<(), String>>>,
) -> PyResult<()> {
    let asyncio = py.import("asyncio")?;
    let event_loop = asyncio.call_method0("new_event_loop")?;
    asyncio.call_method1("set_event_loop", (&event_loop,))?;
    let drain_state = Arc::clone(state);
    let drain_child = Arc::clone(child);
    let drain = PyCFunction::new_closure(py, Some(c"snake_drain"), None, move |args, _kwargs| {
        drain(args.py(), &drain_state, &drain_child)
    })?;
    event_loop.call_method1("add_reader", (state.wake_read.as_raw_fd(), drain))?;
    let contextvars = py.import("contextvars")?;
    let call_var = contextvars.call_method1("ContextVar", ("snake_call_id",))?;
    let driver = PyModule::from_code(py, DRIVER, c"<snake stream driver>", c"_snake_stream_driver")?;
    let _ = state.helpers.set(Helpers {
        copy_context: contextvars.getattr("copy_context")?.unbind(),
        call_var: call_var.clone().unbind(),
        drive: driver.getattr("drive")?.unbind(),
    });
    let _ = callback::LOOP.set(LoopHandle {
        thread: std::thread::current().id(),
        event_loop: event_loop.clone().unbind(),
        call_var: call_var.unbind(),
    });
    let _ = state.event_loop.set(event_loop.clone().unbind());
    if let Some(ready) = ready.take() {
        let _ = ready.send(Ok(()));
    }
    loop {
        let ran = event_loop.call_method0("run_forever");
        if state.stopping.load(Ordering::Acquire) {
            break;
        }
        match ran {
            Err(err) if err.is_instance_of::<PySystemExit>(py) || err.is_instance_of::<PyKeyboardInterrupt>(py) => {
                report_escaped(py, state, &err);
            }
            Ok(_) => return Err(PyRuntimeError::new_err("the loop was stopped by something else than the child")),
            Err(err) => return Err(err),
        }
    }

    // Stopped: cancel what is left so `finally` blocks run, then close the loop.
    let tasks: Vec<Py<PyAny>> = state.tasks().drain().map(|(_, task)| task).collect();
    for task in &tasks {
        task.bind(py).call_method0("cancel")?;
    }
    if !tasks.is_empty() {
        let kwargs = [("return_exceptions", true)].into_py_dict(py)?;
        let gather = asyncio.call_method("gather", PyTuple::new(py, tasks)?, Some(&kwargs))?;
        event_loop.call_method1("run_until_complete", (gather,))?;
    }
    event_loop.call_method0("close")?;
    Ok(())
}

/// asyncio lets a `SystemExit` or `KeyboardInterrupt` escape `run_forever` after recording it on
/// the task that raised it, whose done-callback (still queued) reports it to the caller. Raised
/// anywhere else (a plain `call_soon` callback), nobody waits for it: it is only logged.
fn report_escaped(py: Python<'_>, state: &LoopState, err: &PyErr) {
    let value = err.value(py);
    let tasks: Vec<Py<PyAny>> = state.tasks().values().map(|task| task.clone_ref(py)).collect();
    let from_task = tasks.iter().any(|task| {
        let task = task.bind(py);
        let done = task.call_method0(intern!(py, "done")).and_then(|done| done.is_truthy()).unwrap_or(false);
        done && task.call_method0(intern!(py, "exception")).is_ok_and(|raised| raised.is(value))
    });
    if !from_task {
        eprintln!(
            "snake child: {} escaped the asyncio loop outside any handler; the loop goes on",
            python::capture(py, err)
        );
    }
}

/// Runs the queued commands. One that fails is reported and the others still run: a dropped
/// command would leave a call unstarted or a callback unanswered forever.
fn drain(py: Python<'_>, state: &Arc<LoopState>, child: &Arc<Child>) -> PyResult<()> {
    let mut sink = [0u8; 64];
    // A short read emptied the pipe (a writer only writes once `pending_wake` is cleared below),
    // so there is no second `read` to see `EAGAIN`.
    let full = sink.len() as isize;
    // SAFETY: `sink` is valid for its length and the fd is the pipe's open, non-blocking read end.
    while unsafe { libc::read(state.wake_read.as_raw_fd(), sink.as_mut_ptr().cast(), sink.len()) } == full {}
    state.pending_wake.store(false, Ordering::Release);
    let commands = std::mem::take(&mut *state.commands());
    let Some(event_loop) = state.event_loop.get() else { return Ok(()) };
    let event_loop = event_loop.bind(py);
    for command in commands {
        let (what, done) = match command {
            Command::Call(job) => {
                start_task(py, state, child, event_loop, job);
                continue;
            }
            Command::Cancel(id) => {
                let task = state.tasks().get(&id).map(|task| task.clone_ref(py));
                (
                    "cancelling a task",
                    task.map_or(Ok(()), |task| task.bind(py).call_method0(intern!(py, "cancel")).map(drop)),
                )
            }
            Command::Credit(id, items) => {
                let sink = state.sinks().get(&id).map(|sink| sink.clone_ref(py));
                ("granting stream credit", sink.map_or(Ok(()), |sink| sink.get().grant(py, items)))
            }
            Command::Resolve { future, index, outcome } => {
                ("resolving a callback", callback::resolve_future(py, future.bind(py), index, outcome))
            }
            Command::WakeStream { id, future } => {
                ("waking a callback stream", callback::wake_stream(py, id, future.bind(py)))
            }
            Command::Stop => ("stopping the loop", event_loop.call_method0("stop").map(drop)),
        };
        if let Err(err) = done {
            eprintln!("snake child: {what} on the asyncio loop failed: {}", python::capture(py, &err));
        }
    }
    Ok(())
}

fn start_task(py: Python<'_>, state: &Arc<LoopState>, child: &Arc<Child>, event_loop: &Bound<'_, PyAny>, job: Job) {
    let id = job.id;
    let Some(helpers) = state.helpers.get() else { return };
    let traced = child.spans.begin(id, job.trace, job.received);
    let started = SystemTime::now();
    let mut converted = started;
    let launched = (|| -> Result<Launched<'_>, PythonExecutionError> {
        let py_err = |err: PyErr| python::exception(py, &err);
        let coroutine = match job.credit {
            None => {
                let (function, args) = child.convert(py, &job)?;
                converted = SystemTime::now();
                function.call1(args).map_err(py_err)?
            }
            Some(credit) => {
                let produced = child.invoke(py, &job)?;
                let sink = Py::new(py, StreamSink::new(py, id, job.method, credit, Arc::clone(child)).map_err(py_err)?)
                    .map_err(py_err)?;
                state.sinks().insert(id, sink.clone_ref(py));
                helpers.drive.bind(py).call1((produced, sink)).map_err(py_err)?
            }
        };
        // The call id (and the trace) live in the task's context, so tasks the handler spawns
        // inherit them.
        let context = helpers.copy_context.bind(py).call0().map_err(py_err)?;
        let run = intern!(py, "run");
        context
            .call_method1(run, (helpers.call_var.bind(py).getattr(intern!(py, "set")).map_err(py_err)?, id))
            .map_err(py_err)?;
        if let Some((attach, (trace_id, span_id, flags))) =
            traced.as_ref().and_then(|traced| child.spans.attach_call(py, traced))
        {
            context.call_method1(run, (attach, trace_id, span_id, flags)).map_err(py_err)?;
        }
        let kwargs = [(intern!(py, "context"), context)].into_py_dict(py).map_err(py_err)?;
        let task = event_loop.call_method(intern!(py, "create_task"), (coroutine,), Some(&kwargs)).map_err(py_err)?;
        let done = TaskDone {
            id,
            method: job.method,
            stream: job.credit.is_some(),
            child: Arc::clone(child),
            state: Arc::clone(state),
            traced: traced.is_some(),
            started,
            converted,
        };
        if job.credit.is_none() && first_step_now(py, event_loop, &task) && is_done(&task) {
            return Ok(Launched::Finished(task, done));
        }
        task.call_method1(intern!(py, "add_done_callback"), (done,)).map_err(py_err)?;
        Ok(Launched::Running(task))
    })();
    match launched {
        Ok(Launched::Running(task)) => {
            state.tasks().insert(id, task.unbind());
        }
        Ok(Launched::Finished(task, done)) => done.finish(&task),
        Err(err) => {
            state.sinks().remove(&id);
            child.send_error(id, &err);
            if traced.is_some() {
                let now = SystemTime::now();
                let phases = Phases { started, converted: now, executed: now, replied: now };
                child.finish_trace(id, child.function_name(job.method), phases, Some(err.to_string()));
            }
        }
    }
}

/// A handler task, just created.
enum Launched<'py> {
    /// Still running: its done-callback replies.
    Running(Bound<'py, PyAny>),
    /// Done within its first step, which [`first_step_now`] ran: nobody has replied yet.
    Finished(Bound<'py, PyAny>, TaskDone),
}

/// Runs the first step of `task`, just created, now instead of on the loop's next turn; true if
/// it ran.
///
/// A handler that returns without waiting on anything (most do, or do so on their first step)
/// then replies at once, without the two more turns of the loop (each a `select` and a pass over
/// the ready queue) that its first step and its done-callback would take. The step is the task's
/// own, popped from the loop's ready queue, so it runs as the task would run it: in the task's
/// context, with `asyncio.current_task()` set. That queue is private to asyncio: if its last entry
/// is not this task's step (another Python version, or a thread scheduled something in between),
/// nothing is popped and the task runs as scheduled.
fn first_step_now(py: Python<'_>, event_loop: &Bound<'_, PyAny>, task: &Bound<'_, PyAny>) -> bool {
    let Ok(Some(step)) = scheduled_step(py, event_loop, task) else { return false };
    if step.ready.call_method0(intern!(py, "pop")).is_err() {
        return false;
    }
    // The step records whatever the handler raised on the task, and re-raises only `SystemExit`
    // and `KeyboardInterrupt` (which asyncio lets escape the loop); the task's result reports
    // those too, so they end this call only.
    if let Err(err) = step.context.call_method1(intern!(py, "run"), (step.callback,))
        && !is_done(task)
    {
        eprintln!("snake child: a handler task's first step failed: {}", python::capture(py, &err));
    }
    true
}

/// The first step of a task, as the loop's ready queue holds it.
struct Step<'py> {
    ready: Bound<'py, PyAny>,
    context: Bound<'py, PyAny>,
    callback: Bound<'py, PyAny>,
}

/// The task's first step, if it is the last entry of the loop's ready queue (and nothing else).
fn scheduled_step<'py>(
    py: Python<'py>,
    event_loop: &Bound<'py, PyAny>,
    task: &Bound<'py, PyAny>,
) -> PyResult<Option<Step<'py>>> {
    let ready = event_loop.getattr(intern!(py, "_ready"))?;
    let handle = ready.get_item(-1)?;
    let callback = handle.getattr(intern!(py, "_callback"))?;
    let ours = callback.getattr(intern!(py, "__self__"))?.is(task)
        && handle.getattr(intern!(py, "_args"))?.len()? == 0
        && !handle.getattr(intern!(py, "_cancelled"))?.is_truthy()?;
    if !ours {
        return Ok(None);
    }
    let context = handle.getattr(intern!(py, "_context"))?;
    Ok(Some(Step { ready, context, callback }))
}

fn is_done(task: &Bound<'_, PyAny>) -> bool {
    task.call_method0(intern!(task.py(), "done")).and_then(|done| done.is_truthy()).unwrap_or(false)
}

/// The done-callback of one handler task: sends its reply, error or cancellation. Stream tasks
/// have sent their items, end or error already; only their bookkeeping is left.
#[pyclass(frozen)]
struct TaskDone {
    id: u64,
    method: u32,
    stream: bool,
    child: Arc<Child>,
    state: Arc<LoopState>,
    traced: bool,
    started: SystemTime,
    converted: SystemTime,
}

#[pymethods]
impl TaskDone {
    fn __call__(&self, task: &Bound<'_, PyAny>) {
        self.finish(task);
    }
}

impl TaskDone {
    fn finish(&self, task: &Bound<'_, PyAny>) {
        let py = task.py();
        self.state.tasks().remove(&self.id);
        let cancelled = task.call_method0(intern!(py, "cancelled")).and_then(|c| c.is_truthy()).unwrap_or(false);
        if self.stream {
            self.state.sinks().remove(&self.id);
            let error = match task.call_method0(intern!(py, "result")) {
                Err(err) if !cancelled => {
                    let err = python::exception(py, &err);
                    self.child.send_error(self.id, &err);
                    Some(err.to_string())
                }
                _ => None,
            };
            if self.traced {
                let ended = SystemTime::now();
                let phases =
                    Phases { started: self.started, converted: self.converted, executed: ended, replied: ended };
                self.child.finish_trace(self.id, self.child.function_name(self.method), phases, error);
            }
            return;
        }
        let executed = SystemTime::now();
        let error = if cancelled {
            self.child.send_error(self.id, &PythonExecutionError::Cancelled);
            Some(PythonExecutionError::Cancelled.to_string())
        } else {
            let result = task.call_method0(intern!(py, "result"));
            let error = result.as_ref().err().map(|err| python::capture(py, err).to_string());
            self.child.send_result(py, self.id, self.method, result);
            error
        };
        if self.traced {
            let phases =
                Phases { started: self.started, converted: self.converted, executed, replied: SystemTime::now() };
            self.child.finish_trace(self.id, self.child.function_name(self.method), phases, error);
        }
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors `pipe2` writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `pipe2` succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}
