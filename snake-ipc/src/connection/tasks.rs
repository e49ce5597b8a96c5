//! The tasks of one connection: the reader (the only code that reads the socket), the drainer
//! (writes what a direct write could not), and the supervisor (owns the process).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::sync::{mpsc, watch};

use super::socket::Socket;
use super::{Connection, Control};
use crate::error::{ExitStatus, IpcError, PeerError, ProtocolError};
use crate::frame::{Frame, FrameDecoder, FrameKind, Header};
use crate::records::{LogRecord, SpanRecord};
use crate::shm::Admitted;

/// How often the reader looks for abandoned or overdue calls while any are pending.
const SWEEP_INTERVAL: Duration = Duration::from_millis(20);

/// How long the sweep stays armed after the last pending call, so that calls made one after the
/// other never have to wake the reader.
const STAY_ARMED: Duration = Duration::from_millis(100);

/// How long to wait for an exit status after the channel closed, before calling it unknown.
const EXIT_STATUS_WAIT: Duration = Duration::from_secs(2);

/// Reads until one whole frame is buffered. Only used before the reader task exists.
pub(super) async fn read_frame(
    socket: &Socket,
    decoder: &FrameDecoder,
    buf: &mut BytesMut,
) -> Result<Option<Frame>, ProtocolError> {
    loop {
        if let Some(frame) = decoder.decode(buf)? {
            return Ok(Some(frame));
        }
        if socket.read_buf(buf).await? == 0 {
            return Ok(None);
        }
    }
}

pub(super) async fn read_loop<E: PeerError>(conn: Arc<Connection<E>>, decoder: FrameDecoder, mut buf: BytesMut) {
    let mut sweep = tokio::time::interval(SWEEP_INTERVAL);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_busy = Instant::now();
    let failure = 'read: loop {
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    if let Err(err) = dispatch(&conn, frame) {
                        break 'read Some(err);
                    }
                }
                Ok(None) => break,
                Err(err) => break 'read Some(err),
            }
        }
        // Armed while calls are pending and for a while after; an idle connection stops ticking,
        // and the next call wakes it (`Connection::work`). The flag is published before the table
        // is looked at again, so a call that came in between either sees it or is seen.
        let now = Instant::now();
        if conn.has_pending() {
            last_busy = now;
        }
        let mut armed = now.duration_since(last_busy) < STAY_ARMED;
        conn.sweep_armed.store(armed, Ordering::SeqCst);
        if !armed && conn.has_pending() {
            armed = true;
            conn.sweep_armed.store(true, Ordering::SeqCst);
        }
        tokio::select! {
            biased;
            read = conn.socket.read_buf(&mut buf) => match read {
                Ok(0) => break 'read None,
                Ok(_) => {}
                // A failing read (`ECONNRESET` when the child died with frames unread) means the
                // same as end-of-stream: the child is gone, and how it went is its exit status.
                Err(err) => {
                    tracing::debug!(child_pid = conn.pid, error = %err, "reading from the child failed");
                    break 'read None;
                }
            },
            _ = sweep.tick(), if armed => conn.sweep(),
            // A call arrived while the sweep was disarmed: loop, so that it is armed again.
            () = conn.work.notified() => {}
        }
    };
    match failure {
        Some(err) => {
            tracing::error!(child_pid = conn.pid, error = %err, "closing the channel to the child");
            conn.fail_all(E::from(IpcError::Protocol(err)));
            conn.kill();
        }
        None => {
            // End of stream: the child exited or closed the channel. Report how it exited; the
            // frames it sent before are all dispatched by now.
            let mut exit = conn.exit.clone();
            let status = tokio::time::timeout(EXIT_STATUS_WAIT, exit.wait_for(Option::is_some))
                .await
                .ok()
                .and_then(|status| status.ok().and_then(|s| *s));
            if status.is_none() {
                conn.kill();
            }
            conn.fail_all(E::from(IpcError::ChildExited {
                status: status.unwrap_or(ExitStatus::Unknown),
                stderr_tail: conn.stderr_tail.lines(),
            }));
        }
    }
}

