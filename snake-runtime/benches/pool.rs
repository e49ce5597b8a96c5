//! Pool benchmark: what a pool of Python workers buys, and what supervision costs.
//!
//! Printed as one markdown table, measured in one run:
//!
//! - **CPU-bound throughput**: calls/s of a pure-Python handler that takes about 1 ms, through
//!   one child and through a pool of one worker per core, with the ratio (the goal: at least 0.85
//!   times the number of cores), beside `ProcessPoolExecutor` with as many workers on the same
//!   function;
//! - **small calls, pipelined**: calls/s of an echo with 256 in flight, one child against a pool;
//! - **reload**: the p99 of small calls from four callers during a rolling reload, against the
//!   same calls on the steady pool (the goal: at most 2x);
//! - **replacement**: from a worker's death to the next call it serves, with the default restart
//!   backoff and with a warm spare;
//! - **crash loop**: the CPU (parent and children) a pool of workers that die as they start uses
//!   over 10 s of backoff, as a share of one core.
//!
//! Pools are measured unpinned only: pinning every worker to one core would measure one core.
//! `cargo bench -p snake-runtime --bench pool`; `SNAKE_BENCH_QUICK=1` (or no `--bench`) cuts the
//! counts and the crash loop's duration by 10x. A report, not a test.

use std::error::Error;
use std::future::IntoFuture;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use kameo::actor::ActorRef;
use serde::{Deserialize, Serialize};
use snake::{GetMetrics, PythonActor, PythonChildProcessBuilder, PythonConfig};

type BoxError = Box<dyn Error>;

#[derive(Serialize, Deserialize)]
struct Burn {
    n: u64,
}
impl snake::ChildMessage for Burn {
    type Reply = u64;
}
snake::register_actor!(Burn);

#[derive(Clone, Serialize, Deserialize)]
struct Echo {
    id: u64,
    text: String,
}
impl snake::ChildMessage for Echo {
    type Reply = Echo;
}
snake::register_actor!(Echo);

/// About 1 ms of pure Python on these machines.
const BURN_N: u64 = 15_000;

fn quick() -> bool {
    std::env::var("SNAKE_BENCH_QUICK").is_ok_and(|v| v == "1") || !std::env::args().any(|a| a == "--bench")
}

fn python_dir() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python").to_owned()
}

fn builder(function: &str) -> PythonChildProcessBuilder {
    let config = PythonConfig {
        module_name: "pool_bench".into(),
        function_name: function.into(),
        module_path: python_dir(),
        ..PythonConfig::default()
    };
    PythonChildProcessBuilder::new(config).sync_workers(1)
}

async fn burn_rate(actor: &ActorRef<PythonActor<Burn>>, calls: usize, in_flight: usize) -> Result<f64, BoxError> {
    let started = Instant::now();
    let results: Vec<_> = stream::iter(0..calls)
        .map(|_| actor.ask(Burn { n: BURN_N }).into_future())
        .buffer_unordered(in_flight)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let expected: u64 = (0..BURN_N).map(|i| i * i).sum();
    for result in results {
        if result? != expected {
            return Err("a wrong sum".into());
        }
    }
    Ok(calls as f64 / elapsed.as_secs_f64())
}

async fn echo_rate(actor: &ActorRef<PythonActor<Echo>>, calls: usize) -> Result<f64, BoxError> {
    let started = Instant::now();
    let results: Vec<_> = stream::iter(0..calls as u64)
        .map(|id| actor.ask(Echo { id, text: "ping".into() }).into_future())
        .buffer_unordered(256)
        .collect()
        .await;
    let elapsed = started.elapsed();
    for result in results {
        result?;
    }
    Ok(calls as f64 / elapsed.as_secs_f64())
}

/// Time from a worker's death (a call that exits it) to the next call it serves.
async fn replacement(spares: usize) -> Result<Duration, BoxError> {
    let actor = builder("echo").spares(spares).spawn::<Echo>().await?;
    if spares > 0 {
        // Let the spare finish starting.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if actor.ask(Echo { id: 0, text: String::new() }).await.is_ok() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let pid = actor.ask(snake::GetChildInfo).await?.pid;
    std::process::Command::new("kill").args(["-9", &pid.to_string()]).status()?;
    let died = Instant::now();
    // Wait until the death is seen, then until a call is served again.
    while actor.ask(GetMetrics).await?.workers[0].pid == Some(pid) {
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    actor.ask(Echo { id: 1, text: "back".into() }).await?;
    let elapsed = died.elapsed();
    actor.stop_gracefully().await?;
    actor.wait_for_shutdown().await;
    Ok(elapsed)
}

/// p99 latency of small calls from 4 callers: during a rolling reload if `reload`, else for
/// `steady`. Any failed call fails the run.
async fn p99_while(actor: &ActorRef<PythonActor<Echo>>, steady: Duration, reload: bool) -> Result<Duration, BoxError> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let (actor, stop) = (actor.clone(), stop.clone());
            tokio::spawn(async move {
                let mut samples = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let started = Instant::now();
                    actor.ask(Echo { id: 0, text: "ping".into() }).await?;
                    samples.push(started.elapsed());
                }
                Ok::<_, snake::kameo::error::SendError<Echo, snake::PythonExecutionError>>(samples)
            })
        })
        .collect();
    if reload {
        actor.ask(snake::Reload::new()).await?;
    } else {
        tokio::time::sleep(steady).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut samples = Vec::new();
    for caller in callers {
        samples.extend(caller.await?.map_err(|e| format!("a call failed: {e}"))?);
    }
    samples.sort();
    Ok(samples[(samples.len() * 99 / 100).min(samples.len() - 1)])
}

