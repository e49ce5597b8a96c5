//! The two reader threads that take turns on the socket (leader/follower), and the inline run
//! of a lone sync call on the thread that read it: see the [module docs](super).

use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::BytesMut;
use pyo3::prelude::*;

use crate::protocol::FrameDecoder;

use super::aio::AsyncLoop;
use super::dispatch::dispatch;
use super::pool::{Slot, SyncPool};
use super::{Child, Stop, exit};

/// The reading role, shared by the main thread and a standby thread (leader/follower): whoever
/// holds `state` reads. A thread that takes a sync call inline lets go of `state` and arms the
/// one-shot `epoll` on the socket; the other thread waits in that `epoll` and takes `state` over
/// when a frame arrives. Armed only while a job runs inline, so a call that meets no other frame
/// costs two `epoll_ctl`s and no wake-up.
pub(super) struct Reading {
    state: Mutex<ReadState>,
    /// `None` when `epoll` or `eventfd` could not be set up: no job runs inline then.
    pub(super) poll: Option<Arc<Poll>>,
    /// The channel ended: set by the thread that read the end, before it lets go of `state`.
    done: AtomicBool,
    /// Why, for the main thread.
    stop: Mutex<Option<Stop>>,
    ended: Condvar,
    /// Reader threads that have entered their loop, detached from the interpreter.
    ready: AtomicUsize,
    /// Both reader threads entered their loop: jobs may run inline. Set only then, not when the
    /// threads are spawned: a reader still attaching to the interpreter at its start needs the
    /// GIL, which an inline job may hold for as long as it runs, and could not take over.
    inline: AtomicBool,
}

struct ReadState {
    buf: BytesMut,
    scratch: Vec<u8>,
    decoder: FrameDecoder,
}

/// An `epoll` over the socket (one-shot, armed while a job runs inline) and an `eventfd` that
/// wakes the waiting thread when the channel ends.
pub(super) struct Poll {
    epoll: OwnedFd,
    wake: OwnedFd,
    socket: RawFd,
    /// Armed by [`Poll::arm`] and not disarmed since, as far as this side knows (the one-shot may
    /// have fired meanwhile): a disarm with nothing armed is skipped, which saves a system call
    /// per inline job. Only ever a hint: being wrongly armed costs a spurious wake-up of the
    /// standby reader, and disarming is never needed for frames to be read.
    armed: AtomicBool,
}

/// The `epoll_event` key of the socket; the `eventfd`'s is 1.
const SOCKET_KEY: u64 = 0;

impl Poll {
    fn new(socket: RawFd) -> io::Result<Self> {
        // SAFETY: plain system calls; each returned descriptor is checked and owned at once.
        unsafe {
            let epoll = libc::epoll_create1(libc::EPOLL_CLOEXEC);
            if epoll < 0 {
                return Err(io::Error::last_os_error());
            }
            let epoll = OwnedFd::from_raw_fd(epoll);
            let wake = libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK);
            if wake < 0 {
                return Err(io::Error::last_os_error());
            }
            let wake = OwnedFd::from_raw_fd(wake);
            let poll = Self { epoll, wake, socket, armed: AtomicBool::new(false) };
            poll.ctl(libc::EPOLL_CTL_ADD, socket, libc::EPOLLONESHOT as u32, SOCKET_KEY)?;
            poll.ctl(libc::EPOLL_CTL_ADD, poll.wake.as_raw_fd(), libc::EPOLLIN as u32, 1)?;
            Ok(poll)
        }
    }

    fn ctl(&self, op: i32, fd: RawFd, events: u32, key: u64) -> io::Result<()> {
        let mut event = libc::epoll_event { events, u64: key };
        // SAFETY: `epoll` and `fd` are open descriptors; `event` is valid for the call.
        if unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut event) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Wakes the waiting thread at the socket's next byte (or now, if some wait).
    fn arm(&self) {
        let armed = (libc::EPOLLIN | libc::EPOLLONESHOT) as u32;
        self.armed.store(true, Ordering::Release);
        if let Err(err) = self.ctl(libc::EPOLL_CTL_MOD, self.socket, armed, SOCKET_KEY) {
            // Without it a frame could wait for the inline job to end: end the child rather.
            eprintln!("snake child: could not arm the standby reader: {err}");
            exit(5);
        }
    }

    pub(super) fn disarm(&self) {
        if !self.armed.swap(false, Ordering::AcqRel) {
            return;
        }
        // Failing leaves it armed: a spurious wake-up of the standby, nothing worse.
        let _ = self.ctl(libc::EPOLL_CTL_MOD, self.socket, libc::EPOLLONESHOT as u32, SOCKET_KEY);
    }

    /// Waits until the socket is readable while armed, or the channel ended.
    fn wait(&self) {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 2];
        // SAFETY: `epoll` is open and `events` is valid for 2 entries. An error (EINTR) returns
        // early, and the caller looks again.
        unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), events.as_mut_ptr(), 2, -1) };
    }

    fn wake(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: `wake` is an open eventfd and `one` 8 bytes long.
        unsafe { libc::write(self.wake.as_raw_fd(), one.as_ptr().cast(), one.len()) };
    }
}

