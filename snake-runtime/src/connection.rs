//! The parent's end of one child: handshake, calls in flight, and the child's lifecycle.
//!
//! Tasks per child, and what each owns:
//! - the **reader** is the only code that reads the socket; it splits whole frames off its buffer
//!   and completes pending calls by correlation id. Between reads it sweeps the pending table for
//!   callers that went away (their kameo `ask` was dropped or timed out) and calls past their
//!   deadline, and tells the child to cancel them;
//! - the **drainer** writes only when a direct write found the socket full (see
//!   [`Outbox`](crate::outbox::Outbox));
//! - the **supervisor** owns the process: it reaps it, kills it on request or after the shutdown
//!   grace period, and fails every pending and later call the moment it exits.
//!
//! Callers never wait on each other: a call is a table insert and one non-blocking write, and its
//! reply is delivered straight to the caller's reply channel.

use std::collections::HashMap;
use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kameo::error::BoxSendError;
use kameo::message::BoxReply;
use kameo::reply::BoxReplySender;
use serde::Serialize;
use tokio::net::UnixStream;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tracing::Instrument;

use crate::callback::CallbackDispatch;
use crate::error::{ExitStatus, ProtocolError, PythonExecutionError};
use crate::metrics::{ActorMetrics, CallTimer};
use crate::outbox::{Outbox, Pushed};
use crate::protocol::{
    ChildInfo, Frame, FrameDecoder, FrameKind, HandlerMode, Header, Hello, MAGIC, PROTOCOL_VERSION, TraceContext,
    Welcome, encode_frame, encode_frame_with,
};
use crate::spawn::{Spawned, StderrTail};
use crate::trace::{self, SpanSender};

/// How often the reader looks for abandoned or overdue calls while any are pending.
const SWEEP_INTERVAL: Duration = Duration::from_millis(20);

/// How long to look for a welcome a child wrote before it exited during the handshake.
const EXITED_WELCOME_WAIT: Duration = Duration::from_millis(500);

/// How long to wait for an exit status after the channel closed, before calling it unknown.
const EXIT_STATUS_WAIT: Duration = Duration::from_secs(2);

/// Limits and timeouts of one connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_frame_size: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) handshake_timeout: Duration,
    pub(crate) call_timeout: Option<Duration>,
    pub(crate) shutdown_grace: Duration,
}

/// Where the result of a call goes.
pub(crate) enum ReplyTo {
    /// A kameo `ask`: the reply is decoded to the message's reply type and boxed for kameo.
    Kameo { tx: BoxReplySender, decode: fn(&[u8]) -> Result<BoxReply, PythonExecutionError> },
    /// A kameo `tell`: nobody waits; failures are logged.
    Discard,
}

impl ReplyTo {
    fn is_closed(&self) -> bool {
        match self {
            Self::Kameo { tx, .. } => tx.is_closed(),
            Self::Discard => false,
        }
    }

    /// Delivers the reply body, or why there is none.
    pub(crate) fn complete(self, result: Result<Bytes, PythonExecutionError>) {
        match self {
            Self::Kameo { tx, decode } => {
                let reply = result.and_then(|body| decode(&body));
                let _ = tx.send(reply.map_err(|err| BoxSendError::HandlerError(Box::new(err))));
            }
            Self::Discard => {
                if let Err(err) = result {
                    tracing::warn!(error = %err, "a python call sent with `tell` failed");
                }
            }
        }
    }
}

/// Channel of a stream's items; one slot more than the credit window, for its final error.
type ItemSender = mpsc::Sender<Result<Bytes, PythonExecutionError>>;

enum Waiting {
    /// One reply.
    Call { reply: ReplyTo, deadline: Option<(Instant, Duration)> },
    /// Items until the end or an error.
    Stream { items: ItemSender },
}

struct Pending {
    waiting: Waiting,
    /// The call's `snake.call` span; it closes when the entry is dropped.
    span: tracing::Span,
    _permit: OwnedSemaphorePermit,
    /// Counts the call in the actor's metrics until it ends.
    timer: CallTimer,
}

