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

use super::calls::{MethodCall, MethodStream, ReplyTo, decode, decode_boxed};
use super::process::{Child, Launch};
use super::stream::{ReplyStream, Streaming};
use crate::codec::{CallbackCodec, MethodCodec};
use crate::error::PythonExecutionError;
use crate::message::{ChildCallbackMessage, ChildMessage, NoCallback};
use crate::metrics::{ActorMetrics, GetMetrics, MetricsSnapshot};
use crate::protocol::{ChildInfo, fingerprint};
use crate::registry::ChildEntry;

/// A Python child process as a kameo actor: `ask(msg)` sends `msg` to the configured Python
/// function and resolves to its converted return value.
///
/// Requests never wait on each other: the actor only writes the request and hands the caller's
/// reply channel to the connection, so thousands of calls can be in flight (up to the builder's
/// `max_in_flight`, after which callers wait for a slot). Dropping or timing out an `ask` tells
/// the child to cancel the call. When the actor stops (or its last reference is dropped) the child
/// is shut down and reaped; `ActorRef::wait_for_shutdown_result` returns once that is done
/// (kameo's `wait_for_shutdown` returns earlier, when the mailbox closes).
pub struct PythonActor<M, C = NoCallback> {
    child: Child,
    metrics: Arc<ActorMetrics>,
    stream_window: u32,
    restart: Option<Restart>,
    _types: PhantomData<fn() -> (M, C)>,
}

/// How a [`PythonActor`] replaces a child that died: the same launch again, while restarts are
/// left.
pub(crate) struct Restart {
    pub(crate) launch: Launch,
    pub(crate) left: u32,
}

impl<M, C> PythonActor<M, C> {
    pub(crate) fn new(child: Child, metrics: Arc<ActorMetrics>, stream_window: u32, restart: Option<Restart>) -> Self {
        Self { child, metrics, stream_window, restart, _types: PhantomData }
    }

    /// Replaces a dead child (one that exited, was killed, or broke the protocol) before the next
    /// message, while restarts are left. Calls that were in flight when it died have failed
    /// already; they are not replayed.
    async fn ensure_child(&mut self) {
        let Some(restart) = self.restart.as_mut().filter(|restart| restart.left > 0) else { return };
        if matches!(self.child.connection.dead(), None | Some(PythonExecutionError::Cancelled)) {
            return;
        }
        match restart.launch.start().await {
            Ok(child) => {
                restart.left -= 1;
                self.metrics.restarted();
                tracing::warn!(child_pid = child.info.pid, restarts_left = restart.left, "restarted the python child");
                self.child = child;
            }
            Err(err) => tracing::error!(error = %err, "could not restart the python child"),
        }
    }
}

impl<M: Send + 'static, C: Send + 'static> PythonActor<M, C> {
    /// Opens a stream on a task of its own, so that waiting for a slot in the in-flight window
    /// never holds up the mailbox.
    fn open_stream<Req, Item>(
        &self,
        ctx: &mut Context<Self, DelegatedReply<Result<ReplyStream<Item>, PythonExecutionError>>>,
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
        let connection = Arc::clone(&self.child.connection);
        let window = self.stream_window;
        tokio::spawn(async move {
            let opened = connection.open_stream(method, request, window, &caller).await;
            if let Some(sender) = sender {
                sender.send(opened.map(|raw| ReplyStream::new(raw, decode)));
            }
        });
        delegated
    }
}

impl<M, C> std::fmt::Debug for PythonActor<M, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PythonActor").field("child", &self.child.info).finish()
    }
}

impl<M: Send + 'static, C: Send + 'static> Actor for PythonActor<M, C> {
    type Args = Self;
    type Error = Infallible;

    async fn on_start(actor: Self, _: ActorRef<Self>) -> Result<Self, Infallible> {
        Ok(actor)
    }

    /// A normal stop (`stop_gracefully`, or the last reference dropped) drains the child; a kill
    /// (or a panic) terminates it at once, failing the calls in flight with `Cancelled`.
    async fn on_stop(&mut self, _: WeakActorRef<Self>, reason: ActorStopReason) -> Result<(), Infallible> {
        match reason {
            ActorStopReason::Normal => self.child.connection.shutdown().await,
            _ => self.child.connection.terminate().await,
        }
        Ok(())
    }
}

impl<M: ChildMessage, C: ChildCallbackMessage> Message<M> for PythonActor<M, C> {
    type Reply = DelegatedReply<Result<M::Reply, PythonExecutionError>>;

    async fn handle(&mut self, msg: M, ctx: &mut Context<Self, Self::Reply>) -> Self::Reply {
        let (delegated, sender) = ctx.reply_sender();
        let reply = match sender {
            Some(sender) => ReplyTo::Kameo { tx: sender.boxed(), decode: decode_boxed::<M::Reply, false> },
            None => ReplyTo::Discard,
        };
        self.ensure_child().await;
        self.child.connection.call(0, msg, Box::new(reply), &tracing::Span::current());
        delegated
    }
}

impl<M: ChildMessage, C: ChildCallbackMessage> Message<Streaming<M>> for PythonActor<M, C> {
    type Reply = DelegatedReply<Result<ReplyStream<M::Reply>, PythonExecutionError>>;

    async fn handle(&mut self, msg: Streaming<M>, ctx: &mut Context<Self, Self::Reply>) -> Self::Reply {
        self.ensure_child().await;
        self.open_stream(ctx, 0, msg.0, tracing::Span::current(), decode::<M::Reply, false>)
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
            Ok(body) => {
                self.ensure_child().await;
                self.child.connection.call(msg.method, body, Box::new(reply), &msg.caller);
            }
            Err(err) => snake_ipc::ReplySink::complete(Box::new(reply), Err(err.into())),
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
            Ok(body) => {
                self.ensure_child().await;
                self.open_stream(ctx, msg.method, body, msg.caller, decode)
            }
            Err(err) => ctx.reply(Err(err.into())),
        }
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

/// Asks a [`PythonActor`] for the facts its child reported in the handshake.
#[derive(Clone, Copy, Debug, Default)]
pub struct GetChildInfo;

impl<M: Send + 'static, C: Send + 'static> Message<GetChildInfo> for PythonActor<M, C> {
    type Reply = Result<ChildInfo, Infallible>;

    async fn handle(&mut self, _: GetChildInfo, _: &mut Context<Self, Self::Reply>) -> Self::Reply {
        Ok(self.child.info.clone())
    }
}

impl<M: Send + 'static, C: Send + 'static> Message<GetMetrics> for PythonActor<M, C> {
    type Reply = Result<MetricsSnapshot, Infallible>;

    async fn handle(&mut self, _: GetMetrics, _: &mut Context<Self, Self::Reply>) -> Self::Reply {
        Ok(self.metrics.snapshot())
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
