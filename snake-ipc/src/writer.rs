//! The child's side of ordered writes: blocking threads, no runtime.
//!
//! Every thread that produces a frame (a worker with a reply, the event loop, the reader with an
//! error) writes it straight into the socket through the shared [`Outbox`]; only when the socket
//! is full does a dedicated writer thread drain the backlog, with blocking writes.

use std::io::{self, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::outbox::{Outbox, Pushed};

/// See the module docs. Shared as `Arc<ChildWriter>` by every producing thread.
#[derive(Debug)]
pub struct ChildWriter {
    stream: UnixStream,
    outbox: Outbox,
    wake: Mutex<bool>,
    woken: Condvar,
}

impl ChildWriter {
    /// Writes to `stream` (the child's end of the channel); starts the writer thread.
    pub fn start(stream: UnixStream) -> io::Result<Arc<Self>> {
        let writer =
            Arc::new(Self { stream, outbox: Outbox::default(), wake: Mutex::new(false), woken: Condvar::new() });
        let drainer = Arc::clone(&writer);
        std::thread::Builder::new().name("snake-ipc-writer".into()).spawn(move || {
            loop {
                {
                    let mut woken = drainer.wake.lock().unwrap_or_else(PoisonError::into_inner);
                    while !*woken {
                        woken = drainer.woken.wait(woken).unwrap_or_else(PoisonError::into_inner);
                    }
                    *woken = false;
                }
                drainer.drain();
            }
        })?;
        Ok(writer)
    }

    /// Sends one encoded frame (or several back to back), in order with every other.
    pub fn send(&self, frame: &[u8]) {
        match self.outbox.push(self.stream.as_fd(), frame) {
            Pushed::Done => {}
            Pushed::WakeDrainer => {
                *self.wake.lock().unwrap_or_else(PoisonError::into_inner) = true;
                self.woken.notify_one();
            }
            // The parent is gone; the reader sees end-of-stream and ends the process.
            Pushed::Closed => {}
        }
        // What this thread's frames handed back may be released now: it cannot overtake them.
        crate::shm::handback::after_send();
    }

    /// Whether nothing is queued: a frame sent now goes out at once.
    pub fn is_idle(&self) -> bool {
        self.outbox.is_idle()
    }

    /// Waits, at most `bound`, until everything queued has been written.
    pub fn flush(&self, bound: Duration) {
        let deadline = Instant::now() + bound;
        while !self.outbox.is_idle() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn drain(&self) {
        while let Some(chunk) = self.outbox.take_backlog() {
            if (&self.stream).write_all(&chunk).is_err() {
                self.outbox.close();
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn frames_from_many_threads_arrive_whole_and_in_each_threads_order() {
        let (ours, mut theirs) = UnixStream::pair().expect("pair");
        let writer = ChildWriter::start(ours).expect("writer");
        // Each thread writes 2,000 64-byte records tagged (thread, sequence), 512 KiB in all, while
        // nobody reads: the socket fills up and the writer thread drains the rest.
        let threads: Vec<_> = (0..4u32)
            .map(|thread| {
                let writer = Arc::clone(&writer);
                std::thread::spawn(move || {
                    for seq in 0..2000u32 {
                        let mut record = [0u8; 64];
                        record[..4].copy_from_slice(&thread.to_le_bytes());
                        record[4..8].copy_from_slice(&seq.to_le_bytes());
                        writer.send(&record);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("a producer never blocks");
        }
        assert!(!writer.is_idle(), "more than the socket holds is queued");
        let mut all = vec![0u8; 4 * 2000 * 64];
        theirs.read_exact(&mut all).expect("read");
        let mut next = [0u32; 4];
        for record in all.chunks(64) {
            let thread = u32::from_le_bytes(record[..4].try_into().expect("4")) as usize;
            let seq = u32::from_le_bytes(record[4..8].try_into().expect("4"));
            assert_eq!(seq, next[thread], "thread {thread}'s records arrive in order, whole");
            next[thread] += 1;
        }
        assert_eq!(next, [2000; 4]);
        writer.flush(Duration::from_secs(1));
        assert!(writer.is_idle());
    }
}
