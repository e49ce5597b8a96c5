//! The writer's bookkeeping of its arena: which byte ranges are free and which are lent out.
//!
//! Pure arithmetic on offsets, so it is tested without shared memory. One writer per arena means
//! no lock shared between processes: the receiver only ever tells the writer, in a release frame,
//! that a range it was sent may be reused, and the writer checks that the range is one it lent.
//!
//! A lent range has two kinds of holder: the receiver (until it releases the range, once), and
//! any number of local holds the writer's own side takes on it (a reply that hands a range back
//! to its writer, read in place there). The range is free again only once all of them let go, in
//! whatever order.

use std::collections::BTreeMap;

use super::{Region, ShmError};

/// Every region starts on this boundary (a cache line).
pub(crate) const ALIGN: usize = 64;

/// The arena grows in steps of at least this much, so small regions do not grow it one by one.
pub(crate) const GROW_STEP: usize = 1 << 20;

/// A lent range: its length as requested, and who still holds it.
#[derive(Debug, Clone, Copy)]
struct Lent {
    len: usize,
    /// The receiver has not released it yet.
    peer: bool,
    /// Holds taken on this side ([`Allocator::hold_within`]).
    local: u32,
}

/// Free and lent ranges of one arena. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Allocator {
    /// Free ranges by offset, never adjacent (merged on release).
    free: BTreeMap<usize, usize>,
    /// Lent ranges by offset (the space taken is the length rounded up to [`ALIGN`]).
    lent: BTreeMap<usize, Lent>,
    /// The end of the space under management (the arena's size as this allocator grew it).
    end: usize,
}

const fn round_up(len: usize) -> Option<usize> {
    match len.checked_add(ALIGN - 1) {
        Some(n) => Some(n / ALIGN * ALIGN),
        None => None,
    }
}

impl Allocator {
    /// Lends `len` bytes (at least one), first fit. `grow` is asked to make the arena at least
    /// its argument long when no free range fits; it returns whether it could.
    pub(crate) fn allocate(&mut self, len: usize, limit: usize, grow: impl FnOnce(usize) -> bool) -> Option<Region> {
        let taken = round_up(len.max(1))?;
        let fit = self.free.iter().find(|&(_, &free)| free >= taken).map(|(&offset, &free)| (offset, free));
        let offset = match fit {
            Some((offset, free)) => {
                self.free.remove(&offset);
                if free > taken {
                    self.free.insert(offset + taken, free - taken);
                }
                offset
            }
            None => {
                // Extend the free range that ends the arena, if any, else start at the end.
                let tail = self.free.iter().next_back().filter(|&(&o, &l)| o + l == self.end).map(|(&o, &l)| (o, l));
                let start = tail.map_or(self.end, |(offset, _)| offset);
                let needed = start.checked_add(taken)?;
                if needed > limit {
                    return None;
                }
                let target = needed.max(self.end.saturating_add(GROW_STEP)).min(limit);
                if !grow(target) {
                    return None;
                }
                if let Some((offset, _)) = tail {
                    self.free.remove(&offset);
                }
                if target > needed {
                    self.free.insert(needed, target - needed);
                }
                self.end = target;
                start
            }
        };
        self.lent.insert(offset, Lent { len, peer: true, local: 0 });
        Some(Region { offset: offset as u64, len: len as u64 })
    }

    /// Takes back a region the receiver released. A region this allocator did not lend (or
    /// the receiver already released) is refused and changes nothing. The space is free again
    /// once no local hold remains either.
    pub(crate) fn release(&mut self, region: Region) -> Result<(), ShmError> {
        let bad = |reason: &'static str| ShmError::BadRelease { offset: region.offset, len: region.len, reason };
        let offset = usize::try_from(region.offset).map_err(|_| bad("offset out of range"))?;
        let lent = match self.lent.get_mut(&offset) {
            Some(lent) if lent.len as u64 == region.len && lent.peer => lent,
            Some(lent) if lent.len as u64 == region.len => return Err(bad("already released")),
            Some(_) => return Err(bad("length differs from the region lent")),
            None => return Err(bad("no region is lent at this offset")),
        };
        lent.peer = false;
        if lent.local == 0 {
            self.free_range(offset);
        }
        Ok(())
    }

