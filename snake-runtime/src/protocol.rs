//! The wire protocol between a parent and its Python child, in one place.
//!
//! Every frame is `[u32 little-endian length][postcard Header][postcard body]`, where the length
//! counts everything after itself. The length is checked against the connection's maximum frame
//! size before a single byte of the body is buffered, so a corrupt prefix cannot allocate
//! gigabytes. Frames are written whole (one `write` per frame, several frames may share one write)
//! and read by exactly one reader per side, which hands whole frames on: no partially read frame
//! is ever abandoned by a cancelled future.
//!
//! The connection opens with a handshake in both directions: the parent sends [`Hello`] (magic,
//! protocol version, the actor it wants, the fingerprint of the message types it will send), the
//! child answers [`Welcome`] (magic, version, its own fingerprint, pid, Python version, and whether
//! the module imported and every declared function checked out). Only then are calls sent.

use bytes::{Buf, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

use crate::error::{ProtocolError, PythonExecutionError};

/// Bytes that open every handshake frame; anything else on the channel is not a snake peer.
pub const MAGIC: [u8; 4] = *b"SNK\x7f";

/// Bumped on every incompatible change to the frame layout, the header or a handshake message.
pub const PROTOCOL_VERSION: u16 = 1;

/// Default upper bound on one frame (64 MiB). Configurable per child on the builder.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 64 << 20;

/// Size of the length prefix in front of every frame.
pub const LENGTH_PREFIX: usize = 4;

/// What a frame carries. The discriminants are part of the wire format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
#[non_exhaustive]
pub enum FrameKind {
    /// Parent -> child: first frame, a [`Hello`].
    Hello = 0,
    /// Child -> parent: answer to the hello, a [`Welcome`].
    Welcome = 1,
    /// Parent -> child: a request for method `header.method`; the body is the request value.
    Call = 2,
    /// Child -> parent: the successful result of call `header.id`.
    Reply = 3,
    /// Either way: call or callback `header.id` failed; the body is a [`PythonExecutionError`].
    Error = 4,
    /// Either way: the sender no longer wants the result of `header.id`.
    Cancel = 5,
    /// Child -> parent (or parent -> child for callback streams): one item of stream `header.id`.
    StreamItem = 6,
    /// End of stream `header.id`.
    StreamEnd = 7,
    /// Consumer -> producer: `header.method` more stream items may be sent for `header.id`.
    StreamCredit = 8,
    /// Child -> parent: Python called back into Rust; the body is the callback value.
    Callback = 9,
    /// Parent -> child: the result of callback `header.id`.
    CallbackReply = 10,
    /// Child -> parent: a log record, print line or warning from the child.
    Log = 11,
    /// Parent -> child: finish in-flight work and exit.
    Shutdown = 12,
    /// Parent -> child: call a generator method and stream its items back. The body is the
    /// initial credit (`u32`) followed by the request value.
    OpenStream = 13,
    /// Child -> parent: a callback answered with a stream. The body is the originating call id
    /// (`u64`), the initial credit (`u32`) and the argument; items come back as `StreamItem`.
    OpenCallbackStream = 14,
    /// Child -> parent: spans the child finished, as `Vec<SpanRecord>`, for the parent's exporter.
    Spans = 15,
}

/// W3C trace context of the span that sent a frame (the `traceparent` fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TraceContext {
    /// 16-byte trace id.
    pub trace_id: [u8; 16],
    /// 8-byte id of the sending span.
    pub span_id: [u8; 8],
    /// Trace flags (bit 0: sampled).
    pub flags: u8,
}

/// The part of every frame in front of the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// What the frame carries.
    pub kind: FrameKind,
    /// Correlation id: chosen by whoever starts a call (parent) or callback (child), echoed back.
    pub id: u64,
    /// Method index for calls and callbacks; credit count for stream credit; 0 otherwise.
    pub method: u32,
    /// Trace context of the sender's current span, if any.
    pub trace: Option<TraceContext>,
}

