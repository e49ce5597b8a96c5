//! The child process: its start and its end; where each frame goes is in [`dispatch`], the two
//! readers that take turns on the socket are in [`reading`].
//!
//! Threads, and what each may block on:
//! - a reader thread reads frames (blocking `read`, no GIL) and dispatches them: sync calls to the
//!   [`pool`], `async def` calls and cancels to the asyncio loop. A sync call that finds the pool
//!   idle, with nothing else read and waiting, runs *inline* on the reading thread instead (no
//!   hop to a worker): before running it, that thread lets go of the reading role, and the other
//!   of two reader threads takes it over as soon as a frame arrives ([`Reading`]:
//!   leader/follower, the follower woken through a one-shot `epoll` armed only while a job runs
//!   inline, and disarmed by its reply). So cancels, heartbeats and callback replies keep flowing
//!   while handlers run, on whichever thread reads. The main thread waits for the channel to
//!   end, and then shuts down (it reads itself when the child has no sync handlers: nothing runs
//!   inline then);
//! - the pool's workers run sync handlers with the GIL; its watchdog (which never takes the GIL)
//!   and interrupter (which takes it only while a cancelled handler runs) stop handlers whose calls
//!   were cancelled, and replace workers that do not stop;
//! - one thread runs the asyncio event loop for `async def` handlers; should it end, so does the
//!   child ([`LOOP_ENDED`]);
//! - one thread, started at the first GIL probe, acquires the GIL to answer it ([`probe`]);
//!   heartbeats are answered by the reader itself;
//! - one drainer thread writes frames out only when the socket buffer is full (see
//!   [`ChildWriter`]); every other write is a direct non-blocking `send` from the
//!   thread that produced the reply.

mod aio;
mod callback;
mod dispatch;
mod logs;
pub(crate) mod pool;
mod probe;
pub(crate) mod python;
mod reading;
mod spans;
pub(crate) mod startup;
mod stream;
mod truncate;

use std::collections::HashMap;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use pyo3::prelude::*;
use pyo3::types::{IntoPyDict, PyTuple};

use snake_ipc::handshake::write_welcome;
use snake_ipc::shm::{Arenas, FrameOut, release_frame};
use snake_ipc::writer::ChildWriter;

use crate::codec::{CallbackCodec, MethodCodec};
use crate::error::{ProtocolError, PythonExecutionError};
use crate::protocol::{
    FrameDecoder, FrameKind, HandlerMode, Header, Hello, WARMUP_METHOD, Welcome, WelcomePayload, encode_frame,
};
use crate::shared_bytes::with_source;

use self::aio::AsyncLoop;
use self::callback::{Callbacks, Waiter};
use self::pool::{Cancelled, Job, Slot, SyncPool};
use self::probe::GilProbe;
use self::reading::{Poll, Reading, lead_or_follow, start_readers};
use self::spans::{Phases, Spans};
use self::stream::SyncStream;

/// The child's exit code when it has lost as many sync workers as it has (workers that stayed on
/// a cancelled call, blocked in C code or ignoring `snake.Cancelled`): the parent's restart policy
/// gets a fresh process instead of a pool that can no longer run handlers.
pub(crate) const WORKERS_LOST: i32 = 70;

/// How long running calls may still finish once the child has decided to exit with
/// [`WORKERS_LOST`].
const LOST_GRACE: Duration = Duration::from_secs(2);

/// The child's exit code when its asyncio loop thread ends without a shutdown (an exception that
/// escaped the loop, a handler that stopped it): without the loop no `async` call could be
/// answered again, so the child ends and the parent's restart policy applies.
pub(crate) const LOOP_ENDED: i32 = 71;

/// Everything the child's threads share.
pub(crate) struct Child {
    /// The channel, for reading (the main thread) and for ending it.
    stream: UnixStream,
    /// Ordered writes to the channel, from every thread.
    writer: Arc<ChildWriter>,
    max_frame_size: usize,
    module: String,
    codecs: Vec<MethodCodec>,
    functions: Vec<(Py<PyAny>, HandlerMode)>,
    function_names: Vec<String>,
    callbacks: Callbacks,
    sync_streams: Mutex<HashMap<u64, Arc<SyncStream>>>,
    spans: Spans,
    /// The child is about to exit: new calls are not started.
    closing: AtomicBool,
    /// Run once by the [`WARMUP_METHOD`] call.
    warmup: Option<Lifecycle>,
    /// Run on a graceful shutdown, before the child exits.
    teardown: Option<Lifecycle>,
    gil_probe: GilProbe,
    /// The arenas that carry large frames, when the parent turned shared memory on.
    shm: Option<Arenas>,
    /// The standby reader's wake-up, once the readers are set up ([`Reading`]): an inline job
    /// disarms it as its reply goes out.
    standby: OnceLock<Arc<Poll>>,
}

