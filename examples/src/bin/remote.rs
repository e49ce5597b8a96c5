//! Python workers served to another node, over kameo's remote actors (feature `remote`).
//!
//! One binary, two roles, each its own node on its own loopback port, dialing explicitly:
//!
//! ```sh
//! cargo run -p snake-examples --features remote --bin remote -- host --listen /ip4/127.0.0.1/tcp/7100
//! cargo run -p snake-examples --features remote --bin remote -- call --dial /ip4/127.0.0.1/tcp/7100
//! ```
//!
//! The host serves a pool of `Worker`s (`examples/python/remote_worker.py`) under a name, and a
//! low-level actor (`examples/python/lowlevel.py`) under another; the caller looks them up and
//! calls them as it would local ones: sync and async methods, a stream (dropped early: the host
//! releases the generator), and a method whose Python calls back into a Rust callback that runs on
//! the host. `spread` (given two hosts to dial) spreads calls over both with `lookup_all`. With `--expect-restart`, the caller then starts a long
//! call, prints `in-flight`, and checks that once the host is killed the call fails with
//! `RemoteUnavailable` within the request timeout, that later calls fail at once, and (after a
//! line on its stdin says the host is back) that calls succeed again. `examples/tests/remote.rs`
//! drives both roles.

use std::error::Error;
use std::io::BufRead;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use opentelemetry::trace::{TraceContextExt, TracerProvider};
use serde::{Deserialize, Serialize};
use snake::remote::NodeBuilder;
use snake::{PythonChildProcessBuilder, PythonConfig, PythonExecutionError, RemoteCause};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Two numbers to add.
#[derive(Debug, Serialize, Deserialize, snake::PyMessage)]
pub struct Add {
    /// The first.
    pub a: i64,
    /// The second.
    pub b: i64,
}

/// Which process served a callback, and in which trace.
#[derive(Debug, Serialize, Deserialize, snake::PyMessage)]
pub struct Identity {
    /// The process id of the node that ran the callback.
    pub pid: u32,
    /// The trace id the callback ran in, in hex (empty without a trace).
    pub trace_id: String,
}

/// Python workers another node calls (`examples/python/remote_worker.py`).
#[snake::actor(module = "remote_worker")]
pub trait Worker {
    /// The text, shouted.
    fn shout(text: String) -> String;
    /// The sum of two numbers, from an `async def`.
    async fn add(request: Add) -> i64;
    /// Counts from 1 to `n`, one item at a time.
    fn count_to(n: u32) -> snake::Stream<u32>;
    /// How many `count_to` generators this worker has closed so far.
    fn released(unused: u32) -> u32;
    /// Sleeps `ms` milliseconds, then returns them.
    async fn sleep(ms: u64) -> u64;
    /// Asks the hosting node who it is, through a Rust callback.
    fn whoami(tag: String) -> Identity;
}

/// The low-level API's message (`examples/python/lowlevel.py`, `summarize`).
#[derive(Debug, Serialize, Deserialize)]
struct Summarize {
    text: String,
    top: u32,
}

/// Its reply.
#[derive(Debug, Serialize, Deserialize)]
struct Summary {
    words: u32,
    top_words: Vec<(String, u32)>,
}

impl snake::ChildMessage for Summarize {
    type Reply = Summary;
}

snake::register_actor!(Summarize);

const LOW_LEVEL: &str = "remote-lowlevel";

/// Runs on the node that hosts the workers: says which process it is and which trace it is in.
#[snake::callback]
async fn host_identity(tag: String) -> Identity {
    let _ = tag;
    Identity { pid: std::process::id(), trace_id: trace_id(&tracing::Span::current()) }
}

/// The OpenTelemetry trace id of `span`, in hex; empty when it has none.
fn trace_id(span: &tracing::Span) -> String {
    let context = span.context();
    let trace = context.span().span_context().trace_id();
    if trace == opentelemetry::trace::TraceId::INVALID { String::new() } else { trace.to_string() }
}

/// Drops the child's spans: the example only follows trace ids.
#[derive(Debug)]
struct Discard;

impl opentelemetry_sdk::trace::SpanExporter for Discard {
    fn export(
        &self,
        _: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> impl Future<Output = opentelemetry_sdk::error::OTelSdkResult> + Send {
        std::future::ready(Ok(()))
    }
}

const NAME: &str = "remote-workers";

/// The caller's request size limit (the default is 1 MiB).
const MAX_REQUEST: u64 = 64 * 1024;

/// The value after `flag` on the command line.
fn arg(args: &[String], flag: &str) -> Option<String> {
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned()
}

/// An OpenTelemetry layer with no exporter: spans get trace ids, so the trace can be followed.
fn init_tracing() -> Result<opentelemetry_sdk::trace::SdkTracerProvider, Box<dyn Error>> {
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn,snake=info".into());
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("remote")))
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter))
        .try_init()?;
    Ok(provider)
}

use tracing_subscriber::Layer as _;