impl Pending {
    fn abandoned(&self) -> bool {
        match &self.waiting {
            Waiting::Call { reply, .. } => reply.is_closed(),
            Waiting::Stream { items } => items.is_closed(),
        }
    }

    fn overdue(&self, now: Instant) -> bool {
        matches!(self.waiting, Waiting::Call { deadline: Some((at, _)), .. } if at <= now)
    }

    fn fail(mut self, err: PythonExecutionError) {
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

#[derive(Default)]
struct State {
    pending: HashMap<u64, Pending>,
    dead: Option<PythonExecutionError>,
}

enum Control {
    Shutdown,
    Kill,
}

/// A callback the parent will serve: its handler, its slot in the callback limit, its span.
struct Admitted {
    dispatch: Arc<dyn CallbackDispatch>,
    slot: OwnedSemaphorePermit,
    span: tracing::Span,
}

/// Flow control of one streaming callback the parent serves.
struct CallbackStreamControl {
    credit: Semaphore,
    cancelled: Notify,
}

/// See the module docs.
pub(crate) struct Connection {
    socket: UnixStream,
    outbox: Outbox,
    drain_wake: Notify,
    state: Mutex<State>,
    next_id: AtomicU64,
    window: Arc<Semaphore>,
    limits: Limits,
    info: ChildInfo,
    modes: Vec<HandlerMode>,
    stderr_tail: StderrTail,
    control: mpsc::Sender<Control>,
    exit: watch::Receiver<Option<ExitStatus>>,
    callbacks: Option<Arc<dyn CallbackDispatch>>,
    callback_slots: Arc<Semaphore>,
    callback_streams: Mutex<HashMap<u64, Arc<CallbackStreamControl>>>,
    /// The builder's log label, carried by the child's log events.
    label: String,
    metrics: Arc<ActorMetrics>,
    child_spans: Option<SpanSender>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("info", &self.info).field("modes", &self.modes).finish_non_exhaustive()
    }
}

impl Connection {
    /// Performs the handshake on a freshly spawned child and starts its tasks.
    pub(crate) async fn establish(
        spawned: Spawned,
        hello: &Hello,
        limits: Limits,
        callbacks: Option<Arc<dyn CallbackDispatch>>,
        label: String,
        child_spans: Option<SpanSender>,
        metrics: Option<Arc<ActorMetrics>>,
    ) -> Result<Arc<Self>, PythonExecutionError> {
        let Spawned { mut child, socket, stderr_tail, pumps } = spawned;
        let io_error = |e: io::Error| PythonExecutionError::Protocol(e.into());
        socket.set_nonblocking(true).map_err(io_error)?;
        let socket = UnixStream::from_std(socket).map_err(io_error)?;

        let mut hello_frame = Vec::new();
        encode_frame(&mut hello_frame, &Header::new(FrameKind::Hello, 0), hello, limits.max_frame_size)?;
        let decoder = FrameDecoder::new(limits.max_frame_size);
        let mut buf = BytesMut::with_capacity(64 * 1024);
        let handshake = async {
            write_all(&socket, &hello_frame).await?;
            read_frame(&socket, &decoder, &mut buf).await
        };
        let outcome = tokio::select! {
            frame = handshake => Ok(frame),
            status = child.wait() => Err(status.map(ExitStatus::from_std).unwrap_or(ExitStatus::Unknown)),
            () = tokio::time::sleep(limits.handshake_timeout) => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                finish_pumps(pumps).await;
                return Err(PythonExecutionError::HandshakeTimedOut {
                    timeout: limits.handshake_timeout,
                    stderr_tail: stderr_tail.lines(),
                });
            }
        };
        // A child that cannot serve (its module failed to import, say) writes its welcome and
        // exits at once; its exit may be seen first, but the welcome is still in the socket.
        let outcome = match outcome {
            Err(status) => {
                match tokio::time::timeout(EXITED_WELCOME_WAIT, read_frame(&socket, &decoder, &mut buf)).await {
                    Ok(Ok(Some(frame))) => Ok(Ok(Some(frame))),
                    _ => Err(status),
                }
            }
            answered => answered,
        };
        let frame = match outcome {
            Ok(Ok(Some(frame))) => frame,
            Ok(Ok(None) | Err(_)) | Err(_) => {
                let status = match outcome {
                    Err(status) => status,
                    Ok(_) => wait_status(&mut child).await,
                };
                finish_pumps(pumps).await;
                return Err(PythonExecutionError::ChildExited { status, stderr_tail: stderr_tail.lines() });
            }
        };
        let accepted = check_welcome(&frame, hello)
            .map_err(|reason| PythonExecutionError::HandshakeFailed { reason, stderr_tail: Vec::new() })
            .and_then(|welcome| match welcome.outcome {
                Ok(ref modes) if modes.len() == hello.methods.len() => Ok(welcome),
                Ok(ref modes) => Err(PythonExecutionError::HandshakeFailed {
                    reason: format!("child reported {} methods, expected {}", modes.len(), hello.methods.len()),
                    stderr_tail: Vec::new(),
                }),
                Err(err) => Err(err),
            });
        let (info, modes) = match accepted {
            Ok(Welcome { info, outcome: Ok(modes), .. }) => (info, modes),
            Ok(Welcome { outcome: Err(err), .. }) | Err(err) => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                finish_pumps(pumps).await;
                return Err(match err {
                    PythonExecutionError::HandshakeFailed { reason, .. } => {
                        PythonExecutionError::HandshakeFailed { reason, stderr_tail: stderr_tail.lines() }
                    }
                    other => other,
                });
            }
        };

