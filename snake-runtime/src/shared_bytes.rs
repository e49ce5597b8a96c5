//! [`SharedBytes`]: a byte payload that Python reads in place, as a read-only `memoryview`.
//!
//! The type is serde-only; how it meets Python is `serde_py`'s business. Two thread-local slots
//! carry what serde's data model cannot: [`handoff`] passes the owned buffer between a
//! `SharedBytes` and `serde_py` within one (de)serialize call, so neither side copies it, and
//! [`with_source`] names the frame body a value is being decoded from, so that bytes postcard
//! lends from it are kept as a slice of that body rather than copied.

use std::cell::RefCell;
use std::fmt;
use std::ops::Deref;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::schema::{Describe, Registry, Type};

/// The serde newtype name by which `serde_py` recognises a [`SharedBytes`].
pub(crate) const NAME: &str = "__snake_shared_bytes";

/// Bytes that cross to Python without a copy: the handler gets a read-only `memoryview` over
/// the received frame (which lies in shared memory once it passes the builder's
/// `shared_memory_threshold`), and may return `bytes`, `bytearray`, a `memoryview` or any object
/// with the buffer protocol for it (a view it received in shared memory is handed back: the reply
/// names that range of the parent's arena, which the parent's value reads in place; any other
/// buffer of 4 KiB or more is copied once, from Python's memory into the frame). In Rust it derefs to `[u8]`; a value received from Python
/// points into the frame it came in, which stays in use until the value (and every clone) drops.
/// Sent back in a call to the child it came from, such a value crosses as a reference to that
/// child's arena, without a copy; and a value that came back by reference to the parent's own
/// arena (the reply to an echo) is lent again by reference when sent on to the same child, as is
/// one filled in place in that arena ([`SharedBytesMut`](crate::SharedBytesMut)). In shared
/// memory, a buffer of 4 KiB or more starts on a 64-byte boundary.
///
/// ```
/// let payload = snake::SharedBytes::from(vec![1, 2, 3]);
/// assert_eq!(&payload[..], &[1, 2, 3]);
/// let again = payload.clone(); // shares the buffer, copies nothing
/// assert_eq!(again.len(), 3);
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SharedBytes(bytes::Bytes);

impl SharedBytes {
    /// The bytes, as a cheaply cloned [`bytes::Bytes`].
    pub fn into_bytes(self) -> bytes::Bytes {
        self.0
    }

    /// A copy of the bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        self.0.to_vec()
    }
}

impl fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedBytes({} bytes)", self.0.len())
    }
}

impl Deref for SharedBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<bytes::Bytes> for SharedBytes {
    fn from(bytes: bytes::Bytes) -> Self {
        Self(bytes)
    }
}

impl From<Vec<u8>> for SharedBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes.into())
    }
}

impl From<&'static [u8]> for SharedBytes {
    fn from(bytes: &'static [u8]) -> Self {
        Self(bytes::Bytes::from_static(bytes))
    }
}

/// Serializes as its bytes.
struct Raw<'a>(&'a [u8]);

impl Serialize for Raw<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// The name and variants of the wire form of a buffer in a format that is not human-readable
/// (postcard): the bytes, a range of the receiver's own arena handed back to it, or the bytes
/// laid out on an aligned boundary of the arena the frame is written into.
const WIRE: &str = "SharedBytes";
const VARIANTS: &[&str] = &["Inline", "HandBack", "Aligned"];

/// Zeros to pad an `Aligned` buffer with.
static ZEROS: [u8; snake_ipc::shm::align::ALIGN] = [0; snake_ipc::shm::align::ALIGN];

