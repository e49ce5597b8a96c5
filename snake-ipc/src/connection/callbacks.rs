//! Callbacks the child makes into the parent: each admitted under a bound, served on its own task
//! through the [`CallbackDispatch`] the upper layer supplies, and answered with a reply, an error,
//! or (for streaming callbacks) items under the child's credit.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, MutexGuard, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

use super::Connection;
use crate::error::{IpcError, PeerError, ProtocolError};
use crate::frame::{FrameKind, Header, TraceContext, encode_frame, encode_frame_with};
use crate::shm::FrameOut;

/// The reply of a callback, or why there is none.
pub type CallbackFuture<E> = Pin<Box<dyn Future<Output = Result<ReplyBody, E>> + Send>>;

/// Writes a callback reply's body into its frame.
type Encode = Box<dyn for<'a> FnOnce(&mut FrameOut<'a>) -> Result<(), ProtocolError> + Send>;

/// A callback's reply body: bytes already encoded, or a value encoded as its frame is written,
/// straight into shared memory when the frame is large (one copy of a large buffer, where
/// encoded bytes take two more: into the frame, then into the arena).
pub enum ReplyBody {
    /// The body, encoded.
    Encoded(Vec<u8>),
    /// The reply value, to encode.
    Value(Encode),
}

impl ReplyBody {
    /// `value`, encoded when its frame is written: as postcard, or as its self-describing tree
    /// (see [`wire`](crate::wire)).
    pub fn value<T: Serialize + Send + 'static>(value: T, self_describing: bool) -> Self {
        Self::Value(Box::new(move |out| crate::wire::encode_frame_body(&value, self_describing, out)))
    }
}

impl From<Vec<u8>> for ReplyBody {
    fn from(body: Vec<u8>) -> Self {
        Self::Encoded(body)
    }
}

impl std::fmt::Debug for ReplyBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Encoded(body) => f.debug_tuple("Encoded").field(&body.len()).finish(),
            Self::Value(_) => f.write_str("Value(..)"),
        }
    }
}

/// The items of a streaming callback.
pub type EncodedStream<E> = Pin<Box<dyn futures_core::Stream<Item = Result<ReplyBody, E>> + Send + 'static>>;

/// A streaming callback's items, or why it cannot stream.
pub type CallbackStreamFuture<E> = Pin<Box<dyn Future<Output = Result<EncodedStream<E>, E>> + Send>>;

/// Answers callback `index` with an encoded argument; the upper layer knows the types.
pub trait CallbackDispatch<E: PeerError>: Send + Sync + 'static {
    /// Starts one callback; it runs on its own task, concurrently with others.
    fn call(&self, index: u32, arg: Bytes) -> CallbackFuture<E>;

    /// Starts one streaming callback. By default, callbacks do not stream.
    fn call_stream(&self, index: u32, arg: Bytes) -> CallbackStreamFuture<E> {
        let _ = arg;
        let name = self.name(index);
        Box::pin(std::future::ready(Err(E::from(IpcError::CallbackFailed {
            callback: name,
            message: "this callback does not answer with a stream".into(),
        }))))
    }

    /// The callback's name, for errors and logs.
    fn name(&self, index: u32) -> String;
}

/// A callback the parent will serve once it has a slot: its handler, its span, and until when it
/// may wait for a slot (its call's deadline).
struct Admitted<E: PeerError> {
    dispatch: Arc<dyn CallbackDispatch<E>>,
    name: String,
    span: tracing::Span,
    wait_until: Option<Instant>,
}

/// Flow control of one streaming callback the parent serves.
pub(super) struct CallbackStreamControl {
    credit: Semaphore,
    pub(super) cancelled: Notify,
}

