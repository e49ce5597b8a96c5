//! The bytes rows: `snake::SharedBytes` echoed by a Python child at each of [`BYTES_SIZES`]
//! (through the shared-memory arenas from 64 KiB up), and what a Python user would pick instead:
//! `multiprocessing.shared_memory` with numpy arrays between two Python processes, run as a
//! subprocess (`benches/python/shm_peer.py`). With the `numpy` feature, the array rows: float32
//! `snake::Array`s of [`ARRAY_SIZES`] summed in Python (`arr.sum()`, back as a scalar) and
//! echoed back as an array, and the same peer doing the same sum and echo. The handoff rows: a
//! 16 MiB buffer the child made, sent back to it (by reference to its own arena) to a handler
//! that returns its length, and one the parent got back from an echo, in its own arena, sent
//! on to the same handler (lent again by reference). And the callback rows: blocking callbacks that fetch 1 MiB from Rust
//! and send 1 MiB to Rust, timed in Python.

use std::time::{Duration, Instant};

use snake::kameo::actor::ActorRef;
use snake::{PythonActor, PythonChildProcessBuilder, PythonConfig, SharedBytes};

use crate::messages::{Blob, CallbackPayloads, Handoff, PayloadRun};
use crate::peers::run_script;
use crate::plan::{BYTES_SIZES, KIB_4, MIB_1, MIB_16, MIB_100, Plan};
use crate::stats::Latency;

/// The bytes rows of one placement.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Payloads {
    /// `SharedBytes` round trips at each of [`BYTES_SIZES`].
    pub(crate) shared: [Latency; 4],
    /// The Python peer's p50 at each size above 4 KiB, if Python with numpy could run it.
    pub(crate) peer: [Option<Duration>; 4],
    /// The array rows (feature `numpy`).
    pub(crate) arrays: Option<ArrayRows>,
    /// A [`HANDOFF_SIZE`] buffer already in an arena, sent to the child and measured: one in the
    /// child's arena (handed back), one in the parent's (lent again).
    pub(crate) handoff: [Latency; 2],
    /// Blocking callbacks carrying [`CALLBACK_SIZE`] bytes, timed in Python: fetched from Rust,
    /// and sent to Rust.
    pub(crate) callbacks: [Latency; 2],
}

/// Bytes each callback of the callback payload rows carries.
pub(crate) const CALLBACK_SIZE: usize = MIB_1;

/// Bytes of the handoff row's buffer.
pub(crate) const HANDOFF_SIZE: usize = MIB_16;

/// Bytes of the float32 matrices of the array rows (square: 512 and 5120 on a side).
pub(crate) const ARRAY_SIZES: [usize; 2] = [MIB_1, MIB_100];

/// The array rows of one placement, at each of [`ARRAY_SIZES`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct ArrayRows {
    /// To Python, `arr.sum()`, back as a scalar.
    pub(crate) sum: [Latency; 2],
    /// The same sum of a matrix filled once in the arena (`shared_array`), through a typed handle.
    pub(crate) filled_sum: [Latency; 2],
    /// To Python and back as an array.
    pub(crate) echo: [Latency; 2],
    /// The Python peer's p50 of the same sum and echo.
    pub(crate) peer_sum: [Option<Duration>; 2],
    pub(crate) peer_echo: [Option<Duration>; 2],
}

pub(crate) async fn measure(plan: Plan) -> Result<Payloads, String> {
    let actor = spawn().await?;
    let mut shared = [Latency { p50: Duration::ZERO, p99: Duration::ZERO }; 4];
    for (latency, len) in shared.iter_mut().zip(BYTES_SIZES) {
        *latency = round_trips(&actor, len, plan.counts(len)).await;
    }
    if actor.stop_gracefully().await.is_ok() {
        actor.wait_for_shutdown().await;
    }
    let handoff = handoffs(plan).await?;
    let callbacks = callback_payloads(plan).await?;
    #[cfg(feature = "numpy")]
    let arrays = Some(arrays::measure(plan).await?);
    #[cfg(not(feature = "numpy"))]
    let arrays = None;
    let sizes: Vec<usize> = BYTES_SIZES.into_iter().filter(|&len| len > KIB_4).collect();
    let peer = python_peer(plan, "bytes", &sizes);
    let mut by_size = [None; 4];
    for (slot, len) in by_size.iter_mut().zip(BYTES_SIZES) {
        *slot = peer.iter().find(|&&(size, _)| size == len).map(|&(_, p50)| p50);
    }
    Ok(Payloads { shared, peer: by_size, arrays, handoff, callbacks })
}

