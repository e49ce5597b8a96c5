//! Rows of the mapping table for containers: sequences, sets, tuples, maps, structs, newtypes.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use serde::{Deserialize, Serialize};

use super::*;

#[test]
fn sequences_become_lists() {
    assert_to_python(&vec![1, 2, 3], "[1, 2, 3]");
    assert_to_python(&Vec::<i32>::new(), "[]");
    assert_to_python(&VecDeque::from([1.5, 2.5]), "[1.5, 2.5]");
    assert_to_python(&BTreeSet::from(["b", "a"]), "['a', 'b']");
    assert_to_python(&[vec!["x"], vec![]][..], "[['x'], []]");
    with_py(|py| {
        let obj = to_python(py, &HashSet::from([7u8])).expect("converts");
        assert!(obj.is_exact_instance_of::<PyList>());
        assert_eq!(repr(&obj), "[7]");
    });
}

#[test]
fn sequences_read_from_lists_tuples_and_sets() {
    assert_reads("[1, 2, 3]", vec![1, 2, 3]);
    assert_reads("(1, 2, 3)", vec![1, 2, 3]);
    assert_reads("()", Vec::<i32>::new());
    assert_reads("{3, 1, 2}", BTreeSet::from([1, 2, 3]));
    assert_reads("frozenset({'a', 'b'})", HashSet::from([String::from("a"), String::from("b")]));
    assert_reads("[[1], (2, 3), {4}]", vec![vec![1], vec![2, 3], vec![4]]);
    assert_reads("[1.0, 2]", VecDeque::from([1.0, 2.0]));
    assert_eq!(read_err::<Vec<i32>>("'abc'").kind, mismatch("list", "str"));
    assert_eq!(read_err::<Vec<i32>>("{'a': 1}").kind, mismatch("list", "dict"));
    assert_eq!(read_err::<Vec<i32>>("None").kind, mismatch("list", "NoneType"));
}

#[test]
fn list_subclasses_are_lists() {
    assert_reads("type('L', (list,), {})([1, 2])", vec![1, 2]);
}

#[test]
fn tuples_both_ways() {
    assert_to_python(&(1, "a", 2.5), "(1, 'a', 2.5)");
    assert_to_python(&(1,), "(1,)");
    assert_to_python(&[1u8, 2, 3], "(1, 2, 3)");
    assert_reads("(1, 'a', 2.5)", (1, String::from("a"), 2.5));
    assert_reads("[1, 'a', 2.5]", (1, String::from("a"), 2.5));
    assert_reads("(1, 2, 3)", [1u8, 2, 3]);
}

