//! The actors a binary can run as a child, and the entry point that decides, before any user
//! code, whether this process is a parent or a child.
//!
//! A child is the same executable started again with [`ENV_CHILD_FD`] set. Its `main` (generated
//! by `#[snake::main]` or `setup_python_subprocess_system!`) calls [`enter`], which never returns
//! in a child: it reads the parent's [`Hello`], looks the requested actor up in the registry and
//! serves it. Entries come from two places: the `actors = {...}` list of the declarative macro and
//! `inventory` submissions (made by [`register_actor!`](crate::register_actor) and, later, by the
//! derive macros), so a binary need not list its actors twice.

use std::io::Read;
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::BytesMut;
use pyo3::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::child::CallbackCodec;
use crate::config::RuntimeConfig;
use crate::error::{ConversionDirection, ProtocolError, PythonExecutionError};
use crate::message::{ChildCallbackMessage, ChildMessage};
use crate::protocol::{
    self, ChildInfo, FrameDecoder, FrameKind, Header, Hello, MAGIC, PROTOCOL_VERSION, Welcome, encode_frame,
};
use crate::schema::Describe;
use crate::{serde_py, wire};

/// Set in a child's environment to the number of its end of the socketpair.
pub const ENV_CHILD_FD: &str = "SNAKE_CHILD_FD";

/// How long a started child waits for the parent's hello before giving up.
const HELLO_TIMEOUT: Duration = Duration::from_secs(60);

/// Converts one method's request to Python and its reply back, for the child.
#[derive(Clone, Copy, Debug)]
pub struct MethodCodec {
    /// Decodes the request body and builds the Python argument.
    pub request_to_python: for<'py> fn(Python<'py>, &[u8]) -> Result<Bound<'py, PyAny>, PythonExecutionError>,
    /// Converts the Python return value and appends its encoded body.
    pub reply_from_python: fn(&Bound<'_, PyAny>, &mut Vec<u8>) -> Result<(), PythonExecutionError>,
}

impl MethodCodec {
    /// The codec for a message type and its reply, through [`serde_py`]; bodies are plain
    /// postcard (the low-level API's types have no [`Describe`]).
    pub const fn serde<M: ChildMessage>() -> Self {
        Self::with::<M, M::Reply>(false, false)
    }

    /// The codec for a request type and a reply (or stream item) type; each body is
    /// self-describing when its type's [`Describe::SELF_DESCRIBING`] says so.
    pub const fn of<Req, Rep>() -> Self
    where
        Req: DeserializeOwned + Serialize + Describe,
        Rep: DeserializeOwned + Serialize + Describe,
    {
        Self::with::<Req, Rep>(Req::SELF_DESCRIBING, Rep::SELF_DESCRIBING)
    }

    const fn with<Req: DeserializeOwned + Serialize, Rep: DeserializeOwned + Serialize>(
        request_self_describing: bool,
        reply_self_describing: bool,
    ) -> Self {
        Self {
            request_to_python: if request_self_describing {
                request_to_python::<Req, true>
            } else {
                request_to_python::<Req, false>
            },
            reply_from_python: if reply_self_describing {
                reply_from_python::<Rep, true>
            } else {
                reply_from_python::<Rep, false>
            },
        }
    }
}

fn request_to_python<'py, M: DeserializeOwned + Serialize, const SELF_DESCRIBING: bool>(
    py: Python<'py>,
    body: &[u8],
) -> Result<Bound<'py, PyAny>, PythonExecutionError> {
    let value: M = wire::decode(body, SELF_DESCRIBING, FrameKind::Call)?;
    serde_py::to_python_at(py, &value, "request")
        .map_err(|error| PythonExecutionError::Conversion { direction: ConversionDirection::Request, error })
}

fn reply_from_python<R: DeserializeOwned + Serialize, const SELF_DESCRIBING: bool>(
    value: &Bound<'_, PyAny>,
    out: &mut Vec<u8>,
) -> Result<(), PythonExecutionError> {
    let reply: R = serde_py::from_python_at(value, "reply")
        .map_err(|error| PythonExecutionError::Conversion { direction: ConversionDirection::Reply, error })?;
    Ok(wire::encode(&reply, SELF_DESCRIBING, out)?)
}

