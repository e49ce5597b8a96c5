//! The trials: each spawns the test child and asserts what the engine reports.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_core::Stream;
use libtest_mimic::{Failed, Trial};
use serde::Serialize;
use serde::de::DeserializeOwned;
use snake_ipc::{
    CallbackDispatch, CallbackFuture, Connection, ExitStatus, Hooks, IpcError, Limits, LogRecord, NoHooks, ProcessSpec,
    ProtocolError, Setup,
};
use tokio::sync::oneshot;

use crate::child::{self, Payload};

type Conn = Arc<Connection<IpcError>>;

const FINGERPRINT: u64 = 0x5eed;

pub fn trials() -> Vec<Trial> {
    vec![
        trial("handshake_carries_both_payloads", handshake_carries_both_payloads),
        trial("a_refusing_child_fails_the_spawn_with_its_error_and_stderr", a_refusing_child_fails_the_spawn),
        trial("another_fingerprint_is_refused", another_fingerprint_is_refused),
        trial("the_upper_layer_may_refuse_the_welcome", the_upper_layer_may_refuse_the_welcome),
        trial("many_calls_are_in_flight_at_once", many_calls_are_in_flight_at_once),
        trial("calls_past_the_sockets_buffer_wait_for_room_and_arrive_intact", calls_past_the_sockets_buffer),
        trial("a_dropped_call_is_cancelled_in_the_child", a_dropped_call_is_cancelled_in_the_child),
        trial("a_dropped_call_is_cancelled_without_other_traffic", a_dropped_call_is_cancelled_without_other_traffic),
        trial("a_full_window_queues_calls_without_blocking_the_caller", a_full_window_queues_calls),
        trial("a_call_past_its_deadline_times_out_and_is_cancelled", a_call_past_its_deadline_times_out),
        trial("a_dead_child_fails_every_pending_and_later_call", a_dead_child_fails_every_pending_and_later_call),
        trial("an_oversize_frame_fails_everything_and_kills_the_child", an_oversize_frame_kills_the_child),
        trial("error_frames_arrive_as_the_peer_error", error_frames_arrive_as_the_peer_error),
        trial("a_bad_shared_memory_region_fails_only_its_call", a_bad_shared_memory_region_fails_only_its_call),
        trial("callbacks_are_served_by_the_dispatcher", callbacks_are_served_by_the_dispatcher),
        trial("callbacks_without_a_dispatcher_are_refused", callbacks_without_a_dispatcher_are_refused),
        trial("streams_deliver_every_item_in_order_under_credit", streams_deliver_every_item_in_order),
        trial("a_dropped_stream_is_cancelled_in_the_child", a_dropped_stream_is_cancelled_in_the_child),
        trial("shutdown_reaps_the_child_and_fails_later_calls", shutdown_reaps_the_child),
        trial("shutdown_lets_calls_in_flight_finish_and_admits_no_new_one", shutdown_drains),
        trial("shutdown_cancels_what_outlasts_the_grace_period", shutdown_cancels_after_grace),
        trial("callbacks_past_the_limit_wait_for_a_slot", callbacks_past_the_limit_wait),
        trial("hooks_see_calls_outcomes_and_logs", hooks_see_calls_outcomes_and_logs),
        trial("probes_are_answered_with_their_round_trip_time", probes_are_answered),
        trial("probes_are_answered_while_the_window_is_full", probes_pass_a_full_window),
        trial("a_probe_of_a_killed_child_fails_with_child_exited", a_probe_of_a_killed_child_fails),
        trial("an_unanswered_probe_stays_pending_until_the_callers_timeout", an_unanswered_probe_stays_pending),
        trial("outstanding_probes_are_bounded", outstanding_probes_are_bounded),
        Trial::test(
            "a_child_started_from_a_thread_that_ends_lives_on",
            a_child_started_from_a_thread_that_ends_lives_on,
        ),
        Trial::test("a_child_started_from_spawn_blocking_lives_on", a_child_started_from_spawn_blocking_lives_on),
        trial("the_child_runs_in_its_own_process_group", the_child_runs_in_its_own_process_group),
        Trial::test("a_child_fd_that_is_not_a_socket_is_refused", a_child_fd_that_is_not_a_socket_is_refused),
    ]
}

