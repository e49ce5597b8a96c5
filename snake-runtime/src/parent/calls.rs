//! The messages a [`PythonActor`](super::PythonActor) takes for calls of a declared method, and
//! where their replies go.

use std::marker::PhantomData;

use bytes::Bytes;
use kameo::error::BoxSendError;
use kameo::message::BoxReply;
use kameo::reply::BoxReplySender;
use serde::de::DeserializeOwned;
use snake_ipc::{ReplySink, wire};
use tokio::sync::oneshot;

use crate::error::PythonExecutionError;
use crate::protocol::FrameKind;
use crate::schema::Describe;
use crate::shared_bytes::with_source;

/// Where the result of a call goes.
pub(crate) enum ReplyTo {
    /// A kameo `ask`: the reply is decoded to the message's reply type and boxed for kameo.
    Kameo { tx: BoxReplySender, decode: fn(&[u8]) -> Result<BoxReply, PythonExecutionError> },
    /// A kameo `tell`: nobody waits; failures are logged.
    Discard,
    /// A call on the direct path: the caller decodes the body it awaits.
    Direct(oneshot::Sender<Result<Bytes, PythonExecutionError>>),
}

impl ReplySink<PythonExecutionError> for ReplyTo {
    fn is_closed(&self) -> bool {
        match self {
            Self::Kameo { tx, .. } => tx.is_closed(),
            Self::Discard => false,
            Self::Direct(tx) => tx.is_closed(),
        }
    }

    fn poll_closed(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        match self {
            Self::Direct(tx) => tx.poll_closed(cx),
            Self::Kameo { .. } | Self::Discard => std::task::Poll::Pending,
        }
    }

    fn complete(self: Box<Self>, result: Result<Bytes, PythonExecutionError>) {
        match *self {
            Self::Kameo { tx, decode } => {
                let reply = result.and_then(|body| with_source(&body, || decode(&body)));
                let _ = tx.send(reply.map_err(|err| BoxSendError::HandlerError(Box::new(err))));
            }
            Self::Discard => {
                if let Err(err) = result {
                    tracing::warn!(error = %err, "a python call sent with `tell` failed");
                }
            }
            Self::Direct(tx) => {
                let _ = tx.send(result);
            }
        }
    }
}

/// How a call's request and reply bodies cross the wire: whether each is self-describing (see
/// [`snake_ipc::wire`]). Fixed when the call is built, from the types' `Describe` where they have one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Encoding {
    pub(crate) request: bool,
    pub(crate) reply: bool,
}

impl Encoding {
    /// Both bodies plain postcard: the low-level API, whose types have no `Describe`.
    pub(crate) const POSTCARD: Self = Self { request: false, reply: false };

    pub(crate) const fn of<Req: Describe, Rep: Describe>() -> Self {
        Self { request: Req::SELF_DESCRIBING, reply: Rep::SELF_DESCRIBING }
    }
}

/// A call of method `method` of an actor declared with `#[snake::actor]` (what the generated
/// handle sends; use the handle's methods instead).
#[doc(hidden)]
#[allow(missing_debug_implementations)]
pub struct MethodCall<Req, Rep> {
    pub(crate) method: u32,
    pub(crate) request: Req,
    pub(crate) encoding: Encoding,
    /// The caller's span: kameo runs handlers in a span of their own, so the call span's parent
    /// travels with the message.
    pub(crate) caller: tracing::Span,
    /// Routes the call to the worker this key maps to (session affinity).
    pub(crate) key: Option<u64>,
    /// Whether the call is sent again, once, to another worker if its worker dies under it.
    pub(crate) retry: bool,
    _reply: PhantomData<fn() -> Rep>,
}

impl<Req: Describe, Rep: Describe> MethodCall<Req, Rep> {
    /// A call of method number `method`, in the current span; each body is self-describing when
    /// its type's `Describe::SELF_DESCRIBING` says so.
    pub fn new(method: u32, request: Req) -> Self {
        Self::with(method, request, Encoding::of::<Req, Rep>())
    }
}

impl<Req, Rep> MethodCall<Req, Rep> {
    /// A call with plain postcard bodies, for types without `Describe`.
    pub(crate) fn postcard(method: u32, request: Req) -> Self {
        Self::with(method, request, Encoding::POSTCARD)
    }

    pub(crate) fn with(method: u32, request: Req, encoding: Encoding) -> Self {
        Self {
            method,
            request,
            encoding,
            caller: tracing::Span::current(),
            key: None,
            retry: false,
            _reply: PhantomData,
        }
    }

    /// Routes the call by `key` (see `with_key` on the generated handles).
    #[must_use]
    pub fn key(mut self, key: Option<u64>) -> Self {
        self.key = key;
        self
    }

    /// Sends the call again, once, to another worker if its worker dies under it (methods marked
    /// `#[snake(retry)]`).
    #[must_use]
    pub fn retry(mut self, retry: bool) -> Self {
        self.retry = retry;
        self
    }
}

/// A streaming call of generator method `method` of an actor declared with `#[snake::actor]`.
#[doc(hidden)]
#[allow(missing_debug_implementations)]
pub struct MethodStream<Req, Item> {
    pub(crate) method: u32,
    pub(crate) request: Req,
    pub(crate) encoding: Encoding,
    pub(crate) caller: tracing::Span,
    pub(crate) key: Option<u64>,
    _item: PhantomData<fn() -> Item>,
}

