//! [`PythonActor`]: the kameo actor that fronts one Python child, and the messages it takes.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::Arc;

use kameo::Actor;
use kameo::actor::{ActorRef, WeakActorRef};
use kameo::error::ActorStopReason;
use kameo::message::{Context, Message};
use kameo::reply::DelegatedReply;
use serde::Serialize;
use serde::de::DeserializeOwned;
use snake_ipc::wire;

use bytes::Bytes;
use snake_ipc::ReplySink;

#[cfg(feature = "remote")]
use super::calls::{Encoded, EncodedCall, EncodedStream, raw_boxed, raw_item};
use super::calls::{Keyed, MethodCall, MethodStream, ReplyTo, decode, decode_boxed};
use super::pool::{Event, Pool, PoolEvent};
use super::retry::Retry;
use super::stream::{ReplyStream, Streaming};
use crate::codec::{CallbackCodec, MethodCodec};
use crate::config::PythonConfig;
use crate::error::{ProtocolError, PythonExecutionError};
use crate::message::{ChildCallbackMessage, ChildMessage, NoCallback};
use crate::metrics::{ActorMetrics, GetMetrics, MetricsSnapshot};
use crate::protocol::{ChildInfo, fingerprint};
use crate::registry::ChildEntry;

/// Python child processes as one kameo actor: `ask(msg)` sends `msg` to the configured Python
/// function and resolves to its converted return value.
///
/// One actor fronts one child (`spawn`) or a pool of them (`pool(n)`); the handle's type is the
/// same. Requests never wait on each other: the actor picks a worker, writes the request and hands
/// the caller's reply channel to that worker's connection, so thousands of calls can be in flight
/// (up to the builder's `max_in_flight` per worker, after which callers wait for a slot).
/// Dropping or timing out an `ask` tells the child to cancel the call. Workers that die are
/// replaced (see the builder's supervision options). When the actor stops (or its last
/// reference is dropped) every child is shut down and reaped; `ActorRef::wait_for_shutdown_result`
/// returns once that is done (kameo's `wait_for_shutdown` returns earlier, when the mailbox
/// closes).
pub struct PythonActor<M, C = NoCallback> {
    pool: Pool,
    metrics: Arc<ActorMetrics>,
    stream_window: u32,
    /// Whether low-level calls are re-sent once when their worker dies (`retry_on_exit`).
    retry: bool,
    _types: PhantomData<fn() -> (M, C)>,
}

impl<M, C> PythonActor<M, C> {
    pub(crate) fn new(pool: Pool, metrics: Arc<ActorMetrics>, stream_window: u32, retry: bool) -> Self {
        Self { pool, metrics, stream_window, retry, _types: PhantomData }
    }

    /// Sends a call to the worker the pool picks: as it is, or encoded once so that it can be
    /// sent again if `retry`.
    fn send_call<T: Serialize + Send + 'static>(
        &mut self,
        key: Option<u64>,
        method: u32,
        body: T,
        reply: ReplyTo,
        caller: tracing::Span,
        retry: bool,
    ) {
        if retry {
            let encoded = match postcard::to_stdvec(&body) {
                Ok(bytes) => Bytes::from(bytes),
                Err(err) => {
                    let err = ProtocolError::Encode { message: err.to_string() };
                    return ReplySink::complete(Box::new(reply), Err(err.into()));
                }
            };
            let retry = Retry {
                reply,
                method,
                body: encoded,
                caller,
                key,
                events: Arc::clone(self.pool.events()),
                retried: false,
            };
            self.pool.submit(key, move |conn| match conn {
                Ok(conn) => retry.send(&conn),
                Err(err) => ReplySink::complete(Box::new(retry.reply), Err(err)),
            });
        } else {
            self.pool.submit(key, move |conn| match conn {
                Ok(conn) => conn.call(method, body, Box::new(reply), &caller),
                Err(err) => ReplySink::complete(Box::new(reply), Err(err)),
            });
        }
    }
}

