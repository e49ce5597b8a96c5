//! Pools of workers behind one actor: routing, supervision, recycling, limits, reload.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use kameo::actor::ActorRef;
use libtest_mimic::Trial;
use snake::{
    ExitStatus, GetMetrics, Keyed, PythonActor, PythonChildProcessBuilder, PythonExecutionError, Reload, Routing,
    WorkerState,
};

use crate::common::{config, handler_error, process_exists, python_dir, trial};
use crate::messages::{Outcome, PoolJob};

type Pool = ActorRef<PythonActor<PoolJob>>;

pub fn trials() -> Vec<Trial> {
    vec![
        trial("pools::calls_spread_over_every_worker", spread),
        trial("pools::round_robin_takes_each_worker_in_turn", round_robin),
        trial("pools::keyed_calls_stay_on_one_worker_and_move_when_it_dies", affinity),
        trial("pools::a_dead_worker_is_replaced_and_others_keep_serving", replaced),
        trial("pools::past_the_restart_limit_calls_fail_fast_naming_the_exit", restart_limit),
        trial("pools::a_start_that_fails_counts_as_a_restart_and_is_backed_off", failed_respawn),
        trial("pools::recycling_by_request_count_under_load_fails_no_call", recycle_under_load),
        trial("pools::recycling_by_age_and_by_memory", recycle_by_age_and_rss),
        trial("pools::memory_limit_kills_with_a_typed_error", memory_limit),
        trial("pools::retry_resends_once_only_when_asked", retry),
        trial("pools::a_spare_replaces_a_dead_worker_at_once", spares),
        trial("pools::calls_wait_for_a_restarting_worker_up_to_a_bound", acquire_timeout),
        trial("pools::reload_replaces_every_worker_without_failing_calls", reload),
        trial("pools::reload_to_a_module_that_does_not_import_keeps_the_old_workers", reload_broken),
        trial("pools::options_that_cannot_work_are_refused", invalid_options),
        trial("pools::a_worker_holding_the_gil_is_killed_as_unresponsive", unresponsive),
        trial("pools::typed_handles_pool_key_retry_reload_and_report", typed),
        trial("pools::direct_path_calls_are_cancelled_on_drop_and_fail_when_the_child_dies", direct_cancel_and_exit),
        trial("pools::direct_path_calls_survive_reload_and_recycling", direct_reload_and_recycle),
    ]
}

/// A typed actor served by a pool.
#[snake::actor(module = "pools_typed")]
pub trait PoolTyped {
    /// The worker's pid.
    fn whoami(request: ()) -> u32;
    /// Dies the first time it is called with a path, then answers; safe to run twice.
    #[snake(retry)]
    fn die_once(path: String) -> u32;
    /// A counter kept by each worker.
    fn count(request: ()) -> u64;
    /// Never answers; its cancellation is recorded.
    async fn hang(call_id: u64) -> u64;
    /// The ids of the `hang` calls this worker saw cancelled.
    fn cancelled(request: ()) -> Vec<u64>;
    /// The worker's pid, after `ms` milliseconds.
    fn slow(ms: u64) -> u32;
}

fn typed_builder() -> PythonChildProcessBuilder {
    PythonChildProcessBuilder::new(snake::PythonConfig {
        module_path: python_dir().display().to_string(),
        ..snake::PythonConfig::default()
    })
    .sync_workers(1)
}

/// How many calls of `handle` went straight to a worker's connection, past the mailbox.
async fn direct_calls(handle: &PoolTyped) -> u64 {
    handle.actor_ref().expect("local").ask(snake::__private::DirectCalls).await.expect("count")
}

const PROMPTLY: Duration = Duration::from_secs(5);

fn builder() -> PythonChildProcessBuilder {
    PythonChildProcessBuilder::new(config("pools", "work")).sync_workers(1)
}

async fn run(pool: &Pool, op: &str, n: i64) -> Result<Outcome, PythonExecutionError> {
    Ok(pool.ask(PoolJob::new(op, n)).await?)
}

async fn pid_of(pool: &Pool) -> u32 {
    run(pool, "pid", 0).await.expect("pid").pid
}

