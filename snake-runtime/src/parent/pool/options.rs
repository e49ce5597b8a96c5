//! The options of a pool of workers, with their defaults, and the checks made before anything
//! starts.

use std::time::Duration;

use crate::error::PythonExecutionError;

/// How a pool picks the worker for a call that carries no key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Routing {
    /// The worker with the fewest calls in flight; ties go round the pool. The default.
    #[default]
    LeastLoaded,
    /// Each worker in turn, whatever its load.
    RoundRobin,
}

/// A restart window long enough to mean "over the actor's life" (`max_restarts`).
pub(crate) const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Every option of the pool behind one actor. A single child is a pool of one.
#[derive(Clone, Debug)]
pub(crate) struct PoolOptions {
    /// How many workers; `None`: one for `spawn`, the number of cores for `pool`.
    pub(crate) workers: Option<usize>,
    /// How many must be warm before the spawn returns; `None`: all of them.
    pub(crate) min_ready: Option<usize>,
    pub(crate) routing: Routing,
    /// At most this many restarts of one slot within `restart_within`.
    pub(crate) max_restarts: u32,
    pub(crate) restart_within: Duration,
    /// The first restart delay, doubled after each restart in a row, up to `backoff_max`.
    pub(crate) backoff_initial: Duration,
    pub(crate) backoff_max: Duration,
    /// How long a call waits for a worker when none is warm.
    pub(crate) acquire_timeout: Duration,
    pub(crate) max_requests: Option<u64>,
    pub(crate) max_age: Option<Duration>,
    pub(crate) max_rss: Option<u64>,
    pub(crate) memory_limit: Option<u64>,
    pub(crate) sample_interval: Duration,
    pub(crate) unresponsive_after: Option<Duration>,
    /// Warm workers kept idle, ready to replace one that dies.
    pub(crate) spares: usize,
    /// Whether calls of the low-level API are re-sent once when their worker dies under them.
    pub(crate) retry: bool,
    /// Whether the actor is the low-level one (a reload's config names its function).
    pub(crate) low_level: bool,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            workers: None,
            min_ready: None,
            routing: Routing::LeastLoaded,
            max_restarts: 5,
            restart_within: Duration::from_secs(60),
            backoff_initial: Duration::from_millis(50),
            backoff_max: Duration::from_secs(30),
            acquire_timeout: Duration::from_secs(10),
            max_requests: None,
            max_age: None,
            max_rss: None,
            memory_limit: None,
            sample_interval: Duration::from_millis(100),
            unresponsive_after: Some(Duration::from_secs(5)),
            spares: 0,
            retry: false,
            low_level: true,
        }
    }
}

/// The number of cores this process may run on: the default size of a pool.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

fn invalid(option: &str, message: impl Into<String>) -> PythonExecutionError {
    PythonExecutionError::InvalidConfig { option: option.to_owned(), message: message.into() }
}

impl PoolOptions {
    /// The number of workers, with `default` standing in for an unset size.
    pub(crate) fn size(&self, default: usize) -> usize {
        self.workers.unwrap_or(default)
    }

    /// Refuses values that cannot work, before any child starts.
    pub(crate) fn check(&self, workers: usize) -> Result<(), PythonExecutionError> {
        if workers == 0 {
            return Err(invalid("workers", "a pool needs at least one worker"));
        }
        if let Some(min) = self.min_ready
            && (min == 0 || min > workers)
        {
            return Err(invalid("min_ready", format!("must be between 1 and the pool size ({workers}), not {min}")));
        }
        if self.restart_within.is_zero() {
            return Err(invalid(
                "restart_limit",
                "the window is zero, so no restart could ever be counted; use `max_restarts(0)` to never restart",
            ));
        }
        if self.backoff_initial.is_zero() || self.backoff_initial > self.backoff_max {
            return Err(invalid("restart_backoff", "the first delay must be above zero and at most the longest one"));
        }
        if self.acquire_timeout.is_zero() {
            return Err(invalid("acquire_timeout", "must be above zero"));
        }
        if self.max_requests == Some(0) {
            return Err(invalid("max_requests", "must be at least 1"));
        }
        if self.max_age.is_some_and(|age| age.is_zero()) {
            return Err(invalid("max_age", "must be above zero"));
        }
        if self.sample_interval.is_zero() {
            return Err(invalid("memory_sample_interval", "must be above zero"));
        }
        if self.unresponsive_after.is_some_and(|after| after < Duration::from_millis(100)) {
            return Err(invalid("unresponsive_after", "must be at least 100 ms"));
        }
        if let (Some(max_rss), Some(limit)) = (self.max_rss, self.memory_limit)
            && max_rss >= limit
        {
            return Err(invalid(
                "max_rss",
                format!(
                    "{max_rss} bytes is not below `memory_limit` ({limit} bytes), so workers would be killed before they are recycled"
                ),
            ));
        }
        Ok(())
    }

