//! [`PythonChildProcessBuilder`]: configures and spawns a Python child as a [`PythonActor`].

use std::any::TypeId;
use std::ffi::OsString;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kameo::actor::ActorRef;
use snake_ipc::shm::ShmConfig;
use snake_ipc::{CallbackDispatch, Limits};
use tracing::Level;

use super::actor::{PythonActor, actor_fingerprint, actor_key};
use super::dispatch::{HandlerDispatch, RegistryDispatch};
use super::hooks::ParentHooks;
use super::pool::{Direct, FOREVER, PoolOptions, Routing, cores};
use super::process::{Launch, PythonProcess};
use super::start::start_pool;
#[cfg(feature = "otel")]
use super::trace::ChildSpanExport;
use crate::callbacks::{self, States};
use crate::config::PythonConfig;
use crate::error::PythonExecutionError;
use crate::message::{CallbackHandler, ChildCallbackMessage, ChildMessage, NoCallback, NoopCallbackHandler};
use crate::metrics::ActorMetrics;
use crate::protocol::{DEFAULT_MAX_FRAME_SIZE, HelloPayload, MethodSpec};
use crate::registry::{self, ActorSpec};

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
    shared_memory: Option<ShmConfig>,
    max_in_flight: usize,
    max_callbacks_in_flight: usize,
    sync_workers: u16,
    stream_window: u32,
    pool: PoolOptions,
    states: States,
    warmup: Option<(String, Duration)>,
    teardown: Option<String>,
    require_numpy: bool,
    #[cfg(feature = "otel")]
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
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            shared_memory: Some(ShmConfig::default()),
            max_in_flight: 1024,
            max_callbacks_in_flight: 1024,
            sync_workers: 4,
            stream_window: 32,
            pool: PoolOptions::default(),
            states: States::default(),
            warmup: None,
            teardown: None,
            require_numpy: false,
            #[cfg(feature = "otel")]
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
            shared_memory: self.shared_memory,
            max_in_flight: self.max_in_flight,
            max_callbacks_in_flight: self.max_callbacks_in_flight,
            sync_workers: self.sync_workers,
            stream_window: self.stream_window,
            pool: self.pool,
            states: self.states,
            warmup: self.warmup,
            teardown: self.teardown,
            require_numpy: self.require_numpy,
            #[cfg(feature = "otel")]
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

    /// How long a stopping actor lets its calls in flight finish (it admits no new call, failing
    /// them with `ActorStopping`), and then how long the child may take to exit before it is
    /// killed: a graceful stop takes at most twice this.
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

    /// Whether frames of at least [`shared_memory_threshold`](Self::shared_memory_threshold) bytes
    /// travel through shared memory instead of the socket (on by default; see the README's "Large
    /// payloads").
    #[must_use]
    pub fn shared_memory(mut self, enabled: bool) -> Self {
        self.shared_memory = enabled.then(|| self.shared_memory.unwrap_or_default());
        self
    }

    /// The size from which a frame travels through shared memory (default 64 KiB, at least
    /// 1 KiB). Turns shared memory on.
    #[must_use]
    pub fn shared_memory_threshold(mut self, bytes: usize) -> Self {
        let config = self.shared_memory.unwrap_or_default();
        self.shared_memory = Some(ShmConfig { threshold: bytes.max(1024), ..config });
        self
    }

    /// The most bytes each of a child's two arenas (one per direction) grows to (default 1 GiB of
    /// address space, at least 1 MiB; memory is committed only as an arena grows). A frame that
    /// does not fit goes over the socket. Turns shared memory on.
    #[must_use]
    pub fn shared_memory_limit(mut self, bytes: usize) -> Self {
        let config = self.shared_memory.unwrap_or_default();
        self.shared_memory = Some(ShmConfig { limit: bytes.max(1 << 20), ..config });
        self
    }

    /// How many calls may be in flight before callers wait for a free slot.
    #[must_use]
    pub fn max_in_flight(mut self, calls: usize) -> Self {
        self.max_in_flight = calls.clamp(1, u32::MAX as usize);
        self
    }

    /// How many of the child's callbacks the parent serves at once. More wait for a slot, each
    /// until the deadline of the call that made it (then it fails in Python with
    /// `snake.CallbackError`); the child refuses outright only past 16 times this many waiting.
    #[must_use]
    pub fn max_callbacks_in_flight(mut self, callbacks: usize) -> Self {
        self.max_callbacks_in_flight = callbacks.clamp(1, u32::MAX as usize / 16);
        self
    }

    /// The most Python threads that run sync handlers at once (a second one starts only when a
    /// handler blocks without holding the GIL).
    #[must_use]
    pub fn sync_workers(mut self, workers: u16) -> Self {
        self.sync_workers = workers.max(1);
        self
    }

    /// How many children serve the actor: a pool behind one handle, each call going to one of
    /// them (see [`routing`](Self::routing)). Default: 1 for [`spawn`](Self::spawn), the number
    /// of cores for [`spawn_pool`](Self::spawn_pool). 0 is refused with `InvalidConfig`.
    #[must_use]
    pub fn workers(mut self, workers: usize) -> Self {
        self.pool.workers = Some(workers);
        self
    }

    /// How many workers must be warm before the spawn returns (the others join as they start).
    /// Default: all of them.
    #[must_use]
    pub fn min_ready(mut self, workers: usize) -> Self {
        self.pool.min_ready = Some(workers);
        self
    }

    /// How calls without a key pick their worker. Default [`Routing::LeastLoaded`].
    #[must_use]
    pub fn routing(mut self, routing: Routing) -> Self {
        self.pool.routing = routing;
        self
    }

    /// Replaces a worker that died (exited, was killed, broke the protocol, went unresponsive or
    /// over its memory limit) at most `restarts` times within any `within`, per worker slot, as
    /// OTP supervisors count. Past it the slot is failed: calls go to the other workers, and when
    /// none is left they fail at once with `RestartLimitReached`, which names how the last
    /// worker ended. A start that fails (an import error, say) counts as a restart. Calls in
    /// flight on a dying worker fail with `ChildExited` (see [`retry_on_exit`](Self::retry_on_exit)).
    /// `restarts` 0 never restarts. Default: 5 within 60 s.
    #[must_use]
    pub fn restart_limit(mut self, restarts: u32, within: Duration) -> Self {
        self.pool.max_restarts = restarts;
        self.pool.restart_within = within;
        self
    }

    /// At most `restarts` restarts per worker slot over the actor's whole life (a
    /// [`restart_limit`](Self::restart_limit) with an endless window).
    #[must_use]
    pub fn max_restarts(mut self, restarts: u32) -> Self {
        self.pool.max_restarts = restarts;
        self.pool.restart_within = FOREVER;
        self
    }

    /// The delay before a dead worker is replaced: `initial` for the first restart, doubled for
    /// each restart in a row up to `max`, each time times a random factor between 0.5 and 1 so
    /// that workers that died together do not restart together. A worker that served longer than
    /// `max` resets the sequence. Default: 50 ms up to 30 s.
    #[must_use]
    pub fn restart_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.pool.backoff_initial = initial;
        self.pool.backoff_max = max;
        self
    }

    /// How long a call waits for a worker when none is warm (all starting or restarting) before
    /// it fails with `NoWorkerAvailable`. Default 10 s.
    #[must_use]
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.pool.acquire_timeout = timeout;
        self
    }

    /// Recycles a worker after it was sent `calls` calls: a successor starts, takes its place
    /// once warm, and the old one finishes its calls in flight before it exits. Default: never.
    #[must_use]
    pub fn max_requests(mut self, calls: u64) -> Self {
        self.pool.max_requests = Some(calls);
        self
    }

    /// Recycles a worker (as [`max_requests`](Self::max_requests) does) once it has served this
    /// long. Default: never.
    #[must_use]
    pub fn max_age(mut self, age: Duration) -> Self {
        self.pool.max_age = Some(age);
        self
    }

    /// Recycles a worker (as [`max_requests`](Self::max_requests) does) once its resident memory
    /// passes `bytes`, sampled from `/proc/<pid>/status` every
    /// [`memory_sample_interval`](Self::memory_sample_interval). A value below what a fresh
    /// child already uses is refused with `InvalidConfig`. Default: never.
    #[must_use]
    pub fn max_rss(mut self, bytes: u64) -> Self {
        self.pool.max_rss = Some(bytes);
        self
    }

    /// Kills a worker whose resident memory passes `bytes` (sampled as for
    /// [`max_rss`](Self::max_rss)); its calls in flight fail with `MemoryLimitExceeded`, and it
    /// is replaced as a dead worker is. An allocation faster than the sampling can overshoot
    /// before the kill. Default: none.
    #[must_use]
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.pool.memory_limit = Some(bytes);
        self
    }

    /// How often workers' memory is sampled when [`max_rss`](Self::max_rss) or
    /// [`memory_limit`](Self::memory_limit) is set. Default 100 ms.
    #[must_use]
    pub fn memory_sample_interval(mut self, interval: Duration) -> Self {
        self.pool.sample_interval = interval;
        self
    }

    /// Kills and replaces a worker that leaves a health probe unanswered for `after`: the
    /// child's reader thread answers a heartbeat without the GIL, and a second probe needs the
    /// GIL (a C extension that holds it, or a deadlock, fails that one). Its calls in flight fail
    /// with `Unresponsive`. Probes go out every quarter of `after`. `None` turns probing off.
    /// Default: 5 s.
    #[must_use]
    pub fn unresponsive_after(mut self, after: Option<Duration>) -> Self {
        self.pool.unresponsive_after = after;
        self
    }

    /// Keeps `spares` warm workers idle beside the pool, so that a worker that dies or is
    /// recycled is replaced at once, without waiting for Python to start. Default 0.
    #[must_use]
    pub fn spares(mut self, spares: usize) -> Self {
        self.pool.spares = spares;
        self
    }

    /// Sends a call of the low-level API again, once, to another worker when its worker dies
    /// under it (`ChildExited` or `Unresponsive`). Only for idempotent functions: the first
    /// worker may have run it before it died. For `#[snake::actor]` methods, mark each with
    /// `#[snake(retry)]` instead. Default: off.
    #[must_use]
    pub fn retry_on_exit(mut self, retry: bool) -> Self {
        self.pool.retry = retry;
        self
    }

    /// How many items of a stream the child may produce ahead of the consumer (its credit
    /// window). A slow consumer holds the generator at most this far ahead.
    #[must_use]
    pub fn stream_window(mut self, items: u32) -> Self {
        self.stream_window = items.max(1);
        self
    }

    /// Runs `function()` (a plain or `async def` function of the actor's module, called with no
    /// arguments) once in each new child, after the module is imported and before the child takes
    /// any call: loading a model, opening a pool. A raise fails the spawn with `WarmupFailed`
    /// (its exception's type, message and traceback); passing `timeout` kills the child and
    /// fails with `WarmupTimedOut`. A function the module does not have fails the spawn with
    /// `FunctionNotFound`, as a missing handler does. Restarted children warm up too.
    #[must_use]
    pub fn warmup(mut self, function: impl Into<String>, timeout: Duration) -> Self {
        self.warmup = Some((function.into(), timeout));
        self
    }

    /// Runs `function()` (a plain or `async def` function of the actor's module, called with no
    /// arguments) when the child stops gracefully: after its calls in flight have finished and
    /// before it exits, within the shutdown grace. What it raises is logged (as a Python
    /// `logging` error of logger `snake`) and the child still exits normally. A killed child
    /// runs no teardown. A missing function fails the spawn with `FunctionNotFound`.
    #[must_use]
    pub fn teardown(mut self, function: impl Into<String>) -> Self {
        self.teardown = Some(function.into());
        self
    }

    /// Has the child import numpy at startup, so that a child that cannot fails the spawn with
    /// [`NumpyUnavailable`](PythonExecutionError::NumpyUnavailable) instead of the first call
    /// that carries an array failing to convert. The low-level API's messages are plain serde
    /// types that describe nothing, so it cannot tell by itself; a `#[snake::actor]` whose
    /// messages contain a `snake::Array` does this without being asked.
    #[must_use]
    pub fn require_numpy(mut self, yes: bool) -> Self {
        self.require_numpy = yes;
        self
    }

    /// Spawns the child, completes the handshake and starts the actor. Fails with a typed error
    /// (module not found, import failed, function missing, handshake timed out, ...) before any
    /// request is sent to a child that is not ready.
    pub async fn spawn<M: ChildMessage>(self) -> Result<ActorRef<PythonActor<M, C>>, PythonExecutionError> {
        self.spawn_workers::<M>(1).await
    }

    /// Spawns a pool of children behind one actor: [`workers`](Self::workers) of them, by
    /// default one per core. Returns once [`min_ready`](Self::min_ready) of them (by default,
    /// all) are warm; the actor's type is the same as for one child.
    pub async fn spawn_pool<M: ChildMessage>(self) -> Result<ActorRef<PythonActor<M, C>>, PythonExecutionError> {
        self.spawn_workers::<M>(cores()).await
    }

    async fn spawn_workers<M: ChildMessage>(
        self,
        default_size: usize,
    ) -> Result<ActorRef<PythonActor<M, C>>, PythonExecutionError> {
        let methods = vec![MethodSpec {
            function: self.config.function_name.clone(),
            mode: self.config.declared_mode(),
            request_type: None,
            reply_type: None,
            needs_numpy: false,
        }];
        let callbacks: Option<Arc<dyn CallbackDispatch<PythonExecutionError>>> =
            if TypeId::of::<C>() == TypeId::of::<NoCallback>() {
                None
            } else {
                Some(Arc::new(HandlerDispatch::<C, H>::new(self.callback_handler.clone())))
            };
        let label = format!("{}.{}", self.config.module_name, self.config.function_name);
        let module = self.config.module_name.clone();
        let key = actor_key::<M, C>();
        let fingerprint = actor_fingerprint::<M, C>();
        Ok(self.launch(key, fingerprint, module, methods, callbacks, label, default_size).await?.0)
    }

    #[allow(clippy::too_many_arguments)]
    async fn launch<M: Send + 'static, C2: Send + 'static>(
        self,
        key: &str,
        fingerprint: u64,
        module: String,
        methods: Vec<MethodSpec>,
        callbacks: Option<Arc<dyn CallbackDispatch<PythonExecutionError>>>,
        label: String,
        default_size: usize,
    ) -> Result<(ActorRef<PythonActor<M, C2>>, Arc<Direct>), PythonExecutionError> {
        let size = self.pool.size(default_size);
        self.pool.check(size)?;
        let mut methods = methods;
        if self.require_numpy {
            for method in &mut methods {
                method.needs_numpy = true;
            }
        }
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
        #[cfg(feature = "otel")]
        let child_spans = self.child_spans.map(|export| {
            tokio::spawn(export.task);
            export.sender
        });
        #[cfg(feature = "otel")]
        let record_spans = child_spans.is_some();
        #[cfg(not(feature = "otel"))]
        let record_spans = false;
        let metrics = ActorMetrics::new(&label);
        let launch = Launch {
            process: PythonProcess {
                program: self.program,
                args: self.args,
                module_path: self.config.module_path,
                python_path: self.config.python_path,
                env_vars: self.config.env_vars,
                inherit_env: self.inherit_env,
                shared_memory: self.shared_memory,
            },
            fingerprint,
            hello: HelloPayload {
                actor: key.to_owned(),
                module,
                methods,
                sync_workers: self.sync_workers,
                max_callbacks_in_flight: u32::try_from(self.max_callbacks_in_flight).unwrap_or(u32::MAX),
                log_level: self.log_level.as_str().to_owned(),
                record_spans,
                // Filled in from `Launch::warmup` by `Launch::start`.
                warmup: None,
                teardown: self.teardown,
            },
            limits: Limits {
                max_frame_size: self.max_frame_size,
                max_in_flight: self.max_in_flight,
                max_callbacks_in_flight: self.max_callbacks_in_flight,
                handshake_timeout: self.handshake_timeout,
                call_timeout: self.call_timeout,
                shutdown_grace: self.shutdown_grace,
            },
            hooks: Arc::new(ParentHooks {
                label,
                metrics: Arc::clone(&metrics),
                #[cfg(feature = "otel")]
                child_spans,
            }),
            callbacks,
            warmup: self.warmup,
        };
        start_pool(launch, self.pool, metrics, size, self.stream_window).await
    }

    /// Sends the spans the child records for traced calls (dispatch, conversions, the Python
    /// execution) to `exporter`, with their ids and parents intact, so that one exporter sees the
    /// whole trace across both processes. Calls are traced when an OpenTelemetry layer is
    /// installed in the parent's `tracing` subscriber; without this, the child records nothing.
    /// Needs the `otel` feature (on by default).
    #[cfg(feature = "otel")]
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
    pub async fn spawn_actor<A: ActorSpec>(
        self,
        pool: bool,
    ) -> Result<ActorRef<PythonActor<A, NoCallback>>, PythonExecutionError> {
        Ok(self.spawn_direct::<A>(pool).await?.0)
    }

    /// [`spawn_actor`](Self::spawn_actor), with the workers its pool publishes for the direct
    /// path of the generated handle.
    pub(crate) async fn spawn_direct<A: ActorSpec>(
        mut self,
        pool: bool,
    ) -> Result<(ActorRef<PythonActor<A, NoCallback>>, Arc<Direct>), PythonExecutionError> {
        let default_size = if pool { cores() } else { 1 };
        if let Some(name) = callbacks::duplicate_name() {
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
        let callbacks: Option<Arc<dyn CallbackDispatch<PythonExecutionError>>> =
            if registry::registered_callbacks().is_empty() {
                None
            } else {
                Some(Arc::new(RegistryDispatch::new(self.states.clone())))
            };
        let label = format!("{module} ({})", A::KEY);
        self.pool.low_level = false;
        self.launch(A::KEY, A::fingerprint(), module, A::methods(), callbacks, label, default_size).await
    }
}