/// A warmup or teardown function: called with no arguments, its result ignored.
struct Lifecycle {
    name: String,
    function: Py<PyAny>,
    mode: HandlerMode,
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Child").field("module", &self.module).finish_non_exhaustive()
    }
}

impl Child {
    /// Sends one encoded frame (or several back to back).
    pub(crate) fn send(&self, frame: &[u8]) {
        let shared = self.shm.as_ref().and_then(|shm| shm.offload(frame));
        self.writer.send(shared.as_deref().unwrap_or(frame));
    }

    /// Takes back what an encoded frame that will not be sent after all took in shared memory
    /// (its region, the loans of ranges it lent again).
    pub(crate) fn discard(&self, frame: &[u8]) {
        if let Some(shm) = &self.shm {
            shm.discard(frame);
        }
    }

    /// Sends an error frame for call `id`. An error too large for a frame (a huge message or
    /// traceback) has its strings cut to fit, so the call is answered all the same.
    pub(crate) fn send_error(&self, id: u64, err: &PythonExecutionError) {
        self.send_error_then(id, err, || ());
    }

    /// [`Child::send_error`], calling `before_send` once the frame is encoded.
    fn send_error_then(&self, id: u64, err: &PythonExecutionError, before_send: impl FnOnce()) {
        let mut buf = Vec::new();
        let header = Header::new(FrameKind::Error, id);
        if encode_frame(&mut buf, &header, err, self.max_frame_size).is_err() {
            let small = truncate::shrink(err, self.max_frame_size);
            if let Err(why) = encode_frame(&mut buf, &header, &small, self.max_frame_size) {
                eprintln!("snake child: the error of call {id} could not be sent ({why}): {}", small);
                before_send();
                return;
            }
        }
        before_send();
        self.send(&buf);
    }

    /// Converts a handler's return value and sends it as the reply to `id`.
    pub(crate) fn send_result(&self, py: Python<'_>, id: u64, method: u32, result: PyResult<Bound<'_, PyAny>>) {
        self.send_result_then(py, id, method, result, || ());
    }

    /// [`Child::send_result`], calling `before_send` once the reply is converted and encoded (no
    /// Python code runs for it after that).
    fn send_result_then(
        &self,
        py: Python<'_>,
        id: u64,
        method: u32,
        result: PyResult<Bound<'_, PyAny>>,
        before_send: impl FnOnce(),
    ) {
        let value = match result {
            Ok(value) => value,
            Err(err) => return self.send_error_then(id, &python::exception(py, &err), before_send),
        };
        if method == WARMUP_METHOD {
            // The warmup's reply is `()`, whatever the function returned.
            before_send();
            return self.send_control(FrameKind::Reply, id, 0);
        }
        let Some(codec) = self.codecs.get(method as usize) else {
            return self.send_error_then(id, &unknown_method(method), before_send);
        };
        let mut buf = Vec::with_capacity(128);
        let mut out =
            FrameOut::new(&mut buf, Header::new(FrameKind::Reply, id), self.max_frame_size, self.shm.as_ref());
        match (codec.reply_from_python)(&value, &mut out) {
            Ok(()) => {
                before_send();
                self.send(&buf);
            }
            Err(err) => self.send_error_then(id, &err, before_send),
        }
    }

