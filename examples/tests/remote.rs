//! Two OS processes, each a node on its own loopback port, dialing explicitly: the host serves a
//! pool under a name (and a low-level actor under another); the caller looks them up, has an
//! oversize request refused (`RemoteTooLarge`) and a local-only method refused (`LocalOnly`), and
//! makes typed sync and async calls, a low-level call, a stream it drops early (the host releases
//! the generator), a call whose Python calls back into a Rust callback on the host (in the
//! caller's trace). Then the host is killed: the caller's in-flight and later calls fail with
//! `RemoteUnavailable` within the bound; the host restarts under the same name (a new key pair)
//! and the caller's calls succeed again; stopped (SIGSTOP), it fails a call with `Timeout` at the
//! request timeout. A second test spreads calls over two hosts and skips the one that was killed.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_remote");
/// The caller's request timeout, and so the bound on a failed call.
const TIMEOUT_MS: u64 = 3000;

/// A free loopback port (bound, then released for the node to take).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Lines of a child's stdout, read on a thread so that every wait can be bounded.
fn lines(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Waits (bounded) for a line starting with `prefix`; returns it, with every line seen.
fn expect(rx: &mpsc::Receiver<String>, prefix: &str, within: Duration, seen: &mut Vec<String>) -> String {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if line.starts_with(prefix) {
                    return line;
                }
            }
            Err(err) => panic!("no line starting with {prefix:?} within {within:?} ({err}); saw {seen:#?}"),
        }
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn host(port: u16) -> (Killed, mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .args(["host", "--listen", &format!("/ip4/127.0.0.1/tcp/{port}"), "--timeout-ms", &TIMEOUT_MS.to_string()])
        .args(["--stream-idle-ms", "500"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the host starts");
    let stdout = child.stdout.take().expect("host stdout");
    (Killed(child), lines(stdout))
}

/// The number after `after` in `line`.
fn number(line: &str, after: &str) -> u64 {
    let rest = &line[line.find(after).unwrap_or_else(|| panic!("{after:?} in {line:?}")) + after.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a number in {line:?}"))
}

#[test]
fn a_pool_served_to_another_process_survives_its_host_restarting() {
    let (host_port, caller_port) = (free_port(), free_port());
    let (first_host, host_lines) = host(host_port);
    let mut seen = Vec::new();
    let serving = expect(&host_lines, "serving ", Duration::from_secs(60), &mut seen);
    let host_pid = first_host.0.id();
    assert!(serving.ends_with(&format!("pid {host_pid}")), "{serving}");

    let mut caller = Command::new(BIN)
        .args([
            "call",
            "--dial",
            &format!("/ip4/127.0.0.1/tcp/{host_port}"),
            "--listen",
            &format!("/ip4/127.0.0.1/tcp/{caller_port}"),
            "--timeout-ms",
            &TIMEOUT_MS.to_string(),
            "--expect-restart",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the caller starts");
    let caller_lines = lines(caller.stdout.take().expect("caller stdout"));
    let mut caller_stdin = caller.stdin.take().expect("caller stdin");
    let caller = Killed(caller);

    let within = Duration::from_secs(60);
    assert_eq!(expect(&caller_lines, "too large: ", within, &mut seen), "too large: 65540 > 65536");
    assert_eq!(expect(&caller_lines, "low-level: ", within, &mut seen), r#"low-level: 3 words, top [("a", 2)]"#);
    assert_eq!(expect(&caller_lines, "local only: ", within, &mut seen), "local only: metrics true");
    assert_eq!(expect(&caller_lines, "shout: ", within, &mut seen), "shout: HELLO!");
    assert_eq!(expect(&caller_lines, "add: ", within, &mut seen), "add: 42");
    assert_eq!(expect(&caller_lines, "stream: ", within, &mut seen), "stream: [1, 2, 3] then [1, 2, 3, 4, 5]");
    // Both generators closed on the host: the one dropped after three items, and the finished one.
    assert_eq!(expect(&caller_lines, "released: ", within, &mut seen), "released: 2");
    // A stream the caller forgot (no close sent) is released after the host's idle timeout.
    assert_eq!(expect(&caller_lines, "idle released: ", within, &mut seen), "idle released: 1");
    // The callback ran in the host process, in the caller's trace.
    assert_eq!(expect(&caller_lines, "callback: ", within, &mut seen), format!("callback: pid {host_pid} trace true"));

    expect(&caller_lines, "in-flight", within, &mut seen);
    drop(first_host); // SIGKILL: its Python children die with it.
    let failed = expect(&caller_lines, "in-flight failed: ", within, &mut seen);
    assert!(number(&failed, " after ") <= TIMEOUT_MS + 500, "{failed}");
    let later = expect(&caller_lines, "later failed: ", within, &mut seen);
    assert!(number(&later, " after ") <= TIMEOUT_MS + 500, "{later}");

    let (second_host, second_lines) = host(host_port);
    let serving = expect(&second_lines, "serving ", Duration::from_secs(60), &mut seen);
    assert_ne!(
        serving.split_whitespace().nth(3),
        seen.iter().find(|l| l.starts_with("serving ")).and_then(|l| l.split_whitespace().nth(3)),
        "a new key pair"
    );
    writeln!(caller_stdin, "restarted").expect("tell the caller");
    assert_eq!(expect(&caller_lines, "recovered: ", within, &mut seen), "recovered: AGAIN!");

    // A host that hangs (SIGSTOP) keeps its connection: only the application deadline ends the call.
    signal("-STOP", second_host.0.id());
    writeln!(caller_stdin, "stopped").expect("tell the caller");
    let hung = expect(&caller_lines, "stopped host: ", within, &mut seen);
    let bound = Duration::from_millis(TIMEOUT_MS);
    assert!(hung.starts_with(&format!("stopped host: Timeout {{ timeout: {bound:?} }} after ")), "{hung}");
    let took = number(&hung, " after ");
    assert!((TIMEOUT_MS..TIMEOUT_MS + 500).contains(&took), "{hung}");
    signal("-CONT", second_host.0.id());

    let mut caller = caller;
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = caller.0.try_wait().expect("wait for the caller") {
            break status;
        }
        assert!(Instant::now() < deadline, "the caller did not exit; saw {seen:#?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}; saw {seen:#?}");
}

fn signal(signal: &str, pid: u32) {
    let status = Command::new("kill").args([signal, &pid.to_string()]).status().expect("kill runs");
    assert!(status.success(), "kill {signal} {pid}: {status:?}");
}

#[test]
fn calls_spread_over_two_hosts_and_skip_the_one_that_died() {
    let (port_a, port_b) = (free_port(), free_port());
    let (host_a, lines_a) = host(port_a);
    let (host_b, lines_b) = host(port_b);
    let mut seen = Vec::new();
    expect(&lines_a, "serving ", Duration::from_secs(60), &mut seen);
    expect(&lines_b, "serving ", Duration::from_secs(60), &mut seen);
    let pid_b = host_b.0.id();
    let mut caller = Command::new(BIN)
        .args(["spread", "--timeout-ms", &TIMEOUT_MS.to_string()])
        .args(["--dial", &format!("/ip4/127.0.0.1/tcp/{port_a}"), "--dial", &format!("/ip4/127.0.0.1/tcp/{port_b}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the caller starts");
    let caller_lines = lines(caller.stdout.take().expect("caller stdout"));
    let mut caller_stdin = caller.stdin.take().expect("caller stdin");
    let _caller = Killed(caller);
    let within = Duration::from_secs(60);
    // Ten calls over two hosts, round robin: five each.
    assert_eq!(expect(&caller_lines, "spread: ", within, &mut seen), "spread: 2 hosts [5, 5]");
    drop(host_a);
    writeln!(caller_stdin, "killed").expect("tell the caller");
    // At most the one call that found host A dead fails; the rest go to B.
    let after = expect(&caller_lines, "after kill: ", within, &mut seen);
    let (ok, failed) = (number(&after, "ok "), number(&after, "failed "));
    assert!(ok + failed == 20 && failed <= 1, "{after}");
    assert!(after.ends_with(&format!("pids {{{pid_b}}}")), "{after}");
}

#[test]
fn the_remote_example_stubs_are_fresh() {
    snake::stubs::assert_fresh(BIN, concat!(env!("CARGO_MANIFEST_DIR"), "/python"));
}
