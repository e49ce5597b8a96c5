//! The process and IPC engine under snake: it starts a child process, talks to it over a
//! socketpair with a multiplexed, length-prefixed postcard protocol, and supervises it. It knows
//! bytes, not Python and not actors: the layer above chooses what the bodies mean, what the
//! handshake carries besides its versioned core, which error type calls end with, and what
//! observes the connection.
//!
//! The floors, bottom up:
//! - [`frame`]: the frame layout, its header and the decoder with its size limit;
//! - [`handshake`]: the versioned hello and welcome, generic over their payloads;
//! - [`error`]: [`ProtocolError`], [`ExitStatus`], the engine's own failures ([`IpcError`]) and
//!   the [`PeerError`] trait an upper layer's error type implements;
//! - [`records`]: log records and spans a child reports;
//! - [`wire`]: typed bodies, as plain postcard or as a self-describing [`wire::Value`] tree;
//! - [`outbox`]: ordered whole-frame writes from many producers (both processes), and
//!   [`writer`], the child's blocking side of it;
//! - [`shm`]: shared-memory arenas, one per direction, that carry large frames in place;
//! - [`spawn`]: program, minimal environment, socketpair, output pumps, and the child's side
//!   ([`spawn::channel_from_env`]);
//! - [`Connection`]: the parent's end: handshake, in-flight table, cancellation, deadlines,
//!   callbacks through [`CallbackDispatch`], health probes ([`Connection::probe`]), streams with credit ([`RawStream`]), the reader,
//!   drainer and supervisor tasks, and what it reports through [`Hooks`].
//!
//! A child may be written in any language that speaks the frames; this crate's own tests drive a
//! child written in plain Rust.

pub mod connection;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod hooks;
pub mod outbox;
pub mod records;
pub mod shm;
pub mod spawn;
pub mod stream;
pub mod wire;
pub mod writer;

pub use crate::connection::{
    CallbackDispatch, CallbackFuture, CallbackStreamFuture, Connection, EncodedStream, Limits, MAX_OUTSTANDING_PROBES,
    ReplyBody, ReplySink, Setup,
};
pub use crate::error::{ExitStatus, IpcError, PeerError, ProtocolError};
pub use crate::frame::{
    DEFAULT_MAX_FRAME_SIZE, Frame, FrameDecoder, FrameKind, Header, PING_GIL, PING_HEARTBEAT, TraceContext,
};
pub use crate::handshake::{Hello, MAGIC, PROTOCOL_VERSION, Welcome};
pub use crate::hooks::{Hooks, NoHooks};
pub use crate::records::{LogRecord, LogSource, SpanRecord};
pub use crate::spawn::{ENV_CHILD_FD, ProcessSpec, Spawned};
pub use crate::stream::RawStream;
