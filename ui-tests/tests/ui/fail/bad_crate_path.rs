use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, snake::PyMessage)]
#[snake(crate = ::not_snake)]
struct User {
    id: u64,
}

fn main() {}
