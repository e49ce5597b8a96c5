//! The hosting side: one concrete remote actor, [`Endpoint`], that fronts any local
//! `PythonActor`, and the one remote message it takes. Requests and replies cross as the postcard
//! bodies snake encodes anyway, so kameo's per-type registration is done once, here.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use kameo::actor::{ActorRef, Spawn};
use kameo::error::SendError;
use kameo::message::{BoxReply, Context, Message};
use kameo::reply::DelegatedReply;
use kameo::{Actor, RemoteActor};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use snake_ipc::TraceContext;
use tokio::sync::Mutex;

use super::node::{self, Settings};
use crate::error::{ConversionDirection, PythonExecutionError, RemoteCause};
use crate::parent::{EncodedCall, EncodedStream, PythonActor, ReplyStream, ReplyTo};
use snake_ipc::ReplySink;

/// Bytes counted per stream item beside its body, for the reply size check.
const ITEM_OVERHEAD: u64 = 16;

/// What a caller asks a hosting node: the request and the caller's W3C trace context.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Request {
    pub(crate) kind: Kind,
    pub(crate) trace: Option<TraceContext>,
}

/// The request proper.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Kind {
    /// A call of method `method` with its encoded request.
    Call {
        method: u32,
        key: Option<u64>,
        retry: bool,
        #[serde(with = "serde_bytes")]
        body: Vec<u8>,
    },
    /// Opens a stream of generator method `method`.
    Open {
        method: u32,
        key: Option<u64>,
        #[serde(with = "serde_bytes")]
        body: Vec<u8>,
    },
    /// Up to `max` more items of stream `stream` (the caller's credit).
    Pull { stream: u64, max: u32 },
    /// The caller dropped stream `stream`: release the generator.
    Close { stream: u64 },
}

/// What the hosting node answers.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Answer {
    /// The encoded reply of a call.
    Reply(#[serde(with = "serde_bytes")] Vec<u8>),
    /// The stream is open under this id.
    Opened { stream: u64 },
    /// The next items; `end` once the generator finished (after `error`, when it raised).
    Items { items: Vec<ByteBuf>, error: Option<PythonExecutionError>, end: bool },
    /// The stream is closed.
    Closed,
}

/// What the endpoint needs of the actor it fronts, whatever its message types.
pub(crate) trait Serve: Send + Sync + 'static {
    /// Sends `call` with its `reply` set: the local actor answers the remote caller directly.
    fn call(&self, call: EncodedCall);
    fn open(&self, open: EncodedStream) -> BoxFuture<'static, Result<ReplyStream<Bytes>, PythonExecutionError>>;
}

impl<M: Send + 'static, C: Send + 'static> Serve for ActorRef<PythonActor<M, C>> {
    fn call(&self, call: EncodedCall) {
        match self.tell(call).try_send() {
            Ok(()) => {}
            // A full mailbox: wait for room on a task, so the endpoint's mailbox keeps moving.
            Err(SendError::MailboxFull(call)) => {
                let actor = self.clone();
                tokio::spawn(async move {
                    if let Err(err) = actor.tell(call).send().await {
                        fail(err.msg(), PythonExecutionError::ActorStopped);
                    }
                });
            }
            Err(err) => fail(err.msg(), PythonExecutionError::ActorStopped),
        }
    }

    fn open(&self, open: EncodedStream) -> BoxFuture<'static, Result<ReplyStream<Bytes>, PythonExecutionError>> {
        let actor = self.clone();
        async move { Ok(actor.ask(open).await?) }.boxed()
    }
}

/// Ends the call `call` (if it is still there) with `err`.
fn fail(call: Option<EncodedCall>, err: PythonExecutionError) {
    if let Some(reply) = call.and_then(|call| call.reply) {
        ReplySink::complete(Box::new(reply), Err(err));
    }
}

/// The reply of a call as the remote caller's ask takes it, refused over `max_response_size`.
fn answer(body: &[u8]) -> Result<BoxReply, PythonExecutionError> {
    let limit = node::shared().map_or(u64::MAX, |node| node.settings.max_response_size);
    check_reply(body.len() as u64, limit)?;
    Ok(Box::new(Answer::Reply(body.to_vec())) as BoxReply)
}