impl Reading {
    pub(super) fn new(child: &Child, decoder: FrameDecoder) -> Self {
        let poll = Poll::new(child.stream.as_raw_fd())
            .map_err(|err| eprintln!("snake child: sync calls are handed to a worker (no epoll: {err})"))
            .ok()
            .map(Arc::new);
        if let Some(poll) = &poll {
            // Set once: the only `Reading` of the child.
            let _ = child.standby.set(Arc::clone(poll));
        }
        let state = ReadState { buf: BytesMut::with_capacity(64 * 1024), scratch: vec![0u8; 64 * 1024], decoder };
        Self {
            state: Mutex::new(state),
            poll,
            done: AtomicBool::new(false),
            stop: Mutex::default(),
            ended: Condvar::new(),
            ready: AtomicUsize::new(0),
            inline: AtomicBool::new(false),
        }
    }

    /// Records why the channel ended (with `state` held), and wakes the other threads.
    fn end(&self, stop: Stop) {
        self.stop.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(stop);
        self.done.store(true, Ordering::Release);
        self.ended.notify_all();
        if let Some(poll) = &self.poll {
            poll.wake();
        }
    }

    /// Waits until a reader recorded the end of the channel (at once when this thread read it).
    pub(super) fn wait_for_end(&self) -> Stop {
        let mut stop = self.stop.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(stop) = stop.take() {
                return stop;
            }
            stop = self.ended.wait(stop).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Starts the two reader threads; returns how many started. Jobs run inline only once both are
/// in their loop (one must be there to read while the other runs a job).
pub(super) fn start_readers(
    child: &Arc<Child>,
    pool: &Arc<SyncPool>,
    aio: Option<&Arc<AsyncLoop>>,
    reading: &Arc<Reading>,
) -> usize {
    let mut started = 0;
    for n in 0..2 {
        let (child, pool, aio, reading) = (Arc::clone(child), Arc::clone(pool), aio.cloned(), Arc::clone(reading));
        let spawned = std::thread::Builder::new().name(format!("snake-py-reader-{n}")).spawn(move || {
            let slot = pool.inline_slot();
            // One Python thread state for the thread's life (attached only while a job runs),
            // rather than one made and destroyed per job.
            let read = std::panic::AssertUnwindSafe(|| {
                Python::attach(|py| {
                    py.detach(|| {
                        if reading.ready.fetch_add(1, Ordering::AcqRel) + 1 == 2 {
                            reading.inline.store(true, Ordering::Release);
                        }
                        lead_or_follow(&child, Some(&pool), aio.as_deref(), &reading, Some(&slot));
                    });
                });
            });
            if std::panic::catch_unwind(read).is_err() {
                // Nobody would read the channel again: end the child, and the parent its calls.
                eprintln!("snake child: a reader thread panicked");
                exit(2);
            }
        });
        match spawned {
            Ok(_) => started += 1,
            Err(err) => {
                eprintln!("snake child: sync calls are handed to a worker (a reader thread did not start: {err})");
                break;
            }
        }
    }
    started
}

/// Reads and dispatches frames while this thread holds the reading role, runs sync jobs inline
/// when it may (`slot`), and waits as the follower otherwise. Returns once the channel ended
/// (why is in [`Reading::stop`]), whichever thread read the end.
pub(super) fn lead_or_follow(
    child: &Arc<Child>,
    pool: Option<&SyncPool>,
    aio: Option<&AsyncLoop>,
    reading: &Reading,
    slot: Option<&Slot>,
) {
    let mut inline_ran = false;
    loop {
        if reading.done.load(Ordering::Acquire) {
            return;
        }
        if let Some(state) = try_lock(&reading.state) {
            if inline_ran && let Some(poll) = &reading.poll {
                // Back from an inline job with nobody having taken over: reads itself again.
                poll.disarm();
            }
            // The end is recorded before its reader lets go of `state`.
            if reading.done.load(Ordering::Acquire) {
                return;
            }
            let inline = match (pool, slot, &reading.poll) {
                (Some(pool), Some(slot), Some(poll)) => Some(Inline { pool, slot, poll }),
                _ => None,
            };
            match lead(child, pool, aio, reading, state, inline) {
                Led::Ended => return,
                Led::RanInline => {
                    inline_ran = true;
                    continue;
                }
            }
        }
        inline_ran = false;
        match &reading.poll {
            Some(poll) => poll.wait(),
            // Only one thread reads without `poll`, and it always gets `state`.
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

/// `try_lock`, a poisoned lock included (a reader that panicked ends the child anyway).
fn try_lock<T>(mutex: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match mutex.try_lock() {
        Ok(guard) => Some(guard),
        Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

/// What running a job inline needs.
#[derive(Clone, Copy)]
struct Inline<'a> {
    pool: &'a SyncPool,
    slot: &'a Slot,
    poll: &'a Poll,
}

enum Led {
    /// The channel ended, recorded with [`Reading::end`].
    Ended,
    /// This thread ran a sync job inline, having let go of the reading role first.
    RanInline,
}

/// Reads and dispatches frames until the channel ends or a job ran inline (possible with
/// `inline`, and only when nothing else read waits in the buffer behind it).
fn lead(
    child: &Arc<Child>,
    pool: Option<&SyncPool>,
    aio: Option<&AsyncLoop>,
    reading: &Reading,
    mut state: MutexGuard<'_, ReadState>,
    inline: Option<Inline<'_>>,
) -> Led {
    // Recorded while `state` is held: the other reader looks for the end once it has `state`.
    let end = |stop: Stop| {
        reading.end(stop);
        Led::Ended
    };
    loop {
        loop {
            let ReadState { buf, decoder, .. } = &mut *state;
            match decoder.decode(buf) {
                Ok(Some(frame)) => {
                    let mut taken = None;
                    // Only a frame with nothing read behind it, and once both readers run
                    // (the flag is set after this thread may have started reading).
                    let allowed = inline
                        .filter(|_| buf.is_empty() && reading.inline.load(Ordering::Acquire))
                        .map(|inline| (inline.slot, &mut taken));
                    if let Some(stop) = dispatch(child, pool, aio, frame, allowed) {
                        return end(stop);
                    }
                    if let (Some(job), Some(inline)) = (taken, inline) {
                        // Let go of the reading role before the other reader may be woken to
                        // take it: it takes `state` with `try_lock`.
                        drop(state);
                        inline.poll.arm();
                        inline.pool.run_inline(inline.slot, job);
                        return Led::RanInline;
                    }
                }
                Ok(None) => break,
                Err(err) => return end(Stop::Protocol(err)),
            }
        }
        let ReadState { buf, scratch, .. } = &mut *state;
        match (&child.stream).read(scratch) {
            Ok(0) => return end(Stop::ParentGone),
            Ok(n) => buf.extend_from_slice(&scratch[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return end(Stop::ParentGone),
        }
    }
}