/// One actor a child can serve.
#[derive(Clone, Copy, Debug)]
pub struct ChildEntry {
    /// The registry key the parent asks for.
    pub key: fn() -> &'static str,
    /// Fingerprint of the message types, compared in the handshake.
    pub fingerprint: fn() -> u64,
    /// The codec of each method, by method index.
    pub codecs: fn() -> Vec<MethodCodec>,
    /// The codec of each callback, by callback index.
    pub callbacks: fn() -> Vec<CallbackCodec>,
    /// Whether the callbacks are `#[snake::callback]` functions, which get a typed Python
    /// function each in the `snake_callbacks` module.
    pub named_callbacks: bool,
}

inventory::collect!(ChildEntry);

impl ChildEntry {
    /// The entry of the low-level `PythonActor<M, C>`: one method, converted with `serde_py`.
    pub const fn actor<M: ChildMessage, C: ChildCallbackMessage>() -> Self {
        Self {
            key: actor_key::<M, C>,
            fingerprint: actor_fingerprint::<M, C>,
            codecs: single_codec::<M>,
            callbacks: callback_codec::<C>,
            named_callbacks: false,
        }
    }

    /// The entry of an actor declared with `#[snake::actor]`; its callbacks are the registered
    /// `#[snake::callback]` functions.
    pub const fn typed<A: ActorSpec>() -> Self {
        Self {
            key: actor_spec_key::<A>,
            fingerprint: A::fingerprint,
            codecs: A::codecs,
            callbacks: registered_callbacks,
            named_callbacks: true,
        }
    }
}

fn actor_spec_key<A: ActorSpec>() -> &'static str {
    A::KEY
}

/// What `#[snake::actor]` generates for an actor: everything both processes need to agree on.
#[doc(hidden)]
pub trait ActorSpec: Send + 'static {
    /// Registry key (the Rust path of the declaration).
    const KEY: &'static str;
    /// The Python module it imports unless the config names another.
    const MODULE: &'static str;
    /// The functions, by method index.
    fn methods() -> Vec<crate::protocol::MethodSpec>;
    /// The codec of each method, by method index.
    fn codecs() -> Vec<MethodCodec>;
    /// Fingerprint of the declaration and of the registered callbacks.
    fn fingerprint() -> u64;
}

/// The codecs of every registered `#[snake::callback]`, by index.
pub fn registered_callbacks() -> Vec<CallbackCodec> {
    crate::callback::registered().iter().map(|callback| callback.codec).collect()
}

fn callback_codec<C: ChildCallbackMessage>() -> Vec<CallbackCodec> {
    if std::any::TypeId::of::<C>() == std::any::TypeId::of::<crate::NoCallback>() {
        Vec::new()
    } else {
        vec![CallbackCodec::serde::<C>()]
    }
}

impl CallbackCodec {
    /// The codec for a callback message type and its reply, through [`serde_py`]; bodies are
    /// plain postcard (the low-level API's types have no [`Describe`]).
    pub const fn serde<C: ChildCallbackMessage>() -> Self {
        Self::with::<C, C::Reply>(std::any::type_name::<C>, false, false)
    }