/// Waits up to `secs` for `check` on the pool's worker states to hold.
async fn wait_for_states(pool: &Pool, secs: u64, check: impl Fn(&[WorkerState]) -> bool) -> Vec<WorkerState> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let states: Vec<_> = pool.ask(GetMetrics).await.expect("metrics").workers.iter().map(|w| w.state).collect();
        if check(&states) || Instant::now() > deadline {
            return states;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn spread() {
    let pool: Pool = builder().workers(3).spawn().await.expect("spawn");
    let metrics = pool.ask(GetMetrics).await.expect("metrics");
    assert_eq!(metrics.workers.len(), 3);
    assert!(metrics.workers.iter().all(|w| w.state == WorkerState::Warm && w.pid.is_some()));
    // Calls that each hold a worker for 200 ms, three at a time: least-loaded routing gives
    // each worker one.
    let calls: FuturesUnordered<_> = (0..3).map(|_| run(&pool, "sleep", 200)).collect();
    let pids: BTreeSet<u32> = calls.map(|outcome| outcome.expect("call").pid).collect().await;
    assert_eq!(pids.len(), 3, "{pids:?}");
    let workers: BTreeSet<u32> = metrics.workers.iter().filter_map(|w| w.pid).collect();
    assert_eq!(pids, workers);
    let served: u64 = pool.ask(GetMetrics).await.expect("metrics").workers.iter().map(|w| w.served).sum();
    assert_eq!(served, 3);
}

async fn round_robin() {
    let pool: Pool = builder().workers(2).routing(Routing::RoundRobin).spawn().await.expect("spawn");
    let mut pids = Vec::new();
    for _ in 0..6 {
        pids.push(pid_of(&pool).await);
    }
    assert_ne!(pids[0], pids[1]);
    for pair in pids.windows(3) {
        assert_eq!(pair[0], pair[2], "{pids:?}");
    }
}

async fn affinity() {
    let pool: Pool = builder()
        .workers(3)
        .restart_backoff(Duration::from_secs(2), Duration::from_secs(4))
        .spawn()
        .await
        .expect("spawn");
    // Each key's calls land on one worker, whose per-process counter counts them all.
    let mut homes = HashMap::new();
    for round in 1..=4 {
        for key in ["alice", "bob", "carol", "dave"] {
            let outcome: Outcome = pool.ask(Keyed::new(key, PoolJob::new("pid", 0))).await.expect("call");
            let home = *homes.entry(key).or_insert(outcome.pid);
            assert_eq!(home, outcome.pid, "{key} moved in round {round}");
        }
    }
    // The home of `alice` dies: her calls move to a live worker at once (no wait for the
    // restart, which is backed off by 2 s), and stay there.
    let home = homes["alice"];
    let err = handler_error(pool.ask(Keyed::new("alice", PoolJob::new("exit", 9))).await);
    assert!(matches!(err, PythonExecutionError::ChildExited { status: ExitStatus::Code(9), .. }), "{err:?}");
    let started = Instant::now();
    let moved: Outcome = pool.ask(Keyed::new("alice", PoolJob::new("pid", 0))).await.expect("moved call");
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    assert_ne!(moved.pid, home);
    let again: Outcome = pool.ask(Keyed::new("alice", PoolJob::new("pid", 0))).await.expect("call");
    assert_eq!(again.pid, moved.pid);
}

async fn replaced() {
    let pool: Pool = builder().workers(2).spawn().await.expect("spawn");
    let before: BTreeSet<u32> =
        pool.ask(GetMetrics).await.expect("metrics").workers.iter().filter_map(|w| w.pid).collect();
    let err = handler_error(pool.ask(PoolJob::new("exit", 5)).await);
    assert!(matches!(err, PythonExecutionError::ChildExited { status: ExitStatus::Code(5), .. }), "{err:?}");
    // The other worker keeps serving while the dead one restarts.
    for _ in 0..10 {
        let pid = pid_of(&pool).await;
        assert!(before.contains(&pid) && process_exists(pid));
    }
    let states = wait_for_states(&pool, 5, |s| s.iter().all(|&s| s == WorkerState::Warm)).await;
    assert!(states.iter().all(|&s| s == WorkerState::Warm), "{states:?}");
    let metrics = pool.ask(GetMetrics).await.expect("metrics");
    assert_eq!(metrics.restarts, 1);
    let restarted = metrics.workers.iter().find(|w| w.restarts == 1).expect("one slot restarted");
    assert_eq!(restarted.restart_reasons.get("child_exited"), Some(&1));
    assert!(restarted.last_exit.as_deref().is_some_and(|exit| exit.contains("code 5")), "{:?}", restarted.last_exit);
    assert!(!before.contains(&restarted.pid.expect("pid")));
}

async fn restart_limit() {
    let pool: Pool = builder()
        .restart_limit(2, Duration::from_secs(60))
        .restart_backoff(Duration::from_millis(10), Duration::from_millis(20))
        .spawn()
        .await
        .expect("spawn");
    for _ in 0..3 {
        let err = handler_error(pool.ask(PoolJob::new("exit", 6)).await);
        assert!(matches!(err, PythonExecutionError::ChildExited { status: ExitStatus::Code(6), .. }), "{err:?}");
    }
    let started = Instant::now();
    let err = handler_error(pool.ask(PoolJob::new("pid", 0)).await);
    assert!(started.elapsed() < Duration::from_millis(500), "fails fast: {:?}", started.elapsed());
    let PythonExecutionError::RestartLimitReached { restarts, within, last_error } = err else { panic!("{err:?}") };
    assert_eq!((restarts, within), (2, Duration::from_secs(60)));
    assert!(
        matches!(*last_error, PythonExecutionError::ChildExited { status: ExitStatus::Code(6), .. }),
        "{last_error:?}"
    );
    let metrics = pool.ask(GetMetrics).await.expect("metrics");
    assert_eq!(metrics.workers[0].state, WorkerState::Failed);
    assert_eq!(metrics.restarts, 2);

    // With no restarts at all, later calls get the exit itself.
    let single: Pool = builder().max_restarts(0).spawn().await.expect("spawn");
    let _ = single.ask(PoolJob::new("exit", 7)).await;
    let err = handler_error(single.ask(PoolJob::new("pid", 0)).await);
    assert!(matches!(err, PythonExecutionError::ChildExited { status: ExitStatus::Code(7), .. }), "{err:?}");
}

async fn failed_respawn() {
    let marker = std::env::temp_dir().join(format!("snake-pool-break-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let mut config = config("pools", "work");
    config.env_vars.push(("SNAKE_POOL_BREAK".into(), marker.display().to_string()));
    let pool: Pool = PythonChildProcessBuilder::new(config)
        .restart_limit(3, Duration::from_secs(60))
        .restart_backoff(Duration::from_millis(100), Duration::from_secs(1))
        .spawn()
        .await
        .expect("spawn");
    std::fs::write(&marker, b"").expect("marker");
    let started = Instant::now();
    let _ = pool.ask(PoolJob::new("exit", 1)).await;
    // Every call meanwhile waits or fails with the typed error; none starts a child itself.
    let err = loop {
        match pool.ask(PoolJob::new("pid", 0)).await {
            Err(kameo::error::SendError::HandlerError(PythonExecutionError::RestartLimitReached {
                last_error,
                ..
            })) => {
                break *last_error;
            }
            other => assert!(started.elapsed() < Duration::from_secs(20), "{other:?}"),
        }
    };
    let PythonExecutionError::ImportFailed { exception, .. } = &err else { panic!("{err:?}") };
    assert!(exception.message.contains("broken on purpose"), "{exception:?}");
    // Three failed starts backed off by at least 50 + 100 + 200 ms (the jitter's lower bound).
    assert!(started.elapsed() >= Duration::from_millis(350), "{:?}", started.elapsed());
    let metrics = pool.ask(GetMetrics).await.expect("metrics");
    assert_eq!(metrics.workers[0].restarts, 3);
    assert_eq!(metrics.workers[0].restart_reasons.get("import_failed"), Some(&2));
    let _ = std::fs::remove_file(&marker);
}

async fn recycle_under_load() {
    let pool: Pool = builder().workers(2).sync_workers(2).max_requests(40).spawn().await.expect("spawn");
    // 600 calls of 2-4 ms, eight at a time: about a second of load, through several recycles.
    let outcomes: Vec<_> =
        futures_util::stream::iter(0..600).map(|i| run(&pool, "sleep", 2 + i % 3)).buffer_unordered(8).collect().await;
    let mut pids = BTreeSet::new();
    for outcome in outcomes {
        pids.insert(outcome.expect("no call fails while workers recycle").pid);
    }
    let metrics = pool.ask(GetMetrics).await.expect("metrics");
    assert!(metrics.recycles >= 2, "{}", metrics.recycles);
    assert!(pids.len() >= 3, "{pids:?}");
    assert_eq!(metrics.restarts, 0);
    assert_eq!(metrics.ok, 600);
    assert_eq!(metrics.errors.values().sum::<u64>(), 0, "{:?}", metrics.errors);
}

async fn recycle_by_age_and_rss() {
    let aged: Pool = builder().max_age(Duration::from_millis(300)).spawn().await.expect("spawn");
    let first = pid_of(&aged).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while pid_of(&aged).await == first {
        assert!(Instant::now() < deadline, "recycled by age");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(crate::common::wait_gone(first, 5).await, "the old child exits after draining");
    let metrics = aged.ask(GetMetrics).await.expect("metrics");
    assert!(metrics.recycles >= 1 && metrics.restarts == 0);

    let fat: Pool =
        builder().max_rss(200 << 20).memory_sample_interval(Duration::from_millis(20)).spawn().await.expect("spawn");
    let first = pid_of(&fat).await;
    let grown = run(&fat, "alloc", 256).await.expect("alloc");
    assert_eq!(grown.pid, first);
    let deadline = Instant::now() + Duration::from_secs(10);
    while pid_of(&fat).await == first {
        assert!(Instant::now() < deadline, "recycled by memory");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    let metrics = loop {
        let metrics = fat.ask(GetMetrics).await.expect("metrics");
        if metrics.workers[0].rss.is_some() || Instant::now() > deadline {
            break metrics;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(metrics.recycles, 1);
    // The successor is sampled too, and is back to a fresh child's size.
    assert!(metrics.workers[0].rss.is_some_and(|rss| rss < 200 << 20), "{:?}", metrics.workers[0].rss);
}

async fn memory_limit() {
    let pool: Pool = builder()
        .memory_limit(300 << 20)
        .memory_sample_interval(Duration::from_millis(10))
        .spawn()
        .await
        .expect("spawn");
    let first = pid_of(&pool).await;
    // 40 MiB at a time, held, until the limit trips mid-call.
    let err = loop {
        match run(&pool, "alloc", 40).await {
            Ok(outcome) => assert_eq!(outcome.pid, first),
            Err(err) => break err,
        }
    };
    let PythonExecutionError::MemoryLimitExceeded { pid, rss, limit } = err else { panic!("{err:?}") };
    assert_eq!((pid, limit), (first, 300 << 20));
    assert!(rss > limit);
    // Replaced like a dead worker.
    let next = pid_of(&pool).await;
    assert_ne!(next, first);
    let metrics = pool.ask(GetMetrics).await.expect("metrics");
    assert_eq!(metrics.workers[0].restart_reasons.get("memory_limit_exceeded"), Some(&1));
}

async fn retry() {
    let marker = |name: &str| {
        let path = std::env::temp_dir().join(format!("snake-pool-{name}-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        path.display().to_string()
    };
    let plain: Pool = builder().workers(2).spawn().await.expect("spawn");
    let job = PoolJob { op: "exit_once".into(), n: 0, path: marker("once-plain") };
    let err = handler_error(plain.ask(job).await);
    assert!(matches!(err, PythonExecutionError::ChildExited { status: ExitStatus::Code(3), .. }), "{err:?}");

    let retried: Pool = builder().workers(2).retry_on_exit(true).spawn().await.expect("spawn");
    let job = PoolJob { op: "exit_once".into(), n: 11, path: marker("once-retried") };
    let outcome = retried.ask(job.clone()).await.expect("the second worker answers");
    assert_eq!(outcome.value, 11);
    // Once only: a call that kills every worker it reaches fails after its one retry.
    let err = handler_error(retried.ask(PoolJob::new("exit", 4)).await);
    assert!(matches!(err, PythonExecutionError::ChildExited { status: ExitStatus::Code(4), .. }), "{err:?}");
    let metrics = retried.ask(GetMetrics).await.expect("metrics");
    assert_eq!(metrics.restarts, 3, "one death for the first call, two for the second");
    let _ = std::fs::remove_file(&job.path);
}

async fn spares() {
    // A restart backoff of 3 s: only a spare can fill the slot sooner.
    let pool: Pool = builder()
        .spares(1)
        .restart_backoff(Duration::from_secs(3), Duration::from_secs(6))
        .spawn()
        .await
        .expect("spawn");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let first = pid_of(&pool).await;
    let _ = pool.ask(PoolJob::new("exit", 1)).await;
    let started = Instant::now();
    let next = pid_of(&pool).await;
    assert_ne!(next, first);
    assert!(started.elapsed() < Duration::from_secs(1), "served by the spare: {:?}", started.elapsed());
}

async fn acquire_timeout() {
    let pool: Pool = builder()
        .restart_backoff(Duration::from_secs(4), Duration::from_secs(8))
        .acquire_timeout(Duration::from_millis(300))
        .spawn()
        .await
        .expect("spawn");
    let _ = pool.ask(PoolJob::new("exit", 1)).await;
    let started = Instant::now();
    let err = handler_error(pool.ask(PoolJob::new("pid", 0)).await);
    let PythonExecutionError::NoWorkerAvailable { waited } = err else { panic!("{err:?}") };
    assert!(waited >= Duration::from_millis(300) && started.elapsed() < Duration::from_secs(2), "{waited:?}");
    assert_eq!(pool.ask(GetMetrics).await.expect("metrics").workers[0].state, WorkerState::Restarting);
}

fn reloadable(dir: &std::path::Path, version: &str) {
    let source = format!(
        "import os\nVERSION = {version}\n\ndef work(job):\n    return {{\"pid\": os.getpid(), \"value\": VERSION}}\n"
    );
    std::fs::write(dir.join("reloadable.py"), source).expect("write module");
}

fn reload_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("snake-reload-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

async fn reload() {
    let dir = reload_dir("ok");
    reloadable(&dir, "1");
    let mut config = config("reloadable", "work");
    config.module_path = dir.display().to_string();
    let pool: Pool = PythonChildProcessBuilder::new(config).workers(2).spawn().await.expect("spawn");
    assert_eq!(run(&pool, "pid", 0).await.expect("call").value, 1);
    reloadable(&dir, "2");
    // Calls keep flowing during the reload; none fails, and they end on the new code.
    let load = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut seen = BTreeSet::new();
            for _ in 0..300 {
                seen.insert(run(&pool, "pid", 0).await.expect("no call fails during a reload").value);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            seen
        })
    };
    pool.ask(Reload::new()).await.expect("reload");
    for _ in 0..10 {
        assert_eq!(run(&pool, "pid", 0).await.expect("call").value, 2);
    }
    let seen = load.await.expect("load");
    assert!(seen.contains(&2), "{seen:?}");
    assert_eq!(pool.ask(GetMetrics).await.expect("metrics").recycles, 2);
    let _ = std::fs::remove_dir_all(&dir);
}

async fn reload_broken() {
    let dir = reload_dir("broken");
    reloadable(&dir, "1");
    let mut config = config("reloadable", "work");
    config.module_path = dir.display().to_string();
    let pool: Pool = PythonChildProcessBuilder::new(config.clone()).workers(2).spawn().await.expect("spawn");
    let pids: BTreeSet<u32> =
        pool.ask(GetMetrics).await.expect("metrics").workers.iter().filter_map(|w| w.pid).collect();
    std::fs::write(dir.join("reloadable.py"), "raise RuntimeError('not today')\n").expect("write");
    let err = pool.ask(Reload::new()).await.expect_err("the reload fails");
    let kameo::error::SendError::HandlerError(PythonExecutionError::ImportFailed { exception, .. }) = err else {
        panic!("{err:?}")
    };
    assert_eq!(exception.message, "not today");
    // The old workers serve on, unchanged.
    let after: BTreeSet<u32> =
        pool.ask(GetMetrics).await.expect("metrics").workers.iter().filter_map(|w| w.pid).collect();
    assert_eq!(pids, after);
    assert_eq!(run(&pool, "pid", 0).await.expect("call").value, 1);
    // A reload to a config that names a missing module fails the same way, typed.
    let mut missing = config;
    missing.module_name = "no_such_module_here".into();
    let err = pool.ask(Reload::with_config(missing)).await.expect_err("fails");
    assert!(
        matches!(err, kameo::error::SendError::HandlerError(PythonExecutionError::ModuleNotFound { .. })),
        "{err:?}"
    );
    assert_eq!(run(&pool, "pid", 0).await.expect("call").value, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

async fn invalid_options() {
    let refused = |result: Result<Pool, PythonExecutionError>| match result {
        Err(PythonExecutionError::InvalidConfig { option, .. }) => option,
        other => panic!("{other:?}"),
    };
    assert_eq!(refused(builder().workers(0).spawn().await), "workers");
    assert_eq!(refused(builder().restart_limit(3, Duration::ZERO).spawn().await), "restart_limit");
    assert_eq!(refused(builder().max_rss(1 << 20).spawn().await), "max_rss");
    assert_eq!(refused(builder().memory_limit(1 << 20).spawn().await), "memory_limit");
}

async fn unresponsive() {
    let pool: Pool = builder().unresponsive_after(Some(Duration::from_secs(1))).spawn().await.expect("spawn");
    let first = pid_of(&pool).await;
    let started = Instant::now();
    let err = run(&pool, "gil", 30).await.expect_err("killed");
    let PythonExecutionError::Unresponsive { pid, probe, after } = err else { panic!("{err:?}") };
    assert_eq!((pid, probe.as_str(), after), (first, "gil", Duration::from_secs(1)));
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(crate::common::wait_gone(first, 5).await);
    let next = pid_of(&pool).await;
    assert_ne!(next, first);
    let metrics = pool.ask(GetMetrics).await.expect("metrics");
    assert_eq!(metrics.workers[0].restart_reasons.get("unresponsive"), Some(&1));
}

async fn typed() {
    let mut config = PythonChildProcessBuilder::new(snake::PythonConfig {
        module_path: python_dir().display().to_string(),
        ..snake::PythonConfig::default()
    });
    config = config.workers(2).sync_workers(1);
    let pool = PoolTyped::pool(config).await.expect("pool");
    let metrics = pool.metrics().await.expect("metrics");
    assert_eq!(metrics.workers.len(), 2);
    // Keyed handles keep their worker: its counter counts every call of the key.
    let alice = pool.with_key("alice");
    let home = alice.whoami(()).await.expect("pid");
    let mut last = 0;
    for _ in 0..5 {
        assert_eq!(alice.whoami(()).await.expect("pid"), home);
        last = alice.count(()).await.expect("count");
    }
    assert!(last >= 5, "{last}");
    // `#[snake(retry)]`: the first worker dies, the call is answered by another.
    let marker = std::env::temp_dir().join(format!("snake-pool-typed-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let answered = pool.die_once(marker.display().to_string()).await.expect("retried");
    assert!(process_exists(answered));
    let _ = std::fs::remove_file(&marker);
    pool.reload().await.expect("reload");
    let after = pool.metrics().await.expect("metrics");
    assert_eq!(after.recycles, 2);
    assert!(after.workers.iter().all(|w| w.state == WorkerState::Warm));
}

async fn direct_cancel_and_exit() {
    let handle = PoolTyped::spawn(typed_builder()).await.expect("spawn");
    let before = direct_calls(&handle).await;
    // Dropped by a timeout: the child sees the task cancelled.
    let dropped = tokio::time::timeout(Duration::from_millis(200), handle.hang(21)).await;
    assert!(dropped.is_err(), "the call is still hanging when its future is dropped");
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = handle.cancelled(()).await.expect("cancelled");
        if !seen.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen, vec![21], "the dropped call was cancelled in the child");
    // Every call so far took the direct path.
    let sent = direct_calls(&handle).await - before;
    assert!(sent >= 2, "{sent} direct calls");

    // The child dies under a call in flight: it fails at once with the exit.
    let pid = handle.whoami(()).await.expect("pid");
    let before = direct_calls(&handle).await;
    let call = tokio::spawn({
        let handle = handle.clone();
        async move { handle.hang(22).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(direct_calls(&handle).await, before + 1, "the call went on the direct path");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) }, 0);
    let started = Instant::now();
    let result = tokio::time::timeout(PROMPTLY, call).await.expect("no hang").expect("task");
    let err = result.expect_err("the child died");
    assert!(matches!(err, PythonExecutionError::ChildExited { status: ExitStatus::Signal(9), .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    // The next call waits for the restarted worker, through the pool.
    let next = tokio::time::timeout(PROMPTLY, handle.whoami(())).await.expect("no hang").expect("restarted");
    assert_ne!(next, pid);
}

async fn direct_reload_and_recycle() {
    let handle = PoolTyped::pool(typed_builder().workers(2)).await.expect("pool");
    let old: BTreeSet<u32> = handle.metrics().await.expect("metrics").workers.iter().filter_map(|w| w.pid).collect();
    assert_eq!(old.len(), 2);
    let before = direct_calls(&handle).await;
    // Calls in flight while every worker is replaced, and calls made all along: none fails.
    let slow: Vec<_> = (0..6)
        .map(|_| {
            let handle = handle.clone();
            tokio::spawn(async move { handle.slow(150).await })
        })
        .collect();
    let steady = tokio::spawn({
        let handle = handle.clone();
        async move {
            let mut pids = Vec::new();
            for _ in 0..200 {
                pids.push(handle.whoami(()).await);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            pids
        }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    tokio::time::timeout(Duration::from_secs(30), handle.reload()).await.expect("no hang").expect("reload");
    for call in slow {
        let pid = tokio::time::timeout(PROMPTLY, call).await.expect("no hang").expect("task").expect("slow call");
        assert!(old.contains(&pid), "a call in flight finished on its old worker");
    }
    let pids = tokio::time::timeout(Duration::from_secs(30), steady).await.expect("no hang").expect("task");
    let pids: Vec<u32> = pids.into_iter().map(|pid| pid.expect("a call during the reload")).collect();
    let new: BTreeSet<u32> = handle.metrics().await.expect("metrics").workers.iter().filter_map(|w| w.pid).collect();
    assert!(new.is_disjoint(&old), "{old:?} -> {new:?}");
    assert!(new.contains(pids.last().expect("calls")), "the last calls went to the new workers");
    for pid in &old {
        assert!(crate::common::wait_gone(*pid, 10).await, "old worker {pid} drained and exited");
    }
    let sent = direct_calls(&handle).await - before;
    assert!(sent >= 150, "most calls took the direct path: {sent}");

    // Recycling by request count: the call that reaches the limit goes through the pool, which
    // replaces the worker; no call fails, and the count of served calls includes direct ones.
    let handle = PoolTyped::spawn(typed_builder().max_requests(20)).await.expect("spawn");
    let first = handle.whoami(()).await.expect("pid");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut calls = 1;
    let next = loop {
        let pid = handle.whoami(()).await.expect("a call while recycling");
        calls += 1;
        if pid != first || Instant::now() > deadline {
            break pid;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_ne!(next, first, "the worker was recycled");
    assert!(calls > 20, "the worker served its {calls} calls up to its successor");
    assert!(crate::common::wait_gone(first, 10).await);
    assert!(handle.metrics().await.expect("metrics").recycles >= 1);

    // A worker's count of served calls includes the direct ones.
    // (The first call may go through the mailbox: the actor publishes its workers once started.)
    let handle = PoolTyped::spawn(typed_builder()).await.expect("spawn");
    handle.whoami(()).await.expect("pid");
    let before = direct_calls(&handle).await;
    for _ in 0..10 {
        handle.whoami(()).await.expect("pid");
    }
    assert_eq!(direct_calls(&handle).await - before, 10);
    assert_eq!(handle.metrics().await.expect("metrics").workers[0].served, 11);
}
