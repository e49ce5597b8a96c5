//! The two ends of one arena: the [`Outgoing`] side that writes frames into it (its only writer),
//! and the [`Incoming`] side that reads them as [`Bytes`] without a copy and releases each region
//! when the last of those bytes drops.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError, Weak};
use std::time::Duration;

use bytes::Bytes;

use super::alloc::Allocator;
use super::memory::Memory;
use super::{Region, ShmError};

/// The writing end of an arena. See the module docs.
#[derive(Debug)]
pub struct Outgoing {
    shared: Arc<Written>,
}

/// What an [`Outgoing`] shares with the holds taken on its regions.
#[derive(Debug)]
struct Written {
    memory: Memory,
    alloc: Mutex<Allocator>,
    /// The arena's name in [`REGISTRY`] (0: not registered).
    token: u64,
}

impl Written {
    fn alloc(&self) -> std::sync::MutexGuard<'_, Allocator> {
        self.alloc.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Written {
    fn drop(&mut self) {
        if self.token != 0 {
            REGISTRY.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.token);
        }
    }
}

/// The arenas of this process that a peer may hand regions back from, by token: a reference the
/// peer sends names its arena by this random token, so that a decoder, which knows neither the
/// connection nor the arena, finds it, and a peer cannot name another peer's arena.
static REGISTRY: Mutex<BTreeMap<u64, Weak<Written>>> = Mutex::new(BTreeMap::new());

/// A random non-zero token.
pub(super) fn new_token() -> u64 {
    let mut token = [0u8; 8];
    // SAFETY: getrandom writes at most `token.len()` bytes into `token`.
    let n = unsafe { libc::getrandom(token.as_mut_ptr().cast(), token.len(), 0) };
    let random = u64::from_le_bytes(token);
    if n == 8 && random != 0 {
        return random;
    }
    // Not reachable on Linux >= 3.17; still unique within this process, if guessable.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) ^ (u64::from(std::process::id()) << 32)
}

impl Outgoing {
    /// An arena whose regions the peer may hand back by reference ([`resolve`]).
    pub(crate) fn registered(memory: Memory) -> Self {
        Self::registered_as(memory, new_token())
    }

    /// [`registered`](Self::registered) under a token chosen by the peer, which must know it
    /// (a child's arena, named by the parent at spawn). Token 0 registers nothing.
    pub(crate) fn registered_as(memory: Memory, token: u64) -> Self {
        let shared = Arc::new(Written { memory, alloc: Mutex::default(), token });
        if token != 0 {
            REGISTRY.lock().unwrap_or_else(PoisonError::into_inner).insert(token, Arc::downgrade(&shared));
        }
        Self { shared }
    }

    /// The token the peer names this arena by in a reference (0 when it cannot).
    pub fn token(&self) -> u64 {
        self.shared.token
    }

    /// Another handle on the same arena, for [`super::handback`].
    pub(super) fn handle(&self) -> Self {
        Self { shared: Arc::clone(&self.shared) }
    }

    /// Where `bytes` start in this arena, if they lie within it (a slice of a value read in
    /// place here, which the peer handed back).
    pub(super) fn offset_of(&self, bytes: &[u8]) -> Option<usize> {
        self.shared.memory.offset_of(bytes)
    }

    pub(crate) fn raw_fd(&self) -> std::os::fd::RawFd {
        self.shared.memory.raw_fd()
    }

    /// Copies `bytes` into a free region, growing the arena if needed; `None` when the arena
    /// (up to its limit) has no room, and the bytes must go another way.
    pub fn place(&self, bytes: &[u8]) -> Option<Region> {
        self.fill(bytes.len(), |target| {
            target.copy_from_slice(bytes);
            Ok::<(), std::convert::Infallible>(())
        })
        .and_then(Result::ok)
    }

