//! Error paths, exact messages, Python exceptions and hostile input.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::super::{from_python_at, to_python_at};
use super::*;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Reply {
    items: Vec<Item>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Item {
    name: String,
    score: f64,
}

const REPLY_WITH_BAD_FOURTH_SCORE: &str = "{'items': [{'name': 'a', 'score': 1.0}, \
     {'name': 'b', 'score': 2}, {'name': 'c', 'score': 3.5}, {'name': 'd', 'score': 'x'}]}";

#[test]
fn the_path_names_the_offending_value_below_the_root() {
    with_py(|py| {
        let obj = eval(py, REPLY_WITH_BAD_FOURTH_SCORE);
        let err = from_python_at::<Reply>(&obj, "reply").expect_err("score is a str");
        assert_eq!(err.to_string(), "reply.items[3].score: expected float, got str");
        assert_eq!(err.path, "reply.items[3].score");
        assert_eq!(err.kind, mismatch("float", "str"));

        let err = from_python::<Reply>(&obj).expect_err("score is a str");
        assert_eq!(err.to_string(), "items[3].score: expected float, got str");
    });
}

#[test]
fn root_alone_when_the_root_value_is_wrong() {
    with_py(|py| {
        let err = from_python_at::<u8>(&eval(py, "300"), "request").expect_err("too big");
        assert_eq!(err.to_string(), "request: integer 300 out of range for u8");
        let err = from_python::<u8>(&eval(py, "300")).expect_err("too big");
        assert_eq!(err.path, "");
        assert_eq!(err.to_string(), "integer 300 out of range for u8");
        let err = from_python_at::<Vec<u8>>(&eval(py, "[1, None]"), "args").expect_err("None");
        assert_eq!(err.to_string(), "args[1]: expected int, got NoneType");
    });
}

#[test]
fn sequence_and_tuple_indices() {
    let err = read_err::<Vec<Vec<i32>>>("[[1], [2, 'x']]");
    assert_eq!(err.to_string(), "[1][1]: expected int, got str");
    let err = read_err::<(u8, (bool, String))>("(1, (True, 2))");
    assert_eq!(err.to_string(), "[1][1]: expected str, got int");
    let err = read_err::<Vec<u8>>("{1, -1}");
    assert_eq!(err.kind, out_of_range("u8", "-1"));
}

#[test]
fn map_keys_in_paths() {
    let err = read_err::<BTreeMap<String, Vec<u8>>>("{'a': [1], 'b\"c': [2, 'x']}");
    assert_eq!(err.to_string(), "[\"b\\\"c\"][1]: expected int, got str");
    let err = read_err::<BTreeMap<i64, Item>>("{5: {'name': 'n', 'score': None}}");
    assert_eq!(err.to_string(), "[5].score: expected float, got NoneType");
    with_py(|py| {
        let obj = eval(py, "{'counts': {'x': 1, 'y': 2.5}}");
        let err = from_python_at::<BTreeMap<String, BTreeMap<String, u32>>>(&obj, "reply").expect_err("float count");
        assert_eq!(err.to_string(), "reply[\"counts\"][\"y\"]: expected int, got float");
    });
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Shape {
    Circle(f64),
    Poly { points: Vec<(i32, i32)> },
    Pair(u8, u8),
}

#[test]
fn variant_contents_in_paths() {
    let err = read_err::<Vec<Shape>>("[{'Circle': 1}, {'Circle': 'r'}]");
    assert_eq!(err.to_string(), "[1].Circle: expected float, got str");
    with_py(|py| {
        let obj = eval(py, "{'Poly': {'points': [(1, 2), (3, 'y')]}}");
        let err = from_python_at::<Shape>(&obj, "shape").expect_err("y");
        assert_eq!(err.to_string(), "shape.Poly.points[1][1]: expected int, got str");
    });
    let err = read_err::<Shape>("{'Pair': (1, 256)}");
    assert_eq!(err.to_string(), "Pair[1]: integer 256 out of range for u8");
}

#[test]
fn missing_and_unknown_fields_point_at_their_struct() {
    let err = read_err::<Reply>("{'items': [{'name': 'a', 'score': 1.0}, {'name': 'b'}]}");
    assert_eq!(err.to_string(), "items[1]: missing field `score`");
    let err = read_err::<Vec<Shape>>("['Square']");
    assert_eq!(err.to_string(), "[0]: unknown variant `Square`, expected one of `Circle`, `Poly`, `Pair`");
}

struct Refuses;

impl Serialize for Refuses {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("refused to serialize"))
    }
}

#[derive(Serialize)]
struct Outer {
    groups: BTreeMap<String, Vec<Inner>>,
    by_id: BTreeMap<u32, Inner>,
}

#[derive(Serialize)]
struct Inner {
    ok: u8,
    bad: Option<Refuses>,
}

#[test]
fn serialization_errors_have_paths_too() {
    with_py(|py| {
        let good = || Inner { ok: 1, bad: None };
        let bad = || Inner { ok: 1, bad: Some(Refuses) };
        let value = Outer { groups: BTreeMap::from([("g".into(), vec![good(), bad()])]), by_id: BTreeMap::new() };
        let err = to_python_at(py, &value, "reply").expect_err("refuses");
        assert_eq!(err.to_string(), "reply.groups[\"g\"][1].bad: refused to serialize");
        assert_eq!(err.kind, ConversionErrorKind::Custom { message: "refused to serialize".to_owned() });

        let value = Outer { groups: BTreeMap::new(), by_id: BTreeMap::from([(7, bad())]) };
        let err = to_python(py, &value).expect_err("refuses");
        assert_eq!(err.to_string(), "by_id[7].bad: refused to serialize");

        let err = to_python(py, &(1, [Refuses])).expect_err("refuses");
        assert_eq!(err.path, "[1][0]");
        let err = to_python_at(py, &Refuses, "request").expect_err("refuses");
        assert_eq!(err.to_string(), "request: refused to serialize");

        #[derive(Serialize)]
        struct Keys {
            lookup: BTreeMap<(u8, u8), u8>,
        }
        let err = to_python_at(py, &Keys { lookup: BTreeMap::from([((1, 2), 3)]) }, "request").expect_err("tuple key");
        assert_eq!(err.to_string(), "request.lookup: unsupported key of type tuple: dict keys must be str or int");
    });
}

