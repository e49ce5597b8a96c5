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
    let args = [
        SMALL_PAYLOAD.to_string(),
        plan.warmup.to_string(),
        plan.iters.to_string(),
        WINDOW.to_string(),
        plan.pipeline_for.as_secs_f64().to_string(),
    ];
    let Some(stdout) = run_script("call_peers.py", &args, "the Python call peers") else {
        return Peers::default();
    };
    let mut peers = Peers::default();
    for line in stdout.lines() {
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

/// Runs `benches/python/{script}` with `args` under `python3` and returns what it printed, or
/// `None` (said on stderr, naming `what`) if it did not start or failed: the bench goes on
/// without those rows' figures.
pub(crate) fn run_script(script: &str, args: &[String], what: &str) -> Option<String> {
    let path = format!("{}/benches/python/{script}", env!("CARGO_MANIFEST_DIR"));
    match Command::new("python3").arg(path).args(args).output() {
        Ok(output) if output.status.success() => Some(String::from_utf8_lossy(&output.stdout).into_owned()),
        Ok(output) => {
            eprintln!("{what} failed: {}", String::from_utf8_lossy(&output.stderr));
            None
        }
        Err(e) => {
            eprintln!("{what} did not start: {e}");
            None
        }
    }
}
