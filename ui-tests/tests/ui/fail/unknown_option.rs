use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, snake::PyMessage)]
#[snake(nmae = "User")]
struct User {
    id: u64,
}

fn main() {}
