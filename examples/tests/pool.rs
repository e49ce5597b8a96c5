//! The pool example runs to its end: every worker serves, a worker killed mid-run costs only the
//! calls it held, and the pool is whole again afterwards.

use std::process::Command;

#[test]
fn the_pool_example_survives_a_killed_worker() {
    let output = Command::new(env!("CARGO_BIN_EXE_pool")).output().expect("the pool example runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {stdout}{stderr}", output.status);
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    assert!(stdout.contains(&format!("a pool of {cores}:")), "{stdout}");
    assert!(stdout.contains(&format!("{cores} workers served")), "{stdout}");
    let line = stdout.lines().find(|line| line.starts_with("killed worker")).expect("the kill line");
    let number = |after: &str| -> u32 {
        let rest = &line[line.find(after).expect(after) + after.len()..];
        rest.split_whitespace().next().and_then(|n| n.parse().ok()).expect("a number")
    };
    let (served, lost) = (number("mid-run: "), number("served, "));
    assert_eq!(served + lost, 400, "{line}");
    assert!(
        lost <= 4 * cores as u32 && served >= 400 - 4 * cores as u32,
        "only the killed worker's calls fail: {line}"
    );
    assert!(line.ends_with(&format!("all {cores} workers warm: true")), "{line}");
    assert!(number("ChildExited; ") >= 1, "{line}");
}
