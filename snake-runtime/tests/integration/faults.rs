//! Faults seen from the parent: a crashing child, a stop with calls in flight, a full window, a
//! flood of callbacks. Each case ends every request with exactly one typed outcome, in bounded
//! time.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use libtest_mimic::Trial;
use serde::{Deserialize, Serialize};
use snake::{ExitStatus, GetChildInfo, GetMetrics, PythonExecutionError};

use crate::common::{builder, handler_error, trial};
use crate::messages::{Die, FanOut, Work};

pub fn trials() -> Vec<Trial> {
    vec![
        trial("faults::crashes_are_reported_as_child_exited_to_every_call", crashes_are_child_exited),
        trial("faults::stop_gracefully_lets_calls_in_flight_finish", stop_gracefully_drains),
        trial("faults::a_full_window_does_not_block_the_mailbox", full_window_keeps_mailbox_free),
        trial("faults::a_thousand_calls_of_ten_callbacks_each_all_succeed", thousand_calls_of_ten_callbacks),
        trial("faults::a_segfault_is_child_exited_with_the_signal", segfault_is_child_exited),
        trial("faults::kill_fails_calls_in_flight_at_once_and_reaps_the_child", kill_with_calls_in_flight),
        Trial::test("faults::a_flood_of_output_keeps_the_parent_small", || {
            flood_keeps_parent_small();
            Ok(())
        }),
    ]
}

/// Crashes the whole child with SIGSEGV.
#[derive(Serialize, Deserialize)]
pub struct Segv;
impl snake::ChildMessage for Segv {
    type Reply = u32;
}
snake::register_actor!(Segv);

/// Floods stdout and stderr with this many MiB each.
#[derive(Serialize, Deserialize)]
pub struct Flood(pub u32);
impl snake::ChildMessage for Flood {
    type Reply = u32;
}
snake::register_actor!(Flood);

async fn segfault_is_child_exited() {
    let actor = builder("segfault").spawn::<Segv>().await.expect("spawn");
    let err = handler_error(actor.ask(Segv).await);
    let PythonExecutionError::ChildExited { status, .. } = &err else { panic!("{err:?}") };
    assert_eq!(*status, ExitStatus::Signal(libc::SIGSEGV), "{err}");
    // Later calls fail at once with the same error (no restarts were asked for).
    let later = handler_error(actor.ask(Segv).await);
    assert_eq!(later, err);
}

