//! One worker of a pool: a running child, what the pool counts of it, and the task that watches
//! it (its exit, its memory, its age, its health).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use snake_ipc::Connection;
use tokio::task::AbortHandle;

use super::options::{PoolOptions, resident_bytes};
use super::{Event, Events};
use crate::error::PythonExecutionError;
use crate::parent::process::Child;

/// A running child in a pool.
pub(crate) struct Worker {
    pub(crate) id: u64,
    pub(crate) child: Child,
    pub(crate) started: Instant,
    /// Calls routed to it, by the pool or on the direct path.
    pub(crate) served: Arc<AtomicU64>,
    /// Resident bytes at the last sample; 0 before the first.
    pub(crate) rss: Arc<AtomicU64>,
    /// Whether the pool has been asked to recycle it already.
    pub(crate) recycling: bool,
    watch: AbortHandle,
}

impl Worker {
    /// Takes `child` into service and starts watching it.
    pub(crate) fn new(id: u64, child: Child, options: &PoolOptions, events: &Events) -> Self {
        let rss = Arc::new(AtomicU64::new(0));
        let watch = tokio::spawn(watch(
            id,
            Arc::clone(&child.connection),
            Arc::clone(&rss),
            Watch::from(options),
            Arc::clone(events),
        ))
        .abort_handle();
        Self { id, child, started: Instant::now(), served: Arc::new(AtomicU64::new(0)), rss, recycling: false, watch }
    }

    pub(crate) fn connection(&self) -> &Arc<Connection<PythonExecutionError>> {
        &self.child.connection
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.child.connection.in_flight()
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.info.pid
    }

    pub(crate) fn rss(&self) -> Option<u64> {
        Some(self.rss.load(Ordering::Relaxed)).filter(|&rss| rss > 0)
    }

    /// Drains the child in the background: it takes no new call, finishes those in flight (up
    /// to the shutdown grace), then exits. The watch task reports the exit.
    pub(crate) fn drain(&self) {
        let connection = Arc::clone(&self.child.connection);
        tokio::spawn(async move { connection.shutdown().await });
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.watch.abort();
    }
}

/// What the watch task checks, copied from the options.
#[derive(Clone, Copy)]
struct Watch {
    sample: Option<Duration>,
    max_rss: Option<u64>,
    memory_limit: Option<u64>,
    max_age: Option<Duration>,
    unresponsive_after: Option<Duration>,
}

impl From<&PoolOptions> for Watch {
    fn from(options: &PoolOptions) -> Self {
        Self {
            sample: options.samples_memory().then_some(options.sample_interval),
            max_rss: options.max_rss,
            memory_limit: options.memory_limit,
            max_age: options.max_age,
            unresponsive_after: options.unresponsive_after,
        }
    }
}

/// Watches one worker until its child is reaped, then tells the pool. Meanwhile: samples its
/// memory (kills it past `memory_limit`, asks for a recycle past `max_rss`), asks for a recycle
/// past `max_age`, and probes its health (kills it when a probe goes unanswered).
async fn watch(
    id: u64,
    connection: Arc<Connection<PythonExecutionError>>,
    rss: Arc<AtomicU64>,
    watch: Watch,
    events: Events,
) {
    let pid = connection.pid();
    let memory = async {
        let Some(interval) = watch.sample else { return std::future::pending().await };
        let mut asked = false;
        loop {
            tokio::time::sleep(interval).await;
            let Some(bytes) = resident_bytes(pid) else { return std::future::pending().await };
            rss.store(bytes, Ordering::Relaxed);
            if let Some(limit) = watch.memory_limit
                && bytes > limit
            {
                tracing::warn!(child_pid = pid, rss = bytes, limit, "python worker over its memory limit: killing it");
                connection.fail_all(PythonExecutionError::MemoryLimitExceeded { pid, rss: bytes, limit });
                connection.kill();
                return std::future::pending().await;
            }
            if !asked && watch.max_rss.is_some_and(|max| bytes > max) {
                asked = true;
                events(Event::Recycle { worker: id, reason: "max_rss" });
            }
        }
    };
    let age = async {
        let Some(max_age) = watch.max_age else { return std::future::pending().await };
        tokio::time::sleep(max_age).await;
        events(Event::Recycle { worker: id, reason: "max_age" });
        std::future::pending::<()>().await;
    };
    let health = async {
        let Some(after) = watch.unresponsive_after else { return std::future::pending().await };
        let period = after / 4;
        loop {
            tokio::time::sleep(period).await;
            let heartbeat = tokio::time::timeout(after, connection.probe(false));
            let gil = tokio::time::timeout(after, connection.probe(true));
            let (heartbeat, gil) = tokio::join!(heartbeat, gil);
            let probe = match (heartbeat, gil) {
                (Err(_), _) => "heartbeat",
                (_, Err(_)) => "gil",
                // Answered, or the child is gone (its exit is reported below).
                _ => continue,
            };
            tracing::warn!(child_pid = pid, probe, ?after, "python worker unresponsive: killing it");
            connection.fail_all(PythonExecutionError::Unresponsive { pid, probe: probe.to_owned(), after });
            connection.kill();
            return std::future::pending().await;
        }
    };
    let status = tokio::select! {
        status = connection.wait_exit() => status,
        () = memory => unreachable!("never ends"),
        () = age => unreachable!("never ends"),
        () = health => unreachable!("never ends"),
    };
    events(Event::Exited { worker: id, status });
}
