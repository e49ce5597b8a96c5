//! Health probes, warmup and teardown through real Python children (`tests/python/health.py`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use libtest_mimic::Trial;
use serde::{Deserialize, Serialize};
use snake::{ExitStatus, GetChildInfo, GetMetrics, PythonActor, PythonChildProcessBuilder, PythonExecutionError};

use crate::common::{config, pid_exists, trial};

/// One request for the handlers in `health.py`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthOp {
    pub op: String,
    pub seconds: u32,
}
impl snake::ChildMessage for HealthOp {
    type Reply = String;
}
snake::register_actor!(HealthOp);

fn op(op: &str, seconds: u32) -> HealthOp {
    HealthOp { op: op.into(), seconds }
}

pub fn trials() -> Vec<Trial> {
    vec![
        trial("health::a_heartbeat_is_answered_while_a_handler_holds_the_gil", probes_while_the_gil_is_held),
        trial("health::warmup_runs_once_before_the_first_call", warmup_runs_once),
        trial("health::an_async_warmup_runs_on_the_loop", async_warmup_runs_on_the_loop),
        trial("health::a_raising_warmup_fails_the_spawn", raising_warmup_fails_the_spawn),
        trial("health::a_warmup_past_its_timeout_kills_the_child", slow_warmup_times_out),
        trial("health::missing_or_uncallable_lifecycle_functions_fail_the_spawn", missing_lifecycle_functions),
        trial("health::teardown_runs_after_calls_in_flight_on_a_graceful_stop", teardown_runs_on_stop),
        trial("health::an_async_teardown_runs_on_the_loop", async_teardown_runs_on_the_loop),
        trial("health::a_raising_teardown_still_exits_zero", raising_teardown_exits_zero),
    ]
}

