//! A child in plain Rust that speaks the engine's frames: the test peer.
//!
//! Hello payload: a greeting (`String`). Welcome payload: `(greeting in upper case, pid)`; the
//! greeting `"refuse"` is refused, `"wrong fingerprint"` is answered with another fingerprint, and
//! a child greeted `"deaf"` never answers a health probe (the others answer both kinds at once,
//! from the reading thread). Methods are the constants below; the error type is [`IpcError`].

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use snake_ipc::frame::encode_frame_with;
use snake_ipc::handshake::{read_hello, write_welcome};
use snake_ipc::{
    Frame, FrameDecoder, FrameKind, Header, Hello, IpcError, LogRecord, LogSource, ProtocolError, Welcome,
};

/// Replies with the request body as it is.
pub const ECHO: u32 = 0;
/// Sleeps the requested milliseconds (`u64`) on its own thread, then replies with them; a cancel
/// that arrives first suppresses the reply.
pub const SLEEP: u32 = 1;
/// Replies with the ids of every call cancelled so far (`Vec<u64>`).
pub const CANCELLED: u32 = 2;
/// Exits the process with the requested code (`i32`) at once.
pub const EXIT: u32 = 3;
/// Writes a frame length no parent accepts.
pub const GARBAGE: u32 = 4;
/// Calls back into the parent with the request (`String`), replies with the callback's reply.
pub const CALLBACK: u32 = 5;
/// Fails with `IpcError::CallbackFailed { callback: "fail", message: request }`.
pub const FAIL: u32 = 6;
/// Sends a log record with the request as its message, then replies `()`.
pub const LOG: u32 = 7;
/// Answers with a `Shared` frame naming the requested region (`(offset, len)`) of an arena it
/// never wrote: a peer that names memory it has no right to.
pub const BAD_REGION: u32 = 8;
/// Streams: `OpenStream` of method 0 yields `0..n` (`n: u32` after the credit), under credit.
pub const COUNT: u32 = 0;

pub type Payload = (String, u32);

struct Peer {
    writer: Mutex<UnixStream>,
    cancelled: Mutex<HashSet<u64>>,
    credit: Mutex<HashMap<u64, u32>>,
    credit_changed: Condvar,
    callbacks: Mutex<HashMap<u64, mpsc::Sender<Result<Bytes, IpcError>>>>,
    next_callback: AtomicU64,
    /// Ignores pings.
    deaf: bool,
}

impl Peer {
    fn send(&self, kind: FrameKind, id: u64, body: &[u8]) {
        let mut frame = Vec::with_capacity(body.len() + 16);
        let encoded = encode_frame_with(&mut frame, &Header::new(kind, id), usize::MAX, |out| {
            out.extend_from_slice(body);
            Ok::<(), ProtocolError>(())
        });
        if encoded.is_ok() {
            let _ = self.writer.lock().unwrap_or_else(PoisonError::into_inner).write_all(&frame);
        }
    }

    fn send_value<T: serde::Serialize>(&self, kind: FrameKind, id: u64, value: &T) {
        self.send(kind, id, &postcard::to_stdvec(value).expect("encodes"));
    }

    fn is_cancelled(&self, id: u64) -> bool {
        self.cancelled.lock().unwrap_or_else(PoisonError::into_inner).contains(&id)
    }
}

pub fn serve(stream: UnixStream) -> ! {
    let hello: Hello<String> = match read_hello(&stream, Duration::from_secs(10)) {
        Ok(hello) => hello,
        Err(err) => {
            eprintln!("engine test child: no valid hello: {err}");
            std::process::exit(2);
        }
    };
    let max = hello.max_frame_size as usize;
    let welcome: Welcome<Payload, IpcError> = match hello.payload.as_str() {
        "refuse" => {
            eprintln!("refusing on purpose");
            Welcome::new(
                0,
                Err(IpcError::HandshakeFailed { reason: "refused by the child".into(), stderr_tail: vec![] }),
            )
        }
        "wrong fingerprint" => Welcome::new(hello.fingerprint + 1, Ok((String::new(), std::process::id()))),
        greeting => Welcome::new(hello.fingerprint, Ok((greeting.to_uppercase(), std::process::id()))),
    };
    let refused = welcome.outcome.is_err();
    if write_welcome(&stream, &welcome, max).is_err() || refused {
        std::process::exit(3);
    }
    let peer = Arc::new(Peer {
        writer: Mutex::new(stream.try_clone().expect("clone")),
        cancelled: Mutex::default(),
        credit: Mutex::default(),
        credit_changed: Condvar::new(),
        callbacks: Mutex::default(),
        next_callback: AtomicU64::new(1),
        deaf: hello.payload == "deaf",
    });
    let decoder = FrameDecoder::new(max);
    let mut buf = BytesMut::new();
    let mut scratch = vec![0u8; 64 * 1024];
    loop {
        let n = match (&stream).read(&mut scratch) {
            Ok(0) | Err(_) => std::process::exit(0),
            Ok(n) => n,
        };
        buf.extend_from_slice(&scratch[..n]);
        while let Some(frame) = decoder.decode(&mut buf).unwrap_or_else(|_| std::process::exit(2)) {
            dispatch(&peer, frame);
        }
    }
}

