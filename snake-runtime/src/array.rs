//! [`Array`]: an n-dimensional array that Python sees as a `numpy.ndarray` (feature `numpy`).
//!
//! On the wire an array is its shape and its elements' bytes in C order. The type is serde-only,
//! like [`SharedBytes`](crate::SharedBytes); how it meets Python is `serde_py`'s business, and
//! two thread-local slots carry what serde's data model cannot: [`outgoing`] passes the shape, the
//! dtype and the buffer to `serde_py` (which makes a read-only `numpy.ndarray` over the buffer),
//! and [`incoming`] passes the expected dtype and rank to `serde_py` and the array it read back.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;

use ndarray::Dimension;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Serialize, Serializer};

use crate::schema::{Describe, Registry, Type};

/// The serde newtype name by which `serde_py` recognises an [`Array`].
pub(crate) const NAME: &str = "__snake_ndarray";

mod sealed {
    pub trait Sealed {}
}

/// An element type of an [`Array`]: a plain number (or `bool`) with a numpy dtype of the same
/// layout. Implemented for `f32`, `f64`, `i8`..`i64`, `u8`..`u64` and `bool`.
pub trait ArrayElement: numpy::Element + Copy + Send + Sync + sealed::Sealed + 'static {
    /// The numpy dtype name (`float32`), as `str(arr.dtype)` writes it.
    const DTYPE: &'static str;

    /// Whether `bytes` hold valid values of this type (every bit pattern is valid for the
    /// numbers; a `bool` must be 0 or 1).
    fn valid(bytes: &[u8]) -> bool {
        let _ = bytes;
        true
    }
}

macro_rules! elements {
    ($($t:ty => $name:literal),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        impl ArrayElement for $t {
            const DTYPE: &'static str = $name;
        }
    )*};
}

elements!(
    f32 => "float32", f64 => "float64",
    i8 => "int8", i16 => "int16", i32 => "int32", i64 => "int64",
    u8 => "uint8", u16 => "uint16", u32 => "uint32", u64 => "uint64",
);

impl sealed::Sealed for bool {}
impl ArrayElement for bool {
    const DTYPE: &'static str = "bool";

    fn valid(bytes: &[u8]) -> bool {
        bytes.iter().all(|&b| b <= 1)
    }
}

/// An `ndarray::Array<T, D>` that crosses to Python as a `numpy.ndarray` of dtype `T` and rank
/// `D` (`Ix1`, `Ix2`, ..., or `IxDyn` for any rank), typed `numpy.typing.NDArray[numpy.float32]`
/// (etc.) in the stubs.
///
/// - Rust -> Python: the handler gets a **read-only** array (`arr.flags.writeable` is `False`)
///   that views the received frame without a copy; a frame past the builder's
///   `shared_memory_threshold` lies in shared memory, so the array views the arena. There its
///   data (from 4 KiB) starts on a 64-byte boundary; an array that came over the socket may not
///   be aligned for the dtype (`arr.flags.aligned` can be `False`): numpy computes on it all the
///   same, if slower. `arr.copy()` gives a writable array.
/// - Python -> Rust: the handler returns a `numpy.ndarray` of exactly this dtype (no casting) and
///   rank; anything else is a conversion error naming the path (`reply.embedding: expected
///   float32 array of rank 2, got float64 array of rank 1`). A non-contiguous array (a slice with
///   a step, a transpose) is accepted and copied into C order. The array the handler received (or
///   a contiguous view of it) is handed back without a copy, like a `SharedBytes` view; any
///   other array is copied once, from its own memory into the reply's frame.
///
/// In Rust it derefs to `ndarray::Array<T, D>`. A value decoded from a frame keeps that frame's
/// bytes and builds the `ndarray` (one copy) the first time it is dereferenced;
/// [`into_inner`](Self::into_inner) takes it out. [`view`](Self::view) reads those bytes in place
/// instead when they are aligned for `T`, as a large array's are in shared memory.
///
/// ```
/// use snake::{Array, ndarray};
/// let a: Array<f32, ndarray::Ix2> = ndarray::array![[1.0, 2.0], [3.0, 4.0]].into();
/// assert_eq!(a.shape(), &[2, 2]);
/// assert_eq!(a.sum(), 10.0);
/// ```
pub struct Array<T: ArrayElement, D: Dimension> {
    repr: Repr<T, D>,
}