    /// Takes a local hold on the lent region that contains `part`, which then stays lent until
    /// the hold is dropped ([`Self::drop_hold`]) as well as released by the receiver; returns
    /// that region. A part of no lent region is refused.
    pub(crate) fn hold_within(&mut self, part: Region) -> Result<Region, ShmError> {
        let bad = |reason: &'static str| ShmError::BadRegion { offset: part.offset, len: part.len, reason };
        let start = usize::try_from(part.offset).map_err(|_| bad("offset out of range"))?;
        let len = usize::try_from(part.len).map_err(|_| bad("length out of range"))?;
        let end = start.checked_add(len).ok_or_else(|| bad("offset + length overflows"))?;
        let Some((&offset, lent)) = self.lent.range_mut(..=start).next_back() else {
            return Err(bad("not within a region lent to the peer"));
        };
        if end > offset + lent.len {
            return Err(bad("not within a region lent to the peer"));
        }
        lent.local = lent.local.checked_add(1).ok_or_else(|| bad("too many holds"))?;
        Ok(Region { offset: offset as u64, len: lent.len as u64 })
    }

    /// Drops a hold [`Self::hold_within`] took on `region` (as it returned it).
    pub(crate) fn drop_hold(&mut self, region: Region) {
        let Ok(offset) = usize::try_from(region.offset) else { return };
        let Some(lent) = self.lent.get_mut(&offset) else { return };
        lent.local = lent.local.saturating_sub(1);
        if lent.local == 0 && !lent.peer {
            self.free_range(offset);
        }
    }

    /// Returns the lent range at `offset` to the free ranges, merged with its neighbours.
    fn free_range(&mut self, offset: usize) {
        let Some(lent) = self.lent.remove(&offset) else { return };
        let mut start = offset;
        let mut size = round_up(lent.len.max(1)).unwrap_or(lent.len);
        if let Some((&prev, &prev_len)) = self.free.range(..start).next_back()
            && prev + prev_len == start
        {
            self.free.remove(&prev);
            start = prev;
            size += prev_len;
        }
        if let Some(next_len) = self.free.remove(&(start + size)) {
            size += next_len;
        }
        self.free.insert(start, size);
    }

    /// Bytes lent out and not yet released.
    pub(crate) fn lent_bytes(&self) -> usize {
        self.lent.values().map(|lent| round_up(lent.len.max(1)).unwrap_or(lent.len)).sum()
    }

