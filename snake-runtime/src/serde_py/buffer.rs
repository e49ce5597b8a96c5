//! [`SharedBytes`](crate::SharedBytes) in Python: a read-only `memoryview` over the Rust buffer,
//! and any buffer-protocol object back.
//!
//! The view's exporter is a small Python object that owns the `bytes::Bytes` (for a large frame,
//! a slice of the shared-memory region it arrived in). Every view and slice of the view keeps the
//! exporter alive, so the region is released only when Python has collected the last of them.

use std::cell::Cell;
use std::ffi::{c_int, c_void};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyMemoryView};

/// Owns the bytes a read-only `memoryview` shows (see the module docs).
#[pyclass(frozen, module = "snake", name = "SharedBuffer")]
pub(crate) struct SharedBuffer {
    bytes: bytes::Bytes,
}

#[pymethods]
impl SharedBuffer {
    unsafe fn __getbuffer__(slf: Bound<'_, Self>, view: *mut ffi::Py_buffer, flags: c_int) -> PyResult<()> {
        let bytes = &slf.get().bytes;
        let len = ffi::Py_ssize_t::try_from(bytes.len())
            .map_err(|_| pyo3::exceptions::PyBufferError::new_err("buffer too large"))?;
        // SAFETY: `view` is the struct Python asked us to fill; the pointer and length describe
        // `bytes`, which this object owns unchanged for its whole life, and `readonly = 1` makes
        // `PyBuffer_FillInfo` refuse writable requests. It stores a new reference to `slf` in the
        // view, which keeps the bytes alive as long as the view exists.
        let rc = unsafe { ffi::PyBuffer_FillInfo(view, slf.as_ptr(), bytes.as_ptr() as *mut c_void, len, 1, flags) };
        if rc == -1 { Err(PyErr::fetch(slf.py())) } else { Ok(()) }
    }

    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {}
}

/// A read-only `memoryview` over `bytes`, without a copy.
pub(crate) fn memoryview(py: Python<'_>, bytes: bytes::Bytes) -> PyResult<Bound<'_, PyAny>> {
    let exporter = Bound::new(py, SharedBuffer { bytes })?;
    Ok(PyMemoryView::from(exporter.as_any())?.into_any())
}

/// The bytes of a bytes-like object: without a copy when it is a view this module exported (or a
/// contiguous slice of one), else one copy. `None` when `obj` has no buffer.
pub(crate) fn bytes_of(obj: &Bound<'_, PyAny>) -> PyResult<Option<bytes::Bytes>> {
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        let data = bytes.as_bytes();
        if data.len() < HELD_BYTES {
            return Ok(Some(bytes::Bytes::copy_from_slice(data)));
        }
        // SAFETY: `bytes` never change, and the object keeps them where they are for as long as
        // it lives; dropped without the GIL, the reference goes to pyo3's deferred pool.
        return Ok(Some(unsafe { held(data.as_ptr(), data.len(), bytes.clone().unbind()) }));
    }
    if let Ok(view) = obj.cast::<PyMemoryView>()
        && let Some(shared) = exported_slice(view)?
    {
        return Ok(Some(shared));
    }
    if let Some(shared) = exported_base(obj)? {
        return Ok(Some(shared));
    }
    let buffer = match pyo3::buffer::PyBuffer::<u8>::get(obj) {
        Ok(buffer) => buffer,
        // A buffer of another item type (`array('f')`, a numpy array): read its bytes.
        Err(_) => match PyMemoryView::from(obj) {
            Ok(view) => pyo3::buffer::PyBuffer::<u8>::get(&view.call_method1("cast", ("B",))?)?,
            Err(_) => return Ok(None),
        },
    };
    if HELD_UNTIL_ENCODED.get() && buffer.is_c_contiguous() && buffer.len_bytes() >= HELD_BYTES {
        let (ptr, len) = (buffer.buf_ptr().cast::<u8>().cast_const(), buffer.len_bytes());
        // SAFETY: the buffer stays exported while it is held; it is only read while the thread
        // that read it keeps the GIL (see `read_for_encoding`), so no Python code changes it.
        return Ok(Some(unsafe { held(ptr, len, buffer) }));
    }
    Ok(Some(buffer.to_vec(obj.py())?.into()))
}

