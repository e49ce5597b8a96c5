//! Round-trip benchmark: what a call into a Python child costs, next to what the machine charges
//! for the same trip with no framework at all.
//!
//! Measured in one run, and printed as one markdown table per placement:
//!
//! - **floor**: 64-byte length-prefixed messages bounced over a socketpair off a copy of this
//!   binary that echoes them with blocking std I/O. The parent side is measured with blocking std
//!   I/O and with a tokio current-thread runtime (the project's parent side is tokio), with 4 KiB
//!   and 1 MiB messages for the payload rows, and pipelined with 256 messages in flight;
//! - **sync / async round trip**: sequential `ask`s of a small message (its call frame is about
//!   the floor's size) to a plain `def` and to an `async def` echo handler, p50 and p99, from a
//!   task spawned on the parent's multi-thread runtime. The sync p50 is also taken from
//!   `block_on` on the main thread (the body of `#[snake::main]`) and with a current-thread
//!   parent runtime, because where the caller runs moves the figure by up to 2-3x;
//! - **pipelined**: calls/s through one child with 256 calls in flight, for both handlers;
//! - **payloads**: p50 round trip of a 4 KiB and a 1 MiB string echoed by the sync handler;
//! - **bytes**: p50 round trip of a `snake::SharedBytes` of 4 KiB, 1 MiB, 16 MiB and 100 MiB echoed
//!   by the sync handler (through shared memory from 64 KiB up), against the floor's round trip of
//!   the same size, and `multiprocessing.shared_memory` with numpy between two Python processes.
//! - **arrays** (feature `numpy`): p50 of a float32 `snake::Array` of 1 MiB and 100 MiB sent to the
//!   sync handler, summed there (`arr.sum()`, back as a scalar) and echoed back as an array, each
//!   against the floor's round trip of the same size, beside the same Python peer doing the same
//!   sum and echo on float32 arrays.
//!
//! Why ratios to a floor: on these virtual machines a round trip is dominated by wake-ups, and
//! waking a process on an idle core costs about 20 µs each way, so the same ping-pong is several
//! times slower unpinned than pinned to one core, and moves from run to run. An absolute figure
//! says little; its ratio to the floor measured in the same run, under the same placement, says
//! what the framework adds. The floor is measured again at the end of the suite, and the table
//! says so when it moved: unpinned, it flips between about 9 µs and about 40 µs with the load of
//! the machine. The suite runs twice: unpinned, then pinned to CPU 0, by re-executing this binary
//! with `SNAKE_BENCH_PIN=0`, which sets the main thread's affinity before any runtime or child
//! exists, so that every thread and child process inherits it.
//!
//! The design targets (sync p50 within 1.5x the floor, async p50 within 3x, pipelined sync at
//! least 100,000 calls/s) are reported, never asserted: this is a report, not a test. Only a
//! wrong echo fails the run.
//!
//! `cargo bench -p snake-runtime` runs the full suite (about 20 s for both placements, once
//! built). Without `--bench` (as under `cargo test --benches`) or with `SNAKE_BENCH_QUICK=1`,
//! every count and duration is cut by 10x for a smoke run.
//!
//! The modules follow the run: `plan` says how much to measure, `floor`, `project` and `payloads`
//! measure (the latter two with the `messages` their children serve), `stats` turns samples into percentiles,
//! `placement` pins the second run, and `report` prints the tables (figures written by `units`).

mod floor;
mod messages;
mod payloads;
mod placement;
mod plan;
mod project;
mod report;
mod stats;
mod units;

use std::error::Error;
use std::io::{self, Write};

use plan::Plan;
use report::Figures;

type BoxError = Box<dyn Error>;

snake::setup_python_subprocess_system! {
    actors = {},
    child_init = { snake::RuntimeConfig::default() },
    parent_init = { run() },
}

fn run() -> Result<(), BoxError> {
    let pinned = placement::pin_as_told()?;
    if let Ok(role) = std::env::var(floor::ENV_ROLE) {
        return match role.as_str() {
            floor::ROLE_FLOOR_ECHO => floor::serve_echo(),
            other => Err(format!("{}={other:?} is not a role of this benchmark", floor::ENV_ROLE).into()),
        };
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--list") {
        // A test runner listing tests (`cargo test -- --list`): this binary holds none.
        return Ok(());
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(io::stderr)
        .try_init();
    let plan = Plan::for_run(&args);
    match pinned {
        Some(cpu) => run_suite(&plan, &format!("Pinned to CPU {cpu}")),
        None => {
            print!("{}", report::intro(&plan));
            run_suite(&plan, "Unpinned")?;
            placement::run_pinned()
        }
    }
}

/// Measures one placement and prints its table.
fn run_suite(plan: &Plan, placement: &str) -> Result<(), BoxError> {
    let floor = floor::measure(plan)?;

    // The project's default parent is a multi-thread runtime; the calls are made from a spawned
    // task, as a server's request handler makes them.
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("building the parent's runtime: {e}"))?;
    let project = runtime
        .block_on(runtime.spawn(project::measure(*plan)))
        .map_err(|e| format!("the measuring task failed: {e}"))??;
    let payloads = runtime
        .block_on(runtime.spawn(payloads::measure(*plan)))
        .map_err(|e| format!("the measuring task failed: {e}"))??;
    // The same calls from `block_on` on the main thread, as in the body of `#[snake::main]`:
    // each reply must also wake the main thread.
    let from_main = runtime.block_on(project::sync_round_trips(*plan))?;
    drop(runtime);
    // And with the whole parent on one thread.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("building a current-thread runtime: {e}"))?;
    let current_thread = runtime.block_on(project::sync_round_trips(*plan))?;
    // Tracing on: a subscriber that records snake's spans (formatted into a sink, no exporter),
    // against the run just above, where the global subscriber filters them out.
    let traced = {
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_writer(io::sink)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        runtime.block_on(project::sync_round_trips(*plan))?
    };
    drop(runtime);

    // Measured again: if the machine's state changed during the run, the ratios are unreliable.
    let floor_after = floor::small_round_trips(plan)?;

    let figures = Figures { floor, project, payloads, from_main, current_thread, traced, floor_after };
    print!("{}", report::table(placement, &figures));
    io::stdout().flush()?;
    Ok(())
}