    /// Lends a region of `len` bytes and lets `write` fill it, before anyone else can see it;
    /// `None` when the arena has no room. When `write` fails the region is taken back.
    pub fn fill<E>(&self, len: usize, write: impl FnOnce(&mut [u8]) -> Result<(), E>) -> Option<Result<Region, E>> {
        let memory = &self.shared.memory;
        let region = self.shared.alloc().allocate(len, memory.capacity(), |size| memory.grow_to(size).is_ok())?;
        // SAFETY: the allocator lent this range to this call alone; it lies within the file
        // (grown before the allocator handed it out) and no reader knows of it yet.
        let target = unsafe { memory.slice_mut(region.offset as usize, len) };
        match write(target) {
            Ok(()) => Some(Ok(region)),
            Err(err) => {
                let _ = self.release(&[region]);
                Some(Err(err))
            }
        }
    }

    /// A region of `len` bytes (at least one), zeroed, for this side to fill and then send any
    /// number of times ([`Reserved::freeze`]): each frame that carries its bytes lends them to
    /// the receiver by reference (see [`handback`](super::handback)) instead of copying them.
    /// `None` when the arena (up to its limit) has no room. The region is reused once the
    /// [`Reserved`] and every value frozen from it dropped and the receiver released every loan.
    pub fn reserve(&self, len: usize) -> Option<Reserved> {
        let memory = &self.shared.memory;
        let region = self.shared.alloc().reserve(len, memory.capacity(), |size| memory.grow_to(size).is_ok())?;
        let mut reserved = Reserved {
            hold: Holds { shared: Arc::clone(&self.shared), regions: vec![region] },
            offset: region.offset as usize,
            len,
        };
        reserved.as_mut_slice().fill(0);
        Some(reserved)
    }

    /// Takes back the regions the receiver released; each one this side did not lend is an error
    /// (the others are taken back all the same).
    pub fn release(&self, regions: &[Region]) -> Result<(), ShmError> {
        let mut alloc = self.shared.alloc();
        let mut first_error = Ok(());
        for &region in regions {
            if let Err(err) = alloc.release(region)
                && first_error.is_ok()
            {
                first_error = Err(err);
            }
        }
        first_error
    }

    /// Holds the lent regions that contain `parts` until the returned value drops, whenever the
    /// receiver releases them. All or nothing: a part of no lent region is an error.
    pub fn hold(&self, parts: &[Region]) -> Result<Holds, ShmError> {
        let mut held = Vec::with_capacity(parts.len());
        let mut alloc = self.shared.alloc();
        for &part in parts {
            match alloc.hold_within(part) {
                Ok(region) => held.push(region),
                Err(err) => {
                    for &region in &held {
                        alloc.drop_hold(region);
                    }
                    return Err(err);
                }
            }
        }
        drop(alloc);
        Ok(Holds { shared: Arc::clone(&self.shared), regions: held })
    }

    /// Lends `parts` of lent regions to the receiver again (values handed back to this side and
    /// sent on unchanged): each region then stays lent until the receiver releases each part
    /// too. All or nothing: a part of no lent region is an error, and nothing is lent.
    pub fn relend(&self, parts: &[Region]) -> Result<(), ShmError> {
        let mut alloc = self.shared.alloc();
        for (i, &part) in parts.iter().enumerate() {
            if let Err(err) = alloc.relend(part) {
                for &done in &parts[..i] {
                    alloc.unlend(done);
                }
                return Err(err);
            }
        }
        Ok(())
    }

    /// Takes back the loans [`relend`](Self::relend) counted for a frame that was not sent.
    pub fn unlend(&self, parts: &[Region]) {
        let mut alloc = self.shared.alloc();
        for &part in parts {
            alloc.unlend(part);
        }
    }

    /// How many regions, and how many bytes, the receiver (or a hold on this side) holds.
    pub fn lent(&self) -> (usize, usize) {
        let alloc = self.shared.alloc();
        (alloc.lent_regions(), alloc.lent_bytes())
    }
}

/// Local holds on regions of an arena this side writes (see [`Outgoing::hold`]); dropped, they
/// let go.
#[derive(Debug)]
pub struct Holds {
    shared: Arc<Written>,
    regions: Vec<Region>,
}

impl Drop for Holds {
    fn drop(&mut self) {
        let mut alloc = self.shared.alloc();
        for &region in &self.regions {
            alloc.drop_hold(region);
        }
    }
}

