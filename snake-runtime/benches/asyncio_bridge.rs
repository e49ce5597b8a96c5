//! asyncio bridge benchmark: what it costs to hand a coroutine call to an asyncio loop running on
//! a thread of its own and get its result back in Rust, done as snake's child does it and done
//! with `pyo3-async-runtimes`.
//!
//! Both bridges run in this one process, with CPython embedded, against the same handler
//! (`async def echo(x): return x`), called with an integer from a task spawned on a tokio
//! multi-thread runtime, each with a loop thread of its own:
//!
//! - **pipe**: snake's way (`src/child/aio.rs`, without its tracing and context variables). The
//!   caller queues the call under a lock and writes one byte to a pipe the loop watches with
//!   `add_reader`, only when no wake-up is already due; the loop's reader callback drains every
//!   queued call, creates a task per call and gives it a done-callback that sends the result
//!   (already converted to Rust) through a oneshot channel. The caller never takes the GIL.
//! - **pyo3-async-runtimes**: `pyo3_async_runtimes::tokio::into_future` inside
//!   `pyo3_async_runtimes::tokio::scope` with `TaskLocals` naming the loop thread's loop (which
//!   is `into_future_with_locals`). The caller takes the GIL to create the coroutine and hand it
//!   over with `call_soon_threadsafe` (one write to the loop's self-pipe per call); a task and a
//!   done-callback complete a oneshot channel with the Python result, and the caller takes the
//!   GIL again to convert it.
//!
//! Each is measured sequentially (p50, p99, and calls/s) and with 256 calls in flight, refilled as
//! answers arrive (p50 and p99 of each call's time from submission to result, and calls/s). As in
//! the `roundtrip` bench, the suite runs unpinned and then again pinned to CPU 0 in a copy of
//! this binary (`SNAKE_BENCH_PIN=0`): wake-ups across cores cost more than the work measured
//! here, so the placement moves the figures, and the ratio of the two bridges in one run is the
//! figure to read. The figures are reported, never asserted; only a wrong echo fails the run.
//!
//! `cargo bench -p snake-runtime --bench asyncio_bridge` runs the full suite (a few seconds per
//! placement). Without `--bench`, or with `SNAKE_BENCH_QUICK=1`, counts and durations are cut by
//! 10x.

// Shared with the `roundtrip` bench, so that both pin, summarise and print alike.
#[path = "roundtrip/placement.rs"]
mod placement;
#[path = "roundtrip/stats.rs"]
mod stats;
#[path = "roundtrip/units.rs"]
mod units;

use std::collections::VecDeque;
use std::error::Error;
use std::fmt::Write as _;
use std::future::Future;
use std::io::{self, Write as _};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyCFunction, PyModule};
use tokio::sync::oneshot;

use stats::Latency;
use units::{rate, time};

type BoxError = Box<dyn Error>;

/// `1` cuts every count and duration by 10x.
const ENV_QUICK: &str = "SNAKE_BENCH_QUICK";
/// Calls in flight in the concurrent runs, as in the `roundtrip` bench's pipelined rows.
const WINDOW: usize = 256;
/// The handler both bridges call.
const HANDLER: &std::ffi::CStr = c"async def echo(x):\n    return x\n";

fn main() -> Result<(), BoxError> {
    // First of all: no thread exists yet, so the loop threads and the runtime inherit the mask.
    let pinned = placement::pin_as_told()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--list") {
        // A test runner listing tests (`cargo test -- --list`): this binary holds none.
        return Ok(());
    }
    let plan = Plan::for_run(&args);
    Python::initialize();
    match pinned {
        Some(cpu) => run_suite(plan, &format!("Pinned to CPU {cpu}")),
        None => {
            print!("{}", intro(plan));
            run_suite(plan, "Unpinned")?;
            placement::run_pinned()
        }
    }
}

/// How many calls and how long, for the full and the quick run.
#[derive(Clone, Copy, Debug)]
struct Plan {
    quick: bool,
    /// Sequential calls made and thrown away before measuring.
    warmup: usize,
    /// Sequential calls measured.
    iters: usize,
    /// How long each concurrent run keeps refilling its window.
    in_flight_for: Duration,
}

impl Plan {
    fn for_run(args: &[String]) -> Self {
        let quick = !args.iter().any(|arg| arg == "--bench") || std::env::var_os(ENV_QUICK).is_some_and(|v| v == "1");
        let scale: u32 = if quick { 10 } else { 1 };
        Self {
            quick,
            warmup: 500 / scale as usize,
            iters: 5000 / scale as usize,
            in_flight_for: Duration::from_secs(2) / scale,
        }
    }
}

