//! Helpers shared by the integration tests.

use std::future::Future;
use std::path::PathBuf;

use kameo::error::SendError;
use libtest_mimic::{Failed, Trial};
use snake::{PythonChildProcessBuilder, PythonConfig, PythonExecutionError};

/// A test that runs on its own multi-thread runtime.
pub fn trial<F, Fut>(name: &'static str, test: F) -> Trial
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    Trial::test(name, move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Failed::from(format!("runtime: {e}")))?;
        runtime.block_on(test());
        Ok(())
    })
}

/// The directory of the test handlers.
pub fn python_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("python")
}

/// A config for `module.function` in the test handlers directory.
pub fn config(module: &str, function: &str) -> PythonConfig {
    PythonConfig {
        module_name: module.into(),
        function_name: function.into(),
        module_path: python_dir().display().to_string(),
        ..PythonConfig::default()
    }
}

/// A builder for `handlers.function`.
pub fn builder(function: &str) -> PythonChildProcessBuilder {
    PythonChildProcessBuilder::new(config("handlers", function))
}

/// The `PythonExecutionError` inside a failed `ask`.
pub fn handler_error<T: std::fmt::Debug, M>(
    result: Result<T, SendError<M, PythonExecutionError>>,
) -> PythonExecutionError {
    match result {
        Err(SendError::HandlerError(err)) => err,
        Err(other) => panic!("expected a handler error, got {other:?}"),
        Ok(value) => panic!("expected an error, got {value:?}"),
    }
}

/// Whether a process with this pid is alive (a zombie waiting to be reaped is not).
pub fn process_exists(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(')').map(|(_, rest)| rest.trim_start().starts_with('Z')))
        .is_some_and(|zombie| !zombie)
}

/// Whether a process with this pid exists at all, zombie or not.
pub fn pid_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Waits up to `secs` for a process to disappear.
pub async fn wait_gone(pid: u32, secs: u64) -> bool {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if !process_exists(pid) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}

/// Writes `stubs` (rendered stub files by name) and the fixture `fixture` from [`python_dir`] to a
/// fresh folder, and asserts that `mypy --strict` and pyright both accept them together.
pub fn type_check_with_stubs(stubs: &std::collections::BTreeMap<String, String>, fixture: &str) {
    let stem = fixture.trim_end_matches(".py");
    let dir = std::env::temp_dir().join(format!("snake-stubs-{stem}-{}", std::process::id()));
    snake::stubs::write_files(&dir, stubs).expect("write stubs");
    std::fs::copy(python_dir().join(fixture), dir.join(fixture)).expect("copy the fixture");
    for (tool, args) in
        [("mypy", &["-m", "mypy", "--strict", "--no-incremental", "."][..]), ("pyright", &["-m", "pyright", "."][..])]
    {
        let out = std::process::Command::new("python3").args(args).current_dir(&dir).output().expect(tool);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{tool} refused {fixture}:\n{text}{}", String::from_utf8_lossy(&out.stderr));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Whether `address` lies in a memfd mapping of this process (shared memory, read in place).
pub fn in_a_memfd(address: *const u8) -> bool {
    let address = address as usize;
    let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
    maps.lines().any(|line| {
        let mut fields = line.split_whitespace();
        let range = fields.next().unwrap_or_default();
        let path = fields.nth(4).unwrap_or_default();
        let (start, end) = range.split_once('-').unwrap_or_default();
        let (start, end) = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16));
        matches!((start, end), (Ok(start), Ok(end)) if (start..end).contains(&address)) && path.starts_with("/memfd:")
    })
}