enum Repr<T, D> {
    Owned(ndarray::Array<T, D>),
    /// Elements in C order, checked to fill `dim`, and (once built) the `ndarray` copied from them.
    Shared {
        bytes: bytes::Bytes,
        dim: D,
        built: OnceLock<ndarray::Array<T, D>>,
    },
}

impl<T: ArrayElement, D: Dimension> Array<T, D> {
    /// The `ndarray`.
    pub fn into_inner(self) -> ndarray::Array<T, D> {
        match self.repr {
            Repr::Owned(array) => array,
            Repr::Shared { bytes, dim, built } => built.into_inner().unwrap_or_else(|| build(&bytes, dim)),
        }
    }

    /// A view of the elements. For an array decoded from a frame whose elements are aligned for
    /// `T` (a large one that came through shared memory is), it reads them in place, without
    /// the copy that dereferencing makes; otherwise it views the `ndarray`. It shadows
    /// `ndarray`'s own `view`, with the same result.
    ///
    /// ```
    /// use snake::{Array, ndarray};
    /// let a: Array<f32, ndarray::Ix1> = ndarray::array![1.0, 2.0, 3.0].into();
    /// assert_eq!(a.view().sum(), 6.0);
    /// ```
    pub fn view(&self) -> ndarray::ArrayView<'_, T, D> {
        if let Repr::Shared { bytes, dim, built } = &self.repr
            && built.get().is_none()
            && (bytes.as_ptr() as usize).is_multiple_of(std::mem::align_of::<T>())
        {
            let len = bytes.len() / std::mem::size_of::<T>();
            // SAFETY: the bytes are aligned for `T` (just checked), hold exactly `len` valid
            // values of `T` (`checked_dim` at decoding: `ArrayElement` types have no padding and,
            // for `bool`, only 0 and 1 were accepted), are never written while a value holds
            // them (a received frame, or a region of an arena held by it), and live as long as
            // `self`, which the view borrows.
            let elements = unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), len) };
            return ndarray::ArrayView::from_shape(dim.clone(), elements)
                .unwrap_or_else(|_| unreachable!("the element count was checked"));
        }
        (**self).view()
    }

    /// The shape, and the elements' bytes in C order (a copy only for an `ndarray` not in C order).
    fn parts(&self) -> (Vec<usize>, bytes::Bytes) {
        match &self.repr {
            Repr::Shared { bytes, dim, .. } => (dim.slice().to_vec(), bytes.clone()),
            Repr::Owned(array) => {
                let standard = array.as_standard_layout();
                let elements = standard.as_slice().unwrap_or_default();
                (array.shape().to_vec(), bytes::Bytes::copy_from_slice(as_bytes(elements)))
            }
        }
    }
}

/// The bytes of `elements`.
fn as_bytes<T: ArrayElement>(elements: &[T]) -> &[u8] {
    // SAFETY: `ArrayElement` is sealed and implemented only for numbers and `bool`, which have no
    // padding and no invalid bytes to read; the slice covers exactly `elements`' memory, borrowed
    // for as long as `elements` is.
    unsafe { std::slice::from_raw_parts(elements.as_ptr().cast::<u8>(), std::mem::size_of_val(elements)) }
}