    /// The codec for a callback with argument `A` and reply `R`, named by `name`; each body is
    /// self-describing when its type's [`Describe::SELF_DESCRIBING`] says so.
    pub const fn of<A, R>(name: fn() -> &'static str) -> Self
    where
        A: DeserializeOwned + Serialize + Describe,
        R: DeserializeOwned + Serialize + Describe,
    {
        Self::with::<A, R>(name, A::SELF_DESCRIBING, R::SELF_DESCRIBING)
    }

    const fn with<A: DeserializeOwned + Serialize, R: DeserializeOwned + Serialize>(
        name: fn() -> &'static str,
        arg_self_describing: bool,
        reply_self_describing: bool,
    ) -> Self {
        Self {
            name,
            arg_from_python: if arg_self_describing {
                callback_arg_from_python::<A, true>
            } else {
                callback_arg_from_python::<A, false>
            },
            reply_to_python: if reply_self_describing {
                callback_reply_to_python::<R, true>
            } else {
                callback_reply_to_python::<R, false>
            },
        }
    }
}

fn callback_arg_from_python<C: DeserializeOwned + Serialize, const SELF_DESCRIBING: bool>(
    value: &Bound<'_, PyAny>,
    out: &mut Vec<u8>,
) -> Result<(), PythonExecutionError> {
    let arg: C = serde_py::from_python_at(value, "callback")
        .map_err(|error| PythonExecutionError::Conversion { direction: ConversionDirection::Callback, error })?;
    Ok(wire::encode(&arg, SELF_DESCRIBING, out)?)
}

fn callback_reply_to_python<'py, R: DeserializeOwned + Serialize, const SELF_DESCRIBING: bool>(
    py: Python<'py>,
    body: &[u8],
) -> Result<Bound<'py, PyAny>, PythonExecutionError> {
    let reply: R = wire::decode(body, SELF_DESCRIBING, FrameKind::CallbackReply)?;
    serde_py::to_python_at(py, &reply, "callback_reply")
        .map_err(|error| PythonExecutionError::Conversion { direction: ConversionDirection::Callback, error })
}

fn single_codec<M: ChildMessage>() -> Vec<MethodCodec> {
    vec![MethodCodec::serde::<M>()]
}

/// The registry key of `PythonActor<M, C>`.
pub fn actor_key<M: ChildMessage, C: ChildCallbackMessage>() -> &'static str {
    std::any::type_name::<crate::actor::PythonActor<M, C>>()
}

/// The fingerprint of `PythonActor<M, C>`'s message types.
pub fn actor_fingerprint<M: ChildMessage, C: ChildCallbackMessage>() -> u64 {
    protocol::fingerprint(&[
        std::any::type_name::<M>(),
        std::any::type_name::<M::Reply>(),
        std::any::type_name::<C>(),
        std::any::type_name::<C::Reply>(),
    ])
}

static EXPLICIT: OnceLock<&'static [ChildEntry]> = OnceLock::new();

/// Finds an actor by key among the explicit and the `inventory` entries.
pub(crate) fn find(key: &str) -> Option<ChildEntry> {
    let explicit = EXPLICIT.get().copied().unwrap_or_default();
    explicit.iter().chain(inventory::iter::<ChildEntry>).find(|entry| (entry.key)() == key).copied()
}

/// Whether `main` went through [`enter`], i.e. the current executable can serve as a child.
pub(crate) fn entered() -> bool {
    EXPLICIT.get().is_some()
}

/// The shared body of `#[snake::main]` and `setup_python_subprocess_system!`.
///
/// In a child this never returns: it builds the runtime `child_init` asks for, serves the
/// requested actor and exits. Given `--snake-stubs write|check DIR` it writes or checks the
/// Python stubs and exits. Otherwise it records the explicit entries and returns, and the
/// caller runs the user's main.
pub fn enter(explicit: &'static [ChildEntry], child_init: impl FnOnce() -> RuntimeConfig) {
    let _ = EXPLICIT.set(explicit);
    let Some(fd) = std::env::var_os(ENV_CHILD_FD) else {
        // `<binary> --snake-stubs write|check DIR` writes or checks the Python stubs of every
        // declaration linked into this binary, then exits.
        let args: Vec<String> = std::env::args().collect();
        if let Some(code) = crate::stubs::run_command(&args) {
            std::process::exit(code);
        }
        return;
    };
    let fd: Option<RawFd> = fd.to_str().and_then(|s| s.parse().ok());
    let Some(fd) = fd else {
        eprintln!("snake child: {ENV_CHILD_FD} is not a file descriptor number");
        crate::child::exit(2);
    };
    // SAFETY: the parent passed this descriptor, open and not shared with anything else, and no
    // other code in this process has run yet that could have claimed it.
    let stream = unsafe { UnixStream::from_raw_fd(fd) };
    // Subprocesses that Python code starts must not inherit the channel.
    // SAFETY: `fd` is open (owned by `stream`); F_SETFD only changes its close-on-exec flag.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    let runtime = child_init().build().unwrap_or_else(|err| {
        eprintln!("snake child: could not build the tokio runtime child_init asked for: {err}");
        crate::child::exit(2);
    });
    // The child's own Rust async work runs here; keep it alive for the life of the process.
    std::thread::Builder::new()
        .name("snake-child-runtime".into())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))
        .ok();
    serve_child(stream)
}

