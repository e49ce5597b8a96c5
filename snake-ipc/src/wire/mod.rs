//! How typed message bodies cross the process boundary: plain postcard, or a self-describing
//! [`Value`] tree (itself postcard-encoded) for the types whose serde attributes postcard cannot
//! carry.
//!
//! postcard writes a value without its shape and reads it back by following the type. It cannot
//! answer `deserialize_any`, which serde uses for internally tagged, adjacently tagged and
//! untagged enums and for `flatten`, and it cannot tell that a field was left out by
//! `skip_serializing_if`. A [`Value`] records the shape (a struct's keys, a variant's name, `None`
//! against `Some`), so reading it back can answer every request the way a self-describing format
//! such as JSON does. Which form a type takes is the upper layer's choice, fixed per type at
//! compile time (snake's `Describe::SELF_DESCRIBING`); both processes take it from the same type,
//! so they always agree.

mod de;
pub mod limits;
mod ser;
mod value;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use self::ser::to_value;
pub use self::value::{Error, Value};

use crate::error::ProtocolError;
use crate::frame::FrameKind;

/// Appends `value` to `out`: as postcard, or as the postcard of its [`Value`] tree when
/// `self_describing`. On error `out` is left as it was.
pub fn encode<T: Serialize + ?Sized>(value: &T, self_describing: bool, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
    let start = out.len();
    let result = if self_describing {
        let tree = to_value(value).map_err(|e| ProtocolError::Encode { message: e.to_string() })?;
        postcard::serialize_with_flavor(&tree, Append(out))
    } else {
        postcard::serialize_with_flavor(value, Append(out))
    };
    result.map_err(|e| {
        out.truncate(start);
        ProtocolError::Encode { message: e.to_string() }
    })
}

/// [`encode`] as the body of the frame `out` is writing (straight into shared memory when large).
pub fn encode_frame_body<T: Serialize + ?Sized>(
    value: &T,
    self_describing: bool,
    out: &mut crate::shm::FrameOut<'_>,
) -> Result<(), ProtocolError> {
    if self_describing {
        let tree = to_value(value).map_err(|e| ProtocolError::Encode { message: e.to_string() })?;
        out.put(&tree)
    } else {
        out.put(value)
    }
}

/// Reads a body written by [`encode`] with the same `self_describing`; errors are reported as
/// undecodable frames of `kind`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], self_describing: bool, kind: FrameKind) -> Result<T, ProtocolError> {
    // A range handed back that this side refuses is a typed error, not a message.
    let _ = crate::shm::handback::take_refused();
    let error = |message: String| match crate::shm::handback::take_refused() {
        Some(refused) => ProtocolError::from(refused),
        None => ProtocolError::Decode { kind, message },
    };
    if self_describing {
        let tree: Value = limits::counted(|| postcard::from_bytes(bytes)).map_err(error)?;
        T::deserialize(tree).map_err(|e| error(e.to_string()))
    } else {
        postcard::from_bytes(bytes).map_err(|e| error(e.to_string()))
    }
}

/// A request on its way into a frame, which the connection encodes with postcard: the value
/// itself, or its tree (built up front, so that a failure keeps its message: postcard reports
/// every custom serde error as the same `SerdeSerCustom`).
#[derive(Debug)]
pub enum Body<T> {
    /// The value, encoded as plain postcard.
    Plain(T),
    /// Its self-describing tree.
    Tree(Value),
}

impl<T: Serialize> Body<T> {
    /// The body of `value`: its tree when `self_describing`.
    pub fn new(value: T, self_describing: bool) -> Result<Self, ProtocolError> {
        if self_describing {
            to_value(&value).map(Self::Tree).map_err(|e| ProtocolError::Encode { message: e.to_string() })
        } else {
            Ok(Self::Plain(value))
        }
    }
}

impl<T: Serialize> Serialize for Body<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Plain(value) => value.serialize(serializer),
            Self::Tree(tree) => tree.serialize(serializer),
        }
    }
}

/// A postcard output that appends to a borrowed buffer.
struct Append<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Append<'_> {
    type Output = ();

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
