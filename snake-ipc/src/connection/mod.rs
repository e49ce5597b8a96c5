//! The parent's end of one child: handshake, calls in flight, callbacks, and the child's
//! lifecycle.
//!
//! Tasks per child, and what each owns (in `tasks.rs`):
//! - the **reader** is the only code that reads the socket; it splits whole frames off its buffer
//!   and completes pending calls (and health probes, [`Connection::probe`]) by correlation id. Between reads it sweeps the pending table for
//!   callers that went away and calls past their deadline, and tells the child to cancel them;
//! - the **drainer** writes only when a direct write found the socket full (see
//!   [`Outbox`]);
//! - the **supervisor** owns the process: it reaps it, kills it on request or after the shutdown
//!   grace period, and fails every pending and later call the moment it exits.
//!
//! Callers never wait on each other: a call is a table insert and one non-blocking write, and its
//! reply is delivered straight to the caller's [`ReplySink`].

mod callbacks;
mod calls;
mod handshake;
mod probes;
mod socket;
mod tasks;

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, mpsc, watch};

use self::callbacks::CallbackStreamControl;
pub use self::callbacks::{CallbackDispatch, CallbackFuture, CallbackStreamFuture, EncodedStream, ReplyBody};
use self::calls::Pending;
pub use self::calls::ReplySink;
pub use self::probes::MAX_OUTSTANDING_PROBES;
use self::probes::Outstanding;
use self::socket::Socket;
use crate::error::{ExitStatus, IpcError, PeerError};
use crate::frame::{FrameKind, Header, encode_frame};
use crate::hooks::Hooks;
use crate::outbox::{Outbox, Pushed};
use crate::shm::Arenas;
use crate::spawn::StderrTail;

/// How often a draining connection looks whether its last call has finished.
const DRAIN_POLL: Duration = Duration::from_millis(5);

/// Limits and timeouts of one connection.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The largest frame either side may send.
    pub max_frame_size: usize,
    /// How many calls may be in flight before callers wait for a slot.
    pub max_in_flight: usize,
    /// How many of the child's callbacks the parent serves at once; more wait for a slot, each
    /// until its call's deadline.
    pub max_callbacks_in_flight: usize,
    /// How long the child may take to answer the hello.
    pub handshake_timeout: Duration,
    /// A deadline for every call, if any.
    pub call_timeout: Option<Duration>,
    /// How long calls in flight may take to finish when the connection shuts down, and then how
    /// long the child may take to exit before it is killed.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_size: crate::frame::DEFAULT_MAX_FRAME_SIZE,
            max_in_flight: 1024,
            max_callbacks_in_flight: 1024,
            handshake_timeout: Duration::from_secs(10),
            call_timeout: None,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// What a connection is set up with, besides its child and its hello.
pub struct Setup<E: PeerError> {
    /// Its limits and timeouts.
    pub limits: Limits,
    /// The label its spans and the child's output lines carry (field `actor`).
    pub label: String,
    /// What observes it.
    pub hooks: Arc<dyn Hooks>,
    /// Who answers the child's callbacks; without one, every callback is refused.
    pub callbacks: Option<Arc<dyn CallbackDispatch<E>>>,
}

impl<E: PeerError> std::fmt::Debug for Setup<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setup").field("limits", &self.limits).field("label", &self.label).finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State<E> {
    pending: HashMap<u64, Pending<E>>,
    /// Health probes waiting for their `Pong` (see `probes.rs`).
    probes: HashMap<u64, Outstanding<E>>,
    dead: Option<E>,
}

enum Control {
    Shutdown,
    Kill,
}

/// See the module docs. Made by [`Connection::establish`]; shared as `Arc<Connection<E>>`.
pub struct Connection<E: PeerError> {
    socket: Socket,
    outbox: Outbox,
    drain_wake: Notify,
    /// Wakes the reader when a call arrives while its sweep is disarmed.
    work: Notify,
    /// Whether the reader's sweep is armed (see `tasks::read_loop`): while it is, a new call
    /// needs no wake-up.
    sweep_armed: AtomicBool,
    /// Set once the connection shuts down: no new call is admitted.
    stopping: watch::Sender<bool>,
    state: Mutex<State<E>>,
    next_id: AtomicU64,
    next_probe: AtomicU64,
    window: Arc<Semaphore>,
    limits: Limits,
    pid: u32,
    stderr_tail: StderrTail,
    control: mpsc::Sender<Control>,
    exit: watch::Receiver<Option<ExitStatus>>,
    callbacks: Option<Arc<dyn CallbackDispatch<E>>>,
    callback_slots: Arc<Semaphore>,
    callback_streams: Mutex<HashMap<u64, Arc<CallbackStreamControl>>>,
    label: String,
    hooks: Arc<dyn Hooks>,
    /// The arenas that carry large frames, when shared memory is on.
    shm: Option<Arenas>,
}