        let (control_tx, control_rx) = mpsc::channel(4);
        let (exit_tx, exit_rx) = watch::channel(None);
        let connection = Arc::new(Self {
            socket,
            outbox: Outbox::default(),
            drain_wake: Notify::new(),
            state: Mutex::new(State::default()),
            next_id: AtomicU64::new(1),
            window: Arc::new(Semaphore::new(limits.max_in_flight.max(1))),
            limits,
            info,
            modes,
            stderr_tail,
            control: control_tx,
            exit: exit_rx,
            callbacks,
            callback_slots: Arc::new(Semaphore::new(limits.max_in_flight.max(1))),
            callback_streams: Mutex::default(),
            metrics: metrics.unwrap_or_else(|| ActorMetrics::new(&label)),
            label,
            child_spans,
        });
        tokio::spawn(supervise(child, Arc::downgrade(&connection), control_rx, exit_tx, pumps));
        tokio::spawn(read_loop(Arc::clone(&connection), decoder, buf));
        tokio::spawn(drain_loop(Arc::clone(&connection)));
        Ok(connection)
    }

    /// Facts the child reported in the handshake.
    pub(crate) fn info(&self) -> &ChildInfo {
        &self.info
    }

    /// The call metrics of this child's actor.
    pub(crate) fn metrics(&self) -> &Arc<ActorMetrics> {
        &self.metrics
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The error every call gets once the child is gone, if it is.
    pub(crate) fn dead(&self) -> Option<PythonExecutionError> {
        self.state().dead.clone()
    }

    /// Sends a call and arranges for its result to reach `reply`. Waits only for a free slot in
    /// the in-flight window (backpressure); never for the reply.
    pub(crate) async fn call<T: Serialize + Send>(
        &self,
        method: u32,
        request: T,
        reply: ReplyTo,
        caller: &tracing::Span,
    ) {
        let Ok(permit) = Arc::clone(&self.window).acquire_owned().await else {
            return reply.complete(Err(self.dead().unwrap_or(PythonExecutionError::Cancelled)));
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let span = self.call_span(id, method, caller);
        let mut frame = Vec::with_capacity(64);
        let header = Header { kind: FrameKind::Call, id, method, trace: trace::context_of(&span) };
        if let Err(err) = encode_frame(&mut frame, &header, &request, self.limits.max_frame_size) {
            return reply.complete(Err(err.into()));
        }
        {
            let mut state = self.state();
            if let Some(dead) = &state.dead {
                let dead = dead.clone();
                drop(state);
                return reply.complete(Err(dead));
            }
            let deadline = self.limits.call_timeout.map(|t| (Instant::now() + t, t));
            state.pending.insert(
                id,
                Pending {
                    waiting: Waiting::Call { reply, deadline },
                    span,
                    _permit: permit,
                    timer: self.metrics.start_call(),
                },
            );
        }
        self.send(&frame);
    }

    /// Opens a streaming call: the child may send up to `window` items before it is granted more.
    /// Returns the stream's id and the channel its items arrive on.
    pub(crate) async fn open_stream<T: Serialize + Send>(
        &self,
        method: u32,
        request: T,
        window: u32,
        caller: &tracing::Span,
    ) -> Result<(u64, mpsc::Receiver<Result<Bytes, PythonExecutionError>>), PythonExecutionError> {
        let Ok(permit) = Arc::clone(&self.window).acquire_owned().await else {
            return Err(self.dead().unwrap_or(PythonExecutionError::Cancelled));
        };
        let window = window.max(1);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let span = self.call_span(id, method, caller);
        let mut frame = Vec::with_capacity(64);
        let header = Header { kind: FrameKind::OpenStream, id, method, trace: trace::context_of(&span) };
        encode_frame(&mut frame, &header, &(window, request), self.limits.max_frame_size)?;
        let (items, receiver) = mpsc::channel(window as usize + 1);
        {
            let mut state = self.state();
            if let Some(dead) = &state.dead {
                return Err(dead.clone());
            }
            state.pending.insert(
                id,
                Pending { waiting: Waiting::Stream { items }, span, _permit: permit, timer: self.metrics.start_call() },
            );
        }
        self.send(&frame);
        Ok((id, receiver))
    }

    /// The span of call `id`: a child of the caller's current span.
    fn call_span(&self, id: u64, method: u32, caller: &tracing::Span) -> tracing::Span {
        tracing::info_span!(
            parent: caller,
            "snake.call",
            actor = %self.label,
            method,
            call_id = id,
            child_pid = self.info.pid,
            otel.kind = "client",
        )
    }

    /// The span of the call that is still pending as `id`, to put its child's log lines in.
    pub(crate) fn span_of(&self, id: u64) -> Option<tracing::Span> {
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

    fn send(&self, frame: &[u8]) {
        match self.outbox.push(self.socket.as_fd(), frame) {
            Pushed::Done => {}
            Pushed::WakeDrainer => self.drain_wake.notify_one(),
            // The reader sees the closed channel and fails everything.
            Pushed::Closed => {}
        }
    }

    fn cancel_in_child(&self, id: u64) {
        let mut frame = Vec::with_capacity(16);
        if encode_frame(&mut frame, &Header::new(FrameKind::Cancel, id), &(), self.limits.max_frame_size).is_ok() {
            self.send(&frame);
        }
    }

    fn complete(&self, id: u64, result: Result<Bytes, PythonExecutionError>) -> Result<(), ProtocolError> {
        let mut pending = self.state().pending.remove(&id);
        if let Some(pending) = &mut pending {
            pending.timer.finish(result.as_ref().err().map(PythonExecutionError::kind));
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

    fn stream_item(&self, id: u64, body: Bytes) -> Result<(), ProtocolError> {
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

    fn stream_end(&self, id: u64) {
        // Dropping the sender ends the consumer's stream after the items already queued.
        if let Some(mut pending) = self.state().pending.remove(&id) {
            pending.timer.finish(None);
        }
    }

    /// Serves a callback from the child on its own task, so a slow handler never holds up the
    /// reader. The callback fails at once if the call that made it is gone.
    fn callback(
        self: &Arc<Self>,
        id: u64,
        index: u32,
        body: Bytes,
        trace: Option<TraceContext>,
    ) -> Result<(), ProtocolError> {
        let (origin, rest) = postcard::take_from_bytes::<u64>(&body)
            .map_err(|e| ProtocolError::Decode { kind: FrameKind::Callback, message: e.to_string() })?;
        let arg = body.slice(body.len() - rest.len()..);
        let Some(Admitted { dispatch, slot, span }) = self.admit_callback(id, index, origin, trace.as_ref()) else {
            return Ok(());
        };
        let conn = Arc::clone(self);
        tokio::spawn(
            async move {
                let started = Instant::now();
                let result = dispatch.call(index, arg).await;
                conn.metrics.callback_served(started.elapsed(), result.as_ref().err().map(PythonExecutionError::kind));
                conn.callback_reply(id, result);
                drop(slot);
            }
            .instrument(span),
        );
        Ok(())
    }

    /// Admits callback `id` (made during call `origin`, 0 for none), or answers it with the reason
    /// it cannot be served: no handler, its call is gone, or too many callbacks are in flight.
    fn admit_callback(&self, id: u64, index: u32, origin: u64, trace: Option<&TraceContext>) -> Option<Admitted> {
        let name = self.callbacks.as_ref().map_or_else(|| format!("#{index}"), |c| c.name(index));
        let refusal = match (&self.callbacks, Arc::clone(&self.callback_slots).try_acquire_owned()) {
            (None, _) => "no callback handler is registered for this actor in the parent",
            (Some(_), _) if origin != 0 && !self.state().pending.contains_key(&origin) => {
                "the call that made this callback was cancelled or timed out"
            }
            (Some(_), Err(_)) => "too many callbacks in flight",
            (Some(dispatch), Ok(slot)) => {
                let span = self.callback_span(id, &name, trace);
                return Some(Admitted { dispatch: Arc::clone(dispatch), slot, span });
            }
        };
        let refused = PythonExecutionError::CallbackFailed { callback: name, message: refusal.to_owned() };
        self.callback_reply(id, Err(refused));
        None
    }

    /// The span of a callback the parent serves: a child of the Python call that made it.
    fn callback_span(&self, id: u64, name: &str, trace: Option<&TraceContext>) -> tracing::Span {
        let span = tracing::info_span!(
            "snake.callback",
            actor = %self.label,
            callback = %name,
            callback_id = id,
            child_pid = self.info.pid,
            otel.kind = "server",
        );
        if let Some(trace) = trace {
            trace::set_remote_parent(&span, trace);
        }
        span
    }

    /// Serves a streaming callback: the handler's stream is polled only while the child has
    /// credit left, and dropped when the child cancels.
    fn callback_stream(
        self: &Arc<Self>,
        id: u64,
        index: u32,
        body: Bytes,
        trace: Option<TraceContext>,
    ) -> Result<(), ProtocolError> {
        let decode_error =
            |e: postcard::Error| ProtocolError::Decode { kind: FrameKind::OpenCallbackStream, message: e.to_string() };
        let (origin, rest) = postcard::take_from_bytes::<u64>(&body).map_err(decode_error)?;
        let (credit, rest) = postcard::take_from_bytes::<u32>(rest).map_err(decode_error)?;
        let arg = body.slice(body.len() - rest.len()..);
        let Some(Admitted { dispatch, slot, span }) = self.admit_callback(id, index, origin, trace.as_ref()) else {
            return Ok(());
        };
        let control =
            Arc::new(CallbackStreamControl { credit: Semaphore::new(credit as usize), cancelled: Notify::new() });
        self.callback_streams().insert(id, Arc::clone(&control));
        let conn = Arc::clone(self);
        tokio::spawn(
            async move {
                let serve = async {
                    let mut items = match dispatch.call_stream(index, arg).await {
                        Ok(items) => items,
                        Err(err) => return conn.callback_reply(id, Err(err)),
                    };
                    loop {
                        let Ok(permit) = control.credit.acquire().await else { return };
                        permit.forget();
                        match std::future::poll_fn(|cx| items.as_mut().poll_next(cx)).await {
                            Some(Ok(item)) => conn.send_raw(FrameKind::StreamItem, id, &item),
                            Some(Err(err)) => return conn.callback_reply(id, Err(err)),
                            None => return conn.send_raw(FrameKind::StreamEnd, id, &[]),
                        }
                    }
                };
                tokio::select! {
                    () = serve => {}
                    () = control.cancelled.notified() => {}
                }
                conn.callback_streams().remove(&id);
                drop(slot);
            }
            .instrument(span),
        );
        Ok(())
    }

    fn callback_streams(&self) -> MutexGuard<'_, HashMap<u64, Arc<CallbackStreamControl>>> {
        self.callback_streams.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The child took items of callback stream `id`, or stopped consuming it.
    fn callback_stream_control(&self, kind: FrameKind, id: u64, credit: u32) {
        let control = self.callback_streams().get(&id).cloned();
        if let Some(control) = control {
            match kind {
                FrameKind::StreamCredit => control.credit.add_permits(credit as usize),
                _ => control.cancelled.notify_one(),
            }
        }
    }

    /// Sends a frame whose body is already encoded.
    fn send_raw(&self, kind: FrameKind, id: u64, body: &[u8]) {
        let mut frame = Vec::with_capacity(body.len() + 16);
        let encoded = encode_frame_with(&mut frame, &Header::new(kind, id), self.limits.max_frame_size, |out| {
            out.extend_from_slice(body);
            Ok::<(), ProtocolError>(())
        });
        match encoded {
            Ok(()) => self.send(&frame),
            Err(err) => self.callback_reply(id, Err(err.into())),
        }
    }

    fn callback_reply(&self, id: u64, result: Result<Vec<u8>, PythonExecutionError>) {
        let mut frame = Vec::with_capacity(64);
        let encoded = match &result {
            Ok(body) => encode_frame_with(
                &mut frame,
                &Header::new(FrameKind::CallbackReply, id),
                self.limits.max_frame_size,
                |out| {
                    out.extend_from_slice(body);
                    Ok::<(), ProtocolError>(())
                },
            )
            .map_err(PythonExecutionError::from),
            Err(err) => encode_frame(&mut frame, &Header::new(FrameKind::Error, id), err, self.limits.max_frame_size)
                .map_err(PythonExecutionError::from),
        };
        if let Err(err) = encoded {
            frame.clear();
            if encode_frame(&mut frame, &Header::new(FrameKind::Error, id), &err, self.limits.max_frame_size).is_err() {
                return;
            }
        }
        self.send(&frame);
    }

    /// Fails every pending call and every later one with `err` (the first error wins).
    pub(crate) fn fail_all(&self, err: PythonExecutionError) {
        let (pending, err) = {
            let mut state = self.state();
            let err = state.dead.get_or_insert(err).clone();
            (std::mem::take(&mut state.pending), err)
        };
        self.window.close();
        self.outbox.close();
        // Lets the drainer see the closed outbox and end.
        self.drain_wake.notify_one();
        for (_, control) in self.callback_streams().drain() {
            control.cancelled.notify_one();
        }
        for (_, pending) in pending {
            pending.fail(err.clone());
        }
    }

    fn sweep(&self) {
        let now = Instant::now();
        let (abandoned, overdue) = {
            let mut state = self.state();
            let abandoned: Vec<u64> = state.pending.extract_if(|_, p| p.abandoned()).map(|(id, _)| id).collect();
            let overdue: Vec<(u64, Pending)> = state.pending.extract_if(|_, p| p.overdue(now)).collect();
            (abandoned, overdue)
        };
        for id in abandoned {
            self.cancel_in_child(id);
        }
        for (id, mut pending) in overdue {
            self.cancel_in_child(id);
            if let Waiting::Call { reply, deadline } = pending.waiting {
                let timeout = deadline.map_or(Duration::ZERO, |(_, t)| t);
                let err = PythonExecutionError::CallTimedOut { timeout };
                pending.timer.finish(Some(err.kind()));
                reply.complete(Err(err));
            }
        }
    }

    fn has_pending(&self) -> bool {
        !self.state().pending.is_empty()
    }

    /// Asks the child to exit: pending calls are cancelled, the child gets a shutdown frame and
    /// the grace period, then it is killed. Returns once it has been reaped.
    pub(crate) async fn shutdown(&self) {
        self.fail_all(PythonExecutionError::Cancelled);
        let mut frame = Vec::with_capacity(16);
        if encode_frame(&mut frame, &Header::new(FrameKind::Shutdown, 0), &(), self.limits.max_frame_size).is_ok() {
            // The outbox is closed by now; this frame goes straight out if the socket takes it.
            let _ = crate::outbox::send_nonblocking(self.socket.as_fd(), &frame);
        }
        let _ = self.control.send(Control::Shutdown).await;
        let mut exit = self.exit.clone();
        let _ = exit.wait_for(Option::is_some).await;
    }

    /// Kills the child at once (used when the channel can no longer be trusted).
    fn kill(&self) {
        let _ = self.control.try_send(Control::Kill);
    }
}

fn check_welcome(frame: &Frame, hello: &Hello) -> Result<Welcome, String> {
    if frame.header.kind != FrameKind::Welcome {
        return Err(format!("expected a welcome frame, got {:?}", frame.header.kind));
    }
    let (magic, version) = crate::protocol::peek_version(&frame.body).map_err(|e| e.to_string())?;
    if magic != MAGIC {
        return Err(format!("the child is not a snake child (magic {magic:?})"));
    }
    if version != PROTOCOL_VERSION {
        return Err(format!("the child speaks protocol version {version}, the parent {PROTOCOL_VERSION}"));
    }
    let welcome: Welcome = frame.decode_body().map_err(|e| e.to_string())?;
    if welcome.outcome.is_ok() && welcome.fingerprint != hello.fingerprint {
        return Err(format!(
            "message type fingerprint mismatch: parent {:#018x}, child {:#018x}",
            hello.fingerprint, welcome.fingerprint
        ));
    }
    Ok(welcome)
}

async fn write_all(socket: &UnixStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        socket.writable().await?;
        match socket.try_write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads until one whole frame is buffered. Only used before the reader task exists.
async fn read_frame(
    socket: &UnixStream,
    decoder: &FrameDecoder,
    buf: &mut BytesMut,
) -> Result<Option<Frame>, ProtocolError> {
    loop {
        if let Some(frame) = decoder.decode(buf)? {
            return Ok(Some(frame));
        }
        socket.readable().await?;
        match socket.try_read_buf(buf) {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e.into()),
        }
    }
}

async fn read_loop(conn: Arc<Connection>, decoder: FrameDecoder, mut buf: BytesMut) {
    let mut sweep = tokio::time::interval(SWEEP_INTERVAL);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let failure = 'read: loop {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    if let Err(err) = dispatch(&conn, frame) {
                        break 'read Some(err);
                    }
                }
                Ok(None) => break,
                Err(err) => break 'read Some(err),
            }
        }
        tokio::select! {
            biased;
            ready = conn.socket.readable() => {
                if let Err(err) = ready {
                    break 'read Some(err.into());
                }
                if buf.capacity() - buf.len() < 16 * 1024 {
                    buf.reserve(64 * 1024);
                }
                match conn.socket.try_read_buf(&mut buf) {
                    Ok(0) => break 'read None,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => break 'read Some(e.into()),
                }
            }
            _ = sweep.tick(), if conn.has_pending() || conn.limits.call_timeout.is_some() => conn.sweep(),
        }
    };
    match failure {
        Some(err) => {
            tracing::error!(child_pid = conn.info.pid, error = %err, "closing the channel to the python child");
            conn.fail_all(PythonExecutionError::Protocol(err));
            conn.kill();
        }
        None => {
            // End of stream: the child exited or closed the channel. Report how it exited.
            let mut exit = conn.exit.clone();
            let status = tokio::time::timeout(EXIT_STATUS_WAIT, exit.wait_for(Option::is_some))
                .await
                .ok()
                .and_then(|status| status.ok().and_then(|s| *s));
            if status.is_none() {
                conn.kill();
            }
            conn.fail_all(PythonExecutionError::ChildExited {
                status: status.unwrap_or(ExitStatus::Unknown),
                stderr_tail: conn.stderr_tail.lines(),
            });
        }
    }
}