impl<M: Send + 'static, C: Send + 'static> PythonActor<M, C> {
    /// Opens a stream on the worker the pool picks, on a task of its own, so that waiting for a
    /// slot in the in-flight window never holds up the mailbox.
    fn open_stream<Req, Item>(
        &mut self,
        ctx: &mut Context<Self, DelegatedReply<Result<ReplyStream<Item>, PythonExecutionError>>>,
        key: Option<u64>,
        method: u32,
        request: Req,
        caller: tracing::Span,
        decode: fn(&[u8]) -> Result<Item, PythonExecutionError>,
    ) -> DelegatedReply<Result<ReplyStream<Item>, PythonExecutionError>>
    where
        Req: Serialize + Send + 'static,
        Item: Send + 'static,
    {
        let (delegated, sender) = ctx.reply_sender();
        let window = self.stream_window;
        self.pool.submit(key, move |conn| match conn {
            Ok(conn) => {
                tokio::spawn(async move {
                    let opened = conn.open_stream(method, request, window, &caller).await;
                    if let Some(sender) = sender {
                        sender.send(opened.map(|raw| ReplyStream::new(raw, decode)));
                    }
                });
            }
            Err(err) => {
                if let Some(sender) = sender {
                    sender.send(Err(err));
                }
            }
        });
        delegated
    }
}

impl<M, C> std::fmt::Debug for PythonActor<M, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PythonActor").field("child", self.pool.info()).field("workers", &self.pool.size()).finish()
    }
}

impl<M: Send + 'static, C: Send + 'static> Actor for PythonActor<M, C> {
    type Args = Self;
    type Error = Infallible;

    async fn on_start(mut actor: Self, actor_ref: ActorRef<Self>) -> Result<Self, Infallible> {
        let weak = actor_ref.downgrade();
        actor.pool.attach(Arc::new(move |event| {
            if let Some(actor) = weak.upgrade() {
                tokio::spawn(async move {
                    let _ = actor.tell(PoolEvent(event)).send().await;
                });
            }
        }));
        Ok(actor)
    }

    /// A normal stop (`stop_gracefully`, or the last reference dropped) drains every child; a
    /// kill (or a panic) terminates them at once, failing the calls in flight with `Cancelled`.
    async fn on_stop(&mut self, _: WeakActorRef<Self>, reason: ActorStopReason) -> Result<(), Infallible> {
        let connections = self.pool.stop();
        let graceful = matches!(reason, ActorStopReason::Normal);
        let stops = connections.iter().map(|connection| async move {
            if graceful { connection.shutdown().await } else { connection.terminate().await }
        });
        futures_util::future::join_all(stops).await;
        Ok(())
    }
}

impl<M: Send + 'static, C: Send + 'static> Message<PoolEvent> for PythonActor<M, C> {
    type Reply = ();

    async fn handle(&mut self, event: PoolEvent, _: &mut Context<Self, Self::Reply>) {
        self.pool.handle(event.0);
    }
}

impl<M: ChildMessage, C: ChildCallbackMessage> Message<M> for PythonActor<M, C> {
    type Reply = DelegatedReply<Result<M::Reply, PythonExecutionError>>;

    async fn handle(&mut self, msg: M, ctx: &mut Context<Self, Self::Reply>) -> Self::Reply {
        self.handle_keyed(None, msg, ctx)
    }
}

impl<M: ChildMessage, C: ChildCallbackMessage> Message<Keyed<M>> for PythonActor<M, C> {
    type Reply = DelegatedReply<Result<M::Reply, PythonExecutionError>>;

    async fn handle(&mut self, msg: Keyed<M>, ctx: &mut Context<Self, Self::Reply>) -> Self::Reply {
        self.handle_keyed(Some(msg.key), msg.msg, ctx)
    }
}