fn trial<F, Fut>(name: &'static str, test: F) -> Trial
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), Failed>>,
{
    Trial::test(name, move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(60), test()).await.map_err(|_| "timed out")? })
    })
}

fn setup(
    limits: Limits,
    hooks: Arc<dyn Hooks>,
    callbacks: Option<Arc<dyn CallbackDispatch<IpcError>>>,
) -> Setup<IpcError> {
    Setup { limits, label: "engine-test".into(), hooks, callbacks }
}

async fn start_with(greeting: &str, setup: Setup<IpcError>) -> Result<(Conn, Payload), IpcError> {
    start_spec(greeting, setup, ProcessSpec { log_label: "engine-test".into(), ..ProcessSpec::default() }).await
}

async fn start_spec(greeting: &str, setup: Setup<IpcError>, spec: ProcessSpec) -> Result<(Conn, Payload), IpcError> {
    let spawned = snake_ipc::spawn::spawn(&spec).await?;
    Connection::establish(spawned, FINGERPRINT, greeting.to_owned(), setup, |_: &Payload| Ok(())).await
}

/// A small frame limit, so the oversize case is checked against a limit of its own.
const MAX_FRAME: usize = 1 << 20;

async fn start() -> Result<Conn, Failed> {
    let limits = Limits { max_frame_size: MAX_FRAME, ..Limits::default() };
    let (conn, _) = start_with("hello", setup(limits, Arc::new(NoHooks), None)).await?;
    Ok(conn)
}

/// Sends one call and waits for its decoded reply.
async fn call<T: Serialize + Send, R: DeserializeOwned>(conn: &Conn, method: u32, request: T) -> Result<R, IpcError> {
    let body = send(conn, method, request).await.await.map_err(|_| IpcError::Cancelled)??;
    Ok(postcard::from_bytes(&body).expect("reply decodes"))
}

/// Sends one call; returns where its result arrives.
async fn send<T: Serialize + Send>(conn: &Conn, method: u32, request: T) -> oneshot::Receiver<Result<Bytes, IpcError>> {
    let (tx, rx) = oneshot::channel();
    conn.call(method, request, Box::new(tx), &tracing::Span::none());
    rx
}

