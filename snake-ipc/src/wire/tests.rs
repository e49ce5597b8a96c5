use std::collections::BTreeMap;
use std::net::IpAddr;

use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use super::*;
use crate::error::ProtocolError;
use crate::frame::FrameKind;
use std::fmt;

use serde::de::{self, DeserializeOwned, Visitor};
use serde::ser;

/// A byte buffer that serializes as bytes, not as a sequence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Bytes(#[serde(with = "serde_bytes")] Vec<u8>);

// ---- shapes postcard cannot carry ----

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Inner {
    a: u16,
    b: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
enum Internal {
    Unit,
    Struct { x: i32, y: String, addr: IpAddr },
    Newtype(Inner),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", content = "c")]
enum Adjacent {
    Unit,
    Newtype(u16),
    Tuple(i8, bool),
    Struct { x: Option<u8> },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Untagged {
    Nothing,
    Flag(bool),
    Number(i64),
    Text(String),
    Pair(u8, String),
    Record { name: String, id: u32 },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum WithUntaggedVariant {
    Known(u8),
    Pair {
        a: u8,
    },
    #[serde(untagged)]
    Other(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
struct TaggedStruct {
    a: u8,
    list: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Flattened {
    id: u64,
    #[serde(flatten)]
    inner: Inner,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    last: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Sparse {
    a: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    b: Option<u8>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    c: Vec<u8>,
    d: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Shapes {
    internal: Vec<Internal>,
    adjacent: Adjacent,
    untagged: Vec<Untagged>,
    mixed: WithUntaggedVariant,
    tagged: TaggedStruct,
    flattened: Flattened,
    sparse: Sparse,
    by_name: BTreeMap<String, Untagged>,
    big: i128,
    bytes: Bytes,
}

fn text() -> impl Strategy<Value = String> {
    any::<String>()
}

fn inner() -> impl Strategy<Value = Inner> {
    (any::<u16>(), proptest::option::of(text())).prop_map(|(a, b)| Inner { a, b })
}

fn internal() -> impl Strategy<Value = Internal> {
    prop_oneof![
        Just(Internal::Unit),
        (any::<i32>(), text(), any::<IpAddr>()).prop_map(|(x, y, addr)| Internal::Struct { x, y, addr }),
        inner().prop_map(Internal::Newtype),
    ]
}

fn adjacent() -> impl Strategy<Value = Adjacent> {
    prop_oneof![
        Just(Adjacent::Unit),
        any::<u16>().prop_map(Adjacent::Newtype),
        (any::<i8>(), any::<bool>()).prop_map(|(a, b)| Adjacent::Tuple(a, b)),
        any::<Option<u8>>().prop_map(|x| Adjacent::Struct { x }),
    ]
}

fn untagged() -> impl Strategy<Value = Untagged> {
    prop_oneof![
        Just(Untagged::Nothing),
        any::<bool>().prop_map(Untagged::Flag),
        any::<i64>().prop_map(Untagged::Number),
        text().prop_map(Untagged::Text),
        (any::<u8>(), text()).prop_map(|(a, b)| Untagged::Pair(a, b)),
        (text(), any::<u32>()).prop_map(|(name, id)| Untagged::Record { name, id }),
    ]
}

fn mixed() -> impl Strategy<Value = WithUntaggedVariant> {
    prop_oneof![
        any::<u8>().prop_map(WithUntaggedVariant::Known),
        any::<u8>().prop_map(|a| WithUntaggedVariant::Pair { a }),
        text().prop_map(WithUntaggedVariant::Other),
    ]
}

fn shapes() -> impl Strategy<Value = Shapes> {
    let tagged = (any::<u8>(), proptest::collection::vec(text(), 0..3)).prop_map(|(a, list)| TaggedStruct { a, list });
    let flattened = (any::<u64>(), inner(), proptest::option::of(text()), any::<bool>())
        .prop_map(|(id, inner, note, last)| Flattened { id, inner, note, last });
    let sparse = (any::<u8>(), any::<Option<u8>>(), proptest::collection::vec(any::<u8>(), 0..3), text())
        .prop_map(|(a, b, c, d)| Sparse { a, b, c, d });
    (
        (proptest::collection::vec(internal(), 0..4), adjacent(), proptest::collection::vec(untagged(), 0..4), mixed()),
        (tagged, flattened, sparse),
        (proptest::collection::btree_map(text(), untagged(), 0..3), any::<i128>(), any::<Vec<u8>>()),
    )
        .prop_map(|((internal, adjacent, untagged, mixed), (tagged, flattened, sparse), (by_name, big, bytes))| {
            Shapes { internal, adjacent, untagged, mixed, tagged, flattened, sparse, by_name, big, bytes: Bytes(bytes) }
        })
}

// ---- plain shapes, which postcard carries ----

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum External {
    Unit,
    Newtype(i32),
    Tuple(u8, String),
    Struct { a: bool, b: Option<i16> },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Newtype(u64);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct TupleStruct(i8, String);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct UnitStruct;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Plain {
    unsigned: (u8, u16, u32, u64, u128),
    signed: (i8, i16, i32, i64, i128),
    floats: (f32, f64),
    c: char,
    s: String,
    bytes: Bytes,
    list: Vec<u8>,
    maybe: Option<Option<u8>>,
    unit: (),
    array: [u16; 3],
    map: BTreeMap<u32, String>,
    external: Vec<External>,
    newtype: Newtype,
    tuple_struct: TupleStruct,
    unit_struct: UnitStruct,
}

fn external() -> impl Strategy<Value = External> {
    prop_oneof![
        Just(External::Unit),
        any::<i32>().prop_map(External::Newtype),
        (any::<u8>(), text()).prop_map(|(a, b)| External::Tuple(a, b)),
        (any::<bool>(), any::<Option<i16>>()).prop_map(|(a, b)| External::Struct { a, b }),
    ]
}

fn plain() -> impl Strategy<Value = Plain> {
    (
        (any::<(u8, u16, u32, u64, u128)>(), any::<(i8, i16, i32, i64, i128)>(), (-1e30f32..1e30, -1e300f64..1e300)),
        (any::<char>(), text(), any::<Vec<u8>>(), any::<Vec<u8>>(), any::<Option<Option<u8>>>()),
        (any::<[u16; 3]>(), proptest::collection::btree_map(any::<u32>(), text(), 0..3)),
        (proptest::collection::vec(external(), 0..4), any::<u64>(), any::<i8>(), text()),
    )
        .prop_map(|((unsigned, signed, floats), (c, s, bytes, list, maybe), (array, map), (external, n, i, t))| {
            Plain {
                unsigned,
                signed,
                floats,
                c,
                s,
                bytes: Bytes(bytes),
                list,
                maybe,
                unit: (),
                array,
                map,
                external,
                newtype: Newtype(n),
                tuple_struct: TupleStruct(i, t),
                unit_struct: UnitStruct,
            }
        })
}

fn round_trip<T: Serialize + DeserializeOwned>(value: &T, self_describing: bool) -> Result<T, ProtocolError> {
    let mut out = Vec::new();
    encode(value, self_describing, &mut out)?;
    decode(&out, self_describing, FrameKind::Reply)
}

proptest! {
    #[test]
    fn shapes_that_need_deserialize_any_round_trip_self_describing(value in shapes()) {
        prop_assert_eq!(round_trip(&value, true).expect("round trip"), value);
    }

    #[test]
    fn plain_types_round_trip_either_way(value in plain()) {
        prop_assert_eq!(round_trip(&value, false).expect("postcard"), value.clone());
        prop_assert_eq!(round_trip(&value, true).expect("self-describing"), value);
    }

    /// The tree is only an in-memory step: the frame of a request built through `Body` is the
    /// frame `encode` writes.
    #[test]
    fn a_body_encodes_as_encode_does(value in shapes(), self_describing in any::<bool>()) {
        let mut expected = Vec::new();
        // postcard cannot encode `flatten` at all; compare on what it can encode.
        if encode(&value.sparse, self_describing, &mut expected).is_ok() {
            let body = Body::new(value.sparse.clone(), self_describing).expect("body");
            prop_assert_eq!(postcard::to_stdvec(&body).expect("encodes"), expected);
        }
    }
}

#[test]
fn plain_encoding_is_postcard() {
    let value = (7u32, "x".to_owned(), Some(External::Tuple(1, "y".into())));
    let mut out = vec![0xAA];
    encode(&value, false, &mut out).expect("encodes");
    assert_eq!(out[0], 0xAA, "appends to what is there");
    assert_eq!(&out[1..], postcard::to_stdvec(&value).expect("postcard"));
}

/// Why the tree exists: postcard fails on, or silently corrupts, each of these.
#[test]
fn postcard_cannot_carry_these_shapes() {
    assert!(round_trip(&Internal::Unit, false).is_err(), "internally tagged");
    assert!(round_trip(&Adjacent::Newtype(3), false).is_err(), "adjacently tagged");
    assert!(round_trip(&vec![Untagged::Number(1)], false).is_err(), "untagged");
    assert!(round_trip(&WithUntaggedVariant::Other("x".into()), false).is_err(), "untagged variant");
    let flattened = Flattened { id: 1, inner: Inner { a: 2, b: None }, note: None, last: true };
    assert!(round_trip(&flattened, false).is_err(), "flatten");
    let sparse = Sparse { a: 1, b: None, c: vec![], d: "d".into() };
    assert_ne!(round_trip(&sparse, false).ok(), Some(sparse.clone()), "skip_serializing_if");
    let tagged = TaggedStruct { a: 1, list: vec!["x".into()] };
    assert_ne!(round_trip(&tagged, false).ok(), Some(tagged.clone()), "a struct with a tag");

    assert_eq!(round_trip(&sparse, true).expect("tree"), sparse);
    assert_eq!(round_trip(&tagged, true).expect("tree"), tagged);
}

#[test]
fn the_tree_keeps_the_shape() {
    let sparse = Sparse { a: 1, b: None, c: vec![], d: "d".into() };
    assert_eq!(
        to_value(&sparse).expect("tree"),
        Value::Struct(vec![("a".into(), Value::U8(1)), ("d".into(), Value::String("d".into()))])
    );
    assert_eq!(
        to_value(&Internal::Newtype(Inner { a: 1, b: None })).expect("tree"),
        Value::Struct(vec![
            ("type".into(), Value::String("Newtype".into())),
            ("a".into(), Value::U16(1)),
            ("b".into(), Value::None),
        ])
    );
    assert_eq!(
        to_value(&External::Tuple(1, "x".into())).expect("tree"),
        Value::TupleVariant { index: 2, name: "Tuple".into(), items: vec![Value::U8(1), Value::String("x".into())] }
    );
    assert_eq!(to_value(&Newtype(5)).expect("tree"), Value::U64(5), "newtype structs are transparent");
}

/// A variant is found by its name, so variants serde numbers differently on the two sides (a
/// skipped one before them) still arrive.
#[test]
fn variants_are_found_by_name() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Gappy {
        #[serde(skip)]
        #[allow(dead_code)]
        Hidden,
        Shown(u8),
    }
    assert!(round_trip(&Gappy::Shown(3), false).is_err(), "postcard reads variant 1 of one");
    assert_eq!(round_trip(&Gappy::Shown(3), true).expect("tree"), Gappy::Shown(3));
}

/// Hand-written impls that ask for a variant's number get it.
#[test]
fn variants_give_their_number_when_asked() {
    struct Index(u32);
    impl<'de> Deserialize<'de> for Index {
        fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Visit;
            impl<'de> Visitor<'de> for Visit {
                type Value = Index;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an enum")
                }
                fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Index, A::Error> {
                    let (index, variant): (u32, _) = data.variant()?;
                    de::VariantAccess::unit_variant(variant)?;
                    Ok(Index(index))
                }
            }
            deserializer.deserialize_enum("E", &["A", "B", "C"], Visit)
        }
    }
    let tree = Value::UnitVariant { index: 2, name: "C".into() };
    assert_eq!(Index::deserialize(tree).expect("index").0, 2);
}

#[test]
fn other_formats_spellings_of_a_variant_are_read() {
    let unit = Value::String("Unit".into());
    assert_eq!(External::deserialize(unit).expect("unit"), External::Unit);
    let newtype = Value::Map(vec![(Value::String("Newtype".into()), Value::I64(-4))]);
    assert_eq!(External::deserialize(newtype).expect("newtype"), External::Newtype(-4));
    let err = External::deserialize(Value::Seq(vec![])).expect_err("not a variant");
    assert_eq!(err.to_string(), "invalid type: sequence, expected an enum variant");
}

#[test]
fn errors_keep_their_messages_and_kinds() {
    struct Refuses;
    impl Serialize for Refuses {
        fn serialize<S: ser::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(ser::Error::custom("refused on purpose"))
        }
    }
    let mut out = vec![1, 2, 3];
    let err = encode(&Refuses, true, &mut out).expect_err("refused");
    assert_eq!(err, ProtocolError::Encode { message: "refused on purpose".into() });
    assert_eq!(out, [1, 2, 3], "left as it was");
    assert!(encode(&Refuses, false, &mut out).is_err());
    assert_eq!(out, [1, 2, 3], "left as it was");
    assert!(
        matches!(Body::new(Refuses, true), Err(ProtocolError::Encode { message }) if message == "refused on purpose")
    );

    let mut out = Vec::new();
    encode(&Sparse { a: 1, b: None, c: vec![], d: "d".into() }, true, &mut out).expect("encodes");
    let err = decode::<TaggedStruct>(&out, true, FrameKind::CallbackReply).expect_err("another type");
    assert_eq!(err, ProtocolError::Decode { kind: FrameKind::CallbackReply, message: "missing field `list`".into() });
    let err = decode::<Sparse>(&[0xff], true, FrameKind::Call).expect_err("not a tree");
    assert!(matches!(err, ProtocolError::Decode { kind: FrameKind::Call, .. }), "{err:?}");
}

// ---- bounds on reading a tree from the other process ----

fn depth_message() -> String {
    format!("a self-describing value nests deeper than {} levels", limits::MAX_DEPTH)
}

fn nodes_message() -> String {
    format!("a self-describing value has more than {} nodes", limits::MAX_NODES)
}

/// Postcard's variant numbers of `Value::Some` and `Value::Seq`, and of `Value::Unit`.
const SOME: u8 = 18;
const SEQ: u8 = 19;
const UNIT: u8 = 0;

/// Reads the tree the way [`decode`](super::super::decode) does.
fn read_tree(bytes: &[u8]) -> Result<Value, String> {
    limits::counted(|| postcard::from_bytes::<Value>(bytes))
}

/// A whole self-describing read, as a frame body of some type.
fn decode_tree(bytes: &[u8]) -> Result<u8, ProtocolError> {
    decode::<u8>(bytes, true, FrameKind::Reply)
}

#[test]
fn the_variant_numbers_above_are_postcards() {
    let some = postcard::to_stdvec(&Value::Some(Box::new(Value::Unit))).expect("encodes");
    assert_eq!(some, vec![SOME, UNIT]);
    let seq = postcard::to_stdvec(&Value::Seq(vec![Value::Unit])).expect("encodes");
    assert_eq!(seq, vec![SEQ, 1, UNIT]);
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for opener in [vec![SOME], vec![SEQ, 1]] {
        let mut bytes: Vec<u8> = opener.iter().copied().cycle().take(opener.len() * 200_000).collect();
        bytes.push(UNIT);
        let err = decode_tree(&bytes).expect_err("too deep");
        assert_eq!(
            err,
            ProtocolError::Decode { kind: FrameKind::Reply, message: depth_message() },
            "opener {opener:?}"
        );
    }
    // Right at the limit it still reads.
    let mut bytes = vec![SOME; limits::MAX_DEPTH as usize];
    bytes.push(UNIT);
    assert!(read_tree(&bytes).is_ok());
}

#[test]
fn too_many_nodes_is_an_error() {
    let count = limits::MAX_NODES + 1;
    let mut bytes = vec![SEQ];
    bytes.extend(postcard::to_stdvec(&count).expect("varint"));
    bytes.resize(bytes.len() + usize::try_from(count).expect("fits"), UNIT);
    let err = decode_tree(&bytes).expect_err("too many");
    assert_eq!(err, ProtocolError::Decode { kind: FrameKind::Reply, message: nodes_message() });
}

#[test]
fn the_limits_do_not_outlive_a_read() {
    let mut deep = vec![SOME; limits::MAX_DEPTH as usize + 1];
    deep.push(UNIT);
    assert!(decode_tree(&deep).is_err());
    let ok = postcard::to_stdvec(&Value::Seq(vec![Value::Unit; 3])).expect("encodes");
    assert_eq!(read_tree(&ok).expect("reads"), Value::Seq(vec![Value::Unit; 3]));
}
