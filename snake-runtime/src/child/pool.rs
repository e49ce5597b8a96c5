//! The Python worker threads that run sync handlers, off the IPC reader.
//!
//! One worker holds the GIL and keeps taking queued jobs while there are any, so a pipelined burst
//! costs no GIL hand-offs between workers. Another worker joins only when the job at the head of
//! the queue has waited longer than [`STALL`]: the running handler is blocked (in I/O, `sleep`, or
//! native code that released the GIL), and more threads can make progress. Idle workers poll only
//! while that is possible; otherwise they sleep on the condition variable.
//!
//! Cancelling a job that is already running interrupts it: [`Cancelled`] is raised in its worker
//! with `PyThreadState_SetAsyncExc`, which Python delivers at the handler's next bytecode, so a
//! pure-Python loop stops at once. A watchdog thread keeps the time without ever taking the GIL;
//! an interrupter thread takes it to raise the exception, and takes it again every [`WATCH_EVERY`]
//! while the handler runs on: in CPython 3.11 the flag that makes a thread look for a pending
//! exception is shared by all threads, and the first worker to take its exception clears it for
//! the others, which see theirs only when they next hand the GIL over (as the interrupter taking
//! it makes them do). A worker still on the job [`LOST_AFTER`] the cancel
//! (blocked in C code, a C extension holding the GIL, or a handler that swallows the exception) is
//! *lost*: it no longer counts, and a replacement starts in its place. When the pool has lost as
//! many workers as its host allows, the host ends the process ([`Host::workers_lost`]), so that
//! the parent replaces it.
//!
//! A job may also run *inline*, on the thread that read it ([`SyncPool::try_inline`]): when no
//! worker is busy and none is queued, the child's reader runs the handler itself instead of waking
//! a worker, which saves a thread hop per call. Such a thread has its own [`Slot`] and counts as
//! one of the pool's busy workers, so the pool never runs more handlers at once than it has
//! workers, and cancels, interrupts and lost workers work the same (a lost inline thread is not
//! replaced: it was not one of the pool's threads). After its job it takes the jobs queued
//! meanwhile, as a worker's `take_more` would, while the pool has room ([`SyncPool::run_inline`]).
//!
//! The normal path pays for this with a few stores and a load of atomics per job, on the worker's
//! own slot (the job id is stored under the pool lock that taking the job holds anyway): no lock
//! and no thread hop more than before.

use std::collections::VecDeque;
use std::os::raw::c_long;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use pyo3::Python;
use pyo3::exceptions::PyBaseException;

use crate::protocol::TraceContext;

pyo3::create_exception!(
    snake,
    Cancelled,
    PyBaseException,
    "Raised inside a sync handler whose call was cancelled: its caller went away or its deadline \
     passed. Like `asyncio.CancelledError`, a `BaseException`, so `except Exception` lets it through."
);

/// How long a queued job may wait behind a busy worker before another worker takes it.
const STALL: Duration = Duration::from_millis(1);

/// How long after a cancel a worker may still be on the cancelled job before it counts as lost.
pub(crate) const LOST_AFTER: Duration = Duration::from_secs(1);

/// How often the watchdog looks at the workers it watches, and the interrupter takes the GIL
/// while a cancelled handler still runs.
const WATCH_EVERY: Duration = Duration::from_millis(10);

/// A call for a sync handler.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) id: u64,
    pub(crate) method: u32,
    pub(crate) body: Bytes,
    /// For a streaming call, the initial credit.
    pub(crate) credit: Option<u32>,
    /// The caller's trace context, if the call is traced.
    pub(crate) trace: Option<TraceContext>,
    /// When the frame arrived (the start of the dispatch span).
    pub(crate) received: SystemTime,
    queued_at: Instant,
}

impl Job {
    pub(crate) fn new(id: u64, method: u32, body: Bytes, credit: Option<u32>, trace: Option<TraceContext>) -> Self {
        let received = if trace.is_some() { SystemTime::now() } else { SystemTime::UNIX_EPOCH };
        Self { id, method, body, credit, trace, received, queued_at: Instant::now() }
    }
}

/// What the pool runs jobs for.
pub(crate) trait Host: Send + Sync + 'static {
    /// Runs one job on a worker, with the GIL held. The handler's own Python code must run inside
    /// [`Slot::handler`], where a cancel can interrupt it.
    fn run(&self, py: Python<'_>, job: Job, slot: &Slot);

    /// Job `id` was just interrupted: wakes whatever its handler may be waiting for with the GIL
    /// released (a blocking callback), so that it gets to see the exception.
    fn interrupted(&self, id: u64);

    /// `lost` workers are stuck for good, as many as allowed: ends the process. `busy` counts the
    /// healthy workers still running a job, for a short grace.
    fn workers_lost(&self, lost: usize, busy: &dyn Fn() -> usize) -> !;
}

