//! The expansion uses absolute paths: local items named like std's do not break it.

#![allow(dead_code, non_camel_case_types, unused_macros)]

struct Result;
struct Ok;
struct Err;
struct Option;
struct Some;
struct None;
struct Vec;
struct String;
struct Box;
struct Default;
struct Clone;
struct Into;
struct From;
struct Describe;
struct Registry;
struct Type;
struct Field;
mod core {}
mod alloc {}
macro_rules! vec {
    () => {
        compile_error!("the expansion used a local `vec!`")
    };
}
macro_rules! format {
    () => {
        compile_error!("the expansion used a local `format!`")
    };
}
fn __snake_registry() {}

#[derive(::serde::Serialize, ::serde::Deserialize, ::snake::PyMessage)]
struct Message<T> {
    text: std::string::String,
    items: std::vec::Vec<T>,
    maybe: std::option::Option<u8>,
    #[serde(flatten)]
    inner: Inner,
}

#[derive(::serde::Serialize, ::serde::Deserialize, ::snake::PyMessage)]
struct Inner {
    n: u8,
}

#[derive(::serde::Serialize, ::serde::Deserialize, ::snake::PyMessage)]
#[serde(tag = "t", content = "c")]
enum Kind<const N: usize> {
    A,
    B(u8),
}

fn main() {
    let mut registry = ::snake::schema::Registry::new();
    registry.describe::<Message<Inner>>();
    registry.describe::<Kind<2>>();
    ::std::assert!(registry.errors().is_empty());
}
