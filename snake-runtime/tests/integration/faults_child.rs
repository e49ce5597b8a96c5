//! Faults inside the child that must stay one call's error, or end the child with a code the
//! parent's restart policy acts on: `SystemExit`/`KeyboardInterrupt` in handlers, an asyncio loop
//! that stops, errors too large for a frame, sync workers stuck in a loop or in C.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::future::join_all;
use libtest_mimic::Trial;
use serde::{Deserialize, Serialize};
use snake::{ChildMessage, ExitStatus, GetChildInfo, PythonChildProcessBuilder, PythonExecutionError, Streaming};

use crate::common::{config, handler_error, trial};

/// Generous bound on how long an answer may take; a hang fails the test.
const PROMPTLY: Duration = Duration::from_secs(5);

/// The child's exit code when too many sync workers are lost (`snake-runtime/src/child/mod.rs`).
const WORKERS_LOST: i32 = 70;

/// The child's exit code when its asyncio loop ends without a shutdown.
const LOOP_ENDED: i32 = 71;

/// One fault for the handlers in `tests/python/faults.py`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub kind: String,
    pub arg: String,
}
impl ChildMessage for Fault {
    type Reply = String;
}
snake::register_actor!(Fault);

fn fault(kind: &str, arg: impl ToString) -> Fault {
    Fault { kind: kind.into(), arg: arg.to_string() }
}

fn builder(function: &str) -> PythonChildProcessBuilder {
    PythonChildProcessBuilder::new(config("faults", function))
}

pub fn trials() -> Vec<Trial> {
    vec![
        trial(
            "faults_child::sys_exit_and_keyboard_interrupt_in_async_handlers_are_the_calls_error",
            async_base_exceptions,
        ),
        trial("faults_child::sys_exit_in_async_generators_ends_only_the_stream", || {
            generator_base_exceptions("raise_agen")
        }),
        trial("faults_child::sys_exit_in_sync_generators_ends_only_the_stream", || {
            generator_base_exceptions("raise_gen")
        }),
        trial("faults_child::sys_exit_and_keyboard_interrupt_in_sync_handlers_keep_the_worker", sync_base_exceptions),
        trial("faults_child::a_failing_loop_command_keeps_the_rest_of_its_batch", failing_command_keeps_batch),
        trial("faults_child::the_child_exits_when_its_asyncio_loop_ends", loop_end_exits_the_child),
        trial("faults_child::oversized_sync_exception_is_truncated_to_fit_a_frame", || oversized("raise_sync", "big")),
        trial("faults_child::oversized_async_exception_is_truncated_to_fit_a_frame", || {
            oversized("raise_async", "big")
        }),
        trial("faults_child::truncation_keeps_utf8_characters_whole", || oversized("raise_sync", "big-utf8")),
        trial("faults_child::oversized_import_error_is_truncated_to_fit_the_welcome", oversized_import_error),
        trial(
            "faults_child::spinning_sync_handlers_are_interrupted_after_their_timeout",
            spinning_handlers_interrupted,
        ),
        trial("faults_child::dropping_a_stream_interrupts_its_spinning_generator", spinning_generator_interrupted),
        trial("faults_child::workers_blocked_in_c_are_replaced_then_the_child_restarts", blocked_workers_replaced),
        trial("faults_child::too_many_lost_workers_end_the_child_with_code_70", lost_workers_exit_code),
    ]
}

fn assert_exception(err: &PythonExecutionError, type_name: &str, message: &str) {
    let PythonExecutionError::Exception(exception) = err else { panic!("expected an exception, got {err:?}") };
    assert_eq!(exception.type_name, type_name, "{err:?}");
    assert_eq!(exception.message, message, "{err:?}");
}

async fn async_base_exceptions() {
    let actor = builder("raise_async").spawn::<Fault>().await.expect("spawn");
    for round in 0..2 {
        let err = handler_error(tokio::time::timeout(PROMPTLY, actor.ask(fault("exit", 3))).await.expect("no hang"));
        assert_exception(&err, "SystemExit", "3");
        let err = handler_error(
            tokio::time::timeout(PROMPTLY, actor.ask(fault("interrupt", "stop"))).await.expect("no hang"),
        );
        assert_exception(&err, "KeyboardInterrupt", "stop");
        // The loop keeps running: a later call is answered.
        let ok = tokio::time::timeout(PROMPTLY, actor.ask(fault("ok", round))).await.expect("no hang");
        assert_eq!(ok.expect("a later call succeeds"), format!("ok:{round}"));
    }
}