/// The bytes of `part`, named by `token` in a reference the peer sent, read in place and kept
/// from reuse until the returned bytes and every slice of them drop:
/// - a range of this process's own arena that the peer handed back (`token` is the arena's):
///   held on this side;
/// - a range of the peer's arena that the peer lent again, named by the
///   [`FrameKind::Lend`](crate::FrameKind::Lend) frame before the frame being read (`token`
///   is [`lend_token`] of the peer's arena): a view of that loan, released with it.
///
/// A token of no live arena, a range of no region lent to the peer, or one the peer did not
/// lend for this frame is an error.
pub fn resolve(token: u64, part: Region) -> Result<Bytes, ShmError> {
    let bad = |reason: &'static str| ShmError::BadRegion { offset: part.offset, len: part.len, reason };
    let shared = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner).get(&token).and_then(Weak::upgrade);
    let Some(shared) = shared else {
        let loans = LOANS.lock().unwrap_or_else(PoisonError::into_inner);
        return match loans.get(&(token, part.offset, part.len)).and_then(|views| views.first()) {
            Some(view) => Ok(view.clone()),
            None if loans.keys().any(|&(t, _, _)| t == token) => Err(bad("not lent by the peer for this frame")),
            None => Err(bad("no arena of this process has this token")),
        };
    };
    let region = shared.alloc().hold_within(part)?;
    // `hold_within` checked that `part` lies within `region`, itself within the file.
    let hold = Holds { shared, regions: vec![region] };
    Ok(Bytes::from_owner(HeldView { hold, offset: part.offset as usize, len: part.len as usize }))
}

/// The token by which a writer names ranges of its own arena (whose token is `token`) that it
/// lends again: derived from the arena's token, so that both sides know it, and distinct from
/// any arena's own token, so that a reference never reads as the other kind (even with both
/// ends in one process). Part of the protocol: a peer written in another language computes it
/// the same way. 0 (an arena that cannot be named) stays 0.
pub const fn lend_token(token: u64) -> u64 {
    if token == 0 { 0 } else { token.rotate_left(32) ^ 0x9e37_79b9_7f4a_7c15 }
}

/// The ranges the peer lent again for frames being read now, by (the peer's [`lend_token`],
/// offset, length): each a view of the loan, which [`resolve`] hands out clones of. An entry
/// lasts as long as the [`Loans`] that put it there.
static LOANS: Mutex<BTreeMap<(u64, u64, u64), Vec<Bytes>>> = Mutex::new(BTreeMap::new());

/// The loans of the ranges one [`FrameKind::Lend`](crate::FrameKind::Lend) frame named, for the
/// frame after it: each range is released once this drops and every value read from it has.
#[derive(Debug)]
pub struct Loans {
    token: u64,
    views: Vec<(Region, Bytes)>,
}

impl Drop for Loans {
    fn drop(&mut self) {
        let mut loans = LOANS.lock().unwrap_or_else(PoisonError::into_inner);
        for (part, view) in &self.views {
            let key = (self.token, part.offset, part.len);
            if let Some(views) = loans.get_mut(&key) {
                if let Some(i) = views.iter().position(|v| v.as_ptr() == view.as_ptr()) {
                    views.swap_remove(i);
                }
                if views.is_empty() {
                    loans.remove(&key);
                }
            }
        }
    }
}

/// A region of an arena this side writes, reserved by [`Outgoing::reserve`]: writable until
/// frozen, and known to no one else until then.
#[derive(Debug)]
pub struct Reserved {
    hold: Holds,
    offset: usize,
    len: usize,
}

impl Reserved {
    /// The region's bytes, to fill.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: the allocator reserved the range (within the file, grown before it was handed
        // out) for this value alone; nothing else can see it until `freeze`, which consumes it,
        // and the borrow of `self` keeps this slice from outliving the hold.
        unsafe { self.hold.shared.memory.slice_mut(self.offset, self.len) }
    }

    /// The region's bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: as in `as_mut_slice`; this shared borrow excludes the mutable one.
        unsafe { self.hold.shared.memory.slice(self.offset, self.len) }
    }

    /// The bytes, read-only from now on; the region stays reserved while they (or any slice of
    /// them) live.
    pub fn freeze(self) -> Bytes {
        Bytes::from_owner(HeldView { hold: self.hold, offset: self.offset, len: self.len })
    }
}

/// A range of an arena this side writes, read in place under a hold.
struct HeldView {
    hold: Holds,
    offset: usize,
    len: usize,
}