fn dispatch<E: PeerError>(conn: &Arc<Connection<E>>, frame: Frame) -> Result<(), ProtocolError> {
    let admitted = match &conn.shm {
        Some(shm) => shm.admit(frame, conn.limits.max_frame_size),
        None => Admitted::Frame(frame),
    };
    let frame = match admitted {
        Admitted::Frame(frame) => frame,
        Admitted::Done => return Ok(()),
        Admitted::Refused { what, error } => {
            tracing::warn!(child_pid = conn.pid, error = %error, "refused a shared-memory {what}");
            return Ok(());
        }
        // A bad region fails the call it belongs to, not the connection.
        Admitted::BadRegion { id, kind, error } => {
            tracing::warn!(child_pid = conn.pid, error = %error, "refused a shared-memory frame");
            let answers_a_call =
                [FrameKind::Reply, FrameKind::Error, FrameKind::StreamItem].iter().any(|&answer| answer as u32 == kind);
            if answers_a_call {
                let _ = conn.complete(id, Err(E::from(IpcError::Protocol(error))));
            }
            return Ok(());
        }
    };
    let Header { kind, id, method, trace } = frame.header;
    match kind {
        FrameKind::Reply => conn.complete(id, Ok(frame.body)),
        FrameKind::Error => {
            let err: E = frame.decode_body()?;
            conn.complete(id, Err(err))
        }
        FrameKind::StreamItem => conn.stream_item(id, frame.body),
        FrameKind::StreamEnd => {
            conn.stream_end(id);
            Ok(())
        }
        FrameKind::Callback => conn.callback(id, method, frame.body, trace),
        FrameKind::OpenCallbackStream => conn.callback_stream(id, method, frame.body, trace),
        FrameKind::Spans => {
            let records: Vec<SpanRecord> = frame.decode_body()?;
            conn.hooks.spans(records);
            Ok(())
        }
        FrameKind::StreamCredit | FrameKind::Cancel => {
            conn.callback_stream_control(kind, id, method);
            Ok(())
        }
        FrameKind::Pong => {
            conn.pong(id);
            Ok(())
        }
        FrameKind::Log => {
            let record: LogRecord = frame.decode_body()?;
            conn.hooks.log(record, conn.span_of(id).as_ref(), conn.pid);
            Ok(())
        }
        other => Err(ProtocolError::Unexpected { kind: other }),
    }
}

pub(super) async fn drain_loop<E: PeerError>(conn: Arc<Connection<E>>) {
    loop {
        conn.drain_wake.notified().await;
        if conn.outbox.is_closed() {
            return;
        }
        while let Some(chunk) = conn.outbox.take_backlog() {
            if conn.socket.write_all(&chunk).await.is_err() {
                conn.outbox.close();
                break;
            }
        }
    }
}

pub(super) async fn supervise<E: PeerError>(
    mut child: tokio::process::Child,
    conn: Weak<Connection<E>>,
    mut control: mpsc::Receiver<Control>,
    exit_tx: watch::Sender<Option<ExitStatus>>,
    pumps: Vec<tokio::task::JoinHandle<()>>,
) {
    let grace = conn.upgrade().map_or(Duration::ZERO, |c| c.limits.shutdown_grace);
    let status = tokio::select! {
        status = child.wait() => status,
        command = control.recv() => {
            match command {
                Some(Control::Shutdown) => match tokio::time::timeout(grace, child.wait()).await {
                    Ok(status) => status,
                    Err(_) => {
                        let _ = child.start_kill();
                        child.wait().await
                    }
                },
                Some(Control::Kill) | None => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            }
        }
    };
    let status = status.map(ExitStatus::from_std).unwrap_or(ExitStatus::Unknown);
    finish_pumps(pumps).await;
    let _ = exit_tx.send(Some(status));
    if let Some(conn) = conn.upgrade() {
        conn.fail_all(E::from(IpcError::ChildExited { status, stderr_tail: conn.stderr_tail.lines() }));
    }
}

pub(super) async fn wait_status(child: &mut tokio::process::Child) -> ExitStatus {
    match tokio::time::timeout(EXIT_STATUS_WAIT, child.wait()).await {
        Ok(Ok(status)) => ExitStatus::from_std(status),
        _ => {
            let _ = child.start_kill();
            child.wait().await.map(ExitStatus::from_std).unwrap_or(ExitStatus::Unknown)
        }
    }
}

/// Lets the output pumps read what the child wrote before it exited, so the stderr tail in an
/// error is complete; bounded, in case a grandchild holds the pipe open.
pub(super) async fn finish_pumps(pumps: Vec<tokio::task::JoinHandle<()>>) {
    let all = async {
        for pump in pumps {
            let _ = pump.await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(500), all).await;
}
