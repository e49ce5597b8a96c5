//! Property test: arbitrary rich values survive Rust -> child Python -> Rust unchanged.

use libtest_mimic::{Failed, Trial};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::messages::*;

pub fn trials() -> Vec<Trial> {
    vec![Trial::test("roundtrip::arbitrary_trees_survive_a_real_child", || {
        let runtime = tokio::runtime::Runtime::new().map_err(|e| Failed::from(e.to_string()))?;
        let actor = runtime
            .block_on(crate::common::builder("echo").spawn::<Tree>())
            .map_err(|e| Failed::from(e.to_string()))?;
        let mut runner = TestRunner::new(Config { cases: 128, ..Config::default() });
        runner
            .run(&tree(), |value| {
                let back = runtime
                    .block_on(actor.ask(value.clone()).send())
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(back, value);
                Ok(())
            })
            .map_err(|e| Failed::from(e.to_string()))
    })]
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Point),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Shape::Circle),
        (any::<i32>(), any::<i32>()).prop_map(|(a, b)| Shape::Segment(a, b)),
        (any::<u16>(), any::<u16>()).prop_map(|(w, h)| Shape::Rect { w, h }),
    ]
}

fn leaf() -> impl Strategy<Value = Leaf> {
    (
        any::<String>(),
        prop::collection::btree_set(any::<String>(), 0..3),
        shape(),
        prop::option::of(any::<f32>().prop_filter("finite", |f| f.is_finite())),
    )
        .prop_map(|(name, tags, shape, weight)| Leaf { name, tags, shape, weight })
}

fn branch() -> impl Strategy<Value = Branch> {
    (
        prop::collection::vec(leaf(), 0..3),
        prop::collection::btree_map(any::<String>(), prop::collection::vec(prop::option::of(leaf()), 0..3), 0..3),
        prop::collection::btree_map(any::<u32>(), (any::<i8>(), any::<u64>(), any::<char>()), 0..3),
    )
        .prop_map(|(leaves, index, by_id)| Branch { leaves, index, by_id })
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf_tree = (branch(), prop::collection::vec(any::<u8>(), 0..8), any::<i128>(), any::<bool>())
        .prop_map(|(root, raw, big, flag)| Tree { root, children: vec![], raw, big, flag, unit: () });
    leaf_tree.prop_recursive(3, 8, 2, |inner| {
        (
            branch(),
            prop::collection::vec(inner, 0..2),
            prop::collection::vec(any::<u8>(), 0..8),
            any::<i128>(),
            any::<bool>(),
        )
            .prop_map(|(root, children, raw, big, flag)| Tree { root, children, raw, big, flag, unit: () })
    })
}