#[snake::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let _provider = init_tracing()?;
    let args: Vec<String> = std::env::args().collect();
    let timeout = Duration::from_millis(arg(&args, "--timeout-ms").and_then(|t| t.parse().ok()).unwrap_or(3000));
    match args.get(1).map(String::as_str) {
        Some("host") => host(&args, timeout).await,
        Some("call") => call(&args, timeout).await,
        Some("spread") => spread(&args, timeout).await,
        _ => Err("usage: remote host --listen ADDR | remote call --dial ADDR [--expect-restart]".into()),
    }
}

async fn host(args: &[String], timeout: Duration) -> Result<(), Box<dyn Error>> {
    let listen = arg(args, "--listen").ok_or("host needs --listen /ip4/127.0.0.1/tcp/PORT")?;
    let idle = arg(args, "--stream-idle-ms").and_then(|t| t.parse().ok()).unwrap_or(60_000);
    let node = NodeBuilder::new()
        .listen(&listen)?
        .request_timeout(timeout)
        .stream_idle_timeout(Duration::from_millis(idle))
        .start()
        .await?;
    let config =
        PythonConfig { module_path: concat!(env!("CARGO_MANIFEST_DIR"), "/python").into(), ..Default::default() };
    // The child records its spans (and so carries the trace into callbacks) only for an exporter;
    // a service would hand its OTLP exporter here.
    let builder = PythonChildProcessBuilder::new(config).workers(2).export_child_spans(Discard);
    let workers = Worker::pool(builder).await?;
    workers.register(NAME).await?;
    // The low-level API: an `ActorRef<PythonActor<M>>` served with `snake::remote::serve`.
    let config = PythonConfig {
        module_name: "lowlevel".into(),
        function_name: "summarize".into(),
        module_path: concat!(env!("CARGO_MANIFEST_DIR"), "/python").into(),
        ..PythonConfig::default()
    };
    let low_level = PythonChildProcessBuilder::new(config).spawn::<Summarize>().await?;
    snake::remote::serve(&low_level, LOW_LEVEL).await?;
    println!("serving {NAME} as {} on {:?} pid {}", node.peer_id(), node.listen_addrs(), std::process::id());
    // Serves until killed (Ctrl-C).
    std::future::pending::<()>().await;
    Ok(())
}