impl AsRef<[u8]> for HeldView {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: the range lies within a region lent to the peer (checked by `hold_within`) or
        // reserved by this side (`Outgoing::reserve`), which lies within the file; the writer
        // writes a region only between allocating and sending it (a reserved one, before it is
        // frozen into this view), never while it is lent, and the hold keeps it lent while this
        // view lives.
        unsafe { self.hold.shared.memory.slice(self.offset, self.len) }
    }
}

/// Where released regions go: the side that reads an arena tells its writer with a release frame.
type ReleaseSender = Box<dyn Fn(Vec<Region>) + Send + Sync>;

/// How long a release waits for others to join it in one [`FrameKind::Release`] frame: values
/// dropped close together (a batch of replies, a list of views) cost one frame, and no region
/// stays lent much longer than this past its last drop.
///
/// [`FrameKind::Release`]: crate::FrameKind::Release
pub const RELEASE_WINDOW: Duration = Duration::from_micros(250);

/// The most regions one release frame names.
const MAX_BATCH: usize = 4096;

#[derive(Default)]
struct Releases {
    /// Released and not sent yet.
    pending: Mutex<Vec<Region>>,
    sender: OnceLock<ReleaseSender>,
}

impl Releases {
    /// Notes `region` as released; it is sent within [`RELEASE_WINDOW`], with whatever else was
    /// released meanwhile.
    fn release(self: &Arc<Self>, region: Region) {
        let first = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            pending.push(region);
            pending.len() == 1
        };
        if first && self.sender.get().is_some() {
            self.schedule();
        }
    }

    /// Has the pending releases sent after the window (at once if no flusher thread runs).
    fn schedule(self: &Arc<Self>) {
        match flusher() {
            Some(flusher) => flusher.schedule(self),
            None => self.flush(),
        }
    }

    /// Sends what is pending.
    fn flush(&self) {
        let Some(sender) = self.sender.get() else { return };
        let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        for chunk in batch.chunks(MAX_BATCH) {
            sender(chunk.to_vec());
        }
    }
}

/// The thread that sends the releases of every arena this process reads, a window after the
/// first of a batch.
#[derive(Default)]
struct Flusher {
    due: Mutex<Vec<Weak<Releases>>>,
    wake: Condvar,
}

impl Flusher {
    fn schedule(&self, releases: &Arc<Releases>) {
        let mut due = self.due.lock().unwrap_or_else(PoisonError::into_inner);
        due.push(Arc::downgrade(releases));
        if due.len() == 1 {
            self.wake.notify_one();
        }
    }

    fn run(&self) {
        loop {
            {
                let mut due = self.due.lock().unwrap_or_else(PoisonError::into_inner);
                while due.is_empty() {
                    due = self.wake.wait(due).unwrap_or_else(PoisonError::into_inner);
                }
            }
            std::thread::sleep(RELEASE_WINDOW);
            let batch = std::mem::take(&mut *self.due.lock().unwrap_or_else(PoisonError::into_inner));
            for releases in batch.iter().filter_map(Weak::upgrade) {
                releases.flush();
            }
        }
    }
}

/// The process's release flusher, started on first use; `None` if its thread could not start.
fn flusher() -> Option<&'static Flusher> {
    static FLUSHER: OnceLock<Option<&'static Flusher>> = OnceLock::new();
    *FLUSHER.get_or_init(|| {
        let flusher: &'static Flusher = Box::leak(Box::default());
        std::thread::Builder::new().name("snake-shm-release".into()).spawn(move || flusher.run()).ok().map(|_| flusher)
    })
}

/// The reading end of an arena. See the module docs.
pub struct Incoming {
    memory: Arc<Memory>,
    releases: Arc<Releases>,
}

impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming").field("memory", &self.memory).finish_non_exhaustive()
    }
}

impl Incoming {
    pub(crate) fn new(memory: Memory) -> Self {
        Self { memory: Arc::new(memory), releases: Arc::default() }
    }

    pub(crate) fn raw_fd(&self) -> std::os::fd::RawFd {
        self.memory.raw_fd()
    }