/// One bridge in one mode.
#[derive(Clone, Copy, Debug)]
struct Run {
    latency: Latency,
    /// Calls answered per second.
    rate: f64,
}

/// Everything one placement measures.
#[derive(Clone, Copy, Debug)]
struct Figures {
    pipe_sequential: Run,
    crate_sequential: Run,
    pipe_in_flight: Run,
    crate_in_flight: Run,
}

fn run_suite(plan: Plan, placement: &str) -> Result<(), BoxError> {
    let echo = Python::attach(|py| -> PyResult<Py<PyAny>> {
        let module = PyModule::from_code(py, HANDLER, c"bench_echo.py", c"bench_echo")?;
        Ok(module.getattr("echo")?.unbind())
    })?;
    let pipe = Arc::new(PipeBridge::start(Python::attach(|py| echo.clone_ref(py)))?);
    let crate_bridge = Arc::new(CrateBridge::start(echo)?);

    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("building the caller's runtime: {e}"))?;
    let figures = runtime
        .block_on(runtime.spawn(async move {
            // Alternated, so that a change in the machine's state during the run hits both.
            let pipe_sequential = sequential(&*pipe, plan).await;
            let bridge = Arc::clone(&crate_bridge);
            let crate_sequential = crate_bridge.scope(async move { sequential(&*bridge, plan).await }).await;
            let pipe_in_flight = in_flight(&*pipe, plan).await;
            let bridge = Arc::clone(&crate_bridge);
            let crate_in_flight = crate_bridge.scope(async move { in_flight(&*bridge, plan).await }).await;
            Figures { pipe_sequential, crate_sequential, pipe_in_flight, crate_in_flight }
        }))
        .map_err(|e| format!("the measuring task failed: {e}"))?;
    drop(runtime);

    print!("{}", table(placement, &figures));
    io::stdout().flush()?;
    Ok(())
}

/// A way to run `echo(x)` on the loop thread and get the result back.
trait Bridge {
    fn call(&self, x: u64) -> impl Future<Output = u64> + Send;
}

/// Sequential calls: p50 and p99 of each, and calls/s over the measured ones.
async fn sequential(bridge: &impl Bridge, plan: Plan) -> Run {
    let mut samples = Vec::with_capacity(plan.iters);
    let mut measured = Instant::now();
    for (i, x) in (0..plan.warmup + plan.iters).zip(0u64..) {
        if i == plan.warmup {
            measured = Instant::now();
        }
        let start = Instant::now();
        let back = bridge.call(x).await;
        let took = start.elapsed();
        assert_eq!(back, x, "echo({x}) answered {back}");
        if i >= plan.warmup {
            samples.push(took);
        }
    }
    let rate = plan.iters as f64 / measured.elapsed().as_secs_f64();
    Run { latency: Latency::from_samples(samples), rate }
}

/// [`WINDOW`] calls in flight, refilled as answers arrive: each call's time from submission to
/// result, and calls/s.
async fn in_flight(bridge: &impl Bridge, plan: Plan) -> Run {
    let timed = |x: u64| {
        let answer = bridge.call(x);
        async move {
            let start = Instant::now();
            let back = answer.await;
            (x, back, start.elapsed())
        }
    };
    let start = Instant::now();
    let mut pending: FuturesUnordered<_> = (0..WINDOW as u64).map(timed).collect();
    let mut next = WINDOW as u64;
    let mut samples = Vec::new();
    while let Some((x, back, took)) = pending.next().await {
        assert_eq!(back, x, "echo({x}) answered {back}");
        samples.push(took);
        if start.elapsed() < plan.in_flight_for {
            pending.push(timed(next));
            next += 1;
        }
    }
    let rate = samples.len() as f64 / start.elapsed().as_secs_f64();
    Run { latency: Latency::from_samples(samples), rate }
}

/// An asyncio loop running forever on a thread of its own; stopped and joined on drop.
#[derive(Debug)]
struct LoopThread {
    event_loop: Py<PyAny>,
    thread: Option<JoinHandle<()>>,
}

