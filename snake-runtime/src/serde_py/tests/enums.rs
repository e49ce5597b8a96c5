//! Enums in all four variant shapes, in each of serde's four representations.

use serde::{Deserialize, Serialize};

use super::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum External {
    Unit,
    Newtype(i32),
    Tuple(i32, String),
    Struct { a: u8, b: Option<String> },
}

#[test]
fn externally_tagged_to_python() {
    assert_to_python(&External::Unit, "'Unit'");
    assert_to_python(&External::Newtype(5), "{'Newtype': 5}");
    assert_to_python(&External::Tuple(1, "x".into()), "{'Tuple': (1, 'x')}");
    assert_to_python(&External::Struct { a: 1, b: None }, "{'Struct': {'a': 1, 'b': None}}");
}

#[test]
fn externally_tagged_from_python() {
    assert_reads("'Unit'", External::Unit);
    assert_reads("{'Unit': None}", External::Unit);
    assert_reads("{'Newtype': 5}", External::Newtype(5));
    assert_reads("{'Tuple': (1, 'x')}", External::Tuple(1, "x".into()));
    assert_reads("{'Tuple': [1, 'x']}", External::Tuple(1, "x".into()));
    assert_reads("{'Struct': {'a': 1, 'b': 'y'}}", External::Struct { a: 1, b: Some("y".into()) });
    assert_reads("__import__('types').MappingProxyType({'Newtype': 7})", External::Newtype(7));
}

