//! A snake binary's entry point reads its arguments without assuming UTF-8: a file name that is
//! not UTF-8 on the command line must not panic in `#[snake::main]`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;

#[test]
fn a_non_utf8_argument_does_not_panic_the_entry_point() {
    let output = Command::new(env!("CARGO_BIN_EXE_quickstart"))
        .arg(OsStr::from_bytes(&[b'x', 0xff, b'y']))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("quickstart runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    // The example ran to its end, past the entry point.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("100 concurrent calls counted 5050 words"), "{stdout}");
}