impl<E: PeerError> Connection<E> {
    /// Serves a callback from the child on its own task, so a slow handler never holds up the
    /// reader. The callback fails at once if the call that made it is gone.
    pub(super) fn callback(
        self: &Arc<Self>,
        id: u64,
        index: u32,
        body: Bytes,
        trace: Option<TraceContext>,
    ) -> Result<(), ProtocolError> {
        let (origin, rest) = postcard::take_from_bytes::<u64>(&body)
            .map_err(|e| ProtocolError::Decode { kind: FrameKind::Callback, message: e.to_string() })?;
        let arg = body.slice(body.len() - rest.len()..);
        let Some(Admitted { dispatch, name, span, wait_until }) =
            self.admit_callback(id, index, origin, trace.as_ref())
        else {
            return Ok(());
        };
        let conn = Arc::clone(self);
        tokio::spawn(
            async move {
                let Some(slot) = conn.callback_slot(id, name, origin, wait_until).await else { return };
                let started = Instant::now();
                let result = dispatch.call(index, arg).await;
                conn.hooks.callback_served(started.elapsed(), result.as_ref().err().map(PeerError::kind));
                conn.callback_reply(id, result);
                drop(slot);
            }
            .instrument(span),
        );
        Ok(())
    }

    /// Admits callback `id` (made during call `origin`, 0 for none), or answers it with the reason
    /// it cannot be served: no handler, or its call is gone.
    fn admit_callback(&self, id: u64, index: u32, origin: u64, trace: Option<&TraceContext>) -> Option<Admitted<E>> {
        let name = self.callbacks.as_ref().map_or_else(|| format!("#{index}"), |c| c.name(index));
        let refusal = match (&self.callbacks, self.deadline_of(origin)) {
            (None, _) => "no callback handler is registered for this actor in the parent",
            (Some(_), None) if origin != 0 => "the call that made this callback was cancelled or timed out",
            (Some(dispatch), wait_until) => {
                let span = self.callback_span(id, &name, trace);
                let wait_until = wait_until.flatten();
                return Some(Admitted { dispatch: Arc::clone(dispatch), name, span, wait_until });
            }
        };
        self.refuse_callback(id, name, refusal);
        None
    }

    fn refuse_callback(&self, id: u64, name: String, reason: &str) {
        let refused = E::from(IpcError::CallbackFailed { callback: name, message: reason.to_owned() });
        self.callback_reply(id, Err(refused));
    }

    /// Waits for a slot among the callbacks served at once: until the call that made the callback
    /// reaches its deadline, or the child is gone. `None` when the callback is not to be served (it
    /// has been answered, or there is nobody left to answer).
    async fn callback_slot(
        &self,
        id: u64,
        name: String,
        origin: u64,
        wait_until: Option<Instant>,
    ) -> Option<OwnedSemaphorePermit> {
        let acquire = Arc::clone(&self.callback_slots).acquire_owned();
        let slot = match wait_until {
            Some(at) => tokio::time::timeout_at(at.into(), acquire).await,
            None => Ok(acquire.await),
        };
        let reason = match slot {
            // The connection closed: the child is gone.
            Ok(Err(_)) => return None,
            Ok(Ok(slot)) if origin == 0 || self.deadline_of(origin).is_some() => return Some(slot),
            Ok(Ok(_)) => "the call that made this callback was cancelled or timed out",
            Err(_) => "the call that made this callback timed out while it waited for a callback slot",
        };
        self.refuse_callback(id, name, reason);
        None
    }

    /// The span of a callback the parent serves: a child of the call in the child that made it.
    fn callback_span(&self, id: u64, name: &str, trace: Option<&TraceContext>) -> tracing::Span {
        let span = tracing::info_span!(
            "snake.callback",
            actor = %self.label,
            callback = %name,
            callback_id = id,
            child_pid = self.pid,
            otel.kind = "server",
        );
        if let Some(trace) = trace {
            self.hooks.set_remote_parent(&span, trace);
        }
        span
    }