impl Header {
    /// A header with no method and no trace context.
    pub const fn new(kind: FrameKind, id: u64) -> Self {
        Self { kind, id, method: 0, trace: None }
    }
}

/// A decoded frame: the header and the still-encoded body.
#[derive(Clone, Debug)]
pub struct Frame {
    /// The decoded header.
    pub header: Header,
    /// The postcard-encoded body, borrowed from the read buffer without a copy.
    pub body: Bytes,
}

impl Frame {
    /// Decodes the body as `T`.
    pub fn decode_body<T: serde::de::DeserializeOwned>(&self) -> Result<T, ProtocolError> {
        postcard::from_bytes(&self.body)
            .map_err(|e| ProtocolError::Decode { kind: self.header.kind, message: e.to_string() })
    }
}

/// Appends one whole frame to `out`. On error `out` is left as it was.
pub fn encode_frame<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    header: &Header,
    body: &T,
    max_frame_size: usize,
) -> Result<(), ProtocolError> {
    encode_frame_with(out, header, max_frame_size, |buf| {
        postcard::to_extend(body, std::mem::take(buf))
            .map(|filled| *buf = filled)
            .map_err(|e| ProtocolError::Encode { message: e.to_string() })
    })
}

/// Appends one whole frame to `out`, letting `body` append the already-encoded body bytes.
pub fn encode_frame_with<E>(
    out: &mut Vec<u8>,
    header: &Header,
    max_frame_size: usize,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<(), E>
where
    E: From<ProtocolError>,
{
    let start = out.len();
    out.extend_from_slice(&[0; LENGTH_PREFIX]);
    let result = postcard::to_extend(header, std::mem::take(out))
        .map(|filled| *out = filled)
        .map_err(|e| E::from(ProtocolError::Encode { message: e.to_string() }))
        .and_then(|()| body(out));
    if let Err(e) = result {
        out.truncate(start);
        return Err(e);
    }
    let len = out.len() - start - LENGTH_PREFIX;
    if len > max_frame_size {
        out.truncate(start);
        return Err(E::from(ProtocolError::FrameTooLarge { size: len, max: max_frame_size }));
    }
    let prefix =
        u32::try_from(len).map_err(|_| E::from(ProtocolError::FrameTooLarge { size: len, max: max_frame_size }))?;
    out[start..start + LENGTH_PREFIX].copy_from_slice(&prefix.to_le_bytes());
    Ok(())
}

/// Splits whole frames off a read buffer. Holds no state of its own: everything that was read
/// stays in the caller's buffer, so the reader can be polled from anywhere without losing bytes.
#[derive(Clone, Copy, Debug)]
pub struct FrameDecoder {
    max_frame_size: usize,
}

impl FrameDecoder {
    /// A decoder that rejects frames longer than `max_frame_size`.
    pub const fn new(max_frame_size: usize) -> Self {
        Self { max_frame_size }
    }

    /// Takes the next whole frame off the front of `buf`, or returns `Ok(None)` when more bytes
    /// are needed (after reserving room for the announced frame, which is known to be in bounds).
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        let Some(prefix) = buf.get(..LENGTH_PREFIX) else {
            return Ok(None);
        };
        let mut len_bytes = [0u8; LENGTH_PREFIX];
        len_bytes.copy_from_slice(prefix);
        let len = u32::from_le_bytes(len_bytes) as usize;
        if len > self.max_frame_size {
            return Err(ProtocolError::FrameTooLarge { size: len, max: self.max_frame_size });
        }
        let total = LENGTH_PREFIX + len;
        if buf.len() < total {
            buf.reserve(total - buf.len());
            return Ok(None);
        }
        buf.advance(LENGTH_PREFIX);
        let bytes = buf.split_to(len).freeze();
        let (header, rest) = postcard::take_from_bytes::<Header>(&bytes)
            .map_err(|e| ProtocolError::BadHeader { message: e.to_string() })?;
        let body = bytes.slice(bytes.len() - rest.len()..);
        Ok(Some(Frame { header, body }))
    }
}

