//! `#[snake(crate = ...)]` when the runtime is known under another name.

extern crate snake as renamed_snake;

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, renamed_snake::PyMessage)]
#[snake(crate = ::renamed_snake, name = "Person")]
struct User {
    id: u64,
}

#[derive(Serialize, Deserialize, renamed_snake::PyMessage)]
#[snake(crate = "renamed_snake")]
struct Group {
    members: Vec<User>,
}

fn main() {
    let mut registry = renamed_snake::schema::Registry::new();
    registry.describe::<Group>();
    assert!(registry.get("Person").is_some());
}
