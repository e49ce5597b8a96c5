//! The expansion does not rely on the prelude.

#![no_implicit_prelude]

extern crate serde;
extern crate snake;
extern crate std;

#[derive(::serde::Serialize, ::serde::Deserialize, ::snake::PyMessage)]
#[serde(rename_all = "camelCase")]
struct User {
    /// Docs.
    user_id: u64,
    #[serde(skip_serializing_if = "::std::option::Option::is_none", default)]
    nickname: ::std::option::Option<::std::string::String>,
}

#[derive(::serde::Serialize, ::serde::Deserialize, ::snake::PyMessage)]
struct Id(u64);

#[derive(::serde::Serialize, ::serde::Deserialize, ::snake::PyMessage)]
#[serde(tag = "type")]
enum Event<T> {
    Joined { user: User },
    Left(T),
    Tick,
}

fn main() {
    let mut registry = ::snake::schema::Registry::new();
    registry.describe::<Event<User>>();
    registry.describe::<::std::collections::HashMap<Id, User>>();
    ::std::assert!(registry.errors().is_empty());
}
