//! The Python peers of the small-call rows: what a Python user would pick instead of snake to
//! call Python in another process, run as a Python subprocess (`benches/python/call_peers.py`)
//! in the same placement as the rest of the run (a pinned run's affinity is inherited).

use std::process::Command;
use std::time::Duration;

use crate::plan::{Plan, SMALL_PAYLOAD, WINDOW};

/// The peers' figures; each is `None` if the peer could not run (no `python3`, say).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Peers {
    /// `multiprocessing.Pipe` ping-pong of a small string with an echoing process, p50.
    pub(crate) pipe: Option<Duration>,
    /// `ProcessPoolExecutor(1).submit(echo, s).result()`, one at a time, p50.
    pub(crate) pool: Option<Duration>,
    /// The same with [`WINDOW`] calls in flight, calls/s.
    pub(crate) pool_pipelined: Option<f64>,
}

pub(crate) fn measure(plan: &Plan) -> Peers {
    let output = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python/call_peers.py"))
        .args([
            SMALL_PAYLOAD.to_string(),
            plan.warmup.to_string(),
            plan.iters.to_string(),
            WINDOW.to_string(),
            plan.pipeline_for.as_secs_f64().to_string(),
        ])
        .output();
    let output = match output {
        Ok(output) if output.status.success() => output,
        Ok(output) => {
            eprintln!("the Python call peers failed: {}", String::from_utf8_lossy(&output.stderr));
            return Peers::default();
        }
        Err(e) => {
            eprintln!("the Python call peers did not start: {e}");
            return Peers::default();
        }
    };
    let mut peers = Peers::default();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let mut parts = line.split_whitespace();
        let (Some(name), Some(Ok(value))) = (parts.next(), parts.next().map(str::parse::<u64>)) else {
            continue;
        };
        match name {
            "pipe_p50" => peers.pipe = Some(Duration::from_nanos(value)),
            "pool_p50" => peers.pool = Some(Duration::from_nanos(value)),
            "pool_pipelined" => peers.pool_pipelined = Some(value as f64),
            _ => {}
        }
    }
    peers
}
