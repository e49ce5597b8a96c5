//! A pool of Python workers on CPU-bound work: the speedup over one child, and a worker killed
//! mid-run that the pool replaces while the others keep serving.
//!
//! Run with `cargo run --release -p snake-examples --bin pool`. The Python side is
//! `examples/python/pool_work.py`.

use std::collections::BTreeSet;
use std::error::Error;
use std::future::IntoFuture;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use snake::kameo::actor::ActorRef;
use snake::{GetMetrics, PythonActor, PythonChildProcessBuilder, PythonConfig, PythonExecutionError, WorkerState};

/// Sum the squares below `n`, in Python.
#[derive(Debug, Serialize, Deserialize)]
struct Burn {
    n: u64,
}

/// Which worker did it, and the sum.
#[derive(Debug, Serialize, Deserialize)]
struct Burnt {
    pid: u32,
    total: u64,
}

impl snake::ChildMessage for Burn {
    type Reply = Burnt;
}

snake::register_actor!(Burn);

/// About 1 ms of pure Python per call.
const WORK: u64 = 15_000;
const CALLS: usize = 400;

fn builder() -> PythonChildProcessBuilder {
    let config = PythonConfig {
        module_name: "pool_work".into(),
        function_name: "burn".into(),
        module_path: concat!(env!("CARGO_MANIFEST_DIR"), "/python").into(),
        ..PythonConfig::default()
    };
    PythonChildProcessBuilder::new(config).sync_workers(1)
}

/// Runs `CALLS` calls, `concurrency` at a time; returns the calls per second and the pids seen.
async fn run(
    actor: &ActorRef<PythonActor<Burn>>,
    concurrency: usize,
) -> Result<(f64, BTreeSet<u32>), PythonExecutionError> {
    let started = Instant::now();
    let replies: Vec<_> = stream::iter(0..CALLS)
        .map(|_| actor.ask(Burn { n: WORK }).into_future())
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let mut pids = BTreeSet::new();
    for reply in replies {
        pids.insert(reply?.pid);
    }
    Ok((CALLS as f64 / elapsed.as_secs_f64(), pids))
}

#[snake::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let one = builder().spawn::<Burn>().await?;
    let (single, _) = run(&one, 4).await?;
    one.stop_gracefully().await?;

    let pool =
        builder().restart_backoff(Duration::from_millis(20), Duration::from_secs(1)).spawn_pool::<Burn>().await?;
    let workers = pool.ask(GetMetrics).await?.workers.len();
    let (pooled, pids) = run(&pool, 4 * workers).await?;
    println!(
        "one child: {single:.0} calls/s; a pool of {workers}: {pooled:.0} calls/s ({:.2}x, {} workers served)",
        pooled / single,
        pids.len()
    );

    // Kill one worker while calls run: the calls it held fail with `ChildExited`, the others go
    // on, and the pool replaces it.
    let victim = pool.ask(GetMetrics).await?.workers[0].pid.ok_or("worker 0 has no child")?;
    let load = {
        let pool = pool.clone();
        tokio::spawn(async move {
            stream::iter(0..CALLS)
                .map(|_| pool.ask(Burn { n: WORK }).into_future())
                .buffer_unordered(4 * workers)
                .collect::<Vec<_>>()
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    std::process::Command::new("kill").args(["-9", &victim.to_string()]).status()?;
    let (mut ok, mut lost) = (0, 0);
    for reply in load.await? {
        match reply {
            Ok(_) => ok += 1,
            Err(snake::kameo::error::SendError::HandlerError(PythonExecutionError::ChildExited { .. })) => lost += 1,
            Err(other) => return Err(other.into()),
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let metrics = loop {
        let metrics = pool.ask(GetMetrics).await?;
        if metrics.workers.iter().all(|w| w.state == WorkerState::Warm) || Instant::now() > deadline {
            break metrics;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!(
        "killed worker {victim} mid-run: {ok} calls served, {lost} failed with ChildExited; {} restart(s), all {} workers warm: {}",
        metrics.restarts,
        metrics.workers.len(),
        metrics.workers.iter().all(|w| w.state == WorkerState::Warm)
    );
    Ok(())
}