/// One line of output from the child: a `logging` record, a warning, or a line of stdout/stderr.
/// Sent in a [`FrameKind::Log`] frame whose header id is the call it came from (0 for none).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Where it came from.
    pub source: LogSource,
    /// Python's numeric level (`logging.INFO` is 20); warnings are 30.
    pub level: u32,
    /// The logger name (`"py.warnings"` for warnings).
    pub logger: String,
    /// The formatted message.
    pub message: String,
    /// Source file of the call that logged, if known.
    pub file: Option<String>,
    /// Line in that file.
    pub line: Option<u32>,
    /// The formatted traceback of an exception logged with it.
    pub exception: Option<String>,
}

/// What produced a [`LogRecord`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogSource {
    /// A `logging` record.
    Logging,
    /// A `warnings.warn`.
    Warning,
}

/// A span the child recorded, with the ids it propagated: the parent exports it as it is, so
/// the whole trace (callbacks and Python's own spans included) keeps consistent parent ids.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpanRecord {
    /// The trace it belongs to.
    pub trace_id: [u8; 16],
    /// Its own id.
    pub span_id: [u8; 8],
    /// Its parent's id.
    pub parent_span_id: [u8; 8],
    /// The span name.
    pub name: String,
    /// Start, in nanoseconds since the Unix epoch (both processes share the clock).
    pub start_unix_nanos: u64,
    /// End, likewise.
    pub end_unix_nanos: u64,
    /// Attributes.
    pub attributes: Vec<(String, String)>,
    /// The error message, when the span failed.
    pub error: Option<String>,
}

/// How a Python function is run in the child.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum HandlerMode {
    /// A plain function, run on a Python worker thread.
    Sync,
    /// An `async def` function, run as a task on the child's asyncio loop.
    Async,
    /// A generator function: its items are streamed back.
    Generator,
    /// An async generator function: its items are streamed back.
    AsyncGenerator,
}

impl HandlerMode {
    /// How the mode reads in Python terms, for error messages.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Sync => "a plain (sync) function",
            Self::Async => "an `async def` function",
            Self::Generator => "a generator function",
            Self::AsyncGenerator => "an async generator function",
        }
    }
}

/// One Python function the parent will call, by index in [`Hello::methods`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodSpec {
    /// The attribute looked up on the module.
    pub function: String,
    /// The mode the parent expects; `None` accepts whatever the function is.
    pub mode: Option<HandlerMode>,
}

/// Parent -> child handshake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Must equal [`MAGIC`].
    pub magic: [u8; 4],
    /// Must equal [`PROTOCOL_VERSION`].
    pub version: u16,
    /// Registry key of the actor the child must run.
    pub actor: String,
    /// Fingerprint of the message types the parent will send and expects back.
    pub fingerprint: u64,
    /// The Python module to import.
    pub module: String,
    /// The functions the parent will call.
    pub methods: Vec<MethodSpec>,
    /// Largest frame either side may send.
    pub max_frame_size: u32,
    /// Most calls the parent keeps in flight (bounds the child's queues too).
    pub max_in_flight: u32,
    /// Most Python worker threads for sync handlers.
    pub sync_workers: u16,
    /// The log level filter for the child (`tracing` level name).
    pub log_level: String,
    /// Whether the child records spans for traced calls and sends them back.
    pub record_spans: bool,
}

/// Child -> parent handshake.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    /// Must equal [`MAGIC`].
    pub magic: [u8; 4],
    /// The child's [`PROTOCOL_VERSION`].
    pub version: u16,
    /// The child's fingerprint for the requested actor (0 if it does not know the actor).
    pub fingerprint: u64,
    /// Facts about the child process and its interpreter.
    pub info: ChildInfo,
    /// The mode of every requested method, in order, or why the child cannot serve.
    pub outcome: Result<Vec<HandlerMode>, PythonExecutionError>,
}