/// The `ndarray` of `bytes`, which were checked (by [`checked_dim`]) to hold exactly `dim`'s
/// elements, valid for `T`. The bytes may be unaligned for `T`: they are copied, not cast.
fn build<T: ArrayElement, D: Dimension>(bytes: &[u8], dim: D) -> ndarray::Array<T, D> {
    let len = bytes.len() / std::mem::size_of::<T>().max(1);
    let mut elements = Vec::<T>::with_capacity(len);
    // SAFETY: the vector has room for `len` elements, that is `len * size_of::<T>()` bytes, which
    // is `bytes.len()` (checked when the array was decoded); the two buffers do not overlap; the
    // bytes are valid values of `T` (`ArrayElement::valid`, checked at decoding), so after the
    // copy the first `len` elements are initialised.
    unsafe {
        std::ptr::copy_nonoverlapping(
            bytes.as_ptr(),
            elements.as_mut_ptr().cast::<u8>(),
            len * std::mem::size_of::<T>(),
        );
        elements.set_len(len);
    }
    ndarray::Array::from_shape_vec(dim, elements).unwrap_or_else(|_| unreachable!("the element count was checked"))
}

/// The dimension of `shape` if it has `D`'s rank and `bytes` hold exactly its elements, valid
/// for `T`; else why not.
fn checked_dim<T: ArrayElement, D: Dimension>(shape: &[usize], bytes: &[u8]) -> Result<D, String> {
    if D::NDIM.is_some_and(|rank| rank != shape.len()) {
        return Err(format!("{} array of rank {}", T::DTYPE, shape.len()));
    }
    let count = shape.iter().try_fold(1usize, |n, &axis| n.checked_mul(axis));
    let size = std::mem::size_of::<T>();
    if count.and_then(|n| n.checked_mul(size)) != Some(bytes.len()) {
        return Err(format!("{} bytes for shape {shape:?} of {}", bytes.len(), T::DTYPE));
    }
    if !T::valid(bytes) {
        return Err(format!("invalid {} values", T::DTYPE));
    }
    let mut dim = D::zeros(shape.len());
    dim.slice_mut().copy_from_slice(shape);
    Ok(dim)
}

/// What an `Array<T, D>` reads, in Python's words: `float32 array of rank 2`.
pub(crate) fn expected<T: ArrayElement, D: Dimension>() -> String {
    match D::NDIM {
        Some(rank) => format!("{} array of rank {rank}", T::DTYPE),
        None => format!("{} array", T::DTYPE),
    }
}

impl<T: ArrayElement, D: Dimension> Deref for Array<T, D> {
    type Target = ndarray::Array<T, D>;

    fn deref(&self) -> &ndarray::Array<T, D> {
        match &self.repr {
            Repr::Owned(array) => array,
            Repr::Shared { bytes, dim, built } => built.get_or_init(|| build(bytes, dim.clone())),
        }
    }
}

impl<T: ArrayElement, D: Dimension> DerefMut for Array<T, D> {
    fn deref_mut(&mut self) -> &mut ndarray::Array<T, D> {
        if let Repr::Shared { bytes, dim, built } = &mut self.repr {
            let array = built.take().unwrap_or_else(|| build(bytes, dim.clone()));
            self.repr = Repr::Owned(array);
        }
        match &mut self.repr {
            Repr::Owned(array) => array,
            Repr::Shared { .. } => unreachable!("made owned above"),
        }
    }
}

/// A zeroed array to fill before it is sent, made by a handle's `shared_array(shape)` (a handle
/// generated by `#[snake::actor]`; with the low-level API, by asking the actor for a
/// [`SharedArray`](crate::SharedArray)): its elements lie in the shared memory the parent writes for
/// the child that handle's calls go to, so the [`Array`] frozen from it crosses to that child by
/// reference, without a copy, as often as it is sent, and Python's `numpy.ndarray` views it in
/// place. Without room in the arena it lies on the heap and is copied when sent, as any `Array`
/// is ([`in_shared_memory`](Self::in_shared_memory)); see
/// [`SharedBytesMut`](crate::SharedBytesMut), which it is built on.
///
/// ```
/// use snake::{SharedArrayMut, ndarray};
/// let mut matrix = SharedArrayMut::<f32, ndarray::Ix2>::zeros(ndarray::Ix2(2, 3)); // on the heap
/// matrix.view_mut().fill(1.5);
/// let sent: snake::Array<f32, ndarray::Ix2> = matrix.freeze();
/// assert_eq!(sent.view().sum(), 9.0);
/// ```
pub struct SharedArrayMut<T: ArrayElement, D: Dimension> {
    bytes: crate::SharedBytesMut,
    dim: D,
    elements: PhantomData<T>,
}

