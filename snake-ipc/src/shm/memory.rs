//! One arena's memory: an anonymous `memfd`, sealed against shrinking, mapped shared over the
//! whole configured limit.
//!
//! The mapping reserves address space for the limit up front (`MAP_NORESERVE`), so the arena can
//! grow without ever moving; only the file grows, with `fallocate`, which also commits its pages
//! so that writing into the grown part cannot fault for lack of memory. Pages past the end of the
//! file must never be touched (`SIGBUS`): the writer grows the file before it writes, and the
//! reader checks every region against the file's size, which the shrink seal keeps from going
//! down again.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How one side maps an arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// The writer: read and write.
    Write,
    /// The reader: read only.
    Read,
}

/// A shared mapping of an arena's `memfd`. See the module docs.
#[derive(Debug)]
pub(crate) struct Memory {
    fd: OwnedFd,
    base: NonNull<u8>,
    capacity: usize,
    /// The file's size as last seen; it never goes down (the shrink seal).
    size: AtomicUsize,
}

// SAFETY: the mapping is plain shared memory; every access to its bytes goes through `slice_mut`
// (whose caller guarantees exclusive use of the range) or `slice` (ranges no writer touches until
// they are released), so sharing the handle between threads adds no data race of its own.
unsafe impl Send for Memory {}
// SAFETY: as for `Send`: the handle's own state is an atomic and immutable fields.
unsafe impl Sync for Memory {}

impl Memory {
    /// A new, empty arena of at most `capacity` bytes, sealed against shrinking; mapped writable
    /// only for the side that writes it.
    pub(crate) fn create(name: &std::ffi::CStr, capacity: usize, access: Access) -> io::Result<Self> {
        // SAFETY: `name` is a valid C string; the flags are valid for memfd_create.
        let raw = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: memfd_create returned a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: `fd` is an open memfd created with MFD_ALLOW_SEALING.
        if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, libc::F_SEAL_SHRINK | libc::F_SEAL_SEAL) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Self::map(fd, capacity, access)
    }

    /// Maps an arena the peer created (its descriptor inherited at spawn).
    ///
    /// # Safety
    ///
    /// `fd` must be an open descriptor that nothing else owns.
    pub(crate) unsafe fn adopt(fd: RawFd, capacity: usize, access: Access) -> io::Result<Self> {
        // SAFETY: the caller hands over ownership of an open descriptor.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: `fd` is open; F_GET_SEALS only reads its seals.
        let seals = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS) };
        if seals < 0 || seals & libc::F_SEAL_SHRINK == 0 {
            return Err(io::Error::other("the shared-memory descriptor is not a memfd sealed against shrinking"));
        }
        // SAFETY: `fd` is open; FD_CLOEXEC only changes its close-on-exec flag.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
        Self::map(fd, capacity, access)
    }

    fn map(fd: OwnedFd, capacity: usize, access: Access) -> io::Result<Self> {
        if capacity == 0 {
            return Err(io::Error::other("a shared-memory arena needs a limit above zero"));
        }
        // SAFETY: a fresh shared mapping of `fd` at an address the kernel picks; nothing aliases it.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                capacity,
                match access {
                    Access::Write => libc::PROT_READ | libc::PROT_WRITE,
                    // The reader cannot write the writer's arena, even by mistake (a stray
                    // pointer faults instead of corrupting a frame).
                    Access::Read => libc::PROT_READ,
                },
                libc::MAP_SHARED | libc::MAP_NORESERVE,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        let memory = Self { fd, base, capacity, size: AtomicUsize::new(0) };
        memory.refresh_size()?;
        Ok(memory)
    }

    /// The descriptor, to hand to the child at spawn.
    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The most bytes this arena maps.
    pub(crate) const fn capacity(&self) -> usize {
        self.capacity
    }

    /// The file's size as last seen.
    pub(crate) fn size(&self) -> usize {
        self.size.load(Ordering::Acquire)
    }

    /// Reads the file's size again (the peer may have grown it).
    pub(crate) fn refresh_size(&self) -> io::Result<usize> {
        // SAFETY: `stat` is plain old data, filled in by fstat.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat only writes into `stat`; `fd` is open.
        if unsafe { libc::fstat(self.fd.as_raw_fd(), &mut stat) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let size = usize::try_from(stat.st_size).unwrap_or(0).min(self.capacity);
        self.size.fetch_max(size, Ordering::AcqRel);
        Ok(self.size())
    }

    /// Grows the file (and commits its pages) to at least `size` bytes, up to the capacity.
    pub(crate) fn grow_to(&self, size: usize) -> io::Result<()> {
        let current = self.size();
        if size <= current {
            return Ok(());
        }
        if size > self.capacity {
            return Err(io::Error::other("past the arena's limit"));
        }
        let offset = libc::off_t::try_from(current).map_err(io::Error::other)?;
        let len = libc::off_t::try_from(size - current).map_err(io::Error::other)?;
        loop {
            // SAFETY: `fd` is an open memfd; fallocate with mode 0 only extends and commits it.
            let rc = unsafe { libc::fallocate(self.fd.as_raw_fd(), 0, offset, len) };
            if rc == 0 {
                break;
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
        self.size.fetch_max(size, Ordering::AcqRel);
        Ok(())
    }

    /// Where `bytes` start in this mapping, if they lie wholly within the file.
    pub(crate) fn offset_of(&self, bytes: &[u8]) -> Option<usize> {
        let base = self.base.as_ptr() as usize;
        let start = (bytes.as_ptr() as usize).checked_sub(base)?;
        (start.checked_add(bytes.len())? <= self.size()).then_some(start)
    }

    /// The bytes of `offset..offset + len`, which the caller has checked lie within [`Self::size`].
    ///
    /// # Safety
    ///
    /// The range must lie within the file's size, and no one may write it while the slice lives
    /// (the single-writer protocol: a region is written only before it is sent and only
    /// reused after the receiver released it).
    pub(crate) unsafe fn slice(&self, offset: usize, len: usize) -> &[u8] {
        // SAFETY: the caller guarantees the range is mapped, backed by the file and not written.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr().add(offset), len) }
    }

    /// The bytes of `offset..offset + len`, for the writer that allocated them.
    ///
    /// # Safety
    ///
    /// The mapping must be writable ([`Access::Write`]), and the range must lie within the file's
    /// size and be allocated to the caller alone (not yet sent, so no reader sees it).
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice_mut(&self, offset: usize, len: usize) -> &mut [u8] {
        // SAFETY: the caller guarantees the range is mapped, backed and used by it alone.
        unsafe { std::slice::from_raw_parts_mut(self.base.as_ptr().add(offset), len) }
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        // SAFETY: `base..base + capacity` is the mapping made in `map`, unmapped once here; every
        // slice borrowed from it borrows `self`, so none outlives this.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.capacity) };
    }
}
