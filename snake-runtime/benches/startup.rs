//! Start-up benchmark: how long a child takes from the spawn to ready, and where the time goes.
//!
//! Spawns children one after the other and times each from just before the builder's spawn to
//! the spawn's future resolving (process started, hello and welcome exchanged, module imported
//! and checked, the child's threads started). Each child also writes when it reached each step
//! (`SNAKE_STARTUP_TIMES`, see `snake-runtime/src/child/startup.rs`), on the machine-wide
//! monotonic clock, so the table splits the time into: exec and dynamic linking up to `main`;
//! `main` to the parent's hello read; the interpreter's initialization (with `site` and the
//! `.pth` files of site-packages); the child's set-up (the `snake` module, the root logger's
//! level) and the user's module imported; the handlers checked, logging forwarded and the
//! child's threads started (ready); and the welcome's way back to the parent.
//!
//! Two children: `plain`, the low-level builder with one sync handler, and `typed`, a
//! `#[snake::actor]` with a sync and an `async def` handler (annotation check, asyncio loop).
//! Peers in the same run, as a Python user's floor: `python3 -c pass`, `python3 -S -c pass`
//! (no `site`), each timed to its exit, and the first call of a
//! `ProcessPoolExecutor(1, mp_context=spawn)` timed inside Python (its interpreter start
//! excluded).
//!
//! `cargo bench -p snake-runtime --bench startup`; `SNAKE_BENCH_QUICK=1` (or no `--bench`) runs
//! 5 of each instead of 40. A report, not a test.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use snake::{PythonChildProcessBuilder, PythonConfig};

type BoxError = Box<dyn Error>;

#[derive(Debug, Serialize, Deserialize)]
struct Ping {
    seq: u64,
}
impl snake::ChildMessage for Ping {
    type Reply = Ping;
}
snake::register_actor!(Ping);

/// A declared actor: its handlers' annotations are checked at start.
#[snake::actor(module = "startup_bench")]
pub trait Typed {
    /// A plain `def`.
    fn echo(text: String) -> String;
    /// An `async def`: the child starts its asyncio loop.
    async fn echo_async(text: String) -> String;
}

/// The variable the child reads (`snake-runtime/src/child/startup.rs`).
const STARTUP_TIMES: &str = "SNAKE_STARTUP_TIMES";

fn quick() -> bool {
    std::env::var("SNAKE_BENCH_QUICK").is_ok_and(|v| v == "1") || !std::env::args().any(|a| a == "--bench")
}

fn monotonic_nanos() -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

fn config(times: &Path, module_function: &str) -> PythonConfig {
    PythonConfig {
        module_name: "startup_bench".into(),
        function_name: module_function.into(),
        module_path: concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python").into(),
        env_vars: vec![(STARTUP_TIMES.into(), times.display().to_string())],
        ..PythonConfig::default()
    }
}

/// The phases of one start, in ms: exec, to hello, python init, import, ready, welcome; total.
struct Start {
    phases: [f64; 6],
    total: f64,
}

const PHASES: [&str; 6] = [
    "exec to `main`",
    "`main` to hello read",
    "interpreter init (`site`)",
    "set-up, module import",
    "handlers checked, threads started",
    "welcome to parent",
];

/// The last line the child appended: `pid=.. main=.. hello=.. python=.. imported=.. ready=..`.
fn read_marks(times: &Path) -> Result<[u64; 5], BoxError> {
    let text = std::fs::read_to_string(times)?;
    let line = text.lines().last().ok_or("the child wrote no start-up times")?;
    let mut marks = [0u64; 5];
    for (slot, name) in marks.iter_mut().zip(["main", "hello", "python", "imported", "ready"]) {
        *slot = line
            .split_whitespace()
            .find_map(|field| field.strip_prefix(name)?.strip_prefix('='))
            .ok_or_else(|| format!("no `{name}` in {line:?}"))?
            .parse()?;
    }
    Ok(marks)
}

fn start(begun: u64, resolved: u64, times: &Path) -> Result<Start, BoxError> {
    let [main, hello, python, imported, ready] = read_marks(times)?;
    let ms = |from: u64, to: u64| to.saturating_sub(from) as f64 / 1e6;
    Ok(Start {
        phases: [
            ms(begun, main),
            ms(main, hello),
            ms(hello, python),
            ms(python, imported),
            ms(imported, ready),
            ms(ready, resolved),
        ],
        total: ms(begun, resolved),
    })
}

async fn spawn_plain(times: &Path) -> Result<Start, BoxError> {
    let begun = monotonic_nanos();
    let actor = PythonChildProcessBuilder::new(config(times, "plain")).spawn::<Ping>().await?;
    let resolved = monotonic_nanos();
    let pong = actor.ask(Ping { seq: 7 }).await?;
    if pong.seq != 7 {
        return Err("the plain child answered another call".into());
    }
    actor.stop_gracefully().await.ok();
    actor.wait_for_shutdown().await;
    start(begun, resolved, times)
}

