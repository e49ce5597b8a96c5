//! What a run measures, and how much of it: message sizes, the pipelined window, and the counts
//! of the full and the quick run.

use std::time::Duration;

/// `1` cuts every count and duration by 10x.
const ENV_QUICK: &str = "SNAKE_BENCH_QUICK";

/// Body of a floor message (plus a 4-byte length prefix).
pub(crate) const FLOOR_MESSAGE: usize = 64;
/// Characters in a small call's payload: with the frame header and the sequence number, a call
/// frame is about as long as a floor message.
pub(crate) const SMALL_PAYLOAD: usize = 56;
pub(crate) const KIB_4: usize = 4 * 1024;
pub(crate) const MIB_1: usize = 1024 * 1024;
pub(crate) const MIB_16: usize = 16 * MIB_1;
pub(crate) const MIB_100: usize = 100 * MIB_1;
/// Payload sizes of the bytes rows (`snake::SharedBytes` against the floor of the same size).
pub(crate) const BYTES_SIZES: [usize; 4] = [KIB_4, MIB_1, MIB_16, MIB_100];
/// Calls (or floor messages) in flight in the pipelined runs.
pub(crate) const WINDOW: usize = 256;

/// How many calls and how long, for the full and the quick run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    pub(crate) quick: bool,
    /// Calls made and thrown away before measuring small messages and 4 KiB payloads.
    pub(crate) warmup: usize,
    /// Calls measured with small messages and 4 KiB payloads.
    pub(crate) iters: usize,
    /// Calls made and thrown away before measuring 1 MiB payloads.
    pub(crate) large_warmup: usize,
    /// Calls measured with 1 MiB payloads.
    pub(crate) large_iters: usize,
    /// How long each pipelined run keeps refilling its window.
    pub(crate) pipeline_for: Duration,
    /// Calls made and thrown away, then measured, with 16 MiB and 100 MiB payloads.
    pub(crate) huge_warmup: usize,
    pub(crate) huge_iters: usize,
}

impl Plan {
    /// The quick plan without `--bench` among `args` (as under `cargo test --benches`) or with
    /// `SNAKE_BENCH_QUICK=1`, the full one otherwise.
    pub(crate) fn for_run(args: &[String]) -> Self {
        let quick = !args.iter().any(|arg| arg == "--bench") || std::env::var_os(ENV_QUICK).is_some_and(|v| v == "1");
        Self::new(quick)
    }

    fn new(quick: bool) -> Self {
        let scale: u32 = if quick { 10 } else { 1 };
        let count = |n: u32| (n / scale) as usize;
        Self {
            quick,
            warmup: count(500),
            iters: count(5000),
            large_warmup: count(50),
            large_iters: count(500),
            pipeline_for: Duration::from_secs(2) / scale,
            huge_warmup: if quick { 1 } else { 3 },
            huge_iters: if quick { 3 } else { 20 },
        }
    }

    /// Warm-up and measured calls for a payload of `len` bytes.
    pub(crate) const fn counts(&self, len: usize) -> (usize, usize) {
        if len <= KIB_4 {
            (self.warmup, self.iters)
        } else if len <= MIB_1 {
            (self.large_warmup, self.large_iters)
        } else {
            (self.huge_warmup, self.huge_iters)
        }
    }
}
