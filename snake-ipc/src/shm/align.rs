//! Aligned buffers in the arena: a large buffer encoded into an arena is laid out so that its
//! first byte sits on an [`ALIGN`]-byte boundary of the arena. Both sides map an arena at a page
//! boundary, so the receiver's view is aligned too: a numpy array over it is `aligned` (numpy
//! takes slower paths on unaligned data: `arr.sum()` of 1 MiB of float32 took 87 µs aligned and
//! 144 µs one byte off here), and its elements can be read in place.
//!
//! While [`Arenas::encode_frame`](super::Arenas::encode_frame) encodes a frame's body, a postcard
//! flavor (`Counting`) counts the bytes written so far on this thread, and the encoder names
//! the address the body starts at (unknown in the pass that only sizes the frame). A buffer type
//! asks [`padding`] how many bytes to put before its content. Both passes must produce the same
//! size, so a buffer's layout always spends [`ALIGN`] - 1 bytes on padding, split before and
//! after it: `(pad: u8, [0; pad], bytes, [0; ALIGN - 1 - pad])`.

use std::cell::Cell;

use postcard::ser_flavors::Flavor;

/// The boundary a large buffer's first byte is put on.
pub const ALIGN: usize = 64;

/// Buffers shorter than this are written as they are: the padding would cost more than it saves.
pub const MIN_ALIGNED: usize = 4096;

thread_local! {
    /// While a body is encoded into an arena on this thread: the address it starts at (`None`
    /// while sizing) and the bytes written so far.
    static CURSOR: Cell<Option<(Option<usize>, usize)>> = const { Cell::new(None) };
}

/// How many bytes of padding put content that starts `ahead` bytes past what was written so far
/// on an [`ALIGN`] boundary; `None` when no body is being encoded into an arena on this thread,
/// and buffers are written as they are. While sizing, 0.
pub fn padding(ahead: usize) -> Option<usize> {
    CURSOR.with(|cursor| {
        cursor.get().map(|(base, written)| base.map_or(0, |base| (ALIGN - (base + written + ahead) % ALIGN) % ALIGN))
    })
}

/// The bytes the LEB128 varint of `n` takes, as postcard writes lengths.
pub const fn varint_len(n: usize) -> usize {
    let bits = usize::BITS - n.leading_zeros();
    if bits == 0 { 1 } else { bits.div_ceil(7) as usize }
}

/// While it lives, [`padding`] answers for a body starting at `base` (`None`: sizing).
pub(super) struct Scope {
    previous: Option<(Option<usize>, usize)>,
}

impl Scope {
    pub(super) fn enter(base: Option<usize>) -> Self {
        Self { previous: CURSOR.with(|cursor| cursor.replace(Some((base, 0)))) }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        CURSOR.with(|cursor| cursor.set(self.previous));
    }
}

fn advance(by: usize) {
    CURSOR.with(|cursor| {
        if let Some((base, written)) = cursor.get() {
            cursor.set(Some((base, written + by)));
        }
    });
}

/// A postcard flavor that counts what it writes for [`padding`].
pub(super) struct Counting<F>(pub(super) F);

impl<F: Flavor> Flavor for Counting<F> {
    type Output = F::Output;

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        advance(1);
        self.0.try_push(data)
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        advance(data.len());
        self.0.try_extend(data)
    }

    fn finalize(self) -> postcard::Result<Self::Output> {
        self.0.finalize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_as_long_as_postcard_writes_them() {
        for n in [0usize, 1, 127, 128, 16_383, 16_384, 1 << 20, usize::MAX] {
            let mut buf = [0u8; 16];
            let written = postcard::to_slice(&n, &mut buf).expect("fits").len();
            assert_eq!(varint_len(n), written, "{n}");
        }
    }

    #[test]
    fn padding_is_counted_from_the_base_and_what_was_written() {
        assert_eq!(padding(0), None, "outside an encoding");
        {
            let _sizing = Scope::enter(None);
            advance(5);
            assert_eq!(padding(3), Some(0));
        }
        let _writing = Scope::enter(Some(4096 + 10));
        advance(20);
        // 4096 + 10 + 20 + 3 = 4129; the next boundary is 4160.
        assert_eq!(padding(3), Some(31));
        advance(31 + 3);
        assert_eq!(padding(0), Some(0));
    }
}