    /// How many regions are lent out.
    pub(crate) fn lent_regions(&self) -> usize {
        self.lent.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 8 << 20;

    fn grow_ok(_: usize) -> bool {
        true
    }

    #[test]
    fn regions_never_overlap_and_released_space_is_reused() {
        let mut alloc = Allocator::default();
        let a = alloc.allocate(100, LIMIT, grow_ok).expect("a");
        let b = alloc.allocate(70_000, LIMIT, grow_ok).expect("b");
        let c = alloc.allocate(1, LIMIT, grow_ok).expect("c");
        assert_eq!((a.offset, b.offset, c.offset), (0, 128, 128 + 70_016));
        alloc.release(b).expect("lent");
        // b's space is free again, first fit puts a smaller region at its start.
        let d = alloc.allocate(5000, LIMIT, grow_ok).expect("d");
        assert_eq!(d.offset, 128);
        // The released c merges with what follows it and what is left of b before it.
        alloc.release(c).expect("lent");
        alloc.release(d).expect("lent");
        alloc.release(a).expect("lent");
        assert_eq!(alloc.free.len(), 1, "everything merged: {:?}", alloc.free);
        assert_eq!(alloc.lent_regions(), 0);
    }

    #[test]
    fn the_limit_is_kept_and_growth_can_fail() {
        let mut alloc = Allocator::default();
        assert!(alloc.allocate(LIMIT + 1, LIMIT, grow_ok).is_none());
        let whole = alloc.allocate(LIMIT, LIMIT, grow_ok).expect("exactly the limit fits");
        assert!(alloc.allocate(1, LIMIT, grow_ok).is_none(), "full");
        alloc.release(whole).expect("lent");
        let mut fresh = Allocator::default();
        assert!(fresh.allocate(10, LIMIT, |_| false).is_none(), "the arena could not grow");
        assert_eq!(fresh.lent_regions(), 0);
    }

    #[test]
    fn growth_asks_for_a_step_and_uses_the_free_tail() {
        let mut alloc = Allocator::default();
        let mut asked = Vec::new();
        let a = alloc.allocate(10, LIMIT, |n| {
            asked.push(n);
            true
        });
        assert_eq!(a.map(|r| r.offset), Some(0));
        let b = alloc.allocate(GROW_STEP, LIMIT, |n| {
            asked.push(n);
            true
        });
        // b starts right after a, in the free tail of the first step.
        assert_eq!(b.map(|r| r.offset), Some(64));
        assert_eq!(asked, vec![GROW_STEP, GROW_STEP * 2]);
    }

    #[test]
    fn a_release_of_anything_not_lent_is_refused_and_changes_nothing() {
        let mut alloc = Allocator::default();
        let a = alloc.allocate(1000, LIMIT, grow_ok).expect("a");
        let wrong_len = Region { offset: a.offset, len: 999 };
        assert!(matches!(alloc.release(wrong_len), Err(ShmError::BadRelease { offset: 0, len: 999, .. })));
        let wrong_offset = Region { offset: 64, len: 1000 };
        assert!(matches!(alloc.release(wrong_offset), Err(ShmError::BadRelease { .. })));
        assert!(matches!(alloc.release(Region { offset: u64::MAX, len: 1 }), Err(ShmError::BadRelease { .. })));
        assert_eq!(alloc.lent_regions(), 1);
        alloc.release(a).expect("lent");
        assert!(matches!(alloc.release(a), Err(ShmError::BadRelease { .. })), "a double release is refused");
    }

    #[test]
    fn a_held_region_is_free_only_once_the_receiver_and_every_hold_let_go_in_either_order() {
        for receiver_first in [true, false] {
            let mut alloc = Allocator::default();
            let a = alloc.allocate(10_000, LIMIT, grow_ok).expect("a");
            // A part of `a` (a field of the frame it carries) is held twice.
            let part = Region { offset: a.offset + 100, len: 5000 };
            assert_eq!(alloc.hold_within(part), Ok(a));
            assert_eq!(alloc.hold_within(part), Ok(a));
            if receiver_first {
                alloc.release(a).expect("lent");
                assert!(matches!(alloc.release(a), Err(ShmError::BadRelease { .. })), "the receiver releases once");
            }
            alloc.drop_hold(a);
            alloc.drop_hold(a);
            assert_eq!(alloc.lent_regions(), usize::from(!receiver_first), "receiver first: {receiver_first}");
            if !receiver_first {
                alloc.release(a).expect("lent");
            }
            assert_eq!(alloc.lent_regions(), 0);
            assert_eq!(alloc.allocate(10_000, LIMIT, grow_ok).map(|r| r.offset), Some(a.offset), "reused");
        }
    }

    #[test]
    fn a_hold_on_anything_not_lent_is_refused() {
        let mut alloc = Allocator::default();
        let a = alloc.allocate(1000, LIMIT, grow_ok).expect("a");
        let past = Region { offset: a.offset + 900, len: 200 };
        assert!(matches!(alloc.hold_within(past), Err(ShmError::BadRegion { .. })), "runs past the region");
        let free = Region { offset: 4096, len: 10 };
        assert!(matches!(alloc.hold_within(free), Err(ShmError::BadRegion { .. })), "free space");
        assert!(matches!(alloc.hold_within(Region { offset: u64::MAX, len: 2 }), Err(ShmError::BadRegion { .. })));
        alloc.release(a).expect("lent");
        assert!(matches!(alloc.hold_within(a), Err(ShmError::BadRegion { .. })), "released");
        assert_eq!(alloc.lent_regions(), 0);
    }
}
