//! Frames: `[u32 little-endian length][postcard Header][postcard body]`, where the length counts
//! everything after itself.
//!
//! The length is checked against the connection's maximum frame size before a single byte of the
//! body is buffered, so a corrupt prefix cannot allocate gigabytes. Frames are written whole (one
//! `write` per frame, several frames may share one write) and read by exactly one reader per side,
//! which hands whole frames on: no partially read frame is ever abandoned by a cancelled future.

use bytes::{Buf, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

/// Default upper bound on one frame (64 MiB).
pub const DEFAULT_MAX_FRAME_SIZE: usize = 64 << 20;

/// Size of the length prefix in front of every frame.
pub const LENGTH_PREFIX: usize = 4;

/// A frame that could not be read or written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A frame announced (or would need) more than the configured maximum.
    #[error("frame of {size} bytes exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// The announced or encoded size.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The frame header did not decode.
    #[error("undecodable frame header: {message}")]
    BadHeader {
        /// The decoder's message.
        message: String,
    },
    /// A frame body did not decode as the type its kind promises.
    #[error("undecodable {kind:?} frame body: {message}")]
    Decode {
        /// The kind of frame.
        kind: FrameKind,
        /// The decoder's message.
        message: String,
    },
    /// A value could not be encoded.
    #[error("could not encode a frame: {message}")]
    Encode {
        /// The encoder's message.
        message: String,
    },
    /// The peer sent a frame kind it must not send at this point.
    #[error("unexpected {kind:?} frame")]
    Unexpected {
        /// The kind that arrived.
        kind: FrameKind,
    },
    /// A shared-memory region the peer named (or released) is not one this side can accept.
    #[error("bad shared-memory region {offset}+{len}: {reason}")]
    BadRegion {
        /// The region's offset as sent.
        offset: u64,
        /// Its length as sent.
        len: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading or writing the channel failed.
    #[error("i/o error on the channel: {message}")]
    Io {
        /// The operating system's error.
        message: String,
    },
}

impl From<std::io::Error> for ProtocolError {
    fn from(e: std::io::Error) -> Self {
        Self::Io { message: e.to_string() }
    }
}

/// What a frame carries. The discriminants are part of the wire format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
#[non_exhaustive]
pub enum FrameKind {
    /// Parent -> child: first frame, a [`Hello`](crate::handshake::Hello).
    Hello = 0,
    /// Child -> parent: answer to the hello, a [`Welcome`](crate::handshake::Welcome).
    Welcome = 1,
    /// Parent -> child: a request for method `header.method`; the body is the request value.
    Call = 2,
    /// Child -> parent: the successful result of call `header.id`.
    Reply = 3,
    /// Either way: call or callback `header.id` failed; the body is the peer's error value.
    Error = 4,
    /// Either way: the sender no longer wants the result of `header.id`.
    Cancel = 5,
    /// Child -> parent (or parent -> child for callback streams): one item of stream `header.id`.
    StreamItem = 6,
    /// End of stream `header.id`.
    StreamEnd = 7,
    /// Consumer -> producer: `header.method` more stream items may be sent for `header.id`.
    StreamCredit = 8,
    /// Child -> parent: the child called back into the parent; the body is the originating call id
    /// (`u64`) followed by the callback value.
    Callback = 9,
    /// Parent -> child: the result of callback `header.id`.
    CallbackReply = 10,
    /// Child -> parent: a [`LogRecord`](crate::records::LogRecord) from the child.
    Log = 11,
    /// Parent -> child: finish in-flight work and exit.
    Shutdown = 12,
    /// Parent -> child: call a generator method and stream its items back. The body is the
    /// initial credit (`u32`) followed by the request value.
    OpenStream = 13,
    /// Child -> parent: a callback answered with a stream. The body is the originating call id
    /// (`u64`), the initial credit (`u32`) and the argument; items come back as `StreamItem`.
    OpenCallbackStream = 14,
    /// Child -> parent: spans the child finished, as `Vec<`[`SpanRecord`](crate::records::SpanRecord)`>`.
    Spans = 15,
    /// Parent -> child: a health probe, answered with a [`Pong`](Self::Pong) of the same
    /// `header.id` and `header.method`; the body is empty. Method [`PING_HEARTBEAT`]: the child's
    /// reader thread answers it itself, without taking the GIL (the process reads its channel).
    /// Method [`PING_GIL`]: answered only once some thread of the child has acquired the GIL (the
    /// interpreter can run Python code). Any other method is not answered.
    Ping = 16,
    /// Child -> parent: the answer to the [`Ping`](Self::Ping) with the same `header.id` and
    /// `header.method`; the body is empty.
    Pong = 17,
    /// Either way: the frame of kind `header.method` (for call `header.id`) is in the sender's
    /// shared-memory arena; the body is its [`Region`](crate::shm::Region). See [`crate::shm`].
    Shared = 18,
    /// Either way: the sender no longer reads these regions of the receiver's arena, which may
    /// reuse them; the body is a `Vec<`[`Region`](crate::shm::Region)`>`.
    Release = 19,
    /// Either way: the next frame, of the same `header.id`, hands back ranges of the receiver's
    /// own arena (values the sender received in place and sends back unchanged); the receiver
    /// holds their regions from now until that frame's body drops. The body is a
    /// `Vec<`[`Region`](crate::shm::Region)`>`. See [`crate::shm::handback`].
    Hold = 20,
    /// Either way: the next frame, of the same `header.id`, refers to ranges of the sender's own
    /// arena that it lends again (values it got back by reference and sends on unchanged); the
    /// receiver reads them in place and releases each range named here once, when that frame's
    /// body and every value read from it have dropped. The body is a
    /// `Vec<`[`Region`](crate::shm::Region)`>`. See [`crate::shm::handback`].
    Lend = 21,
}

/// `header.method` of a [`FrameKind::Ping`] the child's reader thread answers without the GIL.
pub const PING_HEARTBEAT: u32 = 0;

/// `header.method` of a [`FrameKind::Ping`] answered only after a thread of the child acquired
/// the GIL.
pub const PING_GIL: u32 = 1;

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
    /// A frame from its bytes after the length prefix (a header, then the body), without a copy.
    pub fn parse(bytes: Bytes) -> Result<Self, ProtocolError> {
        let (header, rest) = postcard::take_from_bytes::<Header>(&bytes)
            .map_err(|e| ProtocolError::BadHeader { message: e.to_string() })?;
        let body = bytes.slice(bytes.len() - rest.len()..);
        Ok(Self { header, body })
    }

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
        Frame::parse(buf.split_to(len).freeze()).map(Some)
    }
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
    fn ping_and_pong_decode_and_a_kind_past_the_last_does_not() {
        let decoder = FrameDecoder::new(1024);
        let mut buf = BytesMut::new();
        let mut header = Header::new(FrameKind::Ping, 9);
        header.method = PING_GIL;
        let mut wire = Vec::new();
        encode_frame(&mut wire, &header, &(), 1024).expect("encodes");
        encode_frame(&mut wire, &Header::new(FrameKind::Pong, 9), &(), 1024).expect("encodes");
        buf.extend_from_slice(&wire);
        let ping = decoder.decode(&mut buf).expect("valid").expect("whole");
        assert_eq!((ping.header.kind, ping.header.id, ping.header.method), (FrameKind::Ping, 9, PING_GIL));
        assert!(ping.body.is_empty());
        let pong = decoder.decode(&mut buf).expect("valid").expect("whole");
        assert_eq!((pong.header.kind, pong.header.id), (FrameKind::Pong, 9));
        // Kind 22 is not a frame kind: [len][kind 22][id 1][method 0][trace None].
        let mut buf = BytesMut::from(&[4, 0, 0, 0, 22, 1, 0, 0][..]);
        assert!(matches!(decoder.decode(&mut buf), Err(ProtocolError::BadHeader { .. })));
    }

    #[test]
    fn garbage_header_is_an_error_not_a_panic() {
        let decoder = FrameDecoder::new(1024);
        let mut buf = BytesMut::from(&[3, 0, 0, 0, 0xff, 0xff, 0xff][..]);
        assert!(matches!(decoder.decode(&mut buf), Err(ProtocolError::BadHeader { .. })));
    }
}