impl<T: ArrayElement, D: Dimension> SharedArrayMut<T, D> {
    /// A zeroed array of `shape` on the heap, not in shared memory: sent, it is copied once.
    ///
    /// # Panics
    ///
    /// If its size in bytes overflows `isize`, as `ndarray::Array::zeros` does.
    pub fn zeros(shape: D) -> Self {
        Self::with_buffer(shape, crate::SharedBytesMut::zeroed)
    }

    /// An array of `shape` over the zeroed buffer `buffer` makes of the length its elements take.
    ///
    /// # Panics
    ///
    /// As [`zeros`](Self::zeros).
    pub(crate) fn with_buffer(shape: D, buffer: impl FnOnce(usize) -> crate::SharedBytesMut) -> Self {
        let len = shape
            .size_checked()
            .and_then(|count| count.checked_mul(std::mem::size_of::<T>()))
            .filter(|&len| isize::try_from(len).is_ok())
            .unwrap_or_else(|| panic!("a {} array of shape {:?} overflows isize", T::DTYPE, shape.slice()));
        Self { bytes: buffer(len), dim: shape, elements: PhantomData }
    }

    /// Whether the elements lie in a child's shared memory (sent to that child, they cross by
    /// reference).
    pub fn in_shared_memory(&self) -> bool {
        self.bytes.in_shared_memory()
    }

    /// The elements, to read.
    pub fn view(&self) -> ndarray::ArrayView<'_, T, D> {
        // SAFETY: the buffer is aligned for every `ArrayElement` (64 bytes in an arena, 8 on the
        // heap), holds exactly `dim`'s elements (`with_buffer`), each a valid `T` (zeroed at first,
        // then written only through `view_mut`), and is borrowed with `self`.
        let elements = unsafe { std::slice::from_raw_parts(self.bytes.as_ptr().cast::<T>(), self.dim.size()) };
        ndarray::ArrayView::from_shape(self.dim.clone(), elements)
            .unwrap_or_else(|_| unreachable!("the element count was checked"))
    }

    /// The elements, to fill.
    pub fn view_mut(&mut self) -> ndarray::ArrayViewMut<'_, T, D> {
        let count = self.dim.size();
        // SAFETY: as in `view`; the buffer is borrowed mutably with `self`, and writes through a
        // `&mut [T]` keep every element a valid `T`.
        let elements = unsafe { std::slice::from_raw_parts_mut(self.bytes.as_mut_ptr().cast::<T>(), count) };
        ndarray::ArrayViewMut::from_shape(self.dim.clone(), elements)
            .unwrap_or_else(|_| unreachable!("the element count was checked"))
    }

    /// The array, read-only from now on, to send (and clone) as often as needed; it reads the
    /// same memory in place.
    pub fn freeze(self) -> Array<T, D> {
        Array { repr: Repr::Shared { bytes: self.bytes.freeze().into_bytes(), dim: self.dim, built: OnceLock::new() } }
    }
}

impl<T: ArrayElement, D: Dimension> fmt::Debug for SharedArrayMut<T, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = if self.in_shared_memory() { "shared memory" } else { "heap" };
        write!(f, "SharedArrayMut({} {:?}, {place})", T::DTYPE, self.dim.slice())
    }
}

impl<T: ArrayElement, D: Dimension> From<ndarray::Array<T, D>> for Array<T, D> {
    fn from(array: ndarray::Array<T, D>) -> Self {
        Self { repr: Repr::Owned(array) }
    }
}

