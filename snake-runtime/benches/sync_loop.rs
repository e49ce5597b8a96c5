//! A small loop of sequential sync calls, for profilers: where one round trip's time goes.
//!
//! `SNAKE_LOOP_CALLS` (default 20,000) sequential `ask`s of a small message to the round-trip
//! benchmark's `echo_sync` handler, after 1,000 warm-up calls. Prints the p50 and, per thread
//! of the parent and of the child, the context switches per call (from `/proc`). Run it under
//! `valgrind --tool=callgrind --trace-children=yes` with two call counts: the difference of the
//! instruction counts divided by the difference of the calls is the instructions per call,
//! start-up excluded.

use std::collections::BTreeMap;
use std::error::Error;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use snake::{PythonChildProcessBuilder, PythonConfig};

#[derive(Debug, Serialize, Deserialize)]
struct Ping {
    seq: u64,
    payload: String,
}

impl snake::ChildMessage for Ping {
    type Reply = Ping;
}

snake::register_actor!(Ping);

snake::setup_python_subprocess_system! {
    actors = {},
    child_init = { snake::RuntimeConfig::default() },
    parent_init = { run() },
}

/// Context switches (voluntary + involuntary) per thread name of process `pid`.
fn switches(pid: u32) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return out };
    for task in tasks.flatten() {
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else { continue };
        let field = |name: &str| {
            status.lines().find_map(|line| line.strip_prefix(name)).map(|v| v.trim().to_owned()).unwrap_or_default()
        };
        let count = field("voluntary_ctxt_switches:").parse::<u64>().unwrap_or(0)
            + field("nonvoluntary_ctxt_switches:").parse::<u64>().unwrap_or(0);
        *out.entry(field("Name:")).or_insert(0) += count;
    }
    out
}

/// The processes whose parent is this one.
fn children() -> Vec<u32> {
    let me = std::process::id().to_string();
    let Ok(procs) = std::fs::read_dir("/proc") else { return Vec::new() };
    procs
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?;
            (ppid == me).then_some(pid)
        })
        .collect()
}

fn run() -> Result<(), Box<dyn Error>> {
    let calls: u64 = std::env::var("SNAKE_LOOP_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(async move {
        let config = PythonConfig {
            module_name: "bench_handlers".into(),
            function_name: "echo_sync".into(),
            module_path: concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python").into(),
            is_async: Some(false),
            ..PythonConfig::default()
        };
        // Generous, and no health probes: under valgrind the child runs 50-100 times slower (and a
        // child killed at the end writes no profile).
        let actor = PythonChildProcessBuilder::new(config)
            .handshake_timeout(Duration::from_secs(300))
            .shutdown_grace(Duration::from_secs(300))
            .unresponsive_after(None)
            .spawn::<Ping>()
            .await?;
        let payload = "x".repeat(32);
        for seq in 0..1_000 {
            actor.ask(Ping { seq, payload: payload.clone() }).await?;
        }
        let child = children();
        let before_parent = switches(std::process::id());
        let before_child: Vec<_> = child.iter().map(|&pid| switches(pid)).collect();
        let mut samples = Vec::with_capacity(calls as usize);
        for seq in 0..calls {
            let start = Instant::now();
            let pong = actor.ask(Ping { seq, payload: payload.clone() }).await?;
            samples.push(start.elapsed());
            assert_eq!(pong.seq, seq, "the echo answers its own call");
        }
        let after_parent = switches(std::process::id());
        samples.sort();
        println!("calls: {calls}, p50: {:?}", samples[samples.len() / 2]);
        let per_call = |label: &str, before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>| {
            for (name, count) in after {
                let delta = count - before.get(name).copied().unwrap_or(0);
                if delta > 0 {
                    println!("{label} {name:<24} {:.2} switches/call", delta as f64 / calls as f64);
                }
            }
        };
        per_call("parent", &before_parent, &after_parent);
        for (pid, before) in child.iter().zip(&before_child) {
            per_call("child ", before, &switches(*pid));
        }
        actor.stop_gracefully().await.ok();
        actor.wait_for_shutdown().await;
        Ok(())
    })
}
