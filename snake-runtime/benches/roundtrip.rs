//! Round-trip benchmark: what a call into a Python child costs, next to what the machine charges
//! for the same trip with no framework at all.
//!
//! Measured in one run, and printed as one markdown table per placement:
//!
//! - **floor**: 64-byte length-prefixed messages bounced over a socketpair off a copy of this
//!   binary that echoes them with blocking std I/O. The parent side is measured with blocking std
//!   I/O and with a tokio current-thread runtime (the project's parent side is tokio), with 4 KiB
//!   and 1 MiB messages for the payload rows, and pipelined with 256 messages in flight;
//! - **sync / async round trip**: sequential `ask`s of a small message (its call frame is about
//!   the floor's size) to a plain `def` and to an `async def` echo handler, p50 and p99, from a
//!   task spawned on the parent's multi-thread runtime. The sync p50 is also taken from
//!   `block_on` on the main thread (the body of `#[snake::main]`) and with a current-thread
//!   parent runtime, because where the caller runs moves the figure by up to 2-3x;
//! - **pipelined**: calls/s through one child with 256 calls in flight, for both handlers;
//! - **payloads**: p50 round trip of a 4 KiB and a 1 MiB string echoed by the sync handler.
//!
//! Why ratios to a floor: on these virtual machines a round trip is dominated by wake-ups, and
//! waking a process on an idle core costs about 20 µs each way, so the same ping-pong is several
//! times slower unpinned than pinned to one core, and moves from run to run. An absolute figure
//! says little; its ratio to the floor measured in the same run, under the same placement, says
//! what the framework adds. The floor is measured again at the end of the suite, and the table
//! says so when it moved: unpinned, it flips between about 9 µs and about 40 µs with the load of
//! the machine. The suite runs twice: unpinned, then pinned to CPU 0, by re-executing this binary
//! with `SNAKE_BENCH_PIN=0`, which sets the main thread's affinity before any runtime or child
//! exists, so that every thread and child process inherits it.
//!
//! The design targets (sync p50 within 1.5x the floor, async p50 within 3x, pipelined sync at
//! least 100,000 calls/s) are reported, never asserted: this is a report, not a test. Only a
//! wrong echo fails the run.
//!
//! `cargo bench -p snake-runtime` runs the full suite (about 20 s for both placements, once
//! built). Without `--bench` (as under `cargo test --benches`) or with `SNAKE_BENCH_QUICK=1`,
//! every count and duration is cut by 10x for a smoke run.

use std::error::Error;
use std::io::{self, Write};
use std::time::Duration;

use serde::{Deserialize, Serialize};

type BoxError = Box<dyn Error>;

/// `1` cuts every count and duration by 10x.
const ENV_QUICK: &str = "SNAKE_BENCH_QUICK";
/// Set by the unpinned run for the pinned one: the CPU to pin to.
const ENV_PIN: &str = "SNAKE_BENCH_PIN";
/// Set for the floor's echo process, with [`ENV_FLOOR_FD`].
const ENV_ROLE: &str = "SNAKE_BENCH_ROLE";
const ROLE_FLOOR_ECHO: &str = "floor-echo";
/// The echo process's end of the socketpair.
const ENV_FLOOR_FD: &str = "SNAKE_BENCH_FLOOR_FD";

/// Body of a floor message (plus a 4-byte length prefix).
const FLOOR_MESSAGE: usize = 64;
/// Characters in a small call's payload: with the frame header and the sequence number, a call
/// frame is about as long as a floor message.
const SMALL_PAYLOAD: usize = 56;
const KIB_4: usize = 4 * 1024;
const MIB_1: usize = 1024 * 1024;
/// Calls (or floor messages) in flight in the pipelined runs.
const WINDOW: usize = 256;

const TARGET_SYNC_P50: f64 = 1.5;
const TARGET_ASYNC_P50: f64 = 3.0;
const TARGET_PIPELINED_SYNC: f64 = 100_000.0;
const TARGET_CALLBACK_P50: f64 = 1.5;
const TARGET_STREAM_ITEMS: f64 = 200_000.0;
const TARGET_TRACING_OVERHEAD: f64 = 1.10;

/// The request every handler echoes.
#[derive(Debug, Serialize, Deserialize)]
struct Ping {
    seq: u64,
    payload: String,
}

impl snake::ChildMessage for Ping {
    type Reply = Pong;
}

/// The echoed request, converted back from the Python dict.
#[derive(Debug, Serialize, Deserialize)]
struct Pong {
    seq: u64,
    payload: String,
}

snake::register_actor!(Ping);

/// Asks a handler to time `iters` callbacks into Rust itself.
#[derive(Debug, Serialize, Deserialize)]
struct TimeCallbacks {
    iters: u32,
    payload: String,
}

impl snake::ChildMessage for TimeCallbacks {
    /// Each callback's round trip, in nanoseconds, as Python's `perf_counter_ns` measured it.
    type Reply = Vec<u64>;
}

