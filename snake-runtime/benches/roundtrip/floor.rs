//! The floor: the same trips over a bare socketpair, with nothing but a length prefix.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::plan::{BYTES_SIZES, FLOOR_MESSAGE, KIB_4, MIB_1, Plan, WINDOW};
use crate::stats::Latency;

type BoxError = Box<dyn std::error::Error>;

/// Set for the floor's echo process, with [`ENV_FLOOR_FD`]: this binary's role in that process.
pub(crate) const ENV_ROLE: &str = "SNAKE_BENCH_ROLE";
pub(crate) const ROLE_FLOOR_ECHO: &str = "floor-echo";
/// The echo process's end of the socketpair.
const ENV_FLOOR_FD: &str = "SNAKE_BENCH_FLOOR_FD";

/// Largest message the echo accepts: a corrupt length must not allocate gigabytes.
const MAX_MESSAGE: usize = 128 * MIB_1;

/// The floor figures of one placement.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Floor {
    pub(crate) std_small: Latency,
    pub(crate) tokio_small: Latency,
    pub(crate) std_4k: Latency,
    pub(crate) std_1m: Latency,
    /// The same at each of [`BYTES_SIZES`].
    pub(crate) std_bytes: [Latency; 4],
    /// Messages/s with [`WINDOW`] in flight.
    pub(crate) pipelined: f64,
}

pub(crate) fn measure(plan: &Plan) -> Result<Floor, BoxError> {
    let echo = Echo::spawn().map_err(|e| format!("starting the floor's echo process: {e}"))?;
    let std_small = round_trips(&echo, FLOOR_MESSAGE, plan.warmup, plan.iters)?;
    let std_4k = round_trips(&echo, KIB_4, plan.warmup, plan.iters)?;
    let std_1m = round_trips(&echo, MIB_1, plan.large_warmup, plan.large_iters)?;
    let mut std_bytes = [std_4k; 4];
    for (latency, len) in std_bytes.iter_mut().zip(BYTES_SIZES) {
        let (warmup, iters) = plan.counts(len);
        *latency = round_trips(&echo, len, warmup, iters)?;
    }
    let pipelined = pipelined(&echo, plan.pipeline_for)?;
    drop(echo);
    let tokio_small = tokio_round_trips(plan)?;
    Ok(Floor { std_small, tokio_small, std_4k, std_1m, std_bytes, pipelined })
}

/// The small blocking std round trips alone, with a fresh echo process.
pub(crate) fn small_round_trips(plan: &Plan) -> Result<Latency, BoxError> {
    let echo = Echo::spawn().map_err(|e| format!("starting the floor's echo process: {e}"))?;
    Ok(round_trips(&echo, FLOOR_MESSAGE, plan.warmup, plan.iters)?)
}

/// A copy of this binary echoing messages on its end of a socketpair; stopped on drop.
#[derive(Debug)]
struct Echo {
    child: Child,
    stream: UnixStream,
}

