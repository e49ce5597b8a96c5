//! The writer's bookkeeping of its arena: which byte ranges are free and which are lent out.
//!
//! Pure arithmetic on offsets, so it is tested without shared memory. One writer per arena means
//! no lock shared between processes: the receiver only ever tells the writer, in a release frame,
//! that a range it was sent may be reused, and the writer checks that the range is one it lent.
//!
//! A lent range has three kinds of holder: the receiver (until it releases the range, once), any
//! number of local holds the writer's own side takes on it (a reply that hands a range back to
//! its writer, read in place there), and any number of loans of parts of it that the writer sent
//! again (a value handed back to it and sent on unchanged; the receiver releases each such part
//! once). The range is free again only once all of them let go, in whatever order.

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
    /// Parts of it lent to the receiver again and not released yet ([`Allocator::relend`]).
    relent: u32,
}

impl Lent {
    const fn is_free(&self) -> bool {
        !self.peer && self.local == 0 && self.relent == 0
    }
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

/// A part of the arena refused as a range of no lent region.
const fn bad_part(part: Region, reason: &'static str) -> ShmError {
    ShmError::BadRegion { offset: part.offset, len: part.len, reason }
}

const fn round_up(len: usize) -> Option<usize> {
    match len.checked_add(ALIGN - 1) {
        Some(n) => Some(n / ALIGN * ALIGN),
        None => None,
    }
}

impl Allocator {
    /// Lends `len` bytes (at least one) to the receiver, first fit. `grow` is asked to make the
    /// arena at least its argument long when no free range fits; it returns whether it could.
    pub(crate) fn allocate(&mut self, len: usize, limit: usize, grow: impl FnOnce(usize) -> bool) -> Option<Region> {
        self.take(len, limit, grow, Lent { len, peer: true, local: 0, relent: 0 })
    }

    /// Reserves `len` bytes (at least one) for this side alone, as [`Self::allocate`] lends them:
    /// the region starts under one local hold and not lent to the receiver, so it is free again
    /// once that hold drops ([`Self::drop_hold`]) and every loan of it ([`Self::relend`]) came
    /// back.
    pub(crate) fn reserve(&mut self, len: usize, limit: usize, grow: impl FnOnce(usize) -> bool) -> Option<Region> {
        self.take(len, limit, grow, Lent { len, peer: false, local: 1, relent: 0 })
    }

    /// Takes `len` bytes, first fit, held as `holders` says.
    fn take(&mut self, len: usize, limit: usize, grow: impl FnOnce(usize) -> bool, holders: Lent) -> Option<Region> {
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
        self.lent.insert(offset, holders);
        Some(Region { offset: offset as u64, len: len as u64 })
    }

    /// Takes back a region the receiver released, or a part of one lent to it again
    /// ([`Self::relend`]). A region this allocator did not lend (or the receiver already
    /// released), or a part of no region with a loan outstanding, is refused and changes
    /// nothing. The space is free again once no local hold or other loan remains either.
    pub(crate) fn release(&mut self, region: Region) -> Result<(), ShmError> {
        let bad = |reason: &'static str| ShmError::BadRelease { offset: region.offset, len: region.len, reason };
        let start = usize::try_from(region.offset).map_err(|_| bad("offset out of range"))?;
        let len = usize::try_from(region.len).map_err(|_| bad("length out of range"))?;
        let end = start.checked_add(len).ok_or_else(|| bad("offset + length overflows"))?;
        let Some((&offset, lent)) = self.lent.range_mut(..=start).next_back() else {
            return Err(bad("no region is lent at this offset"));
        };
        if offset == start && lent.len == len && lent.peer {
            lent.peer = false;
        } else if end <= offset + lent.len && lent.relent > 0 {
            lent.relent -= 1;
        } else if offset == start && lent.len == len {
            return Err(bad("already released"));
        } else if offset == start {
            return Err(bad("length differs from the region lent"));
        } else {
            return Err(bad("no region is lent at this offset"));
        }
        if lent.is_free() {
            self.free_range(offset);
        }
        Ok(())
    }

    /// Takes a local hold on the lent region that contains `part`, which then stays lent until
    /// the hold is dropped ([`Self::drop_hold`]) as well as released by the receiver; returns
    /// that region. A part of no lent region is refused.
    pub(crate) fn hold_within(&mut self, part: Region) -> Result<Region, ShmError> {
        let (offset, lent) = self.containing(part)?;
        lent.local = lent.local.checked_add(1).ok_or_else(|| bad_part(part, "too many holds"))?;
        Ok(Region { offset: offset as u64, len: lent.len as u64 })
    }

    /// Lends `part` of a lent region to the receiver again: the region then stays lent until the
    /// receiver releases `part` as well ([`Self::release`]). A part of no lent region is refused.
    pub(crate) fn relend(&mut self, part: Region) -> Result<(), ShmError> {
        let (_, lent) = self.containing(part)?;
        lent.relent = lent.relent.checked_add(1).ok_or_else(|| bad_part(part, "lent again too many times"))?;
        Ok(())
    }