/// What a timed callback sends, and gets back unchanged.
#[derive(Debug, Serialize, Deserialize)]
struct Echoed {
    seq: u64,
    payload: String,
}

impl snake::ChildCallbackMessage for Echoed {
    type Reply = Echoed;
}

snake::register_actor!(TimeCallbacks, Echoed);

/// Answers every callback with its own message.
#[derive(Clone, Copy, Debug)]
struct EchoCallbacks;

impl snake::CallbackHandler<Echoed> for EchoCallbacks {
    async fn handle(&mut self, msg: Echoed) -> Result<Echoed, snake::CallbackError> {
        Ok(msg)
    }
}

/// Asks a generator for `n` small items.
#[derive(Debug, Serialize, Deserialize)]
struct CountTo {
    n: u64,
}

impl snake::ChildMessage for CountTo {
    type Reply = u64;
}

snake::register_actor!(CountTo);

snake::setup_python_subprocess_system! {
    actors = {},
    child_init = { snake::RuntimeConfig::default() },
    parent_init = { run() },
}

fn run() -> Result<(), BoxError> {
    // First of all: no thread, runtime or child exists yet, so all of them inherit the mask.
    let pinned = match std::env::var(ENV_PIN) {
        Ok(cpu) => {
            let cpu: usize = cpu.parse().map_err(|e| format!("{ENV_PIN}={cpu:?}: {e}"))?;
            placement::pin_to_cpu(cpu).map_err(|e| format!("pinning to CPU {cpu}: {e}"))?;
            Some(cpu)
        }
        Err(_) => None,
    };
    if let Ok(role) = std::env::var(ENV_ROLE) {
        return match role.as_str() {
            ROLE_FLOOR_ECHO => floor::serve_echo(),
            other => Err(format!("{ENV_ROLE}={other:?} is not a role of this benchmark").into()),
        };
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--list") {
        // A test runner listing tests (`cargo test -- --list`): this binary holds none.
        return Ok(());
    }
    let quick = !args.iter().any(|arg| arg == "--bench") || std::env::var_os(ENV_QUICK).is_some_and(|v| v == "1");
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(io::stderr)
        .try_init();
    let plan = Plan::new(quick);
    match pinned {
        Some(cpu) => run_suite(&plan, &format!("Pinned to CPU {cpu}")),
        None => {
            print!("{}", report::intro(&plan));
            run_suite(&plan, "Unpinned")?;
            run_pinned()
        }
    }
}

/// Runs the suite again in a copy of this binary pinned to CPU 0; its output goes to our stdout.
fn run_pinned() -> Result<(), BoxError> {
    io::stdout().flush()?;
    let exe = std::env::current_exe().map_err(|e| format!("locating this executable: {e}"))?;
    let status = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(ENV_PIN, "0")
        .status()
        .map_err(|e| format!("starting the pinned run: {e}"))?;
    if !status.success() {
        return Err(format!("the pinned run failed ({status})").into());
    }
    Ok(())
}

fn run_suite(plan: &Plan, placement: &str) -> Result<(), BoxError> {
    let floor = floor::measure(plan)?;

    // The project's default parent is a multi-thread runtime; the calls are made from a spawned
    // task, as a server's request handler makes them.
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("building the parent's runtime: {e}"))?;
    let project = runtime
        .block_on(runtime.spawn(project::measure(*plan)))
        .map_err(|e| format!("the measuring task failed: {e}"))??;
    // The same calls from `block_on` on the main thread, as in the body of `#[snake::main]`:
    // each reply must also wake the main thread.
    let from_main = runtime.block_on(project::sync_round_trips(*plan))?;
    drop(runtime);
    // And with the whole parent on one thread.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("building a current-thread runtime: {e}"))?;
    let current_thread = runtime.block_on(project::sync_round_trips(*plan))?;
    // Tracing on: a subscriber that records snake's spans (formatted into a sink, no exporter),
    // against the run just above, where the global subscriber filters them out.
    let traced = {
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_writer(io::sink)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        runtime.block_on(project::sync_round_trips(*plan))?
    };
    drop(runtime);

    // Measured again: if the machine's state changed during the run, the ratios are unreliable.
    let floor_after = floor::small_round_trips(plan)?;

    let figures = Figures { floor, project, from_main, current_thread, traced, floor_after };
    print!("{}", report::table(placement, &figures));
    io::stdout().flush()?;
    Ok(())
}

/// Everything one placement measures.
#[derive(Clone, Copy, Debug)]
struct Figures {
    floor: floor::Floor,
    project: project::Project,
    /// Sync round trips from `block_on` on the main thread of a multi-thread runtime.
    from_main: Latency,
    /// Sync round trips with a current-thread parent runtime.
    current_thread: Latency,
    /// The same with a subscriber recording snake's spans.
    traced: Latency,
    /// The blocking std floor again, after everything else.
    floor_after: Latency,
}

