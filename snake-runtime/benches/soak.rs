//! Soak benchmark: a long run of calls through one child that crashes now and then, with
//! restarts on. It checks what a service needs from a fleet worker over time: every call ends
//! with exactly one outcome (none lost), no call runs twice, every failure is the child's exit
//! (`ChildExited`), and the parent's memory and descriptors stay flat.
//!
//! 1,000,000 calls at 64 in flight; a random 0.1% of them make the handler call `os._exit(1)`.
//! Each run of a handler appends its call's id to a log file first, so a call run twice shows up
//! twice. It prints one table: outcomes, failures by kind, lost, run twice, restarts, and the
//! parent's resident memory and open descriptors at the start, the middle and the end.
//!
//! `cargo bench -p snake-runtime --bench soak` runs it in full (about a minute once built).
//! Without `--bench` (as under `cargo test --benches`) or with `SNAKE_BENCH_QUICK=1`, it makes
//! 20,000 calls. It is a report, not a test; it exits non-zero only when a call was lost, ran
//! twice or failed with anything but `ChildExited`.

use std::collections::{BTreeMap, HashMap};
use std::error::Error;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde::{Deserialize, Serialize};
use snake::{GetMetrics, PythonChildProcessBuilder, PythonConfig, PythonExecutionError};

type BoxError = Box<dyn Error>;

/// `1` makes the quick run.
const ENV_QUICK: &str = "SNAKE_BENCH_QUICK";
const FULL_CALLS: u64 = 1_000_000;
const QUICK_CALLS: u64 = 20_000;
const IN_FLIGHT: usize = 64;
/// One call in this many crashes its child.
const CRASH_ONE_IN: u64 = 1000;
/// A call with no outcome after this long counts as lost.
const LOST_AFTER: Duration = Duration::from_secs(60);

#[derive(Serialize, Deserialize)]
struct Work {
    id: u64,
    crash: bool,
    log: String,
}

impl snake::ChildMessage for Work {
    type Reply = u64;
}
snake::register_actor!(Work);

snake::setup_python_subprocess_system! {
    actors = {},
    child_init = { snake::RuntimeConfig::default() },
    parent_init = { run() },
}

fn run() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--list") {
        return Ok(());
    }
    let quick = !args.iter().any(|arg| arg == "--bench") || std::env::var_os(ENV_QUICK).is_some_and(|v| v == "1");
    let calls = if quick { QUICK_CALLS } else { FULL_CALLS };
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(soak(calls))?;
    print!("{}", report.table(calls));
    if report.lost > 0 || report.run_twice > 0 || report.failed.keys().any(|kind| kind != "child_exited") {
        return Err("the soak run lost calls, ran one twice, or failed one with something else".into());
    }
    Ok(())
}

#[derive(Default)]
struct Report {
    ok: u64,
    failed: BTreeMap<String, u64>,
    lost: u64,
    run_twice: u64,
    crashes_asked: u64,
    restarts: u64,
    /// (label, resident KiB, open descriptors)
    samples: Vec<(&'static str, u64, usize)>,
    elapsed: Duration,
}

impl Report {
    fn table(&self, calls: u64) -> String {
        let mut out = format!(
            "\n## Soak: {calls} calls, {IN_FLIGHT} in flight, one in {CRASH_ONE_IN} crashes its child\n\n\
             | figure | value |\n|---|---|\n"
        );
        let mut row = |name: &str, value: String| out.push_str(&format!("| {name} | {value} |\n"));
        row("ok", self.ok.to_string());
        for (kind, count) in &self.failed {
            row(&format!("failed: {kind}"), count.to_string());
        }
        row("lost (no outcome)", self.lost.to_string());
        row("run twice", self.run_twice.to_string());
        row("crashes asked for", self.crashes_asked.to_string());
        row("restarts", self.restarts.to_string());
        row("time", format!("{:.1} s", self.elapsed.as_secs_f64()));
        for (label, rss, fds) in &self.samples {
            row(&format!("parent at the {label}: RSS, open fds"), format!("{:.1} MiB, {fds}", *rss as f64 / 1024.0));
        }
        out
    }
}

async fn soak(calls: u64) -> Result<Report, BoxError> {
    let log = std::env::temp_dir().join(format!("snake-soak-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let config = PythonConfig {
        module_name: "soak".into(),
        function_name: "work".into(),
        module_path: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches").join("python").display().to_string(),
        ..PythonConfig::default()
    };
    let actor = PythonChildProcessBuilder::new(config)
        .max_restarts(u32::MAX)
        // Crashes come every few hundred milliseconds here: restart at once, never back off far.
        .restart_backoff(Duration::from_millis(1), Duration::from_millis(5))
        .spawn::<Work>()
        .await?;
    let mut report = Report::default();
    report.samples.push(("start", rss_kib(), open_fds()));
    let log_path = log.display().to_string();
    // A fixed-seed generator, so runs are comparable.
    let mut seed: u64 = 0x5eed_0f50_a4a4;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let started = Instant::now();
    let mut pending = FuturesUnordered::new();
    let finish = |result: Result<Result<u64, PythonExecutionError>, tokio::time::error::Elapsed>,
                  report: &mut Report| match result {
        Ok(Ok(_)) => report.ok += 1,
        Ok(Err(err)) => *report.failed.entry(err.kind().to_owned()).or_default() += 1,
        Err(_) => report.lost += 1,
    };
    for id in 0..calls {
        let crash = next() % CRASH_ONE_IN == 0;
        report.crashes_asked += u64::from(crash);
        let actor = actor.clone();
        let work = Work { id, crash, log: log_path.clone() };
        pending.push(async move { tokio::time::timeout(LOST_AFTER, async { Ok(actor.ask(work).await?) }).await });
        if pending.len() >= IN_FLIGHT {
            let result = pending.next().await.expect("a call is pending");
            finish(result, &mut report);
        }
        if id == calls / 2 {
            report.samples.push(("middle", rss_kib(), open_fds()));
        }
    }
    while let Some(result) = pending.next().await {
        finish(result, &mut report);
    }
    report.elapsed = started.elapsed();
    report.restarts = actor.ask(GetMetrics).await?.restarts;
    report.samples.push(("end", rss_kib(), open_fds()));
    actor.stop_gracefully().await?;
    actor.wait_for_shutdown_result().await.ok();
    let mut runs: HashMap<u64, u32> = HashMap::new();
    for line in std::fs::read_to_string(&log)?.lines() {
        *runs.entry(line.parse()?).or_default() += 1;
    }
    report.run_twice = runs.values().filter(|&&n| n > 1).count() as u64;
    let _ = std::fs::remove_file(&log);
    Ok(report)
}

/// The parent's resident set, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The parent's open descriptors.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|dir| dir.count()).unwrap_or(0)
}
