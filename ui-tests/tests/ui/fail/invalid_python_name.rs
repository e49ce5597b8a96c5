use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, snake::PyMessage)]
#[snake(name = "my-user")]
struct User {
    id: u64,
}

fn main() {}