impl<Req: Describe, Item: Describe> MethodStream<Req, Item> {
    /// A streaming call of method number `method`, in the current span; each body is
    /// self-describing when its type's `Describe::SELF_DESCRIBING` says so.
    pub fn new(method: u32, request: Req) -> Self {
        Self::with(method, request, Encoding::of::<Req, Item>())
    }
}

impl<Req, Item> MethodStream<Req, Item> {
    /// A streaming call with plain postcard bodies, for types without `Describe`.
    pub(crate) fn postcard(method: u32, request: Req) -> Self {
        Self::with(method, request, Encoding::POSTCARD)
    }

    fn with(method: u32, request: Req, encoding: Encoding) -> Self {
        Self { method, request, encoding, caller: tracing::Span::current(), key: None, _item: PhantomData }
    }

    /// Routes the stream by `key` (see `with_key` on the generated handles).
    #[must_use]
    pub fn key(mut self, key: Option<u64>) -> Self {
        self.key = key;
        self
    }
}

pub(crate) fn decode<R: DeserializeOwned, const SELF_DESCRIBING: bool>(body: &[u8]) -> Result<R, PythonExecutionError> {
    Ok(wire::decode(body, SELF_DESCRIBING, FrameKind::Reply)?)
}

pub(crate) fn decode_boxed<R: DeserializeOwned + Send + 'static, const SELF_DESCRIBING: bool>(
    body: &[u8],
) -> Result<BoxReply, PythonExecutionError> {
    decode::<R, SELF_DESCRIBING>(body).map(|reply| Box::new(reply) as BoxReply)
}

/// A low-level call routed by a key: every call with the same key goes to the same worker of a
/// pool while that worker lives (for state Python keeps per session: a conversation, a loaded
/// model). While that worker is being replaced, the key's calls go to the next live worker, and
/// come back once the slot has a worker again. On a single child, the key changes nothing.
///
/// ```no_run
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Serialize, Deserialize)] struct Chat { text: String }
/// # impl snake::ChildMessage for Chat { type Reply = String; }
/// # async fn demo(pool: kameo::actor::ActorRef<snake::PythonActor<Chat>>) -> Result<(), snake::PythonExecutionError> {
/// let reply = pool.ask(snake::Keyed::new("user-42", Chat { text: "hi".into() })).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyed<M> {
    pub(crate) key: u64,
    pub(crate) msg: M,
}

impl<M> Keyed<M> {
    /// `msg`, routed by the hash of `key`.
    pub fn new<K: std::hash::Hash + ?Sized>(key: &K, msg: M) -> Self {
        Self { key: super::pool::key_of(key), msg }
    }
}

/// A request body encoded already (postcard bytes of a `wire::Body`), serialized as those bytes
/// unchanged: postcard writes a tuple of `u8` as the bytes themselves, with no length.
#[cfg(feature = "remote")]
#[derive(Clone, Debug)]
pub(crate) struct Encoded(pub(crate) Bytes);

#[cfg(feature = "remote")]
impl serde::Serialize for Encoded {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut tuple = serializer.serialize_tuple(self.0.len())?;
        for byte in self.0.iter() {
            tuple.serialize_element(byte)?;
        }
        tuple.end()
    }
}

/// A call whose request is encoded already and whose reply stays encoded: what a node serving
/// this actor to other nodes sends it (feature `remote`). Not public API.
#[cfg(feature = "remote")]
#[doc(hidden)]
#[derive(Debug)]
pub struct EncodedCall {
    pub(crate) method: u32,
    pub(crate) key: Option<u64>,
    pub(crate) body: Bytes,
    pub(crate) retry: bool,
    pub(crate) caller: tracing::Span,
    /// Where the reply goes when the call was sent with `tell` (the hosting endpoint hands its
    /// own reply sender down, saving a hop); `None` for an `ask`.
    pub(crate) reply: Option<ReplyTo>,
}

/// A streaming call whose request is encoded already and whose items stay encoded (feature
/// `remote`). Not public API.
#[cfg(feature = "remote")]
#[doc(hidden)]
#[derive(Debug)]
pub struct EncodedStream {
    pub(crate) method: u32,
    pub(crate) key: Option<u64>,
    pub(crate) body: Bytes,
    pub(crate) caller: tracing::Span,
}

#[cfg(feature = "remote")]
impl std::fmt::Debug for ReplyTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Kameo { .. } => "ReplyTo::Kameo",
            Self::Discard => "ReplyTo::Discard",
            Self::Direct(_) => "ReplyTo::Direct",
        })
    }
}

/// The reply body as it came, for [`EncodedCall`].
#[cfg(feature = "remote")]
pub(crate) fn raw_boxed(body: &[u8]) -> Result<BoxReply, PythonExecutionError> {
    Ok(Box::new(Bytes::copy_from_slice(body)) as BoxReply)
}

/// A stream item as it came, for [`EncodedStream`].
#[cfg(feature = "remote")]
pub(crate) fn raw_item(body: &[u8]) -> Result<Bytes, PythonExecutionError> {
    Ok(Bytes::copy_from_slice(body))
}
