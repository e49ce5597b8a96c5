//! What [`GetMetrics`](super::GetMetrics) reports of each worker slot of an actor.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// Where a worker slot is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WorkerState {
    /// Its first child is starting (spawn, import, handshake, warmup).
    Starting,
    /// Serving calls.
    Warm,
    /// Its child is being replaced gracefully: it still serves until its successor is warm.
    Recycling,
    /// Its child died; a successor starts after the restart backoff.
    Restarting,
    /// It passed the restart limit: no successor is started until the next `reload`.
    Failed,
}

/// One worker slot of an actor, as [`GetMetrics`](super::GetMetrics) reports it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct WorkerStatus {
    /// The slot's index in the pool (stable across restarts: keyed calls map to slots).
    pub slot: usize,
    /// Where the slot is in its life.
    pub state: WorkerState,
    /// The process id of its current child, if it has one.
    pub pid: Option<u32>,
    /// Calls and streams its current child has been sent.
    pub served: u64,
    /// Calls and streams in flight on its current child.
    pub in_flight: usize,
    /// How long its current child has been serving.
    pub age: Option<Duration>,
    /// Resident memory of its current child at the last sample, in bytes (sampled only when a
    /// memory option is set).
    pub rss: Option<u64>,
    /// Times the slot's child was replaced after dying, over the actor's life.
    pub restarts: u64,
    /// Those restarts by the error kind the child ended with (`child_exited`, `unresponsive`,
    /// `memory_limit_exceeded`, or the kind of the error a failed start met).
    pub restart_reasons: BTreeMap<String, u64>,
    /// Times the slot's child was replaced gracefully.
    pub recycles: u64,
    /// How the slot's last child ended, as a message, if one has.
    pub last_exit: Option<String>,
}