impl<M: ChildMessage, C: ChildCallbackMessage> PythonActor<M, C> {
    fn handle_keyed(
        &mut self,
        key: Option<u64>,
        msg: M,
        ctx: &mut Context<Self, DelegatedReply<Result<M::Reply, PythonExecutionError>>>,
    ) -> DelegatedReply<Result<M::Reply, PythonExecutionError>> {
        let (delegated, sender) = ctx.reply_sender();
        let reply = match sender {
            Some(sender) => ReplyTo::Kameo { tx: sender.boxed(), decode: decode_boxed::<M::Reply, false> },
            None => ReplyTo::Discard,
        };
        let retry = self.retry;
        self.send_call(key, 0, msg, reply, tracing::Span::current(), retry);
        delegated
    }
}

impl<M: ChildMessage, C: ChildCallbackMessage> Message<Streaming<M>> for PythonActor<M, C> {
    type Reply = DelegatedReply<Result<ReplyStream<M::Reply>, PythonExecutionError>>;

    async fn handle(&mut self, msg: Streaming<M>, ctx: &mut Context<Self, Self::Reply>) -> Self::Reply {
        self.open_stream(ctx, None, 0, msg.0, tracing::Span::current(), decode::<M::Reply, false>)
    }
}

impl<M, C, Req, Rep> Message<MethodCall<Req, Rep>> for PythonActor<M, C>
where
    M: Send + 'static,
    C: Send + 'static,
    Req: Serialize + Send + 'static,
    Rep: DeserializeOwned + Send + 'static,
{
    type Reply = DelegatedReply<Result<Rep, PythonExecutionError>>;

    async fn handle(&mut self, msg: MethodCall<Req, Rep>, ctx: &mut Context<Self, Self::Reply>) -> Self::Reply {
        let (delegated, sender) = ctx.reply_sender();
        let decode = if msg.encoding.reply { decode_boxed::<Rep, true> } else { decode_boxed::<Rep, false> };
        let reply = match sender {
            Some(sender) => ReplyTo::Kameo { tx: sender.boxed(), decode },
            None => ReplyTo::Discard,
        };
        match wire::Body::new(msg.request, msg.encoding.request) {
            Ok(body) => self.send_call(msg.key, msg.method, body, reply, msg.caller, msg.retry || self.retry),
            Err(err) => ReplySink::complete(Box::new(reply), Err(err.into())),
        }
        delegated
    }
}

impl<M, C, Req, Item> Message<MethodStream<Req, Item>> for PythonActor<M, C>
where
    M: Send + 'static,
    C: Send + 'static,
    Req: Serialize + Send + 'static,
    Item: DeserializeOwned + Send + 'static,
{
    type Reply = DelegatedReply<Result<ReplyStream<Item>, PythonExecutionError>>;

    async fn handle(&mut self, msg: MethodStream<Req, Item>, ctx: &mut Context<Self, Self::Reply>) -> Self::Reply {
        let decode = if msg.encoding.reply { decode::<Item, true> } else { decode::<Item, false> };
        match wire::Body::new(msg.request, msg.encoding.request) {
            Ok(body) => self.open_stream(ctx, msg.key, msg.method, body, msg.caller, decode),
            Err(err) => ctx.reply(Err(err.into())),
        }
    }
}

#[cfg(feature = "remote")]
impl<M: Send + 'static, C: Send + 'static> Message<EncodedCall> for PythonActor<M, C> {
    type Reply = DelegatedReply<Result<Bytes, PythonExecutionError>>;

    async fn handle(&mut self, msg: EncodedCall, ctx: &mut Context<Self, Self::Reply>) -> Self::Reply {
        let (delegated, sender) = ctx.reply_sender();
        let reply = match (msg.reply, sender) {
            (Some(reply), _) => reply,
            (None, Some(sender)) => ReplyTo::Kameo { tx: sender.boxed(), decode: raw_boxed },
            (None, None) => ReplyTo::Discard,
        };
        let retry = msg.retry || self.retry;
        self.send_call(msg.key, msg.method, Encoded(msg.body), reply, msg.caller, retry);
        delegated
    }
}

#[cfg(feature = "remote")]
impl<M: Send + 'static, C: Send + 'static> Message<EncodedStream> for PythonActor<M, C> {
    type Reply = DelegatedReply<Result<ReplyStream<Bytes>, PythonExecutionError>>;

