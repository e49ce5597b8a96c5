//! [`Describe`] for the std types messages are made of, following `serde_py`'s mapping.
//!
//! No std type is self-describing on its own; containers are when their parameters are.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, LinkedList, VecDeque};
use std::marker::PhantomData;
use std::num::{
    NonZeroI8, NonZeroI16, NonZeroI32, NonZeroI64, NonZeroI128, NonZeroIsize, NonZeroU8, NonZeroU16, NonZeroU32,
    NonZeroU64, NonZeroU128, NonZeroUsize,
};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use super::describe::{Describe, DescribeFields, DescribeKey};
use super::model::{Field, Kind, Representation, Type, Variant, VariantShape};
use super::registry::Registry;

macro_rules! integers {
    ($($ty:ty: $signed:literal),* $(,)?) => {$(
        impl Describe for $ty {
            fn describe(_: &mut Registry) -> Type {
                Type::int($signed, <$ty>::BITS)
            }
        }
        impl DescribeKey for $ty {}
    )*};
}

integers!(
    i8: true, i16: true, i32: true, i64: true, i128: true, isize: true,
    u8: false, u16: false, u32: false, u64: false, u128: false, usize: false,
);

macro_rules! non_zero {
    ($($ty:ty => $inner:ty),* $(,)?) => {$(
        impl Describe for $ty {
            fn describe(registry: &mut Registry) -> Type {
                <$inner>::describe(registry)
            }
        }
        impl DescribeKey for $ty {}
    )*};
}

non_zero!(
    NonZeroI8 => i8, NonZeroI16 => i16, NonZeroI32 => i32, NonZeroI64 => i64, NonZeroI128 => i128,
    NonZeroIsize => isize, NonZeroU8 => u8, NonZeroU16 => u16, NonZeroU32 => u32, NonZeroU64 => u64,
    NonZeroU128 => u128, NonZeroUsize => usize,
);

macro_rules! simple {
    ($($ty:ty => $shape:expr),* $(,)?) => {$(
        impl Describe for $ty {
            fn describe(_: &mut Registry) -> Type {
                $shape
            }
        }
    )*};
}

simple!(
    bool => Type::Bool,
    f32 => Type::Float { bits: 32 },
    f64 => Type::Float { bits: 64 },
    char => Type::Char,
    str => Type::Str,
    String => Type::Str,
    // serde writes paths as strings (and fails on paths that are not UTF-8).
    Path => Type::Str,
    PathBuf => Type::Str,
    () => Type::NoneType,
);

impl DescribeKey for char {}
impl DescribeKey for str {}
impl DescribeKey for String {}

impl<T: ?Sized> Describe for PhantomData<T> {
    fn describe(_: &mut Registry) -> Type {
        Type::NoneType
    }
}

/// Pointers and borrows are their pointee.
macro_rules! transparent {
    ($($ty:ident),*) => {$(
        impl<T: Describe + ?Sized> Describe for $ty<T> {
            const SELF_DESCRIBING: bool = T::SELF_DESCRIBING;

            fn describe(registry: &mut Registry) -> Type {
                T::describe(registry)
            }
        }
        impl<T: DescribeKey + ?Sized> DescribeKey for $ty<T> {}
    )*};
}

transparent!(Box, Rc, Arc);

impl<T: Describe + ?Sized> Describe for &T {
    const SELF_DESCRIBING: bool = T::SELF_DESCRIBING;

    fn describe(registry: &mut Registry) -> Type {
        T::describe(registry)
    }
}

impl<T: DescribeKey + ?Sized> DescribeKey for &T {}

impl<T: Describe + ToOwned + ?Sized> Describe for Cow<'_, T> {
    const SELF_DESCRIBING: bool = T::SELF_DESCRIBING;

    fn describe(registry: &mut Registry) -> Type {
        T::describe(registry)
    }
}

impl<T: DescribeKey + ToOwned + ?Sized> DescribeKey for Cow<'_, T> {}

impl<T: Describe> Describe for Option<T> {
    const SELF_DESCRIBING: bool = T::SELF_DESCRIBING;

    fn describe(registry: &mut Registry) -> Type {
        Type::Optional(Box::new(T::describe(registry)))
    }
}

/// A flattened `None` adds no keys, `Some` all of the content's: each key may be missing.
impl<T: DescribeFields> DescribeFields for Option<T> {
    fn describe_fields(registry: &mut Registry) -> Vec<Field> {
        Field::all_optional(T::describe_fields(registry))
    }
}

