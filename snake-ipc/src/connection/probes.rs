//! Health probes: a `Ping` the child answers with a `Pong`, timed by the parent.
//!
//! Probes live in a table of their own, outside the calls' in-flight window and the hooks: a
//! window full of slow calls never makes a healthy child look hung, and probes are not calls in
//! the metrics. The reader completes a probe on its `Pong`; [`Connection::fail_all`] fails the
//! ones still outstanding with the connection's dead error.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::Connection;
use crate::error::{IpcError, PeerError};
use crate::frame::{FrameKind, Header, PING_GIL, PING_HEARTBEAT, encode_frame};

/// The most probes a connection keeps outstanding; more fail at once with
/// [`IpcError::TooManyProbes`].
pub const MAX_OUTSTANDING_PROBES: usize = 64;

/// One probe waiting for its `Pong`.
pub(super) struct Outstanding<E> {
    sent: Instant,
    answer: oneshot::Sender<Result<Duration, E>>,
}

impl<E> Outstanding<E> {
    pub(super) fn fail(self, err: E) {
        let _ = self.answer.send(Err(err));
    }
}

/// Removes a probe whose caller stopped waiting (its future was dropped, say by a timeout).
struct Forget<'a, E: PeerError> {
    conn: &'a Connection<E>,
    id: u64,
}

impl<E: PeerError> Drop for Forget<'_, E> {
    fn drop(&mut self) {
        self.conn.state().probes.remove(&self.id);
    }
}

impl<E: PeerError> Connection<E> {
    /// Checks that the child is alive and responsive; returns the round-trip time.
    ///
    /// With `gil == false` (a heartbeat) the child's reader thread answers at once, without the
    /// GIL: an answer means the process runs and reads its channel. With `gil == true` the answer
    /// comes only after a thread of the child has acquired the GIL, so a handler that holds it
    /// (a C extension that does not release it) delays the answer for as long as it holds it.
    ///
    /// Probes take no slot of the in-flight window and are not calls for the hooks. There is no
    /// timeout here: a child that never answers leaves the future pending, so wrap it in the
    /// caller's own (`tokio::time::timeout`); dropping the future forgets the probe. Fails with
    /// the connection's dead error (`ChildExited`, ...) if the child is gone or dies meanwhile,
    /// and with [`IpcError::TooManyProbes`] when [`MAX_OUTSTANDING_PROBES`] are unanswered.
    pub async fn probe(&self, gil: bool) -> Result<Duration, E> {
        let id = self.next_probe.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = oneshot::channel();
        {
            let mut state = self.state();
            if let Some(dead) = &state.dead {
                return Err(dead.clone());
            }
            if state.probes.len() >= MAX_OUTSTANDING_PROBES {
                return Err(E::from(IpcError::TooManyProbes { limit: MAX_OUTSTANDING_PROBES }));
            }
            state.probes.insert(id, Outstanding { sent: Instant::now(), answer });
        }
        let _forget = Forget { conn: self, id };
        let method = if gil { PING_GIL } else { PING_HEARTBEAT };
        let mut frame = Vec::with_capacity(16);
        let header = Header { kind: FrameKind::Ping, id, method, trace: None };
        if let Err(err) = encode_frame(&mut frame, &header, &(), self.limits.max_frame_size) {
            return Err(E::from(IpcError::Protocol(err)));
        }
        self.send(&frame);
        match answered.await {
            Ok(result) => result,
            // Only `fail_all` and `pong` take an entry out, and both answer it.
            Err(_) => Err(self.dead().unwrap_or_else(|| E::from(IpcError::Cancelled))),
        }
    }

    /// How many probes are waiting for their answer.
    pub fn outstanding_probes(&self) -> usize {
        self.state().probes.len()
    }

    /// The child answered probe `id`; an answer nobody waits for any more is dropped.
    pub(super) fn pong(&self, id: u64) {
        if let Some(probe) = self.state().probes.remove(&id) {
            let _ = probe.answer.send(Ok(probe.sent.elapsed()));
        }
    }
}