    /// Serves a streaming callback: the handler's stream is polled only while the child has
    /// credit left, and dropped when the child cancels.
    pub(super) fn callback_stream(
        self: &Arc<Self>,
        id: u64,
        index: u32,
        body: Bytes,
        trace: Option<TraceContext>,
    ) -> Result<(), ProtocolError> {
        let decode_error =
            |e: postcard::Error| ProtocolError::Decode { kind: FrameKind::OpenCallbackStream, message: e.to_string() };
        let (origin, rest) = postcard::take_from_bytes::<u64>(&body).map_err(decode_error)?;
        let (credit, rest) = postcard::take_from_bytes::<u32>(rest).map_err(decode_error)?;
        let arg = body.slice(body.len() - rest.len()..);
        let Some(Admitted { dispatch, name, span, wait_until }) =
            self.admit_callback(id, index, origin, trace.as_ref())
        else {
            return Ok(());
        };
        let control =
            Arc::new(CallbackStreamControl { credit: Semaphore::new(credit as usize), cancelled: Notify::new() });
        self.callback_streams().insert(id, Arc::clone(&control));
        let conn = Arc::clone(self);
        tokio::spawn(
            async move {
                let Some(slot) = conn.callback_slot(id, name, origin, wait_until).await else {
                    conn.callback_streams().remove(&id);
                    return;
                };
                let serve = async {
                    let mut items = match dispatch.call_stream(index, arg).await {
                        Ok(items) => items,
                        Err(err) => return conn.callback_reply(id, Err(err)),
                    };
                    loop {
                        let Ok(permit) = control.credit.acquire().await else { return };
                        permit.forget();
                        match std::future::poll_fn(|cx| items.as_mut().poll_next(cx)).await {
                            Some(Ok(item)) => conn.stream_frame(FrameKind::StreamItem, id, item),
                            Some(Err(err)) => return conn.callback_reply(id, Err(err)),
                            None => return conn.stream_frame(FrameKind::StreamEnd, id, Vec::new().into()),
                        }
                    }
                };
                tokio::select! {
                    () = serve => {}
                    () = control.cancelled.notified() => {}
                }
                conn.callback_streams().remove(&id);
                drop(slot);
            }
            .instrument(span),
        );
        Ok(())
    }

    pub(super) fn callback_streams(
        &self,
    ) -> MutexGuard<'_, std::collections::HashMap<u64, Arc<CallbackStreamControl>>> {
        self.callback_streams.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The child took items of callback stream `id`, or stopped consuming it.
    pub(super) fn callback_stream_control(&self, kind: FrameKind, id: u64, credit: u32) {
        let control = self.callback_streams().get(&id).cloned();
        if let Some(control) = control {
            match kind {
                FrameKind::StreamCredit => control.credit.add_permits(credit as usize),
                _ => control.cancelled.notify_one(),
            }
        }
    }

    /// Sends the frame of `kind` with `body`: encoded as it is written (straight into shared
    /// memory when large) when it is a value, copied in when it is already encoded.
    fn send_body(&self, kind: FrameKind, id: u64, body: ReplyBody) -> Result<(), ProtocolError> {
        let header = Header::new(kind, id);
        let mut frame = Vec::with_capacity(64);
        match body {
            ReplyBody::Value(encode) => {
                let encoded =
                    encode(&mut FrameOut::new(&mut frame, header, self.limits.max_frame_size, self.shm.as_ref()));
                if encoded.is_ok() {
                    self.send(&frame);
                }
                // The views the frame handed back ranges of may go now: it is in the outbox,
                // ahead of any release of theirs (or was never made).
                crate::shm::handback::after_send();
                encoded?;
            }
            ReplyBody::Encoded(body) => {
                encode_frame_with(&mut frame, &header, self.limits.max_frame_size, |out| {
                    out.extend_from_slice(&body);
                    Ok::<(), ProtocolError>(())
                })?;
                self.send(&frame);
            }
        }
        Ok(())
    }

    /// Sends a stream's item or end, or fails the stream with why it could not be sent.
    fn stream_frame(&self, kind: FrameKind, id: u64, body: ReplyBody) {
        if let Err(err) = self.send_body(kind, id, body) {
            self.callback_reply(id, Err(E::from(IpcError::Protocol(err))));
        }
    }

    /// Answers callback `id` with its reply, or the error frame of what went wrong.
    fn callback_reply(&self, id: u64, result: Result<ReplyBody, E>) {
        let err = match result {
            Ok(body) => match self.send_body(FrameKind::CallbackReply, id, body) {
                Ok(()) => return,
                Err(err) => E::from(IpcError::Protocol(err)),
            },
            Err(err) => err,
        };
        let mut frame = Vec::with_capacity(64);
        if let Err(why) = encode_frame(&mut frame, &Header::new(FrameKind::Error, id), &err, self.limits.max_frame_size)
        {
            frame.clear();
            let err = E::from(IpcError::Protocol(why));
            if encode_frame(&mut frame, &Header::new(FrameKind::Error, id), &err, self.limits.max_frame_size).is_err() {
                return;
            }
        }
        self.send(&frame);
    }
}