async fn generator_base_exceptions(function: &'static str) {
    let actor = builder(function).sync_workers(1).spawn::<Fault>().await.expect("spawn");
    for (kind, arg, type_name) in [("exit", "4", "SystemExit"), ("interrupt", "halt", "KeyboardInterrupt")] {
        let mut stream = actor.ask(Streaming(fault(kind, arg))).await.expect("open");
        let first = tokio::time::timeout(PROMPTLY, stream.next()).await.expect("no hang");
        assert_eq!(first.expect("an item").expect("the first item"), "first");
        let second = tokio::time::timeout(PROMPTLY, stream.next()).await.expect("no hang");
        assert_exception(&second.expect("the error").expect_err("an error"), type_name, arg);
        let end = tokio::time::timeout(PROMPTLY, stream.next()).await.expect("no hang");
        assert!(end.is_none(), "the error ends the stream: {end:?}");
    }
    let mut stream = actor.ask(Streaming(fault("ok", "later"))).await.expect("open");
    let mut items = Vec::new();
    while let Some(item) = tokio::time::timeout(PROMPTLY, stream.next()).await.expect("no hang") {
        items.push(item.expect("item"));
    }
    assert_eq!(items, ["first", "ok:later"]);
}

async fn sync_base_exceptions() {
    // One worker: if it died with the exception, the later calls would never be answered.
    let actor = builder("raise_sync").sync_workers(1).spawn::<Fault>().await.expect("spawn");
    for round in 0..2 {
        let err = handler_error(tokio::time::timeout(PROMPTLY, actor.ask(fault("exit", 9))).await.expect("no hang"));
        assert_exception(&err, "SystemExit", "9");
        let err =
            handler_error(tokio::time::timeout(PROMPTLY, actor.ask(fault("interrupt", "now"))).await.expect("no hang"));
        assert_exception(&err, "KeyboardInterrupt", "now");
        let ok = tokio::time::timeout(PROMPTLY, actor.ask(fault("ok", round))).await.expect("no hang");
        assert_eq!(ok.expect("a later call succeeds"), format!("ok:{round}"));
    }
}