    /// Converts the request of `job`; returns its Python function and the arguments to call it
    /// with: the request, or nothing for the warmup.
    pub(crate) fn convert<'py>(
        &self,
        py: Python<'py>,
        job: &Job,
    ) -> Result<(Bound<'py, PyAny>, Bound<'py, PyTuple>), PythonExecutionError> {
        if job.method == WARMUP_METHOD {
            let warmup = self.warmup.as_ref().ok_or_else(|| unknown_method(job.method))?;
            return Ok((warmup.function.bind(py).clone(), PyTuple::empty(py)));
        }
        let (codec, (function, _)) = self
            .codecs
            .get(job.method as usize)
            .zip(self.functions.get(job.method as usize))
            .ok_or_else(|| unknown_method(job.method))?;
        let arg = with_source(&job.body, || (codec.request_to_python)(py, &job.body))?;
        let args = PyTuple::new(py, [arg]).map_err(|err| python::exception(py, &err))?;
        Ok((function.bind(py).clone(), args))
    }

    /// Converts the request of `job` and calls its Python function.
    pub(crate) fn invoke<'py>(&self, py: Python<'py>, job: &Job) -> Result<Bound<'py, PyAny>, PythonExecutionError> {
        let (function, args) = self.convert(py, job)?;
        function.call1(args).map_err(|err| python::exception(py, &err))
    }

    /// The Python function name of a method, for spans.
    pub(crate) fn function_name(&self, method: u32) -> &str {
        if method == WARMUP_METHOD {
            return self.warmup.as_ref().map_or("?", |warmup| warmup.name.as_str());
        }
        self.function_names.get(method as usize).map_or("?", String::as_str)
    }

    /// How method `method` runs: its handler's mode, or the warmup's.
    fn mode(&self, method: u32) -> Option<HandlerMode> {
        if method == WARMUP_METHOD {
            return self.warmup.as_ref().map(|warmup| warmup.mode);
        }
        self.functions.get(method as usize).map(|(_, mode)| *mode)
    }

    /// Runs the teardown function, if there is one: a plain one on this thread, an `async def`
    /// one on the asyncio loop (this thread waits for it). What it raises is logged (through the
    /// forwarding handler, so it reaches the parent) and otherwise ignored.
    fn tear_down(&self, aio: Option<&AsyncLoop>) {
        let Some(teardown) = &self.teardown else { return };
        Python::attach(|py| {
            let function = teardown.function.bind(py);
            let ran = match (teardown.mode, aio.and_then(|aio| aio.event_loop(py))) {
                (HandlerMode::Async, Some(event_loop)) => function.call0().and_then(|coroutine| {
                    py.import("asyncio")?
                        .call_method1("run_coroutine_threadsafe", (coroutine, event_loop))?
                        .call_method0("result")
                }),
                _ => function.call0(),
            };
            if let Err(err) = ran {
                let logged = py.import("logging").and_then(|logging| {
                    let kwargs = [("exc_info", err.value(py))].into_py_dict(py)?;
                    logging.call_method1("getLogger", ("snake",))?.call_method(
                        "error",
                        ("teardown `%s.%s` raised", &self.module, &teardown.name),
                        Some(&kwargs),
                    )
                });
                if logged.is_err() {
                    eprintln!(
                        "snake child: teardown `{}.{}` raised {}",
                        self.module,
                        teardown.name,
                        python::capture(py, &err)
                    );
                }
            }
        });
    }

    fn run_sync(&self, py: Python<'_>, job: Job, slot: &Slot) {
        callback::with_current_call(job.id, || {
            if let Some(credit) = job.credit {
                return self.run_stream_sync(py, &job, credit, slot);
            }
            let traced = self.spans.begin(job.id, job.trace, job.received);
            let started = SystemTime::now();
            let (result, converted) = match self.convert(py, &job) {
                Ok((function, args)) => {
                    let converted = SystemTime::now();
                    let token = traced.as_ref().and_then(|traced| self.spans.attach(py, traced));
                    let result = slot.handler(py, job.id, || function.call1(args));
                    self.spans.detach(py, token);
                    (result.map_err(|err| handler_error(py, &err)), converted)
                }
                Err(err) => (Err(err), SystemTime::now()),
            };
            let executed = SystemTime::now();
            let error = result.as_ref().err().map(ToString::to_string);
            // An inline job stops counting as busy before its reply goes out: the next call,
            // which the reply may prompt at once, then finds the pool idle.
            match result {
                Ok(value) => self.send_result_then(py, job.id, job.method, Ok(value), || self.replying(slot)),
                Err(err) => self.send_error_then(job.id, &err, || self.replying(slot)),
            }
            if traced.is_some() {
                let phases = Phases { started, converted, executed, replied: SystemTime::now() };
                self.finish_trace(job.id, self.function_name(job.method), phases, error);
            }
        });
    }

    /// The reply of `slot`'s job is about to go out. For an inline job, the standby reader is
    /// disarmed too: the next call, which the reply may prompt before this thread is back to
    /// reading, then waits in the socket for this thread (a few system calls away, none of them
    /// blocking) instead of waking the standby, which would only find the reading role taken or
    /// read it with a hand-over of the GIL. Should the other reader run a job inline meanwhile,
    /// this thread is the one that reads next.
    fn replying(&self, slot: &Slot) {
        if slot.replying()
            && let Some(poll) = self.standby.get()
        {
            poll.disarm();
        }
    }

    fn sync_streams(&self) -> MutexGuard<'_, HashMap<u64, Arc<SyncStream>>> {
        self.sync_streams.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends a frame with no body (stream credit, cancel).
    pub(crate) fn send_control(&self, kind: FrameKind, id: u64, method: u32) {
        let mut buf = Vec::with_capacity(16);
        if encode_frame(&mut buf, &Header { kind, id, method, trace: None }, &(), self.max_frame_size).is_ok() {
            self.send(&buf);
        }
    }

    /// An event of a streaming callback: an item, its error, or its end (`None`).
    fn callback_stream_event(&self, aio: Option<&AsyncLoop>, id: u64, event: Option<callback::Outcome>) {
        let Some(inbox) = self.callbacks.stream(id) else { return };
        if let (Some(future), Some(aio)) = (inbox.push(event), aio) {
            aio.wake_stream(id, future);
        }
    }

    /// Hands a callback's reply (or failure) to whoever waits for it.
    fn resolve_callback(&self, aio: Option<&AsyncLoop>, id: u64, outcome: callback::Outcome) {
        match self.callbacks.take(id) {
            Some(Waiter::Blocking { tx, .. }) => {
                let _ = tx.send(outcome);
            }
            Some(Waiter::Future { future, index }) => {
                if let Some(aio) = aio {
                    aio.resolve(future, index, outcome);
                }
            }
            // The caller gave up (its task was cancelled); nothing waits.
            None => {}
        }
    }
}

