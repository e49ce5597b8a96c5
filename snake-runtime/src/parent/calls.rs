//! The messages a [`PythonActor`](super::PythonActor) takes for calls of a declared method, and
//! where their replies go.

use std::marker::PhantomData;

use bytes::Bytes;
use kameo::error::BoxSendError;
use kameo::message::BoxReply;
use kameo::reply::BoxReplySender;
use serde::de::DeserializeOwned;
use snake_ipc::{ReplySink, wire};

use crate::error::PythonExecutionError;
use crate::protocol::FrameKind;
use crate::schema::Describe;

/// Where the result of a call goes.
pub(crate) enum ReplyTo {
    /// A kameo `ask`: the reply is decoded to the message's reply type and boxed for kameo.
    Kameo { tx: BoxReplySender, decode: fn(&[u8]) -> Result<BoxReply, PythonExecutionError> },
    /// A kameo `tell`: nobody waits; failures are logged.
    Discard,
}

impl ReplySink<PythonExecutionError> for ReplyTo {
    fn is_closed(&self) -> bool {
        match self {
            Self::Kameo { tx, .. } => tx.is_closed(),
            Self::Discard => false,
        }
    }

    fn complete(self: Box<Self>, result: Result<Bytes, PythonExecutionError>) {
        match *self {
            Self::Kameo { tx, decode } => {
                let reply = result.and_then(|body| decode(&body));
                let _ = tx.send(reply.map_err(|err| BoxSendError::HandlerError(Box::new(err))));
            }
            Self::Discard => {
                if let Err(err) = result {
                    tracing::warn!(error = %err, "a python call sent with `tell` failed");
                }
            }
        }
    }
}

/// How a call's request and reply bodies cross the wire: whether each is self-describing (see
/// [`crate::wire`]). Fixed when the call is built, from the types' `Describe` where they have one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Encoding {
    pub(crate) request: bool,
    pub(crate) reply: bool,
}

impl Encoding {
    /// Both bodies plain postcard: the low-level API, whose types have no `Describe`.
    const POSTCARD: Self = Self { request: false, reply: false };

    const fn of<Req: Describe, Rep: Describe>() -> Self {
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

    fn with(method: u32, request: Req, encoding: Encoding) -> Self {
        Self { method, request, encoding, caller: tracing::Span::current(), _reply: PhantomData }
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
        Self { method, request, encoding, caller: tracing::Span::current(), _item: PhantomData }
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
