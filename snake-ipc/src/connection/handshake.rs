//! The parent's side of the handshake: send the hello, read the welcome (or learn why the child
//! did not answer), then start the connection's tasks.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{Notify, Semaphore, mpsc, watch};

use super::socket::Socket;
use super::tasks::{drain_loop, finish_pumps, read_frame, read_loop, supervise, wait_status};
use super::{Connection, Setup, State};
use crate::error::{ExitStatus, IpcError, PeerError};
use crate::frame::{FrameDecoder, FrameKind, Header, encode_frame};
use crate::handshake::{Hello, Welcome, check_welcome};
use crate::outbox::Outbox;
use crate::spawn::Spawned;

/// How long to look for a welcome a child wrote before it exited during the handshake.
const EXITED_WELCOME_WAIT: Duration = Duration::from_millis(500);

impl<E: PeerError> Connection<E> {
    /// Performs the handshake on a freshly spawned child and starts the connection's tasks. The
    /// hello carries `fingerprint`, the limits of the [`Setup`] and the upper layer's `payload`.
    ///
    /// The child's welcome payload `W` is handed to `accept`, which may refuse it with a reason
    /// (the child is then killed and the error is a handshake failure). A child that refuses, exits
    /// or stays silent past the handshake timeout is reaped before this returns, and the error
    /// carries the last lines of its stderr.
    pub async fn establish<P: Serialize, W: DeserializeOwned>(
        spawned: Spawned,
        fingerprint: u64,
        payload: P,
        setup: Setup<E>,
        accept: impl FnOnce(&W) -> Result<(), String>,
    ) -> Result<(Arc<Self>, W), E> {
        let Spawned { mut child, socket, stderr_tail, pumps, shm } = spawned;
        let limits = setup.limits;
        let hello = Hello::new(
            fingerprint,
            u32::try_from(limits.max_frame_size).unwrap_or(u32::MAX),
            u32::try_from(limits.max_in_flight).unwrap_or(u32::MAX),
            payload,
        );
        let io_error = |e: io::Error| E::from(IpcError::Protocol(e.into()));
        let socket = Socket::new(socket).map_err(io_error)?;

        let mut hello_frame = Vec::new();
        encode_frame(&mut hello_frame, &Header::new(FrameKind::Hello, 0), &hello, limits.max_frame_size)
            .map_err(|e| E::from(IpcError::Protocol(e)))?;
        let decoder = FrameDecoder::new(limits.max_frame_size);
        let mut buf = BytesMut::with_capacity(64 * 1024);
        let handshake = async {
            socket.write_all(&hello_frame).await?;
            read_frame(&socket, &decoder, &mut buf).await
        };
        let outcome = tokio::select! {
            frame = handshake => Ok(frame),
            status = child.wait() => Err(status.map(ExitStatus::from_std).unwrap_or(ExitStatus::Unknown)),
            () = tokio::time::sleep(limits.handshake_timeout) => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                finish_pumps(pumps).await;
                return Err(E::from(IpcError::HandshakeTimedOut {
                    timeout: limits.handshake_timeout,
                    stderr_tail: stderr_tail.lines(),
                }));
            }
        };
        // A child that cannot serve (its module failed to import, say) writes its welcome and
        // exits at once; its exit may be seen first, but the welcome is still in the socket.
        let outcome = match outcome {
            Err(status) => {
                match tokio::time::timeout(EXITED_WELCOME_WAIT, read_frame(&socket, &decoder, &mut buf)).await {
                    Ok(Ok(Some(frame))) => Ok(Ok(Some(frame))),
                    _ => Err(status),
                }
            }
            answered => answered,
        };
        let frame = match outcome {
            Ok(Ok(Some(frame))) => frame,
            Ok(Ok(None) | Err(_)) | Err(_) => {
                let status = match outcome {
                    Err(status) => status,
                    Ok(_) => wait_status(&mut child).await,
                };
                finish_pumps(pumps).await;
                return Err(E::from(IpcError::ChildExited { status, stderr_tail: stderr_tail.lines() }));
            }
        };
        let handshake_failed = |reason: String| E::from(IpcError::HandshakeFailed { reason, stderr_tail: Vec::new() });
        let accepted = check_welcome::<W, E>(&frame, hello.fingerprint).map_err(handshake_failed).and_then(
            |Welcome { outcome, .. }| match outcome {
                Ok(payload) => accept(&payload).map(|()| payload).map_err(handshake_failed),
                Err(err) => Err(err),
            },
        );
        let payload = match accepted {
            Ok(payload) => payload,
            Err(mut err) => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                finish_pumps(pumps).await;
                err.set_stderr_tail(stderr_tail.lines());
                return Err(err);
            }
        };

        let (control_tx, control_rx) = mpsc::channel(4);
        let (exit_tx, exit_rx) = watch::channel(None);
        let Setup { limits, label, hooks, callbacks } = setup;
        let connection = Arc::new(Self {
            socket,
            outbox: Outbox::default(),
            drain_wake: Notify::new(),
            work: Notify::new(),
            sweep_armed: AtomicBool::new(false),
            stopping: watch::Sender::new(false),
            state: Mutex::new(State {
                pending: std::collections::HashMap::new(),
                probes: std::collections::HashMap::new(),
                dead: None,
            }),
            next_id: AtomicU64::new(1),
            next_probe: AtomicU64::new(1),
            window: Arc::new(Semaphore::new(limits.max_in_flight.max(1))),
            limits,
            pid: child.id().unwrap_or_default(),
            stderr_tail,
            control: control_tx,
            exit: exit_rx,
            callbacks,
            callback_slots: Arc::new(Semaphore::new(limits.max_callbacks_in_flight.max(1))),
            callback_streams: Mutex::default(),
            label,
            hooks,
            shm,
        });
        if let Some(shm) = &connection.shm {
            // The child's frames we read are released back to it as their last bytes drop.
            let weak = Arc::downgrade(&connection);
            shm.incoming.on_release(move |regions| {
                if let Some(connection) = weak.upgrade() {
                    connection.send(&crate::shm::release_frame(&regions));
                }
            });
        }
        tokio::spawn(supervise(child, Arc::downgrade(&connection), control_rx, exit_tx, pumps));
        tokio::spawn(read_loop(Arc::clone(&connection), decoder, buf));
        tokio::spawn(drain_loop(Arc::clone(&connection)));
        Ok((connection, payload))
    }
}