impl<T: ArrayElement, D: Dimension> From<Array<T, D>> for ndarray::Array<T, D> {
    fn from(array: Array<T, D>) -> Self {
        array.into_inner()
    }
}

impl<T: ArrayElement, D: Dimension> Clone for Array<T, D> {
    fn clone(&self) -> Self {
        match &self.repr {
            Repr::Owned(array) => Self { repr: Repr::Owned(array.clone()) },
            Repr::Shared { bytes, dim, .. } => {
                Self { repr: Repr::Shared { bytes: bytes.clone(), dim: dim.clone(), built: OnceLock::new() } }
            }
        }
    }
}

impl<T: ArrayElement + PartialEq, D: Dimension> PartialEq for Array<T, D> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: ArrayElement + fmt::Debug, D: Dimension> fmt::Debug for Array<T, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// The wire form: `(shape, bytes)`, the bytes as a [`SharedBytes`](crate::SharedBytes) writes
/// them (so an array the child received in place and returns unchanged is handed back).
struct Wire<'a>(&'a [usize], &'a [u8], Option<&'a bytes::Bytes>);

impl Serialize for Wire<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(2)?;
        tuple.serialize_element(self.0)?;
        tuple.serialize_element(&crate::shared_bytes::Wire { bytes: self.1, shared: self.2 })?;
        tuple.end()
    }
}

impl<T: ArrayElement, D: Dimension> Serialize for Array<T, D> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !serializer.is_human_readable() {
            // The wire (postcard): no copy beyond writing the frame.
            return match &self.repr {
                Repr::Shared { bytes, dim, .. } => {
                    serializer.serialize_newtype_struct(NAME, &Wire(dim.slice(), bytes, Some(bytes)))
                }
                Repr::Owned(array) => {
                    let standard = array.as_standard_layout();
                    let elements = standard.as_slice().unwrap_or_default();
                    serializer.serialize_newtype_struct(NAME, &Wire(array.shape(), as_bytes(elements), None))
                }
            };
        }
        // `serde_py` takes the parts from the slot; any other readable format writes them.
        let (shape, bytes) = self.parts();
        outgoing::offer(outgoing::Outgoing { dtype: T::DTYPE, shape: shape.clone(), bytes: bytes.clone() });
        let result = serializer.serialize_newtype_struct(NAME, &Wire(&shape, &bytes, None));
        outgoing::clear();
        result
    }
}

impl<'de, T: ArrayElement, D: Dimension> Deserialize<'de> for Array<T, D> {
    fn deserialize<De: Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        incoming::expect(incoming::Expected {
            name: expected::<T, D>,
            rank: D::NDIM,
            dtype: |py| numpy::dtype::<T>(py),
        });
        let result = deserializer.deserialize_newtype_struct(NAME, ArrayVisitor(PhantomData));
        incoming::clear();
        result
    }
}

struct ArrayVisitor<T, D>(PhantomData<(T, D)>);

impl<'de, T: ArrayElement, D: Dimension> Visitor<'de> for ArrayVisitor<T, D> {
    type Value = Array<T, D>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&expected::<T, D>())
    }

    fn visit_newtype_struct<De: Deserializer<'de>>(self, deserializer: De) -> Result<Self::Value, De::Error> {
        // `serde_py` leaves the array it read from Python in the slot just before calling this.
        let (shape, bytes) = match incoming::take() {
            Some(read) => (read.shape, read.bytes),
            None => {
                let WireIn(shape, bytes, dtype) = WireIn::deserialize(deserializer)?;
                if let Some(dtype) = dtype.filter(|dtype| dtype != T::DTYPE) {
                    let got = format_args!("{dtype} array of rank {}", shape.len());
                    return Err(de::Error::custom(format_args!("expected {}, got {got}", expected::<T, D>())));
                }
                (shape, bytes)
            }
        };
        let dim = checked_dim::<T, D>(&shape, &bytes)
            .map_err(|got| de::Error::custom(format_args!("expected {}, got {got}", expected::<T, D>())))?;
        Ok(Array { repr: Repr::Shared { bytes, dim, built: OnceLock::new() } })
    }
}

