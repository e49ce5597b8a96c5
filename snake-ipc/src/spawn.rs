//! Starting a child process: its program, its (minimal) environment, the inherited socket, and
//! the pumps that drain its stdout and stderr.
//!
//! The parent creates a `socketpair`, clears close-on-exec on the child's end only in the forked
//! child (`pre_exec`), and passes its number in [`ENV_CHILD_FD`]; [`channel_from_env`] is the
//! child's side of that. stdin is `/dev/null`; stdout and stderr are pipes drained line by line
//! into `tracing` events (keeping the last lines of stderr for error messages), so output can
//! neither corrupt the protocol nor block the child.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::error::IpcError;

/// Set in a child's environment to the number of its end of the socketpair.
pub const ENV_CHILD_FD: &str = "SNAKE_CHILD_FD";

/// Variables passed through from the parent's environment when present (and every `LC_*`),
/// unless [`ProcessSpec::inherit_env`] passes them all.
pub const PASSED_THROUGH: &[&str] = &["PATH", "HOME", "LANG", "TMPDIR", "VIRTUAL_ENV", "PYTHONHOME", "USER", "TZ"];

/// How many stderr lines are kept for error messages.
const TAIL_LINES: usize = 40;

/// Longest line forwarded whole; longer ones are split (a bound on the pump's buffer).
const MAX_LINE: usize = 16 * 1024;

/// How a child process is set up.
#[derive(Clone, Debug, Default)]
pub struct ProcessSpec {
    /// The program; `None` re-executes the current executable.
    pub program: Option<PathBuf>,
    /// Its command-line arguments.
    pub args: Vec<OsString>,
    /// Variables set in its environment, in order (a later one wins).
    pub env: Vec<(OsString, OsString)>,
    /// Whether it gets the parent's whole environment rather than [`PASSED_THROUGH`] only.
    pub inherit_env: bool,
    /// Carried by the `tracing` events of its output lines (field `actor`).
    pub log_label: String,
}

/// A started child and the parent's end of its channel.
#[derive(Debug)]
pub struct Spawned {
    pub(crate) child: Child,
    pub(crate) socket: UnixStream,
    pub(crate) stderr_tail: StderrTail,
    pub(crate) pumps: Vec<JoinHandle<()>>,
}

impl Spawned {
    /// The child's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

/// The last lines a child wrote to stderr.
#[derive(Clone, Debug, Default)]
pub struct StderrTail(Arc<Mutex<VecDeque<String>>>);

impl StderrTail {
    fn push(&self, line: String) {
        let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.len() == TAIL_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// A copy of the kept lines, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).iter().cloned().collect()
    }
}

/// Starts the child with its end of a new socketpair as an inherited descriptor. Must be called
/// within a tokio runtime (its output pumps are tasks).
pub fn spawn(spec: &ProcessSpec) -> Result<Spawned, IpcError> {
    let program = match &spec.program {
        Some(program) => program.clone(),
        None => std::env::current_exe()
            .map_err(|e| IpcError::SpawnFailed { program: "<current executable>".into(), message: e.to_string() })?,
    };
    let spawn_failed =
        |e: std::io::Error| IpcError::SpawnFailed { program: program.display().to_string(), message: e.to_string() };
    // Both ends are close-on-exec; only the forked child clears the flag on its end, so children
    // spawned concurrently by other threads never inherit it.
    let (parent_end, child_end) = UnixStream::pair().map_err(spawn_failed)?;
    let child_fd = child_end.as_raw_fd();

    let mut command = Command::new(&program);
    command
        .args(&spec.args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    if !spec.inherit_env {
        command.env_clear();
        for (key, value) in std::env::vars_os() {
            let passed = key.to_str().is_some_and(|k| PASSED_THROUGH.contains(&k) || k.starts_with("LC_"));
            if passed {
                command.env(key, value);
            }
        }
    }
    for (key, value) in &spec.env {
        command.env(key, value);
    }
    command.env(ENV_CHILD_FD, child_fd.to_string());

    let parent_pid = std::process::id();
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe calls
    // (fcntl, prctl, getppid, _exit) on a descriptor the forked process owns.
    unsafe {
        command.pre_exec(move || {
            if libc::fcntl(child_fd, libc::F_SETFD, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            // If the parent dies, the child is killed: it cannot be supervised any more.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() != parent_pid as libc::pid_t {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(spawn_failed)?;
    drop(child_end);

    let stderr_tail = StderrTail::default();
    let pid = child.id().unwrap_or_default();
    let mut pumps = Vec::with_capacity(2);
    if let Some(stdout) = child.stdout.take() {
        pumps.push(tokio::spawn(pump(stdout, Stream::Stdout, pid, spec.log_label.clone(), None)));
    }
    if let Some(stderr) = child.stderr.take() {
        pumps.push(tokio::spawn(pump(stderr, Stream::Stderr, pid, spec.log_label.clone(), Some(stderr_tail.clone()))));
    }
    Ok(Spawned { child, socket: parent_end, stderr_tail, pumps })
}

#[derive(Clone, Copy, Debug)]
enum Stream {
    Stdout,
    Stderr,
}

/// Forwards a child's output line by line as `tracing` events, keeping the stderr tail.
/// Reading never stops while the child runs, so a burst of output cannot block it.
async fn pump(mut reader: impl AsyncRead + Unpin, stream: Stream, pid: u32, actor: String, tail: Option<StderrTail>) {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        let n = match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut start = 0;
        while let Some(end) = buf[start..].iter().position(|&b| b == b'\n') {
            emit(&buf[start..start + end], stream, pid, &actor, tail.as_ref());
            start += end + 1;
        }
        buf.drain(..start);
        while buf.len() > MAX_LINE {
            let rest = buf.split_off(MAX_LINE);
            emit(&buf, stream, pid, &actor, tail.as_ref());
            buf = rest;
        }
    }
    if !buf.is_empty() {
        emit(&buf, stream, pid, &actor, tail.as_ref());
    }
}

fn emit(line: &[u8], stream: Stream, pid: u32, actor: &str, tail: Option<&StderrTail>) {
    let line = String::from_utf8_lossy(line);
    let line = line.strip_suffix('\r').unwrap_or(&line);
    match stream {
        Stream::Stdout => tracing::info!(target: "snake::child::stdout", child_pid = pid, actor, "{line}"),
        Stream::Stderr => tracing::warn!(target: "snake::child::stderr", child_pid = pid, actor, "{line}"),
    }
    if let Some(tail) = tail {
        tail.push(line.to_owned());
    }
}

/// In a child: its end of the channel, from [`ENV_CHILD_FD`]; `None` when this process is not a
/// child. The descriptor is made close-on-exec, so processes the child starts do not inherit it.
///
/// Call it once, before any other code could open or close descriptors.
pub fn channel_from_env() -> Option<Result<std::os::unix::net::UnixStream, String>> {
    use std::os::fd::{FromRawFd, RawFd};
    let value = std::env::var_os(ENV_CHILD_FD)?;
    let Some(fd) = value.to_str().and_then(|s| s.parse::<RawFd>().ok()) else {
        return Some(Err(format!("{ENV_CHILD_FD} is not a file descriptor number")));
    };
    // SAFETY: the parent passed this descriptor, open and not shared with anything else, and the
    // caller runs before any other code in this process could have claimed it.
    let stream = unsafe { std::os::unix::net::UnixStream::from_raw_fd(fd) };
    // SAFETY: `fd` is open (owned by `stream`); F_SETFD only changes its close-on-exec flag.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    Some(Ok(stream))
}