#[test]
fn tuple_length_is_checked() {
    let err = read_err::<(i32, i32, i32)>("(1, 2)");
    assert_eq!(err.kind, ConversionErrorKind::InvalidLength { expected: "tuple of length 3".to_owned(), got: 2 });
    assert_eq!(err.to_string(), "invalid length 2, expected tuple of length 3");
    let err = read_err::<(i32,)>("[1, 2]");
    assert_eq!(err.kind, ConversionErrorKind::InvalidLength { expected: "tuple of length 1".to_owned(), got: 2 });
    assert_eq!(
        read_err::<[u8; 2]>("b'abc'").kind,
        ConversionErrorKind::InvalidLength { expected: "tuple of length 2".to_owned(), got: 3 }
    );
    // Sets have no order, so they cannot be tuples.
    assert_eq!(read_err::<(i32, i32)>("{1, 2}").kind, mismatch("tuple", "set"));
    assert_eq!(read_err::<(i32, i32)>("'ab'").kind, mismatch("tuple", "str"));
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Pair(i32, String);

#[test]
fn tuple_structs_are_tuples() {
    assert_to_python(&Pair(1, "x".into()), "(1, 'x')");
    assert_reads("(1, 'x')", Pair(1, "x".into()));
    assert_reads("[1, 'x']", Pair(1, "x".into()));
}

#[test]
fn maps_with_str_keys() {
    let map = BTreeMap::from([("b", 2), ("a", 1)]);
    assert_to_python(&map, "{'a': 1, 'b': 2}");
    assert_reads("{'a': 1, 'b': 2}", BTreeMap::from([(String::from("a"), 1), (String::from("b"), 2)]));
    assert_reads("{}", HashMap::<String, i32>::new());
    with_py(|py| {
        let obj = to_python(py, &HashMap::from([("k", vec![1])])).expect("converts");
        let dict = obj.cast::<PyDict>().expect("a dict");
        let value = dict.get_item("k").expect("no error").expect("has k");
        assert_eq!(repr(&value), "[1]");
    });
}

#[test]
fn maps_with_integer_keys() {
    assert_to_python(&BTreeMap::from([(-1i64, "neg"), (2, "two")]), "{-1: 'neg', 2: 'two'}");
    assert_to_python(&BTreeMap::from([(u128::MAX, 0)]), "{340282366920938463463374607431768211455: 0}");
    assert_reads("{-1: 'neg', 2: 'two'}", BTreeMap::from([(-1i64, String::from("neg")), (2, String::from("two"))]));
    assert_reads("{2**100: True}", BTreeMap::from([(1u128 << 100, true)]));
    // Keys are typed like any value: an int key is not a str.
    assert_eq!(read_err::<HashMap<String, i32>>("{1: 1}").kind, mismatch("str", "int"));
    assert_eq!(read_err::<HashMap<u8, i32>>("{300: 1}").kind, out_of_range("u8", "300"));
}

#[test]
fn unit_variant_and_newtype_keys_are_str() {
    #[derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
    enum Color {
        Red,
        Blue,
    }
    #[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
    struct Name(String);
    let colors = BTreeMap::from([(Color::Red, 1), (Color::Blue, 2)]);
    assert_to_python(&colors, "{'Red': 1, 'Blue': 2}");
    assert_reads("{'Red': 1, 'Blue': 2}", colors);
    assert_to_python(&BTreeMap::from([(Name("n".into()), 'c')]), "{'n': 'c'}");
    assert_to_python(&BTreeMap::from([('c', 1)]), "{'c': 1}");
}

#[test]
fn maps_with_other_keys_are_rejected_both_ways() {
    let unsupported = |got: &str| ConversionErrorKind::UnsupportedKey { got: got.to_owned() };
    assert_eq!(read_err::<HashMap<(i32, i32), i32>>("{(1, 2): 3}").kind, unsupported("tuple"));
    assert_eq!(read_err::<HashMap<String, i32>>("{1.5: 3}").kind, unsupported("float"));
    assert_eq!(read_err::<HashMap<i64, i32>>("{True: 3}").kind, unsupported("bool"));
    assert_eq!(read_err::<HashMap<String, i32>>("{None: 3}").kind, unsupported("NoneType"));
    assert_eq!(
        read_err::<HashMap<(i32, i32), i32>>("{(1, 2): 3}").to_string(),
        "unsupported key of type tuple: dict keys must be str or int"
    );
    with_py(|py| {
        let err = to_python(py, &HashMap::from([((1, 2), 3)])).expect_err("tuple keys");
        assert_eq!(err.kind, unsupported("tuple"));
        assert_eq!(err.path, "");
        let err = to_python(py, &BTreeMap::from([(true, 3)])).expect_err("bool keys");
        assert_eq!(err.kind, unsupported("bool"));
        let err = to_python(py, &BTreeMap::from([(vec![1], 3)])).expect_err("list keys");
        assert_eq!(err.kind, unsupported("list"));
        let err = to_python(py, &BTreeMap::from([(None::<i32>, 3)])).expect_err("None keys");
        assert_eq!(err.kind, unsupported("NoneType"));
    });
}

#[test]
fn other_mappings_read_as_maps() {
    assert_reads("__import__('types').MappingProxyType({'a': 1})", BTreeMap::from([(String::from("a"), 1)]));
    assert_reads("__import__('collections').OrderedDict([(2, 'x')])", BTreeMap::from([(2u8, 'x')]));
    assert_reads(
        "__import__('collections').ChainMap({'a': 1}, {'b': 2})",
        BTreeMap::from([(String::from("a"), 1), (String::from("b"), 2)]),
    );
    assert_eq!(read_err::<HashMap<String, i32>>("[('a', 1)]").kind, mismatch("dict", "list"));
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Item {
    name: String,
    score: f64,
    tags: Vec<String>,
    parent: Option<Box<Item>>,
}

fn item() -> Item {
    Item {
        name: "a".into(),
        score: 0.5,
        tags: vec!["x".into()],
        parent: Some(Box::new(Item { name: "p".into(), score: 1.0, tags: vec![], parent: None })),
    }
}

#[test]
fn structs_become_dicts_in_field_order() {
    assert_to_python(
        &item(),
        "{'name': 'a', 'score': 0.5, 'tags': ['x'], \
         'parent': {'name': 'p', 'score': 1.0, 'tags': [], 'parent': None}}",
    );
}

#[test]
fn struct_keys_are_shared_interned_strings() {
    with_py(|py| {
        let first = to_python(py, &item()).expect("converts");
        let second = to_python(py, &item()).expect("converts");
        fn first_key<'py>(obj: &Bound<'py, PyAny>) -> Bound<'py, PyString> {
            let dict = obj.cast::<PyDict>().expect("a dict");
            let (key, _) = dict.iter().next().expect("has a key");
            key.cast_into::<PyString>().expect("a str")
        }
        let key = first_key;
        assert!(key(&first).is(key(&second)), "field names are reused");
        assert!(key(&first).is(PyString::intern(py, "name")), "field names are interned");
    });
}