/// The wire form read back; bytes lent from the frame body are kept as a slice of it. A numpy
/// array that `serde_py` read without knowing its type (in an untagged, internally tagged or
/// flattened type) comes as this too, with its dtype's name third.
struct WireIn(Vec<usize>, bytes::Bytes, Option<String>);

impl<'de> Deserialize<'de> for WireIn {
    fn deserialize<De: Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        deserializer.deserialize_tuple(2, WireInVisitor)
    }
}

struct WireInVisitor;

impl<'de> Visitor<'de> for WireInVisitor {
    type Value = WireIn;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array's shape and bytes")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WireIn, A::Error> {
        let shape: Vec<usize> = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let bytes = seq
            .next_element::<crate::shared_bytes::SharedBytes>()?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        // The wire form is a pair, whose sequence ends here.
        let dtype = seq.next_element::<String>()?;
        Ok(WireIn(shape, bytes.into_bytes(), dtype))
    }
}

impl<T: ArrayElement, D: Dimension> Describe for Array<T, D> {
    fn describe(registry: &mut Registry) -> Type {
        registry.note_numpy();
        Type::NdArray { dtype: T::DTYPE.to_owned(), rank: D::NDIM }
    }
}

/// The slot that passes an array's parts to `serde_py` within one `to_python` call.
pub(crate) mod outgoing {
    use std::cell::RefCell;

    /// An array on its way to Python.
    pub(crate) struct Outgoing {
        /// The numpy dtype name.
        pub dtype: &'static str,
        /// The shape.
        pub shape: Vec<usize>,
        /// The elements in C order.
        pub bytes: bytes::Bytes,
    }

    thread_local! {
        static SLOT: RefCell<Option<Outgoing>> = const { RefCell::new(None) };
    }

    pub(super) fn offer(array: Outgoing) {
        SLOT.with(|slot| *slot.borrow_mut() = Some(array));
    }

    /// Takes what is in the slot.
    pub(crate) fn take() -> Option<Outgoing> {
        SLOT.with(|slot| slot.borrow_mut().take())
    }

    pub(super) fn clear() {
        SLOT.with(|slot| *slot.borrow_mut() = None);
    }
}

/// The slots that pass what an [`Array`] expects to `serde_py`, and what it read back.
pub(crate) mod incoming {
    use std::cell::RefCell;

    use numpy::PyArrayDescr;
    use pyo3::prelude::*;