    async fn handle(&mut self, msg: EncodedStream, ctx: &mut Context<Self, Self::Reply>) -> Self::Reply {
        self.open_stream(ctx, msg.key, msg.method, Encoded(msg.body), msg.caller, raw_item)
    }
}

/// Replaces every worker of a [`PythonActor`], one at a time, with a child started from the
/// module as it is on disk now (new Python code), or from a new [`PythonConfig`]: each successor
/// is started and warm before it takes its slot, and the worker it replaces finishes its calls in
/// flight, so no call fails. If a successor cannot start (the new module does not import, say),
/// the reload stops with that error and the workers not yet replaced keep serving; the pool keeps
/// starting restarts from the old configuration.
#[derive(Clone, Debug, Default)]
pub struct Reload {
    config: Option<PythonConfig>,
}

impl Reload {
    /// A reload of the same configuration (new code from the same files).
    pub fn new() -> Self {
        Self::default()
    }

    /// A reload to `config`: its module name (for `#[snake::actor]` handles, empty keeps the
    /// declared one), function name (low-level API only), module path, Python path and
    /// environment variables replace the current ones.
    pub fn with_config(config: PythonConfig) -> Self {
        Self { config: Some(config) }
    }
}

impl<M: Send + 'static, C: Send + 'static> Message<Reload> for PythonActor<M, C> {
    type Reply = DelegatedReply<Result<(), PythonExecutionError>>;

    async fn handle(&mut self, msg: Reload, ctx: &mut Context<Self, Self::Reply>) -> Self::Reply {
        if !self.pool.begin_reload() {
            return ctx.reply(Err(PythonExecutionError::InvalidConfig {
                option: "reload".into(),
                message: "a reload of this actor is running already".into(),
            }));
        }
        let mut launch = self.pool.launch().clone();
        if let Some(config) = msg.config {
            launch.apply_config(config, self.pool.low_level());
        }
        let (delegated, sender) = ctx.reply_sender();
        let actor = ctx.actor_ref().clone();
        let slots = self.pool.size();
        tokio::spawn(async move {
            let mut outcome = Ok(());
            for slot in 0..slots {
                match launch.start().await {
                    Ok(child) => {
                        if actor.tell(PoolEvent(Event::Swap { slot, child })).send().await.is_err() {
                            outcome = Err(PythonExecutionError::ActorStopped);
                            break;
                        }
                    }
                    Err(err) => {
                        outcome = Err(err);
                        break;
                    }
                }
            }
            let event = if outcome.is_ok() { Event::Adopt { launch: Box::new(launch) } } else { Event::ReloadFailed };
            let _ = actor.tell(PoolEvent(event)).send().await;
            if let Some(sender) = sender {
                sender.send(outcome);
            }
        });
        delegated
    }
}

/// Calls on a low-level [`PythonActor`] with errors flattened into [`PythonExecutionError`] and
/// the caller's trace carried into the child.
///
/// `actor_ref.ask(msg)` works too, but kameo runs message handlers in a span of their own that
/// is only *linked* to the caller, so the child's spans would start a new trace; `call` keeps
/// them in the caller's.
pub trait PythonActorExt<M: ChildMessage> {
    /// Sends `msg` to the Python function and waits for its converted return value.
    fn call(&self, msg: M) -> impl Future<Output = Result<M::Reply, PythonExecutionError>> + Send;

    /// Calls a generator function and streams its items.
    fn stream(&self, msg: M) -> impl Future<Output = Result<ReplyStream<M::Reply>, PythonExecutionError>> + Send;
}

impl<M: ChildMessage, C: ChildCallbackMessage> PythonActorExt<M> for ActorRef<PythonActor<M, C>> {
    async fn call(&self, msg: M) -> Result<M::Reply, PythonExecutionError> {
        Ok(self.ask(MethodCall::<M, M::Reply>::postcard(0, msg)).await?)
    }