    /// Refuses memory options below what a freshly started child already uses.
    pub(crate) fn check_rss(&self, rss: u64) -> Result<(), PythonExecutionError> {
        for (option, value) in [("max_rss", self.max_rss), ("memory_limit", self.memory_limit)] {
            if let Some(value) = value
                && value <= rss
            {
                return Err(invalid(
                    option,
                    format!(
                        "{value} bytes is below what a freshly started child already uses ({rss} bytes), \
                         so every worker would be replaced at once"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether any option needs the workers' memory sampled.
    pub(crate) fn samples_memory(&self) -> bool {
        self.max_rss.is_some() || self.memory_limit.is_some()
    }

    /// The delay before restart number `attempt` (1 for the first in a row) of a slot: the
    /// initial delay doubled per attempt, capped, times a random factor in [0.5, 1) so that
    /// workers that died together do not restart together.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let doubled = self.backoff_initial.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        doubled.min(self.backoff_max).mul_f64(0.5 + fastrand::f64() / 2.0)
    }
}

/// The resident set size of process `pid` in bytes, from `/proc/<pid>/status`.
pub(crate) fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.trim_start_matches("VmRSS:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_below_it() {
        let options = PoolOptions::default();
        for attempt in 1..=12 {
            let expected = (Duration::from_millis(50) * (1 << (attempt - 1))).min(Duration::from_secs(30));
            for _ in 0..50 {
                let delay = options.backoff(attempt);
                assert!(delay >= expected / 2 && delay < expected, "attempt {attempt}: {delay:?} vs {expected:?}");
            }
        }
        assert!(options.backoff(1000) < Duration::from_secs(30));
    }

    #[test]
    fn values_that_cannot_work_are_refused_by_name() {
        let refused = |options: PoolOptions, workers: usize| match options.check(workers) {
            Err(PythonExecutionError::InvalidConfig { option, .. }) => option,
            other => panic!("{other:?}"),
        };
        assert_eq!(refused(PoolOptions::default(), 0), "workers");
        assert_eq!(refused(PoolOptions { min_ready: Some(3), ..Default::default() }, 2), "min_ready");
        assert_eq!(refused(PoolOptions { restart_within: Duration::ZERO, ..Default::default() }, 1), "restart_limit");
        assert_eq!(refused(PoolOptions { max_requests: Some(0), ..Default::default() }, 1), "max_requests");
        assert_eq!(
            refused(PoolOptions { max_rss: Some(200), memory_limit: Some(100), ..Default::default() }, 1),
            "max_rss"
        );
        assert!(PoolOptions { max_restarts: 0, ..Default::default() }.check(4).is_ok());
        let small = PoolOptions { max_rss: Some(1 << 20), ..Default::default() };
        assert!(
            matches!(small.check_rss(30 << 20), Err(PythonExecutionError::InvalidConfig { option, .. }) if option == "max_rss")
        );
        assert!(small.check_rss(512 << 10).is_ok());
    }

    #[test]
    fn resident_size_of_this_process_is_read() {
        let rss = resident_bytes(std::process::id()).expect("VmRSS");
        assert!(rss > 1 << 20 && rss < 64 << 30, "{rss}");
        assert_eq!(resident_bytes(u32::MAX), None);
    }
}