/// One worker, as the pool and the watchdog see it.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    /// The worker's Python thread id (`threading.get_ident()`).
    ident: AtomicU64,
    /// The job the worker has taken (0 for none); written under the pool's lock.
    job: AtomicU64,
    /// The job whose handler code runs now (0 for none); written with the GIL held.
    handler: AtomicU64,
    /// [`Cancelled`] was raised in the running handler; written with the GIL held.
    interrupted: AtomicBool,
    /// The worker was given up on; written under the pool's lock.
    lost: AtomicBool,
    /// For a thread that runs jobs inline ([`SyncPool::try_inline`]), not one of the pool's own:
    /// the pool.
    inline: Option<Weak<Shared>>,
}

impl Slot {
    /// Runs the Python code of job `id`'s handler: a cancel of `id` meanwhile raises [`Cancelled`]
    /// in it.
    pub(crate) fn handler<R>(&self, _py: Python<'_>, id: u64, f: impl FnOnce() -> R) -> R {
        self.handler.store(id, Ordering::Release);
        let result = f();
        self.handler.store(0, Ordering::Release);
        // The interrupter only raises with the GIL held and `handler == id`, and both stores above
        // are made with the GIL held: after this point no interrupt of `id` can start.
        if self.interrupted.load(Ordering::Acquire) {
            self.interrupted.store(false, Ordering::Release);
            // Not delivered before the handler returned: it must not hit the next job.
            // SAFETY: the GIL is held (`_py`); a null exception clears the thread's pending one.
            unsafe { pyo3::ffi::PyThreadState_SetAsyncExc(self.ident() as c_long, std::ptr::null_mut()) };
        }
        result
    }

    fn ident(&self) -> u64 {
        self.ident.load(Ordering::Acquire)
    }

