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
use crate::shm::{Arenas, ENV_SHM, ShmConfig};

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
    /// Shared-memory arenas for large frames ([`crate::shm`]), created here and inherited by the
    /// child; `None` sends every frame over the socket.
    pub shared_memory: Option<ShmConfig>,
}

/// A started child and the parent's end of its channel.
#[derive(Debug)]
pub struct Spawned {
    pub(crate) child: Child,
    pub(crate) socket: UnixStream,
    pub(crate) stderr_tail: StderrTail,
    pub(crate) pumps: Vec<JoinHandle<()>>,
    pub(crate) shm: Option<Arenas>,
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
/// within a tokio runtime (the child is reaped by it, and its output pumps are its tasks).
///
/// The child asks the kernel to kill it when its parent dies (`PR_SET_PDEATHSIG`). The kernel
/// sends that signal when the *thread* that forked the child exits, not the process, so the fork
/// happens on one spawner thread that lives as long as the process: a child started from a
/// short-lived thread (`spawn_blocking`, a `std::thread`) outlives it. The child runs in a
/// process group of its own, so a terminal's Ctrl-C reaches the parent only, which decides how its
/// children stop.
pub async fn spawn(spec: &ProcessSpec) -> Result<Spawned, IpcError> {
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
    // The arenas are passed like the socket, inherited at spawn: they exist before the child runs
    // any code, and its reader needs no ancillary-data path for one handshake.
    let shm = spec.shared_memory.map(Arenas::create).transpose().map_err(spawn_failed)?;
    let shm_fds = match &shm {
        Some(arenas) => {
            let (fds, value) = arenas.for_child();
            command.env(ENV_SHM, value);
            Some(fds)
        }
        None => None,
    };

    let parent_pid = std::process::id();
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe calls
    // (fcntl, prctl, getppid, _exit) on descriptors the forked process owns.
    unsafe {
        command.pre_exec(move || {
            if libc::fcntl(child_fd, libc::F_SETFD, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            for fd in shm_fds.iter().flatten() {
                if libc::fcntl(*fd, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
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
    command.process_group(0);
    let mut child = spawner::spawn(command).await.map_err(spawn_failed)?;
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
    Ok(Spawned { child, socket: parent_end, stderr_tail, pumps, shm })
}

/// The one thread that forks every child (see [`spawn`]).
mod spawner {
    use std::io;
    use std::sync::OnceLock;
    use std::sync::mpsc;

    use tokio::process::{Child, Command};
    use tokio::runtime::Handle;
    use tokio::sync::oneshot;

    struct Request {
        command: Command,
        /// The caller's runtime, which reaps the child.
        runtime: Handle,
        reply: oneshot::Sender<io::Result<Child>>,
    }

    static REQUESTS: OnceLock<Result<mpsc::Sender<Request>, String>> = OnceLock::new();

    fn requests() -> io::Result<&'static mpsc::Sender<Request>> {
        let started = REQUESTS.get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Request>();
            std::thread::Builder::new()
                .name("snake-spawner".into())
                .spawn(move || {
                    for Request { mut command, runtime, reply } in rx {
                        let _entered = runtime.enter();
                        let _ = reply.send(command.spawn());
                    }
                })
                .map(|_| tx)
                .map_err(|e| format!("could not start the spawner thread: {e}"))
        });
        started.as_ref().map_err(|message| io::Error::other(message.clone()))
    }

    /// Runs `command.spawn()` on the spawner thread, within the caller's runtime.
    pub(super) async fn spawn(command: Command) -> io::Result<Child> {
        let (reply, answer) = oneshot::channel();
        let request = Request { command, runtime: Handle::current(), reply };
        requests()?.send(request).map_err(|_| io::Error::other("the spawner thread is gone"))?;
        answer.await.map_err(|_| io::Error::other("the spawner thread is gone"))?
    }
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
/// child. The variable is removed from the environment, so a program the child starts is not
/// mistaken for a child in turn, and the descriptor is made close-on-exec, so it does not inherit
/// the channel either. A number that does not name a socket is refused.
///
/// # Safety
///
/// Call it once, first thing in `main`, while the process has a single thread: it changes the
/// environment, which is not safe while other threads may read it, and it takes ownership of the
/// descriptor, which no other code may have claimed.
pub unsafe fn channel_from_env() -> Option<Result<std::os::unix::net::UnixStream, String>> {
    use std::os::fd::{FromRawFd, RawFd};
    let value = std::env::var_os(ENV_CHILD_FD)?;
    // SAFETY: the caller guarantees that no other thread exists yet.
    unsafe { std::env::remove_var(ENV_CHILD_FD) };
    let Some(fd) = value.to_str().and_then(|s| s.parse::<RawFd>().ok()) else {
        return Some(Err(format!("{ENV_CHILD_FD} is not a file descriptor number")));
    };
    // SAFETY: `stat` is plain old data, filled in by fstat.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat only writes into `stat`; a closed or invalid `fd` makes it fail with EBADF.
    let is_socket = unsafe { libc::fstat(fd, &mut stat) } == 0 && (stat.st_mode & libc::S_IFMT) == libc::S_IFSOCK;
    if !is_socket {
        return Some(Err(format!("{ENV_CHILD_FD}={fd} does not name a socket this process holds")));
    }
    // SAFETY: the parent passed this descriptor, open and not shared with anything else (checked
    // to be a socket), and the caller runs before any other code could have claimed it.
    let stream = unsafe { std::os::unix::net::UnixStream::from_raw_fd(fd) };
    // SAFETY: `fd` is open (owned by `stream`); F_SETFD only changes its close-on-exec flag.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    Some(Ok(stream))
}
