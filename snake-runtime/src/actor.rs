//! The low-level API: [`PythonChildProcessBuilder`] spawns a child, [`PythonActor`] is the kameo
//! actor that fronts it.

use std::any::TypeId;
use std::convert::Infallible;
use std::ffi::OsString;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use kameo::Actor;
use kameo::actor::{ActorRef, Spawn, WeakActorRef};
use kameo::error::ActorStopReason;
use kameo::message::{BoxReply, Context, Message};
use kameo::reply::DelegatedReply;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Level;

use crate::callback::{CallbackDispatch, HandlerDispatch, RegistryDispatch, States};
use crate::config::PythonConfig;
use crate::connection::{Connection, Limits, ReplyTo};
use crate::error::PythonExecutionError;
use crate::message::{CallbackHandler, ChildCallbackMessage, ChildMessage, NoCallback, NoopCallbackHandler};
use crate::protocol::{self, ChildInfo, HandlerMode, Hello, MAGIC, MethodSpec, PROTOCOL_VERSION};
use crate::registry::{self, ActorSpec};
use crate::schema::Describe;
use crate::spawn::{self, ProcessSpec};
use crate::stream::{ReplyStream, Streaming};
use crate::trace::ChildSpanExport;
use crate::wire;

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
    pub(crate) connection: Arc<Connection>,
    stream_window: u32,
    restart: Option<Restart>,
    _types: PhantomData<fn() -> (M, C)>,
}

/// Starts a replacement child with the same configuration.
type Respawn =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<Arc<Connection>, PythonExecutionError>> + Send>> + Send + Sync>;

/// How a [`PythonActor`] replaces a child that died.
struct Restart {
    respawn: Respawn,
    left: u32,
}

impl<M, C> PythonActor<M, C> {
    /// Replaces a dead child (one that exited, was killed, or broke the protocol) before the next
    /// message, while restarts are left. Calls that were in flight when it died have failed
    /// already; they are not replayed.
    async fn ensure_child(&mut self) {
        let Some(restart) = self.restart.as_mut().filter(|restart| restart.left > 0) else { return };
        if matches!(self.connection.dead(), None | Some(PythonExecutionError::Cancelled)) {
            return;
        }
        match (restart.respawn)().await {
            Ok(connection) => {
                restart.left -= 1;
                connection.metrics().restarted();
                tracing::warn!(
                    child_pid = connection.info().pid,
                    restarts_left = restart.left,
                    "restarted the python child"
                );
                self.connection = connection;
            }
            Err(err) => tracing::error!(error = %err, "could not restart the python child"),
        }
    }
}

impl<M, C> std::fmt::Debug for PythonActor<M, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PythonActor").field("child", self.connection.info()).finish()
    }
}

impl<M: Send + 'static, C: Send + 'static> Actor for PythonActor<M, C> {
    type Args = Self;
    type Error = Infallible;

    async fn on_start(actor: Self, _: ActorRef<Self>) -> Result<Self, Infallible> {
        Ok(actor)
    }

    async fn on_stop(&mut self, _: WeakActorRef<Self>, _: ActorStopReason) -> Result<(), Infallible> {
        self.connection.shutdown().await;
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
        self.connection.call(0, msg, reply, &tracing::Span::current()).await;
        delegated
    }
}

impl<M: ChildMessage, C: ChildCallbackMessage> Message<Streaming<M>> for PythonActor<M, C> {
    type Reply = Result<ReplyStream<M::Reply>, PythonExecutionError>;

    async fn handle(&mut self, msg: Streaming<M>, _: &mut Context<Self, Self::Reply>) -> Self::Reply {
        self.ensure_child().await;
        let (id, items) = self.connection.open_stream(0, msg.0, self.stream_window, &tracing::Span::current()).await?;
        Ok(ReplyStream::new(items, Arc::clone(&self.connection), id, self.stream_window, decode::<M::Reply, false>))
    }
}

/// How a call's request and reply bodies cross the wire: whether each is self-describing (see
/// [`crate::wire`]). Fixed when the call is built, from the types' `Describe` where they have one.
#[derive(Clone, Copy, Debug)]
struct Encoding {
    request: bool,
    reply: bool,
}