/// How many calls and how long, for the full and the quick run.
#[derive(Clone, Copy, Debug)]
struct Plan {
    quick: bool,
    /// Calls made and thrown away before measuring small messages and 4 KiB payloads.
    warmup: usize,
    /// Calls measured with small messages and 4 KiB payloads.
    iters: usize,
    /// Calls made and thrown away before measuring 1 MiB payloads.
    large_warmup: usize,
    /// Calls measured with 1 MiB payloads.
    large_iters: usize,
    /// How long each pipelined run keeps refilling its window.
    pipeline_for: Duration,
}

impl Plan {
    fn new(quick: bool) -> Self {
        let scale: u32 = if quick { 10 } else { 1 };
        let count = |n: u32| (n / scale) as usize;
        Self {
            quick,
            warmup: count(500),
            iters: count(5000),
            large_warmup: count(50),
            large_iters: count(500),
            pipeline_for: Duration::from_secs(2) / scale,
        }
    }
}

/// Round-trip times, warm-up excluded.
#[derive(Clone, Copy, Debug)]
struct Latency {
    p50: Duration,
    p99: Duration,
}

impl Latency {
    fn from_samples(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Self { p50: percentile(&samples, 50), p99: percentile(&samples, 99) }
    }
}

/// The nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], pct: usize) -> Duration {
    let rank = (sorted.len() * pct).div_ceil(100).max(1);
    sorted.get(rank - 1).copied().unwrap_or_default()
}

/// The floor: the same trips over a bare socketpair, with nothing but a length prefix.
mod floor {
    use std::io::{self, BufReader, BufWriter, Read, Write};
    use std::os::fd::{AsRawFd, FromRawFd, RawFd};
    use std::os::unix::net::UnixStream;
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::{
        BoxError, ENV_FLOOR_FD, ENV_ROLE, FLOOR_MESSAGE, KIB_4, Latency, MIB_1, Plan, ROLE_FLOOR_ECHO, WINDOW,
    };

    /// Largest message the echo accepts: a corrupt length must not allocate gigabytes.
    const MAX_MESSAGE: usize = 16 * MIB_1;

    /// The floor figures of one placement.
    #[derive(Clone, Copy, Debug)]
    pub(super) struct Floor {
        pub(super) std_small: Latency,
        pub(super) tokio_small: Latency,
        pub(super) std_4k: Latency,
        pub(super) std_1m: Latency,
        /// Messages/s with [`WINDOW`] in flight.
        pub(super) pipelined: f64,
    }

    pub(super) fn measure(plan: &Plan) -> Result<Floor, BoxError> {
        let echo = Echo::spawn().map_err(|e| format!("starting the floor's echo process: {e}"))?;
        let std_small = round_trips(&echo, FLOOR_MESSAGE, plan.warmup, plan.iters)?;
        let std_4k = round_trips(&echo, KIB_4, plan.warmup, plan.iters)?;
        let std_1m = round_trips(&echo, MIB_1, plan.large_warmup, plan.large_iters)?;
        let pipelined = pipelined(&echo, plan.pipeline_for)?;
        drop(echo);
        let tokio_small = tokio_round_trips(plan)?;
        Ok(Floor { std_small, tokio_small, std_4k, std_1m, pipelined })
    }

    /// The small blocking std round trips alone, with a fresh echo process.
    pub(super) fn small_round_trips(plan: &Plan) -> Result<Latency, BoxError> {
        let echo = Echo::spawn().map_err(|e| format!("starting the floor's echo process: {e}"))?;
        Ok(round_trips(&echo, FLOOR_MESSAGE, plan.warmup, plan.iters)?)
    }

    /// A copy of this binary echoing messages on its end of a socketpair; stopped on drop.
    #[derive(Debug)]
    struct Echo {
        child: Child,
        stream: UnixStream,
    }

