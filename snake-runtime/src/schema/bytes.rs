//! [`Bytes`]: a byte buffer that is `bytes` in Python, not `list[int]`.

use std::fmt;
use std::ops::{Deref, DerefMut};

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::describe::Describe;
use super::model::Type;
use super::registry::Registry;

/// A `Vec<u8>` that serializes with `serialize_bytes`, so Python gets (and returns) `bytes`.
///
/// A plain `Vec<u8>` is a sequence to serde and becomes a `list[int]` in Python, one object per
/// byte. Use `Bytes` for payloads.
///
/// ```
/// let payload = snake::Bytes::from(vec![0xde, 0xad]);
/// assert_eq!(&payload[..], &[0xde, 0xad]);
/// assert_eq!(payload.into_vec(), vec![0xde, 0xad]);
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(pub Vec<u8>);

impl Bytes {
    /// An empty buffer.
    pub const fn new() -> Self {
        Self(Vec::new())
    }

    /// The buffer.
    pub fn into_vec(self) -> Vec<u8> {
        self.0
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

impl Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl DerefMut for Bytes {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl From<&[u8]> for Bytes {
    fn from(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }
}

impl From<Bytes> for Vec<u8> {
    fn from(bytes: Bytes) -> Self {
        bytes.0
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_byte_buf(BytesVisitor)
    }
}

/// Accepts bytes, and also a sequence of integers from formats that have no bytes type.
struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Bytes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bytes")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
        Ok(Bytes(v.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
        Ok(Bytes(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bytes, A::Error> {
        // The hint comes from the input: cap what it may reserve up front.
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
        while let Some(byte) = seq.next_element::<u8>()? {
            out.push(byte);
        }
        Ok(Bytes(out))
    }
}

impl Describe for Bytes {
    fn describe(_: &mut Registry) -> Type {
        Type::Bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_postcard_as_bytes() {
        let value = Bytes(vec![1, 2, 255]);
        let encoded = postcard::to_stdvec(&value).expect("encodes");
        // postcard writes bytes as a length and the raw bytes, not one varint per element.
        assert_eq!(encoded, vec![3, 1, 2, 255]);
        assert_eq!(postcard::from_bytes::<Bytes>(&encoded).expect("decodes"), value);
    }

    #[test]
    fn debug_shows_a_byte_string() {
        assert_eq!(format!("{:?}", Bytes(b"a\x00\"".to_vec())), "b\"a\\x00\\\"\"");
    }
}