impl Encoding {
    /// Both bodies plain postcard: the low-level API, whose types have no `Describe`.
    const POSTCARD: Self = Self { request: false, reply: false };

    const fn of<Req: Describe, Rep: Describe>() -> Self {
        Self { request: Req::SELF_DESCRIBING, reply: Rep::SELF_DESCRIBING }
    }
}

/// A call of method `method` of an actor declared with `#[snake::actor]` (what the generated
/// handle sends; use the handle's methods instead).
#[doc(hidden)]
#[allow(missing_debug_implementations)]
pub struct MethodCall<Req, Rep> {
    method: u32,
    request: Req,
    encoding: Encoding,
    /// The caller's span: kameo runs handlers in a span of their own, so the call span's parent
    /// travels with the message.
    caller: tracing::Span,
    _reply: PhantomData<fn() -> Rep>,
}

impl<Req: Describe, Rep: Describe> MethodCall<Req, Rep> {
    /// A call of method number `method`, in the current span; each body is self-describing when
    /// its type's `Describe::SELF_DESCRIBING` says so.
    pub fn new(method: u32, request: Req) -> Self {
        Self::with(method, request, Encoding::of::<Req, Rep>())
    }
}

impl<Req, Rep> MethodCall<Req, Rep> {
    /// A call with plain postcard bodies, for types without `Describe`.
    pub(crate) fn postcard(method: u32, request: Req) -> Self {
        Self::with(method, request, Encoding::POSTCARD)
    }

    fn with(method: u32, request: Req, encoding: Encoding) -> Self {
        Self { method, request, encoding, caller: tracing::Span::current(), _reply: PhantomData }
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
                self.connection.call(msg.method, body, reply, &msg.caller).await;
            }
            Err(err) => reply.complete(Err(err.into())),
        }
        delegated
    }
}

/// A streaming call of generator method `method` of an actor declared with `#[snake::actor]`.
#[doc(hidden)]
#[allow(missing_debug_implementations)]
pub struct MethodStream<Req, Item> {
    method: u32,
    request: Req,
    encoding: Encoding,
    caller: tracing::Span,
    _item: PhantomData<fn() -> Item>,
}

impl<Req: Describe, Item: Describe> MethodStream<Req, Item> {
    /// A streaming call of method number `method`, in the current span; each body is
    /// self-describing when its type's `Describe::SELF_DESCRIBING` says so.
    pub fn new(method: u32, request: Req) -> Self {
        Self::with(method, request, Encoding::of::<Req, Item>())
    }
}

impl<Req, Item> MethodStream<Req, Item> {
    /// A streaming call with plain postcard bodies, for types without `Describe`.
    pub(crate) fn postcard(method: u32, request: Req) -> Self {
        Self::with(method, request, Encoding::POSTCARD)
    }

    fn with(method: u32, request: Req, encoding: Encoding) -> Self {
        Self { method, request, encoding, caller: tracing::Span::current(), _item: PhantomData }
    }
}

impl<M, C, Req, Item> Message<MethodStream<Req, Item>> for PythonActor<M, C>
where
    M: Send + 'static,
    C: Send + 'static,
    Req: Serialize + Send + 'static,
    Item: DeserializeOwned + Send + 'static,
{
    type Reply = Result<ReplyStream<Item>, PythonExecutionError>;

    async fn handle(&mut self, msg: MethodStream<Req, Item>, _: &mut Context<Self, Self::Reply>) -> Self::Reply {
        let body = wire::Body::new(msg.request, msg.encoding.request)?;
        self.ensure_child().await;
        let (id, items) = self.connection.open_stream(msg.method, body, self.stream_window, &msg.caller).await?;
        let decode = if msg.encoding.reply { decode::<Item, true> } else { decode::<Item, false> };
        Ok(ReplyStream::new(items, Arc::clone(&self.connection), id, self.stream_window, decode))
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
        Ok(self.connection.info().clone())
    }
}

fn decode<R: DeserializeOwned, const SELF_DESCRIBING: bool>(body: &[u8]) -> Result<R, PythonExecutionError> {
    Ok(wire::decode(body, SELF_DESCRIBING, protocol::FrameKind::Reply)?)
}

fn decode_boxed<R: DeserializeOwned + Send + 'static, const SELF_DESCRIBING: bool>(
    body: &[u8],
) -> Result<BoxReply, PythonExecutionError> {
    decode::<R, SELF_DESCRIBING>(body).map(|reply| Box::new(reply) as BoxReply)
}