    impl Echo {
        fn spawn() -> io::Result<Self> {
            // Both ends are close-on-exec; only the forked child clears the flag on its end.
            let (stream, child_end) = UnixStream::pair()?;
            let fd = child_end.as_raw_fd();
            let mut command = Command::new(std::env::current_exe()?);
            command.env(ENV_ROLE, ROLE_FLOOR_ECHO).env(ENV_FLOOR_FD, fd.to_string()).stdin(Stdio::null());
            // SAFETY: the closure runs between fork and exec and only calls fcntl, which is
            // async-signal-safe, on a descriptor the forked process owns.
            unsafe {
                command.pre_exec(move || {
                    if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                        return Err(io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let child = command.spawn()?;
            drop(child_end);
            Ok(Self { child, stream })
        }
    }

    impl Drop for Echo {
        fn drop(&mut self) {
            // End of stream ends the echo loop.
            let _ = self.stream.shutdown(std::net::Shutdown::Both);
            let _ = self.child.wait();
        }
    }

    /// The echo process's whole life: read a message, send it back, until end of stream.
    pub(super) fn serve_echo() -> Result<(), BoxError> {
        let fd: RawFd = std::env::var(ENV_FLOOR_FD)
            .map_err(|e| format!("{ENV_FLOOR_FD}: {e}"))?
            .parse()
            .map_err(|e| format!("{ENV_FLOOR_FD}: {e}"))?;
        // SAFETY: the parent passed this descriptor, open, to this process alone, and nothing
        // here has claimed it yet.
        let stream = unsafe { UnixStream::from_raw_fd(fd) };
        let mut reader = BufReader::with_capacity(64 * 1024, &stream);
        let mut writer = BufWriter::with_capacity(64 * 1024, &stream);
        let mut body = Vec::new();
        loop {
            let mut prefix = [0u8; 4];
            match reader.read_exact(&mut prefix) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e.into()),
            }
            let len = u32::from_le_bytes(prefix) as usize;
            if len > MAX_MESSAGE {
                return Err(format!("floor echo: a {len}-byte message is over the {MAX_MESSAGE}-byte limit").into());
            }
            body.resize(len, 0);
            reader.read_exact(&mut body)?;
            writer.write_all(&prefix)?;
            writer.write_all(&body)?;
            // Answer everything already read with one write, as a batching server would.
            if reader.buffer().is_empty() {
                writer.flush()?;
            }
        }
    }

    /// A message of `len` bytes with its length prefix.
    fn message(len: usize) -> Vec<u8> {
        let prefix = u32::try_from(len).expect("floor messages fit a u32 length");
        let mut message = prefix.to_le_bytes().to_vec();
        message.resize(4 + len, b'x');
        message
    }

    fn round_trips(echo: &Echo, len: usize, warmup: usize, iters: usize) -> io::Result<Latency> {
        let message = message(len);
        let mut back = vec![0; message.len()];
        let mut stream = &echo.stream;
        let mut samples = Vec::with_capacity(iters);
        for i in 0..warmup + iters {
            back[4] = 0;
            let start = Instant::now();
            stream.write_all(&message)?;
            stream.read_exact(&mut back)?;
            let took = start.elapsed();
            assert!(back == message, "the floor echo answered a {len}-byte message with other bytes");
            if i >= warmup {
                samples.push(took);
            }
        }
        Ok(Latency::from_samples(samples))
    }

    /// The same small round trips with a tokio current-thread runtime on the parent side.
    fn tokio_round_trips(plan: &Plan) -> Result<Latency, BoxError> {
        let echo = Echo::spawn().map_err(|e| format!("starting the floor's echo process: {e}"))?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
        let latency = runtime.block_on(async {
            // The clone shares the socket; `echo` keeps its end only to shut it down.
            let std_stream = echo.stream.try_clone()?;
            std_stream.set_nonblocking(true)?;
            let mut stream = tokio::net::UnixStream::from_std(std_stream)?;
            let message = message(FLOOR_MESSAGE);
            let mut back = vec![0; message.len()];
            let mut samples = Vec::with_capacity(plan.iters);
            for i in 0..plan.warmup + plan.iters {
                back[4] = 0;
                let start = Instant::now();
                stream.write_all(&message).await?;
                stream.read_exact(&mut back).await?;
                let took = start.elapsed();
                assert!(back == message, "the floor echo answered with other bytes");
                if i >= plan.warmup {
                    samples.push(took);
                }
            }
            Ok::<_, io::Error>(Latency::from_samples(samples))
        })?;
        drop(echo);
        Ok(latency)
    }

    /// Small messages per second with [`WINDOW`] in flight, refilled as answers arrive.
    fn pipelined(echo: &Echo, run_for: Duration) -> io::Result<f64> {
        let message = message(FLOOR_MESSAGE);
        // WINDOW messages are 17 KiB: they fit the socket buffers, so a write never waits for
        // our own reads and one thread can do both.
        let burst = message.repeat(WINDOW);
        let mut buf = vec![0; burst.len()];
        let mut stream = &echo.stream;
        let start = Instant::now();
        stream.write_all(&burst)?;
        let (mut in_flight, mut answered, mut partial) = (WINDOW, 0u64, 0usize);
        while in_flight > 0 {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            partial += n;
            let whole = partial / message.len();
            partial %= message.len();
            in_flight -= whole;
            answered += whole as u64;
            if whole > 0 && start.elapsed() < run_for {
                stream.write_all(&burst[..whole * message.len()])?;
                in_flight += whole;
            }
        }
        Ok(answered as f64 / start.elapsed().as_secs_f64())
    }
}

/// The project's figures: calls to Python children through `PythonActor`.
mod project {
    use std::time::{Duration, Instant};

