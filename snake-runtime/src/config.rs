//! What to run in a child, and how the child's process is set up.

use serde::{Deserialize, Serialize};

/// Which Python code a child runs: the original low-level description of a Python actor.
///
/// The child's `PYTHONPATH` is `module_path` followed by `python_path`; nothing else of the
/// parent's `PYTHONPATH` leaks in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PythonConfig {
    /// Extra directories put on the child's `sys.path`, after `module_path`.
    pub python_path: Vec<String>,
    /// The module to import, e.g. `handlers` or `pkg.handlers`.
    pub module_name: String,
    /// The function in that module that answers each message.
    pub function_name: String,
    /// Variables set in the child's environment (on top of the minimal one).
    pub env_vars: Vec<(String, String)>,
    /// `Some(true)` requires an `async def` function, `Some(false)` a plain one; `None` accepts
    /// either and detects which at import. A mismatch fails the spawn.
    pub is_async: Option<bool>,
    /// The directory that holds the module (first on `sys.path`); empty for none. A path to a
    /// `.py` file means the directory it is in.
    pub module_path: String,
}

impl PythonConfig {
    /// The handler kind `is_async` declares, if it declares one.
    pub(crate) fn declared_mode(&self) -> Option<crate::protocol::HandlerMode> {
        self.is_async.map(|is_async| {
            if is_async { crate::protocol::HandlerMode::Async } else { crate::protocol::HandlerMode::Sync }
        })
    }
}

/// Which tokio runtime the child builds for its own Rust work; returned by `child_init`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Current-thread or multi-thread.
    pub flavor: RuntimeFlavor,
    /// Worker threads of a multi-thread runtime; `None` for tokio's default.
    pub worker_threads: Option<usize>,
}

/// The flavour of a tokio runtime.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RuntimeFlavor {
    /// One thread drives everything (the child default: Python does the work).
    #[default]
    CurrentThread,
    /// A pool of worker threads.
    MultiThread,
}

impl RuntimeConfig {
    /// Builds the runtime this configuration describes.
    pub fn build(&self) -> std::io::Result<tokio::runtime::Runtime> {
        let mut builder = match self.flavor {
            RuntimeFlavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
            RuntimeFlavor::MultiThread => {
                let mut builder = tokio::runtime::Builder::new_multi_thread();
                if let Some(n) = self.worker_threads {
                    builder.worker_threads(n.max(1));
                }
                builder
            }
        };
        builder.enable_all().build()
    }
}
