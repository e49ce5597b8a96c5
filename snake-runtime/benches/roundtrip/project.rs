//! The project's figures: calls to Python children through `PythonActor`.

use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use snake::kameo::actor::ActorRef;
use snake::{PythonActor, PythonActorExt, PythonChildProcessBuilder, PythonConfig};

use crate::messages::{CountTo, EchoCallbacks, EchoHandle, Ping, Pong, TimeCallbacks, TypedPing};
use crate::plan::{KIB_4, MIB_1, Plan, SMALL_PAYLOAD, WINDOW};
use crate::stats::Latency;

/// The project's figures of one placement.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Project {
    /// From spawning the sync child to its handshake's end.
    pub(crate) start: Duration,
    pub(crate) sync: Latency,
    pub(crate) asynchronous: Latency,
    /// The same calls through a typed handle (`#[snake::actor]`), not `ask`.
    pub(crate) sync_typed: Latency,
    pub(crate) async_typed: Latency,
    /// Calls/s with [`WINDOW`] in flight.
    pub(crate) pipelined_sync: f64,
    pub(crate) pipelined_async: f64,
    pub(crate) pipelined_sync_typed: f64,
    pub(crate) sync_4k: Latency,
    pub(crate) sync_1m: Latency,
    /// Python -> Rust -> Python, timed in Python around each blocking callback.
    pub(crate) callback_sync: Latency,
    /// The same, awaited from an `async def` handler.
    pub(crate) callback_async: Latency,
    /// Items/s streamed from a plain generator, and from an async one.
    pub(crate) stream_sync: f64,
    pub(crate) stream_async: f64,
}

pub(crate) async fn measure(plan: Plan) -> Result<Project, String> {
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

    let handle = EchoHandle::spawn(PythonChildProcessBuilder::new(config("")))
        .await
        .map_err(|e| format!("starting a child for the typed bench_handlers: {e}"))?;
    let sync_typed = typed_round_trips(&handle, &small, plan.warmup, plan.iters, false).await;
    let async_typed = typed_round_trips(&handle, &small, plan.warmup, plan.iters, true).await;
    let pipelined_sync_typed = typed_pipelined(&handle, &small, plan.pipeline_for).await;
    if let Some(actor) = handle.actor_ref()
        && actor.stop_gracefully().await.is_ok()
    {
        actor.wait_for_shutdown().await;
    }

    let callback_sync = callback_round_trips("callback_latencies", plan).await?;
    let callback_async = callback_round_trips("callback_latencies_async", plan).await?;
    let stream_sync = stream_rate("count", plan).await?;
    let stream_async = stream_rate("count_async", plan).await?;

    Ok(Project {
        start,
        sync,
        asynchronous,
        sync_typed,
        async_typed,
        pipelined_sync,
        pipelined_async,
        pipelined_sync_typed,
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
pub(crate) async fn sync_round_trips(plan: Plan) -> Result<Latency, String> {
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

/// Sequential calls through the typed handle, to its sync or its async echo.
async fn typed_round_trips(handle: &EchoHandle, payload: &str, warmup: usize, iters: usize, is_async: bool) -> Latency {
    let mut samples = Vec::with_capacity(iters);
    for (i, seq) in (0..warmup + iters).zip(0u64..) {
        let ping = TypedPing { seq, payload: payload.to_owned() };
        let start = Instant::now();
        let pong = if is_async { handle.echo_async(ping).await } else { handle.echo_sync(ping).await };
        let took = start.elapsed();
        let pong = pong.expect("a typed call to the echo handler failed");
        check(&Pong { seq: pong.seq, payload: pong.payload }, seq, payload);
        if i >= warmup {
            samples.push(took);
        }
    }
    Latency::from_samples(samples)
}

/// [`pipelined`] through the typed handle's sync echo.
async fn typed_pipelined(handle: &EchoHandle, payload: &str, run_for: Duration) -> f64 {
    let call = |seq: u64| {
        let ping = TypedPing { seq, payload: payload.to_owned() };
        async move { (seq, handle.echo_sync(ping).await) }
    };
    let start = Instant::now();
    let mut in_flight: FuturesUnordered<_> = (0..WINDOW as u64).map(call).collect();
    let mut next = WINDOW as u64;
    let mut answered = 0u64;
    while let Some((seq, reply)) = in_flight.next().await {
        let pong = reply.expect("a pipelined typed call to the echo handler failed");
        check(&Pong { seq: pong.seq, payload: pong.payload }, seq, payload);
        answered += 1;
        if start.elapsed() < run_for {
            in_flight.push(call(next));
            next += 1;
        }
    }
    answered as f64 / start.elapsed().as_secs_f64()
}
