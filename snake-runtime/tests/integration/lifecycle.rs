//! The child's life: crashes, kills, cancellation, shutdown, parent death, a corrupt channel.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use libtest_mimic::Trial;
use snake::{ExitStatus, GetChildInfo, ProtocolError, PythonExecutionError};

use crate::common::{builder, handler_error, pid_exists, trial, wait_gone};
use crate::messages::*;

/// Generous bound on how long a failure may take to reach callers; a hang fails the test.
const PROMPTLY: Duration = Duration::from_secs(5);

pub fn trials() -> Vec<Trial> {
    vec![
        trial("lifecycle::child_exit_mid_call_fails_in_flight_and_later_calls", child_exit_mid_call),
        trial("lifecycle::sigkill_mid_call_fails_in_flight_calls", sigkill_mid_call),
        trial("lifecycle::dropped_ask_cancels_the_async_task", dropped_ask_cancels_task),
        trial("lifecycle::call_timeout_fails_the_call_and_cancels_it", call_timeout_cancels),
        trial("lifecycle::stopping_the_actor_shuts_down_and_reaps_the_child", stop_reaps_child),
        trial("lifecycle::dropping_the_last_reference_shuts_down_the_child", drop_shuts_down_child),
        trial("lifecycle::corrupt_frame_closes_the_channel", corrupt_frame_closes_channel),
        trial("lifecycle::a_dead_child_is_restarted_while_restarts_are_left", restarts),
        Trial::test("lifecycle::child_exits_when_its_parent_dies", || {
            parent_death_kills_child();
            Ok(())
        }),
    ]
}

async fn child_exit_mid_call() {
    let actor = builder("exit_now").sync_workers(1).max_restarts(0).spawn::<Exit>().await.expect("spawn");
    let mut calls: FuturesUnordered<_> = (0..5)
        .map(|_| {
            let actor = actor.clone();
            async move { actor.ask(Exit { code: 7, delay: 0.3 }).await }
        })
        .collect();
    let mut failed = 0;
    while let Some(result) = tokio::time::timeout(PROMPTLY, calls.next()).await.expect("no hang") {
        let err = handler_error(result);
        assert!(matches!(err, PythonExecutionError::ChildExited { status: ExitStatus::Code(7), .. }), "{err:?}");
        failed += 1;
    }
    assert_eq!(failed, 5);
    let later = tokio::time::timeout(PROMPTLY, actor.ask(Exit { code: 0, delay: 0.0 })).await.expect("no hang");
    assert!(matches!(handler_error(later), PythonExecutionError::ChildExited { status: ExitStatus::Code(7), .. }));
}