/// A sync handler's exception as its call's error; the interrupt of a cancelled call is the
/// cancellation itself.
pub(crate) fn handler_error(py: Python<'_>, err: &PyErr) -> PythonExecutionError {
    if err.is_instance_of::<Cancelled>(py) { PythonExecutionError::Cancelled } else { python::exception(py, err) }
}

fn unknown_method(method: u32) -> PythonExecutionError {
    PythonExecutionError::Protocol(ProtocolError::Decode {
        kind: FrameKind::Call,
        message: format!("no method with index {method}"),
    })
}

/// Imports the module, answers the handshake, and serves calls until the parent goes away or
/// asks the child to shut down. Never returns.
pub(crate) fn serve(
    stream: UnixStream,
    shm: Option<Arenas>,
    hello: Hello,
    fingerprint: u64,
    codecs: Vec<MethodCodec>,
    callback_codecs: Vec<CallbackCodec>,
    named_callbacks: bool,
) -> ! {
    Python::initialize();
    startup::mark(startup::Step::Python);
    let max_frame_size = hello.max_frame_size as usize;
    let hello = hello.payload;
    // The parent queues callbacks beyond its limit; the child bounds how many may wait at all
    // (a runaway loop of callbacks), well above what the parent serves at once.
    let callbacks_waiting = (hello.max_callbacks_in_flight as usize).saturating_mul(16);
    let (info, loaded) = Python::attach(|py| {
        let info = python::child_info(py);
        let registered = callback::register_module(py).and_then(|()| {
            if named_callbacks { callback::register_named_callbacks(py, &callback_codecs) } else { Ok(()) }
        });
        let registered = registered.and_then(|()| logs::set_root_level(py, &hello.log_level));
        let loaded = if let Err(err) = registered {
            Err(python::exception(py, &err))
        } else if codecs.len() == hello.methods.len() {
            python::load(py, &hello.module, &hello.methods).and_then(|functions| {
                let lifecycle = |name: &Option<String>| {
                    name.as_ref()
                        .map(|name| {
                            python::load_lifecycle(py, &hello.module, name).map(|(function, mode)| Lifecycle {
                                name: name.clone(),
                                function,
                                mode,
                            })
                        })
                        .transpose()
                };
                Ok((functions, lifecycle(&hello.warmup)?, lifecycle(&hello.teardown)?))
            })
        } else {
            Err(PythonExecutionError::HandshakeFailed {
                reason: format!(
                    "the parent declared {} methods but the child's actor has {}",
                    hello.methods.len(),
                    codecs.len()
                ),
                stderr_tail: Vec::new(),
            })
        };
        (info, loaded)
    });
    let send_welcome = |stream: &UnixStream, outcome: Result<Vec<HandlerMode>, PythonExecutionError>| {
        // The welcome also carries the child's facts: the error gets half of the frame.
        let budget = max_frame_size / 2;
        let outcome = outcome
            .map(|modes| WelcomePayload { info: info.clone(), modes })
            .map_err(|err| if truncate::encoded_len(&err) > budget { truncate::shrink(&err, budget) } else { err });
        write_welcome(stream, &Welcome::new(fingerprint, outcome), max_frame_size)
    };
    let (functions, warmup, teardown) = match loaded {
        Ok(loaded) => loaded,
        Err(err) => {
            let _ = send_welcome(&stream, Err(err));
            exit(3)
        }
    };

    let writer = stream.try_clone().and_then(ChildWriter::start).unwrap_or_else(|err| {
        eprintln!("snake child: could not start the writer thread: {err}");
        exit(5);
    });
    let child = Arc::new(Child {
        stream,
        writer,
        max_frame_size,
        module: hello.module.clone(),
        codecs,
        function_names: hello.methods.iter().map(|m| m.function.clone()).collect(),
        functions,
        callbacks: Callbacks::new(callback_codecs, callbacks_waiting),
        sync_streams: Mutex::default(),
        spans: Python::attach(|py| Spans::new(py, hello.record_spans)),
        closing: AtomicBool::new(false),
        warmup,
        teardown,
        gil_probe: GilProbe::default(),
        shm,
        standby: OnceLock::new(),
    });
    if let Some(shm) = &child.shm {
        // The parent's frames we read are released back to it as their last bytes drop (for a
        // memoryview, when Python collects its last view).
        let writer = Arc::clone(&child.writer);
        shm.incoming.on_release(move |regions| writer.send(&release_frame(&regions)));
    }
    callback::install(&child);
    if let Err(err) = Python::attach(|py| logs::install(py, &child, &hello.log_level)) {
        // Not fatal: warnings and errors still reach stderr through `logging.lastResort`.
        eprintln!("snake child: python logging is not forwarded to the parent: {err}");
    }

    // Everything a call needs is started before the welcome: the parent sends no call to a child
    // that is not ready, and the first call does not wait for the event loop to start.
    let modes: Vec<HandlerMode> = child.functions.iter().map(|(_, mode)| *mode).collect();
    // The warmup runs where a handler of its mode would; an async teardown on the loop, a plain
    // one on this thread.
    let lifecycle_modes = child
        .warmup
        .iter()
        .map(|warmup| warmup.mode)
        .chain(child.teardown.iter().map(|teardown| teardown.mode).filter(|mode| *mode == HandlerMode::Async));
    let all_modes: Vec<HandlerMode> = modes.iter().copied().chain(lifecycle_modes).collect();
    let needs = |wanted: [HandlerMode; 2]| all_modes.iter().any(|mode| wanted.contains(mode));
    let aio = needs([HandlerMode::Async, HandlerMode::AsyncGenerator]).then(|| AsyncLoop::start(Arc::clone(&child)));
    let aio = match aio.transpose() {
        Ok(aio) => aio.map(Arc::new),
        Err(err) => {
            let failure = PythonExecutionError::HandshakeFailed {
                reason: format!("the child could not start its asyncio loop: {err}"),
                stderr_tail: Vec::new(),
            };
            let _ = send_welcome(&child.stream, Err(failure));
            exit(5)
        }
    };
    let pool = needs([HandlerMode::Sync, HandlerMode::Generator]).then(|| {
        let workers = usize::from(hello.sync_workers);
        let host = Arc::new(SyncHost { child: Arc::clone(&child), aio: aio.clone() });
        // As many lost workers as the pool has: by then it has spent a whole pool's worth of
        // threads on calls nobody waits for.
        SyncPool::start(workers, workers, host)
    });
    let pool = match pool.transpose() {
        Ok(pool) => pool.map(Arc::new),
        Err(err) => {
            let failure = PythonExecutionError::HandshakeFailed {
                reason: format!("the child could not start its sync workers: {err}"),
                stderr_tail: Vec::new(),
            };
            let _ = send_welcome(&child.stream, Err(failure));
            exit(5)
        }
    };
    startup::ready();
    if send_welcome(&child.stream, Ok(modes)).is_err() {
        exit(4);
    }

    let reading = Arc::new(Reading::new(&child, FrameDecoder::new(max_frame_size)));
    let readers = match (&pool, &reading.poll) {
        (Some(pool), Some(_)) => start_readers(&child, pool, aio.as_ref(), &reading),
        _ => 0,
    };
    if readers == 0 {
        lead_or_follow(&child, pool.as_deref(), aio.as_deref(), &reading, None);
    }
    let reason = reading.wait_for_end();
    match reason {
        Stop::Shutdown => {
            // Sync handlers still running finish first; the loop keeps running for an async
            // teardown, and is stopped after it.
            if let Some(pool) = &pool {
                pool.shutdown();
            }
            child.tear_down(aio.as_deref());
            if let Some(aio) = &aio {
                aio.stop();
            }
            Python::attach(|py| {
                // Give the user's atexit handlers and buffered output their chance, as a normal
                // interpreter exit would; failures here cannot be reported to anyone.
                let _ = py.import("atexit").and_then(|m| m.call_method0("_run_exitfuncs"));
                let _ = py.run(c"import sys; sys.stdout.flush(); sys.stderr.flush()", None, None);
            });
            child.flush();
            exit(0)
        }
        // The input was closed by a thread that is ending the child with its own exit code.
        Stop::ParentGone if child.closing.load(Ordering::Acquire) => loop {
            std::thread::park();
        },
        Stop::ParentGone => exit(0),
        Stop::Protocol(err) => {
            eprintln!("snake child: closing the channel after a protocol error: {err}");
            exit(2)
        }
    }
}