/// Configures and spawns a Python child process.
///
/// ```no_run
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Serialize, Deserialize)] struct Echo { text: String }
/// # impl snake::ChildMessage for Echo { type Reply = String; }
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let config = snake::PythonConfig {
///     module_name: "handlers".into(),
///     function_name: "echo".into(),
///     module_path: "python".into(),
///     ..Default::default()
/// };
/// let actor = snake::PythonChildProcessBuilder::new(config)
///     .log_level(tracing::Level::INFO)
///     .spawn::<Echo>()
///     .await?;
/// let reply: String = actor.ask(Echo { text: "hi".into() }).await?;
/// # Ok(()) }
/// ```
pub struct PythonChildProcessBuilder<C = NoCallback, H = NoopCallbackHandler> {
    config: PythonConfig,
    log_level: Level,
    callback_handler: H,
    program: Option<PathBuf>,
    args: Vec<OsString>,
    inherit_env: bool,
    handshake_timeout: Duration,
    call_timeout: Option<Duration>,
    shutdown_grace: Duration,
    max_frame_size: usize,
    max_in_flight: usize,
    sync_workers: u16,
    stream_window: u32,
    max_restarts: u32,
    states: States,
    child_spans: Option<ChildSpanExport>,
    _callback: PhantomData<fn() -> C>,
}

impl<C, H> std::fmt::Debug for PythonChildProcessBuilder<C, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PythonChildProcessBuilder")
            .field("config", &self.config)
            .field("program", &self.program)
            .field("max_in_flight", &self.max_in_flight)
            .finish_non_exhaustive()
    }
}

impl PythonChildProcessBuilder {
    /// A builder with the defaults: the current executable re-executed as the child, a 10 s
    /// handshake timeout, no call timeout, 5 s shutdown grace, 64 MiB frames, 1024 calls in
    /// flight, 4 sync worker threads.
    pub fn new(config: PythonConfig) -> Self {
        Self {
            config,
            log_level: Level::INFO,
            callback_handler: NoopCallbackHandler,
            program: None,
            args: Vec::new(),
            inherit_env: false,
            handshake_timeout: Duration::from_secs(10),
            call_timeout: None,
            shutdown_grace: Duration::from_secs(5),
            max_frame_size: protocol::DEFAULT_MAX_FRAME_SIZE,
            max_in_flight: 1024,
            sync_workers: 4,
            stream_window: 32,
            max_restarts: 0,
            states: States::default(),
            child_spans: None,
            _callback: PhantomData,
        }
    }
}

impl<C: ChildCallbackMessage, H: CallbackHandler<C>> PythonChildProcessBuilder<C, H> {
    /// The most verbose level the child reports.
    #[must_use]
    pub fn log_level(mut self, level: Level) -> Self {
        self.log_level = level;
        self
    }

    /// Answers the child's callbacks of type `C2` with `handler`.
    pub fn with_callback_handler<C2: ChildCallbackMessage, H2: CallbackHandler<C2>>(
        self,
        handler: H2,
    ) -> PythonChildProcessBuilder<C2, H2> {
        PythonChildProcessBuilder {
            config: self.config,
            log_level: self.log_level,
            callback_handler: handler,
            program: self.program,
            args: self.args,
            inherit_env: self.inherit_env,
            handshake_timeout: self.handshake_timeout,
            call_timeout: self.call_timeout,
            shutdown_grace: self.shutdown_grace,
            max_frame_size: self.max_frame_size,
            max_in_flight: self.max_in_flight,
            sync_workers: self.sync_workers,
            stream_window: self.stream_window,
            max_restarts: self.max_restarts,
            states: self.states,
            child_spans: self.child_spans,
            _callback: PhantomData,
        }
    }