async fn kill_with_calls_in_flight() {
    let actor = builder("slow_or_fast").spawn::<Work>().await.expect("spawn");
    let pid = actor.ask(GetChildInfo).await.expect("info").pid;
    let calls: Vec<_> = (0..3u64)
        .map(|id| {
            let actor = actor.clone();
            tokio::spawn(async move { actor.ask(Work { id, slow: true, seconds: 30.0 }).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    actor.kill();
    actor.wait_for_shutdown_result().await.ok();
    for call in calls {
        let err = handler_error(call.await.expect("task"));
        assert!(matches!(err, PythonExecutionError::Cancelled | PythonExecutionError::ActorStopped), "{err:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(5), "a kill does not wait for the calls: {:?}", started.elapsed());
    assert!(!crate::common::process_exists(pid), "the child was reaped");
}

/// Set for the helper process of [`flood_keeps_parent_small`].
const FLOOD_ROLE: &str = "SNAKE_TEST_FLOODED_PARENT";

/// The flood runs in a process of its own, so that its resident memory is not the sum of every
/// test running at once.
fn flood_keeps_parent_small() {
    let output = std::process::Command::new(std::env::current_exe().expect("exe"))
        .env(FLOOD_ROLE, "1")
        .output()
        .expect("helper parent");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report = String::from_utf8_lossy(&output.stdout);
    let figures: Vec<u64> = report.split_whitespace().filter_map(|word| word.parse().ok()).collect();
    let [before, after] = figures[..] else { panic!("unexpected report {report:?}") };
    // 50 MiB went through each pipe; the parent keeps line buffers and a short stderr tail only.
    assert!(after.saturating_sub(before) < 24 * 1024, "parent RSS grew from {before} KiB to {after} KiB");
}

/// The helper process's part: floods through one child and prints its RSS before and after.
pub fn run_helper_role() -> Option<i32> {
    std::env::var_os(FLOOD_ROLE)?;
    let runtime = tokio::runtime::Runtime::new().ok()?;
    runtime.block_on(async {
        let actor = builder("flood").spawn::<Flood>().await.expect("spawn");
        assert_eq!(actor.ask(Flood(1)).await.expect("warm up"), 1);
        let before = rss_kib();
        assert_eq!(actor.ask(Flood(50)).await.expect("flood"), 50);
        let after = rss_kib();
        println!("{before} {after}");
    });
    Some(0)
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Calls in flight on a child that dies fail with `ChildExited` and its exit code, never with an
/// I/O error; restarts bring a new child for the calls after.
async fn crashes_are_child_exited() {
    const CALLS: u64 = 1500;
    let actor = builder("die_or_pid")
        .max_restarts(1000)
        .restart_backoff(Duration::from_millis(1), Duration::from_millis(10))
        .spawn::<Die>()
        .await
        .expect("spawn");
    let mut pending = FuturesUnordered::new();
    let (mut ok, mut failed, mut crashes) = (0u64, 0u64, 0u64);
    for i in 0..CALLS {
        let crash = i % 50 == 49;
        crashes += u64::from(crash);
        let actor = actor.clone();
        pending.push(async move { actor.ask(Die { code: if crash { 1 } else { -1 } }).await });
        while pending.len() >= 32 {
            match pending.next().await.expect("pending") {
                Ok(pid) => ok += u64::from(pid > 0),
                Err(err) => {
                    failed += 1;
                    match handler_error::<u32, Die>(Err(err)) {
                        PythonExecutionError::ChildExited { status: ExitStatus::Code(1), .. } => {}
                        other => panic!("a call taken down by a crash failed with {other:?}"),
                    }
                }
            }
        }
    }
    while let Some(result) = pending.next().await {
        match result {
            Ok(pid) => ok += u64::from(pid > 0),
            Err(err) => {
                failed += 1;
                let err = handler_error::<u32, Die>(Err(err));
                assert!(
                    matches!(err, PythonExecutionError::ChildExited { status: ExitStatus::Code(1), .. }),
                    "{err:?}"
                );
            }
        }
    }
    assert_eq!(ok + failed, CALLS, "every call has exactly one outcome");
    assert!(failed >= crashes, "each crashing call failed: {failed} failures for {crashes} crashes");
    assert!(ok > 0);
    let metrics = actor.ask(GetMetrics).await.expect("metrics");
    assert!(metrics.restarts >= 1 && metrics.restarts <= crashes, "{metrics:?}");
}

/// `stop_gracefully` with calls running: they finish with their replies, then the child exits.
async fn stop_gracefully_drains() {
    let actor = builder("slow_or_fast").sync_workers(4).spawn::<Work>().await.expect("spawn");
    let calls: Vec<_> = (0..3u64)
        .map(|id| {
            let actor = actor.clone();
            tokio::spawn(async move { actor.ask(Work { id, slow: true, seconds: 0.4 }).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    actor.stop_gracefully().await.expect("stop");
    for (id, call) in calls.into_iter().enumerate() {
        let reply = call.await.expect("task").expect("finished, not cancelled");
        assert_eq!(reply.id, id as u64);
    }
    actor.wait_for_shutdown_result().await.expect("clean stop");
}

/// With the in-flight window full, the actor still answers other messages at once.
async fn full_window_keeps_mailbox_free() {
    let actor = builder("slow_or_fast").max_in_flight(1).spawn::<Work>().await.expect("spawn");
    let slow = {
        let actor = actor.clone();
        tokio::spawn(async move { actor.ask(Work { id: 1, slow: true, seconds: 3.0 }).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let queued = {
        let actor = actor.clone();
        tokio::spawn(async move { actor.ask(Work { id: 2, slow: false, seconds: 0.0 }).await })
    };
    let started = Instant::now();
    let metrics = actor.ask(GetMetrics).await.expect("metrics");
    // Not a speed figure: only that the answer did not wait for the 3 s call to end.
    assert!(started.elapsed() < Duration::from_secs(2), "the mailbox was held: {:?}", started.elapsed());
    assert_eq!(metrics.in_flight, 1, "{metrics:?}");
    assert_eq!(slow.await.expect("task").expect("slow").id, 1);
    assert_eq!(queued.await.expect("task").expect("queued").id, 2);
}

/// 1,000 concurrent calls that each make ten concurrent callbacks, with the default limits:
/// callbacks beyond what the parent serves at once wait for a slot instead of failing.
async fn thousand_calls_of_ten_callbacks() {
    let service = crate::callbacks::Service::default();
    let actor = crate::callbacks::builder("callbacks", "fan_out", service).spawn::<FanOut>().await.expect("spawn");
    let mut asks: FuturesUnordered<_> = (0..1000u64)
        .map(|id| {
            let actor = actor.clone();
            async move { (id, actor.ask(FanOut { id }).await) }
        })
        .collect();
    let mut answered = 0;
    while let Some((id, reply)) = asks.next().await {
        let reply = reply.unwrap_or_else(|err| panic!("call {id} failed: {err:?}"));
        assert_eq!(reply.len(), 10);
        for (i, fanned) in reply.iter().enumerate() {
            assert_eq!(fanned.key, format!("{id}-{i}"));
            assert_eq!(fanned.answer, format!("echo:{id}-{i}"));
        }
        answered += 1;
    }
    assert_eq!(answered, 1000);
}
