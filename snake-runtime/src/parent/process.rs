//! Starting one Python child: the environment it needs on top of the engine's minimal one
//! (`PYTHONPATH`, unbuffered output, the right libpython), then the engine's spawn and handshake,
//! the check that it serves every declared function, and its warmup.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use snake_ipc::shm::ShmConfig;
use snake_ipc::{CallbackDispatch, Connection, Limits, ProcessSpec, Setup};
use tokio::sync::oneshot;

use super::hooks::ParentHooks;
use crate::config::PythonConfig;
use crate::error::PythonExecutionError;
use crate::protocol::{ChildInfo, HelloPayload, WARMUP_METHOD, WelcomePayload};

/// One running child: the engine's connection to it and what it reported in the handshake.
#[derive(Debug)]
pub(crate) struct Child {
    pub(crate) connection: Arc<Connection<PythonExecutionError>>,
    pub(crate) info: ChildInfo,
}

/// Where and how a Python child runs; filled in by the builder.
#[derive(Clone, Debug)]
pub(crate) struct PythonProcess {
    pub(crate) program: Option<PathBuf>,
    pub(crate) args: Vec<OsString>,
    pub(crate) module_path: String,
    pub(crate) python_path: Vec<String>,
    pub(crate) env_vars: Vec<(String, String)>,
    pub(crate) inherit_env: bool,
    pub(crate) shared_memory: Option<ShmConfig>,
}

impl PythonProcess {
    /// The engine's process spec: the configured variables come last, so they win. Python writes
    /// no `__pycache__` into the user's module directory unless `env_vars` set
    /// `PYTHONDONTWRITEBYTECODE` otherwise.
    fn spec(&self, label: &str) -> ProcessSpec {
        let mut env: Vec<(OsString, OsString)> = vec![
            ("PYTHONPATH".into(), self.python_path()),
            ("PYTHONUNBUFFERED".into(), "1".into()),
            ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
        ];
        if let Some(lib_dir) = crate::python_lib_dir() {
            let mut paths = vec![PathBuf::from(lib_dir)];
            if let (true, Some(existing)) = (self.inherit_env, std::env::var_os("LD_LIBRARY_PATH")) {
                paths.extend(std::env::split_paths(&existing));
            }
            if let Ok(joined) = std::env::join_paths(paths) {
                env.push(("LD_LIBRARY_PATH".into(), joined));
            }
        }
        env.extend(self.env_vars.iter().map(|(key, value)| (key.into(), value.into())));
        ProcessSpec {
            program: self.program.clone(),
            args: self.args.clone(),
            env,
            inherit_env: self.inherit_env,
            log_label: label.to_owned(),
            shared_memory: self.shared_memory,
        }
    }

    fn python_path(&self) -> OsString {
        let mut dirs: Vec<PathBuf> = Vec::new();
        if !self.module_path.is_empty() {
            let path = Path::new(&self.module_path);
            let dir = if path.extension().is_some_and(|ext| ext == "py") {
                path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
            } else {
                path.to_path_buf()
            };
            dirs.push(dir);
        }
        dirs.extend(self.python_path.iter().map(PathBuf::from));
        std::env::join_paths(dirs).unwrap_or_default()
    }
}

/// Everything needed to start (and restart) one actor's child.
#[derive(Clone)]
pub(crate) struct Launch {
    pub(crate) process: PythonProcess,
    pub(crate) fingerprint: u64,
    pub(crate) hello: HelloPayload,
    pub(crate) limits: Limits,
    pub(crate) hooks: Arc<ParentHooks>,
    pub(crate) callbacks: Option<Arc<dyn CallbackDispatch<PythonExecutionError>>>,
    /// A function of the module the child runs once after the handshake, before it is handed
    /// out, and how long it may take. Sent in the hello as [`HelloPayload::warmup`].
    pub(crate) warmup: Option<(String, Duration)>,
}

impl Launch {
    /// Spawns the child, completes the handshake and runs the warmup, if any. A warmup that
    /// raises or outlasts its timeout fails the start (`WarmupFailed`, `WarmupTimedOut`) and
    /// the child is killed and reaped first.
    pub(crate) async fn start(&self) -> Result<Child, PythonExecutionError> {
        let label = self.hooks.label.clone();
        let spawned = snake_ipc::spawn::spawn(&self.process.spec(&label)).await?;
        let setup = Setup { limits: self.limits, label, hooks: self.hooks.clone(), callbacks: self.callbacks.clone() };
        let methods = self.hello.methods.len();
        let accept = |welcome: &WelcomePayload| {
            if welcome.modes.len() == methods {
                Ok(())
            } else {
                Err(format!("child reported {} methods, expected {methods}", welcome.modes.len()))
            }
        };
        let mut hello = self.hello.clone();
        hello.warmup = self.warmup.as_ref().map(|(function, _)| function.clone());
        let (connection, welcome) = Connection::establish(spawned, self.fingerprint, hello, setup, accept).await?;
        if let Some((function, timeout)) = &self.warmup {
            warm_up(&connection, function, *timeout).await?;
        }
        Ok(Child { connection, info: welcome.info })
    }

    /// Applies a reload's new configuration.
    pub(crate) fn apply_config(&mut self, config: PythonConfig, low_level: bool) {
        let mode = config.declared_mode();
        if !config.module_name.is_empty() {
            self.hello.module = config.module_name;
        }
        if low_level && let Some(method) = self.hello.methods.first_mut() {
            method.mode = mode;
            if !config.function_name.is_empty() {
                method.function = config.function_name;
            }
        }
        self.process.module_path = config.module_path;
        self.process.python_path = config.python_path;
        self.process.env_vars = config.env_vars;
    }
}

/// Runs the warmup call; on failure the child is killed (and reaped) before this returns.
async fn warm_up(
    connection: &Arc<Connection<PythonExecutionError>>,
    function: &str,
    timeout: Duration,
) -> Result<(), PythonExecutionError> {
    let (reply, answer) = oneshot::channel();
    connection.call(WARMUP_METHOD, (), Box::new(reply), &tracing::Span::current());
    let failure = match tokio::time::timeout(timeout, answer).await {
        Ok(Ok(Ok(_))) => return Ok(()),
        Ok(Ok(Err(PythonExecutionError::Exception(exception)))) => {
            PythonExecutionError::WarmupFailed { function: function.to_owned(), exception }
        }
        // The child died or broke the protocol meanwhile: that is the error.
        Ok(Ok(Err(other))) => other,
        Ok(Err(_)) => PythonExecutionError::Cancelled,
        Err(_) => PythonExecutionError::WarmupTimedOut { function: function.to_owned(), timeout },
    };
    connection.terminate().await;
    Err(failure)
}