#[test]
fn python_exceptions_become_python_errors() {
    // A set whose __len__ raises.
    let err = read_err::<Vec<i32>>("type('S', (set,), {'__len__': lambda self: 1 // 0})({1})");
    assert_eq!(
        err.kind,
        ConversionErrorKind::Python { message: "ZeroDivisionError: integer division or modulo by zero".to_owned() }
    );
    assert_eq!(err.to_string(), "Python raised ZeroDivisionError: integer division or modulo by zero");
    // A mapping whose items() raises, below a path.
    let mapping = "type('M', (__import__('collections.abc').abc.Mapping,), {\
        '__getitem__': lambda self, k: 1, '__len__': lambda self: 1, \
        '__iter__': lambda self: iter(['k']), \
        'items': lambda self: (_ for _ in ()).throw(ValueError('boom'))})()";
    let err = read_err::<Vec<BTreeMap<String, i32>>>(&format!("[{{}}, {mapping}]"));
    assert_eq!(err.path, "[1]");
    assert_eq!(err.kind, ConversionErrorKind::Python { message: "ValueError: boom".to_owned() });
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)] // Only ever read.
struct Nest(Vec<Nest>);

#[derive(Debug, Deserialize)]
#[serde(untagged)]
#[allow(dead_code)] // Only ever read.
enum Json {
    Null,
    Int(i64),
    List(Vec<Json>),
    Map(BTreeMap<String, Json>),
}

#[test]
fn deep_and_self_containing_input_is_an_error_not_a_stack_overflow() {
    // Run on an explicit 2 MiB stack, the default for spawned threads.
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let too_deep = ConversionErrorKind::TooDeep { limit: 256 };
            let deep = "__import__('functools').reduce(lambda inner, _: [inner], range(300), [])";
            assert_eq!(read_err::<Nest>(deep).kind, too_deep);
            let err = read_err::<Nest>("(lambda l: [l.append(l), l][1])([])");
            assert_eq!(err.kind, too_deep);
            assert!(err.path.starts_with("[0][0][0]"), "{}", err.path);
            let err = read_err::<Json>("(lambda d: [d.update(k=[d]), d][1])({})");
            assert_eq!(err.kind, too_deep);
            // Within the limit, nesting is fine.
            let ok = "__import__('functools').reduce(lambda inner, _: [inner], range(200), [])";
            let mut nest: Nest = read(ok).expect("200 levels are fine");
            let mut depth = 0;
            while let Some(inner) = nest.0.pop() {
                nest = inner;
                depth += 1;
            }
            assert_eq!(depth, 200);
        })
        .expect("spawns");
    handle.join().expect("no stack overflow or failed assertion");
}

#[test]
fn conversion_errors_survive_serialization() {
    // The error is serde-serializable (it crosses process boundaries): send one through Python.
    let err = read_err::<Reply>(REPLY_WITH_BAD_FOURTH_SCORE);
    assert_round_trip(&err);
    assert_round_trip(&ConversionError {
        path: String::new(),
        kind: ConversionErrorKind::UnknownVariant { variant: "v".into(), expected: vec!["a".into()] },
    });
    assert_eq!(err.clone(), err);
}

#[test]
fn conversion_error_is_an_ordinary_error_type() {
    fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}
    assert_error::<ConversionError>();
    assert_error::<ConversionErrorKind>();
}

#[test]
fn error_message_wording() {
    let show = |kind: ConversionErrorKind| ConversionError { path: String::new(), kind }.to_string();
    assert_eq!(
        show(ConversionErrorKind::UnknownField { field: "f".into(), expected: vec![] }),
        "unknown field `f`, expected nothing (there are none)"
    );
    assert_eq!(
        show(ConversionErrorKind::UnknownVariant { variant: "v".into(), expected: vec!["A".into(), "B".into()] }),
        "unknown variant `v`, expected `A` or `B`"
    );
    assert_eq!(
        show(ConversionErrorKind::UnknownVariant { variant: "v".into(), expected: vec!["A".into()] }),
        "unknown variant `v`, expected `A`"
    );
    assert_eq!(
        show(ConversionErrorKind::TooDeep { limit: 3 }),
        "value nested more than 3 levels deep (or containing itself)"
    );
    let with_path =
        ConversionError { path: "a.b".into(), kind: ConversionErrorKind::MissingField { field: "c".into() } };
    assert_eq!(with_path.to_string(), "a.b: missing field `c`");
}

#[test]
fn unreadable_python_objects_say_what_they_are() {
    #[derive(Debug, Deserialize)]
    #[serde(untagged)]
    #[allow(dead_code)] // Only ever read.
    enum Anything {
        Int(i64),
    }
    let err = read_err::<Anything>("object()");
    assert_eq!(
        err.kind,
        mismatch("None, bool, int, float, str, bytes-like object, list, tuple, set or dict", "object")
    );
    assert_eq!(read_err::<f64>("1j").kind, mismatch("float", "complex"));
}
