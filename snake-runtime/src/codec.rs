//! Converting message bodies to Python objects and back, in the child: one [`MethodCodec`] per
//! method, one [`CallbackCodec`] per callback, each built at compile time from the Rust types
//! through [`serde_py`] and the engine's [`wire`] bodies.

use pyo3::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use snake_ipc::shm::FrameOut;
use snake_ipc::wire;

use crate::error::{ConversionDirection, PythonExecutionError};
use crate::message::{ChildCallbackMessage, ChildMessage};
use crate::protocol::FrameKind;
use crate::schema::Describe;
use crate::serde_py;

/// Converts one method's request to Python and its reply back, for the child.
#[derive(Clone, Copy, Debug)]
pub struct MethodCodec {
    /// Decodes the request body and builds the Python argument.
    pub request_to_python: for<'py> fn(Python<'py>, &[u8]) -> Result<Bound<'py, PyAny>, PythonExecutionError>,
    /// Converts the Python return value and appends its encoded body.
    pub reply_from_python: fn(&Bound<'_, PyAny>, &mut FrameOut<'_>) -> Result<(), PythonExecutionError>,
}

impl MethodCodec {
    /// The codec for a message type and its reply, through [`serde_py`]; bodies are plain
    /// postcard (the low-level API's types have no [`Describe`]).
    pub const fn serde<M: ChildMessage>() -> Self {
        Self::with::<M, M::Reply, false>(false, false)
    }

    /// The codec for a request type and a reply (or stream item) type; each body is
    /// self-describing when its type's [`Describe::SELF_DESCRIBING`] says so. Replies refuse dict
    /// keys their structs do not have ([`serde_py::from_python_strict_at`]).
    pub const fn of<Req, Rep>() -> Self
    where
        Req: DeserializeOwned + Serialize + Describe,
        Rep: DeserializeOwned + Serialize + Describe,
    {
        Self::with::<Req, Rep, true>(Req::SELF_DESCRIBING, Rep::SELF_DESCRIBING)
    }

    const fn with<Req: DeserializeOwned + Serialize, Rep: DeserializeOwned + Serialize, const STRICT: bool>(
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
                reply_from_python::<Rep, true, STRICT>
            } else {
                reply_from_python::<Rep, false, STRICT>
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

/// Reads a value out of Python; `strict` refuses unknown struct keys (typed messages).
fn read<T: DeserializeOwned>(
    value: &Bound<'_, PyAny>,
    root: &str,
    strict: bool,
) -> Result<T, serde_py::ConversionError> {
    if strict { serde_py::from_python_strict_at(value, root) } else { serde_py::from_python_at(value, root) }
}

fn reply_from_python<R: DeserializeOwned + Serialize, const SELF_DESCRIBING: bool, const STRICT: bool>(
    value: &Bound<'_, PyAny>,
    out: &mut FrameOut<'_>,
) -> Result<(), PythonExecutionError> {
    // Encoded and dropped at once, with the GIL held throughout: buffers need not be copied.
    let reply: R = serde_py::read_for_encoding(|| read(value, "reply", STRICT))
        .map_err(|error| PythonExecutionError::Conversion { direction: ConversionDirection::Reply, error })?;
    Ok(wire::encode_frame_body(&reply, SELF_DESCRIBING, out)?)
}

/// Converts one callback's argument to Rust and its reply back, in the child.
#[derive(Clone, Copy, Debug)]
pub struct CallbackCodec {
    /// The callback's name, for error messages.
    pub name: fn() -> &'static str,
    /// Converts the Python argument and writes the callback frame's body: `head`, then the
    /// argument (straight into shared memory when the body is large).
    pub arg_from_python: fn(&Bound<'_, PyAny>, CallbackHead, &mut FrameOut<'_>) -> Result<(), PythonExecutionError>,
    /// Decodes the postcard reply and builds the Python value.
    pub reply_to_python: for<'py> fn(Python<'py>, &[u8]) -> Result<Bound<'py, PyAny>, PythonExecutionError>,
}

impl CallbackCodec {
    /// The codec for a callback message type and its reply, through [`serde_py`]; bodies are
    /// plain postcard (the low-level API's types have no [`Describe`]).
    pub const fn serde<C: ChildCallbackMessage>() -> Self {
        Self::with::<C, C::Reply, false>(std::any::type_name::<C>, false, false)
    }

    /// The codec for a callback with argument `A` and reply `R`, named by `name`; each body is
    /// self-describing when its type's [`Describe::SELF_DESCRIBING`] says so. Arguments refuse
    /// dict keys their structs do not have ([`serde_py::from_python_strict_at`]).
    pub const fn of<A, R>(name: fn() -> &'static str) -> Self
    where
        A: DeserializeOwned + Serialize + Describe,
        R: DeserializeOwned + Serialize + Describe,
    {
        Self::with::<A, R, true>(name, A::SELF_DESCRIBING, R::SELF_DESCRIBING)
    }

    const fn with<A: DeserializeOwned + Serialize, R: DeserializeOwned + Serialize, const STRICT: bool>(
        name: fn() -> &'static str,
        arg_self_describing: bool,
        reply_self_describing: bool,
    ) -> Self {
        Self {
            name,
            arg_from_python: if arg_self_describing {
                callback_arg_from_python::<A, true, STRICT>
            } else {
                callback_arg_from_python::<A, false, STRICT>
            },
            reply_to_python: if reply_self_describing {
                callback_reply_to_python::<R, true>
            } else {
                callback_reply_to_python::<R, false>
            },
        }
    }
}

fn callback_arg_from_python<C: DeserializeOwned + Serialize, const SELF_DESCRIBING: bool, const STRICT: bool>(
    value: &Bound<'_, PyAny>,
    head: CallbackHead,
    out: &mut FrameOut<'_>,
) -> Result<(), PythonExecutionError> {
    // Encoded and dropped at once, with the GIL held throughout: buffers need not be copied.
    let arg: C = serde_py::read_for_encoding(|| read(value, "callback", STRICT))
        .map_err(|error| PythonExecutionError::Conversion { direction: ConversionDirection::Callback, error })?;
    // Postcard writes a pair as its two parts one after the other: the head, then the argument.
    Ok(out.put(&(head, wire::Body::new(arg, SELF_DESCRIBING)?))?)
}

/// What a callback frame's body starts with, before the argument: the id of the call it was
/// made from (0 for none) and, for a streaming callback, how many items the child takes at first.
#[derive(Clone, Copy, Debug)]
pub struct CallbackHead {
    /// The call the callback was made from.
    pub origin: u64,
    /// A streaming callback's first credit.
    pub window: Option<u32>,
}

impl Serialize for CallbackHead {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut tuple = serializer.serialize_tuple(1 + usize::from(self.window.is_some()))?;
        tuple.serialize_element(&self.origin)?;
        if let Some(window) = &self.window {
            tuple.serialize_element(window)?;
        }
        tuple.end()
    }
}

fn callback_reply_to_python<'py, R: DeserializeOwned + Serialize, const SELF_DESCRIBING: bool>(
    py: Python<'py>,
    body: &[u8],
) -> Result<Bound<'py, PyAny>, PythonExecutionError> {
    let reply: R = wire::decode(body, SELF_DESCRIBING, FrameKind::CallbackReply)?;
    serde_py::to_python_at(py, &reply, "callback_reply")
        .map_err(|error| PythonExecutionError::Conversion { direction: ConversionDirection::Callback, error })
}