    /// Runs `program` as the child instead of re-executing the current executable. It must be
    /// a snake binary (its `main` goes through `#[snake::main]` or
    /// `setup_python_subprocess_system!`) that registers the same actor.
    #[must_use]
    pub fn program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = Some(program.into());
        self
    }

    /// Command-line arguments for the child program.
    #[must_use]
    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Self {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// Passes the parent's whole environment to the child (off by default: the child gets
    /// `PATH`, `HOME`, `LANG`, `LC_*`, `TMPDIR`, `VIRTUAL_ENV`, `PYTHONHOME`, `USER`, `TZ` and the
    /// configured `env_vars` only).
    #[must_use]
    pub fn inherit_env(mut self, inherit: bool) -> Self {
        self.inherit_env = inherit;
        self
    }

    /// How long the child may take to start, import the module and answer the handshake.
    #[must_use]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// A deadline for every call; past it the caller gets `CallTimedOut` and the child is told
    /// to cancel. Per call, kameo's `ask(..).reply_timeout(..)` does the same.
    #[must_use]
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = Some(timeout);
        self
    }

    /// How long a stopping child may take to exit before it is killed.
    #[must_use]
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// The largest frame either side may send; larger requests fail, larger announced frames
    /// close the channel.
    #[must_use]
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes.clamp(1024, u32::MAX as usize);
        self
    }

    /// How many calls may be in flight before callers wait for a free slot.
    #[must_use]
    pub fn max_in_flight(mut self, calls: usize) -> Self {
        self.max_in_flight = calls.clamp(1, u32::MAX as usize);
        self
    }

    /// The most Python threads that run sync handlers at once (a second one starts only when a
    /// handler blocks without holding the GIL).
    #[must_use]
    pub fn sync_workers(mut self, workers: u16) -> Self {
        self.sync_workers = workers.max(1);
        self
    }

    /// Replaces a child that died (exited, was killed, or broke the protocol) with a new one, up
    /// to `restarts` times over the actor's life. The replacement starts before the next message
    /// is handled; calls in flight when the child died still fail with `ChildExited`, since
    /// replaying them could run a handler twice. Counted in the actor's metrics. Default 0.
    #[must_use]
    pub fn max_restarts(mut self, restarts: u32) -> Self {
        self.max_restarts = restarts;
        self
    }

    /// How many items of a stream the child may produce ahead of the consumer (its credit
    /// window). A slow consumer holds the generator at most this far ahead.
    #[must_use]
    pub fn stream_window(mut self, items: u32) -> Self {
        self.stream_window = items.max(1);
        self
    }

    /// Spawns the child, completes the handshake and starts the actor. Fails with a typed error
    /// (module not found, import failed, function missing, handshake timed out, ...) before any
    /// request is sent to a child that is not ready.
    pub async fn spawn<M: ChildMessage>(self) -> Result<ActorRef<PythonActor<M, C>>, PythonExecutionError> {
        let mode = self.config.is_async.map(|is_async| if is_async { HandlerMode::Async } else { HandlerMode::Sync });
        let methods = vec![MethodSpec { function: self.config.function_name.clone(), mode }];
        let callbacks: Option<Arc<dyn CallbackDispatch>> = if TypeId::of::<C>() == TypeId::of::<NoCallback>() {
            None
        } else {
            Some(Arc::new(HandlerDispatch::<C, H>::new(self.callback_handler.clone())))
        };
        let label = format!("{}.{}", self.config.module_name, self.config.function_name);
        let module = self.config.module_name.clone();
        let key = registry::actor_key::<M, C>();
        let fingerprint = registry::actor_fingerprint::<M, C>();
        self.launch(key, fingerprint, module, methods, callbacks, label).await
    }

    async fn launch<M: Send + 'static, C2: Send + 'static>(
        self,
        key: &str,
        fingerprint: u64,
        module: String,
        methods: Vec<MethodSpec>,
        callbacks: Option<Arc<dyn CallbackDispatch>>,
        log_label: String,
    ) -> Result<ActorRef<PythonActor<M, C2>>, PythonExecutionError> {
        if self.program.is_none() {
            if !registry::entered() {
                return Err(PythonExecutionError::SpawnFailed {
                    program: "<current executable>".into(),
                    message: "this executable's `main` does not start with `#[snake::main]` or \
                              `setup_python_subprocess_system!`, so it cannot serve as a child; \
                              add one, or name a child program with `.program(..)`"
                        .into(),
                });
            }
            if registry::find(key).is_none() {
                return Err(PythonExecutionError::ActorNotRegistered { actor: key.to_owned() });
            }
        }
        let hello = Hello {
            magic: MAGIC,
            version: PROTOCOL_VERSION,
            actor: key.to_owned(),
            fingerprint,
            module,
            methods,
            max_frame_size: u32::try_from(self.max_frame_size).unwrap_or(u32::MAX),
            max_in_flight: u32::try_from(self.max_in_flight).unwrap_or(u32::MAX),
            sync_workers: self.sync_workers,
            log_level: self.log_level.as_str().to_owned(),
            record_spans: self.child_spans.is_some(),
        };
        let spec = ProcessSpec {
            program: self.program,
            args: self.args,
            module_path: self.config.module_path,
            python_path: self.config.python_path,
            env_vars: self.config.env_vars,
            inherit_env: self.inherit_env,
            log_label: log_label.clone(),
        };
        let limits = Limits {
            max_frame_size: self.max_frame_size,
            max_in_flight: self.max_in_flight,
            handshake_timeout: self.handshake_timeout,
            call_timeout: self.call_timeout,
            shutdown_grace: self.shutdown_grace,
        };
        let child_spans = self.child_spans.map(|export| {
            tokio::spawn(export.task);
            export.sender
        });
        let spawned = spawn::spawn(&spec)?;
        let connection = Connection::establish(
            spawned,
            &hello,
            limits,
            callbacks.clone(),
            log_label.clone(),
            child_spans.clone(),
            None,
        )
        .await?;
        let restart = (self.max_restarts > 0).then(|| {
            let metrics = Arc::clone(connection.metrics());
            let respawn: Respawn = Arc::new(move || {
                let (spec, hello, callbacks, label, child_spans, metrics) = (
                    spec.clone(),
                    hello.clone(),
                    callbacks.clone(),
                    log_label.clone(),
                    child_spans.clone(),
                    Arc::clone(&metrics),
                );
                Box::pin(async move {
                    let spawned = spawn::spawn(&spec)?;
                    Connection::establish(spawned, &hello, limits, callbacks, label, child_spans, Some(metrics)).await
                })
            });
            Restart { respawn, left: self.max_restarts }
        });
        Ok(PythonActor::spawn(PythonActor {
            connection,
            stream_window: self.stream_window,
            restart,
            _types: PhantomData,
        }))
    }

    /// Sends the spans the child records for traced calls (dispatch, conversions, the Python
    /// execution) to `exporter`, with their ids and parents intact, so that one exporter sees the
    /// whole trace across both processes. Calls are traced when an OpenTelemetry layer is
    /// installed in the parent's `tracing` subscriber; without this, the child records nothing.
    #[must_use]
    pub fn export_child_spans<E: opentelemetry_sdk::trace::SpanExporter + 'static>(mut self, exporter: E) -> Self {
        self.child_spans = Some(ChildSpanExport::new(exporter));
        self
    }

    /// Makes `state` available to `#[snake::callback]` methods of its type (`&self` receivers):
    /// a database pool, a client. It is shared, not copied, by every callback of this child.
    #[must_use]
    pub fn provide<T: Send + Sync + 'static>(mut self, state: T) -> Self {
        self.states.insert(Arc::new(state));
        self
    }

    /// Spawns an actor declared with `#[snake::actor]` (the generated handle's `spawn` calls
    /// this). The module is the declared one unless the config names another.
    #[doc(hidden)]
    pub async fn spawn_actor<A: ActorSpec>(self) -> Result<ActorRef<PythonActor<A, NoCallback>>, PythonExecutionError> {
        if let Some(name) = crate::callback::duplicate_name() {
            return Err(PythonExecutionError::SpawnFailed {
                program: A::KEY.to_owned(),
                message: format!(
                    "two `#[snake::callback]` functions are both named `{name}` in Python: \
                     rename one with `#[snake::callback(name = \"...\")]`"
                ),
            });
        }
        let module =
            if self.config.module_name.is_empty() { A::MODULE.to_owned() } else { self.config.module_name.clone() };
        let callbacks: Option<Arc<dyn CallbackDispatch>> = if registry::registered_callbacks().is_empty() {
            None
        } else {
            Some(Arc::new(RegistryDispatch::new(self.states.clone())))
        };
        let label = format!("{module} ({})", A::KEY);
        self.launch(A::KEY, A::fingerprint(), module, A::methods(), callbacks, label).await
    }
}
