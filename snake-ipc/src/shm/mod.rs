//! Shared memory for large frames: one arena per direction, each with a single writer.
//!
//! The parent creates both arenas at spawn as anonymous `memfd`s (nothing on disk), sealed against
//! shrinking, and the child inherits their descriptors beside its socket ([`ENV_SHM`] names them):
//! one the parent writes and the child reads, one the other way round. A frame of at least the
//! configured threshold is copied into the sender's arena and a small [`FrameKind::Shared`] frame
//! naming its [`Region`] goes over the socket instead; the receiver reads the frame in place, as
//! [`Bytes`](bytes::Bytes) over the mapping, and once the last of those bytes drops it sends a
//! [`FrameKind::Release`] frame, after which the writer may reuse the region. So a region is
//! never written while the receiver can still see it, and neither side needs a lock the other
//! holds. An arena grows on demand up to its limit; a frame that does not fit goes over the socket
//! as before. A memfd lives as long as its last descriptor or mapping: when either process dies,
//! its half goes with it, and nothing is left once both are gone.
//!
//! A value one side received in place and sends back unchanged is handed back as a reference to
//! its range of the peer's arena, read in place there ([`handback`]): the region is then held
//! until both the side that received it released its view and the peer's value dropped. The
//! child hands back what it received in a call; the parent, what a reply brought it from that
//! same child. A value handed back to its writer and sent on unchanged is lent again by
//! reference too, and read in place in the sender's arena: no copy either way.
//!
//! A region the peer names outside the arena is a [`ShmError::BadRegion`] for the frame that named
//! it alone; a release of a region the writer did not lend is a [`ShmError::BadRelease`] and
//! changes nothing.

pub mod align;
mod alloc;
mod arena;
pub mod handback;
mod memory;

use std::os::fd::RawFd;
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

pub use self::arena::{Holds, Incoming, Loans, Outgoing, RELEASE_WINDOW, Reserved, lend_token, resolve};
use self::memory::{Access, Memory};
use crate::frame::{Frame, FrameKind, Header, LENGTH_PREFIX, ProtocolError, encode_frame};

/// Set in a child's environment to
/// `<arena to the child>,<arena to the parent>,<limit>,<threshold>,<token>,<child token>` (two
/// descriptor numbers, two byte counts, the token by which the child hands back ranges of the
/// arena to the child, and the one by which the parent hands back ranges of the arena to the
/// parent, see [`handback`]) when shared memory is on.
pub const ENV_SHM: &str = "SNAKE_SHM";

/// Default size from which a frame travels through shared memory (64 KiB).
pub const DEFAULT_THRESHOLD: usize = 64 << 10;

/// Default limit of each arena (1 GiB of address space; memory is committed only as it grows).
pub const DEFAULT_LIMIT: usize = 1 << 30;

/// How frames use shared memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShmConfig {
    /// Frames of at least this many bytes go through the arena.
    pub threshold: usize,
    /// The most bytes each arena (one per direction) grows to.
    pub limit: usize,
}

impl Default for ShmConfig {
    fn default() -> Self {
        Self { threshold: DEFAULT_THRESHOLD, limit: DEFAULT_LIMIT }
    }
}

/// A byte range of the sender's arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Region {
    /// Its first byte.
    pub offset: u64,
    /// Its length.
    pub len: u64,
}