/// A stream served to another node; `None` until it opened, or after it failed to.
type Cell = Arc<Mutex<Option<ReplyStream<Bytes>>>>;

struct Served {
    cell: Cell,
    last_pull: Instant,
}

/// The remote actor registered under a name: it hands each request to the local actor it
/// fronts, on a task of its own (its mailbox never waits for Python), and keeps the streams
/// other nodes pull.
#[derive(RemoteActor)]
#[remote_actor(id = "snake::remote::Endpoint/1")]
pub(crate) struct Endpoint {
    name: Arc<str>,
    target: Arc<dyn Serve>,
    settings: Settings,
    streams: HashMap<u64, Served>,
    next_stream: u64,
}

impl Actor for Endpoint {
    type Args = Self;
    type Error = Infallible;

    /// Sweeps idle streams on a timer, so a stream whose caller vanished is released even when no
    /// other request comes.
    async fn on_start(endpoint: Self, actor_ref: ActorRef<Self>) -> Result<Self, Infallible> {
        let weak = actor_ref.downgrade();
        let every = (endpoint.settings.stream_idle / 2).max(std::time::Duration::from_millis(10));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(endpoint) = weak.upgrade() else { return };
                if endpoint.tell(Sweep).send().await.is_err() {
                    return;
                }
            }
        });
        Ok(endpoint)
    }
}

/// Time to close the streams no caller pulled for the idle timeout.
struct Sweep;

impl Message<Sweep> for Endpoint {
    type Reply = ();

    async fn handle(&mut self, _: Sweep, _: &mut Context<Self, Self::Reply>) {
        self.sweep();
    }
}

impl Endpoint {
    /// Closes the streams no caller pulled for the idle timeout (callers that vanished).
    fn sweep(&mut self) {
        let idle = self.settings.stream_idle;
        self.streams.retain(|_, served| served.last_pull.elapsed() < idle);
    }
}

type Reply = DelegatedReply<Result<Answer, PythonExecutionError>>;

#[kameo::remote_message("snake::remote::Request/1")]
impl Message<Request> for Endpoint {
    type Reply = Reply;

    async fn handle(&mut self, request: Request, ctx: &mut Context<Self, Self::Reply>) -> Self::Reply {
        let span = tracing::info_span!("snake.remote.serve", name = %self.name);
        #[cfg(feature = "otel")]
        if let Some(trace) = &request.trace {
            crate::parent::set_remote_parent(&span, trace);
        }
        self.sweep();
        let settings = self.settings;
        match request.kind {
            Kind::Call { method, key, retry, body } => {
                let (delegated, sender) = ctx.reply_sender();
                let reply = match sender {
                    Some(sender) => ReplyTo::Kameo { tx: sender.boxed(), decode: answer },
                    None => ReplyTo::Discard,
                };
                let body = Bytes::from(body);
                self.target.call(EncodedCall { method, key, body, retry, caller: span, reply: Some(reply) });
                delegated
            }
            Kind::Open { method, key, body } => {
                if self.streams.len() >= settings.max_streams {
                    let cause = RemoteCause::TooManyStreams { limit: settings.max_streams };
                    let name = self.name.to_string();
                    return ctx.reply(Err(PythonExecutionError::RemoteUnavailable { name, peer: None, cause }));
                }
                let id = self.next_stream;
                self.next_stream += 1;
                let cell: Cell = Arc::new(Mutex::new(None));
                self.streams.insert(id, Served { cell: Arc::clone(&cell), last_pull: Instant::now() });
                let (delegated, sender) = ctx.reply_sender();
                let open = self.target.open(EncodedStream { method, key, body: Bytes::from(body), caller: span });
                tokio::spawn(async move {
                    // Pulls wait on the cell until the stream is open.
                    let mut slot = cell.lock().await;
                    let answer = match tokio::time::timeout(settings.request_timeout, open).await {
                        Ok(Ok(stream)) => {
                            *slot = Some(stream);
                            Ok(Answer::Opened { stream: id })
                        }
                        Ok(Err(err)) => Err(err),
                        Err(_) => Err(PythonExecutionError::CallTimedOut { timeout: settings.request_timeout }),
                    };
                    drop(slot);
                    if let Some(sender) = sender {
                        sender.send(answer);
                    }
                });
                delegated
            }
            Kind::Pull { stream, max } => {
                let Some(served) = self.streams.get_mut(&stream) else {
                    return ctx.reply(Ok(Answer::Items {
                        items: Vec::new(),
                        error: Some(PythonExecutionError::Cancelled),
                        end: true,
                    }));
                };
                served.last_pull = Instant::now();
                let cell = Arc::clone(&served.cell);
                let (delegated, sender) = ctx.reply_sender();
                tokio::spawn(async move {
                    let answer = pull(cell, max.min(settings.stream_batch), settings).await;
                    if let Some(sender) = sender {
                        sender.send(Ok(answer));
                    }
                });
                delegated
            }
            Kind::Close { stream } => {
                // Dropping the stream (once a pull in progress lets go) cancels it in the child,
                // which closes the generator.
                self.streams.remove(&stream);
                ctx.reply(Ok(Answer::Closed))
            }
        }
    }
}

