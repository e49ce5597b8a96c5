//! Handing a range back to its writer: bytes one side received in place (a slice of a region of
//! the peer's arena) and sends back unchanged cross as a reference to that range, not as a copy
//! in its own arena, and the peer reads them in place in its own arena. The child hands back what
//! a call brought it; the parent, what a reply from the same child brought it.
//!
//! While [`FrameOut::put`](super::FrameOut::put) encodes a frame, a serde type that holds
//! [`Bytes`] asks [`refer`] whether they lie in the incoming arena; if so it writes the returned
//! [`HandBack`] instead of the bytes, and the frame goes out preceded by a
//! [`FrameKind::Hold`](crate::FrameKind::Hold) frame naming those ranges. The receiver's reader
//! takes a hold on their regions when it reads that frame, before anything that follows, and
//! keeps it with the next frame's body; a decoder that meets a `HandBack` takes its own hold
//! through [`resolve`](super::resolve). A region is reused only once the side that received it
//! released its view and every hold dropped, in whatever order.
//!
//! The sender must not release its view before the Hold frame is written, or the receiver could
//! reuse the region first: the views a frame hands back are kept until the thread that encoded
//! it has sent it ([`after_send`], called after every push: by the child's writer, and by
//! `Connection::call` in the parent).
//!
//! Bytes that lie in the sender's *own* arena (a value the peer handed back to it, sent on
//! unchanged) are lent again the same way: [`refer`] writes a reference under the arena's
//! [lend token](super::lend_token), the frame goes out preceded by a
//! [`FrameKind::Lend`](crate::FrameKind::Lend) frame naming those ranges, and the sender counts
//! a loan of each before the frame is sent ([`Outgoing::relend`](super::Outgoing::relend)). The
//! receiver's reader takes a view of each range when it reads that frame and keeps it with the
//! next frame's body; a decoder that meets the reference gets a clone of that view through
//! [`resolve`](super::resolve), and the range is released once all of them drop. A frame that
//! is not sent after all gives its loans back ([`Arenas::discard`](super::Arenas::discard)).

use std::cell::RefCell;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::arena::lend_token;
use super::memory::Memory;
use super::{Outgoing, Region};

/// Bytes shorter than this are copied as before: a reference and its hold cost more.
pub const MIN_HANDBACK: usize = 4096;

/// A range of the receiver's own arena, as a sender hands it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandBack {
    /// The receiver's token for its arena (see [`resolve`](super::resolve)).
    pub token: u64,
    /// The range's first byte.
    pub offset: u64,
    /// Its length.
    pub len: u64,
}

impl HandBack {
    /// The range, without the token.
    pub const fn region(&self) -> Region {
        Region { offset: self.offset, len: self.len }
    }
}

/// The frame being encoded on this thread, while it may hand ranges back or lend them again.
struct Referring {
    /// The arena the peer writes.
    memory: Arc<Memory>,
    /// The peer's token for it.
    token: u64,
    /// Ranges of it handed back.
    regions: Vec<Region>,
    /// This side's own arena.
    own: Outgoing,
    /// Ranges of it lent again.
    lent: Vec<Region>,
    /// The values both kinds of range were read from.
    views: Vec<Bytes>,
}

thread_local! {
    static REFERRING: RefCell<Option<Referring>> = const { RefCell::new(None) };
    /// Views handed back by frames this thread encoded and has not sent yet.
    static UNSENT: RefCell<Vec<Bytes>> = const { RefCell::new(Vec::new()) };
}

/// A reference to `bytes` in place of their copy, when a frame that may hand back is being
/// encoded on this thread and the bytes (at least [`MIN_HANDBACK`] of them) lie in the arena
/// the peer writes and this side reads (handed back), or in this side's own arena (lent again);
/// `None` otherwise, and the bytes are to be written.
pub fn refer(bytes: &Bytes) -> Option<HandBack> {
    if bytes.len() < MIN_HANDBACK {
        return None;
    }
    REFERRING.with(|slot| {
        let mut slot = slot.borrow_mut();
        let referring = slot.as_mut()?;
        let (offset, token, ranges) = if let Some(offset) = referring.memory.offset_of(bytes) {
            (offset, referring.token, &mut referring.regions)
        } else {
            // An arena the peer cannot name (token 0) is not lent again: its bytes are copied.
            let token = lend_token(referring.own.token());
            let offset = referring.own.offset_of(bytes).filter(|_| token != 0)?;
            (offset, token, &mut referring.lent)
        };
        let region = Region { offset: offset as u64, len: bytes.len() as u64 };
        // A frame's body is encoded twice (once to size it): name each range once.
        if !ranges.contains(&region) {
            ranges.push(region);
            referring.views.push(bytes.clone());
        }
        Some(HandBack { token, offset: region.offset, len: region.len })
    })
}

/// While it lives, [`refer`] hands back ranges of `memory` (the incoming arena) named by
/// `token` on this thread.
pub(super) struct Scope {
    installed: bool,
}

impl Scope {
    /// `memory` is the arena the peer writes, `token` the peer's token for it, `own` the arena
    /// this side writes.
    pub(super) fn enter(memory: &Arc<Memory>, token: u64, own: &Outgoing) -> Self {
        let installed = REFERRING.with(|slot| {
            let mut slot = slot.borrow_mut();
            if slot.is_some() {
                return false;
            }
            *slot = Some(Referring {
                memory: Arc::clone(memory),
                token,
                regions: Vec::new(),
                own: own.handle(),
                lent: Vec::new(),
                views: Vec::new(),
            });
            true
        });
        Self { installed }
    }

    /// The ranges handed back so far and those lent again, taken.
    pub(super) fn take_ranges(&self) -> (Vec<Region>, Vec<Region>) {
        REFERRING.with(|slot| {
            slot.borrow_mut()
                .as_mut()
                .map(|r| (std::mem::take(&mut r.regions), std::mem::take(&mut r.lent)))
                .unwrap_or_default()
        })
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        if !self.installed {
            return;
        }
        if let Some(referring) = REFERRING.with(|slot| slot.borrow_mut().take()) {
            let _ = UNSENT.try_with(|unsent| unsent.borrow_mut().extend(referring.views));
        }
    }
}

thread_local! {
    /// Why the last reference a decoder met on this thread was refused.
    static REFUSED: RefCell<Option<super::ShmError>> = const { RefCell::new(None) };
}

/// Notes why a decoder refused a [`HandBack`] (see [`take_refused`]).
pub fn refused(err: super::ShmError) {
    REFUSED.with(|slot| *slot.borrow_mut() = Some(err));
}

/// Why the last [`HandBack`] decoded on this thread was refused, taken; the decoder turns it into
/// a typed [`ProtocolError::BadRegion`](crate::ProtocolError::BadRegion) rather than a message.
pub fn take_refused() -> Option<super::ShmError> {
    REFUSED.with(|slot| slot.borrow_mut().take())
}

/// Lets go of the views that frames encoded on this thread handed back: they are written now.
pub fn after_send() {
    // Taken out first: dropping a view may send a release, which comes back here.
    let views = UNSENT.try_with(|unsent| std::mem::take(&mut *unsent.borrow_mut()));
    drop(views);
}