fn dispatch(conn: &Arc<Connection>, frame: Frame) -> Result<(), ProtocolError> {
    let Header { kind, id, method, trace } = frame.header;
    match kind {
        FrameKind::Reply => conn.complete(id, Ok(frame.body)),
        FrameKind::Error => {
            let err: PythonExecutionError = frame.decode_body()?;
            conn.complete(id, Err(err))
        }
        FrameKind::StreamItem => conn.stream_item(id, frame.body),
        FrameKind::StreamEnd => {
            conn.stream_end(id);
            Ok(())
        }
        FrameKind::Callback => conn.callback(id, method, frame.body, trace),
        FrameKind::OpenCallbackStream => conn.callback_stream(id, method, frame.body, trace),
        FrameKind::Spans => {
            if let Some(sender) = &conn.child_spans {
                trace::forward(sender, frame.decode_body()?);
            }
            Ok(())
        }
        FrameKind::StreamCredit | FrameKind::Cancel => {
            conn.callback_stream_control(kind, id, method);
            Ok(())
        }
        FrameKind::Log => {
            let record: crate::protocol::LogRecord = frame.decode_body()?;
            crate::logs::emit(&record, conn.span_of(id).as_ref(), &conn.label, conn.info.pid);
            Ok(())
        }
        other => Err(ProtocolError::Unexpected { kind: other }),
    }
}