    async fn stream(&self, msg: M) -> Result<ReplyStream<M::Reply>, PythonExecutionError> {
        Ok(self.ask(MethodStream::<M, M::Reply>::postcard(0, msg)).await?)
    }
}

/// Asks a [`PythonActor`] for the engine's connections to the workers serving now, in slot
/// order: for tests that look below the actor (health probes, exit status). Not public API.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default)]
pub struct WorkerConnections;

impl<M: Send + 'static, C: Send + 'static> Message<WorkerConnections> for PythonActor<M, C> {
    type Reply = Result<Vec<Arc<snake_ipc::Connection<PythonExecutionError>>>, Infallible>;

    async fn handle(&mut self, _: WorkerConnections, _: &mut Context<Self, Self::Reply>) -> Self::Reply {
        Ok(self.pool.connections())
    }
}

/// Asks a [`PythonActor`] how many calls its typed handles sent on the direct path, past its
/// mailbox: for tests that check they took it. Not public API.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default)]
pub struct DirectCalls;

impl<M: Send + 'static, C: Send + 'static> Message<DirectCalls> for PythonActor<M, C> {
    type Reply = Result<u64, Infallible>;

    async fn handle(&mut self, _: DirectCalls, _: &mut Context<Self, Self::Reply>) -> Self::Reply {
        Ok(self.pool.direct().sent())
    }
}

/// Asks a [`PythonActor`] for a zeroed buffer of `len` bytes in the shared memory of the worker
/// its next call goes to (with [`key`](Self::key), the worker that key's calls go to): the
/// low-level API's way to a generated handle's `shared_bytes`. Filled and frozen, it crosses to
/// that worker by reference each time it is sent, with no copy into the arena (see
/// [`SharedBytesMut`](crate::SharedBytesMut), which also says when it lies on the heap).
///
/// ```no_run
/// # async fn demo(actor: snake::kameo::actor::ActorRef<snake::PythonActor<u32>>) -> Result<(), Box<dyn std::error::Error>> {
/// let mut buffer = actor.ask(snake::SharedBuffer::new(1 << 20)).await?;
/// buffer.fill(7);
/// let payload: snake::SharedBytes = buffer.freeze(); // put it in a message, send it as often as needed
/// # let _ = payload; Ok(()) }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct SharedBuffer {
    len: usize,
    key: Option<u64>,
}

impl SharedBuffer {
    /// A buffer of `len` bytes.
    pub const fn new(len: usize) -> Self {
        Self { len, key: None }
    }

    /// In the arena of the worker that calls routed by `key` go to ([`Keyed`]).
    #[must_use]
    pub fn key<K: std::hash::Hash + ?Sized>(mut self, key: &K) -> Self {
        self.key = Some(super::pool::key_of(key));
        self
    }
}

impl<M: Send + 'static, C: Send + 'static> Message<SharedBuffer> for PythonActor<M, C> {
    type Reply = Result<crate::SharedBytesMut, Infallible>;

    async fn handle(&mut self, msg: SharedBuffer, _: &mut Context<Self, Self::Reply>) -> Self::Reply {
        Ok(crate::SharedBytesMut::reserve_in(self.pool.direct(), msg.key, msg.len))
    }
}

/// [`SharedBuffer`] for an array (feature `numpy`): asks a [`PythonActor`] for a zeroed
/// [`SharedArrayMut`](crate::SharedArrayMut) of `shape`, a generated handle's `shared_array`.
///
/// ```no_run
/// # async fn demo(actor: snake::kameo::actor::ActorRef<snake::PythonActor<u32>>) -> Result<(), Box<dyn std::error::Error>> {
/// use snake::ndarray::Ix2;
/// let mut batch = actor.ask(snake::SharedArray::<f32, Ix2>::new(Ix2(1024, 768))).await?;
/// batch.view_mut().fill(1.0);
/// let batch: snake::Array<f32, Ix2> = batch.freeze(); // put it in a message
/// # let _ = batch; Ok(()) }
/// ```
#[cfg(feature = "numpy")]
#[derive(Clone, Debug)]
pub struct SharedArray<T, D> {
    shape: D,
    key: Option<u64>,
    elements: PhantomData<fn() -> T>,
}