    use futures_util::stream::{FuturesUnordered, StreamExt};
    use snake::kameo::actor::ActorRef;
    use snake::{PythonActor, PythonActorExt, PythonChildProcessBuilder, PythonConfig};

    use super::{
        CountTo, EchoCallbacks, KIB_4, Latency, MIB_1, Ping, Plan, Pong, SMALL_PAYLOAD, TimeCallbacks, WINDOW,
    };

    /// The project's figures of one placement.
    #[derive(Clone, Copy, Debug)]
    pub(super) struct Project {
        /// From spawning the sync child to its handshake's end.
        pub(super) start: Duration,
        pub(super) sync: Latency,
        pub(super) asynchronous: Latency,
        /// Calls/s with [`WINDOW`] in flight.
        pub(super) pipelined_sync: f64,
        pub(super) pipelined_async: f64,
        pub(super) sync_4k: Latency,
        pub(super) sync_1m: Latency,
        /// Python -> Rust -> Python, timed in Python around each blocking callback.
        pub(super) callback_sync: Latency,
        /// The same, awaited from an `async def` handler.
        pub(super) callback_async: Latency,
        /// Items/s streamed from a plain generator, and from an async one.
        pub(super) stream_sync: f64,
        pub(super) stream_async: f64,
    }

    pub(super) async fn measure(plan: Plan) -> Result<Project, String> {
        let small = "x".repeat(SMALL_PAYLOAD);

        let started = Instant::now();
        let actor = spawn("echo_sync", false).await?;
        let start = started.elapsed();
        let sync = round_trips(&actor, &small, plan.warmup, plan.iters).await;
        let sync_4k = round_trips(&actor, &"x".repeat(KIB_4), plan.warmup, plan.iters).await;
        let sync_1m = round_trips(&actor, &"x".repeat(MIB_1), plan.large_warmup, plan.large_iters).await;
        let pipelined_sync = pipelined(&actor, &small, plan.pipeline_for).await;
        stop(actor).await;

        let actor = spawn("echo_async", true).await?;
        let asynchronous = round_trips(&actor, &small, plan.warmup, plan.iters).await;
        let pipelined_async = pipelined(&actor, &small, plan.pipeline_for).await;
        stop(actor).await;

        let callback_sync = callback_round_trips("callback_latencies", plan).await?;
        let callback_async = callback_round_trips("callback_latencies_async", plan).await?;
        let stream_sync = stream_rate("count", plan).await?;
        let stream_async = stream_rate("count_async", plan).await?;

        Ok(Project {
            start,
            sync,
            asynchronous,
            pipelined_sync,
            pipelined_async,
            sync_4k,
            sync_1m,
            callback_sync,
            callback_async,
            stream_sync,
            stream_async,
        })
    }

    fn config(function: &str) -> PythonConfig {
        PythonConfig {
            module_name: "bench_handlers".into(),
            function_name: function.into(),
            module_path: concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python").into(),
            ..PythonConfig::default()
        }
    }

    /// Callback round trips as the Python handler timed them, warm-up excluded.
    async fn callback_round_trips(function: &str, plan: Plan) -> Result<Latency, String> {
        let actor = PythonChildProcessBuilder::new(config(function))
            .with_callback_handler(EchoCallbacks)
            .spawn::<TimeCallbacks>()
            .await
            .map_err(|e| format!("starting a child for bench_handlers.{function}: {e}"))?;
        let iters = u32::try_from(plan.warmup + plan.iters).map_err(|e| e.to_string())?;
        let nanos = actor
            .call(TimeCallbacks { iters, payload: "x".repeat(SMALL_PAYLOAD) })
            .await
            .map_err(|e| format!("bench_handlers.{function}: {e}"))?;
        actor.stop_gracefully().await.ok();
        actor.wait_for_shutdown().await;
        let samples = nanos.into_iter().skip(plan.warmup).map(Duration::from_nanos).collect();
        Ok(Latency::from_samples(samples))
    }

    /// Items per second from a generator handler, every item checked.
    async fn stream_rate(function: &str, plan: Plan) -> Result<f64, String> {
        let actor = PythonChildProcessBuilder::new(config(function))
            .spawn::<CountTo>()
            .await
            .map_err(|e| format!("starting a child for bench_handlers.{function}: {e}"))?;
        let n = if plan.quick { 20_000 } else { 200_000 };
        let started = Instant::now();
        let mut items = actor.stream(CountTo { n }).await.map_err(|e| format!("bench_handlers.{function}: {e}"))?;
        let mut expected = 0;
        while let Some(item) = items.next().await {
            let item = item.map_err(|e| format!("bench_handlers.{function}: {e}"))?;
            assert_eq!(item, expected, "stream items arrive in order");
            expected += 1;
        }
        let rate = n as f64 / started.elapsed().as_secs_f64();
        assert_eq!(expected, n, "every item arrived");
        actor.stop_gracefully().await.ok();
        actor.wait_for_shutdown().await;
        Ok(rate)
    }