/// A buffer's wire form: in a human-readable format its bytes; else an enum of the bytes
/// (`Inline`), a [`HandBack`](snake_ipc::shm::handback::HandBack) to the receiver's arena when
/// the bytes came from there (or to the sender's own, lent again, under its
/// [lend token](snake_ipc::shm::lend_token)), or, for a large buffer encoded straight into an arena, the bytes
/// between padding that puts them on an aligned boundary (`Aligned`, see
/// [`snake_ipc::shm::align`]).
pub(crate) struct Wire<'a> {
    /// The bytes.
    pub bytes: &'a [u8],
    /// The same bytes, when they are shared (and may lie in an arena).
    pub shared: Option<&'a bytes::Bytes>,
}

impl Serialize for Wire<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            return serializer.serialize_bytes(self.bytes);
        }
        if let Some(reference) = self.shared.and_then(snake_ipc::shm::handback::refer) {
            return serializer.serialize_newtype_variant(WIRE, 1, VARIANTS[1], &reference);
        }
        if self.bytes.len() >= snake_ipc::shm::align::MIN_ALIGNED {
            // The content starts past the variant, `pad` and the padding's length (a byte each),
            // the padding, and the content's own length.
            let ahead = 3 + snake_ipc::shm::align::varint_len(self.bytes.len());
            if let Some(pad) = snake_ipc::shm::align::padding(ahead) {
                return serializer.serialize_newtype_variant(WIRE, 2, VARIANTS[2], &Aligned { pad, bytes: self.bytes });
            }
        }
        serializer.serialize_newtype_variant(WIRE, 0, VARIANTS[0], &Raw(self.bytes))
    }
}

/// `(pad, [0; pad], bytes, [0; ALIGN - 1 - pad])`: always `ALIGN - 1` bytes of padding, so that
/// sizing (where `pad` is not known yet) and writing agree.
struct Aligned<'a> {
    pad: usize,
    bytes: &'a [u8],
}

impl Serialize for Aligned<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let pad = self.pad.min(ZEROS.len() - 1);
        let mut tuple = serializer.serialize_tuple(4)?;
        tuple.serialize_element(&(pad as u8))?;
        tuple.serialize_element(&Raw(&ZEROS[..pad]))?;
        tuple.serialize_element(&Raw(self.bytes))?;
        tuple.serialize_element(&Raw(&ZEROS[..ZEROS.len() - 1 - pad]))?;
        tuple.end()
    }
}

impl Serialize for SharedBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // `serde_py` takes the buffer itself from the slot; any other format writes the bytes.
        handoff::offer(self.0.clone());
        let result = serializer.serialize_newtype_struct(NAME, &Wire { bytes: &self.0, shared: Some(&self.0) });
        handoff::clear();
        result
    }
}

impl<'de> Deserialize<'de> for SharedBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(NAME, SharedBytesVisitor)
    }
}

struct SharedBytesVisitor;