async fn cancelled_ids_within(conn: &Conn, id: u64, bound: Duration) -> Result<(), Failed> {
    let deadline = Instant::now() + bound;
    loop {
        let ids: Vec<u64> = call(conn, child::CANCELLED, ()).await?;
        if ids.contains(&id) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("call {id} was not cancelled in the child within {bound:?}: {ids:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn handshake_carries_both_payloads() -> Result<(), Failed> {
    let (conn, (greeting, pid)) = start_with("hello", setup(Limits::default(), Arc::new(NoHooks), None)).await?;
    assert_eq!(greeting, "HELLO");
    assert_eq!(pid, conn.pid(), "the child reports the pid the parent spawned");
    assert_eq!(call::<_, String>(&conn, child::ECHO, "ping").await?, "ping");
    Ok(())
}

async fn a_refusing_child_fails_the_spawn() -> Result<(), Failed> {
    let err = start_with("refuse", setup(Limits::default(), Arc::new(NoHooks), None)).await.expect_err("refused");
    match err {
        IpcError::HandshakeFailed { reason, stderr_tail } => {
            assert_eq!(reason, "refused by the child");
            assert_eq!(stderr_tail, vec!["refusing on purpose".to_owned()]);
        }
        other => return Err(format!("expected HandshakeFailed, got {other:?}").into()),
    }
    Ok(())
}

async fn another_fingerprint_is_refused() -> Result<(), Failed> {
    let err = start_with("wrong fingerprint", setup(Limits::default(), Arc::new(NoHooks), None)).await;
    match err {
        Err(IpcError::HandshakeFailed { reason, .. }) => {
            assert_eq!(
                reason,
                format!(
                    "message type fingerprint mismatch: parent {:#018x}, child {:#018x}",
                    FINGERPRINT,
                    FINGERPRINT + 1
                )
            );
        }
        other => return Err(format!("expected HandshakeFailed, got {other:?}").into()),
    }
    Ok(())
}

async fn the_upper_layer_may_refuse_the_welcome() -> Result<(), Failed> {
    let spawned = snake_ipc::spawn::spawn(&ProcessSpec::default()).await?;
    let setup = setup(Limits::default(), Arc::new(NoHooks), None);
    let refuse = |payload: &Payload| Err(format!("greeting {} is not wanted", payload.0));
    match Connection::establish(spawned, FINGERPRINT, "hello".to_owned(), setup, refuse).await {
        Err(IpcError::HandshakeFailed { reason, .. }) => assert_eq!(reason, "greeting HELLO is not wanted"),
        other => return Err(format!("expected HandshakeFailed, got {:?}", other.map(|(_, p)| p)).into()),
    }
    Ok(())
}

async fn many_calls_are_in_flight_at_once() -> Result<(), Failed> {
    let conn = start().await?;
    // 200 calls that each sleep 100 ms in the child: one at a time they would take 20 s.
    let started = Instant::now();
    let mut waits = Vec::new();
    for i in 0..200u64 {
        waits.push(send(&conn, child::SLEEP, 100 + i % 7).await);
    }
    for (i, wait) in waits.into_iter().enumerate() {
        let body = wait.await??;
        assert_eq!(postcard::from_bytes::<u64>(&body)?, 100 + i as u64 % 7);
    }
    assert!(started.elapsed() < Duration::from_secs(10), "the calls overlapped: {:?}", started.elapsed());
    // And 2,000 echoes in flight come back each to its own caller.
    let calls = (0..2000u32).map(|i| {
        let conn = Arc::clone(&conn);
        async move { call::<_, u32>(&conn, child::ECHO, i).await }
    });
    let replies = futures_join(calls).await;
    for (i, reply) in replies.into_iter().enumerate() {
        assert_eq!(reply?, i as u32);
    }
    Ok(())
}

/// 48 calls of 512 KiB each in flight: far more than the socket holds, so most are queued and
/// written by the drainer as the child reads, and the replies fill the parent's reads whole.
async fn calls_past_the_sockets_buffer() -> Result<(), Failed> {
    let conn = start().await?;
    let body = |i: u64| -> Vec<u8> { (0..512 * 1024u64).map(|n| ((n * 31 + i * 7) % 251) as u8).collect() };
    let mut waits = Vec::new();
    for i in 0..48u64 {
        waits.push(send(&conn, child::ECHO, body(i)).await);
    }
    for (i, wait) in waits.into_iter().enumerate() {
        let reply = tokio::time::timeout(Duration::from_secs(20), wait).await.map_err(|_| "no hang")???;
        assert!(postcard::from_bytes::<Vec<u8>>(&reply)? == body(i as u64), "call {i} came back intact");
    }
    Ok(())
}

/// Runs the futures concurrently on the runtime and returns their outputs in order.
async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.expect("task"));
    }
    out
}

async fn a_dropped_call_is_cancelled_in_the_child() -> Result<(), Failed> {
    let conn = start().await?;
    let wait = send(&conn, child::SLEEP, 30_000u64).await;
    drop(wait);
    // The first call has id 1.
    cancelled_ids_within(&conn, 1, Duration::from_secs(2)).await
}

async fn a_dropped_call_is_cancelled_without_other_traffic() -> Result<(), Failed> {
    let conn = start().await?;
    // Let the reader settle into waiting with nothing pending, its sweep disarmed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(send(&conn, child::SLEEP, 30_000u64).await);
    // No frame moves for a while; the cancel must go out on its own within about one sweep.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ids: Vec<u64> = call(&conn, child::CANCELLED, ()).await?;
    assert_eq!(ids, vec![1], "the cancel reached the child before the next call did");
    Ok(())
}