async fn spawn() -> Result<ActorRef<PythonActor<Blob>>, String> {
    let config = PythonConfig {
        module_name: "bench_handlers".into(),
        function_name: "echo_sync".into(),
        module_path: concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python").into(),
        is_async: Some(false),
        ..PythonConfig::default()
    };
    PythonChildProcessBuilder::new(config)
        .max_frame_size(256 << 20)
        .spawn::<Blob>()
        .await
        .map_err(|e| format!("starting a child for bench_handlers.echo_sync: {e}"))
}

/// Sequential echoes of one buffer; only the `ask` is timed, not the check of the reply.
async fn round_trips(actor: &ActorRef<PythonActor<Blob>>, len: usize, (warmup, iters): (usize, usize)) -> Latency {
    let data = SharedBytes::from((0..len).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    let mut samples = Vec::with_capacity(iters);
    for (i, seq) in (0..warmup + iters).zip(0u64..) {
        let start = Instant::now();
        let reply = actor.ask(Blob { seq, data: data.clone() }).await.expect("a bytes echo failed");
        let took = start.elapsed();
        assert!(reply.seq == seq && reply.data == data, "call {seq} was answered with other bytes ({len} sent)");
        if i >= warmup {
            samples.push(took);
        }
    }
    Latency::from_samples(samples)
}

/// Sequential calls that send a buffer already in an arena to the child: one the child made
/// (handed back to its arena), then one an echo put in the parent's arena (lent again). Only a
/// reference crosses, and the handler returns its length, so each call costs what a small one
/// does.
async fn handoffs(plan: Plan) -> Result<[Latency; 2], String> {
    let config = PythonConfig {
        module_path: concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python").into(),
        ..PythonConfig::default()
    };
    let builder = PythonChildProcessBuilder::new(config).max_frame_size(256 << 20);
    let handoff = Handoff::spawn(builder).await.map_err(|e| format!("starting the handoff child: {e}"))?;
    let made = handoff.make_blob(HANDOFF_SIZE as u64).await.map_err(|e| format!("make_blob: {e}"))?;
    let echoed =
        handoff.echo_blob(SharedBytes::from(vec![7u8; HANDOFF_SIZE])).await.map_err(|e| format!("echo_blob: {e}"))?;
    let (warmup, iters) = plan.counts(0);
    let mut rows = [Latency { p50: Duration::ZERO, p99: Duration::ZERO }; 2];
    for (row, blob) in rows.iter_mut().zip([&made, &echoed]) {
        let mut samples = Vec::with_capacity(iters);
        for i in 0..warmup + iters {
            let start = Instant::now();
            let len = handoff.blob_len(blob.clone()).await.expect("a handoff failed");
            let took = start.elapsed();
            assert_eq!(len, HANDOFF_SIZE as u64, "the handler saw the whole buffer");
            if i >= warmup {
                samples.push(took);
            }
        }
        *row = Latency::from_samples(samples);
    }
    if let Some(actor) = handoff.actor_ref()
        && actor.stop_gracefully().await.is_ok()
    {
        actor.wait_for_shutdown().await;
    }
    Ok(rows)
}

/// Blocking callbacks carrying [`CALLBACK_SIZE`] bytes each way, timed in Python (from the call
/// to the value, the conversion included); the Python buffers are made once.
async fn callback_payloads(plan: Plan) -> Result<[Latency; 2], String> {
    let config = PythonConfig {
        module_path: concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python").into(),
        ..PythonConfig::default()
    };
    let builder = PythonChildProcessBuilder::new(config).max_frame_size(256 << 20);
    let child = CallbackPayloads::spawn(builder).await.map_err(|e| format!("starting the callback child: {e}"))?;
    let (warmup, iters) = plan.counts(CALLBACK_SIZE);
    let run = |iters: usize| PayloadRun { iters: iters as u32, size: CALLBACK_SIZE as u64 };
    let timed = |nanos: Vec<u64>| Latency::from_samples(nanos.into_iter().map(Duration::from_nanos).collect());
    child.callback_fetch(run(warmup)).await.map_err(|e| format!("callback_fetch: {e}"))?;
    let fetch = timed(child.callback_fetch(run(iters)).await.map_err(|e| format!("callback_fetch: {e}"))?);
    child.callback_push(run(warmup)).await.map_err(|e| format!("callback_push: {e}"))?;
    let push = timed(child.callback_push(run(iters)).await.map_err(|e| format!("callback_push: {e}"))?);
    if let Some(actor) = child.actor_ref()
        && actor.stop_gracefully().await.is_ok()
    {
        actor.wait_for_shutdown().await;
    }
    Ok([fetch, push])
}

/// Runs the Python peer (`kind`: `bytes`, `sum` or `echo`) at `sizes`; the p50 of each size it
/// reported (none without numpy or `python3`: the bench goes on without the row's figure).
pub(crate) fn python_peer(plan: Plan, kind: &str, sizes: &[usize]) -> Vec<(usize, Duration)> {
    let list: Vec<String> = sizes.iter().map(ToString::to_string).collect();
    let (warmup, iters) = plan.counts(usize::MAX);
    let args = [list.join(","), warmup.to_string(), iters.to_string(), kind.to_owned()];
    let Some(stdout) = run_script("shm_peer.py", &args, &format!("the Python shared-memory peer ({kind})")) else {
        return Vec::new();
    };
    // One `<size> <p50 ns>` line per size.
    stdout
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace().map(str::parse::<u64>);
            match (parts.next(), parts.next()) {
                (Some(Ok(size)), Some(Ok(nanos))) => Some((size as usize, Duration::from_nanos(nanos))),
                _ => None,
            }
        })
        .collect()
}