    /// Installs what tells the writer that regions were released (once; later calls are
    /// ignored). Releases are sent in batches, within [`RELEASE_WINDOW`] of the first; regions
    /// released before it is installed are sent a window after.
    pub fn on_release(&self, sender: impl Fn(Vec<Region>) + Send + Sync + 'static) {
        let _ = self.releases.sender.set(Box::new(sender));
        if !self.releases.pending.lock().unwrap_or_else(PoisonError::into_inner).is_empty() {
            self.releases.schedule();
        }
    }

    /// The mapping, for [`super::handback`].
    pub(super) fn memory(&self) -> &Arc<Memory> {
        &self.memory
    }

    /// Views of `parts`, ranges of this arena the writer lent again, for the frame that refers
    /// to them by `token` (the writer's [`lend_token`]); each range is released once the
    /// returned loans and every view [`resolve`] gave out of them have dropped. A range outside
    /// the arena is an error, and the others are released at once.
    pub fn lend(&self, token: u64, parts: &[Region]) -> Result<Loans, ShmError> {
        let views = parts.iter().map(|&part| Ok((part, self.view(part)?))).collect::<Result<Vec<_>, ShmError>>()?;
        let mut loans = LOANS.lock().unwrap_or_else(PoisonError::into_inner);
        for (part, view) in &views {
            loans.entry((token, part.offset, part.len)).or_default().push(view.clone());
        }
        drop(loans);
        Ok(Loans { token, views })
    }

    /// The range of this arena that `bytes` occupy, if they lie within it (a slice of a
    /// [`view`](Self::view)).
    pub fn locate(&self, bytes: &[u8]) -> Option<Region> {
        let offset = self.memory.offset_of(bytes)?;
        Some(Region { offset: offset as u64, len: bytes.len() as u64 })
    }

    /// The bytes of a region the writer sent, without a copy. The region is released when the
    /// returned bytes and every slice of them have dropped. A region outside the arena is an
    /// error, and nothing is released for it.
    pub fn view(&self, region: Region) -> Result<Bytes, ShmError> {
        let bad = |reason: &'static str| ShmError::BadRegion { offset: region.offset, len: region.len, reason };
        let offset = usize::try_from(region.offset).map_err(|_| bad("offset out of range"))?;
        let len = usize::try_from(region.len).map_err(|_| bad("length out of range"))?;
        let end = offset.checked_add(len).ok_or_else(|| bad("offset + length overflows"))?;
        if end > self.memory.capacity() {
            return Err(bad("past the arena's limit"));
        }
        if end > self.memory.size()
            && end > self.memory.refresh_size().map_err(|_| bad("the arena's size is unknown"))?
        {
            return Err(bad("past the end of the arena"));
        }
        let lease = Lease { memory: Arc::clone(&self.memory), offset, len, releases: Arc::clone(&self.releases) };
        Ok(Bytes::from_owner(lease))
    }
}

/// A region the reader holds: its bytes, until it drops and is released.
struct Lease {
    memory: Arc<Memory>,
    offset: usize,
    len: usize,
    releases: Arc<Releases>,
}

impl AsRef<[u8]> for Lease {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `view` checked that the range lies within the file, whose size never goes down
        // (shrink seal), and the writer does not touch a region it lent until this lease is
        // released (on drop, below). A peer that broke that protocol could change the bytes under
        // a reader, but not unmap them: the mapping lives as long as this lease's `Arc`.
        unsafe { self.memory.slice(self.offset, self.len) }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.releases.release(Region { offset: self.offset as u64, len: self.len as u64 });
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::shm::memory::Access;

    fn pair(limit: usize) -> (Outgoing, Incoming) {
        let memory = Memory::create(c"snake-test", limit, Access::Write).expect("memfd");
        // The reader maps the same file through a duplicate of its descriptor, as a child does.
        // SAFETY: dup returns a new descriptor that only `adopt` owns.
        let dup = unsafe { libc::dup(memory.raw_fd()) };
        assert!(dup >= 0);
        // SAFETY: `dup` is open and owned by nothing else.
        let reader = unsafe { Memory::adopt(dup, limit, Access::Read) }.expect("adopt");
        (Outgoing::registered_as(memory, 0), Incoming::new(reader))
    }

