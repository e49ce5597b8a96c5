//! A rich nested type that spans the serde data model, and a proptest strategy for it.
//!
//! Self-contained on purpose (it needs only serde, serde_bytes and proptest) so that another test
//! suite, such as the cross-process protocol tests, can copy it unchanged. Values are chosen to
//! survive any faithful round trip through Python: floats are finite, no `Some(None)` or
//! `Some(())` (Python has one `None`), and no 128-bit integers inside buffered serde constructs
//! (untagged, internally tagged, flattened), whose buffer only holds 64-bit integers.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proptest::collection::{btree_map, btree_set, vec, vec_deque};
use proptest::option;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

/// Every integer width at its full range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Ints {
    pub(crate) i8: i8,
    pub(crate) i16: i16,
    pub(crate) i32: i32,
    pub(crate) i64: i64,
    pub(crate) i128: i128,
    pub(crate) u8: u8,
    pub(crate) u16: u16,
    pub(crate) u32: u32,
    pub(crate) u64: u64,
    pub(crate) u128: u128,
}

/// A unit struct.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Marker;

/// A newtype struct.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Meters(pub(crate) f64);

/// A tuple struct.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Point(pub(crate) i32, pub(crate) i32);

/// Externally tagged (serde's default), one variant of each shape, 128-bit payloads included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Shape {
    Empty,
    Circle(f64),
    Rect(u32, u32),
    Poly { points: Vec<(i32, i32)>, closed: bool },
    Wide(i128),
    Huge { value: u128 },
}

/// Internally tagged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub(crate) enum Tagged {
    Ping,
    Load(Meters2),
    Move { x: i64, y: i64, label: Option<String> },
}

/// A struct for the newtype variant of [`Tagged`], which must be a struct or a map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Meters2 {
    pub(crate) meters: f32,
    pub(crate) note: char,
}

/// Adjacently tagged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", content = "c")]
pub(crate) enum Adjacent {
    Unit,
    New(u64),
    Pair(i16, bool),
    Named {
        name: String,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
}

/// Untagged, with variants whose Python shapes cannot be confused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Untagged {
    Nothing,
    Flag(bool),
    Int(i64),
    Text(String),
    Pair(i32, String),
    Named { name: String, weight: f64 },
}

/// Recursive through `Box` and `Vec`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Tree {
    Leaf(i32),
    Node(Box<Tree>, Box<Tree>),
    Branch { children: Vec<Tree>, label: Option<String> },
}

/// Flattened into [`Rich`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Extra {
    pub(crate) extra_count: u32,
    pub(crate) extra_tags: Vec<String>,
}

/// Scalars and text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Leaves {
    pub(crate) ints: Ints,
    pub(crate) single: f32,
    pub(crate) double: f64,
    pub(crate) letter: char,
    pub(crate) text: String,
    #[serde(with = "serde_bytes")]
    pub(crate) blob: Vec<u8>,
    /// Without `serde_bytes`: a list of ints.
    pub(crate) byte_list: Vec<u8>,
    pub(crate) flag: bool,
    pub(crate) nothing: (),
    pub(crate) marker: Marker,
    pub(crate) meters: Meters,
    pub(crate) point: Point,
    pub(crate) maybe_maybe: Option<Option<u8>>,
}

/// The root: containers of everything above.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Rich {
    pub(crate) leaves: Box<Leaves>,
    pub(crate) items: Vec<Leaves>,
    pub(crate) by_name: BTreeMap<String, Option<Shape>>,
    pub(crate) by_id: BTreeMap<i64, Vec<u16>>,
    pub(crate) triple: (u8, String, Option<i32>),
    pub(crate) array: [i16; 3],
    pub(crate) set: BTreeSet<u32>,
    pub(crate) deque: VecDeque<i8>,
    pub(crate) shapes: Vec<Shape>,
    pub(crate) tagged: Vec<Tagged>,
    pub(crate) adjacent: Vec<Adjacent>,
    pub(crate) untagged: Vec<Untagged>,
    pub(crate) tree: Tree,
    #[serde(flatten)]
    pub(crate) extra: Extra,
}

/// Finite floats of both signs, subnormals and zeros included.
pub(crate) fn finite_f64() -> impl Strategy<Value = f64> {
    use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO
}

/// Finite `f32`s of both signs, subnormals and zeros included.
pub(crate) fn finite_f32() -> impl Strategy<Value = f32> {
    use proptest::num::f32::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO
}

/// Any text, control characters and NUL included.
pub(crate) fn text() -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..8).prop_map(String::from_iter)
}

/// Any value of an integer type, with its extremes and zero drawn often.
macro_rules! int {
    ($ty:ty) => {
        prop_oneof![
            4 => any::<$ty>(),
            1 => Just(<$ty>::MIN),
            1 => Just(<$ty>::MAX),
            1 => Just(0 as $ty),
        ]
    };
}