impl Echo {
    fn spawn() -> io::Result<Self> {
        // Both ends are close-on-exec; only the forked child clears the flag on its end.
        let (stream, child_end) = UnixStream::pair()?;
        let fd = child_end.as_raw_fd();
        let mut command = Command::new(std::env::current_exe()?);
        command.env(ENV_ROLE, ROLE_FLOOR_ECHO).env(ENV_FLOOR_FD, fd.to_string()).stdin(Stdio::null());
        // SAFETY: the closure runs between fork and exec and only calls fcntl, which is
        // async-signal-safe, on a descriptor the forked process owns.
        unsafe {
            command.pre_exec(move || {
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn()?;
        drop(child_end);
        Ok(Self { child, stream })
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        // End of stream ends the echo loop.
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
        let _ = self.child.wait();
    }
}

/// The echo process's whole life: read a message, send it back, until end of stream.
pub(crate) fn serve_echo() -> Result<(), BoxError> {
    let fd: RawFd = std::env::var(ENV_FLOOR_FD)
        .map_err(|e| format!("{ENV_FLOOR_FD}: {e}"))?
        .parse()
        .map_err(|e| format!("{ENV_FLOOR_FD}: {e}"))?;
    // SAFETY: the parent passed this descriptor, open, to this process alone, and nothing
    // here has claimed it yet.
    let stream = unsafe { UnixStream::from_raw_fd(fd) };
    let mut reader = BufReader::with_capacity(64 * 1024, &stream);
    let mut writer = BufWriter::with_capacity(64 * 1024, &stream);
    let mut body = Vec::new();
    loop {
        let mut prefix = [0u8; 4];
        match reader.read_exact(&mut prefix) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let len = u32::from_le_bytes(prefix) as usize;
        if len > MAX_MESSAGE {
            return Err(format!("floor echo: a {len}-byte message is over the {MAX_MESSAGE}-byte limit").into());
        }
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
        writer.write_all(&prefix)?;
        writer.write_all(&body)?;
        // Answer everything already read with one write, as a batching server would.
        if reader.buffer().is_empty() {
            writer.flush()?;
        }
    }
}

/// A message of `len` bytes with its length prefix.
fn message(len: usize) -> Vec<u8> {
    let prefix = u32::try_from(len).expect("floor messages fit a u32 length");
    let mut message = prefix.to_le_bytes().to_vec();
    message.resize(4 + len, b'x');
    message
}

fn round_trips(echo: &Echo, len: usize, warmup: usize, iters: usize) -> io::Result<Latency> {
    let message = message(len);
    let mut back = vec![0; message.len()];
    let mut stream = &echo.stream;
    let mut samples = Vec::with_capacity(iters);
    for i in 0..warmup + iters {
        back[4] = 0;
        let start = Instant::now();
        stream.write_all(&message)?;
        stream.read_exact(&mut back)?;
        let took = start.elapsed();
        assert!(back == message, "the floor echo answered a {len}-byte message with other bytes");
        if i >= warmup {
            samples.push(took);
        }
    }
    Ok(Latency::from_samples(samples))
}

/// The same small round trips with a tokio current-thread runtime on the parent side.
fn tokio_round_trips(plan: &Plan) -> Result<Latency, BoxError> {
    let echo = Echo::spawn().map_err(|e| format!("starting the floor's echo process: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    let latency = runtime.block_on(async {
        // The clone shares the socket; `echo` keeps its end only to shut it down.
        let std_stream = echo.stream.try_clone()?;
        std_stream.set_nonblocking(true)?;
        let mut stream = tokio::net::UnixStream::from_std(std_stream)?;
        let message = message(FLOOR_MESSAGE);
        let mut back = vec![0; message.len()];
        let mut samples = Vec::with_capacity(plan.iters);
        for i in 0..plan.warmup + plan.iters {
            back[4] = 0;
            let start = Instant::now();
            stream.write_all(&message).await?;
            stream.read_exact(&mut back).await?;
            let took = start.elapsed();
            assert!(back == message, "the floor echo answered with other bytes");
            if i >= plan.warmup {
                samples.push(took);
            }
        }
        Ok::<_, io::Error>(Latency::from_samples(samples))
    })?;
    drop(echo);
    Ok(latency)
}

/// Small messages per second with [`WINDOW`] in flight, refilled as answers arrive.
fn pipelined(echo: &Echo, run_for: Duration) -> io::Result<f64> {
    let message = message(FLOOR_MESSAGE);
    // WINDOW messages are 17 KiB: they fit the socket buffers, so a write never waits for
    // our own reads and one thread can do both.
    let burst = message.repeat(WINDOW);
    let mut buf = vec![0; burst.len()];
    let mut stream = &echo.stream;
    let start = Instant::now();
    stream.write_all(&burst)?;
    let (mut in_flight, mut answered, mut partial) = (WINDOW, 0u64, 0usize);
    while in_flight > 0 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        partial += n;
        let whole = partial / message.len();
        partial %= message.len();
        in_flight -= whole;
        answered += whole as u64;
        if whole > 0 && start.elapsed() < run_for {
            stream.write_all(&burst[..whole * message.len()])?;
            in_flight += whole;
        }
    }
    Ok(answered as f64 / start.elapsed().as_secs_f64())
}