fn dispatch(peer: &Arc<Peer>, frame: Frame) {
    let Header { kind, id, method, .. } = frame.header;
    match kind {
        FrameKind::Call => call(peer, id, method, frame.body),
        FrameKind::OpenStream => {
            let (credit, n): (u32, u32) = postcard::from_bytes(&frame.body).expect("stream request");
            peer.credit.lock().unwrap_or_else(PoisonError::into_inner).insert(id, credit);
            let peer = Arc::clone(peer);
            std::thread::spawn(move || count(&peer, id, n));
        }
        FrameKind::StreamCredit => {
            if let Some(credit) = peer.credit.lock().unwrap_or_else(PoisonError::into_inner).get_mut(&id) {
                *credit += method;
            }
            peer.credit_changed.notify_all();
        }
        FrameKind::Cancel => {
            peer.cancelled.lock().unwrap_or_else(PoisonError::into_inner).insert(id);
            peer.credit_changed.notify_all();
        }
        FrameKind::CallbackReply | FrameKind::Error => {
            let result =
                if kind == FrameKind::Error { Err(frame.decode_body().expect("error")) } else { Ok(frame.body) };
            if let Some(waiter) = peer.callbacks.lock().unwrap_or_else(PoisonError::into_inner).remove(&id) {
                let _ = waiter.send(result);
            }
        }
        FrameKind::Ping if peer.deaf => {}
        FrameKind::Ping => {
            let mut pong = Vec::with_capacity(16);
            let header = Header { kind: FrameKind::Pong, id, method, trace: None };
            if encode_frame_with(&mut pong, &header, usize::MAX, |_| Ok::<(), ProtocolError>(())).is_ok() {
                let _ = peer.writer.lock().unwrap_or_else(PoisonError::into_inner).write_all(&pong);
            }
        }
        FrameKind::Shutdown => std::process::exit(0),
        _ => std::process::exit(4),
    }
}

fn call(peer: &Arc<Peer>, id: u64, method: u32, body: Bytes) {
    match method {
        ECHO => peer.send(FrameKind::Reply, id, &body),
        SLEEP => {
            let millis: u64 = postcard::from_bytes(&body).expect("millis");
            let peer = Arc::clone(peer);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(millis));
                if !peer.is_cancelled(id) {
                    peer.send_value(FrameKind::Reply, id, &millis);
                }
            });
        }
        CANCELLED => {
            let mut ids: Vec<u64> =
                peer.cancelled.lock().unwrap_or_else(PoisonError::into_inner).iter().copied().collect();
            ids.sort_unstable();
            peer.send_value(FrameKind::Reply, id, &ids);
        }
        EXIT => {
            let code: i32 = postcard::from_bytes(&body).expect("code");
            std::process::exit(code);
        }
        GARBAGE => {
            let _ = peer.writer.lock().unwrap_or_else(PoisonError::into_inner).write_all(&u32::MAX.to_le_bytes());
        }
        CALLBACK => {
            let arg: String = postcard::from_bytes(&body).expect("arg");
            let peer = Arc::clone(peer);
            std::thread::spawn(move || {
                let callback = peer.next_callback.fetch_add(1, Ordering::Relaxed);
                let (tx, rx) = mpsc::channel();
                peer.callbacks.lock().unwrap_or_else(PoisonError::into_inner).insert(callback, tx);
                peer.send_value(FrameKind::Callback, callback, &(id, arg));
                match rx.recv_timeout(Duration::from_secs(10)) {
                    Ok(Ok(reply)) => peer.send(FrameKind::Reply, id, &reply),
                    Ok(Err(err)) => peer.send_value(FrameKind::Error, id, &err),
                    Err(_) => peer.send_value(FrameKind::Error, id, &IpcError::Cancelled),
                }
            });
        }
        BAD_REGION => {
            let (offset, len): (u64, u64) = postcard::from_bytes(&body).expect("region");
            let mut frame = Vec::with_capacity(32);
            let header = Header { kind: FrameKind::Shared, id, method: FrameKind::Reply as u32, trace: None };
            let region = snake_ipc::shm::Region { offset, len };
            if snake_ipc::frame::encode_frame(&mut frame, &header, &region, usize::MAX).is_ok() {
                let _ = peer.writer.lock().unwrap_or_else(PoisonError::into_inner).write_all(&frame);
            }
        }
        FAIL => {
            let message: String = postcard::from_bytes(&body).expect("message");
            peer.send_value(FrameKind::Error, id, &IpcError::CallbackFailed { callback: "fail".into(), message });
        }
        LOG => {
            let message: String = postcard::from_bytes(&body).expect("message");
            let record = LogRecord {
                source: LogSource::Logging,
                level: 30,
                logger: "engine".into(),
                message,
                file: None,
                line: None,
                exception: None,
            };
            peer.send_value(FrameKind::Log, id, &record);
            peer.send_value(FrameKind::Reply, id, &());
        }
        _ => peer.send_value(
            FrameKind::Error,
            id,
            &IpcError::Protocol(ProtocolError::Decode {
                kind: FrameKind::Call,
                message: format!("no method {method}"),
            }),
        ),
    }
}

/// Sends `0..n` as items of stream `id`, one unit of credit each, until the end or a cancel.
fn count(peer: &Peer, id: u64, n: u32) {
    for item in 0..n {
        let mut credit = peer.credit.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if peer.is_cancelled(id) {
                return;
            }
            match credit.get_mut(&id) {
                Some(left) if *left > 0 => {
                    *left -= 1;
                    break;
                }
                _ => credit = peer.credit_changed.wait(credit).unwrap_or_else(PoisonError::into_inner),
            }
        }
        drop(credit);
        peer.send_value(FrameKind::StreamItem, id, &item);
    }
    peer.send(FrameKind::StreamEnd, id, &[]);
}