/// A region the peer named that this side cannot accept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShmError {
    /// A frame named bytes outside the sender's arena.
    #[error("shared-memory region {offset}+{len} refused: {reason}")]
    BadRegion {
        /// The region's offset as sent.
        offset: u64,
        /// Its length as sent.
        len: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A release named a region this side did not lend (or already took back).
    #[error("release of shared-memory region {offset}+{len} refused: {reason}")]
    BadRelease {
        /// The region's offset as sent.
        offset: u64,
        /// Its length as sent.
        len: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl From<ShmError> for ProtocolError {
    fn from(err: ShmError) -> Self {
        match err {
            ShmError::BadRegion { offset, len, reason } | ShmError::BadRelease { offset, len, reason } => {
                Self::BadRegion { offset, len, reason: reason.to_owned() }
            }
        }
    }
}

/// One side's two arenas: the one it writes and the one it reads, and the threshold.
#[derive(Debug)]
pub struct Arenas {
    /// The arena this side writes.
    pub outgoing: Outgoing,
    /// The arena the peer writes and this side reads.
    pub incoming: Incoming,
    config: ShmConfig,
    /// The peer's token for the incoming arena, by which frames hand its ranges back
    /// ([`handback`]); 0 when they cannot.
    peer_token: u64,
    /// The holds a [`FrameKind::Hold`] frame took and the loans a [`FrameKind::Lend`] frame
    /// named, for the frame of that id that follows them.
    pending: Mutex<Option<Pending>>,
}

/// What the frames before a frame of id `id` took for it.
#[derive(Debug)]
struct Pending {
    id: u64,
    holds: Option<Holds>,
    loans: Option<Loans>,
}

impl Arenas {
    /// In the parent: two new arenas (see the module docs).
    pub fn create(config: ShmConfig) -> std::io::Result<Self> {
        let to_child = Memory::create(c"snake-to-child", config.limit, Access::Write)?;
        let to_parent = Memory::create(c"snake-to-parent", config.limit, Access::Read)?;
        // The child registers its arena under this token, named in its environment.
        let child_token = arena::new_token();
        Ok(Self::new(Outgoing::registered(to_child), Incoming::new(to_parent), config, child_token))
    }

    fn new(outgoing: Outgoing, incoming: Incoming, config: ShmConfig, peer_token: u64) -> Self {
        Self { outgoing, incoming, config, peer_token, pending: Mutex::new(None) }
    }

    /// The configuration both sides use.
    pub const fn config(&self) -> ShmConfig {
        self.config
    }

    /// In the parent: the descriptors the child inherits, and the [`ENV_SHM`] value naming them.
    pub(crate) fn for_child(&self) -> ([RawFd; 2], String) {
        let fds = [self.outgoing.raw_fd(), self.incoming.raw_fd()];
        let (token, child_token) = (self.outgoing.token(), self.peer_token);
        let (limit, threshold) = (self.config.limit, self.config.threshold);
        (fds, format!("{},{},{limit},{threshold},{token},{child_token}", fds[0], fds[1]))
    }

    /// In a child: its arenas, from [`ENV_SHM`]; `None` when shared memory is off. The variable is
    /// removed and the descriptors made close-on-exec, so a program the child starts inherits
    /// neither.
    ///
    /// # Safety
    ///
    /// Call it once, while the process has a single thread (it changes the environment), before
    /// any other code could have claimed the descriptors it names.
    pub unsafe fn from_env() -> Option<Result<Self, String>> {
        let value = std::env::var_os(ENV_SHM)?;
        // SAFETY: the caller guarantees that no other thread exists yet.
        unsafe { std::env::remove_var(ENV_SHM) };
        let parts: Option<Vec<u64>> =
            value.to_str().and_then(|s| s.split(',').map(|part| part.parse::<u64>().ok()).collect());
        let parts = parts
            .and_then(|v| <[u64; 6]>::try_from(v).ok())
            .map(|[a, b, c, d, token, own_token]| ([a, b, c, d].map(|n| usize::try_from(n).ok()), token, own_token));
        let Some(([Some(to_child), Some(to_parent), Some(limit), Some(threshold)], token, own_token)) = parts else {
            return Some(Err(format!("{ENV_SHM} is not `fd,fd,limit,threshold,token,token`")));
        };
        let fd = |n: usize| RawFd::try_from(n).map_err(|_| format!("{ENV_SHM}: {n} is not a descriptor"));
        let adopt = |n: usize, access: Access| -> Result<Memory, String> {
            let fd = fd(n)?;
            // SAFETY: the parent passed this descriptor for this purpose alone, and the caller
            // runs before any other code could have claimed it; `adopt` checks it is a sealed memfd.
            unsafe { Memory::adopt(fd, limit, access) }.map_err(|e| format!("{ENV_SHM}: descriptor {fd}: {e}"))
        };
        let arenas = adopt(to_child, Access::Read).and_then(|incoming| {
            let outgoing = Outgoing::registered_as(adopt(to_parent, Access::Write)?, own_token);
            Ok(Self::new(outgoing, Incoming::new(incoming), ShmConfig { threshold, limit }, token))
        });
        Some(arenas)
    }

    /// The [`FrameKind::Shared`] frame to send instead of `frame` (one whole encoded frame), with
    /// `frame` copied into the outgoing arena; `None` when `frame` is below the threshold, is not
    /// one whole frame, or does not fit, and goes over the socket as it is.
    pub fn offload(&self, frame: &[u8]) -> Option<Vec<u8>> {
        if frame.len() < self.config.threshold || frame.len() < LENGTH_PREFIX {
            return None;
        }
        let (prefix, inner) = frame.split_at(LENGTH_PREFIX);
        let announced = u32::from_le_bytes(prefix.try_into().ok()?) as usize;
        if announced != inner.len() {
            return None;
        }
        let (header, _) = postcard::take_from_bytes::<Header>(inner).ok()?;
        if matches!(header.kind, FrameKind::Shared | FrameKind::Release | FrameKind::Hold | FrameKind::Lend) {
            return None;
        }
        let region = self.outgoing.place(inner)?;
        self.shared_frame(&header, region).ok()
    }

    /// Encodes the frame of `header` and `body` straight into the outgoing arena, without an
    /// intermediate buffer, and returns the [`FrameKind::Shared`] frame to send; `None` when the
    /// frame is below the threshold or does not fit, and is to be encoded as usual. A frame past
    /// `max_frame_size` is refused here as on the socket.
    pub fn encode_frame<T: Serialize + ?Sized>(
        &self,
        header: &Header,
        body: &T,
        max_frame_size: usize,
    ) -> Result<Option<Vec<u8>>, ProtocolError> {
        let encode_error = |e: postcard::Error| ProtocolError::Encode { message: e.to_string() };
        let header_len =
            postcard::serialize_with_flavor(header, postcard::ser_flavors::Size::default()).map_err(encode_error)?;
        // Large buffers in the body are laid out aligned ([`align`]): sized here with their
        // padding, placed once the region is known.
        let body_len = {
            let _sizing = align::Scope::enter(None);
            postcard::serialize_with_flavor(body, align::Counting(postcard::ser_flavors::Size::default()))
                .map_err(encode_error)?
        };
        let len = header_len + body_len;
        if len < self.config.threshold {
            return Ok(None);
        }
        if len > max_frame_size {
            return Err(ProtocolError::FrameTooLarge { size: len, max: max_frame_size });
        }
        let filled = self.outgoing.fill(len, |target| {
            let (head, rest) = target.split_at_mut(header_len);
            postcard::to_slice(header, head).map_err(encode_error)?;
            let _placing = align::Scope::enter(Some(rest.as_ptr() as usize));
            let written =
                postcard::serialize_with_flavor(body, align::Counting(postcard::ser_flavors::Slice::new(rest)))
                    .map_err(encode_error)?
                    .len();
            if written == body_len {
                Ok(())
            } else {
                Err(ProtocolError::Encode { message: "the body changed size while it was encoded".into() })
            }
        });
        let Some(region) = filled.transpose()? else {
            return Ok(None);
        };
        self.shared_frame(header, region).map(Some)
    }

    /// The [`FrameKind::Shared`] frame naming `region`, which holds the frame of `header`. If it
    /// cannot be encoded, the region is taken back.
    fn shared_frame(&self, header: &Header, region: Region) -> Result<Vec<u8>, ProtocolError> {
        let shared = Header { kind: FrameKind::Shared, id: header.id, method: header.kind as u32, trace: None };
        let mut out = Vec::with_capacity(32);
        encode_frame(&mut out, &shared, &region, usize::MAX).inspect_err(|_| {
            let _ = self.outgoing.release(&[region]);
        })?;
        Ok(out)
    }

    /// The frame a [`FrameKind::Shared`] frame carries, read in place from the incoming arena. A
    /// region out of bounds (or longer than `max_frame_size`) or bytes that are not one frame are
    /// an error for this frame alone.
    pub fn open(&self, shared: &Frame, max_frame_size: usize) -> Result<Frame, ProtocolError> {
        let region: Region = shared.decode_body()?;
        if region.len > max_frame_size as u64 {
            return Err(ProtocolError::FrameTooLarge {
                size: usize::try_from(region.len).unwrap_or(usize::MAX),
                max: max_frame_size,
            });
        }
        let bytes = self.incoming.view(region)?;
        let frame = Frame::parse(bytes)?;
        if matches!(frame.header.kind, FrameKind::Shared | FrameKind::Release | FrameKind::Hold | FrameKind::Lend) {
            return Err(ProtocolError::Unexpected { kind: frame.header.kind });
        }
        Ok(frame)
    }

    /// Takes back the region of a [`FrameKind::Shared`] frame that will not be sent after all (a
    /// call refused before it went out), and the loans a [`FrameKind::Lend`] frame before it
    /// counted ([`FrameOut::put`]). Any other frame is left alone.
    pub fn discard(&self, frame: &[u8]) {
        let mut buf = bytes::BytesMut::from(frame);
        let decoder = crate::frame::FrameDecoder::new(frame.len());
        while let Ok(Some(frame)) = decoder.decode(&mut buf) {
            match frame.header.kind {
                FrameKind::Shared => {
                    if let Ok(region) = frame.decode_body::<Region>() {
                        let _ = self.outgoing.release(&[region]);
                    }
                }
                FrameKind::Lend => {
                    if let Ok(parts) = frame.decode_body::<Vec<Region>>() {
                        self.outgoing.unlend(&parts);
                    }
                }
                _ => {}
            }
        }
    }

    /// Holds the regions a [`FrameKind::Hold`] frame names, for the next frame (see
    /// [`Self::with_holds`]). A range of no region lent to the peer is an error, and nothing is
    /// held: whatever refers to it fails to resolve.
    pub fn hold(&self, frame: &Frame) -> Result<(), ProtocolError> {
        let parts: Vec<Region> = frame.decode_body()?;
        let holds = self.outgoing.hold(&parts)?;
        self.pend(frame.header.id, |pending| pending.holds = Some(holds));
        Ok(())
    }

    /// Views of the ranges a [`FrameKind::Lend`] frame names (the peer's arena, lent again), for
    /// the next frame (see [`Self::with_holds`]). A range outside the arena is an error, and
    /// nothing is kept: whatever refers to it fails to resolve.
    pub fn lend(&self, frame: &Frame) -> Result<(), ProtocolError> {
        let parts: Vec<Region> = frame.decode_body()?;
        let loans = self.incoming.lend(arena::lend_token(self.peer_token), &parts)?;
        self.pend(frame.header.id, |pending| pending.loans = Some(loans));
        Ok(())
    }

    /// Adds to what the frame of `id` will carry; what was pending for another id is dropped.
    fn pend(&self, id: u64, add: impl FnOnce(&mut Pending)) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = match &mut *pending {
            Some(entry) if entry.id == id => entry,
            other => other.insert(Pending { id, holds: None, loans: None }),
        };
        add(entry);
    }

    /// `frame` with the holds and loans of the [`FrameKind::Hold`] and [`FrameKind::Lend`]
    /// frames just before it, if they were for the same id: they then last as long as its body.
    /// Those for another id are dropped.
    pub fn with_holds(&self, frame: Frame) -> Frame {
        let Some(pending) = self.pending.lock().unwrap_or_else(PoisonError::into_inner).take() else {
            return frame;
        };
        if pending.id != frame.header.id {
            return frame;
        }
        let held = HeldBody { body: frame.body, _holds: pending.holds, _loans: pending.loans };
        Frame { header: frame.header, body: bytes::Bytes::from_owner(held) }
    }

    /// Takes back the regions a [`FrameKind::Release`] frame names.
    pub fn released(&self, frame: &Frame) -> Result<(), ProtocolError> {
        let regions: Vec<Region> = frame.decode_body()?;
        self.outgoing.release(&regions).map_err(ProtocolError::from)
    }
}

/// What to do with a frame read from the socket, shared memory considered ([`Arenas::admit`]).
#[derive(Debug)]
pub enum Admitted {
    /// A frame to dispatch: read in place when it came through the arena, and holding the
    /// regions the [`FrameKind::Hold`] frame before it named.
    Frame(Frame),
    /// A [`FrameKind::Release`], [`FrameKind::Hold`] or [`FrameKind::Lend`] frame, done with.
    Done,
    /// A release, a hold or a loan that was refused (`what` says which); nothing changed, and
    /// the frame that refers to a refused hold or loan fails to decode its ranges.
    Refused {
        /// `"release"`, `"hold"` or `"lend"`.
        what: &'static str,
        /// Why.
        error: ProtocolError,
    },
    /// A [`FrameKind::Shared`] frame whose region was refused: it fails the call it belongs to
    /// (frame `id`, of kind `kind`), not the channel.
    BadRegion {
        /// The frame's id.
        id: u64,
        /// The kind of the frame the region was to hold (`FrameKind as u32`).
        kind: u32,
        /// Why.
        error: ProtocolError,
    },
}

impl Arenas {
    /// Takes a frame read from the socket, in the order frames arrive: opens a
    /// [`FrameKind::Shared`] one in place, takes back released regions, takes the holds a
    /// [`FrameKind::Hold`] frame names (before any release of those ranges the peer sends after
    /// the frame that refers to them) and views of the ranges a [`FrameKind::Lend`] frame names,
    /// and attaches them to the next frame.
    pub fn admit(&self, frame: Frame, max_frame_size: usize) -> Admitted {
        let frame = match frame.header.kind {
            FrameKind::Shared => match self.open(&frame, max_frame_size) {
                Ok(inner) => inner,
                Err(error) => {
                    return Admitted::BadRegion { id: frame.header.id, kind: frame.header.method, error };
                }
            },
            FrameKind::Release => {
                return self
                    .released(&frame)
                    .map_or_else(|error| Admitted::Refused { what: "release", error }, |()| Admitted::Done);
            }
            FrameKind::Hold => {
                return self
                    .hold(&frame)
                    .map_or_else(|error| Admitted::Refused { what: "hold", error }, |()| Admitted::Done);
            }
            FrameKind::Lend => {
                return self
                    .lend(&frame)
                    .map_or_else(|error| Admitted::Refused { what: "lend", error }, |()| Admitted::Done);
            }
            _ => frame,
        };
        Admitted::Frame(self.with_holds(frame))
    }
}

/// Where one frame is encoded: straight into the outgoing arena when it is large enough and
/// fits, else into a buffer as usual. Either way the buffer then holds the frame to send.
#[derive(Debug)]
pub struct FrameOut<'a> {
    buf: &'a mut Vec<u8>,
    header: Header,
    max_frame_size: usize,
    shm: Option<&'a Arenas>,
}

