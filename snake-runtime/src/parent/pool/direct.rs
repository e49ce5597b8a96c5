//! The direct path: the workers a pool would route a call to now, published for the typed
//! handles, so that a call goes from the caller's task to the worker's connection without a hop
//! through the actor's mailbox.
//!
//! The pool is the only writer: it publishes its slots whenever a worker takes or leaves one,
//! *before* an old worker starts draining. A handle picks a worker under the read lock and sends
//! its call (`Connection::call` never waits) before it lets go, so a publish waits for the calls
//! being sent on the old workers: once it returns, no call can reach a worker that is about to
//! drain, and every call that did reach it went out before its shutdown began, as with the
//! mailbox. Whatever the snapshot cannot decide as the pool would (no warm worker, a child
//! found dead that the pool must reap, a call that reaches `max_requests`, the actor stopping)
//! returns `None`: the caller then goes through the mailbox, where the pool decides.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock, RwLockReadGuard};

use super::{Conn, Events, Routing, Worker};

/// A worker a call may be sent to.
struct Route {
    conn: Conn,
    /// The worker's count of calls served, shared with the pool's [`Worker`].
    served: Arc<AtomicU64>,
}

/// See the module docs. Shared by a pool and the typed handles of its actor.
pub(crate) struct Direct {
    /// One entry per slot, `None` when the slot has no worker; empty before the first worker is
    /// in service and once the actor stops.
    slots: RwLock<Vec<Option<Route>>>,
    /// Where unkeyed routing starts its scan: the pool's own cursor, shared.
    cursor: AtomicUsize,
    routing: Routing,
    max_requests: Option<u64>,
    /// Whether every call is re-sent once when its worker dies (`retry_on_exit`).
    retry_on_exit: bool,
    /// How a retried call reaches the pool again; set when the pool is attached to its actor.
    events: OnceLock<Events>,
    /// Calls sent on the direct path, for tests that check they took it.
    sent: AtomicU64,
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Direct").field("routing", &self.routing).finish_non_exhaustive()
    }
}

/// A worker picked for one call, with the read lock held until the call is sent.
pub(crate) struct Picked<'a> {
    slots: RwLockReadGuard<'a, Vec<Option<Route>>>,
    index: usize,
    sent: &'a AtomicU64,
}

impl Picked<'_> {
    /// The connection to send the call on; counts the call as served by the worker.
    pub(crate) fn take(&self) -> &Conn {
        let route = self.slots[self.index].as_ref().expect("picked slots have a worker");
        route.served.fetch_add(1, Ordering::Relaxed);
        self.sent.fetch_add(1, Ordering::Relaxed);
        &route.conn
    }
}

impl Direct {
    pub(crate) fn new(routing: Routing, max_requests: Option<u64>, retry_on_exit: bool) -> Self {
        Self {
            slots: RwLock::new(Vec::new()),
            cursor: AtomicUsize::new(0),
            routing,
            max_requests,
            retry_on_exit,
            events: OnceLock::new(),
            sent: AtomicU64::new(0),
        }
    }

    pub(crate) const fn retry_on_exit(&self) -> bool {
        self.retry_on_exit
    }

    /// How many calls went on the direct path.
    pub(crate) fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    pub(crate) fn events(&self) -> Option<&Events> {
        self.events.get()
    }

    pub(crate) fn attach(&self, events: &Events) {
        let _ = self.events.set(Arc::clone(events));
    }

    /// The next start of an unkeyed scan over `n` slots (the pool's round-robin cursor).
    pub(crate) fn next_start(&self, n: usize) -> usize {
        self.cursor.fetch_add(1, Ordering::Relaxed) % n
    }

    /// Publishes the workers of `slots` (none while `stopping`). Waits for the calls being
    /// sent on the previous ones.
    pub(crate) fn publish<'a>(&self, slots: impl Iterator<Item = Option<&'a Worker>>, stopping: bool) {
        let routes = if stopping {
            Vec::new()
        } else {
            slots
                .map(|worker| {
                    worker.map(|worker| Route {
                        conn: Arc::clone(worker.connection()),
                        served: Arc::clone(&worker.served),
                    })
                })
                .collect()
        };
        *self.slots.write().unwrap_or_else(PoisonError::into_inner) = routes;
    }

    /// A zeroed region of `len` bytes in the arena of the worker a call with `key` would go to
    /// now (see [`pick`](Self::pick)); `None` when none is published, or it has no shared memory
    /// or no room.
    pub(crate) fn reserve(&self, key: Option<u64>, len: usize) -> Option<snake_ipc::shm::Reserved> {
        let conn = {
            let picked = self.pick_with(key, false)?;
            Arc::clone(&picked.slots[picked.index].as_ref()?.conn)
        };
        // Zeroing a large region takes a while: not under the lock a publish waits for.
        conn.reserve_shared(len)
    }

    /// The worker the pool would route a call with `key` to now, or `None` when only the pool can
    /// decide (see the module docs).
    pub(crate) fn pick(&self, key: Option<u64>) -> Option<Picked<'_>> {
        self.pick_with(key, true)
    }

    /// [`pick`](Self::pick); unless `turn`, an unkeyed pick leaves the round-robin cursor where it
    /// is, so that the next call picks the same worker (if the loads do not change meanwhile).
    fn pick_with(&self, key: Option<u64>, turn: bool) -> Option<Picked<'_>> {
        let slots = self.slots.read().unwrap_or_else(PoisonError::into_inner);
        let n = slots.len();
        // A dead child is taken out of service by the pool (`reap`), which then routes the call.
        if n == 0 || slots.iter().flatten().any(|route| route.conn.is_dead()) {
            return None;
        }
        let (index, counted) = match key {
            Some(key) => {
                let home = usize::try_from(key % n as u64).unwrap_or(0);
                ((0..n).map(|i| (home + i) % n).find(|&i| slots[i].is_some()), false)
            }
            None => {
                let start = if turn { self.next_start(n) } else { self.cursor.load(Ordering::Relaxed) % n };
                let mut live = (0..n).map(|i| (start + i) % n).filter(|&i| slots[i].is_some());
                let index = match self.routing {
                    Routing::RoundRobin => live.next(),
                    Routing::LeastLoaded => {
                        live.min_by_key(|&i| slots[i].as_ref().map_or(usize::MAX, |route| route.conn.in_flight()))
                    }
                };
                (index, turn)
            }
        };
        // The call that reaches `max_requests` goes through the pool, which recycles the worker.
        let served = |index: usize| slots[index].as_ref().map_or(0, |route| route.served.load(Ordering::Relaxed));
        let index = index.filter(|&index| self.max_requests.is_none_or(|max| served(index) + 1 < max));
        let Some(index) = index else {
            if counted {
                // The pool takes this call's turn.
                self.cursor.fetch_sub(1, Ordering::Relaxed);
            }
            return None;
        };
        Some(Picked { slots, index, sent: &self.sent })
    }
}