/// Facts a child reports about itself in the handshake.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildInfo {
    /// The child's process id.
    pub pid: u32,
    /// `platform.python_version()` of the embedded interpreter.
    pub python_version: String,
    /// `sys.prefix` of the embedded interpreter.
    pub sys_prefix: String,
}

/// The `(magic, version)` pair that starts both handshake bodies, decoded on its own first so a
/// peer speaking another version is told so instead of failing on a layout it cannot parse.
pub fn peek_version(body: &[u8]) -> Result<([u8; 4], u16), ProtocolError> {
    let (magic, rest) =
        postcard::take_from_bytes::<[u8; 4]>(body).map_err(|e| ProtocolError::BadHeader { message: e.to_string() })?;
    let (version, _) =
        postcard::take_from_bytes::<u16>(rest).map_err(|e| ProtocolError::BadHeader { message: e.to_string() })?;
    Ok((magic, version))
}

/// FNV-1a over the given parts: a stable fingerprint that does not depend on the std hasher.
pub fn fingerprint(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0xff)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: FrameKind, id: u64, body: &str) -> Vec<u8> {
        let mut out = Vec::new();
        encode_frame(&mut out, &Header::new(kind, id), body, 1024).expect("encodes");
        out
    }

    #[test]
    fn frames_round_trip_and_split_at_any_byte() {
        let mut wire = frame(FrameKind::Call, 7, "hello");
        wire.extend(frame(FrameKind::Reply, u64::MAX, "world"));
        let decoder = FrameDecoder::new(1024);
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for byte in wire {
            buf.extend_from_slice(&[byte]);
            while let Some(frame) = decoder.decode(&mut buf).expect("valid") {
                got.push((frame.header.kind, frame.header.id, frame.decode_body::<String>().expect("body")));
            }
        }
        assert_eq!(
            got,
            vec![(FrameKind::Call, 7, "hello".to_owned()), (FrameKind::Reply, u64::MAX, "world".to_owned())]
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn oversize_length_is_rejected_before_buffering() {
        let decoder = FrameDecoder::new(16);
        let mut buf = BytesMut::from(&u32::MAX.to_le_bytes()[..]);
        let err = decoder.decode(&mut buf).expect_err("too large");
        assert_eq!(err, ProtocolError::FrameTooLarge { size: u32::MAX as usize, max: 16 });
        assert!(buf.capacity() < 1024, "no allocation for the announced size");
    }

    #[test]
    fn oversize_body_is_refused_when_encoding_and_leaves_buffer_intact() {
        let mut out = frame(FrameKind::Call, 1, "ok");
        let before = out.clone();
        let err =
            encode_frame(&mut out, &Header::new(FrameKind::Call, 2), &"x".repeat(100), 32).expect_err("too large");
        assert!(matches!(err, ProtocolError::FrameTooLarge { max: 32, .. }));
        assert_eq!(out, before);
    }

    #[test]
    fn garbage_header_is_an_error_not_a_panic() {
        let decoder = FrameDecoder::new(1024);
        let mut buf = BytesMut::from(&[3, 0, 0, 0, 0xff, 0xff, 0xff][..]);
        assert!(matches!(decoder.decode(&mut buf), Err(ProtocolError::BadHeader { .. })));
    }

    #[test]
    fn handshake_version_is_readable_without_the_rest() {
        let hello = Hello {
            magic: MAGIC,
            version: 9,
            actor: "a".into(),
            fingerprint: 1,
            module: "m".into(),
            methods: vec![],
            max_frame_size: 1,
            max_in_flight: 1,
            sync_workers: 1,
            log_level: "info".into(),
            record_spans: false,
        };
        let body = postcard::to_stdvec(&hello).expect("encodes");
        assert_eq!(peek_version(&body).expect("peek"), (MAGIC, 9));
    }

    #[test]
    fn fingerprint_is_order_and_boundary_sensitive() {
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
        assert_ne!(fingerprint(&["a", "b"]), fingerprint(&["b", "a"]));
        assert_eq!(fingerprint(&["x"]), fingerprint(&["x"]));
    }
}
