//! The workers behind one [`PythonActor`](super::PythonActor): a single child is a pool of one.
//!
//! The pool lives inside the actor, so its state needs no lock: the actor's message handlers
//! route calls (`submit`), and the pool's own tasks (each worker's watch, starts, drains, the
//! expiry of waiting calls) report back as [`PoolEvent`] messages. Nothing here waits: a start
//! or a drain runs on a task of its own, so the mailbox keeps moving while Python starts.
//!
//! - **Routing**: least-loaded or round robin over warm workers; a call with a key goes to the
//!   slot the key hashes to, or, while that slot has no live worker, to the next live one.
//! - **Supervision**: a worker that dies is replaced after a backoff (doubling, with jitter);
//!   past the restart limit its slot is failed. A spare, when one is ready, replaces it at once.
//! - **Recycling**: past `max_requests`, `max_age` or `max_rss`, a successor starts; once it is
//!   warm it takes the slot and the old child drains.
//! - **Waiting**: a call that finds no warm worker waits (bounded in count and time) for one.

mod direct;
mod options;
mod worker;

use std::collections::{BTreeMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use snake_ipc::Connection;

pub(crate) use self::direct::Direct;
pub use self::options::Routing;
pub(crate) use self::options::{FOREVER, PoolOptions, cores, resident_bytes};
use self::worker::Worker;
use super::process::{Child, Launch};
use crate::error::PythonExecutionError;
use crate::metrics::{ActorMetrics, WorkerState, WorkerStatus};
use crate::protocol::ChildInfo;

pub(crate) type Conn = Arc<Connection<PythonExecutionError>>;

/// How the pool's tasks reach the actor that owns it.
pub(crate) type Events = Arc<dyn Fn(Event) + Send + Sync>;

/// A call waiting to be sent: given the connection of the worker chosen for it, or the error
/// that ends it.
pub(crate) type Job = Box<dyn FnOnce(Result<Conn, PythonExecutionError>) + Send>;

/// Something one of the pool's tasks reports to the actor (sent as a [`PoolEvent`]).
pub(crate) enum Event {
    /// The child of worker `worker` was reaped, with `status`.
    Exited { worker: u64, status: snake_ipc::ExitStatus },
    /// A child started for `target` (or failed to).
    Started { target: Target, result: Result<Child, PythonExecutionError> },
    /// Worker `worker` passed a recycling threshold.
    Recycle { worker: u64, reason: &'static str },
    /// The earliest waiting call may have passed its deadline.
    Expire,
    /// A call to send again (its first worker died under it).
    Resend { key: Option<u64>, job: Job },
    /// A reload started a child for `slot`: it takes the slot now.
    Swap { slot: usize, child: Child },
    /// A reload finished: later starts use `launch`.
    Adopt { launch: Box<Launch> },
    /// A reload stopped at an error: later starts keep the old launch.
    ReloadFailed,
}

/// An event of a pool, sent by the pool's own tasks to the actor that owns it.
#[doc(hidden)]
#[allow(missing_debug_implementations)]
pub struct PoolEvent(pub(crate) Event);

/// What a started child is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// To serve in slot `n` (first start, restart, or successor of a recycled worker).
    Slot(usize),
    /// To wait as a spare.
    Spare,
}

/// A call waiting for a worker.
struct Waiting {
    key: Option<u64>,
    since: Instant,
    job: Job,
}

/// One place in the pool, held by one worker at a time.
#[derive(Default)]
struct Slot {
    worker: Option<Worker>,
    /// A successor is starting for this slot (after a death, or to recycle its worker).
    starting: bool,
    /// Restarts inside the restart window.
    recent: VecDeque<Instant>,
    /// Restarts in a row without a worker that lived past the backoff cap; sets the delay.
    attempt: u32,
    restarts: u64,
    restart_reasons: BTreeMap<String, u64>,
    recycles: u64,
    last_exit: Option<PythonExecutionError>,
    /// Set once the slot passed the restart limit: calls that find no other worker get it.
    failed: Option<PythonExecutionError>,
}

/// See the module docs.
pub(crate) struct Pool {
    slots: Vec<Slot>,
    spares: Vec<Worker>,
    spares_starting: usize,
    spare_attempt: u32,
    /// Old workers finishing their calls.
    draining: Vec<Worker>,
    waiting: VecDeque<Waiting>,
    expiry_armed: bool,
    launch: Launch,
    options: PoolOptions,
    metrics: Arc<ActorMetrics>,
    max_waiting: usize,
    next_worker: u64,
    /// The workers published for the direct path (and the routing cursor).
    direct: Arc<Direct>,
    events: Option<Events>,
    reloading: bool,
    stopping: bool,
    /// The facts of the most recent child, for `GetChildInfo`.
    info: ChildInfo,
    /// Children started before the actor existed, and starts that failed then; taken into
    /// service by `attach`.
    unattached: Vec<(usize, Result<Child, PythonExecutionError>)>,
}

impl Pool {
    /// A pool of `size` slots. `started` holds the outcome of the starts made before the actor
    /// existed; slots not in it have a start still running, which reports as an event.
    pub(crate) fn new(
        launch: Launch,
        options: PoolOptions,
        metrics: Arc<ActorMetrics>,
        size: usize,
        started: Vec<(usize, Result<Child, PythonExecutionError>)>,
    ) -> Self {
        let info =
            started.iter().find_map(|(_, child)| child.as_ref().ok()).map(|c| c.info.clone()).unwrap_or_default();
        let max_waiting = launch.limits.max_in_flight.saturating_mul(size);
        let slots = (0..size).map(|_| Slot { starting: true, ..Slot::default() }).collect();
        let direct = Arc::new(Direct::new(options.routing, options.max_requests, options.retry));
        Self {
            slots,
            spares: Vec::new(),
            spares_starting: 0,
            spare_attempt: 0,
            draining: Vec::new(),
            waiting: VecDeque::new(),
            expiry_armed: false,
            launch,
            options,
            metrics,
            max_waiting,
            next_worker: 0,
            direct,
            events: None,
            reloading: false,
            stopping: false,
            info,
            unattached: started,
        }
    }

    /// Connects the pool to its actor and takes the children started so far into service.
    pub(crate) fn attach(&mut self, events: Events) {
        self.direct.attach(&events);
        self.events = Some(events);
        for (slot, result) in std::mem::take(&mut self.unattached) {
            self.started(Target::Slot(slot), result);
        }
        for _ in 0..self.options.spares {
            self.start(Target::Spare, Duration::ZERO);
        }
    }

    /// The workers this pool publishes for the direct path.
    pub(crate) fn direct(&self) -> &Arc<Direct> {
        &self.direct
    }

    /// Publishes the slots' workers for the direct path: whenever one takes or leaves a slot,
    /// before an old one drains.
    fn publish(&self) {
        self.direct.publish(self.slots.iter().map(|slot| slot.worker.as_ref()), self.stopping);
    }

    pub(crate) fn events(&self) -> &Events {
        self.events.as_ref().expect("the pool is attached when its actor starts")
    }

    /// The facts its most recent child reported.
    pub(crate) fn info(&self) -> &ChildInfo {
        &self.info
    }

    pub(crate) fn launch(&self) -> &Launch {
        &self.launch
    }

    pub(crate) const fn low_level(&self) -> bool {
        self.options.low_level
    }

    /// Sends `job` to a worker now, or keeps it until one is warm (bounded in count and time),
    /// or fails it at once when no worker can come (every slot failed, or the actor stops).
    pub(crate) fn submit<F>(&mut self, key: Option<u64>, job: F)
    where
        F: FnOnce(Result<Conn, PythonExecutionError>) + Send + 'static,
    {
        match self.route(key) {
            Ok(Some(conn)) => job(Ok(conn)),
            Ok(None) if self.waiting.len() < self.max_waiting => {
                self.waiting.push_back(Waiting { key, since: Instant::now(), job: Box::new(job) });
                self.arm_expiry();
            }
            Ok(None) => job(Err(PythonExecutionError::NoWorkerAvailable { waited: Duration::ZERO })),
            Err(err) => job(Err(err)),
        }
    }

    /// The connection of the worker for a call with `key`, counted as served by it; `None` when
    /// no worker is warm but one may come.
    fn route(&mut self, key: Option<u64>) -> Result<Option<Conn>, PythonExecutionError> {
        if self.stopping {
            return Err(PythonExecutionError::ActorStopping);
        }
        self.reap();
        let n = self.slots.len();
        let chosen = match key {
            Some(key) => {
                let home = usize::try_from(key % n as u64).unwrap_or(0);
                (0..n).map(|i| (home + i) % n).find(|&i| self.slots[i].worker.is_some())
            }
            None => {
                let start = self.direct.next_start(n);
                let live = (0..n).map(|i| (start + i) % n).filter(|&i| self.slots[i].worker.is_some());
                match self.options.routing {
                    Routing::RoundRobin => live.into_iter().next(),
                    Routing::LeastLoaded => {
                        live.min_by_key(|&i| self.slots[i].worker.as_ref().map_or(usize::MAX, Worker::in_flight))
                    }
                }
            }
        };
        let Some(index) = chosen else {
            if self.slots.iter().all(|slot| slot.failed.is_some()) {
                let failed = self.slots.iter().rev().find_map(|slot| slot.failed.clone());
                return Err(failed.unwrap_or(PythonExecutionError::ActorStopped));
            }
            return Ok(None);
        };
        let worker = self.slots[index].worker.as_mut().expect("chosen slots have a worker");
        let served = worker.served.fetch_add(1, Ordering::Relaxed) + 1;
        let conn = Arc::clone(worker.connection());
        if self.options.max_requests.is_some_and(|max| served >= max) && !worker.recycling {
            self.recycle(index, "max_requests");
        }
        Ok(Some(conn))
    }

    /// Takes workers whose child is gone out of service now, without waiting for their watch
    /// task's event: a call that follows a crash must not be routed to the dead child.
    fn reap(&mut self) {
        for index in 0..self.slots.len() {
            if let Some(worker) = &self.slots[index].worker
                && worker.connection().is_dead()
            {
                let id = worker.id;
                self.exited(id, snake_ipc::ExitStatus::Unknown);
            }
        }
    }

    /// Handles one of the pool's own events.
    pub(crate) fn handle(&mut self, event: Event) {
        match event {
            Event::Exited { worker, status } => self.exited(worker, status),
            Event::Started { target, result } => self.started(target, result),
            Event::Recycle { worker, reason } => {
                if let Some(index) = self.slot_of(worker) {
                    self.recycle(index, reason);
                }
            }
            Event::Expire => {
                self.expiry_armed = false;
                self.expire();
            }
            Event::Resend { key, job } => self.submit(key, job),
            Event::Swap { slot, child } => self.swap(slot, child),
            Event::Adopt { launch } => {
                self.launch = *launch;
                self.reloading = false;
            }
            Event::ReloadFailed => self.reloading = false,
        }
    }

    fn slot_of(&self, worker: u64) -> Option<usize> {
        self.slots.iter().position(|slot| slot.worker.as_ref().is_some_and(|w| w.id == worker))
    }

    fn new_worker(&mut self, child: Child) -> Worker {
        self.next_worker += 1;
        self.info = child.info.clone();
        Worker::new(self.next_worker, child, &self.options, self.events())
    }

    /// Starts a child for `target` after `delay`, on a task of its own.
    fn start(&mut self, target: Target, delay: Duration) {
        match target {
            Target::Slot(index) => self.slots[index].starting = true,
            Target::Spare => self.spares_starting += 1,
        }
        let launch = self.launch.clone();
        let events = Arc::clone(self.events());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let result = launch.start().await;
            events(Event::Started { target, result });
        });
    }

    fn started(&mut self, target: Target, result: Result<Child, PythonExecutionError>) {
        match target {
            Target::Spare => self.spares_starting = self.spares_starting.saturating_sub(1),
            Target::Slot(index) => self.slots[index].starting = false,
        }
        if self.stopping {
            if let Ok(child) = result {
                tokio::spawn(async move { child.connection.terminate().await });
            }
            return;
        }
        match (target, result) {
            (Target::Spare, Ok(child)) => {
                let worker = self.new_worker(child);
                self.spares.push(worker);
                self.spare_attempt = 0;
                self.fill_from_spares();
            }
            (Target::Spare, Err(err)) => {
                tracing::error!(error = %err, "could not start a spare python worker");
                self.spare_attempt += 1;
                let delay = self.options.backoff(self.spare_attempt);
                self.start(Target::Spare, delay);
            }
            (Target::Slot(index), Ok(child)) => {
                let worker = self.new_worker(child);
                self.place(index, worker);
            }
            (Target::Slot(index), Err(err)) => {
                tracing::error!(error = %err, slot = index, "could not start a python worker");
                if self.slots[index].worker.is_some() {
                    // A recycle's successor failed: the old worker keeps serving, and is asked
                    // again at its next threshold.
                    if let Some(worker) = self.slots[index].worker.as_mut() {
                        worker.recycling = false;
                    }
                    self.slots[index].last_exit = Some(err);
                } else {
                    self.count_restart(index, err);
                }
            }
        }
    }

    /// Puts `worker` into slot `index`: the slot's old worker, if any, drains.
    fn place(&mut self, index: usize, worker: Worker) {
        let slot = &mut self.slots[index];
        let old = slot.worker.replace(worker);
        slot.failed = None;
        self.publish();
        if let Some(old) = old {
            old.drain();
            self.draining.push(old);
        }
        self.flush();
    }

    /// Slots that wait for a successor take spares, if any are ready.
    fn fill_from_spares(&mut self) {
        while !self.spares.is_empty() {
            let Some(index) = self.slots.iter().position(|slot| slot.worker.is_none() && slot.failed.is_none()) else {
                break;
            };
            let spare = self.spares.pop().expect("checked above");
            self.place(index, spare);
            self.start(Target::Spare, Duration::ZERO);
        }
    }

    /// Worker `id` is gone. `status` is its exit status if known; the error its calls failed
    /// with says more (the reaper fails them just after it publishes the status).
    fn exited(&mut self, id: u64, status: snake_ipc::ExitStatus) {
        if let Some(index) = self.slot_of(id) {
            let worker = self.slots[index].worker.take().expect("slot_of found it");
            self.publish();
            let error = worker.connection().dead().unwrap_or(PythonExecutionError::ChildExited {
                status,
                stderr_tail: worker.connection().stderr_tail(),
            });
            if worker.started.elapsed() >= self.options.backoff_max {
                self.slots[index].attempt = 0;
            }
            drop(worker);
            if !self.stopping {
                tracing::warn!(slot = index, error = %error, "a python worker died");
                self.count_restart(index, error);
            }
        } else if let Some(at) = self.spares.iter().position(|w| w.id == id) {
            let spare = self.spares.swap_remove(at);
            tracing::warn!(child_pid = spare.pid(), "a spare python worker died");
            drop(spare);
            if !self.stopping {
                self.spare_attempt += 1;
                let delay = self.options.backoff(self.spare_attempt);
                self.start(Target::Spare, delay);
            }
        } else if let Some(at) = self.draining.iter().position(|w| w.id == id) {
            self.draining.swap_remove(at);
        }
    }

    /// Counts a death (or a failed start) of slot `index`'s worker, then replaces it: from a
    /// spare at once, or by a start after the backoff; past the restart limit, the slot fails.
    fn count_restart(&mut self, index: usize, error: PythonExecutionError) {
        let now = Instant::now();
        let (limit, within) = (self.options.max_restarts, self.options.restart_within);
        let slot = &mut self.slots[index];
        while slot.recent.front().is_some_and(|&at| now.duration_since(at) > within) {
            slot.recent.pop_front();
        }
        slot.last_exit = Some(error.clone());
        if slot.recent.len() >= limit as usize {
            // Without restarts, later calls get the exit itself, as the in-flight ones did.
            let failed = if limit == 0 {
                error
            } else {
                PythonExecutionError::RestartLimitReached {
                    restarts: u32::try_from(slot.recent.len()).unwrap_or(u32::MAX),
                    within,
                    last_error: Box::new(error),
                }
            };
            tracing::error!(slot = index, error = %failed, "python worker slot failed");
            slot.failed = Some(failed);
            self.flush();
            return;
        }
        slot.recent.push_back(now);
        slot.restarts += 1;
        *slot.restart_reasons.entry(error.kind().to_owned()).or_default() += 1;
        slot.attempt += 1;
        let attempt = slot.attempt;
        self.metrics.restarted(error.kind());
        if self.slots[index].starting {
            // A recycle's successor is on its way already.
        } else if self.spares.is_empty() {
            let delay = self.options.backoff(attempt);
            self.start(Target::Slot(index), delay);
        } else {
            self.fill_from_spares();
        }
        self.flush();
    }

    /// Starts a successor for slot `index`'s worker; it takes over once warm.
    fn recycle(&mut self, index: usize, reason: &'static str) {
        if self.stopping {
            return;
        }
        let slot = &mut self.slots[index];
        let Some(worker) = slot.worker.as_mut() else { return };
        if worker.recycling || slot.starting {
            return;
        }
        worker.recycling = true;
        slot.recycles += 1;
        self.metrics.recycled(reason);
        tracing::info!(slot = index, child_pid = worker.pid(), reason, "recycling a python worker");
        if let Some(spare) = self.spares.pop() {
            self.place(index, spare);
            self.start(Target::Spare, Duration::ZERO);
        } else {
            self.start(Target::Slot(index), Duration::ZERO);
        }
    }

    /// A reload's child takes slot `index`.
    fn swap(&mut self, index: usize, child: Child) {
        if self.stopping {
            tokio::spawn(async move { child.connection.terminate().await });
            return;
        }
        self.slots[index].recycles += 1;
        self.slots[index].recent.clear();
        self.slots[index].attempt = 0;
        self.metrics.recycled("reload");
        let worker = self.new_worker(child);
        self.place(index, worker);
    }

    /// Claims the pool for a reload; `false` if one is running already.
    pub(crate) fn begin_reload(&mut self) -> bool {
        !std::mem::replace(&mut self.reloading, true)
    }

    pub(crate) fn size(&self) -> usize {
        self.slots.len()
    }

    /// Sends waiting calls to the workers that are warm now; fails them all if no worker can
    /// come any more.
    fn flush(&mut self) {
        while let Some(waiting) = self.waiting.pop_front() {
            match self.route(waiting.key) {
                Ok(Some(conn)) => (waiting.job)(Ok(conn)),
                Ok(None) => {
                    self.waiting.push_front(waiting);
                    return;
                }
                Err(err) => (waiting.job)(Err(err)),
            }
        }
    }

    fn arm_expiry(&mut self) {
        if self.expiry_armed {
            return;
        }
        let Some(first) = self.waiting.front() else { return };
        self.expiry_armed = true;
        let deadline = first.since + self.options.acquire_timeout;
        let events = Arc::clone(self.events());
        tokio::spawn(async move {
            tokio::time::sleep_until(deadline.into()).await;
            events(Event::Expire);
        });
    }

    fn expire(&mut self) {
        let timeout = self.options.acquire_timeout;
        while self.waiting.front().is_some_and(|waiting| waiting.since.elapsed() >= timeout) {
            let waiting = self.waiting.pop_front().expect("checked above");
            (waiting.job)(Err(PythonExecutionError::NoWorkerAvailable { waited: waiting.since.elapsed() }));
        }
        self.arm_expiry();
    }

    /// Every connection the pool holds, to stop them with the actor.
    pub(crate) fn stop(&mut self) -> Vec<Conn> {
        self.stopping = true;
        self.publish();
        for waiting in std::mem::take(&mut self.waiting) {
            (waiting.job)(Err(PythonExecutionError::ActorStopping));
        }
        let workers = self.slots.iter().filter_map(|slot| slot.worker.as_ref());
        workers.chain(&self.spares).chain(&self.draining).map(|worker| Arc::clone(worker.connection())).collect()
    }

    /// The connections of the workers serving now, in slot order.
    pub(crate) fn connections(&self) -> Vec<Conn> {
        self.slots
            .iter()
            .filter_map(|slot| slot.worker.as_ref())
            .map(|worker| Arc::clone(worker.connection()))
            .collect()
    }

    /// Each slot's status, in slot order.
    pub(crate) fn status(&mut self) -> Vec<WorkerStatus> {
        if !self.stopping {
            self.reap();
        }
        let status = |(index, slot): (usize, &Slot)| {
            let worker = slot.worker.as_ref();
            let state = match worker {
                _ if slot.failed.is_some() && worker.is_none() => WorkerState::Failed,
                Some(worker) if worker.recycling => WorkerState::Recycling,
                Some(_) => WorkerState::Warm,
                None if slot.restarts == 0 && slot.last_exit.is_none() => WorkerState::Starting,
                None => WorkerState::Restarting,
            };
            WorkerStatus {
                slot: index,
                state,
                pid: worker.map(Worker::pid),
                served: worker.map_or(0, |w| w.served.load(Ordering::Relaxed)),
                in_flight: worker.map_or(0, Worker::in_flight),
                age: worker.map(|w| w.started.elapsed()),
                rss: worker.and_then(Worker::rss),
                restarts: slot.restarts,
                restart_reasons: slot.restart_reasons.clone(),
                recycles: slot.recycles,
                last_exit: slot.last_exit.as_ref().map(ToString::to_string),
            }
        };
        self.slots.iter().enumerate().map(status).collect()
    }
}

/// The key a call with `key` is routed by.
pub fn key_of<K: Hash + ?Sized>(key: &K) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}
