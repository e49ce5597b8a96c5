use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, snake::PyMessage)]
#[snake(allow_unknown_keys)]
#[snake(allow_unknown_keys)]
struct User {
    id: u64,
}

fn main() {}