#[test]
fn conversions_work_on_many_threads() {
    // Each thread has its own name table, dropped when the thread ends (while not attached).
    let threads: Vec<_> = (0..4)
        .map(|n| {
            std::thread::spawn(move || {
                for _ in 0..100 {
                    let mut value = item();
                    value.score = f64::from(n);
                    with_py(|py| {
                        let obj = to_python(py, &value).expect("converts");
                        assert_eq!(from_python::<Item>(&obj).expect("reads"), value);
                    });
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("thread succeeds");
    }
    // The names are still right on this thread afterwards.
    assert_round_trip(&item());
}

#[test]
fn structs_read_from_dicts() {
    assert_reads(
        "{'parent': {'tags': [], 'parent': None, 'score': 1, 'name': 'p'}, \
          'name': 'a', 'score': 0.5, 'tags': ('x',)}",
        item(),
    );
    // A missing Option field is None, unknown keys are ignored.
    assert_reads(
        "{'name': 'a', 'score': 0.5, 'tags': ['x'], 'extra': object(), \
          'parent': {'name': 'p', 'score': 1.0, 'tags': []}}",
        item(),
    );
}

#[test]
fn structs_read_from_dict_subclasses_and_mappings() {
    let expected = Item { name: "s".into(), score: 2.0, tags: vec![], parent: None };
    let fields = "{'name': 's', 'score': 2.0, 'tags': []}";
    assert_reads(&format!("type('D', (dict,), {{}})({fields})"), expected.clone());
    assert_reads(&format!("__import__('collections').OrderedDict({fields})"), expected.clone());
    assert_reads(&format!("__import__('types').MappingProxyType({fields})"), expected);
}

#[test]
fn struct_errors() {
    assert_eq!(
        read_err::<Item>("{'name': 'a', 'tags': []}").kind,
        ConversionErrorKind::MissingField { field: "score".to_owned() }
    );
    assert_eq!(read_err::<Item>("{'name': 'a', 'tags': []}").to_string(), "missing field `score`");
    assert_eq!(read_err::<Item>("[1, 2, 3, 4]").kind, mismatch("dict", "list"));
    assert_eq!(read_err::<Item>("None").kind, mismatch("dict", "NoneType"));
    // Keys of a struct dict are field names: an int key is an error, never a field position.
    assert_eq!(read_err::<Item>("{0: 'a', 'score': 1.0, 'tags': []}").kind, mismatch("str key", "int"));
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Meters(f64);

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Wrapper(Vec<Meters>);

#[test]
fn newtype_structs_are_their_inner_value() {
    assert_to_python(&Meters(1.5), "1.5");
    assert_to_python(&Wrapper(vec![Meters(1.0)]), "[1.0]");
    assert_reads("1.5", Meters(1.5));
    assert_reads("[2, 3.5]", Wrapper(vec![Meters(2.0), Meters(3.5)]));
}

#[test]
fn output_types_are_exact_builtins() {
    with_py(|py| {
        let obj = to_python(py, &((1,), vec![2], BTreeMap::from([("k", 3)]))).expect("converts");
        let tuple = obj.cast::<PyTuple>().expect("a tuple");
        assert!(tuple.is_exact_instance_of::<PyTuple>());
        assert!(tuple.get_item(0).expect("0").is_exact_instance_of::<PyTuple>());
        assert!(tuple.get_item(1).expect("1").is_exact_instance_of::<PyList>());
        assert!(tuple.get_item(2).expect("2").is_exact_instance_of::<PyDict>());
    });
}
