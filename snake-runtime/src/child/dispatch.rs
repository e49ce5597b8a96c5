//! Where each frame the child reads goes: sync calls to the pool (or inline), `async def` calls
//! and cancels to the asyncio loop, callback replies to their waiting handlers, and the frames
//! that end the child.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use snake_ipc::shm::Admitted;

use crate::error::{ProtocolError, PythonExecutionError};
use crate::protocol::{Frame, FrameKind, HandlerMode, Header};

use super::aio::AsyncLoop;
use super::pool::{Job, Slot, SyncPool};
use super::{Child, Stop, probe, unknown_method};

/// Dispatches one frame; a sync call that `inline` allows and the pool lets run inline is put in
/// its `Option` instead of queued.
pub(super) fn dispatch(
    child: &Arc<Child>,
    pool: Option<&SyncPool>,
    aio: Option<&AsyncLoop>,
    frame: Frame,
    inline: Option<(&Slot, &mut Option<Job>)>,
) -> Option<Stop> {
    let admitted = match &child.shm {
        Some(shm) => shm.admit(frame, child.max_frame_size),
        None => Admitted::Frame(frame),
    };
    let frame = match admitted {
        Admitted::Frame(frame) => frame,
        Admitted::Done => return None,
        Admitted::Refused { what, error } => {
            eprintln!("snake child: refused a shared-memory {what}: {error}");
            return None;
        }
        // A bad region fails the call it starts, not the channel.
        Admitted::BadRegion { id, kind, error } => {
            if [FrameKind::Call, FrameKind::OpenStream].iter().any(|&start| start as u32 == kind) {
                child.send_error(id, &PythonExecutionError::Protocol(error));
            } else {
                eprintln!("snake child: refused a shared-memory frame: {error}");
            }
            return None;
        }
    };
    let Header { kind, id, method, trace } = frame.header;
    let mode = child.mode(method);
    let mismatch = |declared: HandlerMode, actual: HandlerMode| PythonExecutionError::HandlerMismatch {
        module: child.module.clone(),
        function: child.function_names.get(method as usize).cloned().unwrap_or_default(),
        declared,
        actual,
    };
    let starts = matches!(kind, FrameKind::Call | FrameKind::OpenStream);
    if starts && child.closing.load(Ordering::Acquire) {
        // The child exits in a moment; the parent fails the call then, with the exit status.
        return None;
    }
    match kind {
        FrameKind::Call => {
            let job = Job::new(id, method, frame.body, None, trace);
            match (mode, pool, aio) {
                (Some(HandlerMode::Sync), Some(pool), _) => match inline {
                    Some((slot, taken)) if pool.try_inline(slot, id) => *taken = Some(job),
                    _ => pool.submit(job),
                },
                (Some(HandlerMode::Async), _, Some(aio)) => aio.call(job),
                (Some(actual @ HandlerMode::Generator), ..) => {
                    child.send_error(id, &mismatch(HandlerMode::Sync, actual))
                }
                (Some(actual), ..) => child.send_error(id, &mismatch(HandlerMode::Async, actual)),
                (None, ..) => child.send_error(id, &unknown_method(method)),
            }
        }
        FrameKind::OpenStream => {
            let Ok((credit, rest)) = postcard::take_from_bytes::<u32>(&frame.body) else {
                return Some(Stop::Protocol(ProtocolError::Decode {
                    kind,
                    message: "a stream must start with its credit".into(),
                }));
            };
            let body = frame.body.slice(frame.body.len() - rest.len()..);
            let job = Job::new(id, method, body, Some(credit), trace);
            match (mode, pool, aio) {
                (Some(HandlerMode::Generator), Some(pool), _) => pool.submit(job),
                (Some(HandlerMode::AsyncGenerator), _, Some(aio)) => aio.open_stream(job),
                (Some(actual), ..) => child.send_error(id, &mismatch(HandlerMode::Generator, actual)),
                (None, ..) => child.send_error(id, &unknown_method(method)),
            }
        }
        FrameKind::StreamCredit => {
            let sync = child.sync_streams().get(&id).cloned();
            match (sync, aio) {
                (Some(stream), _) => stream.grant(method),
                (None, Some(aio)) => aio.credit(id, method),
                (None, None) => {}
            }
        }
        FrameKind::Cancel => {
            let sync = child.sync_streams().get(&id).cloned();
            if let Some(stream) = &sync {
                // Closed at its next credit wait; the pool interrupts it if it runs meanwhile.
                stream.cancel();
            }
            if pool.is_some_and(|pool| pool.cancel(id)) || sync.is_some() {
                return None;
            }
            if let Some(aio) = aio {
                aio.cancel(id);
            }
        }
        FrameKind::CallbackReply => child.resolve_callback(aio, id, Ok(frame.body)),
        FrameKind::StreamItem => child.callback_stream_event(aio, id, Some(Ok(frame.body))),
        FrameKind::StreamEnd => child.callback_stream_event(aio, id, None),
        FrameKind::Error => match frame.decode_body::<PythonExecutionError>() {
            Ok(err) if child.callbacks.stream(id).is_some() => child.callback_stream_event(aio, id, Some(Err(err))),
            Ok(err) => child.resolve_callback(aio, id, Err(err)),
            Err(err) => return Some(Stop::Protocol(err)),
        },
        FrameKind::Ping => probe::ping(child, id, method),
        FrameKind::Shutdown => return Some(Stop::Shutdown),
        other => return Some(Stop::Protocol(ProtocolError::Unexpected { kind: other })),
    }
    None
}