    /// Small sequential round trips to a fresh sync child, from wherever this future is polled.
    pub(super) async fn sync_round_trips(plan: Plan) -> Result<Latency, String> {
        let actor = spawn("echo_sync", false).await?;
        let latency = round_trips(&actor, &"x".repeat(SMALL_PAYLOAD), plan.warmup, plan.iters).await;
        stop(actor).await;
        Ok(latency)
    }

    async fn spawn(function: &str, is_async: bool) -> Result<ActorRef<PythonActor<Ping>>, String> {
        let config = PythonConfig {
            module_name: "bench_handlers".into(),
            function_name: function.into(),
            module_path: concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python").into(),
            is_async: Some(is_async),
            ..PythonConfig::default()
        };
        PythonChildProcessBuilder::new(config)
            .spawn::<Ping>()
            .await
            .map_err(|e| format!("starting a child for bench_handlers.{function}: {e}"))
    }

    /// Stops the actor and waits until its child is reaped, so it does not linger into the next
    /// measurement.
    async fn stop(actor: ActorRef<PythonActor<Ping>>) {
        if actor.stop_gracefully().await.is_ok() {
            actor.wait_for_shutdown().await;
        }
    }

    fn check(pong: &Pong, seq: u64, payload: &str) {
        assert!(
            pong.seq == seq && pong.payload == payload,
            "call {seq} was answered with call {}'s message ({} bytes, expected {})",
            pong.seq,
            pong.payload.len(),
            payload.len(),
        );
    }

    /// Sequential calls; only the `ask` is timed, not building the request or checking the reply.
    async fn round_trips(actor: &ActorRef<PythonActor<Ping>>, payload: &str, warmup: usize, iters: usize) -> Latency {
        let mut samples = Vec::with_capacity(iters);
        for (i, seq) in (0..warmup + iters).zip(0u64..) {
            let ping = Ping { seq, payload: payload.to_owned() };
            let start = Instant::now();
            let pong = actor.ask(ping).await.expect("a call to the echo handler failed");
            let took = start.elapsed();
            check(&pong, seq, payload);
            if i >= warmup {
                samples.push(took);
            }
        }
        Latency::from_samples(samples)
    }

    /// Calls per second with [`WINDOW`] calls in flight, refilled as answers arrive.
    async fn pipelined(actor: &ActorRef<PythonActor<Ping>>, payload: &str, run_for: Duration) -> f64 {
        let call = |seq: u64| {
            let ping = Ping { seq, payload: payload.to_owned() };
            async move { (seq, actor.ask(ping).await) }
        };
        let start = Instant::now();
        let mut in_flight: FuturesUnordered<_> = (0..WINDOW as u64).map(call).collect();
        let mut next = WINDOW as u64;
        let mut answered = 0u64;
        while let Some((seq, reply)) = in_flight.next().await {
            let pong = reply.expect("a pipelined call to the echo handler failed");
            check(&pong, seq, payload);
            answered += 1;
            if start.elapsed() < run_for {
                in_flight.push(call(next));
                next += 1;
            }
        }
        answered as f64 / start.elapsed().as_secs_f64()
    }
}

/// Pinning, and reading back where this process may run.
mod placement {
    use std::io;

    /// Restricts the calling thread to `cpu`; threads and processes it starts later inherit the
    /// mask.
    pub(super) fn pin_to_cpu(cpu: usize) -> io::Result<()> {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no such CPU"));
        }
        // SAFETY: an all-zero `cpu_set_t` is the empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `cpu` is below CPU_SETSIZE, checked above.
        unsafe { libc::CPU_SET(cpu, &mut set) };
        // SAFETY: pid 0 is the calling thread; `set` is a valid `cpu_set_t` of the size given.
        if unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The CPUs this thread may run on, as a list of ranges (`0-1`, `0`).
    pub(super) fn allowed_cpus() -> String {
        // SAFETY: an all-zero `cpu_set_t` is the empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: pid 0 is the calling thread; `set` is a writable `cpu_set_t` of the size given.
        if unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) } != 0 {
            return "unknown".into();
        }
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        // SAFETY: every index is below CPU_SETSIZE.
        for cpu in (0..libc::CPU_SETSIZE as usize).filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) }) {
            match ranges.last_mut() {
                Some((_, end)) if *end + 1 == cpu => *end = cpu,
                _ => ranges.push((cpu, cpu)),
            }
        }
        let ranges: Vec<String> = ranges
            .iter()
            .map(|&(start, end)| if start == end { start.to_string() } else { format!("{start}-{end}") })
            .collect();
        ranges.join(",")
    }
}

/// The markdown the run prints.
mod report {
    use std::fmt::Write as _;
    use std::time::Duration;