async fn a_full_window_queues_calls() -> Result<(), Failed> {
    let limits = Limits { max_in_flight: 2, ..Limits::default() };
    let (conn, _) = start_with("hello", setup(limits, Arc::new(NoHooks), None)).await?;
    let slow: Vec<_> = [send(&conn, child::SLEEP, 1500u64).await, send(&conn, child::SLEEP, 1500u64).await].into();
    // The window is full: these return at once and wait for a slot on their own.
    let started = Instant::now();
    let abandoned = send(&conn, child::ECHO, 7u32).await;
    let queued = send(&conn, child::ECHO, 8u32).await;
    assert!(started.elapsed() < Duration::from_millis(500), "sending never waits: {:?}", started.elapsed());
    drop(abandoned);
    let echoed: u32 = postcard::from_bytes(&queued.await??)?;
    assert_eq!(echoed, 8);
    assert!(started.elapsed() >= Duration::from_millis(1000), "it waited for a slot: {:?}", started.elapsed());
    for wait in slow {
        assert_eq!(postcard::from_bytes::<u64>(&wait.await??)?, 1500);
    }
    // The abandoned call never reached the child, so it was never cancelled there either.
    let ids: Vec<u64> = call(&conn, child::CANCELLED, ()).await?;
    assert!(ids.is_empty(), "{ids:?}");
    Ok(())
}

async fn a_call_past_its_deadline_times_out() -> Result<(), Failed> {
    let limits = Limits { call_timeout: Some(Duration::from_millis(100)), ..Limits::default() };
    let (conn, _) = start_with("hello", setup(limits, Arc::new(NoHooks), None)).await?;
    let err = call::<_, u64>(&conn, child::SLEEP, 30_000u64).await.expect_err("times out");
    assert_eq!(err, IpcError::CallTimedOut { timeout: Duration::from_millis(100) });
    cancelled_ids_within(&conn, 1, Duration::from_secs(2)).await
}

async fn a_dead_child_fails_every_pending_and_later_call() -> Result<(), Failed> {
    let conn = start().await?;
    let mut waits = Vec::new();
    for _ in 0..20 {
        waits.push(send(&conn, child::SLEEP, 30_000u64).await);
    }
    let started = Instant::now();
    waits.push(send(&conn, child::EXIT, 7i32).await);
    for wait in waits {
        match wait.await? {
            Err(IpcError::ChildExited { status: ExitStatus::Code(7), .. }) => {}
            other => return Err(format!("expected ChildExited with code 7, got {other:?}").into()),
        }
    }
    assert!(started.elapsed() < Duration::from_secs(5), "failed at once, not at the sleeps' end");
    let later = call::<_, u32>(&conn, child::ECHO, 1u32).await.expect_err("dead");
    assert!(matches!(later, IpcError::ChildExited { status: ExitStatus::Code(7), .. }), "{later:?}");
    assert_eq!(conn.wait_exit().await, ExitStatus::Code(7));
    Ok(())
}

async fn an_oversize_frame_kills_the_child() -> Result<(), Failed> {
    let conn = start().await?;
    let pending = send(&conn, child::SLEEP, 30_000u64).await;
    let garbage = send(&conn, child::GARBAGE, ()).await;
    let expected = IpcError::Protocol(ProtocolError::FrameTooLarge { size: u32::MAX as usize, max: MAX_FRAME });
    assert_eq!(pending.await?.expect_err("fails"), expected);
    assert_eq!(garbage.await?.expect_err("fails"), expected);
    assert_eq!(conn.wait_exit().await, ExitStatus::Signal(libc_sigkill()));
    assert_eq!(call::<_, u32>(&conn, child::ECHO, 1u32).await.expect_err("closed"), expected);
    Ok(())
}

const fn libc_sigkill() -> i32 {
    9
}

async fn a_bad_shared_memory_region_fails_only_its_call() -> Result<(), Failed> {
    // The arenas exist (the test child does not map them: every frame it is sent is small).
    let shm = snake_ipc::shm::ShmConfig { threshold: 1024, limit: 4 << 20 };
    let spec = ProcessSpec { shared_memory: Some(shm), ..ProcessSpec::default() };
    let (conn, _) = start_spec("hello", setup(Limits::default(), Arc::new(NoHooks), None), spec).await?;
    let in_flight = send(&conn, child::SLEEP, 300u64).await;
    for region in [(2u64 << 20, 4096u64), (u64::MAX, 2), (0, 8 << 20)] {
        let err = call::<_, ()>(&conn, child::BAD_REGION, region).await.expect_err("refused");
        assert!(
            matches!(&err, IpcError::Protocol(ProtocolError::BadRegion { offset, len, .. }) if (*offset, *len) == region),
            "{region:?}: {err:?}"
        );
    }
    let slept = in_flight.await.map_err(|_| "dropped")??;
    assert_eq!(postcard::from_bytes::<u64>(&slept)?, 300, "the call in flight was answered");
    assert_eq!(call::<_, String>(&conn, child::ECHO, "still here").await?, "still here");
    assert!(conn.dead().is_none(), "the connection lives on");
    Ok(())
}

