//! When a child reached each step of its start, for `--bench startup`.
//!
//! Set `SNAKE_STARTUP_TIMES` to a file in the child's environment (through the builder's
//! `env_vars`) and the child appends one line to it just before its welcome:
//! `pid=<pid> main=<ns> hello=<ns> python=<ns> imported=<ns> ready=<ns>`, each a
//! `CLOCK_MONOTONIC` reading in nanoseconds (the clock is shared by every process of the machine,
//! so a parent can subtract its own reading taken before the spawn). The steps: `main` entered,
//! the parent's `hello` read, the interpreter initialized (`site` included), the user's module
//! `imported` (after the child's own set-up: the `snake` module, the root logger's level), and
//! everything `ready` (handlers checked, logging forwarded, threads started) just before the
//! welcome.
//!
//! Without the variable a mark costs one relaxed atomic load.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

/// The variable that names the file.
pub(crate) const ENV: &str = "SNAKE_STARTUP_TIMES";

/// A step of the start.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Step {
    Main,
    Hello,
    Python,
    Imported,
}

static ENABLED: AtomicBool = AtomicBool::new(false);
static MARKS: Mutex<[u64; 4]> = Mutex::new([0; 4]);

/// `CLOCK_MONOTONIC` in nanoseconds.
fn monotonic_nanos() -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut now) };
    u64::try_from(now.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(now.tv_nsec).unwrap_or(0))
}

/// Called first in a child's `main`: records [`Step::Main`] when the variable is set.
pub(crate) fn begin() {
    if std::env::var_os(ENV).is_some() {
        ENABLED.store(true, Ordering::Relaxed);
        mark(Step::Main);
    }
}

/// Records that the child reached `step`.
pub(crate) fn mark(step: Step) {
    if ENABLED.load(Ordering::Relaxed) {
        MARKS.lock().unwrap_or_else(PoisonError::into_inner)[step as usize] = monotonic_nanos();
    }
}

/// Appends the marks and the `ready` time to the file. Best effort: a failure to write is not
/// the child's failure.
pub(crate) fn ready() {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let now = monotonic_nanos();
    let [main, hello, python, imported] = *MARKS.lock().unwrap_or_else(PoisonError::into_inner);
    let line = format!(
        "pid={} main={main} hello={hello} python={python} imported={imported} ready={now}\n",
        std::process::id()
    );
    if let Some(path) = std::env::var_os(ENV) {
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut file| file.write_all(line.as_bytes()));
    }
}