/// A flattened `()` adds no keys.
impl DescribeFields for () {
    fn describe_fields(_: &mut Registry) -> Vec<Field> {
        Vec::new()
    }
}

impl<T: DescribeFields + ?Sized> DescribeFields for Box<T> {
    fn describe_fields(registry: &mut Registry) -> Vec<Field> {
        T::describe_fields(registry)
    }
}

/// Sequences (including sets, which Python gets as lists) are `list[T]`.
macro_rules! sequences {
    ($($ty:ident $(<$($extra:ident),*>)?),*) => {$(
        impl<T: Describe $($(, $extra)*)?> Describe for $ty<T $($(, $extra)*)?> {
            const SELF_DESCRIBING: bool = T::SELF_DESCRIBING;

            fn describe(registry: &mut Registry) -> Type {
                Type::List(Box::new(T::describe(registry)))
            }
        }
    )*};
}

sequences!(Vec, VecDeque, LinkedList, BinaryHeap, BTreeSet, HashSet<S>);

impl<T: Describe> Describe for [T] {
    const SELF_DESCRIBING: bool = T::SELF_DESCRIBING;

    fn describe(registry: &mut Registry) -> Type {
        Type::List(Box::new(T::describe(registry)))
    }
}

impl<T: Describe, const N: usize> Describe for [T; N] {
    const SELF_DESCRIBING: bool = T::SELF_DESCRIBING;

    fn describe(registry: &mut Registry) -> Type {
        Type::Array { item: Box::new(T::describe(registry)), len: N }
    }
}

impl<K: DescribeKey, V: Describe, S> Describe for HashMap<K, V, S> {
    const SELF_DESCRIBING: bool = K::SELF_DESCRIBING || V::SELF_DESCRIBING;

    fn describe(registry: &mut Registry) -> Type {
        let key = K::describe(registry);
        Type::Dict { key: Box::new(key), value: Box::new(V::describe(registry)) }
    }
}

impl<K: DescribeKey, V: Describe> Describe for BTreeMap<K, V> {
    const SELF_DESCRIBING: bool = K::SELF_DESCRIBING || V::SELF_DESCRIBING;

    fn describe(registry: &mut Registry) -> Type {
        let key = K::describe(registry);
        Type::Dict { key: Box::new(key), value: Box::new(V::describe(registry)) }
    }
}

macro_rules! tuples {
    ($(($($name:ident),+))*) => {$(
        impl<$($name: Describe),+> Describe for ($($name,)+) {
            const SELF_DESCRIBING: bool = $($name::SELF_DESCRIBING)||+;

            fn describe(registry: &mut Registry) -> Type {
                Type::Tuple(vec![$($name::describe(registry)),+])
            }
        }
    )*};
}

tuples! {
    (A)
    (A, B)
    (A, B, C)
    (A, B, C, D)
    (A, B, C, D, E)
    (A, B, C, D, E, F)
    (A, B, C, D, E, F, G)
    (A, B, C, D, E, F, G, H)
    (A, B, C, D, E, F, G, H, I)
    (A, B, C, D, E, F, G, H, I, J)
    (A, B, C, D, E, F, G, H, I, J, K)
    (A, B, C, D, E, F, G, H, I, J, K, L)
}

/// serde writes `Result` as an externally tagged enum: `{"Ok": value}` or `{"Err": error}`.
impl<T: Describe, E: Describe> Describe for Result<T, E> {
    const SELF_DESCRIBING: bool = T::SELF_DESCRIBING || E::SELF_DESCRIBING;

    fn describe(registry: &mut Registry) -> Type {
        let ok = T::describe(registry);
        let err = E::describe(registry);
        let name = Type::generic_name("Result", &[ok.name_fragment(), err.name_fragment()]);
        registry.define(name, std::any::type_name::<Self>(), "`Ok` with a value or `Err` with an error.", |_| {
            let variant = |name: &str, ty: Type| Variant {
                name: name.to_owned(),
                rust_name: name.to_owned(),
                docs: String::new(),
                untagged: false,
                shape: VariantShape::Newtype(ty),
            };
            Kind::Enum {
                representation: Representation::External,
                variants: vec![variant("Ok", ok), variant("Err", err)],
            }
        })
    }
}
