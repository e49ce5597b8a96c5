//! Ordered, whole-frame writes shared by every producer on one side of the channel.
//!
//! The hot path writes a frame straight into the socket with a non-blocking `send` while holding
//! a short lock, so a reply costs one system call and no thread hop. Only when the socket buffer is
//! full does the remainder go to a backlog that a single drainer (a thread in the child, a task in
//! the parent) writes out; while it drains, later frames queue behind it, so frames never
//! interleave or reorder. The backlog is bounded by the in-flight window times the frame size:
//! every frame in it answers (or starts) a call that the window admitted.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// What a push did.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Pushed {
    /// The frame is written, or queued behind a drainer that is already running.
    Done,
    /// The frame is (partly) queued and no drainer was running: the caller must start one.
    WakeDrainer,
    /// The channel is broken; the frame was dropped.
    Closed,
}

#[derive(Debug, Default)]
struct State {
    backlog: Vec<u8>,
    draining: bool,
    closed: bool,
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct Outbox {
    state: Mutex<State>,
}

impl Outbox {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes `frame` to `fd` now if nothing is queued, else queues it.
    pub fn push(&self, fd: BorrowedFd<'_>, frame: &[u8]) -> Pushed {
        let mut state = self.lock();
        if state.closed {
            return Pushed::Closed;
        }
        if state.draining {
            state.backlog.extend_from_slice(frame);
            return Pushed::Done;
        }
        let mut written = 0;
        while written < frame.len() {
            match send_nonblocking(fd, &frame[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    state.closed = true;
                    return Pushed::Closed;
                }
            }
        }
        if written == frame.len() {
            return Pushed::Done;
        }
        state.backlog.extend_from_slice(&frame[written..]);
        state.draining = true;
        Pushed::WakeDrainer
    }

    /// For the drainer: takes everything queued, or ends the drain when nothing is.
    pub fn take_backlog(&self) -> Option<Vec<u8>> {
        let mut state = self.lock();
        if state.backlog.is_empty() || state.closed {
            state.draining = false;
            return None;
        }
        Some(std::mem::take(&mut state.backlog))
    }

    /// Whether nothing is queued or being written by a drainer.
    pub fn is_idle(&self) -> bool {
        let state = self.lock();
        state.closed || (!state.draining && state.backlog.is_empty())
    }

    /// Whether the channel was marked broken.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Marks the channel broken: later pushes fail, the backlog is dropped.
    pub fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.backlog = Vec::new();
    }
}

/// One non-blocking `send` that never raises `SIGPIPE`, whatever mode the socket is in.
pub fn send_nonblocking(fd: BorrowedFd<'_>, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for `buf.len()` bytes and `fd` is an open socket for the borrow.
    let n =
        unsafe { libc::send(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn full_socket_queues_in_order_and_drains() {
        let (a, mut b) = UnixStream::pair().expect("pair");
        let outbox = Outbox::default();
        let chunk = vec![7u8; 64 * 1024];
        let mut woke = 0;
        for _ in 0..64 {
            match outbox.push(a.as_fd(), &chunk) {
                Pushed::Done => {}
                Pushed::WakeDrainer => woke += 1,
                Pushed::Closed => panic!("closed"),
            }
        }
        assert_eq!(woke, 1, "exactly one drainer is asked for");
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            b.read_to_end(&mut all).expect("read");
            all.len()
        });
        while let Some(chunk) = outbox.take_backlog() {
            std::io::Write::write_all(&mut &a, &chunk).expect("drain");
        }
        drop(a);
        assert_eq!(reader.join().expect("reader"), 64 * 64 * 1024);
    }

    #[test]
    fn broken_pipe_closes_without_signal() {
        let (a, b) = UnixStream::pair().expect("pair");
        drop(b);
        let outbox = Outbox::default();
        assert_eq!(outbox.push(a.as_fd(), b"frame"), Pushed::Closed);
        assert_eq!(outbox.push(a.as_fd(), b"frame"), Pushed::Closed);
    }
}