    use super::{
        FLOOR_MESSAGE, Figures, Plan, SMALL_PAYLOAD, TARGET_ASYNC_P50, TARGET_CALLBACK_P50, TARGET_PIPELINED_SYNC,
        TARGET_STREAM_ITEMS, TARGET_SYNC_P50, TARGET_TRACING_OVERHEAD, WINDOW, placement,
    };

    /// How far the floor may move between the start and the end of a run before the table says
    /// its ratios are unreliable.
    const FLOOR_DRIFT: f64 = 1.3;

    pub(super) fn intro(plan: &Plan) -> String {
        let mode = if plan.quick { "quick run (10x fewer calls)" } else { "full run" };
        format!(
            "# snake round-trip benchmark\n\n\
             {mode}: {warmup} warm-up + {iters} measured calls per latency ({lw} + {li} with 1 MiB), \
             pipelined runs of {secs:.1} s with {WINDOW} in flight.\n\n\
             Floor: {FLOOR_MESSAGE}-byte messages (and a 4-byte length) echoed over a socketpair by a copy of \
             this binary with blocking std I/O. A small call carries a {SMALL_PAYLOAD}-character string, a frame \
             of about the same size. Unless a row says otherwise, calls are made from a task spawned on a \
             tokio multi-thread runtime (the default of `#[snake::main]`).\n\n\
             Ratios compare like with like: p50 with the floor's p50, p99 with its p99, payload rows with the \
             floor of the same size, pipelined rows with the pipelined floor (an upper bound no framework \
             reaches: the echo answers a whole window with one write).\n",
            warmup = plan.warmup,
            iters = plan.iters,
            lw = plan.large_warmup,
            li = plan.large_iters,
            secs = plan.pipeline_for.as_secs_f64(),
        )
    }

    pub(super) fn table(placement: &str, figures: &Figures) -> String {
        let Figures { floor, project, from_main, current_thread, traced, floor_after } = figures;
        let std_small = floor.std_small;
        let tokio_small = floor.tokio_small;
        let workers = std::thread::available_parallelism().map_or(1, usize::from);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\n## {placement} (CPUs allowed: {}; tokio multi-thread parent with {workers} worker{})\n",
            placement::allowed_cpus(),
            if workers == 1 { "" } else { "s" },
        );
        out.push_str("| measurement | figure | floor | x floor | x tokio floor | target | met |\n");
        out.push_str("|---|---|---|---|---|---|---|\n");

        for (name, figure) in [
            ("floor, blocking std, 64 B, p50", std_small.p50),
            ("floor, blocking std, 64 B, p99", std_small.p99),
            ("floor, blocking std, 4 KiB, p50", floor.std_4k.p50),
            ("floor, blocking std, 1 MiB, p50", floor.std_1m.p50),
        ] {
            row(&mut out, [name, &time(figure), "", "", "", "", ""]);
        }
        let tokio_p50 = "floor, tokio current-thread parent, 64 B, p50";
        latency_row(&mut out, tokio_p50, tokio_small.p50, std_small.p50, None);
        let tokio_p99 = "floor, tokio current-thread parent, 64 B, p99";
        latency_row(&mut out, tokio_p99, tokio_small.p99, std_small.p99, None);
        let pipelined_floor = format!("floor, pipelined, 64 B, {WINDOW} in flight");
        row(&mut out, [&pipelined_floor, &rate(floor.pipelined, "msg/s"), "", "", "", "", ""]);
        let again = "floor, blocking std, 64 B, p50, again after the suite";
        latency_row(&mut out, again, floor_after.p50, std_small.p50, None);
        row(&mut out, ["child start (spawn, import, handshake)", &time(project.start), "", "", "", "", ""]);

        let sync_ratio = ratio(project.sync.p50, std_small.p50);
        row(
            &mut out,
            [
                "sync round trip p50",
                &time(project.sync.p50),
                &time(std_small.p50),
                &format!("{sync_ratio:.2}x"),
                &times(project.sync.p50, tokio_small.p50),
                &format!("<= {TARGET_SYNC_P50}x floor"),
                met(sync_ratio <= TARGET_SYNC_P50),
            ],
        );
        latency_row(&mut out, "sync round trip p99", project.sync.p99, std_small.p99, Some(tokio_small.p99));
        let async_ratio = ratio(project.asynchronous.p50, std_small.p50);
        row(
            &mut out,
            [
                "async round trip p50",
                &time(project.asynchronous.p50),
                &time(std_small.p50),
                &format!("{async_ratio:.2}x"),
                &times(project.asynchronous.p50, tokio_small.p50),
                &format!("<= {TARGET_ASYNC_P50}x floor"),
                met(async_ratio <= TARGET_ASYNC_P50),
            ],
        );
        latency_row(&mut out, "async round trip p99", project.asynchronous.p99, std_small.p99, Some(tokio_small.p99));
        let name = "sync round trip p50, caller in `block_on` on the main thread";
        latency_row(&mut out, name, from_main.p50, std_small.p50, Some(tokio_small.p50));
        let name = "sync round trip p50, current-thread parent runtime";
        latency_row(&mut out, name, current_thread.p50, std_small.p50, Some(tokio_small.p50));