pub(crate) fn ints() -> impl Strategy<Value = Ints> {
    ((int!(i8), int!(i16), int!(i32), int!(i64), int!(i128)), (int!(u8), int!(u16), int!(u32), int!(u64), int!(u128)))
        .prop_map(|((i8, i16, i32, i64, i128), (u8, u16, u32, u64, u128))| Ints {
            i8,
            i16,
            i32,
            i64,
            i128,
            u8,
            u16,
            u32,
            u64,
            u128,
        })
}

pub(crate) fn leaves() -> impl Strategy<Value = Leaves> {
    (
        (ints(), finite_f32(), finite_f64(), any::<char>(), text()),
        (
            vec(any::<u8>(), 0..16),
            vec(any::<u8>(), 0..4),
            any::<bool>(),
            finite_f64(),
            any::<(i32, i32)>(),
            // Some(None) is left out: it cannot survive Python's single None.
            prop_oneof![Just(None), any::<u8>().prop_map(|v| Some(Some(v)))],
        ),
    )
        .prop_map(
            |((ints, single, double, letter, text), (blob, byte_list, flag, meters, (x, y), maybe_maybe))| Leaves {
                ints,
                single,
                double,
                letter,
                text,
                blob,
                byte_list,
                flag,
                nothing: (),
                marker: Marker,
                meters: Meters(meters),
                point: Point(x, y),
                maybe_maybe,
            },
        )
}

pub(crate) fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Empty),
        finite_f64().prop_map(Shape::Circle),
        any::<(u32, u32)>().prop_map(|(w, h)| Shape::Rect(w, h)),
        (vec(any::<(i32, i32)>(), 0..4), any::<bool>()).prop_map(|(points, closed)| Shape::Poly { points, closed }),
        int!(i128).prop_map(Shape::Wide),
        int!(u128).prop_map(|value| Shape::Huge { value }),
    ]
}

pub(crate) fn tagged() -> impl Strategy<Value = Tagged> {
    prop_oneof![
        Just(Tagged::Ping),
        (finite_f32(), any::<char>()).prop_map(|(meters, note)| Tagged::Load(Meters2 { meters, note })),
        (int!(i64), int!(i64), option::of(text())).prop_map(|(x, y, label)| Tagged::Move { x, y, label }),
    ]
}

pub(crate) fn adjacent() -> impl Strategy<Value = Adjacent> {
    prop_oneof![
        Just(Adjacent::Unit),
        int!(u64).prop_map(Adjacent::New),
        any::<(i16, bool)>().prop_map(|(a, b)| Adjacent::Pair(a, b)),
        (text(), vec(any::<u8>(), 0..8)).prop_map(|(name, data)| Adjacent::Named { name, data }),
    ]
}

pub(crate) fn untagged() -> impl Strategy<Value = Untagged> {
    prop_oneof![
        Just(Untagged::Nothing),
        any::<bool>().prop_map(Untagged::Flag),
        int!(i64).prop_map(Untagged::Int),
        text().prop_map(Untagged::Text),
        (any::<i32>(), text()).prop_map(|(n, s)| Untagged::Pair(n, s)),
        (text(), finite_f64()).prop_map(|(name, weight)| Untagged::Named { name, weight }),
    ]
}

pub(crate) fn tree() -> impl Strategy<Value = Tree> {
    any::<i32>().prop_map(Tree::Leaf).prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(left, right)| Tree::Node(Box::new(left), Box::new(right))),
            (vec(inner, 0..4), option::of(text())).prop_map(|(children, label)| Tree::Branch { children, label }),
        ]
    })
}

/// Any [`Rich`] value.
pub(crate) fn rich() -> impl Strategy<Value = Rich> {
    (
        (
            leaves(),
            vec(leaves(), 0..3),
            btree_map(text(), option::of(shape()), 0..4),
            btree_map(int!(i64), vec(any::<u16>(), 0..4), 0..4),
            (any::<u8>(), text(), option::of(any::<i32>())),
            any::<[i16; 3]>(),
            btree_set(any::<u32>(), 0..4),
        ),
        (
            vec_deque(any::<i8>(), 0..4),
            vec(shape(), 0..4),
            vec(tagged(), 0..4),
            vec(adjacent(), 0..4),
            vec(untagged(), 0..4),
            tree(),
            (any::<u32>(), vec(text(), 0..3)),
        ),
    )
        .prop_map(
            |(
                (leaves, items, by_name, by_id, triple, array, set),
                (deque, shapes, tagged, adjacent, untagged, tree, (extra_count, extra_tags)),
            )| Rich {
                leaves: Box::new(leaves),
                items,
                by_name,
                by_id,
                triple,
                array,
                set,
                deque,
                shapes,
                tagged,
                adjacent,
                untagged,
                tree,
                extra: Extra { extra_count, extra_tags },
            },
        )
}