enum Stop {
    Shutdown,
    ParentGone,
    Protocol(ProtocolError),
}

/// The sync pool's view of the child.
struct SyncHost {
    child: Arc<Child>,
    aio: Option<Arc<AsyncLoop>>,
}

impl pool::Host for SyncHost {
    fn run(&self, py: Python<'_>, job: Job, slot: &Slot) {
        self.child.run_sync(py, job, slot);
    }

    fn interrupted(&self, id: u64) {
        self.child.callbacks.cancel_blocking(id);
    }

    fn workers_lost(&self, lost: usize, busy: &dyn Fn() -> usize) -> ! {
        self.child.closing.store(true, Ordering::Release);
        eprintln!(
            "snake child: {lost} sync worker(s) stayed on cancelled calls for over {:?} (blocked in C code, or \
             ignoring snake.Cancelled); exiting with code {WORKERS_LOST} so that the child can be replaced",
            pool::LOST_AFTER
        );
        let deadline = Instant::now() + LOST_GRACE;
        let running = || busy() + self.aio.as_ref().map_or(0, |aio| aio.running());
        while running() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.child.end(WORKERS_LOST)
    }
}

impl Child {
    /// Ends the child on its own initiative, from any thread: new calls are no longer started,
    /// the frames already queued go out, and none of the parent's is left unread (closing a socket
    /// with unread data makes the parent's next read fail with a reset instead of seeing the end
    /// of the stream and the exit status).
    pub(crate) fn end(&self, code: i32) -> ! {
        self.closing.store(true, Ordering::Release);
        let fd = self.stream.as_raw_fd();
        // SAFETY: `fd` is the open socket; `shutdown` makes the parent's later sends fail and
        // `recv` then drains what was queued before, into a buffer valid for its length.
        unsafe {
            libc::shutdown(fd, libc::SHUT_RD);
            let mut sink = [0u8; 16 * 1024];
            while libc::recv(fd, sink.as_mut_ptr().cast(), sink.len(), libc::MSG_DONTWAIT) > 0 {}
        }
        self.flush();
        exit(code)
    }

    /// Waits (briefly) until the writer thread has written out whatever is still queued.
    pub(crate) fn flush(&self) {
        self.writer.flush(std::time::Duration::from_secs(2));
    }
}

/// Ends the child without running Rust or Python finalisers on other threads, which could block
/// on a GIL or a lock held by a thread that will never run again.
pub(crate) fn exit(code: i32) -> ! {
    let _ = io::stderr().flush();
    // SAFETY: `_exit` ends the process immediately; nothing is touched afterwards.
    unsafe { libc::_exit(code) }
}