    /// The reply of this slot's job is about to be sent (no more of its Python code runs): an
    /// inline job stops counting as busy now, so that the call its reply prompts finds the pool
    /// idle. Nothing for a worker's job; `true` for an inline one.
    pub(crate) fn replying(&self) -> bool {
        match self.inline.as_ref().and_then(Weak::upgrade) {
            Some(shared) => {
                finish_inline(&shared, self);
                true
            }
            None => false,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    jobs: VecDeque<Job>,
    /// Healthy workers running a job.
    busy: usize,
    idle: usize,
    polling: usize,
    shutdown: bool,
    /// The healthy workers.
    slots: Vec<Arc<Slot>>,
    /// Lost workers that have not come back.
    lost: usize,
    /// Workers started so far, for thread names.
    started: usize,
    /// The slots of the threads that run jobs inline.
    inline: Vec<Arc<Slot>>,
}

struct Shared {
    state: Mutex<State>,
    ready: Condvar,
    host: Arc<dyn Host>,
    /// Lost workers that end the process.
    max_lost: usize,
    /// How many handlers may run at once: the number of workers.
    limit: usize,
    threads: Mutex<Vec<(Arc<Slot>, JoinHandle<()>)>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running job that was cancelled, as the watchdog follows it.
struct Watch {
    slot: Arc<Slot>,
    id: u64,
    cancelled_at: Instant,
    /// [`Cancelled`] was raised in the handler; set by the interrupter.
    raised: Arc<AtomicBool>,
}

/// A handler the interrupter must raise [`Cancelled`] in, or only hand the GIL to.
struct Poke {
    slot: Arc<Slot>,
    id: u64,
    raised: Arc<AtomicBool>,
}

/// See the module docs.
pub(crate) struct SyncPool {
    shared: Arc<Shared>,
    watchdog: Sender<Watch>,
}

impl std::fmt::Debug for SyncPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncPool").finish_non_exhaustive()
    }
}

impl SyncPool {
    /// Starts `workers` threads running `host`'s jobs, and the watchdog that interrupts cancelled
    /// ones; `max_lost` lost workers end the process.
    pub(crate) fn start(workers: usize, max_lost: usize, host: Arc<dyn Host>) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            ready: Condvar::new(),
            host,
            max_lost: max_lost.max(1),
            limit: workers.max(1),
            threads: Mutex::default(),
        });
        for _ in 0..workers.max(1) {
            spawn_worker(&shared)?;
        }
        let (watchdog, watched) = std::sync::mpsc::channel();
        // One batch at a time: while the interrupter waits for the GIL, later pokes are dropped.
        let (interrupter, pokes) = std::sync::mpsc::sync_channel(1);
        let watching = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("snake-py-watchdog".into())
            .spawn(move || watch(&watching, &watched, &interrupter))?;
        let interrupting = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("snake-py-interrupter".into())
            .spawn(move || interrupt(&interrupting, &pokes))?;
        Ok(Self { shared, watchdog })
    }

    /// Queues a job and wakes a worker if one can take it.
    pub(crate) fn submit(&self, job: Job) {
        let mut state = self.shared.lock();
        state.jobs.push_back(job);
        let wake = state.busy == 0 || (state.polling == 0 && state.idle > 0);
        drop(state);
        if wake {
            self.shared.ready.notify_one();
        }
    }

    /// Drops job `id` if it has not started yet, or has its worker interrupted if it runs.
    /// `false` when no worker has it.
    pub(crate) fn cancel(&self, id: u64) -> bool {
        let mut state = self.shared.lock();
        if let Some(at) = state.jobs.iter().position(|job| job.id == id) {
            state.jobs.remove(at);
            return true;
        }
        let Some(slot) = state.slots.iter().find(|slot| slot.job.load(Ordering::Acquire) == id).cloned() else {
            return false;
        };
        drop(state);
        let watch = Watch { slot, id, cancelled_at: Instant::now(), raised: Arc::default() };
        // The watchdog ends only with the process.
        let _ = self.watchdog.send(watch);
        true
    }

    /// A slot for the calling thread, to run jobs inline with ([`SyncPool::try_inline`]).
    pub(crate) fn inline_slot(&self) -> Arc<Slot> {
        // SAFETY: returns the calling thread's id; needs neither the GIL nor any Python state.
        let ident = unsafe { pyo3::ffi::PyThread_get_thread_ident() };
        let inline = Some(Arc::downgrade(&self.shared));
        let slot = Arc::new(Slot { ident: AtomicU64::new(ident), inline, ..Slot::default() });
        let mut state = self.shared.lock();
        state.slots.push(Arc::clone(&slot));
        state.inline.push(Arc::clone(&slot));
        slot
    }

    /// Takes job `id` for the thread of `slot` to run inline, with [`SyncPool::run_inline`]: only
    /// when no handler runs and none is queued (the job would otherwise wait its turn), and no
    /// inline thread was ever lost: a lost one no longer counts as busy, yet still does not read,
    /// and the other reader must never run a job while it is stuck. `false`: submit it.
    pub(crate) fn try_inline(&self, slot: &Slot, id: u64) -> bool {
        let mut state = self.shared.lock();
        let any_lost = state.inline.iter().any(|slot| slot.lost.load(Ordering::Acquire));
        if state.shutdown || state.busy > 0 || !state.jobs.is_empty() || any_lost {
            return false;
        }
        state.busy += 1;
        slot.job.store(id, Ordering::Release);
        true
    }

    /// Runs a job taken with [`SyncPool::try_inline`] on this thread, then hands what was queued
    /// meanwhile to a worker.
    /// Like a worker, it then keeps the GIL and takes the jobs queued meanwhile (read by the
    /// other reader while this one ran), as long as the pool has room for it: a burst that starts
    /// inline is batched on this thread, with no hop to a worker.
    pub(crate) fn run_inline(&self, slot: &Slot, job: Job) {
        Python::attach(|py| {
            let mut job = job;
            loop {
                self.shared.host.run(py, job, slot);
                // Done already if the job got to its reply ([`Slot::replying`]).
                finish_inline(&self.shared, slot);
                match take_inline(&self.shared, slot) {
                    Some(next) => job = next,
                    None => return,
                }
            }
        });
    }

    /// Lets running handlers finish, drops queued jobs, and joins the workers that are not lost.
    pub(crate) fn shutdown(&self) {
        {
            let mut state = self.shared.lock();
            state.shutdown = true;
            state.jobs.clear();
        }
        self.shared.ready.notify_all();
        let threads = std::mem::take(&mut *self.shared.threads.lock().unwrap_or_else(PoisonError::into_inner));
        for (slot, thread) in threads {
            if !slot.lost.load(Ordering::Acquire) {
                // A worker that panicked has nothing left to join; the others return once idle.
                let _ = thread.join();
            }
        }
        // Jobs running inline on other threads finish too (a lost one is not waited for).
        let inline = self.shared.lock().inline.clone();
        for slot in inline {
            while slot.job.load(Ordering::Acquire) != 0 && !slot.lost.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

fn spawn_worker(shared: &Arc<Shared>) -> std::io::Result<()> {
    let slot = Arc::new(Slot::default());
    let n = {
        let mut state = shared.lock();
        state.slots.push(Arc::clone(&slot));
        state.started += 1;
        state.started - 1
    };
    let worker_shared = Arc::clone(shared);
    let worker_slot = Arc::clone(&slot);
    let spawned = std::thread::Builder::new()
        .name(format!("snake-py-worker-{n}"))
        .spawn(move || worker(&worker_shared, &worker_slot));
    match spawned {
        Ok(thread) => {
            shared.threads.lock().unwrap_or_else(PoisonError::into_inner).push((slot, thread));
            Ok(())
        }
        Err(err) => {
            shared.lock().slots.retain(|other| !Arc::ptr_eq(other, &slot));
            Err(err)
        }
    }
}

fn worker(shared: &Shared, slot: &Slot) {
    // SAFETY: returns the calling thread's id; needs neither the GIL nor any Python state.
    slot.ident.store(unsafe { pyo3::ffi::PyThread_get_thread_ident() }, Ordering::Release);
    // One Python thread state for the worker's life (attached only while it runs jobs), rather
    // than one made and destroyed per burst of jobs.
    Python::attach(|py| py.detach(|| serve_jobs(shared, slot)));
}

fn serve_jobs(shared: &Shared, slot: &Slot) {
    loop {
        let Some(first) = take(shared, slot) else { return };
        let lost = Python::attach(|py| {
            let mut job = first;
            loop {
                shared.host.run(py, job, slot);
                match take_more(shared, slot) {
                    Some(next) => job = next,
                    None => return slot.lost.load(Ordering::Acquire),
                }
            }
        });
        if lost {
            // Came back after all; its replacement has its place.
            return;
        }
    }
}

/// Ends the inline job of `slot`, once (later calls find `job` cleared).
fn finish_inline(shared: &Shared, slot: &Slot) {
    let mut state = shared.lock();
    if slot.job.load(Ordering::Acquire) == 0 {
        return;
    }
    slot.job.store(0, Ordering::Release);
    if slot.lost.load(Ordering::Acquire) {
        // Came back after all; no longer counted as busy since it was lost.
        state.lost -= 1;
        return;
    }
    // What was queued meanwhile is taken by this thread next ([`take_inline`]), or by a worker.
    state.busy -= 1;
}

/// The next queued job for a thread that has just run one inline, while the pool has room for
/// it (an inline job counts as one of the pool's busy workers); `None` when it should go back to
/// reading. A job it leaves behind with no handler running gets a worker woken.
fn take_inline(shared: &Shared, slot: &Slot) -> Option<Job> {
    let mut state = shared.lock();
    let may = !state.shutdown && !slot.lost.load(Ordering::Acquire) && state.busy < shared.limit;
    let next = if may { state.jobs.pop_front() } else { None };
    if let Some(job) = &next {
        state.busy += 1;
        slot.job.store(job.id, Ordering::Release);
        return next;
    }
    let wake = !state.jobs.is_empty() && state.busy == 0;
    drop(state);
    if wake {
        shared.ready.notify_one();
    }
    None
}

/// Waits for a job this worker may take; `None` on shutdown.
fn take(shared: &Shared, slot: &Slot) -> Option<Job> {
    let mut state = shared.lock();
    loop {
        if state.shutdown {
            return None;
        }
        let head_waited = state.jobs.front().map(|job| job.queued_at.elapsed());
        // A job running inline counts as busy: with as many busy as there are workers (one of
        // them inline), this worker waits until a handler ends.
        let room = state.busy < shared.limit;
        match head_waited {
            Some(waited) if state.busy == 0 || (room && waited >= STALL) => {
                let job = state.jobs.pop_front();
                slot.job.store(job.as_ref().map_or(0, |job| job.id), Ordering::Release);
                state.busy += 1;
                // Jobs left behind a busy worker need someone watching them for a stall too.
                let hand_over = !state.jobs.is_empty() && state.polling == 0 && state.idle > 0;
                drop(state);
                if hand_over {
                    shared.ready.notify_one();
                }
                return job;
            }
            Some(waited) if room => {
                state.idle += 1;
                state.polling += 1;
                let (next, _) =
                    shared.ready.wait_timeout(state, STALL - waited).unwrap_or_else(PoisonError::into_inner);
                state = next;
                state.idle -= 1;
                state.polling -= 1;
            }
            _ => {
                state.idle += 1;
                state = shared.ready.wait(state).unwrap_or_else(PoisonError::into_inner);
                state.idle -= 1;
            }
        }
    }
}

/// The next queued job for a worker that has just finished one (and holds the GIL); `None` when
/// it should stop taking jobs (none left, shutdown, or it was given up on meanwhile).
fn take_more(shared: &Shared, slot: &Slot) -> Option<Job> {
    let mut state = shared.lock();
    if slot.lost.load(Ordering::Acquire) {
        // Already not counted as busy since it was lost.
        state.lost -= 1;
        return None;
    }
    let next = if state.shutdown { None } else { state.jobs.pop_front() };
    slot.job.store(next.as_ref().map_or(0, |job| job.id), Ordering::Release);
    if next.is_none() {
        state.busy -= 1;
    }
    next
}

/// The watchdog: has cancelled running jobs interrupted, and gives up on workers that stay on
/// them. It never takes the GIL, so that a GIL held forever (by C code) cannot stop it.
fn watch(shared: &Arc<Shared>, cancels: &Receiver<Watch>, interrupter: &SyncSender<Vec<Poke>>) {
    let mut watched: Vec<Watch> = Vec::new();
    loop {
        let next = if watched.is_empty() {
            cancels.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            cancels.recv_timeout(WATCH_EVERY)
        };
        match next {
            Ok(watch) => watched.push(watch),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        watched.extend(cancels.try_iter());
        watched.retain(|watch| watch.slot.job.load(Ordering::Acquire) == watch.id);
        let pokes: Vec<Poke> = watched
            .iter()
            .filter(|watch| watch.slot.handler.load(Ordering::Acquire) == watch.id)
            .map(|watch| Poke { slot: Arc::clone(&watch.slot), id: watch.id, raised: Arc::clone(&watch.raised) })
            .collect();
        if !pokes.is_empty() {
            // Full: the interrupter still waits for the GIL with the previous batch.
            let _ = interrupter.try_send(pokes);
        }
        let now = Instant::now();
        for watch in watched.extract_if(.., |watch| now.duration_since(watch.cancelled_at) >= LOST_AFTER) {
            lose(shared, &watch);
        }
    }
}

/// The interrupter: raises [`Cancelled`] in handlers of cancelled jobs, with the GIL held. Taking
/// the GIL is itself the point for a handler already interrupted: it makes that thread hand the GIL
/// over, and so look at its pending exception.
fn interrupt(shared: &Shared, pokes: &Receiver<Vec<Poke>>) {
    for batch in pokes {
        let mut raised = Vec::new();
        Python::attach(|py| {
            let cancelled = py.get_type::<Cancelled>();
            for poke in batch.iter().filter(|poke| !poke.raised.load(Ordering::Acquire)) {
                // With the GIL held the worker runs no Python code, and `handler` changes only with
                // the GIL held: the handler cannot finish between this check and the interrupt.
                if poke.slot.handler.load(Ordering::Acquire) != poke.id {
                    continue;
                }
                // SAFETY: the GIL is held and `cancelled` is a live exception type.
                unsafe { pyo3::ffi::PyThreadState_SetAsyncExc(poke.slot.ident() as c_long, cancelled.as_ptr()) };
                poke.slot.interrupted.store(true, Ordering::Release);
                poke.raised.store(true, Ordering::Release);
                raised.push(poke.id);
            }
        });
        for id in raised {
            shared.host.interrupted(id);
        }
    }
}

/// Gives up on the worker of `watch` if it is still on the job: starts a replacement, or ends the
/// process once too many are lost.
fn lose(shared: &Arc<Shared>, watch: &Watch) {
    let mut state = shared.lock();
    if watch.slot.job.load(Ordering::Acquire) != watch.id || state.shutdown {
        return;
    }
    watch.slot.lost.store(true, Ordering::Release);
    state.slots.retain(|slot| !Arc::ptr_eq(slot, &watch.slot));
    state.busy -= 1;
    state.lost += 1;
    let lost = state.lost;
    drop(state);
    if lost >= shared.max_lost {
        shared.host.workers_lost(lost, &|| shared.lock().busy);
    }
    if watch.slot.inline.is_some() {
        // Not one of the pool's threads: the workers are all still there, and one of them may
        // take what was queued behind the lost job now.
        shared.ready.notify_one();
        return;
    }
    if let Err(err) = spawn_worker(shared) {
        eprintln!("snake child: could not start a worker in place of a lost one: {err}");
    }
}