async fn error_frames_arrive_as_the_peer_error() -> Result<(), Failed> {
    let conn = start().await?;
    let err = call::<_, ()>(&conn, child::FAIL, "on purpose").await.expect_err("fails");
    assert_eq!(err, IpcError::CallbackFailed { callback: "fail".into(), message: "on purpose".into() });
    // The connection is still good.
    assert_eq!(call::<_, String>(&conn, child::ECHO, "after").await?, "after");
    Ok(())
}

struct Shout {
    served: AtomicU64,
}

impl CallbackDispatch<IpcError> for Shout {
    fn call(&self, index: u32, arg: Bytes) -> CallbackFuture<IpcError> {
        self.served.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let arg: String = postcard::from_bytes(&arg)
                .map_err(|e| IpcError::CallbackFailed { callback: "shout".into(), message: e.to_string() })?;
            Ok(postcard::to_stdvec(&format!("{}!{index}", arg.to_uppercase())).expect("encodes").into())
        })
    }

    fn name(&self, _index: u32) -> String {
        "shout".into()
    }
}

async fn callbacks_are_served_by_the_dispatcher() -> Result<(), Failed> {
    let shout = Arc::new(Shout { served: AtomicU64::new(0) });
    let dispatch: Arc<dyn CallbackDispatch<IpcError>> = Arc::clone(&shout) as _;
    let (conn, _) = start_with("hello", setup(Limits::default(), Arc::new(NoHooks), Some(dispatch))).await?;
    let calls = (0..50).map(|i| {
        let conn = Arc::clone(&conn);
        async move { call::<_, String>(&conn, child::CALLBACK, format!("hi {i}")).await }
    });
    for (i, reply) in futures_join(calls).await.into_iter().enumerate() {
        assert_eq!(reply?, format!("HI {i}!0"));
    }
    assert_eq!(shout.served.load(Ordering::SeqCst), 50);
    Ok(())
}

async fn callbacks_without_a_dispatcher_are_refused() -> Result<(), Failed> {
    let conn = start().await?;
    let err = call::<_, String>(&conn, child::CALLBACK, "hi").await.expect_err("refused");
    assert_eq!(
        err,
        IpcError::CallbackFailed {
            callback: "#0".into(),
            message: "no callback handler is registered for this actor in the parent".into()
        }
    );
    Ok(())
}

async fn streams_deliver_every_item_in_order() -> Result<(), Failed> {
    let conn = start().await?;
    let mut stream = conn.open_stream(child::COUNT, 1000u32, 4, &tracing::Span::none()).await?;
    let mut items = Vec::new();
    while let Some(item) = std::future::poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)).await {
        items.push(postcard::from_bytes::<u32>(&item?)?);
    }
    assert_eq!(items, (0..1000).collect::<Vec<u32>>());
    Ok(())
}

async fn a_dropped_stream_is_cancelled_in_the_child() -> Result<(), Failed> {
    let conn = start().await?;
    let mut stream = conn.open_stream(child::COUNT, u32::MAX, 2, &tracing::Span::none()).await?;
    let id = stream.id();
    for expected in 0..3u32 {
        let item = std::future::poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)).await.ok_or("ended")??;
        assert_eq!(postcard::from_bytes::<u32>(&item)?, expected);
    }
    drop(stream);
    cancelled_ids_within(&conn, id, Duration::from_secs(2)).await
}

async fn shutdown_reaps_the_child() -> Result<(), Failed> {
    let conn = start().await?;
    assert_eq!(call::<_, u8>(&conn, child::ECHO, 5u8).await?, 5);
    conn.shutdown().await;
    assert_eq!(conn.wait_exit().await, ExitStatus::Code(0));
    assert_eq!(call::<_, u8>(&conn, child::ECHO, 5u8).await.expect_err("stopped"), IpcError::Stopping);
    Ok(())
}

