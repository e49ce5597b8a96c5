//! Percentiles of round-trip samples.
//!
//! Also compiled into the `asyncio_bridge` bench (`#[path]`), so it may name nothing of this one.

use std::time::Duration;

/// Round-trip times, warm-up excluded.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Latency {
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
}

impl Latency {
    pub(crate) fn from_samples(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Self { p50: percentile(&samples, 50), p99: percentile(&samples, 99) }
    }
}

/// The nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], pct: usize) -> Duration {
    let rank = (sorted.len() * pct).div_ceil(100).max(1);
    sorted.get(rank - 1).copied().unwrap_or_default()
}