async fn call(args: &[String], timeout: Duration) -> Result<(), Box<dyn Error>> {
    let dial = arg(args, "--dial").ok_or("call needs --dial /ip4/127.0.0.1/tcp/PORT")?;
    let mut builder = NodeBuilder::new().dial(&dial)?.request_timeout(timeout).max_request_size(MAX_REQUEST);
    if let Some(listen) = arg(args, "--listen") {
        builder = builder.listen(&listen)?;
    }
    builder.start().await?;
    let workers = lookup_until(Instant::now() + Duration::from_secs(20)).await?;

    // Over the transport limit: refused before it is sent.
    match workers.shout("x".repeat(MAX_REQUEST as usize + 1)).await {
        Err(PythonExecutionError::RemoteTooLarge { size, limit, .. }) => println!("too large: {size} > {limit}"),
        other => return Err(format!("an oversize request ended with {other:?}").into()),
    }

    let summarizer = snake::remote::RemotePythonActor::<Summarize>::lookup(LOW_LEVEL).await?;
    let summary = summarizer.call(Summarize { text: "a b a".into(), top: 1 }).await?;
    println!("low-level: {} words, top {:?}", summary.words, summary.top_words);

    // What needs the actor in this process is refused on a looked-up handle.
    match workers.metrics().await {
        Err(PythonExecutionError::LocalOnly { operation }) => {
            println!("local only: {operation} {}", workers.actor_ref().is_none());
        }
        other => return Err(format!("metrics on a remote handle ended with {other:?}").into()),
    }
    println!("shout: {}", workers.shout("hello".into()).await?);
    println!("add: {}", workers.add(Add { a: 40, b: 2 }).await?);

    // A stream, dropped after three items; the same key pins both calls to one worker.
    let pinned = workers.with_key("stream");
    let before = pinned.released(0).await?;
    let mut counts = pinned.count_to(1000).await?;
    let mut first = Vec::new();
    while first.len() < 3 {
        first.push(counts.next().await.ok_or("the stream ended early")??);
    }
    drop(counts);
    let full: Vec<u32> = pinned.count_to(5).await?.map(|item| item.unwrap_or(0)).collect().await;
    println!("stream: {first:?} then {full:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    let released = loop {
        let released = pinned.released(0).await?;
        if released >= before + 2 || Instant::now() > deadline {
            break released - before;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!("released: {released}");

    // A caller that vanishes without closing its stream (forgotten here, so no close is sent):
    // the host releases the generator once nobody pulled it for its stream idle timeout.
    let mut forgotten = pinned.count_to(1000).await?;
    forgotten.next().await.ok_or("the stream ended early")??;
    std::mem::forget(forgotten);
    let deadline = Instant::now() + Duration::from_secs(10);
    let idle_released = loop {
        let now = pinned.released(0).await? - before - released;
        if now >= 1 || Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!("idle released: {idle_released}");

    // A callback on the host, in the caller's trace.
    let root = tracing::info_span!("remote.caller");
    let caller_trace = trace_id(&root);
    let identity = workers.whoami("caller".into()).instrument(root).await?;
    tracing::info!(caller = %caller_trace, host = %identity.trace_id, "trace ids");
    println!("callback: pid {} trace {}", identity.pid, identity.trace_id == caller_trace && !caller_trace.is_empty());

    if args.iter().any(|a| a == "--expect-restart") {
        survive_restart(&workers, timeout).await?;
    }
    Ok(())
}

/// Looks the name up until it is found or `deadline` passes.
async fn lookup_until(deadline: Instant) -> Result<Worker, PythonExecutionError> {
    loop {
        match Worker::lookup(NAME).await {
            Ok(workers) => return Ok(workers),
            Err(err) if Instant::now() < deadline => {
                tracing::debug!(error = %err, "lookup failed; trying again");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => return Err(err),
        }
    }
}

/// The host is killed while a call is in flight, then comes back under the same name.
async fn survive_restart(workers: &Worker, timeout: Duration) -> Result<(), Box<dyn Error>> {
    let in_flight = {
        let workers = workers.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            (workers.sleep(60_000).await, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    println!("in-flight");
    let (result, took) = in_flight.await?;
    let lost = cause_of(&result).ok_or_else(|| format!("the in-flight call ended with {result:?}"))?;
    println!("in-flight failed: {lost:?} after {} ms (bound {} ms)", took.as_millis(), timeout.as_millis());

    let started = Instant::now();
    let later = workers.sleep(1).await;
    let later_cause = cause_of(&later).ok_or_else(|| format!("a later call ended with {later:?}"))?;
    println!("later failed: {later_cause:?} after {} ms", started.elapsed().as_millis());
    if later_cause != RemoteCause::Down && !matches!(later_cause, RemoteCause::ConnectionLost | RemoteCause::NotFound) {
        return Err(format!("unexpected cause {later_cause:?}").into());
    }

    // Wait for the test to say the host is back, then call until it answers (bounded).
    let line = tokio::task::spawn_blocking(|| std::io::stdin().lock().lines().next()).await?;
    if line.is_none() {
        return Err("stdin closed before the host came back".into());
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match workers.shout("again".into()).await {
            Ok(reply) => {
                println!("recovered: {reply}");
                break;
            }
            Err(err) if Instant::now() < deadline => {
                tracing::debug!(error = %err, "not back yet");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => return Err(err.into()),
        }
    }

    // The test stops the host (SIGSTOP): the connection stays open and nothing answers, so only
    // the application deadline ends the call.
    let line = tokio::task::spawn_blocking(|| std::io::stdin().lock().lines().next()).await?;
    if line.is_none() {
        return Err("stdin closed before the host was stopped".into());
    }
    let started = Instant::now();
    let hung = workers.shout("anyone?".into()).await;
    let hung_cause = cause_of(&hung).ok_or_else(|| format!("a call to a stopped host ended with {hung:?}"))?;
    println!("stopped host: {hung_cause:?} after {} ms", started.elapsed().as_millis());
    Ok(())
}

/// The cause of a `RemoteUnavailable`.
fn cause_of<T>(result: &Result<T, PythonExecutionError>) -> Option<RemoteCause> {
    match result {
        Err(PythonExecutionError::RemoteUnavailable { cause, .. }) => Some(cause.clone()),
        _ => None,
    }
}

/// Several hosts under one name: calls are spread over them, and a host that stops answering
/// is skipped.
async fn spread(args: &[String], timeout: Duration) -> Result<(), Box<dyn Error>> {
    let mut builder = NodeBuilder::new().request_timeout(timeout);
    for (i, flag) in args.iter().enumerate() {
        if flag == "--dial" {
            builder = builder.dial(args.get(i + 1).ok_or("--dial needs an address")?)?;
        }
    }
    builder.start().await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let (workers, pids) = loop {
        let workers = match Worker::lookup_all(NAME).await {
            Ok(workers) => workers,
            Err(err) if Instant::now() < deadline => {
                tracing::debug!(error = %err, "lookup failed; trying again");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(err) => return Err(err.into()),
        };
        let mut pids = std::collections::BTreeMap::<u32, u32>::new();
        for _ in 0..10 {
            *pids.entry(workers.whoami("spread".into()).await?.pid).or_default() += 1;
        }
        if pids.len() >= 2 || Instant::now() > deadline {
            break (workers, pids);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!("spread: {} hosts {:?}", pids.len(), pids.values().collect::<Vec<_>>());
    let line = tokio::task::spawn_blocking(|| std::io::stdin().lock().lines().next()).await?;
    if line.is_none() {
        return Err("stdin closed before a host was killed".into());
    }
    let (mut ok, mut failed, mut served) = (0, 0, std::collections::BTreeSet::new());
    for _ in 0..20 {
        match workers.whoami("after".into()).await {
            Ok(identity) => {
                ok += 1;
                served.insert(identity.pid);
            }
            Err(PythonExecutionError::RemoteUnavailable { .. }) => failed += 1,
            Err(err) => return Err(err.into()),
        }
    }
    println!("after kill: ok {ok} failed {failed} pids {served:?}");
    Ok(())
}