/// A file of this test's own for the child to write to (`SNAKE_TEST_MARKER`), removed first.
fn marker(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("snake-health-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

fn builder(function: &str, marker: Option<&PathBuf>) -> PythonChildProcessBuilder {
    let mut config = config("health", function);
    if let Some(marker) = marker {
        config.env_vars.push(("SNAKE_TEST_MARKER".into(), marker.display().to_string()));
    }
    PythonChildProcessBuilder::new(config)
}

async fn spawn_error(builder: PythonChildProcessBuilder) -> PythonExecutionError {
    match builder.spawn::<HealthOp>().await {
        Ok(_) => panic!("the spawn was expected to fail"),
        Err(err) => err,
    }
}

async fn probes_while_the_gil_is_held() {
    let actor = builder("handle", None).spawn::<HealthOp>().await.expect("spawn");
    let pid = actor.ask(GetChildInfo).await.expect("info").pid;
    let conn = connection_of(&actor, pid).await;
    for gil in [false, true] {
        let rtt = tokio::time::timeout(Duration::from_secs(1), conn.probe(gil)).await.expect("answered").expect("ok");
        assert!(rtt < Duration::from_secs(1), "{rtt:?}");
    }
    let holding = {
        let actor = actor.clone();
        tokio::spawn(async move { actor.ask(op("hold_gil", 3)).await })
    };
    // Wait until the handler holds the GIL: a GIL probe stops being answered.
    let deadline = Instant::now() + Duration::from_secs(2);
    while tokio::time::timeout(Duration::from_millis(100), conn.probe(true)).await.is_ok() {
        assert!(Instant::now() < deadline, "the handler never took the GIL");
    }
    let held_since = Instant::now();
    let heartbeat = tokio::time::timeout(Duration::from_millis(250), conn.probe(false)).await;
    let rtt = heartbeat.expect("a heartbeat needs no GIL").expect("ok");
    assert!(rtt < Duration::from_millis(250), "{rtt:?}");
    let started = Instant::now();
    let gil = tokio::time::timeout(Duration::from_secs(1), conn.probe(true)).await;
    assert!(gil.is_err(), "a GIL probe was answered while the GIL was held: {gil:?}");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(held_since.elapsed() < Duration::from_secs(3), "the handler still held the GIL throughout");
    assert_eq!(holding.await.expect("task").expect("reply"), "warmed 0 on ");
    let rtt =
        tokio::time::timeout(Duration::from_secs(1), conn.probe(true)).await.expect("answered again").expect("ok");
    assert!(rtt < Duration::from_secs(1), "{rtt:?}");
    assert_eq!(conn.outstanding_probes(), 0);
}

async fn warmup_runs_once() {
    // A sync warmup for an actor whose handler is async: the child starts a worker for it.
    let actor =
        builder("handle_async", None).warmup("warm", Duration::from_secs(5)).spawn::<HealthOp>().await.expect("spawn");
    for _ in 0..3 {
        let reply = actor.ask(op("warmed", 0)).await.expect("reply");
        // Thread names as the kernel keeps them: cut to 15 bytes. A sync job runs on a worker,
        // or on the reader thread that read it when the pool was idle.
        assert!(["warmed 1 on snake-py-worker", "warmed 1 on snake-py-reader"].contains(&reply.as_str()), "{reply}");
    }
    // The warmup is part of the start: the metrics count the three calls made, not it.
    let metrics = actor.ask(GetMetrics).await.expect("metrics");
    assert_eq!((metrics.calls, metrics.ok, metrics.in_flight), (3, 3, 0), "{metrics:?}");
}

async fn async_warmup_runs_on_the_loop() {
    // An async warmup for an actor whose handler is sync: the child starts its loop for it.
    let actor =
        builder("handle", None).warmup("warm_async", Duration::from_secs(5)).spawn::<HealthOp>().await.expect("spawn");
    assert_eq!(actor.ask(op("warmed", 0)).await.expect("reply"), "warmed 1 on snake-asyncio");
}

async fn raising_warmup_fails_the_spawn() {
    let err = spawn_error(builder("handle", None).warmup("warm_raises", Duration::from_secs(5))).await;
    let PythonExecutionError::WarmupFailed { function, exception } = &err else { panic!("{err:?}") };
    assert_eq!(function, "warm_raises");
    assert_eq!(exception.type_name, "FileNotFoundError");
    assert_eq!(exception.message, "no model file at /models/big.bin");
    assert!(exception.traceback.contains("in warm_raises"), "{}", exception.traceback);
}

async fn slow_warmup_times_out() {
    let marker = marker("slow-warmup");
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let err = spawn_error(builder("handle", Some(&marker)).warmup("warm_slow", timeout)).await;
    assert_eq!(err, PythonExecutionError::WarmupTimedOut { function: "warm_slow".into(), timeout });
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    let pid: u32 = std::fs::read_to_string(&marker).expect("warm_slow wrote its pid").parse().expect("a pid");
    assert!(!pid_exists(pid), "the child {pid} was killed and reaped");
    let _ = std::fs::remove_file(&marker);
}

async fn missing_lifecycle_functions() {
    let err = spawn_error(builder("handle", None).warmup("no_such_warmup", Duration::from_secs(5))).await;
    assert_eq!(
        err,
        PythonExecutionError::FunctionNotFound {
            module: "health".into(),
            function: "no_such_warmup".into(),
            suggestion: None
        }
    );
    let err = spawn_error(builder("handle", None).teardown("no_such_teardown")).await;
    assert_eq!(
        err,
        PythonExecutionError::FunctionNotFound {
            module: "health".into(),
            function: "no_such_teardown".into(),
            suggestion: None
        }
    );
    let err = spawn_error(builder("handle", None).warmup("not_callable", Duration::from_secs(5))).await;
    assert_eq!(
        err,
        PythonExecutionError::NotCallable {
            module: "health".into(),
            function: "not_callable".into(),
            type_name: "int".into()
        }
    );
}

/// Stops `actor` gracefully; returns the child's exit status and how long the stop took.
async fn stop(actor: kameo::actor::ActorRef<PythonActor<HealthOp>>) -> (ExitStatus, Duration) {
    let pid = actor.ask(GetChildInfo).await.expect("info").pid;
    let conn = connection_of(&actor, pid).await;
    let started = Instant::now();
    actor.stop_gracefully().await.expect("stop");
    actor.wait_for_shutdown_result().await.expect("clean stop");
    let status = tokio::time::timeout(Duration::from_secs(5), conn.wait_exit()).await.expect("reaped");
    (status, started.elapsed())
}

async fn teardown_runs_on_stop() {
    let marker = marker("teardown");
    let actor = builder("handle", Some(&marker)).teardown("teardown").spawn::<HealthOp>().await.expect("spawn");
    let in_flight = {
        let actor = actor.clone();
        tokio::spawn(async move { actor.ask(op("sleep", 1)).await })
    };
    // The call is in flight once the child has it; stop while it runs.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !matches!(actor.ask(snake::GetMetrics).await.map(|m| m.in_flight), Ok(n) if n > 0) {
        assert!(Instant::now() < deadline, "the call never went out");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(!marker.exists(), "no teardown before the stop");
    let (status, _) = stop(actor).await;
    assert!(in_flight.await.expect("task").is_ok(), "the call in flight finished");
    assert_eq!(status, ExitStatus::Code(0));
    assert_eq!(std::fs::read_to_string(&marker).expect("teardown wrote the marker"), "done 1 on main");
    let _ = std::fs::remove_file(&marker);
}

async fn async_teardown_runs_on_the_loop() {
    let marker = marker("async-teardown");
    let actor = builder("handle", Some(&marker)).teardown("teardown_async").spawn::<HealthOp>().await.expect("spawn");
    actor.ask(op("warmed", 0)).await.expect("reply");
    let (status, _) = stop(actor).await;
    assert_eq!(status, ExitStatus::Code(0));
    assert_eq!(std::fs::read_to_string(&marker).expect("teardown wrote the marker"), "async done 1 on snake-asyncio");
    let _ = std::fs::remove_file(&marker);
}

async fn raising_teardown_exits_zero() {
    let marker = marker("raising-teardown");
    let actor = builder("handle", Some(&marker))
        .teardown("teardown_raises")
        .shutdown_grace(Duration::from_secs(3))
        .spawn::<HealthOp>()
        .await
        .expect("spawn");
    actor.ask(op("warmed", 0)).await.expect("reply");
    let (status, took) = stop(actor).await;
    assert_eq!(status, ExitStatus::Code(0), "exited by itself, not killed after the grace");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(std::fs::read_to_string(&marker).expect("teardown ran"), "raising after 1");
    let _ = std::fs::remove_file(&marker);
}

/// The engine's connection to `actor`'s child, which has process id `pid`.
async fn connection_of(
    actor: &kameo::actor::ActorRef<PythonActor<HealthOp>>,
    pid: u32,
) -> std::sync::Arc<snake_ipc::Connection<PythonExecutionError>> {
    let mut connections = actor.ask(snake::__private::WorkerConnections).await.expect("connections");
    assert_eq!(connections.len(), 1);
    let connection = connections.remove(0);
    assert_eq!(connection.pid(), pid);
    connection
}