impl<'de> Visitor<'de> for SharedBytesVisitor {
    type Value = SharedBytes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bytes")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<SharedBytes, D::Error> {
        // `serde_py` offers the buffer it read from Python just before calling this.
        if let Some(bytes) = handoff::take() {
            return Ok(SharedBytes(bytes));
        }
        if deserializer.is_human_readable() {
            deserializer.deserialize_bytes(self)
        } else {
            deserializer.deserialize_enum(WIRE, VARIANTS, WireVisitor)
        }
    }

    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<SharedBytes, E> {
        Ok(SharedBytes(source::slice_of(v).unwrap_or_else(|| bytes::Bytes::copy_from_slice(v))))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<SharedBytes, E> {
        Ok(SharedBytes(bytes::Bytes::copy_from_slice(v)))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<SharedBytes, E> {
        Ok(SharedBytes(v.into()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SharedBytes, A::Error> {
        // The hint comes from the input: cap what it may reserve up front.
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
        while let Some(byte) = seq.next_element::<u8>()? {
            out.push(byte);
        }
        Ok(SharedBytes(out.into()))
    }
}

/// Reads the wire form of a non-human-readable format (see [`Wire`]).
struct WireVisitor;

impl<'de> Visitor<'de> for WireVisitor {
    type Value = SharedBytes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bytes or a shared-memory range")
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<SharedBytes, A::Error> {
        use serde::de::VariantAccess;
        let (variant, access) = data.variant::<u32>()?;
        match variant {
            0 => access.newtype_variant_seed(InlineSeed),
            1 => {
                let reference: snake_ipc::shm::handback::HandBack = access.newtype_variant()?;
                snake_ipc::shm::resolve(reference.token, reference.region()).map(SharedBytes).map_err(|err| {
                    snake_ipc::shm::handback::refused(err.clone());
                    de::Error::custom(err)
                })
            }
            2 => access.tuple_variant(4, AlignedVisitor),
            other => Err(de::Error::invalid_value(de::Unexpected::Unsigned(u64::from(other)), &"variant 0, 1 or 2")),
        }
    }
}

/// Reads an `Aligned` buffer: its padding is skipped, its bytes are read as `Inline` ones.
struct AlignedVisitor;

impl<'de> Visitor<'de> for AlignedVisitor {
    type Value = SharedBytes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a padded buffer")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SharedBytes, A::Error> {
        let missing = |at: usize| de::Error::invalid_length(at, &"4 elements");
        let _pad: u8 = seq.next_element()?.ok_or_else(|| missing(0))?;
        seq.next_element_seed(Skipped)?.ok_or_else(|| missing(1))?;
        let bytes = seq.next_element_seed(InlineSeed)?.ok_or_else(|| missing(2))?;
        seq.next_element_seed(Skipped)?.ok_or_else(|| missing(3))?;
        Ok(bytes)
    }
}

/// Bytes read and dropped (an `Aligned` buffer's padding), without a copy.
struct Skipped;

impl<'de> de::DeserializeSeed<'de> for Skipped {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_bytes(self)
    }
}

impl<'de> Visitor<'de> for Skipped {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("padding bytes")
    }

    fn visit_borrowed_bytes<E: de::Error>(self, _: &'de [u8]) -> Result<(), E> {
        Ok(())
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<(), E> {
        Ok(())
    }
}

/// The bytes of an `Inline` variant.
struct InlineSeed;

impl<'de> de::DeserializeSeed<'de> for InlineSeed {
    type Value = SharedBytes;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<SharedBytes, D::Error> {
        deserializer.deserialize_bytes(SharedBytesVisitor)
    }
}

impl Describe for SharedBytes {
    fn describe(_: &mut Registry) -> Type {
        Type::Buffer
    }
}

/// Decodes with `body` as the source of borrowed bytes: a [`SharedBytes`] read from it is a
/// slice of `body` (no copy), which keeps `body` (and the shared-memory region under it) in use.
pub(crate) fn with_source<T>(body: &bytes::Bytes, decode: impl FnOnce() -> T) -> T {
    let previous = source::SOURCE.with(|slot| slot.replace(Some(body.clone())));
    let result = decode();
    source::SOURCE.with(|slot| *slot.borrow_mut() = previous);
    result
}

mod source {
    use super::RefCell;

    thread_local! {
        pub(super) static SOURCE: RefCell<Option<bytes::Bytes>> = const { RefCell::new(None) };
    }

    /// `part` as a slice of the current source, if it lies within it.
    pub(super) fn slice_of(part: &[u8]) -> Option<bytes::Bytes> {
        SOURCE.with(|slot| {
            let slot = slot.borrow();
            let body = slot.as_ref()?;
            let start = body.as_ptr() as usize;
            let at = part.as_ptr() as usize;
            let inside = at >= start && at + part.len() <= start + body.len();
            inside.then(|| body.slice_ref(part))
        })
    }
}

/// The slot that passes a buffer between [`SharedBytes`] and `serde_py` within one call.
pub(crate) mod handoff {
    use super::RefCell;

    thread_local! {
        static SLOT: RefCell<Option<bytes::Bytes>> = const { RefCell::new(None) };
    }

    /// Puts `bytes` in the slot (replacing whatever was left).
    pub(crate) fn offer(bytes: bytes::Bytes) {
        SLOT.with(|slot| *slot.borrow_mut() = Some(bytes));
    }

    /// Takes what is in the slot.
    pub(crate) fn take() -> Option<bytes::Bytes> {
        SLOT.with(|slot| slot.borrow_mut().take())
    }

    /// Empties the slot.
    pub(crate) fn clear() {
        SLOT.with(|slot| *slot.borrow_mut() = None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postcard_writes_plain_bytes_and_reads_them_as_a_slice_of_the_source() {
        let value = SharedBytes::from(vec![9u8; 1000]);
        let encoded = postcard::to_stdvec(&value).expect("encodes");
        assert_eq!(encoded.len(), 1 + 2 + 1000, "a variant, a length and the bytes");
        let body = bytes::Bytes::from(encoded);
        let decoded: SharedBytes = with_source(&body, || postcard::from_bytes(&body)).expect("decodes");
        assert_eq!(decoded, value);
        let inside = body.as_ptr() as usize..body.as_ptr() as usize + body.len();
        assert!(inside.contains(&(decoded.as_ptr() as usize)), "no copy: the value points into the body");
        // Without a source the bytes are copied.
        let copied: SharedBytes = postcard::from_bytes(&body).expect("decodes");
        assert!(!inside.contains(&(copied.as_ptr() as usize)));
        assert_eq!(copied, value);
    }

    #[test]
    fn a_self_describing_body_carries_it_too() {
        let value = SharedBytes::from(vec![7u8; 300]);
        let mut out = Vec::new();
        snake_ipc::wire::encode(&value, true, &mut out).expect("encodes");
        let body = bytes::Bytes::from(out);
        let decoded: SharedBytes =
            with_source(&body, || snake_ipc::wire::decode(&body, true, snake_ipc::FrameKind::Reply)).expect("decodes");
        assert_eq!(decoded, value);
    }

    #[test]
    fn a_range_handed_back_resolves_in_place_and_a_forged_one_is_a_typed_error() {
        use snake_ipc::shm::handback::HandBack;
        use snake_ipc::shm::{Arenas, ShmConfig};
        use snake_ipc::{FrameKind, ProtocolError};

        #[derive(Serialize)]
        enum Wire {
            #[allow(dead_code)]
            Inline(()),
            HandBack(HandBack),
        }
        let arenas = Arenas::create(ShmConfig { threshold: 1024, limit: 4 << 20 }).expect("arenas");
        let lent = arenas.outgoing.place(&[5; 10_000]).expect("room");
        let token = arenas.outgoing.token();
        let body = |offset: u64, len: u64| postcard::to_stdvec(&Wire::HandBack(HandBack { token, offset, len }));
        let decode = |body: &[u8]| snake_ipc::wire::decode::<SharedBytes>(body, false, FrameKind::Reply);

        let forged = body(lent.offset + 8192, 4096).expect("encodes");
        let err = decode(&forged).expect_err("past the lent region");
        assert!(matches!(err, ProtocolError::BadRegion { len: 4096, .. }), "{err:?}");
        let good = body(lent.offset + 100, 5000).expect("encodes");
        let value = decode(&good).expect("a range of a lent region");
        assert!(value.iter().all(|&b| b == 5) && value.len() == 5000);
        // The value holds the region after the peer released it; dropping it frees the region.
        arenas.outgoing.release(&[lent]).expect("lent");
        assert_eq!(arenas.outgoing.lent().0, 1);
        drop(value);
        assert_eq!(arenas.outgoing.lent(), (0, 0));
        let err = decode(&good).expect_err("no longer lent");
        assert!(matches!(err, ProtocolError::BadRegion { .. }), "{err:?}");
    }

    #[test]
    fn the_handoff_slot_is_left_empty() {
        let _ = postcard::to_stdvec(&SharedBytes::from(vec![1, 2])).expect("encodes");
        assert!(handoff::take().is_none());
    }
}