async fn shutdown_drains() -> Result<(), Failed> {
    let limits = Limits { max_in_flight: 3, shutdown_grace: Duration::from_secs(5), ..Limits::default() };
    let (conn, _) = start_with("hello", setup(limits, Arc::new(NoHooks), None)).await?;
    let in_flight: Vec<_> = vec![
        send(&conn, child::SLEEP, 300u64).await,
        send(&conn, child::SLEEP, 300u64).await,
        send(&conn, child::SLEEP, 300u64).await,
    ];
    // The window is full: this one waits for a slot, and is never admitted.
    let waiting = send(&conn, child::ECHO, 1u32).await;
    let started = Instant::now();
    let stopping = {
        let conn = Arc::clone(&conn);
        tokio::spawn(async move { conn.shutdown().await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(call::<_, u32>(&conn, child::ECHO, 2u32).await.expect_err("no new call"), IpcError::Stopping);
    assert_eq!(waiting.await?.expect_err("never admitted"), IpcError::Stopping);
    for wait in in_flight {
        assert_eq!(postcard::from_bytes::<u64>(&wait.await??)?, 300, "a call in flight finished");
    }
    stopping.await?;
    assert_eq!(conn.wait_exit().await, ExitStatus::Code(0));
    assert!(started.elapsed() < Duration::from_secs(5), "it stopped once drained: {:?}", started.elapsed());
    Ok(())
}

async fn shutdown_cancels_after_grace() -> Result<(), Failed> {
    let limits = Limits { shutdown_grace: Duration::from_millis(300), ..Limits::default() };
    let (conn, _) = start_with("hello", setup(limits, Arc::new(NoHooks), None)).await?;
    let hung = send(&conn, child::SLEEP, 60_000u64).await;
    let started = Instant::now();
    conn.shutdown().await;
    assert_eq!(hung.await?.expect_err("cancelled"), IpcError::Cancelled);
    // The test child exits on the shutdown frame; a stuck one would be killed after the grace.
    assert_eq!(conn.wait_exit().await, ExitStatus::Code(0));
    assert!(started.elapsed() >= Duration::from_millis(300), "it waited the grace period");
    assert!(started.elapsed() < Duration::from_secs(3), "and not much more: {:?}", started.elapsed());
    Ok(())
}

/// Callbacks beyond the limit wait for a slot instead of failing.
async fn callbacks_past_the_limit_wait() -> Result<(), Failed> {
    let shout = Arc::new(Shout { served: AtomicU64::new(0) });
    let limits = Limits { max_callbacks_in_flight: 2, ..Limits::default() };
    let (conn, _) = start_with("hello", setup(limits, Arc::new(NoHooks), Some(Arc::clone(&shout) as _))).await?;
    let calls = (0..300).map(|i| {
        let conn = Arc::clone(&conn);
        async move { call::<_, String>(&conn, child::CALLBACK, format!("c{i}")).await }
    });
    for (i, reply) in futures_join(calls).await.into_iter().enumerate() {
        assert_eq!(reply?, format!("C{i}!0"));
    }
    assert_eq!(shout.served.load(Ordering::SeqCst), 300);
    Ok(())
}

#[derive(Default)]
struct Counting {
    started: AtomicU64,
    finished: Mutex<Vec<Option<&'static str>>>,
    logs: Mutex<Vec<(String, bool, u32)>>,
}

impl Hooks for Counting {
    fn call_started(&self, _method: u32) {
        self.started.fetch_add(1, Ordering::SeqCst);
    }

    fn call_finished(&self, _method: u32, _elapsed: Duration, error: Option<&'static str>) {
        self.finished.lock().expect("lock").push(error);
    }

    fn log(&self, record: LogRecord, call_span: Option<&tracing::Span>, child_pid: u32) {
        self.logs.lock().expect("lock").push((record.message, call_span.is_some(), child_pid));
    }
}

async fn hooks_see_calls_outcomes_and_logs() -> Result<(), Failed> {
    let hooks = Arc::new(Counting::default());
    let (conn, _) = start_with("hello", setup(Limits::default(), Arc::clone(&hooks) as _, None)).await?;
    for i in 0..10u32 {
        assert_eq!(call::<_, u32>(&conn, child::ECHO, i).await?, i);
    }
    call::<_, ()>(&conn, child::FAIL, "no").await.expect_err("fails");
    call::<_, ()>(&conn, child::LOG, "a warning").await?;
    assert_eq!(hooks.started.load(Ordering::SeqCst), 12);
    let finished = hooks.finished.lock().expect("lock").clone();
    assert_eq!(finished.iter().filter(|e| e.is_none()).count(), 11);
    assert_eq!(finished.iter().filter(|e| **e == Some("callback_failed")).count(), 1);
    let logs = hooks.logs.lock().expect("lock").clone();
    assert_eq!(logs, vec![("a warning".to_owned(), true, conn.pid())], "the record came in its call's span");
    Ok(())
}

/// The kernel's parent-death signal follows the thread that forked the child: a child forked on a
/// thread that then ends would be killed with it. Here the thread ends, the child must not.
fn a_child_started_from_a_thread_that_ends_lives_on() -> Result<(), Failed> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let handle = runtime.handle().clone();
    let conn = std::thread::spawn(move || handle.block_on(start())).join().map_err(|_| "thread panicked")??;
    runtime.block_on(async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(call::<_, String>(&conn, child::ECHO, "alive").await?, "alive");
        Ok(())
    })
}

/// The same from `spawn_blocking`, whose thread the runtime retires after its keep-alive.
fn a_child_started_from_spawn_blocking_lives_on() -> Result<(), Failed> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(1)
        .thread_keep_alive(Duration::from_millis(50))
        .enable_all()
        .build()?;
    let handle = runtime.handle().clone();
    runtime.block_on(async move {
        let conn = tokio::task::spawn_blocking(move || handle.block_on(start())).await??;
        // Well past the keep-alive: the blocking thread that started the child is gone.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(call::<_, String>(&conn, child::ECHO, "alive").await?, "alive");
        Ok(())
    })
}