impl<E: PeerError> std::fmt::Debug for Connection<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("pid", &self.pid).field("label", &self.label).finish_non_exhaustive()
    }
}

impl<E: PeerError> Connection<E> {
    /// The child's process id.
    pub const fn pid(&self) -> u32 {
        self.pid
    }

    /// The last lines the child wrote to stderr.
    pub fn stderr_tail(&self) -> Vec<String> {
        self.stderr_tail.lines()
    }

    fn state(&self) -> MutexGuard<'_, State<E>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The error every call gets once the child is gone (or the connection shut down), if it is.
    pub fn dead(&self) -> Option<E> {
        self.state().dead.clone()
    }

    fn send(&self, frame: &[u8]) {
        let shared = self.shm.as_ref().and_then(|shm| shm.offload(frame));
        let frame = shared.as_deref().unwrap_or(frame);
        match self.outbox.push(self.socket.as_fd(), frame) {
            Pushed::Done => {}
            Pushed::WakeDrainer => self.drain_wake.notify_one(),
            // The reader sees the closed channel and fails everything.
            Pushed::Closed => {}
        }
    }

    /// A zeroed region of `len` bytes of this side's arena, to fill and send by reference (see
    /// [`Outgoing::reserve`](crate::shm::Outgoing::reserve)); `None` without shared memory or
    /// room in the arena.
    pub fn reserve_shared(&self, len: usize) -> Option<crate::shm::Reserved> {
        self.shm.as_ref()?.outgoing.reserve(len)
    }

    /// How many regions of its arena, and how many bytes, the child holds (`None` without shared
    /// memory).
    pub fn shared_memory_lent(&self) -> Option<(usize, usize)> {
        self.shm.as_ref().map(|shm| shm.outgoing.lent())
    }

    /// Fails every pending call and every later one with `err` (the first error wins).
    pub fn fail_all(&self, err: E) {
        let (pending, probes, err) = {
            let mut state = self.state();
            let err = state.dead.get_or_insert(err).clone();
            (std::mem::take(&mut state.pending), std::mem::take(&mut state.probes), err)
        };
        self.window.close();
        self.callback_slots.close();
        self.outbox.close();
        // Lets the drainer see the closed outbox and end.
        self.drain_wake.notify_one();
        for (_, control) in self.callback_streams().drain() {
            control.cancelled.notify_one();
        }
        for (_, pending) in pending {
            pending.fail(err.clone());
        }
        for (_, probe) in probes {
            probe.fail(err.clone());
        }
    }

    /// Stops the child gracefully: new calls (and calls still waiting for a slot) fail with
    /// [`IpcError::Stopping`]; calls in flight may finish for up to the shutdown grace period,
    /// after which those left are cancelled; then the child gets a shutdown frame and the grace
    /// period again to exit before it is killed. Returns once it has been reaped.
    pub async fn shutdown(&self) {
        self.stopping.send_replace(true);
        let drained = async {
            while self.has_pending() {
                tokio::time::sleep(DRAIN_POLL).await;
            }
        };
        let _ = tokio::time::timeout(self.limits.shutdown_grace, drained).await;
        self.fail_all(E::from(IpcError::Cancelled));
        let mut frame = Vec::with_capacity(16);
        if encode_frame(&mut frame, &Header::new(FrameKind::Shutdown, 0), &(), self.limits.max_frame_size).is_ok() {
            // The outbox is closed by now; this frame goes straight out if the socket takes it.
            let _ = crate::outbox::send_nonblocking(self.socket.as_fd(), &frame);
        }
        let _ = self.control.send(Control::Shutdown).await;
        self.wait_exit().await;
    }

    /// Kills the child at once (used when the channel can no longer be trusted).
    pub fn kill(&self) {
        let _ = self.control.try_send(Control::Kill);
    }

    /// Stops the child now: every pending and later call fails with [`IpcError::Cancelled`], the
    /// child is killed. Returns once it has been reaped.
    pub async fn terminate(&self) {
        self.fail_all(E::from(IpcError::Cancelled));
        self.kill();
        self.wait_exit().await;
    }

    /// Waits until the child has been reaped; returns how it exited.
    pub async fn wait_exit(&self) -> ExitStatus {
        let mut exit = self.exit.clone();
        let status = exit.wait_for(Option::is_some).await.ok().and_then(|status| *status);
        status.unwrap_or(ExitStatus::Unknown)
    }
}