    /// What the array being read accepts.
    pub(crate) struct Expected {
        /// In Python's words: `float32 array of rank 2` (made only for an error).
        pub name: fn() -> String,
        /// The rank, `None` for any.
        pub rank: Option<usize>,
        /// The dtype.
        pub dtype: for<'py> fn(Python<'py>) -> Bound<'py, PyArrayDescr>,
    }

    /// An array read from Python: its shape and its elements in C order.
    pub(crate) struct Read {
        /// The shape.
        pub shape: Vec<usize>,
        /// The elements.
        pub bytes: bytes::Bytes,
    }

    thread_local! {
        static EXPECTED: RefCell<Option<Expected>> = const { RefCell::new(None) };
        static READ: RefCell<Option<Read>> = const { RefCell::new(None) };
    }

    pub(super) fn expect(expected: Expected) {
        EXPECTED.with(|slot| *slot.borrow_mut() = Some(expected));
    }

    /// Takes what the array being read expects.
    pub(crate) fn take_expected() -> Option<Expected> {
        EXPECTED.with(|slot| slot.borrow_mut().take())
    }

    /// Leaves the array read from Python for the visitor.
    pub(crate) fn offer(read: Read) {
        READ.with(|slot| *slot.borrow_mut() = Some(read));
    }

    pub(super) fn take() -> Option<Read> {
        READ.with(|slot| slot.borrow_mut().take())
    }

    pub(super) fn clear() {
        EXPECTED.with(|slot| *slot.borrow_mut() = None);
        READ.with(|slot| *slot.borrow_mut() = None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postcard_carries_shape_and_elements_and_reads_them_from_the_source() {
        let value: Array<f32, ndarray::Ix2> = ndarray::array![[1.5, -2.0, 3.25], [4.0, 5.0, 6.0]].into();
        let body = bytes::Bytes::from(postcard::to_stdvec(&value).expect("encodes"));
        let decoded: Array<f32, ndarray::Ix2> =
            crate::shared_bytes::with_source(&body, || postcard::from_bytes(&body)).expect("decodes");
        let Repr::Shared { bytes, .. } = &decoded.repr else { panic!("decoded arrays keep the frame's bytes") };
        let inside = body.as_ptr() as usize..body.as_ptr() as usize + body.len();
        assert!(inside.contains(&(bytes.as_ptr() as usize)), "no copy: the elements are a slice of the body");
        assert_eq!(decoded, value);
        assert_eq!(decoded[[1, 2]], 6.0);
    }

    #[test]
    fn a_transposed_array_travels_in_c_order() {
        let value: Array<i64, ndarray::Ix2> = ndarray::array![[1, 2, 3], [4, 5, 6]].reversed_axes().into();
        let decoded: Array<i64, ndarray::Ix2> =
            postcard::from_bytes(&postcard::to_stdvec(&value).expect("encodes")).expect("decodes");
        assert_eq!(decoded.shape(), &[3, 2]);
        assert_eq!(decoded.into_inner(), ndarray::array![[1, 4], [2, 5], [3, 6]]);
    }

    /// The wire form of `shape` and `bytes`: the bytes as a `SharedBytes` writes them inline.
    fn wire(shape: Vec<usize>, bytes: &[u8]) -> Vec<u8> {
        #[derive(serde::Serialize)]
        enum Buffer<'a> {
            Inline(&'a serde_bytes::Bytes),
        }
        postcard::to_stdvec(&(shape, Buffer::Inline(serde_bytes::Bytes::new(bytes)))).expect("encodes")
    }

    #[test]
    fn a_corrupt_body_is_an_error() {
        // Shape [2, 2] with 3 f32 values.
        let short = wire(vec![2, 2], &[0u8; 12]);
        let err = postcard::from_bytes::<Array<f32, ndarray::Ix2>>(&short).expect_err("refused");
        assert!(err.to_string().contains("expected") || matches!(err, postcard::Error::SerdeDeCustom), "{err}");
        let bools = wire(vec![2], &[1u8, 7]);
        assert!(postcard::from_bytes::<Array<bool, ndarray::Ix1>>(&bools).is_err(), "7 is not a bool");
        let rank = wire(vec![2], &[0u8; 8]);
        assert!(postcard::from_bytes::<Array<f32, ndarray::Ix2>>(&rank).is_err(), "rank 1 for rank 2");
        assert!(postcard::from_bytes::<Array<f32, ndarray::Ix1>>(&rank).is_ok());
        // A buffer variant that is neither inline bytes nor a range handed back.
        let mut unknown = rank.clone();
        unknown[2] = 2;
        assert!(postcard::from_bytes::<Array<f32, ndarray::Ix1>>(&unknown).is_err(), "variant 2");
    }

    #[test]
    fn mutating_a_decoded_array_makes_it_owned() {
        let value: Array<u8, ndarray::IxDyn> = ndarray::ArrayD::from_elem(vec![2, 2, 2], 3u8).into();
        let mut decoded: Array<u8, ndarray::IxDyn> =
            postcard::from_bytes(&postcard::to_stdvec(&value).expect("encodes")).expect("decodes");
        decoded[[1, 1, 1]] = 9;
        assert!(matches!(decoded.repr, Repr::Owned(_)));
        assert_eq!(decoded.sum(), 3 * 7 + 9);
    }
}