    #[test]
    fn bytes_written_by_one_end_are_read_by_the_other_and_released_on_drop() {
        let (out, inc) = pair(4 << 20);
        let released = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&released);
        inc.on_release(move |regions| sink.lock().expect("lock").extend(regions));
        let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let region = out.place(&payload).expect("room");
        let view = inc.view(region).expect("in bounds");
        assert_eq!(&view[..], &payload[..]);
        let slice = view.slice(1000..2000);
        drop(view);
        std::thread::sleep(RELEASE_WINDOW * 4);
        assert!(released.lock().expect("lock").is_empty(), "a slice still holds the region");
        assert_eq!(slice[0], (1000 % 251) as u8);
        drop(slice);
        assert!(wait_until(|| !released.lock().expect("lock").is_empty()), "released within the window");
        assert_eq!(*released.lock().expect("lock"), vec![region]);
        assert_eq!(out.lent(), (1, 300_032));
        out.release(&[region]).expect("lent");
        assert_eq!(out.lent(), (0, 0));
        // The space is reused: the next region starts where the first did.
        assert_eq!(out.place(b"again").map(|r| r.offset), Some(region.offset));
    }

    /// Whether `done` holds within a second (polled every millisecond).
    pub(crate) fn wait_until(done: impl Fn() -> bool) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while !done() {
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    #[test]
    fn views_dropped_together_are_released_in_one_frame() {
        let (out, inc) = pair(4 << 20);
        let frames = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&frames);
        inc.on_release(move |regions| sink.lock().expect("lock").push(regions));
        let views: Vec<Bytes> =
            (0..200u8).map(|i| inc.view(out.place(&[i; 100]).expect("room")).expect("view")).collect();
        drop(views);
        assert!(wait_until(|| frames.lock().expect("lock").iter().map(Vec::len).sum::<usize>() == 200));
        let frames = frames.lock().expect("lock");
        assert!(frames.len() <= 2, "200 drops in a row cost {} frames", frames.len());
        for regions in frames.iter() {
            out.release(regions).expect("each region was lent, and released once");
        }
        assert_eq!(out.lent(), (0, 0));
    }

    #[test]
    fn regions_outside_the_arena_are_typed_errors() {
        let (out, inc) = pair(4 << 20);
        let region = out.place(&[1; 100]).expect("room");
        let end = inc.view(Region { offset: (1 << 20) - 10, len: 20 });
        assert!(matches!(end, Err(ShmError::BadRegion { reason: "past the end of the arena", .. })), "{end:?}");
        let limit = inc.view(Region { offset: 4 << 20, len: 1 });
        assert!(matches!(limit, Err(ShmError::BadRegion { reason: "past the arena's limit", .. })));
        let overflow = inc.view(Region { offset: u64::MAX, len: 2 });
        assert!(matches!(overflow, Err(ShmError::BadRegion { .. })));
        // The good region still reads.
        assert_eq!(&inc.view(region).expect("in bounds")[..], &[1; 100][..]);
    }

    #[test]
    fn a_full_arena_refuses_and_a_release_makes_room() {
        let (out, inc) = pair(2 << 20);
        let a = out.place(&vec![7; 1 << 20]).expect("half");
        let b = out.place(&vec![8; (1 << 20) - 64]).expect("the rest");
        assert!(out.place(&[9; 128]).is_none(), "full");
        // A view of `a` is still readable while `b` is in use.
        assert!(inc.view(a).expect("a")[..].iter().all(|&x| x == 7));
        out.release(&[a]).expect("lent");
        let c = out.place(&[9; 128]).expect("room again");
        assert_eq!(c.offset, a.offset);
        assert!(inc.view(b).expect("b")[..].iter().all(|&x| x == 8), "b was not overwritten");
    }

    #[test]
    fn a_descriptor_without_the_shrink_seal_is_refused() {
        // SAFETY: a plain memfd without sealing; owned by `adopt` below.
        let raw = unsafe { libc::memfd_create(c"unsealed".as_ptr(), libc::MFD_CLOEXEC) };
        assert!(raw >= 0);
        // SAFETY: `raw` is open and owned by nothing else.
        let adopted = unsafe { Memory::adopt(raw, 1 << 20, Access::Read) };
        assert!(adopted.is_err());
    }
}
