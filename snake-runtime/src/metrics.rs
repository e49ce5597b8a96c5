//! Per-actor call metrics: counts, outcomes, calls in flight and a latency histogram.
//!
//! Every update is a few relaxed atomic operations (no lock), because calls finish on the
//! connection's reader task while many callers start new ones. The same figures also go to
//! OpenTelemetry instruments (with the default `otel` feature) of the global meter `snake` (`snake.calls`, `snake.call.errors`,
//! `snake.calls.in_flight`, `snake.call.duration`, `snake.callbacks`, `snake.callback.duration`,
//! `snake.restarts`, each with the attribute `snake.actor`); without a meter provider they cost a
//! no-op call. Instruments are created when the actor starts, so install the provider before
//! spawning actors.
//!
//! [`GetMetrics`] returns a [`MetricsSnapshot`] for logs, health endpoints and tests that do not
//! run an OpenTelemetry pipeline.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Serialize;

use self::instruments::Instruments;

mod instruments;
mod workers;

pub use self::workers::{WorkerState, WorkerStatus};

/// Upper bounds of the latency buckets, in microseconds: eight per decade (roughly log-spaced)
/// from 10 µs, with 60 s as the last; one more bucket holds everything above it.
pub(crate) const BOUNDS_US: [u64; BOUNDS] = bounds();

const BOUNDS: usize = 56;
const MANTISSAS: [u64; 8] = [10, 13, 18, 24, 32, 42, 56, 75];

const fn bounds() -> [u64; BOUNDS] {
    let mut out = [0; BOUNDS];
    let mut i = 0;
    let mut scale = 1;
    while i < BOUNDS - 1 {
        out[i] = MANTISSAS[i % MANTISSAS.len()] * scale;
        if i % MANTISSAS.len() == MANTISSAS.len() - 1 {
            scale *= 10;
        }
        i += 1;
    }
    out[BOUNDS - 1] = 60_000_000;
    out
}

/// Index of the bucket that holds `us`: bucket `i` holds `(BOUNDS_US[i - 1], BOUNDS_US[i]]`.
fn bucket(us: u64) -> usize {
    BOUNDS_US.partition_point(|&bound| bound < us)
}

/// A fixed-bucket latency histogram with exact count, sum, min and max.
#[derive(Debug)]
pub(crate) struct LatencyHistogram {
    buckets: [AtomicU64; BOUNDS + 1],
    sum_us: AtomicU64,
    min_us: AtomicU64,
    max_us: AtomicU64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_us: AtomicU64::new(0),
            min_us: AtomicU64::new(u64::MAX),
            max_us: AtomicU64::new(0),
        }
    }
}

impl LatencyHistogram {
    pub(crate) fn record(&self, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket(us)].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.min_us.fetch_min(us, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    pub(crate) fn summary(&self) -> LatencySummary {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let count: u64 = counts.iter().sum();
        if count == 0 {
            return LatencySummary::default();
        }
        let (min, max) = (self.min_us.load(Ordering::Relaxed), self.max_us.load(Ordering::Relaxed));
        let at = |q| percentile(&counts, count, q, min, max);
        LatencySummary {
            count,
            mean: self.sum_us.load(Ordering::Relaxed) / count,
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max,
        }
    }
}

/// Estimates quantile `q` of the recorded values: finds the bucket that holds the value of rank
/// `ceil(q * count)` and interpolates linearly inside it, with the bucket narrowed to the observed
/// `min` and `max` (so a histogram of equal values gives that value exactly).
fn percentile(counts: &[u64], count: u64, q: f64, min: u64, max: u64) -> u64 {
    let rank = ((q * count as f64).ceil() as u64).clamp(1, count);
    let mut seen = 0;
    for (i, &n) in counts.iter().enumerate() {
        if n == 0 {
            continue;
        }
        if seen + n >= rank {
            let lower = (if i == 0 { 0 } else { BOUNDS_US[i - 1] }).max(min);
            let upper = BOUNDS_US.get(i).copied().unwrap_or(max).min(max).max(lower);
            let offset = ((upper - lower) as f64 * (rank - seen) as f64 / n as f64).round() as u64;
            return lower + offset;
        }
        seen += n;
    }
    max
}

/// Latency of finished calls, in microseconds. Percentiles are estimates from the histogram
/// buckets (within one bucket, about 30%); `count`, `mean` and `max` are exact.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct LatencySummary {
    /// Calls measured.
    pub count: u64,
    /// Mean latency.
    pub mean: u64,
    /// Median latency.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest latency seen.
    pub max: u64,
}