    /// Takes back a loan [`Self::relend`] counted for a frame that was not sent after all. Only a
    /// loan is taken back, never the receiver's own hold on the region.
    pub(crate) fn unlend(&mut self, part: Region) {
        let Ok((offset, lent)) = self.containing(part) else { return };
        lent.relent = lent.relent.saturating_sub(1);
        if lent.is_free() {
            self.free_range(offset);
        }
    }

    /// The lent region that contains `part`, and its offset.
    fn containing(&mut self, part: Region) -> Result<(usize, &mut Lent), ShmError> {
        let start = usize::try_from(part.offset).map_err(|_| bad_part(part, "offset out of range"))?;
        let len = usize::try_from(part.len).map_err(|_| bad_part(part, "length out of range"))?;
        let end = start.checked_add(len).ok_or_else(|| bad_part(part, "offset + length overflows"))?;
        match self.lent.range_mut(..=start).next_back() {
            Some((&offset, lent)) if end <= offset + lent.len => Ok((offset, lent)),
            _ => Err(bad_part(part, "not within a region lent to the peer")),
        }
    }

    /// Drops a hold [`Self::hold_within`] took on `region` (as it returned it).
    pub(crate) fn drop_hold(&mut self, region: Region) {
        let Ok(offset) = usize::try_from(region.offset) else { return };
        let Some(lent) = self.lent.get_mut(&offset) else { return };
        lent.local = lent.local.saturating_sub(1);
        if lent.is_free() {
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

    #[test]
    fn a_part_lent_again_keeps_its_region_until_each_loan_is_released() {
        let mut alloc = Allocator::default();
        let a = alloc.allocate(10_000, LIMIT, grow_ok).expect("a");
        let part = Region { offset: a.offset + 128, len: 8192 };
        // The writer holds the part (a value handed back to it) and sends it on twice.
        assert_eq!(alloc.hold_within(part), Ok(a));
        alloc.relend(part).expect("within a lent region");
        alloc.relend(part).expect("within a lent region");
        alloc.release(a).expect("the receiver's release of the whole region");
        alloc.drop_hold(a);
        assert_eq!(alloc.lent_regions(), 1, "two loans are out");
        alloc.release(part).expect("first loan");
        assert_eq!(alloc.lent_regions(), 1, "one loan is out");
        alloc.release(part).expect("second loan");
        assert_eq!(alloc.lent_regions(), 0);
        assert!(matches!(alloc.release(part), Err(ShmError::BadRelease { .. })), "each loan is released once");
        assert_eq!(alloc.allocate(10_000, LIMIT, grow_ok).map(|r| r.offset), Some(a.offset), "reused");
    }

    #[test]
    fn a_reserved_region_is_free_once_its_hold_and_every_loan_let_go() {
        let mut alloc = Allocator::default();
        let region = alloc.reserve(1000, 1 << 20, grow_ok).expect("room");
        // The receiver was never sent it: it cannot release it.
        assert!(alloc.release(region).is_err());
        alloc.relend(region).expect("lent to the receiver");
        alloc.drop_hold(region);
        assert_eq!(alloc.lent_regions(), 1, "the loan keeps it");
        alloc.release(region).expect("the loan comes back");
        assert_eq!(alloc.lent_regions(), 0);
        assert_eq!(alloc.allocate(1000, 1 << 20, grow_ok), Some(region), "its space is reused");

        let mut alloc = Allocator::default();
        let region = alloc.reserve(64, 1 << 20, grow_ok).expect("room");
        alloc.drop_hold(region);
        assert_eq!(alloc.lent_regions(), 0, "never sent: free once the hold drops");
    }

    #[test]
    fn a_loan_is_only_of_a_lent_region_and_a_release_of_a_part_needs_one() {
        let mut alloc = Allocator::default();
        let a = alloc.allocate(10_000, LIMIT, grow_ok).expect("a");
        let part = Region { offset: a.offset + 64, len: 4096 };
        assert!(matches!(alloc.release(part), Err(ShmError::BadRelease { .. })), "no loan of it is out");
        assert!(matches!(alloc.relend(Region { offset: 20_000, len: 64 }), Err(ShmError::BadRegion { .. })));
        assert!(matches!(
            alloc.relend(Region { offset: a.offset + 9_000, len: 2_000 }),
            Err(ShmError::BadRegion { .. })
        ));
        // A loan taken back (its frame was not sent) leaves the receiver's hold in place.
        alloc.relend(a).expect("the whole region");
        alloc.unlend(a);
        assert!(matches!(alloc.release(part), Err(ShmError::BadRelease { .. })), "no loan is out any more");
        alloc.release(a).expect("the receiver's release is still expected");
        assert_eq!(alloc.lent_regions(), 0, "and it frees the region");
        let a = alloc.allocate(10_000, LIMIT, grow_ok).expect("a again");
        // The whole region, lent again: its first release is the receiver's, the second the loan's.
        alloc.relend(a).expect("the whole region");
        alloc.release(a).expect("the receiver's");
        assert_eq!(alloc.lent_regions(), 1);
        alloc.release(a).expect("the loan's");
        assert_eq!(alloc.lent_regions(), 0);
    }
}
