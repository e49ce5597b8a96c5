//! The Python worker threads that run sync handlers, off the IPC reader.
//!
//! One worker holds the GIL and keeps taking queued jobs while there are any, so a pipelined burst
//! costs no GIL hand-offs between workers. Another worker joins only when the job at the head of
//! the queue has waited longer than [`STALL`]: the running handler is blocked (in I/O, `sleep`, or
//! native code that released the GIL), and more threads can make progress. Idle workers poll only
//! while that is possible; otherwise they sleep on the condition variable.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use pyo3::Python;

use crate::protocol::TraceContext;

/// How long a queued job may wait behind a busy worker before another worker takes it.
const STALL: Duration = Duration::from_millis(1);

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

#[derive(Debug, Default)]
struct State {
    jobs: VecDeque<Job>,
    busy: usize,
    idle: usize,
    polling: usize,
    shutdown: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    ready: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct SyncPool {
    shared: Arc<Shared>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl SyncPool {
    /// Starts `workers` threads, each running `run` for the jobs it takes (with the GIL held).
    pub(crate) fn start<F>(workers: usize, run: F) -> Self
    where
        F: Fn(Python<'_>, Job) + Send + Sync + 'static,
    {
        let shared = Arc::new(Shared::default());
        let run = Arc::new(run);
        let threads = (0..workers.max(1))
            .map(|n| {
                let shared = Arc::clone(&shared);
                let run = Arc::clone(&run);
                std::thread::Builder::new()
                    .name(format!("snake-py-worker-{n}"))
                    .spawn(move || worker(&shared, &*run))
                    .expect("spawning a worker thread")
            })
            .collect();
        Self { shared, threads: Mutex::new(threads) }
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

    /// Drops a job that has not started yet. A running sync handler cannot be interrupted; its
    /// result is discarded by the parent.
    pub(crate) fn cancel(&self, id: u64) -> bool {
        let mut state = self.shared.lock();
        let before = state.jobs.len();
        state.jobs.retain(|job| job.id != id);
        before != state.jobs.len()
    }

    /// Lets running handlers finish, drops queued jobs, and joins the workers.
    pub(crate) fn shutdown(&self) {
        {
            let mut state = self.shared.lock();
            state.shutdown = true;
            state.jobs.clear();
        }
        self.shared.ready.notify_all();
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
        for thread in threads {
            // A worker that panicked has nothing left to join; the others return once idle.
            let _ = thread.join();
        }
    }
}

fn worker(shared: &Shared, run: &(dyn Fn(Python<'_>, Job) + Send + Sync)) {
    loop {
        let Some(first) = take(shared) else { return };
        Python::attach(|py| {
            run(py, first);
            while let Some(next) = take_more(shared) {
                run(py, next);
            }
        });
        shared.lock().busy -= 1;
    }
}

/// Waits for a job this worker may take; `None` on shutdown.
fn take(shared: &Shared) -> Option<Job> {
    let mut state = shared.lock();
    loop {
        if state.shutdown {
            return None;
        }
        let head_waited = state.jobs.front().map(|job| job.queued_at.elapsed());
        match head_waited {
            Some(waited) if state.busy == 0 || waited >= STALL => {
                let job = state.jobs.pop_front();
                state.busy += 1;
                // Jobs left behind a busy worker need someone watching them for a stall too.
                let hand_over = !state.jobs.is_empty() && state.polling == 0 && state.idle > 0;
                drop(state);
                if hand_over {
                    shared.ready.notify_one();
                }
                return job;
            }
            Some(waited) => {
                state.idle += 1;
                state.polling += 1;
                let (next, _) =
                    shared.ready.wait_timeout(state, STALL - waited).unwrap_or_else(PoisonError::into_inner);
                state = next;
                state.idle -= 1;
                state.polling -= 1;
            }
            None => {
                state.idle += 1;
                state = shared.ready.wait(state).unwrap_or_else(PoisonError::into_inner);
                state.idle -= 1;
            }
        }
    }
}

/// The next queued job for a worker that is already running (and holds the GIL).
fn take_more(shared: &Shared) -> Option<Job> {
    let mut state = shared.lock();
    if state.shutdown {
        return None;
    }
    state.jobs.pop_front()
}