async fn drain_loop(conn: Arc<Connection>) {
    loop {
        conn.drain_wake.notified().await;
        if conn.outbox.is_closed() {
            return;
        }
        while let Some(chunk) = conn.outbox.take_backlog() {
            if write_all(&conn.socket, &chunk).await.is_err() {
                conn.outbox.close();
                break;
            }
        }
    }
}

async fn supervise(
    mut child: tokio::process::Child,
    conn: std::sync::Weak<Connection>,
    mut control: mpsc::Receiver<Control>,
    exit_tx: watch::Sender<Option<ExitStatus>>,
    pumps: Vec<tokio::task::JoinHandle<()>>,
) {
    let grace = conn.upgrade().map_or(Duration::ZERO, |c| c.limits.shutdown_grace);
    let status = tokio::select! {
        status = child.wait() => status,
        command = control.recv() => {
            match command {
                Some(Control::Shutdown) => match tokio::time::timeout(grace, child.wait()).await {
                    Ok(status) => status,
                    Err(_) => {
                        let _ = child.start_kill();
                        child.wait().await
                    }
                },
                Some(Control::Kill) | None => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            }
        }
    };
    let status = status.map(ExitStatus::from_std).unwrap_or(ExitStatus::Unknown);
    finish_pumps(pumps).await;
    let _ = exit_tx.send(Some(status));
    if let Some(conn) = conn.upgrade() {
        conn.fail_all(PythonExecutionError::ChildExited { status, stderr_tail: conn.stderr_tail.lines() });
    }
}

async fn wait_status(child: &mut tokio::process::Child) -> ExitStatus {
    match tokio::time::timeout(EXIT_STATUS_WAIT, child.wait()).await {
        Ok(Ok(status)) => ExitStatus::from_std(status),
        _ => {
            let _ = child.start_kill();
            child.wait().await.map(ExitStatus::from_std).unwrap_or(ExitStatus::Unknown)
        }
    }
}

/// Lets the output pumps read what the child wrote before it exited, so the stderr tail in an
/// error is complete; bounded, in case a grandchild holds the pipe open.
async fn finish_pumps(pumps: Vec<tokio::task::JoinHandle<()>>) {
    let all = async {
        for pump in pumps {
            let _ = pump.await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(500), all).await;
}