impl<'a> FrameOut<'a> {
    /// A frame of `header` written to `buf` (cleared first), or through `shm` when it is on.
    pub fn new(buf: &'a mut Vec<u8>, header: Header, max_frame_size: usize, shm: Option<&'a Arenas>) -> Self {
        Self { buf, header, max_frame_size, shm }
    }

    /// Encodes `body` as the frame's body. On error the buffer is left empty.
    /// Bytes of the body that lie in the peer's arena may be handed back ([`handback`]): the
    /// buffer then holds a [`FrameKind::Hold`] frame before the frame, and the views they were
    /// read from must live until it is sent ([`handback::after_send`]).
    pub fn put<T: Serialize + ?Sized>(&mut self, body: &T) -> Result<(), ProtocolError> {
        self.buf.clear();
        let Some(shm) = self.shm else {
            return encode_frame(self.buf, &self.header, body, self.max_frame_size);
        };
        // A body too small to hold a buffer worth handing back or aligning (every such buffer
        // is at least that long), or to go through the arena, is encoded as usual: most calls
        // and replies skip the per-thread bookkeeping of both.
        let encode_error = |e: postcard::Error| ProtocolError::Encode { message: e.to_string() };
        let header_len = postcard::serialize_with_flavor(&self.header, postcard::ser_flavors::Size::default())
            .map_err(encode_error)?;
        let body_len =
            postcard::serialize_with_flavor(body, postcard::ser_flavors::Size::default()).map_err(encode_error)?;
        if body_len < handback::MIN_HANDBACK.min(align::MIN_ALIGNED) && header_len + body_len < shm.config.threshold {
            return encode_frame(self.buf, &self.header, body, self.max_frame_size);
        }
        let scope =
            (shm.peer_token != 0).then(|| handback::Scope::enter(shm.incoming.memory(), shm.peer_token, &shm.outgoing));
        match shm.encode_frame(&self.header, body, self.max_frame_size)? {
            Some(frame) => *self.buf = frame,
            None => encode_frame(self.buf, &self.header, body, self.max_frame_size)?,
        }
        let (handed_back, lent) = scope.map(|scope| scope.take_ranges()).unwrap_or_default();
        if handed_back.is_empty() && lent.is_empty() {
            return Ok(());
        }
        let mut before = Vec::with_capacity(32 + (handed_back.len() + lent.len()) * 8 + self.buf.len());
        let id = self.header.id;
        let mut framed = Ok(());
        if !handed_back.is_empty() {
            framed = encode_frame(&mut before, &Header::new(FrameKind::Hold, id), &handed_back, usize::MAX);
        }
        if framed.is_ok() && !lent.is_empty() {
            framed = encode_frame(&mut before, &Header::new(FrameKind::Lend, id), &lent, usize::MAX);
        }
        // Counted before the frame can reach the peer, whose releases of them may follow at once.
        if let Err(err) = framed.and_then(|()| shm.outgoing.relend(&lent).map_err(ProtocolError::from)) {
            shm.discard(self.buf);
            self.buf.clear();
            return Err(err);
        }
        before.extend_from_slice(self.buf);
        *self.buf = before;
        Ok(())
    }
}

/// A frame body that holds the regions of this side's arena that it hands back, and the
/// peer's ranges it lends again.
struct HeldBody {
    body: bytes::Bytes,
    _holds: Option<Holds>,
    _loans: Option<Loans>,
}

impl AsRef<[u8]> for HeldBody {
    fn as_ref(&self) -> &[u8] {
        &self.body
    }
}

/// The [`FrameKind::Release`] frame for `regions`.
pub fn release_frame(regions: &[Region]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + regions.len() * 8);
    // A list of small fixed-size pairs: it only fails past `usize::MAX` bytes.
    let _ = encode_frame(&mut out, &Header::new(FrameKind::Release, 0), regions, usize::MAX);
    out
}

#[cfg(test)]
mod tests;