/// Counts per error kind without a lock: a few slots claimed on first use (error kinds are a
/// small fixed set of `&'static str`), and one overflow count.
#[derive(Debug)]
struct KindCounts {
    slots: [(OnceLock<&'static str>, AtomicU64); 32],
    other: AtomicU64,
}

impl Default for KindCounts {
    fn default() -> Self {
        Self { slots: std::array::from_fn(|_| (OnceLock::new(), AtomicU64::new(0))), other: AtomicU64::new(0) }
    }
}

impl KindCounts {
    fn add(&self, kind: &'static str) {
        for (name, count) in &self.slots {
            if *name.get_or_init(|| kind) == kind {
                count.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        self.other.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> BTreeMap<String, u64> {
        let mut out: BTreeMap<String, u64> = self
            .slots
            .iter()
            .filter_map(|(name, count)| Some(((*name.get()?).to_owned(), count.load(Ordering::Relaxed))))
            .filter(|&(_, n)| n > 0)
            .collect();
        let other = self.other.load(Ordering::Relaxed);
        if other > 0 {
            *out.entry("other".to_owned()).or_default() += other;
        }
        out
    }
}

/// The call metrics of one actor. Updated by the connection; read with [`GetMetrics`].
#[derive(Debug)]
pub struct ActorMetrics {
    actor: String,
    calls: AtomicU64,
    ok: AtomicU64,
    errors: KindCounts,
    in_flight: AtomicI64,
    callbacks: AtomicU64,
    callback_errors: AtomicU64,
    restarts: AtomicU64,
    recycles: AtomicU64,
    latency: LatencyHistogram,
    otel: Instruments,
}

impl ActorMetrics {
    /// Metrics for the actor labelled `actor` (the label its log events carry).
    pub fn new(actor: &str) -> Arc<Self> {
        Arc::new(Self {
            actor: actor.to_owned(),
            calls: AtomicU64::new(0),
            ok: AtomicU64::new(0),
            errors: KindCounts::default(),
            in_flight: AtomicI64::new(0),
            callbacks: AtomicU64::new(0),
            callback_errors: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            recycles: AtomicU64::new(0),
            latency: LatencyHistogram::default(),
            otel: Instruments::new(actor),
        })
    }

    /// A call or stream was sent.
    pub(crate) fn call_started(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.otel.call_started();
    }

    /// A call or stream ended: `error` is the [`PythonExecutionError::kind`](crate::PythonExecutionError::kind) it failed with.
    pub(crate) fn call_finished(&self, elapsed: Duration, error: Option<&'static str>) {
        match error {
            None => {
                self.ok.fetch_add(1, Ordering::Relaxed);
            }
            Some(kind) => self.errors.add(kind),
        }
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.latency.record(elapsed);
        self.otel.call_finished(elapsed, error);
    }

    /// The parent answered a callback from the child.
    pub(crate) fn callback_served(&self, elapsed: Duration, error: Option<&'static str>) {
        self.callbacks.fetch_add(1, Ordering::Relaxed);
        if error.is_some() {
            self.callback_errors.fetch_add(1, Ordering::Relaxed);
        }
        self.otel.callback_served(elapsed, error);
    }

    /// A worker was replaced after it died (`reason`: the error kind it ended with).
    pub(crate) fn restarted(&self, reason: &'static str) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
        self.otel.restarted(reason);
    }

    /// A worker was replaced gracefully (`reason`: `max_requests`, `max_age`, `max_rss` or
    /// `reload`).
    pub(crate) fn recycled(&self, reason: &'static str) {
        self.recycles.fetch_add(1, Ordering::Relaxed);
        self.otel.recycled(reason);
    }

    /// The figures so far. Each counter is read atomically, but not all of them at one instant:
    /// with calls running, `calls` may be ahead of `ok + errors + in_flight` by a call or two.
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            actor: self.actor.clone(),
            calls: self.calls.load(Ordering::Relaxed),
            ok: self.ok.load(Ordering::Relaxed),
            errors: self.errors.snapshot(),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            callbacks: self.callbacks.load(Ordering::Relaxed),
            callback_errors: self.callback_errors.load(Ordering::Relaxed),
            restarts: self.restarts.load(Ordering::Relaxed),
            recycles: self.recycles.load(Ordering::Relaxed),
            latency: self.latency.summary(),
            workers: Vec::new(),
        }
    }
}

/// A point-in-time copy of an actor's [`ActorMetrics`]; serializes to JSON for health endpoints.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// The actor's label (`module.function`, or `module (actor key)` for `#[snake::actor]`).
    pub actor: String,
    /// Calls and streams sent.
    pub calls: u64,
    /// Calls answered, and streams ended, without an error.
    pub ok: u64,
    /// Failed calls by [`PythonExecutionError::kind`](crate::PythonExecutionError::kind) (`exception`, `call_timed_out`, ...).
    pub errors: BTreeMap<String, u64>,
    /// Calls sent and not yet finished.
    pub in_flight: i64,
    /// Callbacks from the child served.
    pub callbacks: u64,
    /// Of those, how many failed.
    pub callback_errors: u64,
    /// Times a worker was replaced after it died (or its start failed).
    pub restarts: u64,
    /// Times a worker was replaced gracefully (request count, age, memory, reload).
    pub recycles: u64,
    /// Latency of finished calls (streams: until their end).
    pub latency: LatencySummary,
    /// Each worker slot of the actor (one for a single child), in slot order.
    pub workers: Vec<WorkerStatus>,
}

/// Asks a [`PythonActor`](crate::PythonActor) for a [`MetricsSnapshot`] of its calls.
#[derive(Clone, Copy, Debug, Default)]
pub struct GetMetrics;

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(values_us: impl IntoIterator<Item = u64>) -> LatencyHistogram {
        let histogram = LatencyHistogram::default();
        for us in values_us {
            histogram.record(Duration::from_micros(us));
        }
        histogram
    }

    #[test]
    fn bounds_are_log_spaced_from_10us_to_60s() {
        assert_eq!(BOUNDS_US[0], 10);
        assert_eq!(BOUNDS_US[8], 100);
        assert_eq!(BOUNDS_US[16], 1_000);
        assert_eq!(BOUNDS_US[BOUNDS - 2], 56_000_000);
        assert_eq!(BOUNDS_US[BOUNDS - 1], 60_000_000);
        for pair in BOUNDS_US[..BOUNDS - 1].windows(2) {
            let ratio = pair[1] as f64 / pair[0] as f64;
            assert!((1.29..=1.39).contains(&ratio), "{pair:?}: ratio {ratio}");
        }
    }

    #[test]
    fn values_land_in_the_bucket_whose_upper_bound_includes_them() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(10), 0);
        assert_eq!(bucket(11), 1);
        assert_eq!(bucket(13), 1);
        assert_eq!(bucket(14), 2);
        assert_eq!(bucket(100), 8);
        assert_eq!(bucket(101), 9);
        assert_eq!(bucket(60_000_000), BOUNDS - 1);
        assert_eq!(bucket(60_000_001), BOUNDS);
        assert_eq!(bucket(u64::MAX), BOUNDS);
        let h = histogram([5, 10, 11, 60_000_001]);
        let counts: Vec<u64> = h.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        assert_eq!((counts[0], counts[1], counts[BOUNDS]), (2, 1, 1));
        assert_eq!(counts.iter().sum::<u64>(), 4);
    }

    #[test]
    fn empty_histogram_summarises_to_zeros() {
        assert_eq!(LatencyHistogram::default().summary(), LatencySummary::default());
    }

    #[test]
    fn equal_values_give_exact_percentiles() {
        let s = histogram(std::iter::repeat_n(250, 1000)).summary();
        assert_eq!((s.count, s.mean, s.p50, s.p90, s.p99, s.max), (1000, 250, 250, 250, 250, 250));
    }

    #[test]
    fn uniform_distribution_percentiles_are_close() {
        // 1..=10_000 µs: the true p50, p90, p99 are 5_000, 9_000, 9_900.
        let s = histogram(1..=10_000).summary();
        assert_eq!((s.count, s.mean, s.max), (10_000, 5_000, 10_000));
        for (estimate, truth) in [(s.p50, 5_000.0), (s.p90, 9_000.0), (s.p99, 9_900.0)] {
            let error = (estimate as f64 - truth).abs() / truth;
            assert!(error < 0.05, "estimate {estimate} vs {truth}");
        }
    }

    #[test]
    fn bimodal_distribution_separates_the_tail() {
        // 95 fast calls of 100 µs, 5 slow ones of 2 s.
        let s = histogram(std::iter::repeat_n(100, 95).chain(std::iter::repeat_n(2_000_000, 5))).summary();
        assert_eq!(s.p50, 100);
        assert_eq!(s.p90, 100);
        assert!((1_800_000..=2_000_000).contains(&s.p99), "p99 {}", s.p99);
        assert_eq!(s.max, 2_000_000);
        assert_eq!(s.mean, (95 * 100 + 5 * 2_000_000) / 100);
    }

    #[test]
    fn overflow_bucket_is_bounded_by_the_maximum() {
        let s = histogram([61_000_000, 90_000_000]).summary();
        assert_eq!(s.p50, 75_500_000);
        assert_eq!(s.p99, 90_000_000);
    }

    #[test]
    fn outcomes_and_in_flight_are_counted() {
        let metrics = ActorMetrics::new("test.actor");
        for _ in 0..3 {
            metrics.call_started();
        }
        assert_eq!(metrics.snapshot().in_flight, 3);
        metrics.call_finished(Duration::from_micros(10), None);
        metrics.call_finished(Duration::from_micros(10), Some("exception"));
        metrics.call_finished(Duration::from_micros(10), Some("cancelled"));
        metrics.callback_served(Duration::from_micros(5), None);
        metrics.callback_served(Duration::from_micros(5), Some("callback_failed"));
        metrics.restarted("child_exited");
        let s = metrics.snapshot();
        assert_eq!(s.actor, "test.actor");
        assert_eq!((s.calls, s.ok, s.in_flight), (3, 1, 0));
        assert_eq!(s.errors, BTreeMap::from([("cancelled".to_owned(), 1), ("exception".to_owned(), 1)]));
        assert_eq!((s.callbacks, s.callback_errors, s.restarts), (2, 1, 1));
        assert_eq!(s.latency.count, 3);
    }

    #[test]
    fn error_kinds_beyond_the_slots_are_counted_as_other() {
        const KINDS: [&str; 34] = [
            "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9", "k10", "k11", "k12", "k13", "k14", "k15",
            "k16", "k17", "k18", "k19", "k20", "k21", "k22", "k23", "k24", "k25", "k26", "k27", "k28", "k29", "k30",
            "k31", "k32", "k33",
        ];
        let counts = KindCounts::default();
        for kind in KINDS {
            counts.add(kind);
        }
        counts.add("k0");
        let snapshot = counts.snapshot();
        assert_eq!(snapshot.len(), 33);
        assert_eq!(snapshot["k0"], 2);
        assert_eq!(snapshot["other"], 2);
    }
}
