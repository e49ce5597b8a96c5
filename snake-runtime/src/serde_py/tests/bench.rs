//! A micro-benchmark, ignored by default; no timing is asserted. Run it with
//! `cargo test --release serde_py::tests::bench -- --ignored --nocapture`.
//!
//! It prints the cost of converting a 4-field struct both ways next to a hand-written pyo3
//! conversion of the same struct (interned keys, direct dict access), the floor to compare with.

use std::hint::black_box;
use std::time::Instant;

use pyo3::intern;
use pyo3::types::{PyDict, PyString};
use serde::{Deserialize, Serialize};

use super::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Request {
    id: u64,
    name: String,
    score: f64,
    tags: Vec<String>,
}

fn by_hand<'py>(py: Python<'py>, value: &Request) -> PyResult<Bound<'py, PyAny>> {
    let dict = PyDict::new(py);
    dict.set_item(intern!(py, "id"), value.id)?;
    dict.set_item(intern!(py, "name"), &value.name)?;
    dict.set_item(intern!(py, "score"), value.score)?;
    dict.set_item(intern!(py, "tags"), &value.tags)?;
    Ok(dict.into_any())
}

fn by_hand_cached<'py>(py: Python<'py>, value: &Request) -> PyResult<Bound<'py, PyAny>> {
    use super::super::intern::static_name;
    let dict = PyDict::new(py);
    dict.set_item(static_name(py, "id"), value.id)?;
    dict.set_item(static_name(py, "name"), &value.name)?;
    dict.set_item(static_name(py, "score"), value.score)?;
    dict.set_item(static_name(py, "tags"), &value.tags)?;
    Ok(dict.into_any())
}

fn from_hand(obj: &Bound<'_, PyAny>) -> PyResult<Request> {
    fn get<'py>(dict: &Bound<'py, PyDict>, key: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyAny>> {
        match dict.get_item(key)? {
            Some(value) => Ok(value),
            None => Err(pyo3::exceptions::PyKeyError::new_err(key.to_string())),
        }
    }
    let py = obj.py();
    let dict = obj.cast::<PyDict>()?;
    Ok(Request {
        id: get(dict, intern!(py, "id"))?.extract()?,
        name: get(dict, intern!(py, "name"))?.extract()?,
        score: get(dict, intern!(py, "score"))?.extract()?,
        tags: get(dict, intern!(py, "tags"))?.extract()?,
    })
}

/// Prints the fastest of ten batches: the least disturbed by the rest of the machine.
fn time(label: &str, iterations: u32, mut f: impl FnMut()) {
    let batch = (iterations / 10).max(1);
    for _ in 0..batch {
        f();
    }
    let best = (0..10)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..batch {
                f();
            }
            start.elapsed() / batch
        })
        .min()
        .unwrap_or_default();
    eprintln!("{label:<40} {best:>10.0?}");
}

#[test]
#[ignore = "micro-benchmark; run explicitly with --release --ignored --nocapture"]
fn four_field_struct() {
    const N: u32 = 200_000;
    let value = Request { id: 42, name: "snake".into(), score: 0.5, tags: vec!["a".into(), "b".into()] };
    with_py(|py| {
        let obj = to_python(py, &value).expect("converts");
        assert_eq!(from_python::<Request>(&obj).expect("reads"), value);
        assert_eq!(from_hand(&obj).expect("reads"), value);
        time("to_python", N, || {
            black_box(to_python(py, black_box(&value)).expect("converts"));
        });
        time("by hand (pyo3, interned keys)", N, || {
            black_box(by_hand(py, black_box(&value)).expect("converts"));
        });
        time("by hand, keys from the name cache", N, || {
            black_box(by_hand_cached(py, black_box(&value)).expect("converts"));
        });
        time("from_python", N, || {
            black_box(from_python::<Request>(black_box(&obj)).expect("reads"));
        });
        time("by hand (pyo3 get_item + extract)", N, || {
            black_box(from_hand(black_box(&obj)).expect("reads"));
        });
        let numbers: Vec<u32> = (0..1000).collect();
        let numbers_obj = to_python(py, &numbers).expect("converts");
        time("to_python, 1000 u32", N / 100, || {
            black_box(to_python(py, black_box(&numbers)).expect("converts"));
        });
        time("by hand, 1000 u32", N / 100, || {
            black_box(black_box(&numbers).into_pyobject(py).expect("converts"));
        });
        time("from_python, 1000 u32", N / 100, || {
            black_box(from_python::<Vec<u32>>(black_box(&numbers_obj)).expect("reads"));
        });
        time("by hand, 1000 u32 (extract)", N / 100, || {
            black_box(black_box(&numbers_obj).extract::<Vec<u32>>().expect("reads"));
        });
        let big: Vec<Request> = vec![value.clone(); 1000];
        let big_obj = to_python(py, &big).expect("converts");
        time("to_python, 1000 structs", N / 1000, || {
            black_box(to_python(py, black_box(&big)).expect("converts"));
        });
        time("from_python, 1000 structs", N / 1000, || {
            black_box(from_python::<Vec<Request>>(black_box(&big_obj)).expect("reads"));
        });
    });
}