fn check_reply(size: u64, limit: u64) -> Result<(), PythonExecutionError> {
    if size > limit {
        return Err(PythonExecutionError::RemoteTooLarge { direction: ConversionDirection::Reply, size, limit });
    }
    Ok(())
}

/// Up to `max` items of the stream in `cell`: waits for the first at most half the request
/// timeout (an empty batch then: the caller pulls again), then takes only those ready now, up to
/// the reply size limit.
async fn pull(cell: Cell, max: u32, settings: Settings) -> Answer {
    let wait = settings.request_timeout / 2;
    let Ok(mut slot) = tokio::time::timeout(wait, cell.lock()).await else {
        return Answer::Items { items: Vec::new(), error: None, end: false };
    };
    let Some(stream) = slot.as_mut() else {
        return Answer::Items { items: Vec::new(), error: Some(PythonExecutionError::Cancelled), end: true };
    };
    let mut items = Vec::new();
    let mut size = 0u64;
    let first = match tokio::time::timeout(wait, stream.next()).await {
        Ok(item) => item,
        Err(_) => return Answer::Items { items, error: None, end: false },
    };
    let mut next = Some(first);
    while let Some(item) = next.take() {
        match item {
            None => return Answer::Items { items, error: None, end: true },
            Some(Err(err)) => return Answer::Items { items, error: Some(err), end: true },
            Some(Ok(body)) => {
                let len = body.len() as u64 + ITEM_OVERHEAD;
                if let Err(err) = check_reply(len, settings.max_response_size) {
                    return Answer::Items { items, error: Some(err), end: true };
                }
                size += len;
                items.push(ByteBuf::from(body.to_vec()));
            }
        }
        if items.len() >= max as usize || size >= settings.max_response_size / 2 {
            break;
        }
        // Only items ready now: the caller gets what there is without waiting for a full batch.
        next = stream.next().now_or_never();
    }
    Answer::Items { items, error: None, end: false }
}

/// Serves `target` under `name` to other nodes.
async fn register(target: Arc<dyn Serve>, name: &str) -> Result<(), PythonExecutionError> {
    let unavailable = |cause| PythonExecutionError::RemoteUnavailable { name: name.to_owned(), peer: None, cause };
    let shared = node::shared().ok_or_else(|| unavailable(RemoteCause::NoNode))?;
    let endpoint =
        Endpoint { name: Arc::from(name), target, settings: shared.settings, streams: HashMap::new(), next_stream: 0 };
    let endpoint = Endpoint::spawn(endpoint);
    let registered = tokio::time::timeout(shared.settings.request_timeout, endpoint.register(name.to_owned())).await;
    match registered {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(unavailable(RemoteCause::Transport { message: err.to_string() })),
        Err(_) => Err(unavailable(RemoteCause::Timeout { timeout: shared.settings.request_timeout })),
    }
}

/// Serves a low-level actor under `name` to other nodes (feature `remote`): they reach it with
/// [`RemotePythonActor::lookup`](super::RemotePythonActor::lookup). The actor keeps running while
/// it is served. Needs a running [`Node`](super::Node).
pub async fn serve<M: Send + 'static, C: Send + 'static>(
    actor: &ActorRef<PythonActor<M, C>>,
    name: &str,
) -> Result<(), PythonExecutionError> {
    register(Arc::new(actor.clone()), name).await
}