async fn failing_command_keeps_batch() {
    let actor = builder("loop_faults").spawn::<Fault>().await.expect("spawn");
    assert_eq!(actor.ask(fault("install", "")).await.expect("install"), "installed");
    // A task whose `cancel()` raises, abandoned by its caller: its cancel command fails.
    let stubborn = {
        let actor = actor.clone();
        tokio::spawn(async move { actor.ask(fault("stubborn", "")).reply_timeout(Duration::from_millis(300)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Blocks the loop thread, so that the cancel and the next call are drained in one batch.
    let block = {
        let actor = actor.clone();
        tokio::spawn(async move { actor.ask(fault("block", 1.0)).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let result = stubborn.await.expect("task");
    assert!(matches!(result, Err(kameo::error::SendError::Timeout(_))), "{result:?}");
    let ok = tokio::time::timeout(PROMPTLY, actor.ask(fault("ok", "same batch"))).await.expect("no hang");
    assert_eq!(ok.expect("the call queued behind the failing cancel runs"), "ok:same batch");
    assert_eq!(block.await.expect("task").expect("block"), "unblocked");
    let ok = tokio::time::timeout(PROMPTLY, actor.ask(fault("ok", "later"))).await.expect("no hang");
    assert_eq!(ok.expect("later"), "ok:later");
}

async fn loop_end_exits_the_child() {
    let actor = builder("loop_faults").max_restarts(1).spawn::<Fault>().await.expect("spawn");
    let first = actor.ask(GetChildInfo).await.expect("info").pid;
    let err = handler_error(tokio::time::timeout(PROMPTLY, actor.ask(fault("stop", ""))).await.expect("no hang"));
    let PythonExecutionError::ChildExited { status: ExitStatus::Code(LOOP_ENDED), stderr_tail } = &err else {
        panic!("expected exit code {LOOP_ENDED}, got {err:?}");
    };
    assert!(stderr_tail.iter().any(|line| line.contains("asyncio loop")), "{stderr_tail:?}");
    // The restart policy brings a working child back.
    let ok = tokio::time::timeout(PROMPTLY, actor.ask(fault("ok", "again"))).await.expect("no hang");
    assert_eq!(ok.expect("a restarted child answers"), "ok:again");
    assert_ne!(actor.ask(GetChildInfo).await.expect("info").pid, first, "a new process");
}

async fn oversized(function: &'static str, kind: &'static str) {
    const LIMIT: usize = 64 * 1024;
    const CHARS: usize = 1_000_000;
    let (unit, unit_len) = if kind == "big" { ("x", 1) } else { ("é", 2) };
    let actor = builder(function).max_frame_size(LIMIT).spawn::<Fault>().await.expect("spawn");
    let err = handler_error(tokio::time::timeout(PROMPTLY, actor.ask(fault(kind, CHARS))).await.expect("no hang"));
    let PythonExecutionError::Exception(exception) = &err else { panic!("expected an exception, got {err:?}") };
    assert_eq!(exception.type_name, "ValueError");
    assert!(exception.message.len() < LIMIT, "{}", exception.message.len());
    // What is left is a prefix of the message followed by a note of exactly what was cut.
    let kept = exception.message.trim_start_matches(unit);
    let cut = CHARS * unit_len - (exception.message.len() - kept.len());
    assert_eq!(kept, format!("… [truncated {cut} bytes]"));
    assert!(exception.message.len() > LIMIT / 8, "the cut leaves a useful part: {}", exception.message.len());
    assert!(exception.traceback.len() < LIMIT, "{}", exception.traceback.len());
    assert!(exception.traceback.starts_with("Traceback (most recent call last):"), "{}", &exception.traceback[..200]);
    assert!(exception.traceback.contains(" bytes] …"), "the traceback says it was cut");
    assert!(exception.traceback.trim_end().ends_with(unit), "the traceback keeps its end");
    let ok = tokio::time::timeout(PROMPTLY, actor.ask(fault("ok", "after"))).await.expect("no hang");
    assert_eq!(ok.expect("a later call works"), "ok:after");
}

async fn spinning_handlers_interrupted() {
    const TIMEOUT: Duration = Duration::from_millis(200);
    let actor = builder("busy").call_timeout(TIMEOUT).spawn::<Fault>().await.expect("spawn");
    let pid = actor.ask(GetChildInfo).await.expect("info").pid;
    // As many pure-Python loops as there are workers (4 by default).
    let spins = join_all((0..4).map(|_| async { actor.ask(fault("spin", "")).await })).await;
    for result in spins {
        assert_eq!(handler_error(result), PythonExecutionError::CallTimedOut { timeout: TIMEOUT });
    }
    // Each worker was interrupted: a normal call is answered again, by the same child.
    let started = Instant::now();
    loop {
        match actor.ask(fault("ok", "free")).await {
            Ok(reply) => {
                assert_eq!(reply, "ok:free");
                break;
            }
            Err(err) => {
                let err = handler_error::<String, _>(Err(err));
                assert_eq!(err, PythonExecutionError::CallTimedOut { timeout: TIMEOUT });
                assert!(started.elapsed() < Duration::from_secs(3), "the spinning workers were never freed");
            }
        }
    }
    assert_eq!(actor.ask(GetChildInfo).await.expect("info").pid, pid);
    // A spin still queued when its call timed out never started (on a busy machine); each one
    // that started sees the cancellation, well before its worker would be given up on.
    let started = Instant::now();
    loop {
        let seen = actor.ask(fault("interrupted", "")).await.expect("report");
        let (spun, interrupted) = seen.split_once(':').expect("count:names");
        let spun: usize = spun.parse().expect("a count");
        assert!((1..=4).contains(&spun), "{seen}");
        let interrupted: Vec<&str> = interrupted.split(',').filter(|name| !name.is_empty()).collect();
        assert!(interrupted.iter().all(|name| *name == "snake.Cancelled"), "{seen}");
        if interrupted.len() == spun {
            break;
        }
        assert!(started.elapsed() < Duration::from_millis(800), "not every loop was interrupted: {seen}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ok = join_all((0..8).map(|i| {
        let actor = &actor;
        async move { actor.ask(fault("ok", i)).await }
    }))
    .await;
    assert_eq!(
        ok.into_iter().map(|r| r.expect("ok")).collect::<Vec<_>>(),
        (0..8).map(|i| format!("ok:{i}")).collect::<Vec<_>>()
    );
}

async fn spinning_generator_interrupted() {
    // One worker, which the generator holds until it is interrupted.
    let actor = builder("raise_gen").sync_workers(1).spawn::<Fault>().await.expect("spawn");
    let mut stream = actor.ask(Streaming(fault("spin", ""))).await.expect("open");
    let first = tokio::time::timeout(PROMPTLY, stream.next()).await.expect("no hang");
    assert_eq!(first.expect("an item").expect("the first item"), "first");
    drop(stream);
    let mut stream = actor.ask(Streaming(fault("ok", "next"))).await.expect("open");
    let mut items = Vec::new();
    while let Some(item) = tokio::time::timeout(PROMPTLY, stream.next()).await.expect("the worker is free again") {
        items.push(item.expect("item"));
    }
    assert_eq!(items, ["first", "ok:next"]);
}

/// Two `pair` calls at once, which succeed only when two workers are free to run them together.
async fn pair(actor: &kameo::actor::ActorRef<snake::PythonActor<Fault>>) -> bool {
    let (a, b) = tokio::join!(actor.ask(fault("pair", 0.15)), actor.ask(fault("pair", 0.15)));
    matches!((a.as_deref(), b.as_deref()), (Ok("paired"), Ok("paired")))
}

async fn pid(actor: &kameo::actor::ActorRef<snake::PythonActor<Fault>>) -> Result<u32, PythonExecutionError> {
    match actor.ask(fault("pid", "")).await {
        Ok(pid) => Ok(pid.parse().expect("a pid")),
        Err(err) => Err(handler_error::<String, _>(Err(err))),
    }
}

async fn blocked_workers_replaced() {
    const TIMEOUT: Duration = Duration::from_millis(200);
    let actor =
        builder("busy").sync_workers(2).call_timeout(TIMEOUT).max_restarts(1).spawn::<Fault>().await.expect("spawn");
    let first = pid(&actor).await.expect("pid");
    assert!(pair(&actor).await, "two workers to start with");
    // Blocked in C: the interrupt waits for `sleep` to return, so the worker is lost.
    let err = handler_error(actor.ask(fault("sleep", 3600)).await);
    assert_eq!(err, PythonExecutionError::CallTimedOut { timeout: TIMEOUT });
    // One worker is left at once; two again once the lost one is replaced.
    assert_eq!(pid(&actor).await, Ok(first));
    let started = Instant::now();
    while !pair(&actor).await {
        assert!(started.elapsed() < PROMPTLY, "the lost worker was never replaced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(pid(&actor).await, Ok(first), "the same child");
    // The second lost worker (as many as `sync_workers`) ends the child; the restart replaces it.
    let err = handler_error(actor.ask(fault("sleep", 3600)).await);
    assert_eq!(err, PythonExecutionError::CallTimedOut { timeout: TIMEOUT });
    let started = Instant::now();
    loop {
        match pid(&actor).await {
            Ok(pid) if pid == first => {}
            Ok(_) => break,
            Err(err) => assert!(
                matches!(err, PythonExecutionError::ChildExited { status: ExitStatus::Code(WORKERS_LOST), .. }),
                "{err:?}"
            ),
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the child never exited");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(actor.ask(snake::GetMetrics).await.expect("metrics").restarts, 1);
    assert!(pair(&actor).await, "the new child has its two workers");
}

async fn lost_workers_exit_code() {
    // The blocked call is abandoned by its caller rather than timed out, so that the next call
    // can stay in flight until the child exits. (A call timeout is still set, far away: the
    // parent looks for abandoned calls only while one is set or a frame has arrived since the
    // call was sent.)
    let actor = builder("busy")
        .sync_workers(1)
        .call_timeout(Duration::from_secs(60))
        .max_restarts(0)
        .spawn::<Fault>()
        .await
        .expect("spawn");
    let abandoned = actor.ask(fault("sleep", 3600)).reply_timeout(Duration::from_millis(200)).await;
    assert!(matches!(abandoned, Err(kameo::error::SendError::Timeout(_))), "{abandoned:?}");
    let started = Instant::now();
    let err = handler_error(
        tokio::time::timeout(Duration::from_secs(10), actor.ask(fault("ok", ""))).await.expect("no hang"),
    );
    let PythonExecutionError::ChildExited { status: ExitStatus::Code(WORKERS_LOST), stderr_tail } = &err else {
        panic!("expected exit code {WORKERS_LOST}, got {err:?}");
    };
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(stderr_tail.iter().any(|line| line.contains("sync worker")), "{stderr_tail:?}");
    let later = handler_error(actor.ask(fault("ok", "")).await);
    assert!(
        matches!(later, PythonExecutionError::ChildExited { status: ExitStatus::Code(WORKERS_LOST), .. }),
        "{later:?}"
    );
}

async fn oversized_import_error() {
    const LIMIT: usize = 64 * 1024;
    let err = tokio::time::timeout(
        PROMPTLY,
        PythonChildProcessBuilder::new(config("huge_import_error", "f")).max_frame_size(LIMIT).spawn::<Fault>(),
    )
    .await
    .expect("no hang")
    .expect_err("the import fails");
    let PythonExecutionError::ImportFailed { module, exception } = &err else { panic!("{err:?}") };
    assert_eq!(module, "huge_import_error");
    assert_eq!(exception.type_name, "RuntimeError");
    assert!(exception.message.len() < LIMIT / 2, "{}", exception.message.len());
    assert!(exception.message.ends_with(" bytes]"), "{}", &exception.message[exception.message.len() - 40..]);
}
