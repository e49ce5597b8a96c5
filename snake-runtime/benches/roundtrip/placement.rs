//! Where the suite runs: unpinned first, then again in a copy of this binary pinned to CPU 0,
//! and reading back which CPUs a process may use.
//!
//! Also compiled into the `asyncio_bridge` bench (`#[path]`), so it may name nothing of this one.

use std::io::{self, Write};

type BoxError = Box<dyn std::error::Error>;

/// Set by the unpinned run for the pinned one: the CPU to pin to.
const ENV_PIN: &str = "SNAKE_BENCH_PIN";

/// In the pinned copy, pins this thread to the CPU it was given and returns that CPU; in the
/// unpinned run, returns `None`. Call it first of all: no thread, runtime or child exists yet, so
/// all of them inherit the mask.
pub(crate) fn pin_as_told() -> Result<Option<usize>, BoxError> {
    match std::env::var(ENV_PIN) {
        Ok(cpu) => {
            let cpu: usize = cpu.parse().map_err(|e| format!("{ENV_PIN}={cpu:?}: {e}"))?;
            pin_to_cpu(cpu).map_err(|e| format!("pinning to CPU {cpu}: {e}"))?;
            Ok(Some(cpu))
        }
        Err(_) => Ok(None),
    }
}

/// Runs the suite again in a copy of this binary pinned to CPU 0; its output goes to our stdout.
pub(crate) fn run_pinned() -> Result<(), BoxError> {
    io::stdout().flush()?;
    let exe = std::env::current_exe().map_err(|e| format!("locating this executable: {e}"))?;
    let status = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(ENV_PIN, "0")
        .status()
        .map_err(|e| format!("starting the pinned run: {e}"))?;
    if !status.success() {
        return Err(format!("the pinned run failed ({status})").into());
    }
    Ok(())
}

/// Restricts the calling thread to `cpu`; threads and processes it starts later inherit the
/// mask.
fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "no such CPU"));
    }
    // SAFETY: an all-zero `cpu_set_t` is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is below CPU_SETSIZE, checked above.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 is the calling thread; `set` is a valid `cpu_set_t` of the size given.
    if unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The CPUs this thread may run on, as a list of ranges (`0-1`, `0`).
pub(crate) fn allowed_cpus() -> String {
    // SAFETY: an all-zero `cpu_set_t` is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is the calling thread; `set` is a writable `cpu_set_t` of the size given.
    if unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) } != 0 {
        return "unknown".into();
    }
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    // SAFETY: every index is below CPU_SETSIZE.
    for cpu in (0..libc::CPU_SETSIZE as usize).filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) }) {
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == cpu => *end = cpu,
            _ => ranges.push((cpu, cpu)),
        }
    }
    let ranges: Vec<String> = ranges
        .iter()
        .map(|&(start, end)| if start == end { start.to_string() } else { format!("{start}-{end}") })
        .collect();
    ranges.join(",")
}
