//! The in-flight table: calls and streams sent to the child, each waiting for its reply, items,
//! cancellation or deadline.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, TryAcquireError, mpsc, oneshot};

use super::Connection;
use crate::error::{IpcError, PeerError, ProtocolError};
use crate::frame::{FrameKind, Header, encode_frame, encode_frame_with};
use crate::hooks::Hooks;
use crate::shm::FrameOut;
use crate::stream::RawStream;

/// Where the result of one call goes: the encoded reply body, or why there is none. The upper
/// layer implements it for its own reply channels (a kameo reply sender, say), so a reply reaches
/// the caller with no task in between.
pub trait ReplySink<E>: Send + 'static {
    /// Whether the caller went away (its call is then cancelled in the child).
    fn is_closed(&self) -> bool;

    /// Ready once the caller has gone away; used while a call waits for a slot. By default it
    /// never is (the call then waits until a slot frees or the child dies).
    fn poll_closed(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        let _ = cx;
        std::task::Poll::Pending
    }

    /// Delivers the result. Called once, from the connection's reader task: never block.
    fn complete(self: Box<Self>, result: Result<Bytes, E>);
}

impl<E: Send + 'static> ReplySink<E> for oneshot::Sender<Result<Bytes, E>> {
    fn is_closed(&self) -> bool {
        oneshot::Sender::is_closed(self)
    }

    fn poll_closed(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        oneshot::Sender::poll_closed(self, cx)
    }

    fn complete(self: Box<Self>, result: Result<Bytes, E>) {
        let _ = self.send(result);
    }
}

/// Channel of a stream's items; one slot more than the credit window, for its final error.
type ItemSender<E> = mpsc::Sender<Result<Bytes, E>>;

enum Waiting<E> {
    /// One reply.
    Call { reply: Box<dyn ReplySink<E>>, deadline: Option<(Instant, Duration)> },
    /// Items until the end or an error.
    Stream { items: ItemSender<E> },
}

pub(super) struct Pending<E> {
    waiting: Waiting<E>,
    /// The call's `snake.call` span; it closes when the entry is dropped.
    pub(super) span: tracing::Span,
    _permit: OwnedSemaphorePermit,
    /// Reports the call to the hooks until it ends.
    timer: CallTimer,
}

impl<E: PeerError> Pending<E> {
    fn abandoned(&self) -> bool {
        match &self.waiting {
            Waiting::Call { reply, .. } => reply.is_closed(),
            Waiting::Stream { items } => items.is_closed(),
        }
    }

    fn overdue(&self, now: Instant) -> bool {
        matches!(self.waiting, Waiting::Call { deadline: Some((at, _)), .. } if at <= now)
    }

    pub(super) fn fail(mut self, err: E) {
        self.timer.finish(Some(err.kind()));
        match self.waiting {
            Waiting::Call { reply, .. } => reply.complete(Err(err)),
            // There is always room for the final error: credit bounds the items in the channel.
            Waiting::Stream { items } => {
                let _ = items.try_send(Err(err));
            }
        }
    }
}

/// One call in flight, as the hooks see it. Reports its end once: as given to
/// [`CallTimer::finish`], or as `cancelled` when dropped unfinished (the caller went away), so an
/// in-flight gauge cannot leak.
struct CallTimer {
    hooks: Arc<dyn Hooks>,
    method: u32,
    started: Instant,
    finished: bool,
}

impl CallTimer {
    fn start(hooks: &Arc<dyn Hooks>, method: u32) -> Self {
        hooks.call_started(method);
        Self { hooks: Arc::clone(hooks), method, started: Instant::now(), finished: false }
    }

    fn finish(&mut self, error: Option<&'static str>) {
        if !std::mem::replace(&mut self.finished, true) {
            self.hooks.call_finished(self.method, self.started.elapsed(), error);
        }
    }
}

impl Drop for CallTimer {
    fn drop(&mut self) {
        self.finish(Some("cancelled"));
    }
}

