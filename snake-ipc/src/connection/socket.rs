//! The parent's end of the socket, as registered with the tokio reactor.
//!
//! An `AsyncFd` rather than a `tokio::net::UnixStream`, for one thing the stream cannot do: a
//! read that fills less than the room it was given found the socket empty, and readiness is
//! cleared then (as tokio's own `AsyncRead` does), which saves the read that would only return
//! `EWOULDBLOCK` after every reply. Writes are direct non-blocking sends ([`crate::outbox`]);
//! only a write that finds the socket full waits for write readiness.
//!
//! The socket stays registered for writing too, although nothing waits for that while the
//! socket has room, and on a Unix socket every read the child makes then wakes the reactor's
//! thread with a write edge, for nothing. Registering it for reading alone removed that wake
//! (one context switch fewer per call, measured with `--bench sync_loop`) and helped pinned
//! (`--bench roundtrip`, two runs each: async p50 20.8 to 19.4-19.6 µs), but unpinned the async
//! p50 went from 32 to 48 µs and the awaited callback from 32 to 47 µs. The likely cause: with
//! the parent's core idle rather than busy with that wake, the scheduler moves the child's
//! asyncio thread to it, and waking an idle virtual CPU costs more than the wake saved.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;

use bytes::{BufMut, BytesMut};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::outbox::send_nonblocking;

pub(super) struct Socket {
    socket: AsyncFd<UnixStream>,
}

impl Socket {
    /// Makes `stream` non-blocking and registers it on the current runtime.
    pub(super) fn new(stream: UnixStream) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        let interest = Interest::READABLE | Interest::WRITABLE;
        // SAFETY: the `UnixStream` owns its descriptor, open until it drops with the `AsyncFd`,
        // and always returns that one.
        Ok(Self { socket: unsafe { AsyncFd::register_with_interest(stream, interest)? } })
    }

    /// Waits until the socket is readable and reads once into `buf`'s spare room (kept at 16 KiB
    /// or more): `Ok(0)` is the end of the stream. Cancel-safe: nothing is read until the read
    /// completes.
    pub(super) async fn read_buf(&self, buf: &mut BytesMut) -> io::Result<usize> {
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(64 * 1024);
        }
        loop {
            let mut guard = self.socket.readable().await?;
            let spare = buf.spare_capacity_mut();
            let room = spare.len();
            let read = guard.try_io(|socket| {
                // SAFETY: `spare` is valid for `room` bytes, which `recv` only writes, and the
                // descriptor is open for the borrow.
                let n = unsafe { libc::recv(socket.as_raw_fd(), spare.as_mut_ptr().cast(), room, libc::MSG_DONTWAIT) };
                usize::try_from(n).map_err(|_| io::Error::last_os_error())
            });
            match read {
                Ok(Ok(n)) => {
                    // SAFETY: `recv` initialised the first `n` bytes of the spare room.
                    unsafe { buf.advance_mut(n) };
                    if 0 < n && n < room {
                        guard.clear_ready();
                    }
                    return Ok(n);
                }
                Ok(Err(err)) if err.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(err)) => return Err(err),
                // `EWOULDBLOCK`: readiness was cleared; wait for the next edge.
                Err(_would_block) => {}
            }
        }
    }

    /// Writes all of `data`, waiting for room when the socket is full.
    pub(super) async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let mut guard = self.socket.writable().await?;
            match guard.try_io(|socket| send_nonblocking(socket.as_fd(), data)) {
                Ok(Ok(n)) => data = &data[n..],
                Ok(Err(err)) if err.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(err)) => return Err(err),
                // `EWOULDBLOCK`: readiness was cleared; wait for room.
                Err(_would_block) => {}
            }
        }
        Ok(())
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.get_ref().as_fd()
    }
}