/// The array rows (feature `numpy`).
#[cfg(feature = "numpy")]
mod arrays {
    use std::time::Instant;

    use snake::kameo::actor::ActorRef;
    use snake::ndarray::Ix2;
    use snake::{Array, PythonActor, PythonChildProcessBuilder, PythonConfig};

    use super::{ARRAY_SIZES, ArrayRows, python_peer};
    use crate::messages::{ArrayEcho, ArrayHandle, ArraySum};
    use crate::plan::Plan;
    use crate::stats::Latency;

    pub(super) async fn measure(plan: Plan) -> Result<ArrayRows, String> {
        let summer: ActorRef<PythonActor<ArraySum>> = spawn("array_sum").await?;
        let echoer: ActorRef<PythonActor<ArrayEcho>> = spawn("echo_sync").await?;
        let handle =
            ArrayHandle::spawn(builder(config())).await.map_err(|e| format!("starting an ArrayHandle child: {e}"))?;
        let zero = Latency { p50: std::time::Duration::ZERO, p99: std::time::Duration::ZERO };
        let mut rows = ArrayRows {
            sum: [zero; 2],
            filled_sum: [zero; 2],
            echo: [zero; 2],
            peer_sum: [None; 2],
            peer_echo: [None; 2],
        };
        for (i, len) in ARRAY_SIZES.into_iter().enumerate() {
            let matrix = matrix(len)?;
            rows.sum[i] = sums(&summer, &matrix, plan.counts(len)).await;
            rows.filled_sum[i] = filled_sums(&handle, &matrix, plan.counts(len)).await?;
            rows.echo[i] = echoes(&echoer, &matrix, plan.counts(len)).await;
        }
        if let Some(actor) = handle.actor_ref()
            && actor.stop_gracefully().await.is_ok()
        {
            actor.wait_for_shutdown().await;
        }
        if summer.stop_gracefully().await.is_ok() {
            summer.wait_for_shutdown().await;
        }
        if echoer.stop_gracefully().await.is_ok() {
            echoer.wait_for_shutdown().await;
        }
        for (kind, out) in [("sum", &mut rows.peer_sum), ("echo", &mut rows.peer_echo)] {
            let peer = python_peer(plan, kind, &ARRAY_SIZES);
            for (slot, len) in out.iter_mut().zip(ARRAY_SIZES) {
                *slot = peer.iter().find(|&&(size, _)| size == len).map(|&(_, p50)| p50);
            }
        }
        Ok(rows)
    }

    async fn spawn<M: snake::ChildMessage>(function: &str) -> Result<ActorRef<PythonActor<M>>, String> {
        let config = PythonConfig {
            module_name: "bench_handlers".into(),
            function_name: function.into(),
            is_async: Some(false),
            ..config()
        };
        builder(config).spawn::<M>().await.map_err(|e| format!("starting a child for bench_handlers.{function}: {e}"))
    }