async fn spawn_typed(times: &Path) -> Result<Start, BoxError> {
    let begun = monotonic_nanos();
    let typed = Typed::spawn(PythonChildProcessBuilder::new(config(times, "echo"))).await?;
    let resolved = monotonic_nanos();
    if typed.echo_async("hi".into()).await? != "hi" {
        return Err("the typed child answered another call".into());
    }
    if let Some(actor) = typed.actor_ref() {
        actor.stop_gracefully().await.ok();
        actor.wait_for_shutdown().await;
    }
    start(begun, resolved, times)
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn sorted(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values
}

/// A command's wall time to its exit, in ms.
fn time_command(program: &str, args: &[&str]) -> Result<f64, BoxError> {
    let begun = Instant::now();
    let status = Command::new(program).args(args).status()?;
    if !status.success() {
        return Err(format!("{program} {args:?} failed: {status}").into());
    }
    Ok(begun.elapsed().as_secs_f64() * 1e3)
}

/// The first call of a spawn-context `ProcessPoolExecutor(1)`, timed inside Python, in ms.
const POOL_FIRST_CALL: &str = "\
import time
from concurrent.futures import ProcessPoolExecutor
import multiprocessing
if __name__ == '__main__':
    begun = time.perf_counter()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context('spawn')) as pool:
        pool.submit(abs, -1).result()
        print((time.perf_counter() - begun) * 1e3)
";

fn pool_first_call(python: &str, script: &Path) -> Result<f64, BoxError> {
    let out = Command::new(python).arg(script).output()?;
    if !out.status.success() {
        return Err(format!("ProcessPoolExecutor peer failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8(out.stdout)?.trim().parse()?)
}

/// The interpreter itself, not a launcher script (pyenv's shims add tens of ms).
fn python_executable() -> Result<String, BoxError> {
    let launcher = snake::build_python().unwrap_or("python3");
    let out = Command::new(launcher).args(["-c", "import sys; print(sys.executable)"]).output()?;
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

fn print_row(label: &str, totals: &[f64]) {
    println!("| {label} | {:.1} ms | {:.1} ms |", quantile(totals, 0.5), quantile(totals, 0.99));
}

#[snake::main]
async fn main() -> Result<(), BoxError> {
    let runs = if quick() { 5 } else { 40 };
    let scratch: PathBuf = std::env::temp_dir().join(format!("snake-startup-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let times = scratch.join("times");
    let script = scratch.join("pool_first_call.py");
    std::fs::write(&script, POOL_FIRST_CALL)?;
    let python = python_executable()?;

    // One of each first, not counted: the page cache and the allocator's first touches.
    spawn_plain(&times).await?;
    spawn_typed(&times).await?;
    let (mut plain, mut typed, mut pass, mut no_site, mut pool) = (vec![], vec![], vec![], vec![], vec![]);
    // Interleaved, so that a burst of load from elsewhere falls on every row alike.
    for _ in 0..runs {
        plain.push(spawn_plain(&times).await?);
        typed.push(spawn_typed(&times).await?);
        pass.push(time_command(&python, &["-c", "pass"])?);
        no_site.push(time_command(&python, &["-S", "-c", "pass"])?);
        pool.push(pool_first_call(&python, &script)?);
    }
    std::fs::remove_dir_all(&scratch).ok();

    println!("\n### Child start-up ({runs} starts each{}; ms)\n", if quick() { ", quick run" } else { "" });
    println!("| from spawn to ready | p50 | p99 |");
    println!("|---|---|---|");
    print_row("snake child, `plain` (one sync handler, low-level builder)", &sorted(plain.iter().map(|s| s.total)));
    print_row(
        "snake child, `typed` (`#[snake::actor]`, sync + async, annotations checked)",
        &sorted(typed.iter().map(|s| s.total)),
    );
    print_row("`python3 -c pass`, to its exit", &sorted(pass.into_iter()));
    print_row("`python3 -S -c pass` (no `site`), to its exit", &sorted(no_site.into_iter()));
    print_row("`ProcessPoolExecutor(1)` (spawn), first call", &sorted(pool.into_iter()));

    println!("\n| phase (p50) | `plain` | `typed` |");
    println!("|---|---|---|");
    for (index, phase) in PHASES.iter().enumerate() {
        let p50 = |starts: &[Start]| quantile(&sorted(starts.iter().map(|s| s.phases[index])), 0.5);
        println!("| {phase} | {:.1} ms | {:.1} ms |", p50(&plain), p50(&typed));
    }
    Ok(())
}
