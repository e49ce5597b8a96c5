//! Buffers read where serde does not know the Rust type yet (`deserialize_any`: untagged,
//! internally tagged and flattened types): a `memoryview` or other buffer-protocol object is its
//! bytes, and (feature `numpy`) a `numpy.ndarray` keeps its shape and dtype for `Array`.

use serde::{Deserialize, Serialize};

use pyo3::prelude::*;

use super::*;
use crate::SharedBytes;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum NumberOrBlob {
    Number(i64),
    Blob(SharedBytes),
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Payload {
    data: SharedBytes,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Envelope {
    id: u32,
    #[serde(flatten)]
    payload: Payload,
}

#[test]
fn buffers_of_unknown_shape_are_their_bytes() {
    let blob = |bytes: &[u8]| NumberOrBlob::Blob(SharedBytes::from(bytes.to_vec()));
    assert_reads("memoryview(b'\\x00\\xff')", blob(&[0, 255]));
    assert_reads("memoryview(b'0123456789')[2:5]", blob(b"234"));
    assert_reads("__import__('array').array('H', [1, 256])", blob(&[1, 0, 0, 1]));
    assert_reads("7", NumberOrBlob::Number(7));
    assert_reads(
        "{'id': 3, 'data': memoryview(b'\\x01\\x02')}",
        Envelope { id: 3, payload: Payload { data: SharedBytes::from(vec![1, 2]) } },
    );
    // What Rust sent comes back through the untagged enum and the flattened struct.
    assert_round_trip(&blob(&[9; 300]));
    assert_round_trip(&Envelope { id: 1, payload: Payload { data: SharedBytes::from(vec![4; 70]) } });
    let err = read_err::<Envelope>("{'id': 3, 'data': object()}");
    assert_eq!(
        err.kind,
        mismatch("None, bool, int, float, str, bytes-like object, list, tuple, set or dict", "object")
    );
}

#[test]
fn large_bytes_objects_are_held_not_copied() {
    with_py(|py| {
        for (len, held) in [(100_000, true), (100, false)] {
            let obj = eval(py, &format!("bytes(range(256)) * {}", len / 256 + 1));
            let data = obj.cast::<pyo3::types::PyBytes>().expect("bytes").as_bytes();
            // SAFETY: `obj` is a live object; only its reference count is read.
            let refcount = |obj: &Bound<'_, PyAny>| unsafe { pyo3::ffi::Py_REFCNT(obj.as_ptr()) };
            let before = refcount(&obj);
            let value: SharedBytes = from_python(&obj).expect("reads");
            assert_eq!(&value[..], data);
            assert_eq!(value.as_ptr() == data.as_ptr(), held, "{len} bytes");
            // A held object has one more reference, the value's, which keeps its bytes alive.
            assert_eq!(refcount(&obj) - before, isize::from(held), "{len} bytes");
            drop(obj);
            assert_eq!(value[255], 255);
            drop(value);
        }
    });
}

#[test]
fn mutable_buffers_are_held_only_while_read_for_encoding() {
    with_py(|py| {
        let obj = eval(py, "bytearray(range(256)) * 400");
        let data = obj.cast::<pyo3::types::PyByteArray>().expect("bytearray").data().cast_const();
        let held: SharedBytes =
            crate::serde_py::read_for_encoding(|| from_python(&obj)).expect("reads for an encoding");
        assert_eq!(held.as_ptr(), data, "held while the value is encoded at once");
        assert_eq!((held.len(), held[257]), (256 * 400, 1));
        drop(held);
        let copied: SharedBytes = from_python(&obj).expect("reads");
        assert_ne!(copied.as_ptr(), data, "copied anywhere else: Python may change it later");
        assert_eq!(copied.len(), 256 * 400);
        let small = eval(py, "bytearray(100)");
        let small_data = small.cast::<pyo3::types::PyByteArray>().expect("bytearray").data().cast_const();
        let copied: SharedBytes =
            crate::serde_py::read_for_encoding(|| from_python(&small)).expect("reads for an encoding");
        assert_ne!(copied.as_ptr(), small_data, "a small one is copied");
    });
}

#[cfg(feature = "numpy")]
mod arrays {
    use ndarray::{Ix1, Ix2, array};

    use super::*;
    use crate::Array;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(untagged)]
    enum Tensor {
        Matrix(Array<f32, Ix2>),
        Ids(Array<i64, Ix1>),
        Label(String),
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Embedding {
        vector: Array<f32, Ix1>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Row {
        id: u32,
        #[serde(flatten)]
        embedding: Embedding,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "kind")]
    enum Input {
        Vector { values: Array<f32, Ix1> },
        Text { text: String },
    }

    fn have_numpy(test: &str) -> bool {
        super::super::numpy::have_numpy(test)
    }

    #[test]
    fn arrays_of_unknown_shape_keep_their_dtype_and_shape() {
        if !have_numpy("arrays_of_unknown_shape_keep_their_dtype_and_shape") {
            return;
        }
        let np = "__import__('numpy')";
        assert_reads(
            &format!("{np}.arange(6, dtype='float32').reshape(2, 3)"),
            Tensor::Matrix(array![[0.0f32, 1.0, 2.0], [3.0, 4.0, 5.0]].into()),
        );
        assert_reads(&format!("{np}.arange(3, dtype='int64')"), Tensor::Ids(array![0i64, 1, 2].into()));
        // Not C-contiguous: read in C order all the same.
        assert_reads(
            &format!("{np}.arange(12, dtype='float32').reshape(3, 4)[:, ::2]"),
            Tensor::Matrix(array![[0.0f32, 2.0], [4.0, 6.0], [8.0, 10.0]].into()),
        );
        assert_reads("'cat'", Tensor::Label("cat".to_owned()));
        // Same size, other dtype: no variant takes it, rather than reading int32s as float32s.
        let err = read_err::<Tensor>(&format!("{np}.arange(6, dtype='int32').reshape(2, 3)"));
        assert!(err.to_string().contains("did not match any variant"), "{err}");
        assert_round_trip(&Tensor::Matrix(array![[1.5f32, -2.0]].into()));
    }

    #[test]
    fn a_returned_array_read_for_encoding_is_held() {
        if !have_numpy("a_returned_array_read_for_encoding_is_held") {
            return;
        }
        with_py(|py| {
            let obj = eval(py, "__import__('numpy').arange(4096, dtype='float32')");
            let data: usize = obj
                .getattr("__array_interface__")
                .and_then(|interface| interface.get_item("data"))
                .and_then(|data| data.get_item(0))
                .and_then(|address| address.extract())
                .expect("the data address");
            let held: Array<f32, Ix1> =
                crate::serde_py::read_for_encoding(|| from_python(&obj)).expect("reads for an encoding");
            assert_eq!(held.view().as_ptr() as usize, data, "the array's own elements");
            assert_eq!(held[4095], 4095.0);
            drop(held);
            let copied: Array<f32, Ix1> = from_python(&obj).expect("reads");
            assert_ne!(copied.view().as_ptr() as usize, data);
        });
    }

    #[test]
    fn flattened_and_internally_tagged_arrays_are_checked() {
        if !have_numpy("flattened_and_internally_tagged_arrays_are_checked") {
            return;
        }
        let np = "__import__('numpy')";
        assert_reads(
            &format!("{{'id': 5, 'vector': {np}.ones(2, dtype='float32')}}"),
            Row { id: 5, embedding: Embedding { vector: array![1.0f32, 1.0].into() } },
        );
        let err = read_err::<Row>(&format!("{{'id': 5, 'vector': {np}.ones(2)}}"));
        assert_eq!(err.to_string(), "expected float32 array of rank 1, got float64 array of rank 1");
        let err = read_err::<Row>(&format!("{{'id': 5, 'vector': {np}.ones((1, 2), dtype='float32')}}"));
        assert_eq!(err.to_string(), "expected float32 array of rank 1, got float32 array of rank 2");
        assert_reads(
            &format!("{{'kind': 'Vector', 'values': {np}.zeros(1, dtype='float32')}}"),
            Input::Vector { values: array![0.0f32].into() },
        );
        assert_round_trip(&Row { id: 1, embedding: Embedding { vector: array![0.25f32, 4.0].into() } });
        assert_round_trip(&Input::Vector { values: array![3.0f32].into() });
    }
}