thread_local! {
    /// Set by [`read_for_encoding`]: buffers may be held rather than copied.
    static HELD_UNTIL_ENCODED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `read`, a conversion out of Python whose value the caller encodes and drops before it
/// lets go of the GIL (a reply, a stream item, a callback's argument, written into their frame at
/// once). While it runs, a mutable buffer (a `bytearray`, a numpy array) of 4 KiB or more is held
/// rather than copied out of Python: no Python code can run, so nothing can change it, before
/// the frame is written and the value dropped. Anywhere else a mutable buffer is copied, since
/// Python could change it under a `Bytes` that Rust keeps.
pub(crate) fn read_for_encoding<T>(read: impl FnOnce() -> T) -> T {
    /// Puts the flag back however `read` ends, a panic included: left set, later reads would
    /// hold buffers that Python may change.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            HELD_UNTIL_ENCODED.set(self.0);
        }
    }
    let _restore = Restore(HELD_UNTIL_ENCODED.replace(true));
    read()
}

/// From this length up, a buffer is held rather than copied (see [`held`]); below it, a copy
/// costs less than the reference and its bookkeeping.
const HELD_BYTES: usize = 4096;

/// The `len` bytes at `ptr`, kept alive by `owner` (a reference to a `bytes` object, or an
/// exported buffer) instead of copied.
///
/// # Safety
/// The bytes must stay valid for as long as `owner` lives, and unchanged for as long as the
/// returned `Bytes` (or a clone) is read.
unsafe fn held<O: Send + Sync + 'static>(ptr: *const u8, len: usize, owner: O) -> bytes::Bytes {
    bytes::Bytes::from_owner(Held { ptr, len, _owner: owner })
}

/// Python memory held by its owner; built only by [`held`].
struct Held<O> {
    ptr: *const u8,
    len: usize,
    _owner: O,
}

// SAFETY: the bytes are only read (the contract of `held`), and the owner is `Send`.
unsafe impl<O: Send> Send for Held<O> {}
// SAFETY: as above, and the owner is `Sync`.
unsafe impl<O: Sync> Sync for Held<O> {}

impl<O> AsRef<[u8]> for Held<O> {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `ptr` and `len` describe memory `_owner` keeps valid and unchanged (see `held`).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// How many `.base` links [`exported_base`] follows (a reshape of a `frombuffer` is two).
const MAX_BASE_DEPTH: usize = 8;

/// The bytes of `obj` (a `numpy.ndarray`, say) as a slice of a [`SharedBuffer`]'s bytes, when
/// its chain of `.base` objects leads to a `memoryview` of one and `obj` is a C-contiguous view
/// within it: an array the handler received and returns unchanged is then not copied.
fn exported_base(obj: &Bound<'_, PyAny>) -> PyResult<Option<bytes::Bytes>> {
    let mut current = obj.clone();
    let mut exporter = None;
    for _ in 0..MAX_BASE_DEPTH {
        if let Ok(view) = current.cast::<PyMemoryView>() {
            exporter = Some(view.getattr("obj")?);
            break;
        }
        match current.getattr_opt("base")? {
            Some(base) if !base.is_none() => current = base,
            _ => return Ok(None),
        }
    }
    let Some(exporter) = exporter else { return Ok(None) };
    let Ok(exporter) = exporter.cast::<SharedBuffer>() else {
        return Ok(None);
    };
    let Ok(view) = PyMemoryView::from(obj) else { return Ok(None) };
    // SAFETY: only the address and length of the buffer are read, while `view` keeps it alive.
    let raw = unsafe {
        let mut buffer: ffi::Py_buffer = std::mem::zeroed();
        if ffi::PyObject_GetBuffer(view.as_ptr(), &raw mut buffer, ffi::PyBUF_C_CONTIGUOUS) != 0 {
            ffi::PyErr_Clear();
            return Ok(None);
        }
        let range = (buffer.buf as usize, usize::try_from(buffer.len).unwrap_or(0));
        ffi::PyBuffer_Release(&raw mut buffer);
        range
    };
    Ok(slice_within(&exporter.get().bytes, raw))
}

/// `whole.slice` of the bytes at address `start` of length `len`, if they lie within it.
fn slice_within(whole: &bytes::Bytes, (start, len): (usize, usize)) -> Option<bytes::Bytes> {
    let base = whole.as_ptr() as usize;
    if start < base || start + len > base + whole.len() {
        return None;
    }
    Some(whole.slice(start - base..start - base + len))
}

/// The bytes a `memoryview` of a [`SharedBuffer`] shows, as a slice of the exporter's bytes.
fn exported_slice(view: &Bound<'_, PyMemoryView>) -> PyResult<Option<bytes::Bytes>> {
    let owner = view.getattr("obj")?;
    let Ok(exporter) = owner.cast::<SharedBuffer>() else {
        return Ok(None);
    };
    let buffer = pyo3::buffer::PyBuffer::<u8>::get(view.as_any())?;
    if !buffer.is_c_contiguous() {
        return Ok(None);
    }
    Ok(slice_within(&exporter.get().bytes, (buffer.buf_ptr() as usize, buffer.len_bytes())))
}
