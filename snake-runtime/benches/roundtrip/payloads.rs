//! The bytes rows: `snake::SharedBytes` echoed by a Python child at each of [`BYTES_SIZES`]
//! (through the shared-memory arenas from 64 KiB up), and what a Python user would pick instead:
//! `multiprocessing.shared_memory` with numpy arrays between two Python processes, run as a
//! subprocess (`benches/python/shm_peer.py`).

use std::process::Command;
use std::time::{Duration, Instant};

use snake::kameo::actor::ActorRef;
use snake::{PythonActor, PythonChildProcessBuilder, PythonConfig, SharedBytes};

use crate::messages::Blob;
use crate::plan::{BYTES_SIZES, KIB_4, Plan};
use crate::stats::Latency;

/// The bytes rows of one placement.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Payloads {
    /// `SharedBytes` round trips at each of [`BYTES_SIZES`].
    pub(crate) shared: [Latency; 4],
    /// The Python peer's p50 at each size above 4 KiB, if Python with numpy could run it.
    pub(crate) peer: [Option<Duration>; 4],
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
    Ok(Payloads { shared, peer: python_peer(plan) })
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

/// Runs the Python peer for the sizes above 4 KiB; `None` for a size it did not report (no
/// numpy, no `python3`: the bench goes on without the row's figure).
fn python_peer(plan: Plan) -> [Option<Duration>; 4] {
    let mut out = [None; 4];
    let sizes: Vec<String> = BYTES_SIZES.iter().filter(|&&len| len > KIB_4).map(ToString::to_string).collect();
    let (warmup, iters) = plan.counts(usize::MAX);
    let output = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python/shm_peer.py"))
        .args([sizes.join(","), warmup.to_string(), iters.to_string()])
        .output();
    let output = match output {
        Ok(output) if output.status.success() => output,
        Ok(output) => {
            eprintln!("the Python shared-memory peer failed: {}", String::from_utf8_lossy(&output.stderr));
            return out;
        }
        Err(e) => {
            eprintln!("the Python shared-memory peer did not start: {e}");
            return out;
        }
    };
    // One `<size> <p50 ns>` line per size.
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let mut parts = line.split_whitespace().map(str::parse::<u64>);
        if let (Some(Ok(size)), Some(Ok(nanos))) = (parts.next(), parts.next())
            && let Some(i) = BYTES_SIZES.iter().position(|&len| len as u64 == size)
        {
            out[i] = Some(Duration::from_nanos(nanos));
        }
    }
    out
}
