//! The parent's end of the socket, registered with the tokio reactor for reading only.
//!
//! A `tokio::net::UnixStream` is registered for both directions, edge-triggered. On a Unix
//! socket every read the child makes frees room in the parent's send buffer, and the kernel
//! reports that as a write-readiness edge: with both directions registered, each call would
//! wake the reactor's thread once more for nothing (measured with `--bench sync_loop`: about one
//! more context switch per call on the parent's worker threads). Writes here are direct
//! non-blocking sends ([`crate::outbox`]), which need no readiness; only a write that finds the
//! socket full waits, and only that wait registers a duplicate of the descriptor for write
//! readiness, dropped when the write is done.
//!
//! A read that fills less than the room it was given found the socket empty: readiness is
//! cleared then (as tokio's own `AsyncRead` does), which saves the read that would only return
//! `EWOULDBLOCK` after every reply.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use bytes::{BufMut, BytesMut};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::outbox::send_nonblocking;

pub(super) struct Socket {
    readable: AsyncFd<UnixStream>,
}

impl Socket {
    /// Makes `stream` non-blocking and registers it for reading on the current runtime.
    pub(super) fn new(stream: UnixStream) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        // SAFETY: `UnixStream` and `OwnedFd` own their descriptor, open until they drop with the
        // `AsyncFd`, and always return that one.
        Ok(Self { readable: unsafe { AsyncFd::register_with_interest(stream, Interest::READABLE)? } })
    }

    /// Waits until the socket is readable and reads once into `buf`'s spare room (kept at 16 KiB
    /// or more): `Ok(0)` is the end of the stream. Cancel-safe: nothing is read until the read
    /// completes.
    pub(super) async fn read_buf(&self, buf: &mut BytesMut) -> io::Result<usize> {
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(64 * 1024);
        }
        loop {
            let mut guard = self.readable.readable().await?;
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
        // Registered only once a send found the socket full (see the module docs).
        let mut writable: Option<AsyncFd<OwnedFd>> = None;
        while !data.is_empty() {
            let sent = match send_nonblocking(self.as_fd(), data) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    let writable = match &mut writable {
                        Some(writable) => writable,
                        None => {
                            let duplicate = self.as_fd().try_clone_to_owned()?;
                            // SAFETY: as in `new`.
                            writable.insert(unsafe { AsyncFd::register_with_interest(duplicate, Interest::WRITABLE)? })
                        }
                    };
                    let mut guard = writable.writable().await?;
                    match guard.try_io(|socket| send_nonblocking(socket.as_fd(), data)) {
                        Ok(sent) => sent,
                        Err(_would_block) => continue,
                    }
                }
                sent => sent,
            };
            match sent {
                Ok(n) => data = &data[n..],
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.readable.get_ref().as_fd()
    }
}