/// A terminal's Ctrl-C goes to its foreground process group; the child is not in the parent's.
async fn the_child_runs_in_its_own_process_group() -> Result<(), Failed> {
    let conn = start().await?;
    let pid = i32::try_from(conn.pid())?;
    // SAFETY: getpgid only reads the process table.
    let (child_group, own_group) = unsafe { (libc::getpgid(pid), libc::getpgid(0)) };
    assert_eq!(child_group, pid, "the child leads a group of its own");
    assert_ne!(child_group, own_group);
    Ok(())
}

/// A process started with the child-fd variable naming something else (here, a pipe) refuses to
/// take it for its channel, and says why.
fn a_child_fd_that_is_not_a_socket_is_refused() -> Result<(), Failed> {
    let output = std::process::Command::new(std::env::current_exe()?)
        .env(snake_ipc::ENV_CHILD_FD, "1")
        .stdin(std::process::Stdio::null())
        .output()?;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SNAKE_CHILD_FD=1 does not name a socket"), "{stderr}");
    Ok(())
}

/// Waits until `done` holds, polling every 5 ms, at most `bound`.
async fn poll_until(bound: Duration, what: &str, mut done: impl FnMut() -> bool) -> Result<(), Failed> {
    let deadline = Instant::now() + bound;
    while !done() {
        if Instant::now() > deadline {
            return Err(format!("{what}: not within {bound:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

async fn probes_are_answered() -> Result<(), Failed> {
    let hooks = Arc::new(Counting::default());
    let (conn, _) = start_with("hello", setup(Limits::default(), Arc::clone(&hooks) as _, None)).await?;
    for gil in [false, true, false, true] {
        let rtt = conn.probe(gil).await?;
        assert!(rtt > Duration::ZERO && rtt < Duration::from_secs(1), "gil {gil}: {rtt:?}");
    }
    assert_eq!(conn.outstanding_probes(), 0);
    assert_eq!(conn.in_flight(), 0, "a probe takes no slot");
    assert_eq!(hooks.started.load(Ordering::SeqCst), 0, "probes are not calls for the hooks");
    assert!(hooks.finished.lock().expect("lock").is_empty());
    // Calls still work, and are counted.
    assert_eq!(call::<_, u32>(&conn, child::ECHO, 3u32).await?, 3);
    assert_eq!(hooks.started.load(Ordering::SeqCst), 1);
    Ok(())
}

async fn probes_pass_a_full_window() -> Result<(), Failed> {
    let limits = Limits { max_in_flight: 2, ..Limits::default() };
    let (conn, _) = start_with("hello", setup(limits, Arc::new(NoHooks), None)).await?;
    let slow = [send(&conn, child::SLEEP, 1500u64).await, send(&conn, child::SLEEP, 1500u64).await];
    let queued = send(&conn, child::ECHO, 9u32).await;
    assert_eq!(conn.in_flight(), 2, "the window is full");
    let started = Instant::now();
    for gil in [false, true] {
        let rtt = tokio::time::timeout(Duration::from_millis(500), conn.probe(gil)).await??;
        assert!(rtt < Duration::from_millis(500), "{rtt:?}");
    }
    assert!(started.elapsed() < Duration::from_millis(1000), "answered before a slot freed: {:?}", started.elapsed());
    assert_eq!(conn.in_flight(), 2, "the probes took no slot");
    for wait in slow {
        assert_eq!(postcard::from_bytes::<u64>(&wait.await??)?, 1500);
    }
    assert_eq!(postcard::from_bytes::<u32>(&queued.await??)?, 9);
    Ok(())
}

async fn a_probe_of_a_killed_child_fails() -> Result<(), Failed> {
    // A deaf child leaves the probe pending, so it is the death that ends it.
    let (conn, _) = start_with("deaf", setup(Limits::default(), Arc::new(NoHooks), None)).await?;
    let probe = {
        let conn = Arc::clone(&conn);
        tokio::spawn(async move { conn.probe(true).await })
    };
    poll_until(Duration::from_secs(2), "the probe is outstanding", || conn.outstanding_probes() == 1).await?;
    let started = Instant::now();
    // SAFETY: kill only sends a signal to the child this test spawned.
    assert_eq!(unsafe { libc::kill(i32::try_from(conn.pid())?, libc::SIGKILL) }, 0);
    let err = tokio::time::timeout(Duration::from_secs(3), probe).await??.expect_err("the child died");
    assert!(matches!(err, IpcError::ChildExited { status: ExitStatus::Signal(9), .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "failed promptly: {:?}", started.elapsed());
    assert_eq!(conn.outstanding_probes(), 0);
    // A later probe fails at once with the same error.
    let later = tokio::time::timeout(Duration::from_millis(100), conn.probe(false)).await?.expect_err("dead");
    assert_eq!(later, err);
    Ok(())
}

async fn an_unanswered_probe_stays_pending() -> Result<(), Failed> {
    let (conn, _) = start_with("deaf", setup(Limits::default(), Arc::new(NoHooks), None)).await?;
    for gil in [false, true] {
        let started = Instant::now();
        let timed_out = tokio::time::timeout(Duration::from_millis(200), conn.probe(gil)).await;
        let elapsed = started.elapsed();
        assert!(timed_out.is_err(), "a deaf child answered: {timed_out:?}");
        assert!(elapsed >= Duration::from_millis(200) && elapsed < Duration::from_secs(1), "{elapsed:?}");
        assert_eq!(conn.outstanding_probes(), 0, "the dropped probe was forgotten");
    }
    // The connection itself is fine.
    assert_eq!(call::<_, u32>(&conn, child::ECHO, 4u32).await?, 4);
    Ok(())
}

async fn outstanding_probes_are_bounded() -> Result<(), Failed> {
    let (conn, _) = start_with("deaf", setup(Limits::default(), Arc::new(NoHooks), None)).await?;
    let limit = snake_ipc::MAX_OUTSTANDING_PROBES;
    let waiting: Vec<_> = (0..limit)
        .map(|i| {
            let conn = Arc::clone(&conn);
            tokio::spawn(async move { conn.probe(i % 2 == 0).await })
        })
        .collect();
    poll_until(Duration::from_secs(2), "all probes are outstanding", || conn.outstanding_probes() == limit).await?;
    let err = conn.probe(false).await.expect_err("over the limit");
    assert_eq!(err, IpcError::TooManyProbes { limit });
    for task in &waiting {
        task.abort();
    }
    poll_until(Duration::from_secs(2), "aborted probes are forgotten", || conn.outstanding_probes() == 0).await?;
    assert!(tokio::time::timeout(Duration::from_millis(50), conn.probe(false)).await.is_err(), "room again, deaf");
    Ok(())
}