        row(
            &mut out,
            [
                &format!("pipelined sync, 1 child, {WINDOW} in flight"),
                &rate(project.pipelined_sync, "calls/s"),
                &rate(floor.pipelined, "msg/s"),
                &format!("{:.3}x", project.pipelined_sync / floor.pipelined),
                "",
                &format!(">= {}", rate(TARGET_PIPELINED_SYNC, "calls/s")),
                met(project.pipelined_sync >= TARGET_PIPELINED_SYNC),
            ],
        );
        row(
            &mut out,
            [
                &format!("pipelined async, 1 child, {WINDOW} in flight"),
                &rate(project.pipelined_async, "calls/s"),
                &rate(floor.pipelined, "msg/s"),
                &format!("{:.3}x", project.pipelined_async / floor.pipelined),
                "",
                "",
                "",
            ],
        );
        for (name, callback) in [
            ("callback round trip (Python -> Rust -> Python), blocking, p50", project.callback_sync),
            ("callback round trip, awaited in `async def`, p50", project.callback_async),
        ] {
            let callback_ratio = ratio(callback.p50, project.sync.p50);
            row(
                &mut out,
                [
                    name,
                    &time(callback.p50),
                    &format!("call {}", time(project.sync.p50)),
                    &format!("{callback_ratio:.2}x call"),
                    &format!("p99 {}", time(callback.p99)),
                    &format!("<= {TARGET_CALLBACK_P50}x call p50"),
                    met(callback_ratio <= TARGET_CALLBACK_P50),
                ],
            );
        }
        for (name, items) in [
            ("stream, plain generator, small items", project.stream_sync),
            ("stream, async generator, small items", project.stream_async),
        ] {
            row(
                &mut out,
                [
                    name,
                    &rate(items, "items/s"),
                    "",
                    "",
                    "",
                    &format!(">= {}", rate(TARGET_STREAM_ITEMS, "items/s")),
                    met(items >= TARGET_STREAM_ITEMS),
                ],
            );
        }
        let overhead = ratio(traced.p50, current_thread.p50);
        row(
            &mut out,
            [
                "sync round trip p50, tracing on (spans recorded, no exporter), current-thread",
                &time(traced.p50),
                &format!("off {}", time(current_thread.p50)),
                &format!("{overhead:.2}x off"),
                "",
                &format!("<= {TARGET_TRACING_OVERHEAD:.2}x off"),
                met(overhead <= TARGET_TRACING_OVERHEAD),
            ],
        );

        let name = "sync round trip p50, 4 KiB string";
        latency_row(&mut out, name, project.sync_4k.p50, floor.std_4k.p50, None);
        let name = "sync round trip p50, 1 MiB string";
        latency_row(&mut out, name, project.sync_1m.p50, floor.std_1m.p50, None);

        let drift = ratio(floor_after.p50, std_small.p50);
        if !(1.0 / FLOOR_DRIFT..=FLOOR_DRIFT).contains(&drift) {
            let _ = writeln!(
                out,
                "\n**The floor moved during this run** ({} at the start, {} at the end): the machine's state \
                 changed, and the ratios above compare figures taken under different conditions. Run again.",
                time(std_small.p50),
                time(floor_after.p50),
            );
        }
        out
    }

    fn row(out: &mut String, cells: [&str; 7]) {
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }

    /// A latency row without a target: the figure, the floor it is compared with, the ratios.
    fn latency_row(out: &mut String, name: &str, figure: Duration, floor: Duration, tokio_floor: Option<Duration>) {
        let tokio_ratio = tokio_floor.map(|tokio_floor| times(figure, tokio_floor)).unwrap_or_default();
        row(out, [name, &time(figure), &time(floor), &times(figure, floor), &tokio_ratio, "", ""]);
    }

    fn ratio(figure: Duration, floor: Duration) -> f64 {
        figure.as_secs_f64() / floor.as_secs_f64()
    }

    fn times(figure: Duration, floor: Duration) -> String {
        format!("{:.2}x", ratio(figure, floor))
    }

    fn time(d: Duration) -> String {
        let micros = d.as_secs_f64() * 1e6;
        if micros < 1000.0 { format!("{micros:.1} µs") } else { format!("{:.2} ms", micros / 1000.0) }
    }

    /// A rate with thousands separators: `123,456 calls/s`.
    fn rate(per_second: f64, unit: &str) -> String {
        let digits = format!("{:.0}", per_second.max(0.0));
        let mut grouped = String::new();
        for (i, digit) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        format!("{grouped} {unit}")
    }

    fn met(ok: bool) -> &'static str {
        if ok { "yes" } else { "**no**" }
    }
}
