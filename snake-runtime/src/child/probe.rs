//! The child's side of health probes (`Ping` frames).
//!
//! A heartbeat (`PING_HEARTBEAT`) is answered by the reader thread itself, which never takes the
//! GIL: its `Pong` says the process runs and reads its channel. A GIL probe (`PING_GIL`) is
//! handed to [`GilProbe`]'s thread, started at the first one, which acquires the GIL and only
//! then answers: its `Pong` says the interpreter could run Python code now. A handler that holds
//! the GIL (a C extension that does not release it) delays GIL probes, never heartbeats.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, OnceLock};

use pyo3::Python;

use super::Child;
use crate::protocol::{FrameKind, PING_GIL, PING_HEARTBEAT};

/// The GIL probe thread, as the reader sees it: a channel of probe ids.
#[derive(Debug, Default)]
pub(crate) struct GilProbe {
    ids: OnceLock<Option<Sender<u64>>>,
}

impl GilProbe {
    fn sender(&self, child: &Arc<Child>) -> Option<&Sender<u64>> {
        self.ids
            .get_or_init(|| {
                let (ids, received) = channel();
                let child = Arc::clone(child);
                let started = std::thread::Builder::new()
                    .name("snake-gil-probe".into())
                    .spawn(move || answer_with_the_gil(&child, &received));
                match started {
                    Ok(_) => Some(ids),
                    Err(err) => {
                        eprintln!(
                            "snake child: could not start the GIL probe thread ({err}); GIL probes go unanswered"
                        );
                        None
                    }
                }
            })
            .as_ref()
    }
}

/// Answers one `Ping` on the reader thread: a heartbeat at once, a GIL probe through the probe
/// thread. Never blocks and never takes the GIL.
pub(crate) fn ping(child: &Arc<Child>, id: u64, method: u32) {
    match method {
        PING_HEARTBEAT => child.send_control(FrameKind::Pong, id, PING_HEARTBEAT),
        PING_GIL => {
            if let Some(ids) = child.gil_probe.sender(child) {
                let _ = ids.send(id);
            }
        }
        other => eprintln!("snake child: ignoring a ping of unknown method {other} (id {id})"),
    }
}

fn answer_with_the_gil(child: &Child, received: &Receiver<u64>) {
    while let Ok(first) = received.recv() {
        // Probes that queued up while the GIL was busy are answered by one acquisition: each was
        // sent before it.
        let mut ids = vec![first];
        ids.extend(received.try_iter());
        Python::attach(|_| ());
        for id in ids {
            child.send_control(FrameKind::Pong, id, PING_GIL);
        }
    }
}
