//! Generic types are described per instance, with bounds only on what the shape needs.

use std::collections::HashMap;
use std::fmt::Debug;
use std::marker::PhantomData;

use serde::{Deserialize, Serialize};
use snake::PyMessage;
use snake::schema::{Registry, Type};

#[derive(Serialize, Deserialize, PyMessage)]
struct Page<T> {
    items: Vec<T>,
    next: Option<String>,
}

#[derive(Serialize, Deserialize, PyMessage)]
struct Bounded<T: Clone + Debug>
where
    T: Default,
{
    value: T,
}

#[derive(Serialize, Deserialize, PyMessage)]
struct Keyed<K: std::hash::Hash + Eq, V> {
    map: HashMap<K, V>,
}

#[derive(Serialize, Deserialize, PyMessage)]
struct WithFlatten<T> {
    id: u8,
    #[serde(flatten)]
    rest: T,
}

#[derive(Serialize, Deserialize, PyMessage)]
struct Fixed<const N: usize> {
    marker: PhantomData<[u8; N]>,
}

#[derive(Serialize, Deserialize, PyMessage)]
#[serde(tag = "kind")]
enum Either<L, R> {
    Left(L),
    Right(R),
}

#[derive(Serialize, Deserialize, PyMessage)]
struct Inner {
    x: u8,
}

fn requires_message<T: PyMessage>() {}

fn main() {
    requires_message::<Page<Inner>>();
    requires_message::<Bounded<u8>>();
    requires_message::<Keyed<String, Inner>>();
    requires_message::<WithFlatten<Inner>>();
    requires_message::<Fixed<3>>();
    requires_message::<Either<Inner, Page<u8>>>();
    let mut registry = Registry::new();
    assert_eq!(registry.describe::<Page<Page<Inner>>>(), Type::Named("Page_Page_Inner".into()));
    assert_eq!(registry.describe::<Keyed<u8, bool>>(), Type::Named("Keyed_u8_bool".into()));
    assert_eq!(registry.describe::<Fixed<3>>(), Type::Named("Fixed_3".into()));
    assert_eq!(registry.describe::<Either<Inner, Inner>>(), Type::Named("Either_Inner_Inner".into()));
    assert!(registry.errors().is_empty());
}