#[test]
fn externally_tagged_errors() {
    let err = read_err::<External>("'Nope'");
    assert_eq!(
        err.kind,
        ConversionErrorKind::UnknownVariant {
            variant: "Nope".to_owned(),
            expected: vec!["Unit".into(), "Newtype".into(), "Tuple".into(), "Struct".into()],
        }
    );
    assert_eq!(err.to_string(), "unknown variant `Nope`, expected one of `Unit`, `Newtype`, `Tuple`, `Struct`");
    assert_eq!(
        read_err::<External>("{'Unit': None, 'Newtype': 1}").kind,
        ConversionErrorKind::InvalidLength { expected: "dict with a single key".to_owned(), got: 2 }
    );
    assert_eq!(read_err::<External>("{}").to_string(), "invalid length 0, expected dict with a single key");
    assert_eq!(read_err::<External>("'Newtype'").kind, mismatch("dict with a single key", "str"));
    assert_eq!(read_err::<External>("5").kind, mismatch("str or dict with a single key", "int"));
    assert_eq!(read_err::<External>("{1: 5}").kind, mismatch("str key", "int"));
    let err = read_err::<External>("{'Unit': 0}");
    assert_eq!((err.path.as_str(), err.kind), ("Unit", mismatch("None", "int")));
    let err = read_err::<External>("{'Newtype': 'five'}");
    assert_eq!((err.path.as_str(), err.kind), ("Newtype", mismatch("int", "str")));
    let err = read_err::<External>("{'Tuple': (1,)}");
    assert_eq!(err.to_string(), "Tuple: invalid length 1, expected tuple of length 2");
    let err = read_err::<External>("{'Struct': {'a': 300}}");
    assert_eq!(err.to_string(), "Struct.a: integer 300 out of range for u8");
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Inner {
    x: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
enum Internal {
    Unit,
    Newtype(Inner),
    Struct { a: u8, b: Vec<String> },
}

#[test]
fn internally_tagged() {
    assert_to_python(&Internal::Unit, "{'type': 'Unit'}");
    assert_to_python(&Internal::Newtype(Inner { x: 3 }), "{'type': 'Newtype', 'x': 3}");
    assert_to_python(&Internal::Struct { a: 1, b: vec!["z".into()] }, "{'type': 'Struct', 'a': 1, 'b': ['z']}");
    assert_reads("{'type': 'Unit'}", Internal::Unit);
    assert_reads("{'x': 3, 'type': 'Newtype'}", Internal::Newtype(Inner { x: 3 }));
    assert_reads("{'a': 1, 'b': ('z',), 'type': 'Struct'}", Internal::Struct { a: 1, b: vec!["z".into()] });
    assert_eq!(read_err::<Internal>("{'x': 3}").kind, ConversionErrorKind::MissingField { field: "type".to_owned() });
    let err = read_err::<Internal>("{'type': 'Struct', 'a': 'one', 'b': []}");
    assert_eq!(err.kind, mismatch("u8", "str"));
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", content = "c")]
enum Adjacent {
    Unit,
    Newtype(i32),
    Tuple(i32, String),
    Struct { a: u8 },
}

#[test]
fn adjacently_tagged() {
    assert_to_python(&Adjacent::Unit, "{'t': 'Unit'}");
    assert_to_python(&Adjacent::Newtype(4), "{'t': 'Newtype', 'c': 4}");
    assert_to_python(&Adjacent::Tuple(1, "s".into()), "{'t': 'Tuple', 'c': (1, 's')}");
    assert_to_python(&Adjacent::Struct { a: 2 }, "{'t': 'Struct', 'c': {'a': 2}}");
    assert_reads("{'t': 'Unit'}", Adjacent::Unit);
    assert_reads("{'t': 'Newtype', 'c': 4}", Adjacent::Newtype(4));
    // Content first: serde buffers it until it has seen the tag.
    assert_reads("{'c': [1, 's'], 't': 'Tuple'}", Adjacent::Tuple(1, "s".into()));
    assert_reads("{'c': {'a': 2}, 't': 'Struct'}", Adjacent::Struct { a: 2 });
    assert!(matches!(read_err::<Adjacent>("{'t': 'Nope', 'c': 1}").kind, ConversionErrorKind::UnknownVariant { .. }));
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Untagged {
    Unit,
    Newtype(bool),
    Tuple(i32, String),
    Struct { a: u8, b: f64 },
    Text(String),
    Big(u64),
}

#[test]
fn untagged() {
    assert_to_python(&Untagged::Unit, "None");
    assert_to_python(&Untagged::Newtype(true), "True");
    assert_to_python(&Untagged::Tuple(1, "s".into()), "(1, 's')");
    assert_to_python(&Untagged::Struct { a: 1, b: 0.5 }, "{'a': 1, 'b': 0.5}");
    assert_reads("None", Untagged::Unit);
    assert_reads("True", Untagged::Newtype(true));
    assert_reads("[1, 's']", Untagged::Tuple(1, "s".into()));
    assert_reads("{'a': 1, 'b': 2}", Untagged::Struct { a: 1, b: 2.0 });
    assert_reads("'hi'", Untagged::Text("hi".into()));
    assert_reads("2**64 - 1", Untagged::Big(u64::MAX));
    let err = read_err::<Untagged>("1.5");
    assert_eq!(
        err.kind,
        ConversionErrorKind::Custom { message: "data did not match any variant of untagged enum Untagged".to_owned() }
    );
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Holder {
    external: Vec<External>,
    internal: Option<Internal>,
    adjacent: Adjacent,
    untagged: Vec<Untagged>,
}

#[test]
fn every_representation_nested_round_trips() {
    assert_round_trip(&Holder {
        external: vec![
            External::Unit,
            External::Newtype(-1),
            External::Tuple(2, "t".into()),
            External::Struct { a: 255, b: Some("b".into()) },
        ],
        internal: Some(Internal::Newtype(Inner { x: i64::MIN })),
        adjacent: Adjacent::Tuple(0, String::new()),
        untagged: vec![
            Untagged::Unit,
            Untagged::Newtype(false),
            Untagged::Tuple(3, "u".into()),
            Untagged::Struct { a: 0, b: -1.5 },
            Untagged::Text("text".into()),
        ],
    });
}

#[test]
fn variant_contents_carry_the_variant_in_serialization_paths() {
    struct Fails;
    impl Serialize for Fails {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("refused"))
        }
    }
    #[derive(Serialize)]
    enum E {
        New(Fails),
        Tuple(u8, Fails),
        Struct { ok: u8, bad: Fails },
    }
    with_py(|py| {
        let path = |value: &E| to_python(py, value).expect_err("fails").to_string();
        assert_eq!(path(&E::New(Fails)), "New: refused");
        assert_eq!(path(&E::Tuple(1, Fails)), "Tuple[1]: refused");
        assert_eq!(path(&E::Struct { ok: 1, bad: Fails }), "Struct.bad: refused");
    });
}