impl LoopThread {
    /// Starts the loop thread, runs `setup` there with the new loop before the loop runs, and
    /// waits until it is ready.
    fn start<S>(setup: S) -> Result<Self, BoxError>
    where
        S: FnOnce(&Bound<'_, PyAny>) -> PyResult<()> + Send + 'static,
    {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<Py<PyAny>, String>>();
        let thread = std::thread::Builder::new().name("asyncio".into()).spawn(move || {
            Python::attach(|py| {
                let started = (|| {
                    let asyncio = py.import("asyncio")?;
                    let event_loop = asyncio.call_method0("new_event_loop")?;
                    asyncio.call_method1("set_event_loop", (&event_loop,))?;
                    setup(&event_loop)?;
                    Ok::<_, PyErr>(event_loop)
                })();
                match started {
                    Ok(event_loop) => {
                        let _ = ready_tx.send(Ok(event_loop.clone().unbind()));
                        // `run_forever` releases the GIL while it waits in the selector.
                        let ran = event_loop.call_method0("run_forever");
                        if let Err(err) = ran.and_then(|_| event_loop.call_method0("close")) {
                            err.print(py);
                        }
                    }
                    Err(err) => {
                        let _ = ready_tx.send(Err(err.to_string()));
                    }
                }
            });
        })?;
        let event_loop = ready_rx
            .recv()
            .map_err(|_| "the asyncio thread ended before its loop started")?
            .map_err(|e| format!("starting an asyncio loop: {e}"))?;
        Ok(Self { event_loop, thread: Some(thread) })
    }
}

impl Drop for LoopThread {
    fn drop(&mut self) {
        Python::attach(|py| {
            let event_loop = self.event_loop.bind(py);
            let stop = event_loop.getattr("stop");
            if let Err(err) = stop.and_then(|stop| event_loop.call_method1("call_soon_threadsafe", (stop,))) {
                err.print(py);
            }
        });
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// snake's bridge: a queue, a pipe watched with `add_reader`, one wake-up per burst, and a
/// done-callback per task that completes the caller's channel.
#[derive(Debug)]
struct PipeBridge {
    state: Arc<PipeState>,
    _loop: LoopThread,
}

#[derive(Debug)]
struct PipeState {
    /// Calls not yet started; at most [`WINDOW`] here.
    queue: Mutex<VecDeque<(u64, oneshot::Sender<u64>)>>,
    /// A byte is in the pipe, or the loop is about to drain: no need to write another.
    pending_wake: AtomicBool,
    wake_read: OwnedFd,
    wake_write: OwnedFd,
}

impl PipeState {
    fn queue(&self) -> MutexGuard<'_, VecDeque<(u64, oneshot::Sender<u64>)>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl PipeBridge {
    fn start(echo: Py<PyAny>) -> Result<Self, BoxError> {
        let (wake_read, wake_write) = pipe()?;
        let state = Arc::new(PipeState {
            queue: Mutex::new(VecDeque::new()),
            pending_wake: AtomicBool::new(false),
            wake_read,
            wake_write,
        });
        let loop_state = Arc::clone(&state);
        let event_loop = LoopThread::start(move |event_loop| {
            let py = event_loop.py();
            let fd = loop_state.wake_read.as_raw_fd();
            // The loop holds this closure and the closure the loop: `close` breaks the cycle.
            let create_task = event_loop.getattr("create_task")?.unbind();
            let drain = PyCFunction::new_closure(py, Some(c"drain"), None, move |args, _kwargs| {
                drain(args.py(), &loop_state, &echo, &create_task)
            })?;
            event_loop.call_method1("add_reader", (fd, drain))?;
            Ok(())
        })?;
        Ok(Self { state, _loop: event_loop })
    }
}

impl Bridge for PipeBridge {
    async fn call(&self, x: u64) -> u64 {
        let (reply, answer) = oneshot::channel();
        self.state.queue().push_back((x, reply));
        if !self.state.pending_wake.swap(true, Ordering::AcqRel) {
            // A full pipe already means a wake-up is pending, so a failed write loses nothing.
            // SAFETY: the buffer is one valid byte and the fd is the pipe's open write end.
            let _ = unsafe { libc::write(self.state.wake_write.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
        }
        answer.await.expect("the echo task failed")
    }
}

/// The loop's reader callback: starts every queued call as a task.
fn drain(py: Python<'_>, state: &PipeState, echo: &Py<PyAny>, create_task: &Py<PyAny>) -> PyResult<()> {
    let mut sink = [0u8; 64];
    // SAFETY: `sink` is valid for its length and the fd is the pipe's open, non-blocking read end.
    while unsafe { libc::read(state.wake_read.as_raw_fd(), sink.as_mut_ptr().cast(), sink.len()) } > 0 {}
    state.pending_wake.store(false, Ordering::Release);
    let calls = std::mem::take(&mut *state.queue());
    for (x, reply) in calls {
        let coroutine = echo.bind(py).call1((x,))?;
        let task = create_task.bind(py).call1((coroutine,))?;
        task.call_method1(intern!(py, "add_done_callback"), (TaskDone { reply: Mutex::new(Some(reply)) },))?;
    }
    Ok(())
}

/// The done-callback of one echo task: converts its result and completes the caller's channel.
#[pyclass(frozen)]
struct TaskDone {
    reply: Mutex<Option<oneshot::Sender<u64>>>,
}

#[pymethods]
impl TaskDone {
    fn __call__(&self, task: &Bound<'_, PyAny>) -> PyResult<()> {
        let back: u64 = task.call_method0(intern!(task.py(), "result"))?.extract()?;
        if let Some(reply) = self.reply.lock().unwrap_or_else(PoisonError::into_inner).take() {
            let _ = reply.send(back);
        }
        Ok(())
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

/// `pyo3-async-runtimes`' bridge: `tokio::into_future` on a coroutine, with the loop thread's loop
/// in the task locals.
#[derive(Debug)]
struct CrateBridge {
    echo: Py<PyAny>,
    asyncio: LoopThread,
}

impl CrateBridge {
    fn start(echo: Py<PyAny>) -> Result<Self, BoxError> {
        Ok(Self { echo, asyncio: LoopThread::start(|_| Ok(()))? })
    }

    /// Runs `measure` with this bridge's loop in the task locals that `into_future` reads.
    async fn scope<Fut>(&self, measure: Fut) -> Fut::Output
    where
        Fut: Future + Send + 'static,
    {
        let locals =
            Python::attach(|py| pyo3_async_runtimes::TaskLocals::new(self.asyncio.event_loop.bind(py).clone()));
        pyo3_async_runtimes::tokio::scope(locals, measure).await
    }
}

impl Bridge for CrateBridge {
    async fn call(&self, x: u64) -> u64 {
        let answer = Python::attach(|py| pyo3_async_runtimes::tokio::into_future(self.echo.bind(py).call1((x,))?))
            .expect("handing echo's coroutine to the loop failed");
        let back = answer.await.expect("the echo task failed");
        Python::attach(|py| {
            let back = back.into_bound(py);
            back.extract::<u64>().expect("echo answers an int")
        })
    }
}

fn intro(plan: Plan) -> String {
    let mode = if plan.quick { "quick run (10x fewer calls)" } else { "full run" };
    format!(
        "# asyncio bridge benchmark\n\n\
         {mode}: {warmup} warm-up + {iters} measured sequential calls per bridge, runs of {secs:.1} s with \
         {WINDOW} in flight. One process with CPython embedded; the handler is `async def echo(x): return x` on \
         an asyncio loop in a thread of its own; calls come from a task spawned on a tokio multi-thread \
         runtime.\n\n\
         - pipe: snake's child bridge (a queue and one pipe write per burst, watched with `add_reader`; a \
         done-callback per task completes a Rust channel with the converted result); the caller never takes \
         the GIL.\n\
         - pyo3-async-runtimes: `tokio::into_future` with the loop in `TaskLocals` (`call_soon_threadsafe` per \
         call, a done-callback completes a channel with the Python result); the caller takes the GIL to create \
         the coroutine and to convert the result.\n",
        warmup = plan.warmup,
        iters = plan.iters,
        secs = plan.in_flight_for.as_secs_f64(),
    )
}

fn table(placement: &str, figures: &Figures) -> String {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## {placement} (CPUs allowed: {}; tokio multi-thread caller with {workers} worker{})\n",
        placement::allowed_cpus(),
        if workers == 1 { "" } else { "s" },
    );
    out.push_str("| bridge | calls | p50 | p99 | calls/s | p50, x pipe | calls/s, x pipe |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    let in_flight = format!("{WINDOW} in flight");
    for (mode, pipe, other) in [
        ("sequential", figures.pipe_sequential, figures.crate_sequential),
        (in_flight.as_str(), figures.pipe_in_flight, figures.crate_in_flight),
    ] {
        for (bridge, run) in [("pipe + `add_reader` (snake)", pipe), ("pyo3-async-runtimes `into_future`", other)] {
            let _ = writeln!(
                out,
                "| {bridge} | {mode} | {} | {} | {} | {:.2}x | {:.2}x |",
                time(run.latency.p50),
                time(run.latency.p99),
                rate(run.rate, "calls/s"),
                run.latency.p50.as_secs_f64() / pipe.latency.p50.as_secs_f64(),
                run.rate / pipe.rate,
            );
        }
    }
    out
}