async fn sigkill_mid_call() {
    let actor = builder("hang").spawn::<Hang>().await.expect("spawn");
    let pid = actor.ask(GetChildInfo).await.expect("info").pid;
    let calls: Vec<_> = (0..20)
        .map(|id| {
            let actor = actor.clone();
            tokio::spawn(async move { actor.ask(Hang { id, report: false }).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) }, 0);
    for call in calls {
        let result = tokio::time::timeout(PROMPTLY, call).await.expect("no hang").expect("task");
        let err = handler_error(result);
        assert!(matches!(err, PythonExecutionError::ChildExited { status: ExitStatus::Signal(9), .. }), "{err:?}");
    }
}

async fn dropped_ask_cancels_task() {
    let actor = builder("hang").spawn::<Hang>().await.expect("spawn");
    let result = actor.ask(Hang { id: 11, report: false }).reply_timeout(Duration::from_millis(200)).await;
    assert!(matches!(result, Err(kameo::error::SendError::Timeout(_))), "{result:?}");
    let dropped = tokio::time::timeout(Duration::from_millis(100), actor.ask(Hang { id: 12, report: false })).await;
    assert!(dropped.is_err(), "the call is still hanging when its future is dropped");
    let mut cancelled = Vec::new();
    for _ in 0..100 {
        cancelled = actor.ask(Hang { id: 0, report: true }).await.expect("report");
        if cancelled.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cancelled.sort_unstable();
    assert_eq!(cancelled, vec![11, 12], "both abandoned tasks saw CancelledError");
}

async fn call_timeout_cancels() {
    let actor = builder("hang").call_timeout(Duration::from_millis(300)).spawn::<Hang>().await.expect("spawn");
    let err =
        handler_error(tokio::time::timeout(PROMPTLY, actor.ask(Hang { id: 5, report: false })).await.expect("no hang"));
    assert_eq!(err, PythonExecutionError::CallTimedOut { timeout: Duration::from_millis(300) });
    let mut cancelled = Vec::new();
    for _ in 0..100 {
        cancelled = actor.ask(Hang { id: 0, report: true }).await.expect("report");
        if !cancelled.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(cancelled, vec![5]);
}

async fn stop_reaps_child() {
    let actor = builder("echo").spawn::<Text>().await.expect("spawn");
    let pid = actor.ask(GetChildInfo).await.expect("info").pid;
    assert!(pid_exists(pid));
    actor.stop_gracefully().await.expect("stop");
    // `wait_for_shutdown_result` returns once `on_stop` (which shuts the child down) has run.
    actor.wait_for_shutdown_result().await.expect("clean stop");
    assert!(!pid_exists(pid), "child {pid} exited and was reaped (no zombie left)");
}

async fn drop_shuts_down_child() {
    let actor = builder("echo").spawn::<Text>().await.expect("spawn");
    let pid = actor.ask(GetChildInfo).await.expect("info").pid;
    drop(actor);
    assert!(wait_gone(pid, 10).await, "child {pid} is gone after the last reference was dropped");
}

async fn corrupt_frame_closes_channel() {
    let actor = builder("corrupt").spawn::<Corrupt>().await.expect("spawn");
    let pid = actor.ask(GetChildInfo).await.expect("info").pid;
    let err = handler_error(tokio::time::timeout(PROMPTLY, actor.ask(Corrupt)).await.expect("no hang"));
    assert!(
        matches!(err, PythonExecutionError::Protocol(ProtocolError::FrameTooLarge { size: 0xffff_ffff, .. })),
        "{err:?}"
    );
    let later = handler_error(actor.ask(Corrupt).await);
    assert_eq!(later, err, "later calls fail with the same error at once");
    assert!(wait_gone(pid, 10).await, "the child of a corrupt channel is killed");
}

const ROLE: &str = "SNAKE_TEST_ROLE";

/// When this binary is started with `SNAKE_TEST_ROLE=orphaning-parent`, it spawns a child,
/// prints the child's pid and waits to be killed.
pub fn run_helper_role() -> Option<i32> {
    if std::env::var(ROLE).ok()? != "orphaning-parent" {
        return None;
    }
    let runtime = tokio::runtime::Runtime::new().ok()?;
    runtime.block_on(async {
        let actor = builder("hang").spawn::<Hang>().await.expect("spawn");
        let pid = actor.ask(GetChildInfo).await.expect("info").pid;
        println!("{pid}");
        tokio::time::sleep(Duration::from_secs(120)).await;
    });
    Some(0)
}

fn parent_death_kills_child() {
    let mut parent = std::process::Command::new(std::env::current_exe().expect("exe"))
        .env(ROLE, "orphaning-parent")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("helper parent");
    let mut line = String::new();
    BufReader::new(parent.stdout.take().expect("stdout")).read_line(&mut line).expect("pid line");
    let child: u32 = line.trim().parse().expect("pid");
    assert!(crate::common::process_exists(child));
    parent.kill().expect("kill parent");
    parent.wait().expect("reap parent");
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while crate::common::process_exists(child) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!crate::common::process_exists(child), "child {child} died with its parent");
}

async fn restarts() {
    let actor = builder("die_or_pid").max_restarts(1).spawn::<Die>().await.expect("spawn");
    let first = actor.ask(Die { code: -1 }).await.expect("pid");
    let err = handler_error(actor.ask(Die { code: 3 }).await);
    assert!(matches!(err, PythonExecutionError::ChildExited { status: ExitStatus::Code(3), .. }), "{err:?}");
    // The next call waits for the new child (the restart's backoff is 25-50 ms).
    let second = actor.ask(Die { code: -1 }).await.expect("a restarted child answers");
    assert_ne!(first, second, "a new process");
    let metrics = actor.ask(snake::GetMetrics).await.expect("metrics");
    assert_eq!(metrics.restarts, 1);
    assert!(!crate::common::process_exists(first), "the dead child was reaped");
    // The one restart is used up: the next death is final, and later calls say so, naming it.
    let err = handler_error(actor.ask(Die { code: 4 }).await);
    assert!(matches!(err, PythonExecutionError::ChildExited { status: ExitStatus::Code(4), .. }), "{err:?}");
    let err = handler_error(actor.ask(Die { code: -1 }).await);
    let PythonExecutionError::RestartLimitReached { restarts: 1, last_error, .. } = err else { panic!("{err:?}") };
    assert!(
        matches!(*last_error, PythonExecutionError::ChildExited { status: ExitStatus::Code(4), .. }),
        "{last_error:?}"
    );
}
