//! The versioned handshake that opens every connection, generic over what each side adds.
//!
//! The parent sends a [`Hello`] (magic, protocol version, the fingerprint of the message types it
//! will send, the limits both sides keep, and its own payload: which actor, which module); the
//! child answers a [`Welcome`] (magic, version, its own fingerprint, and either its payload or
//! why it cannot serve). Only then are calls sent. The `(magic, version)` pair is read on its own
//! first, so a peer speaking another version is told so instead of failing on a layout it cannot
//! parse.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use bytes::BytesMut;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::ProtocolError;
use crate::frame::{DEFAULT_MAX_FRAME_SIZE, Frame, FrameDecoder, FrameKind, Header, encode_frame};

/// Bytes that open every handshake frame; anything else on the channel is not a snake peer.
pub const MAGIC: [u8; 4] = *b"SNK\x7f";

/// Bumped on every incompatible change to the frame layout, the header or a handshake message.
pub const PROTOCOL_VERSION: u16 = 8;

/// Parent -> child handshake; `P` is what the upper layer adds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello<P> {
    /// Must equal [`MAGIC`].
    pub magic: [u8; 4],
    /// Must equal [`PROTOCOL_VERSION`].
    pub version: u16,
    /// Fingerprint of the message types the parent will send and expects back.
    pub fingerprint: u64,
    /// Largest frame either side may send.
    pub max_frame_size: u32,
    /// Most calls the parent keeps in flight (bounds the child's queues too).
    pub max_in_flight: u32,
    /// The upper layer's part.
    pub payload: P,
}

impl<P> Hello<P> {
    /// A hello of this protocol version.
    pub const fn new(fingerprint: u64, max_frame_size: u32, max_in_flight: u32, payload: P) -> Self {
        Self { magic: MAGIC, version: PROTOCOL_VERSION, fingerprint, max_frame_size, max_in_flight, payload }
    }
}

/// Child -> parent handshake: the child's payload `W`, or the error `E` that keeps it from
/// serving.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Welcome<W, E> {
    /// Must equal [`MAGIC`].
    pub magic: [u8; 4],
    /// The child's [`PROTOCOL_VERSION`].
    pub version: u16,
    /// The child's fingerprint for what the parent asked for (0 if it does not know it).
    pub fingerprint: u64,
    /// What the child reports once it is ready, or why it cannot serve.
    pub outcome: Result<W, E>,
}

impl<W, E> Welcome<W, E> {
    /// A welcome of this protocol version.
    pub const fn new(fingerprint: u64, outcome: Result<W, E>) -> Self {
        Self { magic: MAGIC, version: PROTOCOL_VERSION, fingerprint, outcome }
    }
}

/// The `(magic, version)` pair that starts both handshake bodies.
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

/// Checks a welcome frame against the fingerprint the parent sent; the reason when it does not
/// fit.
pub(crate) fn check_welcome<W: DeserializeOwned, E: DeserializeOwned>(
    frame: &Frame,
    fingerprint: u64,
) -> Result<Welcome<W, E>, String> {
    if frame.header.kind != FrameKind::Welcome {
        return Err(format!("expected a welcome frame, got {:?}", frame.header.kind));
    }
    let (magic, version) = peek_version(&frame.body).map_err(|e| e.to_string())?;
    if magic != MAGIC {
        return Err(format!("the child is not a snake child (magic {magic:?})"));
    }
    if version != PROTOCOL_VERSION {
        return Err(format!("the child speaks protocol version {version}, the parent {PROTOCOL_VERSION}"));
    }
    let welcome: Welcome<W, E> = frame.decode_body().map_err(|e| e.to_string())?;
    if welcome.outcome.is_ok() && welcome.fingerprint != fingerprint {
        return Err(format!(
            "message type fingerprint mismatch: parent {fingerprint:#018x}, child {:#018x}",
            welcome.fingerprint
        ));
    }
    Ok(welcome)
}

/// In the child: reads the parent's hello, waiting at most `timeout`.
pub fn read_hello<P: DeserializeOwned>(stream: &UnixStream, timeout: Duration) -> Result<Hello<P>, ProtocolError> {
    stream.set_read_timeout(Some(timeout))?;
    let decoder = FrameDecoder::new(DEFAULT_MAX_FRAME_SIZE);
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
    let (magic, version) = peek_version(&frame.body)?;
    if magic != MAGIC || version != PROTOCOL_VERSION {
        return Err(ProtocolError::BadHeader {
            message: format!("parent speaks {magic:?} v{version}, this child {MAGIC:?} v{PROTOCOL_VERSION}"),
        });
    }
    frame.decode_body()
}

/// In the child: writes the welcome (blocking).
pub fn write_welcome<W: Serialize, E: Serialize>(
    stream: &UnixStream,
    welcome: &Welcome<W, E>,
    max_frame_size: usize,
) -> Result<(), ProtocolError> {
    let mut buf = Vec::new();
    encode_frame(&mut buf, &Header::new(FrameKind::Welcome, 0), welcome, max_frame_size)?;
    let mut writer = stream;
    writer.write_all(&buf)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_version_is_readable_without_the_rest() {
        let mut hello = Hello::new(1, 1, 1, ("actor".to_owned(), vec![1u8, 2]));
        hello.version = 9;
        let body = postcard::to_stdvec(&hello).expect("encodes");
        assert_eq!(peek_version(&body).expect("peek"), (MAGIC, 9));
        let welcome: Welcome<u8, String> = Welcome::new(3, Err("no".into()));
        let body = postcard::to_stdvec(&welcome).expect("encodes");
        assert_eq!(peek_version(&body).expect("peek"), (MAGIC, PROTOCOL_VERSION));
    }

    #[test]
    fn fingerprint_is_order_and_boundary_sensitive() {
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
        assert_ne!(fingerprint(&["a", "b"]), fingerprint(&["b", "a"]));
        assert_eq!(fingerprint(&["x"]), fingerprint(&["x"]));
    }

    #[test]
    fn a_welcome_with_another_fingerprint_is_refused() {
        let welcome: Welcome<u8, String> = Welcome::new(7, Ok(1));
        let mut out = Vec::new();
        encode_frame(&mut out, &Header::new(FrameKind::Welcome, 0), &welcome, 1024).expect("encodes");
        let frame = FrameDecoder::new(1024).decode(&mut BytesMut::from(&out[..])).expect("valid").expect("whole");
        assert!(check_welcome::<u8, String>(&frame, 7).is_ok());
        let reason = check_welcome::<u8, String>(&frame, 8).expect_err("mismatch");
        assert!(reason.contains("fingerprint mismatch"), "{reason}");
    }
}