impl<E: PeerError> Connection<E> {
    /// Sends a call of method `method` and arranges for its result to reach `reply`. Never
    /// waits: with a free slot in the in-flight window the frame goes out at once; otherwise a
    /// task waits for a slot (backpressure) and sends it then, unless the caller goes away or the
    /// child dies first. So the caller's own task (an actor's mailbox, say) is never held up.
    pub fn call<T: Serialize>(
        self: &Arc<Self>,
        method: u32,
        request: T,
        reply: Box<dyn ReplySink<E>>,
        caller: &tracing::Span,
    ) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let span = self.call_span(id, method, caller);
        let mut frame = Vec::with_capacity(64);
        let header = Header { kind: FrameKind::Call, id, method, trace: self.hooks.trace_context(&span) };
        // With a slot free now, a large request is encoded straight into shared memory: it goes
        // out at once, so its region is never held by a call that waits.
        if let Some(shm) = &self.shm
            && !*self.stopping.borrow()
            && let Ok(permit) = Arc::clone(&self.window).try_acquire_owned()
        {
            let mut out = FrameOut::new(&mut frame, header, self.limits.max_frame_size, Some(shm));
            match out.put(&request) {
                Ok(()) => self.send_call(id, method, frame, reply, span, permit),
                Err(err) => reply.complete(Err(E::from(IpcError::Protocol(err)))),
            }
            // The views the frame handed back ranges of may go now: it is in the outbox, ahead
            // of any release of theirs.
            crate::shm::handback::after_send();
            return;
        }
        if let Err(err) = encode_frame(&mut frame, &header, &request, self.limits.max_frame_size) {
            return reply.complete(Err(E::from(IpcError::Protocol(err))));
        }
        self.admit(id, method, frame, reply, span);
    }

    /// [`call`](Self::call) with a body encoded already (postcard bytes of the request), so that
    /// one encoding can be sent again, to another child, if the first one dies.
    pub fn call_encoded(
        self: &Arc<Self>,
        method: u32,
        body: &[u8],
        reply: Box<dyn ReplySink<E>>,
        caller: &tracing::Span,
    ) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let span = self.call_span(id, method, caller);
        let mut frame = Vec::with_capacity(body.len() + 64);
        let header = Header { kind: FrameKind::Call, id, method, trace: self.hooks.trace_context(&span) };
        let encoded = encode_frame_with(&mut frame, &header, self.limits.max_frame_size, |out| {
            out.extend_from_slice(body);
            Ok::<(), ProtocolError>(())
        });
        if let Err(err) = encoded {
            return reply.complete(Err(E::from(IpcError::Protocol(err))));
        }
        self.admit(id, method, frame, reply, span);
    }

    /// Takes a slot in the window and sends, or leaves a task to wait for one.
    fn admit(
        self: &Arc<Self>,
        id: u64,
        method: u32,
        frame: Vec<u8>,
        mut reply: Box<dyn ReplySink<E>>,
        span: tracing::Span,
    ) {
        if *self.stopping.borrow() {
            return reply.complete(Err(E::from(IpcError::Stopping)));
        }
        match Arc::clone(&self.window).try_acquire_owned() {
            Ok(permit) => self.send_call(id, method, frame, reply, span, permit),
            Err(TryAcquireError::Closed) => {
                reply.complete(Err(self.dead().unwrap_or_else(|| E::from(IpcError::Cancelled))));
            }
            Err(TryAcquireError::NoPermits) => {
                let conn = Arc::clone(self);
                tokio::spawn(async move {
                    let closed = std::future::poll_fn(|cx| reply.poll_closed(cx));
                    let mut stopping = conn.stopping.subscribe();
                    let permit = tokio::select! {
                        permit = Arc::clone(&conn.window).acquire_owned() => permit,
                        // The caller went away while waiting: nothing was sent, nothing to cancel.
                        () = closed => return,
                        _ = stopping.wait_for(|stopping| *stopping) => {
                            return reply.complete(Err(E::from(IpcError::Stopping)));
                        }
                    };
                    match permit {
                        Ok(permit) => conn.send_call(id, method, frame, reply, span, permit),
                        Err(_) => reply.complete(Err(conn.dead().unwrap_or_else(|| E::from(IpcError::Cancelled)))),
                    }
                });
            }
        }
    }

    fn send_call(
        &self,
        id: u64,
        method: u32,
        frame: Vec<u8>,
        reply: Box<dyn ReplySink<E>>,
        span: tracing::Span,
        permit: OwnedSemaphorePermit,
    ) {
        let discard = |frame: &[u8]| {
            if let Some(shm) = &self.shm {
                shm.discard(frame);
            }
        };
        if *self.stopping.borrow() {
            discard(&frame);
            return reply.complete(Err(E::from(IpcError::Stopping)));
        }
        {
            let mut state = self.state();
            if let Some(dead) = &state.dead {
                let dead = dead.clone();
                drop(state);
                discard(&frame);
                return reply.complete(Err(dead));
            }
            let deadline = self.limits.call_timeout.map(|t| (Instant::now() + t, t));
            let was_idle = state.pending.is_empty();
            state.pending.insert(
                id,
                Pending {
                    waiting: Waiting::Call { reply, deadline },
                    span,
                    _permit: permit,
                    timer: CallTimer::start(&self.hooks, method),
                },
            );
            if was_idle && !self.sweep_armed.load(Ordering::SeqCst) {
                // The reader has stopped sweeping: wake it to start again.
                self.work.notify_one();
            }
        }
        self.send(&frame);
    }

    /// Opens a streaming call of method `method`: the child may send up to `window` items before
    /// it is granted more. The frame's body is the window (`u32`) followed by the request. Waits
    /// for a slot in the in-flight window.
    pub async fn open_stream<T: Serialize + Send>(
        self: &Arc<Self>,
        method: u32,
        request: T,
        window: u32,
        caller: &tracing::Span,
    ) -> Result<RawStream<E>, E> {
        if *self.stopping.borrow() {
            return Err(E::from(IpcError::Stopping));
        }
        let mut stopping = self.stopping.subscribe();
        let permit = tokio::select! {
            permit = Arc::clone(&self.window).acquire_owned() => permit,
            _ = stopping.wait_for(|stopping| *stopping) => return Err(E::from(IpcError::Stopping)),
        };
        let Ok(permit) = permit else {
            return Err(self.dead().unwrap_or_else(|| E::from(IpcError::Cancelled)));
        };
        let window = window.max(1);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let span = self.call_span(id, method, caller);
        let mut frame = Vec::with_capacity(64);
        let header = Header { kind: FrameKind::OpenStream, id, method, trace: self.hooks.trace_context(&span) };
        encode_frame(&mut frame, &header, &(window, request), self.limits.max_frame_size)
            .map_err(|e| E::from(IpcError::Protocol(e)))?;
        let (items, receiver) = mpsc::channel(window as usize + 1);
        {
            let mut state = self.state();
            if let Some(dead) = &state.dead {
                return Err(dead.clone());
            }
            if state.pending.is_empty() && !self.sweep_armed.load(Ordering::SeqCst) {
                self.work.notify_one();
            }
            state.pending.insert(
                id,
                Pending {
                    waiting: Waiting::Stream { items },
                    span,
                    _permit: permit,
                    timer: CallTimer::start(&self.hooks, method),
                },
            );
        }
        self.send(&frame);
        Ok(RawStream::new(receiver, Arc::clone(self), id, window))
    }

    /// The span of call `id`: a child of the caller's span.
    fn call_span(&self, id: u64, method: u32, caller: &tracing::Span) -> tracing::Span {
        tracing::info_span!(
            parent: caller,
            "snake.call",
            actor = %self.label,
            method,
            call_id = id,
            child_pid = self.pid,
            otel.kind = "client",
        )
    }

    /// Whether call `id` is still pending (`Some`), and its deadline if it has one.
    pub(super) fn deadline_of(&self, id: u64) -> Option<Option<Instant>> {
        self.state().pending.get(&id).map(|pending| match pending.waiting {
            Waiting::Call { deadline, .. } => deadline.map(|(at, _)| at),
            Waiting::Stream { .. } => None,
        })
    }

    /// The span of the call that is still pending as `id`.
    pub(super) fn span_of(&self, id: u64) -> Option<tracing::Span> {
        self.state().pending.get(&id).map(|pending| pending.span.clone())
    }

    /// Lets the child send `credit` more items of stream `id`.
    pub(crate) fn grant_credit(&self, id: u64, credit: u32) {
        let mut frame = Vec::with_capacity(16);
        let header = Header { kind: FrameKind::StreamCredit, id, method: credit, trace: None };
        if encode_frame(&mut frame, &header, &(), self.limits.max_frame_size).is_ok() {
            self.send(&frame);
        }
    }

    /// The consumer of stream or call `id` went away: forget it and tell the child to cancel.
    pub(crate) fn abandon(&self, id: u64) {
        if self.state().pending.remove(&id).is_some() {
            self.cancel_in_child(id);
        }
    }

    pub(super) fn cancel_in_child(&self, id: u64) {
        let mut frame = Vec::with_capacity(16);
        if encode_frame(&mut frame, &Header::new(FrameKind::Cancel, id), &(), self.limits.max_frame_size).is_ok() {
            self.send(&frame);
        }
    }

    /// A reply or error for call `id` arrived.
    pub(super) fn complete(&self, id: u64, result: Result<Bytes, E>) -> Result<(), ProtocolError> {
        let mut pending = self.state().pending.remove(&id);
        if let Some(pending) = &mut pending {
            pending.timer.finish(result.as_ref().err().map(PeerError::kind));
        }
        // A reply for an id that is no longer pending belongs to a call that was cancelled or
        // timed out: the caller has already been answered.
        match pending.map(|p| p.waiting) {
            Some(Waiting::Call { reply, .. }) => reply.complete(result),
            Some(Waiting::Stream { items }) => match result {
                Err(err) => {
                    let _ = items.try_send(Err(err));
                }
                Ok(_) => return Err(ProtocolError::Unexpected { kind: FrameKind::Reply }),
            },
            None => {}
        }
        Ok(())
    }

    pub(super) fn stream_item(&self, id: u64, body: Bytes) -> Result<(), ProtocolError> {
        let mut state = self.state();
        let Some(Pending { waiting: Waiting::Stream { items }, .. }) = state.pending.get(&id) else {
            // Items still in flight for a stream that was dropped.
            return Ok(());
        };
        match items.try_send(Ok(body)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                state.pending.remove(&id);
                drop(state);
                self.cancel_in_child(id);
                Ok(())
            }
            // Only a child that ignores its credit can fill the channel.
            Err(mpsc::error::TrySendError::Full(_)) => Err(ProtocolError::Unexpected { kind: FrameKind::StreamItem }),
        }
    }

    pub(super) fn stream_end(&self, id: u64) {
        // Dropping the sender ends the consumer's stream after the items already queued.
        if let Some(mut pending) = self.state().pending.remove(&id) {
            pending.timer.finish(None);
        }
    }

    /// Cancels calls whose callers went away and fails calls past their deadline.
    pub(super) fn sweep(&self) {
        let now = Instant::now();
        let (abandoned, overdue) = {
            let mut state = self.state();
            let abandoned: Vec<u64> = state.pending.extract_if(|_, p| p.abandoned()).map(|(id, _)| id).collect();
            let overdue: Vec<(u64, Pending<E>)> = state.pending.extract_if(|_, p| p.overdue(now)).collect();
            (abandoned, overdue)
        };
        for id in abandoned {
            self.cancel_in_child(id);
        }
        for (id, mut pending) in overdue {
            self.cancel_in_child(id);
            if let Waiting::Call { reply, deadline } = pending.waiting {
                let timeout = deadline.map_or(Duration::ZERO, |(_, t)| t);
                let err = E::from(IpcError::CallTimedOut { timeout });
                pending.timer.finish(Some(err.kind()));
                reply.complete(Err(err));
            }
        }
    }

    /// Whether the child is gone (or the connection shut down): every call fails at once. One
    /// atomic load, cheap enough to check before every call.
    pub fn is_dead(&self) -> bool {
        self.window.is_closed()
    }

    /// How many calls and streams hold a slot in the in-flight window now.
    pub fn in_flight(&self) -> usize {
        self.limits.max_in_flight.saturating_sub(self.window.available_permits())
    }

    pub(super) fn has_pending(&self) -> bool {
        !self.state().pending.is_empty()
    }
}