    /// The bench's handlers' directory.
    fn config() -> PythonConfig {
        PythonConfig {
            module_path: concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python").into(),
            ..PythonConfig::default()
        }
    }

    /// Frames up to 256 MiB, for the 100 MiB rows.
    fn builder(config: PythonConfig) -> PythonChildProcessBuilder {
        PythonChildProcessBuilder::new(config).max_frame_size(256 << 20)
    }

    /// Sequential sums of `matrix`'s elements, written once into the arena of the handle's child
    /// (`shared_array`), so that each call lends them by reference; only the call is timed.
    async fn filled_sums(
        handle: &ArrayHandle,
        matrix: &Array<f32, Ix2>,
        counts: (usize, usize),
    ) -> Result<Latency, String> {
        let mut filled = handle.shared_array::<f32, Ix2>(matrix.raw_dim());
        if !filled.in_shared_memory() {
            return Err(format!("no room in the arena for {filled:?}"));
        }
        filled.view_mut().assign(&matrix.view());
        let filled = filled.freeze();
        let sum = || {
            let request = filled.clone();
            async move { handle.array_total(request).await.expect("an array sum failed") }
        };
        Ok(timed_sums(matrix, counts, sum).await)
    }

    /// A square float32 matrix of `len` bytes, `i % 251 % 2` at element `i` (0s and 1s, so that
    /// every partial sum of float32 `arr.sum()` is exact at both sizes), held as its bytes (as a
    /// received array is), so that sending a clone copies nothing before the frame.
    fn matrix(len: usize) -> Result<Array<f32, Ix2>, String> {
        let side = ((len / 4) as f64).sqrt() as usize;
        let owned: Array<f32, Ix2> =
            snake::ndarray::Array2::from_shape_fn((side, side), |(r, c)| ((r * side + c) % 251 % 2) as f32).into();
        let encoded = postcard::to_stdvec(&owned).map_err(|e| format!("encoding a matrix: {e}"))?;
        postcard::from_bytes(&encoded).map_err(|e| format!("decoding a matrix: {e}"))
    }

    /// What `arr.sum()` of [`matrix`] is.
    fn expected_sum(matrix: &Array<f32, Ix2>) -> f64 {
        (0..matrix.len()).map(|i| (i % 251 % 2) as f64).sum()
    }

    /// Sequential sums; only the `ask` is timed.
    async fn sums(
        actor: &ActorRef<PythonActor<ArraySum>>,
        matrix: &Array<f32, Ix2>,
        counts: (usize, usize),
    ) -> Latency {
        let sum = || {
            let request = ArraySum { matrix: matrix.clone() };
            async move { actor.ask(request).await.expect("an array sum failed") }
        };
        timed_sums(matrix, counts, sum).await
    }

    /// Sequential sums of `matrix`, each checked; `sum` builds each request untimed and only its
    /// future, the call, is timed.
    async fn timed_sums<F: std::future::Future<Output = f64>>(
        matrix: &Array<f32, Ix2>,
        (warmup, iters): (usize, usize),
        mut sum: impl FnMut() -> F,
    ) -> Latency {
        let expected = expected_sum(matrix);
        let mut samples = Vec::with_capacity(iters);
        for i in 0..warmup + iters {
            let call = sum();
            let start = Instant::now();
            let total = call.await;
            let took = start.elapsed();
            assert!(total == expected, "sum {total}, expected {expected}");
            if i >= warmup {
                samples.push(took);
            }
        }
        Latency::from_samples(samples)
    }

    /// Sequential echoes; only the `ask` is timed, not the check, which compares the elements in
    /// place (`Array::view`): building an owned `ndarray` of each reply would allocate, copy and
    /// free 1 MiB between two samples.
    async fn echoes(
        actor: &ActorRef<PythonActor<ArrayEcho>>,
        matrix: &Array<f32, Ix2>,
        (warmup, iters): (usize, usize),
    ) -> Latency {
        let mut samples = Vec::with_capacity(iters);
        for (i, seq) in (0..warmup + iters).zip(0u64..) {
            let request = ArrayEcho { seq, matrix: matrix.clone() };
            let start = Instant::now();
            let reply = actor.ask(request).await.expect("an array echo failed");
            let took = start.elapsed();
            assert!(
                reply.seq == seq && reply.matrix.view() == matrix.view(),
                "echo {seq} came back with other elements"
            );
            if i >= warmup {
                samples.push(took);
            }
        }
        Latency::from_samples(samples)
    }
}