fn serve_child(stream: UnixStream) -> ! {
    let hello = match read_hello(&stream) {
        Ok(hello) => hello,
        Err(err) => {
            eprintln!("snake child: no valid hello from the parent: {err}");
            crate::child::exit(2);
        }
    };
    let refuse = |reason: PythonExecutionError, fingerprint: u64| -> ! {
        let welcome = Welcome {
            magic: MAGIC,
            version: PROTOCOL_VERSION,
            fingerprint,
            info: ChildInfo { pid: std::process::id(), ..ChildInfo::default() },
            outcome: Err(reason),
        };
        let mut buf = Vec::new();
        if encode_frame(&mut buf, &Header::new(FrameKind::Welcome, 0), &welcome, hello.max_frame_size as usize).is_ok()
        {
            let _ = std::io::Write::write_all(&mut &stream, &buf);
        }
        crate::child::exit(3);
    };
    let Some(entry) = find(&hello.actor) else {
        refuse(PythonExecutionError::ActorNotRegistered { actor: hello.actor.clone() }, 0)
    };
    let fingerprint = (entry.fingerprint)();
    if fingerprint != hello.fingerprint {
        refuse(
            PythonExecutionError::HandshakeFailed {
                reason: format!(
                    "message type fingerprint mismatch for `{}`: parent {:#018x}, child {fingerprint:#018x} \
                     (the child binary was built from other message types)",
                    hello.actor, hello.fingerprint
                ),
                stderr_tail: Vec::new(),
            },
            fingerprint,
        );
    }
    crate::child::serve(stream, hello, fingerprint, (entry.codecs)(), (entry.callbacks)(), entry.named_callbacks)
}

fn read_hello(stream: &UnixStream) -> Result<Hello, ProtocolError> {
    stream.set_read_timeout(Some(HELLO_TIMEOUT))?;
    let decoder = FrameDecoder::new(protocol::DEFAULT_MAX_FRAME_SIZE);
    let mut buf = BytesMut::new();
    let mut scratch = [0u8; 4096];
    let frame = loop {
        if let Some(frame) = decoder.decode(&mut buf)? {
            break frame;
        }
        let n = (&*stream).read(&mut scratch)?;
        if n == 0 {
            return Err(ProtocolError::Io { message: "the parent closed the channel".into() });
        }
        buf.extend_from_slice(&scratch[..n]);
    };
    stream.set_read_timeout(None)?;
    if frame.header.kind != FrameKind::Hello {
        return Err(ProtocolError::Unexpected { kind: frame.header.kind });
    }
    let (magic, version) = protocol::peek_version(&frame.body)?;
    if magic != MAGIC || version != PROTOCOL_VERSION {
        return Err(ProtocolError::BadHeader {
            message: format!("parent speaks {magic:?} v{version}, this child {MAGIC:?} v{PROTOCOL_VERSION}"),
        });
    }
    frame.decode_body()
}

/// Registers `PythonActor<M>` (or `PythonActor<M, C>`) so that this binary can serve it as a
/// child without listing it in `setup_python_subprocess_system!`.
///
/// ```
/// # use serde::{Serialize, Deserialize};
/// #[derive(Serialize, Deserialize)]
/// struct Greet { name: String }
/// impl snake::ChildMessage for Greet { type Reply = String; }
/// snake::register_actor!(Greet);
/// ```
#[macro_export]
macro_rules! register_actor {
    ($msg:ty $(,)?) => {
        $crate::register_actor!($msg, $crate::NoCallback);
    };
    ($msg:ty, $callback:ty $(,)?) => {
        $crate::__private::inventory::submit! {
            $crate::__private::ChildEntry::actor::<$msg, $callback>()
        }
    };
}