/// CPU seconds (user + system) of this process and its reaped children.
fn cpu_seconds() -> f64 {
    let usage = |who| {
        // SAFETY: `getrusage` fills the struct it is given.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &raw mut usage) };
        let time = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        time(usage.ru_utime) + time(usage.ru_stime)
    };
    usage(libc::RUSAGE_SELF) + usage(libc::RUSAGE_CHILDREN)
}

/// The share of one core a crash-looping pool uses over `window`, and how many restarts it made.
async fn crash_loop(workers: usize, window: Duration) -> Result<(f64, u64), BoxError> {
    let marker = std::env::temp_dir().join(format!("snake-bench-crash-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let config = PythonConfig {
        module_name: "pool_bench".into(),
        function_name: "echo".into(),
        module_path: python_dir(),
        env_vars: vec![("SNAKE_BENCH_CRASH_IF".into(), marker.display().to_string())],
        ..PythonConfig::default()
    };
    // The workers start healthy (the spawn needs them), then their code breaks: every restart
    // dies at import, under the default backoff.
    let actor = PythonChildProcessBuilder::new(config)
        .workers(workers)
        .restart_limit(10_000, Duration::from_secs(60))
        .spawn::<Echo>()
        .await?;
    std::fs::write(&marker, b"")?;
    let before = cpu_seconds();
    for worker in actor.ask(GetMetrics).await?.workers {
        if let Some(pid) = worker.pid {
            std::process::Command::new("kill").args(["-9", &pid.to_string()]).status()?;
        }
    }
    tokio::time::sleep(window).await;
    let used = cpu_seconds() - before;
    let restarts = actor.ask(GetMetrics).await?.restarts;
    actor.kill();
    let _ = std::fs::remove_file(&marker);
    Ok((used / window.as_secs_f64(), restarts))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn peer_rate(workers: usize, calls: usize) -> Option<f64> {
    let script = format!("{}/pool_bench.py", python_dir());
    let out = std::process::Command::new("python3")
        .args([script, workers.to_string(), calls.to_string(), BURN_N.to_string()])
        .output()
        .ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

snake::setup_python_subprocess_system! {
    actors = {},
    child_init = { snake::RuntimeConfig::default() },
    parent_init = { run() },
}

fn run() -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(suite())
}

async fn suite() -> Result<(), BoxError> {
    let quick = quick();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let burns = if quick { 60 } else { 600 };
    let echoes = if quick { 5_000 } else { 50_000 };

    // One child and the pool in turn, three rounds: the machine's load moves between
    // measurements, and alternating lets both see the same share of it. Medians are printed.
    let one = builder("burn").spawn::<Burn>().await?;
    let pool = builder("burn").spawn_pool::<Burn>().await?;
    let (mut singles, mut pools) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        singles.push(burn_rate(&one, burns, 4).await?);
        pools.push(burn_rate(&pool, burns, 4 * cores).await?);
    }
    one.stop_gracefully().await?;
    pool.stop_gracefully().await?;
    let (single, pooled) = (median(singles), median(pools));
    let peer = peer_rate(cores, burns);

    let one = builder("echo").spawn::<Echo>().await?;
    let echo_one = echo_rate(&one, echoes).await?;
    one.stop_gracefully().await?;
    let pool = builder("echo").spawn_pool::<Echo>().await?;
    let echo_pool = echo_rate(&pool, echoes).await?;
    pool.stop_gracefully().await?;

    let pool = builder("echo").spawn_pool::<Echo>().await?;
    let steady = p99_while(&pool, Duration::from_secs(if quick { 1 } else { 3 }), false).await?;
    let reloading = p99_while(&pool, Duration::ZERO, true).await?;
    pool.stop_gracefully().await?;

    let cold = replacement(0).await?;
    let warm = replacement(1).await?;
    let window = if quick { Duration::from_secs(1) } else { Duration::from_secs(10) };
    let (cpu, starts) = crash_loop(cores, window).await?;

    println!("\n### Pools ({cores} cores, unpinned{})\n", if quick { ", quick run" } else { "" });
    println!("| what | one child | pool of {cores} | ratio | beside |");
    println!("|---|---|---|---|---|");
    let goal = 0.85 * cores as f64;
    let peer = peer.map_or_else(
        || "ProcessPoolExecutor: not measured".to_owned(),
        |p| format!("ProcessPoolExecutor({cores}): {p:.0}/s"),
    );
    println!(
        "| CPU-bound calls (~1 ms of Python), median of 3 | {single:.0}/s | {pooled:.0}/s | {:.2}x (goal >= {goal:.2}x) | {peer} |",
        pooled / single
    );
    println!("| small calls, 256 in flight | {echo_one:.0}/s | {echo_pool:.0}/s | {:.2}x | |", echo_pool / echo_one);
    println!(
        "| p99 of small calls, 4 callers | steady: {:.0} µs | during a reload: {:.0} µs | {:.2}x (goal <= 2x) | no call failed |",
        steady.as_secs_f64() * 1e6,
        reloading.as_secs_f64() * 1e6,
        reloading.as_secs_f64() / steady.as_secs_f64()
    );
    println!(
        "| death to next call served, default backoff | {:.1} ms | | | with a warm spare: {:.1} ms |",
        cold.as_secs_f64() * 1e3,
        warm.as_secs_f64() * 1e3
    );
    println!(
        "| crash loop over {:?}, {cores} workers dying at start | | {:.1}% of one core | | {starts} restarts |",
        window,
        cpu * 100.0
    );
    Ok(())
}