#[cfg(feature = "numpy")]
impl<T: crate::ArrayElement, D: ndarray::Dimension> SharedArray<T, D> {
    /// An array of `shape`.
    pub const fn new(shape: D) -> Self {
        Self { shape, key: None, elements: PhantomData }
    }

    /// In the arena of the worker that calls routed by `key` go to ([`Keyed`]).
    #[must_use]
    pub fn key<K: std::hash::Hash + ?Sized>(mut self, key: &K) -> Self {
        self.key = Some(super::pool::key_of(key));
        self
    }
}

#[cfg(feature = "numpy")]
impl<M, C, T, D> Message<SharedArray<T, D>> for PythonActor<M, C>
where
    M: Send + 'static,
    C: Send + 'static,
    T: crate::ArrayElement,
    D: ndarray::Dimension + Send + 'static,
{
    type Reply = Result<crate::SharedArrayMut<T, D>, Infallible>;

    async fn handle(&mut self, msg: SharedArray<T, D>, _: &mut Context<Self, Self::Reply>) -> Self::Reply {
        let direct = self.pool.direct();
        Ok(crate::SharedArrayMut::with_buffer(msg.shape, |len| crate::SharedBytesMut::reserve_in(direct, msg.key, len)))
    }
}

/// Asks a [`PythonActor`] for the facts its child (for a pool: its most recently started child)
/// reported in the handshake.
#[derive(Clone, Copy, Debug, Default)]
pub struct GetChildInfo;

impl<M: Send + 'static, C: Send + 'static> Message<GetChildInfo> for PythonActor<M, C> {
    type Reply = Result<ChildInfo, Infallible>;

    async fn handle(&mut self, _: GetChildInfo, _: &mut Context<Self, Self::Reply>) -> Self::Reply {
        Ok(self.pool.info().clone())
    }
}

impl<M: Send + 'static, C: Send + 'static> Message<GetMetrics> for PythonActor<M, C> {
    type Reply = Result<MetricsSnapshot, Infallible>;

    async fn handle(&mut self, _: GetMetrics, _: &mut Context<Self, Self::Reply>) -> Self::Reply {
        let workers = self.pool.status();
        let mut snapshot = self.metrics.snapshot();
        snapshot.workers = workers;
        Ok(snapshot)
    }
}

impl ChildEntry {
    /// The entry of the low-level `PythonActor<M, C>`: one method, converted with `serde_py`.
    pub const fn actor<M: ChildMessage, C: ChildCallbackMessage>() -> Self {
        Self {
            key: actor_key::<M, C>,
            fingerprint: actor_fingerprint::<M, C>,
            codecs: single_codec::<M>,
            callbacks: callback_codec::<C>,
            named_callbacks: false,
        }
    }
}

fn single_codec<M: ChildMessage>() -> Vec<MethodCodec> {
    vec![MethodCodec::serde::<M>()]
}

fn callback_codec<C: ChildCallbackMessage>() -> Vec<CallbackCodec> {
    if std::any::TypeId::of::<C>() == std::any::TypeId::of::<NoCallback>() {
        Vec::new()
    } else {
        vec![CallbackCodec::serde::<C>()]
    }
}

/// The registry key of `PythonActor<M, C>`.
pub(crate) fn actor_key<M: ChildMessage, C: ChildCallbackMessage>() -> &'static str {
    std::any::type_name::<PythonActor<M, C>>()
}

/// The fingerprint of `PythonActor<M, C>`'s message types.
pub(crate) fn actor_fingerprint<M: ChildMessage, C: ChildCallbackMessage>() -> u64 {
    fingerprint(&[
        std::any::type_name::<M>(),
        std::any::type_name::<M::Reply>(),
        std::any::type_name::<C>(),
        std::any::type_name::<C::Reply>(),
    ])
}
